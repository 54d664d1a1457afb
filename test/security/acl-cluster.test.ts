// ACLs in cluster mode, against a real etcd and three broker processes with authentication on: rules
// written by `tickbus acl --cluster` (a compare-and-swap on one etcd record) reach every broker's bootstrap
// and owners within a bound, both ways; concurrent writers lose no rule; followers replicate with the broker
// token (an acks 'all' write is acknowledged and the ISR holds all three replicas).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../client/index.js';
import { ErrorCode } from '../../schemas/errors.js';
import type { Frame } from '../../schemas/frames.js';
import { CLI, tempDir } from '../helpers/broker.js';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import type { WireClient } from '../helpers/wire-client.js';
import { authed, type Fixtures, makeFixtures, TOKENS } from './auth-fixtures.js';

const exec = promisify(execFile);
let cluster: TestCluster;
let fx: Fixtures;
const clients: WireClient[] = [];
/** How long a rule may take from `tickbus acl` exiting to being enforced on every broker. */
const ENFORCED_WITHIN_MS = 5_000;

const acl = (...args: string[]): Promise<{ stdout: string; stderr: string }> =>
  exec(process.execPath, [CLI, 'acl', ...args, '--cluster', cluster.etcdUrl, '--cluster-name', cluster.clusterName]);
const code = (f: Frame): number | null => (f.type === 'ErrorReply' ? f.code : null);

async function as(who: keyof typeof TOKENS, url: string): Promise<WireClient> {
  const c = await authed(url, TOKENS[who]);
  clients.push(c);
  return c;
}

/** Polls `probe` on every client until each answers `want`; resolves how long that took. */
async function everywhere(probes: (() => Promise<number | null>)[], want: number | null, what: string): Promise<number> {
  const started = Date.now();
  for (;;) {
    const got = await Promise.all(probes.map((p) => p()));
    if (got.every((g) => g === want)) return Date.now() - started;
    if (Date.now() - started > ENFORCED_WITHIN_MS) throw new Error(`${what}: not on every broker within ${ENFORCED_WITHIN_MS} ms (got ${JSON.stringify(got)})`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

beforeAll(async () => {
  fx = makeFixtures(tempDir('tickbus-acl-cluster-'));
  const brokerTokenFile = path.join(fx.dir, 'broker.token');
  fs.writeFileSync(brokerTokenFile, 'a-broker-token-shared-by-the-cluster-0123');
  cluster = await startCluster({ brokers: 3, owners: 1, args: [...fx.args, '--broker-token-file', brokerTokenFile] });
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await (cluster as TestCluster | undefined)?.stop();
});

describe('ACLs in etcd (cluster mode)', () => {
  it('a rule added with tickbus acl --cluster is enforced on every bootstrap within a bound, and removal likewise', async () => {
    const admins = await Promise.all(cluster.bootstrapUrls.map((u) => as('admin', u)));
    const describe = (c: WireClient) => async (): Promise<number | null> => code(await c.request({ type: 'DescribeTopic', requestId: 0, name: 'acl.probe' }));
    // No rule yet: default deny on every broker (the topic does not exist either: the ACL answers first).
    for (const c of admins) expect(code(await c.request({ type: 'CreateTopic', requestId: 0, name: 'acl.probe', partitions: 1, config: null }))).toBe(ErrorCode.NOT_AUTHORIZED);
    await acl('add', '--principal', 'admin', '--operation', 'admin-describe', '--topic-prefix', '');
    const addMs = await everywhere(admins.map(describe), ErrorCode.UNKNOWN_TOPIC, 'admin-describe allowed');
    await acl('remove', '--principal', 'admin', '--operation', 'admin-describe', '--topic-prefix', '');
    const removeMs = await everywhere(admins.map(describe), ErrorCode.NOT_AUTHORIZED, 'admin-describe refused again');
    console.log(`ACL change enforced on all 3 brokers after the CLI exited: add ${addMs} ms, remove ${removeMs} ms`);
  });

  it('concurrent tickbus acl add against one cluster lose no rule (compare-and-swap)', async () => {
    const principals = Array.from({ length: 8 }, (_, i) => `writer${i}`);
    await Promise.all(principals.map((p) => acl('add', '--principal', p, '--operation', 'consume', '--topic', 'cas.topic')));
    const { stdout } = await acl('list');
    for (const p of principals) expect(stdout).toContain(`allow ${p} consume topic 'cas.topic'\n`);
    await Promise.all(principals.map((p) => acl('remove', '--principal', p, '--operation', 'consume', '--topic', 'cas.topic')));
    expect((await acl('list')).stdout).not.toContain('cas.topic');
    const missing = await acl('remove', '--principal', 'nobody', '--operation', 'consume', '--topic', 'cas.topic').then(
      () => null,
      (e: unknown) => e as { code: number; stderr: string },
    );
    expect(missing?.code).toBe(1);
    expect(missing?.stderr).toMatch(/no such rule in etcd \/tickbus\/test\/acls/);
  });

  it('owners on every broker enforce the rules; followers replicate with the broker token (acks all)', async () => {
    for (const op of ['admin-create', 'admin-describe']) await acl('add', '--principal', 'admin', '--operation', op, '--topic-prefix', '');
    const admin = await as('admin', cluster.bootstrapUrls[0]!);
    await everywhere([async () => code(await admin.request({ type: 'DescribeTopic', requestId: 0, name: 'orders' }))], ErrorCode.UNKNOWN_TOPIC, 'admin rights');
    const created = await admin.request({ type: 'CreateTopic', requestId: 0, name: 'orders', partitions: 1, config: null, replicationFactor: 3, minInsync: 2 });
    expect(created.type).toBe('MetadataResult');

    // eve on each broker's owner: a Fetch is refused by the ACL until a rule lets her consume, then it
    // passes the ACL (a follower answers NOT_LEADER or serves it; the leader serves it).
    const eves = await Promise.all(cluster.brokers.map((b) => as('eve', b.owners[0]!.url)));
    const fetchRefused = (c: WireClient) => async (): Promise<number | null> => {
      const f = await c.request({ type: 'Fetch', requestId: 0, topic: 'orders', partition: 0, offset: 0, maxBytes: 0 });
      return code(f) === ErrorCode.NOT_AUTHORIZED ? ErrorCode.NOT_AUTHORIZED : null;
    };
    expect(await Promise.all(eves.map((c) => fetchRefused(c)()))).toEqual([ErrorCode.NOT_AUTHORIZED, ErrorCode.NOT_AUTHORIZED, ErrorCode.NOT_AUTHORIZED]);
    await acl('add', '--principal', 'eve', '--operation', 'consume', '--topic', 'orders');
    await everywhere(eves.map(fetchRefused), null, 'eve may consume on every owner');
    await acl('remove', '--principal', 'eve', '--operation', 'consume', '--topic', 'orders');
    await everywhere(eves.map(fetchRefused), ErrorCode.NOT_AUTHORIZED, 'eve refused again on every owner');

    // alice produces with acks 'all': acknowledged only once the in-sync followers, which present the
    // broker token to the leader, have the record.
    await acl('add', '--principal', 'alice', '--operation', 'produce', '--topic', 'orders');
    const bus = await connect({ brokers: cluster.bootstrapUrls, token: TOKENS.alice, clientId: 'acl-cluster-test' });
    try {
      const deadline = Date.now() + ENFORCED_WITHIN_MS;
      let acks: { partition: number; offset: number }[] | null = null;
      while (!acks) {
        try {
          acks = await bus.send('orders', [{ value: 'replicated' }], { acks: 'all' });
        } catch (err) {
          // Until the rule reaches the leader's owner the write is refused; nothing else may fail.
          if ((err as { code?: number }).code !== ErrorCode.NOT_AUTHORIZED || Date.now() > deadline) throw err;
          await new Promise((r) => setTimeout(r, 25));
        }
      }
      expect(acks).toEqual([{ partition: 0, offset: 0 }]);
    } finally {
      await bus.close();
    }
    const d = await admin.request({ type: 'DescribeTopic', requestId: 0, name: 'orders' });
    expect(d.type === 'MetadataResult' && [...(d.topics[0]?.partitions[0]?.isr ?? [])].sort()).toEqual([1, 2, 3]);
  });
});
