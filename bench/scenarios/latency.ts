// Scenario `latency`: 1 publisher → 1 subscriber (in the publisher's thread: one clock, no extra hop),
// 100-byte records at 1k, 10k and 50k msg/s, then per target a sweep of rising rates until it saturates.
import type { PointSpec } from '../harness/live-run.js';
import type { SaturationRecord } from '../report/run-record.js';
import type { Target } from '../targets/target.js';
import { measurePoint, type ScenarioContext, targetsFor } from './context.js';

const FIXED_RATES = [1_000, 10_000, 50_000];
const QUICK_RATES = [1_000];
const SWEEP_RATES = [75_000, 100_000, 150_000, 200_000, 300_000, 500_000];

export async function latencyScenario(ctx: ScenarioContext): Promise<void> {
  const o = ctx.options;
  const targets = targetsFor(ctx, 'latency');
  const rates = o.rates ?? (o.quick ? QUICK_RATES : FIXED_RATES);
  const subscribers = o.subscribers ?? [1];
  const spec =
    (rate: number, subs: number, durationS = o.durationS) =>
    (t: Target): PointSpec => ({
      scenario: 'latency',
      mode: 'live',
      acks: t.name.startsWith('tickbus') ? (o.acks ?? 'leader') : 'none',
      rate,
      size: o.size,
      durationS,
      warmupS: o.warmupS,
      subscribers: subs,
      publishers: o.publishers ?? 1,
      partitions: o.partitions,
      subscriberThreads: subs > 1 ? o.threads : 0,
      drainTimeoutS: Math.max(5, durationS),
    });

  ctx.progress.note(`latency: ${targets.map((t) => t.name).join(', ')}; rates ${rates.join(', ')} msg/s; ${o.durationS} s × ${o.rounds} round(s) per point`);
  const highestOk = new Map<Target, number>();
  const firstBad = new Map<Target, { rate: number; reason: string }>();
  for (const subs of subscribers) {
    for (const rate of rates) {
      const recs = await measurePoint(ctx, targets, spec(rate, subs), o.rounds);
      targets.forEach((t, i) => {
        const r = recs[i]!;
        if (r.error) return;
        if (!r.saturated && !firstBad.has(t)) highestOk.set(t, Math.max(highestOk.get(t) ?? 0, rate));
        if (r.saturated && !firstBad.has(t)) firstBad.set(t, { rate, reason: r.saturation_reason ?? '' });
      });
    }
  }

  // The sweep runs only for the default points (explicit --rate means: measure exactly these).
  if (o.rates === null && !o.quick) {
    for (const t of targets) {
      for (const rate of SWEEP_RATES) {
        if (firstBad.has(t)) break;
        const [r] = await measurePoint(ctx, [t], spec(rate, 1, Math.min(o.durationS, 2)), 1);
        if (!r || r.error) break;
        if (r.saturated) firstBad.set(t, { rate, reason: r.saturation_reason ?? '' });
        else highestOk.set(t, rate);
      }
    }
  }
  if (o.quick) return; // one short point says nothing about saturation
  for (const t of targets) {
    const bad = firstBad.get(t);
    const s: SaturationRecord = {
      target: t.name,
      scenario: 'latency',
      max_sustained_rate: highestOk.get(t) ?? 0,
      saturated_at: bad?.rate ?? null,
      reason: bad?.reason ?? null,
    };
    ctx.saturation.push(s);
    ctx.progress.note(`  saturation ${t.name}: sustained ${s.max_sustained_rate}/s${bad ? `, saturated at ${bad.rate}/s (${bad.reason})` : ' (not saturated within the sweep)'}`);
  }
}
