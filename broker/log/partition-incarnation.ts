// Which incarnation of a topic a partition directory holds. In cluster mode a topic can be deleted and
// created again under the same name while this broker is down; when it comes back, the catalogue names
// the new incarnation and the directories on disk still hold the old one's records. Each partition
// directory therefore records its topic id in a `topic-id` file, written before the log's first file,
// and a directory whose id differs is set aside before the log opens it — never read as the new topic.
// (Single-node mode has its catalogue on the same disk and discards leftovers when it creates a topic:
// server/local-catalogue.ts.)
import fs from 'node:fs';
import path from 'node:path';
import { ErrorCode, TickbusError } from '../../schemas/errors.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { discardPartitionDir } from './partition-log.js';

export const TOPIC_ID_FILE = 'topic-id';

/** What claimPartitionDir found. */
export type Claim =
  /** No directory: created with this id. */
  | 'created'
  /** Already this incarnation's. */
  | 'same'
  /** Another incarnation's (or an unreadable id): set aside, and a fresh directory created. */
  | 'replaced'
  /** A directory from before topic ids were recorded: taken as this incarnation's (nothing tells otherwise). */
  | 'adopted';

/** The topic id recorded in `dir`: null when there is no record, NaN when it cannot be read as one. */
export function readTopicId(dir: string): number | null {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, TOPIC_ID_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new TickbusError(ErrorCode.STORAGE_ERROR, `cannot read ${path.join(dir, TOPIC_ID_FILE)}: ${String(err)}`, { cause: err });
  }
  const t = text.trim();
  return /^\d+$/.test(t) ? Number(t) : Number.NaN;
}

/**
 * Makes `dir` the directory of incarnation `topicId` before its log opens: a directory of another
 * incarnation is set aside (renamed at once, removed in the background) and a fresh one created.
 * The id is written durably (atomic-write.ts) before any segment exists, so a directory with segments
 * and no id can only predate this file.
 */
export function claimPartitionDir(dir: string, topicId: number): Claim {
  if (!Number.isSafeInteger(topicId) || topicId < 0) throw new RangeError(`a topic id is a non-negative integer, got ${topicId}`);
  const exists = fs.existsSync(dir);
  const recorded = exists ? readTopicId(dir) : null;
  if (recorded === topicId) return 'same';
  let claim: Claim = 'created';
  if (exists && recorded !== null) {
    discardPartitionDir(dir);
    claim = 'replaced';
  } else if (exists) {
    claim = 'adopted';
  }
  try {
    fs.mkdirSync(dir, { recursive: true });
    writeFileAtomic(path.join(dir, TOPIC_ID_FILE), `${topicId}\n`);
  } catch (err) {
    throw new TickbusError(ErrorCode.STORAGE_ERROR, `cannot record topic id in ${dir}: ${String(err)}`, { cause: err });
  }
  return claim;
}
