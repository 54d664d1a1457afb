// The harness side of the `lose-unsynced` fault (docs/faults.md, "Design: losing unsynced writes on kill"):
// after `kill -9` of a broker and before its restart, make its partition directories look as they would after
// a power loss — only what an fdatasync covered survives — like LazyFS does for Jepsen.
//
// What was synced comes from `sync.ledger`, which the broker writes in its test mode (the hook is proposed in
// docs/faults.md; the broker does not write it yet). Lines:
//   sync <segment>.log <bytes>      an fdatasync of that file completed, covering its first <bytes> bytes
//   dir <segment>.log ...           the directory was fsynced while holding exactly these segment files
import * as fs from 'node:fs';
import * as path from 'node:path';
import { dataEnd } from './data-end.js';

export const LEDGER_FILE = 'sync.ledger';
const LOG_FILE = /^(\d{20})\.log$/;

export interface SyncLedger {
  /** Segment file → bytes its last completed fdatasync covered. */
  synced: Map<string, number>;
  /** Segment files in the directory as of its last fsync; null if the directory was never synced. */
  durableFiles: Set<string> | null;
}

export function parseSyncLedger(text: string): SyncLedger {
  const synced = new Map<string, number>();
  let durableFiles: Set<string> | null = null;
  const lines = text.split('\n');
  // The broker may be killed mid-line: a last line without its newline never happened.
  lines.pop();
  for (const [i, line] of lines.entries()) {
    const [verb, ...args] = line.split(' ');
    if (verb === 'sync' && args.length === 2 && LOG_FILE.test(args[0]!) && /^\d+$/.test(args[1]!)) {
      // The last sync wins: a truncation (KIP-101) can make a later one smaller.
      synced.set(args[0]!, Number(args[1]));
    } else if (verb === 'dir' && args.every((a) => LOG_FILE.test(a))) {
      durableFiles = new Set(args);
    } else throw new TypeError(`sync ledger line ${i + 1}: cannot parse ${JSON.stringify(line)}`);
  }
  return { synced, durableFiles };
}

export interface LossOptions {
  /** Keep a random part of each unsynced tail (a torn write) instead of none of it. */
  keepTornTail: boolean;
  /** In [0, 1): how much of the unsynced tail a torn write keeps (from the seeded plan). */
  tornPick: number;
}

export interface FileLoss {
  file: string;
  before: number;
  after: number;
  deleted: boolean;
}

/**
 * Cuts one partition directory back to what was synced. Returns what it did to each segment, for the report.
 * Without a ledger nothing is known to be durable: every segment goes.
 */
export function loseUnsynced(dir: string, opts: LossOptions): FileLoss[] {
  if (!(opts.tornPick >= 0 && opts.tornPick < 1)) throw new RangeError(`tornPick must be in [0, 1), got ${opts.tornPick}`);
  const ledgerPath = path.join(dir, LEDGER_FILE);
  const ledger: SyncLedger = fs.existsSync(ledgerPath) ? parseSyncLedger(fs.readFileSync(ledgerPath, 'utf8')) : { synced: new Map(), durableFiles: new Set() };
  const out: FileLoss[] = [];
  const files = fs
    .readdirSync(dir)
    .filter((f) => LOG_FILE.test(f))
    .sort();
  for (const file of files) {
    const p = path.join(dir, file);
    const before = fs.statSync(p).size;
    // A file whose directory entry was never synced is gone after a power loss, with its index files.
    if (ledger.durableFiles !== null && !ledger.durableFiles.has(file)) {
      for (const ext of ['.log', '.index', '.timeindex']) fs.rmSync(p.replace(/\.log$/, ext), { force: true });
      out.push({ file, before, after: 0, deleted: true });
      continue;
    }
    const synced = Math.min(before, ledger.synced.get(file) ?? 0);
    // A torn write keeps part of what was written: the bytes up to the data's end, not the preallocated
    // zeros after it (segment.ts), or most torn tails would keep every unsynced byte.
    const written = Math.max(synced, dataEnd(p, before));
    const after = opts.keepTornTail ? synced + Math.floor(opts.tornPick * (written - synced)) : synced;
    if (after < before) fs.truncateSync(p, after);
    out.push({ file, before, after, deleted: false });
  }
  return out;
}
