// The uWS app behind one listening endpoint (bootstrap or an owner), plain or TLS, and how its
// certificate is reloaded. uWS cannot swap the certificate of a live SSL context, so a reload builds
// a new SSLApp with the same routes, moves the listen port to it and keeps the old app for the
// connections it already has: new connections get the new certificate, open ones keep theirs and
// are not cut. Live frames go to each subscriber's own socket (owner/partition.ts), so a subscriber on
// the old app still gets records. Retired apps are closed with the endpoint.
import fs from 'node:fs';
import { createSecureContext } from 'node:tls';
import { ErrorCode, TickbusError } from '../../schemas/errors.js';
import type { TlsConfig } from '../config.js';
import { closeApp, listenExclusive, type TemplatedApp, type us_listen_socket, uws } from '../uws.js';

/**
 * Reads the certificate and key and checks that they belong together, so a bad file is reported with
 * its name here rather than as uWS's bare "invalid SSL context" (or, on reload, not at all).
 */
export function checkTlsFiles(tls: TlsConfig): void {
  let cert: Buffer, key: Buffer;
  try {
    cert = fs.readFileSync(tls.certFile);
    key = fs.readFileSync(tls.keyFile);
    if (tls.caFile !== undefined) fs.readFileSync(tls.caFile);
  } catch (err) {
    throw new TickbusError(ErrorCode.INVALID_CONFIG, `cannot read TLS file: ${(err as Error).message}`, { cause: err });
  }
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new TickbusError(ErrorCode.INVALID_CONFIG, `TLS certificate ${tls.certFile} and key ${tls.keyFile} do not make a usable pair: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

// Apps made with SSLApp: their WebSocket frames are served after the read callback (tls/deferred-input.ts).
const tlsApps = new WeakSet<TemplatedApp>();

export function isTlsApp(app: TemplatedApp): boolean {
  return tlsApps.has(app);
}

export function newApp(tls: TlsConfig | null): TemplatedApp {
  if (tls === null) return uws.App();
  // uWS reads the files itself; no ca_file_name: see TlsConfig.caFile.
  const app = uws.SSLApp({ cert_file_name: tls.certFile, key_file_name: tls.keyFile });
  tlsApps.add(app);
  return app;
}

export class EndpointApp {
  /** Every app of this endpoint, the listening one last. */
  private readonly apps: TemplatedApp[];
  private listenSocket: us_listen_socket | null = null;
  private host = '';
  port = 0;

  /**
   * @param install registers the endpoint's routes (HTTP and WebSocket) on an app made by reload(); the
   *   first app's routes (`current` after construction) are the caller's to register.
   */
  constructor(
    private tls: TlsConfig | null,
    private readonly install: (app: TemplatedApp) => void,
  ) {
    this.apps = [newApp(tls)];
  }

  get scheme(): 'ws' | 'wss' {
    return this.tls ? 'wss' : 'ws';
  }

  /** The listening app. */
  get current(): TemplatedApp {
    return this.apps[this.apps.length - 1]!;
  }

  async listen(host: string, port: number): Promise<us_listen_socket | null> {
    const ls = await listenExclusive(this.current, host, port);
    if (!ls) return null;
    this.host = host;
    this.listenSocket = ls;
    this.port = uws.us_socket_local_port(ls);
    return ls;
  }

  /**
   * Re-reads the certificate files into a new app on the same port. Between closing the old listen
   * socket and binding the new one (the same synchronous turn, bar the listen callback) a connection
   * attempt can be refused; clients retry connects. Throws (and keeps serving the old certificate)
   * when the new files are bad or the port cannot be bound again.
   */
  async reload(tls: TlsConfig): Promise<void> {
    checkTlsFiles(tls);
    const app = newApp(tls);
    this.install(app);
    const old = this.listenSocket;
    if (old) uws.us_listen_socket_close(old);
    this.listenSocket = null;
    const ls = await listenExclusive(app, this.host, this.port);
    if (!ls) {
      closeApp(app);
      // Put the old app back on the port: serving the old certificate beats not serving.
      const back = await listenExclusive(this.current, this.host, this.port);
      this.listenSocket = back;
      // Measured: Linux refuses to re-bind a port first taken through bind(0) while connections to it are
      // open; explicitly configured ports re-bind at once.
      throw new TickbusError(
        ErrorCode.INTERNAL,
        `cannot re-bind ${this.host}:${this.port} for the new certificate (a port the OS chose, e.g. with --owner-base-port 0, ` +
          'cannot be re-bound while connections to it are open: configure explicit ports)',
      );
    }
    this.tls = tls;
    this.apps.push(app);
    this.listenSocket = ls;
  }

  /** Stops accepting connections (the open ones stay until closeAll). */
  stopListening(): void {
    if (this.listenSocket) uws.us_listen_socket_close(this.listenSocket);
    this.listenSocket = null;
  }

  /** Closes every socket of every app (a worker must, before it ends). */
  closeAll(): void {
    this.stopListening();
    for (const a of this.apps) closeApp(a);
  }
}
