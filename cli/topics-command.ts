// `tickbus topics create|list|describe|delete`.
import { connect, type TopicDescription } from '../client/index.js';
import { BROKER_OPTION, brokerUrl, intOption, parse, str, UsageError } from './args.js';
import { TOKEN_OPTION, tokenOption, TOKEN_USAGE } from './auth-options.js';

const USAGE = `
Usage:
  tickbus topics create NAME --partitions N [--replication-factor R] [--min-insync M]
                        [--fsync always|interval|os] [--retention-ms MS]
                        [--retention-bytes B] [--segment-bytes B] [--broker URL]
  tickbus topics list [--broker URL]
  tickbus topics describe NAME [--broker URL]
  tickbus topics delete NAME [--broker URL]

Prints JSON. --broker defaults to ws://127.0.0.1:7420.
Cluster mode: --replication-factor R places each partition on R brokers (default: the broker's
--default, 3), --min-insync M is the ISR size acks 'all' needs (default: min(2, R)). describe prints
per partition its leader, replicas, isr, replicaZones, leaderEpoch, highWatermark and endpoint.
${TOKEN_USAGE}`;

/** describe's output: what the broker answered, with the cluster fields named for people (leader, not leaderId). */
function describeOut(t: TopicDescription): unknown {
  const clustered = t.partitions.some((p) => p.replicas.length > 0);
  return {
    name: t.name,
    ...(clustered ? { replicationFactor: t.replicationFactor, minInsync: t.minInsync } : {}),
    config: t.config,
    partitions: t.partitions.map((p) => ({
      partition: p.partition,
      ...(clustered ? { leader: p.leaderId, replicas: p.replicas, isr: p.isr, replicaZones: p.replicaZones } : {}),
      leaderEpoch: p.leaderEpoch,
      highWatermark: p.highWatermark,
      logStartOffset: p.logStartOffset,
      ownerId: p.ownerId,
      endpoint: p.endpoint,
    })),
  };
}

export async function topicsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    {
      ...BROKER_OPTION,
      ...TOKEN_OPTION,
      partitions: { type: 'string' },
      fsync: { type: 'string' },
      'retention-ms': { type: 'string' },
      'retention-bytes': { type: 'string' },
      'segment-bytes': { type: 'string' },
      'replication-factor': { type: 'string' },
      'min-insync': { type: 'string' },
    },
    USAGE,
  );
  const [action, name] = positionals;
  const needName = (): string => {
    if (!name) throw new UsageError(`topics ${action ?? ''} needs a topic NAME\n${USAGE}`);
    return name;
  };
  if (!action) throw new UsageError(`topics needs an action\n${USAGE}`);
  if (!['create', 'list', 'describe', 'delete'].includes(action)) throw new UsageError(`unknown topics action '${action}'\n${USAGE}`);
  if (action === 'create' && values.partitions === undefined) throw new UsageError(`topics create needs --partitions N\n${USAGE}`);
  // 0 on the wire means "the broker's default".
  const replicationFactor = intOption(values, 'replication-factor', 0, 1, 16);
  const minInsync = intOption(values, 'min-insync', 0, 1, 16);
  if (action !== 'create' && (replicationFactor || minInsync)) throw new UsageError(`--replication-factor and --min-insync go with topics create\n${USAGE}`);
  if (replicationFactor && minInsync > replicationFactor) throw new UsageError(`--min-insync ${minInsync} cannot exceed --replication-factor ${replicationFactor}`);
  const broker = brokerUrl(values);
  const partitions = action === 'create' ? intOption(values, 'partitions', 1, 1, 1024) : 0;
  const config: Record<string, unknown> = {};
  const fsync = str(values, 'fsync');
  if (fsync) config.fsync = fsync;
  if (values['retention-ms'] !== undefined) config.retentionMs = intOption(values, 'retention-ms', -1, -1);
  if (values['retention-bytes'] !== undefined) config.retentionBytes = intOption(values, 'retention-bytes', -1, -1);
  if (values['segment-bytes'] !== undefined) config.segmentBytes = intOption(values, 'segment-bytes', 0, 1024);

  const bus = await connect({ brokers: [broker], clientId: 'tickbus-cli', ...tokenOption(values) });
  try {
    let out: unknown;
    switch (action) {
      case 'create': {
        // Absent (0) leaves the broker's default.
        const t = await bus.admin.createTopic(needName(), {
          partitions,
          config,
          ...(replicationFactor ? { replicationFactor } : {}),
          ...(minInsync ? { minInsync } : {}),
        });
        // A replicated create prints what describe prints: the placement it got.
        out = replicationFactor || minInsync ? describeOut(t) : t;
        break;
      }
      case 'describe':
        out = describeOut(await bus.admin.describeTopic(needName()));
        break;
      case 'list':
        out = await bus.admin.listTopics();
        break;
      case 'delete':
        await bus.admin.deleteTopic(needName());
        out = { deleted: name };
        break;
    }
    process.stdout.write(JSON.stringify(out) + '\n');
    return 0;
  } finally {
    await bus.close();
  }
}
