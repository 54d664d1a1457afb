import { describe, expect, it } from 'vitest';
import { ErrorCode, TickbusError } from '../../client/index.js';
import { MetadataCache } from '../../client/internal.js';
import type { TopicInfoWire } from '../../schemas/frames.js';

const info = (name: string, n: number, port = 1): TopicInfoWire => ({
  name,
  config: null,
  partitions: Array.from({ length: n }, (_, i) => ({ partition: n - 1 - i, ownerId: 0, endpoint: `ws://h:${port}`, leaderEpoch: 0, logStartOffset: 0, highWatermark: 0 })),
});

describe('metadata cache', () => {
  it('shares one request among concurrent refreshes, indexes partitions by number, caches the answer', async () => {
    let calls = 0;
    let release: (v: TopicInfoWire[]) => void = () => undefined;
    const cache = new MetadataCache((topics) => {
      calls++;
      expect(topics).toEqual(['t']);
      return new Promise((r) => (release = r));
    });
    const a = cache.get('t');
    const b = cache.refresh('t');
    expect(calls).toBe(1);
    release([info('t', 3)]);
    const [ma, mb] = await Promise.all([a, b]);
    expect(ma).toBe(mb);
    expect(ma.partitions.map((p) => p.partition)).toEqual([0, 1, 2]);
    expect(cache.peek('t')).toBe(ma);
    await cache.get('t');
    expect(calls).toBe(1);
  });

  it('says UNKNOWN_TOPIC for a topic the broker does not list, and forgets it', async () => {
    let answer: TopicInfoWire[] = [info('t', 1)];
    const cache = new MetadataCache(async () => answer);
    await cache.get('t');
    answer = [];
    await expect(cache.refresh('t')).rejects.toMatchObject({ code: ErrorCode.UNKNOWN_TOPIC, topic: 't' });
    expect(cache.peek('t')).toBeUndefined();
  });

  it('keeps the cached answer when a refresh fails for a retryable reason', async () => {
    let fail = false;
    const cache = new MetadataCache(async () => {
      if (fail) throw new TickbusError(ErrorCode.CONNECTION_CLOSED, 'down');
      return [info('t', 2)];
    });
    const m = await cache.get('t');
    fail = true;
    await expect(cache.refresh('t')).rejects.toMatchObject({ code: ErrorCode.CONNECTION_CLOSED });
    expect(cache.peek('t')).toBe(m);
  });

  it('refuses metadata with a hole in the partition numbers', async () => {
    const t = info('t', 3);
    t.partitions.splice(1, 1);
    const cache = new MetadataCache(async () => [t]);
    await expect(cache.get('t')).rejects.toMatchObject({ code: ErrorCode.MALFORMED_FRAME });
  });
});
