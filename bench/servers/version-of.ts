// Version strings for the report: `binary --version`, and npm packages' package.json.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { repoRoot } from '../harness/entry-path.js';

const require = createRequire(import.meta.url);

export function binaryVersion(binary: string): string {
  try {
    return execFileSync(binary, ['--version'], { encoding: 'utf8', timeout: 5000 }).trim().split('\n')[0] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * The version of an npm package as this module resolves it: from the repository's node_modules when run from
 * a checkout, from the project around it when tickbus itself is an installed package (npm hoists its
 * dependencies there). Aliases (uWebSockets.js) show the real package name too.
 */
export function packageVersion(name: string): string {
  for (const dir of require.resolve.paths(name) ?? []) {
    let text: string;
    try {
      text = fs.readFileSync(path.join(dir, name, 'package.json'), 'utf8');
    } catch {
      continue;
    }
    try {
      const pkg = JSON.parse(text) as { version?: string; name?: string };
      return pkg.name && pkg.name !== name ? `${pkg.version ?? '?'} (${pkg.name})` : (pkg.version ?? 'unknown');
    } catch {
      return 'unknown';
    }
  }
  return 'not installed';
}

/** tickbus's own version, from its package.json (checkout or installed package). */
export function ownVersion(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot(), 'package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? '?';
  } catch {
    return '?';
  }
}
