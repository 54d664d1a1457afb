// wss:// from the browser bundle in headless Chromium against a TLS broker whose certificate comes
// from a CA made by the test. The browser trusts what the browser trusts and the SDK takes no TLS
// settings there, so Chromium is told to accept exactly this certificate's public key
// (--ignore-certificate-errors-spki-list), not every certificate.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, ErrorCode } from '../../client/index.js';
import { type BrowserHarness, startBrowserHarness } from '../helpers/browser.js';
import { type BrokerProcess, startBroker, tempDir } from '../helpers/broker.js';
import { makeCa, makeServerCert } from './tls-fixtures.js';

const PAGE = `<!doctype html><meta charset="utf-8"><title>tickbus tls browser test</title>
<script type="module">
  import { connect, utf8 } from './tickbus.js';
  window.runTls = async (url) => {
    const bus = await connect({ brokers: [url], clientId: 'browser-tls' });
    const sub = bus.subscribe('secure', { from: 'earliest' });
    await bus.send('secure', Array.from({ length: 5 }, (_, i) => ({ value: 'tls-' + i })));
    const got = [];
    for await (const r of sub) {
      got.push(utf8(r.value));
      if (got.length === 5) break;
    }
    await bus.close();
    return got;
  };
  window.tryConnect = async (url) => {
    try { const bus = await connect({ brokers: [url], connectTimeoutMs: 2000, reconnect: { maxRetries: 0 } }); await bus.close(); return 'connected'; }
    catch (e) { return e.code; }
  };
  window.ready = true;
</script>`;

let broker: BrokerProcess;
let harness: BrowserHarness | undefined;

beforeAll(async () => {
  const ca = makeCa(tempDir('tickbus-tls-browser-'));
  const cert = makeServerCert(ca, 'browser-server');
  broker = await startBroker({ args: ['--owners', '1', '--tls-cert', cert.certFile, '--tls-key', cert.keyFile] });
  const bus = await connect({ brokers: [broker.url], tls: { ca: ca.pem } });
  await bus.admin.createTopic('secure', { partitions: 1 });
  await bus.close();
  const spki = crypto.createHash('sha256').update(crypto.createPublicKey(fs.readFileSync(cert.keyFile)).export({ type: 'spki', format: 'der' })).digest('base64');
  harness = await startBrowserHarness(PAGE, [`--ignore-certificate-errors-spki-list=${spki}`]);
}, 60_000);

afterAll(async () => {
  await harness?.close();
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset if beforeAll failed
  await broker?.stop();
});

describe('TLS from the browser', () => {
  it('produces and consumes over wss:// with the browser WebSocket', async () => {
    expect(broker.url.startsWith('wss://')).toBe(true);
    const { page } = await harness!.newPage();
    const got = await page.evaluate(async (url) => (window as unknown as { runTls(u: string): Promise<string[]> }).runTls(url), broker.url);
    expect(got).toEqual(['tls-0', 'tls-1', 'tls-2', 'tls-3', 'tls-4']);
    await page.close();
  }, 30_000);

  it('a plain ws:// URL to the TLS port does not connect (typed CONNECTION_CLOSED)', async () => {
    const { page } = await harness!.newPage();
    const code = await page.evaluate(async (url) => (window as unknown as { tryConnect(u: string): Promise<unknown> }).tryConnect(url), broker.url.replace('wss:', 'ws:'));
    expect(code).toBe(ErrorCode.CONNECTION_CLOSED);
    await page.close();
  }, 30_000);
});
