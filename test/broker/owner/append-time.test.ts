// Append timestamps are stored (time index, retention, `from: {timestamp}`), so the owner stamps them
// from the wall clock. A monotonic clock (performance.timeOrigin + performance.now()) is anchored once
// per thread and drifts from the wall clock; here it is skewed by half an hour to make that visible.
import fs from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { resolveConfig } from '../../../broker/config.js';
import { Owner } from '../../../broker/owner/owner.js';
import { ErrorCode, TickbusError } from '../../../schemas/errors.js';
import { batchAppendTimeUs } from '../../../schemas/record-batch.js';
import { tempDir } from '../../helpers/broker.js';
import { WireClient } from '../../helpers/wire-client.js';

const SKEW_MS = 30 * 60 * 1000;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('append time', () => {
  it('is the wall-clock time of the append even when the thread monotonic clock has drifted', async () => {
    const dataDir = tempDir();
    cleanups.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
    const owner = new Owner(0, resolveConfig({ dataDir, port: 0 }));
    cleanups.push(() => owner.close(new TickbusError(ErrorCode.SHUTTING_DOWN, 'test over'), undefined, 100));
    owner.openTopic({ name: 't', id: 1, partitionCount: 1, partitions: [0], config: { fsync: 'os', fsyncIntervalMs: 50, segmentBytes: 1 << 20, segmentMs: 3_600_000, retentionBytes: -1, retentionMs: -1 } });
    const port = await owner.listen('127.0.0.1', 0);
    const c = await WireClient.open(`ws://127.0.0.1:${port}/`);
    cleanups.push(() => c.close());

    const realNow = performance.now.bind(performance);
    vi.spyOn(performance, 'now').mockImplementation(() => realNow() + SKEW_MS);
    const before = Date.now();
    expect((await c.produce('t', 0, [{ value: 'x' }])).type).toBe('ProduceAck');
    const after = Date.now();
    vi.restoreAllMocks();

    const r = await c.request({ type: 'Fetch', requestId: 0, topic: 't', partition: 0, offset: 0, maxBytes: 0 });
    expect(r.type).toBe('FetchResult');
    const storedMs = batchAppendTimeUs(r.type === 'FetchResult' ? r.batches : new Uint8Array(0)) / 1000;
    expect(storedMs).toBeGreaterThanOrEqual(before);
    expect(storedMs).toBeLessThanOrEqual(after + 1);

    // The time index answers in the same clock: a subscription from `before` starts at this batch.
    const ok = await c.request({ type: 'Subscribe', requestId: 0, topic: 't', starts: [{ partition: 0, kind: 'timestamp', value: before }], creditBytes: 0 });
    expect(ok.type === 'SubscribeOk' && ok.startOffset).toBe(0);
  });
});
