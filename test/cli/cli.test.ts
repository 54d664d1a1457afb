// The `tickbus` CLI against a real broker process: topics, produce (stdin lines → JSON acks),
// consume (JSON lines), and every command's --help.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BrokerProcess, CLI, startBroker } from '../helpers/broker.js';
import { type CliResult, jsonLines as lines, runCli } from '../helpers/cli.js';

const exec = promisify(execFile);
let broker: BrokerProcess;

const tickbus = (args: string[], stdin?: string): Promise<CliResult> => runCli(args, { stdin });

beforeAll(async () => {
  broker = await startBroker();
}, 30_000);
afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset if beforeAll failed
  await broker?.stop();
});

describe('tickbus CLI', () => {
  it('creates, lists and describes topics', async () => {
    const created = await tickbus(['topics', 'create', 'cli', '--partitions', '3', '--broker', broker.url]);
    expect(created.code).toBe(0);
    expect(lines(created.stdout)[0]).toMatchObject({ name: 'cli' });
    const list = await tickbus(['topics', 'list', '--broker', broker.url]);
    expect(list.code).toBe(0);
    expect(JSON.stringify(lines(list.stdout))).toContain('"cli"');
    const described = await tickbus(['topics', 'describe', 'cli', '--broker', broker.url]);
    expect(described.code).toBe(0);
    expect(JSON.stringify(lines(described.stdout))).toContain('"cli"');
    const dup = await tickbus(['topics', 'create', 'cli', '--partitions', '3', '--broker', broker.url]);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/TOPIC_EXISTS/);
  });

  it('produces stdin lines and consumes them back as JSON, in order per key', async () => {
    const input = ['alpha', 'beta', 'gamma', 'delta'].join('\n') + '\n';
    const produced = await tickbus(['produce', 'cli', '--acks', 'durable', '--key', 'K', '--broker', broker.url], input);
    expect(produced.code).toBe(0);
    const acks = lines(produced.stdout) as { partition: number; offset: number }[];
    expect(acks).toHaveLength(4);
    const partition = acks[0]!.partition;
    expect(acks).toEqual([0, 1, 2, 3].map((offset) => ({ partition, offset })));

    const consumed = await tickbus(['consume', 'cli', '--from', 'earliest', '--count', '4', '--broker', broker.url]);
    expect(consumed.code).toBe(0);
    const recs = lines(consumed.stdout) as { topic: string; partition: number; offset: number; timestamp: number; key: string; value: string }[];
    expect(recs.map((r) => r.value)).toEqual(['alpha', 'beta', 'gamma', 'delta']);
    expect(recs.every((r) => r.topic === 'cli' && r.key === 'K' && r.partition === partition && typeof r.timestamp === 'number')).toBe(true);
  });

  it('consume exits 0 when the timeout passes with no new record', async () => {
    const started = Date.now();
    const r = await tickbus(['consume', 'cli', '--from', 'latest', '--timeout-ms', '500', '--broker', broker.url]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('prints --help for every command and rejects bad usage with exit code 2', async () => {
    for (const cmd of [['broker'], ['topics'], ['produce'], ['consume'], ['bench'], ['cluster'], ['dev-cluster']]) {
      const { stdout } = await exec(process.execPath, [CLI, ...cmd, '--help']);
      expect(stdout).toMatch(/Usage/);
    }
    const brokerHelp = (await exec(process.execPath, [CLI, 'broker', '--help'])).stdout;
    for (const flag of ['--cluster', '--node-id', '--zone', '--cluster-name', '--lease-ttl-ms', '--replica-lag-ms', '--unclean-leader-election']) expect(brokerHelp).toContain(flag);
    const topicsHelp = (await exec(process.execPath, [CLI, 'topics', '--help'])).stdout;
    for (const flag of ['--replication-factor', '--min-insync']) expect(topicsHelp).toContain(flag);
    const bad = await tickbus(['produce', 'cli', '--acks', 'maybe', '--broker', broker.url]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--acks must be none, leader, all or durable/);
    const unknown = await tickbus(['frobnicate']);
    expect(unknown.code).toBe(2);
  });

  it('rejects bad cluster options with exit code 2 and says what is wrong', async () => {
    const cases: [string[], RegExp][] = [
      [['broker', '--cluster', 'etcd://127.0.0.1', '--node-id', '1'], /--cluster endpoints must look like etcd:\/\/host:port, got 'etcd:\/\/127\.0\.0\.1'/],
      [['broker', '--cluster', 'ftp://127.0.0.1:2379', '--node-id', '1'], /--cluster endpoints must look like etcd:\/\/host:port/],
      [['broker', '--cluster', 'etcd://127.0.0.1:2379'], /--cluster needs --node-id N/],
      [['broker', '--node-id', '1'], /--node-id needs --cluster/],
      [['broker', '--cluster', 'etcd://127.0.0.1:2379', '--node-id=-1'], /--node-id must be an integer from 0/],
      [['broker', '--cluster', 'etcd://127.0.0.1:2379', '--node-id', '1', '--lease-ttl-ms', '10'], /--lease-ttl-ms must be an integer from 1000/],
      [['broker', '--cluster', 'etcd://127.0.0.1:2379', '--node-id', '1', '--cluster-name', 'a/b'], /--cluster-name must be/],
      // 0 is the wire's "broker default": the CLI must refuse it rather than pass it on. These name the test's
      // broker, so a check that lets them through creates 'x' there (exit 0), not on whatever owns :7420.
      [['topics', 'create', 'x', '--partitions', '1', '--replication-factor', '0', '--broker', broker.url], /--replication-factor must be an integer from 1 to 16, got 0/],
      [['topics', 'create', 'x', '--partitions', '1', '--replication-factor=-1', '--broker', broker.url], /--replication-factor must be an integer from 1 to 16, got -1/],
      [['topics', 'create', 'x', '--partitions', '1', '--replication-factor', '1.5', '--broker', broker.url], /--replication-factor must be an integer from 1 to 16, got 1\.5/],
      [['topics', 'create', 'x', '--partitions', '1', '--min-insync', '0', '--broker', broker.url], /--min-insync must be an integer from 1 to 16, got 0/],
      [['topics', 'create', 'x', '--partitions', '1', '--replication-factor', '2', '--min-insync', '3', '--broker', broker.url], /--min-insync 3 cannot exceed --replication-factor 2/],
      [['topics', 'describe', 'x', '--replication-factor', '2', '--broker', broker.url], /go with topics create/],
      [['cluster', 'status'], /cluster status needs --cluster/],
      [['cluster', 'frob', '--cluster', 'etcd://127.0.0.1:2379'], /unknown cluster action 'frob'/],
      [['dev-cluster', '--brokers', '0'], /--brokers must be an integer from 1 to 9/],
    ];
    for (const [args, message] of cases) {
      const r = await tickbus(args);
      // All of it in one object, so a failure shows what the CLI printed for which arguments.
      expect({ args, code: r.code, stdout: r.stdout, stderr: r.stderr }).toMatchObject({ args, code: 2, stdout: '', stderr: expect.stringMatching(message) as unknown });
    }
    // None of them reached the broker.
    const list = await tickbus(['topics', 'list', '--broker', broker.url]);
    expect(list.code).toBe(0);
    expect(list.stdout).not.toContain('"x"');
    // 17 CLI processes one after another: ~5 s here, several times that on a loaded machine.
  }, 120_000);

  it('reports an unknown topic with its error code', async () => {
    const r = await tickbus(['topics', 'describe', 'nope', '--broker', broker.url]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/UNKNOWN_TOPIC \(200\)/);
  });
});
