import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'admin/test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration tests spawn real server processes; forks isolate them and
    // let native addons (uWebSockets.js, msgpackr-extract) load cleanly.
    pool: 'forks',
    // CI runs on a 2-core machine: run test files in parallel, but at most two
    // at a time.
    fileParallelism: true,
    maxWorkers: 2,
    // The summary reporter prints `N passed, N failed[, N skipped]` as the
    // final line of output; keep it last.
    reporters: ['default', './test/reporters/summary-reporter.ts'],
  },
});
