// The browser bundle (dist/browser/tickbus.js, built by scripts/build-browser.mjs) in headless
// Chromium: a page served from 127.0.0.1 imports it, produces and consumes against a real broker
// on localhost with the browser's own WebSocket.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../client/index.js';
import { BUNDLE, type BrowserHarness, startBrowserHarness } from '../helpers/browser.js';
import { type BrokerProcess, startBroker } from '../helpers/broker.js';

const PAGE = `<!doctype html><meta charset="utf-8"><title>tickbus browser test</title>
<script type="module">
  import { connect, utf8, json, ErrorCode } from './tickbus.js';
  window.runRoundTrip = async (url) => {
    const bus = await connect({ brokers: [url], clientId: 'browser-test' });
    const sub = bus.subscribe('browser', { from: 'earliest' });
    const acks = await bus.send('browser', Array.from({ length: 20 }, (_, i) => ({ key: 'k' + (i % 3), value: JSON.stringify({ i }), headers: { from: 'chromium' } })));
    const got = [];
    for await (const r of sub) {
      got.push({ partition: r.partition, offset: r.offset, key: utf8(r.key), i: json(r.value).i, from: utf8(r.headers.from), isView: r.value instanceof Uint8Array });
      if (got.length === 20) break;
    }
    let unknownTopic = null;
    try { await bus.send('no-such-topic', [{ value: 'x' }]); } catch (e) { unknownTopic = { name: e.name, code: e.code, isUnknown: e.code === ErrorCode.UNKNOWN_TOPIC }; }
    const latencyUs = sub.latencyUs;
    await bus.close();
    return { acks, got, unknownTopic, latencyUs };
  };
  window.ready = true;
</script>`;

let broker: BrokerProcess;
let harness: BrowserHarness | undefined;

beforeAll(async () => {
  broker = await startBroker();
  const bus = await connect({ brokers: [broker.url] });
  await bus.admin.createTopic('browser', { partitions: 2 });
  await bus.close();
  harness = await startBrowserHarness(PAGE);
}, 60_000);

afterAll(async () => {
  await harness?.close();
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset if beforeAll failed
  await broker?.stop();
});

describe('browser bundle', () => {
  it('has no Node built-in and leaves ws to Node only', () => {
    const src = fs.readFileSync(BUNDLE, 'utf8');
    expect(src).not.toMatch(/from\s*["']node:/);
    expect(src).not.toMatch(/require\(/);
    expect(src).not.toMatch(/\bBuffer\./);
    // The one reference to ws is the dynamic import behind the globalThis.WebSocket check.
    expect(src.match(/import\("ws"\)/g)).toHaveLength(1);
  });

  it('produces and consumes against a broker on localhost from headless Chromium', async () => {
    const { page, errors } = await harness!.newPage();
    const res = await page.evaluate<{
      acks: { partition: number; offset: number }[];
      got: { partition: number; offset: number; key: string; i: number; from: string; isView: boolean }[];
      unknownTopic: { name: string; code: number; isUnknown: boolean } | null;
      latencyUs: number;
    }>(`window.runRoundTrip(${JSON.stringify(broker.url)})`);
    expect(errors).toEqual([]);
    expect(res.acks).toHaveLength(20);
    expect(res.got.map((g) => g.i).sort((a, b) => a - b)).toEqual([...Array(20).keys()]);
    for (const p of [0, 1]) {
      const offs = res.got.filter((g) => g.partition === p).map((g) => g.offset);
      expect(offs).toEqual(offs.map((_, i) => i));
    }
    for (const g of res.got) {
      expect(g.from).toBe('chromium');
      expect(g.isView).toBe(true);
      expect(g.key).toBe(`k${g.i % 3}`);
    }
    expect(res.unknownTopic).toEqual({ name: 'TickbusError', code: 200, isUnknown: true });
    expect(res.latencyUs).toBeGreaterThan(0);
    await page.close();
  }, 30_000);
});
