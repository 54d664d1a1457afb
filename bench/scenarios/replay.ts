// Scenario `replay`: catch-up read throughput. Preload N records (100 B by default) into a fresh durable
// channel as fast as the target takes them, then one subscriber reads from the start as fast as it is served.
// The clock runs from the subscribe call to the last record. The data was just written, so it is served from
// the page cache (tickbus, JetStream) or from memory (Redis): this measures the read path, not the disk.
import { errorMessage, TargetError } from '../errors.js';
import { nowUs, sleep } from '../harness/clock.js';
import { emptyRecord } from '../harness/live-run.js';
import { PayloadStamper } from '../harness/payload.js';
import type { RunRecord } from '../report/run-record.js';
import type { Target } from '../targets/target.js';
import { printRecord, type ScenarioContext, targetsFor } from './context.js';

let replaySeq = 0;

export async function replayScenario(ctx: ScenarioContext): Promise<void> {
  const o = ctx.options;
  const targets = targetsFor(ctx, 'replay');
  ctx.progress.note(`replay: ${targets.map((t) => t.name).join(', ')}; ${o.records} records of ${o.size} B`);
  for (const t of targets) {
    const r = await replayOne(ctx, t);
    ctx.runs.push(r);
    printRecord(ctx, r);
  }
}

async function replayOne(ctx: ScenarioContext, t: Target): Promise<RunRecord> {
  const o = ctx.options;
  const rec = emptyRecord(t, null, {
    scenario: 'replay',
    mode: 'durable',
    acks: 'durable',
    rate: 0,
    size: o.size,
    durationS: 0,
    warmupS: 0,
    subscribers: 1,
    publishers: 1,
    partitions: 1,
  });
  try {
    const server = await ctx.servers.get(t, 'durable');
    rec.server = `${server.version}; ${t.describe('durable', 'durable')}`;
    if (!server.preload) throw new TargetError(`${t.name} cannot preload records`);
    const ep = await server.prepare({ name: `bench-replay-${process.pid}-${++replaySeq}`, mode: 'durable', partitions: 1 });
    try {
      const stamper = new PayloadStamper(o.size);
      let loaded = 0;
      const t0 = Date.now();
      ctx.progress.begin({ label: `replay ${t.name} preload`, plannedS: 0, startedAtMs: t0, sent: () => loaded, received: () => 0 });
      await server.preload(ep, o.records, (seq) => stamper.stamp(seq, 0, 0, true), (n) => (loaded = n));
      ctx.progress.end();
      const preloadS = (Date.now() - t0) / 1000;
      rec.sent = o.records;

      let received = 0;
      let lastUs = 0;
      const startUs = nowUs();
      ctx.progress.begin({ label: `replay ${t.name} read`, plannedS: 0, startedAtMs: Date.now(), sent: () => o.records, received: () => received });
      const sub = await t.client.connectSubscriber(ep, { from: 'earliest', bulk: true }, () => {
        received++;
        lastUs = nowUs();
      });
      try {
        // Bounded: stop when everything is read, when nothing arrives for 5 s, or after 300 s.
        const deadline = Date.now() + 300_000;
        let last = -1;
        let lastChange = Date.now();
        while (received < o.records && Date.now() < deadline) {
          if (received !== last) {
            last = received;
            lastChange = Date.now();
          } else if (Date.now() - lastChange > 5_000) break;
          await sleep(10);
        }
      } finally {
        ctx.progress.end();
        await sub.close();
      }
      rec.received = received;
      const spanS = Math.max(1e-6, (lastUs - startUs) / 1e6);
      rec.achieved_rate = received > 0 ? Math.round(received / spanS) : 0;
      rec.delivery_rate = rec.achieved_rate;
      rec.send_rate = Math.round(o.records / Math.max(preloadS, 1e-3));
      rec.duration_s = Number(spanS.toFixed(3));
      if (received < o.records) {
        rec.saturated = true;
        rec.saturation_reason = `read ${received} of ${o.records} records`;
      }
    } finally {
      await server.release?.(ep).catch(() => undefined);
    }
  } catch (err) {
    ctx.progress.end();
    rec.error = errorMessage(err);
  }
  return rec;
}
