// Projections and sort: MongoDB's documented behaviour, plus a differential
// check of sort order against mingo on generated scalar documents.

import { Decimal128, ObjectId } from 'bson';
import fc from 'fast-check';
import { Aggregator } from 'mingo';
import { describe, expect, it } from 'vitest';
import type { Doc, DocValue } from '../../shared/docs/doc-types.js';
import { compileProjection, projectionFields } from '../../shared/docs/projection.js';
import { compareSortKeys, compileSort, parseSort, sortKeyOf } from '../../shared/docs/sort.js';
import { MantisError } from '../../shared/errors.js';

function project(spec: Doc, doc: Doc): Doc {
  return compileProjection(spec)(doc);
}

function refusal(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof MantisError && e.code === 'BAD_QUERY') return e.message;
    throw e;
  }
  throw new Error('accepted');
}

const inventory: Doc = {
  _id: 1,
  item: 'journal',
  status: 'A',
  size: { h: 14, w: 21, uom: 'cm' },
  instock: [
    { warehouse: 'A', qty: 5 },
    { warehouse: 'C', qty: 15 },
  ],
};

describe('compileProjection', () => {
  it('inclusion keeps _id and the named fields in document order', () => {
    expect(project({ status: 1, item: 1 }, inventory)).toEqual({ _id: 1, item: 'journal', status: 'A' });
    expect(Object.keys(project({ status: 1, item: 1 }, inventory))).toEqual(['_id', 'item', 'status']);
    expect(project({ item: 1, _id: 0 }, inventory)).toEqual({ item: 'journal' });
    expect(project({ _id: 1 }, inventory)).toEqual({ _id: 1 });
    expect(project({ nothere: 1 }, inventory)).toEqual({ _id: 1 });
  });

  it('exclusion drops the named fields', () => {
    expect(project({ status: 0, instock: 0 }, inventory)).toEqual({ _id: 1, item: 'journal', size: { h: 14, w: 21, uom: 'cm' } });
    expect(project({ _id: 0 }, { _id: 1, a: 2 })).toEqual({ a: 2 });
    expect(project({ 'size.uom': 0 }, inventory).size).toEqual({ h: 14, w: 21 });
  });

  it('nested paths, in dotted or nested-object form, through arrays', () => {
    expect(project({ item: 1, 'size.uom': 1 }, inventory)).toEqual({ _id: 1, item: 'journal', size: { uom: 'cm' } });
    expect(project({ item: 1, size: { uom: 1 } }, inventory)).toEqual({ _id: 1, item: 'journal', size: { uom: 'cm' } });
    expect(project({ 'instock.qty': 1, _id: 0 }, inventory)).toEqual({ instock: [{ qty: 5 }, { qty: 15 }] });
    expect(project({ 'instock.qty': 0 }, inventory).instock).toEqual([{ warehouse: 'A' }, { warehouse: 'C' }]);
    // Scalars in an array are dropped by an inclusion through it, kept by an exclusion.
    expect(project({ 'a.b': 1, _id: 0 }, { a: [1, { b: 2, c: 3 }, [{ b: 4 }], { c: 5 }] })).toEqual({ a: [{ b: 2 }, [{ b: 4 }], {}] });
    expect(project({ 'a.b': 0 }, { a: [1, { b: 2, c: 3 }] })).toEqual({ a: [1, { c: 3 }] });
    expect(project({ 'a.b': 1, _id: 0 }, { a: 5 })).toEqual({});
    expect(project({ 'a.b': 1, _id: 0 }, { a: { c: 1 } })).toEqual({ a: {} });
  });

  it('$slice', () => {
    const d: Doc = { _id: 1, a: [1, 2, 3, 4, 5], b: 'x' };
    expect(project({ a: { $slice: 2 } }, d)).toEqual({ _id: 1, a: [1, 2], b: 'x' });
    expect(project({ a: { $slice: -2 } }, d)).toEqual({ _id: 1, a: [4, 5], b: 'x' });
    expect(project({ a: { $slice: [1, 2] } }, d)).toEqual({ _id: 1, a: [2, 3], b: 'x' });
    expect(project({ a: { $slice: [-2, 5] } }, d)).toEqual({ _id: 1, a: [4, 5], b: 'x' });
    expect(project({ a: { $slice: [10, 1] } }, d)).toEqual({ _id: 1, a: [], b: 'x' });
    expect(project({ a: { $slice: -10 } }, d)).toEqual({ _id: 1, a: [1, 2, 3, 4, 5], b: 'x' });
    expect(project({ b: { $slice: 1 } }, d)).toEqual(d);
    expect(project({ a: { $slice: 1 }, b: 1 }, d)).toEqual({ _id: 1, a: [1], b: 'x' });
    expect(project({ a: { $slice: 1 }, b: 0 }, d)).toEqual({ _id: 1, a: [1] });
    expect(project({ 'x.a': { $slice: 1 } }, { x: [{ a: [1, 2] }, { a: [3, 4] }] })).toEqual({ x: [{ a: [1] }, { a: [3] }] });
  });

  it('$elemMatch keeps the first matching element and counts as an inclusion', () => {
    const school: Doc = {
      _id: 1,
      zipcode: '63109',
      students: [
        { name: 'john', school: 102, age: 10 },
        { name: 'jess', school: 102, age: 11 },
        { name: 'jeff', school: 108, age: 15 },
      ],
    };
    expect(project({ students: { $elemMatch: { school: 102 } } }, school)).toEqual({
      _id: 1,
      students: [{ name: 'john', school: 102, age: 10 }],
    });
    expect(project({ students: { $elemMatch: { school: 102, age: { $gt: 10 } } }, zipcode: 1 }, school)).toEqual({
      _id: 1,
      zipcode: '63109',
      students: [{ name: 'jess', school: 102, age: 11 }],
    });
    expect(project({ students: { $elemMatch: { school: 999 } } }, school)).toEqual({ _id: 1 });
    expect(project({ n: { $elemMatch: { $gt: 2 } } }, { _id: 1, n: [1, 5, 7] })).toEqual({ _id: 1, n: [5] });
  });

  it('computed fields are aggregation expressions', () => {
    const d: Doc = { _id: 1, first: 'Ada', last: 'Lovelace', n: 2 };
    expect(project({ full: { $concat: ['$first', ' ', '$last'] }, _id: 0 }, d)).toEqual({ full: 'Ada Lovelace' });
    expect(project({ copy: '$n', 'x.y': { $add: ['$n', 1] } }, d)).toEqual({ _id: 1, copy: 2, x: { y: 3 } });
    expect(project({ n: 1, gone: '$missing' }, d)).toEqual({ _id: 1, n: 2 });
  });

  it('does not modify its input and shares nothing it changed', () => {
    const d: Doc = { _id: 1, a: { b: 1, c: 2 }, l: [1, 2, 3] };
    const copy = structuredClone(d);
    project({ 'a.b': 0, l: { $slice: 1 } }, d);
    project({ 'a.c': 1 }, d);
    expect(d).toEqual(copy);
  });

  it('refuses what MongoDB refuses, and positional/$meta', () => {
    expect(refusal(() => compileProjection({ a: 1, b: 0 }))).toMatch(/Cannot do exclusion on field b in inclusion projection/);
    expect(refusal(() => compileProjection({ a: 1, 'a.b': 1 }))).toMatch(/Path collision at a.b/);
    expect(refusal(() => compileProjection({ 'a.$': 1 }))).toMatch(/positional/);
    expect(refusal(() => compileProjection({ a: { $meta: 'textScore' } }))).toMatch(/\$meta/);
    expect(refusal(() => compileProjection({ a: { $slice: [1, 0] } }))).toMatch(/limit must be positive/);
    expect(refusal(() => compileProjection({ a: { $slice: 'x' } }))).toMatch(/\$slice only supports/);
    expect(refusal(() => compileProjection({ 'a.b': { $elemMatch: { c: 1 } } }))).toMatch(/nested field/);
    expect(refusal(() => compileProjection({ a: { $nope: 1 } }))).toMatch(/\$nope/);
    expect(refusal(() => compileProjection({ a: {} }))).toMatch(/empty/);
  });

  it('projectionFields names the top-level fields an inclusion reads', () => {
    expect(projectionFields({ 'a.b': 1, c: 1 })?.sort()).toEqual(['_id', 'a', 'c']);
    expect(projectionFields({ a: 1, _id: 0 })).toEqual(['a']);
    expect(projectionFields({ a: 0 })).toBeNull();
    expect(projectionFields({ a: '$b' })).toBeNull();
    expect(projectionFields({})).toBeNull();
  });
});

describe('sort', () => {
  const sorted = (spec: Doc, docs: Doc[]): DocValue[] => [...docs].sort(compileSort(spec)).map((d) => d._id);

  it("orders across types in MongoDB's order, missing with null", () => {
    const docs: Doc[] = [
      { _id: 'str', a: 'x' },
      { _id: 'num', a: 2 },
      { _id: 'long', a: 1n },
      { _id: 'dec', a: Decimal128.fromString('1.5') },
      { _id: 'null', a: null },
      { _id: 'obj', a: { b: 1 } },
      { _id: 'bool', a: true },
      { _id: 'date', a: new Date(0) },
      { _id: 'oid', a: ObjectId.createFromHexString('000000000000000000000001') },
    ];
    expect(sorted({ a: 1 }, docs)).toEqual(['null', 'long', 'dec', 'num', 'str', 'obj', 'oid', 'bool', 'date']);
    expect(sorted({ a: -1 }, docs)).toEqual(['date', 'bool', 'oid', 'obj', 'str', 'num', 'dec', 'long', 'null']);
    expect(sorted({ a: 1 }, [{ _id: 1, a: null }, { _id: 2 }, { _id: 3, a: 0 }])).toEqual([1, 2, 3]);
  });

  it('sorts arrays by their smallest element ascending, largest descending; [] first', () => {
    const docs: Doc[] = [
      { _id: 'x', a: [1, 9] },
      { _id: 'y', a: [5] },
      { _id: 'z', a: 3 },
      { _id: 'e', a: [] },
      { _id: 'n', a: null },
    ];
    expect(sorted({ a: 1 }, docs)).toEqual(['e', 'n', 'x', 'z', 'y']);
    expect(sorted({ a: -1 }, docs)).toEqual(['x', 'y', 'z', 'n', 'e']);
  });

  it('dotted paths through arrays of documents', () => {
    const docs: Doc[] = [
      { _id: 1, a: [{ b: 5 }, { b: 1 }] },
      { _id: 2, a: [{ b: 3 }] },
      { _id: 3, a: { b: 2 } },
      { _id: 4, a: [{ b: 4 }, { c: 0 }] },
    ];
    expect(sorted({ 'a.b': 1 }, docs)).toEqual([4, 1, 3, 2]);
    expect(sorted({ 'a.b': -1 }, docs)).toEqual([1, 4, 2, 3]);
    expect(sorted({ 'a.1.b': 1 }, docs)).toEqual([2, 3, 4, 1]);
  });

  it('compound keys, and sortKeyOf/compareSortKeys agree with compileSort', () => {
    const spec = { a: 1, b: -1 };
    const docs: Doc[] = [
      { _id: 1, a: 1, b: 1 },
      { _id: 2, a: 1, b: 2 },
      { _id: 3, a: 0, b: 0 },
      { _id: 4, a: [], b: 0 },
    ];
    expect(sorted(spec, docs)).toEqual([4, 3, 2, 1]);
    const byKeys = [...docs].sort((x, y) => compareSortKeys(spec, sortKeyOf(spec, x), sortKeyOf(spec, y)));
    expect(byKeys.map((d) => d._id)).toEqual([4, 3, 2, 1]);
    expect(sortKeyOf(spec, { a: [3, 1], b: [3, 1] })).toEqual([1, 3]);
  });

  it('agrees with the comparator on generated documents (key merge == direct sort)', () => {
    const v = fc.oneof(fc.constant(null), fc.integer({ min: -3, max: 3 }), fc.constantFrom('a', 'b'), fc.boolean(), fc.array(fc.integer({ min: -3, max: 3 }), { maxLength: 3 }));
    const doc = fc.record({ a: v, b: fc.record({ c: v }, { requiredKeys: [] }) }, { requiredKeys: [] });
    const spec = fc.constantFrom<Doc>({ a: 1 }, { a: -1 }, { 'b.c': 1, a: -1 }, { a: 1, 'b.c': -1 });
    fc.assert(
      fc.property(fc.array(doc, { maxLength: 8 }), spec, (docs, s) => {
        const cmp = compileSort(s);
        for (const x of docs) {
          for (const y of docs) {
            expect(Math.sign(compareSortKeys(s, sortKeyOf(s, x), sortKeyOf(s, y)))).toBe(Math.sign(cmp(x, y)));
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('matches mingo on documents with scalar fields', () => {
    const v = fc.oneof(fc.constant(null), fc.integer({ min: -3, max: 3 }), fc.constantFrom(1.5, 'a', 'B', ''), fc.boolean());
    const doc = fc.record({ a: v, b: v }, { requiredKeys: [], noNullPrototype: true });
    const spec = fc.constantFrom<Doc>({ a: 1 }, { a: -1 }, { a: 1, b: -1 }, { b: -1, a: 1 });
    fc.assert(
      fc.property(fc.array(doc, { maxLength: 10 }), spec, (docs, s) => {
        const withIds = docs.map((d, i) => ({ ...d, _id: i }));
        const full = { ...s, _id: 1 };
        const ours = [...withIds].sort(compileSort(full)).map((d) => d._id);
        const theirs = new Aggregator([{ $sort: full }], {}).run(withIds).map((d) => (d as Doc)._id);
        expect(ours).toEqual(theirs);
      }),
      { numRuns: 500 },
    );
  });

  it('refuses bad specifications', () => {
    expect(refusal(() => parseSort({ a: 2 }))).toMatch(/must be 1 \(for ascending\) or -1/);
    expect(refusal(() => parseSort({ a: 'asc' }))).toMatch(/must be 1/);
    expect(refusal(() => parseSort({ a: { $meta: 'textScore' } }))).toMatch(/\$meta/);
    expect(refusal(() => parseSort({ '': 1 }))).toMatch(/invalid field path/);
    expect(compileSort({})({ a: 1 }, { a: 2 })).toBe(0);
  });
});
