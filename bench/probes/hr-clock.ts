// CLOCK_MONOTONIC in µs: the one clock every process on a Linux machine shares (process.hrtime reads it),
// so a stamp written by a server process can be subtracted from one read by the probe.
export function hrUs(): number {
  const [s, ns] = process.hrtime();
  return s * 1e6 + ns / 1e3;
}
