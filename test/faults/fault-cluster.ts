// The cluster a fault run breaks: one etcd and N broker processes (node ids 1..N, plus spare ids for a
// member change), every broker's traffic to etcd through its own NemesisProxy and every broker-to-broker
// replication link through a proxy per ordered pair (follower → leader), so the nemesis can cut one broker
// from etcd or one side of the cluster from the other while clients still reach every broker directly.
//
// Not test/helpers/cluster.ts: the proxies must exist before the brokers start (each broker's etcd URL and its
// TICKBUS_TEST_PEER_ROUTES name them), so every owner port is chosen up front.
import type { MetadataResult } from '../helpers/wire-client.js';
import { metadata } from '../helpers/wire-client.js';
import { type BrokerProcess, stablePorts, startBroker } from '../helpers/broker.js';
import { runCli } from '../helpers/cli.js';
import { type EtcdProcess, startEtcd } from '../helpers/etcd.js';
import { NemesisProxy } from './nemesis-proxy.js';

export interface FaultClusterOptions {
  brokers: number;
  /** Extra node ids (brokers + 1 ...) prepared for a member change, started only when asked. */
  spares: number;
  leaseTtlMs: number;
  /** Extra `tickbus broker` arguments for every broker. */
  args: string[];
  /** Write the sync ledger (lose-unsynced needs it). */
  syncLedger: boolean;
  clusterName?: string;
}

export type NodeState = 'down' | 'up' | 'paused';

export interface FaultNode {
  id: number;
  ownerPort: number;
  etcdProxy: NemesisProxy;
  process: BrokerProcess | null;
  state: NodeState;
  /** A member of the cluster (spares are not until a member change adds them). */
  member: boolean;
}

/** Rejects after `ms`: a paused broker accepts a connection and never answers. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms).unref())]);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class FaultCluster {
  readonly nodes = new Map<number, FaultNode>();
  /** `${from}>${to}`: the proxy `from` dials to reach `to`'s owner (replication). */
  readonly links = new Map<string, NemesisProxy>();
  readonly clusterName: string;

  private constructor(
    readonly etcd: EtcdProcess,
    private readonly opts: FaultClusterOptions,
  ) {
    this.clusterName = opts.clusterName ?? 'faults';
  }

  static async start(opts: FaultClusterOptions): Promise<FaultCluster> {
    const etcd = await startEtcd();
    const etcdPort = Number(new URL(etcd.url).port);
    const c = new FaultCluster(etcd, opts);
    try {
      const total = opts.brokers + opts.spares;
      for (let id = 1; id <= total; id++) {
        const etcdProxy = await NemesisProxy.start({ targetPort: etcdPort });
        c.nodes.set(id, { id, ownerPort: await stablePorts(), etcdProxy, process: null, state: 'down', member: id <= opts.brokers });
      }
      for (const from of c.nodes.values()) {
        for (const to of c.nodes.values()) {
          if (from.id !== to.id) c.links.set(`${from.id}>${to.id}`, await NemesisProxy.start({ targetPort: to.ownerPort }));
        }
      }
      await Promise.all([...c.nodes.values()].filter((n) => n.member).map((n) => c.startNode(n.id)));
      // Every member registered and a controller elected, as each broker sees it: a CreateTopic with
      // replication factor 3 sent before that is refused (the receiving broker counts live brokers).
      await c.waitForMembers(30_000);
    } catch (err) {
      await c.stop();
      throw err;
    }
    return c;
  }

  /** Until every member's /healthz lists every member and a controller (bounded). */
  async waitForMembers(ms: number): Promise<void> {
    const members = this.memberIds();
    const end = Date.now() + ms;
    for (;;) {
      const seen = await Promise.all(
        members.map(async (id) => {
          const p = this.node(id).process;
          if (!p) return false;
          const r = await fetch(`http://127.0.0.1:${p.port}/healthz`).catch(() => null);
          const h = r ? ((await r.json().catch(() => null)) as { cluster?: { brokers: number[]; controllerId: number | null } } | null) : null;
          return h?.cluster !== undefined && members.every((m) => h.cluster!.brokers.includes(m)) && h.cluster.controllerId !== null;
        }),
      );
      if (seen.every(Boolean)) return;
      if (Date.now() > end) throw new Error(`brokers did not all see each other and a controller within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  node(id: number): FaultNode {
    const n = this.nodes.get(id);
    if (!n) throw new RangeError(`no node ${id}`);
    return n;
  }

  /** Members whose process runs and is not stopped. */
  liveIds(): number[] {
    return [...this.nodes.values()].filter((n) => n.member && n.state === 'up').map((n) => n.id);
  }

  memberIds(): number[] {
    return [...this.nodes.values()].filter((n) => n.member).map((n) => n.id);
  }

  bootstrapUrls(): string[] {
    return [...this.nodes.values()].filter((n) => n.process !== null).map((n) => n.process!.url);
  }

  /** Starts a node that never ran, or restarts one that was killed or stopped. */
  async startNode(id: number): Promise<void> {
    const n = this.node(id);
    if (n.state !== 'down') return;
    if (n.process) await n.process.restart();
    else {
      const routes: Record<string, string> = {};
      for (const other of this.nodes.values()) {
        if (other.id !== id) routes[`ws://127.0.0.1:${other.ownerPort}/`] = `ws://127.0.0.1:${this.links.get(`${id}>${other.id}`)!.port}/`;
      }
      // prettier-ignore
      const args = [
        '--cluster', `etcd://127.0.0.1:${n.etcdProxy.port}`, '--cluster-name', this.clusterName, '--node-id', String(id),
        '--zone', `z${id}`, '--owners', '1', '--owner-base-port', String(n.ownerPort), '--lease-ttl-ms', String(this.opts.leaseTtlMs),
        ...this.opts.args,
      ];
      const env: Record<string, string> = { TICKBUS_TEST_PEER_ROUTES: JSON.stringify(routes) };
      if (this.opts.syncLedger) env.TICKBUS_TEST_SYNC_LEDGER = '1';
      n.process = await startBroker({ args, env, timeoutMs: 30_000 });
    }
    n.state = 'up';
    n.member = true;
  }

  async kill9(id: number): Promise<void> {
    const n = this.node(id);
    if (!n.process || n.state === 'down') return;
    if (n.state === 'paused') process.kill(n.process.pid, 'SIGCONT');
    await n.process.kill9();
    n.state = 'down';
  }

  /**
   * What an operator runs before a broker leaves for good: `tickbus cluster drain ID`, straight to etcd (not
   * through a broker's proxy). Its replicas and leaderships move to the other brokers. True once it holds
   * nothing; false when the moves did not finish within `waitMs` (they go on; the drain stays).
   */
  async drain(id: number, waitMs = 25_000): Promise<boolean> {
    const r = await runCli(['cluster', 'drain', String(id), ...this.clusterArgs(), '--wait-ms', String(waitMs)]);
    if (r.code !== 0 && r.code !== 1) throw new Error(`tickbus cluster drain ${id} exited with ${r.code}: ${r.stderr.trim()}`);
    return r.code === 0;
  }

  /** `tickbus cluster undrain ID`: the broker may hold replicas again (a spare that joins once more). */
  async undrain(id: number): Promise<void> {
    const r = await runCli(['cluster', 'undrain', String(id), ...this.clusterArgs()]);
    if (r.code !== 0) throw new Error(`tickbus cluster undrain ${id} exited with ${r.code}: ${r.stderr.trim()}`);
  }

  private clusterArgs(): string[] {
    return ['--cluster', `etcd://127.0.0.1:${new URL(this.etcd.url).port}`, '--cluster-name', this.clusterName];
  }

  /** Graceful stop (SIGTERM): what a decommission does. */
  async stopNode(id: number): Promise<void> {
    const n = this.node(id);
    if (!n.process || n.state === 'down') return;
    if (n.state === 'paused') process.kill(n.process.pid, 'SIGCONT');
    await n.process.stop();
    n.state = 'down';
  }

  pause(id: number): void {
    const n = this.node(id);
    if (n.state !== 'up' || !n.process) return;
    process.kill(n.process.pid, 'SIGSTOP');
    n.state = 'paused';
  }

  resume(id: number): void {
    const n = this.node(id);
    if (n.state !== 'paused' || !n.process) return;
    process.kill(n.process.pid, 'SIGCONT');
    n.state = 'up';
  }

  /** Cuts every replication link between the two sides, both ways. */
  cutBetween(a: number[], b: number[], mode: 'reset' | 'blackhole'): void {
    for (const x of a) {
      for (const y of b) {
        this.links.get(`${x}>${y}`)?.cut(mode);
        this.links.get(`${y}>${x}`)?.cut(mode);
      }
    }
  }

  healAll(): void {
    for (const p of this.links.values()) p.heal();
    for (const n of this.nodes.values()) n.etcdProxy.heal();
  }

  /** Metadata of `topic` from the first live broker (not excluded) that answers within 2 s, or null. */
  async metadata(topic: string, exclude: readonly number[] = []): Promise<MetadataResult | null> {
    for (const id of this.liveIds()) {
      if (exclude.includes(id)) continue;
      try {
        const md = await within(metadata(this.node(id).process!.url, [topic]), 2_000, `metadata from broker ${id}`);
        if (md.topics[0]) return md;
      } catch {
        // next broker
      }
    }
    return null;
  }

  /** Every process stopped (SIGCONT first, SIGKILL past a bound), every proxy closed, etcd stopped. */
  async stop(): Promise<void> {
    await Promise.allSettled(
      [...this.nodes.values()].map(async (n) => {
        if (n.process && n.state !== 'down') {
          if (n.state === 'paused') process.kill(n.process.pid, 'SIGCONT');
          await n.process.stop();
          n.state = 'down';
        }
      }),
    );
    await Promise.allSettled([...this.links.values(), ...[...this.nodes.values()].map((n) => n.etcdProxy)].map((p) => p.close()));
    this.etcd.resume();
    await this.etcd.stop().catch(() => undefined);
  }
}
