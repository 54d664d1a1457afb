// Test-only sync ledger (docs/faults.md, "Design: losing unsynced writes on kill"). With
// TICKBUS_TEST_SYNC_LEDGER=1 each partition directory gets a `sync.ledger` with one line per completed
// fsync: `sync <segment>.log <bytes>` (bytes the fdatasync is guaranteed to cover: the size when it was
// issued) and `dir <segment>.log ...` (the segment files the directory held when it was fsynced). The fault
// harness cuts a killed broker's files back to it, as a power loss would (test/faults/unsynced-loss.ts).
//
// Read once at load; null when unset, so production pays one null check per fsync. Lines are written before
// the sync's waiters are answered, so no ack ever runs ahead of the ledger. No fsync of its own: kill -9 does
// not lose the page cache, and the ledger is only read after one. One writer per directory (its owner thread).
import fs from 'node:fs';
import path from 'node:path';

export const SYNC_LEDGER_FILE = 'sync.ledger';
const LOG_FILE = /^\d{20}\.log$/;

export interface SyncLedger {
  /**
   * An fdatasync of `logPath` completed, covering its first `bytes` bytes. Ignored when a sync covering more
   * was already recorded: a group-commit fdatasync issued before a roll can complete after the seal's own
   * sync, and its smaller size must not win (the harness would cut a sealed segment).
   */
  synced(logPath: string, bytes: number): void;
  /** `logPath` was cut to `bytes` and the cut fsynced (a follower's truncation, recovery): it may shrink. */
  cut(logPath: string, bytes: number): void;
  /** `dir` was fsynced: its segment files are durable names now. */
  dirSynced(dir: string): void;
}

/** Highest size recorded per segment file in this thread (each partition has one writer thread). */
const recorded = new Map<string, number>();

function writeSync(logPath: string, bytes: number): void {
  recorded.set(logPath, bytes);
  fs.appendFileSync(path.join(path.dirname(logPath), SYNC_LEDGER_FILE), `sync ${path.basename(logPath)} ${bytes}\n`);
}

const fileLedger: SyncLedger = {
  synced(logPath, bytes) {
    if (bytes > (recorded.get(logPath) ?? -1)) writeSync(logPath, bytes);
  },
  cut: writeSync,
  dirSynced(dir) {
    const files = fs
      .readdirSync(dir)
      .filter((f) => LOG_FILE.test(f))
      .sort();
    fs.appendFileSync(path.join(dir, SYNC_LEDGER_FILE), `dir${files.map((f) => ` ${f}`).join('')}\n`);
  },
};

export const syncLedger: SyncLedger | null = process.env.TICKBUS_TEST_SYNC_LEDGER === '1' ? fileLedger : null;
