// Runs one server process for a target: spawned with its own temp dir, ready when its output says so,
// stopped with SIGTERM (SIGKILL after a grace period). Every child still running when the harness exits
// is killed, so an aborted bench leaves no server behind.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ServerStartError } from '../errors.js';

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export interface ChildServerOptions<T> {
  /** For messages: "nats-server", "uws-relay"... */
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** Looks at everything printed so far (stdout + stderr); returns the server's info once ready. */
  ready: (output: string) => T | null;
  timeoutMs?: number;
  /** Removed after the server stops. */
  tempDir?: string;
}

export interface ChildServer<T> {
  readonly info: T;
  readonly pid: number;
  /** The last few KB of the server's output (for error messages). */
  output(): string;
  stop(): Promise<void>;
}

export function makeTempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export async function startChildServer<T>(opts: ChildServerOptions<T>): Promise<ChildServer<T>> {
  const child = spawn(opts.command, opts.args, { env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let output = '';
  const append = (d: Buffer): void => {
    output += d.toString('utf8');
    if (output.length > 64_000) output = output.slice(-32_000);
  };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const cleanup = (): void => {
    live.delete(child);
    if (opts.tempDir) fs.rmSync(opts.tempDir, { recursive: true, force: true });
  };

  let info: T;
  try {
    info = await new Promise<T>((resolve, reject) => {
      const timeoutMs = opts.timeoutMs ?? 15_000;
      const check = (): void => {
        const r = opts.ready(output);
        if (r !== null) {
          done();
          resolve(r);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new ServerStartError(`${opts.name} printed no ready line within ${timeoutMs} ms; output:\n${output.slice(-2000)}`));
      }, timeoutMs);
      const onExit = (code: number | null, signal: string | null): void => {
        done();
        reject(new ServerStartError(`${opts.name} exited (${signal ?? `code ${String(code)}`}) before it was ready; output:\n${output.slice(-2000)}`));
      };
      const onError = (err: Error): void => {
        done();
        reject(new ServerStartError(`${opts.name} could not be started: ${err.message}`, { cause: err }));
      };
      const done = (): void => {
        clearTimeout(timer);
        child.stdout.off('data', check);
        child.stderr.off('data', check);
        child.off('exit', onExit);
        child.off('error', onError);
      };
      child.stdout.on('data', check);
      child.stderr.on('data', check);
      child.once('exit', onExit);
      child.once('error', onError);
    });
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    cleanup();
    throw err;
  }

  let stopping: Promise<void> | null = null;
  return {
    info,
    pid: child.pid ?? -1,
    output: () => output,
    stop: () => {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
          await exited;
          clearTimeout(force);
        }
        cleanup();
      })();
      return stopping;
    },
  };
}

/** The first JSON object line in `output`, or null. For servers that print one ready line. */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the line's shape
export function firstJsonLine<T>(output: string): T | null {
  for (const line of output.split('\n')) {
    const t = line.trim();
    if (t.startsWith('{') && t.endsWith('}')) {
      try {
        return JSON.parse(t) as T;
      } catch {
        // not the ready line; keep looking
      }
    }
  }
  return null;
}
