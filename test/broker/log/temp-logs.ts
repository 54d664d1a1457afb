// Temp dirs and open logs for log tests: whatever a test makes through these is closed and removed after it.
// Call once at the test file's top level (it adds an afterEach hook).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';
import { PartitionLog } from '../../../broker/log/partition-log.js';

export interface TempLogs {
  /** A fresh temp dir, removed after the test. */
  tmp: () => string;
  /** PartitionLog.open, and the log closed after the test (a test may close it first). */
  open: (...args: Parameters<typeof PartitionLog.open>) => PartitionLog;
}

export function tempLogs(prefix: string): TempLogs {
  const dirs: string[] = [];
  const logs: PartitionLog[] = [];
  afterEach(() => {
    for (const l of logs.splice(0)) {
      try {
        l.close();
      } catch {
        // a test may have broken the log on purpose (a failed fsync, a damaged file)
      }
    }
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });
  return {
    tmp() {
      const d = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
      dirs.push(d);
      return d;
    },
    open(...args) {
      const l = PartitionLog.open(...args);
      logs.push(l);
      return l;
    },
  };
}
