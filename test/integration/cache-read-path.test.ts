// The cache on the GET path of the real server: a GET or HEAD of a written key
// is answered by the router from the owning shard's cache segment (cache hits
// grow, the shards apply no read), a GET the cache cannot answer goes to the
// shard and is read through into the cache, and writes are visible at once:
// a read issued after a PUT's or DELETE's answer sees it, also with 2 shards
// and concurrent writers. Values too large for the cache are served from
// storage, and --cache-mb 0 turns the cache off. Both listeners are checked.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectError, expectOk } from '../helpers/http-client.js';
import { cacheStats, readCounts } from '../helpers/cache-probe.js';
import { expectValue, kvUrl, namespace, putValue } from '../helpers/kv-client.js';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';
import { scrape } from '../helpers/storage-fixtures.js';

afterAll(cleanup);

const text = (s: string): Uint8Array => Buffer.from(s, 'utf8');

describe.each([true, false])('cache read path, 2 shards (fast path %s)', (fastPath) => {
  let server: ServerProcess;

  beforeAll(async () => {
    server = await startServer({ shards: 2, fastPath });
  });

  afterAll(async () => {
    await server.stop();
  });

  it('answers repeated GETs and HEADs of a written key from the cache: hits grow, the shards apply no read', async () => {
    const key = `${namespace('hit')}k`;
    await expectOk(await putValue(server.url, key, '{"n":1}', 'application/json', '?ttl=3600'));
    const before = await readCounts(server.url);
    for (let i = 0; i < 40; i++) {
      const response = await expectValue(server.url, key, text('{"n":1}'), 'application/json');
      expect(response.headers.get('mantis-expires-at')).toMatch(/^\d{4}-\d\d-\d\dT/);
    }
    for (let i = 0; i < 10; i++) {
      const head = await fetch(kvUrl(server.url, key), { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers.get('content-length')).toBe('7');
      expect(head.headers.get('content-type')).toBe('application/json');
    }
    const after = await readCounts(server.url);
    expect(after.hits - before.hits).toBe(50);
    expect(after.shardReads).toBe(before.shardReads);
  });

  it('refuses a GET of a cached key whose budget is spent (Mantis-Deadline-Ms: 0) with 504, as the ring path does', async () => {
    const key = `${namespace('deadline')}k`;
    await expectOk(await putValue(server.url, key, 'cached', 'text/plain'));
    for (const method of ['GET', 'HEAD']) {
      const late = await fetch(kvUrl(server.url, key), { method, headers: { 'Mantis-Deadline-Ms': '0' } });
      expect(late.status).toBe(504);
    }
    await expectError(await fetch(kvUrl(server.url, key), { headers: { 'Mantis-Deadline-Ms': '0' } }), 504, 'DEADLINE_EXCEEDED');
    const inTime = await fetch(kvUrl(server.url, key), { headers: { 'Mantis-Deadline-Ms': '5000' } });
    expect(await inTime.text()).toBe('cached');
  });

  it('counts exactly one miss for each GET or HEAD the cache cannot answer', async () => {
    const key = `${namespace('miss')}absent`;
    const before = await cacheStats(server.url);
    for (let i = 0; i < 5; i++) await expectError(await fetch(kvUrl(server.url, key)), 404, 'KEY_NOT_FOUND');
    for (let i = 0; i < 3; i++) expect((await fetch(kvUrl(server.url, key), { method: 'HEAD' })).status).toBe(404);
    const after = await cacheStats(server.url);
    expect(after.total.misses - before.total.misses).toBe(8);
    expect(after.total.hits).toBe(before.total.hits);
  });

  it('returns the new value immediately after each overwrite is acknowledged', async () => {
    const key = `${namespace('overwrite')}k`;
    for (let version = 0; version < 200; version++) {
      const value = `v${version}:${'x'.repeat((version * 37) % 500)}`;
      await expectOk(await putValue(server.url, key, value, 'text/plain'));
      const got = await fetch(kvUrl(server.url, key));
      expect(await got.text()).toBe(value);
    }
  });

  it('answers 404 to a GET and a HEAD right after a DELETE is acknowledged', async () => {
    const key = `${namespace('delete')}k`;
    for (let round = 0; round < 50; round++) {
      await expectOk(await putValue(server.url, key, `round ${round}`, 'text/plain'));
      expect(await (await fetch(kvUrl(server.url, key))).text()).toBe(`round ${round}`);
      await expectOk(await fetch(kvUrl(server.url, key), { method: 'DELETE' }));
      await expectError(await fetch(kvUrl(server.url, key)), 404, 'KEY_NOT_FOUND');
      expect((await fetch(kvUrl(server.url, key), { method: 'HEAD' })).status).toBe(404);
    }
  });

  it('never serves a version older than the last acknowledged one, with concurrent writers and readers on both shards', async () => {
    const ns = namespace('race');
    const keys = Array.from({ length: 8 }, (_, i) => `${ns}${i}`);
    const acked = new Map<string, number>(keys.map((k) => [k, -1]));
    const stale: string[] = [];
    const writer = async (key: string): Promise<void> => {
      for (let version = 0; version < 60; version++) {
        await expectOk(await putValue(server.url, key, `${version}|${'y'.repeat((version * 13) % 300)}`, 'text/plain'));
        acked.set(key, version);
        const own = Number((await (await fetch(kvUrl(server.url, key))).text()).split('|')[0]);
        if (own < version) stale.push(`${key}: wrote ${version}, read back ${own}`);
      }
    };
    let writing = true;
    const reader = async (seed: number): Promise<void> => {
      for (let i = seed; writing; i++) {
        const key = keys[i % keys.length];
        const floor = acked.get(key) ?? -1;
        const response = await fetch(kvUrl(server.url, key));
        const body = await response.text();
        const seen = response.status === 404 ? -1 : Number(body.split('|')[0]);
        if (seen < floor) stale.push(`${key}: acknowledged ${floor} before the GET, read ${seen}`);
      }
    };
    const readers = [0, 3, 5].map((seed) => reader(seed));
    await Promise.all(keys.map((k) => writer(k)));
    writing = false;
    await Promise.all(readers);
    expect(stale.slice(0, 10)).toEqual([]);
    const stats = await cacheStats(server.url);
    expect(stats.shards.filter((s) => s.hits > 0).length, 'both shards served hits').toBe(2);
  });
});

describe('read-through', () => {
  it('loads a key from storage on its first GET after a restart; the next GET is a hit', async () => {
    const first = await startServer({ shards: 1 });
    await expectOk(await putValue(first.url, 'stored', 'from disk', 'text/plain'));
    expect(await first.stop()).toBe(0);
    const server = await startServer({ shards: 1, dataDir: first.dataDir });
    try {
      const cold = await readCounts(server.url);
      await expectValue(server.url, 'stored', text('from disk'), 'text/plain');
      const loaded = await readCounts(server.url);
      expect(loaded.shardReads - cold.shardReads, 'the first GET went to the shard').toBe(1);
      expect(loaded.hits).toBe(cold.hits);
      await expectValue(server.url, 'stored', text('from disk'), 'text/plain');
      const warm = await readCounts(server.url);
      expect(warm.hits - loaded.hits, 'the second GET was a hit').toBe(1);
      expect(warm.shardReads).toBe(loaded.shardReads);
    } finally {
      await server.stop();
    }
  });
});

describe('values larger than the cache takes (--cache-mb 1, one shard)', () => {
  it('serves them from storage, and an overwrite across the limit never leaves the old value cached', async () => {
    const server = await startServer({ shards: 1, extraArgs: ['--cache-mb', '1'] });
    try {
      const stats = await cacheStats(server.url);
      const big = Buffer.alloc(Math.ceil(stats.total.capacity / 4), 0x61);
      big.write('big value');
      await expectOk(await putValue(server.url, 'small-then-big', 'small', 'text/plain'));
      await expectValue(server.url, 'small-then-big', text('small'), 'text/plain');
      await expectOk(await putValue(server.url, 'small-then-big', big, 'application/octet-stream'));
      const before = await readCounts(server.url);
      for (let i = 0; i < 3; i++) await expectValue(server.url, 'small-then-big', big, 'application/octet-stream');
      const after = await readCounts(server.url);
      expect(after.shardReads - before.shardReads, 'the big value came from the shard every time').toBe(3);
      expect(after.hits).toBe(before.hits);
      expect((await cacheStats(server.url)).total.refused).toBeGreaterThanOrEqual(2); // the put and the read-through
      // Small again: cached again.
      await expectOk(await putValue(server.url, 'small-then-big', 'small again', 'text/plain'));
      await expectValue(server.url, 'small-then-big', text('small again'), 'text/plain');
      expect((await readCounts(server.url)).hits).toBe(after.hits + 1);
    } finally {
      await server.stop();
    }
  });
});

describe('--cache-mb 0', () => {
  it('serves every read from the shards, reports the cache as off and exports no cache series', async () => {
    const server = await startServer({ shards: 2, extraArgs: ['--cache-mb', '0'] });
    try {
      await expectOk(await putValue(server.url, 'k', 'value', 'text/plain'));
      const before = await readCounts(server.url);
      await expectValue(server.url, 'k', text('value'), 'text/plain');
      expect((await fetch(kvUrl(server.url, 'k'), { method: 'HEAD' })).status).toBe(200);
      await expectOk(await fetch(kvUrl(server.url, 'k'), { method: 'DELETE' }));
      await expectError(await fetch(kvUrl(server.url, 'k')), 404, 'KEY_NOT_FOUND');
      const after = await readCounts(server.url);
      expect(after.shardReads - before.shardReads).toBe(3);
      const stats = await cacheStats(server.url);
      expect(stats.enabled).toBe(false);
      expect(stats.total).toMatchObject({ hits: 0, misses: 0, entries: 0, capacity: 0 });
      expect((await scrape(server.url)).text).not.toMatch(/^mantis_cache_hits_total\{/m);
    } finally {
      await server.stop();
    }
  });
});
