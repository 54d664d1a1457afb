// The topics and partitions one owner serves: opening them from the catalogue, finding the partition a
// request names (with the error that says exactly why it cannot be served here), and dropping a
// deleted topic. Knows nothing of sockets: a dropped partition's subscribers are failed through
// their Subscription.
import { ErrorCode, TickbusError } from '../../schemas/errors.js';
import { claimPartitionDir } from '../log/partition-incarnation.js';
import { type OpenOptions, PartitionLog } from '../log/partition-log.js';
import { logLine } from '../logger.js';
import { partitionDir } from '../metadata/topic-store.js';
import type { OwnedTopic } from './messages.js';
import { offlineRole, Partition } from './partition.js';

export interface TopicState {
  name: string;
  id: number;
  partitionCount: number;
  /** Indexed by partition number; undefined where another owner serves it. */
  partitions: (Partition | undefined)[];
}

export class PartitionRegistry {
  private readonly topics = new Map<string, TopicState>();
  /** Names deleted while this owner ran, so produce to them says TOPIC_DELETED rather than UNKNOWN_TOPIC. */
  private readonly deleted = new Set<string>();

  constructor(
    private readonly dataDir: string,
    /**
     * Cluster mode: a reopened replica cannot know which of its records were committed, so its high
     * watermark starts at the log start and the leader's tells it more (one node: at the log end).
     * And each partition directory records its topic's incarnation (partition-incarnation.ts).
     */
    private readonly replicated = false,
    /** How each log is opened (BrokerConfig.verifyOnOpen, fsyncThread). */
    private readonly openOptions: Partial<OpenOptions> = {},
    /** Called once per log that open() cut at a damaged sealed segment (the owner counts it). */
    private readonly onCorruptionCut: () => void = () => undefined,
  ) {}

  /**
   * Opens a topic's partitions (idempotent for the same incarnation); all or none. For an incarnation
   * already open, the list is what this owner holds now: partitions it names are opened, and partitions
   * it no longer names (a reassignment moved this replica away) are closed and their files deleted.
   */
  open(t: OwnedTopic): void {
    this.deleted.delete(t.name);
    const existing = this.topics.get(t.name);
    if (existing?.id === t.id) return this.reconcile(existing, t);
    // Another incarnation of the name: the one we have was deleted (we missed it). Its subscribers are
    // told, and its files go before the new incarnation opens the same directories.
    if (existing) this.drop(existing);
    const state: TopicState = { name: t.name, id: t.id, partitionCount: t.partitionCount, partitions: [] };
    this.openPartitions(state, t, t.partitions);
    this.topics.set(t.name, state);
  }

  private openPartitions(state: TopicState, t: OwnedTopic, partitions: number[]): void {
    const opened: Partition[] = [];
    try {
      for (const p of partitions) {
        const dir = partitionDir(this.dataDir, t.name, p);
        // Cluster mode: the name may have been deleted and created again while this broker was down;
        // a directory of another incarnation is set aside here, never opened as this one.
        if (this.replicated && claimPartitionDir(dir, t.id) === 'replaced') logLine('partition of a deleted incarnation set aside', { partition: `${t.name}/${p}`, topicId: t.id });
        const log = PartitionLog.open(dir, t.config, this.openOptions);
        if (log.corruptionCut) this.onCorruptionCut();
        const part = new Partition(t.name, t.id, p, log, this.replicated ? log.logStartOffset : log.nextOffset);
        // Cluster mode: no role until the control plane gives one. Without this the partition would be a
        // one-node one (replica null) in between, appending and acknowledging on its own: a restarted
        // broker answered a producer's retry from its own log, for records the leader never had.
        if (this.replicated) part.replica = offlineRole(-1);
        opened.push(part);
      }
    } catch (err) {
      // Close what did open: worker threads share the process's file descriptors, so an owner that fails
      // to start and is restarted again and again would otherwise leak them on every attempt.
      for (const p of opened) {
        try {
          p.log.close();
        } catch {
          // already failing: the open error is the one to report
        }
      }
      throw err;
    }
    for (const p of opened) state.partitions[p.partition] = p;
  }

  private reconcile(state: TopicState, t: OwnedTopic): void {
    const want = new Set(t.partitions);
    this.openPartitions(state, t, t.partitions.filter((p) => !state.partitions[p]));
    state.partitions.forEach((p, i) => {
      if (!p || want.has(i)) return;
      state.partitions[i] = undefined;
      // This broker is no longer a replica: subscribers and followers go to the replicas that are (NOT_LEADER
      // is retryable; the SDK refreshes metadata), and the files go.
      p.replica?.stop();
      p.replica = null;
      const err = new TickbusError(ErrorCode.NOT_LEADER, `this broker no longer holds ${t.name}/${i} (reassigned): refresh metadata`, { topic: t.name, partition: i });
      for (const sub of [...p.subscriptions]) sub.fail(err);
      p.log.destroy();
    });
  }

  delete(name: string): void {
    const state = this.topics.get(name);
    this.deleted.add(name);
    if (state) this.drop(state);
  }

  /** Ends a deleted topic here: its subscribers get TOPIC_DELETED, its logs are closed and removed. */
  private drop(state: TopicState): void {
    this.topics.delete(state.name);
    for (const p of state.partitions) {
      if (!p) continue;
      const err = new TickbusError(ErrorCode.TOPIC_DELETED, `topic '${state.name}' was deleted`, { topic: state.name, partition: p.partition });
      p.replica?.stop();
      p.replica = null;
      for (const sub of [...p.subscriptions]) sub.fail(err);
      // destroy() never throws for a failed final fsync (the files are going), so every partition is ended.
      p.log.destroy();
    }
  }

  /** The topic's id if this owner has it open (Unsubscribe and Credit are keyed by it). */
  topicId(name: string): number | undefined {
    return this.topics.get(name)?.id;
  }

  /** The partition a request names, or the error that says why this owner cannot serve it. */
  partitionOf(topic: string, partition: number): Partition {
    const t = this.topics.get(topic);
    if (!t) {
      if (this.deleted.has(topic)) throw new TickbusError(ErrorCode.TOPIC_DELETED, `topic '${topic}' was deleted`, { topic });
      throw new TickbusError(ErrorCode.UNKNOWN_TOPIC, `topic '${topic}' does not exist on this owner: refresh metadata`, { topic, partition });
    }
    if (!Number.isInteger(partition) || partition < 0 || partition >= t.partitionCount) {
      throw new TickbusError(
        ErrorCode.UNKNOWN_PARTITION,
        `topic '${topic}' has ${t.partitionCount} partition${t.partitionCount === 1 ? '' : 's'}; partition ${partition} does not exist`,
        { topic, partition },
      );
    }
    const p = t.partitions[partition];
    if (!p) throw new TickbusError(ErrorCode.NOT_OWNER, `partition ${topic}/${partition} is served by another owner: refresh metadata`, { topic, partition });
    return p;
  }

  /** Every partition this owner serves. */
  *all(): IterableIterator<Partition> {
    for (const t of this.topics.values()) for (const p of t.partitions) if (p) yield p;
  }

  /** Closes every log (fsync) and forgets them; errors are reported per partition and do not stop the rest. */
  closeAll(onError: (p: Partition, err: unknown) => void): void {
    for (const p of this.all()) {
      p.replica?.stop();
      try {
        p.log.close();
      } catch (e) {
        onError(p, e);
      }
    }
    this.topics.clear();
  }
}
