import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ANOMALY_KINDS, type AnomalyKind, type CheckResult, checkHistory, checkHistoryStream, summarize } from './checker.js';
import {
  type HistoryEvent,
  HistoryRecorder,
  JsonLinesSink,
  type Poll,
  type SendInvoke,
  type SendOk,
  type Unstamped,
  parseEvent,
  parseJsonLines,
  readHistoryFile,
  toJsonLines,
} from './history.js';

/** Builds a history by hand; every event one µs after the last. */
function history() {
  const events: HistoryEvent[] = [];
  let t = 0;
  const push = (e: Unstamped): void => {
    t++;
    events.push({ ...e, t, wall: 1_700_000_000_000 + t });
  };
  const b = {
    events,
    send(producer: string, op: number, value: string, partition = 0) {
      push({ type: 'send-invoke', producer, op, topic: 't', partition, value });
      return b;
    },
    ok(producer: string, op: number, offset: number, partition = 0) {
      push({ type: 'send-ok', producer, op, topic: 't', partition, offset });
      return b;
    },
    fail(producer: string, op: number, code = 'NOT_ENOUGH_REPLICAS') {
      push({ type: 'send-fail', producer, op, code });
      return b;
    },
    info(producer: string, op: number) {
      push({ type: 'send-info', producer, op, reason: 'timeout' });
      return b;
    },
    poll(consumer: string, records: [number, string][], partition = 0) {
      push({ type: 'poll', consumer, topic: 't', partition, records });
      return b;
    },
    seek(consumer: string, offset: number, partition = 0) {
      push({ type: 'consumer-seek', consumer, topic: 't', partition, offset, reason: 'restarted' });
      return b;
    },
    fault(phase: 'start' | 'end', id: number, kind: string) {
      push({ type: 'fault', phase, id, kind, target: 'broker 1' });
      return b;
    },
    replica(replica: string, hw: number, hashes: string[], start = 0, partition = 0) {
      push({ type: 'replica-log', topic: 't', partition, replica, highWatermark: hw, start, hashes });
      return b;
    },
    /** Sends and acks `values` in order from producer `p`, offsets from `first`. */
    acked(p: string, values: string[], first = 0, partition = 0) {
      values.forEach((v, i) => b.send(p, first + i, v, partition).ok(p, first + i, first + i, partition));
      return b;
    },
  };
  return b;
}

function only(r: CheckResult): Partial<Record<AnomalyKind, number>> {
  return Object.fromEntries(ANOMALY_KINDS.filter((k) => r.counts[k] > 0).map((k) => [k, r.counts[k]]));
}

describe('checker: one planted anomaly of each kind is caught with its records', () => {
  it('passes a clean history: acked, read by two consumers, one restarting with a seek, replicas equal', () => {
    const h = history()
      .acked('p', ['a', 'b', 'c'])
      .send('p', 3, 'd')
      .info('p', 3)
      .send('p', 4, 'e')
      .fail('p', 4)
      .poll('c1', [[0, 'a'], [1, 'b']])
      .poll('c1', [[2, 'c']])
      .seek('c2', 1)
      .poll('c2', [[1, 'b'], [2, 'c']])
      .seek('c2', 0)
      .poll('c2', [[0, 'a'], [1, 'b'], [2, 'c']])
      .replica('r1', 3, ['a', 'b', 'c'])
      .replica('r2', 3, ['a', 'b', 'c', 'x']);
    const r = checkHistory(h.events);
    expect(summarize(r)).toContain('valid: true');
    expect(r.valid).toBe(true);
    expect(r.stats).toMatchObject({ sends: 5, acknowledged: 3, failed: 1, unknown: 1, polledRecords: 8, consumers: 2 });
  });

  it('lost write: acked at 1, never read, while offset 2 was read', () => {
    const h = history().acked('p', ['a', 'b', 'c']).poll('c1', [[0, 'a']]).seek('c1', 2).poll('c1', [[2, 'c']]);
    const r = checkHistory(h.events);
    expect(only(r)).toEqual({ 'lost-write': 1 });
    const a = r.examples['lost-write'][0]!;
    expect(a.message).toContain('"b"');
    expect(a.evidence).toEqual([expect.objectContaining({ type: 'send-invoke', value: 'b' }), expect.objectContaining({ type: 'send-ok', offset: 1 })]);
  });

  it('unseen: acked at the end of the log and never read', () => {
    const h = history().acked('p', ['a', 'b']).poll('c1', [[0, 'a']]);
    const r = checkHistory(h.events);
    expect(only(r)).toEqual({ unseen: 1 });
    expect(r.examples.unseen[0]!.evidence[0]).toMatchObject({ value: 'b' });
  });

  it('duplicate: one value read at two offsets', () => {
    const h = history().acked('p', ['a', 'b']).poll('c1', [[0, 'a'], [1, 'b'], [2, 'a']]);
    const r = checkHistory(h.events);
    expect(only(r)).toEqual({ duplicate: 1 });
    expect(r.examples.duplicate[0]!.evidence).toEqual([
      expect.objectContaining({ offset: 0, value: 'a', source: 'ack of p#0' }),
      expect.objectContaining({ offset: 2, value: 'a', source: 'poll by c1' }),
    ]);
  });

  it('inconsistent offsets: two consumers read different values at one offset', () => {
    const h = history().send('p', 0, 'a').info('p', 0).send('q', 0, 'b').info('q', 0).poll('c1', [[0, 'a']]).poll('c2', [[0, 'b']]);
    const r = checkHistory(h.events);
    expect(only(r)).toEqual({ 'inconsistent-offset': 1 });
    expect(r.examples['inconsistent-offset'][0]!.evidence).toEqual([
      expect.objectContaining({ value: 'a', source: 'poll by c1' }),
      expect.objectContaining({ value: 'b', source: 'poll by c2' }),
    ]);
  });

  it('inconsistent offsets: an ack and a read disagree', () => {
    const h = history().acked('p', ['a']).send('q', 0, 'b').info('q', 0).poll('c1', [[0, 'b']]);
    const r = checkHistory(h.events);
    // 'a' was acked at 0 and never read, and 0 is the highest offset read: also unseen.
    expect(only(r)).toEqual({ 'inconsistent-offset': 1, unseen: 1 });
  });

  it('non-monotonic poll: a consumer goes back without a seek', () => {
    const h = history().acked('p', ['a', 'b']).poll('c1', [[0, 'a'], [1, 'b']]).poll('c1', [[1, 'b']]);
    const r = checkHistory(h.events);
    expect(only(r)).toEqual({ 'nonmonotonic-poll': 1 });
    expect(r.examples['nonmonotonic-poll'][0]!.evidence[0]).toMatchObject({ consumer: 'c1', expected: 2, got: 1 });
  });

  it('skipped poll: a consumer jumps a record without a seek (and with one it is fine)', () => {
    const skipping = history().acked('p', ['a', 'b', 'c']).poll('c1', [[0, 'a'], [2, 'c']]).poll('c2', [[0, 'a'], [1, 'b'], [2, 'c']]);
    const r = checkHistory(skipping.events);
    expect(only(r)).toEqual({ 'skipped-poll': 1 });
    expect(r.examples['skipped-poll'][0]!.message).toContain('skipped 1 record(s) (1..1)');

    const seeking = history().acked('p', ['a', 'b', 'c']).poll('c1', [[0, 'a']]).seek('c1', 2).poll('c1', [[2, 'c']]).poll('c2', [[0, 'a'], [1, 'b'], [2, 'c']]);
    expect(checkHistory(seeking.events).valid).toBe(true);
  });

  it('a seek sets the first offset a consumer must read', () => {
    const h = history().acked('p', ['a', 'b']).seek('c1', 0).poll('c1', [[1, 'b']]).poll('c2', [[0, 'a']]);
    expect(only(checkHistory(h.events))).toEqual({ 'skipped-poll': 1 });
  });

  it('non-monotonic send: the later send of one producer got the lower offset, whatever order the acks came in', () => {
    const h = history().send('p', 0, 'a').send('p', 1, 'b').ok('p', 1, 0).ok('p', 0, 1).poll('c1', [[0, 'b'], [1, 'a']]);
    const r = checkHistory(h.events);
    expect(only(r)).toEqual({ 'nonmonotonic-send': 1 });
    expect(r.examples['nonmonotonic-send'][0]!.evidence).toHaveLength(4);

    // Each send is compared with the highest offset of the sends before it, not only with the one just before.
    const third = history().send('p', 0, 'a').ok('p', 0, 2).send('p', 1, 'b').ok('p', 1, 0).send('p', 2, 'c').ok('p', 2, 1).poll('c1', [[0, 'b'], [1, 'c'], [2, 'a']]);
    expect(only(checkHistory(third.events))).toEqual({ 'nonmonotonic-send': 2 });

    const pipelined = history().send('p', 0, 'a').send('p', 1, 'b').ok('p', 1, 1).ok('p', 0, 0).poll('c1', [[0, 'a'], [1, 'b']]);
    expect(checkHistory(pipelined.events).valid).toBe(true);
  });

  it('replica divergence: different bytes, or a missing record, below the HW; the tail above it is free', () => {
    const h = history()
      .acked('p', ['a', 'b', 'c'])
      .poll('c1', [[0, 'a'], [1, 'b'], [2, 'c']])
      .replica('r1', 2, ['a', 'b', 'c'])
      .replica('r2', 2, ['a', 'X', 'y'])
      .replica('r3', 2, ['a']);
    const r = checkHistory(h.events);
    expect(only(r)).toEqual({ 'replica-divergence': 1 });
    expect(r.examples['replica-divergence'][0]!.evidence[0]).toEqual({ offset: 1, highWatermark: 2, hashes: { r1: 'b', r2: 'X', r3: null } });
    expect(r.examples['replica-divergence'][0]!.message).toBe('t/0 offset 1 (below HW 2) differs across replicas and is missing on r3');

    // A HW past what every replica holds: the committed record is nowhere.
    const nowhere = checkHistory(history().replica('r1', 3, ['a', 'b']).replica('r2', 3, ['a', 'b']).events);
    expect(only(nowhere)).toEqual({ 'replica-divergence': 1 });
    expect(nowhere.examples['replica-divergence'][0]!.message).toBe('t/0 offset 2 (below HW 3) is missing on r1, r2');
  });

  it('a replica outside the final ISR may lag below the HW, but what it holds must agree', () => {
    const lagging = (hashes: string[]) => ({ type: 'replica-log' as const, topic: 't', partition: 0, replica: 'r3', highWatermark: 3, start: 0, hashes, inSync: false });
    const base = history().replica('r1', 3, ['a', 'b', 'c']).replica('r2', 3, ['a', 'b', 'c']);
    // Behind (its broker was down at the end): lag, not divergence.
    expect(only(checkHistory([...base.events, { ...lagging(['a']), t: 99, wall: 0 }]))).toEqual({});
    // Holding a different record: divergence even out of sync.
    const forked = checkHistory([...base.events, { ...lagging(['a', 'X']), t: 99, wall: 0 }]);
    expect(only(forked)).toEqual({ 'replica-divergence': 1 });
    expect(forked.examples['replica-divergence'][0]!.message).toBe('t/0 offset 1 (below HW 3) differs across replicas');
    // An in-sync replica that lacks a committed record is still divergence.
    const short = checkHistory(history().replica('r1', 3, ['a', 'b', 'c']).replica('r2', 3, ['a']).events);
    expect(only(short)).toEqual({ 'replica-divergence': 2 });
  });

  it('replica logs may arrive in chunks', () => {
    const h = history().replica('r1', 4, ['a', 'b']).replica('r1', 4, ['c', 'd'], 2).replica('r2', 4, ['a', 'b', 'c', 'd']);
    expect(checkHistory(h.events).valid).toBe(true);
  });

  it('aborted read: a consumer read a value whose send failed', () => {
    const h = history().send('p', 0, 'a').fail('p', 0).poll('c1', [[0, 'a']]);
    const r = checkHistory(h.events);
    expect(only(r)).toEqual({ 'aborted-read': 1 });
  });

  it('attributes anomalies to the faults active around them', () => {
    const h = history().fault('start', 1, 'kill9-leader').acked('p', ['a', 'b']).fault('end', 1, 'kill9-leader').poll('c1', [[1, 'b']]).poll('c2', [[0, 'x']]);
    const r = checkHistory(h.events, { graceUs: 0 });
    expect(only(r)).toEqual({ 'lost-write': 1, 'inconsistent-offset': 1 });
    expect(r.byFault).toEqual({ 'kill9-leader': { 'lost-write': 1 }, none: { 'inconsistent-offset': 1 } });
    expect(r.faults).toEqual([expect.objectContaining({ id: 1, kind: 'kill9-leader', start: 1 })]);
  });

  it('keeps counts exact and examples bounded', () => {
    const h = history();
    for (let i = 0; i < 50; i++) h.acked('p', [`v${i}`], i);
    const r = checkHistory(h.events, { maxExamples: 5 });
    expect(r.counts.unseen).toBe(50);
    expect(r.examples.unseen).toHaveLength(5);
  });

  it('rejects a history that is not one: completion without invoke, a value sent twice', () => {
    expect(() => checkHistory(history().ok('p', 0, 0).events)).toThrow(/never invoked/);
    expect(() => checkHistory(history().send('p', 0, 'a').send('q', 0, 'a').events)).toThrow(/twice/);
    expect(() => checkHistory([], { maxExamples: -1 })).toThrow(RangeError);
  });
});

describe('history as JSON lines', () => {
  it('round-trips through a file written with a small buffer, and the checker reads it streaming', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tickbus-history-'));
    try {
      const file = path.join(dir, 'h.jsonl');
      let mono = 1000;
      const rec = new HistoryRecorder(new JsonLinesSink(file, 1024), { monoUs: () => (mono += 7), wallMs: () => 42 });
      const written: HistoryEvent[] = [];
      for (let i = 0; i < 300; i++) {
        written.push(rec.record<SendInvoke>({ type: 'send-invoke', producer: 'p', op: i, topic: 't', value: `v${i}` }));
        written.push(rec.record<SendOk>({ type: 'send-ok', producer: 'p', op: i, topic: 't', partition: 0, offset: i }));
      }
      written.push(rec.record<Poll>({ type: 'poll', consumer: 'c', topic: 't', partition: 0, records: Array.from({ length: 300 }, (_, i) => [i, `v${i}`] as [number, string]) }));
      rec.close();
      expect(written[0]).toMatchObject({ t: 7, wall: 42 });
      const text = fs.readFileSync(file, 'utf8');
      expect([...parseJsonLines(text)]).toEqual(written);
      expect(toJsonLines(written)).toBe(text);
      const r = await checkHistoryStream(readHistoryFile(file));
      expect(r.valid).toBe(true);
      expect(r.stats.acknowledged).toBe(300);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names the line of a malformed event', () => {
    expect(() => parseEvent('{"type":"poll","t":1,"wall":2,"consumer":"c","topic":"t","partition":0}', 7)).toThrow('history line 7: poll.records must be an array');
    expect(() => parseEvent('{"type":"send-ok","t":1,"wall":2', 3)).toThrow(/history line 3: not JSON/);
    expect(() => parseEvent('{"type":"nope","t":1,"wall":2}')).toThrow(/unknown type "nope"/);
    expect(() => [...parseJsonLines('{"type":"send-fail","t":1,"wall":2,"producer":"p","op":"x","code":"E"}')]).toThrow(/send-fail.op must be a number/);
  });
});

// ---- property: a history generated from a model log passes; one planted anomaly is reported as exactly its kind

interface Model {
  events: HistoryEvent[];
  logs: string[][];
}

type Step = { kind: 'send'; producer: number; partition: number; outcome: 'ok' | 'fail' | 'info-written' | 'info-lost' } | { kind: 'complete'; pick: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('send' as const), producer: fc.nat(2), partition: fc.nat(2), outcome: fc.constantFrom('ok' as const, 'ok' as const, 'fail' as const, 'info-written' as const, 'info-lost' as const) }),
  fc.record({ kind: fc.constant('complete' as const), pick: fc.nat() }),
);
const readerArb: fc.Arbitrary<Reader> = fc.record({ partition: fc.nat(2), start: fc.nat(), length: fc.nat(), batch: fc.integer({ min: 1, max: 4 }), seek: fc.boolean(), restart: fc.option(fc.record({ start: fc.nat(), length: fc.nat() })) });
interface ModelInput {
  steps: Step[];
  readers: Reader[];
  hwPick: number[];
}
interface Reader {
  partition: number;
  start: number;
  length: number;
  batch: number;
  seek: boolean;
  restart: { start: number; length: number } | null;
}
const modelArb: fc.Arbitrary<ModelInput> = fc.record({
  steps: fc.array(stepArb, { maxLength: 40 }),
  readers: fc.array(readerArb, { maxLength: 4 }),
  hwPick: fc.array(fc.nat(), { minLength: 3, maxLength: 3 }),
});

/** Sends from a model log (offsets assigned at invoke, acks completed in any order), readers of contiguous ranges, a final full read, equal replicas. */
function buildModel(m: ModelInput): Model {
  const events: HistoryEvent[] = [];
  let t = 0;
  const push = (e: Unstamped): void => {
    events.push({ ...e, t: ++t, wall: t });
  };
  const logs: string[][] = [[], [], []];
  const ops = [0, 0, 0, 0];
  const pending: { producer: string; op: number; partition: number; offset: number; outcome: string }[] = [];
  let n = 0;
  const send = (producerIdx: number, partition: number, outcome: string): void => {
    const producer = `p${producerIdx}`;
    const op = ops[producerIdx]!++;
    const value = `v${n++}`;
    push({ type: 'send-invoke', producer, op, topic: 't', partition, value });
    const written = outcome === 'ok' || outcome === 'info-written';
    if (written) logs[partition]!.push(value);
    pending.push({ producer, op, partition, offset: written ? logs[partition]!.length - 1 : -1, outcome });
  };
  const complete = (i: number): void => {
    const [s] = pending.splice(i, 1);
    if (s === undefined) return;
    if (s.outcome === 'ok') push({ type: 'send-ok', producer: s.producer, op: s.op, topic: 't', partition: s.partition, offset: s.offset });
    else if (s.outcome === 'fail') push({ type: 'send-fail', producer: s.producer, op: s.op, code: 'NOT_ENOUGH_REPLICAS' });
    else push({ type: 'send-info', producer: s.producer, op: s.op, reason: 'timeout' });
  };
  // A fixed prelude so every planting has something to work on: three acked sends of p3 on partition 0.
  for (let i = 0; i < 3; i++) {
    send(3, 0, 'ok');
    complete(pending.length - 1);
  }
  push({ type: 'fault', phase: 'start', id: 1, kind: 'kill9-leader', target: 'leader of t/0' });
  for (const s of m.steps) {
    if (s.kind === 'send') send(s.producer, s.partition, s.outcome);
    else if (pending.length > 0) complete(s.pick % pending.length);
  }
  while (pending.length > 0) complete(0);
  push({ type: 'fault', phase: 'end', id: 1, kind: 'kill9-leader', target: 'leader of t/0' });

  const read = (consumer: string, partition: number, start: number, length: number, batch: number, seek: boolean): void => {
    const log = logs[partition]!;
    if (log.length === 0) return;
    const from = start % log.length;
    const to = Math.min(log.length, from + (length % (log.length + 1)));
    if (seek || from !== 0) push({ type: 'consumer-seek', consumer, topic: 't', partition, offset: from, reason: 'subscribed' });
    for (let o = from; o < to; o += batch) {
      const records: [number, string][] = [];
      for (let i = o; i < Math.min(to, o + batch); i++) records.push([i, log[i]!]);
      push({ type: 'poll', consumer, topic: 't', partition, records });
    }
  };
  m.readers.forEach((r, i) => {
    read(`c${i}`, r.partition, r.start, r.length, r.batch, r.seek);
    if (r.restart !== null) read(`c${i}`, r.partition, r.restart.start, r.restart.length, r.batch, true);
  });
  logs.forEach((log, p) => read(`final-${p}`, p, 0, log.length, 3, true));
  logs.forEach((log, p) => {
    if (log.length === 0) return;
    const hw = 1 + (m.hwPick[p]! % log.length);
    push({ type: 'replica-log', topic: 't', partition: p, replica: 'r1', highWatermark: hw, start: 0, hashes: log.slice() });
    push({ type: 'replica-log', topic: 't', partition: p, replica: 'r2', highWatermark: hw, start: 0, hashes: log.slice(0, hw) });
    push({ type: 'replica-log', topic: 't', partition: p, replica: 'r3', highWatermark: hw, start: 0, hashes: [...log.slice(0, hw), 'uncommitted-tail'] });
  });
  return { events, logs };
}

type Planter = (m: Model, pick: number) => HistoryEvent[];
const at = <T>(xs: T[], pick: number): T => xs[pick % xs.length]!;
const stamp = (e: Unstamped): HistoryEvent => ({ ...e, t: 1e9, wall: 1e9 });
const log0 = (m: Model): string[] => m.logs[0]!;

const planters: Record<AnomalyKind, Planter> = {
  // Remove every read of one acked value below the top of partition 0; each reader seeks over the hole.
  'lost-write': (m, pick) => {
    const acked = m.events.filter((e): e is SendOk => e.type === 'send-ok' && e.partition === 0 && e.offset < log0(m).length - 1);
    const victim = at(acked, pick).offset;
    return m.events.flatMap((e): HistoryEvent[] => {
      if (e.type !== 'poll' || e.partition !== 0) return [e];
      const i = e.records.findIndex(([o]) => o === victim);
      if (i < 0) return [e];
      const seek: HistoryEvent = { type: 'consumer-seek', consumer: e.consumer, topic: 't', partition: 0, offset: victim + 1, reason: 'planted', t: e.t, wall: e.wall };
      return [{ ...e, records: e.records.slice(0, i) }, seek, { ...e, records: e.records.slice(i + 1) }];
    });
  },
  // An ack past the end of the log that no one read.
  unseen: (m, pick) => {
    const p = pick % 3;
    const end = m.logs[p]!.length;
    return [...m.events, stamp({ type: 'send-invoke', producer: 'planted', op: 0, topic: 't', partition: p, value: 'planted' }), stamp({ type: 'send-ok', producer: 'planted', op: 0, topic: 't', partition: p, offset: end })];
  },
  // A reader finds a value of partition 0 again past its end.
  duplicate: (m, pick) => {
    const end = log0(m).length;
    return [...m.events, stamp({ type: 'consumer-seek', consumer: 'planted', topic: 't', partition: 0, offset: end, reason: 'planted' }), stamp({ type: 'poll', consumer: 'planted', topic: 't', partition: 0, records: [[end, at(log0(m), pick)]] })];
  },
  // A reader finds a value no one sent at an offset that holds another.
  'inconsistent-offset': (m, pick) => {
    const o = pick % log0(m).length;
    return [...m.events, stamp({ type: 'consumer-seek', consumer: 'planted', topic: 't', partition: 0, offset: o, reason: 'planted' }), stamp({ type: 'poll', consumer: 'planted', topic: 't', partition: 0, records: [[o, 'never-sent']] })];
  },
  // One record of some poll delivered twice in a row.
  'nonmonotonic-poll': (m, pick) => {
    const polls = m.events.map((e, i) => [e, i] as const).filter(([e]) => e.type === 'poll' && e.records.length > 0);
    const [e, i] = at(polls, pick);
    const p = e as Poll;
    const j = pick % p.records.length;
    const events = m.events.slice();
    events[i] = { ...p, records: [...p.records.slice(0, j + 1), p.records[j]!, ...p.records.slice(j + 1)] };
    return events;
  },
  // A reader of partition 0 that jumps from o to o + 2.
  'skipped-poll': (m, pick) => {
    const o = pick % (log0(m).length - 2);
    return [...m.events, stamp({ type: 'consumer-seek', consumer: 'planted', topic: 't', partition: 0, offset: o, reason: 'planted' }), stamp({ type: 'poll', consumer: 'planted', topic: 't', partition: 0, records: [[o, log0(m)[o]!], [o + 2, log0(m)[o + 2]!]] })];
  },
  // Two acked sends of one producer on one partition swap offsets (and values, so the log still agrees).
  'nonmonotonic-send': (m, pick) => {
    const oks = m.events.filter((e): e is SendOk => e.type === 'send-ok' && e.producer === 'p3');
    const a = at(oks, pick);
    const b = oks.find((e) => e.offset > a.offset) ?? oks.find((e) => e.offset < a.offset)!;
    const invA = m.events.find((e): e is SendInvoke => e.type === 'send-invoke' && e.producer === 'p3' && e.op === a.op)!;
    const invB = m.events.find((e): e is SendInvoke => e.type === 'send-invoke' && e.producer === 'p3' && e.op === b.op)!;
    return m.events.map((e) => {
      if (e === a) return { ...a, offset: b.offset };
      if (e === b) return { ...b, offset: a.offset };
      if (e === invA) return { ...invA, value: invB.value };
      if (e === invB) return { ...invB, value: invA.value };
      return e;
    });
  },
  // One replica's hash below the HW changed.
  'replica-divergence': (m, pick) => {
    const logs = m.events.filter((e) => e.type === 'replica-log');
    const victim = at(logs, pick);
    const i = pick % victim.highWatermark;
    return m.events.map((e) => (e === victim ? { ...victim, hashes: victim.hashes.map((h, j) => (j === i ? `${h}-flipped` : h)) } : e));
  },
  // A value someone read turns out to have failed.
  'aborted-read': (m, pick) => {
    const polled = new Set(m.events.flatMap((e) => (e.type === 'poll' ? e.records.map(([, v]) => v) : [])));
    const invokes = m.events.filter((e): e is SendInvoke => e.type === 'send-invoke' && polled.has(e.value));
    const inv = at(invokes, pick);
    return m.events.map((e) =>
      (e.type === 'send-ok' || e.type === 'send-info') && e.producer === inv.producer && e.op === inv.op ? { type: 'send-fail', producer: e.producer, op: e.op, code: 'PLANTED', t: e.t, wall: e.wall } : e,
    );
  },
};

describe('checker property: model histories', () => {
  it('passes every history generated from a model log', () => {
    fc.assert(
      fc.property(modelArb, (m) => {
        const r = checkHistory(buildModel(m).events);
        if (!r.valid) throw new Error(summarize(r));
      }),
      { numRuns: 300 },
    );
  });

  it('reports exactly the kind of the one anomaly planted', () => {
    fc.assert(
      fc.property(modelArb, fc.constantFrom(...ANOMALY_KINDS), fc.nat(), (m, kind, pick) => {
        const planted = planters[kind](buildModel(m), pick);
        const r = checkHistory(planted);
        expect(only(r), summarize(r)).toEqual({ [kind]: r.counts[kind] });
        expect(r.counts[kind]).toBeGreaterThan(0);
      }),
      { numRuns: 500 },
    );
  });

  it('covers every kind in the planting table', () => {
    expect(Object.keys(planters).sort()).toEqual([...ANOMALY_KINDS].sort());
  });
});
