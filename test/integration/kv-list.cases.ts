// GET /api/v1/kv: keys with a prefix in UTF-8 byte order across every shard,
// paged by offset or by cursor, with totals, the per_page cap and parameter
// validation. Part of the shared KV suite (kv-api.cases.ts).

import { beforeAll, expect, it } from 'vitest';
import { byteOrder, expectError, expectOk, mapLimit, type Success } from '../helpers/http-client.js';
import { namespace, putValue, type TargetRef } from '../helpers/kv-client.js';

type ListMeta = { count: number; total: number; page: number | null; per_page: number; next_cursor: string | null };

const PUT_CONCURRENCY = 32;
const LIST_LIMIT_MAX = 1000;

async function list(url: string, params: Record<string, string>): Promise<Success<string[]> & { meta: ListMeta }> {
  const envelope = await expectOk<string[]>(await fetch(`${url}/api/v1/kv?${new URLSearchParams(params)}`));
  return envelope as Success<string[]> & { meta: ListMeta };
}

async function putAll(url: string, keys: readonly string[]): Promise<void> {
  await mapLimit(keys, PUT_CONCURRENCY, async (key) => {
    await expectOk(await putValue(url, key, key, 'text/plain'));
  });
}

/** Keys chosen so UTF-8 byte order differs from JS (UTF-16) string order and from numeric order. */
function keysUnder(prefix: string): string[] {
  const keys = Array.from({ length: 300 }, (_, i) => `${prefix}${i}`);
  keys.push(...['\uFFFD', '🙂', '😀/x', 'é', 'Z', 'a b', 'ключ', 'кот', '日本', '~', '\u007f', '-', ''].map((s) => `${prefix}${s}x`));
  return keys;
}

export function kvListCases(target: TargetRef): void {
  const prefix = namespace('list');
  let expected: string[] = [];

  beforeAll(async () => {
    const { url } = target();
    const keys = keysUnder(prefix);
    // Neighbours just outside the prefix ("list-…" + '.' and + '0' sort right before and after "list-…/").
    const base = prefix.slice(0, -1);
    await putAll(url, [...keys, `${base}.`, `${base}0`, base]);
    expected = [...keys].sort(byteOrder);
  });

  it('lists every key with the prefix in UTF-8 byte order, with count and total', async () => {
    const { url } = target();
    expect(expected.length).toBeGreaterThanOrEqual(300);
    const page = await list(url, { prefix, limit: String(LIST_LIMIT_MAX) });
    expect(page.data).toEqual(expected);
    expect(page.meta).toEqual({ count: expected.length, total: expected.length, page: 1, per_page: LIST_LIMIT_MAX, next_cursor: null });
  });

  it('uses limit 100 by default', async () => {
    const { url } = target();
    const page = await list(url, { prefix });
    expect(page.data).toEqual(expected.slice(0, 100));
    expect(page.meta).toMatchObject({ count: 100, total: expected.length, page: 1, per_page: 100, next_cursor: expect.any(String) });
  });

  it('pages by offset: pages concatenate to the whole set, without duplicates', async () => {
    const { url } = target();
    const limit = 37;
    const seen: string[] = [];
    for (let offset = 0; offset < expected.length; offset += limit) {
      const page = await list(url, { prefix, limit: String(limit), offset: String(offset) });
      expect(page.meta).toMatchObject({ count: page.data.length, total: expected.length, page: offset / limit + 1, per_page: limit });
      expect(page.data.length).toBe(Math.min(limit, expected.length - offset));
      seen.push(...page.data);
    }
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(expected);
    const past = await list(url, { prefix, limit: String(limit), offset: String(expected.length) });
    expect(past.data).toEqual([]);
    expect(past.meta).toMatchObject({ count: 0, total: expected.length, next_cursor: null });
  });

  it('numbers pages as floor(offset/limit)+1', async () => {
    const { url } = target();
    const page = await list(url, { prefix, limit: '50', offset: '120' });
    expect(page.data).toEqual(expected.slice(120, 170));
    expect(page.meta.page).toBe(3);
  });

  it('pages by cursor: following next_cursor yields the same set in order, ending with null', async () => {
    const { url } = target();
    const limit = 41;
    const seen: string[] = [];
    let cursor: string | null = null;
    let requests = 0;
    do {
      const params: Record<string, string> = cursor === null ? { prefix, limit: String(limit) } : { prefix, limit: String(limit), cursor };
      const page = await list(url, params);
      if (cursor !== null) expect(page.meta.page).toBeNull();
      expect(page.meta.total).toBe(expected.length);
      expect(page.data.length).toBeLessThanOrEqual(limit);
      seen.push(...page.data);
      cursor = page.meta.next_cursor;
      requests++;
      expect(requests, 'next_cursor never became null').toBeLessThanOrEqual(Math.ceil(expected.length / limit) + 1);
    } while (cursor !== null);
    expect(seen).toEqual(expected);
  });

  it('caps limit at 1000 (per_page 1000)', async () => {
    const { url } = target();
    const capPrefix = namespace('cap');
    const keys = Array.from({ length: LIST_LIMIT_MAX + 5 }, (_, i) => `${capPrefix}${String(i).padStart(4, '0')}`);
    await putAll(url, keys);
    const page = await list(url, { prefix: capPrefix, limit: '5000' });
    expect(page.data).toEqual(keys.slice(0, LIST_LIMIT_MAX));
    expect(page.meta).toMatchObject({ count: LIST_LIMIT_MAX, total: keys.length, page: 1, per_page: LIST_LIMIT_MAX, next_cursor: expect.any(String) });
    const rest = await list(url, { prefix: capPrefix, limit: '5000', cursor: page.meta.next_cursor ?? '' });
    expect(rest.data).toEqual(keys.slice(LIST_LIMIT_MAX));
    expect(rest.meta.next_cursor).toBeNull();
  });

  it('counts total per prefix, including multi-byte prefixes', async () => {
    const { url } = target();
    const ones = expected.filter((k) => k.startsWith(`${prefix}1`));
    const page = await list(url, { prefix: `${prefix}1`, limit: '1000' });
    expect(page.data).toEqual(ones);
    expect(page.meta.total).toBe(ones.length);
    const cyrillic = await list(url, { prefix: `${prefix}к` });
    expect(cyrillic.data).toEqual([`${prefix}котx`, `${prefix}ключx`].sort(byteOrder));
    expect(cyrillic.meta.total).toBe(2);
    const none = await list(url, { prefix: `${prefix}nothing-here` });
    expect(none.data).toEqual([]);
    expect(none.meta).toMatchObject({ count: 0, total: 0, next_cursor: null });
  });

  it('serves offset 100000, the largest allowed', async () => {
    const { url } = target();
    const page = await list(url, { prefix, offset: '100000' });
    expect(page.data).toEqual([]);
    expect(page.meta.total).toBe(expected.length);
  });

  it.each([
    ['limit=0'],
    ['limit=-1'],
    ['limit=1.5'],
    ['limit=abc'],
    ['offset=-1'],
    ['offset=100001'],
    ['offset=2.5'],
    ['offset=x'],
    ['cursor=***'],
    ['cursor=not%20a%20cursor!'],
  ])('refuses %s with 400 INVALID_PARAMETER', async (query) => {
    const { url } = target();
    await expectError(await fetch(`${url}/api/v1/kv?${query}`), 400, 'INVALID_PARAMETER');
  });

  it.each(['5', '0'])('refuses a cursor together with offset=%s with 400 INVALID_PARAMETER', async (offset) => {
    const { url } = target();
    const first = await list(url, { prefix, limit: '10' });
    const cursor = first.meta.next_cursor ?? '';
    expect(cursor).not.toBe('');
    await expectError(await fetch(`${url}/api/v1/kv?${new URLSearchParams({ prefix, cursor, offset })}`), 400, 'INVALID_PARAMETER');
  });
}
