// A short run of the crash harness: a few kill -9 cycles under a write load
// with --fsync always, and nothing acknowledged may be lost.

import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { reportFile, runHarness, type HarnessRun } from './harness-run.js';

type CrashSummary = { cycles: number; writesAcknowledged: number; writesLost: number; valuesCorruptOrMixed: number; valuesNeverWritten: number; restartToHealthReadyMs: { min: number; median: number; max: number } | null };

let run: HarnessRun | undefined;
afterAll(() => {
  if (run !== undefined) rmSync(run.outDir, { recursive: true, force: true });
});

describe('crash harness smoke run', () => {
  it('kills the server 3 times under writes and loses no acknowledged write', async () => {
    run = await runHarness('crash', ['--cycles', '3', '--keys', '200', '--concurrency', '16', '--kill-after-ms', '150..600', '--shards', '2'], 180_000);
    expect(run.code, run.output).toBe(0);
    expect(run.output).toMatch(/cycles 3, writes acknowledged \d+ .*writes lost 0/);
    const { summary } = JSON.parse(reportFile(run.outDir, '.json')) as { summary: CrashSummary };
    expect(summary.cycles).toBe(3);
    expect(summary.writesAcknowledged).toBeGreaterThan(0);
    expect({ lost: summary.writesLost, corrupt: summary.valuesCorruptOrMixed, phantom: summary.valuesNeverWritten }).toEqual({ lost: 0, corrupt: 0, phantom: 0 });
    expect(summary.restartToHealthReadyMs?.min).toBeGreaterThan(0);
  });
});
