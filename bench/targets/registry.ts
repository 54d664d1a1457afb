// Every target by name. Worker threads look their target up here from the Endpoint they are given.
import { BenchUsageError } from '../errors.js';
import type { Target, TargetName } from './target.js';
import { TARGET_NAMES } from './target.js';
import { natsTarget } from './nats.js';
import { redisTarget } from './redis.js';
import { tickbusAuthTarget, tickbusTarget, tickbusTlsTarget } from './tickbus.js';
import { tickbusSdkTarget } from './tickbus-sdk.js';
import { uwsRelayTarget } from './uws-relay.js';

const TARGETS: Partial<Record<TargetName, Target>> = {
  tickbus: tickbusTarget,
  'tickbus-sdk': tickbusSdkTarget,
  'tickbus-tls': tickbusTlsTarget,
  'tickbus-auth': tickbusAuthTarget,
  'uws-relay': uwsRelayTarget,
  nats: natsTarget,
  redis: redisTarget,
};

export function targetByName(name: string): Target {
  const t = (TARGET_NAMES as readonly string[]).includes(name) ? TARGETS[name as TargetName] : undefined;
  if (!t) throw new BenchUsageError(`unknown target '${name}'; known: ${Object.keys(TARGETS).join(', ')}`);
  return t;
}

export function knownTargets(): TargetName[] {
  return Object.keys(TARGETS) as TargetName[];
}
