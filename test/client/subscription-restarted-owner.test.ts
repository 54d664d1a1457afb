// A broker that just restarted can answer a Subscribe before its owner thread has been told of the topic:
// UNKNOWN_TOPIC "does not exist on this owner: refresh metadata". Found by the fault harness (test/faults,
// kill -9 and restart of brokers): the subscription ended that partition for good. Metadata decides whether
// the topic exists; the owner's answer alone only means "ask again".
import { expect, it } from 'vitest';
import { ErrorCode, TickbusError, utf8 } from '../../client/index.js';
import { barrieredBusOnFakeBroker, busesClosedAfterEach, until } from './sdk-fixture.js';

const buses = busesClosedAfterEach();

it("a Subscribe an owner refuses with UNKNOWN_TOPIC is tried again while metadata still has the topic", async () => {
  const { broker, bus } = await barrieredBusOnFakeBroker(buses, {}, 1);
  await bus.send('ticks', [{ value: 'a' }, { value: 'b' }], { partition: 0 });
  let refusals = 2;
  broker.hooks.subscribe = (f) => (refusals-- > 0 ? new TickbusError(ErrorCode.UNKNOWN_TOPIC, `topic '${f.topic}' does not exist on this owner: refresh metadata`, { topic: f.topic }) : undefined);
  const sub = bus.subscribe('ticks', { from: 'earliest' });
  const got: string[] = [];
  const errors: unknown[] = [];
  sub.on('record', (r) => {
    got.push(utf8(r.value));
  });
  sub.on('error', (e) => errors.push(e));
  await until(() => got.length === 2 || errors.length > 0, 'both records or an error');
  expect(errors).toEqual([]);
  expect(got).toEqual(['a', 'b']);
  expect(refusals).toBeLessThan(0);
});

it('a subscription to a topic that metadata no longer has still ends with UNKNOWN_TOPIC', async () => {
  const { broker, bus } = await barrieredBusOnFakeBroker(buses, {}, 1);
  await bus.send('ticks', [{ value: 'a' }], { partition: 0 });
  const sub = bus.subscribe('ticks', { from: 'earliest' });
  const errors: TickbusError[] = [];
  let got = 0;
  sub.on('record', () => {
    got++;
  });
  sub.on('error', (e) => errors.push(e));
  await until(() => got === 1, 'the first record');
  // The topic is gone: owners and metadata both say so.
  broker.hooks.subscribe = (f) => new TickbusError(ErrorCode.UNKNOWN_TOPIC, `topic '${f.topic}' does not exist on this owner: refresh metadata`, { topic: f.topic });
  broker.topics.delete('ticks');
  broker.dropAll();
  await until(() => errors.length > 0, 'the subscription to end');
  expect(errors[0]!.code).toBe(ErrorCode.UNKNOWN_TOPIC);
});
