// Owner registries for tests, each in its own temp data dir. Everything
// a test opens is closed (logs fsynced and closed) and removed after it, in reverse order of opening, so
// a registry is closed before its directory goes. Call once at the test file's top level (it adds hooks).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';
import { PartitionRegistry } from '../../../broker/owner/partition-registry.js';

export interface RegistryFixture {
  /** A new empty data dir, removed after the test. */
  dataDir: () => string;
  /** An owner's registry on `dir`; closed after the test unless closed before. */
  registry: (dir: string, cluster: boolean) => PartitionRegistry;
}

export function registryFixture(tempPrefix: string): RegistryFixture {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const c of cleanups.splice(0).reverse()) c();
  });

  return {
    dataDir: () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), tempPrefix));
      cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
      return dir;
    },
    registry: (dir, cluster) => {
      const r = new PartitionRegistry(dir, cluster);
      cleanups.push(() => r.closeAll(() => undefined));
      return r;
    },
  };
}
