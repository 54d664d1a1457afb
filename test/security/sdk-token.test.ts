// The SDK's token option against a real broker with auth: a good token (string or refreshing function)
// produces through bootstrap and owner connections; a bad one fails connect() with a typed error.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../client/index.js';
import { ErrorCode } from '../../schemas/errors.js';
import { type BrokerProcess, startBroker, tempDir } from '../helpers/broker.js';
import { allow, hsJwt, makeFixtures, TOKENS, writeAcls } from './auth-fixtures.js';

let broker: BrokerProcess;

beforeAll(async () => {
  const fx = makeFixtures(tempDir('tickbus-sdk-auth-'));
  const dataDir = tempDir('tickbus-sdk-auth-data-');
  writeAcls(dataDir, [allow('alice', 'admin-create', 'sdk'), allow('alice', 'produce', 'sdk'), allow('carol', 'produce', 'sdk')]);
  broker = await startBroker({ dataDir, args: [...fx.args, '--owners', '1'] });
}, 30_000);

afterAll(async () => {
  await broker.stop();
});

describe('SDK token', () => {
  it('sends a string token in Hello on bootstrap and owner connections', async () => {
    const bus = await connect({ brokers: [broker.url], token: TOKENS.alice });
    try {
      await bus.admin.createTopic('sdk', { partitions: 1 });
      const [ack] = await bus.send('sdk', [{ value: new Uint8Array([1]) }]);
      expect(ack?.offset).toBe(0);
    } finally {
      await bus.close();
    }
  });

  it('asks a token function before every connection', async () => {
    let calls = 0;
    const bus = await connect({ brokers: [broker.url], token: async () => (calls++, hsJwt('carol')) });
    try {
      await bus.send('sdk', [{ value: new Uint8Array([2]) }]);
      expect(calls).toBeGreaterThanOrEqual(2); // bootstrap and the owner
    } finally {
      await bus.close();
    }
  });

  it('fails connect() with AUTHENTICATION_FAILED (not retryable) for a bad token', async () => {
    const err = await connect({ brokers: [broker.url], token: 'not-a-token-anyone-issued-000', connectTimeoutMs: 2_000 }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: ErrorCode.AUTHENTICATION_FAILED, retryable: false });
  }, 20_000);

  it('rejects a token option that is not a string or a function', async () => {
    await expect(connect({ brokers: [broker.url], token: 42 as unknown as string })).rejects.toThrow(TypeError);
  });
});
