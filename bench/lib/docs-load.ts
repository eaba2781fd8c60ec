// The document benchmark's two ways of putting load on a system, shared by
// the MantisDB (HTTP) and PostgreSQL (pg) halves so both are driven alike:
// a batch loader (N workers take the next batch of documents, generate it,
// send it, repeat until every document is in) and closed-loop clients for a
// fixed duration (each worker sends its next request as soon as the previous
// one answered), with exact latency percentiles.

import { docBatch } from './docs-gen.js';
import { latencyStats, type LatencyStats } from './pgbench.js';

/** Latencies in µs, growing as needed. */
export class LatencyLog {
  private values = new Float64Array(4096);
  private n = 0;

  add(us: number): void {
    if (this.n === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.n++] = us;
  }

  get count(): number {
    return this.n;
  }

  stats(): LatencyStats {
    return latencyStats(this.values.subarray(0, this.n));
  }
}

export type LoadRun = {
  readonly docs: number;
  readonly batches: number;
  readonly elapsedS: number;
  readonly docsPerSec: number;
  /** Per batch, request to answer (generation not included). */
  readonly batchLatency: LatencyStats;
  /** Time the workers spent generating documents, summed over workers (the same for both systems). */
  readonly generateS: number;
};

export type BatchLoad = {
  readonly seed: number;
  /** Documents [from, to) are loaded. */
  readonly from: number;
  readonly to: number;
  readonly batch: number;
  readonly workers: number;
  /** Sends one batch (JSON texts) on worker `w`; throws on any failure (the run stops: later phases need every document). */
  readonly send: (jsons: string[], w: number) => Promise<void>;
  readonly onProgress?: (loaded: number) => void;
};

/** Loads every document, `workers` batches in flight; the clock runs from the first batch to the last answer. */
export async function loadBatches(o: BatchLoad): Promise<LoadRun> {
  const latencies = new LatencyLog();
  let next = o.from;
  let loaded = 0;
  let generateMs = 0;
  let failure: unknown = null;
  let reported = 0;
  const worker = async (w: number): Promise<void> => {
    while (next < o.to && failure === null) {
      const from = next;
      const to = Math.min(o.to, from + o.batch);
      next = to;
      const g0 = performance.now();
      const jsons = docBatch(o.seed, from, to);
      const t0 = performance.now();
      generateMs += t0 - g0;
      try {
        await o.send(jsons, w);
      } catch (error) {
        failure ??= new Error(`batch of documents ${from}..${to - 1}: ${error instanceof Error ? error.message : String(error)}`);
        return;
      }
      latencies.add((performance.now() - t0) * 1000);
      loaded += to - from;
      if (o.onProgress && loaded - reported >= 100_000) {
        reported = loaded;
        o.onProgress(loaded);
      }
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: o.workers }, (_, w) => worker(w)));
  const elapsedS = (performance.now() - start) / 1000;
  if (failure !== null) throw failure;
  return { docs: loaded, batches: latencies.count, elapsedS, docsPerSec: loaded / elapsedS, batchLatency: latencies.stats(), generateS: generateMs / 1000 };
}

export type LoopRun = {
  readonly workers: number;
  readonly durationS: number;
  /** Operations that completed inside the measured window. */
  readonly ops: number;
  readonly opsPerSec: number;
  readonly latency: LatencyStats;
  readonly errors: number;
  readonly errorExamples: string[];
};

export type ClosedLoop = {
  readonly workers: number;
  readonly warmupS: number;
  readonly durationS: number;
  /** One operation on worker `w`; a throw counts as an error (the loop goes on). */
  readonly op: (w: number) => Promise<void>;
};

/**
 * `workers` closed loops for warmupS + durationS; counts and times only the
 * operations that started after the warm-up and finished inside the window.
 */
export async function closedLoop(o: ClosedLoop): Promise<LoopRun> {
  const latencies = new LatencyLog();
  const start = performance.now();
  const measureFrom = start + o.warmupS * 1000;
  const end = measureFrom + o.durationS * 1000;
  let errors = 0;
  const examples: string[] = [];
  const worker = async (w: number): Promise<void> => {
    while (performance.now() < end) {
      const t0 = performance.now();
      try {
        await o.op(w);
      } catch (error) {
        if (t0 >= measureFrom) errors++;
        if (examples.length < 5) examples.push(error instanceof Error ? error.message : String(error));
        await new Promise((r) => setTimeout(r, 1)); // a server that refuses everything must not become a busy loop
        continue;
      }
      const t1 = performance.now();
      if (t0 >= measureFrom && t1 <= end) latencies.add((t1 - t0) * 1000);
    }
  };
  await Promise.all(Array.from({ length: o.workers }, (_, w) => worker(w)));
  const ops = latencies.count;
  return { workers: o.workers, durationS: o.durationS, ops, opsPerSec: ops / o.durationS, latency: latencies.stats(), errors, errorExamples: examples };
}

/** Runs `op` `runs` times after `warmups` unmeasured runs; the wall times in ms. */
export async function timedRuns<T>(warmups: number, runs: number, op: () => Promise<T>): Promise<{ ms: number[]; last: T }> {
  let last: T | undefined;
  for (let k = 0; k < warmups; k++) last = await op();
  const ms: number[] = [];
  for (let k = 0; k < runs; k++) {
    const t0 = performance.now();
    last = await op();
    ms.push(performance.now() - t0);
  }
  if (last === undefined && runs + warmups === 0) throw new Error('timedRuns: no run');
  return { ms, last: last as T };
}
