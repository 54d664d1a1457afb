// With fsync 'always' a follower's ReplicaAck must name only what its fsync covered: the leader moves the
// high watermark (and answers acks=all) on it. Found by the fault harness (test/faults, lose-unsynced, seed 2):
// the follower acked its log end *when the fsync returned*, which included batches appended while the fsync
// ran; after a power loss of every broker that follower, elected leader, no longer had acknowledged records.
// Here the follower's fsyncs are held by hand, so the race is forced, not hoped for.
import { expect, it } from 'vitest';
import type { PartitionLog } from '../../../broker/log/partition-log.js';
import type { Owner } from '../../../broker/owner/owner.js';
import type { Frame } from '../../../schemas/frames.js';
import { decodeBatches, encodeBatch } from '../../../schemas/record-batch.js';
import { until } from '../../helpers/until.js';
import { WireClient } from '../../helpers/wire-client.js';
import { ownerNodeFixture } from './owner-node-fixture.js';

const { ownerNode, onCleanup } = ownerNodeFixture('tickbus-fack');

async function owner(id: number): Promise<{ owner: Owner; url: string; log: () => PartitionLog }> {
  const n = await ownerNode(id, { fsync: 'always', replicaLagTimeMs: 5_000 });
  return { owner: n.owner, url: n.url, log: n.partitionLog };
}

const values = (log: PartitionLog): string[] => (log.nextOffset === 0 ? [] : decodeBatches(log.read(0, 1 << 20)).map((r) => new TextDecoder().decode(r.value!)));

it("a follower's ack under fsync 'always' covers only what its fsync covered, so acks=all never runs ahead of the follower's disk", async () => {
  const a = await owner(1);
  const b = await owner(2);
  const role = { topic: 't', partition: 0, replicas: [1, 2], isr: [1, 2], minInsync: 2, process: -1 };
  a.owner.applyRoles([{ ...role, role: 'leader', leaderEpoch: 1, leaderId: 1, leaderEndpoint: '' }], { proposeIsr: () => undefined });
  b.owner.applyRoles([{ ...role, role: 'follower', leaderEpoch: 1, leaderId: 1, leaderEndpoint: a.url }], { proposeIsr: () => undefined });
  const c = await WireClient.open(a.url);
  onCleanup(() => c.close());
  const produce = (value: string): Promise<Frame> =>
    c.request({ type: 'Produce', requestId: c.id(), topic: 't', partition: 0, acks: 'all', batch: encodeBatch([{ value }]), leaderEpoch: 1 });
  expect(await produce('x0')).toMatchObject({ type: 'ProduceAck', baseOffset: 0 });

  // From now on the follower's fsyncs wait: the first until released, later ones for good.
  const log = b.log();
  const realFlush = log.flush.bind(log);
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let flushes = 0;
  log.flush = () => {
    flushes++;
    if (flushes === 1) return realFlush().then(() => released);
    return new Promise<void>(() => undefined);
  };

  const x1 = produce('x1');
  await until(() => values(log).includes('x1') && flushes === 1, 'the follower to append x1 and start its fsync', 5_000);
  // x2 reaches the follower while the fsync for x1 is still running.
  let x2Done = false;
  const x2 = produce('x2').then((f) => {
    x2Done = true;
    return f;
  });
  await until(() => values(log).includes('x2'), 'the follower to append x2', 5_000);
  release();
  expect(await x1).toMatchObject({ type: 'ProduceAck', baseOffset: 1 });
  // Anything the same ReplicaAck acknowledged was sent before the Pong.
  await c.barrier();
  expect(x2Done).toBe(false);
  void x2.catch(() => undefined);
});
