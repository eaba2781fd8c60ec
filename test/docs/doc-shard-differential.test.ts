// The shard's finds against two oracles on generated documents and filters:
// mingo 7.2.7 (an independent implementation of MongoDB's query language) over
// the same documents, and the shard's own collection scan (hint "$natural").
// The collection has single, compound, multikey and descending indexes, so the
// planner picks id lookups, index scans and scans as the filters allow; every
// plan must give the scan's answer. Sorted, limited finds are checked against
// the scan too (the planner may serve the sort from an index).
// The domain keeps clear of the cases where mingo departs from MongoDB (listed
// in filter-differential.test.ts): scalar operands, no null in ranges, arrays
// of scalars at the top level only.

import fc from 'fast-check';
import { Query } from 'mingo';
import { describe, expect, it } from 'vitest';
import type { Doc, DocValue } from '../../shared/docs/doc-types.js';
import { find, index, info, newShard } from '../helpers/doc-shard-harness.js';

const scalar: fc.Arbitrary<DocValue> = fc.oneof(fc.integer({ min: -3, max: 6 }), fc.constantFrom('x', 'y', 'z'), fc.constant(null));
const nonNull: fc.Arbitrary<DocValue> = fc.oneof(fc.integer({ min: -3, max: 6 }), fc.constantFrom('x', 'y', 'z'));

const docArb = (id: number): fc.Arbitrary<Doc> =>
  fc
    .record(
      {
        a: scalar,
        b: fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 3 }),
        c: fc.record({ d: nonNull }, { requiredKeys: [] }),
        e: fc.integer({ min: 0, max: 9 }),
      },
      { requiredKeys: ['e'] },
    )
    .map((d) => ({ _id: id, ...d }) as Doc);

const path = fc.constantFrom('a', 'c.d', 'e');
const leaf: fc.Arbitrary<Doc> = fc.oneof(
  fc.tuple(path, nonNull).map(([p, v]) => ({ [p]: v })),
  fc.tuple(path, fc.constantFrom('$gt', '$gte', '$lt', '$lte', '$ne'), nonNull).map(([p, op, v]) => ({ [p]: { [op]: v } })),
  fc.tuple(path, fc.array(nonNull, { minLength: 1, maxLength: 3 })).map(([p, vs]) => ({ [p]: { $in: vs } })),
  fc.tuple(path, fc.array(nonNull, { minLength: 1, maxLength: 2 })).map(([p, vs]) => ({ [p]: { $nin: vs } })),
  fc.tuple(path, fc.boolean()).map(([p, b]) => ({ [p]: { $exists: b } })),
  fc.integer({ min: 0, max: 5 }).map((v) => ({ b: v })),
  fc.tuple(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 5 })).map(([lo, hi]) => ({ b: { $elemMatch: { $gte: lo, $lte: hi } } })),
  fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 2 }).map((vs) => ({ b: { $in: vs } })),
  fc.integer({ min: 0, max: 3 }).map((n) => ({ b: { $size: n } })),
  fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 3 }).map((ids) => ({ _id: { $in: ids } })),
  fc.integer({ min: 0, max: 40 }).map((id) => ({ _id: id })),
);
const filterArb: fc.Arbitrary<Doc> = fc.oneof(
  { weight: 3, arbitrary: leaf },
  { weight: 2, arbitrary: fc.tuple(leaf, leaf).map(([x, y]) => ({ $and: [x, y] })) },
  { weight: 1, arbitrary: fc.tuple(leaf, leaf).map(([x, y]) => ({ $or: [x, y] })) },
  { weight: 1, arbitrary: fc.tuple(leaf, leaf).map(([x, y]) => ({ ...x, ...y })) },
);

const INDEXES = [
  index(1, 'a_1', [['a', 1]]),
  index(2, 'b_1', [['b', 1]]),
  index(3, 'cd_-1_e_1', [['c.d', -1], ['e', 1]]),
  index(4, 'e_1_a_1', [['e', 1], ['a', 1]]),
];

const ids = (docs: Doc[]): DocValue[] => docs.map((d) => d._id).sort((x, y) => (x as number) - (y as number));

describe('shard finds: indexes, scan and mingo agree', () => {
  it('on generated documents and filters', () => {
    const docs = fc.sample(fc.tuple(...Array.from({ length: 40 }, (_, i) => docArb(i))), { numRuns: 1, seed: 7 })[0];
    const s = newShard();
    s.run({ op: 'catalog-put', info: info('c', INDEXES) });
    s.run({ op: 'insert', coll: 'c', docs });
    const plans = new Map<string, number>();
    let nonEmpty = 0;
    const filters = fc.sample(filterArb, { numRuns: 1500, seed: 11 });
    for (const filter of filters) {
      const planned = find(s, filter);
      const scanned = find(s, filter, { hint: '$natural' });
      const expected = docs.filter((d) => new Query(filter as Record<string, unknown>, {}).test(d));
      const context = JSON.stringify(filter);
      expect(ids(planned.docs), `planned ${planned.stats.plan} ${context}`).toEqual(ids(scanned.docs));
      expect(ids(scanned.docs), `mingo ${context}`).toEqual(ids(expected));
      plans.set(planned.stats.plan, (plans.get(planned.stats.plan) ?? 0) + 1);
      if (expected.length > 0) nonEmpty++;
    }
    // The domain exercises every kind of plan and is not degenerate.
    expect([...plans.keys()].sort()).toEqual(['COLLSCAN', 'IDHACK', 'IXSCAN']);
    expect(nonEmpty).toBeGreaterThan(filters.length / 4);
  });

  it('sorted and limited, with the sort served by an index or not', () => {
    const docs = fc.sample(fc.tuple(...Array.from({ length: 60 }, (_, i) => docArb(i))), { numRuns: 1, seed: 3 })[0];
    const s = newShard();
    s.run({ op: 'catalog-put', info: info('c', INDEXES) });
    s.run({ op: 'insert', coll: 'c', docs });
    const sorts: Doc[] = [{ e: 1 }, { e: -1 }, { e: 1, a: 1 }, { 'c.d': -1, e: 1 }, { a: 1 }, { b: 1 }, { b: -1, _id: -1 }];
    for (const filter of fc.sample(filterArb, { numRuns: 200, seed: 5 })) {
      for (const sort of sorts) {
        for (const limit of [1, 3, 0]) {
          const planned = find(s, filter, { sort, limit });
          const scanned = find(s, filter, { sort, limit, hint: '$natural' });
          expect(planned.docs.map((d) => d._id), `${JSON.stringify(filter)} sort ${JSON.stringify(sort)} limit ${limit} (${planned.stats.plan})`).toEqual(scanned.docs.map((d) => d._id));
        }
      }
    }
  });
});
