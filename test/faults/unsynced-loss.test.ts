import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PartitionLog } from '../../broker/log/partition-log.js';
import { encodeBatch } from '../../schemas/record-batch.js';
import { dumpReplica } from './replica-dump.js';
import { LEDGER_FILE, loseUnsynced, parseSyncLedger } from './unsynced-loss.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function append(log: PartitionLog, batches: number, tag: string): void {
  for (let b = 0; b < batches; b++) {
    const batch = encodeBatch([{ value: `${tag}${b}.0` }, { value: `${tag}${b}.1` }], { timestamp: 1_700_000_000_000 });
    log.append(batch, 0, batch.length, 1, 1_700_000_000_000_000 + b);
  }
}

const logFiles = (dir: string): string[] => fs.readdirSync(dir).filter((f) => f.endsWith('.log')).sort();

/** What the broker's test-mode hook would write after a completed sync: each segment's size and the directory. */
function ledgerLines(dir: string): string {
  const files = logFiles(dir);
  return files.map((f) => `sync ${f} ${fs.statSync(path.join(dir, f)).size}\n`).join('') + `dir ${files.join(' ')}\n`;
}

/**
 * A real partition log over small segments: 20 batches synced (the ledger says so), then 20 more that roll into
 * new segment files and are never synced as far as the ledger knows; then the "kill" (close, not recorded).
 */
async function crashedLog(): Promise<{ dir: string; syncedOffset: number; endOffset: number; before: ReturnType<typeof dumpReplica> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tickbus-unsynced-'));
  dirs.push(dir);
  const log = PartitionLog.open(dir, { fsync: 'os', segmentBytes: 1024 });
  append(log, 20, 'a');
  await log.flush();
  const syncedOffset = log.nextOffset;
  fs.writeFileSync(path.join(dir, LEDGER_FILE), ledgerLines(dir));
  const filesAtSync = logFiles(dir).length;
  append(log, 20, 'b');
  const endOffset = log.nextOffset;
  log.close();
  expect(logFiles(dir).length).toBeGreaterThan(filesAtSync);
  const before = dumpReplica(dir, { topic: 't', partition: 0, replica: 'before', highWatermark: endOffset });
  return { dir, syncedOffset, endOffset, before };
}

describe('losing unsynced writes (lose-unsynced)', () => {
  it('cuts a partition back to its last sync: later segment files go, the synced prefix survives recovery intact', async () => {
    const { dir, syncedOffset, before } = await crashedLog();
    const losses = loseUnsynced(dir, { keepTornTail: false, tornPick: 0 });
    expect(losses.filter((l) => l.deleted).length).toBeGreaterThan(0);
    expect(losses.some((l) => !l.deleted && l.after < l.before)).toBe(true);

    const log = PartitionLog.open(dir, { fsync: 'os', segmentBytes: 1024 });
    try {
      expect(log.nextOffset).toBe(syncedOffset);
    } finally {
      log.close();
    }
    const after = dumpReplica(dir, { topic: 't', partition: 0, replica: 'after', highWatermark: syncedOffset });
    expect(after.stop).toBeNull();
    expect(after.events.flatMap((e) => e.hashes)).toEqual(before.events.flatMap((e) => e.hashes).slice(0, syncedOffset));
  });

  it('with a torn tail keeps part of the unsynced bytes; recovery cuts at a batch boundary at or past the sync', async () => {
    const { dir, syncedOffset, endOffset, before } = await crashedLog();
    const losses = loseUnsynced(dir, { keepTornTail: true, tornPick: 0.5 });
    const torn = losses.find((l) => !l.deleted && l.after < l.before)!;
    expect(torn.after).toBeGreaterThan(0);

    const log = PartitionLog.open(dir, { fsync: 'os', segmentBytes: 1024 });
    let recovered: number;
    try {
      recovered = log.nextOffset;
    } finally {
      log.close();
    }
    expect(recovered).toBeGreaterThanOrEqual(syncedOffset);
    expect(recovered).toBeLessThan(endOffset);
    const after = dumpReplica(dir, { topic: 't', partition: 0, replica: 'after', highWatermark: recovered });
    expect(after.events.flatMap((e) => e.hashes)).toEqual(before.events.flatMap((e) => e.hashes).slice(0, recovered));
  });

  it('without a ledger nothing was durable', async () => {
    const { dir } = await crashedLog();
    fs.rmSync(path.join(dir, LEDGER_FILE));
    expect(loseUnsynced(dir, { keepTornTail: false, tornPick: 0 }).every((l) => l.deleted)).toBe(true);
    expect(logFiles(dir)).toEqual([]);
  });

  it('reads the ledger: the last sync of a file wins, a torn last line is ignored, any other bad line is an error', () => {
    const l = parseSyncLedger('sync 00000000000000000000.log 100\nsync 00000000000000000000.log 40\ndir 00000000000000000000.log\nsync 00000000000000000000.lo');
    expect(l.synced.get('00000000000000000000.log')).toBe(40);
    expect([...(l.durableFiles ?? [])]).toEqual(['00000000000000000000.log']);
    expect(parseSyncLedger('').durableFiles).toBeNull();
    expect(() => parseSyncLedger('sync x 1\ndir\n')).toThrow('sync ledger line 1');
    expect(() => loseUnsynced(os.tmpdir(), { keepTornTail: true, tornPick: 1 })).toThrow(RangeError);
  });
});
