// Unique and plain secondary indexes of the columnar tables against a real
// server with 2 shards: a unique value is refused (409 DUPLICATE_KEY) whichever
// shard its rows live on, a refused batch writes nothing and leaves no claim
// behind, NULLs never collide, a value whose row was deleted can be taken
// again, racing inserts of one value let exactly one through, a unique index
// over rows that already collide is refused; queries answer the same through
// the indexes as with hint "$scan", before and after the mover.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOk } from '../helpers/http-client.js';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';
import { expectTableError, send, tableName, TablesClient, type JsonRow } from '../helpers/tables-client.js';

afterAll(cleanup);

const COLUMNS: JsonRow[] = [
  { name: 'id', type: 'int64' },
  { name: 'email', type: 'string' },
  { name: 'team', type: 'string' },
  { name: 'n', type: 'int64' },
];

const user = (id: number, email: string | null = `u${id}@x.io`): JsonRow => ({ id, email, team: ['red', 'blue', 'green'][id % 3], n: id % 50 });

describe('table indexes over HTTP (2 shards)', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServer({ shards: 2, fsync: 'batch' });
  });

  async function table(tag: string): Promise<TablesClient> {
    const t = new TablesClient(server.url, tableName(tag));
    await t.createOk(COLUMNS, ['id']);
    return t;
  }

  const ids = async (t: TablesClient, where: unknown, hint: string | null = null): Promise<unknown[]> =>
    (await t.query({ columns: ['id'], where, order_by: [{ column: 'id' }], limit: 10_000, ...(hint === null ? {} : { hint }) })).rows.map((r) => r[0]);

  it('a unique value is refused across shards; a refused batch writes nothing and claims nothing', async () => {
    const t = await table('uniq');
    await expectOk(await t.post('indexes', { name: 'email_u', columns: ['email'], type: 'btree', unique: true }), 201);
    await t.insertOk(Array.from({ length: 200 }, (_, i) => user(i)));
    // Row 1000 and row 5 may live on different shards; the value meets on one.
    const dup = await expectTableError(await t.insert([user(1000, 'fresh@x.io'), user(1001, 'u5@x.io')]), 409, 'DUPLICATE_KEY');
    expect(dup.row).toBe(1);
    await expectTableError(await t.getRow('1000'), 404, 'KEY_NOT_FOUND');
    // Nothing of the refused batch holds a value: fresh@x.io is free.
    await t.insertOk([user(1002, 'fresh@x.io')]);
    // Twice in one request.
    await expectTableError(await t.insert([user(2000, 'twice@x.io'), user(2001, 'twice@x.io')]), 409, 'DUPLICATE_KEY');
    // NULLs never collide.
    await t.insertOk([user(3000, null), user(3001, null), user(3002, null)]);
    // A deleted row's value can be taken again (its claim is stale).
    expect(await t.delete({ col: 'id', op: '=', value: 7 })).toBe(1);
    await t.insertOk([user(4000, 'u7@x.io')]);
    await expectTableError(await t.insert([user(4001, 'u7@x.io')]), 409, 'DUPLICATE_KEY');
    expect(await ids(t, { col: 'email', op: '=', value: 'u7@x.io' })).toEqual([4000]);
    expect(await ids(t, { col: 'email', op: '=', value: 'u7@x.io' }, '$scan')).toEqual([4000]);
  });

  it('racing inserts of one value: exactly one gets through', async () => {
    const t = await table('race');
    await expectOk(await t.post('indexes', { name: 'email_u', columns: ['email'], type: 'hash', unique: true }), 201);
    for (let round = 0; round < 3; round++) {
      const email = `race${round}@x.io`;
      const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => t.insert([user(round * 100 + i, email)])));
      const statuses = answers.map((a) => a.status);
      for (const a of answers) await a.text();
      expect(statuses.filter((s) => s < 300)).toHaveLength(1);
      expect(statuses.filter((s) => s === 409)).toHaveLength(11);
      expect(await ids(t, { col: 'email', op: '=', value: email }, '$scan')).toHaveLength(1);
    }
  });

  it('a unique index over rows that already collide is refused and not kept', async () => {
    const t = await table('late');
    await t.insertOk([user(1, 'same@x.io'), user(2, 'same@x.io'), user(3)]);
    await expectTableError(await t.post('indexes', { name: 'email_u', columns: ['email'], type: 'btree', unique: true }), 409, 'DUPLICATE_KEY');
    const described = (await expectOk<JsonRow>(await t.info())).data;
    expect(described.indexes).toEqual([]);
    // A plain index over the same rows is fine.
    await expectOk(await t.post('indexes', { name: 'email_bt', columns: ['email'], type: 'btree' }), 201);
  });

  it('queries answer the same through btree, hash and composite indexes as with $scan, delta and segments', async () => {
    const t = await table('same');
    await t.insertOk(Array.from({ length: 600 }, (_, i) => user(i, i % 11 === 0 ? null : `u${i % 97}@x.io`)));
    await t.move();
    await t.insertOk(Array.from({ length: 200 }, (_, i) => user(600 + i, `u${i % 13}@x.io`)));
    await expectOk(await t.post('indexes', { name: 'email_bt', columns: ['email'], type: 'btree' }), 201);
    await expectOk(await t.post('indexes', { name: 'team_n', columns: ['team', 'n'], type: 'btree' }), 201);
    await expectOk(await t.post('indexes', { name: 'team_h', columns: ['team'], type: 'hash' }), 201);
    const wheres: unknown[] = [
      { col: 'email', op: '=', value: 'u5@x.io' },
      { col: 'email', op: 'in', value: ['u1@x.io', 'u2@x.io', 'nobody'] },
      { col: 'email', op: 'starts_with', value: 'u1' },
      { col: 'email', op: 'is_null' },
      { col: 'email', op: '>', value: 'u9' },
      { and: [{ col: 'team', op: '=', value: 'red' }, { col: 'n', op: '>=', value: 40 }] },
      { and: [{ col: 'team', op: 'in', value: ['blue', 'green'] }, { col: 'n', op: '<', value: 3 }] },
      { col: 'team', op: '=', value: 'green' },
    ];
    for (const where of wheres) {
      const scanned = await ids(t, where, '$scan');
      expect(await ids(t, where), JSON.stringify(where)).toEqual(scanned);
      for (const hint of ['email_bt', 'team_n', 'team_h']) expect(await ids(t, where, hint), `${hint} ${JSON.stringify(where)}`).toEqual(scanned);
    }
    const planned = await t.query({ columns: ['id'], where: { col: 'email', op: '=', value: 'u5@x.io' } });
    expect(planned.stats.plan).toContain('INDEX');
    // Ordered by an indexed column with a limit.
    const top = await t.query({ columns: ['id', 'email'], where: { col: 'email', op: 'is_not_null' }, order_by: [{ column: 'email', desc: true }], limit: 15 });
    const topScan = await t.query({ columns: ['id', 'email'], where: { col: 'email', op: 'is_not_null' }, order_by: [{ column: 'email', desc: true }], limit: 15, hint: '$scan' });
    expect(top.rows).toEqual(topScan.rows);
    await expectOk(await send(t.url('/indexes/team_n'), 'DELETE'));
    expect(await ids(t, { col: 'team', op: '=', value: 'red' })).toEqual(await ids(t, { col: 'team', op: '=', value: 'red' }, '$scan'));
  });
});
