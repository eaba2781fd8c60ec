// Documents in transactions (the Mantis-Txn header on document routes) on a
// real 2-shard server: one transaction inserts a document and writes a KV key
// on the other shard; rolled back, neither is visible; committed, both are —
// at every isolation level. Uncommitted inserts, updates and deletes are
// invisible to plain readers and to other transactions, visible to their own
// transaction; a multi update is all-or-nothing; two transactions updating
// one document cannot both commit at snapshot isolation.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSlotMap, shardOfKey } from '../../shared/slot.js';
import { expectOk } from '../helpers/http-client.js';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';
import { DocsClient, collName, idsOf, expectFailure, type JsonDoc } from '../helpers/docs-client.js';
import { idsPerShard, shardOfId } from '../helpers/docs-placement.js';
import { ISOLATION_LEVELS, kvFetch, postBegin, postCommit, postRollback, type BeginData, type Isolation } from '../helpers/txn-client.js';

afterAll(cleanup);

const SHARDS = 2;
const slots = buildSlotMap(SHARDS);

let server: ServerProcess;
beforeAll(async () => {
  server = await startServer({ shards: SHARDS, fsync: 'batch' });
});

async function begin(isolation: Isolation = 'snapshot'): Promise<string> {
  return (await expectOk<BeginData>(await postBegin(server.url, { isolation }))).data.id;
}

/** A KV key on `shard`, under `prefix`. */
function kvKeyOn(shard: number, prefix: string): string {
  for (let n = 0; ; n++) {
    const key = `${prefix}/${n}`;
    if (shardOfKey(slots, Buffer.from(key, 'utf8')) === shard) return key;
  }
}

async function kvValue(key: string, txn: string | null = null): Promise<string | null> {
  const response = await kvFetch(server.url, txn, 'GET', key);
  if (response.status === 404) {
    await expectFailure(response, 404, 'KEY_NOT_FOUND');
    return null;
  }
  expect(response.status).toBe(200);
  return response.text();
}

async function visibleIds(c: DocsClient, filter: JsonDoc = {}): Promise<string[]> {
  return idsOf(await c.findAll({ filter }));
}

describe.each(ISOLATION_LEVELS)('a document and a KV key in one transaction (%s)', (isolation) => {
  it.each(['rollback', 'commit'] as const)('%s: neither is visible before the end, then neither or both', async (end) => {
    const c = new DocsClient(server.url, collName(`tx_${end}`));
    await c.insert([{ _id: 'existing' }]);
    const [[docId]] = idsPerShard(`${isolation}-${end}-`, SHARDS, 1);
    const key = kvKeyOn(1 - shardOfId(docId, SHARDS), `docs-txn-${isolation}-${end}-${c.coll}`);

    const txn = await begin(isolation);
    const inTxn = c.inTxn(txn);
    expect(await inTxn.insert([{ _id: docId, v: 1 }])).toEqual([docId]);
    const put = await kvFetch(server.url, txn, 'PUT', key, 'paired');
    await expectOk(put);

    // Its own transaction sees both; nobody else sees either.
    expect(await visibleIds(inTxn)).toEqual(idsOf([{ _id: 'existing' }, { _id: docId }]));
    expect((await expectOk<JsonDoc>(await inTxn.getById(docId))).data).toEqual({ _id: docId, v: 1 });
    expect(await kvValue(key, txn)).toBe('paired');
    expect(await visibleIds(c)).toEqual(idsOf([{ _id: 'existing' }]));
    await expectFailure(await c.getById(docId), 404, 'DOC_NOT_FOUND');
    expect(await kvValue(key)).toBeNull();

    if (end === 'rollback') {
      await expectOk(await postRollback(server.url, txn));
      expect(await visibleIds(c)).toEqual(idsOf([{ _id: 'existing' }]));
      await expectFailure(await c.getById(docId), 404, 'DOC_NOT_FOUND');
      expect(await kvValue(key)).toBeNull();
    } else {
      await expectOk(await postCommit(server.url, txn));
      expect((await expectOk<JsonDoc>(await c.getById(docId))).data).toEqual({ _id: docId, v: 1 });
      expect(await kvValue(key)).toBe('paired');
    }
  });
});

describe('isolation', () => {
  it('uncommitted inserts, updates and deletes are invisible to plain readers and other transactions; a snapshot keeps its view after the commit', async () => {
    const c = new DocsClient(server.url, collName('tx_iso'));
    const [[a, gone], [b]] = idsPerShard('iso-', SHARDS, 2);
    await c.insert([{ _id: a, v: 1 }, { _id: b, v: 1 }, { _id: gone, v: 1 }]);
    const writer = await begin('snapshot');
    const reader = await begin('snapshot');
    const w = c.inTxn(writer);
    const r = c.inTxn(reader);
    await w.insert([{ _id: 'fresh', v: 1 }]);
    expect(await w.update({ filter: {}, update: { $inc: { v: 10 } }, multi: true })).toMatchObject({ matched: 4, modified: 4 });
    expect(await w.deleteWhere({ _id: gone })).toBe(1);

    const before = [{ _id: a, v: 1 }, { _id: b, v: 1 }, { _id: gone, v: 1 }];
    const sortById = { sort: { _id: 1 } };
    const sorted = (docs: JsonDoc[]): JsonDoc[] => [...docs].sort((x, y) => String(x._id).localeCompare(String(y._id)));
    expect(await w.findAll({ filter: {}, ...sortById })).toEqual(sorted([{ _id: a, v: 11 }, { _id: b, v: 11 }, { _id: 'fresh', v: 11 }]));
    expect(await c.findAll({ filter: {}, ...sortById })).toEqual(sorted(before));
    expect(await r.findAll({ filter: {}, ...sortById })).toEqual(sorted(before));
    expect((await c.find({ filter: { v: { $gt: 5 } } })).docs).toEqual([]);

    await expectOk(await postCommit(server.url, writer));
    const after = sorted([{ _id: a, v: 11 }, { _id: b, v: 11 }, { _id: 'fresh', v: 11 }]);
    expect(await c.findAll({ filter: {}, ...sortById })).toEqual(after);
    // The reader's snapshot predates the commit.
    expect(await r.findAll({ filter: {}, ...sortById })).toEqual(sorted(before));
    await expectOk(await postRollback(server.url, reader));
  });

  it('a multi update inside a transaction is all-or-nothing across shards', async () => {
    const c = new DocsClient(server.url, collName('tx_multi'));
    const ids = idsPerShard('m-', SHARDS, 5).flat();
    await c.insert(ids.map((id) => ({ _id: id, n: 0 })));
    const rolled = await begin('serializable');
    expect(await c.inTxn(rolled).update({ filter: {}, update: { $inc: { n: 1 } }, multi: true })).toMatchObject({ matched: 10, modified: 10 });
    await expectOk(await postRollback(server.url, rolled));
    expect((await c.findAll({ filter: { n: 0 } })).length).toBe(10);
    const committed = await begin('serializable');
    await c.inTxn(committed).update({ filter: {}, update: { $inc: { n: 1 } }, multi: true });
    await expectOk(await postCommit(server.url, committed));
    expect((await c.findAll({ filter: { n: 1 } })).length).toBe(10);
  });

  it('two transactions updating one document cannot both commit (snapshot): the second gets 409 TXN_CONFLICT', async () => {
    const c = new DocsClient(server.url, collName('tx_conf'));
    await c.insert([{ _id: 'z', v: 0 }]);
    const t1 = await begin('snapshot');
    const t2 = await begin('snapshot');
    await c.inTxn(t1).update({ filter: { _id: 'z' }, update: { $set: { v: 1 } } });
    await c.inTxn(t2).update({ filter: { _id: 'z' }, update: { $set: { v: 2 } } });
    await expectOk(await postCommit(server.url, t1));
    await expectFailure(await postCommit(server.url, t2), 409, 'TXN_CONFLICT');
    expect(await c.findAll({ filter: {} })).toEqual([{ _id: 'z', v: 1 }]);
  });

  it('an insert inside a transaction that meets a committed duplicate _id is refused', async () => {
    const c = new DocsClient(server.url, collName('tx_dup'));
    await c.insert([{ _id: 'd' }]);
    const txn = await begin('snapshot');
    await expectFailure(await c.inTxn(txn).post('insert', { documents: [{ _id: 'd', again: true }] }), 409, 'DUPLICATE_KEY');
    await postRollback(server.url, txn).then((r) => r.text());
    expect(await c.findAll({ filter: {} })).toEqual([{ _id: 'd' }]);
  });
});
