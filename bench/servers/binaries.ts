// Finds a peer's server binary at run time. Debian puts nats-server in /usr/sbin (not on a user's PATH)
// and redis-server in /usr/bin. NATS_SERVER / REDIS_SERVER override the search (e.g. a newer nats-server).
import fs from 'node:fs';
import path from 'node:path';
import { PeerMissingError } from '../errors.js';

const EXTRA_DIRS = ['/usr/sbin', '/usr/bin', '/usr/local/bin', '/usr/local/sbin', '/sbin', '/bin'];

export function findBinary(name: string, envVar: string, installHint: string): string {
  const override = process.env[envVar];
  if (override) {
    if (isExecutable(override)) return override;
    throw new PeerMissingError(name, [override], `${envVar}=${override} is not an executable file`);
  }
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), ...EXTRA_DIRS];
  for (const dir of dirs) {
    const p = path.join(dir, name);
    if (isExecutable(p)) return p;
  }
  throw new PeerMissingError(name, EXTRA_DIRS, installHint);
}

function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}
