// Reading a broker's Prometheus /metrics (HTTP on its bootstrap port) from a bench scenario or a cluster test.

/** The broker's /metrics text, or null when it does not answer within `timeoutMs` (dead or paused). */
export async function metricsText(b: { port: number }, timeoutMs = 2_000): Promise<string | null> {
  const r = await fetch(`http://127.0.0.1:${b.port}/metrics`, { signal: AbortSignal.timeout(timeoutMs) }).catch(() => null);
  return r ? r.text() : null;
}

/** A gauge of one partition from a broker's /metrics (null if absent or the broker does not answer). */
export async function partitionGauge(b: { port: number }, name: string, topic: string, partition: number): Promise<number | null> {
  const text = await metricsText(b);
  const m = text === null ? null : new RegExp(`^${name}\\{topic="${topic}",partition="${partition}"\\} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : null;
}
