// A real broker process for integration tests: `node dist/cli/main.js broker` on port 0 with
// its own temp data dir, stopped (or kill -9'd) by the test. Like nats.js's NatsServer.start().
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// Two levels up from source (vitest); from the compiled copy in dist/test/helpers (the fault soak CLI) three.
const UP2 = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const REPO = path.basename(UP2) === 'dist' ? path.dirname(UP2) : UP2;
export const CLI = path.join(REPO, 'dist/cli/main.js');

export interface BrokerProcess {
  url: string;
  port: number;
  dataDir: string;
  pid: number;
  owners: { id: number; url: string }[];
  /** Everything the broker wrote to stderr so far (its log lines). */
  stderr(): string;
  /** SIGTERM and wait for exit (graceful shutdown). Resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait for exit. */
  kill9(): Promise<void>;
  /** Starts again on the same data dir and port. */
  restart(): Promise<void>;
}

export interface StartOptions {
  dataDir?: string;
  args?: string[];
  env?: Record<string, string>;
  /** Milliseconds to wait for the ready line. */
  timeoutMs?: number;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

export function tempDir(prefix = 'tickbus-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A loopback port that is free right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * A first port of `count` consecutive free loopback ports BELOW Linux's ephemeral range (32768-60999), for
 * ports a test binds again after a kill -9 (a restarted broker keeps its owner ports). A port from the
 * ephemeral range can be handed to any process's outgoing connection while the broker is down, and the
 * restart then fails with "port in use" (seen once in a full run: fault scenario, seed 2).
 */
export async function stablePorts(count = 1): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * (12_000 - count));
    let ok = true;
    for (let p = base; p < base + count && ok; p++) ok = await portIsFree(p);
    if (ok) return base;
  }
  throw new Error(`no ${count} consecutive free ports found below the ephemeral range`);
}

export async function startBroker(opts: StartOptions = {}): Promise<BrokerProcess> {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run 'npm run build' first`);
  const dataDir = opts.dataDir ?? tempDir();
  let port = 0;
  let child: ChildProcess;
  let errText = '';
  let info: { url: string; port: number; owners: { id: number; url: string }[] };

  const launch = async (p: number): Promise<void> => {
    const args = [CLI, 'broker', '--port', String(p), '--owner-base-port', '0', '--data', dataDir, ...(opts.args ?? [])];
    child = spawn(process.execPath, args, { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      errText += d;
    });
    info = await new Promise((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`broker did not start within ${opts.timeoutMs ?? 15000} ms; stderr:\n${errText}`));
      }, opts.timeoutMs ?? 15_000);
      child.stdout!.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        const nl = out.indexOf('\n');
        if (nl >= 0) {
          clearTimeout(timer);
          try {
            resolve(JSON.parse(out.slice(0, nl)) as typeof info);
          } catch (err) {
            reject(err instanceof Error ? err : new Error(String(err)));
          }
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        live.delete(child);
        reject(new Error(`broker exited with code ${String(code)} before it was ready; stderr:\n${errText}`));
      });
    });
    port = info.port;
  };

  const waitExit = (): Promise<number | null> =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
      child.once('exit', (code) => resolve(code));
    });

  // An explicit port, not port 0: Linux refuses to re-bind a port first taken through bind(0) while
  // TIME_WAIT sockets of it remain (measured here), so a restart after kill -9 would fail; an explicitly
  // bound port re-binds at once. Another process may take the port between probe and bind: try again.
  for (let attempt = 1; ; attempt++) {
    try {
      await launch(await freePort());
      break;
    } catch (err) {
      if (attempt >= 3 || !String(err).includes('cannot listen')) throw err;
    }
  }
  const handle: BrokerProcess = {
    get url() {
      return info.url;
    },
    get port() {
      return port;
    },
    get owners() {
      return info.owners;
    },
    get pid() {
      return child.pid ?? -1;
    },
    dataDir,
    stderr: () => errText,
    stop: async () => {
      const exited = waitExit();
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(timer);
      live.delete(child);
      return code;
    },
    kill9: async () => {
      const exited = waitExit();
      child.kill('SIGKILL');
      await exited;
      live.delete(child);
    },
    restart: async () => {
      await launch(port);
    },
  };
  return handle;
}
