// `tickbus acl add|list|remove`: the ACL file of a single-node broker (<data>/acls.json). The file is
// replaced atomically; the running broker sees the change within a moment, no restart.
import { ACL_OPERATIONS, type AclRule, isAclOperation, resourceTypeOf, sameRule, validateAclRule } from '../broker/security/acl.js';
import { aclFilePath, readAclFile, writeAclFile } from '../broker/security/acl-file.js';
import { parse, str, UsageError } from './args.js';

const USAGE = `
Usage: tickbus acl add|list|remove [options]

Access control lists of a single-node broker with authentication on (docs/security.md). Deny wins over
allow; with no rule allowing a request, it is refused (NOT_AUTHORIZED).

  tickbus acl add --principal alice --operation produce --topic-prefix orders.
  tickbus acl add --principal bob --operation consume --topic orders.eu
  tickbus acl add --principal bob --operation group-join --group billing
  tickbus acl add --principal '*' --operation admin-delete --topic-prefix '' --deny
  tickbus acl list [--principal P]
  tickbus acl remove --principal bob --operation consume --topic orders.eu

Options:
  --data DIR            the broker's data directory                                  [./data]
  --principal P         a principal, or '*' for every authenticated one
  --operation OP        ${ACL_OPERATIONS.join(' | ')}
  --topic T             one topic ('orders.*' is the prefix 'orders.')
  --topic-prefix T      every topic whose name starts with T ('' = all)
  --group G | --group-prefix G   consumer groups (for group-join)
  --deny                a deny rule (default: allow)
`;

function ruleFromArgs(values: Record<string, string | boolean | undefined>): AclRule {
  const principal = str(values, 'principal');
  const operation = str(values, 'operation');
  if (!principal) throw new UsageError(`--principal is required${USAGE}`);
  if (!isAclOperation(operation)) throw new UsageError(`--operation must be one of ${ACL_OPERATIONS.join(', ')}, got '${String(operation)}'`);
  const given = (['topic', 'topic-prefix', 'group', 'group-prefix'] as const).filter((k) => values[k] !== undefined);
  if (given.length !== 1) throw new UsageError('give exactly one of --topic, --topic-prefix, --group, --group-prefix');
  const flag = given[0]!;
  let name = str(values, flag)!;
  let pattern: AclRule['pattern'] = flag.endsWith('-prefix') ? 'prefix' : 'literal';
  if (pattern === 'literal' && name.endsWith('*')) {
    name = name.slice(0, -1);
    pattern = 'prefix';
  }
  const resourceType = flag.startsWith('group') ? 'group' : 'topic';
  if (resourceType !== resourceTypeOf(operation)) throw new UsageError(`--operation ${operation} applies to a ${resourceTypeOf(operation)}: use --${resourceTypeOf(operation)} or --${resourceTypeOf(operation)}-prefix`);
  try {
    return validateAclRule({ principal, operation, resourceType, name, pattern, effect: values.deny === true ? 'deny' : 'allow' });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

function show(r: AclRule): string {
  const res = r.pattern === 'prefix' ? `${r.resourceType}-prefix '${r.name}'` : `${r.resourceType} '${r.name}'`;
  return `${r.effect.padEnd(5)} ${r.principal} ${r.operation} ${res}`;
}

export function aclCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parse(
    rest,
    {
      data: { type: 'string', default: './data' },
      principal: { type: 'string' },
      operation: { type: 'string' },
      topic: { type: 'string' },
      'topic-prefix': { type: 'string' },
      group: { type: 'string' },
      'group-prefix': { type: 'string' },
      deny: { type: 'boolean' },
    },
    USAGE,
  );
  if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'\n${USAGE}`);
  const file = aclFilePath(str(values, 'data') ?? './data');
  const rules = readAclFile(file);
  switch (sub) {
    case 'add': {
      const r = ruleFromArgs(values);
      if (!rules.some((x) => sameRule(x, r))) writeAclFile(file, [...rules, r]);
      process.stdout.write(`${show(r)}\n`);
      return Promise.resolve(0);
    }
    case 'remove': {
      const r = ruleFromArgs(values);
      const left = rules.filter((x) => !sameRule(x, r));
      if (left.length === rules.length) {
        process.stderr.write(`tickbus: no such rule: ${show(r)}\n`);
        return Promise.resolve(1);
      }
      writeAclFile(file, left);
      return Promise.resolve(0);
    }
    case 'list': {
      const p = str(values, 'principal');
      for (const r of rules) if (!p || r.principal === p) process.stdout.write(`${show(r)}\n`);
      return Promise.resolve(0);
    }
    default:
      throw new UsageError(`acl needs add, list or remove\n${USAGE}`);
  }
}
