// One error module for broker, wire and SDK: stable numeric codes that callers match on.
// Codes travel in ErrorReply frames and across threads as plain data ({ code, message }),
// because an Error subclass sent through postMessage arrives as a plain Error (Node 20).

export const ErrorCode = {
  // 1xx: the frame itself
  MALFORMED_FRAME: 100,
  UNKNOWN_FRAME_TYPE: 101,
  FRAME_TOO_LARGE: 102,
  UNSUPPORTED_PROTOCOL_VERSION: 103,
  HELLO_REQUIRED: 104,
  CORRUPT_BATCH: 105,
  INVALID_REQUEST: 106,
  // 2xx: topics and partitions
  UNKNOWN_TOPIC: 200,
  UNKNOWN_PARTITION: 201,
  TOPIC_EXISTS: 202,
  TOPIC_DELETED: 203,
  INVALID_TOPIC_NAME: 204,
  INVALID_PARTITION_COUNT: 205,
  INVALID_CONFIG: 206,
  NOT_OWNER: 207,
  // Cluster: this broker does not lead the partition (any more); refresh metadata and go to the leader.
  NOT_LEADER: 208,
  // The request carried an older leader epoch than the partition's: the sender's metadata is stale.
  FENCED_LEADER_EPOCH: 209,
  // The request carried a newer leader epoch than this broker knows: it has not caught up yet.
  UNKNOWN_LEADER_EPOCH: 210,
  // 3xx: offsets and consumption
  OFFSET_OUT_OF_RANGE: 300,
  SLOW_CONSUMER: 301,
  UNKNOWN_MEMBER: 302,
  STALE_GENERATION: 303,
  // 4xx: producing
  OUT_OF_ORDER_SEQUENCE: 400,
  DUPLICATE_SEQUENCE: 401,
  // 5xx: availability (retryable)
  OWNER_UNAVAILABLE: 500,
  SHUTTING_DOWN: 501,
  STORAGE_ERROR: 502,
  TIMEOUT: 503,
  CONNECTION_CLOSED: 504,
  BUFFER_FULL: 505,
  // etcd (the control plane) could not be reached or did not answer in time.
  CONTROL_PLANE_UNAVAILABLE: 506,
  // acks=all while the in-sync replica set is smaller than the topic's min.insync.replicas.
  NOT_ENOUGH_REPLICAS: 507,
  INTERNAL: 599,
  // 6xx: security (not retryable: a new credential or a changed ACL is needed)
  AUTHENTICATION_REQUIRED: 600,
  AUTHENTICATION_FAILED: 601,
  TOKEN_EXPIRED: 602,
  NOT_AUTHORIZED: 603,
  LIMIT_EXCEEDED: 604,
} as const;

export type ErrorCodeName = keyof typeof ErrorCode;
export type ErrorCodeValue = (typeof ErrorCode)[ErrorCodeName];

const namesByCode = new Map<number, ErrorCodeName>(
  (Object.entries(ErrorCode) as [ErrorCodeName, number][]).map(([name, code]) => [code, name]),
);

/** Codes whose condition may pass by itself: a client retries these after backoff. */
const RETRYABLE = new Set<number>([
  ErrorCode.NOT_OWNER,
  ErrorCode.NOT_LEADER,
  ErrorCode.FENCED_LEADER_EPOCH,
  ErrorCode.UNKNOWN_LEADER_EPOCH,
  ErrorCode.CONTROL_PLANE_UNAVAILABLE,
  ErrorCode.NOT_ENOUGH_REPLICAS,
  ErrorCode.OWNER_UNAVAILABLE,
  ErrorCode.SHUTTING_DOWN,
  ErrorCode.STORAGE_ERROR,
  ErrorCode.TIMEOUT,
  ErrorCode.CONNECTION_CLOSED,
]);

export function isRetryable(code: number): boolean {
  return RETRYABLE.has(code);
}

export function codeName(code: number): string {
  return namesByCode.get(code) ?? `E${code}`;
}

/** The one error class of tickbus. `code` is stable; `name` is literal so it survives bundlers. */
export class TickbusError extends Error {
  override readonly name = 'TickbusError' as const;
  readonly code: number;
  readonly retryable: boolean;
  readonly topic: string | undefined;
  readonly partition: number | undefined;

  constructor(
    code: number,
    message: string,
    options: { cause?: unknown; retryable?: boolean; topic?: string; partition?: number } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? isRetryable(code);
    this.topic = options.topic;
    this.partition = options.partition;
  }

  /** The symbolic name of `code`, e.g. 'UNKNOWN_TOPIC'. */
  get codeName(): string {
    return codeName(this.code);
  }

  /** Plain data for postMessage and logs. */
  toData(): ErrorData {
    const d: ErrorData = { code: this.code, message: this.message };
    if (this.topic !== undefined) d.topic = this.topic;
    if (this.partition !== undefined) d.partition = this.partition;
    return d;
  }

  static fromData(d: ErrorData): TickbusError {
    const opts: { topic?: string; partition?: number } = {};
    if (d.topic !== undefined) opts.topic = d.topic;
    if (d.partition !== undefined) opts.partition = d.partition;
    return new TickbusError(d.code, d.message, opts);
  }
}

export interface ErrorData {
  code: number;
  message: string;
  topic?: string;
  partition?: number;
}

/** Wraps any thrown value as a TickbusError, keeping a TickbusError as it is. */
export function asTickbusError(err: unknown, fallback: number = ErrorCode.INTERNAL): TickbusError {
  if (err instanceof TickbusError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new TickbusError(fallback, message, { cause: err });
}
