// The daemon: HTTP /healthz and /metrics on the bootstrap port, graceful shutdown on SIGTERM that
// keeps everything acknowledged, and a clear refusal when the port is taken.
import { afterEach, describe, expect, it } from 'vitest';
import { type BrokerProcess, startBroker } from '../helpers/broker.js';
import { createTopic, endpoints, readAll, WireClient } from '../helpers/wire-client.js';

describe('daemon', () => {
  const started: BrokerProcess[] = [];
  afterEach(async () => {
    for (const b of started.splice(0)) await b.stop();
  });

  it('serves /healthz and Prometheus /metrics on the bootstrap port', async () => {
    const b = await startBroker();
    started.push(b);
    const h = await fetch(`http://127.0.0.1:${b.port}/healthz`);
    expect(h.status).toBe(200);
    const body = (await h.json()) as { status: string; owners: { up: boolean }[] };
    expect(body.status).toBe('ok');
    expect(body.owners.every((o) => o.up)).toBe(true);

    await createTopic(b.url, 'm', 1);
    const [url] = await endpoints(b.url, 'm');
    const c = await WireClient.open(url!);
    await c.produce('m', 0, [{ value: 'a' }, { value: 'b' }]);
    c.close();
    const m = await (await fetch(`http://127.0.0.1:${b.port}/metrics`)).text();
    expect(m).toMatch(/^tickbus_records_in_total 2$/m);
    expect(m).toMatch(/^tickbus_partition_high_watermark\{topic="m",partition="0"\} 2$/m);
    expect(m).toMatch(/^tickbus_owner_up\{owner="0"\} 1$/m);
    expect(m).toMatch(/tickbus_process_cpu_user_seconds_total/);
  });

  it('shuts down on SIGTERM with exit code 0 and keeps every acknowledged record', async () => {
    const b = await startBroker({ args: ['--fsync', 'os'] });
    started.push(b);
    await createTopic(b.url, 'g', 2);
    const urls = await endpoints(b.url, 'g');
    const c = await WireClient.open(urls[1]!);
    for (let i = 0; i < 50; i++) expect((await c.produce('g', 1, [{ value: `x${i}` }])).type).toBe('ProduceAck');
    const closed = c.waitClosed();
    expect(await b.stop()).toBe(0);
    // Clients are told why before the socket closes.
    expect(c.frames.some((f) => f.type === 'ErrorReply' && f.code === 501)).toBe(true);
    await closed;
    expect(b.stderr()).toMatch(/shutting down signal="SIGTERM"/);
    await b.restart();
    const [, url1] = await endpoints(b.url, 'g');
    const recs = await readAll(url1!, 'g', 1);
    expect(recs.map((r) => new TextDecoder().decode(r.value!))).toEqual([...Array(50).keys()].map((i) => `x${i}`));
  });

  it('refuses to start on a port in use, with a clear message', async () => {
    const a = await startBroker();
    started.push(a);
    // A second broker that did start (sharing the port) must not outlive the test.
    const second = startBroker({ args: ['--port', String(a.port)] }).then((b) => {
      started.push(b);
      return 'started';
    });
    await expect(second).rejects.toThrow(/cannot listen on 127\.0\.0\.1:\d+/);
  });
});
