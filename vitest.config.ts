import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    reporters: ['default', './test/helpers/summary-reporter.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real broker processes; two cores do not like many at once.
    fileParallelism: true,
    maxWorkers: 2,
    pool: 'forks',
  },
});
