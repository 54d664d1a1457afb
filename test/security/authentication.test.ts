// Authentication in Hello against a real broker process (tokens file + HS256 + ES256 JWTs): every
// refusal is a typed error followed by a close, on the bootstrap endpoint and on the owners.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../schemas/errors.js';
import { PROTOCOL_VERSION } from '../../schemas/frames.js';
import { type BrokerProcess, startBroker, tempDir } from '../helpers/broker.js';
import { WireClient } from '../helpers/wire-client.js';
import { esJwt, type Fixtures, helloWith, hsJwt, makeFixtures, TOKENS } from './auth-fixtures.js';

let broker: BrokerProcess;
let fx: Fixtures;

beforeAll(async () => {
  fx = makeFixtures(tempDir('tickbus-auth-'));
  broker = await startBroker({ args: [...fx.args, '--hello-timeout-ms', '400', '--owners', '1'] });
}, 30_000);

afterAll(async () => {
  await broker.stop();
});

const endpoints = (): [string, string][] => [
  ['bootstrap', broker.url],
  ['owner', broker.owners[0]!.url],
];

describe('Hello authentication', () => {
  it.each(['bootstrap', 'owner'])('accepts a static token and a JWT on the %s endpoint, naming no error', async (which) => {
    const url = endpoints().find(([n]) => n === which)![1];
    for (const token of [TOKENS.alice, await hsJwt('carol'), await esJwt('dave', fx.privateKey)]) {
      const { c, first } = await helloWith(url, token);
      expect(first.type).toBe('HelloOk');
      c.close();
    }
  });

  const refusals: [string, () => Promise<string | undefined>, number][] = [
    ['no token', () => Promise.resolve(undefined), ErrorCode.AUTHENTICATION_REQUIRED],
    ['an unknown static token', () => Promise.resolve('not-a-token-anyone-issued-000'), ErrorCode.AUTHENTICATION_FAILED],
    ['an expired JWT', () => hsJwt('carol', { expSec: -60 }), ErrorCode.TOKEN_EXPIRED],
    ['a JWT with a wrong signature', () => hsJwt('carol', { secret: 'another-secret-that-is-long-enough-9876543210' }), ErrorCode.AUTHENTICATION_FAILED],
    ['a JWT for another audience', () => hsJwt('carol', { aud: 'someone-else' }), ErrorCode.AUTHENTICATION_FAILED],
  ];
  for (const [what, token, code] of refusals) {
    it.each(['bootstrap', 'owner'])(`refuses ${what} on the %s endpoint with a typed error, then closes`, async (which) => {
      const url = endpoints().find(([n]) => n === which)![1];
      const { c, first } = await helloWith(url, await token());
      expect(first).toMatchObject({ type: 'ErrorReply', code });
      expect(await c.waitClosed()).toBe(1008);
    });
  }

  it('closes a socket that sends nothing within the Hello timeout with AUTHENTICATION_REQUIRED', async () => {
    const c = await WireClient.open(broker.url, false);
    expect(await c.waitClosed(5_000)).toBe(1008);
    expect(c.frames.at(-1)).toMatchObject({ type: 'ErrorReply', code: ErrorCode.AUTHENTICATION_REQUIRED });
  });

  it('refuses a request sent instead of Hello with AUTHENTICATION_REQUIRED', async () => {
    const c = await WireClient.open(broker.owners[0]!.url, false);
    c.send({ type: 'Fetch', requestId: 1, topic: 'x', partition: 0, offset: 0, maxBytes: 0 });
    expect(await c.waitClosed()).toBe(1008);
    expect(c.frames[0]).toMatchObject({ type: 'ErrorReply', code: ErrorCode.AUTHENTICATION_REQUIRED });
  });

  it('serves a request pipelined after Hello once the token is verified, in order', async () => {
    const c = await WireClient.open(broker.url, false);
    c.send({ type: 'Hello', protocolVersion: PROTOCOL_VERSION, clientId: 'pipelined', token: await hsJwt('carol') });
    c.send({ type: 'Ping', nonce: 7 });
    await c.waitFor((f) => f.type === 'Pong');
    expect(c.frames.map((f) => f.type)).toEqual(['HelloOk', 'Pong']);
    c.close();
  });

  it('tells a connection whose JWT expires TOKEN_EXPIRED and closes it', async () => {
    // exp 1 s from now; the broker tolerates 2 s of clock skew, so the close comes about 3 s later.
    const { c, first } = await helloWith(broker.owners[0]!.url, await hsJwt('carol', { expSec: 1 }));
    expect(first.type).toBe('HelloOk');
    expect(await c.waitClosed(10_000)).toBe(1008);
    expect(c.frames.at(-1)).toMatchObject({ type: 'ErrorReply', code: ErrorCode.TOKEN_EXPIRED });
  }, 15_000);

  it('keeps /healthz open', async () => {
    const res = await fetch(`http://127.0.0.1:${broker.port}/healthz`);
    expect(res.status).toBe(200);
  });
});
