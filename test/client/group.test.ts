// Consumer groups against a real broker process: three members share a topic while records keep
// coming; one leaves, one joins. The group consumes every record exactly once (each partition's new
// owner starts from the committed offset of the old one), no partition is ever owned by two members
// at once (checked on a shared ledger from every member's assign/revoke), and a member that comes
// later resumes from the group's committed offsets.
import { afterEach, describe, expect, it } from 'vitest';
import { type Bus, connect, ErrorCode, type Subscription, type TickbusError } from '../../client/index.js';
import { type BrokerProcess, startBroker } from '../helpers/broker.js';
import { CuttableTransport } from '../helpers/cuttable-transport.js';
import { until } from '../helpers/until.js';
import type { Transport } from '../../client/internal.js';

const brokers: BrokerProcess[] = [];
const buses: Bus[] = [];
afterEach(async () => {
  await Promise.allSettled(buses.splice(0).map((b) => b.close()));
  await Promise.allSettled(brokers.splice(0).map((b) => b.stop()));
});

async function client(b: BrokerProcess, clientId: string, transport?: Transport): Promise<Bus> {
  const bus = await connect({ brokers: [b.url], clientId, reconnect: { initialMs: 20, maxMs: 300 }, ...(transport ? { transport } : {}) });
  buses.push(bus);
  return bus;
}

/** Who owns each partition, from the members' own assign()/revoke() calls, with every violation noted. */
class Ledger {
  readonly owner = new Map<number, string>();
  readonly violations: string[] = [];
  readonly events: { at: number; member: string; kind: 'assign' | 'revoke'; partitions: number[] }[] = [];

  /** Observes what the group member does to `sub` (called right after subscribe, before the member starts). */
  watch(name: string, sub: Subscription): void {
    const assign = sub.assign.bind(sub);
    const revoke = sub.revoke.bind(sub);
    sub.assign = (partitions, starts) => {
      for (const p of partitions) {
        const o = this.owner.get(p);
        if (o !== undefined && o !== name) this.violations.push(`${name} was assigned partition ${p} while ${o} owned it`);
        this.owner.set(p, name);
      }
      this.events.push({ at: performance.now(), member: name, kind: 'assign', partitions: [...partitions] });
      assign(partitions, starts);
    };
    sub.revoke = async (partitions) => {
      const positions = await revoke(partitions);
      // Ownership ends when revoke resolves: nothing of those partitions is handed out after it.
      for (const p of partitions) if (this.owner.get(p) === name) this.owner.delete(p);
      this.events.push({ at: performance.now(), member: name, kind: 'revoke', partitions: [...partitions] });
      return positions;
    };
  }

  owned(name: string): number[] {
    return [...this.owner].filter(([, o]) => o === name).map(([p]) => p).sort((a, b) => a - b);
  }
}

describe('consumer groups', () => {
  it('three members, one leaves, one joins: every record consumed exactly once, no partition owned twice at once', async () => {
    const b = await startBroker({ args: ['--owners', '2'] });
    brokers.push(b);
    const TOPIC = 'orders';
    const PARTITIONS = 6;
    const admin = await client(b, 'group-admin');
    await admin.admin.createTopic(TOPIC, { partitions: PARTITIONS });

    const ledger = new Ledger();
    const seen = new Map<string, number>(); // "partition:offset" → times consumed by the group
    const errors: TickbusError[] = [];
    const members = new Map<string, Subscription>();
    const join = async (name: string): Promise<Subscription> => {
      const bus = await client(b, name);
      const sub = bus.subscribe(TOPIC, { group: 'billing', from: 'earliest', autoCommitIntervalMs: 100, sessionTimeoutMs: 5000 });
      ledger.watch(name, sub);
      sub.on('record', (r) => {
        const k = `${r.partition}:${r.offset}`;
        seen.set(k, (seen.get(k) ?? 0) + 1);
        if (ledger.owner.get(r.partition) !== name) ledger.violations.push(`${name} consumed ${k} without owning partition ${r.partition}`);
      });
      sub.on('error', (e) => errors.push(e));
      members.set(name, sub);
      return sub;
    };
    const balanced = (names: string[]): boolean => {
      const sizes = names.map((n) => ledger.owned(n).length);
      return sizes.reduce((a, n) => a + n, 0) === PARTITIONS && Math.max(...sizes) - Math.min(...sizes) <= 1;
    };

    // Records keep coming through every rebalance.
    const producer = await client(b, 'group-producer');
    let produced = 0;
    let producing = true as boolean; // cleared by the test body while the loop runs: not the constant `true`
    const produceLoop = (async () => {
      while (producing) {
        const batch = Array.from({ length: 24 }, (_, i) => ({ value: `r${produced + i}` }));
        await producer.send(TOPIC, batch);
        produced += batch.length;
        await new Promise((r) => setTimeout(r, 2)); // pace it, so rebalances happen mid-stream
      }
    })();

    await Promise.all([join('A'), join('B'), join('C')]);
    await until(() => balanced(['A', 'B', 'C']) && ['A', 'B', 'C'].every((n) => ledger.owned(n).length === 2), 'A, B, C to own 2 partitions each');
    await until(() => produced >= 1000 && seen.size >= 500, 'records flowing to the group');

    // B leaves: its partitions go to A and C, starting where B committed.
    const bParts = ledger.owned('B');
    await members.get('B')!.close();
    await until(() => balanced(['A', 'C']) && ledger.owned('B').length === 0, 'A and C to take over B’s partitions');
    expect(bParts.every((p) => ['A', 'C'].includes(ledger.owner.get(p)!))).toBe(true);
    const afterLeave = produced;
    await until(() => produced >= afterLeave + 500, 'more records after B left');

    // D joins: A and C each give up one partition, after revoking and committing it.
    await join('D');
    await until(() => balanced(['A', 'C', 'D']) && ledger.owned('D').length === 2, 'D to get its share');
    const afterJoin = produced;
    await until(() => produced >= afterJoin + 500, 'more records after D joined');

    producing = false;
    await produceLoop;
    await producer.flush();

    // The topic's heads, from metadata.
    const meta = await admin.admin.describeTopic(TOPIC);
    const heads = new Map(meta.partitions.map((p) => [p.partition, p.highWatermark]));
    const total = [...heads.values()].reduce((a, n) => a + n, 0);
    expect(total).toBe(produced);
    await until(() => seen.size >= total, `the group to consume all ${total} records`, 30_000);

    // Exactly once: every offset of every partition, each consumed by one member, one time.
    const dupes = [...seen].filter(([, n]) => n !== 1);
    expect(dupes).toEqual([]);
    for (const [p, hw] of heads) for (let o = 0; o < hw; o++) expect(seen.has(`${p}:${o}`), `${p}:${o}`).toBe(true);
    expect(ledger.violations).toEqual([]);
    expect(errors).toEqual([]);
    // Each move was a revoke by one member strictly before the assign to the next (ledger timestamps).
    for (const e of ledger.events.filter((x) => x.kind === 'assign')) {
      for (const p of e.partitions) {
        const prevRevoke = ledger.events.filter((x) => x.kind === 'revoke' && x.member !== e.member && x.partitions.includes(p) && x.at <= e.at);
        const prevAssign = ledger.events.filter((x) => x.kind === 'assign' && x.member !== e.member && x.partitions.includes(p) && x.at <= e.at);
        expect(prevRevoke.length, `partition ${p} given to ${e.member} before its previous owner revoked it`).toBeGreaterThanOrEqual(prevAssign.length);
      }
    }

    // Everyone leaves (final commits); the committed offsets are the heads.
    await Promise.all([...members.values()].map((s) => s.close()));
    const res = await admin.bootstrapRequest({ type: 'FetchOffsets', requestId: 0, group: 'billing', topic: TOPIC });
    expect(res.type).toBe('OffsetsResult');
    if (res.type === 'OffsetsResult') expect(new Map(res.offsets.map((o) => [o.partition, o.offset]))).toEqual(heads);

    // A member that comes later resumes from the committed offsets: nothing old is read again.
    const before = seen.size;
    const late = await join('E');
    await until(() => ledger.owned('E').length === PARTITIONS, 'E to own every partition');
    await until(() => [...heads].every(([p, hw]) => late.positions().get(p) === hw), 'E positioned at the committed offsets');
    await producer.send(TOPIC, [{ value: 'late' }]);
    await until(() => seen.size === before + 1, 'E to consume the one new record');
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
  }, 90_000);

  it('a member whose coordinator connection drops stops reading, the other takes over from the commits, and it rejoins', async () => {
    const b = await startBroker();
    brokers.push(b);
    const admin = await client(b, 'admin');
    await admin.admin.createTopic('payments', { partitions: 4 });
    const ledger = new Ledger();
    const seen = new Map<string, number>();
    const transport = new CuttableTransport(b.url);
    const subs: Subscription[] = [];
    for (const [name, t] of [['A', transport], ['B', undefined]] as const) {
      const bus = await client(b, name, t);
      const sub = bus.subscribe('payments', { group: 'fraud', from: 'earliest', autoCommitIntervalMs: 50, sessionTimeoutMs: 5000 });
      ledger.watch(name, sub);
      sub.on('record', (r) => {
        const k = `${r.partition}:${r.offset}`;
        seen.set(k, (seen.get(k) ?? 0) + 1);
      });
      subs.push(sub);
    }
    await until(() => ledger.owned('A').length === 2 && ledger.owned('B').length === 2, 'A and B to own 2 partitions each');
    const send = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i += 10) await admin.send('payments', Array.from({ length: 10 }, (_, j) => ({ value: `p${i + j}` })));
    };
    await send(200);
    await until(() => seen.size === 200, 'the first 200 records');

    expect(transport.cut()).toBeGreaterThan(0);
    // The coordinator drops A at once (connection closed): B gets everything; A stops reading and joins again.
    await until(() => ledger.owned('B').length === 4 || ledger.owned('A').length === 0, 'A to lose its partitions');
    await until(() => ledger.owned('A').length === 2 && ledger.owned('B').length === 2, 'A to rejoin and get its share back');
    await send(200);
    const meta = await admin.admin.describeTopic('payments');
    const total = meta.partitions.reduce((a, p) => a + p.highWatermark, 0);
    expect(total).toBe(400);
    // Nothing is lost; a failure may re-read records since the last commit (at least once), never skip one.
    await until(() => seen.size === total, 'every record after the rejoin');
    await Promise.all(subs.map((s) => s.close()));
    const res = await admin.bootstrapRequest({ type: 'FetchOffsets', requestId: 0, group: 'fraud', topic: 'payments' });
    expect(res.type === 'OffsetsResult' && res.offsets.reduce((a, o) => a + o.offset, 0)).toBe(total);
  }, 60_000);

  it('explicit commit() stores the positions; commit() outside a group and bad group options are typed errors', async () => {
    const b = await startBroker();
    brokers.push(b);
    const bus = await client(b, 'explicit');
    await bus.admin.createTopic('audit', { partitions: 2 });
    await bus.send('audit', [{ value: 'a', key: 'k1' }, { value: 'b', key: 'k2' }, { value: 'c', key: 'k3' }]);

    const sub = bus.subscribe('audit', { group: 'auditors', from: 'earliest', autoCommit: false });
    let got = 0;
    sub.on('record', () => {
      got++;
    });
    await until(() => got === 3, 'three records');
    await sub.commit();
    const res = await bus.bootstrapRequest({ type: 'FetchOffsets', requestId: 0, group: 'auditors', topic: 'audit' });
    expect(res.type === 'OffsetsResult' && res.offsets.reduce((a, o) => a + o.offset, 0)).toBe(3);
    await sub.close();

    const plain = bus.subscribe('audit', { from: 'earliest' });
    await expect(plain.commit()).rejects.toMatchObject({ code: ErrorCode.INVALID_REQUEST });
    await plain.close();

    // Bad options are bad arguments: subscribe() throws at once, naming the option.
    expect(() => bus.subscribe('audit', { group: 'auditors', sessionTimeoutMs: 5 })).toThrow(RangeError);
    expect(() => bus.subscribe('audit', { group: 'auditors', autoCommit: 'yes' as unknown as boolean })).toThrow(/autoCommit must be a boolean/);

    const missing = bus.subscribe('no-such-topic', { group: 'auditors' });
    const unknown = new Promise<TickbusError>((resolve) => missing.on('error', resolve));
    expect((await unknown).code).toBe(ErrorCode.UNKNOWN_TOPIC);
  }, 30_000);
});
