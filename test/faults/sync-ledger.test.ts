// The broker's test-mode sync ledger (broker/log/sync-ledger.ts), written by the real PartitionLog: what it
// says is synced must match what was, or lose-unsynced cuts data the broker never lost (a false lost write)
// or keeps data it did lose. The environment variable is read when the module loads, so it is set first.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import type { PartitionLog as Log } from '../../broker/log/partition-log.js';
import { encodeBatch } from '../../schemas/record-batch.js';
import { until } from '../helpers/until.js';
import { LEDGER_FILE, parseSyncLedger } from './unsynced-loss.js';

process.env.TICKBUS_TEST_SYNC_LEDGER = '1';
const { PartitionLog } = await import('../../broker/log/partition-log.js');

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function append(log: Log, n: number, tag: string): void {
  for (let b = 0; b < n; b++) {
    // Now, not a fixed past time: roll() applies retention, which would delete an old-looking segment.
    const batch = encodeBatch([{ value: `${tag}${b}` }]);
    log.append(batch, 0, batch.length, 1, Date.now() * 1000);
  }
}

it('a group-commit fsync that completes after the segment was sealed does not shrink the sealed size in the ledger', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tickbus-ledger-'));
  dirs.push(dir);
  const log = PartitionLog.open(dir, { fsync: 'always' });
  append(log, 1, 'a'); // issues an async fdatasync covering one batch...
  append(log, 3, 'b'); // ...these wait for the next one
  const active = (): string => (log as unknown as { active: { logPath: string } }).active.logPath;
  const first = active();
  log.roll(); // the seal fsyncs all four batches, before the async fdatasync above completes
  const syncing = (): boolean => (log as unknown as { syncing: boolean }).syncing;
  await until(() => !syncing(), 'the group-commit fdatasync to complete', 5_000);
  append(log, 2, 'c');
  await log.flush();
  const ledger = parseSyncLedger(fs.readFileSync(path.join(dir, LEDGER_FILE), 'utf8'));
  expect(ledger.synced.get(path.basename(first))).toBe(fs.statSync(first).size);
  // The active file runs ahead with preallocated zeros: the ledger holds its log's bytes.
  const activeSize = (log as unknown as { active: { size: number } }).active.size;
  expect(fs.statSync(active()).size).toBeGreaterThanOrEqual(activeSize);
  expect(ledger.synced.get(path.basename(active()))).toBe(activeSize);
  expect([...ledger.durableFiles!].sort()).toEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.log')).sort());
  log.close();
});

it('a truncation shrinks the ledger, and a segment name reused after it starts from nothing synced', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tickbus-ledger-'));
  dirs.push(dir);
  const log = PartitionLog.open(dir, { fsync: 'always' });
  append(log, 4, 'a');
  await log.flush();
  log.roll();
  append(log, 4, 'b');
  await log.flush();
  const active = (): string => (log as unknown as { active: { logPath: string } }).active.logPath;
  const second = active();
  log.truncateTo(2); // deletes the second segment and cuts the first in the middle
  const ledger1 = parseSyncLedger(fs.readFileSync(path.join(dir, LEDGER_FILE), 'utf8'));
  expect(ledger1.synced.get(path.basename(active()))).toBe(fs.statSync(active()).size);
  append(log, 2, 'c'); // offsets 2, 3
  await log.flush();
  log.roll(); // a new segment at offset 4: the name of the one deleted above
  expect(active()).toBe(second);
  const ledger2 = parseSyncLedger(fs.readFileSync(path.join(dir, LEDGER_FILE), 'utf8'));
  expect(ledger2.synced.get(path.basename(second))).toBe(0);
  log.close();
});
