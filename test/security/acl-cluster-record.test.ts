// How a broker turns the cluster's ACL record (as its ClusterView holds it) into the rules in force: a
// new mod revision swaps them in, a malformed record keeps the last good ones, a deleted record leaves
// none, and batches of changes to other records (same revision) change nothing.
import { describe, expect, it } from 'vitest';
import type { Acl } from '../../broker/security/acl.js';
import { AclRecordFollower } from '../../broker/security/acl-record.js';
import { allow } from './auth-fixtures.js';

function follower(): { f: AclRecordFollower; seen: Acl[] } {
  const seen: Acl[] = [];
  return { f: new AclRecordFollower((a) => seen.push(a)), seen };
}

describe('ACL record follower', () => {
  it('applies the record once per mod revision', () => {
    const { f, seen } = follower();
    const rec = { value: { acls: [allow('alice', 'produce', 'orders')] }, modRevision: 7 };
    f.update(rec);
    f.update(rec);
    expect(seen).toHaveLength(1);
    expect(f.current.allows('alice', 'produce', 'orders')).toBe(true);
    f.update({ value: { acls: [allow('bob', 'produce', 'orders')] }, modRevision: 9 });
    expect(seen).toHaveLength(2);
    expect(f.current.allows('alice', 'produce', 'orders')).toBe(false);
    expect(f.current.allows('bob', 'produce', 'orders')).toBe(true);
  });

  it('keeps the last good rules when the record is malformed, and takes the next good one', () => {
    const { f, seen } = follower();
    f.update({ value: { acls: [allow('alice', 'produce', 'orders')] }, modRevision: 3 });
    for (const [value, rev] of [[{ acls: [{ principal: 'x', operation: 'fly' }] }, 4], ['not a document', 5], [{ rules: [] }, 6]] as const) {
      f.update({ value, modRevision: rev });
      expect(f.current.allows('alice', 'produce', 'orders')).toBe(true);
    }
    expect(seen).toHaveLength(1);
    f.update({ value: { acls: [] }, modRevision: 8 });
    expect(seen).toHaveLength(2);
    expect(f.current.allows('alice', 'produce', 'orders')).toBe(false);
  });

  it('a deleted record (or none at all) means no rules: default deny', () => {
    const { f, seen } = follower();
    f.update(null);
    expect(seen).toHaveLength(1);
    expect(f.current.rules).toEqual([]);
    f.update({ value: { acls: [allow('alice', 'produce', 'orders')] }, modRevision: 2 });
    f.update(null);
    expect(seen).toHaveLength(3);
    expect(f.current.allows('alice', 'produce', 'orders')).toBe(false);
  });
});
