// Every document route of issue 11 against a real server, with 1 and 2
// shards: collections (created by a first insert or by PUT with a
// $jsonSchema validator, listed, described, dropped), insert (1..1000, given
// and generated _id, duplicates), find (filter, projection, sort, skip,
// limit, cursor paging through every page), update (operators, pipeline,
// positional, array filters, upsert, multi), find_and_modify, delete, the
// by-id routes (ObjectId / string / ?id_type=number), relaxed Extended JSON in
// and out, and bad input (unknown operators, bad regex, bad JSON, $-prefixed
// fields, nesting depth, the 16 MiB limit, limit > 1000), after which the
// server still serves.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOk } from '../helpers/http-client.js';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';
import { DocsClient, collName, docsUrl, expectErrorIn, idsOf, oid, oidHex, postAction, sendJson, expectFailure, type Json, type JsonDoc } from '../helpers/docs-client.js';

afterAll(cleanup);

type CollectionListing = { name: string; count: number; [field: string]: unknown };

/** The 240 documents the find tests query; every field has a pattern the expected results compute from. */
function findFixture(): JsonDoc[] {
  return Array.from({ length: 240 }, (_, i) => {
    const doc: JsonDoc = { _id: i, n: i % 7, g: ['a', 'b', 'c'][i % 3], nested: { v: i % 11, w: `w${i}` } };
    doc.tags = i % 4 === 0 ? [] : [`t${i % 5}`, `t${i % 3}`];
    if (i % 6 === 0) doc.maybe = null;
    else if (i % 6 !== 1) doc.maybe = i;
    return doc;
  });
}

const num = (v: Json | undefined): number => v as number;

describe.each([1, 2])('document routes (%i shards)', (shards) => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServer({ shards, fsync: 'batch' });
  });
  const client = (tag: string): DocsClient => new DocsClient(server.url, collName(tag));

  describe('collections', () => {
    it('PUT creates a collection with a $jsonSchema validator; a failing document is 400 DOC_VALIDATION naming the path', async () => {
      const c = client('valid');
      const validator = {
        $jsonSchema: {
          bsonType: 'object',
          required: ['name', 'profile'],
          properties: {
            name: { bsonType: 'string' },
            age: { bsonType: 'int', minimum: 0 },
            profile: { bsonType: 'object', required: ['email'], properties: { email: { bsonType: 'string', pattern: '@' } } },
          },
        },
      };
      await expectOk(await sendJson(docsUrl(server.url, `/${c.coll}`), 'PUT', { validator }));
      await c.insert([{ _id: 'ok', name: 'Ann', age: 30, profile: { email: 'ann@example.com' } }]);

      const refused = async (response: Response, path: string): Promise<string> => {
        const error = await expectErrorIn(response, 400, ['DOC_VALIDATION']);
        expect(error.message).toContain(`"${path}"`);
        if ('path' in error) expect(error.path).toBe(path);
        return error.message;
      };
      const badAge = await refused(await c.post('insert', { documents: [{ _id: 'b1', name: 'Bob', age: 'old', profile: { email: 'b@x' } }] }), 'age');
      expect(badAge, 'the message says what the schema wants').toMatch(/int/);
      await refused(await c.post('insert', { documents: [{ _id: 'b2', name: 'Bob', profile: { email: 'nope' } }] }), 'profile.email');
      await refused(await c.post('insert', { documents: [{ _id: 'b3', profile: { email: 'c@x' } }] }), 'name');
      // An update whose result fails the schema is refused too, and changes nothing.
      await refused(await c.post('update', { filter: { _id: 'ok' }, update: { $set: { 'profile.email': 'no-at-sign' } } }), 'profile.email');
      expect((await c.findAll({ filter: {} })).map((d) => d._id)).toEqual(['ok']);
      expect((await c.find({ filter: { _id: 'ok' } })).docs[0]).toEqual({ _id: 'ok', name: 'Ann', age: 30, profile: { email: 'ann@example.com' } });

      const info = (await expectOk<{ validator?: Json; options?: { validator?: Json } }>(await c.info())).data;
      expect(info.validator ?? info.options?.validator).toEqual(validator);
    });

    it('lists collections with counts and sizes, describes one, and DELETE drops it with its indexes', async () => {
      const c = client('list');
      await c.insert([{ a: 1 }, { a: 2 }, { a: 3 }]);
      await expectOk(await c.createIndex({ name: 'by_a', keys: { a: 1 } }));
      const listed = (await expectOk<CollectionListing[]>(await fetch(docsUrl(server.url)))).data;
      const entry = listed.find((e) => e.name === c.coll);
      expect(entry, JSON.stringify(listed)).toBeDefined();
      expect(entry?.count).toBe(3);
      const sizes = Object.entries(entry ?? {}).filter(([k, v]) => /size|bytes/.test(k) && typeof v === 'number' && v > 0);
      expect(sizes.length, `no size in ${JSON.stringify(entry)}`).toBeGreaterThan(0);

      const info = JSON.stringify((await expectOk<JsonDoc>(await c.info())).data);
      expect(info).toContain('by_a');
      expect(info).toContain('"count":3');

      await expectOk(await c.drop());
      await expectFailure(await c.info(), 404, 'COLLECTION_NOT_FOUND');
      await expectFailure(await c.drop(), 404, 'COLLECTION_NOT_FOUND');
      const after = (await expectOk<CollectionListing[]>(await fetch(docsUrl(server.url)))).data;
      expect(after.map((e) => e.name)).not.toContain(c.coll);
      // A collection of the same name starts empty and without the old index.
      await c.insert([{ a: 9 }]);
      expect((await c.findAll({ filter: {} })).map((d) => d.a)).toEqual([9]);
      expect(JSON.stringify((await expectOk<JsonDoc>(await c.info())).data)).not.toContain('by_a');
    });
  });

  describe('insert', () => {
    it('inserts 1000 documents with given (string, number, ObjectId) and generated _ids, answering them in order', async () => {
      const c = client('ins');
      const given: (Json | undefined)[] = [];
      const docs = Array.from({ length: 1000 }, (_, i): JsonDoc => {
        const id = [`s${i}`, i, oid(), undefined][i % 4];
        given.push(id);
        return id === undefined ? { i } : { _id: id, i };
      });
      const ids = await c.insert(docs);
      const generated = new Set<string>();
      ids.forEach((id, i) => {
        if (given[i] !== undefined) expect(id).toEqual(given[i]);
        else {
          expect(id).toEqual({ $oid: expect.stringMatching(/^[0-9a-f]{24}$/) });
          generated.add((id as { $oid: string }).$oid);
        }
      });
      expect(generated.size).toBe(250);
      const all = await c.findAll({ filter: {} });
      expect(all).toHaveLength(1000);
      expect(idsOf(all)).toEqual(ids.map((id) => JSON.stringify(id)).sort());
      // A generated id finds its document.
      const third = ids[3] as { $oid: string };
      expect((await expectOk<JsonDoc>(await c.getById(third.$oid))).data).toEqual({ _id: third, i: 3 });

      await c.insert([{ _id: 'single' }]);
      await expectErrorIn(await c.post('insert', { documents: [] }), 400, ['INVALID_PARAMETER']);
      const tooMany = await c.post('insert', { documents: Array.from({ length: 1001 }, (_, i) => ({ i })) });
      expect([400, 413]).toContain(tooMany.status);
      await expectErrorIn(tooMany, tooMany.status, ['INVALID_PARAMETER', 'BATCH_TOO_LARGE']);
      expect(await c.findAll({ filter: {} })).toHaveLength(1001);
    });

    it('a duplicate _id is 409 DUPLICATE_KEY and leaves the stored document; 7 and NumberLong(7) are one _id, "7" another', async () => {
      const c = client('dup');
      await c.insert([{ _id: 'a', v: 1 }, { _id: 7, v: 1 }]);
      await expectFailure(await c.post('insert', { documents: [{ _id: 'a', v: 2 }] }), 409, 'DUPLICATE_KEY');
      await expectFailure(await c.post('insert', { documents: [{ _id: { $numberLong: '7' }, v: 2 }] }), 409, 'DUPLICATE_KEY');
      await expectFailure(await c.post('insert', { documents: [{ _id: 7.0, v: 2 }] }), 409, 'DUPLICATE_KEY');
      await expectFailure(await c.post('insert', { documents: [{ _id: 'twice' }, { _id: 'twice' }] }), 409, 'DUPLICATE_KEY');
      await c.insert([{ _id: '7', v: 3 }]);
      // Sorted by v, then _id in BSON order: numbers before strings. The refused batch left nothing.
      expect(await c.findAll({ filter: {}, sort: { v: 1, _id: 1 } })).toEqual([{ _id: 7, v: 1 }, { _id: 'a', v: 1 }, { _id: '7', v: 3 }]);
    });
  });

  describe('find', () => {
    let c: DocsClient;
    const fixture = findFixture();
    beforeAll(async () => {
      c = client('find');
      await c.insert(fixture);
    });

    const expected = (pred: (d: JsonDoc) => boolean): string[] => idsOf(fixture.filter(pred));

    it.each<[string, JsonDoc, (d: JsonDoc) => boolean]>([
      ['range on a field', { n: { $gte: 2, $lt: 5 } }, (d: JsonDoc) => num(d.n) >= 2 && num(d.n) < 5],
      ['$in', { g: { $in: ['a', 'c'] } }, (d: JsonDoc) => d.g === 'a' || d.g === 'c'],
      ['a dotted path', { 'nested.v': 3 }, (d: JsonDoc) => (d.nested as JsonDoc).v === 3],
      ['an array element (implicit traversal)', { tags: 't2' }, (d: JsonDoc) => (d.tags as Json[]).includes('t2')],
      ['a numeric position', { 'tags.0': 't1' }, (d: JsonDoc) => (d.tags as Json[])[0] === 't1'],
      ['$size 0', { tags: { $size: 0 } }, (d: JsonDoc) => (d.tags as Json[]).length === 0],
      ['null matches null and missing', { maybe: null }, (d: JsonDoc) => d.maybe === null || d.maybe === undefined],
      ['$exists false', { maybe: { $exists: false } }, (d: JsonDoc) => d.maybe === undefined],
      ['$or / $and', { $or: [{ n: 0 }, { $and: [{ g: 'b' }, { 'nested.v': { $gt: 8 } }] }] }, (d: JsonDoc) => d.n === 0 || (d.g === 'b' && num((d.nested as JsonDoc).v) > 8)],
      ['$regex', { 'nested.w': { $regex: '^w1[0-2]$' } }, (d: JsonDoc) => /^w1[0-2]$/.test(String((d.nested as JsonDoc).w))],
      ['$not / $nin', { n: { $not: { $gt: 1 } }, g: { $nin: ['a'] } }, (d: JsonDoc) => !(num(d.n) > 1) && d.g !== 'a'],
    ])('filters by %s', async (_what, filter, pred) => {
      expect(idsOf(await c.findAll({ filter }))).toEqual(expected(pred));
    });

    it('projects with inclusion (nested paths) and exclusion', async () => {
      const included = await c.findAll({ filter: { _id: { $lt: 3 } }, projection: { n: 1, 'nested.v': 1 }, sort: { _id: 1 } });
      expect(included).toEqual([0, 1, 2].map((i) => ({ _id: i, n: i % 7, nested: { v: i % 11 } })));
      const excluded = await c.findAll({ filter: { _id: 5 }, projection: { tags: 0, nested: 0, _id: 0 } });
      expect(excluded).toEqual([{ n: 5, g: 'c', maybe: 5 }]);
      const sliced = await c.findAll({ filter: { _id: 5 }, projection: { tags: { $slice: 1 }, n: 1 } });
      expect(sliced).toEqual([{ _id: 5, n: 5, tags: ['t0'] }]);
    });

    it('sorts (descending, compound) with skip and limit', async () => {
      const order = [...fixture].sort((a, b) => num(b.n) - num(a.n) || num(a._id) - num(b._id));
      const page = await c.find({ filter: {}, sort: { n: -1, _id: 1 }, skip: 5, limit: 10 });
      expect(page.docs.map((d) => d._id)).toEqual(order.slice(5, 15).map((d) => d._id));
      const last = await c.find({ filter: {}, sort: { n: -1, _id: 1 }, skip: 235, limit: 10 });
      expect(last.docs.map((d) => d._id)).toEqual(order.slice(235).map((d) => d._id));
      expect(last.meta.next_cursor ?? null).toBeNull();
      const defaultLimit = await c.find({ filter: {} });
      expect(defaultLimit.docs).toHaveLength(100);
    });

    it('pages with the cursor through all pages without duplicates or gaps, sorted and unsorted', async () => {
      const filter = { n: { $gte: 2 } };
      const want = expected((d) => num(d.n) >= 2);
      const sorted = await c.findAll({ filter, sort: { g: 1, 'nested.v': -1 } }, 7);
      expect(idsOf(sorted)).toEqual(want);
      for (let i = 1; i < sorted.length; i++) {
        const [a, b] = [sorted[i - 1], sorted[i]];
        const inOrder = String(a.g) < String(b.g) || (a.g === b.g && num((a.nested as JsonDoc).v) >= num((b.nested as JsonDoc).v));
        expect(inOrder, `${JSON.stringify(a)} before ${JSON.stringify(b)}`).toBe(true);
      }
      expect(idsOf(await c.findAll({ filter }, 13))).toEqual(want);
      const first = await c.find({ filter, sort: { g: 1 }, limit: 7 });
      expect(first.docs).toHaveLength(7);
      expect(first.meta.count).toBe(7);
      expect(typeof first.meta.next_cursor).toBe('string');
      // A cursor belongs to its query.
      await expectFailure(await c.post('find', { filter: { n: 1 }, sort: { g: 1 }, limit: 7, cursor: first.meta.next_cursor }), 400, 'CURSOR_INVALID');
    });

    it('a cursor survives inserts and deletes between pages: every document that stays is served once', async () => {
      const moving = client('paging');
      await moving.insert(Array.from({ length: 120 }, (_, i) => ({ _id: i, rank: i % 40 })));
      const served = new Map<string, number>();
      let cursor: string | null = null;
      for (let page = 0; ; page++) {
        const body: JsonDoc = { filter: {}, sort: { rank: 1 }, limit: 10 };
        const result: { docs: JsonDoc[]; meta: { next_cursor?: string | null } } = await moving.find(cursor === null ? body : { ...body, cursor });
        for (const d of result.docs) served.set(JSON.stringify(d._id), (served.get(JSON.stringify(d._id)) ?? 0) + 1);
        // Between pages: delete two documents not served yet, insert two that sort before and after the position.
        await moving.deleteWhere({ _id: { $in: [119 - page, 118 - page - 20] } });
        await moving.insert([{ _id: `early${page}`, rank: -1 }, { _id: `late${page}`, rank: 100 }]);
        cursor = result.meta.next_cursor ?? null;
        if (cursor === null) break;
      }
      expect([...served.values()].every((n) => n === 1), 'no document served twice').toBe(true);
      const remaining = await moving.findAll({ filter: { _id: { $type: 'number' } } });
      for (const d of remaining) expect(served.has(JSON.stringify(d._id)), `${JSON.stringify(d._id)} stayed but was never served`).toBe(true);
      expect([...served.keys()].some((k) => k.startsWith('"late')), 'documents inserted after the position are served').toBe(true);
      expect([...served.keys()].some((k) => k.startsWith('"early')), 'documents inserted before the position are not').toBe(false);
    });
  });

  describe('update', () => {
    it('applies operators to one document, or to every match with multi', async () => {
      const c = client('upd');
      await c.insert([
        { _id: 'u1', a: 1, b: { c: 2 }, arr: [1, 2, 3], cnt: 10 },
        { _id: 'u2', a: 1, b: { c: 2 }, arr: [1, 2, 3], cnt: 10 },
        { _id: 'u3', a: 2, b: { c: 2 }, arr: [1, 2, 3], cnt: 10 },
      ]);
      expect(await c.update({ filter: { a: 1 }, update: { $set: { 'b.c': 5 }, $inc: { cnt: 1 } } })).toMatchObject({ matched: 1, modified: 1 });
      expect((await c.findAll({ filter: { cnt: 11 } })).length).toBe(1);
      expect(await c.update({ filter: { a: 1 }, update: { $set: { 'b.c': 5 }, $inc: { cnt: 1 } }, multi: true })).toMatchObject({ matched: 2, modified: 2 });
      expect(await c.update({ filter: { a: 1 }, update: { $set: { a: 1 } }, multi: true })).toMatchObject({ matched: 2, modified: 0 });
      expect(await c.update({ filter: { a: 99 }, update: { $set: { x: 1 } } })).toMatchObject({ matched: 0, modified: 0 });

      await c.update({
        filter: { _id: 'u3' },
        update: { $push: { arr: { $each: [4, 5], $slice: -3 } }, $unset: { b: '' }, $rename: { cnt: 'count' }, $mul: { a: 3 }, $max: { hi: 7 }, $min: { lo: -1 }, $currentDate: { at: true } },
      });
      const [u3] = (await c.find({ filter: { _id: 'u3' } })).docs;
      expect(u3).toEqual({ _id: 'u3', a: 6, arr: [3, 4, 5], count: 10, hi: 7, lo: -1, at: { $date: expect.any(String) } });
      await c.update({ filter: { _id: 'u3' }, update: { $pull: { arr: { $gte: 4 } }, $addToSet: { set: { $each: ['x', 'x', 'y'] } }, $pop: { none: 1 } } });
      expect((await c.find({ filter: { _id: 'u3' }, projection: { arr: 1, set: 1 } })).docs[0]).toEqual({ _id: 'u3', arr: [3], set: ['x', 'y'] });
    });

    it('positional $, $[] and $[<id>] with array_filters', async () => {
      const c = client('pos');
      await c.insert([{ _id: 1, items: [{ k: 'x', q: 1 }, { k: 'y', q: 2 }, { k: 'z', q: 3 }], nums: [1, 2, 3] }]);
      await c.update({ filter: { _id: 1, 'items.k': 'y' }, update: { $set: { 'items.$.q': 20 } } });
      await c.update({ filter: { _id: 1 }, update: { $inc: { 'nums.$[]': 10 } } });
      await c.update({ filter: { _id: 1 }, update: { $set: { 'items.$[e].hot': true } }, array_filters: [{ 'e.q': { $gte: 3 } }] });
      expect((await c.find({ filter: { _id: 1 } })).docs[0]).toEqual({
        _id: 1,
        items: [{ k: 'x', q: 1 }, { k: 'y', q: 20, hot: true }, { k: 'z', q: 3, hot: true }],
        nums: [11, 12, 13],
      });
    });

    it('takes an aggregation pipeline as the update', async () => {
      const c = client('pipe');
      await c.insert([{ _id: 1, a: 2, b: { c: 3 }, drop: true }, { _id: 2, a: 10, b: { c: 1 }, drop: true }]);
      const result = await c.update({ filter: {}, update: [{ $set: { sum: { $add: ['$a', '$b.c'] } } }, { $unset: 'drop' }], multi: true });
      expect(result).toMatchObject({ matched: 2, modified: 2 });
      expect(await c.findAll({ filter: {}, sort: { _id: 1 } })).toEqual([
        { _id: 1, a: 2, b: { c: 3 }, sum: 5 },
        { _id: 2, a: 10, b: { c: 1 }, sum: 11 },
      ]);
    });

    it('upserts from the filter\'s equality fields, with $setOnInsert only on insert', async () => {
      const c = client('ups');
      const first = await c.update({ filter: { sku: 'p1', qty: { $gt: 5 } }, update: { $set: { price: 3 }, $setOnInsert: { origin: 'upsert' } }, upsert: true });
      expect(first).toMatchObject({ matched: 0, modified: 0, upserted_id: { $oid: expect.stringMatching(/^[0-9a-f]{24}$/) } });
      const [doc] = (await c.find({ filter: { sku: 'p1' } })).docs;
      expect(doc).toEqual({ _id: first.upserted_id, sku: 'p1', price: 3, origin: 'upsert' });
      const second = await c.update({ filter: { sku: 'p1' }, update: { $set: { price: 4 }, $setOnInsert: { origin: 'again' } }, upsert: true });
      expect(second).toMatchObject({ matched: 1, modified: 1 });
      expect(second.upserted_id ?? null).toBeNull();
      expect((await c.find({ filter: { sku: 'p1' } })).docs).toEqual([{ _id: first.upserted_id, sku: 'p1', price: 4, origin: 'upsert' }]);
      const byId = await c.update({ filter: { _id: 'given' }, update: { $inc: { n: 1 } }, upsert: true });
      expect(byId.upserted_id).toBe('given');
      expect((await c.find({ filter: { _id: 'given' } })).docs).toEqual([{ _id: 'given', n: 1 }]);
    });

    it('refuses to change _id, conflicting paths and $inc on a string (400 BAD_QUERY), changing nothing', async () => {
      const c = client('updbad');
      await c.insert([{ _id: 1, a: 'text', b: 1 }]);
      await expectFailure(await c.post('update', { filter: { _id: 1 }, update: { $set: { _id: 2 } } }), 400, 'BAD_QUERY');
      await expectFailure(await c.post('update', { filter: { _id: 1 }, update: { $set: { b: 2 }, $inc: { b: 1 } } }), 400, 'BAD_QUERY');
      await expectFailure(await c.post('update', { filter: { _id: 1 }, update: { $inc: { a: 1 } } }), 400, 'BAD_QUERY');
      expect(await c.findAll({ filter: {} })).toEqual([{ _id: 1, a: 'text', b: 1 }]);
    });
  });

  describe('find_and_modify and delete', () => {
    it('returns the document before or after, picks by sort, removes, upserts', async () => {
      const c = client('fam');
      await c.insert([{ _id: 'j1', pri: 3, state: 'new' }, { _id: 'j2', pri: 1, state: 'new' }, { _id: 'j3', pri: 2, state: 'new' }]);
      const fam = async (body: JsonDoc): Promise<Json> => (await expectOk<Json>(await c.post('find_and_modify', body))).data;
      expect(await fam({ filter: { state: 'new' }, sort: { pri: 1 }, update: { $set: { state: 'taken' } }, return: 'before' })).toEqual({ _id: 'j2', pri: 1, state: 'new' });
      expect(await fam({ filter: { state: 'new' }, sort: { pri: 1 }, update: { $set: { state: 'taken' } }, return: 'after' })).toEqual({ _id: 'j3', pri: 2, state: 'taken' });
      expect(await fam({ filter: { state: 'taken' }, sort: { pri: -1 }, remove: true })).toEqual({ _id: 'j3', pri: 2, state: 'taken' });
      expect(await fam({ filter: { state: 'none' }, update: { $set: { x: 1 } } })).toBeNull();
      expect(await fam({ filter: { _id: 'j9' }, update: { $set: { state: 'made' } }, upsert: true, return: 'after' })).toEqual({ _id: 'j9', state: 'made' });
      expect(await c.findAll({ filter: {}, sort: { _id: 1 } })).toEqual([
        { _id: 'j1', pri: 3, state: 'new' },
        { _id: 'j2', pri: 1, state: 'taken' },
        { _id: 'j9', state: 'made' },
      ]);
    });

    it('deletes every match by default, one with multi:false', async () => {
      const c = client('del');
      await c.insert(Array.from({ length: 30 }, (_, i) => ({ _id: i, odd: i % 2 === 1 })));
      expect(await c.deleteWhere({ odd: true })).toBe(15);
      expect(await c.deleteWhere({ odd: false }, false)).toBe(1);
      expect(await c.deleteWhere({ odd: true })).toBe(0);
      expect(await c.findAll({ filter: {} })).toHaveLength(14);
    });
  });

  describe('by-id routes', () => {
    it('GET reads an ObjectId for 24 hex digits, else a string; ?id_type says otherwise', async () => {
      const c = client('byid');
      const hex = oidHex();
      await c.insert([
        { _id: oid(hex), kind: 'oid' },
        { _id: hex, kind: 'str24' },
        { _id: 42, kind: 'num' },
        { _id: '42', kind: 'str42' },
        { _id: 'find', kind: 'action-name' },
      ]);
      const kind = async (id: string, query = ''): Promise<Json> => (await expectOk<JsonDoc>(await c.getById(id, query))).data.kind;
      expect(await kind(hex)).toBe('oid');
      expect(await kind(hex, '?id_type=oid')).toBe('oid');
      expect(await kind(hex, '?id_type=string')).toBe('str24');
      expect(await kind('42')).toBe('str42');
      expect(await kind('42', '?id_type=number')).toBe('num');
      expect(await kind('find')).toBe('action-name');
      expect((await expectOk<JsonDoc>(await c.getById(hex))).data).toEqual({ _id: { $oid: hex }, kind: 'oid' });
      await expectFailure(await c.getById('missing'), 404, 'DOC_NOT_FOUND');
      await expectFailure(await c.getById('43', '?id_type=number'), 404, 'DOC_NOT_FOUND');
      await expectErrorIn(await c.getById('abc', '?id_type=number'), 400, ['INVALID_PARAMETER', 'BAD_QUERY']);
      await expectErrorIn(await c.getById('xyz', '?id_type=oid'), 400, ['INVALID_PARAMETER', 'BAD_QUERY']);
      await expectErrorIn(await c.getById('42', '?id_type=float'), 400, ['INVALID_PARAMETER']);
      // Action routes are POST only and by-id routes never POST: neither shadows the other.
      await expectFailure(await c.post('nonsense', {}), 404, 'NOT_FOUND');
    });

    it('PUT replaces (404 when absent, ?upsert=true creates), PATCH updates, DELETE removes', async () => {
      const c = client('rw');
      await c.insert([{ _id: 'p', old: true, keep: 1 }, { _id: 7, n: 1 }]);
      await expectOk(await c.putById('p', { fresh: 'yes' }));
      expect((await expectOk<JsonDoc>(await c.getById('p'))).data).toEqual({ _id: 'p', fresh: 'yes' });
      await expectErrorIn(await c.putById('p', { _id: 'other', x: 1 }), 400, ['BAD_QUERY', 'INVALID_PARAMETER', 'DOC_VALIDATION']);
      await expectErrorIn(await c.putById('p', { $set: { x: 1 } }), 400, ['BAD_QUERY', 'DOC_VALIDATION']);
      await expectFailure(await c.putById('nope', { x: 1 }), 404, 'DOC_NOT_FOUND');
      await expectFailure(await c.getById('nope'), 404, 'DOC_NOT_FOUND');
      await expectOk(await c.putById('nope', { x: 1 }, '?upsert=true'));
      expect((await expectOk<JsonDoc>(await c.getById('nope'))).data).toEqual({ _id: 'nope', x: 1 });
      await expectOk(await c.putById('8', { y: 2 }, '?upsert=true&id_type=number'));
      expect((await c.find({ filter: { _id: 8 } })).docs).toEqual([{ _id: 8, y: 2 }]);

      await expectOk(await c.patchById('7', { $inc: { n: 5 }, $set: { 'sub.x': 1 } }, '?id_type=number'));
      expect((await expectOk<JsonDoc>(await c.getById('7', '?id_type=number'))).data).toEqual({ _id: 7, n: 6, sub: { x: 1 } });
      await expectFailure(await c.patchById('70', { $set: { a: 1 } }, '?id_type=number'), 404, 'DOC_NOT_FOUND');
      await expectFailure(await c.patchById('7', { $frob: { a: 1 } }, '?id_type=number'), 400, 'BAD_QUERY');

      await expectOk(await c.deleteById('7', '?id_type=number'));
      await expectFailure(await c.getById('7', '?id_type=number'), 404, 'DOC_NOT_FOUND');
      expect(idsOf(await c.findAll({ filter: {} }))).toEqual(idsOf([{ _id: 'p' }, { _id: 'nope' }, { _id: 8 }]));
    });
  });

  describe('Extended JSON', () => {
    it('takes relaxed and canonical EJSON in and answers relaxed EJSON, keeping the types for queries', async () => {
      const c = client('ejson');
      const hex = oidHex();
      await c.insert([
        {
          _id: { $oid: hex },
          when: { $date: '2024-02-29T12:34:56.789Z' },
          epoch: { $date: { $numberLong: '1700000000000' } },
          before1970: { $date: { $numberLong: '-315619200000' } },
          big: { $numberLong: '9007199254740993' },
          small: { $numberLong: '12' },
          int: { $numberInt: '5' },
          dbl: { $numberDouble: '2.5' },
          dec: { $numberDecimal: '1.10' },
          bin: { $binary: { base64: 'AQID', subType: '00' } },
        },
      ]);
      const expected = {
        _id: { $oid: hex },
        when: { $date: '2024-02-29T12:34:56.789Z' },
        epoch: { $date: '2023-11-14T22:13:20.000Z' },
        before1970: { $date: { $numberLong: '-315619200000' } },
        big: { $numberLong: '9007199254740993' },
        small: 12,
        int: 5,
        dbl: 2.5,
        dec: { $numberDecimal: '1.10' },
        bin: { $binary: { base64: 'AQID', subType: '00' } },
      };
      expect((await c.find({ filter: {} })).docs).toEqual([expected]);
      expect((await expectOk<JsonDoc>(await c.getById(hex))).data).toEqual(expected);

      const count = async (filter: JsonDoc): Promise<number> => (await c.findAll({ filter })).length;
      expect(await count({ _id: { $oid: hex } })).toBe(1);
      expect(await count({ when: { $gte: { $date: '2024-01-01T00:00:00Z' }, $lt: { $date: '2024-03-01T00:00:00Z' } } })).toBe(1);
      expect(await count({ when: { $gte: '2024-01-01' } })).toBe(0); // a string is not a date (type bracketing)
      expect(await count({ big: { $numberLong: '9007199254740993' } })).toBe(1);
      expect(await count({ big: 9007199254740992 })).toBe(0);
      expect(await count({ small: 12 })).toBe(1); // long and double compare as numbers
      expect(await count({ small: { $type: 'long' }, int: { $type: 'int' }, dbl: { $type: 'double' }, when: { $type: 'date' }, _id: { $type: 'objectId' } })).toBe(1);
      expect(await count({ dec: { $gt: 1.09, $lt: 1.11 } })).toBe(1);
    });
  });

  describe('bad input', () => {
    let c: DocsClient;
    beforeAll(async () => {
      c = client('bad');
      await c.insert([{ _id: 1, s: 'x' }]);
    });

    it('an unknown operator is 400 BAD_QUERY naming it (filter, update, pipeline)', async () => {
      expect((await expectFailure(await c.post('find', { filter: { s: { $foo: 1 } } }), 400, 'BAD_QUERY')).message).toContain('$foo');
      expect((await expectFailure(await c.post('find', { filter: { $bar: [] } }), 400, 'BAD_QUERY')).message).toContain('$bar');
      expect((await expectFailure(await c.post('update', { filter: {}, update: { $frob: { s: 1 } } }), 400, 'BAD_QUERY')).message).toContain('$frob');
      expect((await expectFailure(await c.post('aggregate', { pipeline: [{ $nope: {} }] }), 400, 'BAD_QUERY')).message).toContain('$nope');
      expect((await expectFailure(await c.post('aggregate', { pipeline: [{ $project: { v: { $zork: 1 } } }] }), 400, 'BAD_QUERY')).message).toContain('$zork');
    });

    it('a bad regex is 400', async () => {
      await expectFailure(await c.post('find', { filter: { s: { $regex: '(unclosed' } } }), 400, 'BAD_QUERY');
      await expectFailure(await c.post('find', { filter: { s: { $regex: 'a', $options: 'q' } } }), 400, 'BAD_QUERY');
    });

    it('bad JSON, a body that is not an object, and limit/skip out of range are 400', async () => {
      await expectFailure(await sendJson(docsUrl(server.url, `/${c.coll}/find`), 'POST', '{"filter": '), 400, 'INVALID_JSON');
      await expectFailure(await sendJson(docsUrl(server.url, `/${c.coll}/insert`), 'POST', '{"documents": [{"a": 1,}]}'), 400, 'INVALID_JSON');
      await expectErrorIn(await c.post('find', []), 400, ['INVALID_PARAMETER', 'INVALID_JSON']);
      await expectErrorIn(await c.post('insert', { documents: [5] }), 400, ['INVALID_PARAMETER', 'BAD_QUERY', 'DOC_VALIDATION']);
      await expectFailure(await c.post('find', { filter: {}, limit: 1001 }), 400, 'INVALID_PARAMETER');
      await expectFailure(await c.post('find', { filter: {}, limit: -1 }), 400, 'INVALID_PARAMETER');
      await expectFailure(await c.post('find', { filter: {}, skip: -1 }), 400, 'INVALID_PARAMETER');
      await expectErrorIn(await c.post('find', { filter: {}, cursor: 'not-a-cursor' }), 400, ['CURSOR_INVALID', 'INVALID_PARAMETER']);
      await expectErrorIn(await postAction(server.url, 'system.users', 'insert', { documents: [{}] }), 400, ['INVALID_PARAMETER', 'BAD_QUERY']);
      await expectErrorIn(await postAction(server.url, 'x'.repeat(121), 'insert', { documents: [{}] }), 400, ['INVALID_PARAMETER', 'BAD_QUERY']);
    });

    it('$-prefixed field names are refused where MongoDB refuses them', async () => {
      await expectErrorIn(await c.post('insert', { documents: [{ $bad: 1 }] }), 400, ['BAD_QUERY', 'DOC_VALIDATION']);
      await expectErrorIn(await c.post('update', { filter: { _id: 1 }, update: { $set: { $x: 1 } } }), 400, ['BAD_QUERY', 'DOC_VALIDATION']);
      await expectErrorIn(await c.putById('1', { $where: 'x' }, '?id_type=number'), 400, ['BAD_QUERY', 'DOC_VALIDATION']);
      expect(await c.findAll({ filter: {} })).toEqual([{ _id: 1, s: 'x' }]);
    });

    it('nesting deeper than 100 levels is refused; 99 levels are fine; a 5000-deep filter does not kill a shard', async () => {
      const nest = (depth: number): JsonDoc => {
        let doc: JsonDoc = { leaf: 1 };
        for (let i = 1; i < depth; i++) doc = { d: doc };
        return doc;
      };
      await c.insert([{ _id: 'deep99', v: nest(98) }]);
      await expectErrorIn(await c.post('insert', { documents: [{ _id: 'deep102', v: nest(102) }] }), 400, ['BAD_QUERY', 'DOC_VALIDATION']);
      await expectErrorIn(await c.post('update', { filter: { _id: 'deep99' }, update: { $set: { w: nest(102) } } }), 400, ['BAD_QUERY', 'DOC_VALIDATION']);
      // Built as text: JSON.stringify itself would overflow the stack on it.
      const filter = `${'{"$and":['.repeat(5000)}{"s":"x"}${']}'.repeat(5000)}`;
      await expectErrorIn(await c.post('find', `{"filter":${filter}}`), 400, ['BAD_QUERY', 'INVALID_JSON', 'INVALID_PARAMETER']);
      expect(idsOf(await c.findAll({ filter: {} }))).toEqual(idsOf([{ _id: 1 }, { _id: 'deep99' }]));
      await c.deleteWhere({ _id: 'deep99' });
    });

    it('a document over 16 MiB is 413 DOC_TOO_LARGE, on insert and when an update grows it past the limit', async () => {
      await expectFailure(await c.post('insert', { documents: [{ _id: 'huge', s: 'x'.repeat(16 * 1024 * 1024 + 16) }] }), 413, 'DOC_TOO_LARGE');
      const nine = 'y'.repeat(9 * 1024 * 1024);
      await c.insert([{ _id: 'big', a: nine }]);
      await expectFailure(await c.post('update', { filter: { _id: 'big' }, update: { $set: { b: nine } } }), 413, 'DOC_TOO_LARGE');
      const [big] = (await c.find({ filter: { _id: 'big' }, projection: { b: 1 } })).docs;
      expect(big).toEqual({ _id: 'big' });
      await c.deleteWhere({ _id: 'big' });
    });

    it('after all of it every shard still serves', async () => {
      const ready = await expectOk<{ shards: { state?: string }[] }>(await fetch(`${server.url}/health/ready`));
      expect(ready.data.shards).toHaveLength(shards);
      await c.insert([{ _id: 'after', s: 'y' }]);
      expect(idsOf(await c.findAll({ filter: {} }))).toEqual(idsOf([{ _id: 1 }, { _id: 'after' }]));
    });
  });
});
