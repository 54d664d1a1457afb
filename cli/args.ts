// Argument parsing shared by the CLI commands: node:util parseArgs, plus one error type whose
// message is printed as-is with exit code 2 (usage), the convention of most Unix tools.
import { parseArgs, type ParseArgsConfig } from 'node:util';

export class UsageError extends Error {
  override readonly name = 'UsageError' as const;
}

export type Options = NonNullable<ParseArgsConfig['options']>;

export function parse(argv: string[], options: Options, usage: string): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const r = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
    if (r.values.help) {
      process.stdout.write(usage.trimStart());
      process.exit(0);
    }
    return r;
  } catch (err) {
    throw new UsageError(`${err instanceof Error ? err.message : String(err)}\n\n${usage.trimStart()}`);
  }
}

export function intOption(values: Record<string, string | boolean | undefined>, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const v = values[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got ${String(v)}`);
  return n;
}

export function str(values: Record<string, unknown>, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

const DEFAULT_BROKER = 'ws://127.0.0.1:7420';
export const BROKER_OPTION = { broker: { type: 'string', default: DEFAULT_BROKER } } as const satisfies Options;

/** The --broker URL of a command that takes BROKER_OPTION. */
export function brokerUrl(values: Record<string, unknown>): string {
  return str(values, 'broker') ?? DEFAULT_BROKER;
}
