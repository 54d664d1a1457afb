// Certificates made by code for the TLS tests: a throwaway CA and server certificates it signs for
// 127.0.0.1 and localhost, with the system `openssl` (EC P-256, valid for a day).
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export interface TestCa {
  dir: string;
  certFile: string;
  keyFile: string;
  pem: string;
}

export interface ServerCert {
  certFile: string;
  keyFile: string;
  /** SHA-256 fingerprint as Node's getPeerCertificate() prints it (AA:BB:...). */
  fingerprint256: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

export function makeCa(dir: string, name = 'tickbus-test-ca'): TestCa {
  const certFile = path.join(dir, `${name}.crt`);
  const keyFile = path.join(dir, `${name}.key`);
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', `/CN=${name}`], dir);
  return { dir, certFile, keyFile, pem: fs.readFileSync(certFile, 'utf8') };
}

/** A server certificate signed by `ca`, written to `name`.crt/.key in the CA's directory. */
export function makeServerCert(ca: TestCa, name: string): ServerCert {
  const certFile = path.join(ca.dir, `${name}.crt`);
  const keyFile = path.join(ca.dir, `${name}.key`);
  const csr = path.join(ca.dir, `${name}.csr`);
  const ext = path.join(ca.dir, `${name}.ext`);
  fs.writeFileSync(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', csr, '-subj', `/CN=${name}`], ca.dir);
  openssl(['x509', '-req', '-in', csr, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-set_serial', String(Date.now()), '-out', certFile, '-days', '1', '-extfile', ext], ca.dir);
  return { certFile, keyFile, fingerprint256: fingerprint(fs.readFileSync(certFile, 'utf8')) };
}

export function fingerprint(pem: string): string {
  return new crypto.X509Certificate(pem).fingerprint256;
}
