// The storage benchmark's end-to-end figure: the real server with a small
// memory budget, loaded through the batch route with a data set many times
// that budget, restarted with the OS page cache dropped, then random GETs of
// existing keys over HTTP in a closed loop at low concurrency (undici), each
// answer checked, latency percentiles computed from every request.

import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Pool } from 'undici';
import { keyString, valueOf } from './storage-data.js';
import { dirBytes, dropPageCache, readIo, waitForWritesQuiet } from './storage-io.js';
import { NeighbourMeter, procStatusKiB, startServer, stopServer, type ServerProcess } from './proc.js';

export type HttpSettings = {
  readonly serverScript: string;
  readonly tmpRoot: string;
  readonly memoryBudgetMiB: number;
  readonly shards: number;
  readonly keyCount: number;
  readonly requests: number;
  readonly connections: number;
  readonly loadBatchOps: number;
  readonly loadParallel: number;
  readonly seed: () => number;
};

export type LatencySummary = { readonly requests: number; readonly seconds: number; readonly p50: number; readonly p90: number; readonly p99: number; readonly max: number; readonly wrong: number; readonly wrongExamples: string[]; readonly othersCpu: number | null };

export type ColdRun = {
  readonly connections: number;
  readonly cold: LatencySummary;
  readonly warm: LatencySummary;
  readonly rssAfterCold: number | null;
  readonly serverWriteBytes: number | null;
};

export type HttpResult = {
  readonly loadMs: number;
  readonly loadUserBytes: number;
  readonly loadRetries: number;
  readonly settleMs: number;
  readonly diskBytes: number | null;
  readonly restartReadyMs: number;
  readonly cacheDrop: string;
  /** One connection, then HttpSettings.connections; cold/warm below are the last run's (the target's). */
  readonly runs: ColdRun[];
  readonly cold: LatencySummary;
  readonly warm: LatencySummary;
  readonly rssKiB: { afterLoad: number | null; afterSettle: number | null; afterRestart: number | null; afterColdReads: number | null; afterWarmReads: number | null };
  readonly serverWriteBytesDuringReads: number | null;
  readonly complaints: string[];
};

const READY = /^MantisDB listening on (http:\/\/\S+)/;

/** --cache-mb 0: the router's value cache would answer the warm passes and add its own memory; this measures storage. */
function serverArgs(s: HttpSettings, dataDir: string): string[] {
  return ['--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir, '--shards', String(s.shards), '--memory-budget-mb', String(s.memoryBudgetMiB), '--cache-mb', '0', '--log-level', 'warn'];
}

async function postBatch(pool: Pool, ops: readonly object[]): Promise<'ok' | 'retry'> {
  const res = await pool.request({ path: '/api/v1/kv/batch', method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ops }) });
  const text = await res.body.text();
  if (res.statusCode === 503 || res.statusCode === 507) {
    if (res.statusCode === 503 && text.includes('"retryable":true')) return 'retry';
    throw new Error(`batch: HTTP ${res.statusCode}: ${text.slice(0, 300)}`);
  }
  if (res.statusCode !== 200) throw new Error(`batch: HTTP ${res.statusCode}: ${text.slice(0, 300)}`);
  const reply = JSON.parse(text) as { data?: { ok?: boolean }[] };
  const bad = reply.data?.findIndex((r) => r.ok !== true) ?? 0;
  if (reply.data?.length !== ops.length || bad >= 0) throw new Error(`batch: op ${bad} failed: ${text.slice(0, 300)}`);
  return 'ok';
}

/** Every key once, version 1, in batches; retries a batch the server answers SHARD_BUSY (a write stall). */
async function load(url: string, s: HttpSettings): Promise<{ ms: number; userBytes: number; retries: number }> {
  const pool = new Pool(url, { connections: s.loadParallel });
  let next = 0;
  let userBytes = 0;
  let retries = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < s.keyCount) {
      const from = next;
      const to = Math.min(s.keyCount, from + s.loadBatchOps);
      next = to;
      const ops: object[] = [];
      for (let i = from; i < to; i++) {
        const value = valueOf(i, 1).toString('latin1');
        userBytes += keyString(i).length + value.length;
        ops.push({ op: 'put', key: keyString(i), value });
      }
      while ((await postBatch(pool, ops)) === 'retry') {
        retries++;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: s.loadParallel }, () => worker()));
  } finally {
    await pool.close();
  }
  return { ms: performance.now() - started, userBytes, retries };
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** GETs of `indices` in order by `connections` closed loops; latency from send to the last body byte. */
export async function closedLoopGets(url: string, indices: Uint32Array, connections: number, serverPid: number): Promise<LatencySummary> {
  const meter = new NeighbourMeter([process.pid, serverPid]);
  const pool = new Pool(url, { connections, pipelining: 1 });
  const latencies = new Float64Array(indices.length);
  const wrong: string[] = [];
  let wrongCount = 0;
  let next = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < indices.length) {
      const j = next++;
      const i = indices[j];
      const t0 = performance.now();
      const res = await pool.request({ path: `/api/v1/kv/${keyString(i)}`, method: 'GET' });
      const body = Buffer.from(await res.body.arrayBuffer());
      latencies[j] = performance.now() - t0;
      if (res.statusCode !== 200 || Buffer.compare(body, valueOf(i, 1)) !== 0) {
        wrongCount++;
        if (wrong.length < 5) wrong.push(`GET ${keyString(i)}: HTTP ${res.statusCode}, ${body.length} bytes starting ${JSON.stringify(body.subarray(0, 40).toString('latin1'))}`);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: connections }, () => worker()));
  } finally {
    await pool.close();
  }
  const seconds = (performance.now() - started) / 1000;
  const othersCpu = meter.finish(0)?.others ?? null;
  latencies.sort();
  return { othersCpu, requests: indices.length, seconds, p50: percentile(latencies, 50), p90: percentile(latencies, 90), p99: percentile(latencies, 99), max: latencies[latencies.length - 1] ?? NaN, wrong: wrongCount, wrongExamples: wrong };
}

const WARMUP_ABSENT = 2000;
const WARMUP_PRESENT = 200;

async function warmUp(url: string, present: Uint32Array, connections: number): Promise<void> {
  const pool = new Pool(url, { connections });
  const paths = [...Array.from({ length: WARMUP_ABSENT }, (_, i) => `/api/v1/kv/absent-${i}`), ...Array.from(present, (i) => `/api/v1/kv/${keyString(i)}`)];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < paths.length) {
      const res = await pool.request({ path: paths[next++], method: 'GET' });
      await res.body.dump();
    }
  };
  try {
    await Promise.all(Array.from({ length: connections }, () => worker()));
  } finally {
    await pool.close();
  }
}

/** Distinct random key indices (a partial Fisher–Yates over 0..keyCount-1). */
export function distinctIndices(keyCount: number, n: number, next: () => number): Uint32Array {
  const all = new Uint32Array(keyCount);
  for (let i = 0; i < keyCount; i++) all[i] = i;
  const count = Math.min(n, keyCount);
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(next() * (keyCount - i));
    [all[i], all[j]] = [all[j], all[i]];
  }
  return all.slice(0, count);
}

export async function runHttpPhase(s: HttpSettings, progress: (m: string) => void): Promise<HttpResult> {
  const tmp = mkdtempSync(join(s.tmpRoot, 'http-'));
  const dataDir = join(tmp, 'data');
  let server: ServerProcess | null = null;
  const complaints: string[] = [];
  try {
    server = await startServer('MantisDB', s.serverScript, serverArgs(s, dataDir), READY);
    progress(`server at ${server.url} (pid ${server.pid}), ${s.shards} shards, --memory-budget-mb ${s.memoryBudgetMiB}; loading ${s.keyCount} keys through the batch route`);
    const loaded = await load(server.url, s);
    const rssAfterLoad = procStatusKiB(server.pid, 'VmRSS');
    progress(`loaded ${(loaded.userBytes / 2 ** 20).toFixed(0)} MiB in ${(loaded.ms / 1000).toFixed(1)} s (${loaded.retries} batches retried after SHARD_BUSY); waiting for compactions to settle`);
    const settleStart = performance.now();
    await waitForWritesQuiet(server.pid, 2000, 250, 300_000);
    const settleMs = performance.now() - settleStart;
    const rssAfterSettle = procStatusKiB(server.pid, 'VmRSS');
    complaints.push(...server.complaints);
    await stopServer(server);
    server = null;
    const diskBytes = dirBytes(dataDir);
    // Two cold runs on disjoint keys, each after its own restart with the page cache dropped:
    // one connection (a lone GET's latency), then s.connections (light concurrent load).
    const perRun = s.requests + WARMUP_PRESENT;
    const chosen = distinctIndices(s.keyCount, 2 * perRun, s.seed);
    const runs: ColdRun[] = [];
    let restartReadyMs = 0;
    let cacheDrop = '';
    let rssAfterRestart: number | null = null;
    for (const [n, connections] of [1, s.connections].entries()) {
      if (server !== null) {
        complaints.push(...server.complaints);
        await stopServer(server);
      }
      const drop = dropPageCache();
      cacheDrop = drop.how;
      const restartStart = performance.now();
      server = await startServer('MantisDB', s.serverScript, serverArgs(s, dataDir), READY, 120_000);
      restartReadyMs = performance.now() - restartStart;
      rssAfterRestart = procStatusKiB(server.pid, 'VmRSS');
      progress(`restarted in ${restartReadyMs.toFixed(0)} ms (${drop.how}); warm-up of ${WARMUP_ABSENT} absent + ${WARMUP_PRESENT} other keys, then ${s.requests} cold GETs of distinct random keys, ${connections} connection(s)`);
      const keys = chosen.slice(n * perRun, n * perRun + s.requests);
      // Warm the server's code (JIT, its own pages after the cache drop), not the data: GETs of absent
      // keys (bloom filters answer) and of a few existing keys outside the measured set.
      await warmUp(server.url, chosen.slice(n * perRun + s.requests, (n + 1) * perRun), connections);
      const io0 = readIo(server.pid);
      const cold = await closedLoopGets(server.url, keys, connections, server.pid);
      const rssAfterCold = procStatusKiB(server.pid, 'VmRSS');
      const warm = await closedLoopGets(server.url, keys, connections, server.pid);
      const io1 = readIo(server.pid);
      runs.push({ connections, cold, warm, rssAfterCold, serverWriteBytes: io0 !== null && io1 !== null ? io1.wchar - io0.wchar : null });
    }
    const main = runs[runs.length - 1];
    const rssAfterWarm = server === null ? null : procStatusKiB(server.pid, 'VmRSS');
    if (server !== null) complaints.push(...server.complaints);
    return {
      loadMs: loaded.ms,
      loadUserBytes: loaded.userBytes,
      loadRetries: loaded.retries,
      settleMs,
      diskBytes,
      restartReadyMs,
      cacheDrop,
      runs,
      cold: main.cold,
      warm: main.warm,
      rssKiB: { afterLoad: rssAfterLoad, afterSettle: rssAfterSettle, afterRestart: rssAfterRestart, afterColdReads: main.rssAfterCold, afterWarmReads: rssAfterWarm },
      serverWriteBytesDuringReads: main.serverWriteBytes,
      complaints,
    };
  } finally {
    if (server !== null) await stopServer(server);
    rmSync(tmp, { recursive: true, force: true });
  }
}
