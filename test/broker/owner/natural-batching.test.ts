// Natural batching on one node: the first batch of an event-loop turn is published at once, later ones
// of the same turn go out together at the turn's end. Whatever the interleaving of appends, turn ends and
// subscribers joining at the head or leaving, each subscriber sees every record from its start exactly
// once, in order — through frames of one batch and of many.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { PartitionLog } from '../../../broker/log/partition-log.js';
import { type LiveListener, Partition } from '../../../broker/owner/partition.js';
import { decodeFrame } from '../../../schemas/frames.js';
import { batchBaseOffset, batchLength, decodeBatches, encodeBatch } from '../../../schemas/record-batch.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

/** What a subscriber got: record values in arrival order, and how many batches each frame carried. */
interface Listener {
  start: number;
  values: string[];
  frameBatches: number[];
}

function receive(l: Listener, frame: Uint8Array): void {
  const f = decodeFrame(frame.slice());
  if (f.type !== 'Deliver') throw new Error(`sent ${f.type}`);
  let n = 0;
  for (let at = 0; at < f.batches.length; at += batchLength(f.batches, at)) n++;
  // A frame starts where the stream stands: never below what a listener already has.
  expect(batchBaseOffset(f.batches)).toBeGreaterThanOrEqual(l.start + l.values.length);
  l.frameBatches.push(n);
  for (const r of decodeBatches(f.batches)) l.values.push(new TextDecoder().decode(r.value!));
}

/** A live subscriber of the committed stream, as a Subscription in live mode is. */
function liveListener(l: Listener): LiveListener {
  return {
    sendLive(frame, from) {
      const f = decodeFrame(frame.slice());
      if (f.type === 'Deliver') expect(from).toBe(batchBaseOffset(f.batches));
      receive(l, frame);
    },
  };
}

function openPartition(): Partition {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tickbus-batching-'));
  const log = PartitionLog.open(dir, { fsync: 'os' });
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => log.close());
  return new Partition('t', 1, 0, log);
}

const endOfTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

type Op = { kind: 'append'; records: number } | { kind: 'turn' } | { kind: 'join' } | { kind: 'leave'; which: number };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('append' as const), records: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('turn' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('join' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('leave' as const), which: fc.nat() }) },
);

describe('natural batching of live delivery', () => {
  it('delivers every record once, in order, to every subscriber, in frames of one batch and of many', async () => {
    let sawMany = false;
    let sawOne = false;
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 60 }), async (ops) => {
        const p = openPartition();
        const all: string[] = [];
        const everyone: Listener[] = [];
        const live = new Map<Listener, LiveListener>();
        for (const op of ops) {
          if (op.kind === 'append') {
            const vs = Array.from({ length: op.records }, (_, i) => `${all.length + i}`);
            all.push(...vs);
            p.appendAndPublish(encodeBatch(vs.map((value) => ({ value }))), Date.now() * 1000);
          } else if (op.kind === 'turn') await endOfTurn();
          else if (op.kind === 'join') {
            // Joining the live stream at its head, as Subscription.goLive does: the committed end.
            const l: Listener = { start: p.highWatermark, values: [], frameBatches: [] };
            const sink = liveListener(l);
            live.set(l, sink);
            p.committedListeners.add(sink);
            everyone.push(l);
          } else if (everyone.length > 0) {
            const l = everyone[op.which % everyone.length]!;
            const sink = live.get(l);
            if (sink) p.committedListeners.delete(sink);
            live.delete(l);
          }
        }
        await endOfTurn();
        // Everything appended is committed once the turn ends, and nothing is held back.
        expect(p.highWatermark).toBe(all.length);
        for (const l of everyone) {
          const expected = all.slice(l.start, l.start + l.values.length);
          expect(l.values).toEqual(expected);
          if (live.has(l)) expect(l.start + l.values.length).toBe(all.length);
          for (const n of l.frameBatches) {
            if (n > 1) sawMany = true;
            else sawOne = true;
          }
        }
        cleanups.splice(0).reverse().forEach((c) => c());
      }),
      { numRuns: 200 },
    );
    // The property ran over both shapes of frame.
    expect(sawMany).toBe(true);
    expect(sawOne).toBe(true);
  });

  it('sends a turn of many appends as two frames: the first at once, the rest together at the end of the turn', async () => {
    const p = openPartition();
    const l: Listener = { start: 0, values: [], frameBatches: [] };
    p.committedListeners.add(liveListener(l));
    for (let i = 0; i < 10; i++) p.appendAndPublish(encodeBatch([{ value: `${i}` }]), Date.now() * 1000);
    // The first batch went out synchronously (an idle partition adds no delay); the rest wait for the turn.
    expect(l.frameBatches).toEqual([1]);
    expect(p.highWatermark).toBe(1);
    expect(p.logEndOffset).toBe(10);
    await endOfTurn();
    expect(l.frameBatches).toEqual([1, 9]);
    expect(l.values).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(p.highWatermark).toBe(10);
  });

  it('publishes each batch at once when nobody subscribes (nothing to batch for)', () => {
    const p = openPartition();
    for (let i = 0; i < 3; i++) p.appendAndPublish(encodeBatch([{ value: `${i}` }]), Date.now() * 1000);
    expect(p.highWatermark).toBe(3);
  });
});
