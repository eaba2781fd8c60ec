// Operations benchmark: what the live metric stream costs the requests it
// watches, and what an online backup costs the writes it runs beside.
//
//   npm run bench:ops                       # 10 s per run, 64 connections
//   BENCH_DURATION_S=5 BENCH_ROUNDS=2 node dist/bench/ops-bench.js
//
// 1. Metric stream: GET (cache hits) and PUT throughput with wrk against one
//    server, alternating runs with no subscriber (the baseline, measured in
//    the same run) and with 100 SSE subscribers at interval_ms=1000 (and 100
//    at 100 ms). The target is < 2 % throughput lost at 1000 ms.
// 2. Backup: PUT throughput with a backup loop running (a full backup taken
//    again as soon as one ends) against PUT throughput with none, and the
//    backup's own duration and size.
// Environment: BENCH_DURATION_S (10), BENCH_CONNECTIONS (64), BENCH_ROUNDS (3),
// BENCH_KEYS (100000). Results: stdout and bench/results/ops-<timestamp>.json.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runWrk, stopActiveLoad, type LoadResult, type LoadSettings } from './lib/load.js';
import { preload, KEY_COUNT } from './lib/preload.js';
import { startServer, stopServer, type ServerProcess } from './lib/proc.js';
import { luaScript, type Kind } from './lib/scenarios.js';
import { envInt } from './lib/env.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const READY = /^MantisDB listening on (http:\/\/\S+)/;

type Run = { readonly scenario: string; readonly kind: Kind; readonly round: number; readonly rps: number; readonly p50: number | null; readonly p99: number | null; readonly non2xx: number };

/** Holds `n` SSE subscriptions open, reading (and counting) every event. */
async function subscribe(url: string, n: number, intervalMs: number): Promise<{ events: () => number; close: () => void }> {
  const aborts: AbortController[] = [];
  let events = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      const abort = new AbortController();
      aborts.push(abort);
      const res = await fetch(`${url}/api/v1/metrics/stream?interval_ms=${intervalMs}`, { signal: abort.signal });
      if (res.status !== 200 || res.body === null) throw new Error(`metric stream answered ${res.status}`);
      const reader = res.body.getReader();
      void (async () => {
        try {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            events += (Buffer.from(value).toString('utf8').match(/event: metrics/g) ?? []).length;
          }
        } catch {
          // aborted
        }
      })();
    }),
  );
  return { events: () => events, close: () => aborts.forEach((a) => a.abort()) };
}

function pct(v: number | null): string {
  return v === null ? '—' : v.toFixed(2);
}

async function main(): Promise<number> {
  const settings: LoadSettings = { durationS: envInt('BENCH_DURATION_S', 10, 1), connections: envInt('BENCH_CONNECTIONS', 64, 1), threads: 1 };
  const rounds = envInt('BENCH_ROUNDS', 3, 1);
  const tmp = mkdtempSync(join(tmpdir(), 'mantis-ops-bench-'));
  const scripts = new Map<Kind, string>();
  for (const kind of ['get', 'put'] as const) {
    const path = join(tmp, `${kind}.lua`);
    writeFileSync(path, luaScript(kind));
    scripts.set(kind, path);
  }
  let server: ServerProcess | null = null;
  const runs: Run[] = [];
  const backups: { ms: number; bytes: number }[] = [];
  try {
    server = await startServer('MantisDB', join(ROOT, 'dist/src/main.js'), [
      '--port', '0', '--host', '127.0.0.1', '--data-dir', join(tmp, 'data'), '--fsync', 'batch', '--log-level', 'warn', '--backup-dir', join(tmp, 'backups'), '--backup-keep-last', '2',
    ], READY);
    const url = server.url;
    console.log(`MantisDB ${url}; preloading ${KEY_COUNT} keys`);
    await preload(url);
    const run = async (scenario: string, kind: Kind, round: number): Promise<Run> => {
      const r: LoadResult = await runWrk(url, scripts.get(kind) as string, settings);
      const out = { scenario, kind, round, rps: Math.round(r.requestsPerSec), p50: r.latencyMs.p50, p99: r.latencyMs.p99, non2xx: r.non2xx };
      console.log(`${scenario.padEnd(28)} ${kind.padEnd(4)} round ${round}: ${String(out.rps).padStart(7)} req/s  p50 ${pct(out.p50)} ms  p99 ${pct(out.p99)} ms${out.non2xx > 0 ? `  non-2xx ${out.non2xx}` : ''}`);
      runs.push(out);
      return out;
    };
    // Warm-up (not recorded).
    await runWrk(url, scripts.get('get') as string, { ...settings, durationS: 2 });
    for (let round = 1; round <= rounds; round++) {
      for (const kind of ['get', 'put'] as const) {
        await run('no subscribers', kind, round);
        const slow = await subscribe(url, 100, 1000);
        await run('100 subscribers @ 1000 ms', kind, round);
        const seen = slow.events();
        slow.close();
        const fast = await subscribe(url, 100, 100);
        await run('100 subscribers @ 100 ms', kind, round);
        const seenFast = fast.events();
        fast.close();
        console.log(`  (events delivered: ${seen} at 1000 ms, ${seenFast} at 100 ms)`);
      }
      // Backups running back to back beside the writes.
      await run('no backup', 'put', round);
      let stop = false;
      const loop = (async () => {
        while (!stop) {
          const started = performance.now();
          const res = await fetch(`${url}/api/v1/backups`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"incremental":false}' });
          const body = (await res.json()) as { data?: { bytes: number } };
          if (res.status === 201 && body.data !== undefined) backups.push({ ms: performance.now() - started, bytes: body.data.bytes });
        }
      })();
      await run('backups back to back', 'put', round);
      stop = true;
      await loop;
    }
  } finally {
    stopActiveLoad();
    if (server !== null) await stopServer(server);
    rmSync(tmp, { recursive: true, force: true });
  }
  const median = (xs: number[]): number => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length === 0 ? 0 : s[Math.floor(s.length / 2)];
  };
  const ratio = (scenario: string, base: string, kind: Kind): number => {
    const pairs = runs.filter((r) => r.scenario === scenario && r.kind === kind).map((r) => r.rps / (runs.find((b) => b.scenario === base && b.kind === kind && b.round === r.round)?.rps ?? NaN));
    return median(pairs);
  };
  const table = [
    ['100 subscribers @ 1000 ms vs none, GET', ratio('100 subscribers @ 1000 ms', 'no subscribers', 'get')],
    ['100 subscribers @ 1000 ms vs none, PUT', ratio('100 subscribers @ 1000 ms', 'no subscribers', 'put')],
    ['100 subscribers @ 100 ms vs none, GET', ratio('100 subscribers @ 100 ms', 'no subscribers', 'get')],
    ['100 subscribers @ 100 ms vs none, PUT', ratio('100 subscribers @ 100 ms', 'no subscribers', 'put')],
    ['PUT with backups running vs none', ratio('backups back to back', 'no backup', 'put')],
  ] as const;
  console.log('\nmedian throughput ratio per round (1.00 = no cost; target for the metric stream at 1000 ms: ≥ 0.98)');
  for (const [name, r] of table) console.log(`  ${name.padEnd(44)} ${r.toFixed(3)}`);
  console.log(`backups taken during the PUT runs: ${backups.length}, median ${Math.round(median(backups.map((b) => b.ms)))} ms, ${(median(backups.map((b) => b.bytes)) / 1024 / 1024).toFixed(1)} MiB each`);
  const out = join(ROOT, 'bench', 'results');
  mkdirSync(out, { recursive: true });
  const file = join(out, `ops-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ settings, rounds, machine: { cores: availableParallelism(), loadAverage: loadavg(), node: process.version }, runs, backups, ratios: Object.fromEntries(table) }, null, 2));
  console.log(`results: ${file}`);
  return runs.some((r) => r.non2xx > 0) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    stopActiveLoad();
    process.exit(1);
  },
);
