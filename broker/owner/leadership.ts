// What a client request may do on a partition in cluster mode: only the leader serves produce, subscribe
// and fetch, and the leader epoch a request carries is the fencing token (KIP-320): an older one means
// the client's metadata is stale (FENCED_LEADER_EPOCH), a newer one that this broker has not learned its
// role yet (UNKNOWN_LEADER_EPOCH). All three errors are retryable: the client refreshes metadata.
// On one node (`replica === null`) every check passes.
// Zone-aware reads (KIP-392) add one exception: a follower serves a consumer's committed reads when
// the Subscribe asks for it (fromReplica) and the follower is not stale (follower-role.ts).
import { ErrorCode, TickbusError } from '../../schemas/errors.js';
import { FollowerRole } from './follower-role.js';
import { LeaderRole } from './leader-role.js';
import type { Partition, ReplicaRoleState } from './partition.js';

/** The partition's leader role, or null on one node; throws when this replica may not serve clients. */
export function requireLeader(p: Partition, requestEpoch: number | undefined): LeaderRole | null {
  const role = p.replica;
  if (role === null) return null;
  checkEpoch(p, role, requestEpoch);
  if (!(role instanceof LeaderRole)) {
    throw new TickbusError(ErrorCode.NOT_LEADER, `this broker does not lead ${p.topic}/${p.partition} (it is ${role.kind}); refresh metadata`, {
      topic: p.topic,
      partition: p.partition,
    });
  }
  return role;
}

/**
 * A committed read asked of any replica (Subscribe.fromReplica): the leader serves it as always; a
 * follower serves it while it has been caught up with the leader within followerReadMaxLagMs, else
 * NOT_LEADER ("stale replica": the client reads elsewhere). Epoch checks as for the leader. Returns
 * the follower role when a follower serves, null when the leader (or one node) does.
 */
export function requireReplicaRead(p: Partition, requestEpoch: number | undefined, nowMs: number): FollowerRole | null {
  const role = p.replica;
  if (role === null || role instanceof LeaderRole) {
    requireLeader(p, requestEpoch);
    return null;
  }
  checkEpoch(p, role, requestEpoch);
  if (!(role instanceof FollowerRole)) {
    throw new TickbusError(ErrorCode.NOT_LEADER, `this replica of ${p.topic}/${p.partition} is ${role.kind} and serves no reads; refresh metadata`, {
      topic: p.topic,
      partition: p.partition,
    });
  }
  if (!role.servesReads(nowMs)) {
    throw new TickbusError(ErrorCode.NOT_LEADER, `stale replica: this follower of ${p.topic}/${p.partition} is not caught up with the leader; read from the leader or another replica`, {
      topic: p.topic,
      partition: p.partition,
    });
  }
  return role;
}

function checkEpoch(p: Partition, role: ReplicaRoleState, requestEpoch: number | undefined): void {
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
}
