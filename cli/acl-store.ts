// Where `tickbus acl` keeps the rules: a single node's file, or a cluster's record in etcd. Both change by
// read, modify, write; in etcd the write is a compare-and-swap on the record's mod revision, so operators
// changing rules at the same moment all land (the one that lost the race reads again and redoes its change).
import { defaultClusterConfig } from '../broker/config.js';
import { EtcdClient } from '../broker/control/etcd.js';
import { Keys } from '../broker/control/records.js';
import { type AclRule, rulesOfDocument } from '../broker/security/acl.js';
import { aclFilePath, readAclFile, writeAclFile } from '../broker/security/acl-file.js';
import { ErrorCode, TickbusError } from '../schemas/errors.js';

export interface AclStore {
  /** Where the rules are, for messages. */
  readonly where: string;
  read(): Promise<AclRule[]>;
  /** Applies `change` to the current rules and stores its answer; null from `change` writes nothing. */
  update(change: (rules: AclRule[]) => AclRule[] | null): Promise<void>;
  close(): Promise<void>;
}

export function fileAclStore(dataDir: string): AclStore {
  const file = aclFilePath(dataDir);
  return {
    where: file,
    read: () => Promise.resolve(readAclFile(file)),
    update(change) {
      const next = change(readAclFile(file));
      if (next) writeAclFile(file, next);
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
  };
}

/** Compare-and-swap attempts before giving up: each lost race means another writer's change landed. */
const CAS_ATTEMPTS = 20;

export function etcdAclStore(endpoints: string[], clusterName = defaultClusterConfig().name): AclStore {
  const etcd = new EtcdClient(endpoints);
  const key = new Keys(clusterName).acls;
  const load = async (): Promise<{ rules: AclRule[]; modRevision: number }> => {
    const e = await etcd.get(key);
    if (!e) return { rules: [], modRevision: 0 };
    let doc: unknown;
    try {
      doc = JSON.parse(e.value);
    } catch (err) {
      throw new TypeError(`etcd ${key}: not JSON (${err instanceof Error ? err.message : String(err)})`);
    }
    return { rules: rulesOfDocument(doc, `etcd ${key}`), modRevision: e.modRevision };
  };
  return {
    where: `etcd ${key}`,
    read: async () => (await load()).rules,
    async update(change) {
      for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
        const { rules, modRevision } = await load();
        const next = change(rules);
        if (!next) return;
        // modRevision 0 = the record must still not exist.
        const { ok } = await etcd.txn([{ key, modRevision }], [{ key, value: JSON.stringify({ acls: next }) }]);
        if (ok) return;
        await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * (attempt + 1)));
      }
      throw new TickbusError(ErrorCode.CONTROL_PLANE_UNAVAILABLE, `etcd ${key} changed under ${CAS_ATTEMPTS} attempts in a row; try again`);
    },
    close: () => etcd.close(),
  };
}
