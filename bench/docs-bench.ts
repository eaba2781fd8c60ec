// Document store benchmark (`npm run bench:docs`, issue 11): MantisDB's
// document routes beside PostgreSQL JSONB (a throwaway cluster with its
// default configuration, driven by `pg` from this process) and beside mingo
// in process, in one run, on 1 KB documents (lib/docs-gen.ts):
//
//   1. batched inserts: batches of 1000 (POST /api/v1/docs/:c/insert vs a
//      multi-row INSERT of jsonb), 4 in flight, docs/s;
//   2. indexed equality lookup on a nested field (index {"user.email":1} vs an
//      expression index on doc->'user'->>'email'), 64 closed-loop
//      connections, ops/s and p50/p99;
//   3. $match + $group over every document (POST …/aggregate vs GROUP BY over
//      the jsonb), the median of 3 runs after one unmeasured;
//   4. filter evaluation: compileFilter (shared/docs/filter.ts) vs mingo's
//      Query.test on the same parsed documents, ns per document;
//   5. memory: MantisDB's RSS before and after the load, its data dir, and
//      PostgreSQL's table and index size, per 1M documents.
//
//   npm run bench:docs                       # 1M documents, about 5 minutes
//   npm run bench:docs -- --docs 100000
//   npm run bench:docs -- --quick            # 20k documents, 2 s lookups: a smoke run
//
// MantisDB runs from dist/ on a temp data dir with --fsync always (a batch is
// acknowledged after its fdatasync, as PostgreSQL's default
// synchronous_commit=on does) and one shard per core. Every answer is checked:
// each insert's ids, each lookup finds exactly one document, each
// aggregation's groups equal the ones the generator says. The load runs in
// this process and shares the cores with the server under test.
//
// Flags: --docs N (1000000), --quick, --duration S (10, per lookup run),
// --warmup S (2), --connections N (64), --insert-clients N (4), --batch N
// (1000), --filter-docs N (100000), --filter-rounds N (5), --group-runs N (3),
// --fsync always|batch|none (always), --shards N (cores), --no-pg, --seed N (1),
// --wait-idle-s N (30). Results: stdout and bench/results/docs-<time>.json.
// Exit codes: 0 ok; 1 a failure or a wrong answer; 2 bad flags.

import { execSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Query } from 'mingo';
import { Client } from 'undici';
import { compileFilter } from '../shared/docs/filter.js';
import type { Doc } from '../shared/docs/doc-types.js';
import { BENCH_FILTERS, parsedDocs, runFilterPhase, type FilterEngine, type FilterPhase } from './lib/docs-filter.js';
import { DOC_BYTES, expectedGroups } from './lib/docs-gen.js';
import { call, docsPath, dataOf } from './lib/docs-http.js';
import type { LoadRun } from './lib/docs-load.js';
import { pgConnect, pgCreateTable, pgSettings, pgSizes, pgVacuum, type PgSizes } from './lib/docs-pg.js';
import { groupPhase, indexPhase, insertPhase, lookupPhase, type Measured, type Target } from './lib/docs-phases.js';
import { dirBytes, waitQuiet, type PhaseCpu } from './lib/docs-proc.js';
import { checksTable, checkTargets, filterTable, fmtBytes, littleLawLine, mainTable, type DocsResults } from './lib/docs-report.js';
import { findPostgres, PG_NOT_INSTALLED, startTempPostgres, type TempPostgres } from './lib/pgbench.js';
import { BUSY_SHARE_MAX, waitForQuietMachine, procStatusKiB, RssSampler, startServer, stopServer, type ServerProcess, type StopOutcome } from './lib/proc.js';
import { pushProblems, resultsPath } from './lib/report.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SERVER = join(ROOT, 'dist/src/main.js');
const COLLECTION = 'bench_docs';

export type Options = {
  docs: number;
  quick: boolean;
  durationS: number;
  warmupS: number;
  connections: number;
  insertClients: number;
  batch: number;
  filterDocs: number;
  filterRounds: number;
  groupRuns: number;
  fsync: 'always' | 'batch' | 'none';
  shards: number;
  pg: boolean;
  seed: number;
  waitIdleS: number;
};

class UsageError extends Error {}

const QUICK: Partial<Options> = { docs: 20_000, durationS: 2, warmupS: 1, filterDocs: 5_000, filterRounds: 3, groupRuns: 2, waitIdleS: 0 };

function parseArgs(argv: readonly string[]): Options {
  const o: Options = {
    docs: 1_000_000, quick: false, durationS: 10, warmupS: 2, connections: 64, insertClients: 4, batch: 1000, filterDocs: 100_000, filterRounds: 5, groupRuns: 3,
    fsync: 'always', shards: availableParallelism(), pg: true, seed: 1, waitIdleS: 30,
  };
  if (argv.includes('--quick')) Object.assign(o, QUICK, { quick: true });
  const int = (flag: string, raw: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const v = Number(raw);
    if (raw === undefined || !Number.isInteger(v) || v < min || v > max) throw new UsageError(`${flag} needs an integer in ${min}..${max}, got ${String(raw)}`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') continue;
    else if (a === '--docs') o.docs = int(a, argv[++i], 1000);
    else if (a === '--duration') o.durationS = int(a, argv[++i], 1);
    else if (a === '--warmup') o.warmupS = int(a, argv[++i], 0);
    else if (a === '--connections') o.connections = int(a, argv[++i], 1, 90); // PostgreSQL's default max_connections is 100
    else if (a === '--insert-clients') o.insertClients = int(a, argv[++i], 1, 64);
    else if (a === '--batch') o.batch = int(a, argv[++i], 1, 1000); // the insert route takes 1..1000
    else if (a === '--filter-docs') o.filterDocs = int(a, argv[++i], 100);
    else if (a === '--filter-rounds') o.filterRounds = int(a, argv[++i], 1);
    else if (a === '--group-runs') o.groupRuns = int(a, argv[++i], 1);
    else if (a === '--fsync') {
      const v = argv[++i];
      if (v !== 'always' && v !== 'batch' && v !== 'none') throw new UsageError(`--fsync takes always, batch or none, got ${String(v)}`);
      o.fsync = v;
    } else if (a === '--shards') o.shards = int(a, argv[++i], 1, 256);
    else if (a === '--no-pg') o.pg = false;
    else if (a === '--seed') o.seed = int(a, argv[++i], 0, 2 ** 31);
    else if (a === '--wait-idle-s') o.waitIdleS = int(a, argv[++i], 0);
    else if (a === '--help' || a === '-h') throw new UsageError('see the header of bench/docs-bench.ts for the flags');
    else throw new UsageError(`unknown flag ${a} (see the header of bench/docs-bench.ts)`);
  }
  return o;
}

const progress = (message: string): void => {
  process.stderr.write(`[docs-bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
};

function gitState(): string {
  try {
    const head = execSync('git rev-parse --short HEAD', { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execSync('git status --porcelain -- src workers shared', { cwd: ROOT, encoding: 'utf8' }).trim();
    return dirty === '' ? head : `${head} + uncommitted changes in src/workers/shared`;
  } catch {
    return 'unknown';
  }
}

/** Phase 4, before any server starts: the engine's compiled filters against mingo's on the same documents. */
function filterPhase(o: Options): FilterPhase {
  const ours: FilterEngine = { name: 'compileFilter', compile: (f) => compileFilter(f as Doc) as (d: Record<string, unknown>) => boolean };
  const mingo: FilterEngine = {
    name: 'mingo',
    compile: (f) => {
      const q = new Query(f);
      return (d) => q.test(d);
    },
  };
  return runFilterPhase(parsedDocs(o.seed, o.filterDocs), [ours, mingo], BENCH_FILTERS, o.filterRounds);
}

/** Runs `work`, or records why it failed and gives null: one failed phase must not hide the others' figures. */
async function attempt<T>(problems: string[], what: string, work: () => Promise<T>): Promise<T | null> {
  try {
    return await work();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    problems.push(`${what}: ${message.split('\n').slice(0, 4).join(' ')}`);
    progress(`${what} FAILED: ${message}`);
    return null;
  }
}

/** Whether the server has the document routes: one insert into a scratch collection, which is then dropped. */
async function probeDocRoutes(url: string): Promise<string | null> {
  const client = new Client(url);
  try {
    const r = await call(client, 'POST', docsPath('bench_probe', 'insert'), '{"documents":[{"probe":1}]}');
    if (r.status !== 200 && r.status !== 201) return `POST ${docsPath('bench_probe', 'insert')} answered HTTP ${r.status}: ${r.text.slice(0, 200)}`;
    dataOf(await call(client, 'DELETE', docsPath('bench_probe')), 'drop the probe collection');
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    await client.close();
  }
}

type PgState = { cluster: TempPostgres | null; note: string; settings: Record<string, string>; sizes: PgSizes | null };

async function openPostgres(o: Options, problems: string[]): Promise<PgState> {
  if (!o.pg) return { cluster: null, note: 'PostgreSQL baseline skipped (--no-pg)', settings: {}, sizes: null };
  const install = findPostgres();
  if (install === null) return { cluster: null, note: `${PG_NOT_INSTALLED} — MantisDB's figures alone`, settings: {}, sizes: null };
  const cluster = await attempt(problems, 'PostgreSQL start', () => startTempPostgres({ install }));
  if (cluster === null) return { cluster: null, note: 'PostgreSQL failed to start', settings: {}, sizes: null };
  progress(`PostgreSQL ${install.version} on 127.0.0.1:${cluster.port}, data in ${cluster.dataDir} (${cluster.filesystem})`);
  const client = await pgConnect(cluster);
  try {
    await pgCreateTable(client);
    return { cluster, note: '', settings: { ...cluster.settings, ...(await pgSettings(client)) }, sizes: null };
  } finally {
    await client.end();
  }
}

type Run = {
  results: Omit<DocsResults, 'filter'>;
  cpu: Record<string, PhaseCpu>;
  rssPeakKiB: number | null;
};

/** Phases 1–3 and 5 against both systems, MantisDB first in each phase. */
async function serverPhases(o: Options, mantis: Target | null, pgTarget: Target | null, dataDir: string, problems: string[]): Promise<Run> {
  const cpu: Record<string, PhaseCpu> = {};
  const keep = <T>(key: string, m: Measured<T> | null): T | null => {
    if (m !== null) cpu[key] = m.cpu;
    return m === null ? null : m.result;
  };
  const pid = mantis?.kind === 'mantis' ? mantis.pid : null;
  const quietMs = o.quick ? 3000 : 30_000;
  const settle = async (): Promise<void> => {
    if (pid !== null) await waitQuiet(pid, quietMs);
  };

  await settle();
  const rssBeforeKiB = pid === null ? null : procStatusKiB(pid, 'VmRSS');
  const sampler = pid === null ? null : new RssSampler(pid);
  const onProgress = (who: string) => (n: number) => progress(`${who}: ${n} documents loaded`);
  const insertSettings = { seed: o.seed, docs: o.docs, batch: o.batch, workers: o.insertClients };
  let insertMantis: LoadRun | null = null;
  if (mantis !== null) {
    progress(`MantisDB: loading ${o.docs} documents, batches of ${o.batch}, ${o.insertClients} in flight`);
    insertMantis = keep('insert/mantis', await attempt(problems, 'MantisDB insert', () => insertPhase(mantis, { ...insertSettings, onProgress: onProgress('MantisDB') })));
  }
  const waitedMs = pid === null ? 0 : await waitQuiet(pid, quietMs);
  const rssAfterKiB = pid === null ? null : procStatusKiB(pid, 'VmRSS');
  const rssPeakKiB = sampler?.stop().peakRssKiB ?? null;
  const mantisDiskBytes = mantis === null ? null : dirBytes(dataDir);
  progress(`MantisDB after the load: RSS ${fmtBytes((rssAfterKiB ?? NaN) * 1024)} (was ${fmtBytes((rssBeforeKiB ?? NaN) * 1024)}), data dir ${fmtBytes(mantisDiskBytes)}, quiet after ${waitedMs.toFixed(0)} ms`);

  let insertPg: LoadRun | null = null;
  if (pgTarget !== null && pgTarget.kind === 'pg') {
    progress(`PostgreSQL: loading ${o.docs} documents, batches of ${o.batch}, ${o.insertClients} in flight`);
    insertPg = keep('insert/pg', await attempt(problems, 'PostgreSQL insert', () => insertPhase(pgTarget, { ...insertSettings, onProgress: onProgress('PostgreSQL') })));
    await attempt(problems, 'PostgreSQL VACUUM', async () => {
      const c = await pgConnect(pgTarget.cluster);
      await pgVacuum(c).finally(() => c.end());
    });
  }

  const indexTimeoutMs = Math.max(60_000, o.docs / 5);
  progress('building the lookup index on user.email');
  const indexMantis = mantis === null || insertMantis === null ? null : await attempt(problems, 'MantisDB index', () => indexPhase(mantis, indexTimeoutMs));
  const indexPg = pgTarget === null || insertPg === null ? null : await attempt(problems, 'PostgreSQL index', () => indexPhase(pgTarget, indexTimeoutMs));
  await settle();

  const lookupSettings = { seed: o.seed, docs: o.docs, connections: o.connections, warmupS: o.warmupS, durationS: o.durationS };
  progress(`indexed lookups: ${o.connections} connections, ${o.warmupS} s warm-up + ${o.durationS} s, each system`);
  const lookupMantis = indexMantis === null || mantis === null ? null : keep('lookup/mantis', await attempt(problems, 'MantisDB lookups', () => lookupPhase(mantis, lookupSettings)));
  const lookupPg = indexPg === null || pgTarget === null ? null : keep('lookup/pg', await attempt(problems, 'PostgreSQL lookups', () => lookupPhase(pgTarget, lookupSettings)));
  for (const [who, run] of [['MantisDB', lookupMantis], ['PostgreSQL', lookupPg]] as const) {
    if (run !== null && run.errors > 0) problems.push(`${who} lookups: ${run.errors} failed, e.g. ${run.errorExamples.slice(0, 3).join('; ')}`);
  }
  await settle();

  progress(`$match + $group over ${o.docs} documents: 1 + ${o.groupRuns} runs each`);
  const expected = expectedGroups(o.seed, o.docs);
  const group = async (t: Target | null, loaded: LoadRun | null, who: string, key: string): Promise<number[] | null> => {
    if (t === null || loaded === null) return null;
    const r = keep(key, await attempt(problems, `${who} aggregation`, () => groupPhase(t, o.groupRuns, expected)));
    if (r !== null && r.problems.length > 0) problems.push(`${who} aggregation gave wrong groups: ${r.problems.join('; ')}`);
    return r === null ? null : r.ms;
  };
  const groupMantis = await group(mantis, insertMantis, 'MantisDB', 'group/mantis');
  const groupPg = await group(pgTarget, insertPg, 'PostgreSQL', 'group/pg');

  let sizes: PgSizes | null = null;
  if (pgTarget !== null && pgTarget.kind === 'pg' && insertPg !== null) {
    sizes = await attempt(problems, 'PostgreSQL sizes', async () => {
      const c = await pgConnect(pgTarget.cluster);
      return pgSizes(c).finally(() => c.end());
    });
  }
  return {
    results: {
      docs: o.docs,
      insert: { mantis: insertMantis, pg: insertPg },
      indexBuildMs: { mantis: indexMantis, pg: indexPg },
      lookup: { mantis: lookupMantis, pg: lookupPg },
      group: { mantis: groupMantis, pg: groupPg },
      memory: { docs: o.docs, rssBeforeKiB, rssAfterKiB, mantisDiskBytes, pg: sizes },
    },
    cpu,
    rssPeakKiB,
  };
}

function startMantis(dataDir: string, o: Options): Promise<ServerProcess> {
  const args = ['--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir, '--log-level', 'warn', '--fsync', o.fsync, '--shards', String(o.shards)];
  return startServer(`MantisDB --fsync ${o.fsync} --shards ${o.shards}`, SERVER, args, /^MantisDB listening on (http:\/\/\S+)/, 60_000);
}

const share = (x: number | null): string => (x === null ? '?' : `${(100 * x).toFixed(0)} %`);

function cpuLines(cpu: Record<string, PhaseCpu>): string[] {
  return Object.entries(cpu).map(([key, c]) => `  ${key.padEnd(14)} server ${share(c.server).padStart(5)}   clients (this process) ${share(c.client).padStart(5)}   everything else ${share(c.others).padStart(5)}`);
}

function describeSetup(o: Options, pg: PgState, cores: number): string[] {
  const s = pg.settings;
  return [
    `Documents: ${o.docs}, ${DOC_BYTES} bytes of JSON each (nested user with a unique email, status, category, numbers, tags, 3 items, padding), seed ${o.seed}.`,
    `MantisDB: dist/src/main.js --fsync ${o.fsync} --shards ${o.shards}, other settings default, fresh temp data dir; collection "${COLLECTION}", ObjectIds assigned by the server.`,
    pg.cluster === null
      ? `PostgreSQL: ${pg.note}.`
      : `PostgreSQL ${pg.cluster.install.version}: throwaway cluster, default configuration (fsync=${s.fsync ?? '?'} synchronous_commit=${s.synchronous_commit ?? '?'} shared_buffers=${s.shared_buffers ?? '?'} work_mem=${s.work_mem ?? '?'} max_parallel_workers_per_gather=${s.max_parallel_workers_per_gather ?? '?'} jit=${s.jit ?? '?'}) on ${pg.cluster.filesystem}; table docs(id identity primary key, doc jsonb), expression index on (doc->'user'->>'email'), VACUUM after the load; pg 8 from this process, prepared statements.`,
    `Inserts: ${o.insertClients} batches of ${o.batch} in flight, documents generated as the load runs (the same cost for both). Lookups: ${o.connections} connections, closed loop, ${o.warmupS} s warm-up + ${o.durationS} s; each answer must hold exactly one document.`,
    `Aggregation: {$match:{status:"active"}}, {$group:{_id:"$category", count:{$sum:1}, total:{$sum:"$amount"}, avgAge:{$avg:"$user.age"}}} vs SELECT … WHERE doc->>'status' = 'active' GROUP BY doc->>'category'; 1 unmeasured + ${o.groupRuns} measured runs, median; groups checked against the generator.`,
    `Filters: ${o.filterDocs} parsed documents in this process, ${o.filterRounds} alternating passes per engine per filter, best pass counts. ${cores} cores shared by the server, PostgreSQL and the load.`,
  ];
}

async function main(): Promise<number> {
  let o: Options;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`docs-bench: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const startedAt = new Date();
  const load = loadavg();
  const busyBefore = await waitForQuietMachine(o.waitIdleS, progress, '--wait-idle-s');
  const cores = availableParallelism();
  const problems: string[] = [];

  progress(`filter evaluation: ${BENCH_FILTERS.length} filters over ${o.filterDocs} documents, compileFilter vs mingo`);
  const filter = await attempt(problems, 'filter phase', async () => filterPhase(o));
  for (const row of filter?.rows ?? []) if (!row.agree) problems.push(`filter "${row.name}": compileFilter matched ${row.matches[0]} documents, mingo ${row.matches[1]}`);

  const tmp = mkdtempSync(join(tmpdir(), 'mantis-docs-bench-'));
  const dataDir = join(tmp, 'data');
  let server: ServerProcess | null = null;
  let stopped: StopOutcome | null = null;
  let pg: PgState = { cluster: null, note: 'PostgreSQL not reached', settings: {}, sizes: null };
  process.once('SIGINT', () => {
    void (async () => {
      if (server !== null && stopped === null) await stopServer(server);
      await pg.cluster?.stop();
      rmSync(tmp, { recursive: true, force: true });
    })().finally(() => process.exit(130));
  });
  let run: Run | null = null;
  let complaints: string[] = [];
  try {
    server = await startMantis(dataDir, o);
    progress(`${server.name} at ${server.url} (pid ${server.pid}), data in ${dataDir}`);
    const missing = await probeDocRoutes(server.url);
    if (missing !== null) problems.push(`MantisDB has no working document routes: ${missing}`);
    pg = await openPostgres(o, problems);
    const mantis: Target | null = missing === null ? { kind: 'mantis', url: server.url, pid: server.pid, collection: COLLECTION } : null;
    const pgTarget: Target | null = pg.cluster === null ? null : { kind: 'pg', cluster: pg.cluster };
    run = await serverPhases(o, mantis, pgTarget, dataDir, problems);
  } finally {
    if (pg.cluster !== null) await pg.cluster.stop();
    if (server !== null) {
      stopped = await stopServer(server);
      complaints = [...server.complaints];
    }
    rmSync(tmp, { recursive: true, force: true });
  }
  if (stopped !== null && (stopped.killed || (stopped.code !== 0 && stopped.code !== null))) problems.push(`MantisDB did not stop cleanly: code ${stopped.code}, signal ${stopped.signal}${stopped.killed ? ', SIGKILLed after 15 s' : ''}`);
  if (complaints.length > 0) problems.push(`the server logged ${complaints.length} warning/error line(s); first: ${complaints.slice(0, 3).map((l) => l.slice(0, 300)).join(' | ')}`);
  if (run === null) throw new Error('serverPhases returned nothing'); // it throws or returns

  const results: DocsResults = { ...run.results, filter };
  const checks = checkTargets(results);
  const out: string[] = [''];
  out.push(`MantisDB document benchmark — ${startedAt.toISOString()}, ${cores} cores (${cpus()[0]?.model ?? '?'}), node ${process.version}, code ${gitState()}${o.quick ? ', --quick (a smoke run: figures are not meaningful)' : ''}`);
  out.push(`Load average at start ${load.map((x) => x.toFixed(2)).join(' ')}; machine ${busyBefore === null ? '?' : `${(100 * busyBefore).toFixed(0)} %`} busy in the second before${busyBefore !== null && busyBefore > BUSY_SHARE_MAX ? ' — NOT IDLE: other processes share the cores (see the CPU lines)' : ''}.`);
  out.push(...describeSetup(o, pg, cores));
  out.push('');
  out.push('Baseline: PostgreSQL JSONB for inserts, lookups, aggregation and size; mingo for filters. Ratio: MantisDB / baseline (for times, MantisDB time / baseline time; for the filter, how many times faster).');
  out.push(mainTable(results, checks));
  out.push(littleLawLine(results, o.connections));
  out.push('');
  out.push(checksTable(checks));
  if (filter !== null) {
    out.push('');
    out.push(filterTable(filter));
  }
  out.push('');
  out.push('CPU over each measured phase (share of the whole machine, all cores = 100 %):');
  out.push(...cpuLines(run.cpu));
  out.push(`MantisDB RSS: ${fmtBytes((results.memory.rssBeforeKiB ?? NaN) * 1024)} empty, ${fmtBytes((results.memory.rssAfterKiB ?? NaN) * 1024)} after the load, peak ${fmtBytes((run.rssPeakKiB ?? NaN) * 1024)} during it.`);
  pushProblems(out, problems);

  const file = resultsPath(ROOT, 'docs', startedAt);
  const json = {
    benchmark: 'docs',
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    code: gitState(),
    machine: { busyBefore, cores, cpu: cpus()[0]?.model ?? null, totalMemMiB: Math.round(totalmem() / 2 ** 20), loadavg: load, node: process.version },
    options: o,
    server: { args: ['--fsync', o.fsync, '--shards', String(o.shards)], stop: stopped, complaints, rssPeakKiB: run.rssPeakKiB },
    postgres: { version: pg.cluster?.install.version ?? null, note: pg.note, settings: pg.settings },
    results,
    cpu: run.cpu,
    targets: checks,
    problems,
  };
  writeFileSync(file, JSON.stringify(json, null, 2) + '\n');
  out.push('');
  out.push(`Results written to ${file}`);
  process.stdout.write(out.join('\n') + '\n');
  return problems.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    progress(`FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
