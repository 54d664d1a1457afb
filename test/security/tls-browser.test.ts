// wss:// from the browser bundle in headless Chromium against a TLS broker whose certificate comes
// from a CA made by the test. The browser trusts what the browser trusts and the SDK takes no TLS
// settings there, so Chromium is told to accept exactly this certificate's public key
// (--ignore-certificate-errors-spki-list), not every certificate.
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, ErrorCode } from '../../client/index.js';
import { type BrokerProcess, REPO, startBroker, tempDir } from '../helpers/broker.js';
import { makeCa, makeServerCert } from './tls-fixtures.js';

const BUNDLE = path.join(REPO, 'dist/browser/tickbus.js');

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
let server: http.Server | undefined;
let pageUrl = '';
let browser: Browser;

beforeAll(async () => {
  await promisify(execFile)(process.execPath, [path.join(REPO, 'scripts/build-browser.mjs')], { cwd: REPO });
  const ca = makeCa(tempDir('tickbus-tls-browser-'));
  const cert = makeServerCert(ca, 'browser-server');
  broker = await startBroker({ args: ['--owners', '1', '--tls-cert', cert.certFile, '--tls-key', cert.keyFile] });
  const bus = await connect({ brokers: [broker.url], tls: { ca: ca.pem } });
  await bus.admin.createTopic('secure', { partitions: 1 });
  await bus.close();
  const srv = http.createServer((req, res) => {
    if (req.url === '/tickbus.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(fs.readFileSync(BUNDLE));
    } else if (req.url === '/') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(PAGE);
    } else {
      res.writeHead(404).end();
    }
  });
  server = srv;
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  pageUrl = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/`;
  const spki = crypto.createHash('sha256').update(crypto.createPublicKey(fs.readFileSync(cert.keyFile)).export({ type: 'spki', format: 'der' })).digest('base64');
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--ignore-certificate-errors-spki-list=${spki}`,
    ],
  });
}, 60_000);

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset if beforeAll failed
  await browser?.close();
  const srv = server;
  if (srv) await new Promise<void>((r) => srv.close(() => r()));
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset if beforeAll failed
  await broker?.stop();
});

describe('TLS from the browser', () => {
  it('produces and consumes over wss:// with the browser WebSocket', async () => {
    expect(broker.url.startsWith('wss://')).toBe(true);
    const page = await browser.newPage();
    await page.goto(pageUrl);
    await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
    const got = await page.evaluate(async (url) => (window as unknown as { runTls(u: string): Promise<string[]> }).runTls(url), broker.url);
    expect(got).toEqual(['tls-0', 'tls-1', 'tls-2', 'tls-3', 'tls-4']);
    await page.close();
  }, 30_000);

  it('a plain ws:// URL to the TLS port does not connect (typed CONNECTION_CLOSED)', async () => {
    const page = await browser.newPage();
    await page.goto(pageUrl);
    await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
    const code = await page.evaluate(async (url) => (window as unknown as { tryConnect(u: string): Promise<unknown> }).tryConnect(url), broker.url.replace('wss:', 'ws:'));
    expect(code).toBe(ErrorCode.CONNECTION_CLOSED);
    await page.close();
  }, 30_000);
});
