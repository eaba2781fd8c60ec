// The planner against a collection scan: every generated filter finds the same
// documents through the chosen plan (an in-memory index holding the real entry
// key bytes, in sorted order) as by testing every document; a plan that says
// it covers the sort meets documents in MongoDB's sort order; exact bounds
// meet only matching documents. Plus the choices themselves.

import { BSONRegExp, Decimal128 } from 'bson';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isDoc } from '../../shared/docs/bson-types.js';
import { compareValues } from '../../shared/docs/compare.js';
import { docKey, indexKey } from '../../shared/docs/doc-keys.js';
import type { Doc, DocValue } from '../../shared/docs/doc-types.js';
import { compileFilter } from '../../shared/docs/filter.js';
import { indexEntryValues, type IndexDef } from '../../shared/docs/index-entries.js';
import { valueEqualityKey } from '../../shared/docs/key-codec.js';
import { planQuery, type QueryPlan } from '../../shared/docs/query-plan.js';
import { compileSort } from '../../shared/docs/sort.js';

let nextId = 1;
function def(keys: IndexDef['keys'], extra: Partial<IndexDef> = {}): IndexDef {
  return { id: nextId++, name: keys.map(([p, d]) => `${p}_${d}`).join('_'), keys, unique: false, sparse: false, partialFilter: null, ttlSeconds: null, state: 'ready', ...extra };
}

const INDEXES: IndexDef[] = [
  def([['a', 1]]),
  def([['a', -1], ['b', 1]]),
  def([['b', 1], ['a', -1]]),
  def([['a.b', 1]]),
  def([['b', 'hashed']]),
  def([['a.0', 1]]),
  def([['b', -1]], { sparse: true }),
  def([['c', 1]], { partialFilter: { b: { $gt: 0 } } }),
];

// ── the simulated collection ─────────────────────────────────────────────────

type Collection = { docs: Doc[]; entries: Map<number, { key: Buffer; id: DocValue }[]> };

function load(docs: Doc[]): Collection {
  const entries = new Map<number, { key: Buffer; id: DocValue }[]>();
  for (const ix of INDEXES) {
    const list: { key: Buffer; id: DocValue }[] = [];
    const desc = ix.keys.map(([, d]) => d === -1);
    for (const doc of docs) {
      for (const values of indexEntryValues(ix, doc)) {
        list.push({ key: Buffer.from(indexKey(1, ix.id, values, desc, doc._id).subarray(8, -2)), id: doc._id });
      }
    }
    list.sort((x, y) => Buffer.compare(x.key, y.key));
    entries.set(ix.id, list);
  }
  return { docs, entries };
}

/** The documents a plan meets, in the order it meets them (first meeting only). */
function run(coll: Collection, plan: QueryPlan): Doc[] {
  const byId = new Map(coll.docs.map((d) => [valueEqualityKey(d._id), d]));
  switch (plan.kind) {
    case 'collscan':
      return coll.docs;
    case 'idlookup':
      return plan.ids.flatMap((id): Doc[] => {
        const doc = byId.get(valueEqualityKey(id));
        return doc === undefined ? [] : [doc];
      });
    case 'ixscan': {
      const seen = new Set<string>();
      const out: Doc[] = [];
      for (const [start, end] of plan.ranges) {
        for (const e of coll.entries.get(plan.index.id) ?? []) {
          if (Buffer.compare(e.key, start) < 0 || Buffer.compare(e.key, end) >= 0) continue;
          const k = valueEqualityKey(e.id);
          if (seen.has(k)) continue;
          seen.add(k);
          out.push(byId.get(k) as Doc);
        }
      }
      return out;
    }
  }
}

// ── MongoDB's sort key (for checking coversSort independently of index-entries) ──

const EMPTY = Symbol('empty array');
type SortValue = DocValue | typeof EMPTY;

function sortValues(v: DocValue | undefined, parts: string[]): SortValue[] {
  if (parts.length === 0) {
    if (Array.isArray(v)) return v.length === 0 ? [EMPTY] : v;
    return [v ?? null];
  }
  if (Array.isArray(v)) return v.flatMap((e) => (isDoc(e) ? sortValues(e, parts) : []));
  if (!isDoc(v)) return [null];
  return sortValues(v[parts[0]], parts.slice(1));
}

function compareSortValues(a: SortValue, b: SortValue): number {
  if (a === EMPTY || b === EMPTY) return a === b ? 0 : a === EMPTY ? -1 : 1;
  return compareValues(a, b);
}

function sortKey(doc: Doc, path: string, dir: number): SortValue {
  let vals = sortValues(doc, path.split('.'));
  if (vals.length === 0) vals = [null];
  return vals.reduce((best, v) => (compareSortValues(v, best) * dir < 0 ? v : best));
}

/** MongoDB's sort order of two documents; ties are 0 (an index meets them in its own order). */
function sortCompare(sort: Doc): (x: Doc, y: Doc) => number {
  const keys = Object.entries(sort) as [string, number][];
  return (x, y) => {
    for (const [path, dir] of keys) {
      const c = compareSortValues(sortKey(x, path, dir), sortKey(y, path, dir)) * dir;
      if (c !== 0) return c;
    }
    return 0;
  };
}

function inSortOrder(docs: Doc[], sort: Doc): boolean {
  const cmp = sortCompare(sort);
  return docs.every((d, i) => i === 0 || cmp(docs[i - 1], d) <= 0);
}

// ── generators ───────────────────────────────────────────────────────────────

const leaf = fc.constantFrom<DocValue>(null, 0, 1, 1n, 1.5, 2, Decimal128.fromString('2'), -1, NaN, 'x', 'y', '', true, new Date(0), { b: 1 });
const small = fc.oneof({ weight: 4, arbitrary: leaf }, fc.array(leaf, { maxLength: 3 }), fc.record({ b: leaf }, { requiredKeys: [] }));
const fieldValue = fc.oneof({ weight: 3, arbitrary: small }, fc.array(small, { maxLength: 3 }));
const docsArb = fc
  .array(fc.record({ a: fieldValue, b: leaf, c: fieldValue }, { requiredKeys: [] }), { maxLength: 25 })
  .map((docs) => docs.map((d, i): Doc => ({ _id: i % 3 === 0 ? `id${i}` : i, ...d })));

const path = fc.constantFrom('a', 'b', 'c', 'a.b', 'a.0', '_id');
const operand = fc.oneof({ weight: 5, arbitrary: leaf }, fc.array(leaf, { maxLength: 2 }));
const cond = fc.oneof(
  operand,
  fc.record({ $eq: operand }),
  fc.record({ $in: fc.array(operand, { maxLength: 3 }) }),
  fc.record({ $gt: leaf }),
  fc.record({ $gte: leaf, $lt: leaf }),
  fc.record({ $lte: leaf }),
  fc.record({ $ne: leaf }),
  fc.record({ $exists: fc.boolean() }),
  fc.record({ $nin: fc.array(leaf, { maxLength: 2 }) }),
);
const filterArb: fc.Arbitrary<Doc> = fc.oneof(
  fc.dictionary(path, cond, { maxKeys: 3, noNullPrototype: true }),
  fc.tuple(path, cond, path, cond).map(([p1, c1, p2, c2]) => ({ $and: [{ [p1]: c1 }, { [p2]: c2 }] })),
  fc.tuple(path, cond, path, cond).map(([p1, c1, p2, c2]) => ({ [p1]: c1, $or: [{ [p2]: c2 }, { b: 1 }] })),
);
const sortArb = fc.option(
  fc.oneof(
    fc.record({ a: fc.constantFrom(1, -1) }),
    fc.record({ b: fc.constantFrom(1, -1) }),
    fc.constantFrom<Doc>({ b: 1, a: -1 }, { a: -1, b: 1 }, { 'a.b': 1 }),
  ),
  { nil: null },
);

function hasNestedEmptyArray(v: DocValue): boolean {
  if (Array.isArray(v)) return v.some((e) => (Array.isArray(e) && e.length === 0) || hasNestedEmptyArray(e));
  return isDoc(v) && Object.values(v).some(hasNestedEmptyArray);
}

const ids = (docs: Doc[]): string[] => docs.map((d) => valueEqualityKey(d._id)).sort();

describe('planQuery against a collection scan', () => {
  it('finds the same documents with or without indexes; sort and exactness hold when claimed', () => {
    let planned = 0;
    fc.assert(
      fc.property(docsArb, filterArb, sortArb, (docs, filter, sort) => {
        const coll = load(docs);
        const matches = compileFilter(filter);
        const expected = docs.filter(matches);
        const plan = planQuery(filter, sort, INDEXES);
        const met = run(coll, plan);
        if (plan.kind === 'ixscan') planned++;
        expect(ids(met.filter(matches))).toEqual(ids(expected));
        if (plan.kind === 'ixscan' && plan.exactBounds) expect(met.every(matches)).toBe(true);
        if (plan.kind === 'ixscan' && plan.coversSort && sort !== null) {
          expect(inSortOrder(met.filter(matches), sort)).toBe(true);
          // The router merges shards by sort.ts's order: it must agree (sort.ts
          // reads an element [] as the empty-array marker: its known gap).
          if (!docs.some(hasNestedEmptyArray)) {
            const cmp = compileSort(sort);
            const got = met.filter(matches);
            expect(got.every((d, i) => i === 0 || cmp(got[i - 1], d) <= 0)).toBe(true);
          }
        }
        // Every single index, forced, gives the same documents too (the hint path).
        for (const ix of INDEXES) {
          const forced = planQuery(filter, sort, [ix]);
          expect(ids(run(coll, forced).filter(matches))).toEqual(ids(expected));
        }
      }),
      { numRuns: 1500 },
    );
    expect(planned).toBeGreaterThan(300);
  });
});

describe('planQuery choices', () => {
  const a = def([['a', 1]]);
  const ab = def([['a', 1], ['b', -1]]);
  const sparse = def([['s', 1]], { sparse: true });
  const partial = def([['p', 1]], { partialFilter: { kind: 'x' } });

  it('looks documents up by _id equality and $in', () => {
    expect(planQuery({ _id: 5, a: 1 }, null, [a])).toEqual({ kind: 'idlookup', ids: [5] });
    expect(planQuery({ _id: { $in: [1, 1.0, 2n, 'x'] } }, null, [])).toEqual({ kind: 'idlookup', ids: [1, 2n, 'x'] });
    expect(planQuery({ _id: { $gt: 5 } }, null, []).kind).toBe('collscan');
  });

  it('prefers the index with more equality components', () => {
    const plan = planQuery({ a: 1, b: 2 }, null, [a, ab]);
    expect(plan.kind === 'ixscan' && plan.index).toBe(ab);
    expect(plan.kind === 'ixscan' && plan.exactBounds).toBe(true);
    expect(plan.kind === 'ixscan' && plan.ranges.length).toBe(1);
  });

  it('uses a prefix of a compound index, $in as several ranges, and ranges within the type', () => {
    const prefix = planQuery({ a: { $in: [3, 1, 2, 1] } }, null, [ab]);
    expect(prefix.kind === 'ixscan' && prefix.ranges.length).toBe(3);
    const range = planQuery({ a: { $gt: 5 } }, null, [a]);
    expect(range.kind === 'ixscan' && !range.exactBounds).toBe(true);
  });

  it('covers a sort that continues the equality prefix in index order, not one against it', () => {
    const covered = planQuery({ a: 1 }, { b: -1 }, [ab]);
    expect(covered.kind === 'ixscan' && covered.coversSort).toBe(true);
    expect(planQuery({}, { a: 1 }, [a])).toMatchObject({ kind: 'ixscan', coversSort: true });
    expect(planQuery({}, { a: -1 }, [a]).kind).toBe('collscan');
    const bounded = planQuery({ a: { $gt: 1 } }, { a: 1 }, [a]);
    expect(bounded.kind === 'ixscan' && bounded.coversSort).toBe(false);
  });

  it('uses sparse and partial indexes only when the query cannot match what they leave out', () => {
    expect(planQuery({ s: 1 }, null, [sparse]).kind).toBe('ixscan');
    expect(planQuery({ s: null }, null, [sparse]).kind).toBe('collscan');
    expect(planQuery({}, { s: 1 }, [sparse]).kind).toBe('collscan');
    expect(planQuery({ p: 1 }, null, [partial]).kind).toBe('collscan');
    expect(planQuery({ p: 1, kind: 'x' }, null, [partial]).kind).toBe('ixscan');
  });

  it('gives no bounds for arrays, regexes and negations, and skips indexes still building', () => {
    expect(planQuery({ a: [1, 2] }, null, [a]).kind).toBe('collscan');
    expect(planQuery({ a: { $ne: 1 } }, null, [a]).kind).toBe('collscan');
    expect(planQuery({ a: { $in: [1, new BSONRegExp('x')] } }, null, [a]).kind).toBe('collscan');
    expect(planQuery({ a: 1 }, null, [{ ...a, state: 'building' }]).kind).toBe('collscan');
    expect(planQuery({ a: 1 }, null, [def([['a', 'text']])]).kind).toBe('collscan');
  });

  it('answers an impossible range with no ranges at all', () => {
    const plan = planQuery({ a: { $gt: null } }, null, [a]);
    expect(plan.kind === 'ixscan' && plan.ranges.length).toBe(0);
    const doc = { _id: 1, a: null };
    expect(compileFilter({ a: { $gt: null } })(doc)).toBe(false);
    expect(docKey(1, 1).length).toBeGreaterThan(0);
  });
});
