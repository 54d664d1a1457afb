// A small typed event emitter that runs in browsers and Node alike (no 'node:events').
// A listener that throws does not stop the others; its error is rethrown asynchronously so it is
// reported by the runtime (like a throwing DOM event handler) instead of breaking the SDK's state.

type Listener<A extends unknown[]> = (...args: A) => unknown;

export class Emitter<Events extends { [K in keyof Events]: unknown[] }> {
  private readonly listeners = new Map<keyof Events, Listener<never[]>[]>();

  on<K extends keyof Events>(event: K, fn: Listener<Events[K]>): this {
    const list = this.listeners.get(event) ?? [];
    list.push(fn);
    this.listeners.set(event, list);
    return this;
  }

  off<K extends keyof Events>(event: K, fn: Listener<Events[K]>): this {
    const list = this.listeners.get(event);
    if (!list) return this;
    const i = list.indexOf(fn);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.listeners.delete(event);
    return this;
  }

  once<K extends keyof Events>(event: K, fn: Listener<Events[K]>): this {
    const wrapped = (...args: Events[K]): unknown => {
      this.off(event, wrapped);
      return fn(...args);
    };
    return this.on(event, wrapped);
  }

  listenerCount(event: keyof Events): number {
    return this.listeners.get(event)?.length ?? 0;
  }

  /** Calls every listener; returns the values they returned (promises included), in order. */
  protected emit<K extends keyof Events>(event: K, ...args: Events[K]): unknown[] {
    const list = this.listeners.get(event);
    if (!list) return [];
    const out: unknown[] = [];
    for (const fn of [...list]) {
      try {
        out.push((fn as Listener<Events[K]>)(...args));
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
    return out;
  }
}
