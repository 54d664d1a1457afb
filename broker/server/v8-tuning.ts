// V8 heuristics a broker turns off. The memory reducer shrinks a heap whose allocation rate has dropped
// with full mark-compact collections, two in a row: 10-15 ms each on an owner thread here (--trace-gc,
// "Mark-Compact (reduce)"), and it fires exactly when a broker runs at a low message rate or comes back
// from idle — the first seconds of traffic on a fresh broker showed p99 2-3 ms and max 20-27 ms at
// 1k msg/s from it (docs/latency.md). A broker's heaps are small and steady: keeping them is cheaper.
// V8 flags are process-wide and read as each heap works, so this is set once, before the owners start.
import v8 from 'node:v8';

export function tuneV8ForLatency(): void {
  v8.setFlagsFromString('--no-memory-reducer');
}
