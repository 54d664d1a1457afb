// Replication between two real owners (each its own uWS app and log, one per broker id), with the roles
// the control plane would send given by hand: a follower copies the leader's bytes, acks=all waits for
// it, a diverged log is truncated to where the new leader's history agrees (KIP-101/279), epochs fence
// stale requests, and the leader proposes ISR changes. No etcd here: test/broker/control covers that.
import { describe, expect, it } from 'vitest';
import type { ReplicaRole } from '../../../broker/owner/messages.js';
import type { Owner } from '../../../broker/owner/owner.js';
import { ErrorCode } from '../../../schemas/errors.js';
import type { Frame } from '../../../schemas/frames.js';
import { decodeBatches, encodeBatch } from '../../../schemas/record-batch.js';
import { until } from '../../helpers/until.js';
import { WireClient } from '../../helpers/wire-client.js';
import { ownerNodeFixture } from './owner-node-fixture.js';

const { ownerNode, onCleanup } = ownerNodeFixture('tickbus-repl');

interface Node {
  id: number;
  owner: Owner;
  url: string;
  proposals: number[][];
  roles(r: Partial<ReplicaRole> & Pick<ReplicaRole, 'role' | 'leaderEpoch'>): void;
  log(): Uint8Array;
}

async function node(id: number, fsync: 'os' | 'always' = 'os'): Promise<Node> {
  const { owner, url, partitionLog } = await ownerNode(id, { fsync, replicaLagTimeMs: 300 });
  const proposals: number[][] = [];
  const n: Node = {
    id,
    owner,
    url,
    proposals,
    roles(r) {
      owner.applyRoles(
        [{ topic: 't', partition: 0, leaderId: -1, leaderEndpoint: '', replicas: [1, 2], isr: [1, 2], minInsync: 1, process: -1, ...r }],
        { proposeIsr: (_t, _p, _e, isr) => proposals.push(isr) },
      );
    },
    log() {
      const log = partitionLog();
      const parts: Uint8Array[] = [];
      for (let off = log.logStartOffset; off < log.nextOffset; ) {
        const b = log.read(off, 1 << 20);
        parts.push(b.slice());
        const recs = decodeBatches(b);
        off = recs[recs.length - 1]!.offset + 1;
      }
      return Buffer.concat(parts);
    },
  };
  return n;
}

async function client(url: string): Promise<WireClient> {
  const c = await WireClient.open(url);
  onCleanup(() => c.close());
  return c;
}

async function produce(c: WireClient, value: string, acks: 'leader' | 'all', leaderEpoch = -1): Promise<Frame> {
  return c.request({ type: 'Produce', requestId: c.id(), topic: 't', partition: 0, acks, batch: encodeBatch([{ value }]), leaderEpoch });
}

const values = (bytes: Uint8Array): string[] => decodeBatches(bytes).map((r) => new TextDecoder().decode(r.value!));

describe('replication between owners', () => {
  it('refuses clients until the control plane gives the replica a role: it is not a one-node partition in between', async () => {
    // Found by the fault harness: a restarted broker, its roles not yet sent, appended and acknowledged a
    // producer's retry on its own (a duplicate answered from its own log, of records the leader never had).
    const a = await node(1, 'always');
    const c = await client(a.url);
    expect(await produce(c, 'v0', 'all')).toMatchObject({ type: 'ErrorReply', code: ErrorCode.NOT_LEADER, retryable: true });
    expect(await produce(c, 'v0', 'leader', 1)).toMatchObject({ type: 'ErrorReply', retryable: true });
    expect(await c.request({ type: 'Fetch', requestId: c.id(), topic: 't', partition: 0, offset: 0, maxBytes: 1024 })).toMatchObject({
      type: 'ErrorReply',
      code: ErrorCode.NOT_LEADER,
    });
    expect(a.log()).toHaveLength(0);
    a.roles({ role: 'leader', leaderEpoch: 1, leaderId: 1, isr: [1], minInsync: 1 });
    expect(await produce(c, 'v0', 'all', 1)).toMatchObject({ type: 'ProduceAck', baseOffset: 0 });
  });

  it('a follower holds the leader bytes, acks=all waits for it, and committed consumers see what both have', async () => {
    const a = await node(1, 'always');
    const b = await node(2, 'always');
    a.roles({ role: 'leader', leaderEpoch: 1, leaderId: 1, minInsync: 2 });
    b.roles({ role: 'follower', leaderEpoch: 1, leaderId: 1, leaderEndpoint: a.url });
    const c = await client(a.url);
    const sub = await client(a.url);
    sub.send({ type: 'Subscribe', requestId: sub.id(), topic: 't', starts: [{ partition: 0, kind: 'earliest' }], creditBytes: 0 });
    for (let i = 0; i < 10; i++) {
      const ack = await produce(c, `v${i}`, 'all', 1);
      expect(ack).toMatchObject({ type: 'ProduceAck', baseOffset: i });
      // Acknowledged with acks=all: the follower has it.
      expect(values(b.log())).toContain(`v${i}`);
    }
    await until(() => sub.delivered('t', 0).length === 10, 'the committed subscriber to get all ten', 5_000);
    expect(sub.delivered('t', 0).map((r) => r.offset)).toEqual([...Array(10).keys()]);
    expect(Buffer.compare(a.log(), b.log())).toBe(0);
  });

  it('a leader with its follower gone holds acks=all, proposes the ISR without it, and refuses acks=all below min.insync', async () => {
    const a = await node(1);
    const b = await node(2);
    a.roles({ role: 'leader', leaderEpoch: 1, leaderId: 1, minInsync: 2 });
    b.roles({ role: 'follower', leaderEpoch: 1, leaderId: 1, leaderEndpoint: a.url });
    const c = await client(a.url);
    expect(await produce(c, 'x', 'all', 1)).toMatchObject({ type: 'ProduceAck' });
    b.roles({ role: 'offline', leaderEpoch: 1 }); // the follower's broker stops fetching
    const waiting = produce(c, 'y', 'all', 1);
    await until(() => a.proposals.some((isr) => isr.length === 1 && isr[0] === 1), 'the leader to propose the ISR without the lagging follower', 5_000);
    // The control plane commits the shrink: with ISR [1] < min.insync 2 the HW stays, so 'y' is still not acked...
    a.roles({ role: 'leader', leaderEpoch: 1, leaderId: 1, isr: [1], minInsync: 2 });
    const err = await produce(c, 'z', 'all', 1);
    expect(err).toMatchObject({ type: 'ErrorReply', code: ErrorCode.NOT_ENOUGH_REPLICAS });
    // ...until the follower is back in sync and the ISR expands again.
    b.roles({ role: 'follower', leaderEpoch: 1, leaderId: 1, leaderEndpoint: a.url });
    await until(() => a.proposals.some((isr) => isr.length === 2), 'the leader to propose the follower back into the ISR', 5_000);
    a.roles({ role: 'leader', leaderEpoch: 1, leaderId: 1, isr: [1, 2], minInsync: 2 });
    expect(await waiting).toMatchObject({ type: 'ProduceAck', baseOffset: 1 });
  });

  it('after a failover the old leader truncates what was never committed and follows the new history', async () => {
    const a = await node(1);
    const b = await node(2);
    a.roles({ role: 'leader', leaderEpoch: 1, leaderId: 1, minInsync: 2 });
    b.roles({ role: 'follower', leaderEpoch: 1, leaderId: 1, leaderEndpoint: a.url });
    const c = await client(a.url);
    for (let i = 0; i < 5; i++) await produce(c, `c${i}`, 'all', 1);
    // The follower stops; the leader appends three batches nobody else has (acks=leader: not committed).
    b.roles({ role: 'offline', leaderEpoch: 1 });
    for (let i = 0; i < 3; i++) expect(await produce(c, `lost${i}`, 'leader', 1)).toMatchObject({ type: 'ProduceAck' });
    // Failover: b leads epoch 2 from its log (5 records); a becomes its follower.
    b.roles({ role: 'leader', leaderEpoch: 2, leaderId: 2, isr: [2], minInsync: 1 });
    a.roles({ role: 'follower', leaderEpoch: 2, leaderId: 2, leaderEndpoint: b.url });
    const cb = await client(b.url);
    // The old epoch is fenced on the new leader, and the old leader refuses writes.
    expect(await produce(cb, 'stale', 'all', 1)).toMatchObject({ type: 'ErrorReply', code: ErrorCode.FENCED_LEADER_EPOCH });
    expect(await produce(cb, 'future', 'all', 3)).toMatchObject({ type: 'ErrorReply', code: ErrorCode.UNKNOWN_LEADER_EPOCH });
    expect(await produce(c, 'to-old', 'leader')).toMatchObject({ type: 'ErrorReply', code: ErrorCode.NOT_LEADER });
    for (let i = 0; i < 2; i++) expect(await produce(cb, `n${i}`, 'all', 2)).toMatchObject({ type: 'ProduceAck', baseOffset: 5 + i });
    await until(() => values(a.log()).join() === 'c0,c1,c2,c3,c4,n0,n1', 'the old leader to truncate and catch up', 5_000);
    expect(Buffer.compare(a.log(), b.log())).toBe(0);
    await until(() => b.proposals.some((isr) => isr.length === 2), 'the new leader to take the old one back into the ISR', 5_000);
  });
});
