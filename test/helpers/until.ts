// Polls a condition every `everyMs` until it holds, failing with what was awaited after `ms`: every wait in
// a test is bounded.
export async function until(cond: () => boolean, what: string, ms = 20_000, everyMs = 5): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
