// Authentication settings of a broker, their defaults and their checks (TypeError/RangeError naming the
// option). Plain data: the config crosses into every owner thread through workerData.

export interface JwtConfig {
  /** HS256 shared secret, inline (tests) or from a file (production: keep it out of argv). */
  hs256Secret: string | null;
  hs256SecretFile: string | null;
  /** PEM public keys (SPKI) for RS256 or ES256; the algorithm follows the key type. */
  publicKeyFiles: string[];
  /** A JSON Web Key Set file ({ "keys": [...] }). */
  jwksFile: string | null;
  /** When set, the token's `iss` must equal it. */
  issuer: string | null;
  /** When set, the token's `aud` must contain it. */
  audience: string | null;
  /** The claim that names the principal. */
  principalClaim: string;
  /** Seconds of clock skew tolerated on exp/nbf (small: a token is expired when it says so). */
  clockToleranceSec: number;
}

export interface AuthConfig {
  /** JSON file { "tokens": [{ "principal": "alice", "token": "..." }] }; re-read when it changes. */
  tokensFile: string | null;
  jwt: JwtConfig | null;
  /**
   * The secret this broker presents to other brokers (its replica fetchers send it in Hello) and
   * accepts from them as the built-in broker principal, whose only right is `replicate`. Every broker
   * of a cluster is given the same one.
   */
  brokerToken: string | null;
  /** A connection whose Hello has not authenticated within this long is closed (AUTHENTICATION_REQUIRED). */
  helloTimeoutMs: number;
  /** /metrics open to anyone who reaches the port, or only with `Authorization: Bearer <token>`. */
  metrics: 'open' | 'token';
}

export type AuthConfigInput = Partial<Omit<AuthConfig, 'jwt'>> & { jwt?: Partial<JwtConfig> | null };

export const DEFAULT_HELLO_TIMEOUT_MS = 5_000;

export function resolveAuthConfig(input: AuthConfigInput): AuthConfig {
  // Checked as unknown: configuration comes from files and JavaScript callers, whatever the types promise.
  const raw: unknown = input;
  if (typeof raw !== 'object' || raw === null) throw new TypeError('auth must be an object or null');
  const a: AuthConfig = {
    tokensFile: optString('auth.tokensFile', input.tokensFile),
    jwt: input.jwt ? resolveJwt(input.jwt) : null,
    brokerToken: optString('auth.brokerToken', input.brokerToken),
    helloTimeoutMs: input.helloTimeoutMs ?? DEFAULT_HELLO_TIMEOUT_MS,
    metrics: input.metrics ?? 'open',
  };
  if (!Number.isInteger(a.helloTimeoutMs)) throw new TypeError(`auth.helloTimeoutMs must be an integer, got ${String(a.helloTimeoutMs)}`);
  if (a.helloTimeoutMs < 10 || a.helloTimeoutMs > 600_000) throw new RangeError(`auth.helloTimeoutMs must be between 10 and 600000, got ${a.helloTimeoutMs}`);
  const metrics: unknown = a.metrics;
  if (metrics !== 'open' && metrics !== 'token') throw new TypeError(`auth.metrics must be 'open' or 'token', got ${JSON.stringify(metrics)}`);
  if (a.brokerToken !== null && a.brokerToken.length < 16) throw new RangeError('auth.brokerToken must be at least 16 characters (it is a shared secret)');
  if (!a.tokensFile && !a.jwt && !a.brokerToken) throw new TypeError('auth needs at least one credential source: tokensFile, jwt or brokerToken');
  return a;
}

function resolveJwt(j: Partial<JwtConfig>): JwtConfig {
  const c: JwtConfig = {
    hs256Secret: optString('auth.jwt.hs256Secret', j.hs256Secret),
    hs256SecretFile: optString('auth.jwt.hs256SecretFile', j.hs256SecretFile),
    publicKeyFiles: j.publicKeyFiles ?? [],
    jwksFile: optString('auth.jwt.jwksFile', j.jwksFile),
    issuer: optString('auth.jwt.issuer', j.issuer),
    audience: optString('auth.jwt.audience', j.audience),
    principalClaim: j.principalClaim ?? 'sub',
    clockToleranceSec: j.clockToleranceSec ?? 2,
  };
  if (!Array.isArray(c.publicKeyFiles) || c.publicKeyFiles.some((f) => typeof f !== 'string' || f === '')) throw new TypeError('auth.jwt.publicKeyFiles must be an array of file paths');
  if (typeof c.principalClaim !== 'string' || c.principalClaim === '') throw new TypeError('auth.jwt.principalClaim must be a non-empty claim name');
  if (!Number.isInteger(c.clockToleranceSec)) throw new TypeError('auth.jwt.clockToleranceSec must be an integer');
  if (c.clockToleranceSec < 0 || c.clockToleranceSec > 300) throw new RangeError(`auth.jwt.clockToleranceSec must be between 0 and 300, got ${c.clockToleranceSec}`);
  if (c.hs256Secret !== null && c.hs256SecretFile !== null) throw new TypeError('auth.jwt: give hs256Secret or hs256SecretFile, not both');
  if (c.hs256Secret !== null && c.hs256Secret.length < 32) throw new RangeError('auth.jwt.hs256Secret must be at least 32 characters (RFC 7518 §3.2: a key as long as the hash)');
  if (c.hs256Secret === null && c.hs256SecretFile === null && c.publicKeyFiles.length === 0 && c.jwksFile === null) {
    throw new TypeError('auth.jwt needs a key: hs256Secret, hs256SecretFile, publicKeyFiles or jwksFile');
  }
  return c;
}

function optString(name: string, v: unknown): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string' || v === '') throw new TypeError(`${name} must be a non-empty string, got ${typeof v === 'string' ? "''" : typeof v}`);
  return v;
}

/** True for addresses only this machine can reach: 127.0.0.0/8, ::1, localhost. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::ffff:127.0.0.1';
}
