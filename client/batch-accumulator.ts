// The producer's per-partition collector: records sent in the same linger window wait here and are
// cut into batches of at most maxBatchBytes (exact encoded size, header included), and encoded. No I/O,
// no timers: the producer decides when to cut; this module only keeps order and the size bound.
import { crc32c } from '../schemas/crc32c.js';
import { BATCH_HEADER_SIZE, type HeaderValue, newBatch, Off, type RecordInput, writeBytes, writeU16, writeU32 } from '../schemas/record-batch.js';
import { ErrorCode, TickbusError } from './errors.js';

/** A record whose key, value and header values are already bytes (encoded once, in send()). */
export interface BytesRecord extends RecordInput {
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers?: Record<string, Uint8Array>;
  timestamp: number;
}

/** Record timestamps are stored as i32 deltas from the batch's first timestamp. */
const MAX_TS_DELTA = 0x7fff_ffff;

const utf8 = new TextEncoder();

/** UTF-8 byte length of a string, without encoding it. */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4; // a surrogate pair is one 4-byte code point
      i++;
    } else n += 3; // includes lone surrogates, which TextEncoder writes as U+FFFD (3 bytes)
  }
  return n;
}

/** Exact bytes a record takes in a batch: length prefix + body (see schemas/record-batch.ts). */
export function encodedRecordSize(r: BytesRecord): number {
  let size = 4 + 4 + 4 + (r.key?.length ?? 0) + 4 + (r.value?.length ?? 0) + 2;
  if (r.headers) for (const name in r.headers) size += 2 + utf8Length(name) + 4 + r.headers[name]!.length;
  return size;
}

export function toBytes(v: HeaderValue): Uint8Array {
  return typeof v === 'string' ? utf8.encode(v) : v;
}

export interface CutBatch<S> {
  records: BytesRecord[];
  /** One slot per record, same order: whoever waits for that record's ack. */
  slots: S[];
  /** Exact encoded size of the batch. */
  bytes: number;
}

export class BatchAccumulator<S> {
  private records: BytesRecord[] = [];
  private slots: S[] = [];
  private bytes = BATCH_HEADER_SIZE;
  private firstTs = 0;

  constructor(private readonly maxBatchBytes: number) {}

  get openCount(): number {
    return this.records.length;
  }

  /** Encoded bytes of the open batch (header included; the header alone when empty). */
  get openBytes(): number {
    return this.bytes;
  }

  /**
   * Adds a record of `size` bytes (encodedRecordSize). When it does not fit in the open batch (size
   * or timestamp range), the open batch is cut first and returned; the record starts the next one.
   * The caller guarantees BATCH_HEADER_SIZE + size <= maxBatchBytes.
   */
  add(record: BytesRecord, size: number, slot: S): CutBatch<S> | null {
    let cut: CutBatch<S> | null = null;
    if (
      this.records.length > 0 &&
      (this.bytes + size > this.maxBatchBytes || Math.abs(record.timestamp - this.firstTs) > MAX_TS_DELTA)
    ) {
      cut = this.cut();
    }
    if (this.records.length === 0) this.firstTs = record.timestamp;
    this.records.push(record);
    this.slots.push(slot);
    this.bytes += size;
    return cut;
  }

  /** Cuts the open batch; null when empty. */
  cut(): CutBatch<S> | null {
    if (this.records.length === 0) return null;
    const out: CutBatch<S> = { records: this.records, slots: this.slots, bytes: this.bytes };
    this.records = [];
    this.slots = [];
    this.bytes = BATCH_HEADER_SIZE;
    return out;
  }
}

export interface BatchIdentity {
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
}

/**
 * Encodes a cut batch: the same bytes as schemas' encodeBatch (test/client/batch-accumulator.test.ts
 * compares them), written in one pass into a buffer of the size the accumulator already knows. encodeBatch
 * takes any RecordInput and so converts and measures every record again into three temporary arrays; on
 * the producer's cold path (one send every few ms) that was ~5 µs of the ~30 µs the SDK spent before the
 * socket write (closed-loop probe, stamped scratch copy).
 */
export function encodeCut(records: readonly BytesRecord[], size: number, id: BatchIdentity): Uint8Array {
  const first = records[0]!.timestamp;
  let maxTs = first;
  for (let i = 1; i < records.length; i++) if (records[i]!.timestamp > maxTs) maxTs = records[i]!.timestamp;
  const b = newBatch(size, records.length, first, maxTs, id.producerId, id.baseSequence, id.producerEpoch);
  let p = BATCH_HEADER_SIZE;
  for (const r of records) {
    const bodyStart = p + 4;
    writeU32(b, bodyStart, (r.timestamp - first) | 0);
    let q = writeBytes(b, bodyStart + 4, r.key);
    q = writeBytes(b, q, r.value);
    const hs = r.headers;
    let count = 0;
    const countAt = q;
    q += 2;
    if (hs) {
      for (const name in hs) {
        // encodeInto writes exactly utf8Length(name) bytes (the size the accumulator counted).
        const n = utf8.encodeInto(name, b.subarray(q + 2, q + 2 + utf8Length(name))).written;
        writeU16(b, q, n);
        q = writeBytes(b, q + 2 + n, hs[name]!);
        count++;
      }
    }
    writeU16(b, countAt, count);
    writeU32(b, p, q - bodyStart);
    p = q;
  }
  if (p !== size) throw new TickbusError(ErrorCode.INTERNAL, `batch encoded to ${p} bytes, ${size} were counted`);
  writeU32(b, Off.crc, crc32c(b, Off.magic, size));
  return b;
}
