// TLS on a real broker process: every endpoint is wss://, the Node SDK connects with a private CA,
// a client that does not trust the CA is refused without disturbing others, SIGHUP serves a new
// certificate to new connections while open ones go on, and permessage-deflate is never negotiated.
import fs from 'node:fs';
import tls from 'node:tls';
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { type Bus, connect, type ConsumedRecord, ErrorCode, utf8 } from '../../client/index.js';
import net from 'node:net';
import { type BrokerProcess, freePort, startBroker, tempDir } from '../helpers/broker.js';
import { until } from '../helpers/until.js';
import { makeCa, makeServerCert, type ServerCert, type TestCa } from './tls-fixtures.js';

const brokers: BrokerProcess[] = [];
const buses: Bus[] = [];
afterEach(async () => {
  await Promise.allSettled(buses.splice(0).map((b) => b.close()));
  await Promise.allSettled(brokers.splice(0).map((b) => b.stop()));
});

async function tlsBroker(): Promise<{ b: BrokerProcess; ca: TestCa; cert: ServerCert; live: ServerCert }> {
  const ca = makeCa(tempDir('tickbus-tls-'));
  const cert = makeServerCert(ca, 'server-1');
  // The broker reads fixed paths; a renewal overwrites them (as certbot would) and sends SIGHUP.
  const live = { certFile: `${ca.dir}/live.crt`, keyFile: `${ca.dir}/live.key`, fingerprint256: cert.fingerprint256 };
  fs.copyFileSync(cert.certFile, live.certFile);
  fs.copyFileSync(cert.keyFile, live.keyFile);
  // Explicit owner ports: a port the OS chose (bind(0)) cannot be re-bound while connections to it are
  // open (Linux), and a reload re-binds; explicitly configured ports do.
  const ownerBase = await twoFreePorts();
  const b = await startBroker({ args: ['--owners', '2', '--owner-base-port', String(ownerBase), '--tls-cert', live.certFile, '--tls-key', live.keyFile, '--tls-ca', ca.certFile] });
  brokers.push(b);
  return { b, ca, cert, live };
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A port p with p and p+1 free right now (owner ports are consecutive). */
async function twoFreePorts(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const p = await freePort();
    if (p < 65535 && (await bindable(p + 1))) return p;
  }
  throw new Error('no two consecutive free ports');
}

async function client(url: string, ca: string): Promise<Bus> {
  const bus = await connect({ brokers: [url], clientId: 'tls-test', tls: { ca }, reconnect: { initialMs: 20, maxMs: 200 } });
  buses.push(bus);
  return bus;
}

/** The certificate a fresh TLS connection to host:port is served (SHA-256 fingerprint). */
function servedCert(url: string, ca: string): Promise<string> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: u.hostname, port: Number(u.port), ca, servername: 'localhost' }, () => {
      const fp = s.getPeerCertificate().fingerprint256;
      s.end();
      resolve(fp);
    });
    s.once('error', reject);
  });
}

function collect(sub: { on(ev: 'record', fn: (r: ConsumedRecord) => void): unknown }): string[] {
  const out: string[] = [];
  sub.on('record', (r) => out.push(utf8(r.value)));
  return out;
}

describe('TLS', () => {
  it('serves every endpoint over wss:// and the Node SDK round-trips through a private CA', async () => {
    const { b, ca } = await tlsBroker();
    expect(b.url).toMatch(/^wss:\/\/127\.0\.0\.1:\d+\/$/);
    expect(b.owners.every((o) => o.url.startsWith('wss://'))).toBe(true);
    const bus = await client(b.url, ca.pem);
    const t = await bus.admin.createTopic('secure', { partitions: 2 });
    expect(t.partitions.every((p) => p.endpoint.startsWith('wss://'))).toBe(true);
    const sub = bus.subscribe('secure', { from: 'earliest' });
    const got = collect(sub);
    await bus.send('secure', Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value: `v${i}` })));
    await until(() => got.length === 20, '20 records over wss');
    expect(got.sort()).toEqual(Array.from({ length: 20 }, (_, i) => `v${i}`).sort());
  });

  it('refuses a client that does not trust the CA (typed CONNECTION_CLOSED) and others are unaffected', async () => {
    const { b, ca } = await tlsBroker();
    const good = await client(b.url, ca.pem);
    await good.admin.createTopic('t', { partitions: 1 });
    const other = makeCa(tempDir('tickbus-tls-other-'), 'other-ca');
    await expect(
      connect({ brokers: [b.url], tls: { ca: other.pem }, connectTimeoutMs: 2_000, reconnect: { maxRetries: 0 } }),
    ).rejects.toMatchObject({ code: ErrorCode.CONNECTION_CLOSED });
    // A plain ws:// client to a TLS port gets nowhere either.
    await expect(connect({ brokers: [b.url.replace('wss:', 'ws:')], connectTimeoutMs: 2_000, reconnect: { maxRetries: 0 } })).rejects.toBeDefined();
    const acks = await good.send('t', [{ value: 'still fine' }]);
    expect(acks[0]!.offset).toBe(0);
  });

  it('SIGHUP: new connections get the renewed certificate on bootstrap and owners; open connections go on', async () => {
    const { b, ca, cert, live } = await tlsBroker();
    const bus = await client(b.url, ca.pem);
    await bus.admin.createTopic('renew', { partitions: 1 });
    const sub = bus.subscribe('renew', { from: 'earliest' });
    const got = collect(sub);
    await bus.send('renew', [{ value: 'before' }]);
    await until(() => got.length === 1, 'record before reload');
    const endpoints = [b.url, ...b.owners.map((o) => o.url)];
    for (const url of endpoints) expect(await servedCert(url, ca.pem)).toBe(cert.fingerprint256);

    const renewed = makeServerCert(ca, 'server-2');
    expect(renewed.fingerprint256).not.toBe(cert.fingerprint256);
    fs.copyFileSync(renewed.certFile, live.certFile);
    fs.copyFileSync(renewed.keyFile, live.keyFile);
    process.kill(b.pid, 'SIGHUP');
    await until(() => b.stderr().includes('tls reloaded'), 'the broker to log the reload', 10_000).catch((e: unknown) => {
      throw new Error(`${String(e)}; stderr:\n${b.stderr()}`);
    });

    for (const url of endpoints) expect(await servedCert(url, ca.pem)).toBe(renewed.fingerprint256);
    // The SDK's sockets opened before the reload still produce and deliver (the live stream reaches a
    // subscriber on the retired app).
    await bus.send('renew', [{ value: 'after' }]);
    await until(() => got.length === 2, 'record after reload on the old connection');
    expect(got).toEqual(['before', 'after']);
    // And a new client connects with the new certificate.
    const fresh = await client(b.url, ca.pem);
    const acks = await fresh.send('renew', [{ value: 'fresh' }]);
    expect(acks[0]!.offset).toBe(2);
    await until(() => got.length === 3, 'record from the new client');
  });

  it('a reload with a key that does not match keeps the old certificate and says why', async () => {
    const { b, ca, cert, live } = await tlsBroker();
    const other = makeServerCert(ca, 'server-x');
    fs.copyFileSync(other.keyFile, live.keyFile); // new key, old certificate: not a pair
    process.kill(b.pid, 'SIGHUP');
    await until(() => b.stderr().includes('tls reload failed'), 'the broker to log the failed reload', 10_000);
    expect(await servedCert(b.url, ca.pem)).toBe(cert.fingerprint256);
    expect(await servedCert(b.owners[0]!.url, ca.pem)).toBe(cert.fingerprint256);
  });
});

describe('permessage-deflate', () => {
  it('is not negotiated by the bootstrap or an owner, even when the client offers it', async () => {
    const b = await startBroker({ args: ['--owners', '1'] });
    brokers.push(b);
    for (const url of [b.url, b.owners[0]!.url]) {
      const ext = await new Promise<string | undefined>((resolve, reject) => {
        const ws = new WebSocket(url, { perMessageDeflate: true });
        ws.once('upgrade', (res) => resolve(res.headers['sec-websocket-extensions']));
        ws.once('open', () => ws.close());
        ws.once('error', reject);
      });
      expect(ext).toBeUndefined();
    }
  });
});
