// The floor of this stack: a bare uWebSockets.js relay. A publisher's message goes to every subscriber of
// the channel through uWS's native publish, nothing else. Runs as its own process (like every other server
// the bench drives) so it never shares an event loop with the harness.
// Paths: /pub/CHANNEL (publisher) and /sub/CHANNEL (subscriber: gets one "ok" text message once subscribed).
// Prints {"port":N} when listening; SIGTERM closes the listen socket and exits.
import { type us_listen_socket, uws, type WebSocket } from '../../broker/uws.js';

interface SocketData {
  channel: string;
  role: 'pub' | 'sub';
}

const decoder = new TextDecoder();
// Opt-in for the closed-loop probe (bench/probes/closed-loop.ts): stamp when the handler ran (CLOCK_MONOTONIC
// µs, f64 at payload byte 24), the relay's equivalent of tickbus's append stamp. Off by default: it costs a
// copy per message that the bare relay does not pay.
const STAMP = process.env.TICKBUS_PROBE_STAMPS === '1';
// Opt-in for docs/latency.md's sixth pass: the relay made to do what tickbus's owner does per message, minus
// the work itself. TICKBUS_PROBE_RELAY_LOOP=1 sends from a JavaScript loop of ws.send (as the owner does)
// instead of uWS's native publish; TICKBUS_PROBE_RELAY_SPIN_US=B,A spins B µs before the sends and A µs
// after them (the owner's decode, checks and log write before, its ack and end-of-turn after).
const LOOP = process.env.TICKBUS_PROBE_RELAY_LOOP === '1';
const [SPIN_BEFORE_US, SPIN_AFTER_US] = (process.env.TICKBUS_PROBE_RELAY_SPIN_US ?? '0,0').split(',').map(Number) as [number, number];
type Looped = WebSocket<SocketData>;
const PROBED = LOOP || SPIN_BEFORE_US > 0 || SPIN_AFTER_US > 0;
const looped = new Map<string, Set<Looped>>(); // channel → its subscribers, in subscription order

function spin(us: number): void {
  if (!(us > 0)) return;
  const until = process.hrtime.bigint() + BigInt(Math.round(us * 1000));
  while (process.hrtime.bigint() < until);
}
let listenSocket: us_listen_socket | null = null;

const app = uws.App();
app.ws<SocketData>('/*', {
  compression: uws.DISABLED,
  maxPayloadLength: 16 * 1024 * 1024,
  // Same limit as the broker: past 16 MiB buffered, uWS skips the subscriber (the bench then sees a loss).
  maxBackpressure: 16 * 1024 * 1024,
  idleTimeout: 0,
  upgrade: (res, req, context) => {
    const url = req.getUrl();
    const m = /^\/(pub|sub)\/(.+)$/.exec(url);
    if (!m) {
      res.writeStatus('404 Not Found').end('use /pub/CHANNEL or /sub/CHANNEL');
      return;
    }
    res.upgrade<SocketData>(
      { role: m[1] as 'pub' | 'sub', channel: decodeURIComponent(m[2]!) },
      req.getHeader('sec-websocket-key'),
      req.getHeader('sec-websocket-protocol'),
      req.getHeader('sec-websocket-extensions'),
      context,
    );
  },
  open: (ws) => {
    const d = ws.getUserData();
    if (d.role === 'sub') {
      if (LOOP) looped.set(d.channel, (looped.get(d.channel) ?? new Set<Looped>()).add(ws));
      else ws.subscribe(d.channel);
      ws.send('ok', false);
    }
  },
  close: (ws) => void looped.get(ws.getUserData().channel)?.delete(ws),
  message: (ws, message, isBinary) => {
    const d = ws.getUserData();
    // publish copies the bytes synchronously, so the ArrayBuffer uWS detaches afterwards is never kept.
    if (d.role === 'pub') {
      if (STAMP && message.byteLength >= 32) {
        const [sec, ns] = process.hrtime();
        const copy = message.slice(0);
        new DataView(copy).setFloat64(24, sec * 1e6 + ns / 1e3, true);
        app.publish(d.channel, copy, isBinary);
      } else if (PROBED) {
        spin(SPIN_BEFORE_US);
        if (LOOP) for (const s of looped.get(d.channel) ?? []) s.send(message, isBinary);
        else app.publish(d.channel, message, isBinary);
        spin(SPIN_AFTER_US);
      } else app.publish(d.channel, message, isBinary);
    }
    else if (!isBinary && decoder.decode(message) === 'ping') ws.send('pong', false);
  },
});

app.listen('127.0.0.1', 0, (token) => {
  if (!token) {
    process.stderr.write('uws-relay: could not listen on 127.0.0.1\n');
    process.exit(1);
  }
  listenSocket = token;
  process.stdout.write(JSON.stringify({ port: uws.us_socket_local_port(token) }) + '\n');
});

const stop = (): void => {
  if (listenSocket) uws.us_listen_socket_close(listenSocket);
  listenSocket = null;
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
