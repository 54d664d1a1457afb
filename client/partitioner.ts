// Which partition a record goes to.
//   explicit `partition` option → that partition;
//   a key → murmur2(key bytes) & 0x7fffffff, modulo the partition count. This is exactly Kafka's
//           default partitioner for keyed records (Utils.murmur2 + toPositive), so a key lands on the
//           same partition number in tickbus as in Kafka, and the mapping is stable across clients,
//           runtimes and versions: it depends only on the key's bytes (strings as UTF-8) and the count;
//   no key → round robin over the partitions, one counter per topic.

const utf8 = new TextEncoder();

/** Kafka's murmur2 (seed 0x9747b28c) as a signed 32-bit integer, like Java's int. */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  const m = 0x5bd1e995;
  let h = 0x9747b28c ^ length;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k = data[i4]! | (data[i4 + 1]! << 8) | (data[i4 + 2]! << 16) | (data[i4 + 3]! << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  const tail = length & ~3;
  const rest = length & 3;
  if (rest === 3) h ^= data[tail + 2]! << 16;
  if (rest >= 2) h ^= data[tail + 1]! << 8;
  if (rest >= 1) {
    h ^= data[tail]!;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

export function keyBytes(key: string | Uint8Array): Uint8Array {
  return typeof key === 'string' ? utf8.encode(key) : key;
}

/** The partition of a keyed record: stable, in [0, partitionCount). */
export function partitionForKey(key: string | Uint8Array, partitionCount: number): number {
  return (murmur2(keyBytes(key)) & 0x7fffffff) % partitionCount;
}

export class Partitioner {
  private readonly roundRobin = new Map<string, number>();

  /** Picks the partition of one record of `topic`, which has `partitionCount` partitions. */
  partition(topic: string, key: string | Uint8Array | null | undefined, partitionCount: number): number {
    if (key !== null && key !== undefined) return partitionForKey(key, partitionCount);
    const n = this.roundRobin.get(topic) ?? 0;
    this.roundRobin.set(topic, n + 1 >= partitionCount ? 0 : n + 1);
    return n % partitionCount;
  }
}
