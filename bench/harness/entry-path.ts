// Path of a compiled bench module to run in a child process or worker thread. Node runs JavaScript only,
// so when the harness itself runs from TypeScript source (vitest), the entry comes from dist/ (`npm run build`).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BenchError } from '../errors.js';

const BENCH_SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** `rel` is relative to bench/, without extension, e.g. 'targets/uws-relay-server'. */
export function benchEntry(rel: string): string {
  const here = path.join(BENCH_SRC, `${rel}.js`);
  if (fs.existsSync(here)) return here;
  const repo = path.resolve(BENCH_SRC, '..');
  const built = path.join(repo, 'dist', 'bench', `${rel}.js`);
  if (fs.existsSync(built)) return built;
  throw new BenchError('BENCH_TARGET', `${built} is missing: run 'npm run build' first`);
}

/** The repository root (where package.json is), from source or from dist/. */
export function repoRoot(): string {
  let dir = BENCH_SRC;
  for (let i = 0; i < 4; i++) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    dir = path.dirname(dir);
  }
  return path.resolve(BENCH_SRC, '..');
}
