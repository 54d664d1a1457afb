// Broker options and a topic's log config share one integer rule and one fsync policy list; each
// rejects with the error its caller expects (TypeError/RangeError for options, INVALID_CONFIG for
// CreateTopic) and the same wording.
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../broker/config.js';
import { validateLogConfig } from '../../broker/log/log-config.js';
import { ErrorCode, TickbusError } from '../../schemas/errors.js';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('did not throw');
}

describe('config validation', () => {
  it('rejects a non-integer broker option with TypeError and an out-of-range one with RangeError', () => {
    const t = thrown(() => resolveConfig({ port: 1.5 }));
    expect(t).toBeInstanceOf(TypeError);
    expect((t as Error).message).toBe('port must be an integer, got 1.5');
    const r = thrown(() => resolveConfig({ owners: 0 }));
    expect(r).toBeInstanceOf(RangeError);
    expect((r as Error).message).toBe('owners must be between 1 and 64, got 0');
  });

  it('rejects the same kinds of topic config values with INVALID_CONFIG naming the field', () => {
    const t = thrown(() => validateLogConfig({ segmentBytes: 1.5 }));
    expect(t).toBeInstanceOf(TickbusError);
    expect((t as TickbusError).code).toBe(ErrorCode.INVALID_CONFIG);
    expect((t as Error).message).toBe('topic config segmentBytes: must be an integer, got 1.5');
    const r = thrown(() => validateLogConfig({ retentionMs: 0 }));
    expect((r as Error).message).toBe(`topic config retentionMs: must be between 1 and ${Number.MAX_SAFE_INTEGER} (or -1 for no limit), got 0`);
    expect(validateLogConfig({ retentionMs: -1 }).retentionMs).toBe(-1);
  });

  it('knows one list of fsync policies', () => {
    expect((thrown(() => resolveConfig({ fsync: 'never' as 'os' })) as Error).message).toBe('fsync must be always, interval or os, got never');
    expect((thrown(() => validateLogConfig({ fsync: 'never' as 'os' })) as Error).message).toBe('topic config fsync: must be always, interval or os, got never');
  });
});
