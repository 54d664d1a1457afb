// Single-node ACLs: one JSON file in the data directory, { "acls": [AclRule, ...] }. `tickbus acl`
// replaces it atomically; the broker watches it and swaps in the new rules without a restart. A file
// that does not parse leaves the last good rules in force (a typo must not open or close everything).
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { logLine } from '../logger.js';
import { Acl, type AclRule, rulesOfDocument } from './acl.js';
import { type FileWatch, watchFile } from './watch-file.js';

export const ACL_FILE_NAME = 'acls.json';

export function aclFilePath(dataDir: string): string {
  return path.join(dataDir, ACL_FILE_NAME);
}

/** The rules in `file`; none when it does not exist. Throws TypeError (or SyntaxError) when it is malformed. */
export function readAclFile(file: string): AclRule[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return rulesOfDocument(JSON.parse(text), file);
}

export function writeAclFile(file: string, rules: readonly AclRule[]): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomic(file, JSON.stringify({ acls: rules }, null, 2) + '\n');
}

/** The broker's view of the ACL file: current rules, and a callback when they change. */
export class AclFileSource {
  private acl: Acl;
  private readonly watch: FileWatch;

  constructor(
    dataDir: string,
    private readonly onChange: (acl: Acl) => void,
  ) {
    const file = aclFilePath(dataDir);
    fs.mkdirSync(dataDir, { recursive: true });
    // At start a malformed file is an error: better not to start than to start with rules nobody meant.
    this.acl = new Acl(readAclFile(file));
    this.watch = watchFile(file, () => {
      try {
        this.acl = new Acl(readAclFile(file));
      } catch (err) {
        logLine('ACL file unreadable; keeping the previous rules', { file, error: String(err) });
        return;
      }
      logLine('ACLs reloaded', { file, rules: this.acl.rules.length });
      this.onChange(this.acl);
    });
  }

  get current(): Acl {
    return this.acl;
  }

  close(): void {
    this.watch.close();
  }
}
