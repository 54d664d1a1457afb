// Where a segment file's data ends: a broker killed with a durable log open leaves preallocated zeros
// after its last batch (broker/log/segment.ts), and a fault that tears or damages "the file" must aim at
// the data, not at the zeros, or most faults would touch nothing.
import * as fs from 'node:fs';

/** Where the file's last non-zero byte ends: its data, without a preallocated zero tail. */
export function dataEnd(file: string, size: number): number {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(64 * 1024);
    for (let end = size; end > 0; ) {
      const start = Math.max(0, end - buf.length);
      const n = fs.readSync(fd, buf, 0, end - start, start);
      for (let i = n - 1; i >= 0; i--) if (buf[i] !== 0) return start + i + 1;
      end = start;
    }
    return 0;
  } finally {
    fs.closeSync(fd);
  }
}

