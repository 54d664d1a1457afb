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

/** Injects a fault into owner 0 and resolves as soon as the supervisor sees it down. */
async function takeOwner0Down(b: BrokerProcess): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${b.port}/test/owners/0/fault`, { method: 'POST' });
  expect(res.status).toBe(200);
  await until(async () => !(await health(b.port)).owners[0]!.up, 'owner 0 to go down', 10_000, 1);
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
    // Topics to delete during the restart, one per slot of the loop below.
    const SLOTS = 40;
    for (let i = 0; i < SLOTS; i++) await createTopic(b.url, `gone-${i}`, 2);

    const c = await WireClient.open(b.url);
    await takeOwner0Down(b);
    // One create and one delete every few ms across the whole down → starting → up window.
    const answers: Promise<Frame>[] = [];
    let upSeen = -1;
    for (let i = 0; i < SLOTS; i++) {
      answers.push(c.request({ type: 'CreateTopic', requestId: 0, name: `born-${i}`, partitions: 2, config: null }, 20_000));
      answers.push(c.request({ type: 'DeleteTopic', requestId: 0, name: `gone-${i}` }, 20_000));
      await sleep(4);
      if (upSeen < 0 && (await health(b.port)).owners[0]!.up) upSeen = i;
    }
    for (const a of await Promise.all(answers)) expect(a.type).toBe('MetadataResult');
    c.close();
    await owner0Back(b, 1);
    // The window must have been covered: owner 0 came back while the loop ran.
    expect(upSeen).toBeGreaterThan(0);

    const md = await metadata(b.url);
    const owner0 = md.topics.find((t) => t.name === 'born-0')!.partitions.find((p) => p.ownerId === 0)!.endpoint;
    const p = await WireClient.open(owner0);
    const wrong: string[] = [];
    for (let i = 0; i < SLOTS; i++) {
      const part = md.topics.find((t) => t.name === `born-${i}`)!.partitions.find((x) => x.ownerId === 0)!.partition;
      const ack = await p.produce(`born-${i}`, part, [{ value: 'x' }]);
      if (ack.type !== 'ProduceAck') wrong.push(`born-${i}: ${code(ack)}`);
      // gone-i has the same partition layout as born-i only by chance; try both partitions.
      for (const gp of [0, 1]) {
        const g = await p.produce(`gone-${i}`, gp, [{ value: 'x' }]);
        if (g.type === 'ProduceAck') wrong.push(`gone-${i}/${gp}: still served`);
        else if (code(g) !== ErrorCode.UNKNOWN_TOPIC && code(g) !== ErrorCode.TOPIC_DELETED) wrong.push(`gone-${i}/${gp}: ${code(g)}`);
      }
    }
    p.close();
    expect(wrong).toEqual([]);
  }, 60_000);
});
