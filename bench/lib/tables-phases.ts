// The table benchmark's ways of driving a system, the same for every one:
// a range loader (N workers take the next range of keys, send it, repeat),
// repeated timed query runs (after unmeasured warm-ups) whose every answer is
// checked, and the closed-loop lookups (lib/docs-load closedLoop).

import type { LatencyStats } from './pgbench.js';
import { LatencyLog } from './docs-load.js';

/** The row counts at which the queries are measured: 1M and the full count when it is larger, else the full count alone. */
export function scalesFor(rows: number): number[] {
  return rows > 1_000_000 ? [1_000_000, rows] : [rows];
}

export type RangeLoad = {
  /** Keys [from, to) are loaded. */
  readonly from: number;
  readonly to: number;
  readonly batch: number;
  readonly workers: number;
  /** Sends rows [from, to) on worker `w`; throws on failure (the load stops). */
  readonly send: (from: number, to: number, w: number) => Promise<void>;
  readonly onProgress?: (loaded: number) => void;
  readonly progressEvery?: number;
};

export type LoadRun = {
  readonly rows: number;
  readonly batches: number;
  readonly elapsedS: number;
  readonly rowsPerSec: number;
  /** Per batch, request to answer (making the body included: the same for every system). */
  readonly batchLatency: LatencyStats;
};

/** Loads every range, `workers` in flight; the clock runs from the first batch to the last answer. */
export async function loadRanges(o: RangeLoad): Promise<LoadRun> {
  const latencies = new LatencyLog();
  let next = o.from;
  let loaded = 0;
  let reported = 0;
  let failure: unknown = null;
  const every = o.progressEvery ?? 1_000_000;
  const worker = async (w: number): Promise<void> => {
    while (next < o.to && failure === null) {
      const from = next;
      const to = Math.min(o.to, from + o.batch);
      next = to;
      const t0 = performance.now();
      try {
        await o.send(from, to, w);
      } catch (error) {
        failure ??= new Error(`rows ${from}..${to - 1}: ${error instanceof Error ? error.message : String(error)}`);
        return;
      }
      latencies.add((performance.now() - t0) * 1000);
      loaded += to - from;
      if (o.onProgress && loaded - reported >= every) {
        reported = loaded;
        o.onProgress(o.from + loaded);
      }
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: Math.max(1, o.workers) }, (_, w) => worker(w)));
  const elapsedS = (performance.now() - start) / 1000;
  if (failure !== null) throw failure;
  return { rows: loaded, batches: latencies.count, elapsedS, rowsPerSec: loaded / Math.max(elapsedS, 1e-9), batchLatency: latencies.stats() };
}

/** Merges the loads of several steps (1M, then up to 10M) into one figure: rows over the summed time. */
export function mergeLoads(runs: readonly LoadRun[]): LoadRun | null {
  if (runs.length === 0) return null;
  const rows = runs.reduce((s, r) => s + r.rows, 0);
  const elapsedS = runs.reduce((s, r) => s + r.elapsedS, 0);
  const last = runs[runs.length - 1];
  return { rows, batches: runs.reduce((s, r) => s + r.batches, 0), elapsedS, rowsPerSec: rows / Math.max(elapsedS, 1e-9), batchLatency: last.batchLatency };
}

/** Measured query runs: wall time in this process (e2e) and, where the system reports one, the engine's own time. */
export type QueryRuns = {
  readonly e2eMs: number[];
  readonly engineMs: number[] | null;
  readonly problems: string[];
  /** The last run's own statistics, where the system gives them (MantisDB: segments scanned and pruned, rows scanned, plan). */
  readonly stats?: Record<string, unknown>;
};

export type QueryOnce<T> = () => Promise<{ readonly answer: T; readonly engineMs?: number; readonly e2eMs?: number; readonly stats?: Record<string, unknown> }>;

/**
 * `warmups` unmeasured runs, then `runs` measured ones; each answer goes
 * through `check` (problems of the first wrong answer are kept).
 */
export async function queryRuns<T>(warmups: number, runs: number, once: QueryOnce<T>, check: (answer: T) => string[]): Promise<QueryRuns> {
  const e2eMs: number[] = [];
  const engineMs: number[] = [];
  let problems: string[] = [];
  let stats: Record<string, unknown> | undefined;
  for (let i = 0; i < warmups + runs; i++) {
    const t0 = performance.now();
    const r = await once();
    stats = r.stats;
    const wall = r.e2eMs ?? performance.now() - t0;
    if (problems.length === 0) problems = check(r.answer);
    if (i < warmups) continue;
    e2eMs.push(wall);
    if (r.engineMs !== undefined) engineMs.push(r.engineMs);
  }
  return { e2eMs, engineMs: engineMs.length === 0 ? null : engineMs, problems, ...(stats === undefined ? {} : { stats }) };
}
