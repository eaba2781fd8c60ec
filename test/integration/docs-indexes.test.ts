// Secondary indexes on a real 2-shard server: create and drop (409
// INDEX_EXISTS, 404 INDEX_NOT_FOUND), explain showing IXSCAN against COLLSCAN
// with the keys and documents examined, identical results with and without
// indexes over a few hundred generated documents and a few dozen queries
// (equality, ranges across types, $in, multikey, compound prefixes, sorts),
// and an index built in the background on a full collection while writes go
// on: writes are acknowledged during the build and the finished index agrees
// with what was written.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOk, waitUntil } from '../helpers/http-client.js';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';
import { DocsClient, collName, explain, explainTotals, indexesOf, prng, expectFailure, type Json, type JsonDoc } from '../helpers/docs-client.js';

afterAll(cleanup);

let server: ServerProcess;
beforeAll(async () => {
  server = await startServer({ shards: 2, fsync: 'batch' });
});

/** Documents with the shapes indexes must get right: mixed types, missing fields, arrays, nesting. */
function generate(count: number, seed: number): JsonDoc[] {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  return Array.from({ length: count }, (_, i) => {
    const doc: JsonDoc = { _id: i, user: { email: `u${Math.floor(rnd() * 60)}@x.org`, tier: pick([1, 2, 3]) }, score: Math.round(rnd() * 1000) / 10 };
    const r = rnd();
    if (r < 0.8) doc.age = 18 + Math.floor(rnd() * 40);
    else if (r < 0.87) doc.age = pick(['30', '41', 'old']);
    else if (r < 0.93) doc.age = null;
    // else: no age at all
    if (rnd() < 0.9) doc.city = pick(['Oslo', 'Lima', 'Pune', 'Kyiv', 'Rome']);
    const t = rnd();
    if (t < 0.6) doc.tags = Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => pick(['a', 'b', 'c', 'd', 'e']));
    else if (t < 0.8) doc.tags = pick(['a', 'b']);
    else if (t < 0.85) doc.tags = [];
    doc.items = Array.from({ length: Math.floor(rnd() * 3) }, () => ({ k: pick(['x', 'y', 'z']), q: Math.floor(rnd() * 10) }));
    return doc;
  });
}

type Query = { filter: JsonDoc; sort?: JsonDoc; limit?: number };

const QUERIES: readonly Query[] = [
  { filter: { age: 30 } },
  { filter: { age: { $gt: 25, $lte: 40 } } },
  { filter: { age: { $gt: 25 } }, sort: { age: 1 } },
  { filter: { age: { $lt: 'p' } } },
  { filter: { age: { $gte: '' } } },
  { filter: { age: null } },
  { filter: { age: { $exists: false } } },
  { filter: { age: { $in: [20, 21, '30', null] } } },
  { filter: { age: { $ne: 30 } } },
  { filter: { age: { $type: 'string' } } },
  { filter: { 'user.email': 'u7@x.org' } },
  { filter: { 'user.email': { $gte: 'u3', $lt: 'u4' } }, sort: { 'user.email': -1 } },
  { filter: { city: 'Oslo' } },
  { filter: { city: 'Lima', age: { $gte: 30 } } },
  { filter: { city: { $in: ['Pune', 'Rome'] }, age: { $lt: 25 } }, sort: { city: 1, age: -1 } },
  { filter: { city: null } },
  { filter: { tags: 'a' } },
  { filter: { tags: { $all: ['a', 'c'] } } },
  { filter: { tags: { $in: ['d', 'e'] } }, sort: { score: -1 } },
  { filter: { tags: [] } },
  { filter: { tags: { $size: 2 } } },
  { filter: { items: { $elemMatch: { k: 'x', q: { $gt: 5 } } } } },
  { filter: { 'items.k': 'y' } },
  { filter: { score: { $gte: 50, $lt: 60 } }, sort: { score: 1 } },
  { filter: {}, sort: { score: -1 }, limit: 25 },
  { filter: {}, sort: { age: 1 }, limit: 40 },
  { filter: {}, sort: { age: -1 }, limit: 40 },
  { filter: { $or: [{ city: 'Kyiv' }, { 'user.email': 'u1@x.org' }] } },
  { filter: { 'user.tier': 2, city: { $ne: 'Oslo' } }, sort: { 'user.tier': 1, score: 1 } },
];

const INDEXES: readonly JsonDoc[] = [
  { name: 'age_1', keys: { age: 1 } },
  { name: 'email_1', keys: { 'user.email': 1 } },
  { name: 'city_age', keys: { city: 1, age: -1 } },
  { name: 'tags_1', keys: { tags: 1 } },
  { name: 'score_-1', keys: { score: -1 } },
  { name: 'items_k', keys: { 'items.k': 1 } },
];

/** All results of a query: one page when it has a limit, else every page. */
async function run(c: DocsClient, query: Query): Promise<Json[]> {
  const docs = query.limit === undefined ? await c.findAll({ ...query }, 50) : (await c.find({ ...query })).docs;
  const ids = docs.map((d) => d._id);
  // Without a sort the order is the storage order, which depends on the plan: compare as a set.
  return query.sort === undefined ? [...ids].sort((a, b) => Number(a) - Number(b)) : ids;
}

describe('secondary indexes', () => {
  it('creates and drops an index: a second of the same name is 409 INDEX_EXISTS, an unknown one 404 INDEX_NOT_FOUND', async () => {
    const c = new DocsClient(server.url, collName('ixddl'));
    await c.insert([{ a: 1 }]);
    await expectOk(await c.createIndex({ name: 'a_1', keys: { a: 1 } }));
    expect((await indexesOf(c)).map((i) => i.name)).toContain('a_1');
    await expectFailure(await c.createIndex({ name: 'a_1', keys: { a: -1 } }), 409, 'INDEX_EXISTS');
    await expectFailure(await c.createIndex({ name: 'bad', keys: {} }), 400, 'INVALID_PARAMETER');
    await expectOk(await c.dropIndex('a_1'));
    expect((await indexesOf(c)).map((i) => i.name)).not.toContain('a_1');
    await expectFailure(await c.dropIndex('a_1'), 404, 'INDEX_NOT_FOUND');
  });

  it('gives identical results with and without indexes, and explain shows IXSCAN against COLLSCAN', async () => {
    const c = new DocsClient(server.url, collName('ixeq'));
    const docs = generate(400, 11);
    await c.insert(docs);
    const before: Json[][] = [];
    for (const q of QUERIES) before.push(await run(c, q));
    const collscan = await explain(c, { filter: { age: 30 } });
    expect(collscan.map((p) => p.plan)).toEqual(collscan.map(() => 'COLLSCAN'));
    expect(explainTotals(collscan).docsExamined).toBe(400);
    const thirty = docs.filter((d) => d.age === 30).length;
    expect(explainTotals(collscan).returned).toBe(thirty);

    for (const spec of INDEXES) await expectOk(await c.createIndex(spec));
    await waitUntil(async () => ((await indexesOf(c)).every((i) => i.building !== true) ? true : undefined), { timeoutMs: 10_000, what: 'the index builds to finish' });

    const mismatches: string[] = [];
    for (const [i, q] of QUERIES.entries()) {
      const after = await run(c, q);
      if (JSON.stringify(after) !== JSON.stringify(before[i])) mismatches.push(`${JSON.stringify(q)}: without ${JSON.stringify(before[i])}\n  with ${JSON.stringify(after)}`);
    }
    expect(mismatches, mismatches.join('\n')).toEqual([]);
    expect(before.filter((r) => r.length > 0).length, 'most queries match something').toBeGreaterThan(QUERIES.length - 3);

    const ixscan = await explain(c, { filter: { age: 30 } });
    expect(ixscan.map((p) => [p.plan, p.index])).toEqual(ixscan.map(() => ['IXSCAN', 'age_1']));
    expect(explainTotals(ixscan)).toEqual({ keysExamined: thirty, docsExamined: thirty, returned: thirty });
    // A range bounded on both sides: as the README says, the scan is bounded by the lower bound
    // only (the planner does not track which indexes hold arrays, and for an array field each
    // bound may be met by a different element), within the bound's type (numbers, strings).
    // MongoDB intersects the bounds when it knows an index is not multikey.
    const numbers = docs.filter((d) => typeof d.age === 'number');
    const inRange = numbers.filter((d) => Number(d.age) > 25 && Number(d.age) <= 40).length;
    const fromLower = numbers.filter((d) => Number(d.age) > 25).length;
    const range = await explain(c, { filter: { age: { $gt: 25, $lte: 40 } }, limit: 1000 });
    expect(range.every((p) => p.plan === 'IXSCAN' && p.index === 'age_1')).toBe(true);
    expect(explainTotals(range)).toEqual({ keysExamined: fromLower, docsExamined: fromLower, returned: inRange });
    const emailOf = (d: JsonDoc): string => String((d.user as JsonDoc).email);
    const strings = await explain(c, { filter: { 'user.email': { $gte: 'u3', $lt: 'u4' } }, limit: 1000 });
    expect(strings.every((p) => p.plan === 'IXSCAN' && p.index === 'email_1')).toBe(true);
    expect(explainTotals(strings)).toEqual({
      keysExamined: docs.filter((d) => emailOf(d) >= 'u3').length,
      docsExamined: docs.filter((d) => emailOf(d) >= 'u3').length,
      returned: docs.filter((d) => emailOf(d) >= 'u3' && emailOf(d) < 'u4').length,
    });
    // A one-sided range examines only what matches.
    const above = await explain(c, { filter: { age: { $gt: 50 } }, limit: 1000 });
    const over50 = numbers.filter((d) => Number(d.age) > 50).length;
    expect(explainTotals(above)).toEqual({ keysExamined: over50, docsExamined: over50, returned: over50 });
    const compound = await explain(c, { filter: { city: 'Lima', age: { $gte: 30 } } });
    expect(compound.every((p) => p.plan === 'IXSCAN' && p.index === 'city_age'), JSON.stringify(compound)).toBe(true);
    const multikey = await explain(c, { filter: { tags: 'a' } });
    expect(multikey.every((p) => p.plan === 'IXSCAN' && p.index === 'tags_1')).toBe(true);
    // No index on the field: a collection scan.
    expect((await explain(c, { filter: { 'user.tier': 2 } })).every((p) => p.plan === 'COLLSCAN')).toBe(true);

    // Dropping them all gives the collection-scan answers back.
    for (const spec of INDEXES) await expectOk(await c.dropIndex(String(spec.name)));
    expect((await explain(c, { filter: { age: 30 } })).every((p) => p.plan === 'COLLSCAN')).toBe(true);
    expect(await run(c, QUERIES[1])).toEqual(before[1]);
  });

  it('builds an index on a full collection in the background while writes continue', async () => {
    const c = new DocsClient(server.url, collName('ixbg'));
    const total = 30_000;
    const k = new Map<number, number>();
    const pad = 'p'.repeat(120);
    for (let at = 0; at < total; at += 1000) {
      const batch = Array.from({ length: 1000 }, (_, j): JsonDoc => ({ _id: at + j, k: (at + j) % 997, pad }));
      for (const d of batch) k.set(Number(d._id), Number(d.k));
      await c.insert(batch);
    }

    const started = performance.now();
    let buildDone = Number.POSITIVE_INFINITY;
    const create = c.createIndex({ name: 'k_1', keys: { k: 1 } }).then(async (r) => {
      await expectOk(r);
      await waitUntil(async () => ((await indexesOf(c)).find((i) => i.name === 'k_1')?.building === true ? undefined : true), { timeoutMs: 30_000, intervalMs: 5, what: 'the background build to finish' });
      buildDone = performance.now();
    });
    let settled = false;
    void create.finally(() => (settled = true)).catch(() => undefined);
    // One writer: inserts new documents and moves existing ones to other k values, one at a time.
    const ackedDuring: number[] = [];
    let next = total;
    let writes = 0;
    while (!settled) {
      const sentAt = performance.now();
      if (writes % 2 === 0) {
        const id = next++;
        await c.insert([{ _id: id, k: id % 997, pad }]);
        k.set(id, id % 997);
      } else {
        const id = (writes * 7919) % total;
        const value = 1000 + (writes % 50);
        await c.update({ filter: { _id: id }, update: { $set: { k: value } } });
        k.set(id, value);
      }
      writes++;
      if (sentAt >= started && performance.now() < buildDone) ackedDuring.push(performance.now() - sentAt);
    }
    await create;
    expect(ackedDuring.length, `writes acknowledged while the build ran (build took ${Math.round(buildDone - started)} ms)`).toBeGreaterThan(0);

    for (const value of [0, 5, 996, 1000, 1007, 1049]) {
      const plans = await explain(c, { filter: { k: value } });
      expect(plans.every((p) => p.plan === 'IXSCAN'), JSON.stringify(plans)).toBe(true);
      const want = [...k].filter(([, v]) => v === value).map(([id]) => id).sort((a, b) => a - b);
      const got = (await c.findAll({ filter: { k: value } })).map((d) => Number(d._id)).sort((a, b) => a - b);
      expect(got, `k = ${value}`).toEqual(want);
      expect(explainTotals(plans).keysExamined).toBe(want.length);
    }
    const moved = [...k].filter(([, v]) => v >= 1000).length;
    expect((await c.findAll({ filter: { k: { $gte: 1000 } } })).length).toBe(moved);
  });
});
