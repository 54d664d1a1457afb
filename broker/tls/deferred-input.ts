// TLS frames are served after uSockets' read callback, never inside it.
//
// Why: uSockets (the C layer under uWebSockets.js 20.30, BoringSSL build; src/crypto/openssl.c, still so
// upstream) decrypts a socket's input into a 512 KiB buffer and hands it to uWS when that buffer is full,
// before it has consumed all the ciphertext it read. Its SSL write path resets the loop's one shared
// "ciphertext left" counter (its own comment: "triggering a write from a read will essentially delete all
// input data"), so a send to ANY TLS socket of the thread from inside that callback (an ack to the
// producer, a Pong, an error) throws away the rest of the read. The next record then fails its MAC and
// uSockets closes the socket without a close frame: the client sees 1006 and uWS reports 1006 with no
// reason. It takes more than 512 KiB of plaintext waiting in one read (a client that sends a burst, or an
// owner that falls behind) and a record cut by the read: measured with a bare SSLApp that answers every
// message (100 µs of work each; dropped after 2,434 frames of 268 B, 683 of 1,000 B) and with the broker
// (docs/security.md, TLS). Plain ws:// has no shared SSL state and is not affected.
//
// The frames are copied (uWS detaches the message buffer when the handler returns) and served in this
// loop turn's check phase (setImmediate runs right after the poll phase that read them), in arrival order.
export class DeferredInput<S extends { open: boolean }> {
  private sessions: S[] = [];
  private frames: ArrayBuffer[] = [];
  private binary: boolean[] = [];
  // Swapped with the three above on each flush: no arrays allocated per turn.
  private spareSessions: S[] = [];
  private spareFrames: ArrayBuffer[] = [];
  private spareBinary: boolean[] = [];
  private armed = false;
  private flushing = false;

  constructor(private readonly serve: (s: S, message: ArrayBuffer, isBinary: boolean) => void) {}

  /** Called from uWS's message handler: copies the frame and serves it after the read callback. */
  push(s: S, message: ArrayBuffer, isBinary: boolean): void {
    this.sessions.push(s);
    this.frames.push(message.slice(0));
    this.binary.push(isBinary);
    if (!this.armed) {
      this.armed = true;
      setImmediate(this.flush);
    }
  }

  /**
   * Serves every queued frame of open sessions, oldest first. Also called from a close handler, so that
   * what a client sent before it closed is served as it was before deferral; a call while flushing (a
   * frame whose handling closed a socket) returns at once, and the running flush skips closed sessions.
   */
  readonly flush = (): void => {
    if (this.flushing) return;
    this.armed = false;
    this.flushing = true;
    const sessions = this.sessions;
    const frames = this.frames;
    const binary = this.binary;
    this.sessions = this.spareSessions;
    this.frames = this.spareFrames;
    this.binary = this.spareBinary;
    try {
      for (let i = 0; i < sessions.length; i++) {
        const s = sessions[i]!;
        if (s.open) this.serve(s, frames[i]!, binary[i]!);
      }
    } finally {
      sessions.length = 0;
      frames.length = 0;
      binary.length = 0;
      this.spareSessions = sessions;
      this.spareFrames = frames;
      this.spareBinary = binary;
      this.flushing = false;
    }
  };
}
