// Reading a broker's Prometheus /metrics (HTTP on its bootstrap port) from a bench scenario or a cluster test.

/** A gauge of one partition from a broker's /metrics (null if absent or the broker does not answer). */
export async function partitionGauge(b: { port: number }, name: string, topic: string, partition: number): Promise<number | null> {
  const r = await fetch(`http://127.0.0.1:${b.port}/metrics`, { signal: AbortSignal.timeout(2_000) }).catch(() => null);
  if (!r) return null;
  const m = new RegExp(`^${name}\\{topic="${topic}",partition="${partition}"\\} (\\S+)$`, 'm').exec(await r.text());
  return m ? Number(m[1]) : null;
}
