// The `corrupt-segment` fault: one bit flipped in, or the end cut off, one segment file of one replica while
// its broker is down — a bad disk sector or a lost tail. What the broker must do with it is its recovery's
// job (docs/log.md "Recovery on open"); the checker then says whether a replica served or kept bad data.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { dataEnd } from './data-end.js';

const LOG_FILE = /^(\d{20})\.log$/;

export interface Corruption {
  file: string;
  how: 'bitflip' | 'truncate';
  /** Byte position flipped, or the new size. */
  position: number;
  bit: number;
  sizeBefore: number;
}

/**
 * Corrupts one segment of the partition directory: the file is chosen by `filePick` and the byte by
 * `positionPick` (both in [0, 1), from the seeded plan), so a replay corrupts the same byte of the same log.
 * Returns null when there is nothing to corrupt (no non-empty segment).
 */
export function corruptSegment(dir: string, opts: { how: 'bitflip' | 'truncate'; filePick: number; positionPick: number; bit: number }): Corruption | null {
  for (const [name, v] of [['filePick', opts.filePick], ['positionPick', opts.positionPick]] as const) {
    if (!(v >= 0 && v < 1)) throw new RangeError(`${name} must be in [0, 1), got ${v}`);
  }
  if (!Number.isInteger(opts.bit) || opts.bit < 0 || opts.bit > 7) throw new RangeError(`bit must be 0..7, got ${opts.bit}`);
  if (!(['bitflip', 'truncate'] as unknown[]).includes(opts.how)) throw new TypeError(`how must be 'bitflip' or 'truncate', got ${JSON.stringify(opts.how)}`);
  const files = fs
    .readdirSync(dir)
    .filter((f) => LOG_FILE.test(f) && fs.statSync(path.join(dir, f)).size > 0)
    .sort();
  if (files.length === 0) return null;
  const file = files[Math.floor(opts.filePick * files.length)]!;
  const p = path.join(dir, file);
  const sizeBefore = fs.statSync(p).size;
  // Within the batches, not in the zeros a killed broker's durable log leaves after them.
  const position = Math.floor(opts.positionPick * (dataEnd(p, sizeBefore) || sizeBefore));
  if (opts.how === 'truncate') fs.truncateSync(p, position);
  else {
    const fd = fs.openSync(p, 'r+');
    try {
      const b = Buffer.alloc(1);
      fs.readSync(fd, b, 0, 1, position);
      b[0]! ^= 1 << opts.bit;
      fs.writeSync(fd, b, 0, 1, position);
    } finally {
      fs.closeSync(fd);
    }
  }
  return { file, how: opts.how, position, bit: opts.bit, sizeBefore };
}
