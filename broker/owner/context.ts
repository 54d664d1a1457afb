// What an owner's request handlers and sweeps share: one object built once by the Owner, so each
// handler is a plain function of (context, connection, frame) with nothing hidden.
import type { BrokerConfig } from '../config.js';
import type { Edge } from '../edge/session.js';
import type { PrincipalQuotas } from '../limits/quotas.js';
import type { OwnerCounters } from './counters.js';
import type { PartitionRegistry } from './partition-registry.js';
import type { CatchUpPump, ConnState } from './subscription.js';

export interface OwnerContext {
  readonly ownerId: number;
  readonly config: BrokerConfig;
  readonly registry: PartitionRegistry;
  readonly edge: Edge<ConnState>;
  readonly counters: OwnerCounters;
  readonly pump: CatchUpPump;
  /** Produce/consume byte rates per principal, this owner's share (limits/quotas.ts). */
  readonly quotas: PrincipalQuotas;
}
