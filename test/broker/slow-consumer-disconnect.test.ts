// A subscriber that stops reading altogether is cut off: after slowConsumerTimeoutMs without its socket
// draining, the owner sends it ErrorReply SLOW_CONSUMER (request id 0) and closes it with 1008; what it
// had been sent before is gap-free, and the producer on the same owner never notices.
// The CLI has no flags for the slow-consumer limits, so this starts the broker from dist/ in its own
// process with a small limit and timeout (a real process and real sockets, like test/helpers/broker.ts).
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { ErrorCode } from '../../schemas/errors.js';
import { REPO, tempDir } from '../helpers/broker.js';
import { createTopic, endpoints, WireClient } from '../helpers/wire-client.js';

const SLOW_CONSUMER_BYTES = 64 * 1024;
const SLOW_CONSUMER_TIMEOUT_MS = 300;

const SCRIPT = `
import { pathToFileURL } from 'node:url';
const [entry, dataDir, bytes, timeoutMs] = process.argv.slice(2);
const { startBroker } = await import(pathToFileURL(entry).href);
const b = await startBroker({ port: 0, ownerBasePort: 0, owners: 1, dataDir, slowConsumerBytes: Number(bytes), slowConsumerTimeoutMs: Number(timeoutMs) });
process.stdout.write(JSON.stringify({ url: b.url, port: b.port }) + '\\n');
process.on('SIGTERM', () => b.close().then(() => process.exit(0), () => process.exit(1)));
`;

let child: ChildProcess;
let url = '';
let port = 0;
let stderr = '';
const dataDir = tempDir('tickbus-slow-');

beforeAll(async () => {
  const entry = path.join(REPO, 'dist/broker/server/broker.js');
  if (!fs.existsSync(entry)) throw new Error(`${entry} is missing: run 'npm run build' first`);
  // A script file, not --eval: the owner worker threads inherit the process's execArgv.
  const script = path.join(dataDir, 'start-broker.mjs');
  fs.writeFileSync(script, SCRIPT);
  child = spawn(process.execPath, [script, entry, path.join(dataDir, 'data'), String(SLOW_CONSUMER_BYTES), String(SLOW_CONSUMER_TIMEOUT_MS)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const ready = await new Promise<{ url: string; port: number }>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`broker did not start in 15 s; stderr:\n${stderr}`)), 15_000);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
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
  url = ready.url;
  port = ready.port;
}, 30_000);

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition, @typescript-eslint/prefer-optional-chain -- unset if beforeAll failed
  if (child && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(force);
  }
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function disconnects(): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return Number(/tickbus_slow_consumer_disconnects_total (\d+)/.exec(text)?.[1] ?? NaN);
}

describe('slow consumer', () => {
  it('cuts off a subscriber that never reads with SLOW_CONSUMER and close 1008; the producer goes on', async () => {
    onTestFailed(() => console.log(`broker log:\n${stderr}`));
    await createTopic(url, 'stall', 1);
    const [owner] = await endpoints(url, 'stall');
    const producer = await WireClient.open(owner!);
    const consumer = await WireClient.open(owner!);
    await consumer.request({ type: 'Subscribe', requestId: 0, topic: 'stall', starts: [{ partition: 0, kind: 'earliest' }], creditBytes: 0 });
    expect(await disconnects()).toBe(0);
    consumer.ws.pause(); // stop reading: the kernel buffers fill, then the owner's send buffer

    // Produce until the owner gives up on it: past the loopback socket buffers (a few MiB) the owner's
    // own buffer holds more than slowConsumerBytes/2 and stops draining. Bounded in bytes and time.
    const value = new Uint8Array(16 * 1024).fill(7);
    let produced = 0;
    const deadline = Date.now() + 20_000;
    // Waits on the owner's log line, the record of its decision; the metric is checked separately below.
    while (!stderr.includes('slow consumer disconnected')) {
      if (produced >= 4096 || Date.now() > deadline) throw new Error(`no SLOW_CONSUMER after ${produced} records of 16 KiB`);
      const acks: Promise<unknown>[] = [];
      for (let i = 0; i < 64; i++) acks.push(producer.produce('stall', 0, [{ value }]));
      for (const a of await Promise.all(acks)) expect((a as { type: string }).type).toBe('ProduceAck');
      produced += 64;
      await new Promise((r) => setTimeout(r, 20)); // let the sweep (every 50 ms) see the stall
    }

    // Reading again, the consumer gets what was queued for it, then the typed error, then the close.
    consumer.ws.resume();
    expect(await consumer.waitClosed(15_000)).toBe(1008);
    const errors = consumer.frames.filter((f) => f.type === 'ErrorReply');
    expect(errors).toHaveLength(1);
    const err = errors[0]!;
    expect(err.code).toBe(ErrorCode.SLOW_CONSUMER);
    expect(err.requestId).toBe(0);
    expect(consumer.frames.at(-1)).toBe(err); // nothing after the error
    const offsets = consumer.delivered('stall', 0).map((r) => r.offset);
    // A gap-free prefix of what was produced. It may be all of it: what uWS had already queued for the socket
    // when the owner cut it off is flushed before the close (seen once in CI: 1024 of 1024), so "fewer than
    // produced" was a timing bet, not the rule.
    expect(offsets).toEqual([...Array(offsets.length).keys()]);
    expect(offsets.length).toBeLessThanOrEqual(produced);

    // One connection failed alone: the producer's goes on.
    await producer.barrier();
    expect((await producer.produce('stall', 0, [{ value: 'after' }])).type).toBe('ProduceAck');
    expect(producer.closeCode).toBeNull();
    producer.close();
    // Owners may report counters to /metrics on a period: poll, bounded.
    const until = Date.now() + 5_000;
    while ((await disconnects()) < 1 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(await disconnects(), 'tickbus_slow_consumer_disconnects_total on /metrics').toBe(1);
  }, 60_000);
});
