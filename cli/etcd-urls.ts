// The CLI's etcd endpoint syntax, shared by `broker --cluster`, `cluster status` and `dev-cluster`.
import { UsageError } from './args.js';

/** etcd://host:port (or http://) → http://host:port, the form the etcd client takes. */
export function parseEtcdUrls(arg: string): string[] {
  const urls = arg.split(',').map((u) => u.trim()).filter(Boolean);
  if (urls.length === 0) throw new UsageError(`--cluster needs etcd endpoints like etcd://127.0.0.1:2379, got '${arg}'`);
  return urls.map((u) => {
    const m = /^(etcd|http):\/\/([^/\s]+?)\/?$/.exec(u);
    if (!m || !/:\d{1,5}$/.test(m[2]!)) throw new UsageError(`--cluster endpoints must look like etcd://host:port, got '${u}'`);
    return `http://${m[2]!}`;
  });
}
