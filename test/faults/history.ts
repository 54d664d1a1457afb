// The history of a fault run: every send with its outcome, every record every consumer polled, every consumer
// seek, every fault, and each replica's log below the high watermark at the end. One event per JSON line, so a
// soak run appends as it goes (bounded memory) and the checker reads it back the same way.
//
// Times are two clocks on purpose: `t` is monotonic µs since the recorder started (orders events and measures
// failover even if the wall clock steps), `wall` is epoch ms (to line a run up with broker logs).
import * as fs from 'node:fs';
import * as readline from 'node:readline';

export interface Stamp {
  /** Monotonic µs since the recorder started. */
  t: number;
  /** Wall clock, epoch ms. */
  wall: number;
}

/** A producer asked to send `value` (unique in the whole run) to a topic; partition when the producer chose it. */
export interface SendInvoke extends Stamp {
  type: 'send-invoke';
  producer: string;
  /** Unique per producer; the completion carries the same id. */
  op: number;
  topic: string;
  partition?: number;
  value: string;
}
/** Acknowledged: the value is at `offset` of `partition`. */
export interface SendOk extends Stamp {
  type: 'send-ok';
  producer: string;
  op: number;
  topic: string;
  partition: number;
  offset: number;
}
/** Definitely not written (the broker said so before appending, e.g. NOT_ENOUGH_REPLICAS on produce). */
export interface SendFail extends Stamp {
  type: 'send-fail';
  producer: string;
  op: number;
  code: string;
}
/** Outcome unknown (timeout, connection lost after the frame left): it may or may not be in the log. */
export interface SendInfo extends Stamp {
  type: 'send-info';
  producer: string;
  op: number;
  reason: string;
}
/** Records one consumer received from one partition in one delivery, in delivery order: [offset, value]. */
export interface Poll extends Stamp {
  type: 'poll';
  consumer: string;
  topic: string;
  partition: number;
  records: [offset: number, value: string][];
}
/**
 * The consumer will next read `offset` of this partition: it (re)started, seeked, or was told its uncommitted
 * reads were truncated (isolation 'leader'). Without one, a jump in what one consumer read is a skip.
 */
export interface ConsumerSeek extends Stamp {
  type: 'consumer-seek';
  consumer: string;
  topic: string;
  partition: number;
  offset: number;
  reason: string;
}
/** A fault of the nemesis began or ended; `id` pairs the two. */
export interface FaultEvent extends Stamp {
  type: 'fault';
  phase: 'start' | 'end';
  id: number;
  kind: string;
  target: string;
  note?: string;
}
/**
 * Part of one replica's log after the run: hashes of the records at `start`, `start + 1`, ... (a replica may
 * write several chunks). `highWatermark` is the partition's HW the harness compares below.
 */
export interface ReplicaLog extends Stamp {
  type: 'replica-log';
  topic: string;
  partition: number;
  replica: string;
  highWatermark: number;
  start: number;
  hashes: string[];
  /**
   * false: the replica was not in the partition's ISR at the end (its broker was down, or it was still
   * catching up). It may lack records below the HW — that is lag, not divergence — but a record it does
   * hold must match the others. Absent: in sync.
   */
  inSync?: boolean;
}

export type HistoryEvent = SendInvoke | SendOk | SendFail | SendInfo | Poll | ConsumerSeek | FaultEvent | ReplicaLog;
export type EventType = HistoryEvent['type'];

/** What an event is before the recorder stamps it. */
export type Unstamped<E extends HistoryEvent = HistoryEvent> = E extends HistoryEvent ? Omit<E, 't' | 'wall'> : never;

export interface Clock {
  monoUs(): number;
  wallMs(): number;
}

export const systemClock: Clock = {
  monoUs: () => Number(process.hrtime.bigint() / 1000n),
  wallMs: () => Date.now(),
};

/** Where stamped events go: an array in tests, a JSON-lines file in a soak. */
export interface HistorySink {
  write(event: HistoryEvent): void;
  close(): void;
}

/** Stamps events with both clocks and hands them to a sink. */
export class HistoryRecorder {
  private readonly origin: number;

  constructor(
    private readonly sink: HistorySink,
    private readonly clock: Clock = systemClock,
  ) {
    this.origin = clock.monoUs();
  }

  record<E extends HistoryEvent>(event: Unstamped<E>): E {
    const stamped = { ...event, t: this.clock.monoUs() - this.origin, wall: this.clock.wallMs() } as unknown as E;
    this.sink.write(stamped);
    return stamped;
  }

  close(): void {
    this.sink.close();
  }
}

export class ArraySink implements HistorySink {
  readonly events: HistoryEvent[] = [];
  write(event: HistoryEvent): void {
    this.events.push(event);
  }
  close(): void {
    // nothing held
  }
}

/**
 * Appends JSON lines to a file through a fixed buffer flushed with writeSync: memory stays bounded however long
 * the soak runs, and a crash of the harness loses at most one buffer.
 */
export class JsonLinesSink implements HistorySink {
  private readonly fd: number;
  private readonly buf: Buffer;
  private used = 0;
  private closed = false;

  constructor(path: string, bufferBytes = 64 * 1024) {
    if (!Number.isInteger(bufferBytes) || bufferBytes < 1024) throw new RangeError(`bufferBytes must be an integer >= 1024, got ${bufferBytes}`);
    this.fd = fs.openSync(path, 'w');
    this.buf = Buffer.allocUnsafe(bufferBytes);
  }

  write(event: HistoryEvent): void {
    if (this.closed) throw new Error('history sink is closed');
    const line = JSON.stringify(event) + '\n';
    const n = Buffer.byteLength(line);
    if (this.used + n > this.buf.length) this.flush();
    if (n > this.buf.length) {
      fs.writeSync(this.fd, line);
      return;
    }
    this.used += this.buf.write(line, this.used);
  }

  flush(): void {
    let off = 0;
    while (off < this.used) off += fs.writeSync(this.fd, this.buf, off, this.used - off);
    this.used = 0;
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    fs.closeSync(this.fd);
    this.closed = true;
  }
}

export function toJsonLines(events: Iterable<HistoryEvent>): string {
  let s = '';
  for (const e of events) s += JSON.stringify(e) + '\n';
  return s;
}

/** Parses one line; a malformed one throws TypeError naming the line, so a truncated file is not checked as clean. */
export function parseEvent(line: string, lineNo = 0): HistoryEvent {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (err) {
    throw new TypeError(`history line ${lineNo}: not JSON (${(err as Error).message})`);
  }
  const why = invalid(v);
  if (why !== null) throw new TypeError(`history line ${lineNo}: ${why}`);
  return v as HistoryEvent;
}

export function* parseJsonLines(text: string): Generator<HistoryEvent> {
  let lineNo = 0;
  for (const line of text.split('\n')) {
    lineNo++;
    if (line.trim() === '') continue;
    yield parseEvent(line, lineNo);
  }
}

/** Streams a history file line by line. */
export async function* readHistoryFile(path: string): AsyncGenerator<HistoryEvent> {
  const rl = readline.createInterface({ input: fs.createReadStream(path), crlfDelay: Infinity });
  let lineNo = 0;
  try {
    for await (const line of rl) {
      lineNo++;
      if (line.trim() === '') continue;
      yield parseEvent(line, lineNo);
    }
  } finally {
    rl.close();
  }
}

// Field checks per type: required fields and their JS types. Enough to catch a truncated or hand-edited file.
const STR = 'string';
const NUM = 'number';
const FIELDS: Record<EventType, Record<string, string>> = {
  'send-invoke': { producer: STR, op: NUM, topic: STR, value: STR },
  'send-ok': { producer: STR, op: NUM, topic: STR, partition: NUM, offset: NUM },
  'send-fail': { producer: STR, op: NUM, code: STR },
  'send-info': { producer: STR, op: NUM, reason: STR },
  poll: { consumer: STR, topic: STR, partition: NUM },
  'consumer-seek': { consumer: STR, topic: STR, partition: NUM, offset: NUM, reason: STR },
  fault: { phase: STR, id: NUM, kind: STR, target: STR },
  'replica-log': { topic: STR, partition: NUM, replica: STR, highWatermark: NUM, start: NUM },
};

function invalid(v: unknown): string | null {
  if (typeof v !== 'object' || v === null) return 'not an object';
  const o = v as Record<string, unknown>;
  const type = o.type;
  if (typeof type !== 'string' || !(type in FIELDS)) return `unknown type ${JSON.stringify(type)}`;
  if (typeof o.t !== 'number' || typeof o.wall !== 'number') return `${type} without numeric t and wall`;
  for (const [k, want] of Object.entries(FIELDS[type as EventType])) {
    if (typeof o[k] !== want) return `${type}.${k} must be a ${want}, got ${JSON.stringify(o[k])}`;
  }
  if (type === 'poll') {
    const rs = o.records;
    if (!Array.isArray(rs)) return 'poll.records must be an array';
    for (const r of rs as unknown[]) {
      if (!Array.isArray(r) || typeof r[0] !== 'number' || typeof r[1] !== 'string') return `poll.records has a bad entry ${JSON.stringify(r)}`;
    }
  }
  if (type === 'replica-log' && !(Array.isArray(o.hashes) && (o.hashes as unknown[]).every((h) => typeof h === 'string'))) {
    return 'replica-log.hashes must be an array of strings';
  }
  if (type === 'fault' && o.phase !== 'start' && o.phase !== 'end') return `fault.phase must be start or end, got ${JSON.stringify(o.phase)}`;
  return null;
}
