// ACLs against a real broker process: each operation allowed and denied (the connection stays), a
// consumer without rights cannot read by any path, metadata is filtered, and ACL changes made with
// `tickbus acl` take effect without a restart. Also: no auth on a public address needs --insecure.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../schemas/errors.js';
import type { Frame } from '../../schemas/frames.js';
import { encodeBatch } from '../../schemas/record-batch.js';
import { type BrokerProcess, CLI, startBroker, tempDir } from '../helpers/broker.js';
import type { WireClient } from '../helpers/wire-client.js';
import { authed, type Fixtures, makeFixtures, TOKENS } from './auth-fixtures.js';

const exec = promisify(execFile);
let broker: BrokerProcess;
let fx: Fixtures;
let dataDir: string;
const clients: WireClient[] = [];

const acl = (...args: string[]): Promise<{ stdout: string }> => exec(process.execPath, [CLI, 'acl', ...args, '--data', dataDir]);
const code = (f: Frame): number | null => (f.type === 'ErrorReply' ? f.code : null);

async function as(who: keyof typeof TOKENS, owner = false): Promise<WireClient> {
  const c = await authed(owner ? broker.owners[0]!.url : broker.url, TOKENS[who]);
  clients.push(c);
  return c;
}

beforeAll(async () => {
  fx = makeFixtures(tempDir('tickbus-acl-'));
  dataDir = tempDir('tickbus-acl-data-');
  // Rules written by the CLI before the broker starts; more are added while it runs.
  for (const op of ['admin-create', 'admin-delete', 'admin-describe']) await acl('add', '--principal', 'admin', '--operation', op, '--topic-prefix', '');
  await acl('add', '--principal', 'alice', '--operation', 'produce', '--topic', 'orders.*');
  await acl('add', '--principal', 'alice', '--operation', 'produce', '--topic', 'orders.secret', '--deny');
  await acl('add', '--principal', 'bob', '--operation', 'consume', '--topic', 'orders.eu');
  await acl('add', '--principal', 'bob', '--operation', 'group-join', '--group', 'billing');
  broker = await startBroker({ dataDir, args: [...fx.args, '--owners', '1'] });
  const admin = await as('admin');
  for (const name of ['orders.eu', 'orders.secret']) {
    expect((await admin.request({ type: 'CreateTopic', requestId: 0, name, partitions: 1, config: null })).type).toBe('MetadataResult');
  }
}, 30_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await broker.stop();
});

describe('ACLs', () => {
  it('lists the rules with tickbus acl list', async () => {
    const { stdout } = await acl('list', '--principal', 'alice');
    expect(stdout).toBe("allow alice produce topic-prefix 'orders.'\ndeny  alice produce topic 'orders.secret'\n");
  });

  it('allows and denies produce per topic; deny wins over a prefix allow; the connection stays', async () => {
    const alice = await as('alice', true);
    const produce = (topic: string): Promise<Frame> => alice.request({ type: 'Produce', requestId: 0, topic, partition: 0, acks: 'leader', batch: encodeBatch([{ value: new Uint8Array([1]) }]) });
    expect((await produce('orders.eu')).type).toBe('ProduceAck');
    const denied = await produce('orders.secret');
    expect(denied).toMatchObject({ type: 'ErrorReply', code: ErrorCode.NOT_AUTHORIZED, topic: 'orders.secret' });
    expect((denied as { message: string }).message).toMatch(/'alice' may not produce on topic 'orders.secret': an ACL denies it/);
    await alice.barrier();
    expect(alice.closeCode).toBeNull();
    expect(code(await (await as('eve', true)).request({ type: 'Produce', requestId: 0, topic: 'orders.eu', partition: 0, acks: 'leader', batch: encodeBatch([{ value: new Uint8Array([2]) }]) }))).toBe(ErrorCode.NOT_AUTHORIZED);
  });

  it('admin create, delete and describe need their own rights', async () => {
    const eve = await as('eve');
    expect(code(await eve.request({ type: 'CreateTopic', requestId: 0, name: 'eve.topic', partitions: 1, config: null }))).toBe(ErrorCode.NOT_AUTHORIZED);
    expect(code(await eve.request({ type: 'DeleteTopic', requestId: 0, name: 'orders.eu' }))).toBe(ErrorCode.NOT_AUTHORIZED);
    expect(code(await eve.request({ type: 'DescribeTopic', requestId: 0, name: 'orders.eu' }))).toBe(ErrorCode.NOT_AUTHORIZED);
    const admin = await as('admin');
    expect((await admin.request({ type: 'DescribeTopic', requestId: 0, name: 'orders.eu' })).type).toBe('MetadataResult');
    expect((await admin.request({ type: 'CreateTopic', requestId: 0, name: 'scratch', partitions: 1, config: null })).type).toBe('MetadataResult');
    expect((await admin.request({ type: 'DeleteTopic', requestId: 0, name: 'scratch' })).type).toBe('MetadataResult');
  });

  it('a consumer without rights cannot read by any path: subscribe, fetch, group join, offsets, metadata', async () => {
    const eveOwner = await as('eve', true);
    const eve = await as('eve');
    expect(code(await eveOwner.request({ type: 'Subscribe', requestId: 0, topic: 'orders.eu', starts: [{ partition: 0, kind: 'earliest' }], creditBytes: 0 }))).toBe(ErrorCode.NOT_AUTHORIZED);
    expect(code(await eveOwner.request({ type: 'Fetch', requestId: 0, topic: 'orders.eu', partition: 0, offset: 0, maxBytes: 0 }))).toBe(ErrorCode.NOT_AUTHORIZED);
    expect(code(await eve.request({ type: 'JoinGroup', requestId: 0, group: 'billing', topic: 'orders.eu', memberId: '', sessionTimeoutMs: 10_000 }))).toBe(ErrorCode.NOT_AUTHORIZED);
    expect(code(await eve.request({ type: 'FetchOffsets', requestId: 0, group: 'billing', topic: 'orders.eu' }))).toBe(ErrorCode.NOT_AUTHORIZED);
    expect(code(await eve.request({ type: 'Metadata', requestId: 0, topics: ['orders.eu'] }))).toBe(ErrorCode.NOT_AUTHORIZED);
    expect(await eve.request({ type: 'Metadata', requestId: 0, topics: [] })).toMatchObject({ type: 'MetadataResult', topics: [] });
    // Bob reads it by each path; his group right does not extend to a topic he may not consume.
    const bobOwner = await as('bob', true);
    const bob = await as('bob');
    expect((await bobOwner.request({ type: 'Subscribe', requestId: 0, topic: 'orders.eu', starts: [{ partition: 0, kind: 'earliest' }], creditBytes: 0 })).type).toBe('SubscribeOk');
    expect((await bobOwner.request({ type: 'Fetch', requestId: 0, topic: 'orders.eu', partition: 0, offset: 0, maxBytes: 0 })).type).toBe('FetchResult');
    expect((await bob.request({ type: 'JoinGroup', requestId: 0, group: 'billing', topic: 'orders.eu', memberId: '', sessionTimeoutMs: 10_000 })).type).not.toBe('ErrorReply');
    expect(code(await bob.request({ type: 'JoinGroup', requestId: 0, group: 'billing', topic: 'orders.secret', memberId: '', sessionTimeoutMs: 10_000 }))).toBe(ErrorCode.NOT_AUTHORIZED);
    expect(code(await bob.request({ type: 'JoinGroup', requestId: 0, group: 'other', topic: 'orders.eu', memberId: '', sessionTimeoutMs: 10_000 }))).toBe(ErrorCode.NOT_AUTHORIZED);
    const meta = await bob.request({ type: 'Metadata', requestId: 0, topics: [] });
    expect(meta.type === 'MetadataResult' && meta.topics.map((t) => t.name)).toEqual(['orders.eu']);
  });

  it('an ACL change made with tickbus acl takes effect without a restart, both ways', async () => {
    const eve = await as('eve', true);
    const fetchCode = async (): Promise<number | null> => code(await eve.request({ type: 'Fetch', requestId: 0, topic: 'orders.eu', partition: 0, offset: 0, maxBytes: 0 }));
    const until = async (want: number | null): Promise<void> => {
      const deadline = Date.now() + 5_000;
      while ((await fetchCode()) !== want) {
        if (Date.now() > deadline) throw new Error(`fetch did not become ${String(want)} within 5 s`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    expect(await fetchCode()).toBe(ErrorCode.NOT_AUTHORIZED);
    await acl('add', '--principal', 'eve', '--operation', 'consume', '--topic', 'orders.eu');
    await until(null);
    await acl('remove', '--principal', 'eve', '--operation', 'consume', '--topic', 'orders.eu');
    await until(ErrorCode.NOT_AUTHORIZED);
  });
});

describe('secure defaults', () => {
  it('refuses to start without auth on a non-loopback address, naming --insecure', async () => {
    const err = await exec(process.execPath, [CLI, 'broker', '--host', '0.0.0.0', '--port', '0', '--data', tempDir()]).then(
      () => null,
      (e: unknown) => e as { code: number; stderr: string },
    );
    expect(err?.code).toBe(2);
    expect(err?.stderr).toMatch(/refusing to listen on 0\.0\.0\.0 without authentication.*--insecure/);
  });
});
