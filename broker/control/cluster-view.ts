// Every broker's in-memory mirror of the cluster's records in etcd, kept by one prefix watch.
// Each record keeps the mod revision it was read at, so a write based on it is a compare-and-swap
// on exactly what was read. Readers get a consistent snapshot after each batch of events.
import type { Entry, WatchEvent } from './etcd.js';
import type { AclsRecord, BrokerRecord, CreateRequest, DrainRecord, Keys, PartitionRecord, ReassignRequest, TopicRecord } from './records.js';

export interface Versioned<T> {
  value: T;
  modRevision: number;
}

export class ClusterView {
  readonly brokers = new Map<number, Versioned<BrokerRecord>>();
  readonly topics = new Map<string, Versioned<TopicRecord>>();
  /** Keyed `${topic}/${partition}`. */
  readonly partitions = new Map<string, Versioned<PartitionRecord>>();
  readonly createRequests = new Map<string, Versioned<CreateRequest>>();
  readonly deleteRequests = new Map<string, Versioned<{ name: string }>>();
  /** Keyed `${topic}/${partition}`. */
  readonly reassignRequests = new Map<string, Versioned<ReassignRequest>>();
  /** Brokers being drained, by id. */
  readonly drains = new Map<number, Versioned<DrainRecord>>();
  controller: { id: number; modRevision: number; lease: string } | null = null;
  nextTopicId: Versioned<number> | null = null;
  /** The cluster's ACL rules as stored (not yet validated: brokers check them before use); null = none. */
  acls: Versioned<AclsRecord> | null = null;
  private readonly listeners: (() => void)[] = [];
  private scheduled = false;

  constructor(private readonly keys: Keys) {}

  onChange(fn: () => void): void {
    this.listeners.push(fn);
  }

  reset(entries: Entry[]): void {
    this.brokers.clear();
    this.topics.clear();
    this.partitions.clear();
    this.createRequests.clear();
    this.deleteRequests.clear();
    this.reassignRequests.clear();
    this.drains.clear();
    this.controller = null;
    this.nextTopicId = null;
    this.acls = null;
    for (const e of entries) this.put(e);
    this.changed();
  }

  apply(ev: WatchEvent): void {
    if (ev.type === 'put') this.put(ev.entry);
    else this.remove(ev.key);
    this.changed();
  }

  partition(topic: string, p: number): Versioned<PartitionRecord> | undefined {
    return this.partitions.get(`${topic}/${p}`);
  }

  partitionsOf(topic: string): Versioned<PartitionRecord>[] {
    const t = this.topics.get(topic);
    if (!t) return [];
    const out: Versioned<PartitionRecord>[] = [];
    for (let p = 0; p < t.value.partitions; p++) {
      const rec = this.partition(topic, p);
      if (rec) out.push(rec);
    }
    return out;
  }

  /** Listeners run once per microtask however many events arrived, on a consistent view. */
  private changed(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      for (const fn of this.listeners) fn();
    });
  }

  private put(e: Entry): void {
    const rel = e.key.slice(this.keys.root.length);
    let value: unknown;
    try {
      value = JSON.parse(e.value);
    } catch {
      return; // not ours (or damaged): ignore rather than crash every broker
    }
    const v = { value, modRevision: e.modRevision };
    if (rel === 'controller') this.controller = { id: Number(value), modRevision: e.modRevision, lease: e.lease };
    else if (rel === 'next-topic-id') this.nextTopicId = v as Versioned<number>;
    else if (rel === 'acls') this.acls = v as Versioned<AclsRecord>;
    else if (rel.startsWith('brokers/')) this.brokers.set(Number(rel.slice(8)), v as Versioned<BrokerRecord>);
    else if (rel.startsWith('topics/')) this.topics.set(rel.slice(7), v as Versioned<TopicRecord>);
    else if (rel.startsWith('partitions/')) this.partitions.set(rel.slice(11), v as Versioned<PartitionRecord>);
    else if (rel.startsWith('requests/create/')) this.createRequests.set(rel.slice(16), v as Versioned<CreateRequest>);
    else if (rel.startsWith('requests/delete/')) this.deleteRequests.set(rel.slice(16), v as Versioned<{ name: string }>);
    else if (rel.startsWith('requests/reassign/')) this.reassignRequests.set(rel.slice(18), v as Versioned<ReassignRequest>);
    else if (rel.startsWith('drains/')) this.drains.set(Number(rel.slice(7)), v as Versioned<DrainRecord>);
  }

  private remove(key: string): void {
    const rel = key.slice(this.keys.root.length);
    if (rel === 'controller') this.controller = null;
    else if (rel === 'next-topic-id') this.nextTopicId = null;
    else if (rel === 'acls') this.acls = null;
    else if (rel.startsWith('brokers/')) this.brokers.delete(Number(rel.slice(8)));
    else if (rel.startsWith('topics/')) this.topics.delete(rel.slice(7));
    else if (rel.startsWith('partitions/')) this.partitions.delete(rel.slice(11));
    else if (rel.startsWith('requests/create/')) this.createRequests.delete(rel.slice(16));
    else if (rel.startsWith('requests/delete/')) this.deleteRequests.delete(rel.slice(16));
    else if (rel.startsWith('requests/reassign/')) this.reassignRequests.delete(rel.slice(18));
    else if (rel.startsWith('drains/')) this.drains.delete(Number(rel.slice(7)));
  }
}
