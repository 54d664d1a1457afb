// Choosing a partition's leader, and the ISR that goes with it, as a pure function the controller
// calls (Kafka PartitionLeaderElectionAlgorithms.offlinePartitionLeaderElection and the ISR update
// of KafkaController.onReplicasBecomeOffline). The controller writes the result to etcd with a new
// leader epoch in one transaction; nothing here knows etcd.

export interface ElectionInput {
  /** The partition's replicas in preference order (the first is the preferred leader). */
  readonly replicas: readonly number[];
  /** The committed ISR. */
  readonly isr: readonly number[];
  /** Is this broker alive (holds its membership lease)? */
  readonly isAlive: (brokerId: number) => boolean;
  /** unclean.leader.election.enable: off by default (BRIEF: consistency over availability). */
  readonly unclean: boolean;
  /**
   * Did this broker register again since the ISR was written (a restart)? It may have come back without
   * an unsynced tail, or with a damaged segment cut on open, before its leader could see it fetch short
   * and drop it from the ISR (replica-set.ts). Absent: nobody restarted.
   */
  readonly restarted?: (brokerId: number) => boolean;
}

export type ElectionResult =
  /** `unclean` true: the leader was not in the ISR and may lack committed records; log it loudly. */
  | { readonly leader: number; readonly isr: number[]; readonly unclean: boolean }
  /** No eligible replica: the partition is offline; the ISR is kept as it was, so that the first ISR
   * member to come back can lead cleanly. */
  | { readonly leader: null; readonly isr: number[]; readonly unclean: false };

/**
 * The first replica in preference order that is alive and in the ISR (only an ISR member is known to
 * hold every committed record). ISR members that restarted since the ISR was written come after every
 * live one that did not, and leave the ISR when one of those leads: they rejoin by catching up. With
 * `unclean` and no live ISR member, the first live replica, and the ISR restarts as just that leader
 * (Kafka: the ISR becomes [leader] after an unclean election).
 */
export function electLeader(input: ElectionInput): ElectionResult {
  const restarted = input.restarted;
  const steady = restarted ? input.isr.filter((r) => !restarted(r)) : input.isr;
  const isr = steady.some(input.isAlive) ? steady : input.isr;
  const clean = input.replicas.find((r) => isr.includes(r) && input.isAlive(r));
  if (clean !== undefined) {
    return { leader: clean, isr: isrWithoutDead(input.replicas, isr, clean, input.isAlive), unclean: false };
  }
  if (input.unclean) {
    const any = input.replicas.find((r) => input.isAlive(r));
    if (any !== undefined) return { leader: any, isr: [any], unclean: true };
  }
  return { leader: null, isr: input.replicas.filter((r) => input.isr.includes(r)), unclean: false };
}

/**
 * The ISR minus dead brokers, for a new leader or when a follower's broker dies (Kafka's controller
 * removes an offline replica from the ISR so that it cannot be elected with whatever it lost). The
 * leader stays: while a leader exists the ISR is never empty, and if it is the last, ISR = [leader].
 */
export function isrWithoutDead(
  replicas: readonly number[],
  isr: readonly number[],
  leader: number,
  isAlive: (brokerId: number) => boolean,
): number[] {
  return replicas.filter((r) => r === leader || (isr.includes(r) && isAlive(r)));
}
