// `tickbus produce TOPIC`: one record per stdin line, acknowledged in order, one JSON line per ack.
import readline from 'node:readline';
import { connect, type SendOptions } from '../client/index.js';
import { BROKER_OPTION, brokerUrl, intOption, parse, str, UsageError } from './args.js';
import { TOKEN_OPTION, tokenOption, TOKEN_USAGE } from './auth-options.js';

const USAGE = `
Usage: tickbus produce TOPIC [--acks none|leader|all|durable] [--key K] [--partition P] [--broker URL]
                             [--token T]

Reads stdin; each line is one record (UTF-8 value). Prints {"partition":P,"offset":O} for each
acknowledged record, in input order (nothing with --acks none). Exits when stdin ends and every
record is acknowledged. --acks all (cluster): acknowledged once every in-sync replica has it.
${TOKEN_USAGE}`;

const MAX_IN_FLIGHT = 1024;

export async function produceCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { ...BROKER_OPTION, ...TOKEN_OPTION, acks: { type: 'string', default: 'leader' }, key: { type: 'string' }, partition: { type: 'string' } }, USAGE);
  const topic = positionals[0];
  if (!topic) throw new UsageError(`produce needs a TOPIC\n${USAGE}`);
  const acks = str(values, 'acks');
  if (acks !== 'none' && acks !== 'leader' && acks !== 'all' && acks !== 'durable') throw new UsageError(`--acks must be none, leader, all or durable, got '${String(acks)}'`);
  const key = str(values, 'key');
  const partition = values.partition === undefined ? undefined : intOption(values, 'partition', 0, 0, 1023);

  const bus = await connect({ brokers: [brokerUrl(values)], clientId: 'tickbus-cli-produce', ...tokenOption(values) });
  const inFlight: Promise<{ partition: number; offset: number }[]>[] = [];
  const drainOne = async (): Promise<void> => {
    const acked = await inFlight.shift()!;
    if (acks !== 'none') for (const a of acked) process.stdout.write(`{"partition":${a.partition},"offset":${a.offset}}\n`);
  };
  try {
    const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
    for await (const line of rl) {
      const opts: SendOptions = partition === undefined ? { acks } : { acks, partition };
      inFlight.push(bus.send(topic, [{ key: key ?? null, value: line }], opts));
      // Bounded: past MAX_IN_FLIGHT unacknowledged lines we wait for the oldest ack.
      if (inFlight.length >= MAX_IN_FLIGHT) await drainOne();
    }
    while (inFlight.length) await drainOne();
  } finally {
    await bus.close();
  }
  return 0;
}
