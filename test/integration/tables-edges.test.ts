// Edge cases a reviewer reproduced against the real server (2 shards), kept
// as regressions: primary keys past the key-size limit (400 KEY_TOO_LARGE over
// HTTP and CQL, nothing written), lone UTF-16 surrogates (400 TYPE_MISMATCH:
// they have no UTF-8 form and would collide as U+FFFD), timestamps past
// year 9999 that come out as expanded years and go back in, int64 sums past
// 2^64 on one shard, and avg of int64 values past 2^53 (exact, from the
// exact sum).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOk } from '../helpers/http-client.js';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';
import { expectTableError, send, tableName, TablesClient } from '../helpers/tables-client.js';

afterAll(cleanup);

let server: ServerProcess;
beforeAll(async () => {
  server = await startServer({ shards: 2, fsync: 'batch' });
});
const client = (tag: string): TablesClient => new TablesClient(server.url, tableName(tag));

async function cql(query: string, params?: unknown[]): Promise<Response> {
  return send(`${server.url}/api/v1/cql`, 'POST', params === undefined ? { query } : { query, params });
}

describe('table edge cases (2 shards)', () => {
  it('a primary key over 4096 bytes is 400 KEY_TOO_LARGE naming the row, and nothing of the batch is written', async () => {
    const t = client('bigpk');
    await t.createOk([{ name: 'k', type: 'string' }, { name: 'v', type: 'int64' }], ['k']);
    expect((await t.insertOk([{ k: 'p'.repeat(1300), v: 1 }])).inserted).toBe(1); // 3 bytes a unit at most: still checked exactly
    for (const n of [4096, 65_530, 70_000]) {
      const e = await expectTableError(await t.insert([{ k: `ok${n}`, v: 1 }, { k: 'q'.repeat(n), v: 2 }]), 400, 'KEY_TOO_LARGE');
      expect(e.row).toBe(1);
      expect(e.column).toBe('k');
    }
    const count = await t.query({ aggregates: [{ fn: 'count', as: 'n' }] });
    expect(count.rows).toEqual([[1]]);
    await expectOk(await cql(`CREATE TABLE ${t.name}_c (k text PRIMARY KEY, v int)`));
    for (const q of [`INSERT INTO ${t.name}_c (k, v) VALUES (?, 1)`, `INSERT INTO ${t.name}_c (k) VALUES (?)`, `UPDATE ${t.name}_c SET v = 1 WHERE k = ?`]) {
      await expectTableError(await cql(q, ['q'.repeat(70_000)]), 400, 'KEY_TOO_LARGE');
    }
  });

  it('lone surrogates are refused in rows, keys and filters; paired ones are kept', async () => {
    const t = client('surrogates');
    await t.createOk([{ name: 'k', type: 'string' }, { name: 's', type: 'string' }], ['k']);
    for (const k of ['a\ud800', 'a\udc00']) {
      const e = await expectTableError(await t.insert([{ k: 'fine', s: 'x' }, { k, s: 'x' }]), 400, 'TYPE_MISMATCH');
      expect([e.row, e.column]).toEqual([1, 'k']);
    }
    await expectTableError(await t.insert([{ k: 'b', s: '\udfffx' }]), 400, 'TYPE_MISMATCH');
    await t.insertOk([{ k: 'a\ufffd', s: 'x\u{1f600}' }]);
    const rows = await t.query({ columns: ['k', 's'] });
    expect(rows.rows).toEqual([['a\ufffd', 'x\u{1f600}']]);
    await expectTableError(await t.post('query', { where: { col: 'k', op: '=', value: 'a\ud800' } }), 400, 'TYPE_MISMATCH');
    await expectOk(await cql(`CREATE TABLE ${t.name}_c (k text PRIMARY KEY, v int)`));
    await expectTableError(await cql(`INSERT INTO ${t.name}_c (k, v) VALUES (?, 1)`, ['a\ud800']), 400, 'Invalid');
  });

  it('timestamps beyond year 9999 come out as expanded years and go back in (rows and filters)', async () => {
    const t = client('years');
    await t.createOk([{ name: 'k', type: 'int64' }, { name: 'at', type: 'timestamp' }], ['k']);
    await t.insertOk([{ k: 1, at: '9999-12-31T23:59:59-14:00' }, { k: 2, at: '0000-01-01T00:00:00+14:00' }, { k: 3, at: '2024-01-01T00:00:00Z' }]);
    const all = await t.query({ columns: ['k', 'at'], order_by: [{ column: 'k' }] });
    expect(all.rows).toEqual([[1, '+010000-01-01T13:59:59Z'], [2, '-000001-12-31T10:00:00Z'], [3, '2024-01-01T00:00:00Z']]);
    await t.insertOk([{ k: 11, at: '+010000-01-01T13:59:59Z' }, { k: 12, at: '-000001-12-31T10:00:00Z' }]);
    const late = await t.query({ columns: ['k'], where: { col: 'at', op: '=', value: '+010000-01-01T13:59:59Z' }, order_by: [{ column: 'k' }] });
    expect(late.rows).toEqual([[1], [11]]);
    await expectTableError(await t.insert([{ k: 20, at: '+300000-01-01T00:00:00Z' }]), 400, 'TYPE_MISMATCH');
  });

  it("the tables API holds a CQL table's int, uuid, ascii, time, inet and timeuuid columns to CQL's rules", async () => {
    const name = tableName('cqltypes');
    await expectOk(await cql(`CREATE TABLE ${name} (k int PRIMARY KEY, i int, ti tinyint, u uuid, a ascii, tm time, ip inet, tu timeuuid)`));
    const t = new TablesClient(server.url, name);
    const bad: [string, unknown][] = [
      ['k', 4294967296], ['i', '9223372036854775807'], ['ti', 1000], ['u', 'not-a-uuid'], ['a', 'é'], ['tm', 'garbage'], ['ip', 'x'],
      ['tu', '6ba7b810-9dad-41d1-80b4-00c04fd430c8'], // a version-4 uuid is no timeuuid
    ];
    for (const [column, value] of bad) {
      const e = await expectTableError(await t.insert([{ k: 1 }, { k: 2, [column]: value }]), 400, 'TYPE_MISMATCH');
      expect([e.column, e.row], `${column} = ${JSON.stringify(value)}`).toEqual([column, 1]);
    }
    const tu = '5d3c4e00-a8b1-11ee-8000-000000000001';
    await t.insertOk([{ k: 1, i: -2147483648, ti: 127, u: '6BA7B810-9DAD-41D1-80B4-00C04FD430C8', a: 'abc', tm: '08:12:54', ip: '127.0.0.1', tu }]);
    await expectTableError(await t.post('update', { where: { col: 'k', op: '=', value: 1 }, set: { i: 5000000000 } }), 400, 'TYPE_MISMATCH');
    const back = await expectOk<{ rows: unknown[][] }>(await cql(`SELECT k, i, ti, u, a, tm, ip, tu FROM ${name} WHERE k = 1`));
    expect(back.data.rows).toEqual([[1, -2147483648, 127, '6ba7b810-9dad-41d1-80b4-00c04fd430c8', 'abc', '08:12:54.000000000', '127.0.0.1', tu]]);
  });

  it('inserts racing the drop of a unique index and a failed unique build all succeed (no INDEX_NOT_FOUND)', async () => {
    const t = client('uniqdrop');
    await t.createOk([{ name: 'id', type: 'int64' }, { name: 'e', type: 'string' }], ['id']);
    await t.insertOk(Array.from({ length: 2000 }, (_, i) => ({ id: i, e: i < 1990 ? `e${i}` : 'same' })));
    await expectOk(await t.post('indexes', { name: 'uq', columns: ['id', 'e'], type: 'btree', unique: true }), 201);
    const failures: string[] = [];
    let stop = false;
    let next = 100_000;
    const writer = async (): Promise<void> => {
      while (!stop) {
        const id = next++;
        const r = await t.insert([{ id, e: `u${id}` }]);
        if (r.status !== 200) failures.push(`${r.status} ${await r.text()}`);
      }
    };
    const writers = [writer(), writer(), writer(), writer()];
    await new Promise((r) => setTimeout(r, 50));
    await expectOk(await send(t.url('/indexes/uq'), 'DELETE'));
    // A unique index over a repeated value fails its build and is removed while inserts claim for it.
    await expectTableError(await t.post('indexes', { name: 'uq2', columns: ['e'], type: 'hash', unique: true }), 409, 'DUPLICATE_KEY');
    await new Promise((r) => setTimeout(r, 50));
    stop = true;
    await Promise.all(writers);
    expect(failures).toEqual([]);
    expect((await t.query({ aggregates: [{ fn: 'count', as: 'n' }] })).rows).toEqual([[next - 100_000 + 2000]]);
  });

  it('sum of int64 past 2^64 on one shard is exact; avg of int64 past 2^53 is exact too', async () => {
    const t = client('bigsum');
    await t.createOk([{ name: 'k', type: 'int64' }, { name: 'g', type: 'int64' }, { name: 'v', type: 'int64' }], ['k']);
    const max = '9223372036854775807';
    await t.insertOk(Array.from({ length: 6 }, (_, k) => ({ k, g: 0, v: max })));
    await t.insertOk([{ k: 100, g: 1, v: '9007199254740993' }, { k: 101, g: 1, v: '-9007199254740992' }]);
    const check = async (): Promise<void> => {
      const q = await t.query({ group_by: ['g'], aggregates: [{ fn: 'sum', column: 'v', as: 's' }, { fn: 'avg', column: 'v', as: 'a' }, { fn: 'count', as: 'n' }], order_by: [{ column: 'g' }] });
      expect(q.rows).toEqual([
        [0, (6n * 9223372036854775807n).toString(), 2 ** 63, 6], // avg: a float64, 2^63 when rounded
        [1, 1, 0.5, 2],
      ]);
    };
    await check();
    await t.move();
    await check();
  });
});
