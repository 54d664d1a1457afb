// Every error the bench raises, with a stable `code` and a literal `name` (callers and tests match on code).
// BenchUsageError is bad CLI input: the CLI prints it and exits with 2. The others end one run of one target
// (the report says why) or the whole command (exit 1).

export type BenchErrorCode =
  | 'BENCH_USAGE'
  | 'BENCH_PEER_MISSING'
  | 'BENCH_SERVER_START'
  | 'BENCH_TARGET'
  | 'BENCH_TIMEOUT';

export class BenchError extends Error {
  override readonly name: string = 'BenchError';
  constructor(
    readonly code: BenchErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Bad command-line input; exit code 2. */
export class BenchUsageError extends BenchError {
  override readonly name = 'BenchUsageError';
  constructor(message: string) {
    super('BENCH_USAGE', message);
  }
}

/** A peer server binary (nats-server, redis-server) is not installed. Same code as a missing library. */
export class PeerMissingError extends BenchError {
  override readonly name = 'PeerMissingError';
  constructor(binary: string, searched: string[], hint: string) {
    super('BENCH_PEER_MISSING', `${binary} not found (searched $PATH and ${searched.join(', ')}); ${hint}`);
  }
}

/**
 * A peer's client library (nats, ioredis) is not installed. They are optional peer dependencies of the
 * published package: someone who benches only tickbus should not have to install other systems' clients.
 */
export class PeerLibraryMissingError extends BenchError {
  override readonly name = 'PeerLibraryMissingError';
  constructor(
    readonly target: string,
    readonly pkg: string,
    options?: { cause?: unknown },
  ) {
    super('BENCH_PEER_MISSING', `target '${target}' needs the '${pkg}' package: npm install ${pkg}`, options);
  }
}

/** A server process did not come up (exited, or printed no ready line in time). */
export class ServerStartError extends BenchError {
  override readonly name = 'ServerStartError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('BENCH_SERVER_START', message, options);
  }
}

/** A target client failed (refused connection, error reply, protocol surprise). */
export class TargetError extends BenchError {
  override readonly name = 'TargetError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('BENCH_TARGET', message, options);
  }
}

/** A bounded wait ran out. */
export class BenchTimeoutError extends BenchError {
  override readonly name = 'BenchTimeoutError';
  constructor(message: string) {
    super('BENCH_TIMEOUT', message);
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Rejects with BenchTimeoutError when `p` does not settle within `ms`. */
export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new BenchTimeoutError(`${what} did not finish within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
