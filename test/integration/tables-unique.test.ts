// Unique table indexes across shards (issue 12: "Unique is enforced across
// shards"), on a real 2-shard server: a value taken by a row on one shard
// refuses a row on the other (409 DUPLICATE_KEY naming the row and the
// index), racing inserts of one value leave exactly one winner, a refused
// batch leaves nothing behind (rows or claims), a value is free again once
// its row is deleted, NULLs never conflict, rows inserted during a unique
// build hold their values, building a unique index over rows that already
// repeat a value fails and removes the index, and so does a build meeting a
// value too long for an index key (400 BAD_QUERY). Also: the
// schema and the rows survive a restart, and the routes answer the same
// through the Hono app (fast path off).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOk } from '../helpers/http-client.js';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';
import { expectTableError, tableName, TablesClient, type JsonRow } from '../helpers/tables-client.js';

afterAll(cleanup);

const USERS: JsonRow[] = [
  { name: 'id', type: 'int64' },
  { name: 'email', type: 'string' },
  { name: 'team', type: 'string' },
];

async function count(t: TablesClient): Promise<number> {
  return (await t.query({ aggregates: [{ fn: 'count', as: 'n' }] })).rows[0][0] as number;
}

describe('unique table indexes (2 shards)', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServer({ shards: 2, fsync: 'batch' });
  });
  const client = (tag: string): TablesClient => new TablesClient(server.url, tableName(tag));

  it('a value held on one shard refuses it on the other; the refused batch leaves nothing; a deleted row frees its value', async () => {
    const t = client('uniq');
    await t.createOk(USERS, ['id']);
    const made = await expectOk<JsonRow>(await t.post('indexes', { name: 'by_email', columns: ['email'], type: 'hash', unique: true }), 201);
    expect(made.data).toMatchObject({ name: 'by_email', unique: true, state: 'ready' });
    await t.insertOk(Array.from({ length: 100 }, (_, i) => ({ id: i, email: `u${i}@x`, team: i % 2 === 0 ? 'a' : null })));

    // 100 new ids land on both shards; row 70 repeats u5@x (held by id 5).
    const batch = Array.from({ length: 100 }, (_, i) => ({ id: 1000 + i, email: i === 70 ? 'u5@x' : `n${i}@x` }));
    const error = await expectTableError(await t.insert(batch), 409, 'DUPLICATE_KEY');
    expect(error.row).toBe(70);
    expect(error.index).toBe('by_email');
    expect(await count(t)).toBe(100);
    // The refused batch's other values were released: the same batch without the repeat goes in.
    batch[70] = { id: 1070, email: 'n70@x' };
    await t.insertOk(batch);
    expect(await count(t)).toBe(200);

    const inRequest = await expectTableError(await t.insert([{ id: 5000, email: 'same' }, { id: 5001, email: 'same' }]), 409, 'DUPLICATE_KEY');
    expect(inRequest.row).toBe(1);
    // NULLs are distinct.
    await t.insertOk([{ id: 6000 }, { id: 6001 }, { id: 6002, email: null }]);

    expect(await t.delete({ col: 'id', op: '=', value: 5 })).toBe(1);
    await t.insertOk([{ id: 7000, email: 'u5@x' }]);
    const q = await t.query({ columns: ['id'], where: { col: 'email', op: '=', value: 'u5@x' } });
    expect(q.rows).toEqual([[7000]]);
    // on_conflict=replace of the same key keeps its own value.
    await t.insertOk([{ id: 7000, email: 'u5@x', team: 'z' }], { on_conflict: 'replace' });
    await expectTableError(await t.post('update', { where: { col: 'id', op: '=', value: 7000 }, set: { email: 'other' } }), 400, 'BAD_QUERY');
  });

  it('racing inserts of one value from many clients: exactly one wins', async () => {
    const t = client('race');
    await t.createOk(USERS, ['id']);
    await expectOk(await t.post('indexes', { name: 'by_email', columns: ['email'], type: 'btree', unique: true }), 201);
    for (let round = 0; round < 5; round++) {
      const answers = await Promise.all(Array.from({ length: 16 }, (_, i) => t.insert([{ id: round * 100 + i, email: `race${round}` }])));
      const statuses = answers.map((a) => a.status);
      await Promise.all(answers.map((a) => a.text()));
      expect(statuses.filter((s) => s === 200), statuses.join(',')).toHaveLength(1);
      expect(statuses.filter((s) => s === 409)).toHaveLength(15);
      const held = await t.query({ columns: ['id'], where: { col: 'email', op: '=', value: `race${round}` }, hint: '$scan' });
      expect(held.rows).toHaveLength(1);
    }
  });

  it('rows inserted while a unique index is built hold their values once it is ready', async () => {
    const t = client('during');
    await t.createOk(USERS, ['id']);
    await t.insertMany(Array.from({ length: 20_000 }, (_, i) => ({ id: i, email: `old${i}` })));
    let building = true;
    const during: number[] = [];
    const writer = (async () => {
      for (let b = 0; building; b++) {
        const ids = Array.from({ length: 50 }, (_, i) => 100_000 + b * 50 + i);
        await t.insertOk(ids.map((id) => ({ id, email: `new${id}` })));
        during.push(...ids);
      }
    })();
    const index = t.post('indexes', { name: 'by_email', columns: ['email'], unique: true });
    await expectOk(await index, 201);
    building = false;
    await writer;
    expect(during.length).toBeGreaterThan(0);
    for (const id of [during[0], during[Math.floor(during.length / 2)], during[during.length - 1]]) {
      const error = await expectTableError(await t.insert([{ id: id + 1_000_000, email: `new${id}` }]), 409, 'DUPLICATE_KEY');
      expect(error.index).toBe('by_email');
    }
    await expectTableError(await t.insert([{ id: 2_000_000, email: 'old123' }]), 409, 'DUPLICATE_KEY');
  });

  it('an index build that meets a value it cannot hold fails with BAD_QUERY and is removed', async () => {
    const t = client('toolong');
    await t.createOk(USERS, ['id']);
    await t.insertOk([...Array.from({ length: 50 }, (_, i) => ({ id: i, email: `e${i}` })), { id: 50, email: 'x'.repeat(5000) }]);
    const failed = await expectTableError(await t.post('indexes', { name: 'by_email', columns: ['email'], type: 'btree' }), 400, 'BAD_QUERY');
    expect(failed.message).toContain('by_email');
    expect((await expectOk<JsonRow>(await t.info())).data.indexes).toEqual([]);
    expect(await t.delete({ col: 'id', op: '=', value: 50 })).toBe(1);
    await expectOk(await t.post('indexes', { name: 'by_email', columns: ['email'], type: 'btree' }), 201);
    const q = await t.query({ columns: ['id'], where: { col: 'email', op: '=', value: 'e7' }, hint: 'by_email' });
    expect(q.rows).toEqual([[7]]);
  });

  it('a unique index over rows that already repeat a value fails with DUPLICATE_KEY and is removed', async () => {
    const t = client('build');
    await t.createOk(USERS, ['id']);
    await t.insertOk(Array.from({ length: 300 }, (_, i) => ({ id: i, email: `e${i % 299}` })));
    await t.move();
    await expectTableError(await t.post('indexes', { name: 'by_email', columns: ['email'], unique: true }), 409, 'DUPLICATE_KEY');
    const described = (await expectOk<JsonRow>(await t.info())).data;
    expect(described.indexes).toEqual([]);
    expect(await t.delete({ col: 'id', op: '=', value: 299 })).toBe(1);
    await expectOk(await t.post('indexes', { name: 'by_email', columns: ['email'], unique: true }), 201);
    await expectTableError(await t.insert([{ id: 5000, email: 'e7' }]), 409, 'DUPLICATE_KEY');
  });
});

describe('tables across a restart, and through the Hono app', () => {
  it('schema, indexes and rows are there after SIGTERM and after kill -9; the routes answer alike with the fast path off', async () => {
    const first = await startServer({ shards: 2, fsync: 'always', fastPath: false });
    const t = new TablesClient(first.url, tableName('restart'));
    await t.createOk(USERS, ['id']);
    await expectOk(await t.post('indexes', { name: 'by_team', columns: ['team'], type: 'btree' }), 201);
    const rows = Array.from({ length: 2000 }, (_, i) => ({ id: i, email: `m${i}`, team: `t${i % 10}` }));
    await t.insertOk(rows.slice(0, 1500));
    await t.move();
    await t.insertOk(rows.slice(1500));
    expect(await first.stop()).toBe(0);

    const second = await startServer({ shards: 2, fsync: 'always', dataDir: first.dataDir });
    const again = new TablesClient(second.url, t.name);
    const described = (await expectOk<JsonRow>(await again.info())).data;
    expect((described.indexes as JsonRow[]).map((i) => [i.name, i.state])).toEqual([['by_team', 'ready']]);
    expect(await count(again)).toBe(2000);
    await again.insertOk([{ id: 9999, email: 'last', team: 't3' }]);
    await second.kill9();

    const third = await startServer({ shards: 2, fsync: 'always', dataDir: first.dataDir });
    const last = new TablesClient(third.url, t.name);
    expect(await count(last)).toBe(2001);
    const team3 = await last.query({ columns: ['id'], where: { col: 'team', op: '=', value: 't3' }, order_by: ['id'], limit: 1000 });
    expect(team3.rows.map((r) => r[0])).toEqual([...rows.filter((r) => r.team === 't3').map((r) => r.id), 9999]);
    expect((await expectOk<JsonRow>(await last.getRow('9999'))).data).toEqual({ id: 9999, email: 'last', team: 't3' });
    await third.stop();
  });
});
