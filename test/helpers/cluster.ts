// A real cluster for integration tests: one throwaway etcd (helpers/etcd.ts) and N broker processes
// in cluster mode (helpers/broker.ts), node ids 1..N in zones z1..zN, each on fixed owner ports so a
// restarted broker comes back at the endpoints it registered. Stop it in afterAll.
import { type BrokerProcess, stablePorts, startBroker } from './broker.js';
import { type EtcdProcess, startEtcd } from './etcd.js';

export interface ClusterOptions {
  brokers?: number;
  /** Owner threads per broker. */
  owners?: number;
  /** Broker lease TTL: how soon a dead or paused broker loses its leaderships. */
  leaseTtlMs?: number;
  /** Extra `tickbus broker` arguments for every broker (after the cluster ones, so they win). */
  args?: string[];
  /** Per-broker extra arguments, by node id. */
  argsFor?: (nodeId: number) => string[];
  clusterName?: string;
}

export interface TestCluster {
  etcd: EtcdProcess;
  /** brokers[i] has node id i + 1. */
  brokers: BrokerProcess[];
  bootstrapUrls: string[];
  /** etcd://host:port, for `tickbus cluster status --cluster`. */
  etcdUrl: string;
  clusterName: string;
  /** The broker with this node id. */
  broker(nodeId: number): BrokerProcess;
  /** Stops every broker (gracefully, SIGKILL after a bound) and then etcd. */
  stop(): Promise<void>;
}

/** Polls an async condition every 100 ms, bounded by `ms`. */
export async function eventually(cond: () => Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A broker's /healthz body (cluster fields present in cluster mode). */
export async function health(b: BrokerProcess): Promise<{ status: string; cluster?: { nodeId: number; live: boolean; controller: boolean; controllerId: number | null; brokers: number[] } } | null> {
  const r = await fetch(`http://127.0.0.1:${b.port}/healthz`).catch(() => null);
  return r ? ((await r.json()) as Awaited<ReturnType<typeof health>>) : null;
}

export async function startCluster(opts: ClusterOptions = {}): Promise<TestCluster> {
  const n = opts.brokers ?? 3;
  const owners = opts.owners ?? 1;
  const clusterName = opts.clusterName ?? 'test';
  const etcd = await startEtcd();
  const etcdUrl = etcd.url.replace(/^http:/, 'etcd:');
  const brokers: BrokerProcess[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(brokers.map((b) => b.stop().catch(() => undefined)));
    await etcd.stop();
  };
  try {
    for (let id = 1; id <= n; id++) {
      // prettier-ignore
      const args = [
        '--cluster', etcdUrl, '--cluster-name', clusterName, '--node-id', String(id), '--zone', `z${id}`,
        '--owners', String(owners), '--owner-base-port', String(await stablePorts(owners)),
        ...(opts.leaseTtlMs ? ['--lease-ttl-ms', String(opts.leaseTtlMs)] : []),
        ...(opts.args ?? []), ...(opts.argsFor?.(id) ?? []),
      ];
      brokers.push(await startBroker({ args }));
    }
    // Every broker registered and a controller elected: /healthz says so on each.
    await eventually(async () => {
      const hs = await Promise.all(brokers.map(health));
      return hs.every((h) => h?.cluster?.brokers.length === n && h.cluster.controllerId !== null);
    }, 'every broker to see the whole cluster and a controller');
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    etcd,
    brokers,
    bootstrapUrls: brokers.map((b) => b.url),
    etcdUrl,
    clusterName,
    broker: (nodeId) => {
      const b = brokers[nodeId - 1];
      if (!b) throw new Error(`no broker with node id ${nodeId}`);
      return b;
    },
    stop,
  };
}
