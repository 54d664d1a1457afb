// Who is calling: turns the token of a Hello into a principal, or a typed refusal.
//   static tokens  a JSON file the operator edits (re-read when it changes); looked up by SHA-256 of the
//                  token, so no comparison runs over the secret itself
//   JWTs           verified by jose (never hand-written crypto), algorithms pinned to HS256/RS256/ES256
//                  (no 'none', no algorithm confusion), exp/nbf enforced with a small clock tolerance
//   broker token   the shared secret of the cluster's brokers: the built-in broker principal
// One Authenticator per thread (the bootstrap and each owner verify their own Hellos).
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createLocalJWKSet, errors as joseErrors, type JWTPayload, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { ErrorCode, TickbusError } from '../../schemas/errors.js';
import { logLine } from '../logger.js';
import { BROKER_PRINCIPAL } from './acl.js';
import type { AuthConfig, JwtConfig } from './auth-config.js';
import { type FileWatch, watchFile } from './watch-file.js';

export interface Authenticated {
  principal: string;
  /** When the credential stops being valid (ms since the epoch), or null for a static token. */
  expiresAtMs: number | null;
}

const JWT_ALGORITHMS = ['HS256', 'RS256', 'ES256'];
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const MAX_PRINCIPAL_LENGTH = 256;

function sha256(s: string): string {
  return crypto.createHash('sha256').update(s).digest('hex');
}

/** Reads a tokens file: { "tokens": [{ "principal": "alice", "token": "..." }] }. Throws TypeError. */
export function readTokensFile(file: string): Map<string, string> {
  const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
  const list = (parsed as { tokens?: unknown } | null)?.tokens;
  if (!Array.isArray(list)) throw new TypeError(`${file}: expected { "tokens": [{ "principal": ..., "token": ... }] }`);
  const out = new Map<string, string>();
  list.forEach((e: unknown, i) => {
    const { principal, token } = (e ?? {}) as { principal?: unknown; token?: unknown };
    if (typeof principal !== 'string' || principal === '' || principal.length > MAX_PRINCIPAL_LENGTH) throw new TypeError(`${file}: tokens[${i}].principal must be a string of 1 to ${MAX_PRINCIPAL_LENGTH} characters`);
    if (principal === BROKER_PRINCIPAL) throw new TypeError(`${file}: tokens[${i}]: '${BROKER_PRINCIPAL}' is reserved for the broker token`);
    if (typeof token !== 'string' || token.length < 16) throw new TypeError(`${file}: tokens[${i}].token must be a string of at least 16 characters`);
    out.set(sha256(token), principal);
  });
  return out;
}

type KeySource = { kind: 'secret'; key: Uint8Array } | { kind: 'keys'; keys: crypto.KeyObject[] } | { kind: 'jwks'; getKey: JWTVerifyGetKey };

function loadJwtKeys(c: JwtConfig): KeySource[] {
  const out: KeySource[] = [];
  if (c.hs256Secret !== null) out.push({ kind: 'secret', key: new TextEncoder().encode(c.hs256Secret) });
  if (c.hs256SecretFile !== null) {
    const secret = fs.readFileSync(c.hs256SecretFile, 'utf8').trim();
    if (secret.length < 32) throw new RangeError(`${c.hs256SecretFile}: an HS256 secret must be at least 32 characters`);
    out.push({ kind: 'secret', key: new TextEncoder().encode(secret) });
  }
  if (c.publicKeyFiles.length > 0) {
    const keys = c.publicKeyFiles.map((f) => {
      const k = crypto.createPublicKey(fs.readFileSync(f, 'utf8'));
      if (k.asymmetricKeyType !== 'rsa' && k.asymmetricKeyType !== 'ec') throw new TypeError(`${f}: an RS256 (RSA) or ES256 (EC P-256) public key is needed, got ${String(k.asymmetricKeyType)}`);
      return k;
    });
    out.push({ kind: 'keys', keys });
  }
  if (c.jwksFile !== null) {
    const jwks = JSON.parse(fs.readFileSync(c.jwksFile, 'utf8')) as Parameters<typeof createLocalJWKSet>[0];
    out.push({ kind: 'jwks', getKey: createLocalJWKSet(jwks) });
  }
  return out;
}

export class Authenticator {
  private tokens = new Map<string, string>();
  private readonly brokerTokenHash: string | null;
  private readonly jwtKeys: KeySource[];
  private readonly watch: FileWatch | null = null;

  /** Reads every key and the tokens file now: a broker with a bad credential file does not start. */
  constructor(private readonly config: AuthConfig) {
    this.brokerTokenHash = config.brokerToken === null ? null : sha256(config.brokerToken);
    this.jwtKeys = config.jwt ? loadJwtKeys(config.jwt) : [];
    const file = config.tokensFile;
    if (file !== null) {
      this.tokens = readTokensFile(file);
      this.watch = watchFile(file, () => {
        try {
          this.tokens = readTokensFile(file);
          logLine('tokens file reloaded', { file, tokens: this.tokens.size });
        } catch (err) {
          // A half-edited file must not lock everyone out: keep the last good set.
          logLine('tokens file unreadable; keeping the previous tokens', { file, error: String(err) });
        }
      });
    }
  }

  get helloTimeoutMs(): number {
    return this.config.helloTimeoutMs;
  }

  /** The principal a token names; rejects with AUTHENTICATION_REQUIRED, AUTHENTICATION_FAILED or TOKEN_EXPIRED. */
  async authenticate(token: string | undefined): Promise<Authenticated> {
    if (token === undefined || token === '') {
      throw new TickbusError(ErrorCode.AUTHENTICATION_REQUIRED, 'this broker requires authentication: send a token in Hello (connect({ token }) or --token)');
    }
    const hash = sha256(token);
    if (this.brokerTokenHash !== null && hash === this.brokerTokenHash) return { principal: BROKER_PRINCIPAL, expiresAtMs: null };
    const principal = this.tokens.get(hash);
    if (principal !== undefined) return { principal, expiresAtMs: null };
    if (this.config.jwt && JWT_SHAPE.test(token)) return this.verifyJwt(token, this.config.jwt);
    throw new TickbusError(ErrorCode.AUTHENTICATION_FAILED, 'the token is not valid for this broker');
  }

  private async verifyJwt(token: string, c: JwtConfig): Promise<Authenticated> {
    const options = {
      algorithms: JWT_ALGORITHMS,
      clockTolerance: c.clockToleranceSec,
      ...(c.issuer !== null ? { issuer: c.issuer } : {}),
      ...(c.audience !== null ? { audience: c.audience } : {}),
    };
    let payload: JWTPayload | null = null;
    let last: unknown = null;
    // Several keys may be configured (a rotation): the first that verifies wins.
    outer: for (const src of this.jwtKeys) {
      const candidates = src.kind === 'secret' ? [src.key] : src.kind === 'keys' ? src.keys : [src.getKey];
      for (const key of candidates) {
        try {
          payload = (typeof key === 'function' ? await jwtVerify(token, key, options) : await jwtVerify(token, key, options)).payload;
          break outer;
        } catch (err) {
          last = err;
          // Only a key that does not fit is worth trying the next one for; an expired or foreign token is refused now.
          if (!(err instanceof joseErrors.JWSSignatureVerificationFailed || err instanceof joseErrors.JWKSNoMatchingKey || err instanceof joseErrors.JOSEAlgNotAllowed || err instanceof TypeError)) break outer;
        }
      }
    }
    if (payload === null) throw refusal(last);
    const claim = payload[c.principalClaim];
    if (typeof claim !== 'string' || claim === '' || claim.length > MAX_PRINCIPAL_LENGTH) {
      throw new TickbusError(ErrorCode.AUTHENTICATION_FAILED, `the token has no usable '${c.principalClaim}' claim to name its principal`);
    }
    if (claim === BROKER_PRINCIPAL) throw new TickbusError(ErrorCode.AUTHENTICATION_FAILED, `'${BROKER_PRINCIPAL}' is reserved for the broker token`);
    return { principal: claim, expiresAtMs: typeof payload.exp === 'number' ? (payload.exp + c.clockToleranceSec) * 1000 : null };
  }

  close(): void {
    this.watch?.close();
  }
}

function refusal(err: unknown): TickbusError {
  if (err instanceof joseErrors.JWTExpired) return new TickbusError(ErrorCode.TOKEN_EXPIRED, 'the token has expired: get a new one and reconnect');
  if (err instanceof joseErrors.JWTClaimValidationFailed) return new TickbusError(ErrorCode.AUTHENTICATION_FAILED, `the token was refused: claim '${err.claim}' ${err.reason === 'check_failed' ? 'does not match this broker' : err.reason}`);
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return new TickbusError(ErrorCode.AUTHENTICATION_FAILED, `the token's algorithm is not accepted (only ${JWT_ALGORITHMS.join(', ')})`);
  if (err instanceof joseErrors.JWSSignatureVerificationFailed || err instanceof joseErrors.JWKSNoMatchingKey) {
    return new TickbusError(ErrorCode.AUTHENTICATION_FAILED, 'the token signature does not verify with any configured key');
  }
  return new TickbusError(ErrorCode.AUTHENTICATION_FAILED, 'the token is not a valid JWT for this broker');
}
