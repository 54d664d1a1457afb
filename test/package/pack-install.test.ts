// The package as users get it: `npm pack`, then `npm install <tarball>` into an empty project, then the three
// ways people use tickbus, each from that install and nothing else: the SDK (`import { connect } from
// 'tickbus'`), the CLI against a broker it started, and `tickbus bench latency --quick` with none of the
// peers' client libraries installed (nats and ioredis are optional peer dependencies).
// Slow by nature (a pack, an install from the npm cache, a bench run): every step has its own time bound.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, tempDir } from '../helpers/broker.js';

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

// Under `npm test`, npm exports its config to children as npm_config_* (npm_config_local_prefix=<this repo>):
// an `npm install` that inherited them could act on the repository instead of the empty project: children get none.
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) && k !== 'INIT_CWD'));

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

/** Runs a command to completion, killed after `timeoutMs` (the result then says so). */
function run(command: string, args: string[], opts: { cwd: string; timeoutMs: number; stdin?: string }): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'], env: { ...cleanEnv, npm_config_update_notifier: 'false' } });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin.end(opts.stdin ?? '');
    const timer = setTimeout(() => {
      stderr += `\n[killed after ${opts.timeoutMs} ms]`;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

const show = (r: Result): string => `exit ${String(r.code)}\nstdout:\n${r.stdout.slice(-4000)}\nstderr:\n${r.stderr.slice(-4000)}`;

let work: string;
let app: string;
let packed: string[];
/** The CLI as installed: run with node directly (through npx it would be a grandchild we could not stop). */
let cli: string;

beforeAll(async () => {
  // Packs dist/ as built by `npm test`'s pretest (or `npx tsc`), like every integration test. Packing runs no
  // prepack build: rewriting dist/ here would race the other test files that start brokers from it.
  if (!fs.existsSync(path.join(REPO, 'dist/cli/main.js'))) throw new Error(`${path.join(REPO, 'dist/cli/main.js')} is missing: run 'npm run build' first`);

  work = tempDir('tickbus-pack-');
  const pack = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], { cwd: REPO, timeoutMs: 60_000 });
  expect(pack.code, show(pack)).toBe(0);
  const [info] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
  packed = info!.files.map((f) => f.path);

  app = path.join(work, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'tickbus-newcomer', private: true, type: 'module' }, null, 2));
  // No prompts: npm 11 skips unapproved install scripts (bufferutil, utf-8-validate: optional speedups of ws)
  // with a notice. --prefer-offline: the npm cache has every dependency of the repository's lockfile.
  const install = await run('npm', ['install', path.join(work, info!.filename), '--no-audit', '--no-fund', '--prefer-offline'], { cwd: app, timeoutMs: 150_000 });
  expect(install.code, show(install)).toBe(0);
  cli = path.join(app, 'node_modules/tickbus/dist/cli/main.js');
}, 360_000);

afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('npm pack', () => {
  it('ships the build, the docs and the schema, and no tests, bench results or CI files', () => {
    expect(packed).toEqual(expect.arrayContaining(['package.json', 'README.md', 'client/README.md', 'schemas/tickbus.fbs', 'dist/cli/main.js', 'dist/client/index.js', 'dist/client/index.d.ts', 'dist/client/internal.js', 'dist/bench/cli.js']));
    const allowed = (p: string): boolean => /^dist\/(?!test\/)/.test(p) || p.startsWith('docs/') || ['package.json', 'README.md', 'LICENSE', 'client/README.md', 'schemas/tickbus.fbs'].includes(p);
    expect(packed.filter((p) => !allowed(p))).toEqual([]);
    for (const p of packed) expect(p, p).not.toMatch(/^(test|bench\/results|\.ci|dist\/test)\//);
  });
});

describe('installed with npm install <tarball>', () => {
  let broker: ChildProcess | null = null;
  let url = '';

  beforeAll(async () => {
    // The broker from the installed CLI, on free ports, with its own data dir.
    const child = spawn(process.execPath, [cli, 'broker', '--port', '0', '--owner-base-port', '0', '--data', path.join(work, 'data')], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    broker = child;
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    url = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`installed broker printed no ready line within 15 s; stderr:\n${err}`)), 15_000);
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        const nl = out.indexOf('\n');
        if (nl < 0) return;
        clearTimeout(timer);
        resolve((JSON.parse(out.slice(0, nl)) as { url: string }).url);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`installed broker exited with ${String(code)}; stderr:\n${err}`));
      });
    });
  }, 30_000);

  afterAll(async () => {
    const child = broker;
    if (child?.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
    children.delete(child);
  }, 30_000);

  it('the SDK imports as `tickbus` (and `tickbus/internal`) and round-trips a record', async () => {
    fs.writeFileSync(
      path.join(app, 'sdk-check.mjs'),
      `import { connect, utf8 } from 'tickbus';
import * as internal from 'tickbus/internal';
if (typeof internal !== 'object') throw new Error('tickbus/internal did not load');
const bus = await connect({ brokers: [process.argv[2]], clientId: 'pack-install' });
try {
  await bus.admin.createTopic('sdk', { partitions: 1 });
  const acks = await bus.send('sdk', [{ key: 'k', value: 'hello from the installed package' }], { acks: 'leader' });
  const sub = bus.subscribe('sdk', { from: 'earliest' });
  for await (const rec of sub) {
    console.log(JSON.stringify({ acks, offset: rec.offset, value: utf8(rec.value) }));
    break;
  }
} finally {
  await bus.close();
}
`,
    );
    const r = await run(process.execPath, ['sdk-check.mjs', url], { cwd: app, timeoutMs: 30_000 });
    expect(r.code, show(r)).toBe(0);
    expect(JSON.parse(r.stdout.trim())).toEqual({ acks: [{ partition: 0, offset: 0 }], offset: 0, value: 'hello from the installed package' });
  });

  it('the SDK types resolve through the exports map', async () => {
    fs.writeFileSync(path.join(app, 'types-check.ts'), `import { connect, type Bus } from 'tickbus';\nconst bus: Promise<Bus> = connect({ brokers: ['ws://127.0.0.1:1'] });\nvoid bus;\n`);
    const tsc = path.join(REPO, 'node_modules/typescript/bin/tsc');
    // skipLibCheck: this checks that 'tickbus' resolves to typed declarations, not the SDK's own .d.ts files.
    const r = await run(process.execPath, [tsc, '--noEmit', '--strict', '--skipLibCheck', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', 'types-check.ts'], { cwd: app, timeoutMs: 60_000 });
    expect(r.code, show(r)).toBe(0);
  });

  it('the CLI creates a topic, produces stdin lines and consumes them back', async () => {
    const created = await run(process.execPath, [cli, 'topics', 'create', 'cli', '--partitions', '2', '--broker', url], { cwd: app, timeoutMs: 30_000 });
    expect(created.code, show(created)).toBe(0);
    const produced = await run(process.execPath, [cli, 'produce', 'cli', '--key', 'K', '--acks', 'leader', '--broker', url], { cwd: app, timeoutMs: 30_000, stdin: 'one\ntwo\nthree\n' });
    expect(produced.code, show(produced)).toBe(0);
    expect(produced.stdout.trim().split('\n')).toHaveLength(3);
    const consumed = await run(process.execPath, [cli, 'consume', 'cli', '--from', 'earliest', '--count', '3', '--broker', url], { cwd: app, timeoutMs: 30_000 });
    expect(consumed.code, show(consumed)).toBe(0);
    const values = consumed.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { value: string }).value);
    expect(values).toEqual(['one', 'two', 'three']);
  });

  it('tickbus bench latency --quick benches tickbus and the relay, and skips peers whose library is absent', async () => {
    // The newcomer's install has neither peer library; that is the case under test.
    expect(fs.existsSync(path.join(app, 'node_modules/nats'))).toBe(false);
    expect(fs.existsSync(path.join(app, 'node_modules/ioredis'))).toBe(false);
    const r = await run(process.execPath, [cli, 'bench', 'latency', '--quick'], { cwd: app, timeoutMs: 90_000 });
    expect(r.code, show(r)).toBe(0);
    // The latency table's rows: | target | rate/s | subs | sent | received | ... | note |
    const rows = r.stdout.split('\n').filter((l) => /^\| [a-z-]+ \| [\d,]+ \| \d+ \|/.test(l)).map((l) => l.split('|').map((c) => c.trim()));
    expect(rows.map((c) => c[1]).sort(), show(r)).toEqual(['tickbus', 'uws-relay']);
    for (const c of rows) {
      const [sent, received] = [Number(c[4]!.replaceAll(',', '')), Number(c[5]!.replaceAll(',', ''))];
      expect(sent, c[1]).toBeGreaterThan(0);
      expect(received, c[1]).toBe(sent);
      expect(c.at(-2), c[1]).not.toMatch(/error/); // the note column
    }
    expect(r.stderr).toContain("skipped nats: target 'nats' needs the 'nats' package: npm install nats");
    expect(r.stderr).toContain("skipped redis: target 'redis' needs the 'ioredis' package: npm install ioredis");
  });

  it('tickbus bench fails with what to install when a peer named in --targets is absent', async () => {
    const r = await run(process.execPath, [cli, 'bench', 'latency', '--quick', '--targets', 'tickbus,nats'], { cwd: app, timeoutMs: 30_000 });
    expect(r.code, show(r)).toBe(1);
    expect(r.stderr.trim()).toBe("tickbus bench: target 'nats' needs the 'nats' package: npm install nats");
  });
});
