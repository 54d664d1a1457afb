// Divides a topic's partitions among a group's live members: balanced (sizes differ by at most
// one) and sticky (a member keeps what it had as far as balance allows), so a rebalance moves as
// few partitions as it can — and only moved partitions pause on the client.
//
// Deterministic: the same members (in the same order) and the same previous assignment always
// give the same result, so a rebalance never reshuffles by accident.

/**
 * @param partitions the topic's partition count
 * @param members member ids in seniority order (join order): earlier members win ties
 * @param previous what each member was assigned before (ids not in `members` are ignored)
 * @returns every partition in [0, partitions) assigned to exactly one member, each list ascending
 */
export function assignPartitions(partitions: number, members: readonly string[], previous: ReadonlyMap<string, readonly number[]>): Map<string, number[]> {
  const out = new Map<string, number[]>();
  const m = members.length;
  if (m === 0) return out;
  const base = Math.floor(partitions / m);
  let extra = partitions % m;
  const taken = new Uint8Array(partitions);
  const leftovers = new Map<string, number[]>();

  // 1. Everyone keeps up to `base` of what they had (lowest partitions first, for determinism).
  for (const id of members) {
    const kept: number[] = [];
    const rest: number[] = [];
    const prev = [...(previous.get(id) ?? [])].sort((a, b) => a - b);
    for (const p of prev) {
      if (!Number.isInteger(p) || p < 0 || p >= partitions || taken[p]) continue; // gone, or claimed twice
      if (kept.length < base) {
        kept.push(p);
        taken[p] = 1;
      } else rest.push(p);
    }
    out.set(id, kept);
    leftovers.set(id, rest);
  }
  // 2. The `extra` (partitions % members) places go first to members that already hold one more.
  for (const id of members) {
    if (extra === 0) break;
    const p = leftovers.get(id)![0];
    if (p !== undefined && !taken[p]) {
      out.get(id)!.push(p);
      taken[p] = 1;
      extra--;
    }
  }
  // 3. Free partitions fill everyone up to `base`, then the remaining extra places, in member order.
  const free: number[] = [];
  for (let p = 0; p < partitions; p++) if (!taken[p]) free.push(p);
  let f = 0;
  for (const id of members) {
    const list = out.get(id)!;
    while (list.length < base) list.push(free[f++]!);
  }
  for (const id of members) {
    if (extra === 0) break;
    const list = out.get(id)!;
    if (list.length === base) {
      list.push(free[f++]!);
      extra--;
    }
  }
  for (const list of out.values()) list.sort((a, b) => a - b);
  return out;
}
