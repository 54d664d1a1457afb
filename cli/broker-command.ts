// `tickbus broker`: runs one node with embedded defaults until SIGTERM/SIGINT, then shuts down in
// order: stop accepting, close connections, flush and fsync every log, exit.
import { type BrokerConfig, DEFAULT_PORT, FSYNC_POLICY_NAMES, isFsyncPolicy } from '../broker/config.js';
import { logLine } from '../broker/logger.js';
import { startBroker } from '../broker/server/broker.js';
import { intOption, parse, str, UsageError } from './args.js';

const USAGE = `
Usage: tickbus broker [options]

Runs a tickbus broker (one node). Prints one JSON line when ready:
  {"event":"listening","url":"ws://127.0.0.1:7420/","port":7420,"owners":[...]}

Options:
  --port N          bootstrap port (HTTP /healthz /metrics + WebSocket); 0 = any free port  [${DEFAULT_PORT}]
  --owner-base-port N     first owner port (owners use N, N+1, ...); 0 = any free ports  [port+1]
  --host H          interface to bind                                                      [127.0.0.1]
  --data DIR        data directory                                                         [./data]
  --fsync P         default fsync policy of new topics: always | interval | os            [interval]
  --fsync-interval-ms N   interval of the 'interval' policy                               [50]
  --owners N        partition-owner threads                                                [min(2, cores)]
  --max-payload N   largest frame in bytes                                                 [4194304]
  --test-hooks      enable test-only fault injection (POST /test/owners/:id/fault)
  -h, --help        show this help
`;

export async function brokerCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    {
      port: { type: 'string' },
      host: { type: 'string' },
      data: { type: 'string' },
      fsync: { type: 'string' },
      'fsync-interval-ms': { type: 'string' },
      owners: { type: 'string' },
      'owner-base-port': { type: 'string' },
      'max-payload': { type: 'string' },
      'test-hooks': { type: 'boolean' },
    },
    USAGE,
  );
  if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'\n${USAGE}`);
  const fsync = str(values, 'fsync');
  if (fsync !== undefined && !isFsyncPolicy(fsync)) throw new UsageError(`--fsync must be ${FSYNC_POLICY_NAMES}, got '${fsync}'`);
  const partial: Partial<BrokerConfig> = {
    port: intOption(values, 'port', DEFAULT_PORT, 0, 65535),
    testHooks: values['test-hooks'] === true,
  };
  const host = str(values, 'host');
  if (host) partial.host = host;
  const data = str(values, 'data');
  if (data) partial.dataDir = data;
  if (fsync) partial.fsync = fsync;
  if (values['fsync-interval-ms'] !== undefined) partial.fsyncIntervalMs = intOption(values, 'fsync-interval-ms', 50, 1, 60_000);
  if (values['owner-base-port'] !== undefined) partial.ownerBasePort = intOption(values, 'owner-base-port', 0, 0, 65535);
  if (values.owners !== undefined) partial.owners = intOption(values, 'owners', 1, 1, 64);
  if (values['max-payload'] !== undefined) partial.maxPayloadLength = intOption(values, 'max-payload', 0, 1024);

  const broker = await startBroker(partial);
  process.stdout.write(
    JSON.stringify({ event: 'listening', url: broker.url, port: broker.port, dataDir: broker.config.dataDir, owners: broker.owners().map((o) => ({ id: o.id, url: o.url })) }) + '\n',
  );
  logLine('broker ready', { url: broker.url, data: broker.config.dataDir, owners: broker.config.owners, fsync: broker.config.fsync });

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      logLine('shutting down', { signal });
      // A shutdown that hangs must not hang forever: fsync of every log is bounded by this.
      const force = setTimeout(() => {
        logLine('shutdown timed out; exiting');
        process.exit(1);
      }, 15_000);
      force.unref();
      broker.close().then(
        () => {
          logLine('stopped');
          resolve(0);
        },
        (err: unknown) => {
          logLine('shutdown failed', { error: String(err) });
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
}
