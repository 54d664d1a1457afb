// Persistence of a partition's leader-epoch history (Kafka's leader-epoch-checkpoint file, KIP-101):
// one small JSON file in the partition directory, replaced whole and durably on every change.
//
// A missing or damaged checkpoint is not fatal: every batch header carries its leader epoch, so the
// owner rebuilds the history by scanning the log (assign(batch epoch, batch base offset) per batch).
// Reading tells the caller which case it is, so a damaged file gets logged rather than hidden. After
// recovery cuts a torn tail, the caller applies truncateFromEnd(log end) as Kafka's loadSegments does:
// the checkpoint may name epochs whose records did not survive.
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { EpochHistory } from './epoch-history.js';

export const EPOCH_CHECKPOINT_FILE = 'leader-epoch-checkpoint.json';

export type EpochCheckpointRead =
  | { readonly kind: 'ok'; readonly history: EpochHistory }
  | { readonly kind: 'missing' }
  | { readonly kind: 'damaged'; readonly reason: string };

/** Writes the history (atomically: temp file, fsync, rename, directory fsync). */
export function writeEpochCheckpoint(dir: string, history: EpochHistory): void {
  writeFileAtomic(path.join(dir, EPOCH_CHECKPOINT_FILE), JSON.stringify(history.toJSON()));
}

export function readEpochCheckpoint(dir: string): EpochCheckpointRead {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, EPOCH_CHECKPOINT_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    throw err; // EIO, EACCES: a storage fault, not something a rebuild should paper over
  }
  try {
    return { kind: 'ok', history: EpochHistory.fromJSON(JSON.parse(text)) };
  } catch (err) {
    return { kind: 'damaged', reason: (err as Error).message };
  }
}
