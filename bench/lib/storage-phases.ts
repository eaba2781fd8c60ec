// One measured phase of the storage benchmark on one engine: writes in
// batches (sequential or random keys), point reads of a list of keys, or
// prefix scans. Each phase reads /proc/self/io and the engine's counters
// before and after, and checks every answer against the DataSet.

import type { EngineCounters, StorageEngine } from './storage-engines.js';
import { KEY_BYTES, keyOf, keyString, SCAN_PREFIX_KEYS, type DataSet } from './storage-data.js';
import { ioDelta, readIo, type IoCounters } from './storage-io.js';

export type PhaseId = 'seq-write' | 'random-write' | 'cold-read' | 'repeat-read' | 'warm-read' | 'scan';

/** A phase's figures; the engine counters are deltas over the phase. */
export type PhaseResult = Omit<EngineCounters, 'layout'> & {
  readonly phase: PhaseId;
  readonly engine: string;
  readonly ops: number;
  /** Wall time of the operations themselves (writes: until the last batch was applied, before settling). */
  readonly ms: number;
  readonly opsPerSec: number;
  /** Writes: time spent afterwards until flushes and compactions settled. */
  readonly settleMs: number;
  readonly userBytes: number;
  /** Process I/O over the phase (writes: including the settle). */
  readonly io: IoCounters | null;
  /** Point reads: per-get latency in µs (timer overhead included, ~0.05 µs). */
  readonly latencyUs: { readonly p50: number; readonly p99: number; readonly max: number } | null;
  /** Answers that did not match what was written (first few described). */
  readonly wrong: number;
  readonly wrongExamples: string[];
};

const EXAMPLES_MAX = 5;

function diff(a: number | null, b: number | null): number | null {
  return a === null || b === null ? null : a - b;
}

function finish(
  phase: PhaseId,
  engine: StorageEngine,
  ops: number,
  ms: number,
  settleMs: number,
  userBytes: number,
  io0: IoCounters | null,
  c0: EngineCounters,
  wrong: string[],
  wrongCount: number,
): PhaseResult {
  const c1 = engine.counters();
  return {
    phase,
    engine: engine.id,
    ops,
    ms,
    opsPerSec: ops / (ms / 1000),
    settleMs,
    userBytes,
    io: ioDelta(readIo(), io0),
    blocksRead: diff(c1.blocksRead, c0.blocksRead),
    blockCacheHits: diff(c1.blockCacheHits, c0.blockCacheHits),
    tableBytesWritten: diff(c1.tableBytesWritten, c0.tableBytesWritten),
    walBytesWritten: diff(c1.walBytesWritten, c0.walBytesWritten),
    writeStalls: c1.writeStalls - c0.writeStalls,
    writeStallMs: c1.writeStallMs - c0.writeStallMs,
    level0Stalls: c1.level0Stalls - c0.level0Stalls,
    latencyUs: null,
    wrong: wrongCount,
    wrongExamples: wrong,
  };
}

function percentiles(samples: Float64Array): { p50: number; p99: number; max: number } {
  const sorted = samples.slice().sort();
  const at = (p: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] * 1000;
  return { p50: at(0.5), p99: at(0.99), max: at(1) };
}

/** Writes the keys `order` in batches of `batchSize` (values: each key's next version), then settles. */
export async function writePhase(phase: PhaseId, engine: StorageEngine, data: DataSet, order: Uint32Array, batchSize: number, onProgress?: (done: number) => void): Promise<PhaseResult> {
  const io0 = readIo();
  const c0 = engine.counters();
  const bytes0 = data.userBytesWritten;
  const started = performance.now();
  let lastReport = started;
  for (let from = 0; from < order.length; from += batchSize) {
    const to = Math.min(order.length, from + batchSize);
    const keys: Buffer[] = [];
    const values: Buffer[] = [];
    for (let j = from; j < to; j++) {
      keys.push(keyOf(order[j]));
      values.push(data.nextValue(order[j]));
    }
    await engine.writeBatch(keys, values);
    if (onProgress !== undefined && performance.now() - lastReport > 10_000) {
      lastReport = performance.now();
      onProgress(to);
    }
  }
  const ms = performance.now() - started;
  await engine.settle();
  const settleMs = performance.now() - started - ms;
  return finish(phase, engine, order.length, ms, settleMs, data.userBytesWritten - bytes0, io0, c0, [], 0);
}

/** Point reads of `indices` (one pass each), every answer checked after the timed loop. */
export function readPhase(phase: PhaseId, engine: StorageEngine, data: DataSet, indices: Uint32Array, passes = 1): PhaseResult {
  const keys = Array.from(indices, (i) => keyOf(i));
  const got: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(keys.length);
  const io0 = readIo();
  const c0 = engine.counters();
  const samples = new Float64Array(keys.length * passes);
  const started = performance.now();
  for (let p = 0, n = 0; p < passes; p++) {
    for (let j = 0; j < keys.length; j++) {
      const t0 = performance.now();
      got[j] = engine.get(keys[j]);
      samples[n++] = performance.now() - t0;
    }
  }
  const ms = performance.now() - started;
  const result = { ...finish(phase, engine, keys.length * passes, ms, 0, 0, io0, c0, [], 0), latencyUs: percentiles(samples) };
  const wrong: string[] = [];
  let wrongCount = 0;
  for (let j = 0; j < keys.length; j++) {
    const problem = data.check(indices[j], got[j]);
    if (problem === undefined) continue;
    wrongCount++;
    if (wrong.length < EXAMPLES_MAX) wrong.push(problem);
  }
  return { ...result, wrong: wrongCount, wrongExamples: wrong };
}

/** Scan prefix number p: the keys p*100 .. p*100+99 share their first KEY_BYTES-2 bytes. */
function scanBounds(p: number): { gte: Buffer; lt: Buffer } {
  const gte = Buffer.from(keyString(p * SCAN_PREFIX_KEYS).slice(0, KEY_BYTES - 2), 'latin1');
  const lt = Buffer.from(gte);
  lt[lt.length - 1]++;
  return { gte, lt };
}

/** Prefix scans of SCAN_PREFIX_KEYS keys each; each count is checked against the keys written. */
export async function scanPhase(engine: StorageEngine, data: DataSet, prefixes: Uint32Array): Promise<PhaseResult> {
  const bounds = Array.from(prefixes, scanBounds);
  const counts = new Array<number>(bounds.length);
  const io0 = readIo();
  const c0 = engine.counters();
  const started = performance.now();
  for (let j = 0; j < bounds.length; j++) counts[j] = await engine.scan(bounds[j].gte, bounds[j].lt, SCAN_PREFIX_KEYS);
  const ms = performance.now() - started;
  const wrong: string[] = [];
  let wrongCount = 0;
  for (let j = 0; j < bounds.length; j++) {
    let expected = 0;
    for (let i = prefixes[j] * SCAN_PREFIX_KEYS; i < Math.min(data.keyCount, (prefixes[j] + 1) * SCAN_PREFIX_KEYS); i++) if (data.versions[i] !== 0) expected++;
    if (counts[j] === expected) continue;
    wrongCount++;
    if (wrong.length < EXAMPLES_MAX) wrong.push(`scan of prefix ${bounds[j].gte.toString('latin1')} returned ${counts[j]} keys, expected ${expected}`);
  }
  return finish('scan', engine, bounds.length, ms, 0, 0, io0, c0, wrong, wrongCount);
}
