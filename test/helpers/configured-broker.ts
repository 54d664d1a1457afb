// A broker with settings the CLI has no flags for (slow-consumer limits, maxBackpressure, ...): a tiny
// script calls startBroker() from dist/ with a config object, in its own process (real process, real
// sockets, like test/helpers/broker.ts), one owner, port 0, its own temp data dir.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { REPO, tempDir } from './broker.js';

export interface ConfiguredBroker {
  url: string;
  port: number;
  /** Everything the broker wrote to stderr so far (its log lines). */
  stderr(): string;
  /** SIGTERM (SIGKILL after 10 s), wait for exit, remove the data dir. Safe to call twice. */
  stop(): Promise<void>;
}

const SCRIPT = `
import { pathToFileURL } from 'node:url';
const [entry, dataDir, config] = process.argv.slice(2);
const { startBroker } = await import(pathToFileURL(entry).href);
const b = await startBroker({ port: 0, ownerBasePort: 0, owners: 1, dataDir, ...JSON.parse(config) });
process.stdout.write(JSON.stringify({ url: b.url, port: b.port }) + '\\n');
process.on('SIGTERM', () => b.close().then(() => process.exit(0), () => process.exit(1)));
`;

// A test runner that dies without its afterAll must not leave brokers behind.
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

/** Starts a one-owner broker from dist/ with `config` merged into its BrokerConfig; resolves once it listens. */
export async function startConfiguredBroker(config: Record<string, number>, timeoutMs = 15_000): Promise<ConfiguredBroker> {
  const entry = path.join(REPO, 'dist/broker/server/broker.js');
  if (!fs.existsSync(entry)) throw new Error(`${entry} is missing: run 'npm run build' first`);
  const dataDir = tempDir('tickbus-configured-');
  // A script file, not --eval: the owner worker threads inherit the process's execArgv.
  const script = path.join(dataDir, 'start-broker.mjs');
  fs.writeFileSync(script, SCRIPT);
  const child = spawn(process.execPath, [script, entry, path.join(dataDir, 'data'), JSON.stringify(config)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  child.once('exit', () => live.delete(child));
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(force);
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  };

  try {
    const ready = await new Promise<{ url: string; port: number }>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`broker did not start in ${timeoutMs} ms; stderr:\n${stderr}`)), timeoutMs);
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        const nl = out.indexOf('\n');
        if (nl < 0) return;
        clearTimeout(timer);
        resolve(JSON.parse(out.slice(0, nl)) as { url: string; port: number });
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`broker exited (${String(code)}) before it was ready; stderr:\n${stderr}`));
      });
    });
    return { url: ready.url, port: ready.port, stderr: () => stderr, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
