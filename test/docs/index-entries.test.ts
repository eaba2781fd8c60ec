// Index entries (MongoDB's multikey rules, sparse, partial, hashed, text), the
// key writes of a document change, and the storage keys they land in.

import { ObjectId } from 'bson';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareValues, valuesEqual } from '../../shared/docs/compare.js';
import {
  docKey,
  docPrefix,
  idFromDocKey,
  idFromIndexKey,
  indexKey,
  indexPrefix,
  slotOfDocKey,
  uniqueKey,
  valuesFromIndexKey,
} from '../../shared/docs/doc-keys.js';
import type { Doc, DocValue } from '../../shared/docs/doc-types.js';
import { hashedValue, indexEntryValues, indexWrites, textTokens, type IndexDef } from '../../shared/docs/index-entries.js';
import { EMPTY_ARRAY_KEY, encodeIndexValue } from '../../shared/docs/key-codec.js';
import { crc16, slotOfKey } from '../../shared/slot.js';
import { scalarArb, valueArb } from './codec-arbitraries.js';

function def(keys: IndexDef['keys'], extra: Partial<IndexDef> = {}): IndexDef {
  return { id: 3, name: 'ix', keys, unique: false, sparse: false, partialFilter: null, ttlSeconds: null, state: 'ready', ...extra };
}

const entries = (keys: IndexDef['keys'], doc: Doc, extra: Partial<IndexDef> = {}): DocValue[][] => indexEntryValues(def(keys, extra), doc);

describe('indexEntryValues', () => {
  it('indexes a field, a nested field, and missing as null', () => {
    expect(entries([['a', 1]], { a: 5 })).toEqual([[5]]);
    expect(entries([['a.b.c', 1]], { a: { b: { c: 'x' } } })).toEqual([['x']]);
    expect(entries([['a', 1]], {})).toEqual([[null]]);
    expect(entries([['a.b', 1]], { a: 5 })).toEqual([[null]]);
    expect(entries([['a', 1]], { a: { x: 1 } })).toEqual([[{ x: 1 }]]);
  });

  it('gives one entry per array element, without duplicates', () => {
    expect(entries([['a', 1]], { a: [1, 2, 2, 1.0] })).toEqual([[1], [2]]);
    expect(entries([['a', 1]], { a: [] })[0][0]).toBe(EMPTY_ARRAY_KEY);
    expect(entries([['a', 1]], { a: [[]] })[0][0]).not.toBe(EMPTY_ARRAY_KEY);
    expect(entries([['a', 1]], { a: [[1, 2], 3] })).toEqual([[[1, 2]], [3]]);
    // {c: 1} lacks b: null, as MongoDB indexes it (and {'a.b': null} matches it); 7 gives nothing.
    expect(entries([['a.b', 1]], { a: [{ b: 1 }, { b: [2, 3] }, { c: 1 }, 7] })).toEqual([[1], [2], [3], [null]]);
    expect(entries([['a.b', 1]], { a: [7, [8]] })).toEqual([[null]]);
  });

  it('follows numeric parts as positions and as field names', () => {
    expect(entries([['a.0', 1]], { a: [5, 6] })).toEqual([[5]]);
    // Each element is also asked for a field "1" (missing: null), as the matcher does.
    expect(entries([['a.1.b', 1]], { a: [{ b: 1 }, { b: 2 }] })).toEqual([[null], [2]]);
    expect(entries([['a.0', 1]], { a: [{ 0: 'field' }] })).toEqual([['field'], [{ 0: 'field' }]]);
  });

  it('crosses compound components and refuses parallel arrays', () => {
    expect(entries([['a', 1], ['b', -1]], { a: [1, 2], b: 'x' })).toEqual([[1, 'x'], [2, 'x']]);
    expect(() => entries([['a', 1], ['b', 1]], { a: [1, 2], b: [3] })).toThrow(/cannot index parallel arrays \[a\] \[b\]/);
    // Both paths through the same array field are one array, as in MongoDB.
    expect(entries([['a.x', 1], ['a.y', 1]], { a: [{ x: 1, y: 2 }] })).toEqual([[1, 2]]);
  });

  it('skips documents a sparse index does not cover, and keeps explicit null', () => {
    expect(entries([['a', 1], ['b', 1]], { c: 1 }, { sparse: true })).toEqual([]);
    expect(entries([['a', 1], ['b', 1]], { b: 1 }, { sparse: true })).toEqual([[null, 1]]);
    expect(entries([['a', 1]], { a: null }, { sparse: true })).toEqual([[null]]);
  });

  it('skips documents the partial filter rejects', () => {
    const partial = { partialFilter: { age: { $gte: 18 } } };
    expect(entries([['name', 1]], { name: 'kid', age: 3 }, partial)).toEqual([]);
    expect(entries([['name', 1]], { name: 'adult', age: 30 }, partial)).toEqual([['adult']]);
  });

  it('hashes equal values alike and refuses arrays in hashed fields', () => {
    expect(hashedValue(1)).toBe(hashedValue(1n));
    expect(hashedValue(1)).not.toBe(hashedValue('1'));
    expect(typeof hashedValue('x')).toBe('bigint');
    expect(entries([['a', 'hashed']], { a: 1.0 })).toEqual([[hashedValue(1)]]);
    expect(entries([['a', 'hashed']], {})).toEqual([[hashedValue(null)]]);
    expect(() => entries([['a', 'hashed']], { a: [1] })).toThrow(/hashed indexes do not support array values/);
  });

  it('indexes text as distinct lower-cased words', () => {
    expect(textTokens(['Hello, hello World!', 5, 'Grüße 2024'])).toEqual(['hello', 'world', 'grüße', '2024']);
    expect(entries([['t', 'text']], { t: ['The cat', 'the DOG'] })).toEqual([['the'], ['cat'], ['dog']]);
    expect(entries([['t', 'text']], { t: 5 })).toEqual([]);
  });
});

describe('indexWrites', () => {
  const ix = def([['a', 1], ['b', -1]]);
  const id = new ObjectId();

  it('puts every entry of an insert and deletes every entry of a delete', () => {
    const doc = { _id: id, a: [1, 2], b: 'x' };
    const ins = indexWrites(ix, 9, null, doc);
    expect(ins.deletes).toEqual([]);
    expect(ins.puts.map((k) => valuesFromIndexKey(k, ix))).toEqual([[1, 'x'], [2, 'x']]);
    expect(ins.puts.every((k) => valuesEqual(idFromIndexKey(k, ix), id))).toBe(true);
    const del = indexWrites(ix, 9, doc, null);
    expect(del.puts).toEqual([]);
    expect(del.deletes).toEqual(ins.puts);
  });

  it('writes only the difference of an update', () => {
    const before = { _id: id, a: [1, 2], b: 'x', other: 1 };
    expect(indexWrites(ix, 9, before, { ...before, other: 2 })).toEqual({ puts: [], deletes: [] });
    const change = indexWrites(ix, 9, before, { ...before, a: [2, 3] });
    expect(change.puts.map((k) => valuesFromIndexKey(k, ix))).toEqual([[3, 'x']]);
    expect(change.deletes.map((k) => valuesFromIndexKey(k, ix))).toEqual([[1, 'x']]);
  });
});

const entryArb = fc.oneof({ weight: 5, arbitrary: valueArb }, fc.constant(EMPTY_ARRAY_KEY));

/** Entry order: an empty-array field's entry (EMPTY_ARRAY_KEY) first, then compareValues. */
function compareEntries(a: DocValue, b: DocValue): number {
  if (a === EMPTY_ARRAY_KEY || b === EMPTY_ARRAY_KEY) return a === b ? 0 : a === EMPTY_ARRAY_KEY ? -1 : 1;
  return compareValues(a, b);
}

describe('doc-keys', () => {
  it('puts a document and its index entries in the slot of its _id', () => {
    fc.assert(
      fc.property(scalarArb, scalarArb, (id, v) => {
        const dk = docKey(7, id);
        const ik = indexKey(7, 2, [v], [false], id);
        const slot = crc16(encodeIndexValue(id)) % 16384;
        expect(slotOfDocKey(dk)).toBe(slot);
        expect(slotOfKey(dk)).toBe(slot);
        expect(slotOfKey(ik)).toBe(slot);
        expect(dk[0]).toBe(0xff);
        expect(Buffer.from(dk.subarray(0, 6))).toEqual(Buffer.from(docPrefix(7)));
        expect(Buffer.from(ik.subarray(0, 8))).toEqual(Buffer.from(indexPrefix(7, 2)));
        expect(valuesEqual(idFromDocKey(dk), id)).toBe(true);
        expect(valuesEqual(idFromIndexKey(ik, { keys: [['v', 1]] }), id)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('orders document keys by _id and index keys by value then _id', () => {
    fc.assert(
      fc.property(entryArb, entryArb, scalarArb, scalarArb, (a, b, idA, idB) => {
        const byId = Buffer.compare(docKey(1, idA).subarray(6, -2), docKey(1, idB).subarray(6, -2));
        expect(Math.sign(byId) || 0).toBe(compareValues(idA, idB));
        const ka = indexKey(1, 1, [a], [true], idA);
        const kb = indexKey(1, 1, [b], [true], idB);
        const expected = -compareEntries(a, b) || compareValues(idA, idB);
        expect(Math.sign(Buffer.compare(ka.subarray(0, -2), kb.subarray(0, -2))) || 0).toBe(expected || 0);
      }),
      { numRuns: 1000 },
    );
  });

  it('places unique entries by value, whatever the document', () => {
    const k1 = uniqueKey(4, 1, ['a@x.com']);
    const k2 = uniqueKey(4, 1, ['a@x.com']);
    expect(k1).toEqual(k2);
    expect(uniqueKey(4, 1, [1])).toEqual(uniqueKey(4, 1, [1n]));
    expect(k1[1]).toBe('U'.charCodeAt(0));
  });
});
