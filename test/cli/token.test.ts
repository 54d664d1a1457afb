// The CLI's client commands against a broker that requires a token: --token, or TICKBUS_TOKEN from the
// environment, is sent in Hello; without one (or with a wrong one) the command fails with the typed
// authentication error and exit code 1.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../schemas/errors.js';
import { type BrokerProcess, startBroker, tempDir } from '../helpers/broker.js';
import { type CliResult, jsonLines as lines, runCli } from '../helpers/cli.js';
import { allow, authed, makeFixtures, TOKENS, writeAcls } from '../security/auth-fixtures.js';

let broker: BrokerProcess;

/** Runs `tickbus args` with `stdin`, and TICKBUS_TOKEN set to `envToken` or removed. */
function tickbus(args: string[], opts: { stdin?: string; envToken?: string } = {}): Promise<CliResult> {
  const env = { ...process.env };
  delete env.TICKBUS_TOKEN;
  if (opts.envToken !== undefined) env.TICKBUS_TOKEN = opts.envToken;
  return runCli(args, { stdin: opts.stdin, env });
}

beforeAll(async () => {
  const fx = makeFixtures(tempDir('tickbus-cli-token-'));
  const dataDir = tempDir('tickbus-cli-token-data-');
  writeAcls(dataDir, [
    allow('admin', 'admin-create', '', 'prefix'),
    allow('admin', 'admin-describe', '', 'prefix'),
    allow('admin', 'admin-delete', '', 'prefix'),
    allow('alice', 'consume', 'cli.', 'prefix'),
    allow('alice', 'produce', 'cli.', 'prefix'),
  ]);
  broker = await startBroker({ dataDir, args: [...fx.args, '--owners', '1'] });
  const admin = await authed(broker.url, TOKENS.admin);
  try {
    expect((await admin.request({ type: 'CreateTopic', requestId: 0, name: 'cli.orders', partitions: 1, config: null })).type).toBe('MetadataResult');
  } finally {
    admin.close();
  }
}, 30_000);
afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset if beforeAll failed
  await broker?.stop();
});

describe('CLI client commands with a token', () => {
  it('produce without a token fails with AUTHENTICATION_REQUIRED; a wrong token with AUTHENTICATION_FAILED', async () => {
    const none = await tickbus(['produce', 'cli.orders', '--broker', broker.url], { stdin: 'x\n' });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain(`AUTHENTICATION_REQUIRED (${ErrorCode.AUTHENTICATION_REQUIRED})`);
    const wrong = await tickbus(['produce', 'cli.orders', '--broker', broker.url, '--token', 'not-a-token-anyone-has-0123'], { stdin: 'x\n' });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain(`AUTHENTICATION_FAILED (${ErrorCode.AUTHENTICATION_FAILED})`);
  });

  it('produce with --token and consume with TICKBUS_TOKEN', async () => {
    const p = await tickbus(['produce', 'cli.orders', '--broker', broker.url, '--token', TOKENS.alice], { stdin: 'a\nb\n' });
    expect(p.stderr).toBe('');
    expect(p.code).toBe(0);
    expect(lines(p.stdout)).toEqual([
      { partition: 0, offset: 0 },
      { partition: 0, offset: 1 },
    ]);
    const c = await tickbus(['consume', 'cli.orders', '--broker', broker.url, '--count', '2'], { envToken: TOKENS.alice });
    expect(c.code).toBe(0);
    expect(lines(c.stdout).map((r) => (r as { value: string }).value)).toEqual(['a', 'b']);
  });

  it('topics create, list, describe and delete with --token; refused without one', async () => {
    const url = ['--broker', broker.url];
    const none = await tickbus(['topics', 'list', ...url]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain(`AUTHENTICATION_REQUIRED (${ErrorCode.AUTHENTICATION_REQUIRED})`);
    const admin = ['--token', TOKENS.admin];
    const created = await tickbus(['topics', 'create', 'cli.scratch', '--partitions', '2', ...url, ...admin]);
    expect(created.code).toBe(0);
    expect(lines(created.stdout)[0]).toMatchObject({ name: 'cli.scratch' });
    const list = await tickbus(['topics', 'list', ...url], { envToken: TOKENS.admin });
    expect(list.code).toBe(0);
    expect(list.stdout).toContain('"cli.scratch"');
    const described = await tickbus(['topics', 'describe', 'cli.scratch', ...url, ...admin]);
    expect(described.code).toBe(0);
    expect((lines(described.stdout)[0] as { partitions: unknown[] }).partitions).toHaveLength(2);
    // alice has no admin rights: her token authenticates, the ACL refuses.
    const refused = await tickbus(['topics', 'delete', 'cli.scratch', ...url, '--token', TOKENS.alice]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`NOT_AUTHORIZED (${ErrorCode.NOT_AUTHORIZED})`);
    expect((await tickbus(['topics', 'delete', 'cli.scratch', ...url, ...admin])).code).toBe(0);
  });

  it('--token wins over TICKBUS_TOKEN, and the principal is the one its ACLs name', async () => {
    // eve's token from the environment would be refused the produce; alice's on the command line is used.
    const p = await tickbus(['produce', 'cli.orders', '--broker', broker.url, '--token', TOKENS.alice], { stdin: 'c\n', envToken: TOKENS.eve });
    expect(p.code).toBe(0);
    const e = await tickbus(['produce', 'cli.orders', '--broker', broker.url], { stdin: 'd\n', envToken: TOKENS.eve });
    expect(e.code).toBe(1);
    expect(e.stderr).toContain(`NOT_AUTHORIZED (${ErrorCode.NOT_AUTHORIZED})`);
  });
});
