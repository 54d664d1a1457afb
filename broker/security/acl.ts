// Access control lists: who may do what to which topic or group. Pure: no files, no sockets, no
// clocks, so the laws are property-tested (test/security/acl.property.test.ts):
//   - deny wins: a matching deny rule refuses, whatever allows;
//   - default deny: with no matching allow rule, the request is refused;
//   - a prefix rule 'orders.' matches every name that starts with 'orders.' (and only those).
// The broker evaluates them only when authentication is on (with it off every caller is 'anonymous'
// on loopback, and everything is allowed).
import { ErrorCode, TickbusError } from '../../schemas/errors.js';

/** What a request does. Topic operations name a topic; group-join names a group. */
export const ACL_OPERATIONS = ['produce', 'consume', 'admin-create', 'admin-delete', 'admin-describe', 'group-join', 'replicate'] as const;
export type AclOperation = (typeof ACL_OPERATIONS)[number];

export type AclResourceType = 'topic' | 'group';

export interface AclRule {
  /** A principal's name, or '*' for every authenticated principal. */
  principal: string;
  operation: AclOperation;
  resourceType: AclResourceType;
  /** A name, or with pattern 'prefix' the start of names ('' = every name). */
  name: string;
  pattern: 'literal' | 'prefix';
  effect: 'allow' | 'deny';
}

/** The principal of another broker of the cluster (it presents the configured broker token). */
export const BROKER_PRINCIPAL = 'tickbus.broker';

export function isAclOperation(v: unknown): v is AclOperation {
  return typeof v === 'string' && (ACL_OPERATIONS as readonly string[]).includes(v);
}

export function resourceTypeOf(op: AclOperation): AclResourceType {
  return op === 'group-join' ? 'group' : 'topic';
}

/** Checks one rule as read from a file or etcd; throws TypeError naming the problem. */
export function validateAclRule(v: unknown, where = 'ACL rule'): AclRule {
  if (typeof v !== 'object' || v === null) throw new TypeError(`${where} must be an object`);
  const r = v as Record<string, unknown>;
  if (typeof r.principal !== 'string' || r.principal === '' || r.principal.length > 256) throw new TypeError(`${where}: principal must be a string of 1 to 256 characters`);
  if (!isAclOperation(r.operation)) throw new TypeError(`${where}: operation must be one of ${ACL_OPERATIONS.join(', ')}, got ${JSON.stringify(r.operation)}`);
  if (r.resourceType !== 'topic' && r.resourceType !== 'group') throw new TypeError(`${where}: resourceType must be 'topic' or 'group'`);
  if (r.resourceType !== resourceTypeOf(r.operation)) throw new TypeError(`${where}: operation ${r.operation} applies to a ${resourceTypeOf(r.operation)}, not a ${r.resourceType}`);
  if (typeof r.name !== 'string' || r.name.length > 512) throw new TypeError(`${where}: name must be a string of at most 512 characters`);
  if (r.pattern !== 'literal' && r.pattern !== 'prefix') throw new TypeError(`${where}: pattern must be 'literal' or 'prefix'`);
  if (r.pattern === 'literal' && r.name === '') throw new TypeError(`${where}: a literal name must not be empty`);
  if (r.effect !== 'allow' && r.effect !== 'deny') throw new TypeError(`${where}: effect must be 'allow' or 'deny'`);
  return { principal: r.principal, operation: r.operation, resourceType: r.resourceType, name: r.name, pattern: r.pattern, effect: r.effect };
}

/**
 * The rules of an ACL document, `{ "acls": [AclRule, ...] }`: the single-node file and the cluster's etcd
 * record hold the same document. Throws TypeError naming `where` and the bad rule.
 */
export function rulesOfDocument(doc: unknown, where: string): AclRule[] {
  const acls = typeof doc === 'object' && doc !== null ? (doc as { acls?: unknown }).acls : undefined;
  if (!Array.isArray(acls)) throw new TypeError(`${where}: expected { "acls": [...] }`);
  return acls.map((r, i) => validateAclRule(r, `${where}: acls[${i}]`));
}

export function sameRule(a: AclRule, b: AclRule): boolean {
  return a.principal === b.principal && a.operation === b.operation && a.resourceType === b.resourceType && a.name === b.name && a.pattern === b.pattern && a.effect === b.effect;
}

function matches(r: AclRule, principal: string, op: AclOperation, name: string): boolean {
  if (r.operation !== op) return false;
  if (r.principal !== '*' && r.principal !== principal) return false;
  return r.pattern === 'literal' ? r.name === name : name.startsWith(r.name);
}

/** The decision for one request, with the reason a refusal gives. */
export type AclDecision = { allowed: true } | { allowed: false; reason: 'denied' | 'no-allow' };

/** The pure rule: deny wins, then allow, else deny. */
export function decide(rules: readonly AclRule[], principal: string, op: AclOperation, name: string): AclDecision {
  let allowed = false;
  for (const r of rules) {
    if (!matches(r, principal, op, name)) continue;
    if (r.effect === 'deny') return { allowed: false, reason: 'denied' };
    allowed = true;
  }
  return allowed ? { allowed: true } : { allowed: false, reason: 'no-allow' };
}

/** Decisions remembered per (principal, operation, name) before the memo is dropped and rebuilt. */
const MEMO_MAX = 10_000;

/**
 * A rule set with its decisions memoised: the live path (one check per produce) costs three Map lookups
 * on strings it already has (operation, principal, name), no key string built per request.
 * Immutable: a changed ACL file makes a new Acl.
 */
export class Acl {
  /** operation → principal → name → decision. */
  private readonly memo = new Map<AclOperation, Map<string, Map<string, AclDecision>>>();
  private memoSize = 0;

  constructor(readonly rules: readonly AclRule[]) {}

  decide(principal: string, op: AclOperation, name: string): AclDecision {
    // The built-in broker principal replicates, and does nothing else.
    if (principal === BROKER_PRINCIPAL) return op === 'replicate' ? { allowed: true } : { allowed: false, reason: 'no-allow' };
    const byName = this.memo.get(op)?.get(principal);
    let d = byName?.get(name);
    if (d === undefined) {
      d = decide(this.rules, principal, op, name);
      this.remember(principal, op, name, d);
    }
    return d;
  }

  private remember(principal: string, op: AclOperation, name: string, d: AclDecision): void {
    if (this.memoSize >= MEMO_MAX) {
      this.memo.clear();
      this.memoSize = 0;
    }
    let byPrincipal = this.memo.get(op);
    if (!byPrincipal) this.memo.set(op, (byPrincipal = new Map<string, Map<string, AclDecision>>()));
    let byName = byPrincipal.get(principal);
    if (!byName) byPrincipal.set(principal, (byName = new Map<string, AclDecision>()));
    byName.set(name, d);
    this.memoSize++;
  }

  allows(principal: string, op: AclOperation, name: string): boolean {
    return this.decide(principal, op, name).allowed;
  }

  /** Throws NOT_AUTHORIZED naming the principal, the operation and the resource when refused. */
  require(principal: string, op: AclOperation, name: string): void {
    const d = this.decide(principal, op, name);
    if (d.allowed) return;
    const kind = resourceTypeOf(op);
    const why = d.reason === 'denied' ? 'an ACL denies it' : 'no ACL allows it';
    throw new TickbusError(ErrorCode.NOT_AUTHORIZED, `principal '${principal}' may not ${op} on ${kind} '${name}': ${why}`, kind === 'topic' ? { topic: name } : {});
  }
}

/** Every rule set starts here until the first file or etcd read: nothing allowed. */
export const EMPTY_ACL = new Acl([]);
