// Progress on stderr while a run goes: target, scenario, elapsed, sent/received. On a TTY one line is
// redrawn in place; otherwise (CI logs, files) a plain line is printed every few seconds, no control codes.
export interface ProgressSource {
  label: string;
  plannedS: number;
  startedAtMs: number;
  sent: () => number;
  received: () => number;
}

export class Progress {
  private timer: NodeJS.Timeout | null = null;
  private source: ProgressSource | null = null;
  private lastPlainMs = 0;
  private readonly tty: boolean;

  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly enabled = true,
  ) {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-conversion -- typed boolean, undefined at runtime when not a TTY
    this.tty = Boolean(stream.isTTY);
  }

  /** A one-off line (start of a scenario, a result, a skipped target). */
  note(line: string): void {
    if (!this.enabled) return;
    this.clearLine();
    this.stream.write(line + '\n');
  }

  begin(source: ProgressSource): void {
    this.source = source;
    this.lastPlainMs = Date.now();
    if (!this.enabled) return;
    // 4 Hz on a TTY, cheap: one clock read and one short write per tick, off the send path's hot loop.
    this.timer = setInterval(() => this.draw(), this.tty ? 250 : 1000);
    this.timer.unref();
  }

  end(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.clearLine();
    this.source = null;
  }

  private draw(): void {
    const s = this.source;
    if (!s) return;
    const elapsed = (Date.now() - s.startedAtMs) / 1000;
    const line = `${s.label}  ${elapsed.toFixed(1)}/${s.plannedS.toFixed(1)} s  sent ${s.sent()}  received ${s.received()}`;
    if (this.tty) {
      this.stream.write(`\r\x1b[2K${line}`);
    } else if (Date.now() - this.lastPlainMs >= 5000) {
      this.lastPlainMs = Date.now();
      this.stream.write(line + '\n');
    }
  }

  private clearLine(): void {
    if (this.tty && this.source) this.stream.write('\r\x1b[2K');
  }
}
