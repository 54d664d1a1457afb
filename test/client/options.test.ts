import { describe, expect, it } from 'vitest';
import { DEFAULTS, resolveOptions } from '../../client/options.js';
import { connect } from '../../client/index.js';
import { BATCHES_PER_PRODUCER } from '../../broker/log/producer-state.js';

const base = { brokers: ['ws://127.0.0.1:7420'] };

describe('client options', () => {
  it('fills every default', () => {
    const o = resolveOptions(base);
    expect(o).toMatchObject({
      brokers: ['ws://127.0.0.1:7420'],
      clientId: DEFAULTS.clientId,
      lingerMs: 0,
      maxBatchBytes: 1024 * 1024,
      maxInFlight: 5,
      bufferMemoryBytes: 32 * 1024 * 1024,
      requestTimeoutMs: 10_000,
      reconnect: { initialMs: 50, maxMs: 5000, maxRetries: Infinity },
      checkCrcs: true,
      transport: null,
    });
  });

  it.each([
    [{ brokers: [] }, TypeError, /brokers must be a non-empty array/],
    [{ brokers: 'ws://x' }, TypeError, /brokers must be a non-empty array/],
    [{ brokers: ['http://127.0.0.1:7420'] }, TypeError, /brokers\[0\] must use ws:\/\/ or wss:\/\//],
    [{ brokers: ['not a url'] }, TypeError, /brokers\[0\] is not a URL/],
    [{ brokers: [7420] }, TypeError, /brokers\[0\] must be a ws:\/\/ or wss:\/\/ URL string/],
    [{ ...base, clientId: '' }, TypeError, /clientId must be a string/],
    [{ ...base, lingerMs: -1 }, RangeError, /lingerMs must be between 0 and/],
    [{ ...base, lingerMs: 1.5 }, TypeError, /lingerMs must be an integer/],
    [{ ...base, maxBatchBytes: 10 }, RangeError, /maxBatchBytes must be between 128/],
    [{ ...base, maxInFlight: 0 }, RangeError, /maxInFlight must be between 1/],
    [{ ...base, bufferMemoryBytes: 1000, maxBatchBytes: 2000 }, RangeError, /bufferMemoryBytes \(1000\) must be at least maxBatchBytes/],
    [{ ...base, requestTimeoutMs: 0 }, RangeError, /requestTimeoutMs must be between 1/],
    [{ ...base, reconnect: { initialMs: 100, maxMs: 10 } }, RangeError, /reconnect.maxMs \(10\) must not be below reconnect.initialMs/],
    [{ ...base, reconnect: { maxRetries: -1 } }, RangeError, /reconnect.maxRetries/],
    [{ ...base, checkCrcs: 'yes' }, TypeError, /checkCrcs must be a boolean/],
    [{ ...base, transport: {} }, TypeError, /transport must be an object with an open/],
  ])('refuses %j', (opts, type, msg) => {
    expect(() => resolveOptions(opts as never)).toThrow(type);
    expect(() => resolveOptions(opts as never)).toThrow(msg);
  });

  it('refuses a maxInFlight above the batches the broker remembers per producer, naming the limit and why', async () => {
    const window = BATCHES_PER_PRODUCER;
    expect(resolveOptions({ ...base, maxInFlight: window }).maxInFlight).toBe(window);
    for (const n of [window + 1, 64, 1024]) {
      expect(() => resolveOptions({ ...base, maxInFlight: n })).toThrow(RangeError);
      expect(() => resolveOptions({ ...base, maxInFlight: n })).toThrow(new RegExp(`maxInFlight must be between 1 and ${window}, got ${n}: the broker remembers`));
    }
    await expect(connect({ ...base, maxInFlight: window + 1 })).rejects.toThrow(RangeError);
  });

  it('makes connect() reject bad options before opening any socket', async () => {
    await expect(connect({ brokers: [] })).rejects.toThrow(TypeError);
  });
});
