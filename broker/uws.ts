// Loads uWebSockets.js and refuses its silent JavaScript fallback.
// The npm package we depend on (an alias of a Node-20 native build) catches a failed binary load,
// prints a warning and returns a slow pure-JS implementation. A broker on that fallback would
// look healthy and be an order of magnitude slower, so we check for native code and stop.
import { createRequire } from 'node:module';
import type * as UWS from 'uWebSockets.js';
import { ErrorCode, TickbusError } from '../schemas/errors.js';

export type { TemplatedApp, WebSocket, us_listen_socket, HttpResponse, HttpRequest } from 'uWebSockets.js';

const require = createRequire(import.meta.url);

function load(): typeof UWS {
  // The package warns on console when it falls back; keep that out of our output and decide ourselves.
  const warn = console.warn;
  console.warn = () => undefined;
  let mod: typeof UWS;
  try {
    mod = require('uWebSockets.js') as typeof UWS;
  } finally {
    console.warn = warn;
  }
  if (!isNative(mod)) {
    throw new TickbusError(
      ErrorCode.INTERNAL,
      `uWebSockets.js native binary did not load for node ${process.version} (${process.platform}-${process.arch}, ` +
        `ABI ${process.versions.modules}); refusing to run on its slow JavaScript fallback. ` +
        `Reinstall with 'npm ci' on a supported platform (linux-x64, Node 20).`,
    );
  }
  return mod;
}

/** True when `App` is a native function (the fallback's App is plain JavaScript). */
export function isNative(mod: { App: unknown }): boolean {
  return typeof mod.App === 'function' && Function.prototype.toString.call(mod.App).includes('[native code]');
}

export const uws: typeof UWS = load();

type ListenCallback = (listenSocket: UWS.us_listen_socket | false) => void;
type ListenWithOptions = (this: UWS.TemplatedApp, host: string, port: number, options: number, cb: ListenCallback) => UWS.TemplatedApp;
const LISTEN_EXCLUSIVE_PORT = (uws as unknown as { LIBUS_LISTEN_EXCLUSIVE_PORT: number }).LIBUS_LISTEN_EXCLUSIVE_PORT;

/**
 * Listens without SO_REUSEPORT. uWS sets it by default, so a second broker started on a port in use
 * would silently share it (the kernel would spread connections over two brokers with different data)
 * instead of failing. Re-binding right after a crash still works (SO_REUSEADDR stays). The typings
 * lack this (host, port, options, cb) form; the native code has it.
 */
export function listenExclusive(app: UWS.TemplatedApp, host: string, port: number): Promise<UWS.us_listen_socket | null> {
  return new Promise((resolve) => {
    (app.listen as unknown as ListenWithOptions).call(app, host, port, LISTEN_EXCLUSIVE_PORT, (ls) => resolve(ls || null));
  });
}

/**
 * Closes every socket of an app, listen sockets included: HTTP requests and upgrades in progress too,
 * which no WebSocket handler has seen yet. A worker must do this before it ends (an open uWS poll
 * handle at thread exit aborts the whole process). Missing from the typings; present in the native code.
 */
export function closeApp(app: UWS.TemplatedApp): void {
  (app as unknown as { close(): void }).close();
}
