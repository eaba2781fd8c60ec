// Aggregation stages against MongoDB's documented behaviour. Every pipeline
// runs three ways — all on the router (split: false), split over one shard,
// split over three shards — and the three must agree, so each case also
// checks the shard/router split.

import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compareValues } from '../../shared/docs/compare.js';
import type { Doc, DocValue } from '../../shared/docs/doc-types.js';
import { compileFilter } from '../../shared/docs/filter.js';
import { compilePipeline, runPipeline, runShardStages, type LookupFn, type PipelineOptions } from '../../shared/docs/pipeline.js';
import { MantisError } from '../../shared/errors.js';

const TMP = mkdtempSync(join(tmpdir(), 'mantis-agg-conf-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

const COLLECTIONS: Record<string, Doc[]> = {
  inventory: [
    { _id: 1, sku: 'almonds', description: 'product 1', instock: 120 },
    { _id: 2, sku: 'bread', description: 'product 2', instock: 80 },
    { _id: 3, sku: 'cashews', description: 'product 3', instock: 60 },
    { _id: 4, sku: 'pecans', description: 'product 4', instock: 70 },
    { _id: 5, sku: null, description: 'Incomplete' },
    { _id: 6 },
  ],
};

const lookup: LookupFn = async (from, filter) => {
  const pred = compileFilter(filter);
  return (COLLECTIONS[from] ?? []).filter(pred);
};

const BASE: PipelineOptions = { allowDiskUse: false, memoryLimitBytes: 64 * 1024 * 1024, tmpDir: TMP, lookup };

/**
 * Runs unsplit, over 1 shard and over 3 shards; all three must agree: in
 * order when the pipeline sorts ('sorted'), in order over one shard when it
 * keeps input order ('input'), otherwise as multisets. `orderFree` names
 * array fields whose order depends on input order ($push over shards).
 */
async function agg(
  stages: Doc[],
  docs: Doc[],
  opts: { order?: 'sorted' | 'input'; orderFree?: string[]; options?: Partial<PipelineOptions> } = {},
): Promise<Doc[]> {
  const options = { ...BASE, ...opts.options };
  const whole = await runPipeline(stages, docs, { ...options, split: false });
  for (const partitions of [1, 3]) {
    const split = await runPipeline(stages, docs, { ...options, partitions });
    if (opts.order === 'sorted' || (opts.order === 'input' && partitions === 1)) {
      expect(fixOrderFree(split, opts.orderFree)).toEqual(fixOrderFree(whole, opts.orderFree));
    } else {
      expect(canonical(split, opts.orderFree)).toEqual(canonical(whole, opts.orderFree));
    }
  }
  return whole;
}

function fixOrderFree(docs: Doc[], orderFree: string[] = []): Doc[] {
  return docs.map((d) => {
    const out: Doc = { ...d };
    for (const k of orderFree) if (Array.isArray(out[k])) out[k] = [...(out[k] as DocValue[])].sort(compareValues);
    return out;
  });
}

function canonical(docs: Doc[], orderFree: string[] = []): Doc[] {
  return fixOrderFree(docs, orderFree).sort((a, b) => compareValues(a, b));
}

async function refused(stages: unknown, code: string, pattern: RegExp, docs: Doc[] = [{ _id: 1 }], options: Partial<PipelineOptions> = {}): Promise<void> {
  try {
    await runPipeline(stages, docs, { ...BASE, ...options });
  } catch (e) {
    expect(e).toBeInstanceOf(MantisError);
    expect((e as MantisError).code).toBe(code);
    expect((e as MantisError).message).toMatch(pattern);
    return;
  }
  throw new Error(`expected ${code}`);
}

const sales: Doc[] = [
  { _id: 1, item: 'abc', price: 10, quantity: 2, date: new Date('2014-03-01T08:00:00Z'), tags: ['a', 'b'] },
  { _id: 2, item: 'jkl', price: 20, quantity: 1, date: new Date('2014-03-01T09:00:00Z'), tags: [] },
  { _id: 3, item: 'xyz', price: 5, quantity: 10, date: new Date('2014-03-15T09:00:00Z'), tags: null },
  { _id: 4, item: 'xyz', price: 5, quantity: 20, date: new Date('2014-04-04T11:21:39Z') },
  { _id: 5, item: 'abc', price: 10, quantity: 10, date: new Date('2014-04-04T21:23:13Z'), tags: 'c' },
];

describe('stage parsing', () => {
  it('refuses unknown stages, multi-field stages and non-arrays naming them', async () => {
    await refused([{ $foo: {} }], 'BAD_QUERY', /\$foo/);
    await refused([{ $match: {}, $limit: 1 }], 'BAD_QUERY', /exactly one field/);
    await refused({ $match: {} }, 'BAD_QUERY', /array/);
    await refused([{ $out: 'x' }], 'BAD_QUERY', /\$out/);
    await refused([{ $match: { a: { $bogus: 1 } } }], 'BAD_QUERY', /\$bogus/);
    await refused([{ $project: { a: { $bogus: 1 } } }], 'BAD_QUERY', /\$bogus/);
  });

  it('an empty pipeline returns the input', async () => {
    expect(await agg([], sales)).toHaveLength(5);
  });
});

describe('$match, $project, $addFields, $unset, $replaceRoot', () => {
  it('$match with query operators and $expr', async () => {
    const r = await agg([{ $match: { item: 'xyz', $expr: { $gt: [{ $multiply: ['$price', '$quantity'] }, 60] } } }], sales);
    expect(r.map((d) => d._id)).toEqual([4]);
  });

  it('$project inclusion keeps _id, drops the rest, computes expressions', async () => {
    const r = await agg([{ $match: { _id: 1 } }, { $project: { item: 1, total: { $multiply: ['$price', '$quantity'] } } }], sales);
    expect(r).toEqual([{ _id: 1, item: 'abc', total: 20 }]);
    expect(Object.keys(r[0])).toEqual(['_id', 'item', 'total']);
  });

  it('$project exclusion and _id: 0', async () => {
    const r = await agg([{ $match: { _id: 2 } }, { $project: { _id: 0, date: 0, tags: 0 } }], sales);
    expect(r).toEqual([{ item: 'jkl', price: 20, quantity: 1 }]);
  });

  it('$project nested paths, through arrays, and literal values', async () => {
    const docs: Doc[] = [{ _id: 1, a: { b: 1, c: 2 }, arr: [{ x: 1, y: 2 }, 3, { x: 4 }] }];
    expect(await agg([{ $project: { 'a.b': 1, 'arr.x': 1 } }], docs)).toEqual([{ _id: 1, a: { b: 1 }, arr: [{ x: 1 }, { x: 4 }] }]);
    expect(await agg([{ $project: { a: { c: 1 }, lit: 'text', n: { $literal: 1 } } }], docs)).toEqual([{ _id: 1, a: { c: 2 }, lit: 'text', n: 1 }]);
    expect(await agg([{ $project: { 'a.b': 0, arr: 0 } }], docs)).toEqual([{ _id: 1, a: { c: 2 } }]);
  });

  it('$project refuses mixing inclusion and exclusion, and empty specs', async () => {
    await refused([{ $project: { a: 1, b: 0 } }], 'BAD_QUERY', /exclusion on field b in inclusion/);
    await refused([{ $project: {} }], 'BAD_QUERY', /\$project/);
    await refused([{ $project: { a: 1, 'a.b': 1 } }], 'BAD_QUERY', /collision/);
  });

  it('$project with $$REMOVE drops a field conditionally', async () => {
    const r = await agg([{ $project: { item: 1, tags: { $cond: [{ $isArray: '$tags' }, '$tags', '$$REMOVE'] } } }], sales);
    expect(r.find((d) => d._id === 3)).toEqual({ _id: 3, item: 'xyz' });
    expect(r.find((d) => d._id === 1)).toEqual({ _id: 1, item: 'abc', tags: ['a', 'b'] });
  });

  it('$addFields/$set overwrite in place, append new, merge into embedded documents', async () => {
    const docs: Doc[] = [{ _id: 1, a: 1, specs: { doors: 4 }, list: [{ k: 1 }, 5] }];
    const r = await agg([{ $addFields: { a: 2, z: '$a', 'specs.fuel': 'unleaded', list: { tag: 'x' } } }], docs);
    expect(r).toEqual([{ _id: 1, a: 2, specs: { doors: 4, fuel: 'unleaded' }, list: [{ k: 1, tag: 'x' }, { tag: 'x' }], z: 1 }]);
    expect(Object.keys(r[0])).toEqual(['_id', 'a', 'specs', 'list', 'z']);
    expect(await agg([{ $set: { a: '$$REMOVE' } }], docs)).toEqual([{ _id: 1, specs: { doors: 4 }, list: [{ k: 1 }, 5] }]);
  });

  it('$unset one or several fields, nested', async () => {
    const docs: Doc[] = [{ _id: 1, a: 1, b: { c: 1, d: 2 } }];
    expect(await agg([{ $unset: 'a' }], docs)).toEqual([{ _id: 1, b: { c: 1, d: 2 } }]);
    expect(await agg([{ $unset: ['a', 'b.c'] }], docs)).toEqual([{ _id: 1, b: { d: 2 } }]);
    await refused([{ $unset: [] }], 'BAD_QUERY', /\$unset/);
  });

  it('$replaceRoot / $replaceWith need a document', async () => {
    const docs: Doc[] = [{ _id: 1, inner: { x: 1 } }];
    expect(await agg([{ $replaceRoot: { newRoot: '$inner' } }], docs)).toEqual([{ x: 1 }]);
    expect(await agg([{ $replaceWith: { $mergeObjects: [{ x: 0, y: 0 }, '$inner'] } }], docs)).toEqual([{ x: 1, y: 0 }]);
    await refused([{ $replaceRoot: { newRoot: '$missing' } }], 'BAD_QUERY', /missing/);
  });
});

describe('$group', () => {
  it('every accumulator, grouped by an expression', async () => {
    const r = await agg(
      [
        {
          $group: {
            _id: '$item',
            total: { $sum: { $multiply: ['$price', '$quantity'] } },
            avgQty: { $avg: '$quantity' },
            n: { $count: {} },
            ones: { $sum: 1 },
            minQ: { $min: '$quantity' },
            maxQ: { $max: '$quantity' },
            qs: { $push: '$quantity' },
            prices: { $addToSet: '$price' },
          },
        },
      ],
      sales,
      { orderFree: ['qs'] },
    );
    const xyz = r.find((d) => d._id === 'xyz') as Doc;
    expect(xyz).toMatchObject({ total: 150, avgQty: 15, n: 2, ones: 2, minQ: 10, maxQ: 20, prices: [5] });
    expect([...(xyz.qs as number[])].sort()).toEqual([10, 20]);
    expect(r).toHaveLength(3);
  });

  it('$first/$last follow input order when unsplit and over one shard', async () => {
    const stages = [{ $group: { _id: null, f: { $first: '$item' }, l: { $last: '$item' } } }];
    const opts = { ...BASE, partitions: 1 };
    expect(await runPipeline(stages, sales, opts)).toEqual([{ _id: null, f: 'abc', l: 'abc' }]);
    expect(await runPipeline([{ $sort: { _id: -1 } }, ...stages], sales, opts)).toEqual([{ _id: null, f: 'abc', l: 'abc' }]);
    expect(await runPipeline([{ $sort: { quantity: 1 } }, ...stages], sales, opts)).toEqual([{ _id: null, f: 'jkl', l: 'xyz' }]);
  });

  it('null and missing keys are one group; 1, 1n and 1.0 are one group', async () => {
    const docs: Doc[] = [{ _id: 1, k: null }, { _id: 2 }, { _id: 3, k: 1 }, { _id: 4, k: 1n }, { _id: 5, k: 1.0 }];
    for (const partitions of [1, 3]) {
      const r = canonical(await runPipeline([{ $group: { _id: '$k', n: { $sum: 1 } } }], docs, { ...BASE, partitions }));
      expect(r.map((d) => d.n)).toEqual([2, 3]);
      expect(r[0]._id).toBeNull();
      expect(compareValues(r[1]._id, 1) === 0).toBe(true); // the first value seen: 1, 1n or 1.0
    }
  });

  it('compound keys drop missing fields; $avg/$min of nothing is null; $push skips missing', async () => {
    const docs: Doc[] = [{ _id: 1, a: 1, s: 'x' }, { _id: 2, a: 1, b: 2 }];
    const r = canonical(await agg([{ $group: { _id: { a: '$a', b: '$b' }, avg: { $avg: '$s' }, mn: { $min: '$zz' }, p: { $push: '$b' } } }], docs));
    expect(r).toEqual([
      { _id: { a: 1 }, avg: null, mn: null, p: [] },
      { _id: { a: 1, b: 2 }, avg: null, mn: null, p: [2] },
    ]);
  });

  it('$sum ignores non-numbers and widens to long', async () => {
    const docs: Doc[] = [{ _id: 1, v: 1 }, { _id: 2, v: 'x' }, { _id: 3, v: 2n }];
    expect(await agg([{ $group: { _id: null, s: { $sum: '$v' } } }], docs)).toEqual([{ _id: null, s: 3n }]);
  });

  it('refuses a group without _id, unknown accumulators, dotted names', async () => {
    await refused([{ $group: { n: { $sum: 1 } } }], 'BAD_QUERY', /_id/);
    await refused([{ $group: { _id: null, n: { $median: 1 } } }], 'BAD_QUERY', /\$median/);
    await refused([{ $group: { _id: null, 'a.b': { $sum: 1 } } }], 'BAD_QUERY', /a\.b/);
    await refused([{ $group: { _id: null, n: 1 } }], 'BAD_QUERY', /accumulator/);
  });

  it('an empty input gives no groups', async () => {
    expect(await agg([{ $group: { _id: null, n: { $sum: 1 } } }], [])).toEqual([]);
  });
});

describe('$sort, $skip, $limit', () => {
  const docs: Doc[] = [
    { _id: 1, v: 3 },
    { _id: 2, v: [1, 5] },
    { _id: 3, v: 'a' },
    { _id: 4 },
    { _id: 5, v: null },
    { _id: 6, v: [] },
    { _id: 7, v: 2 },
  ];

  it('sorts across types; arrays by their smallest (asc) or largest (desc) element', async () => {
    const asc = await agg([{ $sort: { v: 1, _id: 1 } }], docs, { order: 'sorted' });
    expect(asc.map((d) => d._id)).toEqual([6, 4, 5, 2, 7, 1, 3]);
    const desc = await agg([{ $sort: { v: -1, _id: 1 } }], docs, { order: 'sorted' });
    expect(desc.map((d) => d._id)).toEqual([3, 2, 1, 7, 4, 5, 6]);
  });

  it('$skip and $limit, alone and after $sort (top-k)', async () => {
    expect((await agg([{ $sort: { _id: 1 } }, { $skip: 2 }, { $limit: 3 }], docs, { order: 'sorted' })).map((d) => d._id)).toEqual([3, 4, 5]);
    expect((await agg([{ $sort: { _id: -1 } }, { $limit: 2 }], docs, { order: 'sorted' })).map((d) => d._id)).toEqual([7, 6]);
    // without a $sort, which documents a $limit keeps depends on shard order
    for (const partitions of [1, 3]) expect(await runPipeline([{ $limit: 3 }], docs, { ...BASE, partitions })).toHaveLength(3);
    expect(await agg([{ $skip: 10 }], docs)).toEqual([]);
    await refused([{ $limit: 0 }], 'BAD_QUERY', /\$limit/);
    await refused([{ $skip: -1 }], 'BAD_QUERY', /\$skip/);
    await refused([{ $sort: {} }], 'BAD_QUERY', /\$sort/);
  });

  it('a pushed-down $limit lets a shard stop scanning', () => {
    const p = compilePipeline([{ $match: { v: { $exists: true } } }, { $limit: 2 }], BASE);
    expect(p.shard.stages).toEqual([{ $match: { v: { $exists: true } } }, { $limit: 2 }]);
    expect(runShardStages(p.shard, docs)).toHaveLength(2);
  });
});

describe('$unwind', () => {
  const docs: Doc[] = [
    { _id: 1, item: 'ABC', sizes: ['S', 'M', 'L'] },
    { _id: 2, item: 'EFG', sizes: [] },
    { _id: 3, item: 'IJK', sizes: 'M' },
    { _id: 4, item: 'LMN' },
    { _id: 5, item: 'XYZ', sizes: null },
  ];

  it('the string form skips null, missing and empty arrays; a scalar is a one-element array', async () => {
    const r = await agg([{ $unwind: '$sizes' }], docs, { order: 'input' });
    expect(r).toEqual([
      { _id: 1, item: 'ABC', sizes: 'S' },
      { _id: 1, item: 'ABC', sizes: 'M' },
      { _id: 1, item: 'ABC', sizes: 'L' },
      { _id: 3, item: 'IJK', sizes: 'M' },
    ]);
  });

  it('preserveNullAndEmptyArrays and includeArrayIndex', async () => {
    const r = await agg([{ $unwind: { path: '$sizes', includeArrayIndex: 'idx', preserveNullAndEmptyArrays: true } }], docs, { order: 'input' });
    expect(r).toEqual([
      { _id: 1, item: 'ABC', sizes: 'S', idx: 0 },
      { _id: 1, item: 'ABC', sizes: 'M', idx: 1 },
      { _id: 1, item: 'ABC', sizes: 'L', idx: 2 },
      { _id: 2, item: 'EFG', idx: null },
      { _id: 3, item: 'IJK', sizes: 'M', idx: null },
      { _id: 4, item: 'LMN', idx: null },
      { _id: 5, item: 'XYZ', sizes: null, idx: null },
    ]);
  });

  it('nested paths; refuses a path without $', async () => {
    const nested: Doc[] = [{ _id: 1, a: { b: [1, 2] } }];
    expect(await agg([{ $unwind: '$a.b' }], nested, { order: 'input' })).toEqual([{ _id: 1, a: { b: 1 } }, { _id: 1, a: { b: 2 } }]);
    await refused([{ $unwind: 'sizes' }], 'BAD_QUERY', /\$unwind/);
  });
});

describe('$count, $sortByCount, $bucket', () => {
  it('$count counts, and gives nothing on empty input', async () => {
    expect(await agg([{ $match: { price: { $gt: 5 } } }, { $count: 'n' }], sales)).toEqual([{ n: 3 }]);
    expect(await agg([{ $match: { nope: 1 } }, { $count: 'n' }], sales)).toEqual([]);
    await refused([{ $count: '$x' }], 'BAD_QUERY', /\$count/);
  });

  it('$sortByCount orders groups by count descending', async () => {
    const docs: Doc[] = [{ t: 'a' }, { t: 'b' }, { t: 'b' }, { t: 'c' }, { t: 'b' }, { t: 'c' }];
    const r = await agg([{ $unwind: '$t' }, { $sortByCount: '$t' }], docs, { order: 'sorted' });
    expect(r).toEqual([{ _id: 'b', count: 3 }, { _id: 'c', count: 2 }, { _id: 'a', count: 1 }]);
  });

  it('$bucket with boundaries, default and output', async () => {
    const docs: Doc[] = [{ p: 10 }, { p: 150 }, { p: 200 }, { p: 350 }, { p: 'n/a' }, {}];
    const r = await agg(
      [{ $bucket: { groupBy: '$p', boundaries: [0, 100, 200, 300], default: 'Other', output: { n: { $sum: 1 }, ps: { $push: '$p' } } } }],
      docs,
      { order: 'sorted', orderFree: ['ps'] },
    );
    expect(r.map((d) => [d._id, d.n])).toEqual([[0, 1], [100, 1], [200, 1], ['Other', 3]]);
    expect(await agg([{ $bucket: { groupBy: '$p', boundaries: [0, 1000] } }], [{ p: 5 }])).toEqual([{ _id: 0, count: 1 }]);
  });

  it('$bucket refuses bad boundaries and a value outside them without a default', async () => {
    await refused([{ $bucket: { groupBy: '$p', boundaries: [5, 1] } }], 'BAD_QUERY', /ascending/);
    await refused([{ $bucket: { groupBy: '$p', boundaries: [0, 'a'] } }], 'BAD_QUERY', /same type/);
    await refused([{ $bucket: { groupBy: '$p', boundaries: [0, 10], default: 5 } }], 'BAD_QUERY', /default/);
    await refused([{ $bucket: { groupBy: '$p', boundaries: [0, 10] } }], 'BAD_QUERY', /matching branch/, [{ p: 50 }]);
  });
});

describe('$lookup', () => {
  const orders: Doc[] = [
    { _id: 1, item: 'almonds', price: 12, quantity: 2 },
    { _id: 2, item: 'pecans', price: 20, quantity: 1 },
    { _id: 3 },
    { _id: 4, item: ['bread', 'cashews'] },
  ];

  it('equality form: scalars, arrays (any element), missing matches null and missing', async () => {
    const r = await agg([{ $lookup: { from: 'inventory', localField: 'item', foreignField: 'sku', as: 'inv' } }], orders, { order: 'input' });
    const ids = (d: Doc): DocValue[] => (d.inv as Doc[]).map((x) => x._id);
    expect(ids(r[0])).toEqual([1]);
    expect(ids(r[1])).toEqual([4]);
    expect(ids(r[2])).toEqual([5, 6]);
    expect(ids(r[3])).toEqual([2, 3]);
  });

  it('pipeline form with let variables', async () => {
    const r = await agg(
      [
        { $match: { _id: { $lt: 3 } } },
        {
          $lookup: {
            from: 'inventory',
            let: { want: '$item', qty: '$quantity' },
            pipeline: [
              { $match: { $expr: { $and: [{ $eq: ['$sku', '$$want'] }, { $gte: ['$instock', { $multiply: ['$$qty', 50] }] }] } } },
              { $project: { _id: 0, sku: 1 } },
            ],
            as: 'stock',
          },
        },
      ],
      orders,
      { order: 'input' },
    );
    expect(r.map((d) => d.stock)).toEqual([[{ sku: 'almonds' }], [{ sku: 'pecans' }]]);
  });

  it('refuses incomplete specs and a missing lookup function', async () => {
    await refused([{ $lookup: { from: 'inventory', localField: 'a', as: 'x' } }], 'BAD_QUERY', /localField/);
    await refused([{ $lookup: { from: 'inventory', as: 'x' } }], 'BAD_QUERY', /pipeline/);
    await refused([{ $lookup: { from: 'inventory', localField: 'a', foreignField: 'b', as: 'x' } }], 'BAD_QUERY', /\$lookup/, [{}], { lookup: undefined });
  });
});

describe('$facet', () => {
  it('runs each sub-pipeline over the same input into one document', async () => {
    const r = await agg(
      [{ $facet: { byItem: [{ $sortByCount: '$item' }], total: [{ $count: 'n' }], top: [{ $sort: { price: -1, _id: 1 } }, { $limit: 1 }, { $project: { _id: 1 } }] } }],
      sales,
      { order: 'input' },
    );
    expect(r).toHaveLength(1);
    expect(r[0].total).toEqual([{ n: 5 }]);
    expect(r[0].top).toEqual([{ _id: 2 }]);
    expect((r[0].byItem as Doc[]).map((d) => d.count)).toEqual([2, 2, 1]);
    expect((r[0].byItem as Doc[])[2]).toEqual({ _id: 'jkl', count: 1 });
  });

  it('refuses nested $facet', async () => {
    await refused([{ $facet: { a: [{ $facet: { b: [] } }] } }], 'BAD_QUERY', /\$facet/);
  });
});

describe('the shard/router split', () => {
  it('pushes the per-document prefix and the partial $group to the shards', () => {
    const p = compilePipeline([{ $match: { a: 1 } }, { $project: { a: 1 } }, { $group: { _id: '$a', n: { $sum: 1 } } }, { $sort: { n: -1 } }], BASE);
    expect(p.shard.stages).toEqual([{ $match: { a: 1 } }, { $project: { a: 1 } }]);
    expect(p.shard.partialGroup).toEqual({ _id: '$a', n: { $sum: 1 } });
    expect(p.routerStages).toEqual(['$group', '$sort']);
  });

  it('keeps a $group after a $sort on the router; $count is pushed down as a group', () => {
    const p = compilePipeline([{ $sort: { a: 1 } }, { $group: { _id: null, f: { $first: '$a' } } }], BASE);
    expect(p.shard).toMatchObject({ stages: [], partialGroup: null });
    const c = compilePipeline([{ $match: { a: 1 } }, { $count: 'n' }], BASE);
    expect(c.shard.partialGroup).toEqual({ _id: null, n: { $sum: 1 } });
  });

  it('partial states are plain documents', () => {
    const p = compilePipeline([{ $group: { _id: '$k', a: { $avg: '$v' }, f: { $first: '$v' }, m: { $max: '$v' }, s: { $addToSet: '$v' } } }], BASE);
    const out = runShardStages(p.shard, [{ k: 1, v: 2 }, { k: 1, v: 4 }]);
    expect(out).toEqual([{ _id: 1, v: [[6, 2], [2], 4, [2, 4]] }]);
  });
});

describe('memory limit', () => {
  const many: Doc[] = Array.from({ length: 2000 }, (_, i) => ({ _id: i, k: i % 500, pad: 'x'.repeat(100) }));

  it('$sort and $group past the limit answer AGGREGATE_MEMORY_LIMIT without allowDiskUse', async () => {
    const small = { memoryLimitBytes: 50_000 };
    await refused([{ $sort: { pad: 1 } }], 'AGGREGATE_MEMORY_LIMIT', /\$sort/, many, small);
    await refused([{ $group: { _id: '$_id', p: { $push: '$pad' } } }], 'AGGREGATE_MEMORY_LIMIT', /\$group/, many, small);
    await refused([{ $facet: { a: [] } }], 'AGGREGATE_MEMORY_LIMIT', /\$facet/, many, small);
  });

  it('spills with allowDiskUse and leaves no files behind', async () => {
    const opts = { memoryLimitBytes: 50_000, allowDiskUse: true };
    const sorted = await agg([{ $sort: { k: -1, _id: 1 } }], many, { order: 'sorted', options: opts });
    expect(sorted.map((d) => d._id)).toEqual([...many].sort((a, b) => (b.k as number) - (a.k as number) || (a._id as number) - (b._id as number)).map((d) => d._id));
    const groups = await agg([{ $group: { _id: '$k', n: { $sum: 1 } } }], many, { options: opts });
    expect(groups).toHaveLength(500);
    expect(groups.every((g) => g.n === 4)).toBe(true);
    expect(readdirSync(TMP)).toEqual([]);
  });
});
