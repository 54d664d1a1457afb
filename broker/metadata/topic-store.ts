// The broker's topic catalogue: names, partition counts and per-topic log config, in one JSON file
// (<data>/topics.json) replaced atomically (write temp, fsync, rename, fsync dir) so a crash leaves
// either the old catalogue or the new one, never half of each.
import fs from 'node:fs';
import path from 'node:path';
import { ErrorCode, TickbusError } from '../../schemas/errors.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import type { LogConfig } from '../log/partition-log.js';

export interface TopicRecord {
  name: string;
  /** Incarnation id: a topic deleted and created again is a different topic to subscribers. */
  id: number;
  partitions: number;
  config: LogConfig;
  createdAt: number;
}

interface CatalogueFile {
  version: 1;
  nextId: number;
  topics: TopicRecord[];
}

export const MAX_PARTITIONS = 1024;
const NAME = /^[A-Za-z0-9._-]{1,200}$/;

export function validateTopicName(name: string): void {
  if (!NAME.test(name) || name === '.' || name === '..') {
    throw new TickbusError(
      ErrorCode.INVALID_TOPIC_NAME,
      `topic name ${JSON.stringify(name)} is invalid: use 1-200 characters from A-Z a-z 0-9 . _ - (not '.' or '..')`,
    );
  }
  if (name.startsWith('__')) {
    throw new TickbusError(ErrorCode.INVALID_TOPIC_NAME, `topic name ${JSON.stringify(name)} is reserved: names starting with '__' are internal`);
  }
}

export function validatePartitionCount(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > MAX_PARTITIONS) {
    throw new TickbusError(ErrorCode.INVALID_PARTITION_COUNT, `partition count must be an integer from 1 to ${MAX_PARTITIONS}, got ${n}`);
  }
}

export class TopicStore {
  private readonly file: string;
  private readonly topics = new Map<string, TopicRecord>();
  private nextId = 1;

  private constructor(readonly dataDir: string) {
    this.file = path.join(dataDir, 'topics.json');
  }

  static open(dataDir: string): TopicStore {
    fs.mkdirSync(dataDir, { recursive: true });
    const s = new TopicStore(dataDir);
    let text: string | undefined;
    try {
      text = fs.readFileSync(s.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (text !== undefined) {
      let parsed: CatalogueFile;
      try {
        parsed = JSON.parse(text) as CatalogueFile;
      } catch (err) {
        throw new TickbusError(ErrorCode.STORAGE_ERROR, `${s.file} is not valid JSON; restore it from a backup or remove it to start with no topics`, { cause: err });
      }
      s.nextId = parsed.nextId;
      for (const t of parsed.topics) s.topics.set(t.name, t);
    }
    return s;
  }

  get(name: string): TopicRecord | undefined {
    return this.topics.get(name);
  }

  list(): TopicRecord[] {
    return [...this.topics.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  create(name: string, partitions: number, config: LogConfig): TopicRecord {
    validateTopicName(name);
    validatePartitionCount(partitions);
    if (this.topics.has(name)) throw new TickbusError(ErrorCode.TOPIC_EXISTS, `topic '${name}' already exists`, { topic: name });
    const rec: TopicRecord = { name, id: this.nextId++, partitions, config, createdAt: Date.now() };
    this.topics.set(name, rec);
    this.persist();
    return rec;
  }

  delete(name: string): TopicRecord {
    const rec = this.topics.get(name);
    if (!rec) throw new TickbusError(ErrorCode.UNKNOWN_TOPIC, `topic '${name}' does not exist`, { topic: name });
    this.topics.delete(name);
    this.persist();
    return rec;
  }

  private persist(): void {
    const body: CatalogueFile = { version: 1, nextId: this.nextId, topics: this.list() };
    writeFileAtomic(this.file, JSON.stringify(body, null, 2));
  }
}

/** Which owner serves a partition: spread a topic's partitions round-robin from a per-topic start. */
export function ownerOf(topic: string, partition: number, owners: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < topic.length; i++) h = Math.imul(h ^ topic.charCodeAt(i), 0x01000193);
  return ((h >>> 0) + partition) % owners;
}

export function partitionDir(dataDir: string, topic: string, partition: number): string {
  return path.join(dataDir, topic, String(partition));
}
