// `tickbus cluster status`: the cluster as etcd records it, read straight from etcd, so it answers
// whichever brokers are down. A broker is alive while its lease-bound registration exists; one that is
// named as a replica but not registered is listed as not alive.
import { defaultClusterConfig } from '../broker/config.js';
import { ClusterView } from '../broker/control/cluster-view.js';
import { EtcdClient } from '../broker/control/etcd.js';
import { Keys } from '../broker/control/records.js';
import { parse, str, UsageError } from './args.js';
import { parseEtcdUrls } from './etcd-urls.js';

const USAGE = `
Usage: tickbus cluster status --cluster etcd://127.0.0.1:2379[,etcd://...] [--cluster-name NAME]

Prints the cluster as JSON: its brokers (id, zone, endpoint, alive, owners), the controller, and
per topic how many partitions have no leader or a shrunken ISR. Reads etcd directly.
`;

export async function clusterCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { cluster: { type: 'string' }, 'cluster-name': { type: 'string' } }, USAGE);
  const [action, extra] = positionals;
  if (action !== 'status') throw new UsageError(`${action === undefined ? 'cluster needs an action' : `unknown cluster action '${action}'`}\n${USAGE}`);
  if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}'\n${USAGE}`);
  const etcdArg = str(values, 'cluster');
  if (!etcdArg) throw new UsageError(`cluster status needs --cluster etcd://host:port\n${USAGE}`);
  const name = str(values, 'cluster-name') ?? defaultClusterConfig().name;
  const keys = new Keys(name);
  const etcd = new EtcdClient(parseEtcdUrls(etcdArg));
  try {
    const view = new ClusterView(keys);
    view.reset((await etcd.list(keys.root)).entries);
    const ids = new Set<number>(view.brokers.keys());
    for (const p of view.partitions.values()) for (const id of p.value.replicas) ids.add(id);
    const brokers = [...ids]
      .sort((a, b) => a - b)
      .map((id) => {
        const b = view.brokers.get(id)?.value;
        return b ? { id, zone: b.zone, endpoint: b.bootstrap, alive: true, owners: b.owners } : { id, zone: null, endpoint: null, alive: false, owners: [] };
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
    process.stdout.write(JSON.stringify({ cluster: name, controller: view.controller?.id ?? null, brokers, topics }) + '\n');
    return 0;
  } finally {
    await etcd.close();
  }
}
