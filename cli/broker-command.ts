// `tickbus broker`: runs one node with embedded defaults (or one broker of a cluster with --cluster) until SIGTERM/SIGINT, then shuts down in
// order: stop accepting, close connections, flush and fsync every log, exit.
import {
  type ClusterConfig,
  DEFAULT_PORT,
  defaultClusterConfig,
  defaultLimits,
  FSYNC_POLICY_NAMES,
  FSYNC_THREADS,
  isFsyncPolicy,
  type LimitsConfig,
  type TlsConfig,
  VERIFY_ON_OPEN,
} from '../broker/config.js';
import { isOneOf } from '../broker/validate.js';
import { logLine } from '../broker/logger.js';
import { startBroker } from '../broker/server/broker.js';
import { intOption, parse, str, UsageError } from './args.js';
import type { BrokerConfigInput } from '../broker/config.js';
import { BROKER_AUTH_OPTIONS, BROKER_AUTH_USAGE, brokerAuthFromArgs } from './auth-options.js';
import { parseEtcdUrls } from './etcd-urls.js';

const USAGE = `
Usage: tickbus broker [options]

Runs a tickbus broker (one node, or one broker of a cluster). Prints one JSON line when ready:
  {"event":"listening","url":"ws://127.0.0.1:7420/","port":7420,"owners":[...]}

Options:
  --port N          bootstrap port (HTTP /healthz /metrics + WebSocket); 0 = any free port  [${DEFAULT_PORT}]
  --owner-base-port N     first owner port (owners use N, N+1, ...); 0 = any free ports  [port+1]
  --host H          interface to bind                                                      [127.0.0.1]
  --data DIR        data directory                                                         [./data]
  --fsync P         default fsync policy of new topics: always | interval | os            [interval]
  --fsync-interval-ms N   interval of the 'interval' policy                               [50]
  --verify-on-open W      CRC-check at start: all segments | only the active one (docs/log.md) [all]
  --fsync-thread T        who runs a group commit's fdatasync: the partition's owner (no thread
                          wakeup; its other partitions wait) | the libuv pool (docs/latency.md) [owner]
  --busy-poll-us N        after a request, an owner spins this long before it sleeps again: no
                          wakeup for the next one, a core kept busy (docs/latency.md); 0 = never [0]
  --owners N        partition-owner threads                                                [min(2, cores)]
  --max-payload N   largest frame in bytes                                                 [4194304]
  --test-hooks      enable test-only hooks: POST /test/owners/:id/fault, .../hold-restart, .../release-restart

TLS (every endpoint becomes wss://; SIGHUP re-reads the files for new connections):
  --tls-cert FILE   PEM certificate chain
  --tls-key FILE    PEM private key
  --tls-ca FILE     PEM CA bundle trusted when connecting to other brokers (replica fetches)

Quotas and limits (docs/security.md):
  --produce-quota N       produce bytes/s per principal (throttled, not cut off); 0 = none   [0]
  --consume-quota N       consume bytes/s per principal (delivery delayed); 0 = none         [0]
  --max-conns-per-ip N    open connections per client address, per endpoint                  [1000]
  --max-conns-per-principal N   open connections per principal, per endpoint              [10000]
  --max-pending-handshakes N    sockets not yet past Hello, per endpoint                  [1000]
  --max-subs-per-conn N   partition subscriptions per owner connection                    [10000]
  --max-topics N          topics in the node or cluster                                    [10000]
  --max-partitions N      partitions in the node or cluster                               [100000]
  -h, --help        show this help

Cluster mode (partitions replicated across brokers; control plane on etcd):
  --cluster URLS    etcd endpoints, comma-separated: etcd://127.0.0.1:2379[,etcd://...]
  --node-id N       this broker's id, unique in the cluster (required with --cluster)
  --zone Z          failure domain; replicas of a partition go to distinct zones       [default]
  --cluster-name NAME     records live under /tickbus/NAME/ in etcd                    [default]
  --lease-ttl-ms N  a silent broker loses its leaderships after about this long        [3000]
  --replica-lag-ms N      a follower behind this long leaves the ISR                   [2000]
  --follower-read-max-lag-ms N  a follower not caught up this long stops serving zone reads [2 × replica lag]
  --unclean-leader-election   elect an out-of-sync replica when no in-sync one is alive
                    (stays available, loses committed records)                         [off]
  --reassign-throttle N   catch-up bytes/s to replicas being added by a move; 0 = none  [52428800]
  Controller (used by whichever broker is elected controller):
  --max-moves N     partition moves the balancer keeps in progress at once             [2]
  --replace-after-ms N    place the replicas of a broker gone this long on others; 0 = never  [0]
  --preferred-leader-delay-ms N   leadership returns to the preferred replica after it has
                    been in the ISR this long                                          [3000]
  --no-auto-balance       do not move partitions to joining brokers (drains, replacements
                    and manual plans still run)
`;

/** --flag → LimitsConfig field; every one an integer, validated by resolveConfig. */
const LIMIT_FLAGS = {
  'produce-quota': 'produceBytesPerSec',
  'consume-quota': 'consumeBytesPerSec',
  'max-conns-per-ip': 'maxConnectionsPerIp',
  'max-conns-per-principal': 'maxConnectionsPerPrincipal',
  'max-pending-handshakes': 'maxPendingHandshakes',
  'max-subs-per-conn': 'maxSubscriptionsPerConnection',
  'max-topics': 'maxTopics',
  'max-partitions': 'maxPartitions',
} as const satisfies Record<string, keyof LimitsConfig>;

function limitOptions(values: Record<string, string | boolean | undefined>): Partial<LimitsConfig> {
  const out: Partial<LimitsConfig> = {};
  for (const [flag, field] of Object.entries(LIMIT_FLAGS)) {
    if (values[flag] !== undefined) out[field] = intOption(values, flag, 0, field.endsWith('BytesPerSec') ? 0 : 1);
  }
  return out;
}

function tlsOptions(values: Record<string, string | boolean | undefined>): TlsConfig | null {
  if (values['tls-client-auth'] !== undefined) {
    throw new UsageError('--tls-client-auth is not supported: this uWebSockets.js build can neither require nor expose client certificates (docs/security.md, TLS)');
  }
  const certFile = str(values, 'tls-cert');
  const keyFile = str(values, 'tls-key');
  const caFile = str(values, 'tls-ca');
  if (certFile === undefined && keyFile === undefined) {
    if (caFile !== undefined) throw new UsageError('--tls-ca needs --tls-cert and --tls-key');
    return null;
  }
  if (certFile === undefined || keyFile === undefined) throw new UsageError('TLS needs both --tls-cert FILE and --tls-key FILE');
  return caFile === undefined ? { certFile, keyFile } : { certFile, keyFile, caFile };
}

const CLUSTER_ONLY = [
  'node-id', 'zone', 'cluster-name', 'lease-ttl-ms', 'replica-lag-ms', 'follower-read-max-lag-ms', 'unclean-leader-election',
  'reassign-throttle', 'max-moves', 'replace-after-ms', 'preferred-leader-delay-ms', 'no-auto-balance',
];

function clusterOptions(values: Record<string, string | boolean | undefined>): ClusterConfig | null {
  const etcdArg = str(values, 'cluster');
  if (etcdArg === undefined) {
    const stray = CLUSTER_ONLY.find((k) => values[k] !== undefined);
    if (stray) throw new UsageError(`--${stray} needs --cluster etcd://host:port`);
    return null;
  }
  if (values['node-id'] === undefined) throw new UsageError('--cluster needs --node-id N (unique in the cluster)');
  const defaults = defaultClusterConfig();
  const name = str(values, 'cluster-name') ?? defaults.name;
  if (!/^[A-Za-z0-9._-]{1,100}$/.test(name)) throw new UsageError(`--cluster-name must be 1-100 characters from A-Z a-z 0-9 . _ -, got '${name}'`);
  const leaseTtlMs = intOption(values, 'lease-ttl-ms', defaults.leaseTtlMs, 1_000, 600_000);
  return {
    ...defaults,
    etcd: parseEtcdUrls(etcdArg),
    nodeId: intOption(values, 'node-id', 0, 0, 2 ** 31 - 1),
    zone: str(values, 'zone') ?? defaults.zone,
    name,
    leaseTtlMs,
    // Keep the fencing margin a third of the TTL when the TTL changes (the default is 1 s of 3 s).
    fenceMarginMs: Math.min(defaults.fenceMarginMs, Math.floor(leaseTtlMs / 3)),
    replicaLagTimeMs: intOption(values, 'replica-lag-ms', defaults.replicaLagTimeMs, 10, 600_000),
    followerReadMaxLagMs: intOption(values, 'follower-read-max-lag-ms', 0, 0, 1_200_000),
    uncleanLeaderElection: values['unclean-leader-election'] === true,
    reassignThrottleBytesPerSec: intOption(values, 'reassign-throttle', defaults.reassignThrottleBytesPerSec, 0),
    maxConcurrentMoves: intOption(values, 'max-moves', defaults.maxConcurrentMoves, 1, 10_000),
    replaceAfterMs: intOption(values, 'replace-after-ms', defaults.replaceAfterMs, 0, 7 * 24 * 3_600_000),
    preferredLeaderDelayMs: intOption(values, 'preferred-leader-delay-ms', defaults.preferredLeaderDelayMs, 0, 3_600_000),
    autoBalance: values['no-auto-balance'] !== true,
  };
}

export async function brokerCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    {
      port: { type: 'string' },
      host: { type: 'string' },
      data: { type: 'string' },
      fsync: { type: 'string' },
      'fsync-interval-ms': { type: 'string' },
      'verify-on-open': { type: 'string' },
      'fsync-thread': { type: 'string' },
      'busy-poll-us': { type: 'string' },
      owners: { type: 'string' },
      'owner-base-port': { type: 'string' },
      'max-payload': { type: 'string' },
      'test-hooks': { type: 'boolean' },
      cluster: { type: 'string' },
      'node-id': { type: 'string' },
      zone: { type: 'string' },
      'cluster-name': { type: 'string' },
      'lease-ttl-ms': { type: 'string' },
      'replica-lag-ms': { type: 'string' },
      'follower-read-max-lag-ms': { type: 'string' },
      'unclean-leader-election': { type: 'boolean' },
      'reassign-throttle': { type: 'string' },
      'max-moves': { type: 'string' },
      'replace-after-ms': { type: 'string' },
      'preferred-leader-delay-ms': { type: 'string' },
      'no-auto-balance': { type: 'boolean' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'tls-ca': { type: 'string' },
      'tls-client-auth': { type: 'boolean' },
      ...Object.fromEntries(Object.keys(LIMIT_FLAGS).map((k) => [k, { type: 'string' as const }])),
      ...BROKER_AUTH_OPTIONS,
    },
    USAGE + BROKER_AUTH_USAGE,
  );
  if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'\n${USAGE}`);
  const fsync = str(values, 'fsync');
  if (fsync !== undefined && !isFsyncPolicy(fsync)) throw new UsageError(`--fsync must be ${FSYNC_POLICY_NAMES}, got '${fsync}'`);
  const partial: BrokerConfigInput = {
    port: intOption(values, 'port', DEFAULT_PORT, 0, 65535),
    testHooks: values['test-hooks'] === true,
  };
  const host = str(values, 'host');
  if (host) partial.host = host;
  const data = str(values, 'data');
  if (data) partial.dataDir = data;
  if (fsync) partial.fsync = fsync;
  if (values['fsync-interval-ms'] !== undefined) partial.fsyncIntervalMs = intOption(values, 'fsync-interval-ms', 50, 1, 60_000);
  const verify = str(values, 'verify-on-open');
  if (verify !== undefined) {
    if (!isOneOf(VERIFY_ON_OPEN, verify)) throw new UsageError(`--verify-on-open must be all or active, got '${verify}'`);
    partial.verifyOnOpen = verify;
  }
  const fsyncThread = str(values, 'fsync-thread');
  if (fsyncThread !== undefined) {
    if (!isOneOf(FSYNC_THREADS, fsyncThread)) throw new UsageError(`--fsync-thread must be owner or pool, got '${fsyncThread}'`);
    partial.fsyncThread = fsyncThread;
  }
  if (values['busy-poll-us'] !== undefined) partial.busyPollUs = intOption(values, 'busy-poll-us', 0, 0, 1_000_000);
  if (values['owner-base-port'] !== undefined) partial.ownerBasePort = intOption(values, 'owner-base-port', 0, 0, 65535);
  if (values.owners !== undefined) partial.owners = intOption(values, 'owners', 1, 1, 64);
  if (values['max-payload'] !== undefined) partial.maxPayloadLength = intOption(values, 'max-payload', 0, 1024);
  partial.cluster = clusterOptions(values);
  partial.tls = tlsOptions(values);
  partial.limits = { ...defaultLimits(), ...limitOptions(values) };

  const auth = brokerAuthFromArgs(values);
  if (auth) partial.auth = auth;
  if (values.insecure === true) partial.insecure = true;

  let broker: Awaited<ReturnType<typeof startBroker>>;
  try {
    broker = await startBroker(partial);
  } catch (err) {
    // A configuration the broker refuses (no auth on a public address, a bad key file) is a usage error: exit 2 with the reason.
    if (err instanceof TypeError || err instanceof RangeError) throw new UsageError(err.message);
    throw err;
  }
  const cluster = broker.config.cluster;
  process.stdout.write(
    JSON.stringify({
      event: 'listening',
      url: broker.url,
      port: broker.port,
      dataDir: broker.config.dataDir,
      owners: broker.owners().map((o) => ({ id: o.id, url: o.url })),
      ...(cluster ? { nodeId: cluster.nodeId, zone: cluster.zone, cluster: cluster.name } : {}),
    }) + '\n',
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
    // SIGHUP: new certificate files (renewal) for new connections; open ones keep theirs, nothing restarts.
    process.on('SIGHUP', () => {
      if (stopping) return;
      if (!broker.config.tls) {
        logLine('SIGHUP ignored: TLS is not configured');
        return;
      }
      broker.reloadTls().then(
        () => logLine('tls reloaded', { cert: broker.config.tls?.certFile }),
        (err: unknown) => logLine('tls reload failed; still serving the previous certificate', { error: String(err) }),
      );
    });
  });
}
