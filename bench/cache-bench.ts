// Cache benchmark (`npm run bench:cache`), two parts in one run:
//
// 1. Hit rates: bench/cache-sim.js as a child process — zipfian (s = 0.99) GETs
//    over 1M keys with the cache at 10 % of the data, through the real
//    CacheWriter/CacheReader, beside plain LRU and Belady's optimum.
// 2. GET-hit throughput over HTTP with wrk: MantisDB with its cache (every GET
//    a hit, answered by the router with no thread hop), the bare
//    uWebSockets.js server that answers a constant (target: cache ≥ 0.75× of
//    it), and MantisDB with --cache-mb 0, where the same GETs go over the shard
//    rings. The three are measured alternately, each after a warm-up.
//
// Environment: BENCH_DURATION_S (10), BENCH_CONNECTIONS (64), BENCH_WARMUP_S (2),
// BENCH_ROUNDS (2: alternations of the three servers; the best round of each
// is reported), CACHE_BENCH_SIM (1; 0 skips the simulation), and the
// CACHE_SIM_* variables of bench/cache-sim.ts. Results: stdout and
// bench/results/cache-<timestamp>.json. Exit code 1 when responses failed.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runWrk, stopActiveLoad, wrkVersion, type LoadResult, type LoadSettings } from './lib/load.js';
import { KEY_COUNT, preload, smokeCheckBare, smokeCheckMantis } from './lib/preload.js';
import { NeighbourMeter, startServer, stopServer, type ServerProcess } from './lib/proc.js';
import { describeErrors, errorCount, resultsPath, table } from './lib/report.js';
import { luaScript } from './lib/scenarios.js';
import { envInt } from './lib/env.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TARGET_RATIO = 0.75;

const progress = (message: string): void => {
  process.stderr.write(`[cache-bench] ${message}\n`);
};

type TargetName = 'bare' | 'cache' | 'ring';
const LABELS: Record<TargetName, string> = {
  bare: 'bare uWebSockets.js (constant 100 B)',
  cache: 'MantisDB GET, cache hits (--cache-mb 64)',
  ring: 'MantisDB GET, no cache (--cache-mb 0, shard ring)',
};

type Measured = { readonly target: TargetName; readonly round: number; readonly load: LoadResult; readonly othersCpu: number | null; readonly counters: Counters | null };
type Counters = { readonly cacheHits: number; readonly cacheMisses: number; readonly shardGets: number };

/** The simulation's report, run in a child so its memory and JIT do not touch the HTTP part. */
function runSimulation(): string {
  if (process.env.CACHE_BENCH_SIM === '0') return '(skipped: CACHE_BENCH_SIM=0)';
  progress('hit-rate simulation (bench/cache-sim.js) …');
  const run = spawnSync(process.execPath, [join(ROOT, 'dist/bench/cache-sim.js')], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  if (run.status !== 0) throw new Error(`cache-sim failed (code ${run.status}):\n${run.stdout}\n${run.stderr}`);
  return run.stdout.trimEnd();
}

function metricSum(text: string, name: string, labelPart = ''): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) && line.includes(labelPart)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

async function counters(server: ServerProcess): Promise<Counters> {
  const text = await (await fetch(`${server.url}/api/metrics/prometheus`)).text();
  return {
    cacheHits: metricSum(text, 'mantis_cache_hits_total'),
    cacheMisses: metricSum(text, 'mantis_cache_misses_total'),
    shardGets: metricSum(text, 'mantis_shard_ops_total', 'op="get"'),
  };
}

const diff = (a: Counters, b: Counters): Counters => ({
  cacheHits: b.cacheHits - a.cacheHits,
  cacheMisses: b.cacheMisses - a.cacheMisses,
  shardGets: b.shardGets - a.shardGets,
});

function startMantis(dataDir: string, cacheMb: number): Promise<ServerProcess> {
  const args = ['--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir, '--log-level', 'warn', '--cache-mb', String(cacheMb)];
  return startServer(`MantisDB --cache-mb ${cacheMb}`, join(ROOT, 'dist/src/main.js'), args, /^MantisDB listening on (http:\/\/\S+)/);
}

const ms = (n: number | null): string => (n === null ? '?' : `${n.toFixed(2)} ms`);
const rate = (n: number): string => `${(n / 1000).toFixed(1)}k`;

function report(best: Map<TargetName, Measured>, all: readonly Measured[], settings: LoadSettings): { text: string; ratio: number | null } {
  const bare = best.get('bare');
  const ratioOf = (m: Measured | undefined): number | null => (m && bare ? m.load.requestsPerSec / bare.load.requestsPerSec : null);
  const rows = (['bare', 'cache', 'ring'] as const).map((target) => {
    const m = best.get(target);
    if (m === undefined) return [LABELS[target], '-', '-', '-', '-', '-', '-'];
    const r = ratioOf(m);
    const c = m.counters;
    const hitRate = c === null || c.cacheHits + c.cacheMisses === 0 ? '-' : `${((100 * c.cacheHits) / (c.cacheHits + c.cacheMisses)).toFixed(1)} %`;
    return [LABELS[target], rate(m.load.requestsPerSec), ms(m.load.latencyMs.p50), ms(m.load.latencyMs.p99), r === null || target === 'bare' ? '-' : `${r.toFixed(2)}×`, hitRate, c === null ? '-' : String(c.shardGets)];
  });
  const cacheRatio = ratioOf(best.get('cache'));
  const ring = best.get('ring');
  const cache = best.get('cache');
  const lines = [
    '',
    `== GET hits over HTTP == wrk -t${settings.threads} -c${settings.connections} -d${settings.durationS}s, ${KEY_COUNT} keys of 100 B, uniform random keys, ${availableParallelism()} cores, shards = cores; best of ${new Set(all.map((m) => m.round)).size} rounds`,
    table(['server', 'req/s', 'p50', 'p99', 'vs bare', 'cache hit rate', 'shard GETs'], rows, [false, true, true, true, true, true, true]),
    '',
    `cache hits ≥ ${TARGET_RATIO}× bare uWS: ${cacheRatio === null ? '?' : `${cacheRatio >= TARGET_RATIO ? 'met' : 'NOT met'} (${cacheRatio.toFixed(2)}×)`}`,
    cache && ring ? `cache vs the shard-ring path: ${(cache.load.requestsPerSec / ring.load.requestsPerSec).toFixed(2)}× the throughput, p99 ${ms(cache.load.latencyMs.p99)} vs ${ms(ring.load.latencyMs.p99)}` : '',
    'every round: ' + all.map((m) => `${m.target}#${m.round} ${rate(m.load.requestsPerSec)} p99 ${ms(m.load.latencyMs.p99)}${m.othersCpu !== null && m.othersCpu > 0.1 ? ` (others used ${(100 * m.othersCpu).toFixed(0)} % CPU)` : ''}`).join('; '),
  ];
  return { text: lines.join('\n'), ratio: cacheRatio };
}

async function main(): Promise<number> {
  const settings: LoadSettings = { durationS: envInt('BENCH_DURATION_S', 10, 1), connections: envInt('BENCH_CONNECTIONS', 64, 1), threads: 1 };
  const warmupS = envInt('BENCH_WARMUP_S', 2, 0);
  const rounds = envInt('BENCH_ROUNDS', 2, 1);
  if (wrkVersion() === null) throw new Error('wrk is needed for the HTTP part (apt-get install wrk)');
  const sim = runSimulation();
  process.stdout.write(`== Hit rates (simulation) ==\n${sim}\n`);

  const tmp = mkdtempSync(join(tmpdir(), 'mantis-cache-bench-'));
  const servers: Partial<Record<TargetName, ServerProcess>> = {};
  const cleanup = async (): Promise<void> => {
    stopActiveLoad();
    await Promise.all(Object.values(servers).map((s) => stopServer(s)));
    rmSync(tmp, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));
  try {
    const [bare, cache, ring] = await Promise.all([
      startServer('bare-uws', join(ROOT, 'dist/bench/bare-uws.js'), ['--port', '0', '--host', '127.0.0.1'], /^bare-uws listening on (http:\/\/\S+)/),
      startMantis(join(tmp, 'cache'), 64),
      startMantis(join(tmp, 'ring'), 0),
    ]);
    Object.assign(servers, { bare, cache, ring });
    progress(`preloading ${KEY_COUNT} keys into both MantisDB servers (batches write through the cache)`);
    await Promise.all([preload(cache.url), preload(ring.url)]);
    await Promise.all([smokeCheckMantis(cache.url), smokeCheckMantis(ring.url), smokeCheckBare(bare.url)]);
    const script = join(tmp, 'get.lua');
    writeFileSync(script, luaScript('get'));

    const all: Measured[] = [];
    for (let round = 1; round <= rounds; round++) {
      for (const target of ['bare', 'cache', 'ring'] as const) {
        const server = servers[target] as ServerProcess;
        if (warmupS > 0) await runWrk(server.url, script, { ...settings, durationS: warmupS });
        const before = target === 'bare' ? null : await counters(server);
        const meter = new NeighbourMeter([bare.pid, cache.pid, ring.pid, process.pid]);
        const load = await runWrk(server.url, script, settings);
        const cpu = meter.finish(load.toolCpuTicks);
        const after = before === null ? null : await counters(server);
        all.push({ target, round, load, othersCpu: cpu?.others ?? null, counters: before && after ? diff(before, after) : null });
        progress(`${LABELS[target]} round ${round}: ${Math.round(load.requestsPerSec)} req/s, p99 ${ms(load.latencyMs.p99)}, errors ${describeErrors(load)}`);
      }
    }
    const best = new Map<TargetName, Measured>();
    for (const m of all) if ((best.get(m.target)?.load.requestsPerSec ?? -1) < m.load.requestsPerSec) best.set(m.target, m);
    const { text, ratio } = report(best, all, settings);
    process.stdout.write(`${text}\n`);
    const failed = all.filter((m) => errorCount(m.load) > 0);
    for (const m of failed) process.stdout.write(`FAILED RESPONSES: ${m.target}#${m.round}: ${describeErrors(m.load)}\n`);
    const file = resultsPath(ROOT, 'cache', new Date());
    const json = {
      benchmark: 'cache', settings: { ...settings, warmupS, rounds, wrk: wrkVersion(), keys: KEY_COUNT, cores: availableParallelism() },
      simulation: sim, cacheVsBare: ratio, targetRatio: TARGET_RATIO,
      runs: all.map((m) => ({ target: m.target, round: m.round, requestsPerSec: m.load.requestsPerSec, latencyMs: m.load.latencyMs, errors: errorCount(m.load), othersCpu: m.othersCpu, counters: m.counters })),
    };
    writeFileSync(file, JSON.stringify(json, null, 2) + '\n');
    process.stdout.write(`Results written to ${file}\n`);
    return failed.length > 0 ? 1 : 0;
  } finally {
    await cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    progress(`FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
