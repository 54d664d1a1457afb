// A raw protocol client for broker tests: frames in, frames out, nothing hidden. Tests of bad input
// need to send what the SDK never would, and tests of the broker should not depend on the SDK's
// recovery logic to pass.
import WebSocket from 'ws';
import { decodeFrame, encodeFrame, type Frame, type FrameOf, PROTOCOL_VERSION } from '../../schemas/frames.js';
import { decodeBatches, type DecodedRecord, encodeBatch, type RecordInput } from '../../schemas/record-batch.js';

export class WireClient {
  readonly frames: Frame[] = [];
  closeCode: number | null = null;
  private waiters: { match: (f: Frame) => boolean; resolve: (f: Frame) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }[] = [];
  private nextId = 1;
  private nextNonce = 1;
  private readonly closed: Promise<number>;

  private constructor(readonly ws: WebSocket) {
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data: Buffer) => {
      const f = decodeFrame(new Uint8Array(data.buffer, data.byteOffset, data.length).slice());
      this.frames.push(f);
      for (const w of [...this.waiters]) {
        if (w.match(f)) {
          clearTimeout(w.timer);
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(f);
        }
      }
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code) => {
        this.closeCode = code;
        for (const w of this.waiters) {
          clearTimeout(w.timer);
          w.reject(new Error(`connection closed (${code}) while waiting`));
        }
        this.waiters = [];
        resolve(code);
      });
    });
    ws.on('error', () => undefined);
  }

  static async open(url: string, hello = true): Promise<WireClient> {
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const c = new WireClient(ws);
    if (hello) {
      c.send({ type: 'Hello', protocolVersion: PROTOCOL_VERSION, clientId: 'wire-test' });
      await c.waitFor((f) => f.type === 'HelloOk');
    }
    return c;
  }

  send(f: Frame): void {
    this.ws.send(encodeFrame(f));
  }

  sendRaw(bytes: Uint8Array | string): void {
    this.ws.send(bytes);
  }

  id(): number {
    return this.nextId++;
  }

  waitFor(match: (f: Frame) => boolean, timeoutMs = 10_000): Promise<Frame> {
    const seen = this.frames.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.timer !== timer);
        reject(new Error(`no matching frame within ${timeoutMs} ms; got ${this.frames.map((f) => f.type).join(',')}`));
      }, timeoutMs);
      this.waiters.push({ match, resolve, reject, timer });
    });
  }

  /**
   * Sends a Ping and waits for its Pong. The broker answers a connection's frames in order and sends on
   * one socket in order, so once this resolves every frame the broker sent this connection before it
   * handled the Ping has arrived: "nothing more arrived" is asserted after this, never after a sleep.
   */
  async barrier(timeoutMs = 10_000): Promise<void> {
    const nonce = this.nextNonce++;
    const pong = this.waitFor((f) => f.type === 'Pong' && f.nonce === nonce, timeoutMs);
    this.send({ type: 'Ping', nonce });
    await pong;
  }

  /** Sends a request with a fresh request id and waits for its answer (the answer or an ErrorReply). */
  async request(f: Frame & { requestId: number }, timeoutMs = 10_000): Promise<Frame> {
    const requestId = this.id();
    const p = this.waitFor((x) => 'requestId' in x && x.requestId === requestId, timeoutMs);
    this.send({ ...f, requestId } as Frame);
    return p;
  }

  async produce(topic: string, partition: number, records: RecordInput[], acks: 'leader' | 'durable' = 'leader', opts: Parameters<typeof encodeBatch>[1] = {}): Promise<Frame> {
    return this.request({ type: 'Produce', requestId: 0, topic, partition, acks, batch: encodeBatch(records, opts) });
  }

  /** Records delivered so far for a topic/partition, decoded from Deliver frames, in arrival order. */
  delivered(topic: string, partition: number): DecodedRecord[] {
    const out: DecodedRecord[] = [];
    for (const f of this.frames) if (f.type === 'Deliver' && f.topic === topic && f.partition === partition) out.push(...decodeBatches(f.batches));
    return out;
  }

  waitClosed(timeoutMs = 10_000): Promise<number> {
    return Promise.race([this.closed, new Promise<number>((_, reject) => setTimeout(() => reject(new Error('not closed in time')), timeoutMs).unref())]);
  }

  close(): void {
    this.ws.terminate();
  }
}

export type MetadataResult = FrameOf<'MetadataResult'>;

/** Creates a topic through the bootstrap endpoint and returns its metadata. */
export async function createTopic(bootstrapUrl: string, name: string, partitions: number, config: FrameOf<'CreateTopic'>['config'] = null): Promise<MetadataResult> {
  const c = await WireClient.open(bootstrapUrl);
  try {
    const r = await c.request({ type: 'CreateTopic', requestId: 0, name, partitions, config });
    if (r.type !== 'MetadataResult') throw new Error(`create topic failed: ${JSON.stringify(r)}`);
    return r;
  } finally {
    c.close();
  }
}

export async function metadata(bootstrapUrl: string, topics: string[] = []): Promise<MetadataResult> {
  const c = await WireClient.open(bootstrapUrl);
  try {
    const r = await c.request({ type: 'Metadata', requestId: 0, topics });
    if (r.type !== 'MetadataResult') throw new Error(`metadata failed: ${JSON.stringify(r)}`);
    return r;
  } finally {
    c.close();
  }
}

/** The owner endpoint of each partition of a topic, from metadata. */
export async function endpoints(bootstrapUrl: string, topic: string): Promise<string[]> {
  const md = await metadata(bootstrapUrl, [topic]);
  return md.topics[0]!.partitions.map((p) => p.endpoint);
}

/** Reads a whole partition from `from` with Fetch, following until the high watermark. */
/** A broker answered a request with an error frame; `retryable` as the broker said (NOT_LEADER, ...). */
export class ErrorReplyReceived extends Error {
  constructor(
    readonly what: string,
    readonly reply: Frame,
  ) {
    super(`${what} failed: ${JSON.stringify(reply)}`);
    this.name = 'ErrorReplyReceived';
  }

  get retryable(): boolean {
    return this.reply.type === 'ErrorReply' && this.reply.retryable;
  }
}

export async function readAll(ownerUrl: string, topic: string, partition: number, from = 0): Promise<DecodedRecord[]> {
  const c = await WireClient.open(ownerUrl);
  try {
    const out: DecodedRecord[] = [];
    let offset = from;
    for (let i = 0; i < 100_000; i++) {
      const r = await c.request({ type: 'Fetch', requestId: 0, topic, partition, offset, maxBytes: 1 << 20 });
      if (r.type !== 'FetchResult') throw new ErrorReplyReceived('fetch', r);
      const recs = decodeBatches(r.batches).filter((x) => x.offset >= offset);
      if (recs.length === 0) return out;
      out.push(...recs);
      offset = recs[recs.length - 1]!.offset + 1;
      if (offset >= r.highWatermark) return out;
    }
    throw new Error('readAll did not finish');
  } finally {
    c.close();
  }
}
