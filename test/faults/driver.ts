// One fault run, end to end: etcd and brokers behind proxies, a replicated topic, SDK producers and consumers
// recording a history, the seeded plan carried out by the nemesis, then heal, settle, a full read of every
// partition from its leader, the brokers stopped, every replica dumped, and the checker over the whole history.
// Used by the CI scenarios (scenarios.test.ts) and the soak (soak.ts). Every run logs its seed first; the
// same seed replays the same plan.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AcksMode } from '../../client/index.js';
import { partitionDir } from '../../broker/metadata/topic-store.js';
import type { DecodedRecord } from '../../schemas/record-batch.js';
import { ErrorReplyReceived, readAll } from '../helpers/wire-client.js';
import { type CheckResult, checkHistoryStream } from './checker.js';
import { FaultCluster, sleep, within } from './fault-cluster.js';
import { HistoryRecorder, JsonLinesSink, readHistoryFile } from './history.js';
import { applyFault, type AppliedFault, clusterState, type NemesisContext } from './nemesis.js';
import { dumpReplica } from './replica-dump.js';
import { type FaultKind, type FaultPlan, formatPlan, planFaults } from './schedule.js';
import { clientBus, newTimeline, type Timeline, Workload } from './workload.js';

export const MODES = {
  /** The guarantee under test: nothing acknowledged is ever lost. */
  strong: { acks: 'all', fsync: 'always', unclean: false },
  /** Acked by the leader alone: a failover may lose what the followers had not fetched. */
  leader: { acks: 'leader', fsync: 'always', unclean: false },
  /** fsync every 500 ms: a power loss of every replica loses up to that window. */
  interval: { acks: 'all', fsync: 'interval', unclean: false },
  /** An out-of-sync replica may be elected when no in-sync one is alive. */
  unclean: { acks: 'all', fsync: 'always', unclean: true },
} as const satisfies Record<string, { acks: AcksMode; fsync: string; unclean: boolean }>;
export type Mode = keyof typeof MODES;

export interface RunOptions {
  seed: number;
  durationMs: number;
  mode: Mode;
  kinds: readonly FaultKind[];
  brokers?: number;
  partitions?: number;
  producers?: number;
  consumers?: number;
  leaseTtlMs?: number;
  warmupMs?: number;
  cooldownMs?: number;
  gapMs?: [number, number];
  paceMs?: number;
  /** The topic's segment size (256 KiB when unset); smaller gives corrupt-segment sealed segments to hit in a short run. */
  segmentBytes?: number;
  /** More broker options (e.g. ['--verify-on-open', 'active'] to see what a fix changed). */
  brokerArgs?: string[];
  /** Where the history (history.jsonl) and result go; a temp dir when unset. */
  outDir?: string;
  log?: (line: string) => void;
}

export interface FaultRecord {
  id: number;
  kind: FaultKind;
  /** Seconds since the run started. */
  startS: number;
  endS: number;
  note: string;
  error?: string;
}

export interface Failover {
  faultId: number;
  kind: FaultKind;
  partition: number;
  from: number;
  to: number | null;
  /** From the fault to metadata naming another live leader; null when none within the bound. */
  ms: number | null;
}

export interface RunResult {
  seed: number;
  mode: Mode;
  plan: FaultPlan;
  check: CheckResult;
  faults: FaultRecord[];
  failovers: Failover[];
  timeline: Timeline;
  /** Per partition: high watermark at the end and the replicas dumped. */
  partitions: { partition: number; highWatermark: number; replicas: number[]; stops: string[] }[];
  historyPath: string;
  elapsedMs: number;
  /** Things the end phase could not do within its bounds (not anomalies, but worth reading). */
  warnings: string[];
}

export const TOPIC = 'faults';
/** Leader look-ups the final read of one partition may make (it moves at most once or twice as the cluster settles). */
const FINAL_READ_ATTEMPTS = 20;

/**
 * Everything in `partition`, read from its leader. Leadership may still move after the cluster settled
 * (the controller hands it back to a restarted preferred replica), so a retryable answer (NOT_LEADER)
 * means: look the leader up again and read from the start once more. Bounded by the caller's `within`.
 */
async function finalRead(cluster: FaultCluster, partition: number): Promise<DecodedRecord[]> {
  for (let attempt = 1; ; attempt++) {
    const md = await cluster.metadata(TOPIC);
    const endpoint = md?.topics[0]?.partitions.find((x) => x.partition === partition)?.endpoint ?? '';
    try {
      if (endpoint === '') throw new Error('no leader');
      return await readAll(endpoint, TOPIC, partition, 0);
    } catch (err) {
      const again = endpoint === '' || (err instanceof ErrorReplyReceived && err.retryable);
      if (!again || attempt >= FINAL_READ_ATTEMPTS) throw err;
      await sleep(500);
    }
  }
}

async function until(cond: () => Promise<boolean> | boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await sleep(100);
  }
  return false;
}

export async function runFaults(o: RunOptions): Promise<RunResult> {
  const log = o.log ?? ((l: string) => void process.stderr.write(l + '\n'));
  const brokers = o.brokers ?? 3;
  const partitions = o.partitions ?? 3;
  const leaseTtlMs = o.leaseTtlMs ?? 2_000;
  const mode = MODES[o.mode];
  const plan = planFaults({ seed: o.seed, durationMs: o.durationMs, kinds: o.kinds, brokers, partitions, leaseTtlMs, warmupMs: o.warmupMs, cooldownMs: o.cooldownMs, gapMs: o.gapMs });
  log(`mode ${o.mode} (acks ${mode.acks}, fsync ${mode.fsync}${mode.unclean ? ', unclean election' : ''}, RF 3, min.insync 2)`);
  log(formatPlan(plan));
  const outDir = o.outDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'tickbus-faults-'));
  fs.mkdirSync(outDir, { recursive: true });
  log(`history and broker logs: ${outDir}`);
  const historyPath = path.join(outDir, 'history.jsonl');
  const started = performance.now();
  const warnings: string[] = [];
  const faults: FaultRecord[] = [];
  const failovers: Failover[] = [];
  const timeline = newTimeline();
  const h = new HistoryRecorder(new JsonLinesSink(historyPath));
  const args = ['--replica-lag-ms', '1000', ...(mode.unclean ? ['--unclean-leader-election'] : []), ...(o.brokerArgs ?? [])];
  const cluster = await FaultCluster.start({ brokers, spares: o.kinds.includes('member-change') ? 1 : 0, leaseTtlMs, args, syncLedger: true });
  const ctx: NemesisContext = { cluster, topic: TOPIC, partitions };
  let workload: Workload | null = null;
  const dataDirs = new Map<number, string>();
  try {
    const admin = await clientBus(cluster.bootstrapUrls(), 'faults-admin');
    try {
      await admin.admin.createTopic(TOPIC, {
        partitions,
        replicationFactor: 3,
        minInsync: 2,
        config: { fsync: mode.fsync, ...(mode.fsync === 'interval' ? { fsyncIntervalMs: 500 } : {}), segmentBytes: o.segmentBytes ?? 256 * 1024 },
      });
    } finally {
      await admin.close();
    }
    const full = await until(async () => {
      const md = await cluster.metadata(TOPIC);
      return md?.topics[0]?.partitions.length === partitions && md.topics[0].partitions.every((p) => p.isr?.length === 3 && (p.leaderId ?? -1) >= 0);
    }, 30_000);
    if (!full) throw new Error('the topic did not get a leader and a full ISR on every partition within 30 s');

    const t0 = performance.now();
    workload = await Workload.start(cluster.bootstrapUrls(), { topic: TOPIC, partitions, producers: o.producers ?? 3, consumers: o.consumers ?? 2, acks: mode.acks, window: 4, paceMs: o.paceMs ?? 5, originMs: t0 }, h, timeline);
    const sec = (): number => (performance.now() - t0) / 1000;
    const measuring: Promise<void>[] = [];

    for (const step of plan.steps) {
      const wait = t0 + step.atMs - performance.now();
      if (wait > 0) await sleep(wait);
      const rec: FaultRecord = { id: step.id, kind: step.kind, startS: sec(), endS: sec(), note: '' };
      faults.push(rec);
      let applied: AppliedFault | null = null;
      try {
        applied = await within(applyFault(ctx, step), 60_000, `fault #${step.id} ${step.kind}`);
        rec.note = applied.note;
      } catch (err) {
        rec.error = String(err);
        rec.note = `failed to apply: ${String(err)}`;
      }
      h.record({ type: 'fault', phase: 'start', id: step.id, kind: step.kind, target: rec.note });
      log(`#${step.id} +${rec.startS.toFixed(1)}s ${step.kind}: ${rec.note}`);
      const faultAt = performance.now();
      // With every member hit (kill9-all) no other broker can name a new leader: nothing to measure.
      const others = cluster.memberIds().filter((id) => !(applied?.targets ?? []).includes(id));
      for (const lp of others.length === 0 ? [] : (applied?.ledPartitions ?? [])) {
        const f: Failover = { faultId: step.id, kind: step.kind, partition: lp.partition, from: lp.leader, to: null, ms: null };
        failovers.push(f);
        const exclude = applied!.targets;
        measuring.push(
          until(async () => {
            const s = await clusterState(ctx, exclude);
            const l = s.leaderOf(lp.partition);
            if (l === null || l === lp.leader) return false;
            f.to = l;
            f.ms = Math.round(performance.now() - faultAt);
            return true;
          }, step.durationMs + 20_000).then(() => undefined),
        );
      }
      await sleep(Math.max(0, step.durationMs - (performance.now() - faultAt)));
      try {
        if (applied) await within(applied.undo(), 60_000, `undo of fault #${step.id}`);
      } catch (err) {
        rec.error = `${rec.error ?? ''} undo: ${String(err)}`;
        log(`#${step.id} undo failed: ${String(err)}`);
      }
      rec.endS = sec();
      h.record({ type: 'fault', phase: 'end', id: step.id, kind: step.kind, target: rec.note });
    }
    const rest = t0 + o.durationMs - performance.now();
    if (rest > 0) await sleep(rest);

    // End: heal everything, let the producers settle, wait for a settled cluster, read it all.
    cluster.healAll();
    for (const n of cluster.nodes.values()) if (n.state === 'paused') cluster.resume(n.id);
    for (const id of cluster.memberIds()) await cluster.startNode(id).catch((err: unknown) => warnings.push(`restart of broker ${id}: ${String(err)}`));
    await within(workload.stopProducers(), 60_000, 'producers settling').catch((err: unknown) => warnings.push(String(err)));
    await Promise.all(measuring);
    const settled = await until(async () => {
      const md = await cluster.metadata(TOPIC);
      return md?.topics[0]?.partitions.every((p) => (p.leaderId ?? -1) >= 0 && p.isr?.length === p.replicas?.length) ?? false;
    }, 60_000);
    const md = await cluster.metadata(TOPIC);
    if (!settled) {
      // Which partitions and how, so a warning can be followed up: leader, replicas and ISR as metadata says.
      const how = (md?.topics[0]?.partitions ?? [])
        .filter((p) => (p.leaderId ?? -1) < 0 || p.isr?.length !== p.replicas?.length)
        .map((p) => `p${p.partition} leader ${p.leaderId ?? -1} replicas [${(p.replicas ?? []).join(',')}] isr [${(p.isr ?? []).join(',')}]`);
      warnings.push(`not every partition had a leader and a full ISR within 60 s of healing: ${how.join('; ') || 'metadata unavailable'}`);
    }
    const parts = md?.topics[0]?.partitions ?? [];
    const hws = Array.from({ length: partitions }, (_, p) => parts.find((x) => x.partition === p)?.highWatermark ?? 0);
    if (!(await until(() => workload!.readUpTo(hws), 20_000))) warnings.push(`consumers did not read up to the high watermarks ${hws.join(',')} within 20 s`);
    for (const p of parts) {
      h.record({ type: 'consumer-seek', consumer: 'final', topic: TOPIC, partition: p.partition, offset: 0, reason: 'final read from the leader' });
      try {
        const recs = await within(finalRead(cluster, p.partition), 60_000, `final read of partition ${p.partition}`);
        for (let i = 0; i < recs.length; i += 1000) {
          h.record({ type: 'poll', consumer: 'final', topic: TOPIC, partition: p.partition, records: recs.slice(i, i + 1000).map((r) => [r.offset, new TextDecoder().decode(r.value ?? new Uint8Array())]) });
        }
      } catch (err) {
        warnings.push(`final read of partition ${p.partition}: ${String(err)}`);
      }
    }
    for (const e of workload.consumerErrors()) warnings.push(`consumer error: ${e}`);
    await workload.close();
    workload = null;

    // Stop the brokers (a clean close fsyncs), then dump every replica for the divergence check.
    for (const n of cluster.nodes.values()) if (n.process) dataDirs.set(n.id, n.process.dataDir);
    await Promise.all([...cluster.nodes.keys()].map((id) => cluster.stopNode(id)));
    const partResults: RunResult['partitions'] = [];
    for (let p = 0; p < partitions; p++) {
      const info = parts.find((x) => x.partition === p);
      const replicas = info?.replicas ?? [];
      const stops: string[] = [];
      for (const id of replicas) {
        const dir = partitionDir(dataDirs.get(id)!, TOPIC, p);
        if (!fs.existsSync(dir)) {
          stops.push(`b${id}: no partition directory`);
          continue;
        }
        // Only the final ISR must hold everything below the HW; a replica outside it (down, or catching up)
        // may lag, but what it holds must agree.
        const inSync = info?.isr?.includes(id) ?? true;
        const d = dumpReplica(dir, { topic: TOPIC, partition: p, replica: `b${id}`, highWatermark: hws[p]!, inSync });
        for (const e of d.events) h.record(e);
        if (d.stop) stops.push(`b${id}: ${d.stop.reason} at ${d.stop.file}:${d.stop.position}`);
      }
      partResults.push({ partition: p, highWatermark: hws[p]!, replicas, stops });
    }
    h.close();
    const check = await checkHistoryStream(readHistoryFile(historyPath));
    const result: RunResult = { seed: o.seed, mode: o.mode, plan, check, faults, failovers, timeline, partitions: partResults, historyPath, elapsedMs: Math.round(performance.now() - started), warnings };
    fs.writeFileSync(path.join(outDir, 'result.json'), JSON.stringify({ ...result, timeline: undefined, check: { ...check, examples: check.examples } }, null, 1));
    return result;
  } finally {
    if (workload) await workload.close();
    try {
      h.close();
    } catch {
      // already closed
    }
    await cluster.stop();
    // The brokers' own logs (elections, truncations, fencing) to read next to the history.
    for (const n of cluster.nodes.values()) if (n.process) fs.writeFileSync(path.join(outDir, `broker-${n.id}.log`), n.process.stderr());
    for (const dir of dataDirs.values()) fs.rmSync(dir, { recursive: true, force: true });
    for (const n of cluster.nodes.values()) if (n.process) fs.rmSync(n.process.dataDir, { recursive: true, force: true });
  }
}
