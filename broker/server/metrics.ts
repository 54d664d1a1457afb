// Prometheus text for GET /metrics. Owners keep plain counters (an integer add on the live path)
// and send them only when scraped; prom-client supplies the process metrics and the text format.
import client from 'prom-client';
import type { OwnerCounters, PartitionStats } from '../owner/messages.js';
import type { OwnerStatus } from './supervisor.js';

const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry, prefix: 'tickbus_' });

const ownerUp = new client.Gauge({ name: 'tickbus_owner_up', help: '1 when the partition owner thread is serving', labelNames: ['owner'], registers: [registry] });
const ownerRestarts = new client.Gauge({ name: 'tickbus_owner_restarts', help: 'Times the owner thread was restarted after a failure', labelNames: ['owner'], registers: [registry] });
const hw = new client.Gauge({ name: 'tickbus_partition_high_watermark', help: 'Next offset to be written', labelNames: ['topic', 'partition'], registers: [registry] });
const start = new client.Gauge({ name: 'tickbus_partition_log_start_offset', help: 'First offset still in the log', labelNames: ['topic', 'partition'], registers: [registry] });
const size = new client.Gauge({ name: 'tickbus_partition_size_bytes', help: 'Bytes of log on disk', labelNames: ['topic', 'partition'], registers: [registry] });
const subs = new client.Gauge({ name: 'tickbus_partition_subscribers', help: 'Subscriptions to the partition', labelNames: ['topic', 'partition'], registers: [registry] });

const COUNTERS: [keyof OwnerCounters, string, string][] = [
  ['produceRequests', 'tickbus_produce_requests_total', 'Produce frames handled'],
  ['recordsIn', 'tickbus_records_in_total', 'Records appended'],
  ['bytesIn', 'tickbus_bytes_in_total', 'Record batch bytes appended'],
  ['duplicateBatches', 'tickbus_duplicate_batches_total', 'Idempotent retries recognised and not written again'],
  ['deliverFrames', 'tickbus_live_deliver_frames_total', 'Live Deliver frames published (each fans out to every subscriber)'],
  ['catchUpFrames', 'tickbus_catchup_frames_total', 'Catch-up Deliver frames sent'],
  ['catchUpBytes', 'tickbus_catchup_bytes_total', 'Record batch bytes sent by catch-up reads'],
  ['slowConsumerMoves', 'tickbus_slow_consumer_moves_total', 'Live subscribers moved to catch-up reads'],
  ['slowConsumerDisconnects', 'tickbus_slow_consumer_disconnects_total', 'Consumers cut off for not reading'],
  ['badFrames', 'tickbus_rejected_connections_total', 'Connections closed for a bad frame'],
];

export async function renderMetrics(
  owners: OwnerStatus[],
  snapshot: { stats: PartitionStats[]; counters: OwnerCounters[] },
): Promise<{ contentType: string; body: string }> {
  for (const o of owners) {
    ownerUp.set({ owner: String(o.id) }, o.up ? 1 : 0);
    ownerRestarts.set({ owner: String(o.id) }, o.restarts);
  }
  for (const g of [hw, start, size, subs]) g.reset();
  for (const s of snapshot.stats) {
    const l = { topic: s.topic, partition: String(s.partition) };
    hw.set(l, s.highWatermark);
    start.set(l, s.logStartOffset);
    size.set(l, s.sizeBytes);
    subs.set(l, s.subscribers);
  }
  let body = await registry.metrics();
  for (const [key, name, help] of COUNTERS) {
    const total = snapshot.counters.reduce((sum, c) => sum + c[key], 0);
    body += `# HELP ${name} ${help}\n# TYPE ${name} counter\n${name} ${total}\n`;
  }
  const conns = snapshot.counters.reduce((sum, c) => sum + c.connections, 0);
  body += `# HELP tickbus_owner_connections Open connections on owner endpoints\n# TYPE tickbus_owner_connections gauge\ntickbus_owner_connections ${conns}\n`;
  return { contentType: registry.contentType, body };
}
