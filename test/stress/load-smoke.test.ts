// A short run of the load harness (it starts its own server from dist/): it
// sends exactly rate x duration requests open-loop, writes a JSON result and
// a self-contained HTML report, samples the server's RSS with its slope after
// warm-up, and judges the soak targets. --find-max with an impossible bound
// fails every step and reports that no rate held. --overload-rate against a
// server with a low in-flight cap and a slow shard reports the requests it
// shed (503 OVERLOADED) apart from other errors, per second and in total.
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
    // Warm-up: min(10% of the run, 5 min) = 0.4 s of a 4 s run.
    expect(result.rss.warmupS).toBeCloseTo(0.4, 1);
    expect(result.rss.samplesAfterWarmup).toBeGreaterThanOrEqual(3);
    expect(typeof result.rss.slopeMiBPer10Min).toBe('number');
    expect(result.rss.flat).toBe((result.rss.slopeMiBPer10Min as number) < 1);
    // Shed requests apart from errors: none here, per second and in total.
    expect(r.shed).toBe(0);
    expect(r.seconds.every((s) => s.shed === 0)).toBe(true);
    expect(r.servedLatency.count).toBe(1000);
    expect(result.server?.shed).toBe(0);
    const soak = result.soak;
    if (soak === null) throw new Error('no soak verdict');
    expect(soak.checks.map((c) => c.name)).toEqual(['rate held', 'p99', 'errors', 'RSS flat']);
    expect(soak.checks.find((c) => c.name === 'errors')?.pass).toBe(true);
    expect(soak.checks.find((c) => c.name === 'RSS flat')?.pass).toBe(result.rss.flat);
    expect(soak.pass).toBe(soak.checks.every((c) => c.pass));
    expect(result.overload).toBeNull();
    expect(run.output).toContain('shed by the server (503 OVERLOADED): 0; other errors: 0');
    expect(run.output).toMatch(/soak targets: (PASS|FAIL) — /);
    expect(run.output).toMatch(/server RSS: .* MiB \/ 10 min after warm-up \(first 0\.4 s skipped\) -> (flat|growing|shrinking)/);
    const html = reportFile(run.outDir, '.html');
    expect(html).toContain('<svg');
    expect(html).toContain('Throughput');
    expect(html).toContain('Latency over time');
    expect(html).toContain('Shed load (503 OVERLOADED)');
    expect(html).toContain('Server RSS over time');
    expect(html).toMatch(/Soak targets: <span[^>]*>(PASS|FAIL)</);
    expect(html).not.toMatch(/<script|https?:\/\/(?!127\.0\.0\.1|www\.w3\.org)/);
  });

  it('--overload-rate reports the shed requests apart from errors, per second and as the server counted them', async () => {
    // In-flight cap 8 and a slow shard: the main phase (8 connections) can never exceed the cap; the
    // overload phase (64 connections, 3000 ops/s, each request held ~25 ms by the shard) does.
    const args = ['--duration', '2s', '--rate', '200', '--keys', '1000', '--connections', '8', '--warmup', '0', '--shards', '1',
      '--overload-rate', '3000', '--overload-duration', '2s', '--overload-connections', '64'];
    const run = await runHarness('load', args, 120_000, { MANTIS_OVERLOAD_INFLIGHT_MAX: '8', MANTIS_FAULT_SHARD_DELAY_MS: '25' });
    runs.push(run);
    expect(run.code, run.output).toBe(0);
    const result = JSON.parse(reportFile(run.outDir, '.json')) as LoadResult;
    expect(result.run?.shed).toBe(0);
    expect(result.run?.errors).toEqual({});
    const o = result.overload;
    if (o === null) throw new Error('no overload phase in the result');
    expect(o).toMatchObject({ rate: 3000, durationMs: 2000, connections: 64 });
    const p = o.phase;
    expect(p.sent).toBe(6000);
    expect(p.shed).toBeGreaterThan(0);
    expect(p.errors.OVERLOADED).toBe(p.shed);
    expect(p.seconds.reduce((n, s) => n + s.shed, 0)).toBe(p.shed);
    expect(o.shedShare).toBeCloseTo(p.shed / p.sent, 6);
    expect(o.server?.shed, 'the server counted every shed request').toBe(p.shed);
    expect(p.servedLatency.count).toBe(p.completed - p.errorCount);
    expect(run.output).toMatch(/overload phase: offered 3000 ops\/s for 2 s over 64 connections/);
    expect(run.output).toMatch(/shed \(503 OVERLOADED\): [1-9]\d* \(/);
    const html = reportFile(run.outDir, '.html');
    expect(html).toContain('Overload phase: shedding past capacity');
    expect(html).toContain('Overload phase: shed (503 OVERLOADED) and other errors per second');
    expect(html).toContain('latency of served requests');
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
