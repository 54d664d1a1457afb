// A throwaway etcd for one test file: its own data dir and free loopback ports, stopped (or
// SIGSTOPped, or killed and restarted) by the test. Debian's etcd-server 3.4 (.ci/run installs it).
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import { freePort, tempDir } from './broker.js';

export interface EtcdProcess {
  /** Client URL, e.g. http://127.0.0.1:23791 */
  url: string;
  pid: number;
  stop(): Promise<void>;
  /** SIGKILL and wait; restart() brings it back on the same ports and data. */
  kill9(): Promise<void>;
  restart(): Promise<void>;
  pause(): void;
  resume(): void;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

export const ETCD_BIN = ['/usr/bin/etcd', '/usr/local/bin/etcd'].find((p) => fs.existsSync(p)) ?? 'etcd';

export async function startEtcd(): Promise<EtcdProcess> {
  const dataDir = tempDir('tickbus-etcd-');
  const clientPort = await freePort();
  const peerPort = await freePort();
  const url = `http://127.0.0.1:${clientPort}`;
  let child: ChildProcess;

  const launch = async (): Promise<void> => {
    const args = [
      '--name', 'e0',
      '--data-dir', dataDir,
      '--listen-client-urls', url,
      '--advertise-client-urls', url,
      '--listen-peer-urls', `http://127.0.0.1:${peerPort}`,
      '--initial-advertise-peer-urls', `http://127.0.0.1:${peerPort}`,
      '--initial-cluster', `e0=http://127.0.0.1:${peerPort}`,
      '--log-level', 'error',
      '--logger', 'zap',
    ];
    child = spawn(ETCD_BIN, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ETCD_UNSUPPORTED_ARCH: process.arch === 'x64' ? '' : process.arch } });
    live.add(child);
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      if (err.length < 8192) err += d;
    });
    // Ready when the client port answers /health.
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`etcd exited with ${child.exitCode}: ${err}`);
      try {
        const r = await fetch(`${url}/health`);
        if (r.ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`etcd did not become healthy within 15 s: ${err}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const exited = (c: ChildProcess): Promise<void> =>
    c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', () => r()));

  await launch();
  return {
    url,
    get pid() {
      return child.pid ?? -1;
    },
    async stop() {
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      await exited(child);
      live.delete(child);
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
    async kill9() {
      child.kill('SIGKILL');
      await exited(child);
      live.delete(child);
    },
    async restart() {
      await launch();
    },
    pause() {
      child.kill('SIGSTOP');
    },
    resume() {
      child.kill('SIGCONT');
    },
  };
}
