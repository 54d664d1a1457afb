// The ACL laws, over random rule sets (fast-check): deny wins, no allow means denied, prefix semantics.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode, TickbusError } from '../../schemas/errors.js';
import { Acl, ACL_OPERATIONS, type AclRule, decide, resourceTypeOf } from '../../broker/security/acl.js';

const principal = fc.constantFrom('alice', 'bob', '*');
const name = fc.constantFrom('', 'o', 'orders', 'orders.', 'orders.eu', 'ordersx', 'payments');
const op = fc.constantFrom(...ACL_OPERATIONS);
const rule = fc.record({ principal, operation: op, name, pattern: fc.constantFrom('literal' as const, 'prefix' as const), effect: fc.constantFrom('allow' as const, 'deny' as const) }).map(
  (r): AclRule => ({ ...r, resourceType: resourceTypeOf(r.operation), name: r.pattern === 'literal' && r.name === '' ? 'x' : r.name }),
);
const who = fc.constantFrom('alice', 'bob', 'carol');

const covers = (r: AclRule, p: string, o: string, n: string): boolean =>
  r.operation === o && (r.principal === '*' || r.principal === p) && (r.pattern === 'literal' ? r.name === n : n.startsWith(r.name));

describe('ACL evaluation', () => {
  it('deny wins: any matching deny refuses, whatever allows', () => {
    fc.assert(
      fc.property(fc.array(rule, { maxLength: 12 }), who, op, name, (rules, p, o, n) => {
        const d = decide(rules, p, o, n);
        if (rules.some((r) => r.effect === 'deny' && covers(r, p, o, n))) expect(d).toEqual({ allowed: false, reason: 'denied' });
      }),
    );
  });

  it('default deny: allowed exactly when a matching allow exists and no matching deny', () => {
    fc.assert(
      fc.property(fc.array(rule, { maxLength: 12 }), who, op, name, (rules, p, o, n) => {
        const allow = rules.some((r) => r.effect === 'allow' && covers(r, p, o, n));
        const deny = rules.some((r) => r.effect === 'deny' && covers(r, p, o, n));
        expect(decide(rules, p, o, n).allowed).toBe(allow && !deny);
        expect(new Acl(rules).allows(p, o, n)).toBe(allow && !deny); // the memoised path agrees
      }),
    );
  });

  it('a prefix rule covers exactly the names that start with it', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 6 }), fc.string({ maxLength: 10 }), (prefix, n) => {
        const r: AclRule = { principal: 'alice', operation: 'produce', resourceType: 'topic', name: prefix, pattern: 'prefix', effect: 'allow' };
        expect(decide([r], 'alice', 'produce', n).allowed).toBe(n.startsWith(prefix));
        expect(decide([r], 'bob', 'produce', n).allowed).toBe(false);
      }),
    );
  });

  it('a refusal is NOT_AUTHORIZED naming the principal, operation and resource', () => {
    const acl = new Acl([{ principal: 'bob', operation: 'consume', resourceType: 'topic', name: 'orders', pattern: 'literal', effect: 'deny' }]);
    let err: unknown;
    try {
      acl.require('bob', 'consume', 'orders');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TickbusError);
    expect(err).toMatchObject({ code: ErrorCode.NOT_AUTHORIZED, topic: 'orders' });
    expect((err as Error).message).toMatch(/'bob' may not consume on topic 'orders'/);
  });
});
