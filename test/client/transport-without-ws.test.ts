// In Node 20 there is no global WebSocket: the SDK loads the `ws` package. When that fails, the error
// says which of the two reasons applies (no WebSocket at all, or the `tls` option that needs `ws`).
import { describe, expect, it, vi } from 'vitest';
import { createWebSocketTransport } from '../../client/transport.js';

vi.mock('ws', () => {
  throw new Error("Cannot find package 'ws'");
});

const handlers = { onMessage: () => undefined, onClose: () => undefined };

describe('the WebSocket transport when the ws package cannot be loaded', () => {
  it('without tls: a typed, non-retryable error that names the missing package', async () => {
    expect((globalThis as { WebSocket?: unknown }).WebSocket).toBeUndefined();
    await expect(createWebSocketTransport().open('ws://127.0.0.1:9/', handlers, 1_000)).rejects.toMatchObject({
      codeName: 'CONNECTION_CLOSED',
      retryable: false,
      message: expect.stringMatching(/no global WebSocket.*install 'ws'/),
    });
  });

  it("with tls: says the 'tls' option needs it", async () => {
    await expect(createWebSocketTransport({ servername: 'x' }).open('wss://127.0.0.1:9/', handlers, 1_000)).rejects.toMatchObject({
      codeName: 'CONNECTION_CLOSED',
      retryable: false,
      message: expect.stringMatching(/'tls' option needs Node's 'ws' package/),
    });
  });
});
