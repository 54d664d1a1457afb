// `tickbus dev-cluster`: a local cluster for a newcomer — its own etcd and N broker processes on
// fixed ports, one zone each — until Ctrl-C/SIGTERM, which stops the brokers (gracefully, then
// SIGKILL after a bound) and then etcd. Each process is a child of this one and is stopped by its pid.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { intOption, parse, str, UsageError } from './args.js';

const USAGE = `
Usage: tickbus dev-cluster [--brokers N] [--base-port P] [--data DIR] [--owners N]

Starts etcd (the etcd binary from Debian's etcd-server) and N brokers (node ids 1..N, zones z1..zN)
on 127.0.0.1, prints one JSON line per process and a final {"event":"ready",...} line, and stops
everything on Ctrl-C or SIGTERM.

Options:
  --brokers N       brokers to start (1-9)                                                   [3]
  --base-port P     broker i listens on P+10*(i-1) (owners on the ports after it);
                    etcd on P+100 (client) and P+101 (peer)                                 [7420]
  --data DIR        keep etcd and broker data here (reused by the next run)     [a fresh temp dir]
  --owners N        partition-owner threads per broker                                       [1]
  -h, --help        show this help
`;

const CLI = fileURLToPath(new URL('./main.js', import.meta.url));
const ETCD_CANDIDATES = ['/usr/bin/etcd', '/usr/local/bin/etcd'];
const STOP_GRACE_MS = 20_000;

interface Child {
  name: string;
  proc: ChildProcess;
}

function exited(p: ChildProcess): Promise<void> {
  return p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise((r) => p.once('exit', () => r()));
}

/** SIGTERM, then SIGKILL if it has not exited within graceMs. */
async function stopChild(c: Child, graceMs: number): Promise<void> {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return;
  c.proc.kill('SIGCONT'); // a paused (SIGSTOPped) process cannot act on SIGTERM
  c.proc.kill('SIGTERM');
  const timer = setTimeout(() => c.proc.kill('SIGKILL'), graceMs);
  await exited(c.proc);
  clearTimeout(timer);
}

/** Forwards a child's stderr lines to ours, prefixed with its name. */
function prefixStderr(c: Child): void {
  let buf = '';
  c.proc.stderr?.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      process.stderr.write(`[${c.name}] ${buf.slice(0, nl)}\n`);
      buf = buf.slice(nl + 1);
    }
  });
}

async function waitEtcdHealthy(url: string, proc: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`etcd exited with code ${proc.exitCode}`);
    try {
      if ((await fetch(`${url}/health`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`etcd at ${url} was not healthy within ${timeoutMs} ms`);
}

function waitListening(c: Child, timeoutMs: number): Promise<{ url: string; owners: { id: number; url: string }[] }> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${c.name} did not start within ${timeoutMs} ms`)), timeoutMs);
    c.proc.stdout?.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      try {
        resolve(JSON.parse(out.slice(0, nl)) as { url: string; owners: { id: number; url: string }[] });
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
    c.proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${c.name} exited with code ${String(code)} before it was ready`));
    });
  });
}

export async function devClusterCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { brokers: { type: 'string' }, 'base-port': { type: 'string' }, data: { type: 'string' }, owners: { type: 'string' } }, USAGE);
  if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'\n${USAGE}`);
  const brokers = intOption(values, 'brokers', 3, 1, 9);
  const basePort = intOption(values, 'base-port', 7420, 1024, 65_000);
  const owners = intOption(values, 'owners', 1, 1, 8);
  const etcdBin = ETCD_CANDIDATES.find((p) => fs.existsSync(p));
  if (!etcdBin) throw new UsageError(`no etcd binary in ${ETCD_CANDIDATES.join(' or ')}: install Debian's etcd-server (apt-get install etcd-server)`);
  const given = str(values, 'data');
  const dataDir = given ? path.resolve(given) : fs.mkdtempSync(path.join(os.tmpdir(), 'tickbus-dev-cluster-'));
  fs.mkdirSync(dataDir, { recursive: true });

  const children: Child[] = [];
  // Whatever happens to this process short of SIGKILL, its children go with it.
  const killAll = (): void => {
    for (const c of children) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
  };
  process.on('exit', killAll);

  let stopping = false;
  const stopAll = async (): Promise<void> => {
    stopping = true;
    const [etcd, ...nodes] = children;
    await Promise.all(nodes.map((c) => stopChild(c, STOP_GRACE_MS)));
    if (etcd) await stopChild(etcd, 10_000);
    if (!given) fs.rmSync(dataDir, { recursive: true, force: true });
  };
  const stopped = new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });

  try {
    const clientUrl = `http://127.0.0.1:${basePort + 100}`;
    const peerUrl = `http://127.0.0.1:${basePort + 101}`;
    // prettier-ignore
    const etcdArgs = [
      '--name', 'dev', '--data-dir', path.join(dataDir, 'etcd'),
      '--listen-client-urls', clientUrl, '--advertise-client-urls', clientUrl,
      '--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl, '--initial-cluster', `dev=${peerUrl}`,
      '--log-level', 'error', '--logger', 'zap',
    ];
    const etcd: Child = { name: 'etcd', proc: spawn(etcdBin, etcdArgs, { stdio: ['ignore', 'ignore', 'pipe'] }) };
    children.push(etcd);
    prefixStderr(etcd);
    await waitEtcdHealthy(clientUrl, etcd.proc, 15_000);
    const etcdUrl = `etcd://127.0.0.1:${basePort + 100}`;
    process.stdout.write(JSON.stringify({ event: 'etcd', url: etcdUrl, pid: etcd.proc.pid }) + '\n');

    const urls: string[] = [];
    for (let id = 1; id <= brokers; id++) {
      const port = basePort + 10 * (id - 1);
      // Fixed owner ports: other brokers' followers find an owner through the endpoint this broker registered.
      // prettier-ignore
      const args = [
        CLI, 'broker', '--cluster', etcdUrl, '--node-id', String(id), '--zone', `z${id}`,
        '--port', String(port), '--owner-base-port', String(port + 1), '--owners', String(owners),
        '--data', path.join(dataDir, `broker-${id}`),
      ];
      const c: Child = { name: `broker ${id}`, proc: spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] }) };
      children.push(c);
      prefixStderr(c);
      const info = await waitListening(c, 30_000);
      urls.push(info.url);
      process.stdout.write(JSON.stringify({ event: 'broker', nodeId: id, zone: `z${id}`, url: info.url, owners: info.owners, pid: c.proc.pid }) + '\n');
      c.proc.on('exit', (code, signal) => {
        if (stopping) return;
        process.stderr.write(`[dev-cluster] broker ${id} exited (${signal ?? `code ${String(code)}`}); start it again with:\n  node ${args.map((a) => (a.includes(' ') ? JSON.stringify(a) : a)).join(' ')}\n`);
      });
    }
    process.stdout.write(JSON.stringify({ event: 'ready', cluster: etcdUrl, brokers: urls, data: dataDir }) + '\n');
    process.stderr.write(`[dev-cluster] ${brokers} brokers up. Try: tickbus cluster status --cluster ${etcdUrl}   (Ctrl-C stops everything)\n`);
  } catch (err) {
    await stopAll();
    throw err;
  }
  const signal = await stopped;
  process.stderr.write(`[dev-cluster] ${signal}: stopping the brokers, then etcd\n`);
  await stopAll();
  return 0;
}
