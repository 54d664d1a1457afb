// Committed consumer-group offsets, kept durably in the internal topic `__consumer_offsets`
// (one partition, a PartitionLog at <dataDir>/__consumer_offsets/0). Users cannot create or
// subscribe to it: topic names starting with `__` are reserved.
//
// Each commit request appends ONE record batch (so a request is all-or-nothing on recovery: a torn
// batch fails its CRC and the log's recovery truncates it) and is acknowledged after fdatasync.
//   key   = utf-8 `group \0 topic \0 partition`
//   value = the committed offset as a decimal string; null = deleted (tombstone, e.g. topic deleted)
// On open the whole log is read and the last value per key wins. The log is never compacted yet:
// it grows by one small batch per commit (~100 bytes); see docs/protocol.md "Consumer groups".
import path from 'node:path';
import { ErrorCode, TickbusError } from '../../schemas/errors.js';
import { batchLength, batchLastOffset, BATCH_HEADER_SIZE, encodeBatch, forEachRecord } from '../../schemas/record-batch.js';
import { PartitionLog, validateLogConfig } from '../log/partition-log.js';
import { wallClockUs } from '../clock.js';

export interface OffsetEntry {
  group: string;
  topic: string;
  partition: number;
  /** Next offset to consume; null deletes the entry. */
  offset: number | null;
}

/** Where committed offsets live. The coordinator keeps the latest per key in memory. */
export interface OffsetStore {
  /** Every entry stored, oldest first (called once, at open). */
  load(): OffsetEntry[];
  /** Stores the entries as one unit; visible to load() after a restart once the promise resolves. */
  append(entries: readonly OffsetEntry[]): Promise<void>;
  close(): void;
}

export const OFFSETS_TOPIC = '__consumer_offsets';
const READ_CHUNK = 1024 * 1024;
const utf8 = new TextEncoder();
const utf8d = new TextDecoder();

function keyOf(e: OffsetEntry): string {
  return `${e.group}\0${e.topic}\0${e.partition}`;
}

/** Parses a stored record; null for a record that is not ours (skipped, never fatal). */
function entryOf(key: Uint8Array | null, value: Uint8Array | null): OffsetEntry | null {
  if (!key) return null;
  const parts = utf8d.decode(key).split('\0');
  if (parts.length !== 3) return null;
  const partition = Number(parts[2]);
  if (!Number.isInteger(partition) || partition < 0) return null;
  let offset: number | null = null;
  if (value) {
    offset = Number(utf8d.decode(value));
    if (!Number.isSafeInteger(offset) || offset < 0) return null;
  }
  return { group: parts[0]!, topic: parts[1]!, partition, offset };
}

/** The OffsetStore on a PartitionLog. */
export class LogOffsetStore implements OffsetStore {
  private constructor(private readonly log: PartitionLog) {}

  static open(dataDir: string): LogOffsetStore {
    // fsync 'os': durability comes from the explicit flush() each commit waits for (group commit).
    // No retention: an old commit may be the only one of its group.
    const config = validateLogConfig({ fsync: 'os', retentionBytes: -1, retentionMs: -1, segmentBytes: 16 * 1024 * 1024 });
    return new LogOffsetStore(PartitionLog.open(path.join(dataDir, OFFSETS_TOPIC, '0'), config));
  }

  load(): OffsetEntry[] {
    const out: OffsetEntry[] = [];
    let offset = this.log.logStartOffset;
    const end = this.log.nextOffset;
    while (offset < end) {
      const bytes = this.log.read(offset, READ_CHUNK);
      if (bytes.length < BATCH_HEADER_SIZE) break; // nothing more readable (should not happen below nextOffset)
      let p = 0;
      let last = offset - 1;
      while (p + BATCH_HEADER_SIZE <= bytes.length) {
        const len = batchLength(bytes, p);
        if (len < BATCH_HEADER_SIZE || p + len > bytes.length) break;
        forEachRecord(bytes, p, (r) => {
          if (r.offset < offset) return; // the first batch may start before `offset`
          const e = entryOf(r.key, r.value);
          if (e) out.push(e);
        });
        last = batchLastOffset(bytes, p);
        p += len;
      }
      if (last < offset) break; // no progress: stop rather than loop forever
      offset = last + 1;
    }
    return out;
  }

  append(entries: readonly OffsetEntry[]): Promise<void> {
    if (entries.length === 0) return Promise.resolve();
    let batch: Uint8Array;
    try {
      batch = encodeBatch(entries.map((e) => ({ key: keyOf(e), value: e.offset === null ? null : utf8.encode(String(e.offset)) })));
      this.log.append(batch, 0, batch.length, 0, wallClockUs());
    } catch (err) {
      return Promise.reject(err instanceof TickbusError ? err : new TickbusError(ErrorCode.STORAGE_ERROR, `cannot write committed offsets: ${String(err)}`, { cause: err }));
    }
    return this.log.flush().catch((err: unknown) => {
      throw err instanceof TickbusError ? err : new TickbusError(ErrorCode.STORAGE_ERROR, `cannot fsync committed offsets: ${String(err)}`, { cause: err });
    });
  }

  close(): void {
    this.log.close();
  }
}
