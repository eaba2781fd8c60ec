// Writes by a filter that names no _id on a collection with a unique index,
// past the 10,000 documents a transaction may read (a real 2-shard server):
// each write finds its candidates with the plain, index-backed find and
// changes them by _id in the router's own transactions, so a delete and an
// update matching a few of 12,000 documents, single-document updates,
// replacements and find_and_modify, and a multi update of every document
// succeed, and the unique index stays exact afterwards: every value a
// document holds is taken (another insert of it is 409), every value given
// up is free again, the index has one entry per document and a query by
// value through it finds exactly its holder. Racing upserts by the unique
// field end with one document, updated by every racer but the one that
// inserted it.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOk } from '../helpers/http-client.js';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';
import { DocsClient, collName, explain, explainTotals, expectFailure, indexesOf, type JsonDoc } from '../helpers/docs-client.js';

afterAll(cleanup);

const SHARDS = 2;
const DOCS = 12_000;
const INDEX = 'email_u';
const RACERS = 8;

let server: ServerProcess;
beforeAll(async () => {
  server = await startServer({ shards: SHARDS, fsync: 'batch' });
});

const idOf = (i: number): string => `d${String(i).padStart(5, '0')}`;
const emailOf = (i: number): string => `u${i}@x`;

/** Exactly `ids` hold these values: a query by value goes through the unique index and finds its holder, examining one key. */
async function expectHolders(c: DocsClient, holders: ReadonlyMap<string, string>): Promise<void> {
  for (const [email, id] of holders) {
    const plans = await explain(c, { filter: { email } });
    expect(plans.every((p) => p.plan === 'IXSCAN' && p.index === INDEX), JSON.stringify(plans)).toBe(true);
    expect(explainTotals(plans).keysExamined, `index keys for ${email}`).toBe(1);
    expect((await c.findAll({ filter: { email } })).map((d) => d._id)).toEqual([id]);
  }
}

/** Each value is free: a new document may take it (and is removed again). */
async function expectFree(c: DocsClient, emails: readonly string[]): Promise<void> {
  for (const email of emails) {
    const [id] = await c.insert([{ email, probe: true }]);
    expect(await c.deleteWhere({ email, probe: true })).toBe(1);
    expect(id).not.toBeNull();
  }
}

/** Each value is taken: inserting another document with it is 409 DUPLICATE_KEY. */
async function expectTaken(c: DocsClient, emails: readonly string[]): Promise<void> {
  for (const email of emails) await expectFailure(await c.post('insert', { documents: [{ _id: `probe-${email}`, email }] }), 409, 'DUPLICATE_KEY');
}

/** The index holds one entry per document, and every document's value is what `expected` says. */
async function expectIndexExact(c: DocsClient, expected: ReadonlyMap<string, string>): Promise<void> {
  const all = await c.findAll({ filter: {}, projection: { email: 1 } });
  expect(all).toHaveLength(expected.size);
  const wrong = all.filter((d) => expected.get(d._id as string) !== d.email);
  expect(wrong.slice(0, 5), 'documents whose value is not the expected one').toEqual([]);
  const index = (await indexesOf(c)).find((i) => i.name === INDEX);
  expect(index?.entries, 'local index entries').toBe(expected.size);
}

describe(`writes by a non-_id filter on a unique-indexed collection of ${DOCS} documents`, () => {
  it('delete, update, replace and find_and_modify of a few, then a multi update of all, keep the unique index exact', async () => {
    const c = new DocsClient(server.url, collName('uscale'));
    const docs: JsonDoc[] = Array.from({ length: DOCS }, (_, i) => ({ _id: idOf(i), email: emailOf(i), n: i, grp: i % 1000 === 7 ? 'few' : 'many' }));
    await c.insertMany(docs);
    await expectOk(await c.createIndex({ name: INDEX, keys: { email: 1 }, unique: true }));
    const expected = new Map(docs.map((d) => [d._id as string, d.email as string]));

    // A delete matching a few (through the unique index), and one matching a few through no index.
    expect(await c.deleteWhere({ email: { $in: [emailOf(10), emailOf(20), emailOf(30)] } })).toBe(3);
    expect(await c.deleteWhere({ grp: 'few', n: { $lt: 3000 } })).toBe(3); // 7, 1007, 2007
    for (const i of [10, 20, 30, 7, 1007, 2007]) expected.delete(idOf(i));
    await expectFree(c, [emailOf(10), emailOf(7), emailOf(2007)]);

    // A multi update matching the rest of the few moves their values; the old ones are freed.
    const few = [3007, 4007, 5007, 6007, 7007, 8007, 9007, 10007, 11007];
    expect(await c.update({ filter: { grp: 'few' }, update: [{ $set: { email: { $concat: ['few-', '$email'] } } }], multi: true })).toMatchObject({ matched: few.length, modified: few.length });
    for (const i of few) expected.set(idOf(i), `few-${emailOf(i)}`);
    await expectTaken(c, few.map((i) => `few-${emailOf(i)}`));
    await expectFree(c, [emailOf(3007), emailOf(11007)]);

    // Single-document writes by the unique field: update, replacement, find_and_modify; a taken value is refused.
    expect(await c.update({ filter: { email: emailOf(100) }, update: { $set: { email: 'renamed@x' } } })).toMatchObject({ matched: 1, modified: 1 });
    expected.set(idOf(100), 'renamed@x');
    expect(await c.update({ filter: { email: emailOf(101) }, update: { email: 'replaced@x', n: -1 } })).toMatchObject({ matched: 1, modified: 1 });
    expected.set(idOf(101), 'replaced@x');
    expect((await c.getById(idOf(101)).then((r) => expectOk<JsonDoc>(r))).data).toEqual({ _id: idOf(101), email: 'replaced@x', n: -1 });
    const taken = await c.post('find_and_modify', { filter: { n: { $gte: 11990 } }, sort: { n: -1 }, update: { $set: { email: 'renamed@x' } } });
    await expectFailure(taken, 409, 'DUPLICATE_KEY');
    const last = await expectOk<JsonDoc>(await c.post('find_and_modify', { filter: { n: { $gte: 11990 } }, sort: { n: -1 }, update: { $set: { email: 'last@x' } }, return: 'after' }));
    expect(last.data).toMatchObject({ _id: idOf(DOCS - 1), email: 'last@x' });
    expected.set(idOf(DOCS - 1), 'last@x');
    await expectFailure(await c.post('update', { filter: { email: emailOf(200) }, update: { $set: { email: emailOf(201) } } }), 409, 'DUPLICATE_KEY');
    await expectTaken(c, ['renamed@x', 'replaced@x', 'last@x', emailOf(200), emailOf(201)]);
    await expectFree(c, [emailOf(100), emailOf(101), emailOf(DOCS - 1)]);
    await expectIndexExact(c, expected);

    // A multi update of every document rewrites every value.
    const everything = await c.update({ filter: { n: { $exists: true } }, update: [{ $set: { email: { $concat: ['all-', '$email'] } } }], multi: true });
    expect(everything).toMatchObject({ matched: expected.size, modified: expected.size });
    for (const [id, email] of expected) expected.set(id, `all-${email}`);
    await expectIndexExact(c, expected);
    await expectHolders(c, new Map([[`all-${emailOf(5000)}`, idOf(5000)], ['all-renamed@x', idOf(100)], [`all-few-${emailOf(9007)}`, idOf(9007)]]));
    await expectTaken(c, [`all-${emailOf(0)}`, `all-${emailOf(11998)}`, 'all-last@x']);
    await expectFree(c, [emailOf(0), emailOf(5000), 'renamed@x', `few-${emailOf(9007)}`]);
    expect(await c.findAll({ filter: { email: emailOf(5000) } })).toEqual([]);
  });

  it(`${RACERS} racing upserts by the unique field: one inserts, the others find its document and update it`, async () => {
    const c = new DocsClient(server.url, collName('uupsert'));
    await c.insert([{ _id: 'seed', email: 'seed@x' }]);
    await expectOk(await c.createIndex({ name: INDEX, keys: { email: 1 }, unique: true }));
    const results = await Promise.all(Array.from({ length: RACERS }, () => c.update({ filter: { email: 'race@x' }, update: { $inc: { hits: 1 } }, upsert: true })));
    const inserted = results.filter((r) => r.upserted_id !== null && r.upserted_id !== undefined);
    expect(inserted, JSON.stringify(results)).toHaveLength(1);
    expect(results.filter((r) => r.matched === 1 && r.modified === 1)).toHaveLength(RACERS - 1);
    expect(await c.findAll({ filter: { email: 'race@x' } })).toEqual([{ _id: inserted[0].upserted_id, email: 'race@x', hits: RACERS }]);
  });
});
