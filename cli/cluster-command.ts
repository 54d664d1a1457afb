// `tickbus cluster status|drain|undrain|reassign`: the cluster as etcd records it, read straight from
// etcd, so it answers whichever brokers are down. A broker is alive while its lease-bound registration
// exists; one that is named as a replica but not registered is listed as not alive. Drains and
// reassignment plans are requests the controller carries out (broker/control/moves.ts).
import fs from 'node:fs';
import { defaultClusterConfig } from '../broker/config.js';
import { ClusterView } from '../broker/control/cluster-view.js';
import { EtcdClient } from '../broker/control/etcd.js';
import { brokerHoldings, cancelDrain, checkPlan, movesInProgress, parsePlan, requestDrain, requestReassign } from '../broker/control/moves.js';
import { isMoving, Keys, type ReassignRequest } from '../broker/control/records.js';
import { intOption, parse, str, UsageError } from './args.js';
import { parseEtcdUrls } from './etcd-urls.js';

const USAGE = `
Usage: tickbus cluster ACTION --cluster etcd://127.0.0.1:2379[,etcd://...] [--cluster-name NAME]

Actions:
  status              the cluster as JSON: brokers (id, zone, endpoint, alive, owners), the controller,
                      per topic how many partitions have no leader or a shrunken ISR, drains and moves in
                      progress (partition, from → to, learners still catching up)
  drain ID            move every replica and leadership off broker ID; prints progress and, when nothing
                      is left on it, {"event":"drained","safeToStop":true}. The drain stays until undrain.
  undrain ID          broker ID may hold replicas again (the balancer moves some back)
  reassign --plan P   move partitions to the replica lists of a plan: a file or inline JSON,
                      {"partitions":[{"topic":"t","partition":0,"replicas":[1,2,3]}]}; waits until done

Options:
  --wait-ms N         how long drain and reassign wait for the moves to finish (0 = do not wait)  [300000]
`;

type View = ClusterView;

async function readView(etcd: EtcdClient, keys: Keys): Promise<View> {
  const view = new ClusterView(keys);
  view.reset((await etcd.list(keys.root)).entries);
  return view;
}

function brokerId(arg: string | undefined): number {
  const id = Number(arg);
  if (arg === undefined || !Number.isInteger(id) || id < 0) throw new UsageError(`a broker id (a non-negative integer) is needed, got ${String(arg)}\n${USAGE}`);
  return id;
}

/** Polls the records every 250 ms until `done` says so or `waitMs` passes; prints a line when progress changes. */
async function waitUntil(etcd: EtcdClient, keys: Keys, waitMs: number, done: (v: View) => boolean, progress: (v: View) => object): Promise<View | null> {
  const end = Date.now() + waitMs;
  let last = '';
  for (;;) {
    const view = await readView(etcd, keys);
    if (done(view)) return view;
    const line = JSON.stringify(progress(view));
    if (line !== last) process.stdout.write(line + '\n');
    last = line;
    if (Date.now() >= end) return null;
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function drain(etcd: EtcdClient, keys: Keys, id: number, waitMs: number): Promise<number> {
  const before = await readView(etcd, keys);
  if (!before.brokers.has(id) && brokerHoldings(before, id).replicas.length === 0) throw new UsageError(`broker ${id} is not registered and holds no replica`);
  await requestDrain(etcd, keys, id);
  if (waitMs === 0) {
    process.stdout.write(JSON.stringify({ event: 'drain-requested', broker: id }) + '\n');
    return 0;
  }
  const empty = (v: View): boolean => {
    const h = brokerHoldings(v, id);
    return h.replicas.length === 0 && h.leaderships.length === 0;
  };
  const view = await waitUntil(etcd, keys, waitMs, empty, (v) => ({ event: 'draining', broker: id, ...brokerHoldings(v, id), moves: movesInProgress(v) }));
  if (!view) {
    const left = brokerHoldings(await readView(etcd, keys), id);
    process.stdout.write(JSON.stringify({ event: 'drain-incomplete', broker: id, safeToStop: false, ...left, hint: 'are there enough other brokers for every replication factor? the drain goes on; run drain again to wait' }) + '\n');
    return 1;
  }
  process.stdout.write(JSON.stringify({ event: 'drained', broker: id, safeToStop: true }) + '\n');
  return 0;
}

async function reassign(etcd: EtcdClient, keys: Keys, planArg: string, waitMs: number): Promise<number> {
  const text = planArg.trimStart().startsWith('{') || planArg.trimStart().startsWith('[') ? planArg : fs.readFileSync(planArg, 'utf8');
  let plan: ReassignRequest[];
  try {
    plan = parsePlan(JSON.parse(text));
  } catch (err) {
    throw new UsageError(`--plan: ${err instanceof Error ? err.message : String(err)}`);
  }
  checkPlan(await readView(etcd, keys), plan);
  await requestReassign(etcd, keys, plan);
  if (waitMs === 0) {
    process.stdout.write(JSON.stringify({ event: 'reassign-requested', partitions: plan.length }) + '\n');
    return 0;
  }
  const finished = (v: View): boolean =>
    plan.every((r) => {
      const p = v.partition(r.topic, r.partition)?.value;
      return !v.reassignRequests.has(`${r.topic}/${r.partition}`) && p !== undefined && !isMoving(p) && p.replicas.length === r.replicas.length && r.replicas.every((id) => p.replicas.includes(id));
    });
  const view = await waitUntil(etcd, keys, waitMs, finished, (v) => ({ event: 'reassigning', moves: movesInProgress(v) }));
  if (!view) {
    process.stdout.write(JSON.stringify({ event: 'reassign-incomplete', moves: movesInProgress(await readView(etcd, keys)) }) + '\n');
    return 1;
  }
  const parts = plan.map((r) => {
    const p = view.partition(r.topic, r.partition)!.value;
    return { partition: `${r.topic}/${r.partition}`, replicas: p.replicas, leader: p.leader, isr: p.isr };
  });
  process.stdout.write(JSON.stringify({ event: 'reassigned', partitions: parts }) + '\n');
  return 0;
}

export async function clusterCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { cluster: { type: 'string' }, 'cluster-name': { type: 'string' }, plan: { type: 'string' }, 'wait-ms': { type: 'string' } }, USAGE);
  const [action, arg, extra] = positionals;
  const actions = ['status', 'drain', 'undrain', 'reassign'];
  if (action === undefined || !actions.includes(action)) throw new UsageError(`${action === undefined ? 'cluster needs an action' : `unknown cluster action '${action}'`}\n${USAGE}`);
  const takesId = action === 'drain' || action === 'undrain';
  const stray = takesId ? extra : arg;
  if (stray !== undefined) throw new UsageError(`unexpected argument '${stray}'\n${USAGE}`);
  const etcdArg = str(values, 'cluster');
  if (!etcdArg) throw new UsageError(`cluster ${action} needs --cluster etcd://host:port\n${USAGE}`);
  const name = str(values, 'cluster-name') ?? defaultClusterConfig().name;
  const waitMs = intOption(values, 'wait-ms', 300_000, 0, 24 * 3_600_000);
  const keys = new Keys(name);
  const id = takesId ? brokerId(arg) : -1;
  const planArg = str(values, 'plan');
  if (action === 'reassign' && planArg === undefined) throw new UsageError(`cluster reassign needs --plan FILE|JSON\n${USAGE}`);
  const etcd = new EtcdClient(parseEtcdUrls(etcdArg));
  try {
    if (action === 'drain') return await drain(etcd, keys, id, waitMs);
    if (action === 'undrain') {
      await cancelDrain(etcd, keys, id);
      process.stdout.write(JSON.stringify({ event: 'undrained', broker: id }) + '\n');
      return 0;
    }
    if (action === 'reassign') return await reassign(etcd, keys, planArg!, waitMs);
    const view = await readView(etcd, keys);
    const ids = new Set<number>(view.brokers.keys());
    for (const p of view.partitions.values()) for (const id of p.value.replicas) ids.add(id);
    const brokers = [...ids]
      .sort((a, b) => a - b)
      .map((id) => {
        const b = view.brokers.get(id)?.value;
        const held = brokerHoldings(view, id);
        // What it holds (moves in progress included) and whether it is being drained, for drain and balance checks.
        const load = { replicas: held.replicas.length, leaders: held.leaderships.length, draining: view.drains.has(id) };
        return b ? { id, zone: b.zone, endpoint: b.bootstrap, alive: true, owners: b.owners, ...load } : { id, zone: null, endpoint: null, alive: false, owners: [], ...load };
      });
    const topics = [...view.topics.values()]
      .map((t) => t.value)
      .sort((a, b) => (a.name < b.name ? -1 : 1))
      .map((t) => {
        const parts = view.partitionsOf(t.name).map((p) => p.value);
        return {
          name: t.name,
          partitions: t.partitions,
          replicationFactor: t.replicationFactor,
          minInsync: t.minInsync,
          offline: parts.filter((p) => p.leader < 0 || !view.brokers.has(p.leader)).length,
          underReplicated: parts.filter((p) => p.isr.length < p.replicas.length).length,
        };
      });
    const drains = [...view.drains.keys()].sort((a, b) => a - b);
    process.stdout.write(JSON.stringify({ cluster: name, controller: view.controller?.id ?? null, brokers, topics, drains, moves: movesInProgress(view) }) + '\n');
    return 0;
  } finally {
    await etcd.close();
  }
}
