// One adapter interface for every system the harness drives. A target has two halves:
//  - the server side (start/stop a server on a free loopback port with its own temp dir, create the
//    channel a run uses), which lives in the harness's main thread;
//  - the client side (connect a publisher or a subscriber from an Endpoint), which may run in the main
//    thread or inside a subscriber worker thread/process. Endpoint is plain JSON for that reason.
// The harness never looks inside a payload's transport framing: a publisher takes the payload bytes,
// a subscriber hands them back. Everything else (timestamps, counting) belongs to the harness.

export const TARGET_NAMES = ['tickbus', 'uws-relay', 'nats', 'redis', 'tickbus-sdk', 'tickbus-tls', 'tickbus-auth'] as const;
export type TargetName = (typeof TARGET_NAMES)[number];

/** live: fire-and-forget pub/sub (or acks leader). durable: the write is on disk before it is acknowledged. */
export type Mode = 'live' | 'durable';
export type Acks = 'none' | 'leader' | 'durable';

/** How a client reaches one channel of a started server. Serializable: crosses thread and process boundaries. */
export interface Endpoint {
  target: TargetName;
  mode: Mode;
  /** ws://, nats://host:port or redis://host:port */
  url: string;
  /** Topic, subject, channel or stream key. */
  channel: string;
  partitions: number;
  /** Target-specific extras (for tickbus: owner endpoint per partition). */
  extra: Record<string, string | number | string[]>;
}

export interface PublisherOptions {
  acks: Acks;
  /** Partition (tickbus) this publisher writes to; others ignore it. */
  partition: number;
  /** Called once per acknowledged message, in the order the target acknowledges them. */
  onAck?: (seq: number) => void;
  /** Called when the target rejects a message or the connection fails. */
  onError?: (err: Error) => void;
}

export interface Publisher {
  /** True when this publisher calls onAck (tickbus acks leader/durable, JetStream, Redis XADD). */
  readonly acknowledges: boolean;
  /**
   * Sends one message now. `payload` is only valid during the call (the harness reuses it):
   * copy it if it must outlive the call. `seq` is the harness's sequence number (for acks).
   */
  publish(payload: Uint8Array, seq: number): void;
  /** Bytes accepted by publish() but not yet written to the socket (0 when the client cannot tell). */
  backlogBytes(): number;
  close(): Promise<void>;
}

export interface SubscriberOptions {
  from: 'latest' | 'earliest';
  /** Durable reads that may lag the head (replay): a hint to use large read batches. */
  bulk?: boolean;
  /** Partitions to read (tickbus); default all. */
  partitions?: number[];
}

/** Receives each message's payload bytes, valid only during the call. */
export type Sink = (payload: Uint8Array) => void;

export interface Subscriber {
  close(): Promise<void>;
}

export interface TargetClient {
  /** Resolves when the publisher can publish. */
  connectPublisher(ep: Endpoint, opts: PublisherOptions): Promise<Publisher>;
  /** Resolves only when the server has registered the subscription: a message published after it arrives. */
  connectSubscriber(ep: Endpoint, opts: SubscriberOptions, sink: Sink): Promise<Subscriber>;
}

export interface ChannelSpec {
  name: string;
  mode: Mode;
  partitions: number;
}

export interface RunningServer {
  /** Server software and version, for the report. */
  readonly version: string;
  /** Process ids of the server (for its CPU time in the report); empty for a server the bench did not start. */
  readonly pids: number[];
  /** Creates (or names) a fresh channel for one run. */
  prepare(spec: ChannelSpec): Promise<Endpoint>;
  /** Writes `count` messages of `size` bytes (payload made by `fill(seq)`) as fast as the target takes them, for replay. */
  preload?(ep: Endpoint, count: number, fill: (seq: number) => Uint8Array, onProgress?: (n: number) => void): Promise<void>;
  /** Drops a channel's data when the run is over (durable streams, topics). */
  release?(ep: Endpoint): Promise<void>;
  stop(): Promise<void>;
}

export interface StartOptions {
  mode: Mode;
  /** tickbus only: measure an already running broker at this bootstrap URL instead of starting one. */
  brokerUrl?: string;
}

export type LoadScenario = 'latency' | 'fanout' | 'durable' | 'replay';

export interface Target {
  readonly name: TargetName;
  /** Why a scenario cannot run on this target, or null when it can. */
  unsupported(scenario: LoadScenario): string | null;
  /** What this target does in a mode, for the report ("NATS core pub/sub", "JetStream, file storage"...). */
  describe(mode: Mode, acks: Acks): string;
  start(opts: StartOptions): Promise<RunningServer>;
  /**
   * Rejects with a BENCH_PEER_MISSING error (PeerLibraryMissingError, PeerMissingError) when something this
   * target needs from outside the package is not installed: a client library, a server binary. Absent for
   * targets that need nothing more than tickbus's own dependencies.
   */
  checkPeer?(): Promise<void>;
  readonly client: TargetClient;
}
