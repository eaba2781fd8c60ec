// POST /api/v1/docs/:c/aggregate over HTTP on a real 2-shard server: the
// shard/router split ($match and the partial $group on the shards, the merge
// on the router) gives what the same pipeline computes in plain JS over the
// documents — $match/$group with every accumulator, $sort/$skip/$limit,
// $unwind (with preserveNullAndEmptyArrays), $lookup, $facet, $bucket,
// $sortByCount, $count, $project/$replaceRoot. A pipeline past the memory
// limit is 400 AGGREGATE_MEMORY_LIMIT, and with "allow_disk_use": true it
// spills and answers the same as in memory.
// (Operator-by-operator conformance lives in the unit tests; this checks the
// route, the split across shards and the spill end to end.)

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';
import { DocsClient, collName, expectFailure, type Json, type JsonDoc } from '../helpers/docs-client.js';

afterAll(cleanup);

const SHARDS = 2;

type Order = { _id: number; cust: string; amount: number; status: string; items?: { sku: string; qty: number }[] };

function orders(): Order[] {
  return Array.from({ length: 600 }, (_, i) => {
    const order: Order = { _id: i, cust: `c${i % 20}`, amount: ((i * 37) % 100) + 0.5, status: ['new', 'paid', 'shipped'][i % 3] };
    if (i % 10 !== 0) order.items = i % 10 === 1 ? [] : Array.from({ length: 1 + (i % 3) }, (_, j) => ({ sku: `s${(i + j) % 7}`, qty: 1 + ((i + j) % 4) }));
    return order;
  });
}

const customers = Array.from({ length: 20 }, (_, i) => ({ _id: `c${i}`, region: i % 2 === 0 ? 'EU' : 'US' }));

function groupBy<T>(xs: readonly T[], key: (x: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const x of xs) groups.set(key(x), [...(groups.get(key(x)) ?? []), x]);
  return groups;
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);
const byId = (a: JsonDoc, b: JsonDoc): number => String(a._id).localeCompare(String(b._id));

let server: ServerProcess;
let c: DocsClient;
const data = orders();

beforeAll(async () => {
  server = await startServer({ shards: SHARDS, fsync: 'batch' });
  c = new DocsClient(server.url, collName('agg'));
  await c.insert(data as unknown as JsonDoc[]);
  await new DocsClient(server.url, `${c.coll}_cust`).insert(customers);
});

describe('aggregate over HTTP (2 shards)', () => {
  it('$match + $group with every accumulator, merged across shards', async () => {
    const got = await c.aggregate([
      { $match: { status: 'paid' } },
      {
        $group: {
          _id: '$cust',
          total: { $sum: '$amount' },
          n: { $sum: 1 },
          count: { $count: {} },
          avg: { $avg: '$amount' },
          lo: { $min: '$amount' },
          hi: { $max: '$amount' },
          ids: { $push: '$_id' },
          statuses: { $addToSet: '$status' },
        },
      },
      { $sort: { _id: 1 } },
    ]);
    const paid = data.filter((o) => o.status === 'paid');
    const want = [...groupBy(paid, (o) => o.cust)].map(([cust, os]) => ({
      _id: cust,
      total: sum(os.map((o) => o.amount)),
      n: os.length,
      count: os.length,
      avg: sum(os.map((o) => o.amount)) / os.length,
      lo: Math.min(...os.map((o) => o.amount)),
      hi: Math.max(...os.map((o) => o.amount)),
      ids: os.map((o) => o._id),
      statuses: ['paid'],
    })).sort(byId);
    // $push order across shards is not defined: compare it as a set.
    const normal = (docs: JsonDoc[]): JsonDoc[] => docs.map((d) => ({ ...d, ids: [...(d.ids as number[])].sort((a, b) => a - b), avg: Math.round(Number(d.avg) * 1e9) / 1e9 }));
    expect(normal(got)).toEqual(normal(want));
    expect(await c.aggregate([{ $group: { _id: null, n: { $sum: 1 }, total: { $sum: '$amount' } } }])).toEqual([{ _id: null, n: 600, total: sum(data.map((o) => o.amount)) }]);
  });

  it('$sort, $skip, $limit; $first/$last after a $sort; $count; $project and $replaceRoot', async () => {
    const order = [...data].sort((a, b) => b.amount - a.amount || a._id - b._id);
    expect((await c.aggregate([{ $sort: { amount: -1, _id: 1 } }, { $skip: 10 }, { $limit: 5 }, { $project: { _id: 1 } }])).map((d) => d._id)).toEqual(order.slice(10, 15).map((o) => o._id));
    const firstLast = await c.aggregate([{ $sort: { amount: 1, _id: 1 } }, { $group: { _id: '$status', first: { $first: '$_id' }, last: { $last: '$_id' } } }, { $sort: { _id: 1 } }]);
    const asc = [...data].sort((a, b) => a.amount - b.amount || a._id - b._id);
    expect(firstLast).toEqual(['new', 'paid', 'shipped'].map((s) => ({ _id: s, first: asc.find((o) => o.status === s)?._id, last: asc.findLast((o) => o.status === s)?._id })));
    expect(await c.aggregate([{ $match: { amount: { $gte: 90 } } }, { $count: 'big' }])).toEqual([{ big: data.filter((o) => o.amount >= 90).length }]);
    const shaped = await c.aggregate([{ $match: { _id: { $lt: 3 } } }, { $sort: { _id: 1 } }, { $project: { doc: { id: '$_id', twice: { $multiply: ['$amount', 2] } } } }, { $replaceRoot: { newRoot: '$doc' } }]);
    expect(shaped).toEqual([0, 1, 2].map((i) => ({ id: i, twice: data[i].amount * 2 })));
  });

  it('$unwind (plain and preserveNullAndEmptyArrays) then $group', async () => {
    const qty = await c.aggregate([{ $unwind: '$items' }, { $group: { _id: '$items.sku', qty: { $sum: '$items.qty' } } }, { $sort: { _id: 1 } }]);
    const flat = data.flatMap((o) => o.items ?? []);
    expect(qty).toEqual([...groupBy(flat, (it) => it.sku)].map(([sku, its]) => ({ _id: sku, qty: sum(its.map((x) => x.qty)) })).sort(byId));
    const kept = await c.aggregate([{ $unwind: { path: '$items', preserveNullAndEmptyArrays: true } }, { $count: 'rows' }]);
    expect(kept).toEqual([{ rows: flat.length + data.filter((o) => (o.items ?? []).length === 0).length }]);
  });

  it('$lookup from another collection, $facet, $bucket and $sortByCount', async () => {
    const byRegion = await c.aggregate([
      { $lookup: { from: `${c.coll}_cust`, localField: 'cust', foreignField: '_id', as: 'customer' } },
      { $unwind: '$customer' },
      { $group: { _id: '$customer.region', total: { $sum: '$amount' }, n: { $sum: 1 } } },
      { $sort: { _id: 1 } },
    ]);
    const regionOf = new Map(customers.map((cu) => [cu._id, cu.region]));
    expect(byRegion).toEqual([...groupBy(data, (o) => regionOf.get(o.cust) ?? '?')].map(([region, os]) => ({ _id: region, total: sum(os.map((o) => o.amount)), n: os.length })).sort(byId));

    const [facets] = await c.aggregate([
      {
        $facet: {
          byStatus: [{ $sortByCount: '$status' }],
          top: [{ $sort: { amount: -1, _id: 1 } }, { $limit: 3 }, { $project: { amount: 1 } }],
          buckets: [{ $bucket: { groupBy: '$amount', boundaries: [0, 25, 50, 75], default: 'high', output: { n: { $sum: 1 } } } }],
        },
      },
    ]);
    const counts = [...groupBy(data, (o) => o.status)].map(([s, os]) => ({ _id: s, count: os.length }));
    expect(facets.byStatus).toEqual(expect.arrayContaining(counts));
    expect((facets.byStatus as Json[]).length).toBe(3);
    const top = [...data].sort((a, b) => b.amount - a.amount || a._id - b._id).slice(0, 3).map((o) => ({ _id: o._id, amount: o.amount }));
    expect(facets.top).toEqual(top);
    const bucket = (lo: number, hi: number): number => data.filter((o) => o.amount >= lo && o.amount < hi).length;
    expect(facets.buckets).toEqual([
      { _id: 0, n: bucket(0, 25) },
      { _id: 25, n: bucket(25, 50) },
      { _id: 50, n: bucket(50, 75) },
      { _id: 'high', n: bucket(75, Infinity) },
    ]);
  });
});

describe('memory limit and allow_disk_use (2 shards)', () => {
  // The limit is MongoDB's 100 MB per blocking stage. Instead of storing that much, each document
  // is inflated by a $set on the shards ($concat of its pad ten times: ~20 KB of estimated heap
  // each), so 6000 stored documents of ~1 KB make a $sort or $group of ~130 MB.
  const ROWS = 6000;
  const inflate: JsonDoc = { $set: { big: { $concat: Array.from({ length: 10 }, () => '$pad') } } };

  it('a $sort and a $group past the limit are 400 AGGREGATE_MEMORY_LIMIT; with allow_disk_use they spill and answer right', async () => {
    const big = new DocsClient(server.url, collName('spill'));
    const pad = 'x'.repeat(1000);
    for (let at = 0; at < ROWS; at += 1000) {
      await big.insert(Array.from({ length: 1000 }, (_, j) => ({ _id: at + j, key: ((at + j) * 7919) % ROWS, grp: `g${(at + j) % 1500}`, pad })));
    }
    const sortPipeline: JsonDoc[] = [inflate, { $sort: { key: -1 } }, { $group: { _id: null, keys: { $push: '$key' } } }];
    const groupPipeline: JsonDoc[] = [inflate, { $group: { _id: '$grp', bigs: { $push: '$big' }, n: { $sum: 1 } } }, { $project: { n: 1 } }, { $sort: { _id: 1 } }];
    expect((await expectFailure(await big.post('aggregate', { pipeline: sortPipeline }), 400, 'AGGREGATE_MEMORY_LIMIT')).message).toContain('$sort');
    expect((await expectFailure(await big.post('aggregate', { pipeline: groupPipeline }), 400, 'AGGREGATE_MEMORY_LIMIT')).message).toContain('$group');

    const [sorted] = await big.aggregate(sortPipeline, { allow_disk_use: true });
    expect(sorted.keys).toEqual(Array.from({ length: ROWS }, (_, i) => ROWS - 1 - i));
    const groups = await big.aggregate(groupPipeline, { allow_disk_use: true });
    expect(groups).toHaveLength(1500);
    expect(groups.every((g) => g.n === 4)).toBe(true);
    expect(groups.map((g) => g._id)).toEqual(Array.from({ length: 1500 }, (_, i) => `g${i}`).sort());
  });
});
