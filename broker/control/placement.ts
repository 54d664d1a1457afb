// Where a new topic's replicas go: pure, so the rules are tested without etcd.
// Rules: replicas of one partition on distinct brokers; in distinct zones whenever there are at least
// as many zones as replicas; preferred leaders (the first replica) spread evenly over the brokers.
import { ErrorCode, TickbusError } from '../../schemas/errors.js';

export interface PlacementBroker {
  id: number;
  zone: string;
}

/** Brokers ordered so that consecutive ones are in different zones as long as possible (a zone round robin). */
function zoneInterleaved(brokers: PlacementBroker[]): PlacementBroker[] {
  const byZone = new Map<string, PlacementBroker[]>();
  for (const b of [...brokers].sort((a, b) => a.id - b.id)) {
    const z = byZone.get(b.zone) ?? [];
    z.push(b);
    byZone.set(b.zone, z);
  }
  const zones = [...byZone.keys()].sort();
  const out: PlacementBroker[] = [];
  for (let i = 0; out.length < brokers.length; i++) {
    for (const z of zones) {
      const b = byZone.get(z)![i];
      if (b) out.push(b);
    }
  }
  return out;
}

/**
 * Replica lists (preferred leader first) for `partitions` partitions of replication factor `rf`.
 * `offset` rotates the start so that many topics do not all put partition 0's leader on one broker.
 */
export function placeReplicas(brokers: PlacementBroker[], partitions: number, rf: number, offset = 0): number[][] {
  if (!Number.isInteger(rf) || rf < 1) throw new TickbusError(ErrorCode.INVALID_CONFIG, `replication factor must be a positive integer, got ${rf}`);
  if (rf > brokers.length) {
    throw new TickbusError(
      ErrorCode.INVALID_CONFIG,
      `replication factor ${rf} needs ${rf} live brokers; the cluster has ${brokers.length}`,
    );
  }
  const ring = zoneInterleaved(brokers);
  const zoneCount = new Set(brokers.map((b) => b.zone)).size;
  const out: number[][] = [];
  for (let p = 0; p < partitions; p++) {
    const start = (p + offset) % ring.length;
    const chosen: PlacementBroker[] = [];
    const zones = new Set<string>();
    // First pass: distinct zones while there are enough of them; second pass: fill with any broker.
    for (const wantNewZone of [true, false]) {
      for (let i = 0; i < ring.length && chosen.length < rf; i++) {
        const b = ring[(start + i) % ring.length]!;
        if (chosen.includes(b)) continue;
        if (wantNewZone && zoneCount >= rf && zones.has(b.zone)) continue;
        chosen.push(b);
        zones.add(b.zone);
      }
    }
    out.push(chosen.map((b) => b.id));
  }
  return out;
}
