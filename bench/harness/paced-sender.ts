// The sender of the fixed-rate cluster scenarios (replication, zone-reads): message `seq` is due at
// start + seq / rate; every 1 ms tick sends all that is due, with `seq` in the payload's first 4 bytes
// (little-endian) for the receiver to match, and its send time in `sentAt[seq]`. Coarser than
// timetable.ts's open-loop sender: these points are ms-scale cluster latencies, not µs-scale ones.

export interface PacedSend {
  rate: number;
  /** Payload bytes, at least 4. */
  size: number;
  /** One slot per message; its length is how many are sent. */
  sentAt: Float64Array;
  /** Sends one message; `payload` is reused for the next one, so copy it if it is kept. */
  send: (payload: Uint8Array, seq: number) => void;
  /** An error a send reported since; stops the run with it. */
  failure: () => Error | null;
}

export async function sendPaced(p: PacedSend): Promise<void> {
  const total = p.sentAt.length;
  const payload = new Uint8Array(p.size);
  const view = new DataView(payload.buffer);
  const start = performance.now();
  let seq = 0;
  while (seq < total) {
    const failed = p.failure();
    if (failed) throw failed;
    const due = Math.min(total, Math.floor(((performance.now() - start) * p.rate) / 1_000) + 1);
    for (; seq < due; seq++) {
      view.setUint32(0, seq, true);
      p.sentAt[seq] = performance.now();
      p.send(payload, seq);
    }
    await new Promise((r) => setTimeout(r, 1));
  }
}
