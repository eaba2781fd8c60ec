// npm run stress -- --duration 60s --rate 5000 --mix get:90,put:10
//   --keys 1000000 --value-bytes 100 --connections 64 [--url URL [--pid N]]
//   [--find-max [--p99-bound-ms 50]] [--out DIR]
//   [--overload-rate N [--overload-duration 30s] [--overload-connections 6144]]
//
// Open-loop load at a constant rate (undici Pool, every failure counted),
// latencies from the intended send time in HDR histograms, a progress line
// per second, the server's RSS over time with its fitted slope after
// warm-up, the soak verdict (rate held, p99, errors, RSS flat), requests the
// server shed (503 OVERLOADED) apart from other errors, and a JSON +
// self-contained HTML report. Keys are preloaded with mantisdb/client's batch.
// --overload-rate adds a phase past capacity after the main one, over more
// connections than the server admits in flight, to show it shed the excess
// with the latency of the served requests bounded.
// SIGINT/SIGTERM stop the run and the server it started.

import { availableParallelism, loadavg } from 'node:os';
import { MantisClient } from '../src/client/index.js';
import { UsageError } from './lib/cli-args.js';
import { findMax } from './lib/find-max.js';
import { NeighbourMeter } from '../bench/lib/proc.js';
import { neighboursLine, rssLine, serverLine, soakVerdict, verdictLine, writeReports, type LoadResult, type OverloadResult } from './lib/load-report.js';
import { parseLoadOptions, type LoadOptions } from './lib/load-options.js';
import { HttpSender } from './lib/http-sender.js';
import { RawSender } from './lib/raw-sender.js';
import { runPhase, type PhaseHooks, type SecondStats } from './lib/open-loop.js';
import { rssMiB, rssTrend, type RssPoint, type RssTrend } from './lib/rss-trend.js';
import { scrape, serverView } from './lib/server-metrics.js';
import { preloadKeys, startOwnServer, type Target } from './lib/target-server.js';

const CLIENT_DESCRIPTION = 'undici Pool, one HTTP/1.1 keep-alive connection per --connections, no pipelining, no retries';

function progress(s: SecondStats): void {
  const rss = s.rssMiB === null ? '' : `  rss ${s.rssMiB} MiB`;
  console.log(`[${s.t.toFixed(0).padStart(5)}s] ${String(s.completed).padStart(6)} ops/s  p99 ${s.p99Ms.toFixed(2)} ms  errors ${s.errors}  shed ${s.shed}  outstanding ${s.outstanding}${rss}`);
}

async function openTarget(o: LoadOptions): Promise<Target> {
  if (o.url !== null) return { url: o.url, pid: o.pid, startedHere: false, stop: async () => undefined };
  console.log(`starting MantisDB from dist/ (fsync ${o.fsync}${o.shards === null ? '' : `, ${o.shards} shards`}) on a temp data dir`);
  return startOwnServer({ fsync: o.fsync, shards: o.shards });
}

function settingsOf(o: LoadOptions): Record<string, string | number | boolean | null> {
  return {
    durationMs: o.durationMs, rate: o.rate, getShare: o.mix.getShare, keys: o.keys, valueBytes: o.valueBytes, connections: o.connections,
    fsync: o.url === null ? o.fsync : null, shards: o.shards, warmupMs: o.warmupMs, findMax: o.findMax, p99BoundMs: o.p99BoundMs, backlogMax: o.backlogMax,
    overloadRate: o.overloadRate, overloadDurationMs: o.overloadRate === null ? null : o.overloadDurationMs, overloadConnections: o.overloadRate === null ? null : o.overloadConnections,
  };
}

function printSummary(r: LoadResult): void {
  if (r.run !== null) {
    const l = r.run.latency;
    console.log(`\nachieved ${r.run.achievedRate} ops/s of ${r.run.targetRate} target; ${r.run.completed} completed, ${r.run.errorCount} errors`);
    console.log(`latency from intended send: p50 ${l.p50Ms} ms  p90 ${l.p90Ms} ms  p99 ${l.p99Ms} ms  p99.9 ${l.p999Ms} ms  max ${l.maxMs} ms`);
    console.log(`shed by the server (503 OVERLOADED): ${r.run.shed}; other errors: ${r.run.errorCount - r.run.shed}`);
    for (const [code, n] of Object.entries(r.run.errors)) console.log(`  error ${code}: ${n}`);
    console.log(`harness event-loop delay: p99 ${r.run.loopDelayMs.p99} ms, max ${r.run.loopDelayMs.max} ms; ${neighboursLine(r.machine.othersCpuShare)}`);
  }
  if (r.findMax !== null) console.log(`\nhighest rate that held (p99 <= ${r.findMax.p99BoundMs} ms): ${r.findMax.maxRate ?? 'none'} ops/s`);
  console.log(`server side: ${serverLine(r.server)}`);
  console.log(`server RSS: ${rssLine(r.rss)}`);
  if (r.soak !== null) console.log(`soak targets: ${verdictLine(r.soak)}`);
  if (r.overload !== null) printOverload(r.overload);
}

function printOverload(o: OverloadResult): void {
  const p = o.phase;
  const l = p.servedLatency;
  console.log(`\noverload phase: offered ${o.rate} ops/s for ${o.durationMs / 1000} s over ${o.connections} connections; answered ${p.achievedRate} ops/s, served ${p.servedRate} ops/s`);
  console.log(`  shed (503 OVERLOADED): ${p.shed} (${(o.shedShare * 100).toFixed(1)}% of ${p.sent} sent; the server counted ${o.server === null ? 'unknown' : o.server.shed}); other errors: ${p.errorCount - p.shed}`);
  for (const [code, n] of Object.entries(p.errors)) if (code !== 'OVERLOADED') console.log(`  error ${code}: ${n}`);
  console.log(`  latency of served requests: p50 ${l.p50Ms} ms  p90 ${l.p90Ms} ms  p99 ${l.p99Ms} ms  p99.9 ${l.p999Ms} ms  max ${l.maxMs} ms`);
  console.log(`  server side: ${serverLine(o.server)}`);
  console.log(`  harness event-loop delay: p99 ${p.loopDelayMs.p99} ms, max ${p.loopDelayMs.max} ms`);
}

async function measure(o: LoadOptions, target: Target, client: MantisClient): Promise<LoadResult> {
  const startedAt = new Date().toISOString();
  const value = Buffer.alloc(o.valueBytes, 'x');
  let preload: LoadResult['preload'] = null;
  if (o.preload) {
    const started = performance.now();
    let shown = 0;
    await preloadKeys(client, o.keys, value, (done) => {
      if (done - shown >= 100_000 || done === o.keys) console.log(`preloaded ${(shown = done)} of ${o.keys} keys`);
    });
    preload = { keys: o.keys, ms: Math.round(performance.now() - started) };
  }
  const sender = new HttpSender(target.url, o.connections, value, o.preload);
  await sender.warm();
  const send = sender.send;
  const phase = { rate: o.rate, getShare: o.mix.getShare, keys: o.keys, backlogMax: o.backlogMax };
  if (o.warmupMs > 0 && !o.findMax) {
    console.log(`warming up for ${o.warmupMs / 1000} s at ${o.rate} ops/s (not measured)`);
    await runPhase({ ...phase, durationMs: o.warmupMs }, send);
  }
  const rssPoints: RssPoint[] = [];
  const t0 = performance.now();
  const pid = target.pid;
  const hooks: PhaseHooks = {
    onSecond: progress,
    sampleRssMiB: () => {
      const rss = pid === null ? null : rssMiB(pid);
      if (rss !== null) rssPoints.push({ t: Math.round((performance.now() - t0) / 100) / 10, rssMiB: rss });
      return rss;
    },
  };
  const cpu = process.cpuUsage();
  const neighbours = pid === null ? null : new NeighbourMeter([process.pid, pid]);
  const before = await scrape(target.url);
  const run = o.findMax ? null : await runPhase({ ...phase, durationMs: o.durationMs }, send, hooks);
  const max = o.findMax
    ? await findMax({ ...o, getShare: o.mix.getShare }, send, hooks, (s) => console.log(`step ${s.rate} ops/s: achieved ${s.achievedRate}, p99 ${s.p99Ms} ms -> ${s.passed ? 'held' : `failed (${s.why})`}`))
    : null;
  const used = process.cpuUsage(cpu);
  const othersCpuShare = neighbours?.finish(0)?.others ?? null;
  const after = await scrape(target.url);
  await sender.close();
  const note = pid === null ? 'the server pid is unknown (pass --pid with --url)' : null;
  const rss: RssTrend = rssTrend(rssPoints, note);
  const overload = o.overloadRate === null ? null : await overloadPhase(o, o.overloadRate, target, value);
  return {
    kind: o.findMax ? 'find-max' : 'load',
    startedAt,
    command: `npm run stress -- ${process.argv.slice(2).join(' ')}`.trim(),
    settings: settingsOf(o),
    target: { url: target.url, startedHere: target.startedHere, pid },
    machine: { cores: availableParallelism(), node: process.version, loadAverage: loadavg(), othersCpuShare },
    client: CLIENT_DESCRIPTION,
    preload,
    run,
    soak: run === null ? null : soakVerdict(run, rss, o.p99BoundMs),
    findMax: max,
    overload,
    rss,
    rssPoints,
    server: serverView(before, after),
    harnessCpuMs: Math.round((used.user + used.system) / 1000),
  };
}

/**
 * The overload demonstration: a phase at `rate` (past capacity) over `overloadConnections`
 * connections — more than the server admits in flight, so the excess reaches the server to be
 * shed instead of waiting in this process for a free connection.
 */
async function overloadPhase(o: LoadOptions, rate: number, target: Target, value: Buffer): Promise<OverloadResult> {
  console.log(`\noverload phase: ${rate} ops/s for ${o.overloadDurationMs / 1000} s over ${o.overloadConnections} connections`);
  const sender = new RawSender(target.url, o.overloadConnections, value, o.preload);
  await sender.warm();
  const pid = target.pid;
  const before = await scrape(target.url);
  const phase = await runPhase(
    { rate, durationMs: o.overloadDurationMs, getShare: o.mix.getShare, keys: o.keys, backlogMax: o.backlogMax },
    sender.send,
    { onSecond: progress, sampleRssMiB: () => (pid === null ? null : rssMiB(pid)) },
  );
  const after = await scrape(target.url);
  await sender.close();
  return {
    rate,
    durationMs: o.overloadDurationMs,
    connections: o.overloadConnections,
    phase,
    shedShare: phase.shed / Math.max(1, phase.sent),
    server: serverView(before, after),
  };
}

async function main(): Promise<void> {
  const o = parseLoadOptions(process.argv.slice(2));
  const target = await openTarget(o);
  const client = new MantisClient({
    url: target.url,
    name: 'stress',
    retry: false,
    breaker: false,
    timeoutMs: 60_000,
    pool: { min: 1, max: 4 },
  });
  const stopOnSignal = (signal: NodeJS.Signals): void => {
    console.error(`\n${signal}: stopping`);
    void target.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  try {
    await client.connect({ timeoutMs: 120_000 });
    const result = await measure(o, target, client);
    printSummary(result);
    const files = writeReports(o.outDir, result);
    console.log(`report: ${files.html}\njson:   ${files.json}`);
  } finally {
    await client.close();
    await target.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof UsageError ? `stress: ${error.message}` : error);
  process.exit(error instanceof UsageError ? 2 : 1);
});
