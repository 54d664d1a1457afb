// One broker node: the topic catalogue, the partition owners, the bootstrap endpoint and the
// consumer-group coordinator, started and stopped in order.
import { ErrorCode, TickbusError } from '../../schemas/errors.js';
import type { Frame } from '../../schemas/frames.js';
import { type BrokerConfig, type BrokerConfigInput, resolveConfig } from '../config.js';
import { GroupCoordinator } from '../groups/coordinator.js';
import { sweepDeletedPartitions } from '../log/partition-log.js';
import { logLine } from '../logger.js';
import { Acl, EMPTY_ACL } from '../security/acl.js';
import { AclFileSource } from '../security/acl-file.js';
import { AclRecordFollower } from '../security/acl-record.js';
import { isLoopbackHost } from '../security/auth-config.js';
import { checkTlsFiles } from '../tls/endpoint-app.js';
import { BootstrapServer } from './bootstrap.js';
import type { AdminFrame, Catalogue } from './catalogue.js';
import { ClusterCatalogue } from './cluster-mode.js';
import { LocalCatalogue } from './local-catalogue.js';
import { MAX_LAG_SERIES, renderMetrics } from './metrics.js';
import { Supervisor } from './supervisor.js';
import { tuneV8ForLatency } from './v8-tuning.js';

export interface RunningBroker {
  url: string;
  port: number;
  config: BrokerConfig;
  owners(): { id: number; url: string; up: boolean; restarts: number }[];
  /**
   * Re-reads the TLS certificate and key files (SIGHUP): every endpoint serves new connections with
   * them; open connections keep the certificate they were opened with. Rejects, keeping the old
   * certificate, when the files are unreadable or do not pair.
   */
  reloadTls(): Promise<void>;
  /** Test hook (config.testHooks): an uncaught exception inside one owner. */
  injectOwnerFault(ownerId: number): Promise<void>;
  close(): Promise<void>;
}

export async function startBroker(partial: BrokerConfigInput = {}): Promise<RunningBroker> {
  const config = resolveConfig(partial);
  tuneV8ForLatency();
  // Bad certificate files fail the start here, naming the file, rather than inside each owner thread.
  if (config.tls) checkTlsFiles(config.tls);
  // The one place single node and cluster differ: where topics, partitions and their roles come from.
  const local = config.cluster ? null : new LocalCatalogue(config);
  let cluster: ClusterCatalogue | null = null;
  const catalogue = (): Catalogue => (local ?? cluster)!;
  if (!config.auth && !isLoopbackHost(config.host)) {
    logLine('WARNING: authentication is off on a non-loopback address (--insecure): anyone who reaches this port may read, write and delete every topic', { host: config.host });
  }
  // ACLs (auth on only): single node from a file in the data directory, cluster from etcd. Owners get
  // the rules when they start and again on every change; the bootstrap reads the current ones per request.
  let acl: Acl | null = config.auth ? EMPTY_ACL : null;
  const pushAcl = (ownerIds: number[]): void => {
    if (!acl) return;
    const rules = [...acl.rules];
    for (const id of ownerIds) {
      // A restarting owner misses this; it gets the rules at its start (aclRules) and again when ready.
      supervisor.request(id, { type: 'acls', rules }).catch((err: unknown) => logLine('ACL update not delivered to an owner', { owner: id, error: String(err) }));
    }
  };
  const setAcl = (next: Acl): void => {
    acl = next;
    pushAcl(supervisor.status().map((o) => o.id));
  };
  const aclFile = config.auth && !config.cluster ? new AclFileSource(config.dataDir, setAcl) : null;
  if (aclFile) acl = aclFile.current;
  // Cluster: the acls record in etcd, followed from the moment this broker joins (nothing allowed before).
  const aclRecord = config.auth && config.cluster ? new AclRecordFollower(setAcl) : null;
  const supervisor = new Supervisor(config, (ownerId) => catalogue().topicsFor(ownerId), {
    ownerReady: (ownerId) => {
      pushAcl([ownerId]);
      cluster?.ownerReady(ownerId);
    },
    proposeIsr: (m) => cluster?.proposeIsr(m),
    aclRules: () => (acl ? [...acl.rules] : []),
  });
  if (config.cluster) {
    sweepDeletedPartitions(config.dataDir);
    cluster = new ClusterCatalogue(config, config.cluster, supervisor);
  }
  if (local) local.supervisor = supervisor;
  await supervisor.start();

  let bootstrap: BootstrapServer | null = null;
  const coordinator = GroupCoordinator.open({
    dataDir: config.dataDir,
    partitionsOf: (topic) => catalogue().partitionsOf(topic),
    send: (connId, frame) => bootstrap?.send(connId, frame),
  });

  async function admin(frame: AdminFrame): Promise<Frame> {
    const answer = await catalogue().admin(frame);
    if (frame.type === 'DeleteTopic') coordinator.topicDeleted(frame.name);
    return answer;
  }

  const groupTimer = setInterval(() => coordinator.tick(), 100);
  groupTimer.unref();

  bootstrap = new BootstrapServer(config, {
    admin,
    acl: () => acl,
    group: (connId, frame) => coordinator.handle(connId, frame),
    connectionClosed: (connId) => coordinator.connectionClosed(connId),
    health: () => {
      const owners = supervisor.status();
      const c = catalogue().health();
      const ok = owners.every((o) => o.up) && c.ok;
      return { ok, body: { status: ok ? 'ok' : 'degraded', brokerId: config.brokerId, owners, ...c.fields } };
    },
    metrics: async () =>
      renderMetrics(supervisor.status(), supervisor.counterBuffers(), await supervisor.stats(MAX_LAG_SERIES), cluster?.metricsSource() ?? null),
    ...(config.testHooks ? { injectOwnerFault: async (id: number) => {
          await supervisor.injectFault(id);
        }, ownerRestartHold: { hold: (id: number) => supervisor.holdRestart(id), release: (id: number) => supervisor.releaseRestart(id) } } : {}),
  });
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  let port: number;
  try {
    port = await bootstrap.listen(config.host, config.port);
    // Cluster mode registers only now: the record it writes names endpoints that must already answer.
    await cluster?.join(`${bootstrap.scheme}://${host}:${port}/`, supervisor.status().map((o) => supervisor.endpoint(o.id)));
    const node = cluster?.clusterNode;
    if (aclRecord && node) {
      const follow = (): void => aclRecord.update(node.view.acls);
      node.onChange(follow);
      follow();
    }
  } catch (err) {
    // Owners hold uWS listen sockets: stop them cleanly before failing, or the process aborts on exit.
    clearInterval(groupTimer);
    await bootstrap.close(new TickbusError(ErrorCode.SHUTTING_DOWN, 'broker failed to start'));
    await supervisor.stop();
    coordinator.close();
    throw err;
  }
  let closed: Promise<void> | null = null;

  return {
    url: `${bootstrap.scheme}://${host}:${port}/`,
    port,
    config,
    owners: () => supervisor.status().map((o) => ({ id: o.id, url: supervisor.endpoint(o.id), up: o.up, restarts: o.restarts })),
    reloadTls: async () => {
      const tls = config.tls;
      if (!tls) throw new TickbusError(ErrorCode.INVALID_CONFIG, 'TLS is not configured: nothing to reload');
      // Checks the files first (EndpointApp.reload): bad ones reject here, before any owner is asked.
      await bootstrap.reloadTls(tls);
      // An owner that is restarting reads the files when it starts: it needs no message.
      await Promise.all(supervisor.status().filter((o) => o.up).map((o) => supervisor.request(o.id, { type: 'reloadTls' })));
    },
    injectOwnerFault: async (ownerId) => {
      await supervisor.injectFault(ownerId);
    },
    close: () => {
      closed ??= (async () => {
        clearInterval(groupTimer);
        const err = new TickbusError(ErrorCode.SHUTTING_DOWN, 'broker is shutting down; reconnect to resume');
        await bootstrap.close(err);
        // Leave the cluster before the owners stop: our lease revoked, others take over our leaderships now.
        await cluster?.close();
        await supervisor.stop();
        coordinator.close();
        aclFile?.close();
      })();
      return closed;
    },
  };
}
