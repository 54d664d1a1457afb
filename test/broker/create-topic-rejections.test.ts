// CreateTopic refuses bad names and bad partition counts with a typed code through the real bootstrap
// endpoint, creates nothing, and the connection that asked stays usable: a bad request fails alone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_PARTITIONS, validatePartitionCount } from '../../broker/metadata/topic-store.js';
import { ErrorCode, TickbusError } from '../../schemas/errors.js';
import type { Frame } from '../../schemas/frames.js';
import { type BrokerProcess, startBroker } from '../helpers/broker.js';
import { metadata, WireClient } from '../helpers/wire-client.js';

let broker: BrokerProcess;
let admin: WireClient;

beforeAll(async () => {
  broker = await startBroker({ args: ['--owners', '1'] });
  admin = await WireClient.open(broker.url);
}, 30_000);
afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset if beforeAll failed
  admin?.close();
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset if beforeAll failed
  await broker?.stop();
});

const create = (name: string, partitions: number): Promise<Frame> =>
  admin.request({ type: 'CreateTopic', requestId: 0, name, partitions, config: null });

/** The request was refused with `code`, and the connection answers the next frame in order. */
async function expectRefused(answer: Frame, code: number): Promise<void> {
  expect(answer.type).toBe('ErrorReply');
  expect(answer.type === 'ErrorReply' && answer.code).toBe(code);
  expect(answer.type === 'ErrorReply' && answer.retryable).toBe(false);
  await admin.barrier();
  expect(admin.closeCode).toBeNull();
}

describe('CreateTopic rejections', () => {
  const badNames: [string, string][] = [
    ['empty', ''],
    ['"."', '.'],
    ['".."', '..'],
    ['reserved "__" prefix', '__mine'],
    ['the internal offsets topic', '__consumer_offsets'],
    ['201 characters', 'a'.repeat(201)],
    ['a slash', 'a/b'],
    ['a path escape', '../etc'],
    ['a space', 'a b'],
    ['a NUL', 'a\0b'],
    ['non-ASCII', 'tópico'],
    ['a colon', 'a:b'],
  ];
  it.each(badNames)('refuses a name with %s: INVALID_TOPIC_NAME', async (_what, name) => {
    await expectRefused(await create(name, 1), ErrorCode.INVALID_TOPIC_NAME);
  });

  it.each([0, -1, MAX_PARTITIONS + 1, 2 ** 31 - 1, -(2 ** 31)])('refuses %d partitions: INVALID_PARTITION_COUNT', async (n) => {
    await expectRefused(await create(`count-${n < 0 ? 'neg' : n}`, n), ErrorCode.INVALID_PARTITION_COUNT);
  });

  it('refuses a fractional partition count (the wire carries int32, so this is checked where it is decided)', () => {
    // 1.5 cannot reach the broker: the frame field is an int32 and the encoder writes 1.
    for (const n of [1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => validatePartitionCount(n)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_PARTITION_COUNT }));
      expect(() => validatePartitionCount(n)).toThrow(TickbusError);
    }
  });

  it('created none of the refused topics, and the same connection still creates a valid one at the limits', async () => {
    expect((await metadata(broker.url)).topics.map((t) => t.name)).toEqual([]);
    const ok = await create('a'.repeat(200), 1);
    expect(ok.type).toBe('MetadataResult');
    const max = await create('edge-ok._-', MAX_PARTITIONS);
    expect(max.type === 'MetadataResult' && max.topics[0]!.partitions).toHaveLength(MAX_PARTITIONS);
    expect(admin.closeCode).toBeNull();
  }, 30_000);
});
