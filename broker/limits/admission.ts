// Who may hold a connection on one endpoint (bootstrap or an owner): sockets not yet past Hello, open
// connections per client IP and per principal. Counted per endpoint, on that endpoint's thread only,
// so no locks: an owner counts its own sockets. A refused socket gets LIMIT_EXCEEDED and is closed;
// nothing else on the endpoint notices.
import { ErrorCode, TickbusError } from '../../schemas/errors.js';
import type { LimitsConfig } from '../config.js';

export type AdmissionLimits = Pick<LimitsConfig, 'maxConnectionsPerIp' | 'maxConnectionsPerPrincipal' | 'maxPendingHandshakes'>;

interface Admitted {
  ip: string;
  /** Still counted among pending handshakes. */
  pending: boolean;
  /** Counted under this principal once Hello was accepted; null before. */
  principal: string | null;
}

export class Admission {
  private pending = 0;
  private readonly perIp = new Map<string, number>();
  private readonly perPrincipal = new Map<string, number>();
  /** Per connection, what it was counted under (keyed by the session object; nothing per message). */
  private readonly conns = new WeakMap<object, Admitted>();

  constructor(private readonly limits: AdmissionLimits) {}

  /**
   * A socket opened. Null when it may stay; otherwise the error to close it with. Either way it is
   * counted until closed() (so the close of a refused socket balances too).
   */
  opened(conn: object, ip: string): TickbusError | null {
    const n = (this.perIp.get(ip) ?? 0) + 1;
    this.perIp.set(ip, n);
    this.pending++;
    this.conns.set(conn, { ip, pending: true, principal: null });
    if (this.pending > this.limits.maxPendingHandshakes) {
      return new TickbusError(
        ErrorCode.LIMIT_EXCEEDED,
        `too many connections waiting for their Hello (limit maxPendingHandshakes ${this.limits.maxPendingHandshakes}); retry shortly`,
        { retryable: true },
      );
    }
    if (n > this.limits.maxConnectionsPerIp) {
      return new TickbusError(ErrorCode.LIMIT_EXCEEDED, `address ${ip} has ${n - 1} connections open to this endpoint, the limit (maxConnectionsPerIp); close some first`);
    }
    return null;
  }

  /** Hello accepted for `principal`: no longer pending. Null when it may stay; otherwise the error to close it with. */
  helloAccepted(conn: object, principal: string): TickbusError | null {
    const a = this.conns.get(conn);
    if (!a) return null;
    if (a.pending) {
      a.pending = false;
      this.pending--;
    }
    if (a.principal !== null) return null;
    a.principal = principal;
    const n = (this.perPrincipal.get(principal) ?? 0) + 1;
    this.perPrincipal.set(principal, n);
    if (n > this.limits.maxConnectionsPerPrincipal) {
      return new TickbusError(
        ErrorCode.LIMIT_EXCEEDED,
        `principal '${principal}' has ${n - 1} connections open to this endpoint, the limit (maxConnectionsPerPrincipal); close some first`,
      );
    }
    return null;
  }

  closed(conn: object): void {
    const a = this.conns.get(conn);
    if (!a) return;
    this.conns.delete(conn);
    if (a.pending) this.pending--;
    decrement(this.perIp, a.ip);
    if (a.principal !== null) decrement(this.perPrincipal, a.principal);
  }
}

function decrement(m: Map<string, number>, k: string): void {
  const n = (m.get(k) ?? 0) - 1;
  if (n <= 0) m.delete(k);
  else m.set(k, n);
}
