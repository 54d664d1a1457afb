// Integer option checks, in one place for the broker's config (TypeError/RangeError) and a topic's log
// config (INVALID_CONFIG, since those arrive in CreateTopic requests): one rule and one wording; each
// caller wraps the problem in the error its callers expect.

export interface IntegerProblem {
  /** 'type': not an integer at all (TypeError); 'range': an integer outside the bounds (RangeError). */
  kind: 'type' | 'range';
  /** Says what is wanted and what was given, e.g. "must be between 1 and 64, got 0". */
  message: string;
}

/**
 * Null when `v` is an integer in [min, max] (or -1 with `unlimited`); otherwise what is wrong with it.
 */
export function integerProblem(v: unknown, min: number, max: number, unlimited = false): IntegerProblem | null {
  if (typeof v !== 'number' || !Number.isInteger(v)) return { kind: 'type', message: `must be an integer, got ${String(v)}` };
  if (unlimited && v === -1) return null;
  if (v < min || v > max) return { kind: 'range', message: `must be between ${min} and ${max}${unlimited ? ' (or -1 for no limit)' : ''}, got ${v}` };
  return null;
}

/** Whether `v` is one of `allowed` (a const list of names), narrowing it. */
export function isOneOf<T extends string>(allowed: readonly T[], v: unknown): v is T {
  return (allowed as readonly unknown[]).includes(v);
}

/** `v` itself when it is one of `allowed`; otherwise a TypeError: "<name> must be 'a' or 'b', got …". */
export function requireOneOf<T extends string>(name: string, allowed: readonly T[], v: unknown): T {
  if (isOneOf(allowed, v)) return v;
  const quoted = allowed.map((a) => `'${a}'`);
  throw new TypeError(`${name} must be ${quoted.slice(0, -1).join(', ')} or ${quoted[quoted.length - 1]!}, got ${JSON.stringify(v)}`);
}
