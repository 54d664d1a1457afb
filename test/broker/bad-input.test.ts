// Bad input gets a typed error frame, the offending connection is closed where continuing is
// unsafe, every other client goes on, nothing acknowledged is lost, and the broker logs a line.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, TickbusError } from '../../schemas/errors.js';
import { decodeFrame, encodeFrame, type Frame } from '../../schemas/frames.js';
import { encodeBatch, Off } from '../../schemas/record-batch.js';
import { type BrokerProcess, startBroker } from '../helpers/broker.js';
import { until } from '../helpers/until.js';
import { createTopic, endpoints, readAll, WireClient } from '../helpers/wire-client.js';

const topic = 'bad';
let broker: BrokerProcess;
let owner: string;
let bystander: WireClient;
let acked = 0;

const code = (f: Frame): number => (f.type === 'ErrorReply' ? f.code : -1);

/** The bystander produces and consumes between every bad thing: it must never notice. */
async function bystanderStillWorks(): Promise<void> {
  const f = await bystander.produce(topic, 0, [{ value: `ok-${acked}` }]);
  expect(f.type).toBe('ProduceAck');
  acked++;
  await bystander.waitFor(() => bystander.delivered(topic, 0).length === acked);
}

beforeAll(async () => {
  broker = await startBroker({ args: ['--owners', '1', '--max-payload', '65536'] });
  await createTopic(broker.url, topic, 2);
  owner = (await endpoints(broker.url, topic))[0]!;
  bystander = await WireClient.open(owner);
  // request() numbers it: a hand-picked id would collide with the ids produce() takes later.
  await bystander.request({ type: 'Subscribe', requestId: 0, topic, starts: [{ partition: 0, kind: 'earliest' }], creditBytes: 0 });
}, 30_000);

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset if beforeAll failed
  bystander?.close();
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset if beforeAll failed
  await broker?.stop();
});

async function expectRejected(send: (c: WireClient) => void, expected: number, closeCode = 1008, hello = true): Promise<void> {
  const c = await WireClient.open(owner, hello);
  send(c);
  const err = await c.waitFor((f) => f.type === 'ErrorReply');
  expect(code(err)).toBe(expected);
  expect(await c.waitClosed()).toBe(closeCode);
  await bystanderStillWorks();
}

describe('bad input', () => {
  it('malformed frame: MALFORMED_FRAME and close', async () => {
    await expectRejected((c) => c.sendRaw(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])), ErrorCode.MALFORMED_FRAME);
    // The broker's stderr reaches this process through a pipe, and may come after the close frame.
    await until(() => /connection rejected.*MALFORMED_FRAME/.test(broker.stderr()), 'the rejection in the broker log', 5_000);
  });

  it('truncated frame: MALFORMED_FRAME and close', async () => {
    const full = encodeFrame({ type: 'Produce', requestId: 1, topic, partition: 0, acks: 'leader', batch: encodeBatch([{ value: 'x' }]) });
    await expectRejected((c) => c.sendRaw(full.subarray(0, 20)), ErrorCode.MALFORMED_FRAME);
  });

  it('unknown frame type: UNKNOWN_FRAME_TYPE and close', async () => {
    const ping = encodeFrame({ type: 'Ping', nonce: 1 });
    const pong = encodeFrame({ type: 'Pong', nonce: 1 });
    ping[ping.findIndex((v, i) => v !== pong[i])] = 200;
    await expectRejected((c) => c.sendRaw(ping), ErrorCode.UNKNOWN_FRAME_TYPE);
  });

  it('text message: MALFORMED_FRAME and close', async () => {
    await expectRejected((c) => c.sendRaw('hello?'), ErrorCode.MALFORMED_FRAME);
  });

  it('wrong protocol version: UNSUPPORTED_PROTOCOL_VERSION and close', async () => {
    await expectRejected((c) => c.send({ type: 'Hello', protocolVersion: 99, clientId: 'future' }), ErrorCode.UNSUPPORTED_PROTOCOL_VERSION, 1008, false);
  });

  it('no Hello first: HELLO_REQUIRED and close', async () => {
    await expectRejected((c) => c.send({ type: 'Ping', nonce: 5 }), ErrorCode.HELLO_REQUIRED, 1008, false);
  });

  it('oversized frame: FRAME_TOO_LARGE and close 1009', async () => {
    await expectRejected(
      (c) => c.send({ type: 'Produce', requestId: 1, topic, partition: 0, acks: 'leader', batch: encodeBatch([{ value: new Uint8Array(70_000) }]) }),
      ErrorCode.FRAME_TOO_LARGE,
      1009,
    );
  });

  it('unknown topic and unknown partition: typed errors, connection stays open', async () => {
    const c = await WireClient.open(owner);
    const a = await c.produce('nope', 0, [{ value: 'x' }]);
    expect(code(a)).toBe(ErrorCode.UNKNOWN_TOPIC);
    const b = await c.produce(topic, 7, [{ value: 'x' }]);
    expect(code(b)).toBe(ErrorCode.UNKNOWN_PARTITION);
    expect(b.type === 'ErrorReply' && b.message).toBe("topic 'bad' has 2 partitions; partition 7 does not exist");
    const s = await c.request({ type: 'Subscribe', requestId: 0, topic, starts: [{ partition: 0, kind: 'offset', value: 1e9 }], creditBytes: 0 });
    expect(code(s)).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
    expect(c.closeCode).toBeNull();
    c.close();
    await bystanderStillWorks();
  });

  it('corrupt batch (CRC mismatch): CORRUPT_BATCH, nothing written, connection stays open', async () => {
    const c = await WireClient.open(owner);
    const batch = encodeBatch([{ value: 'tampered' }]);
    batch[batch.length - 1]! ^= 0xff;
    const r = await c.request({ type: 'Produce', requestId: 0, topic, partition: 1, acks: 'leader', batch });
    expect(code(r)).toBe(ErrorCode.CORRUPT_BATCH);
    const bad = encodeBatch([{ value: 'bad magic' }]);
    bad[Off.magic] = 9;
    expect(code(await c.request({ type: 'Produce', requestId: 0, topic, partition: 1, acks: 'leader', batch: bad }))).toBe(ErrorCode.CORRUPT_BATCH);
    expect(await readAll(owner, topic, 1)).toEqual([]);
    c.close();
  });

  it('produce to a deleted topic: TOPIC_DELETED', async () => {
    await createTopic(broker.url, 'doomed', 1);
    const url = (await endpoints(broker.url, 'doomed'))[0]!;
    const c = await WireClient.open(url);
    expect((await c.produce('doomed', 0, [{ value: 'x' }])).type).toBe('ProduceAck');
    const admin = await WireClient.open(broker.url);
    expect((await admin.request({ type: 'DeleteTopic', requestId: 0, name: 'doomed' })).type).toBe('MetadataResult');
    admin.close();
    expect(code(await c.produce('doomed', 0, [{ value: 'y' }]))).toBe(ErrorCode.TOPIC_DELETED);
    c.close();
  });

  it('random bytes after Hello: a typed error and a close (or, if they decode, a connection that goes on)', async () => {
    let rejected = 0;
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 256 }), async (bytes) => {
        // The broker decodes with the same decodeFrame: what it must answer is known before sending.
        let expected: number | null = null;
        try {
          decodeFrame(bytes);
        } catch (err) {
          expected = (err as TickbusError).code;
        }
        const c = await WireClient.open(owner);
        try {
          c.sendRaw(bytes);
          if (expected !== null) {
            const err = await c.waitFor((f) => f.type === 'ErrorReply');
            expect(code(err)).toBe(expected);
            expect(err.type === 'ErrorReply' && err.requestId).toBe(0);
            expect(await c.waitClosed()).toBe(1008);
            rejected++;
          } else {
            // Bytes that happen to be a valid frame are served as a request (answered or refused
            // alone): the connection must still answer in order.
            await c.barrier();
            expect(c.closeCode).toBeNull();
          }
        } finally {
          c.close();
        }
      }),
      { numRuns: 40 },
    );
    // Random bytes are nearly always undecodable: the property must have exercised the reject path.
    expect(rejected).toBeGreaterThan(30);
    await bystanderStillWorks();
    // Nothing the bystander had acknowledged was lost.
    const values = (await readAll(owner, topic, 0)).map((r) => new TextDecoder().decode(r.value!));
    expect(values).toEqual([...Array(acked).keys()].map((i) => `ok-${i}`));
  }, 60_000);
});
