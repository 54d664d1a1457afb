// A partition's leader-epoch history: for each leader epoch, the first offset written in it
// (Kafka KIP-101, the "leader epoch cache", LeaderEpochFileCache.scala). It answers the one question
// log reconciliation needs — "where does epoch E end in this log?" — in the exact shape of Kafka's
// OffsetsForLeaderEpoch, so a follower can find the point where its log and the leader's part ways.
//
// Pure: no files (epoch-checkpoint.ts persists it), no clock. Entries are kept strictly increasing in
// both epoch and start offset; every method keeps that invariant, so a lookup is a scan of a few items
// (one entry per leader change that wrote something; retention drops the old ones).

/** Kafka's UNDEFINED_EPOCH / UNDEFINED_EPOCH_OFFSET. */
export const UNDEFINED_EPOCH = -1;
export const UNDEFINED_OFFSET = -1;

export interface EpochEntry {
  readonly epoch: number;
  readonly startOffset: number;
}

/** An OffsetsForLeaderEpoch answer: `{ -1, -1 }` when nothing is known. */
export interface EpochEndOffset {
  readonly epoch: number;
  readonly endOffset: number;
}

export const UNDEFINED_EPOCH_END: EpochEndOffset = Object.freeze({ epoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_OFFSET });

/** The checkpoint's JSON shape: `[epoch, startOffset]` pairs, oldest first. */
export interface EpochHistoryJson {
  version: 1;
  entries: [number, number][];
}

function checkNonNegativeInt(name: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${name} must be a non-negative integer, got ${v}`);
}

export class EpochHistory {
  private list: EpochEntry[] = [];

  constructor(entries: readonly EpochEntry[] = []) {
    for (const e of entries) {
      checkNonNegativeInt('epoch', e.epoch);
      checkNonNegativeInt('startOffset', e.startOffset);
      const last = this.list[this.list.length - 1];
      if (last && (e.epoch <= last.epoch || e.startOffset <= last.startOffset)) {
        throw new RangeError(
          `epoch history entries must increase in epoch and start offset: (${e.epoch}, ${e.startOffset}) after (${last.epoch}, ${last.startOffset})`,
        );
      }
      this.list.push({ epoch: e.epoch, startOffset: e.startOffset });
    }
  }

  /**
   * Records that `epoch` starts at `startOffset`. Called by a leader when it starts a new epoch (at its
   * log end) and by a follower when it appends a batch whose epoch is newer than its latest. An epoch
   * that is not newer than the latest is ignored (returns false): batches of a known epoch add nothing.
   *
   * A newer epoch starting at or before the latest entry's start means the latest epochs wrote nothing
   * that survived (a leader that took an epoch and appended nothing, then lost it): those entries are
   * dropped, as Kafka's assign() does, so that start offsets stay strictly increasing and an empty
   * epoch never answers an OffsetsForLeaderEpoch query.
   */
  assign(epoch: number, startOffset: number): boolean {
    checkNonNegativeInt('epoch', epoch);
    checkNonNegativeInt('startOffset', startOffset);
    const latest = this.list[this.list.length - 1];
    if (latest && epoch <= latest.epoch) return false;
    while (this.list.length > 0 && this.list[this.list.length - 1]!.startOffset >= startOffset) this.list.pop();
    this.list.push({ epoch, startOffset });
    return true;
  }

  /** The newest epoch recorded, or -1 for an empty history. */
  latestEpoch(): number {
    return this.list[this.list.length - 1]?.epoch ?? UNDEFINED_EPOCH;
  }

  /**
   * Kafka's LeaderEpochFileCache.endOffsetFor, case for case:
   * - requested -1, or nothing known: `{ -1, -1 }`;
   * - the requested epoch is the latest: `{ requested, logEndOffset }` (the epoch is still open);
   * - newer than the latest: `{ -1, -1 }` (a leader never sees this: its latest is the current epoch,
   *   and fetches from newer epochs are fenced before they get here);
   * - otherwise the largest known epoch ≤ the requested one, ending where the next higher epoch starts;
   *   if every known epoch is higher (retention removed the older ones), the requested epoch itself,
   *   ending at the first known start offset: what was before is gone from this log anyway.
   */
  endOffsetFor(requestedEpoch: number, logEndOffset: number): EpochEndOffset {
    if (requestedEpoch === UNDEFINED_EPOCH || this.list.length === 0) return UNDEFINED_EPOCH_END;
    const latest = this.list[this.list.length - 1]!;
    if (requestedEpoch === latest.epoch) return { epoch: requestedEpoch, endOffset: logEndOffset };
    if (requestedEpoch > latest.epoch) return UNDEFINED_EPOCH_END;
    // The first entry with a higher epoch exists (the latest is higher); its predecessor is the floor.
    let i = 0;
    while (this.list[i]!.epoch <= requestedEpoch) i++;
    const higher = this.list[i]!;
    const floor = this.list[i - 1];
    return { epoch: floor ? floor.epoch : requestedEpoch, endOffset: higher.startOffset };
  }

  /**
   * The log was truncated so that `endOffset` is its new end: epochs starting at or after it wrote
   * nothing that remains (Kafka truncateFromEnd, after a divergence truncation or a recovery that cut
   * a torn tail).
   */
  truncateFromEnd(endOffset: number): void {
    checkNonNegativeInt('endOffset', endOffset);
    while (this.list.length > 0 && this.list[this.list.length - 1]!.startOffset >= endOffset) this.list.pop();
  }

  /**
   * Retention moved the log start to `startOffset`: entries wholly before it go, and the epoch that
   * covers it now starts there (Kafka truncateFromStart keeps the floor entry, moved forward, so the
   * epoch of the first remaining record is still known).
   */
  truncateFromStart(startOffset: number): void {
    checkNonNegativeInt('startOffset', startOffset);
    let floor = -1;
    for (let i = 0; i < this.list.length && this.list[i]!.startOffset <= startOffset; i++) floor = i;
    if (floor < 0) return;
    const kept = this.list[floor]!;
    this.list.splice(0, floor + 1, { epoch: kept.epoch, startOffset });
  }

  entries(): readonly EpochEntry[] {
    return this.list.slice();
  }

  toJSON(): EpochHistoryJson {
    return { version: 1, entries: this.list.map((e) => [e.epoch, e.startOffset]) };
  }

  /** Rebuilds a history from toJSON()'s output; throws TypeError/RangeError on anything else. */
  static fromJSON(json: unknown): EpochHistory {
    const j = json as { version?: unknown; entries?: unknown } | null;
    if (typeof j !== 'object' || j?.version !== 1 || !Array.isArray(j.entries)) {
      throw new TypeError('epoch history JSON must be { version: 1, entries: [[epoch, startOffset], ...] }');
    }
    const entries = (j.entries as unknown[]).map((pair, i) => {
      if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'number' || typeof pair[1] !== 'number') {
        throw new TypeError(`epoch history entry ${i} must be [epoch, startOffset]`);
      }
      return { epoch: pair[0], startOffset: pair[1] };
    });
    return new EpochHistory(entries);
  }
}
