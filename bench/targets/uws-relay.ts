// Target `uws-relay`: the bare uWebSockets.js relay (uws-relay-server.ts) in its own process. The control:
// tickbus is reported as a ratio to it.
import { benchEntry } from '../harness/entry-path.js';
import { firstJsonLine, startChildServer } from '../servers/child-server.js';
import type { Endpoint, Publisher, RunningServer, Sink, Subscriber, Target, TargetClient } from './target.js';
import { asBytes, closeWebSocket, openWebSocket } from './ws-connect.js';
import { withTimeout } from '../errors.js';

const client: TargetClient = {
  async connectPublisher(ep: Endpoint): Promise<Publisher> {
    const ws = await openWebSocket(`${ep.url}pub/${encodeURIComponent(ep.channel)}`);
    return {
      acknowledges: false,
      publish: (payload) => ws.send(payload, { binary: true }),
      backlogBytes: () => ws.bufferedAmount,
      close: () => closeWebSocket(ws),
    };
  },
  async connectSubscriber(ep: Endpoint, _opts, sink: Sink): Promise<Subscriber> {
    // The server sends "ok" (text) after ws.subscribe(): from then on every publish reaches us.
    let confirm!: () => void;
    const confirmed = new Promise<void>((resolve) => (confirm = resolve));
    const ws = await openWebSocket(`${ep.url}sub/${encodeURIComponent(ep.channel)}`, (sock) =>
      sock.on('message', (data, isBinary) => {
        if (isBinary) sink(asBytes(data));
        else confirm();
      }),
    );
    await withTimeout(confirmed, 10_000, 'uws-relay subscribe confirmation').catch(async (err: unknown) => {
      await closeWebSocket(ws);
      throw err;
    });
    return { close: () => closeWebSocket(ws) };
  },
};

export const uwsRelayTarget: Target = {
  name: 'uws-relay',
  unsupported: (scenario) => (scenario === 'durable' || scenario === 'replay' ? 'a bare relay keeps nothing: no durable writes, no log to replay' : null),
  describe: () => 'bare uWebSockets.js relay (app.publish), own process',
  client,
  async start(): Promise<RunningServer> {
    const server = await startChildServer<{ port: number }>({
      name: 'uws-relay',
      command: process.execPath,
      args: [benchEntry('targets/uws-relay-server')],
      ready: (out) => firstJsonLine<{ port: number }>(out),
    });
    const url = `ws://127.0.0.1:${server.info.port}/`;
    return {
      version: `uWebSockets.js ${uwsVersion()}`,
      pids: [server.pid],
      prepare: async (spec) => ({ target: 'uws-relay', mode: spec.mode, url, channel: spec.name, partitions: 1, extra: {} }),
      stop: () => server.stop(),
    };
  },
};

function uwsVersion(): string {
  return process.env.npm_package_dependencies_uWebSockets_js ?? '20.30.0 (via @trufflesuite/uws-js-unofficial)';
}
