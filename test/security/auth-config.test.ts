// resolveAuthConfig: every rejection, one case each, with the error class (TypeError for a wrong kind
// of value, RangeError for a value out of bounds) and a message that names the option. Inputs are typed
// unknown on purpose: configuration arrives from files and JavaScript callers.
import { describe, expect, it } from 'vitest';
import { type AuthConfigInput, DEFAULT_HELLO_TIMEOUT_MS, resolveAuthConfig } from '../../broker/security/auth-config.js';

const SECRET = 'an-hs256-secret-that-is-long-enough-0123456789';
const resolve = (v: unknown): ReturnType<typeof resolveAuthConfig> => resolveAuthConfig(v as AuthConfigInput);
const tokens = { tokensFile: '/etc/tickbus/tokens.json' };
const jwt = (j: Record<string, unknown>): unknown => ({ jwt: { hs256Secret: SECRET, ...j } });

interface Rejection {
  what: string;
  input: unknown;
  error: typeof TypeError | typeof RangeError;
  message: RegExp;
}

const rejections: Rejection[] = [
  { what: 'auth that is not an object', input: 'tokens.json', error: TypeError, message: /^auth must be an object or null$/ },
  { what: 'auth that is null', input: null, error: TypeError, message: /^auth must be an object or null$/ },
  { what: 'an empty tokensFile', input: { tokensFile: '' }, error: TypeError, message: /^auth\.tokensFile must be a non-empty string, got ''$/ },
  { what: 'a tokensFile that is not a string', input: { tokensFile: 42 }, error: TypeError, message: /^auth\.tokensFile must be a non-empty string, got number$/ },
  { what: 'a brokerToken that is not a string', input: { brokerToken: true }, error: TypeError, message: /^auth\.brokerToken must be a non-empty string/ },
  { what: 'a brokerToken shorter than 16 characters', input: { brokerToken: 'short-secret' }, error: RangeError, message: /^auth\.brokerToken must be at least 16 characters/ },
  { what: 'a helloTimeoutMs that is not an integer', input: { ...tokens, helloTimeoutMs: 1.5 }, error: TypeError, message: /^auth\.helloTimeoutMs must be an integer, got 1\.5$/ },
  { what: 'a helloTimeoutMs that is a string', input: { ...tokens, helloTimeoutMs: '5000' }, error: TypeError, message: /^auth\.helloTimeoutMs must be an integer/ },
  { what: 'a helloTimeoutMs below 10', input: { ...tokens, helloTimeoutMs: 9 }, error: RangeError, message: /^auth\.helloTimeoutMs must be between 10 and 600000, got 9$/ },
  { what: 'a helloTimeoutMs above 600000', input: { ...tokens, helloTimeoutMs: 600_001 }, error: RangeError, message: /^auth\.helloTimeoutMs must be between 10 and 600000, got 600001$/ },
  { what: 'an unknown metrics mode', input: { ...tokens, metrics: 'basic' }, error: TypeError, message: /^auth\.metrics must be 'open' or 'token', got "basic"$/ },
  { what: 'no credential source at all', input: {}, error: TypeError, message: /^auth needs at least one credential source: tokensFile, jwt or brokerToken$/ },
  { what: 'jwt.hs256Secret that is not a string', input: { jwt: { hs256Secret: 7 } }, error: TypeError, message: /^auth\.jwt\.hs256Secret must be a non-empty string, got number$/ },
  { what: 'jwt.hs256SecretFile empty', input: { jwt: { hs256SecretFile: '' } }, error: TypeError, message: /^auth\.jwt\.hs256SecretFile must be a non-empty string/ },
  { what: 'jwt.jwksFile that is not a string', input: { jwt: { jwksFile: {} } }, error: TypeError, message: /^auth\.jwt\.jwksFile must be a non-empty string, got object$/ },
  { what: 'jwt.issuer empty', input: jwt({ issuer: '' }), error: TypeError, message: /^auth\.jwt\.issuer must be a non-empty string/ },
  { what: 'jwt.audience that is not a string', input: jwt({ audience: ['a'] }), error: TypeError, message: /^auth\.jwt\.audience must be a non-empty string, got object$/ },
  { what: 'jwt.publicKeyFiles that is not an array', input: { jwt: { publicKeyFiles: '/k.pem' } }, error: TypeError, message: /^auth\.jwt\.publicKeyFiles must be an array of file paths$/ },
  { what: 'jwt.publicKeyFiles with an empty path', input: { jwt: { publicKeyFiles: ['/k.pem', ''] } }, error: TypeError, message: /^auth\.jwt\.publicKeyFiles must be an array of file paths$/ },
  { what: 'jwt.principalClaim empty', input: jwt({ principalClaim: '' }), error: TypeError, message: /^auth\.jwt\.principalClaim must be a non-empty claim name$/ },
  { what: 'jwt.clockToleranceSec not an integer', input: jwt({ clockToleranceSec: 0.5 }), error: TypeError, message: /^auth\.jwt\.clockToleranceSec must be an integer$/ },
  { what: 'jwt.clockToleranceSec negative', input: jwt({ clockToleranceSec: -1 }), error: RangeError, message: /^auth\.jwt\.clockToleranceSec must be between 0 and 300, got -1$/ },
  { what: 'jwt.clockToleranceSec above 300', input: jwt({ clockToleranceSec: 301 }), error: RangeError, message: /^auth\.jwt\.clockToleranceSec must be between 0 and 300, got 301$/ },
  { what: 'both jwt.hs256Secret and jwt.hs256SecretFile', input: jwt({ hs256SecretFile: '/s' }), error: TypeError, message: /^auth\.jwt: give hs256Secret or hs256SecretFile, not both$/ },
  { what: 'a jwt.hs256Secret shorter than 32 characters', input: { jwt: { hs256Secret: 'x'.repeat(31) } }, error: RangeError, message: /^auth\.jwt\.hs256Secret must be at least 32 characters/ },
  { what: 'jwt with no key', input: { jwt: { issuer: 'https://idp.example' } }, error: TypeError, message: /^auth\.jwt needs a key: hs256Secret, hs256SecretFile, publicKeyFiles or jwksFile$/ },
];

describe('resolveAuthConfig', () => {
  it.each(rejections)('rejects $what', ({ input, error, message }) => {
    let thrown: unknown = null;
    try {
      resolve(input);
    } catch (err) {
      thrown = err;
    }
    // The exact class: a RangeError where a TypeError is due (or the reverse) fails, not just "an Error".
    expect(thrown).toBeInstanceOf(error);
    expect((thrown as Error).constructor).toBe(error);
    expect((thrown as Error).message).toMatch(message);
  });

  it('accepts each credential source alone and fills the defaults', () => {
    expect(resolve(tokens)).toEqual({ tokensFile: tokens.tokensFile, jwt: null, brokerToken: null, helloTimeoutMs: DEFAULT_HELLO_TIMEOUT_MS, metrics: 'open' });
    expect(resolve({ brokerToken: 'b'.repeat(16) }).brokerToken).toBe('b'.repeat(16));
    expect(resolve(jwt({}))).toMatchObject({
      jwt: { hs256Secret: SECRET, hs256SecretFile: null, publicKeyFiles: [], jwksFile: null, issuer: null, audience: null, principalClaim: 'sub', clockToleranceSec: 2 },
    });
    // The bounds themselves are allowed.
    expect(resolve({ ...tokens, helloTimeoutMs: 10, metrics: 'token' })).toMatchObject({ helloTimeoutMs: 10, metrics: 'token' });
    expect(resolve({ ...tokens, helloTimeoutMs: 600_000 }).helloTimeoutMs).toBe(600_000);
    expect(resolve(jwt({ clockToleranceSec: 0 })).jwt?.clockToleranceSec).toBe(0);
    expect(resolve(jwt({ clockToleranceSec: 300 })).jwt?.clockToleranceSec).toBe(300);
    expect(resolve({ jwt: { hs256Secret: 'x'.repeat(32) } }).jwt?.hs256Secret).toHaveLength(32);
  });
});
