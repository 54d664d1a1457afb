// The control plane against a real etcd: three brokers' ClusterNodes (main-thread part only) elect one
// controller, create a replicated topic, re-elect partition leaders when a broker goes silent (its
// lease expires), and a silent broker fences itself on its own clock before anyone else can lead.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterNode, CLUSTER_DEFAULTS } from '../../../broker/control/cluster-node.js';
import { type PartitionRecord, processRevisionOf } from '../../../broker/control/records.js';
import { DEFAULT_LOG_CONFIG } from '../../../broker/log/log-config.js';
import { type EtcdProcess, startEtcd } from '../../helpers/etcd.js';
import { until } from '../../helpers/until.js';

let etcd: EtcdProcess;
const nodes: ClusterNode[] = [];

async function node(id: number, zone: string, cluster: string): Promise<ClusterNode> {
  const n = await ClusterNode.start(
    { ...CLUSTER_DEFAULTS, etcd: [etcd.url], cluster, nodeId: id, zone, leaseTtlMs: 2_000, fenceMarginMs: 500 },
    { id, zone, bootstrap: `ws://127.0.0.1:${7000 + id}/`, owners: [`ws://127.0.0.1:${7100 + id}/`] },
  );
  nodes.push(n);
  return n;
}

/** Brokers `first`, `first + 1`, `first + 2` in zones z1-z3 of one cluster, once one is controller and each sees all three. */
/**
 * Waits until `victim` is out of the ISR of every partition in `followed` (their records from before it
 * restarted), in `watcher`'s view; then only the ISR may have changed: same leader, same epoch.
 */
async function outOfIsrsOnly(watcher: ClusterNode, topic: string, followed: PartitionRecord[], victim: number, timeoutMs: number): Promise<void> {
  await until(
    () => followed.every((p) => !watcher.view.partition(topic, p.partition)!.value.isr.includes(victim)),
    'the restarted follower out of the ISRs it followed',
    timeoutMs,
  );
  for (const p of followed) {
    expect(watcher.view.partition(topic, p.partition)!.value).toMatchObject({ leader: p.leader, leaderEpoch: p.leaderEpoch, isr: p.isr.filter((r) => r !== victim) });
  }
}

async function threeBrokers(cluster: string, first: number): Promise<[ClusterNode, ClusterNode, ClusterNode]> {
  const three: [ClusterNode, ClusterNode, ClusterNode] = [await node(first, 'z1', cluster), await node(first + 1, 'z2', cluster), await node(first + 2, 'z3', cluster)];
  await until(() => three.filter((n) => n.isController).length === 1 && three.every((n) => n.view.brokers.size === 3), 'one controller and every broker seeing all three', 10_000);
  return three;
}

beforeAll(async () => {
  etcd = await startEtcd();
});

afterAll(async () => {
  for (const n of nodes) await n.close().catch(() => undefined);
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset if beforeAll failed
  await etcd?.stop();
});

describe('cluster control plane on etcd', () => {
  it('elects one controller, places replicas in distinct zones, and fails a silent leader over with epoch + 1', async () => {
    const cluster = 'c1';
    const [a, b, c] = await threeBrokers(cluster, 1);
    const controllers = [a, b, c].filter((n) => n.isController);
    expect(controllers).toHaveLength(1);

    const t = await b.createTopic({ name: 'orders', partitions: 3, replicationFactor: 3, minInsync: 2, config: DEFAULT_LOG_CONFIG });
    expect(t.partitions).toBe(3);
    const parts = b.view.partitionsOf('orders').map((p) => p.value);
    for (const p of parts) {
      expect(new Set(p.replicas).size).toBe(3);
      expect(p.leaderEpoch).toBe(1);
      expect(p.isr.sort()).toEqual([1, 2, 3]);
    }
    // Preferred leaders spread over the brokers.
    expect(new Set(parts.map((p) => p.leader)).size).toBe(3);

    // The leader of partition 0 goes silent (no keepalives, no new registration: as a SIGSTOPped process).
    const p0 = parts[0]!;
    const silent = [a, b, c].find((n) => n.nodeId === p0.leader)!;
    const others = [a, b, c].filter((n) => n !== silent);
    const silentAt = performance.now();
    silent.goSilent(true);
    await until(() => !silent.live, 'the silent broker to fence itself', 5_000);
    const fencedAfterMs = performance.now() - silentAt;
    await until(() => (others[0]!.view.partition('orders', 0)?.value.leaderEpoch ?? 0) >= 2, 'a new leader epoch for orders/0', 15_000);
    const failedOverAfterMs = performance.now() - silentAt;
    const next = others[0]!.view.partition('orders', 0)!.value;
    expect(next.leader).not.toBe(p0.leader);
    expect(next.isr).not.toContain(p0.leader);
    // The silent broker stopped leading on its own clock before etcd could have let another lead.
    expect(fencedAfterMs).toBeLessThan(failedOverAfterMs);
    // A deposed leader cannot change the ISR it no longer owns.
    expect(await silent.proposeIsr('orders', 0, 1, [p0.leader], {}, p0.isr)).toBe(false);
    // The new leader can, at its epoch only.
    const leader = others.find((n) => n.nodeId === next.leader)!;
    expect(await leader.proposeIsr('orders', 0, next.leaderEpoch - 1, next.isr, {}, next.isr)).toBe(false);
    expect(await leader.proposeIsr('orders', 0, next.leaderEpoch, [next.leader], {}, next.isr)).toBe(true);
    await until(() => leader.view.partition('orders', 0)?.value.isr.length === 1, "leader.view.partition('orders', 0)?.value.isr.length === 1", 5_000);
    // It adds only registered brokers (KIP-903): not the silent one once it has shut down; the live one, yes.
    const live = others.find((n) => n !== leader)!;
    await silent.close();
    await until(() => leader.view.brokers.get(p0.leader) === undefined, "the shut-down broker gone from the leader's view", 5_000);
    expect(await leader.proposeIsr('orders', 0, next.leaderEpoch, [next.leader, p0.leader], {}, [next.leader])).toBe(false);
    // A follower whose fetches named another process than the one registered now is refused (it restarted
    // after catching up); named as the registered one, it is taken in under that process.
    const liveProcess = processRevisionOf(leader.view.brokers.get(live.nodeId)!);
    expect(await leader.proposeIsr('orders', 0, next.leaderEpoch, [next.leader, live.nodeId], { [live.nodeId]: liveProcess - 1 }, [next.leader])).toBe(false);
    expect(await leader.proposeIsr('orders', 0, next.leaderEpoch, [next.leader, live.nodeId], { [live.nodeId]: liveProcess }, [next.leader])).toBe(true);
    await until(() => leader.view.partition('orders', 0)?.value.isr.length === 2, 'the live follower back in the ISR', 5_000);
    expect(leader.view.partition('orders', 0)!.value.isrProcesses?.[live.nodeId]).toBe(liveProcess);
  }, 60_000);

  it('takes a restarted follower out of the ISRs it was in (a new registration), until it catches up', async () => {
    const cluster = 'c5';
    const [a, b, c] = await threeBrokers(cluster, 41);
    await a.createTopic({ name: 'rs', partitions: 3, replicationFactor: 3, minInsync: 2, config: DEFAULT_LOG_CONFIG });
    // Restart a broker that is not the controller: it registers again under a new lease.
    const victim = [a, b, c].find((n) => !n.isController)!;
    const watcher = [a, b, c].find((n) => n !== victim)!;
    const before = watcher.view.partitionsOf('rs').map((p) => p.value);
    const followed = before.filter((p) => p.leader !== victim.nodeId);
    expect(followed.length).toBeGreaterThan(0);
    await victim.close();
    await node(victim.nodeId, `z${victim.nodeId - 40}`, cluster);
    await outOfIsrsOnly(watcher, 'rs', followed, victim.nodeId, 10_000);
  }, 60_000);

  it('keeps a follower that lost its lease and took a new one in the same process in the ISRs; its process is unchanged', async () => {
    const cluster = 'c6';
    const [a, b, c] = await threeBrokers(cluster, 51);
    await a.createTopic({ name: 'ls', partitions: 3, replicationFactor: 3, minInsync: 2, config: DEFAULT_LOG_CONFIG });
    const [victim, other] = [a, b, c].filter((n) => !n.isController);
    const watcher = [a, b, c].find((n) => n.isController)!;
    const first = watcher.view.brokers.get(victim!.nodeId)!;
    // Partitions it follows (one it leads moves to another leader while it is away, and loses it from its ISR).
    const followedByVictim = watcher.view.partitionsOf('ls').filter((p) => p.value.leader !== victim!.nodeId).map((p) => p.value.partition);
    expect(followedByVictim.length).toBeGreaterThan(0);
    // Keepalives stop, the lease is lost on the broker's own clock, and the same process registers again.
    victim!.goSilent();
    await until(() => {
      const now = watcher.view.brokers.get(victim!.nodeId);
      return now !== undefined && now.value.incarnation !== first.value.incarnation;
    }, 'the victim registered again under a new lease', 15_000);
    const again = watcher.view.brokers.get(victim!.nodeId)!;
    expect(processRevisionOf(again)).toBe(processRevisionOf(first));
    // Barrier: a real restart of the other follower, taken out of the ISRs it follows by a later pass of
    // the controller. By then the pass that saw the victim's new lease has run too.
    const followedByOther = watcher.view.partitionsOf('ls').filter((p) => p.value.leader !== other!.nodeId).map((p) => p.value.partition);
    await other!.close();
    const restarted = await node(other!.nodeId, `z${other!.nodeId - 50}`, cluster);
    await until(
      () => followedByOther.every((p) => !watcher.view.partition('ls', p)!.value.isr.includes(other!.nodeId)),
      'the restarted follower out of the ISRs it follows',
      15_000,
    );
    expect(processRevisionOf(watcher.view.brokers.get(restarted.nodeId)!)).toBeGreaterThan(processRevisionOf(first));
    for (const p of followedByVictim) expect(watcher.view.partition('ls', p)!.value.isr, `ls/${p}`).toContain(victim!.nodeId);
  }, 60_000);

  it('takes a follower that restarted out of the ISRs even when the controller that sees it back never saw its old process', async () => {
    const cluster = 'c7';
    const three = await threeBrokers(cluster, 61);
    await three[0].createTopic({ name: 'cf', partitions: 3, replicationFactor: 3, minInsync: 2, config: DEFAULT_LOG_CONFIG });
    const controller = three.find((n) => n.isController)!;
    const [victim, survivor] = three.filter((n) => n !== controller) as [ClusterNode, ClusterNode];
    await until(() => survivor.view.partitionsOf('cf').length === 3, "the topic in the survivor's view", 5_000);
    const followed = survivor.view.partitionsOf('cf').filter((p) => p.value.leader === survivor.nodeId).map((p) => p.value);
    expect(followed.length).toBeGreaterThan(0);
    // The victim stops; then the controller goes too, and the survivor takes over without ever having
    // seen the victim's process: only the partition records know which process was in sync.
    await victim.close();
    await until(() => !survivor.view.brokers.has(victim.nodeId), "the victim gone from the survivor's view", 10_000);
    await controller.close();
    await until(() => survivor.isController, 'the survivor elected controller', 15_000);
    for (const p of followed) expect(survivor.view.partition('cf', p.partition)!.value.isr).toContain(victim.nodeId);
    await node(victim.nodeId, `z${victim.nodeId - 60}`, cluster);
    await outOfIsrsOnly(survivor, 'cf', followed, victim.nodeId, 15_000);
  }, 60_000);

  it("refuses a leader's ISR proposal made from an ISR the record no longer has: a restarted follower the controller took out does not come back with it", async () => {
    const cluster = 'c9';
    const three = await threeBrokers(cluster, 81);
    await three[0].createTopic({ name: 'st', partitions: 3, replicationFactor: 3, minInsync: 1, config: DEFAULT_LOG_CONFIG });
    const victim = three.find((n) => !n.isController)!;
    const leader = three.find((n) => n !== victim)!;
    await until(() => leader.view.partitionsOf('st').length === 3, "the topic in the leader's view", 5_000);
    const before = leader.view.partitionsOf('st').find((p) => p.value.leader === leader.nodeId)!.value;
    const third = before.isr.find((id) => id !== leader.nodeId && id !== victim.nodeId)!;
    // The follower restarts; the controller takes it out of the ISR (no new epoch: only the ISR changes).
    await victim.close();
    await node(victim.nodeId, `z${victim.nodeId - 80}`, cluster);
    await until(() => !leader.view.partition('st', before.partition)!.value.isr.includes(victim.nodeId), 'the restarted follower out of the ISR', 15_000);
    // The leader's owner had not yet been told, and proposes a shrink of the third member from the ISR it
    // was given, which still lists the victim: the write must not take the victim back in.
    const stale = before.isr.filter((id) => id !== third);
    expect(await leader.proposeIsr('st', before.partition, before.leaderEpoch, stale, {}, before.isr)).toBe(false);
    expect(leader.view.partition('st', before.partition)!.value.isr).not.toContain(victim.nodeId);
  }, 60_000);

  it('a topic whose replication factor exceeds the live brokers is a typed error', async () => {
    const n = await node(11, 'z1', 'c2');
    await until(() => n.isController, 'n.isController', 10_000);
    await expect(n.createTopic({ name: 'big', partitions: 1, replicationFactor: 3, minInsync: 2, config: DEFAULT_LOG_CONFIG })).rejects.toMatchObject({
      codeName: 'INVALID_CONFIG',
    });
    await expect(n.createTopic({ name: 'ok', partitions: 1, replicationFactor: 1, minInsync: 2, config: DEFAULT_LOG_CONFIG })).rejects.toMatchObject({
      codeName: 'INVALID_CONFIG',
    });
  }, 30_000);

  it("an owner's new endpoint reaches the other brokers' view, under the same registration and lease", async () => {
    const cluster = 'c4';
    const a = await node(31, 'z1', cluster);
    const b = await node(32, 'z2', cluster);
    await until(() => a.live && b.live && b.broker(31) !== undefined, 'both registered and b seeing a', 10_000);
    const before = b.broker(31)!;
    const registeredAt = b.view.brokers.get(31)!.modRevision;
    expect(before.owners).toEqual(['ws://127.0.0.1:7131/']);

    // The owner thread came back on another port (ephemeral owner ports).
    expect(await a.setOwnerEndpoint(0, 'ws://127.0.0.1:7931/')).toBe(true);
    await until(() => b.broker(31)?.owners[0] === 'ws://127.0.0.1:7931/', "b's view of a's new owner endpoint", 5_000);
    // The same record but for the endpoint, and it now names the process's first registration (records.ts).
    expect(b.broker(31)).toEqual({ ...before, owners: ['ws://127.0.0.1:7931/'], processRevision: registeredAt });
    expect(a.live).toBe(true);
    // Writing what is already there changes nothing and still succeeds.
    expect(await a.setOwnerEndpoint(0, 'ws://127.0.0.1:7931/')).toBe(true);
    await expect(a.setOwnerEndpoint(1, 'ws://127.0.0.1:7932/')).rejects.toBeInstanceOf(RangeError);

    // Still bound to a's lease: revoking it (close) removes the record at once, not a TTL later.
    await a.close();
    await until(() => b.broker(31) === undefined, "a's record gone with its lease", 3_000);
    expect(await a.setOwnerEndpoint(0, 'ws://127.0.0.1:7933/')).toBe(false);
  }, 30_000);

  it('with etcd down every broker fences itself, and they register again when it is back', async () => {
    const cluster = 'c3';
    const x = await node(21, 'z1', cluster);
    const y = await node(22, 'z2', cluster);
    await until(() => x.live && y.live && (x.isController || y.isController), 'x.live && y.live && (x.isController || y.isController)', 10_000);
    await etcd.kill9();
    await until(() => !x.live && !y.live, '!x.live && !y.live', 5_000);
    expect(x.isController || y.isController).toBe(false);
    await etcd.restart();
    await until(() => x.live && y.live && (x.isController || y.isController), 'x.live && y.live && (x.isController || y.isController)', 20_000).catch((err: unknown) => {
      throw new Error(`${String(err)}; x ${JSON.stringify({ live: x.live, ctl: x.view.controller, brokers: [...x.view.brokers.keys()] })} y ${JSON.stringify({ live: y.live, ctl: y.view.controller })}`);
    });
    await x.createTopic({ name: 'after', partitions: 1, replicationFactor: 2, minInsync: 1, config: DEFAULT_LOG_CONFIG });
    await until(() => y.view.partitionsOf('after').length === 1, "the other broker's view of the new topic", 5_000);
  }, 60_000);

  it('after an etcd outage every partition keeps its leader, under its new registration at epoch + 1, and its ISR', async () => {
    const cluster = 'c8';
    const three = await threeBrokers(cluster, 71);
    await three[0].createTopic({ name: 'eo', partitions: 3, replicationFactor: 3, minInsync: 2, config: DEFAULT_LOG_CONFIG });
    const watcher = three[0];
    await until(() => watcher.view.partitionsOf('eo').length === 3, "the topic in the watcher's view", 5_000);
    const before = watcher.view.partitionsOf('eo').map((p) => p.value);
    await etcd.kill9();
    await until(() => three.every((n) => !n.live), 'every broker fenced', 5_000);
    await etcd.restart();
    await until(
      () => {
        const now = watcher.view.partitionsOf('eo').map((p) => p.value);
        return now.length === 3 && now.every((p) => p.leaderEpoch > before[p.partition]!.leaderEpoch && watcher.view.brokers.get(p.leader)?.value.incarnation === p.leaderIncarnation);
      },
      'every partition at a new epoch, led under a current registration',
      30_000,
    );
    for (const p of before) {
      const now = watcher.view.partition('eo', p.partition)!.value;
      // A follower would have led with the pre-etcd-outage rule: every leader looked restarted.
      expect(now.leader, `eo/${p.partition}`).toBe(p.leader);
      expect(now.leaderEpoch, `eo/${p.partition}`).toBe(p.leaderEpoch + 1);
      expect([...now.isr].sort(), `eo/${p.partition}`).toEqual([...p.isr].sort());
    }
  }, 90_000);
});
