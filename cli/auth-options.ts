// The broker's authentication flags (`tickbus broker`), and --token for the client commands. Secrets
// are read from files, never taken on the command line: argv is visible to every user of the host (ps).
import fs from 'node:fs';
import type { AuthConfigInput } from '../broker/security/auth-config.js';
import { intOption, type Options, str, UsageError } from './args.js';

export const BROKER_AUTH_OPTIONS = {
  'tokens-file': { type: 'string' },
  'jwt-secret-file': { type: 'string' },
  'jwt-public-key': { type: 'string', multiple: true },
  'jwks-file': { type: 'string' },
  'jwt-issuer': { type: 'string' },
  'jwt-audience': { type: 'string' },
  'jwt-principal-claim': { type: 'string' },
  'broker-token-file': { type: 'string' },
  'hello-timeout-ms': { type: 'string' },
  'metrics-auth': { type: 'boolean' },
  insecure: { type: 'boolean' },
} as const satisfies Options;

export const BROKER_AUTH_USAGE = `
Authentication and authorisation (docs/security.md; ACLs: tickbus acl --help):
  --tokens-file FILE      static tokens { "tokens": [{ "principal", "token" }] }; re-read on change
  --jwt-secret-file FILE  HS256 secret for JWTs
  --jwt-public-key FILE   RS256/ES256 public key (PEM) for JWTs; repeat for several
  --jwks-file FILE        JSON Web Key Set for JWTs
  --jwt-issuer ISS        required 'iss' of JWTs
  --jwt-audience AUD      required 'aud' of JWTs
  --jwt-principal-claim C claim naming the principal                                      [sub]
  --broker-token-file FILE  secret the brokers of a cluster present to each other (replication)
  --hello-timeout-ms N    close sockets not authenticated within this long               [5000]
  --metrics-auth          /metrics needs 'Authorization: Bearer <token>'                 [open]
  --insecure              allow no authentication on a non-loopback --host (logs a warning)
`;

function readSecret(file: string, what: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new UsageError(`cannot read ${what} ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** The auth config the flags describe; null when no credential source is given (auth off). */
export function brokerAuthFromArgs(values: Record<string, unknown>): AuthConfigInput | null {
  const publicKeys = (values['jwt-public-key'] as string[] | undefined) ?? [];
  const jwtFlags = ['jwt-secret-file', 'jwks-file', 'jwt-issuer', 'jwt-audience', 'jwt-principal-claim'].some((k) => values[k] !== undefined) || publicKeys.length > 0;
  const tokensFile = str(values, 'tokens-file');
  const brokerTokenFile = str(values, 'broker-token-file');
  if (!jwtFlags && !tokensFile && !brokerTokenFile) {
    for (const k of ['hello-timeout-ms', 'metrics-auth']) if (values[k] !== undefined) throw new UsageError(`--${k} needs authentication: --tokens-file or --jwt-*`);
    return null;
  }
  const auth: AuthConfigInput = {};
  if (tokensFile) auth.tokensFile = tokensFile;
  if (brokerTokenFile) auth.brokerToken = readSecret(brokerTokenFile, 'broker token file');
  if (jwtFlags) {
    const jwt: NonNullable<AuthConfigInput['jwt']> = { publicKeyFiles: publicKeys };
    const secretFile = str(values, 'jwt-secret-file');
    if (secretFile) jwt.hs256SecretFile = secretFile;
    const jwks = str(values, 'jwks-file');
    if (jwks) jwt.jwksFile = jwks;
    const iss = str(values, 'jwt-issuer');
    if (iss) jwt.issuer = iss;
    const aud = str(values, 'jwt-audience');
    if (aud) jwt.audience = aud;
    const claim = str(values, 'jwt-principal-claim');
    if (claim) jwt.principalClaim = claim;
    auth.jwt = jwt;
  }
  if (values['hello-timeout-ms'] !== undefined) auth.helloTimeoutMs = intOption(values as Record<string, string | undefined>, 'hello-timeout-ms', 5_000, 10, 600_000);
  if (values['metrics-auth'] === true) auth.metrics = 'token';
  return auth;
}

export const TOKEN_OPTION = { token: { type: 'string' } } as const satisfies Options;

export const TOKEN_USAGE = `--token T is the credential for a broker with authentication (a static token or a JWT); prefer
TICKBUS_TOKEN=T in the environment, which keeps it out of ps and shell history.
`;

/** --token, else TICKBUS_TOKEN from the environment (which keeps it out of ps and shell history). */
export function tokenFromArgs(values: Record<string, unknown>): string | undefined {
  const t = str(values, 'token') ?? process.env.TICKBUS_TOKEN;
  return t === '' ? undefined : t;
}

/** The SDK's `token` option from --token / TICKBUS_TOKEN: none given, none sent (a broker without auth). */
export function tokenOption(values: Record<string, unknown>): { token?: string } {
  const token = tokenFromArgs(values);
  return token === undefined ? {} : { token };
}
