// THE concurrency test of the cache: a worker thread plays the owning shard
// and overwrites keys of a small segment as fast as it can (evictions, TTLs,
// deletes, sweeps: memory is reused constantly), while this thread reads the
// same keys through CacheReader for a few seconds. Every hit must be a whole
// value (checksum), of the key asked for, and at least as new as the version
// the writer had published as finished before the read began.
import { execSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { beforeAll, describe, expect, it } from 'vitest';
import { CacheReader, cacheHash, createCacheSegment, readCacheStats } from '../../shared/cache/index.js';
import { within, Xorshift32 } from '../unit/support/prng.js';
// @ts-expect-error: plain JS fixture shared with the worker (no declarations).
import { decodeValue, keyName } from './fixtures/stress-values.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DIST_WRITER = join(ROOT, 'dist/workers/cache/index.js');
const READ_MS = Number(process.env.CACHE_STRESS_MS ?? 3000);
const KEYS = 64;
const CAPACITY = 64 * 1024;

type Decoded = { key: number; version: number } | string;
const decode = decodeValue as (value: Uint8Array) => Decoded;
const nameOf = keyName as (k: number) => Uint8Array;

/** The newest mtime of the cache sources the compiled fixture depends on. */
function newestSourceMs(): number {
  let newest = 0;
  for (const dir of ['shared/cache', 'workers/cache']) {
    for (const name of readdirSync(join(ROOT, dir))) newest = Math.max(newest, statSync(join(ROOT, dir, name)).mtimeMs);
  }
  return newest;
}

interface Counts { reads: number; hits: number; torn: string[]; stale: string[] }

/** Reads until `endMs`; returns what it saw. Synchronous on purpose: the writer runs on its own thread. */
function readLoop(reader: CacheReader, versions: Int32Array, endMs: number): Counts {
  const keys = Array.from({ length: KEYS }, (_, k) => nameOf(k));
  const hashes = keys.map((key) => cacheHash(key));
  const rng = new Xorshift32(0x5eed_c0de);
  const counts: Counts = { reads: 0, hits: 0, torn: [], stale: [] };
  while (performance.now() < endMs) {
    const nowMs = Date.now();
    for (let i = 0; i < 512; i++) {
      const k = rng.int(KEYS);
      const floor = Atomics.load(versions, k);
      const hit = reader.get(keys[k], hashes[k], nowMs);
      counts.reads++;
      if (hit === null) continue;
      counts.hits++;
      const decoded = decode(hit.value);
      if (typeof decoded === 'string') counts.torn.push(`key ${k}: ${decoded}`);
      else if (decoded.key !== k) counts.torn.push(`asked key ${k}, got key ${decoded.key}`);
      else if (decoded.version < floor) counts.stale.push(`key ${k}: version ${decoded.version} < published ${floor}`);
    }
  }
  return counts;
}

describe('cache seqlock across threads', () => {
  beforeAll(() => {
    if (existsSync(DIST_WRITER) && statSync(DIST_WRITER).mtimeMs >= newestSourceMs()) return;
    try {
      execSync('npm run build --silent', { cwd: ROOT, stdio: 'pipe' });
    } catch (error) {
      // tsc still emits on type errors elsewhere in the tree; only a missing writer is fatal.
      if (!existsSync(DIST_WRITER)) throw error;
    }
  });

  it('never returns a torn value or one older than the version published before the read', async () => {
    const segment = createCacheSegment(CAPACITY);
    const published = new SharedArrayBuffer(KEYS * 4);
    const control = new SharedArrayBuffer(64);
    const worker = new Worker(new URL('./fixtures/cache-writer-worker.mjs', import.meta.url), {
      workerData: { segment, published, control, keyCount: KEYS, seed: 0xabcdef },
    });
    const messages: unknown[] = [];
    const started = new Promise<void>((resolve, reject) => {
      worker.on('message', (message: unknown) => { messages.push(message); resolve(); });
      worker.once('error', reject);
    });
    const finished = new Promise<number>((resolve) => worker.once('exit', resolve));
    const reader = new CacheReader(segment);
    try {
      await within(started, 10_000, 'the writer worker to start');
      const counts = readLoop(reader, new Int32Array(published), performance.now() + READ_MS);
      Atomics.store(new Int32Array(control), 0, 1);
      expect(await within(finished, 10_000, 'the writer worker to stop')).toBe(0);
      const { report, stats } = messages[1] as { report: Record<string, number>; stats: { evictions: number } };
      const mine = reader.stats();
      console.log(
        `seqlock stress ${READ_MS} ms: reads ${counts.reads}, hits ${counts.hits}, retries ${mine.retries}, ` +
        `fallbacks ${mine.fallbacks}, read-buffer drops ${mine.readBufferDrops}; writer ${JSON.stringify(report)}; ` +
        `segment ${JSON.stringify(readCacheStats(segment))}`,
      );
      expect(counts.torn.slice(0, 5)).toEqual([]);
      expect(counts.stale.slice(0, 5)).toEqual([]);
      expect(counts.hits).toBeGreaterThan(1000);
      expect(report.sets).toBeGreaterThan(1000);
      expect(stats.evictions).toBeGreaterThan(0);
    } finally {
      Atomics.store(new Int32Array(control), 0, 1);
      await worker.terminate();
    }
  });
});
