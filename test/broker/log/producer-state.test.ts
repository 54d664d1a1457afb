// The idempotence window is one fact shared by the broker and the SDK: whatever maxInFlight the SDK
// accepts, a retry of any batch that was in flight with the newest one is recognised by the broker's
// ProducerState as a duplicate and answered with its original offset, also after a snapshot round trip.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { APPEND, ProducerState } from '../../../broker/log/producer-state.js';
import { resolveOptions } from '../../../client/options.js';
import { ErrorCode, TickbusError } from '../../../schemas/errors.js';

const U32 = 0x1_0000_0000;

/** The largest maxInFlight the SDK accepts, asked of the SDK itself (not of a shared constant). */
function sdkMaxInFlight(): number {
  const accepts = (n: number): boolean => {
    try {
      resolveOptions({ brokers: ['ws://127.0.0.1:1'], maxInFlight: n });
      return true;
    } catch {
      return false;
    }
  };
  let lo = 1;
  let hi = 1 << 20;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (accepts(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

interface Written {
  seq: number;
  count: number;
  offset: number;
}

/** Appends `counts.length` batches of one producer session the way the log does: check, then record. */
function writeSession(st: ProducerState, pid: number, startSeq: number, counts: number[]): Written[] {
  const out: Written[] = [];
  let seq = startSeq;
  let offset = 0;
  for (const count of counts) {
    expect(st.check(pid, 0, seq, count)).toBe(APPEND);
    st.record(pid, 0, seq, count, offset);
    out.push({ seq, count, offset });
    seq = (seq + count) % U32;
    offset += count;
  }
  return out;
}

function codeOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof TickbusError) return err.code;
    throw err;
  }
  return undefined;
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** A session of at least `maxInFlight` batches (so the window is full), and a retry distance inside maxInFlight. */
const sessionArb = (max: number) =>
  fc.integer({ min: 1, max }).chain((maxInFlight) =>
    fc.record({
      maxInFlight: fc.constant(maxInFlight),
      counts: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: maxInFlight, maxLength: maxInFlight * 2 + 3 }),
      distance: fc.integer({ min: 0, max: maxInFlight - 1 }),
      // Sequences are u32 and wrap: start anywhere, often just below the wrap.
      startSeq: fc.oneof(fc.integer({ min: 0, max: U32 - 1 }), fc.integer({ min: U32 - 50, max: U32 - 1 })),
      pid: fc.integer({ min: 1, max: 2 ** 48 - 1 }),
    }),
  );

describe('idempotence window shared by the broker and the SDK', () => {
  const max = sdkMaxInFlight();

  it('recognises a retry of any batch within maxInFlight of the newest, for any maxInFlight the SDK accepts', () => {
    fc.assert(
      fc.property(sessionArb(max), ({ counts, distance, startSeq, pid }) => {
        const st = new ProducerState();
        const written = writeSession(st, pid, startSeq, counts);
        const b = written[written.length - 1 - distance]!;
        expect(st.check(pid, 0, b.seq, b.count)).toBe(b.offset);
      }),
      { numRuns: 200 },
    );
  });

  it('keeps the whole window through a snapshot and reload', () => {
    fc.assert(
      fc.property(sessionArb(max), ({ counts, distance, startSeq, pid }) => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tickbus-producers-'));
        dirs.push(dir);
        const st = new ProducerState();
        const written = writeSession(st, pid, startSeq, counts);
        st.saveSnapshot(dir, 123);
        const again = new ProducerState();
        expect(again.loadSnapshot(dir)).toBe(123);
        const b = written[written.length - 1 - distance]!;
        expect(again.check(pid, 0, b.seq, b.count)).toBe(b.offset);
      }),
      { numRuns: 50 },
    );
  });

  it('answers a retry older than the window with DUPLICATE_SEQUENCE: written, offset no longer known', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        fc.nat(),
        fc.oneof(fc.integer({ min: 0, max: U32 - 1 }), fc.integer({ min: U32 - 50, max: U32 - 1 })),
        (extra, pick, startSeq) => {
          const st = new ProducerState();
          const written = writeSession(st, 7, startSeq, Array.from({ length: max + extra }, (_, i) => 1 + (i % 3)));
          const old = written[pick % extra]!; // one of the `extra` batches pushed out of the window
          expect(codeOf(() => st.check(7, 0, old.seq, old.count))).toBe(ErrorCode.DUPLICATE_SEQUENCE);
          // A batch inside the window whose record count differs is not the same batch: refused, nothing written.
          const inWindow = written[written.length - 1]!;
          expect(codeOf(() => st.check(7, 0, inWindow.seq, inWindow.count + 1))).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE);
          // A gap ahead is still OUT_OF_ORDER_SEQUENCE.
          const next = (inWindow.seq + inWindow.count) % U32;
          expect(codeOf(() => st.check(7, 0, (next + 1) % U32, 1))).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE);
        },
      ),
      { numRuns: 100 },
    );
  });
});
