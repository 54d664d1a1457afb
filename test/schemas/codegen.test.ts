// The generated TypeScript is committed; this fails when it no longer matches schemas/tickbus.fbs.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../helpers/broker.js';

describe('generated FlatBuffers code', () => {
  it('matches what flatc generates from schemas/tickbus.fbs (run `npm run codegen` when this fails)', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'tickbus-codegen-'));
    try {
      execFileSync('flatc', ['--ts', '--ts-flat-files', '-o', out, path.join(REPO, 'schemas/tickbus.fbs')]);
      const generated = fs.readFileSync(path.join(out, fs.readdirSync(out).find((f) => f.endsWith('.ts'))!), 'utf8');
      const committed = fs.readFileSync(path.join(REPO, 'schemas/tickbus_generated.ts'), 'utf8');
      // The committed file is flatc's output behind a two-line header written by scripts/codegen.sh.
      const body = committed.split('\n').slice(2).join('\n');
      expect(body).toBe(generated);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});
