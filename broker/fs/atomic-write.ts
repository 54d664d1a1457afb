// Replaces a small file whole, durably: write a temp file beside it, fsync it, rename it over the
// target, fsync the directory. A crash at any point leaves either the old file or the new one, never
// a mix; and once this returns, the new file survives power loss under its name (without the
// directory fsync the rename itself may be lost: rename(2) changes the directory, not the file).
// The one implementation for every small broker file (topic catalogue, producer snapshots).
import fs from 'node:fs';
import path from 'node:path';

export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.tmp`;
  try {
    const fd = fs.openSync(tmp, 'w');
    try {
      fs.writeFileSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (err) {
    // The old file is untouched; do not leave a half-written temp file beside it.
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  syncDir(path.dirname(file));
}

/**
 * Fsyncs a directory so the entries created, renamed or removed in it survive power loss: rename(2) and
 * creat(2) change the directory, and the file's own fsync does not cover that.
 */
export function syncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
