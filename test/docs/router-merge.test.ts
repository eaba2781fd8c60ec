// src/docs/find-merge.ts and find-cursor.ts: merging sliced shard answers by
// their keys (against a plain sort of everything), and cursor tokens.

import fc from 'fast-check';
import { ObjectId } from 'bson';
import { describe, expect, it } from 'vitest';
import { compareValues } from '../../shared/docs/compare.js';
import type { Doc, DocValue } from '../../shared/docs/doc-types.js';
import { keyComparator, mergePage, type Keyed, type SliceSource } from '../../src/docs/find-merge.js';
import { decodeCursor, encodeCursor, queryFingerprint } from '../../src/docs/find-cursor.js';
import { codeOf } from '../helpers/error-code.js';

/** A shard's sorted answer served in slices of the given sizes (a size 0 slice: examined, nothing found; never twice in a row). */
function source(items: Keyed[], sliceSizes: number[]): SliceSource & { asked: number } {
  let at = 0;
  let turn = 0;
  const s = {
    asked: 0,
    next: () => {
      s.asked++;
      const size = sliceSizes.length === 0 ? items.length : sliceSizes[turn++ % sliceSizes.length];
      const slice = items.slice(at, at + size);
      at += slice.length;
      return Promise.resolve({ items: slice, more: at < items.length });
    },
  };
  return s;
}

const keyed = (doc: Doc, sort: string[]): Keyed => ({ doc, key: [...sort.map((f) => doc[f] ?? null), doc._id] });

describe('mergePage', () => {
  it('merges shards by sort key then _id, with skip and limit, and says whether more follow', async () => {
    const sort = { a: -1 };
    const compare = keyComparator(sort);
    const docs: Doc[] = Array.from({ length: 40 }, (_, i) => ({ _id: i, a: i % 7, s: i % 3 }));
    const shards = [0, 1, 2].map((s) => docs.filter((d) => d.s === s).map((d) => keyed(d, ['a'])).sort((x, y) => compare(x.key, y.key)));
    const expected = docs.map((d) => keyed(d, ['a'])).sort((x, y) => compare(x.key, y.key)).map((k) => k.doc);
    const page = await mergePage(shards.map((items) => source(items, [2, 0, 5])), compare, 5, 10);
    expect(page.docs).toEqual(expected.slice(5, 15));
    expect(page.more).toBe(true);
    expect(page.lastKey).toEqual([expected[14].a, expected[14]._id]);
    const rest = await mergePage(shards.map((items) => source(items, [3])), compare, 30, 10);
    expect(rest.docs).toEqual(expected.slice(30));
    expect(rest.more).toBe(false);
  });

  it('merges slices of one shard as separate runs (they may interleave)', async () => {
    const compare = keyComparator({ v: 1 });
    const item = (id: number, v: number): Keyed => ({ doc: { _id: id, v }, key: [v, id] });
    // One shard's two slices, each sorted on its own, interleaving in value.
    const slices = [[item(1, 1), item(2, 5)], [item(3, 2), item(4, 3)]];
    let turn = 0;
    const shard = { next: () => Promise.resolve({ items: slices[turn], more: ++turn < slices.length }) };
    const page = await mergePage([shard], compare, 0, 3);
    expect(page.docs.map((d) => d.v)).toEqual([1, 2, 3]);
    expect(page.more).toBe(true);
  });

  it('equals a sort of everything for generated data (mixed types, ties)', async () => {
    const value = fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constantFrom('a', 'b', null, true), fc.double({ noNaN: true, min: -2, max: 2 }));
    await fc.assert(
      fc.asyncProperty(
        fc.array(value, { maxLength: 60 }),
        fc.integer({ min: 1, max: 4 }),
        fc.constantFrom(1, -1),
        fc.integer({ min: 0, max: 10 }),
        fc.integer({ min: 0, max: 20 }),
        fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 3 }),
        async (values, shardCount, dir, skip, limit, sizes) => {
          const compare = keyComparator({ v: dir });
          const all = values.map((v, i) => keyed({ _id: new ObjectId(i.toString(16).padStart(24, '0')), v: v as DocValue }, ['v']));
          const byShard = Array.from({ length: shardCount }, (_, s) => all.filter((_, i) => i % shardCount === s).sort((x, y) => compare(x.key, y.key)));
          const expected = [...all].sort((x, y) => compare(x.key, y.key)).map((k) => k.doc);
          const page = await mergePage(byShard.map((items) => source(items, sizes)), compare, skip, limit);
          const want = limit === 0 ? expected.slice(skip) : expected.slice(skip, skip + limit);
          expect(page.docs).toEqual(want);
          expect(page.more).toBe(limit !== 0 && expected.length > skip + limit);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('keyComparator puts _id ascending after the sort values', () => {
    const c = keyComparator({ x: -1, y: 1 });
    expect(c([2, 'a', 5], [1, 'a', 1])).toBeLessThan(0);
    expect(c([1, 'a', 5], [1, 'b', 1])).toBeLessThan(0);
    expect(c([1, 'a', 1], [1, 'a', 5])).toBeLessThan(0);
    expect(compareValues(1, 1)).toBe(0);
  });
});

describe('cursor tokens', () => {
  const q = { collId: 7, filter: { a: { $gt: 1 } }, sort: { a: 1 }, projection: null };

  it('round-trip the key, typed', () => {
    const fp = queryFingerprint(q);
    const key: DocValue[] = [5n, new ObjectId('0123456789abcdef01234567')];
    const token = encodeCursor(fp, key);
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(token, fp)).toEqual(key);
  });

  it('refuse another query, garbage and made-up tokens with CURSOR_INVALID', () => {
    const token = encodeCursor(queryFingerprint(q), [1, 2]);
    expect(codeOf(() => decodeCursor(token, queryFingerprint({ ...q, filter: { a: 2 } })))).toBe('CURSOR_INVALID');
    expect(codeOf(() => decodeCursor(token, queryFingerprint({ ...q, collId: 8 })))).toBe('CURSOR_INVALID');
    for (const bad of ['', 'x', '!!', 5, null, Buffer.from('hello').toString('base64url'), token.slice(0, -3)]) {
      expect(codeOf(() => decodeCursor(bad, queryFingerprint(q))), String(bad)).toBe('CURSOR_INVALID');
    }
  });
});
