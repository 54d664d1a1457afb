// An owner that cannot open one of its partitions closes the ones it did open: worker threads share the
// process's file descriptors, and a supervisor restarts a failing owner again and again.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../../broker/config.js';
import { Owner } from '../../../broker/owner/owner.js';
import { ErrorCode, TickbusError } from '../../../schemas/errors.js';
import { tempDir } from '../../helpers/broker.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const openFds = (): number => fs.readdirSync('/proc/self/fd').length;

describe('owner opening its partitions', () => {
  it('closes the partitions it opened when a later one fails, so repeated attempts leak no file descriptor', async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    fs.mkdirSync(path.join(dataDir, 'orders'), { recursive: true });
    // Partition 1's directory is a plain file: opening it fails after partition 0 opened.
    fs.writeFileSync(path.join(dataDir, 'orders', '1'), 'not a directory');
    const owner = new Owner(0, resolveConfig({ dataDir, port: 0 }));
    const topic = { name: 'orders', id: 1, partitionCount: 2, partitions: [0, 1], config: { fsync: 'os' as const, fsyncIntervalMs: 50, segmentBytes: 1 << 20, segmentMs: 3_600_000, retentionBytes: -1, retentionMs: -1 } };
    const attempt = (): unknown => {
      try {
        owner.openTopic(topic);
      } catch (err) {
        return err;
      }
      return null;
    };
    const first = attempt();
    expect(first).toBeInstanceOf(TickbusError);
    expect((first as TickbusError).code).toBe(ErrorCode.STORAGE_ERROR);
    const before = openFds();
    for (let i = 0; i < 20; i++) attempt();
    expect(openFds()).toBe(before);
    await owner.close(new TickbusError(ErrorCode.SHUTTING_DOWN, 'test over'), 1001, 0);
  });
});
