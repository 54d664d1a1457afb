// Topic administration while a partition owner is down or restarting: the catalogue is the truth, and
// an owner that missed a CreateTopic or DeleteTopic must still end up serving exactly the catalogue —
// a re-created topic starts empty, never with the data of the one deleted under the same name.
import { afterEach, describe, expect, it, onTestFailed } from 'vitest';
import { ErrorCode } from '../../schemas/errors.js';
import type { Frame } from '../../schemas/frames.js';
import { type BrokerProcess, startBroker } from '../helpers/broker.js';
import { createTopic, metadata, readAll, WireClient } from '../helpers/wire-client.js';

const text = (b: Uint8Array | null): string => new TextDecoder().decode(b!);
const code = (f: Frame): number => (f.type === 'ErrorReply' ? f.code : -1);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Health {
  owners: { id: number; up: boolean; restarts: number }[];
}

async function health(port: number): Promise<Health> {
  const h = await fetch(`http://127.0.0.1:${port}/healthz`);
  return (await h.json()) as Health;
}

async function until(cond: () => Promise<boolean>, what: string, timeoutMs = 15_000, stepMs = 5): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(stepMs);
  }
}

/**
 * The broker's restart hold (--test-hooks): 'hold' makes owner 0's next restart wait before its respawn
 * (down) and again before it is marked up (starting); each 'release' lets it go one step and answers
 * where it was. The windows stay open as long as the test needs, however slow the machine.
 */
async function restartHook(b: BrokerProcess, step: 'hold' | 'release'): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${b.port}/test/owners/0/${step}-restart`, { method: 'POST' });
  const body = (await res.text()).trim();
  expect(res.status, body).toBe(200);
  return body;
}

/** Holds owner 0's restart, injects a fault and resolves once it has exited and waits, held, to respawn. */
async function takeOwner0Down(b: BrokerProcess): Promise<void> {
  expect(await restartHook(b, 'hold')).toBe('held');
  const res = await fetch(`http://127.0.0.1:${b.port}/test/owners/0/fault`, { method: 'POST' });
  expect(res.status).toBe(200);
  await until(async () => {
    const o = (await health(b.port)).owners[0]!;
    return !o.up && o.restarts >= 1;
  }, 'owner 0 to exit', 15_000, 1);
}

async function owner0Back(b: BrokerProcess, restarts: number): Promise<void> {
  await until(async () => {
    const o = (await health(b.port)).owners[0]!;
    return o.up && o.restarts >= restarts;
  }, 'owner 0 to come back');
}

async function admin(b: BrokerProcess, f: Frame & { requestId: number }): Promise<Frame> {
  const c = await WireClient.open(b.url);
  try {
    return await c.request(f, 20_000);
  } finally {
    c.close();
  }
}

describe('topic admin while an owner restarts', () => {
  let broker: BrokerProcess | undefined;
  afterEach(async () => {
    await broker?.stop();
    broker = undefined;
  });

  it('a topic deleted while its owner was down and created again starts empty on that owner', async () => {
    broker = await startBroker({ args: ['--owners', '2', '--test-hooks'] });
    const b = broker;
    onTestFailed(() => console.log(`broker log:\n${b.stderr()}`));
    const md = await createTopic(b.url, 'reborn', 4);
    const onOwner0 = md.topics[0]!.partitions.filter((p) => p.ownerId === 0);
    expect(onOwner0.length).toBeGreaterThan(0);
    for (const p of onOwner0) {
      const c = await WireClient.open(p.endpoint);
      expect((await c.produce('reborn', p.partition, [{ value: `old-${p.partition}` }], 'durable')).type).toBe('ProduceAck');
      c.close();
    }

    await takeOwner0Down(b);
    expect((await admin(b, { type: 'DeleteTopic', requestId: 0, name: 'reborn' })).type).toBe('MetadataResult');
    expect(await restartHook(b, 'release')).toBe('down');
    expect(await restartHook(b, 'release')).toBe('starting');
    await owner0Back(b, 1);
    const md2 = await createTopic(b.url, 'reborn', 4);
    for (const p of md2.topics[0]!.partitions.filter((x) => x.ownerId === 0)) {
      expect(p.highWatermark).toBe(0);
      expect((await readAll(p.endpoint, 'reborn', p.partition)).map((r) => text(r.value))).toEqual([]);
      const c = await WireClient.open(p.endpoint);
      const ack = await c.produce('reborn', p.partition, [{ value: 'new' }]);
      expect(ack.type === 'ProduceAck' && ack.baseOffset).toBe(0);
      c.close();
    }
  }, 60_000);

  it('an owner that was restarting serves every topic created meanwhile, and no topic deleted meanwhile', async () => {
    broker = await startBroker({ args: ['--owners', '2', '--test-hooks'] });
    const b = broker;
    onTestFailed(() => console.log(`broker log:\n${b.stderr()}`));
    // Both windows of a restart, each held open: 'down' (no worker; the respawn reads the catalogue) and
    // 'starting' (respawned with the catalogue as it was; creates and deletes since are queued to it).
    const PHASES = ['down', 'starting'] as const;
    const N = 8;
    for (const phase of PHASES) for (let i = 0; i < N; i++) await createTopic(b.url, `gone-${phase}-${i}`, 2);

    const c = await WireClient.open(b.url);
    const createAndDelete = async (phase: (typeof PHASES)[number]): Promise<void> => {
      const answers: Promise<Frame>[] = [];
      for (let i = 0; i < N; i++) {
        answers.push(c.request({ type: 'CreateTopic', requestId: 0, name: `born-${phase}-${i}`, partitions: 2, config: null }, 20_000));
        answers.push(c.request({ type: 'DeleteTopic', requestId: 0, name: `gone-${phase}-${i}` }, 20_000));
      }
      for (const a of await Promise.all(answers)) expect(a.type).toBe('MetadataResult');
      // Still held: what was asked went to the phase it is named for.
      expect((await health(b.port)).owners[0]!.up).toBe(false);
    };

    await takeOwner0Down(b);
    await createAndDelete('down');
    // Created while down, deleted while starting: in the catalogue the owner reads, then deleted on it.
    expect((await c.request({ type: 'CreateTopic', requestId: 0, name: 'brief', partitions: 2, config: null }, 20_000)).type).toBe('MetadataResult');
    expect(await restartHook(b, 'release')).toBe('down');
    await createAndDelete('starting');
    expect((await c.request({ type: 'DeleteTopic', requestId: 0, name: 'brief' }, 20_000)).type).toBe('MetadataResult');
    expect(await restartHook(b, 'release')).toBe('starting');
    c.close();
    await owner0Back(b, 1);

    const md = await metadata(b.url);
    const owner0 = md.topics.find((t) => t.name === 'born-down-0')!.partitions.find((p) => p.ownerId === 0)!.endpoint;
    const p = await WireClient.open(owner0);
    const wrong: string[] = [];
    const notServed = async (topic: string): Promise<void> => {
      // The deleted topic's partitions were spread over both owners; owner 0 must know neither.
      for (const gp of [0, 1]) {
        const g = await p.produce(topic, gp, [{ value: 'x' }]);
        if (g.type === 'ProduceAck') wrong.push(`${topic}/${gp}: still served`);
        else if (code(g) !== ErrorCode.UNKNOWN_TOPIC && code(g) !== ErrorCode.TOPIC_DELETED) wrong.push(`${topic}/${gp}: ${code(g)}`);
      }
    };
    for (const phase of PHASES) {
      for (let i = 0; i < N; i++) {
        const part = md.topics.find((t) => t.name === `born-${phase}-${i}`)!.partitions.find((x) => x.ownerId === 0)!.partition;
        const ack = await p.produce(`born-${phase}-${i}`, part, [{ value: 'x' }]);
        if (ack.type !== 'ProduceAck') wrong.push(`born-${phase}-${i}: ${code(ack)}`);
        await notServed(`gone-${phase}-${i}`);
      }
    }
    await notServed('brief');
    p.close();
    expect(wrong).toEqual([]);
  }, 60_000);
});
