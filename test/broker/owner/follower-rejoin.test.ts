// A follower removed from the ISR must be able to come back even when nothing is appended. The leader
// decides on additions when a follower fetches or acks (ReplicaSet.onFollowerFetch), and keeps one ISR
// proposal in flight, so a fetch that arrives while a removal is pending is not considered for addition.
// Once that removal commits below minInsync, acks=all is refused, nothing is appended, and a caught-up
// follower had nothing more to say: the partition refused acks=all for good. Seen in the cluster tests
// under load (test/cluster/reassign.test.ts: preload never acked; failover.test.ts: the new leader never
// acked) with the ISR at [leader] and the follower holding everything. Here the race is forced by hand: the
// removal is held until the follower has fetched.
import { expect, it } from 'vitest';
import { LeaderRole } from '../../../broker/owner/leader-role.js';
import type { ReplicaRole } from '../../../broker/owner/messages.js';
import { ErrorCode } from '../../../schemas/errors.js';
import type { Frame } from '../../../schemas/frames.js';
import { encodeBatch } from '../../../schemas/record-batch.js';
import { until } from '../../helpers/until.js';
import { WireClient } from '../../helpers/wire-client.js';
import { type OwnerNode, ownerNodeFixture } from './owner-node-fixture.js';

const { ownerNode, onCleanup } = ownerNodeFixture('tickbus-rejoin');

const LAG_MS = 300;

const owner = (id: number): Promise<OwnerNode> => ownerNode(id, { replicaLagTimeMs: LAG_MS });

it('a follower that caught up while its removal was pending rejoins the ISR though nothing more is appended', async () => {
  const a = await owner(1);
  const base = { topic: 't', partition: 0, replicas: [1, 2], minInsync: 2, leaderEpoch: 1, leaderId: 1, process: -1 };
  const leader = (isr: number[]): ReplicaRole => ({ ...base, isr, role: 'leader', leaderEndpoint: '' });
  // The main thread's part, by hand: proposals are recorded and committed only when the test says.
  const proposals: number[][] = [];
  const hooks = { proposeIsr: (_t: string, _p: number, _e: number, isr: number[]) => void proposals.push(isr) };
  a.owner.applyRoles([leader([1, 2])], hooks);

  // No follower yet: after replicaLagTimeMs the leader proposes removing it. Held, not committed.
  await until(() => proposals.length === 1, 'the leader to propose removing the absent follower', 5_000);
  expect(proposals[0]).toEqual([1]);

  const b = await owner(2);
  b.owner.applyRoles([{ ...base, isr: [1, 2], role: 'follower', leaderEndpoint: a.url }], { proposeIsr: () => undefined });
  const role = a.partition().replica as LeaderRole;
  expect(role).toBeInstanceOf(LeaderRole);
  // It fetches and holds everything (the log is empty): caught up, while the removal is in flight.
  await until(() => role.maxFollowerLag === 0, 'the follower to fetch, caught up', 5_000);

  // The removal commits: ISR [1], below minInsync 2. acks=all is refused; nothing will be appended.
  a.owner.applyRoles([leader([1])], hooks);
  const c = await WireClient.open(a.url);
  onCleanup(() => c.close());
  const produce = (value: string): Promise<Frame> =>
    c.request({ type: 'Produce', requestId: c.id(), topic: 't', partition: 0, acks: 'all', batch: encodeBatch([{ value }]), leaderEpoch: 1 });
  expect(await produce('refused')).toMatchObject({ type: 'ErrorReply', code: ErrorCode.NOT_ENOUGH_REPLICAS });

  // The follower is caught up: the leader proposes it back, with no append to prompt it.
  await until(() => proposals.length >= 2, `the leader to propose re-adding the caught-up follower (proposals ${JSON.stringify(proposals)})`, 10 * LAG_MS);
  expect(proposals[1]).toEqual([1, 2]);
  a.owner.applyRoles([leader([1, 2])], hooks);
  expect(await produce('accepted')).toMatchObject({ type: 'ProduceAck', baseOffset: 0 });
});
