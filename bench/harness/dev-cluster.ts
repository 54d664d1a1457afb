// A local cluster for bench points and demonstrations: `tickbus dev-cluster` (its own etcd, brokers 1..N
// in zones z1..zN on fixed ports) as a child process, plus the pids it prints, so stop() can end the
// node processes themselves when the dev-cluster parent did not (killed harness, stuck shutdown).
// Extra brokers can join the same etcd (`addBroker`): the autoscaling demonstration grows the cluster.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ServerStartError } from '../errors.js';
import { repoRoot } from './entry-path.js';
import { makeTempDir, startChildServer } from '../servers/child-server.js';
import { freePort } from '../servers/free-port.js';

export interface DevBroker {
  nodeId: number;
  zone: string;
  /** Bootstrap ws:// URL; /metrics and /healthz are HTTP on the same port. */
  url: string;
  port: number;
  pid: number;
}

export interface DevCluster {
  /** etcd://127.0.0.1:P, for `tickbus broker --cluster` and `tickbus cluster status`. */
  etcdUrl: string;
  brokers: DevBroker[];
  dataDir: string;
  /** Starts broker `nodeId` (zone z<nodeId>) on the same etcd; resolves once it listens. */
  addBroker(nodeId: number): Promise<DevBroker>;
  /** The dev-cluster's own output (its children's log lines, prefixed). */
  output(): string;
  /** Stops the brokers and etcd (through dev-cluster, then SIGKILL of any pid still alive); removes the data. */
  stop(): Promise<void>;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** dev-cluster's ports: broker i at P+10(i-1) with owners after it, etcd at P+100 and P+101; `brokers` + room to grow. */
export async function freeBasePort(brokers: number): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const base = (await freePort()) - 200;
    if (base < 1024 || base + 101 > 65535) continue;
    const ports = [100, 101, ...Array.from({ length: brokers }, (_, k) => [10 * k, 10 * k + 1]).flat()].map((d) => base + d);
    if ((await Promise.all(ports.map(portFree))).every(Boolean)) return base;
  }
  throw new ServerStartError(`no free port range for a ${brokers}-broker dev-cluster`);
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

interface Ready {
  etcdUrl: string;
  brokers: DevBroker[];
}

/** Starts `brokers` brokers; `room` more can be added later on free ports. */
export async function startDevCluster(opts: { brokers: number; room?: number; owners?: number }): Promise<DevCluster> {
  const base = await freeBasePort(opts.brokers + (opts.room ?? 0));
  const dir = makeTempDir('tickbus-dev-cluster-');
  const cli = path.join(repoRoot(), 'dist', 'cli', 'main.js');
  const pids = new Set<number>();
  const extra: ChildProcess[] = [];
  const killAll = (): void => {
    for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  };
  process.on('exit', killAll);
  const cluster = await startChildServer<Ready>({
    name: 'tickbus dev-cluster',
    command: process.execPath,
    args: [cli, 'dev-cluster', '--brokers', String(opts.brokers), '--base-port', String(base), '--data', dir, '--owners', String(opts.owners ?? 1)],
    timeoutMs: 60_000,
    ready: (out) => {
      let etcdUrl = '';
      const brokers: DevBroker[] = [];
      for (const line of out.split('\n')) {
        if (!line.startsWith('{"event":')) continue;
        const e = JSON.parse(line) as { event: string; url: string; pid: number; nodeId: number; zone: string };
        if (e.event === 'etcd') {
          etcdUrl = e.url;
          pids.add(e.pid);
        } else if (e.event === 'broker') {
          pids.add(e.pid);
          brokers.push({ nodeId: e.nodeId, zone: e.zone, url: e.url, port: Number(new URL(e.url).port), pid: e.pid });
        } else if (e.event === 'ready') return { etcdUrl, brokers };
      }
      return null;
    },
  });
  const addBroker = async (nodeId: number): Promise<DevBroker> => {
    const port = base + 10 * (nodeId - 1);
    // prettier-ignore
    const args = [cli, 'broker', '--cluster', cluster.info.etcdUrl, '--node-id', String(nodeId), '--zone', `z${nodeId}`,
      '--port', String(port), '--owner-base-port', String(port + 1), '--owners', String(opts.owners ?? 1), '--data', path.join(dir, `broker-${nodeId}`)];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    extra.push(child);
    if (child.pid !== undefined) pids.add(child.pid);
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new ServerStartError(`broker ${nodeId} did not listen within 30 s:\n${out.slice(-2_000)}`)), 30_000);
      const onData = (d: Buffer): void => {
        out += d.toString('utf8');
        if (out.length > 64_000) out = out.slice(-32_000);
        if (/"listening"|listening on/.test(out)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new ServerStartError(`broker ${nodeId} exited with code ${String(code)}:\n${out.slice(-2_000)}`));
      });
    });
    const b: DevBroker = { nodeId, zone: `z${nodeId}`, url: `ws://127.0.0.1:${port}`, port, pid: child.pid ?? -1 };
    cluster.info.brokers.push(b);
    return b;
  };
  return {
    etcdUrl: cluster.info.etcdUrl,
    brokers: cluster.info.brokers,
    dataDir: dir,
    addBroker,
    output: () => cluster.output(),
    stop: async () => {
      for (const c of extra) c.kill('SIGTERM');
      await Promise.all(extra.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('exit', r)) : null)).map((p) => Promise.race([p, new Promise((r) => setTimeout(r, 5_000))])));
      await cluster.stop();
      killAll();
      process.off('exit', killAll);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
