// Connection, subscription and topic limits on a real broker: each breach is refused with a typed
// LIMIT_EXCEEDED (and the socket closed where the connection itself is the breach), and every other
// client goes on as before (asserted with a Ping/Pong barrier through it).
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../schemas/errors.js';
import { decodeFrame, encodeFrame, type Frame, PROTOCOL_VERSION } from '../../schemas/frames.js';
import { type BrokerProcess, startBroker } from '../helpers/broker.js';
import { createTopic, WireClient } from '../helpers/wire-client.js';

const brokers: BrokerProcess[] = [];
const clients: WireClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.allSettled(brokers.splice(0).map((b) => b.stop()));
});

async function broker(args: string[]): Promise<BrokerProcess> {
  const b = await startBroker({ args: ['--owners', '1', ...args] });
  brokers.push(b);
  return b;
}

async function open(url: string, hello = true): Promise<WireClient> {
  const c = await WireClient.open(url, hello);
  clients.push(c);
  return c;
}

function isLimit(f: Frame): boolean {
  return f.type === 'ErrorReply' && f.code === ErrorCode.LIMIT_EXCEEDED;
}

/**
 * A socket that records every frame from the first byte (the broker may refuse in the same packet as
 * the upgrade answer, before WireClient.open() would be listening), then the close code.
 */
interface Raw {
  ws: WebSocket;
  frames: Frame[];
  closed: Promise<number>;
}
const raws: WebSocket[] = [];
afterEach(() => {
  for (const ws of raws.splice(0)) ws.terminate();
});

function raw(url: string, hello: boolean): Raw {
  const ws = new WebSocket(url);
  raws.push(ws);
  const frames: Frame[] = [];
  ws.binaryType = 'nodebuffer';
  ws.on('message', (d: Buffer) => frames.push(decodeFrame(new Uint8Array(d.buffer, d.byteOffset, d.length).slice())));
  ws.on('error', () => undefined);
  if (hello) ws.once('open', () => ws.send(encodeFrame({ type: 'Hello', protocolVersion: PROTOCOL_VERSION, clientId: 'limits' })));
  return { ws, frames, closed: new Promise((resolve) => ws.once('close', (code) => resolve(code))) };
}

/** The connection is refused: LIMIT_EXCEEDED, then closed with 1008. */
async function expectRefused(r: Raw, says: RegExp): Promise<void> {
  expect(await r.closed).toBe(1008);
  const err = r.frames.find((f) => f.type === 'ErrorReply');
  expect(err).toMatchObject({ code: ErrorCode.LIMIT_EXCEEDED });
  expect((err as { message: string }).message).toMatch(says);
}

describe('connection limits', () => {
  it('connections per IP: the one past the limit is refused on the bootstrap and on an owner; the others go on', async () => {
    const b = await broker(['--max-conns-per-ip', '3']);
    for (const url of [b.url, b.owners[0]!.url]) {
      const ok = [await open(url), await open(url), await open(url)];
      await expectRefused(raw(url, false), /maxConnectionsPerIp/);
      for (const c of ok) await c.barrier();
      // A closed connection frees its place.
      ok[0]!.close();
      await ok[0]!.waitClosed();
      // (the broker sees the close a moment after the client: a refusal in between is retried, bounded)
      let again: WireClient | null = null;
      for (let i = 0; i < 50 && again === null; i++) {
        again = await open(url).catch(async () => {
          await new Promise((r) => setTimeout(r, 20));
          return null;
        });
      }
      expect(again).not.toBeNull();
      await again!.barrier();
      for (const c of [...ok.slice(1), again!]) c.close();
    }
  });

  it('pending handshakes: sockets that have not said Hello count; one more is refused, a Hello frees a place', async () => {
    const b = await broker(['--max-pending-handshakes', '2']);
    const established = await open(b.url);
    const p1 = await open(b.url, false);
    const p2 = await open(b.url, false);
    await expectRefused(raw(b.url, false), /maxPendingHandshakes/);
    p1.send({ type: 'Hello', protocolVersion: PROTOCOL_VERSION, clientId: 'late' });
    await p1.waitFor((f) => f.type === 'HelloOk');
    const p4 = await open(b.url, false);
    p4.send({ type: 'Hello', protocolVersion: PROTOCOL_VERSION, clientId: 'next' });
    await p4.waitFor((f) => f.type === 'HelloOk');
    await established.barrier();
    p2.close();
  });

  it('connections per principal: past the limit Hello is answered LIMIT_EXCEEDED and the socket closed', async () => {
    const b = await broker(['--max-conns-per-principal', '2']);
    const a = await open(b.url);
    const c = await open(b.url);
    await expectRefused(raw(b.url, true), /principal 'anonymous'.*maxConnectionsPerPrincipal/);
    await a.barrier();
    await c.barrier();
  });
});

describe('subscription and topic limits', () => {
  it('subscriptions per connection: partitions past the limit fail alone; another connection still subscribes', async () => {
    const b = await broker(['--max-subs-per-conn', '2']);
    await createTopic(b.url, 'many', 3);
    const c = await open(b.owners[0]!.url);
    const requestId = c.id();
    c.send({ type: 'Subscribe', requestId, topic: 'many', creditBytes: 0, starts: [0, 1, 2].map((partition) => ({ partition, kind: 'earliest' as const })) });
    await c.barrier();
    const answers = c.frames.filter((f) => 'requestId' in f && f.requestId === requestId);
    expect(answers.filter((f) => f.type === 'SubscribeOk')).toHaveLength(2);
    expect(answers.filter(isLimit)).toHaveLength(1);
    expect(answers.find(isLimit)).toMatchObject({ partition: 2 });
    // Re-subscribing to a partition it holds replaces it, within the limit.
    const again = await c.request({ type: 'Subscribe', requestId: 0, topic: 'many', creditBytes: 0, starts: [{ partition: 0, kind: 'latest' }] });
    expect(again.type).toBe('SubscribeOk');
    const other = await open(b.owners[0]!.url);
    const ok = await other.request({ type: 'Subscribe', requestId: 0, topic: 'many', creditBytes: 0, starts: [{ partition: 2, kind: 'earliest' }] });
    expect(ok.type).toBe('SubscribeOk');
  });

  it('topics and partitions per node: CreateTopic past either limit is refused with LIMIT_EXCEEDED', async () => {
    const b = await broker(['--max-topics', '3', '--max-partitions', '6']);
    const admin = await open(b.url);
    const create = (name: string, partitions: number): Promise<Frame> => admin.request({ type: 'CreateTopic', requestId: 0, name, partitions, config: null });
    expect((await create('a', 2)).type).toBe('MetadataResult');
    expect((await create('b', 2)).type).toBe('MetadataResult');
    const tooWide = await create('c', 3);
    expect(tooWide).toMatchObject({ type: 'ErrorReply', code: ErrorCode.LIMIT_EXCEEDED });
    expect((tooWide as { message: string }).message).toMatch(/maxPartitions/);
    expect((await create('c', 2)).type).toBe('MetadataResult');
    const tooMany = await create('d', 1);
    expect(tooMany).toMatchObject({ type: 'ErrorReply', code: ErrorCode.LIMIT_EXCEEDED });
    expect((tooMany as { message: string }).message).toMatch(/maxTopics/);
    // An existing name is still TOPIC_EXISTS, not a limit.
    expect(await create('a', 2)).toMatchObject({ type: 'ErrorReply', code: ErrorCode.TOPIC_EXISTS });
  });
});
