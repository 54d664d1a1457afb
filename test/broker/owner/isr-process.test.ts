// KIP-903 on the leader's side: a follower names its process in every ReplicaFetch, and the leader proposes
// it into the ISR under the process whose fetches caught up (LeaderHooks.proposeIsr's `processes`), so that
// the main thread can refuse the write when the broker is registered under another process by then
// (ClusterNode.proposeIsr; cluster-node.test.ts). A follower's acks count only on the connection its last
// served fetch came on. Real owners on real sockets; the main thread's part by hand.
import { expect, it } from 'vitest';
import type { ReplicaRole } from '../../../broker/owner/messages.js';
import type { Frame } from '../../../schemas/frames.js';
import { until } from '../../helpers/until.js';
import { WireClient } from '../../helpers/wire-client.js';
import { ownerNodeFixture } from './owner-node-fixture.js';

const { ownerNode, onCleanup } = ownerNodeFixture('tickbus-isr-process');

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

it("a follower's ack counts only on the connection of its last served fetch: an earlier connection's speaks for a log that is gone", async () => {
  const a = await ownerNode(1, { replicaLagTimeMs: 60_000 });
  const base = { topic: 't', partition: 0, replicas: [1, 2], minInsync: 1, leaderEpoch: 1, leaderId: 1, process: 500 };
  const proposals: number[][] = [];
  a.owner.applyRoles([{ ...base, isr: [1], role: 'leader', leaderEndpoint: '' }], { proposeIsr: (_t, _p, _e, isr) => void proposals.push(isr) });
  const producer = await WireClient.open(a.url);
  onCleanup(() => producer.close());
  expect(await producer.produce('t', 0, [{ value: 'a' }, { value: 'b' }, { value: 'c' }])).toMatchObject({ type: 'ProduceAck' });

  // Broker 2's old process fetched on `before`; its new process fetches from 0 on `after` (it lost its log).
  const fetch = (c: WireClient, processRevision: number): Promise<Frame> =>
    c.request({ type: 'ReplicaFetch', requestId: 0, topic: 't', partition: 0, replicaId: 2, leaderEpoch: 1, fetchOffset: 0, lastFetchedEpoch: -1, processRevision });
  const before = await WireClient.open(a.url);
  onCleanup(() => before.close());
  expect(await fetch(before, 777)).toMatchObject({ type: 'ReplicaFetchOk', divergingEpoch: -1 });
  const after = await WireClient.open(a.url);
  onCleanup(() => after.close());
  expect(await fetch(after, 778)).toMatchObject({ type: 'ReplicaFetchOk', divergingEpoch: -1 });

  // The old connection says it holds everything: not counted, so nobody proposes broker 2 into the ISR.
  before.send({ type: 'ReplicaAck', topic: 't', partition: 0, replicaId: 2, leaderEpoch: 1, logEndOffset: 3 });
  await before.barrier();
  expect(proposals).toEqual([]);
  // The same from the new process's connection counts.
  after.send({ type: 'ReplicaAck', topic: 't', partition: 0, replicaId: 2, leaderEpoch: 1, logEndOffset: 3 });
  await until(() => proposals.length === 1, 'the leader to propose broker 2 on its current connection\'s ack', 5_000);
  expect(proposals[0]).toEqual([1, 2]);
});
