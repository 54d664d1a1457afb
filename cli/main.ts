#!/usr/bin/env node
// The `tickbus` command: broker daemon, topic admin, produce, consume and bench.
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { TickbusError } from '../schemas/errors.js';
import { UsageError } from './args.js';

const USAGE = `
Usage: tickbus <command> [options]

Commands:
  broker                         run a broker (one node, embedded defaults; --cluster for cluster mode)
  topics create NAME --partitions N [--replication-factor R] [--min-insync M]
  topics list | describe NAME | delete NAME
  cluster status --cluster etcd://HOST:PORT   brokers, controller, topics and moves of a cluster, from etcd
  cluster drain|undrain ID --cluster ...      move every replica off a broker (and back)
  cluster reassign --plan FILE|JSON --cluster ...   move partitions to new replica lists
  dev-cluster [--brokers 3]      a local cluster: its own etcd and N brokers, until Ctrl-C
  produce TOPIC                  one record per stdin line; prints {"partition":P,"offset":O} per ack
  consume TOPIC                  prints one JSON line per record
  acl add|list|remove            access control lists of brokers with authentication (--data or --cluster)
  bench SCENARIO                 latency benchmarks (latency, fanout, durable, replay, micro, all)

Every command takes --help. Client commands take --broker ws://127.0.0.1:7420 and, for a broker with
authentication, --token T (or TICKBUS_TOKEN=T in the environment).
`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'broker':
      return (await import('./broker-command.js')).brokerCommand(rest);
    case 'topics':
      return (await import('./topics-command.js')).topicsCommand(rest);
    case 'cluster':
      return (await import('./cluster-command.js')).clusterCommand(rest);
    case 'dev-cluster':
      return (await import('./dev-cluster-command.js')).devClusterCommand(rest);
    case 'produce':
      return (await import('./produce-command.js')).produceCommand(rest);
    case 'consume':
      return (await import('./consume-command.js')).consumeCommand(rest);
    case 'acl':
      return (await import('./acl-command.js')).aclCommand(rest);
    case 'bench':
      return (await import('../bench/cli.js')).runBenchCli(rest);
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(USAGE.trimStart());
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command '${command}'\n${USAGE}`);
  }
}

// Run when executed (directly or through the npm bin symlink), not when imported.
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      if (err instanceof UsageError) {
        process.stderr.write(`tickbus: ${err.message}\n`);
        process.exit(2);
      }
      if (err instanceof TickbusError) {
        process.stderr.write(`tickbus: ${err.codeName} (${err.code}): ${err.message}\n`);
        process.exit(1);
      }
      process.stderr.write(`tickbus: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
