// Zone-aware reads (KIP-392): where a committed subscription reads a partition. Pure, so the rule
// reads in one place and is tested without sockets.
//
// The nearest copy is an in-sync replica in the client's zone: the metadata names each replica's
// zone, endpoint and whether it is in the ISR. The leader counts as such a copy when it is in the zone
// (it serves as it always does). A replica the subscription saw fail (refused, stale, disconnected)
// is skipped for a while; with no other in-zone ISR replica left, the read goes to the leader.
import type { PartitionMeta } from './metadata.js';

export interface ReadTarget {
  /** Owner endpoint to subscribe on ('' when the partition has no leader and no replica is chosen). */
  endpoint: string;
  /** Subscribe.fromReplica: a follower serves it (committed records it has learned are committed). */
  fromReplica: boolean;
}

/** How long a replica that failed a subscription is passed over before it is tried again. */
export const REPLICA_RETRY_MS = 10_000;

/** Endpoints passed over (a Set, or the subscription's endpoint → retry-time Map). */
export interface Avoided {
  has(endpoint: string): boolean;
}

const NONE: Avoided = new Set<string>();

export function readTarget(pm: PartitionMeta, zone: string | null, avoid: Avoided = NONE): ReadTarget {
  const leader: ReadTarget = { endpoint: pm.endpoint, fromReplica: false };
  const { replicas, isr, replicaZones, replicaEndpoints } = pm;
  if (zone === null || !replicas || !isr || !replicaZones || !replicaEndpoints) return leader;
  for (let i = 0; i < replicas.length; i++) {
    const id = replicas[i]!;
    const endpoint = replicaEndpoints[i] ?? '';
    if (replicaZones[i] !== zone || endpoint === '' || !isr.includes(id)) continue;
    if (id === pm.leaderId) return leader; // the leader is the nearest copy
    if (pm.endpoint === '' || avoid.has(endpoint)) continue; // no leader: followers serve nothing
    return { endpoint, fromReplica: true };
  }
  return leader;
}
