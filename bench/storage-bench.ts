// Storage benchmark (issue 3, item 7): MantisDB's LSM tree against LevelDB
// (classic-level) in the same process and the same run, on a data set ten
// times the memory budget, then the end-to-end cold random GET over HTTP
// against the real server.
//
//   npm run bench:storage                          # 32 MiB budget, 320 MiB of data: a few minutes
//   node dist/bench/storage-bench.js --quick       # smoke run, well under a minute
//   node dist/bench/storage-bench.js --scale 0.5   # half the data (and reads)
//
// Flags: --quick, --scale X (data and read counts ×X), --budget-mb N (32),
// --engines mantis,leveldb, --no-http, --http-connections N (4), --seed N.
// Results go to stdout and bench/results/storage-<timestamp>.json. The exit
// code is 1 when an engine answered wrongly or failed; missed targets do not
// change it.

import { execSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tuningFromBudget } from '../workers/lsm/index.js';
import { averageEntryBytes, DataSet, rng, SCAN_PREFIX_KEYS } from './lib/storage-data.js';
import { createLsmPool, LevelEngine, MantisEngine, type EngineId, type StorageEngine } from './lib/storage-engines.js';
import { distinctIndices, runHttpPhase, type HttpResult } from './lib/storage-http.js';
import { dropPageCache, readIo } from './lib/storage-io.js';
import { readPhase, scanPhase, writePhase, type PhaseResult } from './lib/storage-phases.js';
import { BUSY_SHARE_MAX, NeighbourMeter, waitForQuietMachine } from './lib/proc.js';
import { pushProblems, resultsPath } from './lib/report.js';
import { amplificationTable, checkTargets, fmtMiB, httpTable, phaseTable, targetsTable, type EngineSummary, type Measured } from './lib/storage-report.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const POOL_ENTRY = join(ROOT, 'dist/workers/pool/pool-main.js');
const SERVER = join(ROOT, 'dist/src/main.js');
const MiB = 1024 * 1024;

type Options = {
  quick: boolean;
  scale: number;
  budgetMiB: number;
  engines: EngineId[];
  http: boolean;
  httpConnections: number;
  seed: number;
  waitIdleS: number;
  writesOnly: boolean;
};

function parseArgs(argv: readonly string[]): Options {
  const o: Options = { quick: false, scale: 1, budgetMiB: 32, engines: ['mantis', 'leveldb'], http: true, httpConnections: 4, seed: 1, waitIdleS: 60, writesOnly: false };
  const num = (name: string, raw: string | undefined, min: number): number => {
    const v = Number(raw);
    if (raw === undefined || !Number.isFinite(v) || v < min) throw new Error(`${name} needs a number ≥ ${min}, got ${String(raw)}`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') o.quick = true;
    else if (a === '--scale') o.scale = num(a, argv[++i], 0.001);
    else if (a === '--budget-mb') o.budgetMiB = Math.round(num(a, argv[++i], 4));
    else if (a === '--no-http') o.http = false;
    else if (a === '--writes-only') {
      o.writesOnly = true;
      o.http = false;
    }
    else if (a === '--wait-idle-s') o.waitIdleS = num(a, argv[++i], 0);
    else if (a === '--http-connections') o.httpConnections = Math.round(num(a, argv[++i], 1));
    else if (a === '--seed') o.seed = Math.round(num(a, argv[++i], 0));
    else if (a === '--engines') o.engines = (argv[++i] ?? '').split(',').map((e) => (e === 'mantis' || e === 'leveldb' ? e : ((): never => { throw new Error(`unknown engine ${e}`); })()));
    else throw new Error(`unknown flag ${a} (see the header of bench/storage-bench.ts)`);
  }
  if (o.quick && !argv.includes('--budget-mb')) o.budgetMiB = 4;
  return o;
}

const progress = (message: string): void => {
  process.stderr.write(`[storage-bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
};

function randomIndices(count: number, keyCount: number, next: () => number): Uint32Array {
  const out = new Uint32Array(count);
  for (let i = 0; i < count; i++) out[i] = Math.floor(next() * keyCount);
  return out;
}

/** Time to make the keys and values alone: the ceiling any engine's write rate is measured under. */
function generationRate(count: number): number {
  const data = new DataSet(count);
  const started = performance.now();
  let sink = 0;
  for (let i = 0; i < count; i++) sink += Buffer.from(`k${i}`).length + data.nextValue(i).length;
  return sink > 0 ? count / ((performance.now() - started) / 1000) : 0;
}

async function measure(engine: StorageEngine, run: () => Promise<PhaseResult> | PhaseResult): Promise<Measured> {
  const meter = new NeighbourMeter([process.pid]);
  const r = await run();
  const cpu = meter.finish(0);
  const line = `${r.phase} ${engine.id}: ${Math.round(r.opsPerSec)} ops/s over ${r.ops} ops in ${(r.ms / 1000).toFixed(1)} s` + (r.settleMs > 0 ? `, settled in ${(r.settleMs / 1000).toFixed(1)} s, ${r.writeStalls} stalled batches (${r.level0Stalls} for level 0) waiting ${(r.writeStallMs / 1000).toFixed(1)} s` : '') + (r.wrong > 0 ? `, WRONG ${r.wrong}: ${r.wrongExamples[0]}` : '');
  progress(line);
  return { ...r, othersCpu: cpu?.others ?? null };
}

function describeTasks(tasks: MantisEngine['tasks']): string {
  const one = (name: string, t: { count: number; ms: number; maxMs: number }): string =>
    `${t.count} ${name}${t.count === 0 ? '' : ` mean ${(t.ms / t.count).toFixed(0)} max ${t.maxMs.toFixed(0)}`}`;
  return `${one('flushes', tasks.flush)}; ${one('compactions', tasks.compact)}`;
}

function gitState(): string {
  try {
    const head = execSync('git rev-parse --short HEAD', { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execSync('git status --porcelain -- src workers shared', { cwd: ROOT, encoding: 'utf8' }).trim();
    return dirty === '' ? head : `${head} + uncommitted changes in src/workers/shared`;
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<number> {
  const o = parseArgs(process.argv.slice(2));
  const startedAt = new Date();
  const budgetBytes = o.budgetMiB * MiB;
  const tuning = tuningFromBudget(budgetBytes);
  const keyCount = Math.max(SCAN_PREFIX_KEYS * 10, Math.round((10 * budgetBytes * o.scale) / averageEntryBytes / SCAN_PREFIX_KEYS) * SCAN_PREFIX_KEYS);
  const readScale = o.quick ? 0.2 : o.scale;
  const counts = {
    randomWrites: Math.round(keyCount / 2),
    coldReads: Math.max(500, Math.round(10_000 * readScale)),
    warmReads: Math.max(10_000, Math.round(200_000 * readScale)),
    hotKeys: Math.max(16, Math.floor(tuning.blockCacheBytes / tuning.sst.blockBytes / 2)),
    scans: Math.max(100, Math.round(1000 * readScale)),
    httpRequests: Math.max(500, Math.round(5000 * readScale)),
  };
  const problems: string[] = [];
  const busyBefore = await waitForQuietMachine(o.waitIdleS, progress, '--wait-idle-s');
  if (busyBefore !== null && busyBefore > BUSY_SHARE_MAX) problems.push(`machine not idle before the run: ${(busyBefore * 100).toFixed(0)}% CPU busy`);
  progress(`budget ${o.budgetMiB} MiB, ${keyCount} keys of ~${averageEntryBytes.toFixed(0)} B (≈${fmtMiB(keyCount * averageEntryBytes)}, 10× budget × scale ${o.scale}); Mantis memtable ${fmtMiB(tuning.memtableBytes)}, block cache ${fmtMiB(tuning.blockCacheBytes)}; LevelDB writeBufferSize ${fmtMiB(tuning.memtableBytes)}, cacheSize ${fmtMiB(tuning.blockCacheBytes)}`);

  const tmp = mkdtempSync(join(tmpdir(), 'mantis-storage-bench-'));
  const pool = createLsmPool(POOL_ENTRY, Math.max(1, Math.floor(availableParallelism() / 2)));
  const engines: StorageEngine[] = [];
  if (o.engines.includes('leveldb')) engines.push(new LevelEngine(join(tmp, 'leveldb'), tuning.blockCacheBytes, tuning.memtableBytes));
  if (o.engines.includes('mantis')) engines.push(new MantisEngine(join(tmp, 'mantis'), tuning, pool));
  const data = new Map(engines.map((e) => [e.id, new DataSet(keyCount)]));
  const results: Measured[] = [];
  const summaries = new Map<EngineId, EngineSummary>();
  let http: HttpResult | null = null;
  let cacheDrop = '';
  try {
    const genRate = generationRate(Math.min(keyCount, 100_000));
    progress(`generating keys + values alone: ${Math.round(genRate)} ops/s (included in the write figures for both engines)`);
    for (const e of engines) await e.open();

    // ---- writes: every key in order, then half as many random overwrites ----
    const seqOrder = Uint32Array.from({ length: keyCount }, (_, i) => i);
    const randomOrder = randomIndices(counts.randomWrites, keyCount, rng(o.seed));
    const writeIo = new Map<EngineId, { wchar: number; dirtied: number; user: number; engine: number | null }>();
    for (const [phase, order] of [['seq-write', seqOrder], ['random-write', randomOrder]] as const) {
      for (const e of engines) {
        const r = await measure(e, () => writePhase(phase, e, data.get(e.id) as DataSet, order, 100, (done) => progress(`  ${phase} ${e.id}: ${done}/${order.length}`)));
        results.push(r);
        const acc = writeIo.get(e.id) ?? { wchar: 0, dirtied: 0, user: 0, engine: 0 };
        const own = r.tableBytesWritten === null ? null : r.tableBytesWritten + (r.walBytesWritten ?? 0);
        writeIo.set(e.id, { wchar: acc.wchar + (r.io?.wchar ?? NaN), dirtied: acc.dirtied + (r.io?.writeBytes ?? NaN), user: acc.user + r.userBytes, engine: acc.engine === null || own === null ? null : acc.engine + own });
      }
    }
    for (const e of engines) {
      const io = writeIo.get(e.id);
      const disk = e.diskBytes();
      const live = (data.get(e.id) as DataSet).liveUserBytes();
      summaries.set(e.id, {
        writeAmp: io ? io.wchar / io.user : null,
        writeAmpDirtied: io ? io.dirtied / io.user : null,
        writeAmpEngine: io && io.engine !== null ? io.engine / io.user : null,
        diskBytes: disk,
        liveUserBytes: live,
        spaceAmp: disk / live,
        layout: e.counters().layout,
        writeStalls: results.filter((r) => r.engine === e.id).reduce((n, r) => n + r.writeStalls, 0),
        writeStallMs: results.filter((r) => r.engine === e.id).reduce((n, r) => n + r.writeStallMs, 0),
        level0Stalls: results.filter((r) => r.engine === e.id).reduce((n, r) => n + r.level0Stalls, 0),
        poolTasks: e instanceof MantisEngine ? describeTasks(e.tasks) : 'n/a',
        reopenMs: NaN,
      });
      await e.close();
    }

    // ---- reads: reopen each engine with the page cache dropped, then read ----
    const readNext = rng(o.seed + 1);
    const coldKeys = distinctIndices(keyCount, counts.coldReads, readNext);
    const hotKeys = coldKeys.slice(0, Math.min(counts.hotKeys, coldKeys.length));
    const scanPrefixes = randomIndices(counts.scans, keyCount / SCAN_PREFIX_KEYS, readNext);
    for (const e of o.writesOnly ? [] : engines) {
      const d = data.get(e.id) as DataSet;
      const drop = dropPageCache();
      cacheDrop = drop.how;
      const opened = performance.now();
      await e.open();
      const reopenMs = performance.now() - opened;
      const summary = summaries.get(e.id);
      if (summary) summaries.set(e.id, { ...summary, reopenMs });
      if (e instanceof MantisEngine) e.tick();
      results.push(await measure(e, () => readPhase('cold-read', e, d, coldKeys)));
      results.push(await measure(e, () => readPhase('repeat-read', e, d, coldKeys)));
      readPhase('warm-read', e, d, hotKeys, 2); // fill the block cache with the hot set
      results.push(await measure(e, () => readPhase('warm-read', e, d, hotKeys, Math.ceil(counts.warmReads / hotKeys.length))));
      await scanPhase(e, d, scanPrefixes); // the same prefixes twice: scans are measured with the page cache warm for both
      results.push(await measure(e, () => scanPhase(e, d, scanPrefixes)));
      await e.close();
    }
    for (const r of results) if (r.wrong > 0) problems.push(`${r.engine} ${r.phase}: ${r.wrong} wrong answers, e.g. ${r.wrongExamples.join('; ')}`);
    for (const e of engines) if (e instanceof MantisEngine && e.complaints.length > 0) problems.push(`MantisDB LsmStore logged ${e.complaints.length} warning/error line(s); first: ${e.complaints[0].slice(0, 300)}`);
    rmSync(join(tmp, 'leveldb'), { recursive: true, force: true });
    rmSync(join(tmp, 'mantis'), { recursive: true, force: true });

    // ---- end to end: cold random GET over HTTP against the real server ----
    if (o.http) {
      http = await runHttpPhase(
        { serverScript: SERVER, tmpRoot: tmp, memoryBudgetMiB: o.budgetMiB, shards: 2, keyCount, requests: counts.httpRequests, connections: o.httpConnections, loadBatchOps: 1000, loadParallel: 4, seed: rng(o.seed + 2) },
        progress,
      );
      for (const r of http.runs) {
        progress(`HTTP ${r.connections} conn: cold GET p50 ${r.cold.p50.toFixed(2)} ms p99 ${r.cold.p99.toFixed(2)} ms; warm p99 ${r.warm.p99.toFixed(2)} ms`);
        if (r.cold.wrong + r.warm.wrong > 0) problems.push(`HTTP GETs answered wrongly: ${[...r.cold.wrongExamples, ...r.warm.wrongExamples].join('; ')}`);
      }
      if (http.complaints.length > 0) problems.push(`the server logged ${http.complaints.length} warning/error line(s); first: ${http.complaints[0].slice(0, 300)}`);
    }
  } finally {
    await pool.destroy();
    rmSync(tmp, { recursive: true, force: true });
  }

  const m = summaries.get('mantis');
  const l = summaries.get('leveldb');
  const checks = m ? checkTargets(results, m, http) : [];
  const out: string[] = [''];
  out.push(`MantisDB storage benchmark — ${startedAt.toISOString()}, ${availableParallelism()} cores, node ${process.version}, code ${gitState()}`);
  out.push(`Memory budget ${o.budgetMiB} MiB for each engine: MantisDB one LsmStore (memtable ${fmtMiB(tuning.memtableBytes)} ×2, block cache ${fmtMiB(tuning.blockCacheBytes)}, ${tuning.sst.blockBytes}-byte blocks, lz4) + WalWriter fsync 'none', flushes on a 1-thread and compactions on a ${pool.backgroundThreads}-thread piscina pool (the server's two lanes);`);
  out.push(`LevelDB 1.x via classic-level, defaults (4 KiB blocks, snappy, bloom 10 bits) except writeBufferSize ${fmtMiB(tuning.memtableBytes)} and cacheSize ${fmtMiB(tuning.blockCacheBytes)}, sync: false.`);
  out.push(`Data: ${keyCount} keys of ${13} bytes, values 100..1024 bytes (~2:1 compressible), ${fmtMiB(keyCount * averageEntryBytes)} ≈ ${(keyCount * averageEntryBytes / (o.budgetMiB * MiB)).toFixed(1)}× the budget; then ${counts.randomWrites} random overwrites.`);
  out.push(`Reads: ${counts.coldReads} distinct random keys cold (${cacheDrop}, before reopening each engine), the same keys again, then a hot set of ${counts.hotKeys} of them (fits the block cache) read ${counts.warmReads} times;`);
  out.push(`${counts.scans} prefix scans, run twice and measured the second time (page cache warm for both). Every answer is checked. Write rates exclude the settling after the phase; "incl. settle" includes it.`);
  out.push('');
  out.push(phaseTable(results));
  out.push('');
  if (m && l) out.push(amplificationTable(m, l));
  out.push('Write amplification method: /proc/self/io of this process (all threads: piscina pool, LevelDB background thread) over both write phases and their settling, with only one engine working at a time;');
  out.push('  wchar = bytes handed to write()/pwrite() (tables, WAL/log, manifest); write_bytes = page-cache pages dirtied. LevelDB blocks read per GET: n/a (it mmaps tables and keeps no counter);');
  out.push('  "disk KiB read/op" is /proc/self/io read_bytes (storage reads incl. readahead and mmap faults) per op for both. LevelDB mmaps its tables, so a cold');
  out.push('  miss faults in a readahead window and later keys often find their block already cached; MantisDB preads exactly one block per miss.');
  if (http) {
    out.push('');
    out.push(`End to end: dist/src/main.js --shards 2 --memory-budget-mb ${o.budgetMiB} --cache-mb 0 (storage, not the router cache); ${keyCount} keys (${fmtMiB(http.loadUserBytes)}) loaded through POST /api/v1/kv/batch (1000 ops, 4 in flight) in ${(http.loadMs / 1000).toFixed(1)} s (${http.loadRetries} SHARD_BUSY retries), settled ${(http.settleMs / 1000).toFixed(1)} s, ${fmtMiB(http.diskBytes ?? 0)} on disk;`);
    out.push(`  stopped, ${http.cacheDrop}, restarted (ready in ${http.restartReadyMs.toFixed(0)} ms; once per run below, each on its own keys), code warmed with 2000 GETs of absent keys + 200 of keys outside the measured set; RSS after load ${fmtMiB((http.rssKiB.afterLoad ?? 0) * 1024)}, settled ${fmtMiB((http.rssKiB.afterSettle ?? 0) * 1024)}, restarted ${fmtMiB((http.rssKiB.afterRestart ?? 0) * 1024)}, after the cold reads ${fmtMiB((http.rssKiB.afterColdReads ?? 0) * 1024)}; server wrote ${fmtMiB(http.serverWriteBytesDuringReads ?? 0)} during the reads.`);
    out.push(httpTable(http));
  }
  if (checks.length > 0) {
    out.push('');
    out.push(targetsTable(checks));
  }
  pushProblems(out, problems);
  const file = resultsPath(ROOT, 'storage', startedAt);
  const json = {
    benchmark: 'storage',
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    code: gitState(),
    machine: { busyBefore, cores: availableParallelism(), cpu: cpus()[0]?.model ?? null, totalMemMiB: Math.round(totalmem() / MiB), loadavg: loadavg(), node: process.version },
    options: o,
    tuning,
    keyCount,
    counts,
    cacheDrop,
    phases: results,
    summaries: Object.fromEntries(summaries),
    http,
    targets: checks,
    problems,
    processIo: readIo(),
  };
  writeFileSync(file, JSON.stringify(json, null, 2) + '\n');
  out.push('');
  out.push(`Results written to ${file}`);
  process.stdout.write(out.join('\n') + '\n');
  return problems.some((p) => p.includes('wrong') || p.includes('logged')) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    progress(`FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
