// One partition as its owner sees it: the log it is the single writer of, and the live stream
// its subscribers receive. Append and publish happen in the same synchronous step, so a
// subscriber that joins the live stream at `log.nextOffset` can never miss or repeat a batch.
import type { TemplatedApp } from 'uWebSockets.js';
import { encodeFrameView } from '../../schemas/frames.js';
import type { AppendResult, PartitionLog } from '../log/partition-log.js';
import type { Subscription } from './subscription.js';

export class Partition {
  /** uWS pub/sub topic of the live stream; carries the topic incarnation so a re-created topic is a new stream. */
  readonly liveKey: string;
  /** Fencing token for replication; one node keeps epoch 0. */
  leaderEpoch = 0;
  readonly subscriptions = new Set<Subscription>();
  /** Live subscriptions with a credit window: the only ones publish() must account per subscriber. */
  readonly creditLimited = new Set<Subscription>();

  constructor(
    readonly topic: string,
    readonly topicId: number,
    readonly partition: number,
    readonly log: PartitionLog,
    private readonly app: TemplatedApp,
  ) {
    this.liveKey = `${topicId}/${topic}/${partition}`;
  }

  /**
   * Appends one producer batch (stamped in place inside `batch`) and publishes it to the live stream.
   * The Deliver frame is built once; uWS copies it to every subscriber in C++.
   */
  appendAndPublish(batch: Uint8Array, appendTimeUs: number): AppendResult {
    const res = this.log.append(batch, 0, batch.length, this.leaderEpoch, appendTimeUs);
    if (!res.duplicate && this.app.numSubscribers(this.liveKey) > 0) {
      const frame = encodeFrameView({
        type: 'Deliver',
        topic: this.topic,
        partition: this.partition,
        highWatermark: this.log.nextOffset,
        live: true,
        batches: batch,
      });
      this.app.publish(this.liveKey, frame, true, false);
      if (this.creditLimited.size > 0) for (const sub of this.creditLimited) sub.spendLiveCredit(frame.length);
    }
    return res;
  }
}
