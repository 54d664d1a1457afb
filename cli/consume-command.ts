// `tickbus consume TOPIC`: one JSON line per record; stops after --count records or when
// --timeout-ms passes without a new record.
import { connect, utf8 } from '../client/index.js';
import { BROKER_OPTION, brokerUrl, intOption, parse, str, UsageError } from './args.js';
import { TOKEN_OPTION, tokenOption, TOKEN_USAGE } from './auth-options.js';

const USAGE = `
Usage: tickbus consume TOPIC [--from earliest|latest|OFFSET] [--partition P] [--count N]
                             [--timeout-ms T] [--broker URL] [--token T]

Prints {"topic","partition","offset","timestamp","key","value"} per record (key and value as
UTF-8 strings). Exits 0 after N records, or when T ms pass with no new record (default 5000;
0 = wait forever).
${TOKEN_USAGE}`;

export async function consumeCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { ...BROKER_OPTION, ...TOKEN_OPTION, from: { type: 'string', default: 'earliest' }, partition: { type: 'string' }, count: { type: 'string' }, 'timeout-ms': { type: 'string' } },
    USAGE,
  );
  const topic = positionals[0];
  if (!topic) throw new UsageError(`consume needs a TOPIC\n${USAGE}`);
  const fromArg = str(values, 'from') ?? 'earliest';
  let from: 'earliest' | 'latest' | { offset: number };
  if (fromArg === 'earliest' || fromArg === 'latest') from = fromArg;
  else if (/^\d+$/.test(fromArg)) from = { offset: Number(fromArg) };
  else throw new UsageError(`--from must be earliest, latest or an offset, got '${fromArg}'`);
  const count = intOption(values, 'count', 0, 0);
  const timeoutMs = intOption(values, 'timeout-ms', 5000, 0);
  const partition = values.partition === undefined ? undefined : intOption(values, 'partition', 0, 0, 1023);

  const bus = await connect({ brokers: [brokerUrl(values)], clientId: 'tickbus-cli-consume', ...tokenOption(values) });
  const sub = bus.subscribe(topic, partition === undefined ? { from } : { from, partitions: [partition] });
  let seen = 0;
  // Set by arm(), a closure: the cast keeps the compiler from narrowing it to null in `finally`.
  let timer = null as NodeJS.Timeout | null;
  const arm = (): void => {
    if (timeoutMs === 0) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => void sub.close(), timeoutMs);
  };
  try {
    arm();
    for await (const rec of sub) {
      process.stdout.write(
        JSON.stringify({
          topic: rec.topic,
          partition: rec.partition,
          offset: rec.offset,
          timestamp: rec.timestamp,
          key: rec.key ? utf8(rec.key) : null,
          value: rec.value ? utf8(rec.value) : null,
        }) + '\n',
      );
      seen++;
      if (count > 0 && seen >= count) break;
      arm();
    }
  } finally {
    if (timer) clearTimeout(timer);
    await sub.close();
    await bus.close();
  }
  return 0;
}
