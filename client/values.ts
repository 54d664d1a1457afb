// Reading record keys and values. Records hand out Uint8Array views into the received frame;
// these turn them into strings or JSON only when the application asks.
const decoder = new TextDecoder();

/** The bytes as a UTF-8 string ('' for null). */
export function utf8(bytes: Uint8Array | null): string {
  return bytes === null ? '' : decoder.decode(bytes);
}

/** The bytes parsed as UTF-8 JSON (null for null). Throws SyntaxError on bad JSON. */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the shape it expects: json<Order>(r.value)
export function json<T = unknown>(bytes: Uint8Array | null): T {
  return (bytes === null ? null : JSON.parse(decoder.decode(bytes))) as T;
}

/** A copy that outlives the frame (views keep the whole received message alive). */
export function copyBytes(bytes: Uint8Array): Uint8Array {
  return bytes.slice();
}
