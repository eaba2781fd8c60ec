// Table rows in transactions (the Mantis-Txn header on the table row routes)
// on a real 2-shard server: a transaction's inserts, updates and deletes are
// visible to itself and to nobody else until it commits, gone on rollback, and
// atomic with its KV and document writes; two transactions updating one row
// cannot both commit; a transaction reads the table as of its snapshot
// (aggregates included) whatever other clients, the mover or a compaction do
// meanwhile; a transaction's update or delete of rows the mover moved into a
// segment (or a compaction rewrote) between its read and its commit either
// applies exactly or aborts TXN_CONFLICT — never a duplicate, a lost delete or
// a resurrected row; index answers equal a scan's after commits; DDL is
// refused inside a transaction.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSlotMap, shardOfKey } from '../../shared/slot.js';
import { expectOk } from '../helpers/http-client.js';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';
import { DocsClient, collName, idsOf } from '../helpers/docs-client.js';
import { expectTableError, send, tableName, TablesClient, type Json, type JsonRow, type QueryAnswer } from '../helpers/tables-client.js';
import { kvFetch, postBegin, postCommit, postRollback, type BeginData, type Isolation } from '../helpers/txn-client.js';

afterAll(cleanup);

const SHARDS = 2;
const slots = buildSlotMap(SHARDS);

let server: ServerProcess;
beforeAll(async () => {
  server = await startServer({ shards: SHARDS, fsync: 'batch' });
});

const COLUMNS: JsonRow[] = [
  { name: 'id', type: 'int64' },
  { name: 'grp', type: 'string' },
  { name: 'v', type: 'int64' },
];

async function begin(isolation: Isolation = 'snapshot'): Promise<string> {
  return (await expectOk<BeginData>(await postBegin(server.url, { isolation, timeout_ms: 60_000 }))).data.id;
}

async function commit(txn: string): Promise<void> {
  await expectOk(await postCommit(server.url, txn));
}

/** The table routes of one table, inside transaction `txn` (or outside any when null). */
class TxnTable {
  constructor(
    readonly t: TablesClient,
    readonly txn: string | null,
  ) {}

  private headers(): Record<string, string> {
    return this.txn === null ? {} : { 'Mantis-Txn': this.txn };
  }

  post(action: string, body: unknown): Promise<Response> {
    return send(this.t.url(`/${action}`), 'POST', body, this.headers());
  }

  async insert(rows: JsonRow[], extra: JsonRow = {}): Promise<{ inserted: number; replaced: number; ignored: number }> {
    return (await expectOk<{ inserted: number; replaced: number; ignored: number }>(await this.post('rows', { rows, ...extra }))).data;
  }

  async update(where: unknown, set: JsonRow): Promise<number> {
    return (await expectOk<{ affected: number }>(await this.post('update', { where, set }))).data.affected;
  }

  async delete(where: unknown): Promise<number> {
    return (await expectOk<{ affected: number }>(await this.post('delete', { where }))).data.affected;
  }

  async query(body: Record<string, unknown>): Promise<QueryAnswer> {
    return (await expectOk<QueryAnswer>(await this.post('query', body))).data;
  }

  /** Every row as [id, grp, v], in key order (fails on a repeated id). */
  async rows(): Promise<Json[][]> {
    const rows = (await this.query({ columns: ['id', 'grp', 'v'], order_by: ['id'], limit: 100_000 })).rows;
    const ids = rows.map((r) => r[0]);
    expect(new Set(ids).size, 'a row served twice').toBe(ids.length);
    return rows;
  }

  async count(where: unknown = null): Promise<number> {
    const answer = await this.query({ aggregates: [{ fn: 'count', as: 'n' }], ...(where === null ? {} : { where }) });
    return Number(answer.rows[0]?.[0] ?? 0);
  }

  async sum(): Promise<number> {
    const answer = await this.query({ aggregates: [{ fn: 'sum', column: 'v', as: 's' }] });
    return Number(answer.rows[0]?.[0] ?? 0);
  }

  async get(id: number): Promise<JsonRow | null> {
    const response = await send(this.t.url(`/rows/${id}`), 'GET', undefined, this.headers());
    if (response.status === 404) {
      await expectTableError(response, 404, 'KEY_NOT_FOUND');
      return null;
    }
    return (await expectOk<JsonRow>(response)).data;
  }
}

async function table(tag: string, extraColumns: JsonRow[] = []): Promise<TablesClient> {
  const t = new TablesClient(server.url, tableName(tag));
  await t.createOk([...COLUMNS, ...extraColumns], ['id']);
  return t;
}

function rowsOf(ids: readonly number[], v: (id: number) => number = (id) => id): JsonRow[] {
  return ids.map((id) => ({ id, grp: `g${id % 3}`, v: v(id) }));
}

/** A where condition. */
const W = (col: string, op: string, value?: Json): JsonRow => (value === undefined ? { col, op } : { col, op, value });

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

/** A KV key on `shard`, under `prefix`. */
function kvKeyOn(shard: number, prefix: string): string {
  for (let n = 0; ; n++) {
    const key = `${prefix}/${n}`;
    if (shardOfKey(slots, Buffer.from(key, 'utf8')) === shard) return key;
  }
}

async function conflictOrOk(response: Response): Promise<'committed' | 'conflict'> {
  const text = await response.text();
  if (response.status === 200) return 'committed';
  expect({ status: response.status, text }).toEqual({ status: 409, text: expect.stringContaining('"code":"TXN_CONFLICT"') });
  return 'conflict';
}

describe('table rows in a transaction', () => {
  it('own writes are visible inside and invisible outside until commit; a rollback drops them', async () => {
    const t = await table('own');
    const plain = new TxnTable(t, null);
    await plain.insert(rowsOf(range(0, 20)));
    await t.move(); // half of what follows meets segment rows
    await plain.insert(rowsOf(range(20, 40)));

    for (const end of ['rollback', 'commit'] as const) {
      const before = await plain.rows();
      const txn = await begin();
      const inside = new TxnTable(t, txn);
      expect((await inside.insert(rowsOf([100, 101]))).inserted).toBe(2);
      expect(await inside.update(W('id', 'in', [5, 25, 100]), { v: -1 })).toBe(3);
      expect(await inside.delete(W('id', 'in', [6, 26, 101]))).toBe(3);
      // on_conflict inside the transaction sees its own rows and the snapshot's
      expect(await inside.insert(rowsOf([7, 27, 100], () => 500), { on_conflict: 'replace' })).toEqual({ inserted: 0, replaced: 3, ignored: 0 });
      expect(await inside.insert(rowsOf([8, 102], () => 600), { on_conflict: 'ignore' })).toEqual({ inserted: 1, replaced: 0, ignored: 1 });
      await expectTableError(await inside.post('rows', { rows: rowsOf([9]) }), 409, 'DUPLICATE_KEY');
      await expectTableError(await inside.post('rows', { rows: rowsOf([102]) }), 409, 'DUPLICATE_KEY');

      const expected = new Map<number, Json[]>(before.map((r) => [r[0] as number, r]));
      expected.set(100, [100, 'g1', 500]);
      expected.set(5, [5, 'g2', -1]);
      expected.set(25, [25, 'g1', -1]);
      expected.delete(6);
      expected.delete(26);
      expected.set(7, [7, 'g1', 500]);
      expected.set(27, [27, 'g0', 500]);
      expected.set(102, [102, 'g0', 600]);
      const want = [...expected.values()].sort((a, b) => (a[0] as number) - (b[0] as number));
      expect(await inside.rows()).toEqual(want);
      expect(await inside.count()).toBe(want.length);
      expect(await inside.count(W('grp', '=', 'g0'))).toBe(want.filter((r) => r[1] === 'g0').length);
      expect(await inside.sum()).toBe(want.reduce((s, r) => s + (r[2] as number), 0));
      expect(await inside.get(100)).toEqual({ id: 100, grp: 'g1', v: 500 });
      expect(await inside.get(6)).toBeNull();
      expect(await inside.get(25)).toEqual({ id: 25, grp: 'g1', v: -1 });
      // by primary key (the PK plan) inside the transaction
      expect((await inside.query({ columns: ['id', 'v'], where: W('id', 'in', [5, 6, 100]) })).rows).toEqual([[5, -1], [100, 500]]);

      // Nobody else sees any of it.
      expect(await plain.rows()).toEqual(before);
      expect(await plain.get(100)).toBeNull();
      const other = await begin();
      expect(await new TxnTable(t, other).rows()).toEqual(before);
      await commit(other);

      if (end === 'rollback') {
        await expectOk(await postRollback(server.url, txn));
        expect(await plain.rows()).toEqual(before);
      } else {
        await commit(txn);
        expect(await plain.rows()).toEqual(want);
        expect(await plain.count()).toBe(want.length);
        expect(await plain.get(100)).toEqual({ id: 100, grp: 'g1', v: 500 });
        expect(await plain.get(6)).toBeNull();
        // the committed rows survive the mover (delete marks of segment rows, delta rows)
        await t.move();
        expect(await plain.rows()).toEqual(want);
      }
    }
  });

  it.each(['rollback', 'commit'] as const)('a KV key, a document and table rows on both shards in one transaction: %s → none or all', async (end) => {
    const t = await table(`atomic_${end}`);
    const plain = new TxnTable(t, null);
    await plain.insert(rowsOf(range(0, 10)));
    const docs = new DocsClient(server.url, collName(`tbl_txn_${end}`));
    await docs.insert([{ _id: 'existing' }]);
    const key = kvKeyOn(1, `tables-txn-${end}-${t.name}`);

    const txn = await begin();
    const inside = new TxnTable(t, txn);
    await inside.insert(rowsOf(range(10, 30))); // rows of both shards
    await inside.delete(W('id', 'in', [1, 2, 3]));
    await expectOk(await kvFetch(server.url, txn, 'PUT', key, 'with-rows'));
    await docs.inTxn(txn).insert([{ _id: 'new', n: 1 }]);

    const before = await plain.rows();
    expect(before.map((r) => r[0])).toEqual(range(0, 10));
    if (end === 'rollback') await expectOk(await postRollback(server.url, txn));
    else await commit(txn);

    const after = (await plain.rows()).map((r) => r[0]);
    const kv = await kvFetch(server.url, null, 'GET', key);
    const docIds = idsOf(await docs.findAll({ filter: {} }));
    if (end === 'rollback') {
      expect(after).toEqual(range(0, 10));
      expect(kv.status).toBe(404);
      await kv.text();
      expect(docIds).toEqual(idsOf([{ _id: 'existing' }]));
    } else {
      expect(after).toEqual([0, ...range(4, 30)]);
      expect(await kv.text()).toBe('with-rows');
      expect(docIds.sort()).toEqual(idsOf([{ _id: 'existing' }, { _id: 'new' }]).sort());
    }
  });

  it('two transactions updating one row: the second commit is 409 TXN_CONFLICT naming the row', async () => {
    const t = await table('conflict');
    const plain = new TxnTable(t, null);
    await plain.insert(rowsOf(range(0, 10)));
    for (const where of ['delta', 'segment'] as const) {
      if (where === 'segment') await t.move();
      const a = await begin();
      const b = await begin();
      expect(await new TxnTable(t, a).update(W('id', '=', 4), { v: 1000 })).toBe(1);
      expect(await new TxnTable(t, b).update(W('id', '=', 4), { v: 2000 })).toBe(1);
      await commit(a);
      const refused = await postCommit(server.url, b);
      const text = await refused.text();
      expect(refused.status, text).toBe(409);
      expect(text).toContain('"code":"TXN_CONFLICT"');
      expect(text).toContain(`row (4) of table \\"${t.name}\\"`);
      expect(await plain.get(4)).toEqual({ id: 4, grp: 'g1', v: 1000 });
      expect(await plain.count()).toBe(10);
      await plain.update(W('id', '=', 4), { v: 4 });
    }
    // a plain write after the snapshot conflicts too
    const c = await begin();
    expect(await new TxnTable(t, c).delete(W('id', '=', 5))).toBe(1);
    await plain.update(W('id', '=', 5), { v: 55 });
    expect(await conflictOrOk(await postCommit(server.url, c))).toBe('conflict');
    expect(await plain.get(5)).toEqual({ id: 5, grp: 'g2', v: 55 });
  });

  it('a transaction reads the table at its snapshot: inserts, deletes, updates and moves by others are not seen, aggregates included', async () => {
    const t = await table('snapshot');
    const plain = new TxnTable(t, null);
    await plain.insert(rowsOf(range(0, 50)));
    await t.move();
    await plain.insert(rowsOf(range(50, 100)));
    const txn = await begin('repeatable_read');
    const inside = new TxnTable(t, txn);
    const seen = await inside.rows();
    const sum = await inside.sum();
    expect(await inside.count()).toBe(100);

    await plain.insert(rowsOf(range(100, 120)));
    await plain.delete(W('id', 'in', [1, 2, 60, 61]));
    await plain.update(W('id', 'in', [3, 62]), { v: 9999 });
    await t.move();
    await plain.delete(W('id', 'in', [70, 105]));

    expect(await inside.rows()).toEqual(seen);
    expect(await inside.count()).toBe(100);
    expect(await inside.sum()).toBe(sum);
    expect(await inside.count(W('grp', '=', 'g1'))).toBe(seen.filter((r) => r[1] === 'g1').length);
    expect(await inside.get(1)).toEqual({ id: 1, grp: 'g1', v: 1 });
    expect(await inside.get(110)).toBeNull();
    await commit(txn); // read-only

    const now = await plain.rows();
    expect(now.length).toBe(100 + 20 - 4 - 2);
  });

  it('an update and a delete of delta rows the mover moves before the commit: applied exactly or TXN_CONFLICT, never a duplicate or a lost delete', async () => {
    for (let round = 0; round < 3; round++) {
      const t = await table(`mover_${round}`);
      const plain = new TxnTable(t, null);
      await plain.insert(rowsOf(range(0, 40)));
      if (round === 1) await t.move(); // the rows start in a segment, and move again below
      const txn = await begin();
      const inside = new TxnTable(t, txn);
      expect(await inside.update(W('id', '<', 10), { v: -5 })).toBe(10);
      expect(await inside.delete(W('id', '>=', 30))).toBe(10);
      await plain.insert(rowsOf(range(40, 45)));
      await t.move();
      const outcome = await conflictOrOk(await postCommit(server.url, txn));
      const rows = await plain.rows();
      if (outcome === 'committed') {
        expect(rows).toEqual(rowsOf(range(0, 30)).concat(rowsOf(range(40, 45))).map((r) => [r.id, r.grp, (r.id as number) < 10 ? -5 : r.v]));
      } else {
        expect(rows).toEqual(rowsOf(range(0, 45)).map((r) => [r.id, r.grp, r.v]));
      }
      expect(await plain.count()).toBe(rows.length);
      expect(await plain.count(W('v', '=', -5))).toBe(outcome === 'committed' ? 10 : 0);
      await t.move();
      expect(await plain.rows()).toEqual(rows);
      // round 1 moved before the transaction (rows in a segment: only the new delta rows moved): it commits
      if (round === 1) expect(outcome).toBe('committed');
      else expect(outcome).toBe('conflict');
    }
  });

  it('a delete of segment rows a compaction rewrites before the commit aborts TXN_CONFLICT; the transaction still reads its snapshot', async () => {
    const t = await table('compact');
    const plain = new TxnTable(t, null);
    await plain.insert(rowsOf(range(0, 30)));
    await t.move();
    await plain.insert(rowsOf(range(30, 60)));
    await t.move();
    const segments = async (): Promise<number> => Number((await t.stats()).segments);
    expect(await segments()).toBeGreaterThanOrEqual(2);

    const txn = await begin();
    const inside = new TxnTable(t, txn);
    expect(await inside.delete(W('id', 'in', [3, 33]))).toBe(2);
    expect(await inside.update(W('id', 'in', [4, 34]), { v: 77 })).toBe(2);
    // Small segments are compacted in the background (every 2 s): wait for it.
    const deadline = Date.now() + 20_000;
    while ((await segments()) > SHARDS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    const compacted = (await segments()) <= SHARDS;
    // Its reads still see its snapshot with its own writes (the replaced segment files are kept for it).
    const mine = await inside.rows();
    expect(mine.map((r) => r[0])).toEqual(range(0, 60).filter((id) => id !== 3 && id !== 33));
    expect(mine.filter((r) => r[2] === 77).map((r) => r[0])).toEqual([4, 34]);
    expect(await inside.count()).toBe(58);

    const outcome = await conflictOrOk(await postCommit(server.url, txn));
    if (compacted) expect(outcome).toBe('conflict');
    const rows = await plain.rows();
    if (outcome === 'committed') expect(rows).toEqual(mine);
    else expect(rows).toEqual(rowsOf(range(0, 60)).map((r) => [r.id, r.grp, r.v]));
    expect(await plain.count()).toBe(rows.length);

    // Committed after the compaction (a fresh snapshot), the same writes apply to the new segment.
    const again = await begin();
    expect(await new TxnTable(t, again).delete(W('id', 'in', [3, 33]))).toBe(2);
    await commit(again);
    expect((await plain.rows()).map((r) => r[0])).toEqual(range(0, 60).filter((id) => id !== 3 && id !== 33));
    expect(await plain.count()).toBe(58);
  });

  it('index answers equal a scan after transactions commit', async () => {
    const t = await table('index');
    await expectOk(await t.post('indexes', { name: 'by_v', columns: ['v'], type: 'btree' }), 201);
    await expectOk(await t.post('indexes', { name: 'by_grp', columns: ['grp'], type: 'hash' }), 201);
    const plain = new TxnTable(t, null);
    await plain.insert(rowsOf(range(0, 60), (id) => id % 10));
    await t.move();
    await plain.insert(rowsOf(range(60, 90), (id) => id % 10));
    const txn = await begin();
    const inside = new TxnTable(t, txn);
    await inside.update(W('v', '=', 3), { v: 33, grp: 'moved' });
    await inside.delete(W('v', '=', 4));
    await inside.insert(rowsOf(range(200, 210), () => 33));
    await inside.insert([{ id: 0, grp: 'replaced', v: 44 }], { on_conflict: 'replace' });
    await commit(txn);
    for (const where of [W('v', '=', 33), W('v', '=', 4), { and: [W('v', '>=', 5), W('v', '<', 8)] }, W('grp', '=', 'moved'), W('grp', '=', 'g1'), W('v', '=', 44)]) {
      const body = { columns: ['id', 'grp', 'v'], where, order_by: ['id'], limit: 10_000 };
      const viaIndex = await plain.query(body);
      const viaScan = await plain.query({ ...body, hint: '$scan' });
      expect(viaIndex.rows, JSON.stringify(where)).toEqual(viaScan.rows);
    }
    expect((await plain.query({ columns: ['id'], where: W('v', '=', 33), limit: 1000 })).rows.length).toBe(9 + 10);
    expect((await plain.query({ columns: ['id'], where: W('v', '=', 4), limit: 1000 })).rows.length).toBe(0);
  });

  it('schema changes, stats and moves are refused inside a transaction; read_committed writes too', async () => {
    const t = await table('ddl');
    const txn = await begin();
    const h = { 'Mantis-Txn': txn };
    await expectTableError(await send(`${server.url}/api/v1/tables`, 'POST', { name: tableName('x'), columns: COLUMNS, primary_key: ['id'] }, h), 400, 'INVALID_PARAMETER');
    await expectTableError(await send(t.url(), 'DELETE', undefined, h), 400, 'INVALID_PARAMETER');
    await expectTableError(await send(t.url('/columns'), 'POST', { name: 'w', type: 'int64' }, h), 400, 'INVALID_PARAMETER');
    await expectTableError(await send(t.url('/indexes'), 'POST', { name: 'i', columns: ['v'] }, h), 400, 'INVALID_PARAMETER');
    await expectTableError(await send(t.url('/indexes/i'), 'DELETE', undefined, h), 400, 'INVALID_PARAMETER');
    await expectTableError(await send(t.url('/move'), 'POST', {}, h), 400, 'INVALID_PARAMETER');
    await expectOk(await t.info());

    await commit(txn);

    const rc = await begin('read_committed');
    await expectTableError(await new TxnTable(t, rc).post('rows', { rows: rowsOf([1]) }), 400, 'INVALID_PARAMETER');
    expect(await new TxnTable(t, rc).count()).toBe(0);
    await commit(rc);
  });

  it('an update or delete over more rows than a transaction may write is refused early, nothing buffered', async () => {
    const t = await table('bigwrite');
    const plain = new TxnTable(t, null);
    for (let from = 0; from < 24_000; from += 8000) await plain.insert(rowsOf(range(from, from + 8000)));
    await t.move();
    const txn = await begin();
    const inTxn = new TxnTable(t, txn);
    const started = Date.now();
    await expectTableError(await inTxn.post('update', { where: W('v', '>=', 0), set: { v: -1 } }), 400, 'INVALID_PARAMETER');
    await expectTableError(await inTxn.post('delete', { where: W('v', '>=', 0) }), 400, 'INVALID_PARAMETER');
    expect(Date.now() - started).toBeLessThan(20_000);
    // The transaction goes on as it was: a small update commits alone.
    await expectOk(await inTxn.post('update', { where: W('id', '=', 5), set: { v: -5 } }));
    await commit(txn);
    expect((await plain.query({ columns: ['id'], where: W('v', '<', 0), limit: 100 })).rows).toEqual([[5]]);
  });

  it('unique indexes hold for transaction inserts: against committed rows, other transactions and plain inserts', async () => {
    const u = await table('uniq');
    await expectOk(await u.post('indexes', { name: 'uv', columns: ['v'], type: 'hash', unique: true }), 201);
    const plain = new TxnTable(u, null);
    await plain.insert(rowsOf([1, 2, 3], (id) => id * 10));
    await u.move();
    await plain.insert(rowsOf([4], () => 40));

    // a value a committed row holds (in a segment, in the delta): refused at once, nothing buffered
    const t1 = await begin();
    const in1 = new TxnTable(u, t1);
    await expectTableError(await in1.post('rows', { rows: rowsOf([100], () => 20) }), 409, 'DUPLICATE_KEY');
    await expectTableError(await in1.post('rows', { rows: rowsOf([100], () => 40) }), 409, 'DUPLICATE_KEY');
    await expectTableError(await in1.post('rows', { rows: [{ id: 100, grp: 'a', v: 77 }, { id: 101, grp: 'a', v: 77 }] }), 409, 'DUPLICATE_KEY');
    // deleted in the transaction, the value is free for another row of it
    expect(await in1.delete(W('id', '=', 2))).toBe(1);
    expect((await in1.insert(rowsOf([102], () => 20))).inserted).toBe(1);
    expect(await in1.update(W('id', '=', 3), { grp: 'changed' })).toBe(1);
    await expectTableError(await in1.post('update', { where: W('id', '=', 3), set: { v: 99 } }), 400, 'BAD_QUERY');
    await commit(t1);
    expect(await plain.get(102)).toEqual({ id: 102, grp: 'g0', v: 20 });
    await expectTableError(await plain.post('rows', { rows: rowsOf([103], () => 20) }), 409, 'DUPLICATE_KEY');

    // two transactions taking one value: the later commit is DUPLICATE_KEY
    const a = await begin();
    const b = await begin();
    await new TxnTable(u, a).insert(rowsOf([200], () => 555));
    await new TxnTable(u, b).insert(rowsOf([201], () => 555));
    await commit(a);
    await expectTableError(await postCommit(server.url, b), 409, 'DUPLICATE_KEY');
    expect(await plain.count(W('v', '=', 555))).toBe(1);

    // a transaction and a plain insert: whoever commits first keeps the value
    const c = await begin();
    await new TxnTable(u, c).insert(rowsOf([300], () => 666));
    await plain.insert(rowsOf([301], () => 666));
    await expectTableError(await postCommit(server.url, c), 409, 'DUPLICATE_KEY');
    const d = await begin();
    await new TxnTable(u, d).insert(rowsOf([400], () => 777));
    await commit(d);
    await expectTableError(await plain.post('rows', { rows: rowsOf([401], () => 777) }), 409, 'DUPLICATE_KEY');

    // a stale entry (its row deleted outside any transaction) is taken over
    expect(await plain.delete(W('id', '=', 400))).toBe(1);
    const e = await begin();
    await new TxnTable(u, e).insert(rowsOf([402], () => 777));
    await commit(e);
    await expectTableError(await plain.post('rows', { rows: rowsOf([403], () => 777) }), 409, 'DUPLICATE_KEY');
    // a larger batch: its values are checked together
    const f = await begin();
    expect((await new TxnTable(u, f).insert(rowsOf(range(1000, 3000), (id) => 100_000 + id))).inserted).toBe(2000);
    await expectTableError(await new TxnTable(u, f).post('rows', { rows: rowsOf([5000], () => 100_000 + 1500) }), 409, 'DUPLICATE_KEY');
    await commit(f);
    await expectTableError(await plain.post('rows', { rows: rowsOf([5001], () => 100_000 + 2999) }), 409, 'DUPLICATE_KEY');
    const all = await plain.rows();
    expect(new Set(all.map((r) => r[2])).size).toBe(all.length);
  });

  it('a schema change of the table between a write and the commit aborts the commit', async () => {
    const t = await table('schema');
    const plain = new TxnTable(t, null);
    await plain.insert(rowsOf(range(0, 10)));
    const txn = await begin();
    await new TxnTable(t, txn).insert(rowsOf([50, 51]));
    await new TxnTable(t, txn).update(W('id', '=', 1), { v: 11 });
    // an index created meanwhile would miss the transaction's rows: the commit is refused
    await expectOk(await t.post('indexes', { name: 'by_v', columns: ['v'], type: 'btree' }), 201);
    const refused = await postCommit(server.url, txn);
    const text = await refused.text();
    expect(refused.status, text).toBe(409);
    expect(text).toContain(`the schema of table \\"${t.name}\\"`);
    expect((await plain.rows()).map((r) => r[0])).toEqual(range(0, 10));
    const again = await begin();
    await new TxnTable(t, again).insert(rowsOf([50, 51]));
    await commit(again);
    const body = { columns: ['id'], where: W('v', '>=', 0), order_by: ['id'], limit: 1000 };
    expect((await plain.query(body)).rows).toEqual((await plain.query({ ...body, hint: '$scan' })).rows);
    expect((await plain.query(body)).rows.length).toBe(12);
  });

  it('repeatable_read and serializable: a change of a table the transaction used aborts its commit; snapshot only checks its rows', async () => {
    const t = await table('levels');
    const plain = new TxnTable(t, null);
    await plain.insert(rowsOf(range(0, 10)));
    for (const isolation of ['repeatable_read', 'serializable', 'snapshot'] as const) {
      const txn = await begin(isolation);
      const inside = new TxnTable(t, txn);
      expect(await inside.count(W('grp', '=', 'g0'))).toBeGreaterThan(0);
      expect(await inside.update(W('id', '=', 1), { v: 100 })).toBe(1);
      await plain.insert(rowsOf([50 + ['repeatable_read', 'serializable', 'snapshot'].indexOf(isolation)]));
      const outcome = await conflictOrOk(await postCommit(server.url, txn));
      expect(outcome).toBe(isolation === 'snapshot' ? 'committed' : 'conflict');
      expect((await plain.get(1))?.v).toBe(isolation === 'snapshot' ? 100 : 1);
    }
  });

  it('cursor paging and ordering inside a transaction see its own rows', async () => {
    const t = await table('paging');
    const plain = new TxnTable(t, null);
    await plain.insert(rowsOf(range(0, 25)));
    await t.move();
    await plain.insert(rowsOf(range(25, 40)));
    const txn = await begin();
    const inside = new TxnTable(t, txn);
    await inside.insert(rowsOf(range(40, 55)));
    await inside.delete(W('id', 'in', [0, 30, 45]));
    await inside.update(W('id', 'in', [5, 35, 50]), { v: 1000 });
    const seen: Json[][] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 20; page++) {
      const answer: QueryAnswer = await inside.query({ columns: ['id', 'v'], order_by: [{ column: 'v', desc: true }], limit: 7, ...(cursor === null ? {} : { cursor }) });
      seen.push(...answer.rows);
      cursor = answer.next_cursor;
      if (cursor === null) break;
    }
    const ids = range(0, 55).filter((id) => ![0, 30, 45].includes(id));
    const want = ids.map((id) => [id, [5, 35, 50].includes(id) ? 1000 : id]).sort((a, b) => b[1] - a[1] || a[0] - b[0]);
    expect(seen).toEqual(want);
    await expectOk(await postRollback(server.url, txn));
  });

  it('row TTL in a transaction insert', async () => {
    const t = await table('ttl');
    const txn = await begin();
    await new TxnTable(t, txn).insert(rowsOf([1, 2]), { ttl_seconds: 1 });
    await new TxnTable(t, txn).insert(rowsOf([3]));
    await commit(txn);
    const plain = new TxnTable(t, null);
    expect(await plain.count()).toBe(3);
    await new Promise((r) => setTimeout(r, 1200));
    expect((await plain.rows()).map((r) => r[0])).toEqual([3]);
  });
});

describe('table rows committed in a transaction survive kill -9', () => {
  it('rows, deletes and updates of an acknowledged commit are there after a restart', async () => {
    const own = await startServer({ shards: SHARDS, fsync: 'always' });
    const t = new TablesClient(own.url, tableName('crash'));
    await t.createOk(COLUMNS, ['id']);
    await t.insertOk(rowsOf(range(0, 40)));
    await t.move();
    const id = (await expectOk<BeginData>(await postBegin(own.url, { isolation: 'snapshot' }))).data.id;
    const h = { 'Mantis-Txn': id };
    await expectOk(await send(t.url('/rows'), 'POST', { rows: rowsOf(range(40, 60)) }, h));
    await expectOk(await send(t.url('/delete'), 'POST', { where: W('id', 'in', [1, 41]) }, h));
    await expectOk(await send(t.url('/update'), 'POST', { where: W('id', 'in', [2, 42]), set: { v: -2 } }, h));
    await expectOk(await postCommit(own.url, id));
    await own.kill9();

    const again = await startServer({ shards: SHARDS, fsync: 'always', dataDir: own.dataDir });
    try {
      const t2 = new TablesClient(again.url, t.name);
      const rows = (await t2.query({ columns: ['id', 'v'], order_by: ['id'], limit: 1000 })).rows;
      expect(rows.map((r) => r[0])).toEqual(range(0, 60).filter((i) => i !== 1 && i !== 41));
      expect(rows.filter((r) => r[1] === -2).map((r) => r[0])).toEqual([2, 42]);
      await t2.move();
      expect((await t2.query({ columns: ['id', 'v'], order_by: ['id'], limit: 1000 })).rows).toEqual(rows);
    } finally {
      await again.stop();
    }
  });

  it('segment files a compaction replaced are kept while an older snapshot may read them, then deleted', async () => {
    const own = await startServer({ shards: 1, fsync: 'batch' });
    try {
      const t = new TablesClient(own.url, tableName('retain'));
      await t.createOk(COLUMNS, ['id']);
      await t.insertOk(rowsOf(range(0, 30)));
      await t.move();
      await t.insertOk(rowsOf(range(30, 60)));
      await t.move();
      const files = (): number => segFiles(own.dataDir);
      expect(files()).toBe(2);
      const id = (await expectOk<BeginData>(await postBegin(own.url, { isolation: 'snapshot', timeout_ms: 60_000 }))).data.id;
      const h = { 'Mantis-Txn': id };
      const count = async (): Promise<Json> => (await expectOk<QueryAnswer>(await send(t.url('/query'), 'POST', { aggregates: [{ fn: 'count', as: 'n' }] }, h))).data.rows[0][0];
      expect(await count()).toBe(60);
      await expectOk(await send(t.url('/delete'), 'POST', { where: W('id', '<', 5) }));
      const deadline = Date.now() + 20_000;
      while (Number((await t.stats()).segments) > 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(Number((await t.stats()).segments)).toBe(1);
      await new Promise((r) => setTimeout(r, 700));
      expect(files()).toBe(3); // the two old files wait for the transaction
      expect(await count()).toBe(60);
      await expectOk(await postRollback(own.url, id));
      const gone = Date.now() + 10_000;
      while (files() > 1 && Date.now() < gone) await new Promise((r) => setTimeout(r, 100));
      expect(files()).toBe(1);
      expect(Number((await t.stats()).rows)).toBe(55);
    } finally {
      await own.stop();
    }
  });
});

/** Segment files under a data dir (every shard, every table). */
function segFiles(dir: string): number {
  let n = 0;
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (e.name.endsWith('.seg')) n++;
    }
  };
  walk(dir);
  return n;
}
