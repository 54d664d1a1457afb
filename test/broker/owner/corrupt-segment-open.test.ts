// An owner opening a partition whose sealed segment was damaged while the broker was down: with
// verifyOnOpen 'all' (the default) the log is cut at the damage and tickbus_log_corruption_truncations_total
// counts it; with 'active' sealed segments are trusted and nothing is counted.
import fs from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { resolveConfig, type VerifyOnOpen } from '../../../broker/config.js';
import { PartitionLog } from '../../../broker/log/partition-log.js';
import { newCounterBuffer, readCounters } from '../../../broker/owner/counters.js';
import { Owner } from '../../../broker/owner/owner.js';
import { partitionDir } from '../../../broker/metadata/topic-store.js';
import { ErrorCode, TickbusError } from '../../../schemas/errors.js';
import { encodeBatch } from '../../../schemas/record-batch.js';
import { corruptSegment } from '../../faults/segment-corruption.js';
import { tempDir } from '../../helpers/broker.js';

const dirs: string[] = [];
beforeAll(() => {
  // The cut is logged on purpose.
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
});
afterAll(() => vi.restoreAllMocks());
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const CONFIG = { fsync: 'os' as const, fsyncIntervalMs: 50, segmentBytes: 4096, segmentMs: 3_600_000, retentionBytes: -1, retentionMs: -1 };

/** A partition of 200 one-record batches in ~7 segments, its second segment bit-flipped in the middle. */
function damagedPartition(dataDir: string): void {
  const dir = partitionDir(dataDir, 'orders', 0);
  const log = PartitionLog.open(dir, CONFIG);
  for (let i = 0; i < 200; i++) {
    const b = encodeBatch([{ value: `v${i}`.padEnd(40, '.') }]);
    log.append(b, 0, b.length, 0, 1_700_000_000_000_000 + i * 1000);
  }
  log.close();
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.log'));
  expect(corruptSegment(dir, { how: 'bitflip', filePick: 1.5 / files.length, positionPick: 0.5, bit: 5 })).not.toBeNull();
}

async function openAndCount(verifyOnOpen: VerifyOnOpen): Promise<number> {
  const dataDir = tempDir();
  dirs.push(dataDir);
  damagedPartition(dataDir);
  const counters = newCounterBuffer();
  const owner = new Owner(0, resolveConfig({ dataDir, port: 0, verifyOnOpen }), counters);
  try {
    owner.openTopic({ name: 'orders', id: 1, partitionCount: 1, partitions: [0], config: CONFIG });
    return readCounters(counters).logCorruptionTruncations;
  } finally {
    await owner.close(new TickbusError(ErrorCode.SHUTTING_DOWN, 'test over'), 1001, 0);
  }
}

describe('owner opening a partition with a damaged sealed segment', () => {
  it("counts the cut in tickbus_log_corruption_truncations_total (verifyOnOpen 'all'), not with 'active'", async () => {
    expect(await openAndCount('all')).toBe(1);
    expect(await openAndCount('active')).toBe(0);
  });

  it('refuses a bad verifyOnOpen with a TypeError naming it', () => {
    expect(() => resolveConfig({ verifyOnOpen: 'sealed' as VerifyOnOpen })).toThrow(/verifyOnOpen must be 'all' or 'active'/);
  });
});
