// Explicit invalidation and dependencies on the real server (2 shards):
// by key, prefix and tag (PUT ?tags=), the dependency routes with their
// errors, and a cascade across both shards through a cycle — the cached
// dependents leave the cache after their parent is written, each once, and
// the edges survive kill -9. Invalidation drops cached copies only: every
// value still reads back from storage.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSlotMap, shardOfKey } from '../../shared/slot.js';
import { expectError, expectOk, waitUntil } from '../helpers/http-client.js';
import { readCounts } from '../helpers/cache-probe.js';
import { addDependency, invalidate, postJson } from '../helpers/cache-control.js';
import { kvUrl, putValue } from '../helpers/kv-client.js';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';

afterAll(cleanup);

const SHARDS = 2;
const slots = buildSlotMap(SHARDS);
const shardOf = (key: string): number => shardOfKey(slots, Buffer.from(key, 'utf8'));

/** The first `count` keys `${base}${i}` that live on `shard`. */
function keysOn(shard: number, base: string, count: number): string[] {
  const keys: string[] = [];
  for (let i = 0; keys.length < count; i++) if (shardOf(`${base}${i}`) === shard) keys.push(`${base}${i}`);
  return keys;
}

/** Whether a HEAD of key was answered by the router from the cache (no shard read). */
async function isCached(base: string, key: string): Promise<boolean> {
  const before = await readCounts(base);
  expect((await fetch(kvUrl(base, key), { method: 'HEAD' })).status).toBe(200);
  const after = await readCounts(base);
  return after.shardReads === before.shardReads;
}

async function text(base: string, key: string): Promise<string> {
  const response = await fetch(kvUrl(base, key));
  expect(response.status, key).toBe(200);
  return response.text();
}

describe('cache invalidation and dependencies (2 shards)', () => {
  let server: ServerProcess;

  beforeAll(async () => {
    server = await startServer({ shards: SHARDS });
  });

  afterAll(async () => {
    await server.stop();
  });

  it('invalidates one key: the cached copy goes, the stored value stays', async () => {
    await expectOk(await putValue(server.url, 'inv:k', 'value'));
    expect(await isCached(server.url, 'inv:k')).toBe(true);
    expect(await invalidate(server.url, { key: 'inv:k' })).toEqual({ key: 'inv:k', invalidated: 1, keys: 1, dependents: 0 });
    expect(await isCached(server.url, 'inv:k')).toBe(false);
    expect(await text(server.url, 'inv:k')).toBe('value'); // read through again
    expect(await isCached(server.url, 'inv:k')).toBe(true);
    // A key that is not cached: nothing removed, still answered.
    expect((await invalidate(server.url, { key: 'inv:absent' })).invalidated).toBe(0);
  });

  it('invalidates by prefix on every shard', async () => {
    const keys = [...keysOn(0, 'pre:a', 5), ...keysOn(1, 'pre:a', 5)];
    for (const key of keys) await expectOk(await putValue(server.url, key, key));
    await expectOk(await putValue(server.url, 'prf:other', 'o'));
    expect(await invalidate(server.url, { prefix: 'pre:' })).toEqual({ prefix: 'pre:', invalidated: 10, keys: 0, dependents: 0 });
    for (const key of keys) expect(await isCached(server.url, key)).toBe(false);
    expect(await isCached(server.url, 'prf:other')).toBe(true);
    for (const key of keys) expect(await text(server.url, key)).toBe(key);
  });

  it('invalidates by tag; a PUT replaces the key\'s tags and a DELETE drops them', async () => {
    await expectOk(await putValue(server.url, 'tag:1', '1', undefined, '?tags=red,blue'));
    await expectOk(await putValue(server.url, 'tag:2', '2', undefined, '?tags=red'));
    await expectOk(await putValue(server.url, 'tag:3', '3', undefined, '?tags=blue'));
    expect(await invalidate(server.url, { tag: 'red' })).toMatchObject({ invalidated: 2, keys: 2 });
    expect(await isCached(server.url, 'tag:1')).toBe(false);
    expect(await isCached(server.url, 'tag:3')).toBe(true);
    await expectOk(await putValue(server.url, 'tag:2', '2b')); // no tags now
    await expectOk(await fetch(kvUrl(server.url, 'tag:1'), { method: 'DELETE' }));
    expect(await invalidate(server.url, { tag: 'red' })).toMatchObject({ invalidated: 0, keys: 0 });
    expect(await invalidate(server.url, { tag: 'blue' })).toMatchObject({ invalidated: 1, keys: 1 });
    await expectError(await putValue(server.url, 'tag:4', '4', undefined, '?tags=a,,b'), 400, 'INVALID_PARAMETER');
    await expectError(await putValue(server.url, 'tag:4', '4', undefined, `?tags=${'t'.repeat(300)}`), 400, 'INVALID_PARAMETER');
  });

  it('refuses bad invalidation bodies with 400 and a code', async () => {
    const bad: [unknown, string][] = [
      [{}, 'INVALID_PARAMETER'],
      [{ key: 'a', prefix: 'b' }, 'INVALID_PARAMETER'],
      [{ key: '' }, 'INVALID_KEY'],
      [{ key: 'k'.repeat(2000) }, 'KEY_TOO_LARGE'],
      [{ key: 5 }, 'INVALID_KEY'],
      [{ tag: '' }, 'INVALID_PARAMETER'],
      [{ keys: ['a'] }, 'INVALID_PARAMETER'],
      ['[1,2', 'INVALID_JSON'],
      ['[1,2]', 'INVALID_JSON'],
    ];
    for (const [body, code] of bad) await expectError(await postJson(server.url, '/api/v1/cache/invalidate', body), 400, code);
  });

  it('manages dependency edges: 201 created, 200 when known, 404 when removing one that is not there', async () => {
    const created = await addDependency(server.url, 'dep:p', 'dep:c');
    expect((await expectOk<{ created: boolean }>(created, 201)).data).toEqual({ parent: 'dep:p', child: 'dep:c', created: true });
    const again = await addDependency(server.url, 'dep:p', 'dep:c');
    expect(again.status).toBe(200);
    expect((await expectOk<{ created: boolean }>(again)).data.created).toBe(false);
    expect((await expectOk<{ children: string[] }>(await fetch(`${server.url}/api/v1/cache/dependencies?parent=dep%3Ap`))).data.children).toEqual(['dep:c']);
    expect((await expectOk<{ parents: string[] }>(await fetch(`${server.url}/api/v1/cache/dependencies?child=dep%3Ac`))).data.parents).toEqual(['dep:p']);
    await expectError(await addDependency(server.url, 'dep:p', 'dep:p'), 400, 'INVALID_PARAMETER');
    await expectError(await postJson(server.url, '/api/v1/cache/dependencies', { parent: 'dep:p' }), 400, 'INVALID_PARAMETER');
    await expectError(await postJson(server.url, '/api/v1/cache/dependencies', { parent: 'dep:p', child: 'x', weight: 2 }), 400, 'INVALID_PARAMETER');
    await expectError(await fetch(`${server.url}/api/v1/cache/dependencies`), 400, 'INVALID_PARAMETER');
    await expectOk(await postJson(server.url, '/api/v1/cache/dependencies', { parent: 'dep:p', child: 'dep:c' }, 'DELETE'));
    await expectError(await postJson(server.url, '/api/v1/cache/dependencies', { parent: 'dep:p', child: 'dep:c' }, 'DELETE'), 404, 'DEPENDENCY_NOT_FOUND');
    await expectOk(await addDependency(server.url, 'dep:p', 'dep:c'), 201);
    await expectOk(await fetch(`${server.url}/api/v1/cache/dependencies?parent=dep%3Ap&child=dep%3Ac`, { method: 'DELETE' }));
  });

  it('cascades a parent\'s write to its dependents on both shards, through a cycle, and keeps the edges across kill -9', { timeout: 60_000 }, async () => {
    const [a, c] = keysOn(0, 'cas:', 2);
    const [b, d] = keysOn(1, 'cas:', 2);
    for (const key of [a, b, c, d]) await expectOk(await putValue(server.url, key, `${key}=1`));
    // a → b → c → a (a cycle across both shards), and c → d. (Added after the writes: each write would cascade.)
    for (const [parent, child] of [[a, b], [b, c], [c, a], [c, d]]) expect((await addDependency(server.url, parent, child)).status).toBe(201);
    for (const key of [a, b, c, d]) expect(await isCached(server.url, key)).toBe(true);

    await expectOk(await putValue(server.url, a, `${a}=2`));
    for (const key of [b, c, d]) {
      await waitUntil(async () => ((await isCached(server.url, key)) ? undefined : true), { timeoutMs: 5000, what: `${key} invalidated by the cascade` });
    }
    expect(await isCached(server.url, a), 'the written parent itself stays cached with its new value').toBe(true);
    expect(await text(server.url, a)).toBe(`${a}=2`);
    for (const key of [b, c, d]) expect(await text(server.url, key)).toBe(`${key}=1`);

    // Explicit invalidation of a counts its dependents once each, the cycle notwithstanding.
    expect(await invalidate(server.url, { key: a })).toMatchObject({ keys: 1, dependents: 3 });

    await server.kill9();
    server = await startServer({ shards: SHARDS, dataDir: server.dataDir });
    expect((await expectOk<{ children: string[] }>(await fetch(`${server.url}/api/v1/cache/dependencies?parent=${encodeURIComponent(c)}`))).data.children.sort()).toEqual([a, d].sort());
    for (const key of [a, b, c, d]) await text(server.url, key); // cached again (read-through)
    await expectOk(await fetch(kvUrl(server.url, b), { method: 'DELETE' })); // a delete cascades too: b → c → a, d
    for (const key of [c, a, d]) {
      await waitUntil(async () => ((await isCached(server.url, key)) ? undefined : true), { timeoutMs: 5000, what: `${key} invalidated after the restart` });
    }
  });
});
