// A partition's append log: a directory of segments, written by exactly one thread (the partition's
// owner), so there are no locks and order falls out of the design.
//
// append() checks the producer's batch, decides idempotence, stamps offset / epoch / append time into
// the received bytes and writes them to the page cache synchronously (a few µs): what was appended is
// readable at once. Durability is separate: flush() is a group commit, one fdatasync answering every
// batch appended before it started (on the owner thread at the end of the turn, or in libuv's pool:
// OpenOptions.fsyncThread), so concurrent durable producers share fsyncs instead of queueing behind one each.
import fs from 'node:fs';
import path from 'node:path';
import { ErrorCode, TickbusError } from '../../schemas/errors.js';
import {
  assertOneBatch,
  batchAppendTimeUs,
  batchBaseOffset,
  batchBaseSequence,
  batchLeaderEpoch,
  batchProducerEpoch,
  batchProducerId,
  batchRecordCount,
  readU32,
  readU64,
  stampBatch,
} from '../../schemas/record-batch.js';
import { wallClockMs } from '../clock.js';
import { syncDir } from '../fs/atomic-write.js';
import { logLine } from '../logger.js';
import { FSYNC_THREADS, type FsyncThread, type LogConfig, validateLogConfig, VERIFY_ON_OPEN, type VerifyOnOpen } from './log-config.js';
import { requireOneOf } from '../validate.js';
import { APPEND, ProducerState } from './producer-state.js';
import { PREALLOCATE_BYTES, Segment } from './segment.js';
import { syncLedger } from './sync-ledger.js';

export { type FsyncPolicy, FSYNC_THREADS, type FsyncThread, type LogConfig, DEFAULT_LOG_CONFIG, validateLogConfig, VERIFY_ON_OPEN, type VerifyOnOpen } from './log-config.js';

export interface OpenOptions {
  verifyOnOpen: VerifyOnOpen;
  /** Where group commits run their fdatasync (log-config.ts FSYNC_THREADS). */
  fsyncThread: FsyncThread;
}

/** What open() found wrong in a sealed segment and cut (null when nothing was). */
export interface CorruptionCut {
  /** The damaged segment file. */
  file: string;
  /** Byte position of the first bad batch in it. */
  position: number;
  /** The log now ends here: the first offset lost. */
  offset: number;
  /** Bytes removed: the damaged segment's rest and every later segment. */
  bytesRemoved: number;
  /** Whole segments removed after the damaged one. */
  segmentsRemoved: number;
  reason: string;
}

export interface AppendResult {
  baseOffset: number;
  recordCount: number;
  /** A retry of a batch this producer already wrote: nothing was appended, baseOffset is the original. */
  duplicate: boolean;
}

interface SyncWaiter {
  upTo: number;
  resolve: () => void;
  reject: (err: TickbusError) => void;
}

const RESOLVED = Promise.resolve();
const LOG_FILE = /^(\d{20})\.log$/;
/** Offsets of the producer fields, for reading them from a walked header. */
const PRODUCER_ID_AT = 56;
const BASE_SEQ_AT = 64;
const PRODUCER_EPOCH_AT = 68;

export class PartitionLog {
  private segments: Segment[] = [];
  private readonly producers = new ProducerState();
  private totalBytes = 0;
  /** Everything below this offset is on disk (fdatasync returned). */
  private durableOffset = 0;
  private syncing = false;
  private waiters: SyncWaiter[] = [];
  private intervalTimer: NodeJS.Timeout | null = null;
  /** After an fsync failure the page cache may have dropped data: refuse to go on (fsyncgate). */
  private failure: TickbusError | null = null;
  private closed = false;
  /** Damage open() found in a sealed segment and cut the log at; null when there was none. */
  corruptionCut: CorruptionCut | null = null;

  /**
   * Zeros written ahead of the active segment's end (segment.ts, Preallocation): from the start for
   * fsync 'always', and from the first flush() otherwise (a producer waits for fsyncs: acks durable).
   * A log nobody syncs on the ack path never pays for writing zeros.
   */
  private preallocateBytes = 0;

  private constructor(
    readonly dir: string,
    readonly config: LogConfig,
    private readonly fsyncThread: FsyncThread,
  ) {}

  private startPreallocating(): void {
    this.preallocateBytes = Math.min(PREALLOCATE_BYTES, this.config.segmentBytes);
    for (const s of this.segments) s.preallocateBytes = this.preallocateBytes;
  }

  private newSegment(base: number): Segment {
    const seg = Segment.create(this.dir, base);
    seg.preallocateBytes = this.preallocateBytes;
    return seg;
  }

  /**
   * Opens (or creates) the log in `dir` and recovers it: torn or corrupt tail cut, indexes rebuilt. With
   * verifyOnOpen 'all' (the default) sealed segments are verified too, and the log is cut at the first
   * damaged batch anywhere (corruptionCut says where).
   */
  static open(dir: string, config: Partial<LogConfig> = {}, options: Partial<OpenOptions> = {}): PartitionLog {
    const verifyOnOpen = requireOneOf('verifyOnOpen', VERIFY_ON_OPEN, options.verifyOnOpen ?? 'all');
    const fsyncThread = requireOneOf('fsyncThread', FSYNC_THREADS, options.fsyncThread ?? 'owner');
    const log = new PartitionLog(dir, validateLogConfig(config), fsyncThread);
    try {
      fs.mkdirSync(dir, { recursive: true });
    } catch (err) {
      throw new TickbusError(ErrorCode.STORAGE_ERROR, `cannot create log directory ${dir}: ${String(err)}`, { cause: err });
    }
    log.load(verifyOnOpen === 'all');
    return log;
  }

  private load(verifySealed: boolean): void {
    const bases = fs
      .readdirSync(this.dir)
      .flatMap((f) => {
        const m = LOG_FILE.exec(f);
        return m ? [Number(m[1])] : [];
      })
      .sort((a, b) => a - b);
    if (bases.length === 0) {
      this.segments = [this.newSegment(0)];
      syncPartitionDir(this.dir);
    } else {
      for (let i = 0; i < bases.length; i++) {
        // A segment about to be scanned skips loading its index files: the scan rebuilds them.
        const seg = Segment.open(this.dir, bases[i]!, verifySealed || i === bases.length - 1);
        if (i < bases.length - 1) seg.nextOffset = bases[i + 1]!;
        this.segments.push(seg);
      }
      if (!(verifySealed && this.verifySealed())) {
        const report = this.active.recover();
        if (report) logLine('log tail truncated', { dir: this.dir, bytes: report.truncatedBytes, reason: report.reason, nextOffset: this.active.nextOffset });
      }
    }
    for (const s of this.segments) this.totalBytes += s.size;
    this.durableOffset = this.nextOffset;
    this.rebuildProducers();
    // Every segment, since any can become the active one again (a follower's truncation).
    if (this.config.fsync === 'always') this.startPreallocating();
  }

  /**
   * Scans every sealed segment (CRCs, structure, contiguous offsets up to the next segment's base). At the
   * first damage the log is cut there: the damaged segment is cut at its bad batch and becomes the active
   * one, and every later segment is removed — records after a hole cannot be served without a gap. A
   * replica then fetches the rest again from its leader; on one node those records are lost, which still
   * beats serving a hole or failing every read past it (docs/log.md "Recovery on open").
   * True when it cut (the new active segment is already recovered).
   */
  private verifySealed(): boolean {
    const last = this.segments.length - 1;
    for (let i = 0; i < last; i++) {
      const seg = this.segments[i]!;
      const damage = seg.verify(this.segments[i + 1]!.baseOffset);
      if (!damage) continue;
      const removed = this.segments.splice(i + 1);
      let bytesRemoved = seg.size - damage.position;
      for (const gone of removed) {
        bytesRemoved += gone.size;
        gone.unlink();
      }
      seg.truncateAt(damage.position);
      syncPartitionDir(this.dir);
      this.corruptionCut = { file: seg.logPath, position: damage.position, offset: seg.nextOffset, bytesRemoved, segmentsRemoved: removed.length, reason: damage.reason };
      logLine('DAMAGED SEALED SEGMENT: log cut at the first bad batch, every later segment removed', { dir: this.dir, ...this.corruptionCut });
      return true;
    }
    return false;
  }

  /** Producer state: the snapshot if it is consistent with the recovered log, then the batches after it. */
  private rebuildProducers(): void {
    let from = this.producers.loadSnapshot(this.dir);
    // A snapshot past the recovered head describes batches the recovery cut off.
    const stale = from > this.nextOffset;
    if (from < 0 || stale) {
      this.producers.clear();
      from = this.logStartOffset;
    }
    if (from < this.logStartOffset) from = this.logStartOffset;
    for (const seg of this.segments) {
      if (seg.nextOffset <= from || seg.isEmpty) continue;
      const pos = from > seg.baseOffset ? seg.positionOf(from) : 0;
      seg.walk(pos, (h) => {
        this.producers.record(readU64(h.bytes, PRODUCER_ID_AT), readU32(h.bytes, PRODUCER_EPOCH_AT), readU32(h.bytes, BASE_SEQ_AT), h.recordCount, h.baseOffset);
        return true;
      });
    }
    // Replace a stale snapshot now: once appends take the log past its offset again it would pass for
    // valid on the next open, and the producers written in between would be forgotten (duplicates).
    if (stale) this.producers.saveSnapshot(this.dir, this.nextOffset);
  }

  private get active(): Segment {
    return this.segments[this.segments.length - 1]!;
  }

  /** Offset the next appended record gets; also the high watermark on one node. */
  get nextOffset(): number {
    return this.active.nextOffset;
  }

  get logStartOffset(): number {
    return this.segments[0]!.baseOffset;
  }

  get sizeBytes(): number {
    return this.totalBytes;
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  /** Producers whose last batches are remembered for idempotence. */
  get producerCount(): number {
    return this.producers.size;
  }

  // ---------------------------------------------------------------- write path

  /**
   * Appends the one producer batch in buf[at, at+len): checks it, stamps it in place, writes it.
   * Throws CORRUPT_BATCH / OUT_OF_ORDER_SEQUENCE / STORAGE_ERROR; nothing is written then.
   */
  append(buf: Uint8Array, at: number, len: number, leaderEpoch: number, appendTimeUs: number): AppendResult {
    if (this.failure) throw this.failure;
    if (this.closed) throw new TickbusError(ErrorCode.OWNER_UNAVAILABLE, `log ${this.dir} is closed`);
    assertOneBatch(buf, at, at + len, false);
    const count = batchRecordCount(buf, at);
    const pid = batchProducerId(buf, at);
    const epoch = batchProducerEpoch(buf, at);
    const seq = batchBaseSequence(buf, at);
    const verdict = this.producers.check(pid, epoch, seq, count);
    if (verdict !== APPEND) return { baseOffset: verdict, recordCount: count, duplicate: true };

    const timeMs = Math.floor(appendTimeUs / 1000);
    let seg = this.active;
    if (!seg.isEmpty && (seg.size + len > this.config.segmentBytes || timeMs - seg.firstTimeMs >= this.config.segmentMs)) seg = this.roll(timeMs);
    const baseOffset = seg.nextOffset;
    stampBatch(buf, at, baseOffset, leaderEpoch, appendTimeUs);
    seg.append(buf, at, len, baseOffset, count, timeMs);
    this.totalBytes += len;
    this.producers.record(pid, epoch, seq, count, baseOffset);
    if (this.config.fsync === 'always') this.startSync();
    else if (this.config.fsync === 'interval' && this.intervalTimer === null) {
      this.intervalTimer = setTimeout(this.onInterval, this.config.fsyncIntervalMs);
      this.intervalTimer.unref();
    }
    return { baseOffset, recordCount: count, duplicate: false };
  }

  /**
   * A follower's append: one batch the leader already stamped (offset, leader epoch, append time), written
   * as it is — the same bytes on every replica. It must start exactly at this log's end; producer state
   * is recorded from its header, so idempotence survives a failover to this replica.
   * Returns the batch's leader epoch (the caller keeps the epoch history).
   */
  appendReplicated(buf: Uint8Array, at: number, len: number): number {
    if (this.failure) throw this.failure;
    if (this.closed) throw new TickbusError(ErrorCode.OWNER_UNAVAILABLE, `log ${this.dir} is closed`);
    assertOneBatch(buf, at, at + len, true);
    const baseOffset = batchBaseOffset(buf, at);
    if (baseOffset !== this.nextOffset) {
      throw new TickbusError(ErrorCode.CORRUPT_BATCH, `replicated batch starts at offset ${baseOffset}, but ${this.dir} ends at ${this.nextOffset}`);
    }
    const count = batchRecordCount(buf, at);
    const timeMs = Math.floor(batchAppendTimeUs(buf, at) / 1000);
    let seg = this.active;
    if (!seg.isEmpty && (seg.size + len > this.config.segmentBytes || timeMs - seg.firstTimeMs >= this.config.segmentMs)) seg = this.roll(wallClockMs());
    seg.append(buf, at, len, baseOffset, count, timeMs);
    this.totalBytes += len;
    this.producers.record(batchProducerId(buf, at), batchProducerEpoch(buf, at), batchBaseSequence(buf, at), count, baseOffset);
    if (this.config.fsync === 'always') this.startSync();
    else if (this.config.fsync === 'interval' && this.intervalTimer === null) {
      this.intervalTimer = setTimeout(this.onInterval, this.config.fsyncIntervalMs);
      this.intervalTimer.unref();
    }
    return batchLeaderEpoch(buf, at);
  }

  /**
   * Removes every batch at or after `offset` (a follower whose history diverged from its new leader's,
   * KIP-101). `offset` is rounded down to the start of the batch that holds it; whole segments past it
   * are deleted. The cut is fsynced before this returns, and producer state is rebuilt from what is left.
   * Returns the new log end offset.
   */
  truncateTo(offset: number): number {
    if (this.failure) throw this.failure;
    if (offset >= this.nextOffset) return this.nextOffset;
    if (offset < this.logStartOffset) offset = this.logStartOffset;
    while (this.segments.length > 1 && this.active.baseOffset >= offset) {
      const gone = this.segments.pop()!;
      this.totalBytes -= gone.size;
      gone.unlink();
    }
    const seg = this.active;
    const before = seg.size;
    const position = offset <= seg.baseOffset || seg.isEmpty ? 0 : seg.positionOf(offset);
    seg.truncateAt(position);
    this.totalBytes -= before - seg.size;
    syncPartitionDir(this.dir);
    if (this.durableOffset > this.nextOffset) this.durableOffset = this.nextOffset;
    this.producers.clear();
    this.rebuildProducers();
    return this.nextOffset;
  }

  /**
   * Leader epoch → first offset written in it, from the batch headers: rebuilds a missing or damaged
   * epoch checkpoint (broker/replication/epoch-checkpoint.ts). Walks every header: O(batches).
   */
  epochStarts(): { epoch: number; startOffset: number }[] {
    const out: { epoch: number; startOffset: number }[] = [];
    let last = -1;
    for (const seg of this.segments) {
      if (seg.isEmpty) continue;
      seg.walk(0, (h) => {
        const e = batchLeaderEpoch(h.bytes, 0);
        if (e !== last) {
          out.push({ epoch: e, startOffset: h.baseOffset });
          last = e;
        }
        return true;
      });
    }
    return out;
  }

  private readonly onInterval = (): void => {
    this.intervalTimer = null;
    // Nobody waits for this one: off the owner thread whatever fsyncThread says, so live traffic never
    // stalls behind a background sync (~120 µs every 50 ms would hit 1 message in 50 at 1k msg/s).
    this.startSync('pool');
  };

  /**
   * Seals the active segment (fsync) and starts a new one at the next offset. Called by append when the
   * segment is full or old; public for tests and tools.
   */
  roll(nowMs: number = wallClockMs()): Segment {
    const old = this.active;
    if (old.isEmpty) return old;
    old.seal();
    if (this.durableOffset < old.nextOffset) this.durableOffset = old.nextOffset;
    const seg = this.newSegment(old.nextOffset);
    syncPartitionDir(this.dir);
    this.segments.push(seg);
    this.producers.saveSnapshot(this.dir, seg.baseOffset);
    this.applyRetention(nowMs);
    return seg;
  }

  /** Everything appended so far is on disk once this resolves (group commit). */
  flush(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    const upTo = this.nextOffset;
    if (this.durableOffset >= upTo) return RESOLVED;
    if (this.preallocateBytes === 0) this.startPreallocating();
    return new Promise((resolve, reject) => {
      this.waiters.push({ upTo, resolve, reject });
      this.startSync();
    });
  }

  /** Starts a group commit unless one is running; `thread` is where its fdatasync runs. */
  private startSync(thread: FsyncThread = this.fsyncThread): void {
    if (this.syncing || this.closed || this.durableOffset >= this.nextOffset) return;
    this.syncing = true;
    if (thread === 'owner') {
      // After this turn's other appends: one fdatasync covers all of them.
      setImmediate(this.syncOnOwner);
      return;
    }
    const upTo = this.nextOffset;
    // Segments before the active one were fsynced when they were sealed.
    this.active.syncAsync((err) => {
      this.syncing = false;
      if (err) this.syncFailed(err);
      else this.synced(upTo);
    });
  }

  private readonly syncOnOwner = (): void => {
    this.syncing = false;
    if (this.closed || this.failure !== null) return;
    // Already durable (a roll's seal fsynced the segment meanwhile): answer whoever waits, no fdatasync.
    if (this.durableOffset >= this.nextOffset) return this.resolveWaiters();
    const upTo = this.nextOffset;
    try {
      this.active.syncLog();
    } catch (err) {
      this.syncFailed(err as Error);
      return;
    }
    this.synced(upTo);
  };

  private synced(upTo: number): void {
    if (upTo > this.durableOffset) this.durableOffset = upTo;
    this.resolveWaiters();
    if (this.waiters.length > 0 || (this.config.fsync === 'always' && this.durableOffset < this.nextOffset)) this.startSync();
  }

  private syncFailed(err: Error): void {
    this.failure = new TickbusError(ErrorCode.STORAGE_ERROR, `fdatasync of ${this.dir} failed: ${err.message}; the partition stops until the broker restarts and recovers it`, { cause: err });
    logLine('fsync failed', { dir: this.dir, error: err.message });
    const waiting = this.waiters;
    this.waiters = [];
    for (const w of waiting) w.reject(this.failure);
  }

  private resolveWaiters(): void {
    if (this.waiters.length === 0) return;
    let keep = 0;
    for (const w of this.waiters) {
      if (w.upTo <= this.durableOffset) w.resolve();
      else this.waiters[keep++] = w;
    }
    this.waiters.length = keep;
  }

  // ---------------------------------------------------------------- read path

  /**
   * Whole stamped batches starting with the one that holds `offset` (so the first may start before it),
   * up to maxBytes but always at least one batch; empty at the head. Never crosses a segment.
   */
  read(offset: number, maxBytes: number): Uint8Array {
    if (offset >= this.nextOffset) return new Uint8Array(0);
    if (offset < this.logStartOffset) {
      throw new TickbusError(ErrorCode.OFFSET_OUT_OF_RANGE, `offset ${offset} is before the log start ${this.logStartOffset} (deleted by retention)`);
    }
    const seg = this.segmentFor(offset);
    try {
      return seg.readAt(seg.positionOf(offset), maxBytes);
    } catch (err) {
      // Damage after open (verifyOnOpen catches what was there before): say which log and offset, so the
      // reader gets an error it can act on (move to another replica) instead of waiting on an empty read.
      if (err instanceof TickbusError && err.code === ErrorCode.STORAGE_ERROR) {
        throw new TickbusError(ErrorCode.STORAGE_ERROR, `cannot read offset ${offset} of ${this.dir}: ${err.message}`, { cause: err });
      }
      throw err;
    }
  }

  private segmentFor(offset: number): Segment {
    let lo = 0;
    let hi = this.segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.segments[mid]!.baseOffset <= offset) lo = mid;
      else hi = mid - 1;
    }
    return this.segments[lo]!;
  }

  /** The first offset appended at or after `ms` (broker append time); the head when there is none. */
  offsetForTimestamp(ms: number): number {
    for (const seg of this.segments) {
      if (seg.isEmpty) continue;
      const off = seg.offsetForTime(ms);
      if (off >= 0) return off;
    }
    return this.nextOffset;
  }

  // ---------------------------------------------------------------- maintenance

  /** Periodic work: roll an active segment that aged past segmentMs, then apply retention. */
  maintain(nowMs: number = wallClockMs()): void {
    if (this.closed || this.failure) return;
    const a = this.active;
    if (!a.isEmpty && nowMs - a.firstTimeMs >= this.config.segmentMs) this.roll(nowMs);
    else this.applyRetention(nowMs);
  }

  /**
   * Deletes the oldest sealed segments past retention. The active segment is never deleted, so the
   * log always keeps its newest records and its next offset.
   */
  applyRetention(nowMs: number): number {
    const { retentionBytes, retentionMs } = this.config;
    let deleted = 0;
    while (this.segments.length > 1) {
      const oldest = this.segments[0]!;
      const overSize = retentionBytes >= 0 && this.totalBytes - oldest.size >= retentionBytes;
      const tooOld = retentionMs >= 0 && oldest.maxTimeMs >= 0 && nowMs - oldest.maxTimeMs > retentionMs;
      if (!overSize && !tooOld) break;
      this.segments.shift();
      this.totalBytes -= oldest.size;
      oldest.unlink();
      deleted++;
    }
    return deleted;
  }

  // ---------------------------------------------------------------- lifecycle

  /** fsyncs everything, saves the producer snapshot and closes the files. */
  close(): void {
    if (this.closed) return;
    if (this.intervalTimer) clearTimeout(this.intervalTimer);
    this.intervalTimer = null;
    try {
      if (!this.failure) {
        this.active.syncAll();
        this.durableOffset = this.nextOffset;
        this.producers.saveSnapshot(this.dir, this.nextOffset);
      }
    } finally {
      // A failed fsync or snapshot still closes the log; its error propagates after.
      this.closed = true;
      this.resolveWaiters();
      const failed = new TickbusError(ErrorCode.OWNER_UNAVAILABLE, `log ${this.dir} closed before its fsync completed`);
      for (const w of this.waiters) w.reject(failed);
      this.waiters = [];
      for (const s of this.segments) s.close();
    }
  }

  /** Closes and removes the whole partition directory (topic deleted). */
  destroy(): void {
    try {
      this.close();
    } catch {
      // the files are about to go: a failed final fsync does not matter
    }
    // Removing the files frees their blocks: ~10 ms per 64 MiB segment here, too long for the owner's
    // thread. The rename is instant (a topic created again under the same name starts clean); the
    // removal runs in libuv's pool, and sweepDeletedPartitions() finishes one a crash interrupted.
    const doomed = `${this.dir}${DELETED_MARK}${Date.now()}`;
    try {
      fs.renameSync(this.dir, doomed);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      fs.rmSync(this.dir, { recursive: true, force: true });
      return;
    }
    removeInPool(doomed);
  }
}

const DELETED_MARK = '.deleted-';

function removeInPool(target: string): void {
  fs.rm(target, { recursive: true, force: true }, (err) => {
    if (err) logLine('could not remove deleted partition', { dir: target, error: err.message });
  });
}

/**
 * Removes partition directories a deletion left behind (the broker stopped before removing them):
 * <data>/<topic>/<partition>.deleted-<ms>. Runs at broker start, off the main thread's path.
 */
export function sweepDeletedPartitions(dataDir: string): number {
  let swept = 0;
  let topics: fs.Dirent[];
  try {
    topics = fs.readdirSync(dataDir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const t of topics) {
    if (!t.isDirectory()) continue;
    let entries: string[];
    try {
      entries = fs.readdirSync(path.join(dataDir, t.name));
    } catch {
      continue;
    }
    for (const e of entries) {
      if (!e.includes(DELETED_MARK)) continue;
      removeInPool(path.join(dataDir, t.name, e));
      swept++;
    }
  }
  return swept;
}

/**
 * Sets aside every partition directory under `topicDir` that a deletion did not reach (its owner was
 * down or did not answer), the same way destroy() does: an instant rename, the removal in libuv's pool.
 * Called for a name that is not in the catalogue, so no owner serves these directories any more.
 */
export function discardPartitionDirs(topicDir: string): number {
  let entries: string[];
  try {
    entries = fs.readdirSync(topicDir);
  } catch {
    return 0;
  }
  let discarded = 0;
  const stamp = Date.now();
  for (const e of entries) {
    if (e.includes(DELETED_MARK)) continue;
    if (discardPartitionDir(path.join(topicDir, e), stamp)) discarded++;
  }
  return discarded;
}

/**
 * Sets one partition directory aside as destroy() does (false if there was none): for a directory that
 * belongs to another incarnation of its topic (partition-incarnation.ts).
 */
export function discardPartitionDir(dir: string, stamp = Date.now()): boolean {
  const doomed = `${dir}${DELETED_MARK}${stamp}`;
  try {
    fs.renameSync(dir, doomed);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    fs.rmSync(dir, { recursive: true, force: true });
    return true;
  }
  removeInPool(doomed);
  return true;
}

function syncPartitionDir(dir: string): void {
  // A new segment's directory entry must be durable too, or a crash can lose the whole file.
  syncDir(dir);
  syncLedger?.dirSynced(dir);
}
