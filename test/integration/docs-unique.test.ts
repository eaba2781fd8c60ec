// A unique index is unique across the whole collection, not per shard, on a
// real 2-shard server: many clients racing to insert one value on documents
// whose _ids live on different shards — exactly one wins, every other gets
// 409 DUPLICATE_KEY; updates, replaces, upserts and find_and_modify into a
// taken value are refused and change nothing, racing updates into one value
// leave exactly one holder, moving or deleting the holder frees the value,
// numbers of different types are one value, and building a unique index over
// existing duplicates is refused.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOk, waitUntil } from '../helpers/http-client.js';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';
import { DocsClient, collName, indexesOf, expectFailure, type JsonDoc } from '../helpers/docs-client.js';
import { idsAcrossShards, idsPerShard, shardOfId } from '../helpers/docs-placement.js';

afterAll(cleanup);

const SHARDS = 2;
const RACERS = 16;
const ROUNDS = 8;

let server: ServerProcess;
beforeAll(async () => {
  server = await startServer({ shards: SHARDS, fsync: 'batch' });
});

async function uniqueCollection(tag: string): Promise<DocsClient> {
  const c = new DocsClient(server.url, collName(tag));
  await c.insert([{ _id: 'seed', email: 'seed@x' }]);
  await expectOk(await c.createIndex({ name: 'email_u', keys: { email: 1 }, unique: true }));
  return c;
}

/** The status and error code of a response (code null on success). */
async function outcome(response: Response): Promise<[number, string | null]> {
  const body = (await response.json()) as { success: boolean; error?: { code: string } };
  return [response.status, body.success ? null : (body.error?.code ?? '?')];
}

describe('unique index across shards', () => {
  it(`racing inserts of one value from ${RACERS} clients on different shards: exactly one succeeds, the rest 409 DUPLICATE_KEY`, async () => {
    const c = await uniqueCollection('urace');
    for (let round = 0; round < ROUNDS; round++) {
      const ids = idsAcrossShards(`r${round}-`, SHARDS, RACERS);
      expect(new Set(ids.map((id) => shardOfId(id, SHARDS))).size).toBe(SHARDS);
      const value = `v${round}@x`;
      const results = await Promise.all(ids.map(async (id) => outcome(await c.post('insert', { documents: [{ _id: id, email: value } satisfies JsonDoc] }))));
      const winners = ids.filter((_, i) => results[i][0] === 200);
      expect(winners, `round ${round}: ${JSON.stringify(results)}`).toHaveLength(1);
      expect(results.filter(([status, code]) => status === 409 && code === 'DUPLICATE_KEY')).toHaveLength(RACERS - 1);
      expect((await c.findAll({ filter: { email: value } })).map((d) => d._id)).toEqual(winners);
    }
    expect(await c.findAll({ filter: {} })).toHaveLength(ROUNDS + 1);
  });

  it('an update, replace, upsert or find_and_modify into a taken value is refused; a freed value can be taken', async () => {
    const c = await uniqueCollection('uupd');
    const [[a], [b]] = idsPerShard('u-', SHARDS, 1);
    await c.insert([{ _id: a, email: 'a@x' }, { _id: b, email: 'b@x' }]);

    await expectFailure(await c.post('update', { filter: { _id: b }, update: { $set: { email: 'a@x' } } }), 409, 'DUPLICATE_KEY');
    await expectFailure(await c.putById(b, { email: 'a@x', replaced: true }), 409, 'DUPLICATE_KEY');
    await expectFailure(await c.patchById(b, { $set: { email: 'a@x' } }), 409, 'DUPLICATE_KEY');
    await expectFailure(await c.post('find_and_modify', { filter: { _id: b }, update: { $set: { email: 'a@x' } }, return: 'after' }), 409, 'DUPLICATE_KEY');
    await expectFailure(await c.post('update', { filter: { _id: 'new-one' }, update: { $set: { email: 'a@x' } }, upsert: true }), 409, 'DUPLICATE_KEY');
    await expectFailure(await c.putById('new-two', { email: 'a@x' }, '?upsert=true'), 409, 'DUPLICATE_KEY');
    expect(await c.findAll({ filter: { _id: { $in: [a, b, 'new-one', 'new-two'] } }, sort: { email: 1 } })).toEqual([
      { _id: a, email: 'a@x' },
      { _id: b, email: 'b@x' },
    ]);

    // Moving the holder away frees the value; the other document may then take it.
    await c.update({ filter: { _id: a }, update: { $set: { email: 'c@x' } } });
    expect(await c.update({ filter: { _id: b }, update: { $set: { email: 'a@x' } } })).toMatchObject({ matched: 1, modified: 1 });
    // Deleting the holder frees it too.
    await expectOk(await c.deleteById(b));
    await c.insert([{ _id: 'third', email: 'a@x' }]);
    expect(await c.findAll({ filter: { email: { $in: ['a@x', 'b@x', 'c@x'] } }, sort: { email: 1 } })).toEqual([
      { _id: 'third', email: 'a@x' },
      { _id: a, email: 'c@x' },
    ]);
    // Setting a document's own value again is no conflict.
    expect(await c.update({ filter: { _id: a }, update: { $set: { email: 'c@x', n: 1 } } })).toMatchObject({ matched: 1, modified: 1 });
  });

  it(`racing updates of ${RACERS} documents on different shards into one value leave exactly one holder`, async () => {
    const c = await uniqueCollection('uupdrace');
    const ids = idsAcrossShards('ur-', SHARDS, RACERS);
    await c.insert(ids.map((id) => ({ _id: id, email: `${id}@x` })));
    const results = await Promise.all(ids.map(async (id) => outcome(await c.post('update', { filter: { _id: id }, update: { $set: { email: 'prize@x' } } }))));
    const winners = ids.filter((_, i) => results[i][0] === 200);
    expect(winners, JSON.stringify(results)).toHaveLength(1);
    expect(results.filter(([status, code]) => status === 409 && code === 'DUPLICATE_KEY')).toHaveLength(RACERS - 1);
    const holders = await c.findAll({ filter: { email: 'prize@x' } });
    expect(holders.map((d) => d._id)).toEqual(winners);
    for (const id of ids.filter((id) => id !== winners[0])) expect((await expectOk<JsonDoc>(await c.getById(id))).data).toEqual({ _id: id, email: `${id}@x` });
  });

  it('two transactions inserting one value on different shards: one commits, the other is refused with a readable 409', async () => {
    const c = await uniqueCollection('utxn');
    const [[a], [b]] = idsPerShard('ut-', SHARDS, 1);
    const begin = async (): Promise<string> => (await expectOk<{ id: string }>(await fetch(`${server.url}/api/v1/txn`, { method: 'POST' }))).data.id;
    const [t1, t2] = [await begin(), await begin()];
    await c.inTxn(t1).insert([{ _id: a, email: 'both@x' }]);
    await c.inTxn(t2).insert([{ _id: b, email: 'both@x' }]);
    await expectOk(await fetch(`${server.url}/api/v1/txn/${t1}/commit`, { method: 'POST' }));
    const second = await fetch(`${server.url}/api/v1/txn/${t2}/commit`, { method: 'POST' });
    expect(second.status).toBe(409);
    const text = await second.text();
    const error = (JSON.parse(text) as { error: { code: string; message: string; key?: string } }).error;
    expect(['TXN_CONFLICT', 'DUPLICATE_KEY']).toContain(error.code);
    // The error is for a person: no raw internal key bytes (U+FFFD, control characters).
    expect(text, 'the 409 names what collided in readable text').not.toMatch(/\ufffd|\\u00[01][0-9a-f]/);
    expect(await c.findAll({ filter: { email: 'both@x' } })).toEqual([{ _id: a, email: 'both@x' }]);
  });

  it('numbers of different types are one value (5, 5.0, NumberLong 5); "5" is another', async () => {
    const c = await uniqueCollection('unum');
    await c.insert([{ _id: 'n1', email: 5 }]);
    await expectFailure(await c.post('insert', { documents: [{ _id: 'n2', email: { $numberLong: '5' } }] }), 409, 'DUPLICATE_KEY');
    await expectFailure(await c.post('insert', { documents: [{ _id: 'n3', email: 5.0 }] }), 409, 'DUPLICATE_KEY');
    await c.insert([{ _id: 'n4', email: '5' }]);
  });

  it('a missing field is null to a unique index, as in MongoDB: one document without the field, not two', async () => {
    const c = await uniqueCollection('unull');
    const [[a], [b]] = idsPerShard('un-', SHARDS, 1);
    await c.insert([{ _id: a, other: 1 }]);
    await expectFailure(await c.post('insert', { documents: [{ _id: b, other: 2 }] }), 409, 'DUPLICATE_KEY');
    await expectFailure(await c.post('insert', { documents: [{ _id: b, email: null }] }), 409, 'DUPLICATE_KEY');
    await c.insert([{ _id: b, email: 'b@x' }]);
    await expectFailure(await c.post('update', { filter: { _id: b }, update: { $unset: { email: '' } } }), 409, 'DUPLICATE_KEY');
  });

  it('building a unique index over existing duplicates is refused, and no index is left behind', async () => {
    const c = new DocsClient(server.url, collName('ubuild'));
    const [[a], [b]] = idsPerShard('ub-', SHARDS, 1);
    await c.insert([{ _id: a, email: 'same@x' }, { _id: b, email: 'same@x' }, { _id: 'other', email: 'other@x' }]);
    const response = await c.createIndex({ name: 'email_u', keys: { email: 1 }, unique: true });
    if (response.status === 200) {
      // A background build may accept the request and fail later: it must not end up usable.
      await response.text();
      await waitUntil(async () => ((await indexesOf(c)).some((i) => i.name === 'email_u') ? undefined : true), { timeoutMs: 10_000, what: 'the failed unique build to be removed' });
    } else await expectFailure(response, 409, 'DUPLICATE_KEY');
    // Still not unique-constrained: another duplicate goes in.
    await c.insert([{ _id: 'fourth', email: 'same@x' }]);
  });
});
