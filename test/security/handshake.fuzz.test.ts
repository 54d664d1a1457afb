// Fuzz of the authenticated handshake against a real broker (time-boxed fast-check): random bytes,
// truncated Hello frames, huge tokens up to the frame limit, garbage before Hello. Every connection
// ends in HelloOk or a typed ErrorReply, and the broker keeps serving (/healthz and a good Hello after).
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame, PROTOCOL_VERSION } from '../../schemas/frames.js';
import { type BrokerProcess, startBroker, tempDir } from '../helpers/broker.js';
import { WireClient } from '../helpers/wire-client.js';
import { authed, makeFixtures, TOKENS } from './auth-fixtures.js';

let broker: BrokerProcess;
const MAX_PAYLOAD = 64 * 1024;

beforeAll(async () => {
  const fx = makeFixtures(tempDir('tickbus-fuzz-'));
  broker = await startBroker({ args: [...fx.args, '--owners', '1', '--max-payload', String(MAX_PAYLOAD), '--hello-timeout-ms', '300'] });
}, 30_000);

afterAll(async () => {
  await broker.stop();
});

const hello = (token: string, clientId = 'fuzz'): Uint8Array => encodeFrame({ type: 'Hello', protocolVersion: PROTOCOL_VERSION, clientId, token });

const input = fc.oneof(
  fc.uint8Array({ maxLength: 256 }).map((b) => [b]),
  fc.tuple(fc.string({ maxLength: 64 }), fc.nat()).map(([t, cut]) => {
    const h = hello(t);
    return [h.subarray(0, cut % (h.length + 1))];
  }),
  fc.integer({ min: 1, max: MAX_PAYLOAD - 200 }).map((n) => [hello('x'.repeat(n))]),
  fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.constantFrom(...Object.values(TOKENS))).map(([junk, t]) => [junk, hello(t)]),
  fc.constantFrom(...Object.values(TOKENS)).map((t) => [hello(t)]),
);

describe('handshake fuzz', () => {
  it('ends every connection in HelloOk or a typed error, and never stops the broker', async () => {
    await fc.assert(
      fc.asyncProperty(input, async (messages) => {
        const c = await WireClient.open(broker.owners[0]!.url, false);
        try {
          for (const m of messages) c.sendRaw(m);
          const f = await c.waitFor((x) => x.type === 'HelloOk' || x.type === 'ErrorReply', 5_000);
          if (f.type === 'ErrorReply') expect(f.code).toBeGreaterThanOrEqual(100);
        } finally {
          c.close();
        }
      }),
      { numRuns: 60, plugins: [fc.interruptAfterTimeLimit(30_000)] },
    );
    expect((await fetch(`http://127.0.0.1:${broker.port}/healthz`)).status).toBe(200);
    (await authed(broker.owners[0]!.url, TOKENS.alice)).close();
  }, 60_000);
});
