// Real owners for replication tests: each its own uWS app, temp data dir and log, one per broker id, with
// cluster settings (an unreachable etcd: the roles are given by hand) and one topic 't' with partition 0.
// Everything opened (owners, and whatever a test hands to onCleanup) is closed after each test, in reverse
// order, and the data dirs removed. Call once at the test file's top level (it adds an afterEach hook).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';
import { resolveConfig } from '../../../broker/config.js';
import type { PartitionLog } from '../../../broker/log/partition-log.js';
import { Owner } from '../../../broker/owner/owner.js';
import type { Partition } from '../../../broker/owner/partition.js';
import type { PartitionRegistry } from '../../../broker/owner/partition-registry.js';
import { ErrorCode, TickbusError } from '../../../schemas/errors.js';

export interface OwnerNodeOptions {
  /** Fsync policy of topic 't'; unset leaves the topic config empty (the broker default). */
  fsync?: 'os' | 'always';
  /** cluster.replicaLagTimeMs; 300 unless given. */
  replicaLagTimeMs?: number;
  /** cluster.ackTimeoutMs; 5000 unless given. */
  ackTimeoutMs?: number;
}

export interface OwnerNode {
  id: number;
  owner: Owner;
  /** The owner's WebSocket endpoint. */
  url: string;
  /** Partition t/0 in the owner's registry. */
  partition: () => Partition;
  /** The log of partition t/0. */
  partitionLog: () => PartitionLog;
}

export interface OwnerNodeFixture {
  /** A started owner for broker `id`, closed and removed after the test. */
  ownerNode: (id: number, options?: OwnerNodeOptions) => Promise<OwnerNode>;
  /** Runs `fn` after the test, before the owners opened earlier are closed. */
  onCleanup: (fn: () => Promise<void> | void) => void;
}

export function ownerNodeFixture(tempPrefix: string): OwnerNodeFixture {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  const onCleanup = (fn: () => Promise<void> | void): void => void cleanups.push(fn);

  async function ownerNode(id: number, options: OwnerNodeOptions = {}): Promise<OwnerNode> {
    const { fsync, replicaLagTimeMs = 300, ackTimeoutMs = 5_000 } = options;
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `${tempPrefix}-${id}-`));
    const config = resolveConfig({
      dataDir,
      port: 0,
      ownerBasePort: 0,
      cluster: { etcd: ['http://127.0.0.1:1'], nodeId: id, replicaLagTimeMs, ackTimeoutMs } as never,
    });
    const owner = new Owner(0, config);
    owner.openTopic({ name: 't', id: 1, partitionCount: 1, partitions: [0], config: fsync === undefined ? {} : { fsync } } as never);
    const port = await owner.listen('127.0.0.1', 0);
    onCleanup(async () => {
      await owner.close(new TickbusError(ErrorCode.SHUTTING_DOWN, 'test over'));
      fs.rmSync(dataDir, { recursive: true, force: true });
    });
    const partition = (): Partition => (owner as unknown as { registry: PartitionRegistry }).registry.partitionOf('t', 0);
    return { id, owner, url: `ws://127.0.0.1:${port}/`, partition, partitionLog: () => partition().log };
  }

  return { ownerNode, onCleanup };
}
