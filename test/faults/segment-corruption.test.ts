import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PartitionLog } from '../../broker/log/partition-log.js';
import { encodeBatch } from '../../schemas/record-batch.js';
import { dumpReplica } from './replica-dump.js';
import { corruptSegment } from './segment-corruption.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function writeLog(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tickbus-corrupt-'));
  dirs.push(dir);
  const log = PartitionLog.open(dir, { fsync: 'os', segmentBytes: 1024 });
  for (let b = 0; b < 30; b++) {
    const batch = encodeBatch([{ value: `v${b}` }], { timestamp: 1_700_000_000_000 });
    log.append(batch, 0, batch.length, 1, 1_700_000_000_000_000 + b);
  }
  log.close();
  return dir;
}

const dump = (dir: string) => dumpReplica(dir, { topic: 't', partition: 0, replica: 'r', highWatermark: 30 });

describe('segment corruption', () => {
  it('flips the chosen bit of the chosen segment, the same one for the same picks', () => {
    const a = writeLog();
    const b = writeLog();
    const opts = { how: 'bitflip' as const, filePick: 0.4, positionPick: 0.5, bit: 3 };
    const ca = corruptSegment(a, opts)!;
    expect(corruptSegment(b, opts)).toEqual(ca);
    expect(fs.readFileSync(path.join(a, ca.file))).toEqual(fs.readFileSync(path.join(b, ca.file)));
    expect(fs.statSync(path.join(a, ca.file)).size).toBe(ca.sizeBefore);
    expect(dump(a).stop).toMatchObject({ file: ca.file, reason: 'corrupt' });
  });

  it('truncates the chosen segment at the chosen position', () => {
    const dir = writeLog();
    const c = corruptSegment(dir, { how: 'truncate', filePick: 0, positionPick: 0.5, bit: 0 })!;
    expect(fs.statSync(path.join(dir, c.file)).size).toBe(c.position);
    const d = dump(dir);
    expect(d.stop?.file).toBe(c.file);
    expect(d.endOffset).toBeLessThan(30);
  });

  it('does nothing to an empty partition and rejects bad picks', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tickbus-corrupt-'));
    dirs.push(dir);
    expect(corruptSegment(dir, { how: 'bitflip', filePick: 0, positionPick: 0, bit: 0 })).toBeNull();
    expect(() => corruptSegment(dir, { how: 'bitflip', filePick: 1, positionPick: 0, bit: 0 })).toThrow(RangeError);
    expect(() => corruptSegment(dir, { how: 'bitflip', filePick: 0, positionPick: 0, bit: 8 })).toThrow(RangeError);
  });
});
