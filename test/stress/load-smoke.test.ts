// A short run of the load harness (it starts its own server from dist/): it
// sends exactly rate x duration requests open-loop, writes a JSON result and
// a self-contained HTML report, and samples the server's RSS. --find-max with
// an impossible bound fails every step and reports that no rate held.
// Behaviour only: no figure here is a speed.

import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import type { LoadResult } from '../../stress/lib/load-report.js';
import { reportFile, runHarness, type HarnessRun } from './harness-run.js';

const runs: HarnessRun[] = [];
afterAll(() => {
  for (const run of runs) rmSync(run.outDir, { recursive: true, force: true });
});

describe('load harness smoke run', () => {
  it('runs open-loop at a constant rate and writes its reports', async () => {
    const run = await runHarness('load', ['--duration', '4s', '--rate', '250', '--keys', '2000', '--connections', '8', '--warmup', '0', '--shards', '2'], 120_000);
    runs.push(run);
    expect(run.code, run.output).toBe(0);
    expect(run.output).toMatch(/\[\s+1s\]\s+\d+ ops\/s\s+p99 [\d.]+ ms\s+errors \d+/);
    const result = JSON.parse(reportFile(run.outDir, '.json')) as LoadResult;
    expect(result.kind).toBe('load');
    expect(result.preload).toMatchObject({ keys: 2000 });
    const r = result.run;
    if (r === null) throw new Error('no run in the result');
    expect(r.sent).toBe(1000);
    expect(r.completed).toBe(1000);
    expect(r.errors).toEqual({});
    expect(r.latency.count).toBe(1000);
    expect(r.latency.p50Ms).toBeLessThanOrEqual(r.latency.p99Ms);
    expect(r.latency.p99Ms).toBeLessThanOrEqual(r.latency.maxMs);
    expect(r.seconds.length).toBeGreaterThanOrEqual(4);
    expect(result.rss.samples).toBeGreaterThanOrEqual(3);
    expect(typeof result.rss.slopeMiBPerMin).toBe('number');
    const html = reportFile(run.outDir, '.html');
    expect(html).toContain('<svg');
    expect(html).toContain('Throughput');
    expect(html).not.toMatch(/<script|https?:\/\/(?!127\.0\.0\.1|www\.w3\.org)/);
  });

  it('--find-max reports every step and no held rate when the bound cannot be met', async () => {
    const args = ['--find-max', '--p99-bound-ms', '0.0001', '--start-rate', '100', '--step-duration', '1s', '--keys', '500', '--connections', '4', '--shards', '1'];
    const run = await runHarness('load', args, 120_000);
    runs.push(run);
    expect(run.code, run.output).toBe(0);
    const result = JSON.parse(reportFile(run.outDir, '.json')) as LoadResult;
    expect(result.kind).toBe('find-max');
    const steps = result.findMax?.steps ?? [];
    expect(steps.length).toBeGreaterThanOrEqual(2);
    expect(steps.every((s) => !s.passed && s.why.includes('p99'))).toBe(true);
    expect(steps.map((s) => s.rate)).toEqual([100, 50, 25, 13, 7]);
    expect(result.findMax?.maxRate).toBeNull();
    expect(reportFile(run.outDir, '.html')).toContain('find-max steps');
  });
});
