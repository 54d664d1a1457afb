// KIP-903 on the leader's side: a follower names its process in every ReplicaFetch, and the leader proposes
// it into the ISR under the process whose fetches caught up (LeaderHooks.proposeIsr's `processes`), so that
// the main thread can refuse the write when the broker is registered under another process by then
// (ClusterNode.proposeIsr; cluster-node.test.ts). Real owners on real sockets; the main thread's part by hand.
import { expect, it } from 'vitest';
import type { ReplicaRole } from '../../../broker/owner/messages.js';
import { until } from '../../helpers/until.js';
import { ownerNodeFixture } from './owner-node-fixture.js';

const { ownerNode } = ownerNodeFixture('tickbus-isr-process');

it("the leader proposes a caught-up follower into the ISR under the process its fetches named, and names none it was not told", async () => {
  const a = await ownerNode(1, { replicaLagTimeMs: 300 });
  const base = { topic: 't', partition: 0, replicas: [1, 2, 3], minInsync: 1, leaderEpoch: 1, leaderId: 1 };
  const proposals: { isr: number[]; processes: Record<string, number> }[] = [];
  const leader = (isr: number[]): ReplicaRole => ({ ...base, isr, role: 'leader', leaderEndpoint: '', process: 500 });
  const hooks = { proposeIsr: (_t: string, _p: number, _e: number, isr: number[], processes: Record<string, number>) => void proposals.push({ isr, processes }) };
  a.owner.applyRoles([leader([1])], hooks);

  const b = await ownerNode(2, { replicaLagTimeMs: 300 });
  b.owner.applyRoles([{ ...base, isr: [1], role: 'follower', leaderEndpoint: a.url, process: 777 }], { proposeIsr: () => undefined });
  await until(() => proposals.length === 1, 'the leader to propose the caught-up follower 2', 5_000);
  expect(proposals[0]).toEqual({ isr: [1, 2], processes: { 2: 777 } });
  a.owner.applyRoles([leader([1, 2])], hooks);

  // A follower that does not know its process (-1) is proposed with none: the main thread falls back to its view.
  const c = await ownerNode(3, { replicaLagTimeMs: 300 });
  c.owner.applyRoles([{ ...base, isr: [1, 2], role: 'follower', leaderEndpoint: a.url, process: -1 }], { proposeIsr: () => undefined });
  await until(() => proposals.length === 2, 'the leader to propose the caught-up follower 3', 5_000);
  expect(proposals[1]).toEqual({ isr: [1, 2, 3], processes: {} });
});
