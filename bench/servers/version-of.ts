// Version strings for the report: `binary --version`, and npm packages' package.json.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../harness/entry-path.js';

export function binaryVersion(binary: string): string {
  try {
    return execFileSync(binary, ['--version'], { encoding: 'utf8', timeout: 5000 }).trim().split('\n')[0] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export function packageVersion(name: string): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot(), 'node_modules', name, 'package.json'), 'utf8')) as { version?: string; name?: string };
    return pkg.name && pkg.name !== name ? `${pkg.version ?? '?'} (${pkg.name})` : (pkg.version ?? 'unknown');
  } catch {
    return 'not installed';
  }
}
