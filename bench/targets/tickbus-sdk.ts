// Target `tickbus-sdk`: the same broker as `tickbus` (its server side is tickbus.ts's startTickbusServer),
// driven through the project's SDK (client/) instead of the raw wire protocol, with the SDK's defaults
// (lingerMs 0, maxInFlight 5, checkCrcs on, 1 MiB credit window per partition). So the comparison with
// `tickbus` is what the SDK itself costs: a send() promise per message, batching per event-loop turn,
// idempotent sequences, CRC checks of every received batch, record objects, Credit frames.
//
// Every publisher and every subscriber is its own client (connect(): bootstrap connection + owner
// connection), as separate applications would be.
import { connect, ErrorCode, TickbusError } from '../../client/index.js';
import type { Bus, Subscription } from '../../client/index.js';
import { TargetError, withTimeout } from '../errors.js';
import { startTickbusServer } from './tickbus.js';
import type { Endpoint, Publisher, PublisherOptions, Sink, Subscriber, SubscriberOptions, Target, TargetClient } from './target.js';

/** How often connectSubscriber looks whether the broker answered every partition's Subscribe. */
const READY_POLL_MS = 2;

function sdkError(what: string, err: unknown): Error {
  if (err instanceof TickbusError) return new TargetError(`tickbus-sdk ${what}: ${err.message} (${err.code})`);
  return new TargetError(`tickbus-sdk ${what}: ${err instanceof Error ? err.message : String(err)}`);
}

const client: TargetClient = {
  async connectPublisher(ep: Endpoint, opts: PublisherOptions): Promise<Publisher> {
    const bus = await connect({ brokers: [ep.url], clientId: 'tickbus-bench-sdk-producer', lingerMs: 0 });
    try {
      // Fills the SDK's metadata cache: the first send() goes straight to its partition pipeline. The owner
      // connection still opens on the first send (in the harness's warm-up): the SDK has no call to open it.
      await bus.admin.describeTopic(ep.channel);
    } catch (err) {
      await bus.close().catch(() => undefined);
      throw sdkError(`describeTopic '${ep.channel}'`, err);
    }
    const acks = opts.acks;
    const sendOpts = { acks, partition: opts.partition % ep.partitions };
    let closed = false;
    /** Sends refused with BUFFER_FULL: the SDK's backpressure at saturation (counted, not a failure). */
    let refused = 0;
    const onError = (err: unknown): void => {
      if (closed) return;
      if (err instanceof TickbusError && err.code === ErrorCode.BUFFER_FULL) {
        // Like a relay dropping what it cannot queue: the message is not delivered, and the harness
        // reports the point saturated (delivered < sent) instead of failed.
        refused++;
        return;
      }
      opts.onError?.(sdkError('send', err));
    };
    return {
      // With acks 'none' send() resolves once the batch is handed to the socket: that is not an ack.
      acknowledges: acks !== 'none',
      publish: (payload, seq) => {
        // The harness reuses `payload`; the SDK keeps the value until the batch is encoded (end of this turn).
        const value = payload.slice();
        // Open loop: never awaited here; each send's promise reports its own ack.
        const p = bus.send(ep.channel, [{ value }], sendOpts);
        if (acks === 'none') p.catch(onError);
        else p.then(() => opts.onAck?.(seq), onError);
      },
      // Bytes accepted by send() and not yet acknowledged (or, with acks none, not yet handed to the socket).
      backlogBytes: () => bus.bufferedBytes,
      close: async () => {
        try {
          await bus.close(); // flushes: waits for outstanding acks
        } finally {
          closed = true;
          if (refused > 0) process.stderr.write(`tickbus-sdk: ${refused} sends refused with BUFFER_FULL (bufferMemoryBytes)\n`);
        }
      },
    };
  },

  async connectSubscriber(ep: Endpoint, opts: SubscriberOptions, sink: Sink): Promise<Subscriber> {
    const bus: Bus = await connect({ brokers: [ep.url], clientId: 'tickbus-bench-sdk-subscriber' });
    const partitions = opts.partitions ?? Array.from({ length: ep.partitions }, (_, i) => i);
    let sub: Subscription | null = null;
    try {
      // creditBytes: the SDK default window (1 MiB per partition), also for bulk (replay) reads.
      const s = bus.subscribe(ep.channel, { from: opts.from, partitions });
      sub = s;
      // Set by the 'error' listener: the cast keeps the compiler from narrowing it to null below.
      let failure = null as Error | null;
      // Without an 'error' listener a callback subscription throws its errors as uncaught exceptions.
      s.on('error', (err) => {
        failure ??= sdkError(`subscription to '${ep.channel}'`, err);
      });
      s.on('record', (r) => {
        if (r.value !== null) sink(r.value);
      });
      // The SDK has no event for a first SubscribeOk ('resume' is for resubscribes). positions() holds a
      // partition once its SubscribeOk arrived (start offset known): from then on the broker delivers to it.
      const ready = (async (): Promise<void> => {
        for (;;) {
          if (failure) throw failure;
          if (s.closed) throw new TargetError(`tickbus-sdk subscription to '${ep.channel}' closed before it was registered`);
          if (s.positions().size >= partitions.length) return;
          await new Promise((r) => setTimeout(r, READY_POLL_MS));
        }
      })();
      await withTimeout(ready, 10_000, `tickbus-sdk subscribe to '${ep.channel}' (SubscribeOk for ${partitions.length} partitions)`);
    } catch (err) {
      await Promise.allSettled([sub?.close(), bus.close()]);
      throw err;
    }
    return { close: () => bus.close() };
  },
};

export const tickbusSdkTarget: Target = {
  name: 'tickbus-sdk',
  unsupported: () => null,
  describe: (mode, acks) => (mode === 'live' ? `SDK (client/, lingerMs 0), acks ${acks}` : `SDK (client/, lingerMs 0), acks ${acks} (group commit fdatasync)`),
  client,
  start: (opts) => startTickbusServer(opts, 'tickbus-sdk'),
};
