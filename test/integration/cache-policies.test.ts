// Cache policies by key prefix on the real server (2 shards): write-through
// (the default: a written key is a router hit at once), write-around (storage
// only; the next GET reads through), read_through off (every GET goes to the
// shard), cache-only (volatile: never listed, never stored, gone after a
// restart, refused when larger than a cache entry), write-back (acknowledged
// before the WAL has it; on disk after a graceful stop). Policies persist in
// the data directory, load from a --cache-policies file, and bad ones are 400.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectError, expectOk } from '../helpers/http-client.js';
import { cacheStats, readCounts } from '../helpers/cache-probe.js';
import { getPolicies, postJson, putPolicies } from '../helpers/cache-control.js';
import { kvUrl, putValue } from '../helpers/kv-client.js';
import { cleanup, makeDataDir, startExpectingFailure, startServer, type ServerProcess } from '../helpers/server-process.js';
import { scrape } from '../helpers/storage-fixtures.js';

afterAll(cleanup);

const RULES = [
  { prefix: 'wa:', policy: 'write-around' },
  { prefix: 'nr:', policy: 'write-around', read_through: false },
  { prefix: 'vol:', policy: 'cache-only' },
  { prefix: 'wb:', policy: 'write-back' },
  { prefix: 'rt:', policy: 'read-through' },
] as const;

async function getText(base: string, key: string): Promise<{ status: number; body: string }> {
  const response = await fetch(kvUrl(base, key));
  return { status: response.status, body: await response.text() };
}

describe('cache policies by prefix (2 shards)', () => {
  let server: ServerProcess;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = makeDataDir();
    server = await startServer({ shards: 2, dataDir, extraArgs: ['--cache-mb', '8'] });
    const set = await putPolicies(server.url, [...RULES]);
    expect(set.policies).toEqual(RULES);
    expect(set.source).toBe('data-dir');
  });

  afterAll(async () => {
    await server.stop();
  });

  it('write-through by default: the written key is a router hit at once', async () => {
    await expectOk(await putValue(server.url, 'plain:1', 'v1'));
    const before = await readCounts(server.url);
    expect(await getText(server.url, 'plain:1')).toEqual({ status: 200, body: 'v1' });
    const after = await readCounts(server.url);
    expect(after.hits - before.hits).toBe(1);
    expect(after.shardReads - before.shardReads).toBe(0);
  });

  it('write-around: a write drops the cached copy; the next GET reads through and the one after hits', async () => {
    await expectOk(await putValue(server.url, 'wa:1', 'a1'));
    expect(await getText(server.url, 'wa:1')).toEqual({ status: 200, body: 'a1' }); // loads it
    const warm = await readCounts(server.url);
    expect(await getText(server.url, 'wa:1')).toEqual({ status: 200, body: 'a1' });
    expect((await readCounts(server.url)).hits - warm.hits).toBe(1);

    await expectOk(await putValue(server.url, 'wa:1', 'a2'));
    const before = await readCounts(server.url);
    expect(await getText(server.url, 'wa:1')).toEqual({ status: 200, body: 'a2' });
    const after = await readCounts(server.url);
    expect(after.hits - before.hits, 'not cached after the write').toBe(0);
    expect(after.shardReads - before.shardReads).toBe(1);
  });

  it('read_through false: every GET goes to the shard', async () => {
    await expectOk(await putValue(server.url, 'nr:1', 'n1'));
    const before = await readCounts(server.url);
    for (let i = 0; i < 5; i++) expect(await getText(server.url, 'nr:1')).toEqual({ status: 200, body: 'n1' });
    const after = await readCounts(server.url);
    expect(after.hits - before.hits).toBe(0);
    expect(after.shardReads - before.shardReads).toBe(5);
  });

  it('read-through: a miss loads the value, the next GET is a hit', async () => {
    await expectOk(await putValue(server.url, 'rt:1', 'r1'));
    await expectOk(await postJson(server.url, '/api/v1/cache/invalidate', { key: 'rt:1' }));
    const before = await readCounts(server.url);
    expect(await getText(server.url, 'rt:1')).toEqual({ status: 200, body: 'r1' });
    expect(await getText(server.url, 'rt:1')).toEqual({ status: 200, body: 'r1' });
    const after = await readCounts(server.url);
    expect(after.shardReads - before.shardReads).toBe(1);
    expect(after.hits - before.hits).toBe(1);
  });

  it('cache-only: served from the cache, never listed or stored, deleted like any key, refused when too large', async () => {
    await expectOk(await putValue(server.url, 'vol:1', 'x1', 'text/plain'));
    const got = await fetch(kvUrl(server.url, 'vol:1'));
    expect(got.status).toBe(200);
    expect(got.headers.get('content-type')).toBe('text/plain');
    expect(await got.text()).toBe('x1');
    expect((await fetch(kvUrl(server.url, 'vol:1'), { method: 'HEAD' })).status).toBe(200);
    const listed = await expectOk<string[]>(await fetch(`${server.url}/api/v1/kv?prefix=vol%3A`));
    expect(listed.data).toEqual([]);
    // Larger than a cache entry may be (1/8 of the 4 MiB shard segment): refused, not acknowledged.
    await expectError(await putValue(server.url, 'vol:big', Buffer.alloc(700 * 1024, 1)), 413, 'VALUE_TOO_LARGE');
    expect((await getText(server.url, 'vol:big')).status).toBe(404);
    await expectOk(await putValue(server.url, 'vol:2', 'x2'));
    const deleted = await expectOk<{ deleted: boolean }>(await fetch(kvUrl(server.url, 'vol:2'), { method: 'DELETE' }));
    expect(deleted.data.deleted).toBe(true);
    expect((await getText(server.url, 'vol:2')).status).toBe(404);
  });

  it('write-back: acknowledged and readable at once, handed to the WAL in batches', async () => {
    const before = (await scrape(server.url)).value('mantis_cache_write_back_flushes_total');
    for (let i = 0; i < 20; i++) await expectOk(await putValue(server.url, `wb:${i}`, `b${i}`));
    for (let i = 0; i < 20; i++) expect(await getText(server.url, `wb:${i}`)).toEqual({ status: 200, body: `b${i}` });
    await expectOk(await fetch(kvUrl(server.url, 'wb:3'), { method: 'DELETE' }));
    expect((await getText(server.url, 'wb:3')).status).toBe(404);
    // --write-back-ms defaults to 100: the flush counter moves soon after.
    const deadline = Date.now() + 5000;
    while ((await scrape(server.url)).value('mantis_cache_write_back_flushes_total') === before && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect((await scrape(server.url)).value('mantis_cache_write_back_flushes_total')).toBeGreaterThan(before);
  });

  it('after a graceful restart: policies come back from the data dir, write-back and stored keys are there, cache-only keys are gone', async () => {
    expect(await server.stop()).toBe(0);
    server = await startServer({ shards: 2, dataDir, extraArgs: ['--cache-mb', '8'] });
    expect(await getPolicies(server.url)).toEqual({ policies: RULES, source: 'data-dir' });
    for (let i = 0; i < 20; i++) {
      expect(await getText(server.url, `wb:${i}`)).toEqual(i === 3 ? { status: 404, body: expect.any(String) } : { status: 200, body: `b${i}` });
    }
    expect(await getText(server.url, 'wa:1')).toEqual({ status: 200, body: 'a2' });
    expect((await getText(server.url, 'vol:1')).status).toBe(404);
    expect((await cacheStats(server.url)).enabled).toBe(true);
  });

  it('refuses bad policy bodies with 400 and a code, leaving the rules as they were', async () => {
    const bad: [unknown, string][] = [
      [{ policies: [{ prefix: 'a:', policy: 'sometimes' }] }, 'INVALID_PARAMETER'],
      [{ policies: [{ prefix: 'a:', policy: 'cache-only', read_through: true }] }, 'INVALID_PARAMETER'],
      [{ policies: [{ prefix: 'a:', policy: 'write-back' }, { prefix: 'a:', policy: 'write-around' }] }, 'INVALID_PARAMETER'],
      [{ policies: [{ prefix: 7, policy: 'write-back' }] }, 'INVALID_PARAMETER'],
      [{ policies: [{ prefix: 'a:', policy: 'write-back', ttl: 3 }] }, 'INVALID_PARAMETER'],
      [{ policies: 'all' }, 'INVALID_PARAMETER'],
      [{ rules: [] }, 'INVALID_PARAMETER'],
      ['{"policies": [', 'INVALID_JSON'],
    ];
    for (const [body, code] of bad) await expectError(await postJson(server.url, '/api/v1/cache/policies', body, 'PUT'), 400, code);
    const wrongType = await fetch(`${server.url}/api/v1/cache/policies`, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: '{}' });
    await expectError(wrongType, 415, 'UNSUPPORTED_MEDIA_TYPE');
    expect((await getPolicies(server.url)).policies).toEqual(RULES);
  });
});

describe('--cache-policies file', () => {
  it('loads the rules at start; a bad file stops the server with exit code 2 and names the problem', async () => {
    const dir = makeDataDir();
    const file = join(dir, 'policies.json');
    writeFileSync(file, JSON.stringify({ policies: [{ prefix: 'session:', policy: 'cache-only' }] }));
    const server = await startServer({ shards: 1, extraArgs: ['--cache-policies', file] });
    expect(await getPolicies(server.url)).toEqual({ policies: [{ prefix: 'session:', policy: 'cache-only' }], source: 'config-file' });
    await expectOk(await putValue(server.url, 'session:1', 's'));
    expect((await expectOk<string[]>(await fetch(`${server.url}/api/v1/kv?prefix=session%3A`))).data).toEqual([]);
    expect(await server.stop()).toBe(0);

    const badFile = join(dir, 'bad.json');
    writeFileSync(badFile, JSON.stringify([{ prefix: 'x:', policy: 'write-sideways' }]));
    const failed = await startExpectingFailure({ shards: 1, extraArgs: ['--cache-policies', badFile] });
    expect(failed.code).toBe(2);
    expect(failed.stderr).toContain('bad.json');
    expect(failed.stderr).toContain('write-sideways');
  });
});
