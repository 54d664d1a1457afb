// The fault plan of a run, from a seed: which fault, when, against whom, for how long. Same seed and options,
// same plan, so a run that found a bug replays it (TigerBeetle's VOPR and FoundationDB's simulation work the
// same way; ours drives real processes, so timing still varies, but the faults and their order do not).
//
// Targets are selectors, not broker ids: "the leader of partition 2", "a follower, pick 0.61". Who leads is
// known only when the fault fires; the pick is a number in [0, 1) drawn now and applied then to the candidates
// sorted by broker id (resolveTarget), so replay picks the same one whenever the cluster is in the same state.
import { randomInt } from 'node:crypto';

export const FAULT_KINDS = [
  'kill9-leader',
  'kill9-follower',
  'kill9-minority',
  'kill9-all',
  /** SIGSTOP past the lease, then SIGCONT: a zombie leader that must be fenced. */
  'pause-leader',
  'partition-broker-etcd',
  'partition-brokers',
  'etcd-restart',
  /** kill -9 and drop what was not fsynced (docs/faults.md: the sync ledger), then restart. */
  'lose-unsynced',
  /** Bit flip or truncation of one replica's segment file while its broker is down. */
  'corrupt-segment',
  /** A broker joins, its partitions move, another leaves, under traffic. */
  'member-change',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export type TargetSelector =
  | { role: 'leader'; partition: number }
  | { role: 'follower'; partition: number; pick: number }
  | { role: 'broker'; pick: number }
  /** `count` brokers; when `withLeaderOf` is set the leader of that partition is one of them. */
  | { role: 'minority'; count: number; withLeaderOf: number | null; picks: number[] }
  | { role: 'all' }
  | { role: 'etcd' };

export interface FaultStep {
  id: number;
  /** Since the start of the run. */
  atMs: number;
  kind: FaultKind;
  target: TargetSelector;
  /** How long the fault lasts (down time, pause, partition) before the harness undoes it. */
  durationMs: number;
  /** Kind-specific choices, drawn from the seed too. */
  params: Record<string, string | number | boolean>;
}

export interface FaultPlan {
  seed: number;
  durationMs: number;
  brokers: number;
  partitions: number;
  steps: FaultStep[];
}

export interface ScheduleOptions {
  seed: number;
  durationMs: number;
  kinds: readonly FaultKind[];
  brokers: number;
  partitions: number;
  /** Broker lease TTL: a pause must outlast it to test fencing. */
  leaseTtlMs: number;
  /** Quiet start, so producers and consumers are running before the first fault. */
  warmupMs?: number;
  /** Quiet end, so the final reads see a healed cluster. */
  cooldownMs?: number;
  /** Quiet time between faults, drawn uniformly from [min, max]. */
  gapMs?: [number, number];
}

/** mulberry32: a 32-bit state, fast, good enough to pick faults; every run of it from one seed is the same. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A fresh seed for a run that was given none (print it). */
export function newSeed(): number {
  return randomInt(0, 2 ** 32);
}

/** Parses a seed from the command line: an integer in [0, 2^32). */
export function parseSeed(s: string): number {
  if (!/^\d+$/.test(s) || Number(s) >= 2 ** 32) throw new RangeError(`seed must be an integer in [0, 4294967295], got ${JSON.stringify(s)}`);
  return Number(s);
}

function intIn(name: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${v}`);
}

export function planFaults(opts: ScheduleOptions): FaultPlan {
  intIn('seed', opts.seed, 0, 2 ** 32 - 1);
  intIn('durationMs', opts.durationMs, 1, 7 * 24 * 3600 * 1000);
  intIn('brokers', opts.brokers, 1, 64);
  intIn('partitions', opts.partitions, 1, 10_000);
  intIn('leaseTtlMs', opts.leaseTtlMs, 1, 600_000);
  const warmupMs = opts.warmupMs ?? 5_000;
  const cooldownMs = opts.cooldownMs ?? 10_000;
  const [gapMin, gapMax] = opts.gapMs ?? [2_000, 8_000];
  intIn('warmupMs', warmupMs, 0, opts.durationMs);
  intIn('cooldownMs', cooldownMs, 0, opts.durationMs);
  intIn('gapMs[0]', gapMin, 0, 3_600_000);
  intIn('gapMs[1]', gapMax, gapMin, 3_600_000);
  if (opts.kinds.length === 0) throw new RangeError('kinds must name at least one fault');
  for (const k of opts.kinds) if (!(FAULT_KINDS as readonly string[]).includes(k)) throw new TypeError(`unknown fault kind ${JSON.stringify(k)}; known: ${FAULT_KINDS.join(', ')}`);
  if (opts.kinds.includes('kill9-minority') && opts.brokers < 3) throw new RangeError(`kill9-minority needs at least 3 brokers, got ${opts.brokers}`);

  const rnd = mulberry32(opts.seed);
  const uniform = (min: number, max: number): number => Math.round(min + rnd() * (max - min));
  const partition = (): number => Math.floor(rnd() * opts.partitions);
  const ttl = opts.leaseTtlMs;
  const minority = Math.floor((opts.brokers - 1) / 2);
  const picks = (n: number): number[] => Array.from({ length: n }, () => rnd());

  const steps: FaultStep[] = [];
  let t = warmupMs;
  const end = opts.durationMs - cooldownMs;
  // Bounded: every step advances t by at least one ms of duration.
  for (let guard = 0; guard < 1_000_000; guard++) {
    const atMs = t + uniform(gapMin, gapMax);
    const kind = opts.kinds[Math.floor(rnd() * opts.kinds.length)]!;
    let target: TargetSelector;
    let durationMs: number;
    const params: FaultStep['params'] = {};
    switch (kind) {
      case 'kill9-leader':
        target = { role: 'leader', partition: partition() };
        durationMs = uniform(500, 10_000);
        break;
      case 'kill9-follower':
        target = { role: 'follower', partition: partition(), pick: rnd() };
        durationMs = uniform(500, 10_000);
        break;
      case 'kill9-minority': {
        const withLeader = rnd() < 0.5;
        target = { role: 'minority', count: minority, withLeaderOf: withLeader ? partition() : null, picks: picks(minority) };
        durationMs = uniform(500, 10_000);
        break;
      }
      case 'kill9-all':
        target = { role: 'all' };
        durationMs = uniform(500, 5_000);
        break;
      case 'pause-leader':
        target = { role: 'leader', partition: partition() };
        // Past the lease, so etcd expires it and another leader takes over while this one is frozen.
        durationMs = uniform(Math.round(1.5 * ttl), 3 * ttl);
        break;
      case 'partition-broker-etcd':
        target = rnd() < 0.5 ? { role: 'leader', partition: partition() } : { role: 'broker', pick: rnd() };
        durationMs = uniform(ttl, 3 * ttl);
        params.mode = rnd() < 0.5 ? 'reset' : 'blackhole';
        break;
      case 'partition-brokers': {
        // The minority side; the rest of the brokers (and etcd) form the other.
        const count = opts.brokers < 2 ? 0 : 1 + Math.floor(rnd() * Math.max(1, minority));
        target = { role: 'minority', count, withLeaderOf: rnd() < 0.5 ? partition() : null, picks: picks(count) };
        durationMs = uniform(ttl, 4 * ttl);
        params.mode = rnd() < 0.5 ? 'reset' : 'blackhole';
        break;
      }
      case 'etcd-restart':
        target = { role: 'etcd' };
        durationMs = uniform(500, 10_000);
        break;
      case 'lose-unsynced': {
        const r = rnd();
        target = r < 1 / 3 ? { role: 'leader', partition: partition() } : r < 2 / 3 ? { role: 'follower', partition: partition(), pick: rnd() } : { role: 'all' };
        durationMs = uniform(500, 5_000);
        // Like LazyFS's torn writes: keep a random part of the unsynced tail, not always none of it.
        params.keepTornTail = rnd() < 0.5;
        params.tornPick = rnd();
        break;
      }
      case 'corrupt-segment':
        target = { role: 'follower', partition: partition(), pick: rnd() };
        durationMs = uniform(500, 5_000);
        params.how = rnd() < 0.5 ? 'bitflip' : 'truncate';
        params.positionPick = rnd();
        params.bit = Math.floor(rnd() * 8);
        params.filePick = rnd();
        break;
      case 'member-change':
        target = { role: 'broker', pick: rnd() };
        // Time for the new broker to catch up before the old one leaves.
        durationMs = uniform(5_000, 20_000);
        break;
    }
    if (atMs + durationMs > end) break;
    steps.push({ id: steps.length + 1, atMs, kind, target, durationMs, params });
    t = atMs + durationMs;
  }
  return { seed: opts.seed, durationMs: opts.durationMs, brokers: opts.brokers, partitions: opts.partitions, steps };
}

/** The candidate at `pick` in [0, 1) of the ids sorted ascending. */
export function pickFrom(ids: readonly number[], pick: number): number {
  if (ids.length === 0) throw new RangeError('no candidate to pick from');
  const sorted = [...ids].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(pick * sorted.length))]!;
}

/** What the harness knows when a fault fires. */
export interface ClusterState {
  /** Live broker ids. */
  brokers: readonly number[];
  leaderOf(partition: number): number | null;
  replicasOf(partition: number): readonly number[];
}

/** Turns a selector into broker ids now ([] for etcd, or when no candidate exists, e.g. no leader). */
export function resolveTarget(sel: TargetSelector, state: ClusterState): number[] {
  switch (sel.role) {
    case 'leader': {
      const l = state.leaderOf(sel.partition);
      return l === null ? [] : [l];
    }
    case 'follower': {
      const l = state.leaderOf(sel.partition);
      const fs = state.replicasOf(sel.partition).filter((b) => b !== l && state.brokers.includes(b));
      return fs.length === 0 ? [] : [pickFrom(fs, sel.pick)];
    }
    case 'broker':
      return state.brokers.length === 0 ? [] : [pickFrom(state.brokers, sel.pick)];
    case 'all':
      return [...state.brokers].sort((a, b) => a - b);
    case 'etcd':
      return [];
    case 'minority': {
      const chosen: number[] = [];
      const l = sel.withLeaderOf === null ? null : state.leaderOf(sel.withLeaderOf);
      if (l !== null && sel.count > 0) chosen.push(l);
      for (const p of sel.picks) {
        if (chosen.length >= sel.count) break;
        const rest = state.brokers.filter((b) => !chosen.includes(b));
        if (rest.length === 0) break;
        chosen.push(pickFrom(rest, p));
      }
      return chosen.sort((a, b) => a - b);
    }
  }
}

export function describeTarget(sel: TargetSelector): string {
  switch (sel.role) {
    case 'leader':
      return `leader of partition ${sel.partition}`;
    case 'follower':
      return `follower of partition ${sel.partition} (pick ${sel.pick.toFixed(3)})`;
    case 'broker':
      return `broker (pick ${sel.pick.toFixed(3)})`;
    case 'all':
      return 'all brokers';
    case 'etcd':
      return 'etcd';
    case 'minority':
      return `${sel.count} broker(s)${sel.withLeaderOf === null ? '' : ` incl. the leader of partition ${sel.withLeaderOf}`}`;
  }
}

/** The plan as text, seed first, for the run's log and report. */
export function formatPlan(plan: FaultPlan): string {
  const lines = [`fault plan: seed ${plan.seed}, ${plan.steps.length} faults over ${(plan.durationMs / 1000).toFixed(0)} s, ${plan.brokers} brokers, ${plan.partitions} partitions (replay: --seed ${plan.seed})`];
  for (const s of plan.steps) {
    const params = Object.entries(s.params)
      .map(([k, v]) => `${k}=${typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(3) : String(v)}`)
      .join(' ');
    lines.push(`  #${s.id} +${(s.atMs / 1000).toFixed(1)}s ${s.kind} ${describeTarget(s.target)} for ${(s.durationMs / 1000).toFixed(1)}s${params === '' ? '' : ` ${params}`}`);
  }
  return lines.join('\n');
}
