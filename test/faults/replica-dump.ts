// Reads one replica's partition directory after a run, read-only, and turns it into `replica-log` history
// events: a hash per offset, so the checker can compare replicas below the HW byte for byte. Followers write
// the leader's stamped batches as they are (PartitionLog.appendReplicated), so equal logs have equal batch
// bytes; each offset's hash is its batch's hash plus its index in the batch.
//
// It does not open a PartitionLog: recovery would cut a torn tail and so change the evidence. Instead it walks
// the segment files itself and stops at the first batch that fails its checks or breaks the offset sequence,
// saying where and why.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BatchCheck, batchBaseOffset, batchLength, batchRecordCount, checkBatch } from '../../schemas/record-batch.js';
import type { ReplicaLog, Unstamped } from './history.js';

const LOG_FILE = /^(\d{20})\.log$/;

export interface ReplicaDumpOptions {
  topic: string;
  partition: number;
  replica: string;
  highWatermark: number;
  /** In the ISR at the end (default true): see ReplicaLog.inSync. */
  inSync?: boolean;
  /** Hashes per event, so no history line grows without bound. */
  chunk?: number;
}

export interface ReplicaDump {
  events: Unstamped<ReplicaLog>[];
  /** First offset found (the log may start later after retention). */
  startOffset: number;
  /** One past the last offset read before any stop. */
  endOffset: number;
  /** Where the walk stopped early, or null when every segment read clean to its end. */
  stop: { file: string; position: number; reason: 'incomplete' | 'corrupt' | 'gap' } | null;
}

export function dumpReplica(dir: string, opts: ReplicaDumpOptions): ReplicaDump {
  const chunk = opts.chunk ?? 10_000;
  if (!Number.isInteger(chunk) || chunk < 1) throw new RangeError(`chunk must be a positive integer, got ${chunk}`);
  const files = fs
    .readdirSync(dir)
    .filter((f) => LOG_FILE.test(f))
    .sort();
  const events: Unstamped<ReplicaLog>[] = [];
  let hashes: string[] = [];
  let start = -1;
  let next = -1;
  let stop: ReplicaDump['stop'] = null;
  const emit = (): void => {
    if (hashes.length === 0) return;
    events.push({
      type: 'replica-log',
      topic: opts.topic,
      partition: opts.partition,
      replica: opts.replica,
      highWatermark: opts.highWatermark,
      start: next - hashes.length,
      hashes,
      ...(opts.inSync === false ? { inSync: false } : {}),
    });
    hashes = [];
  };

  walk: for (const file of files) {
    const buf = fs.readFileSync(path.join(dir, file));
    let at = 0;
    while (at < buf.length) {
      const check = checkBatch(buf, at, buf.length, true);
      if (check !== BatchCheck.OK) {
        stop = { file, position: at, reason: check === BatchCheck.INCOMPLETE ? 'incomplete' : 'corrupt' };
        break walk;
      }
      const base = batchBaseOffset(buf, at);
      if (next !== -1 && base !== next) {
        stop = { file, position: at, reason: 'gap' };
        break walk;
      }
      if (start === -1) start = next = base;
      const len = batchLength(buf, at);
      const h = createHash('sha256').update(buf.subarray(at, at + len)).digest('hex').slice(0, 16);
      const count = batchRecordCount(buf, at);
      for (let i = 0; i < count; i++) {
        hashes.push(`${h}/${i}`);
        next++;
        if (hashes.length === chunk) emit();
      }
      at += len;
    }
  }
  emit();
  return { events, startOffset: Math.max(start, 0), endOffset: Math.max(next, 0), stop };
}
