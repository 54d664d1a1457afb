// Busy polling, opt-in (--busy-poll-us; Aeron's spinning idle strategy). After a request, the owner keeps
// its event loop turning for a while instead of sleeping in epoll_wait: a pending setImmediate makes libuv
// poll with a zero timeout, so the next frame is read without a thread wakeup. The price is a core kept
// busy while spinning; the loop sleeps again once busyPollUs pass without a request. Measured on the
// 2-core VM (docs/latency.md): live p50 about halves, p99 gets several times worse, because the spinning
// owner takes the core the clients and other servers need. Worth it only with cores to spare.
import { monotonicMs } from '../clock.js';

export class BusyPoll {
  private until = 0;
  /** Whether a spin is scheduled (for tests). */
  spinning = false;

  constructor(private readonly windowMs: number) {}

  /** A request arrived: spin for the window from now. */
  touch(): void {
    this.until = monotonicMs() + this.windowMs;
    if (!this.spinning) {
      this.spinning = true;
      setImmediate(this.spin);
    }
  }

  private readonly spin = (): void => {
    if (monotonicMs() < this.until) setImmediate(this.spin);
    else this.spinning = false;
  };
}
