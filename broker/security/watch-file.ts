// Follows one small file that operators (or `tickbus acl`) replace: calls onChange after it changed.
// The directory is watched, not the file: an atomic replace (write a temp file, rename it over) gives
// the name a new inode, and a watch on the old inode would never fire again. Bursts of events (the temp
// file, the rename) are folded into one call after a short quiet time.
import fs from 'node:fs';
import path from 'node:path';
import { logLine } from '../logger.js';

const DEBOUNCE_MS = 50;

export interface FileWatch {
  close(): void;
}

export function watchFile(file: string, onChange: () => void): FileWatch {
  const dir = path.dirname(path.resolve(file));
  const base = path.basename(file);
  let timer: NodeJS.Timeout | null = null;
  let watcher: fs.FSWatcher | null = null;
  try {
    watcher = fs.watch(dir, { persistent: false }, (_event, name) => {
      // Some platforms give no name: then any change in the directory counts.
      if (name !== null && name !== base) return;
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        timer = null;
        onChange();
      }, DEBOUNCE_MS);
      timer.unref();
    });
    watcher.on('error', (err) => logLine('file watch failed; changes need a restart', { file, error: String(err) }));
  } catch (err) {
    logLine('cannot watch file; changes need a restart', { file, error: String(err) });
  }
  return {
    close() {
      if (timer) clearTimeout(timer);
      watcher?.close();
    },
  };
}
