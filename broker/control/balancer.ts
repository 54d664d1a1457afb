// Which partitions to move, and where: pure, so the rules are property-tested without etcd
// (test/broker/control/balancer.property.test.ts). The controller feeds it the cluster as its records
// say and starts the moves it returns as reassignments (KIP-455 style: learners first, then the switch).
//
// Rules, in the order they are applied (each later rule only acts on partitions no earlier one moved):
// 1. Evacuate: a replica on an excluded broker (drained, or gone longer than replaceAfterMs) is
//    replaced, in the same position of the list, by an eligible broker.
// 2. Zones: a partition with two replicas in one zone while the eligible brokers span enough zones gets
//    one of them replaced by a broker in a zone it does not use (placement.ts's rule, kept after moves).
// 3. Replica counts: while the most loaded eligible broker holds at least two replicas more than the least
//    loaded one, one replica moves from the first to the second, if that does not make the partition's
//    zone spread worse; a follower replica is moved before a leader's (moving it costs the producers nothing).
// 4. Preferred leaders: while one eligible broker is the preferred leader (first replica) of at least two
//    partitions more than another, and a chain of swaps joins them (the first leads a partition the next
//    holds a replica of, and so on), the chain is applied: each swap puts the next broker first in that
//    partition's list. The ends' counts change by one, the others' do not. No data moves; the
//    controller's preferred-leader rule then moves leadership once the new first replica is in the ISR.
//    A direct swap alone is not enough: 7 leading [7,6] [7,3] [7,3] and 5 leading only [5,6], with 6
//    leading [6,5] and [6,7], need 7 -> 6 -> 5 (balancer.property.test.ts found it). With no such chain
//    left, the counts are the best the replica lists allow (a semi-matching with no cost-reducing path is
//    optimal: Harvey, Ladner, Lovasz, Tamir, "Semi-matchings for bipartite graphs", 2006), and with
//    replica counts within one of each other that is within one.
// Every candidate choice breaks ties by the least loaded broker, then the lowest id, so the plan is a
// function of the input. Rules 3 and 4 strictly lower the spread of counts (or, for a chain longer than
// the plan may hold, shorten the shortest chain), so repeated plans converge.
// A partition with a replica on a broker that is neither eligible nor excluded (gone, not yet for
// replaceAfterMs) is left alone: its broker may come back.

export interface BalancerBroker {
  id: number;
  zone: string;
}

export interface BalancerPartition {
  topic: string;
  partition: number;
  /** The target replica list (for a partition being moved: what it will be), preferred leader first. */
  replicas: readonly number[];
  /** A move is in progress: counted at its target, never moved again until it completes. */
  moving: boolean;
}

export interface BalancerInput {
  /** Brokers that may hold replicas: registered and not draining. */
  eligible: readonly BalancerBroker[];
  /** Brokers whose replicas must move away: draining, or gone longer than replaceAfterMs. */
  excluded: readonly number[];
  partitions: readonly BalancerPartition[];
  /** At most this many moves to propose (the controller passes its bound minus the moves in progress). */
  maxMoves: number;
}

export type MoveReason = 'evacuate' | 'zone' | 'replicas' | 'leaders';

export interface Move {
  topic: string;
  partition: number;
  /** The new replica list, preferred leader first; same length as before. */
  replicas: number[];
  reason: MoveReason;
}

export function planMoves(input: BalancerInput): Move[] {
  if (!Number.isInteger(input.maxMoves) || input.maxMoves < 0) throw new RangeError(`maxMoves must be a non-negative integer, got ${input.maxMoves}`);
  const zoneOf = new Map(input.eligible.map((b) => [b.id, b.zone]));
  const excluded = new Set(input.excluded.filter((id) => !zoneOf.has(id)));
  const zoneCount = new Set(zoneOf.values()).size;
  const ids = [...zoneOf.keys()].sort((a, b) => a - b);
  const load = new Map<number, number>(ids.map((id) => [id, 0]));
  const leaders = new Map<number, number>(ids.map((id) => [id, 0]));
  for (const p of input.partitions) {
    for (const r of p.replicas) if (load.has(r)) load.set(r, load.get(r)! + 1);
    const first = p.replicas[0];
    if (first !== undefined && leaders.has(first)) leaders.set(first, leaders.get(first)! + 1);
  }

  const moves: Move[] = [];
  const touched = new Set<BalancerPartition>();
  // Partitions the balancer may change: not moving, every replica on an eligible or excluded broker.
  const movable = input.partitions.filter((p) => !p.moving && p.replicas.every((r) => zoneOf.has(r) || excluded.has(r)));
  const full = (): boolean => moves.length >= input.maxMoves;

  const distinctZones = (rs: readonly number[]): number => new Set(rs.map((r) => zoneOf.get(r) ?? `?${r}`)).size;
  /** The spread a partition of this size can have among the eligible brokers' zones. */
  const bestSpread = (n: number): number => Math.min(n, zoneCount);
  const byLoad = (m: Map<number, number>) => (a: number, b: number) => m.get(a)! - m.get(b)! || a - b;

  const record = (p: BalancerPartition, replicas: number[], reason: MoveReason, countReplicas: boolean): void => {
    if (countReplicas) {
      for (const r of p.replicas) if (load.has(r)) load.set(r, load.get(r)! - 1);
      for (const r of replicas) load.set(r, load.get(r)! + 1);
    }
    const before = p.replicas[0];
    if (before !== undefined && leaders.has(before)) leaders.set(before, leaders.get(before)! - 1);
    leaders.set(replicas[0]!, leaders.get(replicas[0]!)! + 1);
    touched.add(p);
    moves.push({ topic: p.topic, partition: p.partition, replicas, reason });
  };

  /** The least loaded eligible broker not in `keep`, in a zone `keep` does not use when possible. */
  const candidate = (keep: readonly number[]): number | undefined => {
    const used = new Set(keep.map((r) => zoneOf.get(r)));
    const free = ids.filter((id) => !keep.includes(id)).sort(byLoad(load));
    return free.find((id) => !used.has(zoneOf.get(id))) ?? free[0];
  };

  // 1. Evacuate.
  for (const p of movable) {
    if (full()) return moves;
    if (!p.replicas.some((r) => excluded.has(r))) continue;
    const next = [...p.replicas];
    let ok = true;
    for (let i = 0; i < next.length && ok; i++) {
      if (!excluded.has(next[i]!)) continue;
      const keep = next.filter((r, j) => j !== i && !excluded.has(r));
      const c = candidate(keep);
      if (c === undefined) ok = false;
      else next[i] = c;
    }
    // Not enough eligible brokers to keep the replication factor: wait for one (a drain reports it).
    if (ok) record(p, next, 'evacuate', true);
  }

  // 2. Zones.
  for (const p of movable) {
    if (full()) return moves;
    if (touched.has(p) || distinctZones(p.replicas) >= bestSpread(p.replicas.length)) continue;
    // Replace the last replica (never the preferred leader while another will do) whose zone repeats.
    const seen = new Set<string>();
    let dup = -1;
    p.replicas.forEach((r, i) => {
      const z = zoneOf.get(r)!;
      if (seen.has(z)) dup = i;
      seen.add(z);
    });
    if (dup < 0) continue;
    const keep = p.replicas.filter((_, j) => j !== dup);
    const c = candidate(keep);
    if (c === undefined || distinctZones([...keep, c]) <= distinctZones(p.replicas)) continue;
    const next = [...p.replicas];
    next[dup] = c;
    record(p, next, 'zone', true);
  }

  // 3. Replica counts.
  while (!full()) {
    const m = moveOneReplica();
    if (!m) break;
    record(m.p, m.replicas, 'replicas', true);
  }

  // 4. Preferred leaders.
  while (!full()) {
    const chain = shortestLeaderChain();
    if (!chain) break;
    const room = input.maxMoves - moves.length;
    if (chain.length > room) {
      // Too long for this plan: a part of it would be taken from the far end (see the loop's note below),
      // and only as the plan's first proposal, where the chain is the shortest of all partitions.
      if (moves.length > 0) break;
      chain.splice(0, chain.length - room);
    }
    for (const s of chain) record(s.p, s.replicas, 'leaders', false);
  }
  // Why a partial chain still converges: on a shortest chain x -> ... -> y (x leads at least two more than
  // y), every broker between leads exactly one less than x (one leading fewer would end a shorter chain,
  // one leading as many would start one). Its last k swaps leave their first broker leading one less:
  // no count spreads, and x's chain to it is k shorter. Plans that change nothing else shorten it until
  // it fits, and a whole chain lowers the spread.
  return moves;

  function moveOneReplica(): { p: BalancerPartition; replicas: number[] } | null {
    const order = [...ids].sort(byLoad(load));
    for (const hi of [...order].reverse()) {
      for (const lo of order) {
        if (load.get(hi)! - load.get(lo)! < 2) break;
        // Followers first: moving the preferred leader's replica moves leadership too.
        for (const followerOnly of [true, false]) {
          for (const p of movable) {
            if (touched.has(p)) continue;
            const i = p.replicas.indexOf(hi);
            if (i < 0 || (followerOnly && i === 0) || p.replicas.includes(lo)) continue;
            const next = [...p.replicas];
            next[i] = lo;
            if (distinctZones(next) < distinctZones(p.replicas)) continue;
            return { p, replicas: next };
          }
        }
      }
    }
    return null;
  }

  /**
   * The shortest chain of leader swaps, over partitions not yet in this plan, from a broker that leads at
   * least two more partitions than the chain's last one: each step puts the next broker first in a
   * partition the previous one leads. Sources are tried from the most leaders down, neighbours from the
   * fewest leaders up (then the lowest id); the first shortest chain wins.
   */
  function shortestLeaderChain(): { p: BalancerPartition; replicas: number[] }[] | null {
    const ledBy = new Map<number, BalancerPartition[]>(ids.map((id) => [id, []]));
    for (const p of movable) if (!touched.has(p)) ledBy.get(p.replicas[0]!)?.push(p);
    const fewest = byLoad(leaders);
    let best: { p: BalancerPartition; from: number; to: number }[] | null = null;
    const least = Math.min(...ids.map((id) => leaders.get(id)!));
    for (const x of [...ids].sort(fewest).reverse()) {
      if (leaders.get(x)! - least < 2) break;
      // Breadth first from x, only as deep as a chain that would beat the best so far.
      const via = new Map<number, { p: BalancerPartition; from: number }>();
      let level = [x];
      for (let depth = 1; level.length > 0 && (!best || depth < best.length); depth++) {
        const next: number[] = [];
        let end: number | undefined;
        for (const u of level) {
          const steps: { v: number; p: BalancerPartition }[] = [];
          for (const p of ledBy.get(u)!) for (const v of p.replicas) if (v !== x && leaders.has(v) && !via.has(v)) steps.push({ v, p });
          steps.sort((a, b) => fewest(a.v, b.v));
          for (const { v, p } of steps) {
            if (via.has(v)) continue;
            via.set(v, { p, from: u });
            next.push(v);
            if (end === undefined && leaders.get(v)! <= leaders.get(x)! - 2) end = v;
          }
          if (end !== undefined) break;
        }
        if (end !== undefined) {
          const chain: { p: BalancerPartition; from: number; to: number }[] = [];
          for (let v = end; v !== x; ) {
            const s = via.get(v)!;
            chain.unshift({ p: s.p, from: s.from, to: v });
            v = s.from;
          }
          best = chain;
          break;
        }
        level = next;
      }
      if (best?.length === 1) break;
    }
    return (
      best?.map(({ p, from, to }) => {
        const replicas = [...p.replicas];
        replicas[0] = to;
        replicas[p.replicas.indexOf(to)] = from;
        return { p, replicas };
      }) ?? null
    );
  }
}
