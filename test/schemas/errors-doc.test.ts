// The documented error contract is the code's: docs/protocol.md's list of retryable codes and the
// retryable column of docs/errors.md must say exactly what isRetryable() does, for every code. (The
// protocol doc once said "5xx codes are retryable", which BUFFER_FULL, INTERNAL and NOT_OWNER contradict.)
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { codeName, ErrorCode, isRetryable } from '../../schemas/errors.js';
import { REPO } from '../helpers/broker.js';

const doc = (name: string): string => fs.readFileSync(path.join(REPO, 'docs', name), 'utf8');
const codes = Object.values(ErrorCode) as number[];
const retryableInCode = codes.filter((c) => isRetryable(c)).sort((a, b) => a - b);

describe('documented error contract', () => {
  it('pins the retryable set by hand, so a change to it is a deliberate one', () => {
    expect(retryableInCode.map(codeName)).toEqual([
      'NOT_OWNER',
      'NOT_LEADER',
      'FENCED_LEADER_EPOCH',
      'UNKNOWN_LEADER_EPOCH',
      'OWNER_UNAVAILABLE',
      'SHUTTING_DOWN',
      'STORAGE_ERROR',
      'TIMEOUT',
      'CONNECTION_CLOSED',
      'CONTROL_PLANE_UNAVAILABLE',
      'NOT_ENOUGH_REPLICAS',
    ]);
    // The range is not the rule: these 5xx codes are not retryable.
    expect(isRetryable(ErrorCode.BUFFER_FULL)).toBe(false);
    expect(isRetryable(ErrorCode.INTERNAL)).toBe(false);
  });

  it('docs/protocol.md lists exactly the retryable codes, with their names', () => {
    const line = /^Retryable: (.*?)\.$/ms.exec(doc('protocol.md').split('## Errors')[1] ?? '')?.[1];
    expect(line, "docs/protocol.md '## Errors' needs a 'Retryable: ...' list").toBeDefined();
    const listed = [...line!.matchAll(/\b(\d{3}) ([A-Z_]+)/g)].map((m) => ({ code: Number(m[1]), name: m[2] }));
    for (const { code, name } of listed) expect(codeName(code), `code ${code}`).toBe(name);
    expect(listed.map((l) => l.code).sort((a, b) => a - b)).toEqual(retryableInCode);
  });

  it('docs/errors.md has a row for every code, with its name and the retryable flag the code gives it', () => {
    const rows = new Map<number, { name: string; retryable: string }>();
    for (const m of doc('errors.md').matchAll(/^\| (\d{3}) \| ([A-Z_]+) \| (yes|no) \|/gm)) {
      rows.set(Number(m[1]), { name: m[2]!, retryable: m[3]! });
    }
    for (const code of codes) {
      expect(rows.get(code), `docs/errors.md has no row for ${code} ${codeName(code)}`).toEqual({
        name: codeName(code),
        retryable: isRetryable(code) ? 'yes' : 'no',
      });
    }
    expect([...rows.keys()].filter((c) => !codes.includes(c))).toEqual([]);
  });
});
