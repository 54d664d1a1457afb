// The machine and the software a run measured, for the report header.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../harness/entry-path.js';
import { findBinary } from '../servers/binaries.js';
import { binaryVersion, ownVersion, packageVersion } from '../servers/version-of.js';

export function describeMachine(): Record<string, string | number> {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memory_gb: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    hostname: os.hostname(),
    loadavg_1m_at_start: Number(os.loadavg()[0]!.toFixed(2)),
  };
}

export function collectVersions(): Record<string, string> {
  const v: Record<string, string> = {
    node: process.version,
    tickbus: tickbusCommit(),
    'uWebSockets.js': packageVersion('uWebSockets.js'),
    ws: packageVersion('ws'),
    nats: packageVersion('nats'),
    ioredis: packageVersion('ioredis'),
    'hdr-histogram-js': packageVersion('hdr-histogram-js'),
    tinybench: packageVersion('tinybench'),
  };
  for (const [name, env] of [['nats-server', 'NATS_SERVER'], ['redis-server', 'REDIS_SERVER']] as const) {
    try {
      v[name] = binaryVersion(findBinary(name, env, ''));
    } catch {
      v[name] = 'not installed';
    }
  }
  return v;
}

function tickbusCommit(): string {
  const version = ownVersion();
  // An installed package (node_modules/tickbus) has no .git of its own: git would describe the project around it.
  if (!fs.existsSync(path.join(repoRoot(), '.git'))) return version;
  try {
    const rev = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot(), encoding: 'utf8', timeout: 5000 }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: repoRoot(), encoding: 'utf8', timeout: 5000 }).trim();
    return `${version} @ ${rev}${dirty ? ' (+ uncommitted changes)' : ''}`;
  } catch {
    return version;
  }
}
