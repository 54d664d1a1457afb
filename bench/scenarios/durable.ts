// Scenario `durable`: fsync before ack. Produce → ack and produce → deliver, measured together:
// tickbus acks=durable (group commit: one fdatasync covers every batch appended before it), NATS JetStream
// (file storage), Redis Streams (appendonly yes, appendfsync always). Several publishers by default, because
// group commit across producers is what keeps the ack latency near one fsync.
import type { PointSpec } from '../harness/live-run.js';
import type { Target } from '../targets/target.js';
import { measurePoint, type ScenarioContext, targetsFor } from './context.js';

export async function durableScenario(ctx: ScenarioContext): Promise<void> {
  const o = ctx.options;
  const targets = targetsFor(ctx, 'durable');
  const rates = o.rates ?? (o.quick ? [500] : [1_000, 5_000]);
  const publishers = o.publishers ?? (o.quick ? 2 : 4);
  ctx.progress.note(`durable: ${targets.map((t) => t.name).join(', ')}; rates ${rates.join(', ')} msg/s; ${publishers} publishers`);
  for (const rate of rates) {
    const spec = (t: Target): PointSpec => ({
      scenario: 'durable',
      mode: 'durable',
      acks: t.name.startsWith('tickbus') ? (o.acks ?? 'durable') : 'durable',
      rate,
      size: o.size,
      durationS: o.durationS,
      warmupS: o.warmupS,
      subscribers: o.subscribers?.[0] ?? 1,
      publishers,
      partitions: o.partitions,
      subscriberThreads: 0,
      drainTimeoutS: Math.max(5, o.durationS),
    });
    await measurePoint(ctx, targets, spec, o.rounds);
  }
}
