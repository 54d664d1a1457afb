// Idempotent producers: per producer id, the last few batches appended to this partition, so a batch
// retried after a lost ack is recognised (answered with its original offset) and never written twice,
// and a batch that would leave a hole in a producer's sequence is refused.
//
// The state is derived from the log itself (each batch header carries producerId, producerEpoch and
// baseSequence): a snapshot taken at segment roll and at close saves rescanning the whole log on open;
// batches after the snapshot are replayed from the log.
import fs from 'node:fs';
import path from 'node:path';
import { ErrorCode, TickbusError } from '../../schemas/errors.js';
import { IDEMPOTENCE_WINDOW } from '../../schemas/limits.js';
import { writeFileAtomic } from '../fs/atomic-write.js';

/**
 * Batches remembered per producer and partition: exactly the shared idempotence window, the most the
 * SDK keeps in flight per partition (memory cost in schemas/limits.ts).
 */
export const BATCHES_PER_PRODUCER = IDEMPOTENCE_WINDOW;
/** Producers remembered per partition; the least recently active are forgotten first. */
export const MAX_PRODUCERS = 10_000;
const SNAPSHOT = 'producers.snapshot';
const U32 = 0x1_0000_0000;

/** One producer's last batches on this partition, in a fixed ring: recording a batch allocates nothing. */
class ProducerEntry {
  readonly baseSeq = new Float64Array(BATCHES_PER_PRODUCER);
  readonly count = new Float64Array(BATCHES_PER_PRODUCER);
  readonly baseOffset = new Float64Array(BATCHES_PER_PRODUCER);
  /** Slot of the newest batch. */
  newest = -1;
  size = 0;

  constructor(public epoch: number) {}

  push(baseSeq: number, count: number, baseOffset: number): void {
    this.newest = (this.newest + 1) % BATCHES_PER_PRODUCER;
    this.baseSeq[this.newest] = baseSeq;
    this.count[this.newest] = count;
    this.baseOffset[this.newest] = baseOffset;
    if (this.size < BATCHES_PER_PRODUCER) this.size++;
  }

  reset(epoch: number): void {
    this.epoch = epoch;
    this.newest = -1;
    this.size = 0;
  }

  /** Slot i = 0 is the oldest remembered batch. */
  slot(i: number): number {
    return (this.newest - this.size + 1 + i + BATCHES_PER_PRODUCER) % BATCHES_PER_PRODUCER;
  }
}

/** What the log should do with an incoming idempotent batch: -1 = append it; else its original base offset. */
export type SequenceVerdict = number;
export const APPEND = -1;

export class ProducerState {
  private readonly producers = new Map<number, ProducerEntry>();

  get size(): number {
    return this.producers.size;
  }

  /**
   * Decides whether a batch is new (APPEND), a retry of one already written (its base offset), a retry
   * of one written before the window (throws DUPLICATE_SEQUENCE: written, offset unknown), or
   * unacceptable (throws OUT_OF_ORDER_SEQUENCE: nothing written). Producer id 0 means "not idempotent".
   */
  check(producerId: number, epoch: number, baseSeq: number, count: number): SequenceVerdict {
    if (producerId === 0) return APPEND;
    const e = this.producers.get(producerId);
    // Unknown producer: a new session, or one whose state retention removed with its segments.
    if (!e || epoch > e.epoch) return APPEND;
    if (epoch < e.epoch) {
      throw new TickbusError(ErrorCode.OUT_OF_ORDER_SEQUENCE, `producer ${producerId} epoch ${epoch} is fenced: epoch ${e.epoch} has written since`);
    }
    const expected = (e.baseSeq[e.newest]! + e.count[e.newest]!) % U32;
    if (baseSeq === expected) return APPEND;
    for (let i = 0; i < e.size; i++) {
      const k = e.slot(i);
      if (e.baseSeq[k] === baseSeq && e.count[k] === count) return e.baseOffset[k]!;
    }
    const behind = (expected - baseSeq + U32) % U32;
    if (behind > 0 && behind < U32 / 2) {
      // Before the oldest remembered batch: this producer's sequences are contiguous and were all
      // accepted, so the batch was written; only its offset is forgotten. A distinct code, so the
      // client does not take it for "not written" and send the records again.
      const oldest = e.baseSeq[e.slot(0)]!;
      const beforeOldest = (oldest - baseSeq + U32) % U32;
      if (beforeOldest > 0 && beforeOldest < U32 / 2) {
        throw new TickbusError(
          ErrorCode.DUPLICATE_SEQUENCE,
          `producer ${producerId} sequence ${baseSeq} was already written but is older than the last ${BATCHES_PER_PRODUCER} batches ` +
            `this partition remembers per producer; its offset is no longer known, and it was not written again`,
        );
      }
      throw new TickbusError(
        ErrorCode.OUT_OF_ORDER_SEQUENCE,
        `producer ${producerId} sent sequence ${baseSeq} with ${count} records, which matches no batch it wrote since sequence ${oldest}; nothing was written`,
      );
    }
    throw new TickbusError(
      ErrorCode.OUT_OF_ORDER_SEQUENCE,
      `producer ${producerId} sent sequence ${baseSeq} where ${expected} was expected: an earlier batch is missing; nothing was written`,
    );
  }

  /** Records an appended batch (also used when replaying the log on open). */
  record(producerId: number, epoch: number, baseSeq: number, count: number, baseOffset: number): void {
    if (producerId === 0) return;
    let e = this.producers.get(producerId);
    if (e) {
      this.producers.delete(producerId); // re-insert: Map order is least recently active first
      if (epoch !== e.epoch) e.reset(epoch);
    } else e = new ProducerEntry(epoch);
    e.push(baseSeq, count, baseOffset);
    this.producers.set(producerId, e);
    if (this.producers.size > MAX_PRODUCERS) {
      const oldest = this.producers.keys().next().value;
      if (oldest !== undefined) this.producers.delete(oldest);
    }
  }

  clear(): void {
    this.producers.clear();
  }

  /** Writes the state as of `offset` (the log's next offset), replacing the previous snapshot atomically. */
  saveSnapshot(dir: string, offset: number): void {
    const producers = [...this.producers].map(([id, e]) => {
      const batches = Array.from({ length: e.size }, (_, i) => {
        const k = e.slot(i);
        return [e.baseSeq[k], e.count[k], e.baseOffset[k]];
      });
      return [id, e.epoch, batches];
    });
    writeFileAtomic(path.join(dir, SNAPSHOT), JSON.stringify({ version: 1, offset, producers }));
  }

  /** Loads a snapshot; returns the offset it is valid up to, or -1 when there is none usable. */
  loadSnapshot(dir: string): number {
    this.producers.clear();
    let parsed: unknown;
    try {
      parsed = JSON.parse(fs.readFileSync(path.join(dir, SNAPSHOT), 'utf8'));
    } catch {
      return -1; // missing or damaged: the caller replays the whole log instead
    }
    const s = parsed as { version?: unknown; offset?: unknown; producers?: unknown };
    if (s.version !== 1 || typeof s.offset !== 'number' || !Array.isArray(s.producers)) return -1;
    try {
      for (const [id, epoch, batches] of s.producers as [number, number, [number, number, number][]][]) {
        const e = new ProducerEntry(epoch);
        for (const [baseSeq, count, baseOffset] of batches) e.push(baseSeq, count, baseOffset);
        this.producers.set(id, e);
      }
    } catch {
      this.producers.clear();
      return -1;
    }
    return s.offset;
  }
}
