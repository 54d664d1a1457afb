// A partition's leader-epoch history (KIP-101), loaded when the partition first gets a cluster role:
// the checkpoint if it is there and sound, else rebuilt from the batch headers (each carries its epoch);
// either way cut back to the recovered log end, since recovery may have cut a torn tail.
import { logLine } from '../logger.js';
import { readEpochCheckpoint, writeEpochCheckpoint } from '../replication/epoch-checkpoint.js';
import { EpochHistory } from '../replication/epoch-history.js';
import type { Partition } from './partition.js';

export function epochsOf(p: Partition): EpochHistory {
  if (p.epochs) return p.epochs;
  const read = readEpochCheckpoint(p.log.dir);
  let history: EpochHistory;
  if (read.kind === 'ok') history = read.history;
  else {
    if (read.kind === 'damaged') logLine('epoch checkpoint damaged; rebuilding from the log', { dir: p.log.dir, reason: read.reason });
    history = new EpochHistory();
    for (const e of p.log.epochStarts()) history.assign(e.epoch, e.startOffset);
  }
  history.truncateFromEnd(p.log.nextOffset);
  history.truncateFromStart(p.log.logStartOffset);
  p.epochs = history;
  return history;
}

/** Records that `epoch` starts at `startOffset` (new leader, or a follower's first batch of an epoch); durable. */
export function assignEpoch(p: Partition, epoch: number, startOffset: number): void {
  const h = epochsOf(p);
  if (h.assign(epoch, startOffset)) writeEpochCheckpoint(p.log.dir, h);
}

/** After a truncation: forget epochs that started at or past the new log end; durable. */
export function truncateEpochs(p: Partition, logEnd: number): void {
  const h = epochsOf(p);
  h.truncateFromEnd(logEnd);
  writeEpochCheckpoint(p.log.dir, h);
}
