// The epoch checkpoint file: round trip, and the missing / damaged cases the owner rebuilds from.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EPOCH_CHECKPOINT_FILE, readEpochCheckpoint, writeEpochCheckpoint } from '../../../broker/replication/epoch-checkpoint.js';
import { EpochHistory } from '../../../broker/replication/epoch-history.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tickbus-epoch-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('epoch checkpoint', () => {
  it('reads back what it wrote, replacing the previous file whole', () => {
    const h = new EpochHistory([{ epoch: 1, startOffset: 0 }]);
    writeEpochCheckpoint(dir, h);
    h.assign(4, 17);
    writeEpochCheckpoint(dir, h);
    const r = readEpochCheckpoint(dir);
    expect(r.kind).toBe('ok');
    if (r.kind === 'ok') expect(r.history.entries()).toEqual([{ epoch: 1, startOffset: 0 }, { epoch: 4, startOffset: 17 }]);
    expect(fs.readdirSync(dir)).toEqual([EPOCH_CHECKPOINT_FILE]); // no temp file left behind
  });

  it('says missing when there is no file, and damaged (with the reason) for bad contents', () => {
    expect(readEpochCheckpoint(dir)).toEqual({ kind: 'missing' });
    fs.writeFileSync(path.join(dir, EPOCH_CHECKPOINT_FILE), '{"version":1,"entries":[[3,9],[2');
    expect(readEpochCheckpoint(dir).kind).toBe('damaged');
    fs.writeFileSync(path.join(dir, EPOCH_CHECKPOINT_FILE), '{"version":1,"entries":[[3,9],[2,10]]}');
    const r = readEpochCheckpoint(dir);
    expect(r.kind).toBe('damaged');
    if (r.kind === 'damaged') expect(r.reason).toMatch(/increase/);
  });

  it('throws a storage fault other than a missing file', () => {
    fs.mkdirSync(path.join(dir, EPOCH_CHECKPOINT_FILE)); // reading a directory: EISDIR
    expect(() => readEpochCheckpoint(dir)).toThrow();
  });
});
