// Loads a peer's client library (nats, ioredis) on first use. They are optional peer dependencies of the
// published package (package.json `peerDependenciesMeta`): someone who benches only tickbus does not install
// other systems' clients, and a static import would crash every bench command, even `--targets tickbus`,
// with ERR_MODULE_NOT_FOUND. A missing library becomes a PeerLibraryMissingError that says what to install.
import { PeerLibraryMissingError } from '../errors.js';

/**
 * `load` is the literal `() => import('pkg')` (so TypeScript types the module). Only the package itself being
 * absent is "missing": a library that is present but broken (one of its own imports fails) rethrows as is.
 */
export async function loadPeerLibrary<T>(target: string, pkg: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    if (isMissingPackage(err, pkg)) throw new PeerLibraryMissingError(target, pkg, { cause: err });
    throw err;
  }
}

function isMissingPackage(err: unknown, pkg: string): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  // Node: "Cannot find package 'nats' imported from /…/dist/bench/targets/nats.js"
  return e?.code === 'ERR_MODULE_NOT_FOUND' && typeof e.message === 'string' && e.message.includes(`'${pkg}'`);
}
