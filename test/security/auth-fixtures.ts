// Credentials made by code for the security tests: a tokens file, an HS256 secret, an ES256 key pair,
// an ACL file, and JWTs signed with jose. Nothing is checked in.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { SignJWT } from 'jose';
import { PROTOCOL_VERSION, type Frame } from '../../schemas/frames.js';
import type { AclRule } from '../../broker/security/acl.js';
import { WireClient } from '../helpers/wire-client.js';

export const HS_SECRET = 'an-hs256-secret-that-is-long-enough-0123456789';
export const AUDIENCE = 'tickbus-test';
export const TOKENS = { alice: 'alice-static-token-0123456789', bob: 'bob-static-token-0123456789ab', eve: 'eve-static-token-0123456789abc', admin: 'admin-static-token-0123456789' };

export interface Fixtures {
  dir: string;
  tokensFile: string;
  secretFile: string;
  publicKeyFile: string;
  privateKey: crypto.KeyObject;
  args: string[];
}

export function makeFixtures(dir: string): Fixtures {
  const tokensFile = path.join(dir, 'tokens.json');
  fs.writeFileSync(tokensFile, JSON.stringify({ tokens: Object.entries(TOKENS).map(([principal, token]) => ({ principal, token })) }));
  const secretFile = path.join(dir, 'hs256.secret');
  fs.writeFileSync(secretFile, HS_SECRET);
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const publicKeyFile = path.join(dir, 'es256.pub.pem');
  fs.writeFileSync(publicKeyFile, publicKey.export({ type: 'spki', format: 'pem' }));
  return {
    dir,
    tokensFile,
    secretFile,
    publicKeyFile,
    privateKey,
    args: ['--tokens-file', tokensFile, '--jwt-secret-file', secretFile, '--jwt-public-key', publicKeyFile, '--jwt-audience', AUDIENCE],
  };
}

export async function hsJwt(sub: string, opts: { expSec?: number; aud?: string; secret?: string } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setAudience(opts.aud ?? AUDIENCE)
    .setIssuedAt(now - 60)
    .setExpirationTime(now + (opts.expSec ?? 600))
    .sign(new TextEncoder().encode(opts.secret ?? HS_SECRET));
}

export async function esJwt(sub: string, key: crypto.KeyObject): Promise<string> {
  return new SignJWT({}).setProtectedHeader({ alg: 'ES256' }).setSubject(sub).setAudience(AUDIENCE).setExpirationTime('10m').sign(key);
}

export function writeAcls(dataDir: string, acls: AclRule[]): void {
  fs.mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, 'acls.json');
  fs.writeFileSync(`${file}.tmp`, JSON.stringify({ acls }));
  fs.renameSync(`${file}.tmp`, file);
}

export function allow(principal: string, operation: AclRule['operation'], name: string, pattern: AclRule['pattern'] = 'literal', effect: AclRule['effect'] = 'allow'): AclRule {
  return { principal, operation, resourceType: operation === 'group-join' ? 'group' : 'topic', name, pattern, effect };
}

/** Opens a socket and says Hello with `token`; resolves with the client and the first answer (HelloOk or ErrorReply). */
export async function helloWith(url: string, token: string | undefined): Promise<{ c: WireClient; first: Frame }> {
  const c = await WireClient.open(url, false);
  c.send({ type: 'Hello', protocolVersion: PROTOCOL_VERSION, clientId: 'security-test', ...(token !== undefined ? { token } : {}) });
  const first = await c.waitFor((f) => f.type === 'HelloOk' || f.type === 'ErrorReply');
  return { c, first };
}

/** A client that is past Hello with `token` (throws if refused). */
export async function authed(url: string, token: string): Promise<WireClient> {
  const { c, first } = await helloWith(url, token);
  if (first.type !== 'HelloOk') {
    c.close();
    throw new Error(`Hello refused: ${JSON.stringify(first)}`);
  }
  return c;
}
