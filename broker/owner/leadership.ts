// What a client request may do on a partition in cluster mode: only the leader serves produce, subscribe
// and fetch, and the leader epoch a request carries is the fencing token (KIP-320): an older one means
// the client's metadata is stale (FENCED_LEADER_EPOCH), a newer one that this broker has not learned its
// role yet (UNKNOWN_LEADER_EPOCH). All three errors are retryable: the client refreshes metadata.
// On one node (`replica === null`) every check passes.
import { ErrorCode, TickbusError } from '../../schemas/errors.js';
import { LeaderRole } from './leader-role.js';
import type { Partition } from './partition.js';

/** The partition's leader role, or null on one node; throws when this replica may not serve clients. */
export function requireLeader(p: Partition, requestEpoch: number | undefined): LeaderRole | null {
  const role = p.replica;
  if (role === null) return null;
  const epoch = requestEpoch ?? -1;
  if (epoch >= 0 && epoch < role.leaderEpoch) {
    throw new TickbusError(ErrorCode.FENCED_LEADER_EPOCH, `${p.topic}/${p.partition}: request at leader epoch ${epoch}, the partition is at ${role.leaderEpoch}; refresh metadata`, {
      topic: p.topic,
      partition: p.partition,
    });
  }
  if (epoch > role.leaderEpoch) {
    throw new TickbusError(ErrorCode.UNKNOWN_LEADER_EPOCH, `${p.topic}/${p.partition}: request at leader epoch ${epoch}, this broker knows ${role.leaderEpoch}; retry shortly`, {
      topic: p.topic,
      partition: p.partition,
    });
  }
  if (!(role instanceof LeaderRole)) {
    throw new TickbusError(ErrorCode.NOT_LEADER, `this broker does not lead ${p.topic}/${p.partition} (it is ${role.kind}); refresh metadata`, {
      topic: p.topic,
      partition: p.partition,
    });
  }
  return role;
}
