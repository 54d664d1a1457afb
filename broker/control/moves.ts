// Operator requests for moving partitions (manual reassignment plans, drains) and what the cluster's
// records say about moves in progress. Requests are keys the controller carries out (records.ts); the
// CLI writes them straight to etcd, so they work whichever brokers are up.
import { ErrorCode, TickbusError } from '../../schemas/errors.js';
import type { ClusterView } from './cluster-view.js';
import type { EtcdClient } from './etcd.js';
import { type DrainRecord, isMoving, type Keys, originalReplicas, type ReassignRequest, targetReplicas } from './records.js';

/**
 * A plan as `tickbus cluster reassign --plan` takes it: `{ "partitions": [{ "topic", "partition",
 * "replicas": [ids] }] }` (Kafka's reassignment JSON), or just the array.
 */
export function parsePlan(json: unknown): ReassignRequest[] {
  const list: unknown = Array.isArray(json) ? json : (json as { partitions?: unknown } | null)?.partitions;
  if (!Array.isArray(list) || list.length === 0) throw new TypeError('a reassignment plan is { "partitions": [{ "topic": "t", "partition": 0, "replicas": [1, 2] }, ...] }');
  return list.map((e: unknown, i) => {
    const o = e as Partial<ReassignRequest> | null;
    if (typeof o?.topic !== 'string' || o.topic === '') throw new TypeError(`plan entry ${i}: topic must be a non-empty string`);
    if (!Number.isInteger(o.partition) || o.partition! < 0) throw new TypeError(`plan entry ${i}: partition must be a non-negative integer`);
    if (!Array.isArray(o.replicas) || o.replicas.length === 0 || !o.replicas.every((r) => Number.isInteger(r) && r >= 0)) {
      throw new TypeError(`plan entry ${i}: replicas must be a non-empty list of broker ids`);
    }
    if (new Set(o.replicas).size !== o.replicas.length) throw new TypeError(`plan entry ${i}: replicas has duplicates: [${o.replicas.join(', ')}]`);
    return { topic: o.topic, partition: o.partition!, replicas: [...o.replicas] };
  });
}

/** Checks a plan against the records (partitions exist, brokers registered) before writing it. */
export function checkPlan(view: ClusterView, plan: ReassignRequest[]): void {
  for (const r of plan) {
    const t = view.topics.get(r.topic)?.value;
    if (!t) throw new TickbusError(ErrorCode.UNKNOWN_TOPIC, `topic '${r.topic}' does not exist`, { topic: r.topic });
    if (r.partition >= t.partitions) {
      throw new TickbusError(ErrorCode.UNKNOWN_PARTITION, `topic '${r.topic}' has ${t.partitions} partitions; partition ${r.partition} does not exist`, { topic: r.topic, partition: r.partition });
    }
    const gone = r.replicas.find((id) => !view.brokers.has(id));
    if (gone !== undefined) throw new TickbusError(ErrorCode.INVALID_CONFIG, `broker ${gone} is not registered (alive); a plan may name only live brokers`);
  }
}

/**
 * Puts and deletes in one transaction, compared against the revisions just read (so a request the
 * controller is carrying out right now is not overwritten unseen); tried again if one changed meanwhile.
 */
async function write(etcd: EtcdClient, puts: { key: string; value: string }[], deletes: string[] = []): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const keys = [...puts.map((p) => p.key), ...deletes];
    const guards = await Promise.all(keys.map(async (key) => ({ key, modRevision: (await etcd.get(key))?.modRevision ?? 0 })));
    if ((await etcd.txn(guards, puts, deletes)).ok) return;
  }
  throw new TickbusError(ErrorCode.CONTROL_PLANE_UNAVAILABLE, 'the request keys kept changing under five attempts; try again');
}

/** Writes the plan's requests in one transaction (a newer request for a partition replaces an older one). */
export async function requestReassign(etcd: EtcdClient, keys: Keys, plan: ReassignRequest[]): Promise<void> {
  await write(etcd, plan.map((r) => ({ key: keys.reassignRequest(r.topic, r.partition), value: JSON.stringify(r) })));
}

export async function requestDrain(etcd: EtcdClient, keys: Keys, id: number): Promise<void> {
  const rec: DrainRecord = { id, since: Date.now() };
  await write(etcd, [{ key: keys.drain(id), value: JSON.stringify(rec) }]);
}

export async function cancelDrain(etcd: EtcdClient, keys: Keys, id: number): Promise<void> {
  await write(etcd, [], [keys.drain(id)]);
}

export interface MoveStatus {
  partition: string;
  from: number[];
  to: number[];
  leader: number;
  /** Learners still catching up (not yet in the ISR). */
  catchingUp: number[];
}

/** Moves in progress, from the partition records (learner lag in records is on the leader's /metrics). */
export function movesInProgress(view: ClusterView): MoveStatus[] {
  const out: MoveStatus[] = [];
  for (const rec of view.partitions.values()) {
    const p = rec.value;
    if (!isMoving(p)) continue;
    out.push({
      partition: `${p.topic}/${p.partition}`,
      from: originalReplicas(p),
      to: targetReplicas(p),
      leader: p.leader,
      catchingUp: targetReplicas(p).filter((r) => !p.isr.includes(r)),
    });
  }
  return out.sort((a, b) => (a.partition < b.partition ? -1 : 1));
}

/** What a broker still holds: replicas (partitions naming it, including moves not yet complete) and leaderships. */
export function brokerHoldings(view: ClusterView, id: number): { replicas: string[]; leaderships: string[] } {
  const replicas: string[] = [];
  const leaderships: string[] = [];
  for (const rec of view.partitions.values()) {
    const key = `${rec.value.topic}/${rec.value.partition}`;
    if (rec.value.replicas.includes(id)) replicas.push(key);
    if (rec.value.leader === id) leaderships.push(key);
  }
  return { replicas: replicas.sort(), leaderships: leaderships.sort() };
}
