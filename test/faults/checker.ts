// Checks a fault run's history for the anomalies a replicated log must not show, after Jepsen's Kafka checker
// (jepsen/src/jepsen/tests/kafka.clj): every acknowledged value is read, each offset holds one value, each value
// sits at one offset, each consumer reads its partitions in order without gaps, each producer's acks on a
// partition come back in the order it sent, and every replica holds the same bytes below the high watermark.
//
// Pure: no clock, no files. Feed events in history order with add() (a soak streams them from disk), then
// result(). Each anomaly carries the records that show it, so a failing seed can be read without the raw file.
import type { ConsumerSeek, FaultEvent, HistoryEvent, Poll, ReplicaLog, SendFail, SendInfo, SendInvoke, SendOk } from './history.js';

export const ANOMALY_KINDS = [
  /** Acknowledged, never read, and some consumer read a higher offset of its partition: the log lost it. */
  'lost-write',
  /** Acknowledged, never read, at or above every offset read on its partition: not (yet) seen by the end. */
  'unseen',
  /** One value at two positions (partition, offset): written twice. */
  'duplicate',
  /** Two values at one position, across acks and consumers: the log's history forked. */
  'inconsistent-offset',
  /** A consumer read an offset at or below one it had already read, with no seek in between. */
  'nonmonotonic-poll',
  /** A consumer's next offset jumped past records it never read, with no seek in between. */
  'skipped-poll',
  /** One producer's later send on a partition was acknowledged at a lower offset than an earlier one. */
  'nonmonotonic-send',
  /** Below the high watermark, a replica lacks a record or holds different bytes than another replica. */
  'replica-divergence',
  /** A consumer read a value whose send the broker said had failed. */
  'aborted-read',
] as const;
export type AnomalyKind = (typeof ANOMALY_KINDS)[number];

export interface Anomaly {
  kind: AnomalyKind;
  topic: string;
  partition: number;
  /** Monotonic µs of the event that shows it (the send's invoke for send anomalies), for fault attribution. */
  t: number;
  message: string;
  /** The offending records. */
  evidence: unknown[];
}

export interface FaultWindow {
  id: number;
  kind: string;
  target: string;
  start: number;
  /** Null when the history has no end event for it. */
  end: number | null;
}

export interface CheckResult {
  valid: boolean;
  counts: Record<AnomalyKind, number>;
  /** The first `maxExamples` of each kind. */
  examples: Record<AnomalyKind, Anomaly[]>;
  stats: {
    sends: number;
    acknowledged: number;
    failed: number;
    unknown: number;
    /** Sends with an invoke and no completion: counted as unknown. */
    unfinished: number;
    polledRecords: number;
    consumers: number;
    partitions: number;
  };
  faults: FaultWindow[];
  /** fault kind (or 'none') → anomaly kind → count: an anomaly counts for every fault active within the grace. */
  byFault: Record<string, Partial<Record<AnomalyKind, number>>>;
}

export interface CheckerOptions {
  /** Examples kept per kind (counts are exact). */
  maxExamples?: number;
  /** An anomaly at time t is attributed to faults with start <= t <= end + graceUs. */
  graceUs?: number;
}

interface SendState {
  invoke: SendInvoke;
  index: number;
  outcome: SendOk | SendFail | SendInfo | null;
}

/** Where a value was seen at a position: an ack or a consumer's poll. */
interface Sighting {
  value: string;
  source: string;
  t: number;
}

interface ReadState {
  /** The offset this consumer should read next on this partition; null until its first poll or seek. */
  expected: number | null;
  lastPollT: number;
}

const tpKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;
const splitTp = (k: string): [string, number] => {
  const i = k.lastIndexOf('\u0000');
  return [k.slice(0, i), Number(k.slice(i + 1))];
};

export class HistoryChecker {
  private readonly maxExamples: number;
  private readonly graceUs: number;
  private readonly counts = Object.fromEntries(ANOMALY_KINDS.map((k) => [k, 0])) as Record<AnomalyKind, number>;
  private readonly examples = Object.fromEntries(ANOMALY_KINDS.map((k) => [k, [] as Anomaly[]])) as Record<AnomalyKind, Anomaly[]>;
  private readonly found: { kind: AnomalyKind; t: number }[] = [];
  private index = 0;

  private readonly sends = new Map<string, SendState>();
  private readonly sendByValue = new Map<string, SendState>();
  /** value → how many times any consumer read it, and the first read. */
  private readonly reads = new Map<string, { n: number; first: Sighting & { topic: string; partition: number; offset: number } }>();
  /** tp → highest offset any consumer read. */
  private readonly maxPolled = new Map<string, number>();
  /** tp → offset → first value seen there; extra values are anomalies. */
  private readonly atOffset = new Map<string, Map<number, Sighting>>();
  private readonly inconsistentAt = new Map<string, Anomaly>();
  /** value → first position seen; a second position is a duplicate. */
  private readonly position = new Map<string, { tp: string; offset: number; sighting: Sighting }>();
  private readonly duplicated = new Map<string, Anomaly>();
  private readonly readers = new Map<string, ReadState>();
  private readonly consumers = new Set<string>();
  private readonly faultWindows = new Map<number, FaultWindow>();
  /** tp → replica → offset → hash; tp → lowest HW reported. */
  private readonly replicas = new Map<string, Map<string, Map<number, string>>>();
  private readonly replicaHw = new Map<string, number>();
  /** `${tp}#${replica}` of replicas outside the ISR at the end: missing records there are lag. */
  private readonly lagging = new Set<string>();
  private polledRecords = 0;
  private done = false;

  constructor(opts: CheckerOptions = {}) {
    this.maxExamples = opts.maxExamples ?? 20;
    this.graceUs = opts.graceUs ?? 10_000_000;
    if (!Number.isInteger(this.maxExamples) || this.maxExamples < 0) throw new RangeError(`maxExamples must be an integer >= 0, got ${this.maxExamples}`);
    if (!(this.graceUs >= 0)) throw new RangeError(`graceUs must be >= 0, got ${this.graceUs}`);
  }

  add(e: HistoryEvent): void {
    if (this.done) throw new Error('result() was already taken; make a new HistoryChecker');
    this.index++;
    switch (e.type) {
      case 'send-invoke':
        return this.onInvoke(e);
      case 'send-ok':
      case 'send-fail':
      case 'send-info':
        return this.onComplete(e);
      case 'poll':
        return this.onPoll(e);
      case 'consumer-seek':
        return this.onSeek(e);
      case 'fault':
        return this.onFault(e);
      case 'replica-log':
        return this.onReplicaLog(e);
    }
  }

  private onInvoke(e: SendInvoke): void {
    const key = `${e.producer}#${e.op}`;
    if (this.sends.has(key)) throw new TypeError(`history has two invokes of send ${key}`);
    if (this.sendByValue.has(e.value)) throw new TypeError(`history sends value ${JSON.stringify(e.value)} twice: values must be unique per run`);
    const s: SendState = { invoke: e, index: this.index, outcome: null };
    this.sends.set(key, s);
    this.sendByValue.set(e.value, s);
  }

  private onComplete(e: SendOk | SendFail | SendInfo): void {
    const key = `${e.producer}#${e.op}`;
    const s = this.sends.get(key);
    if (s === undefined) throw new TypeError(`history completes send ${key} that was never invoked`);
    if (s.outcome !== null) throw new TypeError(`history completes send ${key} twice`);
    s.outcome = e;
    if (e.type === 'send-ok') this.sighted(e.topic, e.partition, e.offset, { value: s.invoke.value, source: `ack of ${key}`, t: e.t });
  }

  private onPoll(e: Poll): void {
    const tp = tpKey(e.topic, e.partition);
    const rk = `${e.consumer}\u0000${tp}`;
    this.consumers.add(e.consumer);
    let r = this.readers.get(rk);
    if (r === undefined) {
      r = { expected: null, lastPollT: e.t };
      this.readers.set(rk, r);
    }
    for (const [offset, value] of e.records) {
      this.polledRecords++;
      if (r.expected !== null && offset !== r.expected) {
        const kind: AnomalyKind = offset < r.expected ? 'nonmonotonic-poll' : 'skipped-poll';
        const what = offset < r.expected ? `went back to ${offset}` : `skipped ${offset - r.expected} record(s) (${r.expected}..${offset - 1})`;
        this.report({
          kind,
          topic: e.topic,
          partition: e.partition,
          t: e.t,
          message: `consumer ${e.consumer} expected offset ${r.expected} of ${e.topic}/${e.partition} and ${what}`,
          evidence: [{ consumer: e.consumer, expected: r.expected, got: offset, value, poll: e }],
        });
      }
      r.expected = offset + 1;
      r.lastPollT = e.t;
      if (offset > (this.maxPolled.get(tp) ?? -1)) this.maxPolled.set(tp, offset);
      const seen = this.reads.get(value);
      if (seen === undefined) {
        this.reads.set(value, { n: 1, first: { value, source: `poll by ${e.consumer}`, t: e.t, topic: e.topic, partition: e.partition, offset } });
      } else seen.n++;
      this.sighted(e.topic, e.partition, offset, { value, source: `poll by ${e.consumer}`, t: e.t });
    }
  }

  private onSeek(e: ConsumerSeek): void {
    const rk = `${e.consumer}\u0000${tpKey(e.topic, e.partition)}`;
    this.consumers.add(e.consumer);
    const r = this.readers.get(rk);
    if (r === undefined) this.readers.set(rk, { expected: e.offset, lastPollT: e.t });
    else r.expected = e.offset;
  }

  private onFault(e: FaultEvent): void {
    if (e.phase === 'start') {
      if (this.faultWindows.has(e.id)) throw new TypeError(`history starts fault ${e.id} twice`);
      this.faultWindows.set(e.id, { id: e.id, kind: e.kind, target: e.target, start: e.t, end: null });
    } else {
      const w = this.faultWindows.get(e.id);
      if (w === undefined) throw new TypeError(`history ends fault ${e.id} that never started`);
      w.end = e.t;
    }
  }

  private onReplicaLog(e: ReplicaLog): void {
    const tp = tpKey(e.topic, e.partition);
    let byReplica = this.replicas.get(tp);
    if (byReplica === undefined) this.replicas.set(tp, (byReplica = new Map<string, Map<number, string>>()));
    let log = byReplica.get(e.replica);
    if (log === undefined) byReplica.set(e.replica, (log = new Map<number, string>()));
    for (let i = 0; i < e.hashes.length; i++) log.set(e.start + i, e.hashes[i]!);
    this.replicaHw.set(tp, Math.min(this.replicaHw.get(tp) ?? Infinity, e.highWatermark));
    if (e.inSync === false) this.lagging.add(`${tp}#${e.replica}`);
  }

  /** One value seen at one position: checks one-value-per-offset and one-offset-per-value. */
  private sighted(topic: string, partition: number, offset: number, s: Sighting): void {
    const tp = tpKey(topic, partition);
    let offsets = this.atOffset.get(tp);
    if (offsets === undefined) this.atOffset.set(tp, (offsets = new Map<number, Sighting>()));
    const first = offsets.get(offset);
    if (first === undefined) offsets.set(offset, s);
    else if (first.value !== s.value) {
      const k = `${tp}\u0000${offset}`;
      const known = this.inconsistentAt.get(k);
      if (known === undefined) {
        const a: Anomaly = {
          kind: 'inconsistent-offset',
          topic,
          partition,
          t: s.t,
          message: `${topic}/${partition} offset ${offset} holds ${JSON.stringify(first.value)} (${first.source}) and ${JSON.stringify(s.value)} (${s.source})`,
          evidence: [first, s],
        };
        this.inconsistentAt.set(k, a);
        this.report(a);
      } else if (known.evidence.length < 8 && !known.evidence.some((x) => (x as Sighting).value === s.value)) known.evidence.push(s);
    }

    const pos = this.position.get(s.value);
    if (pos === undefined) this.position.set(s.value, { tp, offset, sighting: s });
    else if (pos.tp !== tp || pos.offset !== offset) {
      const known = this.duplicated.get(s.value);
      const here = { topic, partition, offset, ...s };
      if (known === undefined) {
        const [t0, p0] = splitTp(pos.tp);
        const a: Anomaly = {
          kind: 'duplicate',
          topic,
          partition,
          t: s.t,
          message: `value ${JSON.stringify(s.value)} is at ${t0}/${p0} offset ${pos.offset} (${pos.sighting.source}) and at ${topic}/${partition} offset ${offset} (${s.source})`,
          evidence: [{ topic: t0, partition: p0, offset: pos.offset, ...pos.sighting }, here],
        };
        this.duplicated.set(s.value, a);
        this.report(a);
      } else if (known.evidence.length < 8) {
        const ev = known.evidence as { topic: string; partition: number; offset: number }[];
        if (!ev.some((x) => x.topic === topic && x.partition === partition && x.offset === offset)) known.evidence.push(here);
      }
    }
  }

  private report(a: Anomaly): void {
    this.counts[a.kind]++;
    this.found.push({ kind: a.kind, t: a.t });
    const ex = this.examples[a.kind];
    if (ex.length < this.maxExamples) ex.push(a);
  }

  result(): CheckResult {
    if (this.done) throw new Error('result() was already taken; make a new HistoryChecker');
    this.done = true;
    let acknowledged = 0;
    let failed = 0;
    let unknown = 0;
    let unfinished = 0;
    // producer × partition → acks in invoke order
    const acksByProducer = new Map<string, { s: SendState; ok: SendOk }[]>();
    for (const s of this.sends.values()) {
      const o = s.outcome;
      if (o === null) {
        unfinished++;
        unknown++;
        continue;
      }
      if (o.type === 'send-fail') {
        failed++;
        const read = this.reads.get(s.invoke.value);
        if (read !== undefined) {
          this.report({
            kind: 'aborted-read',
            topic: read.first.topic,
            partition: read.first.partition,
            t: s.invoke.t,
            message: `value ${JSON.stringify(s.invoke.value)} failed with ${o.code} but ${read.first.source} read it at ${read.first.topic}/${read.first.partition} offset ${read.first.offset}`,
            evidence: [s.invoke, o, read.first],
          });
        }
        continue;
      }
      if (o.type === 'send-info') {
        unknown++;
        continue;
      }
      acknowledged++;
      const k = `${o.producer}\u0000${tpKey(o.topic, o.partition)}`;
      let list = acksByProducer.get(k);
      if (list === undefined) acksByProducer.set(k, (list = []));
      list.push({ s, ok: o });
      if (this.reads.has(s.invoke.value)) continue;
      const max = this.maxPolled.get(tpKey(o.topic, o.partition)) ?? -1;
      const lost = o.offset < max;
      this.report({
        kind: lost ? 'lost-write' : 'unseen',
        topic: o.topic,
        partition: o.partition,
        t: s.invoke.t,
        message: lost
          ? `value ${JSON.stringify(s.invoke.value)} acknowledged at ${o.topic}/${o.partition} offset ${o.offset} was never read, though offset ${max} was`
          : `value ${JSON.stringify(s.invoke.value)} acknowledged at ${o.topic}/${o.partition} offset ${o.offset} was never read (highest read: ${max})`,
        evidence: [s.invoke, o],
      });
    }

    for (const list of acksByProducer.values()) {
      list.sort((a, b) => a.s.index - b.s.index);
      let prev: { s: SendState; ok: SendOk } | null = null;
      for (const cur of list) {
        if (prev !== null && cur.ok.offset < prev.ok.offset) {
          this.report({
            kind: 'nonmonotonic-send',
            topic: cur.ok.topic,
            partition: cur.ok.partition,
            t: cur.s.invoke.t,
            message: `producer ${cur.ok.producer} sent op ${cur.ok.op} after op ${prev.ok.op} on ${cur.ok.topic}/${cur.ok.partition}, but it was acknowledged at offset ${cur.ok.offset} < ${prev.ok.offset}`,
            evidence: [prev.s.invoke, prev.ok, cur.s.invoke, cur.ok],
          });
        }
        if (prev === null || cur.ok.offset > prev.ok.offset) prev = cur;
      }
    }

    this.checkReplicas();

    const faults = [...this.faultWindows.values()].sort((a, b) => a.start - b.start);
    const byFault: CheckResult['byFault'] = {};
    for (const f of this.found) {
      const active = faults.filter((w) => w.start <= f.t && f.t <= (w.end ?? Infinity) + this.graceUs);
      const kinds = active.length === 0 ? ['none'] : [...new Set(active.map((w) => w.kind))];
      for (const k of kinds) {
        const row = (byFault[k] ??= {});
        row[f.kind] = (row[f.kind] ?? 0) + 1;
      }
    }

    const partitions = new Set<string>([...this.atOffset.keys(), ...this.replicas.keys()]);
    return {
      valid: ANOMALY_KINDS.every((k) => this.counts[k] === 0),
      counts: this.counts,
      examples: this.examples,
      stats: {
        sends: this.sends.size,
        acknowledged,
        failed,
        unknown,
        unfinished,
        polledRecords: this.polledRecords,
        consumers: this.consumers.size,
        partitions: partitions.size,
      },
      faults,
      byFault,
    };
  }

  /** Every offset below the HW must be on every replica with one hash. One anomaly per offset. */
  private checkReplicas(): void {
    for (const [tp, byReplica] of this.replicas) {
      const [topic, partition] = splitTp(tp);
      const hw = this.replicaHw.get(tp)!;
      const names = [...byReplica.keys()].sort();
      for (let offset = 0; offset < hw; offset++) {
        const hashes: Record<string, string | null> = {};
        const distinct = new Set<string | null>();
        for (const name of names) {
          const h = byReplica.get(name)!.get(offset) ?? null;
          hashes[name] = h;
          distinct.add(h);
        }
        if (distinct.size <= 1 && !distinct.has(null)) continue;
        const missing = names.filter((n) => hashes[n] === null && !this.lagging.has(`${tp}#${n}`));
        distinct.delete(null);
        if (distinct.size <= 1 && missing.length === 0) continue; // only an out-of-sync replica lags
        const why = [distinct.size > 1 ? 'differs across replicas' : '', missing.length > 0 ? `is missing on ${missing.join(', ')}` : ''].filter((x) => x !== '');
        this.report({
          kind: 'replica-divergence',
          topic,
          partition,
          t: 0,
          message: `${topic}/${partition} offset ${offset} (below HW ${hw}) ${why.join(' and ')}`,
          evidence: [{ offset, highWatermark: hw, hashes }],
        });
      }
    }
  }
}

export function checkHistory(events: Iterable<HistoryEvent>, opts?: CheckerOptions): CheckResult {
  const c = new HistoryChecker(opts);
  for (const e of events) c.add(e);
  return c.result();
}

export async function checkHistoryStream(events: AsyncIterable<HistoryEvent>, opts?: CheckerOptions): Promise<CheckResult> {
  const c = new HistoryChecker(opts);
  for await (const e of events) c.add(e);
  return c.result();
}

/** One line per anomaly kind with a count, then up to `perKind` messages: for a test failure or a soak report. */
export function summarize(r: CheckResult, perKind = 3): string {
  const lines = [`valid: ${r.valid}; ${r.stats.sends} sends (${r.stats.acknowledged} ok, ${r.stats.failed} failed, ${r.stats.unknown} unknown), ${r.stats.polledRecords} records polled by ${r.stats.consumers} consumers`];
  for (const k of ANOMALY_KINDS) {
    if (r.counts[k] === 0) continue;
    lines.push(`${k}: ${r.counts[k]}`);
    for (const a of r.examples[k].slice(0, perKind)) lines.push(`  ${a.message}`);
  }
  return lines.join('\n');
}

