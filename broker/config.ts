// Broker configuration: every default in one place, every bad value a clear TypeError/RangeError.
import os from 'node:os';
import { FSYNC_POLICY_NAMES, FSYNC_THREADS, type FsyncPolicy, type FsyncThread, isFsyncPolicy, VERIFY_ON_OPEN, type VerifyOnOpen } from './log/log-config.js';
import { integerProblem, requireOneOf } from './validate.js';
import { type AuthConfig, type AuthConfigInput, isLoopbackHost, resolveAuthConfig } from './security/auth-config.js';

export { FSYNC_POLICY_NAMES, FSYNC_THREADS, type FsyncPolicy, type FsyncThread, isFsyncPolicy, VERIFY_ON_OPEN, type VerifyOnOpen };

export interface BrokerConfig {
  /** Interface to bind. Loopback by default: exposing a broker is a deliberate act. */
  host: string;
  /** Bootstrap port (HTTP + bootstrap WebSocket). 0 = any free port. */
  port: number;
  /** Owner ports are port+1 ... port+owners when port != 0, else any free ports. */
  ownerBasePort: number;
  dataDir: string;
  /** Number of partition-owner threads. */
  owners: number;
  /** Default fsync policy of new topics. */
  fsync: FsyncPolicy;
  fsyncIntervalMs: number;
  /**
   * How much of each partition log is CRC-checked when it opens: 'all' segments (~0.75 s per GiB from the page cache here;
   * damage anywhere is found and cut) or only the 'active' one (sealed segments trusted). docs/log.md.
   */
  verifyOnOpen: VerifyOnOpen;
  /** Which thread runs group commits' fdatasync: the partition's 'owner' (Redis-like) or libuv's 'pool' (log-config.ts). */
  fsyncThread: FsyncThread;
  /**
   * After each request an owner keeps its event loop spinning for this long instead of sleeping (owner/busy-poll.ts);
   * 0 (the default) never spins. Halves the live p50 here and burns a core per busy owner: docs/latency.md.
   */
  busyPollUs: number;
  /** Largest WebSocket message accepted (a produce frame carries one batch). */
  maxPayloadLength: number;
  /** uWS per-socket send buffer limit: a live frame past it is dropped and that subscriber resumes from the log (owner/subscription.ts). */
  maxBackpressure: number;
  /** Seconds without traffic before uWS closes a socket (pings keep healthy sockets open). */
  idleTimeoutSec: number;
  /** A live subscriber whose send buffer passes this is moved to catch-up reads. */
  slowConsumerBytes: number;
  /** A subscriber that does not drain below slowConsumerBytes for this long is cut off (SLOW_CONSUMER). */
  slowConsumerTimeoutMs: number;
  /** Catch-up reads: bytes read from the log per Deliver frame. */
  catchUpChunkBytes: number;
  /** Enables test-only control messages (fault injection). Never in production. */
  testHooks: boolean;
  brokerId: string;
  /** Cluster mode (partitions replicated across brokers, control plane on etcd); null = one node, no etcd. */
  cluster: ClusterConfig | null;
  /** Authentication (and with it ACLs); null = every caller is 'anonymous' and may do anything. */
  auth: AuthConfig | null;
  /**
   * Allows auth: null on an address other machines can reach. Without it such a broker refuses to
   * start: an open broker on a network is a decision, not a default.
   */
  insecure: boolean;
  /** TLS on every listening endpoint (bootstrap and owners) and for replica fetches; null = plain ws://. */
  tls: TlsConfig | null;
  /** Quotas and limits (docs/security.md "Quotas and limits"); defaults are meant for a public port. */
  limits: LimitsConfig;
}

export interface TlsConfig {
  /** PEM certificate chain (leaf first). Re-read on SIGHUP. */
  certFile: string;
  /** PEM private key (unencrypted). Re-read on SIGHUP. */
  keyFile: string;
  /**
   * PEM CA bundle this broker trusts when it connects to other brokers (follower fetchers). Not handed to
   * uWS: there it would ask clients for certificates without requiring or exposing them (see docs/security.md).
   */
  caFile?: string;
}

export interface LimitsConfig {
  /** Produce bytes per second per principal, across the broker (each owner enforces its share); 0 = unlimited. */
  produceBytesPerSec: number;
  /** Consume bytes per second per principal, across the broker (each owner enforces its share); 0 = unlimited. */
  consumeBytesPerSec: number;
  /** Open connections per client IP address, per endpoint (bootstrap, each owner). */
  maxConnectionsPerIp: number;
  /** Open connections per principal, per endpoint (all anonymous clients share one principal when auth is off). */
  maxConnectionsPerPrincipal: number;
  /** Sockets opened and not yet past Hello, per endpoint. */
  maxPendingHandshakes: number;
  /** Partition subscriptions one owner connection may hold. */
  maxSubscriptionsPerConnection: number;
  /** Topics in the node or cluster (CreateTopic is refused beyond). */
  maxTopics: number;
  /** Partitions of all topics in the node or cluster (CreateTopic is refused beyond). */
  maxPartitions: number;
}

export function defaultLimits(): LimitsConfig {
  return {
    produceBytesPerSec: 0,
    consumeBytesPerSec: 0,
    maxConnectionsPerIp: 1_000,
    maxConnectionsPerPrincipal: 10_000,
    maxPendingHandshakes: 1_000,
    maxSubscriptionsPerConnection: 10_000,
    maxTopics: 10_000,
    maxPartitions: 100_000,
  };
}

export interface ClusterConfig {
  /** etcd client URLs (http://host:port). */
  etcd: string[];
  /** Name of the cluster: its records live under /tickbus/<name>/ in etcd. */
  name: string;
  /** This broker's id, unique in the cluster; replicas and leaders are named by it. */
  nodeId: number;
  /** Failure domain (rack, availability zone): replicas of a partition go to distinct zones when possible. */
  zone: string;
  /** Broker lease TTL in etcd: a broker silent this long loses its leaderships. */
  leaseTtlMs: number;
  /** The broker stops leading this long before its lease can have expired in etcd. */
  fenceMarginMs: number;
  /** A follower not caught up with the leader for this long leaves the ISR. */
  replicaLagTimeMs: number;
  /**
   * Zone-aware reads (docs/replication.md, "Reading from the nearest replica"): a follower serves
   * consumers only while it was caught up with the leader's high watermark within this long; past it
   * its replica subscriptions end with a retryable NOT_LEADER ("stale replica") and the SDK moves them.
   * 0 (the default) = 2 × replicaLagTimeMs.
   */
  followerReadMaxLagMs: number;
  /** Elect an out-of-sync replica when no in-sync one is alive: available, but loses committed records. */
  uncleanLeaderElection: boolean;
  /** An acks=all produce not committed within this long is answered TIMEOUT (a retry is recognised). */
  ackTimeoutMs: number;
  defaultReplicationFactor: number;
  defaultMinInsync: number;
  /**
   * Catch-up bytes per second a leader's owner sends to learners (replicas being added by a reassignment,
   * outside the ISR), all learners together; live replication and consumers are not limited. 0 = unlimited.
   */
  reassignThrottleBytesPerSec: number;
  /** Controller: partition moves the balancer keeps in progress at once. */
  maxConcurrentMoves: number;
  /** Controller: a broker gone this long has its replicas placed on the others; 0 = never (wait for it). */
  replaceAfterMs: number;
  /** Controller: leadership returns to the preferred replica after it has been in the ISR this long. */
  preferredLeaderDelayMs: number;
  /** Controller: move partitions to joining brokers and off drained or replaced ones. */
  autoBalance: boolean;
}

export function defaultClusterConfig(): Omit<ClusterConfig, 'etcd' | 'nodeId'> {
  return {
    name: 'default',
    zone: 'default',
    leaseTtlMs: 3_000,
    fenceMarginMs: 1_000,
    replicaLagTimeMs: 2_000,
    followerReadMaxLagMs: 0,
    uncleanLeaderElection: false,
    ackTimeoutMs: 30_000,
    defaultReplicationFactor: 3,
    defaultMinInsync: 2,
    reassignThrottleBytesPerSec: 50 * 1024 * 1024,
    maxConcurrentMoves: 2,
    replaceAfterMs: 0,
    preferredLeaderDelayMs: 3_000,
    autoBalance: true,
  };
}

export const DEFAULT_PORT = 7420;

export function defaultConfig(): BrokerConfig {
  return {
    host: '127.0.0.1',
    port: DEFAULT_PORT,
    ownerBasePort: DEFAULT_PORT + 1,
    dataDir: './data',
    owners: Math.max(1, Math.min(2, os.availableParallelism())),
    fsync: 'interval',
    fsyncIntervalMs: 50,
    verifyOnOpen: 'all',
    fsyncThread: 'owner',
    busyPollUs: 0,
    maxPayloadLength: 4 * 1024 * 1024,
    maxBackpressure: 16 * 1024 * 1024,
    idleTimeoutSec: 120,
    slowConsumerBytes: 1024 * 1024,
    slowConsumerTimeoutMs: 30_000,
    catchUpChunkBytes: 256 * 1024,
    testHooks: false,
    brokerId: 'tickbus-0',
    cluster: null,
    auth: null,
    insecure: false,
    tls: null,
    limits: defaultLimits(),
  };
}

function int(name: string, v: number, min: number, max: number): void {
  const problem = integerProblem(v, min, max);
  if (problem) throw new (problem.kind === 'type' ? TypeError : RangeError)(`${name} ${problem.message}`);
}

/** What startBroker accepts: any field may be left out; auth is given as input and resolved. */
export type BrokerConfigInput = Partial<Omit<BrokerConfig, 'auth'>> & { auth?: AuthConfigInput | null };

export type { AuthConfig, AuthConfigInput };

/** Fills defaults and validates. Throws TypeError/RangeError naming the option. */
export function resolveConfig(partial: BrokerConfigInput): BrokerConfig {
  const { auth, ...rest } = partial;
  const c: BrokerConfig = { ...defaultConfig(), ...stripUndefined(rest) };
  c.auth = auth ? resolveAuthConfig(auth) : null;
  if (typeof c.insecure !== 'boolean') throw new TypeError('insecure must be a boolean');
  if (partial.ownerBasePort === undefined) c.ownerBasePort = c.port === 0 ? 0 : c.port + 1;
  // A catch-up chunk must fit in one frame: follow a smaller maxPayloadLength unless set explicitly.
  if (partial.catchUpChunkBytes === undefined) c.catchUpChunkBytes = Math.max(1024, Math.min(c.catchUpChunkBytes, Math.floor(c.maxPayloadLength / 2)));
  int('port', c.port, 0, 65535);
  int('ownerBasePort', c.ownerBasePort, 0, 65535);
  if (c.ownerBasePort !== 0 && c.ownerBasePort + c.owners - 1 > 65535) throw new RangeError('owner ports would pass 65535');
  int('owners', c.owners, 1, 64);
  if (!isFsyncPolicy(c.fsync)) throw new TypeError(`fsync must be ${FSYNC_POLICY_NAMES}, got ${String(c.fsync)}`);
  int('fsyncIntervalMs', c.fsyncIntervalMs, 1, 60_000);
  requireOneOf('fsyncThread', FSYNC_THREADS, c.fsyncThread);
  int('busyPollUs', c.busyPollUs, 0, 1_000_000);
  requireOneOf('verifyOnOpen', VERIFY_ON_OPEN, c.verifyOnOpen);
  int('maxPayloadLength', c.maxPayloadLength, 1024, 256 * 1024 * 1024);
  int('maxBackpressure', c.maxBackpressure, 64 * 1024, 1024 * 1024 * 1024);
  int('idleTimeoutSec', c.idleTimeoutSec, 0, 960);
  int('slowConsumerBytes', c.slowConsumerBytes, 1024, c.maxBackpressure);
  int('slowConsumerTimeoutMs', c.slowConsumerTimeoutMs, 100, 3_600_000);
  int('catchUpChunkBytes', c.catchUpChunkBytes, 1024, c.maxPayloadLength);
  if (typeof c.dataDir !== 'string' || c.dataDir === '') throw new TypeError('dataDir must be a non-empty path');
  if (typeof c.host !== 'string' || c.host === '') throw new TypeError('host must be a non-empty string');
  if (c.cluster) c.cluster = resolveClusterConfig(c.cluster);
  if (c.auth && c.cluster && c.auth.brokerToken === null) {
    throw new TypeError('cluster mode with auth needs auth.brokerToken (--broker-token-file): followers present it to leaders to replicate');
  }
  if (c.auth === null && !isLoopbackHost(c.host) && !c.insecure) {
    throw new RangeError(
      `refusing to listen on ${c.host} without authentication: anyone who can reach it could read, write and delete every topic. ` +
        'Configure auth (--tokens-file or --jwt-*), bind to 127.0.0.1, or pass --insecure to run open on purpose',
    );
  }
  c.tls = resolveTls(c.tls);
  c.limits = resolveLimits(c.limits);
  return c;
}

function resolveTls(t: TlsConfig | null): TlsConfig | null {
  if (t === null) return null;
  if (typeof t !== 'object') throw new TypeError('tls must be { certFile, keyFile, caFile? } or null');
  for (const k of ['certFile', 'keyFile'] as const) {
    if (typeof t[k] !== 'string' || t[k] === '') throw new TypeError(`tls.${k} must be a path to a PEM file`);
  }
  if (t.caFile !== undefined && (typeof t.caFile !== 'string' || t.caFile === '')) throw new TypeError('tls.caFile must be a path to a PEM file');
  if ('requireClientCert' in t) {
    // uWS (20.30) verifies a client certificate only if one is offered and never exposes it: it can
    // neither require one nor name a principal from it. Refuse rather than pretend.
    throw new RangeError('tls.requireClientCert is not supported: this uWebSockets.js build cannot require or expose client certificates (docs/security.md, TLS)');
  }
  return { ...t };
}

function resolveLimits(partial: Partial<LimitsConfig>): LimitsConfig {
  const l: LimitsConfig = { ...defaultLimits(), ...stripUndefined(partial) };
  int('limits.produceBytesPerSec', l.produceBytesPerSec, 0, Number.MAX_SAFE_INTEGER);
  int('limits.consumeBytesPerSec', l.consumeBytesPerSec, 0, Number.MAX_SAFE_INTEGER);
  int('limits.maxConnectionsPerIp', l.maxConnectionsPerIp, 1, 10_000_000);
  int('limits.maxConnectionsPerPrincipal', l.maxConnectionsPerPrincipal, 1, 10_000_000);
  int('limits.maxPendingHandshakes', l.maxPendingHandshakes, 1, 10_000_000);
  int('limits.maxSubscriptionsPerConnection', l.maxSubscriptionsPerConnection, 1, 10_000_000);
  int('limits.maxTopics', l.maxTopics, 1, 10_000_000);
  int('limits.maxPartitions', l.maxPartitions, 1, 100_000_000);
  return l;
}

function resolveClusterConfig(partial: Partial<ClusterConfig> & Pick<ClusterConfig, 'etcd' | 'nodeId'>): ClusterConfig {
  const k: ClusterConfig = { ...defaultClusterConfig(), ...stripUndefined(partial) } as ClusterConfig;
  if (!Array.isArray(k.etcd) || k.etcd.length === 0 || k.etcd.some((u) => !/^https?:\/\/[^/]+$/.test(u))) {
    throw new TypeError(`cluster etcd endpoints must be http://host:port URLs, got ${JSON.stringify(k.etcd)}`);
  }
  int('cluster nodeId', k.nodeId, 0, 2 ** 31 - 1);
  int('cluster leaseTtlMs', k.leaseTtlMs, 1_000, 600_000);
  int('cluster fenceMarginMs', k.fenceMarginMs, 0, k.leaseTtlMs - 1);
  int('cluster replicaLagTimeMs', k.replicaLagTimeMs, 10, 600_000);
  // Follows the lag time unless set: a replica may trail by up to one lag time and still be in the ISR.
  if (k.followerReadMaxLagMs === 0) k.followerReadMaxLagMs = 2 * k.replicaLagTimeMs;
  int('cluster followerReadMaxLagMs', k.followerReadMaxLagMs, 10, 1_200_000);
  int('cluster ackTimeoutMs', k.ackTimeoutMs, 10, 600_000);
  int('cluster defaultReplicationFactor', k.defaultReplicationFactor, 1, 16);
  int('cluster defaultMinInsync', k.defaultMinInsync, 1, 16);
  int('cluster reassignThrottleBytesPerSec', k.reassignThrottleBytesPerSec, 0, Number.MAX_SAFE_INTEGER);
  int('cluster maxConcurrentMoves', k.maxConcurrentMoves, 1, 10_000);
  int('cluster replaceAfterMs', k.replaceAfterMs, 0, 7 * 24 * 3_600_000);
  int('cluster preferredLeaderDelayMs', k.preferredLeaderDelayMs, 0, 3_600_000);
  if (typeof k.autoBalance !== 'boolean') throw new TypeError('cluster autoBalance must be a boolean');
  if (!/^[A-Za-z0-9._-]{1,100}$/.test(k.name)) throw new TypeError(`cluster name must be 1-100 characters from A-Z a-z 0-9 . _ -, got ${JSON.stringify(k.name)}`);
  if (typeof k.zone !== 'string' || k.zone === '') throw new TypeError('cluster zone must be a non-empty string');
  return k;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
