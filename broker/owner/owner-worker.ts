// Entry point of a partition-owner thread. Wires the Owner to the supervisor's control messages
// and contains its faults: an uncaught error closes every uWS handle first (a worker that ends
// with uWS handles open aborts the whole process), tells the supervisor, then exits. The
// supervisor restarts the owner; its partitions recover from disk; clients reconnect and resume.
import { parentPort, workerData } from 'node:worker_threads';
import { asTickbusError, ErrorCode, TickbusError } from '../../schemas/errors.js';
import { CloseCode } from '../edge/session.js';
import { logLine } from '../logger.js';
import type { FromOwner, OwnerInit, ToOwner } from './messages.js';
import { Owner } from './owner.js';

const init = workerData as OwnerInit;
const port = parentPort;
if (!port) throw new Error('owner-worker must run in a worker thread');

const post = (m: FromOwner): void => port.postMessage(m);
const owner = new Owner(init.ownerId, init.config, init.counters);
owner.setAcl(init.acls ?? []);
let failing = false;
const EXIT_GRACE_MS = 50;

async function fail(err: unknown): Promise<void> {
  if (failing) return;
  failing = true;
  const e = asTickbusError(err);
  logLine('owner failed', { owner: init.ownerId, error: e.message });
  try {
    await owner.close(
      new TickbusError(ErrorCode.OWNER_UNAVAILABLE, `partition owner ${init.ownerId} failed and is restarting; reconnect and resume`),
      CloseCode.RESTART,
      200,
    );
  } catch (closeErr) {
    logLine('owner close after failure failed', { owner: init.ownerId, error: String(closeErr) });
  }
  post({ type: 'failed', ownerId: init.ownerId, error: e.toData() });
  // Closed sockets release their poll handles in a later loop iteration (uv_close callbacks); exiting
  // before that aborts the process, so give libuv a few iterations first.
  setTimeout(() => process.exit(1), EXIT_GRACE_MS);
}

process.on('uncaughtException', (err) => void fail(err));
process.on('unhandledRejection', (err) => void fail(err));

// eslint-disable-next-line @typescript-eslint/no-invalid-void-type -- handlers that answer nothing return void
function reply(reqId: number, fn: () => Omit<Extract<FromOwner, { type: 'reply'; ok: true }>, 'type' | 'reqId' | 'ok'> | void): void {
  try {
    const extra = fn() ?? {};
    post({ type: 'reply', reqId, ok: true, ...extra });
  } catch (err) {
    post({ type: 'reply', reqId, ok: false, error: asTickbusError(err).toData() });
  }
}

port.on('message', (m: ToOwner) => {
  switch (m.type) {
    case 'openTopic':
      reply(m.reqId, () => owner.openTopic(m.topic));
      return;
    case 'deleteTopic':
      reply(m.reqId, () => owner.deleteTopic(m.name));
      return;
    case 'stats':
      reply(m.reqId, () => ({ stats: owner.stats(), lags: owner.lags(m.maxLags) }));
      return;
    case 'shutdown':
      void owner
        .close(new TickbusError(ErrorCode.SHUTTING_DOWN, 'broker is shutting down; reconnect to resume'))
        .then(() => {
          post({ type: 'reply', reqId: m.reqId, ok: true });
          port.close();
        });
      return;
    case 'replicaRoles':
      reply(m.reqId, () =>
        owner.applyRoles(m.roles, {
          proposeIsr: (topic, partition, leaderEpoch, isr, processes, base) => post({ type: 'proposeIsr', ownerId: init.ownerId, topic, partition, leaderEpoch, isr, processes, base }),
        }),
      );
      return;
    case 'reloadTls': {
      const tls = init.config.tls;
      if (!tls) {
        post({ type: 'reply', reqId: m.reqId, ok: false, error: { code: ErrorCode.INVALID_REQUEST, message: 'TLS is not configured' } });
        return;
      }
      owner.reloadTls(tls).then(
        () => post({ type: 'reply', reqId: m.reqId, ok: true }),
        (err: unknown) => post({ type: 'reply', reqId: m.reqId, ok: false, error: asTickbusError(err).toData() }),
      );
      return;
    }
    case 'acls':
      reply(m.reqId, () => owner.setAcl(m.rules));
      return;
    case 'injectFault':
      if (!init.config.testHooks) {
        post({ type: 'reply', reqId: m.reqId, ok: false, error: { code: ErrorCode.INVALID_REQUEST, message: 'test hooks are disabled' } });
        return;
      }
      post({ type: 'reply', reqId: m.reqId, ok: true });
      setImmediate(() => {
        throw new Error(`injected fault in owner ${init.ownerId}`);
      });
      return;
  }
});

try {
  for (const t of init.topics) owner.openTopic(t);
  let bound: number;
  try {
    bound = await owner.listen(init.config.host, init.port);
  } catch (err) {
    // Ephemeral owner ports (ownerBasePort 0): Linux may refuse to re-bind the port this owner had
    // while TIME_WAIT sockets of it remain (measured); any free port will do, metadata tells clients.
    if (init.port === 0 || init.config.ownerBasePort !== 0) throw err;
    bound = await owner.listen(init.config.host, 0);
  }
  post({ type: 'ready', ownerId: init.ownerId, port: bound });
} catch (err) {
  await fail(err);
}
