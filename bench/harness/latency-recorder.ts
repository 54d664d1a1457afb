// Records one subscriber side's view of a run: HdrHistograms of latency from the intended send time
// (coordinated-omission corrected) and from the actual send time, counts, and per-window mean latency
// so the harness can tell a latency that stays flat from one that grows without bound (saturation).
// Snapshots are plain data so a worker thread can post them to the main thread, which merges them.
import * as hdr from 'hdr-histogram-js';
import { payloadActualUs, payloadIntendedUs, payloadMeasured, payloadSeq } from './payload.js';

export type Histogram = hdr.Histogram;

/** 3 significant digits, values in µs, growing as needed. JS implementation (no WebAssembly start-up). */
export function newHistogram(): Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 10_000_000, numberOfSignificantValueDigits: 3, autoResize: true });
}

/** Where the measured messages are on the timetable: windows are counted in sequence numbers. */
export interface RunLayout {
  /** Sequence number of the first measured message (the ones before it are warm-up). */
  firstMeasuredSeq: number;
  /** Messages per latency window. */
  perWindow: number;
  windows: number;
}

export interface RecorderSnapshot {
  received: number;
  warmupReceived: number;
  /** Lowest and highest count among this recorder's subscribers (to see one starving subscriber). */
  minPerSubscriber: number;
  maxPerSubscriber: number;
  firstRecvUs: number;
  lastRecvUs: number;
  intended: string;
  actual: string;
  windowSum: number[];
  windowCount: number[];
}

export class LatencyRecorder {
  readonly intended = newHistogram();
  readonly actual = newHistogram();
  received = 0;
  warmupReceived = 0;
  firstRecvUs = 0;
  lastRecvUs = 0;
  private readonly windowSum: Float64Array;
  private readonly windowCount: Float64Array;
  private readonly perSubscriber: number[] = [];

  constructor(private readonly layout: RunLayout) {
    this.windowSum = new Float64Array(Math.max(1, layout.windows));
    this.windowCount = new Float64Array(Math.max(1, layout.windows));
  }

  /** Adds a subscriber and returns its index for record(). */
  addSubscriber(): number {
    this.perSubscriber.push(0);
    return this.perSubscriber.length - 1;
  }

  /** Called with each delivered payload; `nowUs` is read once per delivery by the caller. */
  record(sub: number, b: Uint8Array, nowUs: number): void {
    if (!payloadMeasured(b)) {
      this.warmupReceived++;
      return;
    }
    const intendedLat = nowUs - payloadIntendedUs(b);
    const actualLat = nowUs - payloadActualUs(b);
    // Clamp: a clock read can be a fraction of a µs behind another thread's; never record negatives.
    this.intended.recordValue(intendedLat > 0 ? Math.round(intendedLat) : 0);
    this.actual.recordValue(actualLat > 0 ? Math.round(actualLat) : 0);
    const w = Math.floor((payloadSeq(b) - this.layout.firstMeasuredSeq) / this.layout.perWindow);
    if (w >= 0 && w < this.windowSum.length) {
      this.windowSum[w]! += intendedLat;
      this.windowCount[w]! += 1;
    }
    if (this.received === 0) this.firstRecvUs = nowUs;
    this.lastRecvUs = nowUs;
    this.received++;
    this.perSubscriber[sub]!++;
  }

  snapshot(): RecorderSnapshot {
    return {
      received: this.received,
      warmupReceived: this.warmupReceived,
      minPerSubscriber: this.perSubscriber.length ? Math.min(...this.perSubscriber) : 0,
      maxPerSubscriber: this.perSubscriber.length ? Math.max(...this.perSubscriber) : 0,
      firstRecvUs: this.firstRecvUs,
      lastRecvUs: this.lastRecvUs,
      intended: hdr.encodeIntoCompressedBase64(this.intended),
      actual: hdr.encodeIntoCompressedBase64(this.actual),
      windowSum: Array.from(this.windowSum),
      windowCount: Array.from(this.windowCount),
    };
  }
}

/** Everything the subscribers of one run saw, merged. */
export interface MergedDeliveries {
  received: number;
  warmupReceived: number;
  minPerSubscriber: number;
  maxPerSubscriber: number;
  firstRecvUs: number;
  lastRecvUs: number;
  intended: Histogram;
  actual: Histogram;
  /** Mean intended-time latency per window (NaN where nothing was received). */
  windowMeanUs: number[];
}

export function mergeSnapshots(snaps: RecorderSnapshot[]): MergedDeliveries {
  const intended = newHistogram();
  const actual = newHistogram();
  let received = 0;
  let warmupReceived = 0;
  let first = Infinity;
  let last = 0;
  let minPer = Infinity;
  let maxPer = 0;
  const windows = Math.max(0, ...snaps.map((s) => s.windowSum.length));
  const sum = new Array<number>(windows).fill(0);
  const count = new Array<number>(windows).fill(0);
  for (const s of snaps) {
    intended.add(hdr.decodeFromCompressedBase64(s.intended));
    actual.add(hdr.decodeFromCompressedBase64(s.actual));
    received += s.received;
    warmupReceived += s.warmupReceived;
    if (s.received > 0) {
      first = Math.min(first, s.firstRecvUs);
      last = Math.max(last, s.lastRecvUs);
    }
    minPer = Math.min(minPer, s.minPerSubscriber);
    maxPer = Math.max(maxPer, s.maxPerSubscriber);
    for (let i = 0; i < s.windowSum.length; i++) {
      sum[i]! += s.windowSum[i]!;
      count[i]! += s.windowCount[i]!;
    }
  }
  return {
    received,
    warmupReceived,
    minPerSubscriber: minPer === Infinity ? 0 : minPer,
    maxPerSubscriber: maxPer,
    firstRecvUs: first === Infinity ? 0 : first,
    lastRecvUs: last,
    intended,
    actual,
    windowMeanUs: sum.map((s, i) => (count[i]! > 0 ? s / count[i]! : NaN)),
  };
}
