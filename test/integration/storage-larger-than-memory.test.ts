// A data set 20× the memory budget, on the real server: with
// --memory-budget-mb 4 it is written (with overwrites, deletes and TTLs),
// flushed and compacted into several levels of tables, read back exactly by
// GET, by batch get and by paged listing over the disk data, and again after a
// restart whose WAL replay covers only the tail. The server's RSS is sampled
// throughout and printed; it must stay within a generous fixed bound.

import { afterAll, describe, expect, it } from 'vitest';
import { Xorshift32 } from '../unit/support/prng.js';
import { expectOk, mapLimit } from '../helpers/http-client.js';
import { kvUrl } from '../helpers/kv-client.js';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';
import { batchGetAll, postBatch, readiness, readManifest, rssMiB, scrape, valueOf, type BatchOp } from '../helpers/storage-fixtures.js';

afterAll(cleanup);

const MiB = 1024 * 1024;
const BUDGET_MB = 4;
const KEYS = 23_000;
const VALUE_BYTES: readonly [number, number] = [3072, 5120];
const BATCH_OPS = 200;
const TTL_KEYS = 60;
/**
 * The bound is about the LSM's memory budget, so the cache (a separate, fixed allotment with its
 * own size-cap tests) is off here. With it on, RSS while reading rose by more than the cache's
 * size (16 MiB → +36 MiB, 64 MiB → +75 MiB on a busy machine), not yet explained.
 */
const CACHE_MB = 0;
/**
 * Generous: the process idles at ~90 MiB and peaks at ~230–320 MiB here (4 MiB budget, 100 MiB
 * written) with MALLOC_ARENA_MAX=2, which the helper sets as `npm start` does; without it reading
 * peaked at 386–405 MiB.
 */
const RSS_MIB_MAX = 400;

const bigKey = (i: number): string => `big/k${String(i).padStart(8, '0')}`;

type Expected = Map<string, Buffer | undefined>;

/** The data set: every key's final value (undefined = deleted or expired), and the requests that write it. */
function plan(seed: number): { expected: Expected; phases: BatchOp[][][]; shortTtl: string[] } {
  const rng = new Xorshift32(seed);
  const expected: Expected = new Map();
  const put = (key: string, version: number, ttl?: number): BatchOp => {
    const value = valueOf(key, version, rng.range(VALUE_BYTES[0], VALUE_BYTES[1]));
    expected.set(key, value);
    return ttl === undefined ? { op: 'put', key, value } : { op: 'put', key, value, ttl };
  };
  const shortTtl = Array.from({ length: TTL_KEYS }, (_, i) => `ttl/short/k${i}`);
  const first: BatchOp[] = shortTtl.map((key) => put(key, 1, 1));
  for (let i = 0; i < TTL_KEYS; i++) first.push(put(`ttl/long/k${i}`, 1, 3600));
  for (let i = 0; i < KEYS; i++) first.push(put(bigKey(i), 1));
  const second: BatchOp[] = [];
  for (let i = 0; i < KEYS; i++) {
    if (i % 10 === 3) second.push(put(bigKey(i), 2));
    if (i % 20 === 7) {
      second.push({ op: 'delete', key: bigKey(i) });
      expected.set(bigKey(i), undefined);
    }
  }
  for (const key of shortTtl) expected.set(key, undefined);
  const chunk = (ops: BatchOp[]): BatchOp[][] => Array.from({ length: Math.ceil(ops.length / BATCH_OPS) }, (_, i) => ops.slice(i * BATCH_OPS, (i + 1) * BATCH_OPS));
  return { expected, phases: [chunk(first), chunk(second)], shortTtl };
}

const liveBytesOf = (expected: Expected): number => [...expected.values()].reduce((s, v) => s + (v?.length ?? 0), 0);

/** Max RSS of the server, sampled every 50 ms while `work` runs. */
async function sampleRss<T>(pid: number, work: () => Promise<T>): Promise<{ result: T; maxMiB: number }> {
  let maxMiB = rssMiB(pid);
  const timer = setInterval(() => (maxMiB = Math.max(maxMiB, rssMiB(pid))), 50);
  try {
    const result = await work();
    return { result, maxMiB: Math.max(maxMiB, rssMiB(pid)) };
  } finally {
    clearInterval(timer);
  }
}

async function verifyBatchGet(url: string, expected: Expected): Promise<void> {
  const held = await batchGetAll(url, [...expected.keys()]);
  const wrong = [...expected].filter(([key, want]) => {
    const got = held.get(key);
    return want === undefined ? got !== undefined : got === undefined || !got.equals(want);
  });
  expect(wrong.slice(0, 10).map(([key, want]) => `${key}: want ${want?.length ?? 'absent'}, got ${held.get(key)?.length ?? 'absent'}`)).toEqual([]);
}

/** Single GETs of every 8th big key, every deleted one and every TTL key: status, type and exact bytes. */
async function verifyGets(url: string, expected: Expected): Promise<void> {
  const sample = [...expected].filter(([key, want], i) => i % 8 === 0 || want === undefined || key.startsWith('ttl/'));
  const wrong: string[] = [];
  await mapLimit(sample, 16, async ([key, want]) => {
    const response = await fetch(kvUrl(url, key));
    const body = Buffer.from(await response.arrayBuffer());
    if (want === undefined) {
      if (response.status !== 404) wrong.push(`${key}: want 404, got ${response.status}`);
    } else if (response.status !== 200 || response.headers.get('content-type') !== 'application/octet-stream' || !body.equals(want)) {
      wrong.push(`${key}: ${response.status} ${response.headers.get('content-type')} ${body.length} bytes, want ${want.length}`);
    }
  });
  expect(wrong.slice(0, 10), `${wrong.length} of ${sample.length} GETs wrong`).toEqual([]);
}

/** Pages through a prefix with the cursor: every live key exactly once, in byte order, with exact totals. */
async function verifyListing(url: string, expected: Expected, prefix: string, limit: number): Promise<number> {
  const want = [...expected].filter(([key, v]) => key.startsWith(prefix) && v !== undefined).map(([key]) => key).sort();
  const got: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const query: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
    const page = await expectOk<string[]>(await fetch(`${url}/api/v1/kv?prefix=${encodeURIComponent(prefix)}&limit=${limit}${query}`));
    expect(page.meta.total, `total of ${prefix} on page ${pages + 1}`).toBe(want.length);
    got.push(...page.data);
    cursor = page.meta.next_cursor as string | null;
    pages++;
    expect(pages).toBeLessThanOrEqual(Math.ceil(want.length / limit) + 1);
  } while (cursor !== null);
  expect(got.length).toBe(want.length);
  expect(got).toEqual(want);
  return pages;
}

/** Pages through a prefix by offset (skipping live keys only, over tombstones and expired entries). */
async function verifyOffsetPaging(url: string, expected: Expected, prefix: string, limit: number): Promise<void> {
  const want = [...expected].filter(([key, v]) => key.startsWith(prefix) && v !== undefined).map(([key]) => key).sort();
  for (let offset = 0; offset < want.length + limit; offset += limit) {
    const page = await expectOk<string[]>(await fetch(`${url}/api/v1/kv?prefix=${encodeURIComponent(prefix)}&limit=${limit}&offset=${offset}`));
    expect(page.data, `offset ${offset}`).toEqual(want.slice(offset, offset + limit));
    expect(page.meta.total).toBe(want.length);
  }
}

async function verifyAll(url: string, expected: Expected): Promise<void> {
  await verifyBatchGet(url, expected);
  await verifyGets(url, expected);
  await verifyListing(url, expected, 'big/', 1000);
  await verifyListing(url, expected, 'big/k0001', 300);
  await verifyListing(url, expected, 'ttl/', 50);
  await verifyOffsetPaging(url, expected, 'big/k0002', 250);
}

async function writeAll(server: ServerProcess, phases: BatchOp[][][]): Promise<number> {
  let requests = 0;
  for (const batches of phases) {
    for (const ops of batches) {
      const answer = await postBatch(server.url, ops);
      expect(answer.status, answer.text).toBe(200);
      requests++;
    }
  }
  return requests;
}

/** One shard: the whole budget is one shard's (a 2-shard run costs twice the time for little more). */
const shards = 1;

describe('a data set 20× the memory budget (1 shard, --memory-budget-mb 4)', () => {
  /** Max RSS seen while writing, reading, and reading after the restart (MiB). */
  const rss = { writing: 0, reading: 0, afterRestart: 0 };

  it('is written through flushes and compactions, reads back exactly, and again after a restart that replays only the WAL tail', { timeout: 180_000 }, async () => {
    const { expected, phases, shortTtl } = plan(20261126 + shards);
    const liveBytes = liveBytesOf(expected);
    expect(liveBytes).toBeGreaterThanOrEqual(20 * BUDGET_MB * MiB);
    const args = ['--memory-budget-mb', String(BUDGET_MB), '--cache-mb', String(CACHE_MB)];
    const server = await startServer({ shards, fsync: 'batch', extraArgs: args });
    const pid = server.proc.pid as number;

    const written = await sampleRss(pid, () => writeAll(server, phases));
    // The short TTLs (1 s) were written first; wait until they have all expired.
    const rng = new Xorshift32(7);
    const probe = shortTtl[rng.int(shortTtl.length)];
    await expect.poll(async () => (await fetch(kvUrl(server.url, probe))).status, { timeout: 10_000, interval: 100 }).toBe(404);
    const verified = await sampleRss(pid, () => verifyAll(server.url, expected));

    const metrics = await scrape(server.url);
    const flushes = metrics.value('mantis_lsm_flushes_total');
    const compactions = metrics.value('mantis_lsm_compactions_total');
    const tables = metrics.value('mantis_lsm_tables');
    const health = await readiness(server.url);
    const tableBytes = health.shards.reduce((s, h) => s + h.disk.table_bytes, 0);
    const levels = Array.from({ length: shards }, (_, i) => (readManifest(server.dataDir, i)?.levels ?? []).map((l) => l.length));
    const userBytes = metrics.value('mantis_lsm_user_bytes_total');
    console.log(
      `[larger-than-memory ${shards} shard(s)] live data ${(liveBytes / MiB).toFixed(1)} MiB, written ${(userBytes / MiB).toFixed(1)} MiB in ${written.result} requests; ` +
        `${flushes} flushes, ${compactions} compactions, ${tables} tables (${(tableBytes / MiB).toFixed(1)} MiB) per level ${JSON.stringify(levels)}; ` +
        `table bytes written ${(metrics.value('mantis_lsm_table_bytes_written_total') / MiB).toFixed(1)} MiB, write stalls ${metrics.value('mantis_write_stalls_total')}; ` +
        `max RSS writing ${written.maxMiB.toFixed(0)} MiB, reading ${verified.maxMiB.toFixed(0)} MiB`,
    );
    expect(flushes).toBeGreaterThanOrEqual(20);
    expect(compactions).toBeGreaterThanOrEqual(1);
    expect(tables).toBeGreaterThanOrEqual(4);
    for (const perLevel of levels) expect(perLevel.filter((n) => n > 0).length, `levels in use ${JSON.stringify(perLevel)}`).toBeGreaterThanOrEqual(2);
    // The data is incompressible: the tables really hold it (not memory).
    expect(tableBytes).toBeGreaterThanOrEqual(0.8 * liveBytes);
    expect(metrics.value('mantis_shard_storage_failed')).toBe(0);
    rss.writing = written.maxMiB;
    rss.reading = verified.maxMiB;

    expect(await server.stop('SIGTERM')).toBe(0);
    const restarted = await startServer({ shards, fsync: 'batch', dataDir: server.dataDir, extraArgs: args });
    const replays = (await readiness(restarted.url)).shards.map((s) => s.replay);
    const replayedBytes = replays.reduce((s, r) => s + (r?.bytes ?? 0), 0);
    const replayedRecords = replays.reduce((s, r) => s + (r?.records ?? 0), 0);
    const again = await sampleRss(restarted.proc.pid as number, () => verifyAll(restarted.url, expected));
    console.log(
      `[larger-than-memory ${shards} shard(s)] restart replayed ${replayedRecords} WAL records (${(replayedBytes / MiB).toFixed(1)} MiB) of ${written.result} requests; ` +
        `max RSS reading after restart ${again.maxMiB.toFixed(0)} MiB`,
    );
    // Replay covers the tail the tables do not hold: about a memtable per shard, not the data set.
    expect(replayedBytes).toBeLessThan(liveBytes / 8);
    expect(replayedRecords).toBeLessThan(written.result / 4);
    rss.afterRestart = again.maxMiB;
    expect(await restarted.stop('SIGTERM')).toBe(0);
  });

  it(`keeps the server's RSS under ${RSS_MIB_MAX} MiB throughout`, () => {
    expect(rss.writing, 'the data set was written and measured').toBeGreaterThan(0);
    expect(Math.max(rss.writing, rss.reading, rss.afterRestart)).toBeLessThan(RSS_MIB_MAX);
  });
});
