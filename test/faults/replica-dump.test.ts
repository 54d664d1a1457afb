import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PartitionLog } from '../../broker/log/partition-log.js';
import { encodeBatch } from '../../schemas/record-batch.js';
import { checkHistory, summarize } from './checker.js';
import type { HistoryEvent, ReplicaLog, Unstamped } from './history.js';
import { dumpReplica } from './replica-dump.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** A real partition log (the broker's code) of `batches` batches of 3 records over several small segments. */
function writeLog(batches: number): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tickbus-replica-'));
  dirs.push(dir);
  const log = PartitionLog.open(dir, { fsync: 'os', segmentBytes: 1024 });
  for (let b = 0; b < batches; b++) {
    const batch = encodeBatch([{ value: `v${b}.0` }, { value: `v${b}.1` }, { value: `v${b}.2` }], { timestamp: 1_700_000_000_000 });
    log.append(batch, 0, batch.length, 1, 1_700_000_000_000_000 + b);
  }
  log.close();
  return dir;
}

function copyDir(from: string): string {
  const to = fs.mkdtempSync(path.join(os.tmpdir(), 'tickbus-replica-'));
  dirs.push(to);
  fs.cpSync(from, to, { recursive: true });
  return to;
}

const stamp = (events: Unstamped<ReplicaLog>[]): HistoryEvent[] => events.map((e) => ({ ...e, t: 0, wall: 0 }));
const segments = (dir: string): string[] => fs.readdirSync(dir).filter((f) => f.endsWith('.log')).sort();

describe('replica dump', () => {
  it('hashes every offset of a multi-segment log, in chunks, and equal copies pass the checker', () => {
    const leader = writeLog(40);
    expect(segments(leader).length).toBeGreaterThan(2);
    const follower = copyDir(leader);
    const a = dumpReplica(leader, { topic: 't', partition: 0, replica: 'b1', highWatermark: 120, chunk: 50 });
    const b = dumpReplica(follower, { topic: 't', partition: 0, replica: 'b2', highWatermark: 120, chunk: 50 });
    expect(a).toMatchObject({ startOffset: 0, endOffset: 120, stop: null });
    expect(a.events.map((e) => [e.start, e.hashes.length])).toEqual([
      [0, 50],
      [50, 50],
      [100, 20],
    ]);
    expect(new Set(a.events.flatMap((e) => e.hashes)).size).toBe(120);
    expect(checkHistory(stamp([...a.events, ...b.events])).valid).toBe(true);
  });

  it('stops at a flipped bit and the checker reports the divergence below the HW', () => {
    const leader = writeLog(40);
    const follower = copyDir(leader);
    const seg = path.join(follower, segments(follower)[1]!);
    const bytes = fs.readFileSync(seg);
    bytes[bytes.length - 10]! ^= 0x10;
    fs.writeFileSync(seg, bytes);
    const a = dumpReplica(leader, { topic: 't', partition: 0, replica: 'b1', highWatermark: 120 });
    const b = dumpReplica(follower, { topic: 't', partition: 0, replica: 'b2', highWatermark: 120 });
    expect(b.stop).toMatchObject({ file: segments(follower)[1], reason: 'corrupt' });
    const r = checkHistory(stamp([...a.events, ...b.events]));
    expect(r.counts['replica-divergence'], summarize(r)).toBe(120 - b.endOffset);
    expect(r.examples['replica-divergence'][0]!.message).toContain(`offset ${b.endOffset} (below HW 120) is missing on b2`);
  });

  it('stops at a torn tail; offsets past the HW are not compared', () => {
    const leader = writeLog(10);
    const follower = copyDir(leader);
    const last = path.join(follower, segments(follower).at(-1)!);
    fs.truncateSync(last, fs.statSync(last).size - 5);
    const b = dumpReplica(follower, { topic: 't', partition: 0, replica: 'b2', highWatermark: 27 });
    expect(b).toMatchObject({ endOffset: 27, stop: { reason: 'incomplete' } });
    const a = dumpReplica(leader, { topic: 't', partition: 0, replica: 'b1', highWatermark: 27 });
    expect(checkHistory(stamp([...a.events, ...b.events])).valid).toBe(true);
  });
});
