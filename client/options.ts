// Client options: every default in one place, every bad value a TypeError/RangeError that names
// the option, thrown by connect() before any socket is opened.
import { IDEMPOTENCE_WINDOW } from '../schemas/limits.js';
import type { BackoffOptions } from './backoff.js';
import type { TokenSource } from './connection.js';
import { createWebSocketTransport, type TlsOptions, type Transport } from './transport.js';

export interface ReconnectOptions extends BackoffOptions {
  /** Attempts before a subscription gives up and reports CONNECTION_CLOSED. Infinity = never give up. */
  maxRetries: number;
}

export interface ClientOptions {
  /**
   * Bootstrap URLs (ws:// or wss://) for metadata and admin; tried in order until one answers, and
   * round robin after a failure (a broker that refuses, times out or lost the control plane is tried
   * last next time). In a cluster list several: any broker answers metadata.
   */
  brokers: string[];
  /** Shown in the broker's logs. */
  clientId?: string;
  /** Time limit of every request (produce, subscribe, metadata, admin). Default 10 000 ms. */
  requestTimeoutMs?: number;
  /** Time limit to open a WebSocket and finish the Hello handshake. Default 5 000 ms. */
  connectTimeoutMs?: number;
  /**
   * How long send() waits for more records before the batch goes out. 0 (default, latency first):
   * records passed to send() in the same event-loop turn share a batch, nothing waits for a timer.
   */
  lingerMs?: number;
  /** Largest record batch the producer builds (bytes, encoded). Default 1 MiB. A single larger record is refused. */
  maxBatchBytes?: number;
  /**
   * Batches per partition sent beyond the oldest unanswered one; more queue in the client (see
   * bufferMemoryBytes). Default 5, at most IDEMPOTENCE_WINDOW (16): the batches the broker remembers per
   * producer, so that every retry is recognised as a duplicate instead of written twice.
   */
  maxInFlight?: number;
  /** Bytes of records accepted by send() and not yet acknowledged; past it send() rejects BUFFER_FULL. Default 32 MiB. */
  bufferMemoryBytes?: number;
  /** How long send() keeps retrying a batch through reconnects before it rejects. Default 30 000 ms. */
  deliveryTimeoutMs?: number;
  /** Reconnect backoff (exponential, full jitter). Defaults { initialMs: 50, maxMs: 5000, maxRetries: Infinity }. */
  reconnect?: Partial<ReconnectOptions>;
  /** Check the CRC-32C of every delivered batch (corruption → the partition is resubscribed). Default true. */
  checkCrcs?: boolean;
  /** How WebSockets are opened. Default: the platform's WebSocket (the `ws` package in Node). */
  transport?: Transport;
  /**
   * Credential for a broker with authentication (docs/security.md): a static token or a JWT, or a
   * function returning one, called before every connection's Hello so a refreshed token is used.
   */
  token?: TokenSource;
  /**
   * The client's zone (rack, availability zone), as brokers name theirs (`--zone`). A subscription with
   * isolation 'committed' then reads each partition from an in-sync replica in this zone when there is
   * one (zone-aware reads, KIP-392), else from the leader; it moves to the leader when that replica
   * fails, falls behind or stops (gap-free). Default: none (always the leader).
   */
  zone?: string;
  /**
   * Node only: TLS settings for wss:// brokers, e.g. `{ ca: fs.readFileSync('ca.pem') }` for a private CA.
   * Browsers trust what the browser trusts and take none (install the CA there).
   */
  tls?: TlsOptions;
}

export interface ResolvedOptions {
  brokers: string[];
  clientId: string;
  requestTimeoutMs: number;
  connectTimeoutMs: number;
  lingerMs: number;
  maxBatchBytes: number;
  maxInFlight: number;
  bufferMemoryBytes: number;
  deliveryTimeoutMs: number;
  reconnect: ReconnectOptions;
  checkCrcs: boolean;
  transport: Transport | null;
  token: TokenSource | null;
  /** null: no zone, every read goes to the leader. */
  zone: string | null;
}

export const DEFAULTS = {
  clientId: 'tickbus-client',
  requestTimeoutMs: 10_000,
  connectTimeoutMs: 5_000,
  lingerMs: 0,
  maxBatchBytes: 1024 * 1024,
  maxInFlight: 5,
  bufferMemoryBytes: 32 * 1024 * 1024,
  deliveryTimeoutMs: 30_000,
  reconnect: { initialMs: 50, maxMs: 5_000, maxRetries: Infinity },
  checkCrcs: true,
  creditBytes: 1024 * 1024,
} as const;

/** Smallest batch limit: a batch header (72 bytes) plus room for a small record. */
const MIN_BATCH_BYTES = 128;

export function int(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError(`${name} must be an integer, got ${describe(v)}`);
  if (v < min || v > max) throw new RangeError(`${name} must be between ${min} and ${max}, got ${v}`);
  return v;
}

function intOrInfinity(name: string, v: unknown, min: number): number {
  if (v === Infinity) return v;
  return int(name, v, min, Number.MAX_SAFE_INTEGER);
}

function describe(v: unknown): string {
  if (typeof v === 'string') return `'${v}'`;
  if (Array.isArray(v)) return 'an array';
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- objects were answered above; the rest print as themselves
  return v === null ? 'null' : typeof v === 'object' ? 'an object' : String(v);
}

function brokerUrl(v: unknown, i: number): string {
  if (typeof v !== 'string') throw new TypeError(`brokers[${i}] must be a ws:// or wss:// URL string, got ${describe(v)}`);
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new TypeError(`brokers[${i}] is not a URL: '${v}' (expected e.g. ws://127.0.0.1:7420)`);
  }
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') {
    throw new TypeError(`brokers[${i}] must use ws:// or wss://, got '${v}'`);
  }
  return v;
}

/**
 * A retry is recognised as already written only while the broker still remembers the batch: it keeps
 * the last IDEMPOTENCE_WINDOW batches per producer and partition, so no more may be out at once.
 */
function maxInFlight(v: unknown): number {
  if (typeof v === 'number' && Number.isInteger(v) && v > IDEMPOTENCE_WINDOW) {
    throw new RangeError(
      `maxInFlight must be between 1 and ${IDEMPOTENCE_WINDOW}, got ${v}: the broker remembers the last ${IDEMPOTENCE_WINDOW} batches ` +
        'of each producer per partition (IDEMPOTENCE_WINDOW), and a batch retried after more were sent could no longer be recognised as already written',
    );
  }
  return int('maxInFlight', v, 1, IDEMPOTENCE_WINDOW);
}

function tlsOptions(t: unknown): TlsOptions {
  if (typeof t !== 'object' || t === null) throw new TypeError(`tls must be an object { ca?, servername? }, got ${describe(t)}`);
  const { ca, servername } = t as Record<string, unknown>;
  const pem = (v: unknown): boolean => typeof v === 'string' || v instanceof Uint8Array;
  if (ca !== undefined && !pem(ca) && !(Array.isArray(ca) && ca.every(pem))) {
    throw new TypeError(`tls.ca must be PEM text or bytes (or an array of them), got ${describe(ca)}`);
  }
  if (servername !== undefined && typeof servername !== 'string') throw new TypeError(`tls.servername must be a string, got ${describe(servername)}`);
  return t;
}

/** Fills defaults and validates; throws TypeError/RangeError naming the bad option. */
export function resolveOptions(o: ClientOptions): ResolvedOptions {
  // JavaScript callers pass anything: the checks below are for them.
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
  if (typeof o !== 'object' || o === null) throw new TypeError('connect() needs an options object: { brokers: [url] }');
  if (!Array.isArray(o.brokers) || o.brokers.length === 0) {
    throw new TypeError("brokers must be a non-empty array of URLs, e.g. ['ws://127.0.0.1:7420']");
  }
  const clientId = o.clientId ?? DEFAULTS.clientId;
  if (typeof clientId !== 'string' || clientId.length === 0 || clientId.length > 200) {
    throw new TypeError(`clientId must be a string of 1 to 200 characters, got ${describe(clientId)}`);
  }
  const r = o.reconnect ?? {};
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
  if (typeof r !== 'object' || r === null) throw new TypeError(`reconnect must be an object, got ${describe(r)}`);
  const reconnect: ReconnectOptions = {
    initialMs: int('reconnect.initialMs', r.initialMs ?? DEFAULTS.reconnect.initialMs, 0, 3_600_000),
    maxMs: int('reconnect.maxMs', r.maxMs ?? DEFAULTS.reconnect.maxMs, 0, 3_600_000),
    maxRetries: intOrInfinity('reconnect.maxRetries', r.maxRetries ?? DEFAULTS.reconnect.maxRetries, 0),
  };
  if (reconnect.maxMs < reconnect.initialMs) {
    throw new RangeError(`reconnect.maxMs (${reconnect.maxMs}) must not be below reconnect.initialMs (${reconnect.initialMs})`);
  }
  const maxBatchBytes = int('maxBatchBytes', o.maxBatchBytes ?? DEFAULTS.maxBatchBytes, MIN_BATCH_BYTES, 256 * 1024 * 1024);
  const bufferMemoryBytes = int('bufferMemoryBytes', o.bufferMemoryBytes ?? DEFAULTS.bufferMemoryBytes, 1, Number.MAX_SAFE_INTEGER);
  if (bufferMemoryBytes < maxBatchBytes) {
    throw new RangeError(`bufferMemoryBytes (${bufferMemoryBytes}) must be at least maxBatchBytes (${maxBatchBytes})`);
  }
  const checkCrcs = o.checkCrcs ?? DEFAULTS.checkCrcs;
  if (typeof checkCrcs !== 'boolean') throw new TypeError(`checkCrcs must be a boolean, got ${describe(checkCrcs)}`);
  const zone: unknown = o.zone ?? null;
  if (zone !== null && (typeof zone !== 'string' || zone.length === 0 || zone.length > 100)) {
    throw new TypeError(`zone must be a string of 1 to 100 characters (a broker's --zone), got ${describe(zone)}`);
  }
  let transport = o.transport ?? null;
  if (transport !== null && (typeof transport !== 'object' || typeof transport.open !== 'function')) {
    throw new TypeError('transport must be an object with an open(url, handlers, timeoutMs) method');
  }
  if (o.tls !== undefined) {
    if (transport !== null) throw new TypeError('give either tls or transport: tls configures the default WebSocket transport');
    transport = createWebSocketTransport(tlsOptions(o.tls));
  }
  return {
    brokers: o.brokers.map(brokerUrl),
    clientId,
    requestTimeoutMs: int('requestTimeoutMs', o.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs, 1, 3_600_000),
    connectTimeoutMs: int('connectTimeoutMs', o.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs, 1, 3_600_000),
    lingerMs: int('lingerMs', o.lingerMs ?? DEFAULTS.lingerMs, 0, 60_000),
    maxBatchBytes,
    maxInFlight: maxInFlight(o.maxInFlight ?? DEFAULTS.maxInFlight),
    bufferMemoryBytes,
    deliveryTimeoutMs: int('deliveryTimeoutMs', o.deliveryTimeoutMs ?? DEFAULTS.deliveryTimeoutMs, 1, 24 * 3_600_000),
    reconnect,
    checkCrcs,
    transport,
    zone,
    token: checkToken(o.token),
  };
}

function checkToken(v: unknown): TokenSource | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'function') return v as TokenSource;
  if (typeof v !== 'string' || v === '') throw new TypeError(`token must be a non-empty string or a function returning one, got ${describe(v)}`);
  return v;
}
