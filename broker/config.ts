// Broker configuration: every default in one place, every bad value a clear TypeError/RangeError.
import os from 'node:os';
import { FSYNC_POLICY_NAMES, type FsyncPolicy, isFsyncPolicy } from './log/log-config.js';
import { integerProblem } from './validate.js';

export { FSYNC_POLICY_NAMES, type FsyncPolicy, isFsyncPolicy };

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
  /** Largest WebSocket message accepted (a produce frame carries one batch). */
  maxPayloadLength: number;
  /** uWS per-socket send buffer limit; uWS skips publishes to a socket above it. */
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
  /** Elect an out-of-sync replica when no in-sync one is alive: available, but loses committed records. */
  uncleanLeaderElection: boolean;
  /** An acks=all produce not committed within this long is answered TIMEOUT (a retry is recognised). */
  ackTimeoutMs: number;
  defaultReplicationFactor: number;
  defaultMinInsync: number;
}

export function defaultClusterConfig(): Omit<ClusterConfig, 'etcd' | 'nodeId'> {
  return {
    name: 'default',
    zone: 'default',
    leaseTtlMs: 3_000,
    fenceMarginMs: 1_000,
    replicaLagTimeMs: 2_000,
    uncleanLeaderElection: false,
    ackTimeoutMs: 30_000,
    defaultReplicationFactor: 3,
    defaultMinInsync: 2,
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
    maxPayloadLength: 4 * 1024 * 1024,
    maxBackpressure: 16 * 1024 * 1024,
    idleTimeoutSec: 120,
    slowConsumerBytes: 1024 * 1024,
    slowConsumerTimeoutMs: 30_000,
    catchUpChunkBytes: 256 * 1024,
    testHooks: false,
    brokerId: 'tickbus-0',
    cluster: null,
  };
}

function int(name: string, v: number, min: number, max: number): void {
  const problem = integerProblem(v, min, max);
  if (problem) throw new (problem.kind === 'type' ? TypeError : RangeError)(`${name} ${problem.message}`);
}

/** Fills defaults and validates. Throws TypeError/RangeError naming the option. */
export function resolveConfig(partial: Partial<BrokerConfig>): BrokerConfig {
  const c: BrokerConfig = { ...defaultConfig(), ...stripUndefined(partial) };
  if (partial.ownerBasePort === undefined) c.ownerBasePort = c.port === 0 ? 0 : c.port + 1;
  // A catch-up chunk must fit in one frame: follow a smaller maxPayloadLength unless set explicitly.
  if (partial.catchUpChunkBytes === undefined) c.catchUpChunkBytes = Math.max(1024, Math.min(c.catchUpChunkBytes, Math.floor(c.maxPayloadLength / 2)));
  int('port', c.port, 0, 65535);
  int('ownerBasePort', c.ownerBasePort, 0, 65535);
  if (c.ownerBasePort !== 0 && c.ownerBasePort + c.owners - 1 > 65535) throw new RangeError('owner ports would pass 65535');
  int('owners', c.owners, 1, 64);
  if (!isFsyncPolicy(c.fsync)) throw new TypeError(`fsync must be ${FSYNC_POLICY_NAMES}, got ${String(c.fsync)}`);
  int('fsyncIntervalMs', c.fsyncIntervalMs, 1, 60_000);
  int('maxPayloadLength', c.maxPayloadLength, 1024, 256 * 1024 * 1024);
  int('maxBackpressure', c.maxBackpressure, 64 * 1024, 1024 * 1024 * 1024);
  int('idleTimeoutSec', c.idleTimeoutSec, 0, 960);
  int('slowConsumerBytes', c.slowConsumerBytes, 1024, c.maxBackpressure);
  int('slowConsumerTimeoutMs', c.slowConsumerTimeoutMs, 100, 3_600_000);
  int('catchUpChunkBytes', c.catchUpChunkBytes, 1024, c.maxPayloadLength);
  if (typeof c.dataDir !== 'string' || c.dataDir === '') throw new TypeError('dataDir must be a non-empty path');
  if (typeof c.host !== 'string' || c.host === '') throw new TypeError('host must be a non-empty string');
  if (c.cluster) c.cluster = resolveClusterConfig(c.cluster);
  return c;
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
  int('cluster ackTimeoutMs', k.ackTimeoutMs, 10, 600_000);
  int('cluster defaultReplicationFactor', k.defaultReplicationFactor, 1, 16);
  int('cluster defaultMinInsync', k.defaultMinInsync, 1, 16);
  if (!/^[A-Za-z0-9._-]{1,100}$/.test(k.name)) throw new TypeError(`cluster name must be 1-100 characters from A-Z a-z 0-9 . _ -, got ${JSON.stringify(k.name)}`);
  if (typeof k.zone !== 'string' || k.zone === '') throw new TypeError('cluster zone must be a non-empty string');
  return k;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
