// Model-based test of the partition log: random command sequences (appends, idempotent retries and
// sequence gaps, reads, timestamp lookups, rolls, retention, reopen, torn tails, crash copies) run
// against a real PartitionLog in a temp directory and against a plain in-memory model; after every
// command the two must agree. A few example tests cover what a property says poorly.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type LogConfig, PartitionLog } from '../../../broker/log/partition-log.js';
import { BATCHES_PER_PRODUCER } from '../../../broker/log/producer-state.js';
import { INDEX_INTERVAL_BYTES, segmentName } from '../../../broker/log/segment.js';
import { ErrorCode, TickbusError } from '../../../schemas/errors.js';
import {
  BatchCheck,
  batchAppendTimeUs,
  batchBaseOffset,
  batchLeaderEpoch,
  batchLength,
  batchRecordCount,
  checkBatch,
  decodeBatches,
  encodeBatch,
  type RecordInput,
} from '../../../schemas/record-batch.js';

const U32 = 0x1_0000_0000;
/** Fake clock start, µs since the epoch (with a sub-millisecond part, so ms flooring is exercised). */
const CLOCK_START_US = 1_700_000_000_000_123;
const dec = new TextDecoder();

// ---------------------------------------------------------------- the model

interface Rec {
  key: string | null;
  value: string | null;
}

interface MBatch {
  base: number;
  count: number;
  len: number;
  timeUs: number;
  timeMs: number;
  leaderEpoch: number;
  records: Rec[];
}

interface MSeg {
  base: number;
  size: number;
  batches: MBatch[];
}

interface SentBatch {
  seq: number;
  count: number;
  base: number;
  /** The producer's bytes as sent (unstamped), for a retry. */
  bytes: Uint8Array;
}

interface MProducer {
  id: number;
  epoch: number;
  nextSeq: number;
  /** The last BATCHES_PER_PRODUCER batches of the current epoch, oldest first. */
  recent: SentBatch[];
  /** Base sequences of this epoch's batches older than `recent`. */
  older: number[];
  /** After a torn tail the log may or may not remember this producer's last batches: not used again. */
  retired: boolean;
}

interface Model {
  config: LogConfig;
  segs: MSeg[];
  next: number;
  clockUs: number;
  producers: MProducer[];
  producersCreated: number;
}

interface Real {
  root: string;
  dir: string;
  generation: number;
  config: Partial<LogConfig>;
  log: PartitionLog;
}

const active = (m: Model): MSeg => m.segs[m.segs.length - 1]!;
const logStart = (m: Model): number => m.segs[0]!.base;
const totalBytes = (m: Model): number => m.segs.reduce((n, s) => n + s.size, 0);
const nowMs = (m: Model): number => Math.floor(m.clockUs / 1000);
const allBatches = (m: Model): MBatch[] => m.segs.flatMap((s) => s.batches);
const liveProducers = (m: Model): MProducer[] => m.producers.filter((p) => !p.retired);
const retryable = (m: Model): MProducer[] => liveProducers(m).filter((p) => p.recent.length > 0);

function modelRetention(m: Model, now: number): number {
  const { retentionBytes, retentionMs } = m.config;
  let deleted = 0;
  while (m.segs.length > 1) {
    const oldest = m.segs[0]!;
    // The newest append time, not the last batch's: the wall clock may have stepped back.
    const newest = Math.max(-1, ...oldest.batches.map((b) => b.timeMs));
    const overSize = retentionBytes >= 0 && totalBytes(m) - oldest.size >= retentionBytes;
    const tooOld = retentionMs >= 0 && newest >= 0 && now - newest > retentionMs;
    if (!overSize && !tooOld) break;
    m.segs.shift();
    deleted++;
  }
  return deleted;
}

function modelRoll(m: Model, now: number): void {
  if (active(m).batches.length === 0) return;
  m.segs.push({ base: m.next, size: 0, batches: [] });
  modelRetention(m, now);
}

/** Appends like the log does: roll first when the batch would overfill the active segment or it is old. */
function modelAppend(m: Model, len: number, records: Rec[], timeUs: number, leaderEpoch: number): number {
  const timeMs = Math.floor(timeUs / 1000);
  const seg = active(m);
  const first = seg.batches[0];
  if (first !== undefined && (seg.size + len > m.config.segmentBytes || timeMs - first.timeMs >= m.config.segmentMs)) modelRoll(m, timeMs);
  const s = active(m);
  const base = m.next;
  s.batches.push({ base, count: records.length, len, timeUs, timeMs, leaderEpoch, records });
  s.size += len;
  m.next += records.length;
  return base;
}

function producerRecorded(p: MProducer, seq: number, count: number, base: number, bytes: Uint8Array): void {
  p.recent.push({ seq, count, base, bytes });
  if (p.recent.length > BATCHES_PER_PRODUCER) p.older.push(p.recent.shift()!.seq);
  p.nextSeq = (seq + count) % U32;
}

// ---------------------------------------------------------------- checks

function expectState(m: Model, r: Real): void {
  expect(r.log.nextOffset).toBe(m.next);
  expect(r.log.logStartOffset).toBe(logStart(m));
  expect(r.log.sizeBytes).toBe(totalBytes(m));
  expect(r.log.segmentCount).toBe(m.segs.length);
}

function expectCode(fn: () => unknown, code: number): void {
  let caught: unknown = null;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected TickbusError ${code}`).toBeInstanceOf(TickbusError);
  expect((caught as TickbusError).code).toBe(code);
}

/** Checks the stamped batches in `out` against the model's batches, one for one, records included. */
function expectBatches(out: Uint8Array, want: readonly MBatch[]): void {
  expect(out.length).toBe(want.reduce((n, b) => n + b.len, 0));
  let p = 0;
  for (const b of want) {
    expect(checkBatch(out, p, out.length, true)).toBe(BatchCheck.OK);
    expect(batchLength(out, p)).toBe(b.len);
    expect(batchBaseOffset(out, p)).toBe(b.base);
    expect(batchRecordCount(out, p)).toBe(b.count);
    expect(batchLeaderEpoch(out, p)).toBe(b.leaderEpoch);
    expect(batchAppendTimeUs(out, p)).toBe(b.timeUs);
    p += b.len;
  }
  const got = decodeBatches(out).map((r) => ({
    offset: r.offset,
    key: r.key === null ? null : dec.decode(r.key),
    value: r.value === null ? null : dec.decode(r.value),
  }));
  const expected = want.flatMap((b) => b.records.map((rec, i) => ({ offset: b.base + i, key: rec.key, value: rec.value })));
  expect(got).toEqual(expected);
}

/** What read(offset, maxBytes) must return: whole batches of one segment from the one holding offset. */
function expectedRead(m: Model, offset: number, maxBytes: number): MBatch[] {
  if (offset >= m.next) return [];
  for (const s of m.segs) {
    const i = s.batches.findIndex((b) => b.base <= offset && offset < b.base + b.count);
    if (i < 0) continue;
    const first = s.batches[i]!;
    const limit = Math.max(maxBytes, first.len);
    const out = [first];
    let bytes = first.len;
    for (let j = i + 1; j < s.batches.length && bytes + s.batches[j]!.len <= limit; j++) {
      out.push(s.batches[j]!);
      bytes += s.batches[j]!.len;
    }
    return out;
  }
  throw new Error(`model has no batch holding offset ${offset}`);
}

function expectedOffsetForTime(m: Model, ms: number): number {
  return allBatches(m).find((b) => b.timeMs >= ms)?.base ?? m.next;
}

/** The whole log, read batch after batch from the start, equals the model; files on disk match. */
function expectWholeLog(m: Model, r: Real): void {
  const got: MBatch[] = [];
  let offset = r.log.logStartOffset;
  while (offset < r.log.nextOffset) {
    const out = r.log.read(offset, 64 * 1024);
    expect(out.length).toBeGreaterThan(0);
    const want = expectedRead(m, offset, 64 * 1024);
    expectBatches(out, want);
    got.push(...want);
    offset = want[want.length - 1]!.base + want[want.length - 1]!.count;
  }
  expect(got).toEqual(allBatches(m));
  const logs = fs.readdirSync(r.dir).filter((f) => f.endsWith('.log')).sort();
  expect(logs).toEqual(m.segs.map((s) => segmentName(s.base, '.log')));
  m.segs.forEach((s, i) => {
    const file = fs.readFileSync(path.join(r.dir, segmentName(s.base, '.log')));
    // The active segment of a log that is synced on the ack path (fsync 'always', or flushed) runs ahead
    // of its end with zeros (preallocation, preallocate.test.ts); every other file is exactly its batches.
    if (i < m.segs.length - 1) expect(file.length).toBe(s.size);
    else {
      expect(file.length).toBeGreaterThanOrEqual(s.size);
      expect(file.subarray(s.size).every((b) => b === 0)).toBe(true);
    }
  });
}

// ---------------------------------------------------------------- commands

type Cmd = fc.AsyncCommand<Model, Real>;

const recArb: fc.Arbitrary<Rec> = fc.record({
  key: fc.option(fc.string({ maxLength: 8 }), { nil: null, freq: 3 }),
  value: fc.option(
    fc.oneof({ weight: 6, arbitrary: fc.string({ maxLength: 40 }) }, { weight: 1, arbitrary: fc.string({ minLength: 300, maxLength: 1200 }) }),
    { nil: null, freq: 8 },
  ),
});
const recsArb = fc.array(recArb, { minLength: 1, maxLength: 5 });

function encode(records: Rec[], opts: { producerId?: number; producerEpoch?: number; baseSequence?: number }): Uint8Array {
  const input: RecordInput[] = records.map((r) => ({ key: r.key, value: r.value }));
  return encodeBatch(input, { ...opts, timestamp: 1_600_000_000_000 });
}

function producerId(n: number): number {
  // Small ids and ids past 2^32 (a u64 header field read as two halves).
  return n % 2 === 0 ? n + 1 : 2 ** 45 + n;
}

/** Append of a new batch: plain, from a new idempotent producer, the next of a producer, or a new epoch. */
class AppendCmd implements Cmd {
  constructor(
    readonly records: Rec[],
    readonly kind: 'plain' | 'newProducer' | 'next' | 'newEpoch',
    readonly pick: number,
    readonly startSeq: number,
    readonly stepUs: number,
    readonly leaderEpoch: number,
    readonly pad: [number, number],
    /** Size the batch to end exactly `fit` bytes past segmentBytes (0: fills the segment to the byte). */
    readonly fit: number | null,
    /** Append exactly `ageEdge` ms past the moment the active segment reaches segmentMs. */
    readonly ageEdge: number | null,
  ) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    const first = active(m).batches[0];
    if (this.ageEdge !== null && first !== undefined) m.clockUs = (first.timeMs + m.config.segmentMs + this.ageEdge) * 1000;
    else m.clockUs += this.stepUs;
    let records = this.records;
    // A one-record batch with a null key and a v-byte value is 90 + v bytes.
    const v = m.config.segmentBytes - active(m).size - 90 + (this.fit ?? 0);
    if (this.fit !== null && v >= 0) records = [{ key: null, value: 'f'.repeat(v) }];
    const live = liveProducers(m);
    let kind = this.kind;
    if ((kind === 'next' || kind === 'newEpoch') && live.length === 0) kind = 'newProducer';
    let p: MProducer | null = null;
    let epoch = 0;
    let seq = 0;
    if (kind === 'newProducer') {
      p = { id: producerId(m.producersCreated++), epoch: this.pick % 3, nextSeq: this.startSeq, recent: [], older: [], retired: false };
      m.producers.push(p);
      epoch = p.epoch;
      seq = this.startSeq;
    } else if (kind !== 'plain') {
      p = live[this.pick % live.length]!;
      if (kind === 'newEpoch') {
        p.epoch++;
        p.recent = [];
        p.older = [];
        p.nextSeq = this.startSeq;
      }
      epoch = p.epoch;
      seq = p.nextSeq;
    }
    const batch = encode(records, p ? { producerId: p.id, producerEpoch: epoch, baseSequence: seq } : {});
    if (records !== this.records) expect(batch.length).toBe(90 + v);
    const sent = batch.slice();
    const [pre, post] = this.pad;
    const buf = new Uint8Array(pre + batch.length + post).fill(0xa5);
    buf.set(batch, pre);
    const res = r.log.append(buf, pre, batch.length, this.leaderEpoch, m.clockUs);
    const base = modelAppend(m, batch.length, records, m.clockUs, this.leaderEpoch);
    expect(res).toEqual({ baseOffset: base, recordCount: records.length, duplicate: false });
    // Stamped in place, inside the batch only.
    expect(batchBaseOffset(buf, pre)).toBe(base);
    expect(batchAppendTimeUs(buf, pre)).toBe(m.clockUs);
    expect(buf.subarray(0, pre).every((b) => b === 0xa5) && buf.subarray(pre + batch.length).every((b) => b === 0xa5)).toBe(true);
    if (p) producerRecorded(p, seq, records.length, base, sent);
    expectState(m, r);
  }
  toString(): string {
    const fit = this.fit === null ? '' : `, fit=${this.fit}`;
    const time = this.ageEdge === null ? `+${this.stepUs}us` : `segmentMs${this.ageEdge >= 0 ? '+' : ''}${this.ageEdge}ms`;
    return `append(${this.kind}#${this.pick}, n=${this.records.length}, seq0=${this.startSeq}, ${time}, le=${this.leaderEpoch}, pad=${this.pad.join('/')}${fit})`;
  }
}

/** A producer resends one of its last batches (lost ack): the original offset, nothing written. */
class RetryCmd implements Cmd {
  constructor(
    readonly pick: number,
    readonly which: number,
  ) {}
  check(m: Readonly<Model>): boolean {
    return retryable(m).length > 0;
  }
  async run(m: Model, r: Real): Promise<void> {
    const ps = retryable(m);
    const p = ps[this.pick % ps.length]!;
    const b = p.recent[p.recent.length - 1 - (this.which % p.recent.length)]!;
    const res = r.log.append(b.bytes.slice(), 0, b.bytes.length, 9, m.clockUs);
    expect(res).toEqual({ baseOffset: b.base, recordCount: b.count, duplicate: true });
    expectState(m, r);
  }
  toString(): string {
    return `retry(#${this.pick}, last-${this.which})`;
  }
}

/** A batch the log must refuse with OUT_OF_ORDER_SEQUENCE (DUPLICATE_SEQUENCE when older than the window), writing nothing. */
class BadSequenceCmd implements Cmd {
  constructor(
    readonly records: Rec[],
    readonly kind: 'ahead' | 'behind' | 'fenced',
    readonly pick: number,
    readonly gap: number,
  ) {}
  check(m: Readonly<Model>): boolean {
    return retryable(m).length > 0;
  }
  async run(m: Model, r: Real): Promise<void> {
    const withOlder = retryable(m).filter((q) => q.older.length > 0);
    const ps = this.kind === 'behind' && withOlder.length > 0 ? withOlder : retryable(m);
    const p = ps[this.pick % ps.length]!;
    let epoch = p.epoch;
    let seq = (p.nextSeq + this.gap) % U32;
    if (this.kind === 'behind' && p.older.length > 0) seq = p.older[this.gap % p.older.length]!;
    if (this.kind === 'fenced' && p.epoch > 0) {
      epoch = p.epoch - 1;
      seq = p.nextSeq;
    }
    const batch = encode(this.records, { producerId: p.id, producerEpoch: epoch, baseSequence: seq });
    // Older than the remembered window: written once already, offset forgotten (DUPLICATE_SEQUENCE).
    const older = this.kind === 'behind' && p.older.length > 0;
    expectCode(() => r.log.append(batch, 0, batch.length, 0, m.clockUs + 1), older ? ErrorCode.DUPLICATE_SEQUENCE : ErrorCode.OUT_OF_ORDER_SEQUENCE);
    expectState(m, r);
  }
  toString(): string {
    return `badSequence(${this.kind}#${this.pick}, gap=${this.gap}, n=${this.records.length})`;
  }
}

class ReadCmd implements Cmd {
  constructor(
    readonly pick: number,
    readonly maxBytes: number,
    readonly below: boolean,
  ) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    const start = logStart(m);
    if (this.below && start > 0) {
      expectCode(() => r.log.read(start - 1 - (this.pick % start), this.maxBytes), ErrorCode.OFFSET_OUT_OF_RANGE);
      return;
    }
    const offset = start + (this.pick % (m.next - start + 1));
    const out = r.log.read(offset, this.maxBytes);
    const want = expectedRead(m, offset, this.maxBytes);
    if (want.length > 0) expect(want[0]!.base).toBeLessThanOrEqual(offset);
    expectBatches(out, want);
  }
  toString(): string {
    return `read(#${this.pick}, max=${this.maxBytes}${this.below ? ', below start' : ''})`;
  }
}

class OffsetForTimeCmd implements Cmd {
  constructor(readonly pick: number) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    const times = allBatches(m).map((b) => b.timeMs);
    const from = Math.min(nowMs(m), ...times);
    const to = Math.max(nowMs(m), ...times);
    const ms = from - 3 + (this.pick % (to - from + 7));
    expect(r.log.offsetForTimestamp(ms)).toBe(expectedOffsetForTime(m, ms));
  }
  toString(): string {
    return `offsetForTimestamp(#${this.pick})`;
  }
}

class RollCmd implements Cmd {
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    r.log.roll(nowMs(m));
    modelRoll(m, nowMs(m));
    expectState(m, r);
  }
  toString(): string {
    return 'roll';
  }
}

/** Retention by age or a segment's age reached exactly `delta` ms from now. */
interface Edge {
  which: 'retention' | 'segment';
  delta: number;
}

function edgeMs(m: Model, edge: Edge): number | null {
  if (edge.which === 'segment') {
    const first = active(m).batches[0];
    return first === undefined ? null : first.timeMs + m.config.segmentMs + edge.delta;
  }
  const oldest = m.segs[0]!.batches;
  if (m.segs.length < 2 || m.config.retentionMs < 0 || oldest.length === 0) return null;
  return Math.max(...oldest.map((b) => b.timeMs)) + m.config.retentionMs + edge.delta;
}

class MaintainCmd implements Cmd {
  constructor(
    readonly stepMs: number,
    readonly retentionOnly: boolean,
    readonly edge: Edge | null,
  ) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    const at = this.edge === null ? null : edgeMs(m, this.edge);
    if (at === null) m.clockUs += this.stepMs * 1000;
    else m.clockUs = at * 1000;
    const now = nowMs(m);
    if (this.retentionOnly) {
      expect(r.log.applyRetention(now)).toBe(modelRetention(m, now));
    } else {
      r.log.maintain(now);
      const first = active(m).batches[0];
      if (first !== undefined && now - first.timeMs >= m.config.segmentMs) modelRoll(m, now);
      else modelRetention(m, now);
    }
    expectState(m, r);
  }
  toString(): string {
    const edge = this.edge === null ? '' : `, at ${this.edge.which} edge${this.edge.delta >= 0 ? '+' : ''}${this.edge.delta}ms`;
    return `${this.retentionOnly ? 'applyRetention' : 'maintain'}(+${this.stepMs}ms${edge})`;
  }
}

class FlushCmd implements Cmd {
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    await r.log.flush();
    expectState(m, r);
  }
  toString(): string {
    return 'flush';
  }
}

class ReopenCmd implements Cmd {
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    r.log.close();
    r.log = PartitionLog.open(r.dir, r.config);
    expectState(m, r);
  }
  toString(): string {
    return 'close+reopen';
  }
}

/** A crash: the directory as the page cache has it (no close, so no snapshot at the head) is opened. */
class CrashCmd implements Cmd {
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    const dir = path.join(r.root, `p${++r.generation}`);
    fs.cpSync(r.dir, dir, { recursive: true });
    const log = PartitionLog.open(dir, r.config);
    r.log.close();
    fs.rmSync(r.dir, { recursive: true, force: true });
    r.log = log;
    r.dir = dir;
    expectState(m, r);
  }
  toString(): string {
    return 'crash (copy, open without close)';
  }
}

/** Cuts segment `seg`'s file short (by 1..size bytes, chosen by `pick`); returns how many whole batches survive. */
function cutSegment(file: string, seg: MSeg, pick: number): number {
  const newSize = seg.size - 1 - (pick % seg.size);
  fs.truncateSync(file, newSize);
  let end = 0;
  let keep = 0;
  while (keep < seg.batches.length && end + seg.batches[keep]!.len <= newSize) end += seg.batches[keep++]!.len;
  return keep;
}

/** XORs one byte of one batch of segment `seg`'s file (both chosen by the picks); returns that batch's index. */
function flipInSegment(file: string, seg: MSeg, pick: number, flipAt: number, xor: number): number {
  const keep = pick % seg.batches.length;
  const at = seg.batches.slice(0, keep).reduce((n, b) => n + b.len, 0) + (flipAt % seg.batches[keep]!.len);
  const fd = fs.openSync(file, 'r+');
  const one = Buffer.alloc(1);
  fs.readSync(fd, one, 0, 1, at);
  one[0] = one[0]! ^ xor;
  fs.writeSync(fd, one, 0, 1, at);
  fs.closeSync(fd);
  return keep;
}

/** The model after recovery cut `seg` at batch `keep`: the log ends there, and no producer's state is trusted. */
function keepBatches(m: Model, seg: MSeg, keep: number): void {
  seg.batches.length = keep;
  seg.size = seg.batches.reduce((n, b) => n + b.len, 0);
  m.next = seg.base + seg.batches.reduce((n, b) => n + b.count, 0);
  for (const p of m.producers) p.retired = true;
}

/** Close, damage the end of the last segment, reopen: exactly the damaged batches at the end are gone. */
class TornTailCmd implements Cmd {
  constructor(
    readonly kind: 'truncate' | 'flip' | 'garbage' | 'truncate+garbage',
    readonly pick: number,
    readonly flipAt: number,
    readonly xor: number,
    readonly garbage: Uint8Array,
  ) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    r.log.close();
    const seg = active(m);
    const file = path.join(r.dir, segmentName(seg.base, '.log'));
    let kind = this.kind;
    if (seg.size === 0) kind = 'garbage';
    let keep = seg.batches.length;
    if (kind === 'truncate' || kind === 'truncate+garbage') keep = cutSegment(file, seg, this.pick);
    if (kind === 'flip') keep = flipInSegment(file, seg, this.pick, this.flipAt, this.xor);
    if (kind === 'garbage' || kind === 'truncate+garbage') fs.appendFileSync(file, this.garbage);
    keepBatches(m, seg, keep);
    r.log = PartitionLog.open(r.dir, r.config);
    expectState(m, r);
  }
  toString(): string {
    return `tornTail(${this.kind}#${this.pick}, at=${this.flipAt}, xor=${this.xor}, garbage=${this.garbage.length}B)`;
  }
}

/**
 * Close, damage a SEALED segment (one byte flipped in a batch, or the file cut short), reopen: the log
 * ends at the first damaged batch — the rest of that segment and every later one are gone, since records
 * after a hole cannot be served without a gap — and appends go on from there.
 */
class SealedDamageCmd implements Cmd {
  constructor(
    readonly kind: 'flip' | 'truncate',
    readonly segPick: number,
    readonly pick: number,
    readonly flipAt: number,
    readonly xor: number,
  ) {}
  check(m: Model): boolean {
    return m.segs.length > 1;
  }
  async run(m: Model, r: Real): Promise<void> {
    r.log.close();
    const i = this.segPick % (m.segs.length - 1);
    const seg = m.segs[i]!;
    const file = path.join(r.dir, segmentName(seg.base, '.log'));
    const keep = this.kind === 'truncate' ? cutSegment(file, seg, this.pick) : flipInSegment(file, seg, this.pick, this.flipAt, this.xor);
    m.segs.length = i + 1;
    keepBatches(m, seg, keep);
    r.log = PartitionLog.open(r.dir, r.config);
    expect(r.log.corruptionCut?.offset).toBe(m.next);
    expect(r.log.corruptionCut?.file).toBe(file);
    expectState(m, r);
  }
  toString(): string {
    return `sealedDamage(${this.kind} seg#${this.segPick} #${this.pick}, at=${this.flipAt}, xor=${this.xor})`;
  }
}

const appendArb: fc.Arbitrary<Cmd> = fc
  .record({
    records: recsArb,
    // Mostly a known producer's next batch, so producers get past the BATCHES_PER_PRODUCER they remember.
    kind: fc.oneof(
      { weight: 2, arbitrary: fc.constant('plain' as const) },
      { weight: 1, arbitrary: fc.constant('newProducer' as const) },
      { weight: 8, arbitrary: fc.constant('next' as const) },
      { weight: 1, arbitrary: fc.constant('newEpoch' as const) },
    ),
    pick: fc.nat(),
    startSeq: fc.oneof(fc.constant(0), fc.integer({ min: U32 - 6, max: U32 - 1 }), fc.nat({ max: U32 - 1 })),
    // Mostly forward; sometimes the wall clock steps back (NTP), which the log must tolerate.
    stepUs: fc.oneof(
      { weight: 5, arbitrary: fc.integer({ min: 0, max: 2_000 }) },
      { weight: 5, arbitrary: fc.integer({ min: 0, max: 3_000_000 }) },
      { weight: 1, arbitrary: fc.integer({ min: -3_000_000, max: -1 }) },
    ),
    leaderEpoch: fc.nat({ max: 5 }),
    pad: fc.tuple(fc.nat({ max: 9 }), fc.nat({ max: 9 })),
    fit: fc.option(fc.integer({ min: -1, max: 1 }), { freq: 8 }),
    ageEdge: fc.option(fc.integer({ min: -1, max: 1 }), { freq: 12 }),
  })
  .map((a) => new AppendCmd(a.records, a.kind, a.pick, a.startSeq, a.stepUs, a.leaderEpoch, a.pad, a.fit, a.ageEdge));
const readArb: fc.Arbitrary<Cmd> = fc.tuple(fc.nat(), fc.integer({ min: 1, max: 5000 }), fc.boolean()).map(([p, max, below]) => new ReadCmd(p, max, below));

/** Appends weigh most (a log needs content before anything else is interesting), reads next. */
const commandArbs: fc.Arbitrary<Cmd>[] = [
  appendArb,
  appendArb,
  appendArb,
  appendArb,
  appendArb,
  readArb,
  readArb,
  fc.tuple(fc.nat(), fc.nat()).map(([p, w]) => new RetryCmd(p, w)),
  fc
    .tuple(fc.array(recArb, { minLength: 1, maxLength: 3 }), fc.constantFrom<BadSequenceCmd['kind']>('ahead', 'behind', 'fenced'), fc.nat(), fc.integer({ min: 1, max: 1000 }))
    .map(([recs, k, p, g]) => new BadSequenceCmd(recs, k, p, g)),
  fc.nat().map((p) => new OffsetForTimeCmd(p)),
  fc.constant(new RollCmd()),
  fc
    .tuple(
      fc.integer({ min: 0, max: 60_000 }),
      fc.boolean(),
      fc.option(fc.record({ which: fc.constantFrom<Edge['which']>('retention', 'segment'), delta: fc.integer({ min: -1, max: 1 }) }), { freq: 2 }),
    )
    .map(([s, only, edge]) => new MaintainCmd(s, only, edge)),
  fc.constant(new FlushCmd()),
  fc.constant(new ReopenCmd()),
  fc.constant(new CrashCmd()),
  fc
    .record({
      kind: fc.constantFrom<TornTailCmd['kind']>('truncate', 'flip', 'garbage', 'truncate+garbage'),
      pick: fc.nat(),
      flipAt: fc.nat(),
      xor: fc.integer({ min: 1, max: 255 }),
      garbage: fc.uint8Array({ minLength: 1, maxLength: 200 }),
    })
    .map((a) => new TornTailCmd(a.kind, a.pick, a.flipAt, a.xor, a.garbage)),
  fc
    .record({ kind: fc.constantFrom<SealedDamageCmd['kind']>('flip', 'truncate'), segPick: fc.nat(), pick: fc.nat(), flipAt: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) })
    .map((a) => new SealedDamageCmd(a.kind, a.segPick, a.pick, a.flipAt, a.xor)),
];

const configArb: fc.Arbitrary<Partial<LogConfig>> = fc.record({
  fsync: fc.constantFrom<LogConfig['fsync']>('os', 'os', 'interval', 'always'),
  fsyncIntervalMs: fc.constant(5),
  segmentBytes: fc.constantFrom(1024, 2048, 4096, 12_000),
  segmentMs: fc.constantFrom(24 * 3600 * 1000, 20_000),
  retentionBytes: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 12_000 })),
  retentionMs: fc.oneof(fc.constant(-1), fc.integer({ min: 5_000, max: 90_000 })),
});

// ---------------------------------------------------------------- tests

let tmpRoot = '';
const roots: string[] = [];
function tempDir(): string {
  const d = fs.mkdtempSync(path.join(tmpRoot, 'run-'));
  roots.push(d);
  return d;
}

beforeAll(() => {
  tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'tickbus-plog-'));
  // Recovery logs a line per cut tail or damaged sealed segment: expected here, and hundreds of them.
  const write = process.stderr.write.bind(process.stderr);
  vi.spyOn(process.stderr, 'write').mockImplementation(((chunk: string | Uint8Array, ...rest: unknown[]) =>
    typeof chunk === 'string' && (chunk.startsWith('tickbus: log tail truncated') || chunk.startsWith('tickbus: DAMAGED SEALED SEGMENT')) ? true : (write as (...a: unknown[]) => boolean)(chunk, ...rest)));
});
afterEach(() => {
  for (const d of roots.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
afterAll(() => {
  vi.restoreAllMocks();
  fs.rmSync(tmpRoot, { recursive: true, force: true });
});

/** FC_SEED replays a reported failure; FC_RUNS soaks (FC_RUNS=3000 FC_TIME_MS=600000: a few minutes). */
const RUNS = Number(process.env.FC_RUNS ?? 150);
const TIME_LIMIT_MS = Number(process.env.FC_TIME_MS ?? 20_000);

describe('partition log against a model', () => {
  it('agrees with the model over random appends, retries, reads, rolls, retention, reopens, crashes, torn tails and damaged sealed segments', async () => {
    const seed = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);
    await fc.assert(
      fc.asyncProperty(configArb, fc.commands(commandArbs, { maxCommands: 60, size: 'max' }), async (partial, cmds) => {
        const root = fs.mkdtempSync(path.join(tmpRoot, 'prop-'));
        const dir = path.join(root, 'p0');
        const real: Real = { root, dir, generation: 0, config: partial, log: PartitionLog.open(dir, partial) };
        const model: Model = { config: real.log.config, segs: [{ base: 0, size: 0, batches: [] }], next: 0, clockUs: CLOCK_START_US, producers: [], producersCreated: 0 };
        try {
          await fc.asyncModelRun(() => ({ model, real }), cmds);
          expectWholeLog(model, real);
          // Whatever happened, appends go on at the model's next offset.
          const b = encode([{ key: null, value: 'last' }], {});
          expect(real.log.append(b, 0, b.length, 0, model.clockUs).baseOffset).toBe(modelAppend(model, b.length, [{ key: null, value: 'last' }], model.clockUs, 0));
        } finally {
          try {
            real.log.close();
          } catch {
            // the run failed already; the directory goes anyway
          }
          fs.rmSync(root, { recursive: true, force: true });
        }
      }),
      // The time limit bounds a slow disk and a long shrink; runs cut short by it count as passed.
      { numRuns: RUNS, plugins: [fc.interruptAfterTimeLimit(TIME_LIMIT_MS)], ...(seed === undefined ? {} : { seed }) },
    );
  }, TIME_LIMIT_MS + 30_000);
});

describe('partition log examples', () => {
  function fill(log: PartitionLog, n: number, t0Us: number, stepUs: number): { base: number; count: number }[] {
    const out: { base: number; count: number }[] = [];
    for (let i = 0; i < n; i++) {
      const count = 1 + (i % 3);
      const recs = Array.from({ length: count }, (_, j) => ({ key: `k${i}`, value: `v${i}.${j}` }));
      const b = encodeBatch(recs, { timestamp: 1 });
      const res = log.append(b, 0, b.length, 1, t0Us + i * stepUs);
      out.push({ base: res.baseOffset, count });
    }
    return out;
  }

  it('finds the batch holding every offset through the sparse index, before and after reopen and with indexes lost', () => {
    const dir = tempDir();
    let log = PartitionLog.open(dir, { fsync: 'os', segmentBytes: 64 * 1024 });
    const batches = fill(log, 1500, CLOCK_START_US, 1000);
    expect(log.segmentCount).toBeGreaterThan(1);
    expect(fs.statSync(path.join(dir, segmentName(0, '.index'))).size).toBeGreaterThanOrEqual(8 * Math.floor((64 * 1024) / INDEX_INTERVAL_BYTES - 2));
    const readAll = (): void => {
      for (const b of batches) {
        for (let o = b.base; o < b.base + b.count; o++) {
          const out = log.read(o, 1);
          expect(batchBaseOffset(out, 0)).toBe(b.base);
          expect(out.length).toBe(batchLength(out, 0));
          expect(decodeBatches(out).map((r) => dec.decode(r.value!))).toEqual(Array.from({ length: b.count }, (_, j) => `v${batches.indexOf(b)}.${j}`));
        }
      }
    };
    readAll();
    log.close();
    log = PartitionLog.open(dir, { fsync: 'os', segmentBytes: 64 * 1024 });
    readAll();
    log.close();
    for (const f of fs.readdirSync(dir)) if (f.endsWith('.index') || f.endsWith('.timeindex')) fs.rmSync(path.join(dir, f));
    log = PartitionLog.open(dir, { fsync: 'os', segmentBytes: 64 * 1024 });
    readAll();
    expect(log.offsetForTimestamp(Math.floor(CLOCK_START_US / 1000) + 700)).toBe(batches[700]!.base);
    log.close();
  });

  it('looks up timestamps across segments: first batch at or after, the head after the newest', () => {
    const dir = tempDir();
    const log = PartitionLog.open(dir, { fsync: 'os', segmentBytes: 1024 });
    // Batches 10 ms apart with a 3 ms sub-offset, so a lookup between two batches hits the later one.
    const t0 = Math.floor(CLOCK_START_US / 1000);
    const batches = fill(log, 200, (t0 + 3) * 1000, 10_000);
    expect(log.segmentCount).toBeGreaterThan(10);
    expect(log.offsetForTimestamp(0)).toBe(0);
    for (let i = 0; i < batches.length; i++) {
      expect(log.offsetForTimestamp(t0 + 3 + i * 10)).toBe(batches[i]!.base);
      expect(log.offsetForTimestamp(t0 + 3 + i * 10 - 9)).toBe(batches[i]!.base);
    }
    expect(log.offsetForTimestamp(t0 + 3 + 200 * 10)).toBe(log.nextOffset);
    log.close();
  });

  it('returns a batch larger than maxBytes whole, and only whole batches after it', () => {
    const dir = tempDir();
    const log = PartitionLog.open(dir, { fsync: 'os' });
    const small = encodeBatch([{ value: 'a' }], { timestamp: 1 });
    log.append(small, 0, small.length, 0, CLOCK_START_US);
    const big = encodeBatch([{ value: 'x'.repeat(10_000) }, { value: 'y' }], { timestamp: 1 });
    log.append(big, 0, big.length, 0, CLOCK_START_US);
    log.append(small.slice(), 0, small.length, 0, CLOCK_START_US);
    const out = log.read(2, 100);
    expect(out.length).toBe(big.length);
    expect(decodeBatches(out).map((r) => r.offset)).toEqual([1, 2]);
    expect(log.read(1, big.length + small.length - 1).length).toBe(big.length);
    expect(log.read(1, big.length + small.length).length).toBe(big.length + small.length);
    expect(log.read(0, 1).length).toBe(small.length);
    expect(log.read(4, 100).length).toBe(0);
    log.close();
  });

  it('recovers a last segment whose first batch has an impossible length', () => {
    const dir = tempDir();
    let log = PartitionLog.open(dir, { fsync: 'os' });
    for (let i = 0; i < 3; i++) {
      const b = encodeBatch([{ value: `v${i}` }], { timestamp: 1 });
      log.append(b, 0, b.length, 0, CLOCK_START_US);
    }
    log.close();
    const file = path.join(dir, segmentName(0, '.log'));
    const bytes = fs.readFileSync(file);
    bytes.writeUInt32LE(40, 8); // batchLength below the header size
    fs.writeFileSync(file, bytes);
    log = PartitionLog.open(dir, { fsync: 'os' });
    expect(log.nextOffset).toBe(0);
    expect(log.sizeBytes).toBe(0);
    const b = encodeBatch([{ value: 'again' }], { timestamp: 1 });
    expect(log.append(b, 0, b.length, 0, CLOCK_START_US).baseOffset).toBe(0);
    log.close();
  });

  it('recovers a tail of zeros (size extended, data lost) when the index files were lost too', () => {
    // After a power failure the .log's size may have reached the disk before its data, and the
    // active segment's indexes (never fsynced before a roll) may be empty.
    const dir = tempDir();
    let log = PartitionLog.open(dir, { fsync: 'os' });
    for (let i = 0; i < 3; i++) {
      const b = encodeBatch([{ value: `v${i}` }], { timestamp: 1 });
      log.append(b, 0, b.length, 0, CLOCK_START_US);
    }
    const size = log.sizeBytes;
    log.close();
    fs.appendFileSync(path.join(dir, segmentName(0, '.log')), new Uint8Array(4096));
    fs.truncateSync(path.join(dir, segmentName(0, '.timeindex')), 0);
    log = PartitionLog.open(dir, { fsync: 'os' });
    expect(log.nextOffset).toBe(3);
    expect(log.sizeBytes).toBe(size);
    expect(decodeBatches(log.read(0, 1 << 20)).map((r) => dec.decode(r.value!))).toEqual(['v0', 'v1', 'v2']);
    log.close();
  });

  it('deletes a segment retention removed at once, even while an fdatasync of it is in flight', async () => {
    // fsync=always starts an async fdatasync on the active segment; the roll right after it makes that
    // segment old enough to go. A reopen must not bring it back.
    const dir = tempDir();
    const config: Partial<LogConfig> = { fsync: 'always', retentionBytes: 0 };
    let log = PartitionLog.open(dir, config);
    const b = encodeBatch([{ value: 'gone' }], { timestamp: 1 });
    log.append(b, 0, b.length, 0, CLOCK_START_US);
    log.roll(Math.floor(CLOCK_START_US / 1000));
    expect(log.logStartOffset).toBe(1);
    expect(fs.existsSync(path.join(dir, segmentName(0, '.log')))).toBe(false);
    log.close();
    log = PartitionLog.open(dir, config);
    expect(log.logStartOffset).toBe(1);
    expect(log.segmentCount).toBe(1);
    await log.flush();
    log.close();
  });

  it('remembers idempotent producers across a crash after a torn tail was recovered', () => {
    // Torn tail cuts batches, the log is reopened, a new producer writes fewer offsets than were cut,
    // then the process dies without close: the retry must still be recognised.
    const dir = tempDir();
    let log = PartitionLog.open(dir, { fsync: 'os' });
    for (let i = 0; i < 4; i++) {
      const b = encodeBatch([{ value: `old${i}` }], { timestamp: 1 });
      log.append(b, 0, b.length, 0, CLOCK_START_US);
    }
    const lastLen = encodeBatch([{ value: 'old3' }], { timestamp: 1 }).length;
    log.close(); // producer snapshot at offset 4
    fs.truncateSync(path.join(dir, segmentName(0, '.log')), fs.statSync(path.join(dir, segmentName(0, '.log'))).size - 2 * lastLen - 1);
    log = PartitionLog.open(dir, { fsync: 'os' });
    expect(log.nextOffset).toBe(1);
    const sent = encodeBatch([{ value: 'p' }, { value: 'q' }, { value: 'r' }], { producerId: 77, producerEpoch: 0, baseSequence: 0, timestamp: 1 });
    expect(log.append(sent.slice(), 0, sent.length, 0, CLOCK_START_US).baseOffset).toBe(1);
    const crashDir = tempDir();
    fs.cpSync(dir, crashDir, { recursive: true });
    log.close();
    const after = PartitionLog.open(crashDir, { fsync: 'os' });
    expect(after.append(sent.slice(), 0, sent.length, 0, CLOCK_START_US)).toEqual({ baseOffset: 1, recordCount: 3, duplicate: true });
    expect(after.nextOffset).toBe(4);
    after.close();
  });
});
