// Limits that the broker and the SDK must agree on, in one place both import: a number kept in two
// places drifts (the broker once remembered 5 batches per producer while the SDK let 1024 fly).

/**
 * The idempotence window: how many of a producer's latest batches the broker remembers per partition
 * (broker/log/producer-state.ts), and so the most batches the SDK lets a partition have sent beyond its
 * oldest unanswered one (client/options.ts maxInFlight). Every batch the SDK may retry is then still
 * remembered, and answered with its original offset instead of being written twice.
 *
 * Why 16 and not Kafka's 5: with lingerMs 0 each event-loop turn's records are one batch, and with
 * acks 'durable' a batch waits for an fsync, so the batches in flight are what shares each fsync.
 * Measured on the 2-core VM (one partition, --fsync always, acks durable, one 100-byte record per
 * send() per turn, two runs while other tests ran): maxInFlight 1: 3.2k records/s; 5: 7.3k-12.2k/s;
 * 16: 11.1k-24.4k/s, 1.5-2x. The cost is memory on the broker: each
 * remembered producer keeps three Float64Arrays of this length (16 × 3 × 8 = 384 bytes of ring, about
 * 0.7 KB with the array headers, against about 0.4 KB at 5), at most 10 000 producers per partition
 * (≈ 7 MB worst case per partition), plus up to ~35 bytes per batch in producers.snapshot (JSON).
 */
export const IDEMPOTENCE_WINDOW = 16;
