// `tickbus acl add|list|remove`: the ACL file of a single-node broker (<data>/acls.json), replaced
// atomically, or with --cluster the cluster's ACL record in etcd, changed by compare-and-swap. Running
// brokers see the change within a moment, no restart.
import { defaultClusterConfig } from '../broker/config.js';
import { ACL_OPERATIONS, type AclRule, isAclOperation, resourceTypeOf, sameRule, validateAclRule } from '../broker/security/acl.js';
import { type AclStore, etcdAclStore, fileAclStore } from './acl-store.js';
import { parse, str, UsageError } from './args.js';
import { parseEtcdUrls } from './etcd-urls.js';

const USAGE = `
Usage: tickbus acl add|list|remove [options]

Access control lists of brokers with authentication on (docs/security.md). Deny wins over allow; with
no rule allowing a request, it is refused (NOT_AUTHORIZED). Single node: the file in --data. Cluster:
the record in etcd (--cluster), which every broker of the cluster follows.

  tickbus acl add --principal alice --operation produce --topic-prefix orders.
  tickbus acl add --principal bob --operation consume --topic orders.eu
  tickbus acl add --principal bob --operation group-join --group billing
  tickbus acl add --principal '*' --operation admin-delete --topic-prefix '' --deny
  tickbus acl list [--principal P]
  tickbus acl remove --principal bob --operation consume --topic orders.eu

Options:
  --data DIR            the single-node broker's data directory                      [./data]
  --cluster etcd://HOST:PORT[,...]  the cluster's etcd instead of a data directory
  --cluster-name NAME   the cluster's name in etcd                                    [${defaultClusterConfig().name}]
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

function storeFromArgs(values: Record<string, string | boolean | undefined>): AclStore {
  const cluster = str(values, 'cluster');
  const data = str(values, 'data');
  if (cluster !== undefined && data !== undefined) throw new UsageError('give --data (single node) or --cluster (etcd), not both');
  if (cluster === undefined && values['cluster-name'] !== undefined) throw new UsageError('--cluster-name goes with --cluster');
  if (cluster === undefined) return fileAclStore(data ?? './data');
  const name = str(values, 'cluster-name');
  return etcdAclStore(parseEtcdUrls(cluster), ...(name === undefined ? [] : [name]));
}

export async function aclCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parse(
    rest,
    {
      data: { type: 'string' },
      cluster: { type: 'string' },
      'cluster-name': { type: 'string' },
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
  if (sub !== 'add' && sub !== 'remove' && sub !== 'list') throw new UsageError(`acl needs add, list or remove\n${USAGE}`);
  const rule = sub === 'list' ? null : ruleFromArgs(values);
  const store = storeFromArgs(values);
  try {
    switch (sub) {
      case 'add': {
        const r = rule!;
        await store.update((rules) => (rules.some((x) => sameRule(x, r)) ? null : [...rules, r]));
        process.stdout.write(`${show(r)}\n`);
        return 0;
      }
      case 'remove': {
        const r = rule!;
        // Set by the change function (a closure): the cast keeps the compiler from narrowing it to false.
        let found = false as boolean;
        await store.update((rules) => {
          const left = rules.filter((x) => !sameRule(x, r));
          found = left.length < rules.length;
          return found ? left : null;
        });
        if (!found) {
          process.stderr.write(`tickbus: no such rule in ${store.where}: ${show(r)}\n`);
          return 1;
        }
        return 0;
      }
      case 'list': {
        const p = str(values, 'principal');
        for (const r of await store.read()) if (!p || r.principal === p) process.stdout.write(`${show(r)}\n`);
        return 0;
      }
    }
  } finally {
    await store.close();
  }
}
