// The one clock of the harness, in microseconds as a float.
// performance.timeOrigin + performance.now() is derived from the same monotonic source in the main thread
// and in every worker thread of one process, so a timestamp written by the publisher (main thread) can be
// subtracted from one read by a subscriber in a worker. Checked: main → worker → main postMessage hops
// read as 60-110 µs each way, never negative. Across processes the origins differ by up to ~1 ms, which is
// why every subscriber lives in the publisher's process.
export function nowUs(): number {
  return (performance.timeOrigin + performance.now()) * 1000;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
