// Scenario `fanout`: 1 publisher → 100 and → 1,000 subscribers at 1k and 10k msg/s. Subscribers are spread
// over worker threads of the harness process (one clock) and only count and timestamp what they get.
// The relay's delivered rate is the control: it shows what the receiving side of this machine can take.
import type { PointSpec } from '../harness/live-run.js';
import type { Target } from '../targets/target.js';
import { measurePoint, type ScenarioContext, targetsFor } from './context.js';

export async function fanoutScenario(ctx: ScenarioContext): Promise<void> {
  const o = ctx.options;
  const targets = targetsFor(ctx, 'fanout');
  const rates = o.rates ?? (o.quick ? [1_000] : [1_000, 10_000]);
  const subscribers = o.subscribers ?? (o.quick ? [10] : [100, 1_000]);
  ctx.progress.note(`fanout: ${targets.map((t) => t.name).join(', ')}; subscribers ${subscribers.join(', ')}; rates ${rates.join(', ')} msg/s; ${o.threads} subscriber threads`);
  for (const subs of subscribers) {
    for (const rate of rates) {
      const spec = (t: Target): PointSpec => ({
        scenario: 'fanout',
        mode: 'live',
        acks: t.name.startsWith('tickbus') ? (o.acks ?? 'leader') : 'none',
        rate,
        size: o.size,
        durationS: o.durationS,
        warmupS: o.warmupS,
        subscribers: subs,
        publishers: o.publishers ?? 1,
        partitions: o.partitions,
        subscriberThreads: o.threads,
        // A saturated fanout leaves a backlog in the server; wait for it, but not forever.
        drainTimeoutS: o.quick ? 10 : 10,
      });
      await measurePoint(ctx, targets, spec, o.quick ? 1 : 1);
    }
  }
}
