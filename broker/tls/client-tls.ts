// What this broker trusts when it connects to another broker (a follower fetching from its leader):
// the configured CA bundle, read at each connect so a SIGHUP-time renewal needs no restart. With no
// caFile, Node's bundled public roots apply (a certificate from a public CA).
import fs from 'node:fs';
import type { TlsConfig } from '../config.js';

export function brokerClientTls(tls: TlsConfig | null): { ca?: Buffer } {
  if (tls?.caFile === undefined) return {};
  return { ca: fs.readFileSync(tls.caFile) };
}
