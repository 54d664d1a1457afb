// Prometheus text for GET /metrics. Counters come from each owner slot's shared memory (counters.ts):
// read here at scrape time, never reset by an owner restart, so every *_total only grows. Partition
// gauges and subscription lags are asked of the owners (a control message, off the live path);
// prom-client supplies the process metrics and the text format.
import client from 'prom-client';
import { COUNTER_SLOTS, readCounters } from '../owner/counters.js';
import type { PartitionStats, SubscriptionLag } from '../owner/messages.js';
import type { OwnerStatus } from './supervisor.js';

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
): Promise<{ contentType: string; body: string }> {
  for (const o of owners) {
    ownerUp.set({ owner: String(o.id) }, o.up ? 1 : 0);
    ownerRestarts.set({ owner: String(o.id) }, o.restarts);
  }
  for (const g of [hw, leo, start, size, subs, lag]) g.reset();
  for (const s of snapshot.stats) {
    const l = { topic: s.topic, partition: String(s.partition) };
    hw.set(l, s.highWatermark);
    leo.set(l, s.logEndOffset);
    start.set(l, s.logStartOffset);
    size.set(l, s.sizeBytes);
    subs.set(l, s.subscribers);
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
  return { contentType: registry.contentType, body };
}
