// One-line logs for operators. Nothing here is called on the live path per message:
// events worth a line (a bad frame, a truncated tail, an owner restart) are rare by nature.
import { debuglog } from 'node:util';

export const debug = debuglog('tickbus');

export function logLine(event: string, fields: Record<string, unknown> = {}): void {
  const parts = [`tickbus: ${event}`];
  for (const [k, v] of Object.entries(fields)) parts.push(`${k}=${typeof v === 'string' ? JSON.stringify(v) : String(v)}`);
  process.stderr.write(parts.join(' ') + '\n');
}
