// An owner's counters, in shared memory: named slots in one place, their Prometheus names beside them.
// The supervisor allocates one SharedArrayBuffer per owner slot and hands the same buffer to every
// incarnation of that owner, so a counter survives an owner restart and never decreases (Prometheus
// rate() would read a drop as a counter reset). The owner increments Float64Array slots on the live
// path (no hop, no allocation); the main thread reads them at scrape time without asking the owner.
//
// One writer per slot (the owner thread). An aligned 8-byte store is single-copy atomic on the
// platforms we run on (x64, arm64), so a reader sees some value the slot really held, never a torn
// one, and since the writer only adds, never a smaller value than it saw before. Float64 counts
// integers exactly up to 2^53.

export interface SlotSpec {
  /** Prometheus metric name. */
  name: string;
  help: string;
  /** counter: only ever grows, across restarts. gauge: a level; reset when an owner incarnation starts. */
  kind: 'counter' | 'gauge';
}

const SLOTS = {
  produceRequests: { name: 'tickbus_produce_requests_total', help: 'Produce frames handled', kind: 'counter' },
  recordsIn: { name: 'tickbus_records_in_total', help: 'Records appended', kind: 'counter' },
  bytesIn: { name: 'tickbus_bytes_in_total', help: 'Record batch bytes appended', kind: 'counter' },
  duplicateBatches: { name: 'tickbus_duplicate_batches_total', help: 'Idempotent retries recognised and not written again', kind: 'counter' },
  deliverFrames: { name: 'tickbus_live_deliver_frames_total', help: 'Live Deliver frames published (each fans out to every subscriber)', kind: 'counter' },
  catchUpFrames: { name: 'tickbus_catchup_frames_total', help: 'Catch-up Deliver frames sent', kind: 'counter' },
  catchUpBytes: { name: 'tickbus_catchup_bytes_total', help: 'Record batch bytes sent by catch-up reads', kind: 'counter' },
  slowConsumerMoves: { name: 'tickbus_slow_consumer_moves_total', help: 'Live subscribers moved to catch-up reads', kind: 'counter' },
  slowConsumerDisconnects: { name: 'tickbus_slow_consumer_disconnects_total', help: 'Consumers cut off for not reading', kind: 'counter' },
  badFrames: { name: 'tickbus_rejected_connections_total', help: 'Connections closed for a bad frame', kind: 'counter' },
  connections: { name: 'tickbus_owner_connections', help: 'Open connections on owner endpoints', kind: 'gauge' },
  isrShrinks: { name: 'tickbus_isr_shrinks_total', help: 'ISR shrinks proposed by partition leaders on this broker (a follower fell behind)', kind: 'counter' },
  isrExpands: { name: 'tickbus_isr_expands_total', help: 'ISR expansions proposed by partition leaders on this broker (a follower caught up)', kind: 'counter' },
  replicaTruncations: { name: 'tickbus_replica_truncations_total', help: 'Follower logs truncated to where they agree with the leader (KIP-101)', kind: 'counter' },
  replicatedBytes: { name: 'tickbus_replicated_bytes_total', help: 'Record batch bytes appended by followers on this broker', kind: 'counter' },
  logCorruptionTruncations: {
    name: 'tickbus_log_corruption_truncations_total',
    help: 'Partition logs cut at open at a damaged sealed segment (records after it removed; a replica refetches them)',
    kind: 'counter',
  },
} as const satisfies Record<string, SlotSpec>;

export type CounterName = keyof typeof SLOTS;

/** Slot index of each counter: `counters.add(Counter.recordsIn, n)`. */
export const Counter = Object.freeze(Object.fromEntries(Object.keys(SLOTS).map((k, i) => [k, i]))) as Readonly<Record<CounterName, number>>;

/** Every slot in index order, with its name and Prometheus description. */
export const COUNTER_SLOTS: readonly (SlotSpec & { key: CounterName; index: number })[] = (Object.keys(SLOTS) as CounterName[]).map((key, index) => ({
  key,
  index,
  ...SLOTS[key],
}));

/** The shared buffer for one owner slot; the supervisor keeps it for every incarnation. */
export function newCounterBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer(COUNTER_SLOTS.length * Float64Array.BYTES_PER_ELEMENT);
}

/** The owner's side: adds to its slots (the only writer). */
export class OwnerCounters {
  private readonly slots: Float64Array;

  /** Gauges start again from zero: they describe this incarnation (the sockets of the one before are gone); counters carry on. */
  constructor(buffer: SharedArrayBuffer) {
    this.slots = new Float64Array(buffer);
    for (const s of COUNTER_SLOTS) if (s.kind === 'gauge') this.slots[s.index] = 0;
  }

  add(slot: number, n = 1): void {
    this.slots[slot] = (this.slots[slot] ?? 0) + n;
  }
}

/** The main thread's side: the current values of one owner slot's buffer, by name. */
export function readCounters(buffer: SharedArrayBuffer): Record<CounterName, number> {
  const v = new Float64Array(buffer);
  const out = {} as Record<CounterName, number>;
  for (const s of COUNTER_SLOTS) out[s.key] = v[s.index] ?? 0;
  return out;
}
