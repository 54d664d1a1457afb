// Cluster mode's ACLs: one record in etcd (`/tickbus/<cluster>/acls`, broker/control/records.ts) that every
// broker follows through its ClusterView. This turns the record into the Acl in force, as AclFileSource
// does for the single-node file: a record that does not validate leaves the last good rules in force (a
// typo written with etcdctl must not open or close everything), and a deleted record means no rules.
import { logLine } from '../logger.js';
import { Acl, EMPTY_ACL, rulesOfDocument } from './acl.js';

export class AclRecordFollower {
  private acl: Acl = EMPTY_ACL;
  /** The mod revision of the record last looked at (0: no record); -1 before the first look. */
  private revision = -1;

  constructor(private readonly onChange: (acl: Acl) => void) {}

  get current(): Acl {
    return this.acl;
  }

  /**
   * Called with the record as the view holds it after each batch of changes (most batches touch other
   * records: the mod revision tells whether this one changed). Calls onChange when the rules did.
   */
  update(record: { value: unknown; modRevision: number } | null): void {
    const revision = record?.modRevision ?? 0;
    if (revision === this.revision) return;
    this.revision = revision;
    let next: Acl;
    try {
      next = new Acl(record ? rulesOfDocument(record.value, 'etcd ACL record') : []);
    } catch (err) {
      logLine('ACL record in etcd is malformed; keeping the previous rules', { revision, error: String(err) });
      return;
    }
    this.acl = next;
    logLine('ACLs reloaded', { source: 'etcd', revision, rules: next.rules.length });
    this.onChange(next);
  }
}
