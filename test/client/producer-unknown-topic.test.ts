// A partition owner that answers UNKNOWN_TOPIC has not (yet) opened a topic the cluster has: one just
// created in etcd whose leader's owner has not heard of it, or an owner that restarted. The producer
// asks metadata again before it gives up, as subscriptions do: the send succeeds once the owner has it,
// and fails with UNKNOWN_TOPIC only when metadata says the topic is gone. Found by
// test/cluster/failover.test.ts (sends right after createTopic failed on a real cluster).
import { describe, expect, it } from 'vitest';
import { ErrorCode, TickbusError } from '../../client/index.js';
import { busesClosedAfterEach, busOnFakeBroker } from './sdk-fixture.js';

const buses = busesClosedAfterEach();

const setup = (): ReturnType<typeof busOnFakeBroker> => busOnFakeBroker(buses, {}, 1);

const notOpenedYet = (): TickbusError => new TickbusError(ErrorCode.UNKNOWN_TOPIC, "topic 'ticks' does not exist on this owner: refresh metadata", { topic: 'ticks', partition: 0 });

describe('producer and an owner that does not know the topic', () => {
  it('retries after refreshing metadata while the owner has not opened a topic metadata lists', async () => {
    const { broker, bus } = await setup();
    let refusals = 3;
    broker.hooks.produce = () => (refusals-- > 0 ? notOpenedYet() : undefined);
    const acks = await bus.send('ticks', [{ value: 'first' }], { acks: 'all' });
    expect(acks).toEqual([{ partition: 0, offset: 0 }]);
    expect(broker.sent('Produce')).toHaveLength(4);
    expect(broker.sent('Metadata').length).toBeGreaterThanOrEqual(4); // one refresh per refusal
  });

  it('fails with UNKNOWN_TOPIC when metadata no longer lists the topic', async () => {
    const { broker, bus } = await setup();
    await bus.send('ticks', [{ value: 'warm' }]);
    broker.hooks.produce = () => {
      broker.topics.delete('ticks'); // deleted: the next metadata answer no longer lists it
      return notOpenedYet();
    };
    await expect(bus.send('ticks', [{ value: 'gone' }])).rejects.toMatchObject({ code: ErrorCode.UNKNOWN_TOPIC });
  });
});
