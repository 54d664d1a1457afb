// Carries out one step of a fault plan (schedule.ts) against a FaultCluster: resolves its target against the
// cluster as it is now, breaks it, and hands back how to undo it. Each kind is one small case; what a kind
// means is documented in docs/faults.md.
import { partitionDir } from '../../broker/metadata/topic-store.js';
import { type FaultCluster, sleep } from './fault-cluster.js';
import { type ClusterState, describeTarget, type FaultStep, resolveTarget } from './schedule.js';
import { corruptSegment } from './segment-corruption.js';
import { loseUnsynced } from './unsynced-loss.js';

export interface AppliedFault {
  /** Broker ids hit ([] for etcd, or when the selector found no candidate). */
  targets: number[];
  /** What was done, for the history and the report. */
  note: string;
  /** Partitions whose leader was among the targets when the fault fired: their failover is measured. */
  ledPartitions: { partition: number; leader: number }[];
  /** Heals the fault (restart, SIGCONT, heal the proxies...). */
  undo(): Promise<void>;
}

export interface NemesisContext {
  cluster: FaultCluster;
  topic: string;
  partitions: number;
}

/** The cluster as metadata from a live broker shows it now. */
export async function clusterState(ctx: NemesisContext, exclude: readonly number[] = []): Promise<ClusterState> {
  const md = await ctx.cluster.metadata(ctx.topic, exclude);
  const parts = md?.topics[0]?.partitions ?? [];
  const live = ctx.cluster.liveIds();
  return {
    brokers: live,
    leaderOf: (p) => {
      const l = parts.find((x) => x.partition === p)?.leaderId ?? -1;
      return l >= 0 && live.includes(l) ? l : null;
    },
    replicasOf: (p) => parts.find((x) => x.partition === p)?.replicas ?? [],
  };
}

const nothing = async (): Promise<void> => undefined;

export async function applyFault(ctx: NemesisContext, step: FaultStep): Promise<AppliedFault> {
  const c = ctx.cluster;
  const state = await clusterState(ctx);
  const targets = step.kind === 'etcd-restart' ? [] : resolveTarget(step.target, state);
  const ledPartitions: AppliedFault['ledPartitions'] = [];
  for (let p = 0; p < ctx.partitions; p++) {
    const l = state.leaderOf(p);
    if (l !== null && targets.includes(l)) ledPartitions.push({ partition: p, leader: l });
  }
  const who = `${describeTarget(step.target)} → [${targets.join(',')}]`;
  if (targets.length === 0 && step.kind !== 'etcd-restart') return { targets, note: `${who}: no candidate, skipped`, ledPartitions, undo: nothing };
  const restart = async (): Promise<void> => {
    for (const id of targets) await c.startNode(id);
  };

  switch (step.kind) {
    case 'kill9-leader':
    case 'kill9-follower':
    case 'kill9-minority':
    case 'kill9-all':
      await Promise.all(targets.map((id) => c.kill9(id)));
      return { targets, note: `${who}: kill -9`, ledPartitions, undo: restart };
    case 'pause-leader':
      for (const id of targets) c.pause(id);
      return {
        targets,
        note: `${who}: SIGSTOP`,
        ledPartitions,
        undo: async () => {
          for (const id of targets) c.resume(id);
          await Promise.resolve();
        },
      };
    case 'partition-broker-etcd': {
      const mode = step.params.mode === 'blackhole' ? 'blackhole' : 'reset';
      for (const id of targets) c.node(id).etcdProxy.cut(mode);
      return {
        targets,
        note: `${who}: cut from etcd (${mode})`,
        ledPartitions,
        undo: async () => {
          for (const id of targets) c.node(id).etcdProxy.heal();
          await Promise.resolve();
        },
      };
    }
    case 'partition-brokers': {
      const mode = step.params.mode === 'blackhole' ? 'blackhole' : 'reset';
      const rest = c.memberIds().filter((id) => !targets.includes(id));
      c.cutBetween(targets, rest, mode);
      return {
        targets,
        note: `${who}: replication cut from [${rest.join(',')}] (${mode})`,
        ledPartitions,
        undo: async () => {
          c.healAll();
          await Promise.resolve();
        },
      };
    }
    case 'etcd-restart':
      await c.etcd.kill9();
      return { targets, note: 'etcd: kill -9', ledPartitions, undo: () => c.etcd.restart() };
    case 'lose-unsynced': {
      await Promise.all(targets.map((id) => c.kill9(id)));
      const cut: string[] = [];
      for (const id of targets) {
        for (let p = 0; p < ctx.partitions; p++) {
          const dir = partitionDir(c.node(id).process!.dataDir, ctx.topic, p);
          let lost = 0;
          try {
            for (const f of loseUnsynced(dir, { keepTornTail: step.params.keepTornTail === true, tornPick: Number(step.params.tornPick ?? 0) })) lost += f.before - f.after;
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
          }
          if (lost > 0) cut.push(`b${id}/p${p} -${lost} B`);
        }
      }
      return { targets, note: `${who}: kill -9, unsynced bytes dropped: ${cut.length === 0 ? 'none' : cut.join(', ')}`, ledPartitions, undo: restart };
    }
    case 'corrupt-segment': {
      const id = targets[0]!;
      await c.kill9(id);
      const p = step.target.role === 'follower' ? step.target.partition : 0;
      const how = step.params.how === 'truncate' ? 'truncate' : 'bitflip';
      let what = 'nothing to corrupt';
      try {
        const r = corruptSegment(partitionDir(c.node(id).process!.dataDir, ctx.topic, p), {
          how,
          filePick: Number(step.params.filePick ?? 0),
          positionPick: Number(step.params.positionPick ?? 0),
          bit: Number(step.params.bit ?? 0),
        });
        if (r) what = `${r.how} of ${r.file} at ${r.position} (size ${r.sizeBefore})`;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      return { targets, note: `${who}: kill -9, p${p}: ${what}`, ledPartitions, undo: restart };
    }
    case 'member-change': {
      // A spare joins (the balancer moves some replicas onto it), then the target leaves (graceful stop) and
      // comes back at the end of the fault. The spare then leaves for good the way an operator retires a
      // broker: drained first (its replicas move back), then stopped. Stopped without a drain, it would stay a
      // replica of what it held, and those partitions a replica short (replace-after-ms is off by default).
      const spare = [...c.nodes.values()].find((n) => !n.member);
      const id = targets[0]!;
      if (spare) {
        if (spare.process) await c.undrain(spare.id); // drained when it last left
        await c.startNode(spare.id);
      }
      await sleep(500);
      await c.stopNode(id);
      return {
        targets,
        note: `${who}: ${spare ? `broker ${spare.id} joined, ` : ''}broker ${id} left (SIGTERM)`,
        ledPartitions,
        undo: async () => {
          await c.startNode(id);
          if (spare) {
            const drained = await c.drain(spare.id);
            await c.stopNode(spare.id);
            spare.member = false;
            // In the report as this fault's error: the partitions it held stay a replica short until the drain ends.
            if (!drained) throw new Error(`broker ${spare.id} still held replicas when its drain's wait ended; stopped anyway`);
          }
        },
      };
    }
  }
}
