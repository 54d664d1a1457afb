// Prometheus text for GET /metrics. Counters come from each owner slot's shared memory (counters.ts):
// read here at scrape time, never reset by an owner restart, so every *_total only grows. Partition
// gauges and subscription lags are asked of the owners (a control message, off the live path);
// prom-client supplies the process metrics and the text format.
import client from 'prom-client';
import { COUNTER_SLOTS, readCounters } from '../owner/counters.js';
import type { PartitionStats, ReplicaRole, SubscriptionLag } from '../owner/messages.js';
import type { OwnerStatus } from './supervisor.js';

/** Cluster mode's part of /metrics, read from the main thread's view at scrape time. */
export interface ClusterMetricsSource {
  /** The role this broker's owner last confirmed for a partition (undefined before the first). */
  role(topic: string, partition: number): Pick<ReplicaRole, 'isr'> | undefined;
  /** Leader elections this broker made while it was the controller. */
  leaderElections: number;
  uncleanLeaderElections: number;
  live: boolean;
  controller: boolean;
}

/** Subscription lag series per scrape, the most lagging first: labels carry connection ids, so bound them. */
export const MAX_LAG_SERIES = 100;
/** Client ids are chosen by clients: cut them to keep label values small. */
const MAX_CLIENT_ID_LABEL = 64;

const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry, prefix: 'tickbus_' });

const PARTITION = ['topic', 'partition'];
const ownerUp = new client.Gauge({ name: 'tickbus_owner_up', help: '1 when the partition owner thread is serving', labelNames: ['owner'], registers: [registry] });
const ownerRestarts = new client.Gauge({ name: 'tickbus_owner_restarts', help: 'Times the owner thread was restarted after a failure', labelNames: ['owner'], registers: [registry] });
const hw = new client.Gauge({ name: 'tickbus_partition_high_watermark', help: 'Committed end offset: consumers see records below it', labelNames: PARTITION, registers: [registry] });
const leo = new client.Gauge({ name: 'tickbus_partition_log_end_offset', help: 'Next offset to be appended (the high watermark trails it while replicas catch up)', labelNames: PARTITION, registers: [registry] });
const start = new client.Gauge({ name: 'tickbus_partition_log_start_offset', help: 'First offset still in the log', labelNames: PARTITION, registers: [registry] });
const size = new client.Gauge({ name: 'tickbus_partition_size_bytes', help: 'Bytes of log on disk', labelNames: PARTITION, registers: [registry] });
const subs = new client.Gauge({ name: 'tickbus_partition_subscribers', help: 'Subscriptions to the partition', labelNames: PARTITION, registers: [registry] });
const leader = new client.Gauge({ name: 'tickbus_partition_leader', help: 'Cluster: 1 while this broker leads the partition, 0 while it follows or is offline', labelNames: PARTITION, registers: [registry] });
const role = new client.Gauge({ name: 'tickbus_partition_role', help: 'Cluster: 1 for the replica role this broker has (leader, follower or offline)', labelNames: [...PARTITION, 'role'], registers: [registry] });
const isrSize = new client.Gauge({ name: 'tickbus_partition_isr_size', help: 'Cluster: replicas in the in-sync set', labelNames: PARTITION, registers: [registry] });
const epoch = new client.Gauge({ name: 'tickbus_partition_leader_epoch', help: 'Cluster: leader epoch of the partition as this broker knows it', labelNames: PARTITION, registers: [registry] });
const followerLag = new client.Gauge({ name: 'tickbus_partition_max_follower_lag_records', help: 'Cluster, on the leader: records the furthest follower is behind its log end', labelNames: PARTITION, registers: [registry] });
const clusterLive = new client.Gauge({ name: 'tickbus_cluster_live', help: 'Cluster: 1 while this broker holds a valid lease (else it is fenced and leads nothing)', registers: [registry] });
const clusterController = new client.Gauge({ name: 'tickbus_cluster_controller', help: 'Cluster: 1 while this broker is the controller', registers: [registry] });
const lag = new client.Gauge({
  name: 'tickbus_subscription_lag_records',
  help: `Committed records not yet delivered to a subscription (high watermark - next offset); the ${MAX_LAG_SERIES} most lagging`,
  labelNames: ['topic', 'partition', 'owner', 'conn', 'client'],
  registers: [registry],
});

export async function renderMetrics(
  owners: OwnerStatus[],
  counterBuffers: SharedArrayBuffer[],
  snapshot: { stats: PartitionStats[]; lags: SubscriptionLag[] },
  cluster: ClusterMetricsSource | null = null,
): Promise<{ contentType: string; body: string }> {
  for (const o of owners) {
    ownerUp.set({ owner: String(o.id) }, o.up ? 1 : 0);
    ownerRestarts.set({ owner: String(o.id) }, o.restarts);
  }
  for (const g of [hw, leo, start, size, subs, lag, leader, role, isrSize, epoch, followerLag]) g.reset();
  for (const s of snapshot.stats) {
    const l = { topic: s.topic, partition: String(s.partition) };
    hw.set(l, s.highWatermark);
    leo.set(l, s.logEndOffset);
    start.set(l, s.logStartOffset);
    size.set(l, s.sizeBytes);
    subs.set(l, s.subscribers);
    if (cluster && s.role !== 'single') {
      leader.set(l, s.role === 'leader' ? 1 : 0);
      role.set({ ...l, role: s.role }, 1);
      epoch.set(l, s.leaderEpoch);
      // The leader knows the ISR it works with; a follower shows the committed one from the control plane.
      isrSize.set(l, s.role === 'leader' ? s.isrSize : (cluster.role(s.topic, s.partition)?.isr.length ?? 0));
      if (s.role === 'leader' && s.maxFollowerLag >= 0) followerLag.set(l, s.maxFollowerLag);
    }
  }
  if (cluster) {
    clusterLive.set(cluster.live ? 1 : 0);
    clusterController.set(cluster.controller ? 1 : 0);
  }
  const lags = [...snapshot.lags].sort((a, b) => b.lag - a.lag).slice(0, MAX_LAG_SERIES);
  for (const s of lags) {
    lag.set(
      { topic: s.topic, partition: String(s.partition), owner: String(s.owner), conn: String(s.conn), client: s.clientId.slice(0, MAX_CLIENT_ID_LABEL) },
      s.lag,
    );
  }
  let body = await registry.metrics();
  const values = counterBuffers.map(readCounters);
  for (const slot of COUNTER_SLOTS) {
    const total = values.reduce((sum, v) => sum + v[slot.key], 0);
    body += `# HELP ${slot.name} ${slot.help}\n# TYPE ${slot.name} ${slot.kind}\n${slot.name} ${total}\n`;
  }
  if (cluster) {
    body += `# HELP tickbus_leader_elections_total Partition leader elections this broker made as controller\n# TYPE tickbus_leader_elections_total counter\ntickbus_leader_elections_total ${cluster.leaderElections}\n`;
    body += `# HELP tickbus_unclean_leader_elections_total Elections of an out-of-sync replica (committed records may be lost)\n# TYPE tickbus_unclean_leader_elections_total counter\ntickbus_unclean_leader_elections_total ${cluster.uncleanLeaderElections}\n`;
  }
  return { contentType: registry.contentType, body };
}
