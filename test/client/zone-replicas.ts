// Followers for the fake broker (test/client/fake-broker.ts), for zone-aware read tests: a Transport in
// front of the fake that (1) adds replicas to every metadata answer — broker 1 is the leader (the
// fake's own owner endpoint), brokers 2.. are followers at ws://fake-replica-N:0, in the zones given —
// and (2) serves those followers itself: Subscribe with fromReplica from the fake partition's log,
// catch-up then live (a follower's sub joins the fake partition's subscribers, so appends reach it).
// Switches: a replica can be stopped (sockets dropped, connections refused), made stale (its
// subscriptions end with NOT_LEADER "stale replica" and new ones are refused), or left out of the ISR.
import type { Socket, SocketHandlers, Transport } from '../../client/internal.js';
import { ErrorCode, TickbusError } from '../../schemas/errors.js';
import { decodeFrame, encodeFrame, errorFrame, type Frame, PROTOCOL_VERSION } from '../../schemas/frames.js';
import { batchRecordCount } from '../../schemas/record-batch.js';
import { FakeConn, type FakeBroker } from './fake-broker.js';

export const replicaUrl = (id: number): string => `ws://fake-replica-${id}:0`;

export class ZoneReplicas implements Transport {
  readonly down = new Set<number>();
  readonly stale = new Set<number>();
  readonly outOfIsr = new Set<number>();
  /** Subscribe frames each replica received (broker id → frames). */
  readonly subscribes = new Map<number, Extract<Frame, { type: 'Subscribe' }>[]>();
  private readonly conns = new Map<number, Set<FakeConn>>();

  constructor(
    readonly fake: FakeBroker,
    /** Zone of broker 1 (the leader), 2, 3... */
    readonly zones: string[],
  ) {}

  stop(id: number): void {
    this.down.add(id);
    for (const c of this.conns.get(id) ?? []) c.drop();
    this.conns.delete(id);
  }

  /** The replica falls behind: its subscriptions end with the broker's retryable stale-replica error. */
  makeStale(id: number): void {
    this.stale.add(id);
    for (const c of this.conns.get(id) ?? []) {
      for (const p of this.fake.allPartitions()) {
        for (const s of [...p.subs]) {
          if (s.conn !== c) continue;
          p.subs.delete(s);
          c.send(errorFrame(staleError(p.topic, p.partition), 0));
        }
      }
    }
  }

  async open(url: string, handlers: SocketHandlers, timeoutMs: number): Promise<Socket> {
    const m = /^ws:\/\/fake-replica-(\d+):0$/.exec(url);
    if (!m) return this.fake.open(url, { ...handlers, onMessage: (bytes) => handlers.onMessage(this.withReplicas(bytes)) }, timeoutMs);
    const id = Number(m[1]);
    await Promise.resolve();
    if (this.down.has(id)) throw new TickbusError(ErrorCode.CONNECTION_CLOSED, `cannot connect to ${url}: ECONNREFUSED`);
    const conn = new FakeConn(this.fake, url, handlers);
    let set = this.conns.get(id);
    if (!set) this.conns.set(id, (set = new Set()));
    set.add(conn);
    return {
      send: (bytes) => {
        if (!conn.open) return;
        const copy = bytes.slice();
        queueMicrotask(() => this.onReplicaMessage(id, conn, decodeFrame(copy)));
      },
      close: () => conn.drop(1000, 'client closed'),
      get bufferedAmount() {
        return 0;
      },
    };
  }

  private withReplicas(bytes: Uint8Array): Uint8Array {
    const f = decodeFrame(bytes);
    if (f.type !== 'MetadataResult') return bytes;
    const ids = this.zones.map((_, i) => i + 1);
    for (const t of f.topics) {
      for (const p of t.partitions) {
        p.replicas = ids;
        p.isr = ids.filter((id) => !this.outOfIsr.has(id));
        p.replicaZones = [...this.zones];
        p.replicaEndpoints = ids.map((id) => (id === 1 ? p.endpoint : this.down.has(id) ? '' : replicaUrl(id)));
        p.leaderId = p.endpoint === '' ? -1 : 1;
      }
    }
    return encodeFrame(f);
  }

  private onReplicaMessage(id: number, conn: FakeConn, f: Frame): void {
    if (!conn.open) return;
    this.fake.log.push({ url: conn.url, frame: f, conn });
    switch (f.type) {
      case 'Hello':
        conn.hello = true;
        conn.send({ type: 'HelloOk', protocolVersion: PROTOCOL_VERSION, brokerId: `replica-${id}`, ownerId: 0 });
        return;
      case 'Ping':
        conn.send({ type: 'Pong', nonce: f.nonce });
        return;
      case 'Subscribe':
        return this.onSubscribe(id, conn, f);
      case 'Unsubscribe':
        for (const n of f.partitions) {
          const part = this.fake.partition(f.topic, n);
          for (const s of [...part.subs]) if (s.conn === conn) part.subs.delete(s);
        }
        return;
      case 'Credit':
        for (const s of this.fake.partition(f.topic, f.partition).subs) if (s.conn === conn) s.credit += f.bytes;
        return;
      default:
        conn.send(errorFrame(new TickbusError(ErrorCode.INVALID_REQUEST, `a replica does not serve ${f.type}`), 'requestId' in f ? f.requestId : 0));
    }
  }

  private onSubscribe(id: number, conn: FakeConn, f: Extract<Frame, { type: 'Subscribe' }>): void {
    let list = this.subscribes.get(id);
    if (!list) this.subscribes.set(id, (list = []));
    list.push(f);
    for (const st of f.starts) {
      if (!f.fromReplica) {
        conn.send(errorFrame(new TickbusError(ErrorCode.NOT_LEADER, 'a follower serves only fromReplica reads', { topic: f.topic, partition: st.partition }), f.requestId));
        continue;
      }
      if (this.stale.has(id)) {
        conn.send(errorFrame(staleError(f.topic, st.partition), f.requestId));
        continue;
      }
      const p = this.fake.partition(f.topic, st.partition);
      const start = st.kind === 'earliest' ? p.logStartOffset : st.kind === 'offset' ? st.value : p.nextOffset;
      const sub = { conn, part: p, next: start, credit: f.creditBytes || Infinity, creditBytes: f.creditBytes };
      p.subs.add(sub);
      conn.send({ type: 'SubscribeOk', requestId: f.requestId, topic: f.topic, partition: p.partition, startOffset: start, highWatermark: p.nextOffset, logStartOffset: p.logStartOffset });
      const from = p.baseOffsets.findIndex((b, i) => b + batchRecordCount(p.batches[i]!) > start);
      if (from >= 0) {
        for (let i = from; i < p.batches.length; i++) this.fake.deliver(sub, [p.batches[i]!], false);
        sub.next = p.nextOffset;
      }
    }
  }
}

function staleError(topic: string, partition: number): TickbusError {
  return new TickbusError(ErrorCode.NOT_LEADER, `stale replica: this follower of ${topic}/${partition} is not caught up with the leader`, { topic, partition });
}
