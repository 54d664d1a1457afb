// Target `uws-relay`: the bare uWebSockets.js relay (uws-relay-server.ts) in its own process. The control:
// tickbus is reported as a ratio to it.
import { benchEntry } from '../harness/entry-path.js';
import { firstJsonLine, startChildServer } from '../servers/child-server.js';
import type { Endpoint, Publisher, RunningServer, Sink, Subscriber, Target, TargetClient } from './target.js';
import { RawWebSocket } from './raw-websocket.js';
import { withTimeout } from '../errors.js';

const client: TargetClient = {
  async connectPublisher(ep: Endpoint): Promise<Publisher> {
    const ws = await RawWebSocket.open(`${ep.url}pub/${encodeURIComponent(ep.channel)}`, { onMessage: () => undefined });
    return {
      acknowledges: false,
      publish: (payload) => void ws.send(payload),
      backlogBytes: () => ws.bufferedAmount,
      close: () => ws.close(),
    };
  },
  async connectSubscriber(ep: Endpoint, _opts, sink: Sink): Promise<Subscriber> {
    // The server sends "ok" (text) after ws.subscribe(): from then on every publish reaches us.
    let confirm!: () => void;
    const confirmed = new Promise<void>((resolve) => (confirm = resolve));
    const ws = await RawWebSocket.open(`${ep.url}sub/${encodeURIComponent(ep.channel)}`, {
      onMessage: (data, isBinary) => {
        if (isBinary) sink(data);
        else confirm();
      },
    });
    await withTimeout(confirmed, 10_000, 'uws-relay subscribe confirmation').catch(async (err: unknown) => {
      await ws.close();
      throw err;
    });
    return { close: () => ws.close() };
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
