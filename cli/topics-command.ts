// `tickbus topics create|list|describe|delete`.
import { connect } from '../client/index.js';
import { BROKER_OPTION, intOption, parse, str, UsageError } from './args.js';

const USAGE = `
Usage:
  tickbus topics create NAME --partitions N [--fsync always|interval|os] [--retention-ms MS]
                        [--retention-bytes B] [--segment-bytes B] [--broker URL]
  tickbus topics list [--broker URL]
  tickbus topics describe NAME [--broker URL]
  tickbus topics delete NAME [--broker URL]

Prints JSON. --broker defaults to ws://127.0.0.1:7420.
`;

export async function topicsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    {
      ...BROKER_OPTION,
      partitions: { type: 'string' },
      fsync: { type: 'string' },
      'retention-ms': { type: 'string' },
      'retention-bytes': { type: 'string' },
      'segment-bytes': { type: 'string' },
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

  const bus = await connect({ brokers: [str(values, 'broker') ?? 'ws://127.0.0.1:7420'], clientId: 'tickbus-cli' });
  try {
    let out: unknown;
    switch (action) {
      case 'create': {
        const config: Record<string, unknown> = {};
        const fsync = str(values, 'fsync');
        if (fsync) config.fsync = fsync;
        if (values['retention-ms'] !== undefined) config.retentionMs = intOption(values, 'retention-ms', -1, -1);
        if (values['retention-bytes'] !== undefined) config.retentionBytes = intOption(values, 'retention-bytes', -1, -1);
        if (values['segment-bytes'] !== undefined) config.segmentBytes = intOption(values, 'segment-bytes', 0, 1024);
        out = await bus.admin.createTopic(needName(), { partitions: intOption(values, 'partitions', 1, 1, 1024), config });
        break;
      }
      case 'list':
        out = await bus.admin.listTopics();
        break;
      case 'describe':
        out = await bus.admin.describeTopic(needName());
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
