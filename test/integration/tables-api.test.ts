// Every table route of issue 12 against a real server (1 and 2 shards):
// tables created, listed, described and dropped; rows inserted in every type
// over JSON (int64 beyond 2^53 as a decimal string, RFC 3339 timestamps,
// base64 binary) and read back by primary key; bad input answered 400/409
// with the code naming the column and the row index; batches all or nothing
// across shards; on_conflict; added columns; update and delete by filter;
// queries with projection, filters, order, offset/limit and cursor paging
// through every page; GROUP BY answers checked against a plain computation,
// before and after the mover turned the delta into segments; indexes; stats.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOk } from '../helpers/http-client.js';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';
import { expectTableError, plainGroups, send, tableName, TablesClient, tablesUrl, type Json, type JsonRow } from '../helpers/tables-client.js';

afterAll(cleanup);

const PEOPLE_COLUMNS: JsonRow[] = [
  { name: 'id', type: 'int64' },
  { name: 'name', type: 'string', nullable: false },
  { name: 'age', type: 'int64' },
  { name: 'city', type: 'string' },
  { name: 'score', type: 'float64' },
  { name: 'active', type: 'boolean', default: true },
  { name: 'born', type: 'timestamp' },
  { name: 'blob', type: 'binary' },
];

const CITIES = ['NYC', 'LA', 'SF', 'Boston', null];

/** 500 people; every field follows a pattern the expected answers compute from. */
function people(n = 500): JsonRow[] {
  return Array.from({ length: n }, (_, i) => ({
    id: i,
    name: `p${String(i).padStart(4, '0')}`,
    age: i % 7 === 0 ? null : 18 + (i % 60),
    city: CITIES[i % CITIES.length],
    score: (i * 37) % 101 / 4,
    active: i % 3 !== 0,
    born: new Date(Date.UTC(1970 + (i % 50), i % 12, 1 + (i % 28))).toISOString().replace('.000Z', 'Z'),
    blob: Buffer.from([i & 0xff, i >> 8]).toString('base64'),
  }));
}

describe.each([1, 2])('table routes (%i shards)', (shards) => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServer({ shards, fsync: 'batch' });
  });
  const client = (tag: string): TablesClient => new TablesClient(server.url, tableName(tag));

  describe('tables', () => {
    it('creates, lists, describes and drops a table; a second create is 409 TABLE_EXISTS, a missing table 404', async () => {
      const t = client('life');
      const created = await t.createOk(PEOPLE_COLUMNS, ['id']);
      expect(created.name).toBe(t.name);
      expect(created.primary_key).toEqual(['id']);
      expect((created.columns as JsonRow[]).map((c) => [c.name, c.type, c.nullable])).toEqual([
        ['id', 'int64', false],
        ['name', 'string', false],
        ['age', 'int64', true],
        ['city', 'string', true],
        ['score', 'float64', true],
        ['active', 'boolean', true],
        ['born', 'timestamp', true],
        ['blob', 'binary', true],
      ]);
      await expectTableError(await t.create(PEOPLE_COLUMNS, ['id']), 409, 'TABLE_EXISTS');
      await expectOk(await t.create(PEOPLE_COLUMNS, ['id'], { if_not_exists: true }));

      const listed = (await expectOk<JsonRow[]>(await send(tablesUrl(server.url), 'GET'))).data;
      expect(listed.map((x) => x.name)).toContain(t.name);
      const described = (await expectOk<JsonRow>(await t.info())).data;
      expect(described.name).toBe(t.name);
      expect(described.indexes).toEqual([]);
      expect((described.stats as JsonRow).rows).toBe(0);

      await expectOk(await t.drop());
      await expectTableError(await t.info(), 404, 'TABLE_NOT_FOUND');
      await expectTableError(await t.drop(), 404, 'TABLE_NOT_FOUND');
      expect((await expectOk<JsonRow>(await t.drop('?if_exists=true'))).data.dropped).toBe(false);
      await expectTableError(await t.insert([{ id: 1, name: 'x' }]), 404, 'TABLE_NOT_FOUND');
      // A re-created table starts empty.
      await t.createOk(PEOPLE_COLUMNS, ['id']);
      const page = await t.query({});
      expect(page.rows).toEqual([]);
    });

    it('refuses bad schemas with INVALID_SCHEMA / UNKNOWN_COLUMN / COLUMN_EXISTS naming the column', async () => {
      const t = client('schema');
      await expectTableError(await t.create([{ name: 'a', type: 'int32' }], ['a']), 400, 'INVALID_SCHEMA');
      await expectTableError(await t.create([{ name: 'a', type: 'int64' }], []), 400, 'INVALID_SCHEMA');
      const unknown = await expectTableError(await t.create([{ name: 'a', type: 'int64' }], ['b']), 400, 'UNKNOWN_COLUMN');
      expect(unknown.column).toBe('b');
      const twice = await expectTableError(await t.create([{ name: 'a', type: 'int64' }, { name: 'a', type: 'string' }], ['a']), 409, 'COLUMN_EXISTS');
      expect(twice.column).toBe('a');
      await expectTableError(await t.create([{ name: '1bad', type: 'int64' }], ['1bad']), 400, 'INVALID_SCHEMA');
      const badDefault = await expectTableError(await t.create([{ name: 'a', type: 'int64' }, { name: 'b', type: 'int64', default: 'x' }], ['a']), 400, 'TYPE_MISMATCH');
      expect(badDefault.column).toBe('b');
      await expectTableError(await send(tablesUrl(server.url), 'POST', '{"name":'), 400, 'INVALID_JSON');
      await expectTableError(await send(tablesUrl(server.url), 'POST', { name: t.name, columns: [{ name: 'a', type: 'int64' }], primary_key: ['a'], extra: 1 }), 400, 'INVALID_PARAMETER');
    });
  });

  describe('rows', () => {
    it('stores every type over JSON and reads rows back by primary key', async () => {
      const t = client('types');
      await t.createOk(
        [
          { name: 'k', type: 'string' },
          { name: 'big', type: 'int64' },
          { name: 'f', type: 'float64' },
          { name: 'b', type: 'boolean' },
          { name: 'ts', type: 'timestamp' },
          { name: 'bin', type: 'binary' },
          { name: 'd', type: 'int64', nullable: false, default: 7 },
        ],
        ['k'],
      );
      const row = { k: 'a/b c', big: '9007199254740993', f: -1.5, b: false, ts: '2024-01-02T03:04:05.123456Z', bin: Buffer.from('héllo').toString('base64'), d: 1 };
      await t.insertOk([row, { k: 'nulls' }, { k: 'small', big: -42 }]);
      const got = (await expectOk<JsonRow>(await t.getRow('a/b c'))).data;
      expect(got).toEqual(row);
      // Omitted columns: NULL, or the default.
      expect((await expectOk<JsonRow>(await t.getRow('nulls'))).data).toEqual({ k: 'nulls', big: null, f: null, b: null, ts: null, bin: null, d: 7 });
      expect((await expectOk<JsonRow>(await t.getRow('["small"]'))).data.big).toBe(-42);
      await expectTableError(await t.getRow('absent'), 404, 'KEY_NOT_FOUND');
      const q = await t.query({ where: { col: 'big', op: '>', value: '9007199254740992' } });
      expect(q.rows).toHaveLength(1);
      expect(q.rows[0][1]).toBe('9007199254740993');
    });

    it('bad rows are 400 naming the column and the row index, and the batch writes nothing', async () => {
      const t = client('bad');
      await t.createOk(PEOPLE_COLUMNS, ['id']);
      const ok = people(20);
      const cases: [JsonRow, number, string, string][] = [
        [{ id: 100, name: 'x', nope: 1 }, 400, 'UNKNOWN_COLUMN', 'nope'],
        [{ id: 100, name: 'x', age: 'old' }, 400, 'TYPE_MISMATCH', 'age'],
        [{ id: 100, name: 'x', age: 1.5 }, 400, 'TYPE_MISMATCH', 'age'],
        [{ id: 100, name: 'x', born: 12345 }, 400, 'TYPE_MISMATCH', 'born'],
        [{ id: 100, name: 'x', score: 'NaN' }, 400, 'TYPE_MISMATCH', 'score'],
        [{ id: 100, name: 'x', big: '1' }, 400, 'UNKNOWN_COLUMN', 'big'],
        [{ id: 100 }, 400, 'NOT_NULL_VIOLATION', 'name'],
        [{ id: 100, name: null }, 400, 'NOT_NULL_VIOLATION', 'name'],
        [{ name: 'no key' }, 400, 'NOT_NULL_VIOLATION', 'id'],
        [{ id: '99999999999999999999', name: 'x' }, 400, 'TYPE_MISMATCH', 'id'],
      ];
      for (const [bad, status, code, column] of cases) {
        const rows = [...ok.slice(0, 13), bad, ...ok.slice(13)];
        const error = await expectTableError(await t.insert(rows), status, code);
        expect({ column: error.column, row: error.row }, JSON.stringify(bad)).toEqual({ column, row: 13 });
      }
      expect((await t.query({ limit: 100 })).rows).toEqual([]);
      await expectTableError(await t.insert([]), 400, 'INVALID_PARAMETER');
      await expectTableError(await t.insert(Array.from({ length: 10_001 }, (_, i) => ({ id: i, name: 'n' }))), 400, 'INVALID_PARAMETER');
      await expectTableError(await t.insert(ok, { on_conflict: 'merge' }), 400, 'INVALID_PARAMETER');
      await expectTableError(await t.post('rows', { rows: ok, what: 1 }), 400, 'INVALID_PARAMETER');
    });

    it('duplicate keys are 409 DUPLICATE_KEY naming the row; the whole batch is refused across shards', async () => {
      const t = client('dup');
      await t.createOk(PEOPLE_COLUMNS, ['id']);
      const rows = people(200);
      const inRequest = await expectTableError(await t.insert([...rows.slice(0, 10), { id: 3, name: 'again' }]), 409, 'DUPLICATE_KEY');
      expect(inRequest.row).toBe(10);
      expect(inRequest.column).toBe('id');
      await t.insertOk(rows.slice(0, 100));
      // Rows 100..199 are new, one (row 150 of the request) repeats a stored key: nothing of it stays.
      const batch = [...rows.slice(100, 150), { id: 42, name: 'dup' }, ...rows.slice(150)];
      const stored = await expectTableError(await t.insert(batch), 409, 'DUPLICATE_KEY');
      expect(stored.row).toBe(50);
      expect(stored.column).toBe('id');
      const count = await t.query({ aggregates: [{ fn: 'count', as: 'n' }] });
      expect(count.rows).toEqual([[100]]);
      expect((await expectOk<JsonRow>(await t.getRow('42'))).data.name).toBe('p0042');
      await expectTableError(await t.getRow('120'), 404, 'KEY_NOT_FOUND');

      const replaced = await t.insertOk([{ id: 42, name: 'new' }, { id: 300, name: 'n300' }], { on_conflict: 'replace' });
      expect(replaced).toEqual({ inserted: 1, replaced: 1, ignored: 0 });
      expect((await expectOk<JsonRow>(await t.getRow('42'))).data).toMatchObject({ name: 'new', age: null, active: true });
      const ignored = await t.insertOk([{ id: 42, name: 'ignored' }, { id: 301, name: 'n301' }], { on_conflict: 'ignore' });
      expect(ignored).toEqual({ inserted: 1, replaced: 0, ignored: 1 });
      expect((await expectOk<JsonRow>(await t.getRow('42'))).data.name).toBe('new');
    });

    it('adds a column without touching stored rows; old rows read NULL (or the default)', async () => {
      const t = client('addcol');
      await t.createOk(PEOPLE_COLUMNS, ['id']);
      await t.insertOk(people(50));
      await t.move();
      await expectOk(await t.post('columns', { name: 'tier', type: 'string' }));
      await expectOk(await t.post('columns', { name: 'level', type: 'int64', nullable: false, default: 5 }));
      const exists = await expectTableError(await t.post('columns', { name: 'age', type: 'int64' }), 409, 'COLUMN_EXISTS');
      expect(exists.column).toBe('age');
      await expectTableError(await t.post('columns', { name: 'must', type: 'int64', nullable: false }), 400, 'INVALID_SCHEMA');
      await t.insertOk([{ id: 1000, name: 'new', tier: 'gold', level: 9 }]);
      const q = await t.query({ columns: ['id', 'tier', 'level'], where: { col: 'id', op: 'in', value: [1, 1000] }, order_by: [{ column: 'id' }] });
      expect(q.rows).toEqual([
        [1, null, 5],
        [1000, 'gold', 9],
      ]);
    });

    it('updates and deletes by filter answer the affected counts', async () => {
      const t = client('upd');
      await t.createOk(PEOPLE_COLUMNS, ['id']);
      const rows = people(300);
      await t.insertOk(rows);
      await t.move();
      await t.insertOk(people(400).slice(300));
      const nyc = people(400).filter((r) => r.city === 'NYC').length;
      expect(await t.update({ col: 'city', op: '=', value: 'NYC' }, { score: 99.5, city: 'New York' })).toBe(nyc);
      const check = await t.query({ columns: ['score'], where: { col: 'city', op: '=', value: 'New York' }, limit: 1000 });
      expect(check.rows).toHaveLength(nyc);
      expect(check.rows.every((r) => r[0] === 99.5)).toBe(true);
      const unknown = await expectTableError(await t.post('update', { where: null, set: { nope: 1 } }), 400, 'UNKNOWN_COLUMN');
      expect(unknown.column).toBe('nope');
      const badType = await expectTableError(await t.post('update', { where: null, set: { age: 'x' } }), 400, 'TYPE_MISMATCH');
      expect(badType.column).toBe('age');
      const notNull = await expectTableError(await t.post('update', { where: null, set: { name: null } }), 400, 'NOT_NULL_VIOLATION');
      expect(notNull.column).toBe('name');
      await expectTableError(await t.post('update', { where: { col: 'nope', op: '=', value: 1 }, set: { age: 1 } }), 400, 'UNKNOWN_COLUMN');
      await expectTableError(await t.post('update', { where: { col: 'age', op: '~', value: 1 }, set: { age: 1 } }), 400, 'BAD_QUERY');

      const young = people(400).filter((r) => typeof r.age === 'number' && r.age < 30).length;
      expect(await t.delete({ col: 'age', op: '<', value: 30 })).toBe(young);
      expect(await t.delete({ col: 'age', op: '<', value: 30 })).toBe(0);
      const left = await t.query({ aggregates: [{ fn: 'count', as: 'n' }] });
      expect(left.rows).toEqual([[400 - young]]);
      expect(await t.delete(null)).toBe(400 - young);
      expect((await t.query({ aggregates: [{ fn: 'count', as: 'n' }] })).rows).toEqual([[0]]);
    });
  });

  it('a two-column primary key: lookups by a JSON array, key order, and queries pinned to one shard', async () => {
    const t = client('pk2');
    await t.createOk(
      [
        { name: 'region', type: 'string' },
        { name: 'seq', type: 'int64' },
        { name: 'v', type: 'float64' },
      ],
      ['region', 'seq'],
    );
    const rows = ['eu', 'us', 'ap'].flatMap((region) => Array.from({ length: 40 }, (_, seq) => ({ region, seq: 39 - seq, v: seq / 2 })));
    await t.insertOk(rows);
    expect((await expectOk<JsonRow>(await t.getRow('["us",7]'))).data).toEqual({ region: 'us', seq: 7, v: 16 });
    await expectTableError(await t.getRow('us'), 400, 'BAD_QUERY');
    await expectTableError(await t.getRow('["us","x"]'), 400, 'TYPE_MISMATCH');
    const dup = await expectTableError(await t.insert([{ region: 'eu', seq: 3, v: 0 }]), 409, 'DUPLICATE_KEY');
    expect(dup.row).toBe(0);
    await t.insertOk([{ region: 'eu', seq: 3, v: 1 }], { on_conflict: 'replace' });
    // Without order_by: primary-key order (region, then seq).
    const all = await t.query({ columns: ['region', 'seq'], limit: 1000 });
    const expected = [...rows].sort((a, b) => (a.region < b.region ? -1 : a.region > b.region ? 1 : a.seq - b.seq)).map((r) => [r.region, r.seq]);
    expect(all.rows).toEqual(expected);
    const pinned = await t.query({ columns: ['v'], where: { and: [{ col: 'region', op: '=', value: 'ap' }, { col: 'seq', op: '=', value: 5 }] } });
    expect(pinned.rows).toEqual([[17]]);
    expect(pinned.stats.shards).toBe(1);
    const partial = await t.query({ columns: ['seq'], where: { col: 'region', op: '=', value: 'ap' }, limit: 1000 });
    expect(partial.rows).toHaveLength(40);
    expect(partial.stats.shards).toBe(shards);
    expect(await t.update({ and: [{ col: 'region', op: 'in', value: ['eu', 'us'] }, { col: 'seq', op: 'in', value: [1, 2] }] }, { v: -1 })).toBe(4);
    await expectTableError(await t.post('update', { where: null, set: { seq: 1 } }), 400, 'BAD_QUERY');
  });

  it('rows with ttl_seconds expire (point lookup and queries), big int64 sums stay exact', async () => {
    const t = client('ttl');
    await t.createOk(
      [
        { name: 'id', type: 'int64' },
        { name: 'v', type: 'int64' },
      ],
      ['id'],
    );
    await t.insertOk([{ id: 1, v: '9007199254740993' }, { id: 2, v: '9007199254740993' }]);
    await t.insertOk([{ id: 10, v: 1 }, { id: 11, v: 2 }], { ttl_seconds: 1 });
    expect((await t.query({ aggregates: [{ fn: 'count', as: 'n' }] })).rows).toEqual([[4]]);
    const sum = await t.query({ aggregates: [{ fn: 'sum', column: 'v', as: 's' }], where: { col: 'id', op: '<', value: 10 } });
    expect(sum.rows).toEqual([['18014398509481986']]);
    const deadline = Date.now() + 10_000;
    for (;;) {
      const n = (await t.query({ aggregates: [{ fn: 'count', as: 'n' }] })).rows[0][0];
      if (n === 2) break;
      expect(Date.now(), 'rows with ttl_seconds 1 still there after 10 s').toBeLessThan(deadline);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await expectTableError(await t.getRow('10'), 404, 'KEY_NOT_FOUND');
    await expectTableError(await t.insert([{ id: 3 }], { ttl_seconds: -1 }), 400, 'INVALID_TTL');
  });

  describe('queries', () => {
    let t: TablesClient;
    const rows = people(500);
    beforeAll(async () => {
      t = client('query');
      await t.createOk(PEOPLE_COLUMNS, ['id']);
      await t.insertOk(rows.slice(0, 300));
      await t.move();
      await t.insertOk(rows.slice(300));
    });

    it('projects, filters, orders (NULLS LAST ascending, FIRST descending) and cuts with offset and limit', async () => {
      const where = { and: [{ col: 'age', op: '>', value: 30 }, { col: 'city', op: 'in', value: ['NYC', 'LA'] }] };
      const expected = rows
        .filter((r) => typeof r.age === 'number' && r.age > 30 && (r.city === 'NYC' || r.city === 'LA'))
        .sort((a, b) => (b.score as number) - (a.score as number) || (a.id as number) - (b.id as number))
        .map((r) => [r.id, r.name, r.score]);
      const q = await t.query({ columns: ['id', 'name', 'score'], where, order_by: [{ column: 'score', desc: true }], limit: 1000 });
      expect(q.columns).toEqual(['id', 'name', 'score']);
      expect(q.rows).toEqual(expected);
      const page = await t.query({ columns: ['id', 'name', 'score'], where, order_by: [{ column: 'score', desc: true }], offset: 5, limit: 7 });
      expect(page.rows).toEqual(expected.slice(5, 12));
      expect(page.next_cursor).not.toBeNull();

      const nullsAsc = await t.query({ columns: ['id', 'age'], order_by: ['age'], limit: 1000 });
      const ages = nullsAsc.rows.map((r) => r[1]);
      const firstNull = ages.indexOf(null);
      expect(ages.slice(firstNull).every((a) => a === null)).toBe(true);
      const nullsDesc = await t.query({ columns: ['id', 'age'], order_by: [{ column: 'age', desc: true }], limit: 1000 });
      expect(nullsDesc.rows.slice(0, rows.filter((r) => r.age === null).length).every((r) => r[1] === null)).toBe(true);
      const isNull = await t.query({ columns: ['id'], where: { col: 'city', op: 'is_null' }, limit: 1000 });
      expect(isNull.rows.map((r) => r[0])).toEqual(rows.filter((r) => r.city === null).map((r) => r.id));
      const prefix = await t.query({ columns: ['id'], where: { col: 'name', op: 'starts_with', value: 'p001' }, limit: 1000 });
      expect(prefix.rows.map((r) => r[0])).toEqual(Array.from({ length: 10 }, (_, i) => 10 + i));
      expect(q.stats.shards).toBeGreaterThan(0);
      expect(typeof q.stats.took_ms).toBe('number');
    });

    it('pages through every row with the cursor, no row twice or missed, in order', async () => {
      const body = { columns: ['id', 'city', 'score'], order_by: [{ column: 'city' }, { column: 'score', desc: true }], limit: 37 };
      const { rows: all, pages } = await t.queryAll(body, [0]);
      expect(pages).toBe(Math.ceil(500 / 37));
      const cityRank = (c: Json): number => (c === null ? 1e9 : ['Boston', 'LA', 'NYC', 'SF'].indexOf(c as string));
      const expected = [...rows]
        .sort((a, b) => cityRank(a.city) - cityRank(b.city) || (b.score as number) - (a.score as number) || (a.id as number) - (b.id as number))
        .map((r) => [r.id, r.city, r.score]);
      expect(all).toEqual(expected);
      const first = await t.query(body);
      await expectTableError(await t.post('query', { ...body, order_by: [{ column: 'id' }], cursor: first.next_cursor }), 400, 'CURSOR_INVALID');
      await expectTableError(await t.post('query', { ...body, cursor: 'not-a-cursor!' }), 400, 'CURSOR_INVALID');
      await expectTableError(await t.post('query', { ...body, cursor: 'AAAA' }), 400, 'CURSOR_INVALID');
    });

    it('GROUP BY with count, sum, avg, min and max agrees with a plain computation (delta and segments)', async () => {
      const expected = plainGroups(rows, 'city', 'age');
      const q = await t.query({
        group_by: ['city'],
        aggregates: [
          { fn: 'count', as: 'n' },
          { fn: 'sum', column: 'age', as: 's' },
          { fn: 'count', column: 'age', as: 'ages' },
          { fn: 'avg', column: 'age', as: 'mean' },
          { fn: 'min', column: 'name', as: 'first' },
          { fn: 'max', column: 'score', as: 'top' },
        ],
        order_by: [{ column: 'city' }],
      });
      expect(q.columns).toEqual(['city', 'n', 's', 'ages', 'mean', 'first', 'top']);
      expect(q.rows).toHaveLength(expected.size);
      for (const row of q.rows) {
        const g = expected.get(JSON.stringify(row[0]));
        expect(g, JSON.stringify(row)).toBeDefined();
        const members = rows.filter((r) => r.city === row[0]);
        expect(row[1]).toBe(g?.count);
        expect(row[2]).toBe(g?.sum);
        expect(row[3]).toBe(g?.n);
        expect(row[4] as number).toBeCloseTo((g?.sum ?? 0) / (g?.n ?? 1), 9);
        expect(row[5]).toBe(members.map((m) => m.name as string).sort()[0]);
        expect(row[6]).toBe(Math.max(...members.map((m) => m.score as number)));
      }
      expect(q.rows.map((r) => r[0])).toEqual(['Boston', 'LA', 'NYC', 'SF', null]);
      const total = await t.query({ aggregates: [{ fn: 'count', as: 'n' }, { fn: 'sum', column: 'score', as: 's' }], where: { col: 'active', op: '=', value: true } });
      const active = rows.filter((r) => r.active === true);
      expect(total.rows[0][0]).toBe(active.length);
      expect(total.rows[0][1] as number).toBeCloseTo(active.reduce((s, r) => s + (r.score as number), 0), 6);
      const top2 = await t.query({ group_by: ['city'], aggregates: [{ fn: 'count', as: 'n' }], order_by: [{ column: 'n', desc: true }, { column: 'city' }], limit: 2 });
      expect(top2.rows).toHaveLength(2);
      await expectTableError(await t.post('query', { aggregates: [{ fn: 'sum', column: 'name' }] }), 400, 'TYPE_MISMATCH');
      await expectTableError(await t.post('query', { aggregates: [{ fn: 'median', column: 'age' }] }), 400, 'BAD_QUERY');
      await expectTableError(await t.post('query', { group_by: ['nope'] }), 400, 'UNKNOWN_COLUMN');
    });

    it('indexes: created, used, the same answers as a scan, dropped', async () => {
      const made = (await expectOk<JsonRow>(await t.post('indexes', { name: 'by_age', columns: ['age'], type: 'btree' }), 201)).data;
      expect(made).toMatchObject({ name: 'by_age', type: 'btree', columns: ['age'], unique: false, state: 'ready' });
      await expectOk(await t.post('indexes', { name: 'by_city', columns: ['city'], type: 'hash' }), 201);
      await expectOk(await t.post('indexes', { name: 'bloom_name', columns: ['name'], type: 'bloom' }), 201);
      await expectTableError(await t.post('indexes', { name: 'by_age', columns: ['age'] }), 409, 'INDEX_EXISTS');
      const missingCol = await expectTableError(await t.post('indexes', { name: 'x', columns: ['nope'] }), 400, 'UNKNOWN_COLUMN');
      expect(missingCol.column).toBe('nope');
      for (const where of [
        { col: 'age', op: '>=', value: 70 },
        { col: 'age', op: '=', value: 33 },
        { col: 'city', op: '=', value: 'SF' },
        { col: 'name', op: '=', value: 'p0123' },
        { and: [{ col: 'age', op: '<', value: 25 }, { col: 'city', op: 'in', value: ['LA', 'SF'] }] },
      ]) {
        const planned = await t.query({ columns: ['id'], where, order_by: ['id'], limit: 1000 });
        const scanned = await t.query({ columns: ['id'], where, order_by: ['id'], limit: 1000, hint: '$scan' });
        expect(planned.rows, JSON.stringify(where)).toEqual(scanned.rows);
      }
      const described = (await expectOk<JsonRow>(await t.info())).data;
      expect((described.indexes as JsonRow[]).map((i) => i.name)).toEqual(['by_age', 'by_city', 'bloom_name']);
      await expectOk(await send(t.url('/indexes/by_city'), 'DELETE'));
      await expectTableError(await send(t.url('/indexes/by_city'), 'DELETE'), 404, 'INDEX_NOT_FOUND');
      await expectTableError(await t.post('query', { where: null, hint: 'by_city' }), 404, 'INDEX_NOT_FOUND');
    });

    it('stats: rows, segments, bytes and compression per column', async () => {
      const stats = await t.stats();
      expect(stats.rows).toBe(500);
      expect(stats.segments as number).toBeGreaterThan(0);
      expect(stats.bytes_on_disk as number).toBeGreaterThan(0);
      const columns = stats.columns as JsonRow[];
      expect(columns.map((c) => c.name)).toEqual(PEOPLE_COLUMNS.map((c) => c.name));
      const active = columns.find((c) => c.name === 'active') as JsonRow;
      expect(active.plain_bytes as number).toBeGreaterThan(0);
      expect(Object.keys(active.encodings as JsonRow).length).toBeGreaterThan(0);
      // Per encoding across columns: plain and stored bytes and the ratio between them.
      const byEncoding = Object.entries(stats.encodings as Record<string, JsonRow>);
      expect(byEncoding.length).toBeGreaterThan(0);
      for (const [name, e] of byEncoding) {
        expect(e.plain_bytes as number, name).toBeGreaterThan(0);
        expect(e.compression_ratio, name).toBeCloseTo((e.plain_bytes as number) / (e.stored_bytes as number), 1);
      }
      const plainTotal = byEncoding.reduce((t, [, e]) => t + (e.plain_bytes as number), 0);
      expect(plainTotal).toBe(stats.plain_bytes);
    });
  });

  it('refuses unknown routes and methods', async () => {
    await expectTableError(await send(tablesUrl(server.url, '/x/nothing'), 'POST', {}), 404, 'NOT_FOUND');
    await expectTableError(await send(tablesUrl(server.url), 'PUT', {}), 405, 'METHOD_NOT_ALLOWED');
    await expectTableError(await send(tablesUrl(server.url, '/x/query'), 'GET'), 405, 'METHOD_NOT_ALLOWED');
  });
});
