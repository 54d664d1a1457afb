// The record batch: ONE byte layout on the wire, in the log and in delivery.
//
// The producer encodes it; the broker stamps baseOffset, leaderEpoch and appendTimeUs in place
// (and the small stampCrc that covers them) and never re-encodes the records. The record part is
// guarded by `crc`, computed by the producer over [32, batchLength), so stamping never touches it.
// All integers are little-endian. 64-bit fields hold non-negative safe integers (< 2^53).
//
//  off size field
//   0   8   baseOffset        stamped by the partition's single writer
//   8   4   batchLength       total bytes of this batch, header included
//  12   4   leaderEpoch       stamped (fencing token for replication)
//  16   8   appendTimeUs      stamped: broker ingress time, µs since the epoch
//  24   4   stampCrc          crc32c of bytes [0, 24)
//  28   4   crc               crc32c of bytes [32, batchLength)
//  32   1   magic             = 1
//  33   1   attributes        reserved, 0
//  34   2   reserved          0
//  36   4   recordCount
//  40   8   firstTimestamp    producer create time, ms since the epoch
//  48   8   maxTimestamp      ms
//  56   8   producerId        0 = not idempotent
//  64   4   baseSequence      producer's per-partition sequence of the first record
//  68   4   producerEpoch
//  72   ... records
//
// Record:  u32 bodyLength | i32 timestampDelta | i32 keyLength (-1 null) | key
//          | i32 valueLength (-1 null) | value | u16 headerCount
//          | headerCount × (u16 keyLength | utf-8 key | i32 valueLength | value)

import { crc32c } from './crc32c.js';
import { ErrorCode, TickbusError } from './errors.js';

export const BATCH_MAGIC = 1;
export const BATCH_HEADER_SIZE = 72;
export const Off = {
  baseOffset: 0,
  batchLength: 8,
  leaderEpoch: 12,
  appendTimeUs: 16,
  stampCrc: 24,
  crc: 28,
  magic: 32,
  attributes: 33,
  recordCount: 36,
  firstTimestamp: 40,
  maxTimestamp: 48,
  producerId: 56,
  baseSequence: 64,
  producerEpoch: 68,
} as const;

const TWO32 = 0x1_0000_0000;

export function readU32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16)) + b[at + 3]! * 0x100_0000;
}
export function readI32(b: Uint8Array, at: number): number {
  return b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24);
}
export function writeU32(b: Uint8Array, at: number, v: number): void {
  b[at] = v;
  b[at + 1] = v >>> 8;
  b[at + 2] = v >>> 16;
  b[at + 3] = v >>> 24;
}
export function readU64(b: Uint8Array, at: number): number {
  return readU32(b, at) + readU32(b, at + 4) * TWO32;
}
export function writeU64(b: Uint8Array, at: number, v: number): void {
  const hi = Math.floor(v / TWO32);
  writeU32(b, at, v - hi * TWO32);
  writeU32(b, at + 4, hi);
}
function readU16(b: Uint8Array, at: number): number {
  return b[at]! | (b[at + 1]! << 8);
}
export function writeU16(b: Uint8Array, at: number, v: number): void {
  b[at] = v;
  b[at + 1] = v >>> 8;
}

// ---------------------------------------------------------------- header access (no allocation)

export const batchBaseOffset = (b: Uint8Array, at = 0): number => readU64(b, at + Off.baseOffset);
export const batchLength = (b: Uint8Array, at = 0): number => readU32(b, at + Off.batchLength);
export const batchLeaderEpoch = (b: Uint8Array, at = 0): number => readU32(b, at + Off.leaderEpoch);
export const batchAppendTimeUs = (b: Uint8Array, at = 0): number => readU64(b, at + Off.appendTimeUs);
export const batchRecordCount = (b: Uint8Array, at = 0): number => readU32(b, at + Off.recordCount);
export const batchFirstTimestamp = (b: Uint8Array, at = 0): number => readU64(b, at + Off.firstTimestamp);
export const batchMaxTimestamp = (b: Uint8Array, at = 0): number => readU64(b, at + Off.maxTimestamp);
export const batchProducerId = (b: Uint8Array, at = 0): number => readU64(b, at + Off.producerId);
export const batchBaseSequence = (b: Uint8Array, at = 0): number => readU32(b, at + Off.baseSequence);
export const batchProducerEpoch = (b: Uint8Array, at = 0): number => readU32(b, at + Off.producerEpoch);
/** Offset of the last record in the batch. */
export const batchLastOffset = (b: Uint8Array, at = 0): number => batchBaseOffset(b, at) + batchRecordCount(b, at) - 1;

/**
 * Stamps the broker-assigned fields in place. The record bytes and their crc stay as the producer wrote them.
 */
export function stampBatch(b: Uint8Array, at: number, baseOffset: number, leaderEpoch: number, appendTimeUs: number): void {
  writeU64(b, at + Off.baseOffset, baseOffset);
  writeU32(b, at + Off.leaderEpoch, leaderEpoch);
  writeU64(b, at + Off.appendTimeUs, appendTimeUs);
  writeU32(b, at + Off.stampCrc, crc32c(b, at, at + Off.stampCrc));
}

export const BatchCheck = {
  OK: 0,
  /** Fewer bytes than the batch claims: a torn write or a truncated frame. */
  INCOMPLETE: 1,
  /** Bytes present but wrong: bad magic, impossible length, or a checksum mismatch. */
  CORRUPT: 2,
} as const;
export type BatchCheckResult = (typeof BatchCheck)[keyof typeof BatchCheck];

/**
 * Checks the batch that starts at `at` against the bytes available up to `end`.
 * `stamped` also checks the stampCrc (true for batches read back from the log).
 * Checks the records' structure too, so a decoder never reads outside the batch.
 */
export function checkBatch(b: Uint8Array, at: number, end: number, stamped: boolean): BatchCheckResult {
  if (end - at < BATCH_HEADER_SIZE) return BatchCheck.INCOMPLETE;
  const len = readU32(b, at + Off.batchLength);
  if (len < BATCH_HEADER_SIZE || b[at + Off.magic] !== BATCH_MAGIC) return BatchCheck.CORRUPT;
  if (end - at < len) return BatchCheck.INCOMPLETE;
  if (stamped && readU32(b, at + Off.stampCrc) !== crc32c(b, at, at + Off.stampCrc)) return BatchCheck.CORRUPT;
  if (readU32(b, at + Off.crc) !== crc32c(b, at + Off.magic, at + len)) return BatchCheck.CORRUPT;
  return walkRecords(b, at, len) ? BatchCheck.OK : BatchCheck.CORRUPT;
}

/** True when the records exactly fill the batch and every length stays inside it. */
function walkRecords(b: Uint8Array, at: number, len: number): boolean {
  const count = readU32(b, at + Off.recordCount);
  if (count === 0) return false;
  const end = at + len;
  let p = at + BATCH_HEADER_SIZE;
  for (let i = 0; i < count; i++) {
    if (end - p < 4) return false;
    const body = readU32(b, p);
    p += 4;
    if (end - p < body || body < 14) return false;
    const recEnd = p + body;
    let q = p + 4; // timestampDelta
    const kl = readI32(b, q);
    q += 4;
    if (kl < -1 || (kl > 0 && recEnd - q < kl)) return false;
    if (kl > 0) q += kl;
    if (recEnd - q < 4) return false;
    const vl = readI32(b, q);
    q += 4;
    if (vl < -1 || (vl > 0 && recEnd - q < vl)) return false;
    if (vl > 0) q += vl;
    if (recEnd - q < 2) return false;
    const hc = readU16(b, q);
    q += 2;
    for (let h = 0; h < hc; h++) {
      if (recEnd - q < 2) return false;
      const hk = readU16(b, q);
      q += 2 + hk;
      if (recEnd - q < 4) return false;
      const hv = readI32(b, q);
      q += 4;
      if (hv < -1 || (hv > 0 && recEnd - q < hv)) return false;
      if (hv > 0) q += hv;
    }
    if (q !== recEnd) return false;
    p = recEnd;
  }
  return p === end;
}

/** Throws a typed error unless the bytes [at, end) hold exactly one valid batch. */
export function assertOneBatch(b: Uint8Array, at: number, end: number, stamped: boolean): void {
  const r = checkBatch(b, at, end, stamped);
  if (r === BatchCheck.INCOMPLETE) throw new TickbusError(ErrorCode.CORRUPT_BATCH, 'record batch is truncated: fewer bytes than its batchLength says');
  if (r === BatchCheck.CORRUPT) throw new TickbusError(ErrorCode.CORRUPT_BATCH, 'record batch is corrupt: bad magic, length or CRC-32C');
  if (at + batchLength(b, at) !== end) throw new TickbusError(ErrorCode.CORRUPT_BATCH, 'record batch has trailing bytes after batchLength');
}

// ---------------------------------------------------------------- encoding (producer side)

export type HeaderValue = string | Uint8Array;
export interface RecordInput {
  key?: string | Uint8Array | null;
  value: string | Uint8Array | null;
  headers?: Record<string, HeaderValue>;
  /** Create time in ms since the epoch; defaults to the batch's timestamp. */
  timestamp?: number;
}
export interface BatchOptions {
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
  /** Create time of the batch in ms; defaults to the first record's timestamp, else Date.now(). */
  timestamp?: number;
}

const utf8 = new TextEncoder();
const EMPTY = new Uint8Array(0);

function toBytes(v: string | Uint8Array): Uint8Array {
  return typeof v === 'string' ? utf8.encode(v) : v;
}

/** Encodes records into one batch (unstamped: baseOffset 0 until the broker assigns it). */
export function encodeBatch(records: readonly RecordInput[], opts: BatchOptions = {}): Uint8Array {
  if (records.length === 0) throw new TickbusError(ErrorCode.INVALID_REQUEST, 'a record batch needs at least one record');
  const first = opts.timestamp ?? records[0]!.timestamp ?? Date.now();
  let size = BATCH_HEADER_SIZE;
  const keys: (Uint8Array | null)[] = new Array<Uint8Array | null>(records.length);
  const values: (Uint8Array | null)[] = new Array<Uint8Array | null>(records.length);
  const headers: [Uint8Array, Uint8Array][][] = new Array<[Uint8Array, Uint8Array][]>(records.length);
  let maxTs = first;
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    const k = r.key === undefined || r.key === null ? null : toBytes(r.key);
    const v = r.value === null ? null : toBytes(r.value);
    const hs: [Uint8Array, Uint8Array][] = [];
    if (r.headers) for (const name of Object.keys(r.headers)) hs.push([utf8.encode(name), toBytes(r.headers[name]!)]);
    if (hs.length > 0xffff) throw new TickbusError(ErrorCode.INVALID_REQUEST, 'a record may carry at most 65535 headers');
    keys[i] = k;
    values[i] = v;
    headers[i] = hs;
    let body = 4 + 4 + (k?.length ?? 0) + 4 + (v?.length ?? 0) + 2;
    for (const [hk, hv] of hs) {
      if (hk.length > 0xffff) throw new TickbusError(ErrorCode.INVALID_REQUEST, 'a header name may be at most 65535 bytes');
      body += 2 + hk.length + 4 + hv.length;
    }
    size += 4 + body;
    const ts = r.timestamp ?? first;
    if (ts > maxTs) maxTs = ts;
    const delta = ts - first;
    if (delta > 0x7fffffff || delta < -0x80000000 || !Number.isInteger(ts)) {
      throw new TickbusError(ErrorCode.INVALID_REQUEST, `record timestamp ${ts} is more than 24 days from the batch's first timestamp ${first}: send it in another batch`);
    }
  }
  const b = newBatch(size, records.length, first, maxTs, opts.producerId ?? 0, opts.baseSequence ?? 0, opts.producerEpoch ?? 0);
  let p = BATCH_HEADER_SIZE;
  for (let i = 0; i < records.length; i++) {
    const k = keys[i]!;
    const v = values[i]!;
    const bodyStart = p + 4;
    let q = bodyStart;
    writeU32(b, q, ((records[i]!.timestamp ?? first) - first) | 0);
    q += 4;
    q = writeBytes(b, q, k);
    q = writeBytes(b, q, v);
    const hs = headers[i]!;
    writeU16(b, q, hs.length);
    q += 2;
    for (const [hk, hv] of hs) {
      writeU16(b, q, hk.length);
      b.set(hk, q + 2);
      q += 2 + hk.length;
      q = writeBytes(b, q, hv);
    }
    writeU32(b, p, q - bodyStart);
    p = q;
  }
  writeU32(b, Off.crc, crc32c(b, Off.magic, size));
  return b;
}

/**
 * A batch of `size` bytes with its producer-written header filled in (the broker stamps the rest); the
 * records and the CRC are the caller's to write. Shared with the SDK's one-pass encoder (client/batch-accumulator.ts).
 */
export function newBatch(size: number, recordCount: number, firstTimestamp: number, maxTimestamp: number, producerId: number, baseSequence: number, producerEpoch: number): Uint8Array {
  const b = new Uint8Array(size);
  writeU32(b, Off.batchLength, size);
  b[Off.magic] = BATCH_MAGIC;
  writeU32(b, Off.recordCount, recordCount);
  writeU64(b, Off.firstTimestamp, firstTimestamp);
  writeU64(b, Off.maxTimestamp, maxTimestamp);
  writeU64(b, Off.producerId, producerId);
  writeU32(b, Off.baseSequence, baseSequence);
  writeU32(b, Off.producerEpoch, producerEpoch);
  return b;
}

/** Writes a length-prefixed byte field (key, value, header value; -1 for null) at `q`; returns its end. */
export function writeBytes(b: Uint8Array, q: number, v: Uint8Array | null): number {
  if (v === null) {
    writeU32(b, q, -1 >>> 0);
    return q + 4;
  }
  writeU32(b, q, v.length);
  b.set(v, q + 4);
  return q + 4 + v.length;
}

// ---------------------------------------------------------------- decoding (consumer side)

/** A record as delivered: key, value and header values are views into the received bytes (no copy). */
export interface DecodedRecord {
  offset: number;
  timestamp: number;
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers: Record<string, Uint8Array>;
}

const utf8d = new TextDecoder();

/**
 * Calls `onRecord` for each record of the (checked) batch at `at`. Views share `b`'s memory.
 */
export function forEachRecord(b: Uint8Array, at: number, onRecord: (r: DecodedRecord) => void): void {
  const base = batchBaseOffset(b, at);
  const first = batchFirstTimestamp(b, at);
  const count = batchRecordCount(b, at);
  let p = at + BATCH_HEADER_SIZE;
  for (let i = 0; i < count; i++) {
    const body = readU32(b, p);
    const recEnd = p + 4 + body;
    let q = p + 4;
    const ts = first + readI32(b, q);
    q += 4;
    const kl = readI32(b, q);
    q += 4;
    const key = kl < 0 ? null : b.subarray(q, q + kl);
    if (kl > 0) q += kl;
    const vl = readI32(b, q);
    q += 4;
    const value = vl < 0 ? null : b.subarray(q, q + vl);
    if (vl > 0) q += vl;
    const hc = readU16(b, q);
    q += 2;
    const headers: Record<string, Uint8Array> = {};
    for (let h = 0; h < hc; h++) {
      const hk = readU16(b, q);
      const name = utf8d.decode(b.subarray(q + 2, q + 2 + hk));
      q += 2 + hk;
      const hv = readI32(b, q);
      q += 4;
      headers[name] = hv < 0 ? EMPTY : b.subarray(q, q + hv);
      if (hv > 0) q += hv;
    }
    onRecord({ offset: base + i, timestamp: ts, key, value, headers });
    p = recEnd;
  }
}

/** All records of all consecutive batches in b[at, end). Batches must have been checked. */
export function decodeBatches(b: Uint8Array, at = 0, end = b.length): DecodedRecord[] {
  const out: DecodedRecord[] = [];
  const push = (r: DecodedRecord): void => {
    out.push(r);
  };
  let p = at;
  while (p < end) {
    forEachRecord(b, p, push);
    p += batchLength(b, p);
  }
  return out;
}
