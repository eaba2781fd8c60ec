// SQL over HTTP (POST /api/v1/sql, PostgreSQL dialect) against a real server
// with two shards: the answer shape ({command, columns, rows, row_count} and
// meta), PostgreSQL type names and the JSON form of every value, errors as
// PostgreSQL's SQLSTATE with its 1-based character position, parameters, DDL
// (keys, NOT NULL, DEFAULT, UNIQUE, indexes, ALTER TABLE), DML (multi-row
// INSERT, INSERT … SELECT, ON CONFLICT, RETURNING, UPDATE … FROM, DELETE with
// a subquery, statement atomicity), transactions over the Mantis-Txn header,
// EXPLAIN [ANALYZE] in text and JSON, the NDJSON and Arrow answers, the
// Mantis-Deadline-Ms header, and --sql-memory-mb on a second server.
//
// Expected values come from PostgreSQL 15 where PostgreSQL defines them (the
// error positions, row counts of ON CONFLICT, …). A behaviour the engine gets
// wrong keeps its assertion in an `it` of its own whose name says what
// PostgreSQL (or the API's contract) does.

import { existsSync, readFileSync } from 'node:fs';
import { tableFromIPC } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';

afterAll(cleanup);

type Column = { name: string; type: string };
type SqlData = { command: string; columns: Column[]; rows: unknown[][]; row_count: number };
type SqlError = { code: string; message: string; sqlstate?: string; position?: number };
type SqlBody = { success: boolean; data?: SqlData; error?: SqlError; meta?: Record<string, unknown> };
type Answer = { status: number; headers: Headers; body: SqlBody; ms: number };
type Headers_ = Record<string, string>;

let server: ServerProcess;

beforeAll(async () => {
  server = await startServer({ shards: 2, fsync: 'batch' });
});

const endpoint = (base: string): string => `${base}/api/v1/sql`;

/** POSTs a JSON body (a string is sent as is) and parses the JSON answer. */
async function post(body: unknown, headers: Headers_ = {}, base = server.url): Promise<Answer> {
  const started = performance.now();
  const response = await fetch(endpoint(base), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: SqlBody;
  try {
    parsed = JSON.parse(text) as SqlBody;
  } catch {
    throw new Error(`HTTP ${response.status}: not JSON: ${text.slice(0, 300)}`);
  }
  return { status: response.status, headers: response.headers, body: parsed, ms: performance.now() - started };
}

function request(query: string, params?: unknown[]): Record<string, unknown> {
  return params === undefined ? { query } : { query, params };
}

/** Runs a statement that must succeed (HTTP 200); returns the whole answer. */
async function run(query: string, params?: unknown[], headers: Headers_ = {}, base = server.url): Promise<Answer> {
  const answer = await post(request(query, params), headers, base);
  expect({ status: answer.status, error: answer.body.error }, query).toEqual({ status: 200, error: undefined });
  expect(answer.body.success, query).toBe(true);
  return answer;
}

/** Runs a statement that must succeed; returns data. */
async function sql(query: string, params?: unknown[], headers: Headers_ = {}): Promise<SqlData> {
  return (await run(query, params, headers)).body.data as SqlData;
}

/** The rows of a statement that must succeed. */
async function rows(query: string, params?: unknown[], headers: Headers_ = {}): Promise<unknown[][]> {
  return (await sql(query, params, headers)).rows;
}

type Expected = { status: number; sqlstate: string; code?: string; position?: number | null };

/** Runs a statement that must fail so; `position: null` means "no position" (as PostgreSQL). */
async function fails(query: string, want: Expected, params?: unknown[], headers: Headers_ = {}, base = server.url): Promise<SqlError> {
  const answer = await post(request(query, params), headers, base);
  const e = answer.body.error;
  const got: Record<string, unknown> = { status: answer.status, sqlstate: e?.sqlstate };
  const expected: Record<string, unknown> = { status: want.status, sqlstate: want.sqlstate };
  if (want.code !== undefined) {
    got.code = e?.code;
    expected.code = want.code;
  }
  if (want.position !== undefined) {
    got.position = e?.position ?? null;
    expected.position = want.position;
  }
  expect(got, `${query} → ${JSON.stringify(answer.body)}`).toEqual(expected);
  expect(answer.body.success).toBe(false);
  expect(typeof e?.message === 'string' && e.message.length > 0).toBe(true);
  return e as SqlError;
}

const EMPTY_RESULT = { columns: [], rows: [] };

/** A VALUES list of n rows `(i, f(i)…)` for a bulk INSERT. */
function valuesOf(n: number, row: (i: number) => string): string {
  return Array.from({ length: n }, (_, i) => `(${row(i)})`).join(', ');
}

// ---------------------------------------------------------------------------

describe('the answer: shape, PostgreSQL type names, JSON values', () => {
  beforeAll(async () => {
    await sql('CREATE TABLE vals (id int8 PRIMARY KEY, i int4, f float8, n numeric, b bool, ts timestamptz, d date, s text)');
    await sql(
      "INSERT INTO vals VALUES (9007199254740993, -7, 1.5, 12.25, true, '2024-01-02 03:04:05+00', '2024-02-29', 'héllo'), (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
    );
  });

  it('a SELECT answers {success, data: {command, columns, rows, row_count}, meta}', async () => {
    const answer = await run('SELECT 1 AS one, 2.5::float8 AS half');
    expect(answer.body.data).toEqual({
      command: 'SELECT',
      columns: [
        { name: 'one', type: 'int4' },
        { name: 'half', type: 'float8' },
      ],
      rows: [[1, 2.5]],
      row_count: 1,
    });
    expect(answer.body.meta).toBeTypeOf('object');
    expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
  });

  it('literals get PostgreSQL types (int4, int8 past 2^31, numeric, text, bool) and unnamed columns ?column? (a cast is named after its type)', async () => {
    const data = await sql("SELECT 1, 3000000000, 1.5, 'a', true, NULL::int, 1 + 1");
    expect(data.columns.map((c) => c.type)).toEqual(['int4', 'int8', 'numeric', 'text', 'bool', 'int4', 'int4']);
    expect(data.columns.map((c) => c.name)).toEqual(['?column?', '?column?', '?column?', '?column?', '?column?', 'int4', '?column?']);
    expect(data.rows[0].slice(0, 2)).toEqual([1, 3000000000]);
    expect(Number(data.rows[0][2])).toBe(1.5);
    expect(data.rows[0].slice(3)).toEqual(['a', true, null, 2]);
  });

  it('table columns answer their types; values: integers as numbers, int8 past 2^53 as a decimal string, RFC 3339 timestamps, YYYY-MM-DD dates, NULL as null', async () => {
    const data = await sql('SELECT * FROM vals ORDER BY id');
    expect(data.columns).toEqual([
      { name: 'id', type: 'int8' },
      { name: 'i', type: 'int4' },
      { name: 'f', type: 'float8' },
      { name: 'n', type: 'numeric' },
      { name: 'b', type: 'bool' },
      { name: 'ts', type: 'timestamptz' },
      { name: 'd', type: 'date' },
      { name: 's', type: 'text' },
    ]);
    expect(data.row_count).toBe(2);
    expect(data.rows[0]).toEqual([2, null, null, null, null, null, null, null]);
    const [id, i, f, n, b, ts, d, s] = data.rows[1];
    expect([id, i, f, b, ts, d, s]).toEqual(['9007199254740993', -7, 1.5, true, '2024-01-02T03:04:05Z', '2024-02-29', 'héllo']);
    expect(Number(n)).toBe(12.25);
  });

  it('timestamps keep their microseconds; int8 arithmetic past 2^53 stays exact', async () => {
    expect(await rows("SELECT '2024-01-02T03:04:05.123456Z'::timestamptz, '1999-12-31'::date")).toEqual([['2024-01-02T03:04:05.123456Z', '1999-12-31']]);
    expect(await rows('SELECT id + 1, id::text FROM vals WHERE id > 10')).toEqual([['9007199254740994', '9007199254740993']]);
  });
});

// ---------------------------------------------------------------------------

describe('errors: HTTP status, code, PostgreSQL SQLSTATE and position', () => {
  beforeAll(async () => {
    await sql('CREATE TABLE t (id int PRIMARY KEY, a int, name text)');
    await sql('CREATE TABLE u (a int)');
    await sql("INSERT INTO t VALUES (1, 10, 'x'), (2, 20, 'y')");
  });

  const cases: [string, Expected][] = [
    ['SELEC 1', { status: 400, code: 'SQL_SYNTAX_ERROR', sqlstate: '42601', position: 1 }],
    ['SELECT * FROM t WHERE', { status: 400, code: 'SQL_SYNTAX_ERROR', sqlstate: '42601', position: 22 }],
    ["SELECT 'é', nosuch FROM t", { status: 400, code: 'SQL_UNDEFINED_COLUMN', sqlstate: '42703', position: 13 }],
    ['select a from t, u', { status: 400, code: 'SQL_AMBIGUOUS_COLUMN', sqlstate: '42702', position: 8 }],
    ['SELECT * FROM nosuch', { status: 404, code: 'SQL_UNDEFINED_TABLE', sqlstate: '42P01', position: 15 }],
    ['SELECT * FROM t JOIN nosuch ON true', { status: 404, code: 'SQL_UNDEFINED_TABLE', sqlstate: '42P01', position: 22 }],
    ['SELECT id FROM t ORDER BY nosuch', { status: 400, code: 'SQL_UNDEFINED_COLUMN', sqlstate: '42703', position: 27 }],
    ["SELECT 1 + 'a'::text", { status: 400, code: 'SQL_UNDEFINED_FUNCTION', sqlstate: '42883', position: 10 }],
    ['SELECT nofunc(1)', { status: 400, code: 'SQL_UNDEFINED_FUNCTION', sqlstate: '42883', position: 8 }],
    ['SELECT 1 / 0', { status: 400, code: 'SQL_DIVISION_BY_ZERO', sqlstate: '22012', position: null }],
    ['SELECT 2147483647 + 1', { status: 400, code: 'SQL_OUT_OF_RANGE', sqlstate: '22003', position: null }],
    ['SELECT 9223372036854775807::int8 + 1', { status: 400, code: 'SQL_OUT_OF_RANGE', sqlstate: '22003', position: null }],
    ["SELECT 'x'::int", { status: 400, code: 'SQL_INVALID_TEXT', sqlstate: '22P02' }],
    ['SELECT sum(a), name FROM t', { status: 400, code: 'SQL_GROUPING_ERROR', sqlstate: '42803' }],
    ['SELECT sum(a) FROM t WHERE sum(a) > 1', { status: 400, code: 'SQL_GROUPING_ERROR', sqlstate: '42803', position: 28 }],
    ['SELECT 1 FROM t WHERE id IN (SELECT id, a FROM t)', { status: 400, code: 'SQL_SYNTAX_ERROR', sqlstate: '42601', position: 26 }],
    ['INSERT INTO t (id, nosuch) VALUES (1, 2)', { status: 400, code: 'SQL_UNDEFINED_COLUMN', sqlstate: '42703', position: 20 }],
    ['UPDATE t SET nosuch = 1', { status: 400, code: 'SQL_UNDEFINED_COLUMN', sqlstate: '42703', position: 14 }],
    ['SELECT 1; SELECT 2', { status: 400, code: 'SQL_SYNTAX_ERROR', sqlstate: '42601' }],
    ['', { status: 400, code: 'SQL_SYNTAX_ERROR', sqlstate: '42601' }],
    ['  ;  ', { status: 400, code: 'SQL_SYNTAX_ERROR', sqlstate: '42601' }],
  ];

  it.each(cases)('%j fails as PostgreSQL does', async (query, want) => {
    await fails(query, want);
  });

  it('a failed statement changes nothing and the server keeps answering', async () => {
    expect(await rows('SELECT id, a, name FROM t ORDER BY id')).toEqual([
      [1, 10, 'x'],
      [2, 20, 'y'],
    ]);
  });

  it('body errors: query not a string, params not an array → 400 INVALID_PARAMETER with a sqlstate', async () => {
    for (const body of [{ query: 1 }, {}, { query: null }, { query: 'SELECT 1', params: {} }, { query: 'SELECT 1', params: 'a' }]) {
      const answer = await post(body);
      expect({ status: answer.status, code: answer.body.error?.code, success: answer.body.success }, JSON.stringify(body)).toEqual({
        status: 400,
        code: 'INVALID_PARAMETER',
        success: false,
      });
      expect(answer.body.error?.sqlstate).toMatch(/^[0-9A-Z]{5}$/);
    }
  });

  it('an unknown body field and a body that is not JSON answer 400', async () => {
    const unknown = await post({ query: 'SELECT 1', extra: true });
    expect({ status: unknown.status, code: unknown.body.error?.code }).toEqual({ status: 400, code: 'INVALID_PARAMETER' });
    expect(unknown.body.error?.message).toContain('extra');
    const notJson = await post('{"query": ');
    expect(notJson.status).toBe(400);
    expect(notJson.body.success).toBe(false);
  });

  it('every error of the SQL route carries a five-character sqlstate (the unknown-field and invalid-JSON errors too)', async () => {
    const unknown = await post({ query: 'SELECT 1', extra: true });
    const notJson = await post('{"query": ');
    expect([unknown.body.error?.sqlstate, notJson.body.error?.sqlstate]).toEqual([expect.stringMatching(/^[0-9A-Z]{5}$/), expect.stringMatching(/^[0-9A-Z]{5}$/)]);
  });

  it('methods other than POST answer 405', async () => {
    for (const method of ['GET', 'PUT', 'DELETE']) {
      const response = await fetch(endpoint(server.url), method === 'GET' ? { method } : { method, headers: { 'content-type': 'application/json' }, body: '{"query":"SELECT 1"}' });
      const body = (await response.json()) as SqlBody;
      expect({ method, status: response.status, code: body.error?.code }).toEqual({ method, status: 405, code: 'METHOD_NOT_ALLOWED' });
    }
  });

  it("a bad literal's position is the literal's, as PostgreSQL reports it (SELECT 'x'::int → 8)", async () => {
    await fails("SELECT 'x'::int", { status: 400, sqlstate: '22P02', position: 8 });
    await fails("SELECT id FROM t WHERE a = 'abc'", { status: 400, sqlstate: '22P02', position: 28 });
  });

  it('a GROUP BY violation answers the position of the ungrouped column (PostgreSQL: 16)', async () => {
    await fails('SELECT sum(a), name FROM t', { status: 400, sqlstate: '42803', position: 16 });
  });
});

// ---------------------------------------------------------------------------

describe('parameters ($1 …)', () => {
  beforeAll(async () => {
    await sql('CREATE TABLE prm (id int PRIMARY KEY, big int8, label text)');
    await sql("INSERT INTO prm VALUES (1, 10, 'one'), (2, 9007199254740993, 'two'), (3, NULL, 'three'), (4, 40, NULL)");
  });

  it('binds $1 in WHERE', async () => {
    expect(await rows('SELECT label FROM prm WHERE id = $1', [2])).toEqual([['two']]);
    expect(await rows('SELECT id FROM prm WHERE label = $1 OR id = $2 ORDER BY id', ['three', 1])).toEqual([[1], [3]]);
  });

  it('infers a parameter type from its context ($1 + 1 is int4)', async () => {
    const data = await sql('SELECT $1 + 1 AS x', [41]);
    expect(data.columns).toEqual([{ name: 'x', type: 'int4' }]);
    expect(data.rows).toEqual([[42]]);
  });

  it("a string for an int column is PostgreSQL's unknown literal: '12' binds, 'x' is 22P02", async () => {
    expect(await rows('SELECT label FROM prm WHERE id = $1', ['2'])).toEqual([['two']]);
    await fails('SELECT label FROM prm WHERE id = $1', { status: 400, sqlstate: '22P02' }, ['x']);
  });

  it('an int8 parameter past 2^53 given as a decimal string stays exact', async () => {
    expect(await rows('SELECT id, big FROM prm WHERE big = $1', ['9007199254740993'])).toEqual([[2, '9007199254740993']]);
  });

  it('too few or too many parameters are refused', async () => {
    await fails('SELECT * FROM prm WHERE id = $1', { status: 400, sqlstate: '08P01' });
    await fails('SELECT * FROM prm WHERE id = $1', { status: 400, sqlstate: '08P01' }, [1, 2]);
    await fails('SELECT $2::int', { status: 400, sqlstate: '08P01' }, [1]);
  });

  it('LIMIT and OFFSET take parameters; a NULL parameter compares as NULL', async () => {
    expect(await rows('SELECT id FROM prm ORDER BY id LIMIT $1 OFFSET $2', [2, 1])).toEqual([[2], [3]]);
    expect(await rows('SELECT count(*) FROM prm WHERE label = $1', [null])).toEqual([[0]]);
  });

  it('parameters bind in INSERT … RETURNING', async () => {
    const data = await sql('INSERT INTO prm VALUES ($1, $2, $3) RETURNING id, big, label', [5, '9007199254740995', null]);
    expect(data).toEqual({
      command: 'INSERT',
      columns: [
        { name: 'id', type: 'int4' },
        { name: 'big', type: 'int8' },
        { name: 'label', type: 'text' },
      ],
      rows: [[5, '9007199254740995', null]],
      row_count: 1,
    });
  });
});

// ---------------------------------------------------------------------------

describe('DDL', () => {
  it('CREATE TABLE answers its command; a second one is 409 42P07; IF NOT EXISTS is no error', async () => {
    expect(await sql('CREATE TABLE ddl1 (id int PRIMARY KEY, v text)')).toEqual({ command: 'CREATE TABLE', ...EMPTY_RESULT, row_count: 0 });
    await fails('CREATE TABLE ddl1 (id int PRIMARY KEY)', { status: 409, code: 'SQL_DUPLICATE_OBJECT', sqlstate: '42P07' });
    expect((await sql('CREATE TABLE IF NOT EXISTS ddl1 (id int PRIMARY KEY)')).command).toBe('CREATE TABLE');
    // IF NOT EXISTS kept the first definition.
    expect((await sql('SELECT * FROM ddl1')).columns).toEqual([
      { name: 'id', type: 'int4' },
      { name: 'v', type: 'text' },
    ]);
  });

  it('PRIMARY KEY in column form: a duplicate key is 409 23505', async () => {
    await sql("INSERT INTO ddl1 VALUES (1, 'a')");
    await fails("INSERT INTO ddl1 VALUES (1, 'b')", { status: 409, code: 'DUPLICATE_KEY', sqlstate: '23505' });
    expect(await rows('SELECT v FROM ddl1 WHERE id = 1')).toEqual([['a']]);
  });

  it('a composite PRIMARY KEY in table form: the pair is the key', async () => {
    await sql('CREATE TABLE ddl2 (a int, b int, c text, PRIMARY KEY (a, b))');
    expect((await sql("INSERT INTO ddl2 VALUES (1, 1, 'x'), (1, 2, 'y'), (2, 1, 'z')")).row_count).toBe(3);
    await fails("INSERT INTO ddl2 VALUES (1, 2, 'dup')", { status: 409, sqlstate: '23505' });
    expect(await rows('SELECT c FROM ddl2 WHERE a = 1 AND b = 2')).toEqual([['y']]);
    expect(await rows('SELECT count(*) FROM ddl2')).toEqual([[3]]);
  });

  it('NOT NULL (23502, and the primary key is NOT NULL) and DEFAULT', async () => {
    await sql("CREATE TABLE ddl3 (id int PRIMARY KEY, qty int NOT NULL DEFAULT 7, note text DEFAULT 'none', extra text)");
    expect((await sql('INSERT INTO ddl3 (id) VALUES (1)')).row_count).toBe(1);
    expect(await rows('SELECT * FROM ddl3')).toEqual([[1, 7, 'none', null]]);
    await fails('INSERT INTO ddl3 (id, qty) VALUES (2, NULL)', { status: 400, code: 'NOT_NULL_VIOLATION', sqlstate: '23502' });
    await fails('INSERT INTO ddl3 (id) VALUES (NULL)', { status: 400, code: 'NOT_NULL_VIOLATION', sqlstate: '23502' });
    await fails('UPDATE ddl3 SET qty = NULL', { status: 400, sqlstate: '23502' });
    expect(await rows('SELECT * FROM ddl3')).toEqual([[1, 7, 'none', null]]);
  });

  it('UNIQUE makes a unique index: a duplicate value is 409 23505 (INSERT and UPDATE), NULLs do not collide', async () => {
    await sql('CREATE TABLE ddl4 (id int PRIMARY KEY, email text UNIQUE)');
    await sql("INSERT INTO ddl4 VALUES (1, 'a@x'), (2, 'b@x'), (3, NULL), (4, NULL)");
    await fails("INSERT INTO ddl4 VALUES (5, 'a@x')", { status: 409, code: 'DUPLICATE_KEY', sqlstate: '23505' });
    await fails("UPDATE ddl4 SET email = 'a@x' WHERE id = 2", { status: 409, sqlstate: '23505' });
    expect(await rows('SELECT id, email FROM ddl4 ORDER BY id')).toEqual([
      [1, 'a@x'],
      [2, 'b@x'],
      [3, null],
      [4, null],
    ]);
  });

  it('a table without a primary key takes duplicate rows and SELECT * shows no hidden column', async () => {
    await sql('CREATE TABLE nopk (k int, v text)');
    expect((await sql("INSERT INTO nopk VALUES (1, 'x'), (1, 'x'), (2, NULL)")).row_count).toBe(3);
    const all = await sql('SELECT * FROM nopk ORDER BY k');
    expect(all.columns).toEqual([
      { name: 'k', type: 'int4' },
      { name: 'v', type: 'text' },
    ]);
    expect(all.rows).toEqual([
      [1, 'x'],
      [1, 'x'],
      [2, null],
    ]);
    // INSERT … SELECT * copies the visible columns only; RETURNING * too.
    const copied = await sql('INSERT INTO nopk SELECT * FROM nopk WHERE k = 1 RETURNING *');
    expect(copied.rows).toEqual([
      [1, 'x'],
      [1, 'x'],
    ]);
    expect(await rows('SELECT k, count(*) FROM nopk GROUP BY k ORDER BY k')).toEqual([
      [1, 4],
      [2, 1],
    ]);
    // A join of it with itself has 2 + 2 columns.
    expect((await sql('SELECT * FROM nopk a JOIN nopk b ON a.k = b.k WHERE a.k = 2')).rows).toEqual([[2, null, 2, null]]);
    // UPDATE and DELETE reach each copy.
    expect((await sql("UPDATE nopk SET v = 'y' WHERE k = 1")).row_count).toBe(4);
    expect((await sql('DELETE FROM nopk WHERE k = 1 RETURNING *')).rows).toEqual([
      [1, 'y'],
      [1, 'y'],
      [1, 'y'],
      [1, 'y'],
    ]);
  });

  it('DROP TABLE: the table is gone (42P01 after); DROP without IF EXISTS of a missing table is 404 42P01', async () => {
    await sql('CREATE TABLE ddl5 (id int PRIMARY KEY)');
    expect(await sql('DROP TABLE ddl5')).toEqual({ command: 'DROP TABLE', ...EMPTY_RESULT, row_count: 0 });
    await fails('SELECT * FROM ddl5', { status: 404, code: 'SQL_UNDEFINED_TABLE', sqlstate: '42P01', position: 15 });
    await fails('DROP TABLE ddl5', { status: 404, code: 'SQL_UNDEFINED_TABLE', sqlstate: '42P01' });
    expect((await sql('DROP TABLE IF EXISTS ddl5')).command).toBe('DROP TABLE');
    // The name can be used again, with another shape.
    await sql('CREATE TABLE ddl5 (k text PRIMARY KEY, n int)');
    expect((await sql('SELECT * FROM ddl5')).columns.map((c) => c.name)).toEqual(['k', 'n']);
  });

  it('CREATE [UNIQUE] INDEX … USING btree | hash | bloom, DROP INDEX [IF EXISTS]', async () => {
    await sql('CREATE TABLE ddl6 (id int PRIMARY KEY, city text, email text, tag text)');
    await sql(`INSERT INTO ddl6 VALUES ${valuesOf(60, (i) => `${i}, 'c${i % 6}', 'e${i}', 't${i % 3}'`)}`);
    expect(await sql('CREATE INDEX ddl6_city ON ddl6 USING btree (city)')).toEqual({ command: 'CREATE INDEX', ...EMPTY_RESULT, row_count: 0 });
    expect((await sql('CREATE UNIQUE INDEX ddl6_email ON ddl6 USING hash (email)')).command).toBe('CREATE INDEX');
    expect((await sql('CREATE INDEX ddl6_tag ON ddl6 USING bloom (tag)')).command).toBe('CREATE INDEX');
    // The indexes answer the same rows as a scan would.
    expect(await rows("SELECT id FROM ddl6 WHERE city = 'c2' ORDER BY id")).toEqual([[2], [8], [14], [20], [26], [32], [38], [44], [50], [56]]);
    expect(await rows("SELECT id FROM ddl6 WHERE email = 'e17'")).toEqual([[17]]);
    expect(await rows("SELECT count(*) FROM ddl6 WHERE tag = 't1'")).toEqual([[20]]);
    // The unique index refuses a duplicate; a unique index over duplicates cannot be built.
    await fails("INSERT INTO ddl6 VALUES (100, 'c0', 'e17', 't0')", { status: 409, sqlstate: '23505' });
    await fails('CREATE UNIQUE INDEX ddl6_city_u ON ddl6 (city)', { status: 409, sqlstate: '23505' });
    // Rows written after CREATE INDEX are found through it.
    await sql("INSERT INTO ddl6 VALUES (100, 'c2', 'e100', 't0')");
    expect(await rows("SELECT id FROM ddl6 WHERE city = 'c2' AND id > 50 ORDER BY id")).toEqual([[56], [100]]);
    expect(await sql('DROP INDEX ddl6_city')).toEqual({ command: 'DROP INDEX', ...EMPTY_RESULT, row_count: 0 });
    await fails('DROP INDEX ddl6_city', { status: 404, sqlstate: '42704' });
    expect((await sql('DROP INDEX IF EXISTS ddl6_city')).command).toBe('DROP INDEX');
    expect(await rows("SELECT count(*) FROM ddl6 WHERE city = 'c2'")).toEqual([[11]]);
  });

  it('ALTER TABLE ADD COLUMN: NULL for the old rows, or the DEFAULT; a duplicate column is 42701', async () => {
    await sql('CREATE TABLE ddl7 (id int PRIMARY KEY, a text)');
    await sql("INSERT INTO ddl7 VALUES (1, 'x'), (2, 'y')");
    expect(await sql('ALTER TABLE ddl7 ADD COLUMN b int')).toEqual({ command: 'ALTER TABLE', ...EMPTY_RESULT, row_count: 0 });
    expect((await sql("ALTER TABLE ddl7 ADD COLUMN c text DEFAULT 'dflt'")).command).toBe('ALTER TABLE');
    const all = await sql('SELECT * FROM ddl7 ORDER BY id');
    expect(all.columns).toEqual([
      { name: 'id', type: 'int4' },
      { name: 'a', type: 'text' },
      { name: 'b', type: 'int4' },
      { name: 'c', type: 'text' },
    ]);
    expect(all.rows).toEqual([
      [1, 'x', null, 'dflt'],
      [2, 'y', null, 'dflt'],
    ]);
    expect(await rows("INSERT INTO ddl7 (id, a) VALUES (3, 'z') RETURNING *")).toEqual([[3, 'z', null, 'dflt']]);
    expect(await rows('SELECT id FROM ddl7 WHERE c = $1 AND b IS NULL ORDER BY id', ['dflt'])).toEqual([[1], [2], [3]]);
    await fails('ALTER TABLE ddl7 ADD COLUMN b int', { status: 409, sqlstate: '42701' });
    await fails('ALTER TABLE nosuch ADD COLUMN b int', { status: 404, sqlstate: '42P01' });
  });
});

// ---------------------------------------------------------------------------

describe('DML', () => {
  beforeAll(async () => {
    await sql('CREATE TABLE items (id int PRIMARY KEY, qty int NOT NULL, name text)');
    await sql('CREATE TABLE prices (item int PRIMARY KEY, price int)');
  });

  it('INSERT … VALUES (multi-row) answers INSERT with the count and no rows', async () => {
    const data = await sql("INSERT INTO items VALUES (1, 10, 'apple'), (2, 20, 'pear'), (3, 30, NULL), (4, 40, 'fig')");
    expect(data).toEqual({ command: 'INSERT', ...EMPTY_RESULT, row_count: 4 });
    await sql('INSERT INTO prices VALUES (1, 100), (2, 200), (4, 400)');
  });

  it('INSERT … SELECT', async () => {
    expect((await sql('INSERT INTO items SELECT id + 100, qty * 2, name FROM items WHERE id <= 2')).row_count).toBe(2);
    expect(await rows('SELECT id, qty, name FROM items WHERE id > 100 ORDER BY id')).toEqual([
      [101, 20, 'apple'],
      [102, 40, 'pear'],
    ]);
  });

  it('ON CONFLICT DO NOTHING: row_count counts the inserted rows only', async () => {
    const data = await sql("INSERT INTO items VALUES (1, 99, 'dup'), (5, 50, 'kiwi'), (2, 99, 'dup') ON CONFLICT DO NOTHING");
    expect(data.row_count).toBe(1);
    expect(await rows('SELECT id, qty, name FROM items WHERE id IN (1, 2, 5) ORDER BY id')).toEqual([
      [1, 10, 'apple'],
      [2, 20, 'pear'],
      [5, 50, 'kiwi'],
    ]);
  });

  it('ON CONFLICT (pk) DO UPDATE SET … = EXCLUDED.… RETURNING', async () => {
    const data = await sql("INSERT INTO items VALUES (1, 11, 'x'), (6, 60, 'plum') ON CONFLICT (id) DO UPDATE SET qty = items.qty + EXCLUDED.qty RETURNING id, qty, name");
    expect(data.command).toBe('INSERT');
    expect(data.row_count).toBe(2);
    expect(data.columns.map((c) => c.name)).toEqual(['id', 'qty', 'name']);
    expect([...data.rows].sort((a, b) => (a[0] as number) - (b[0] as number))).toEqual([
      [1, 21, 'apple'],
      [6, 60, 'plum'],
    ]);
    await fails("INSERT INTO items VALUES (7, 1, 'a'), (7, 2, 'b') ON CONFLICT (id) DO UPDATE SET qty = EXCLUDED.qty", { status: 400, sqlstate: '21000' });
    await fails("INSERT INTO items VALUES (7, 1, 'a') ON CONFLICT (qty) DO NOTHING", { status: 400, sqlstate: '42P10' });
  });

  it('UPDATE with expressions and WHERE answers the affected count', async () => {
    const data = await sql("UPDATE items SET qty = qty * 2 + id, name = coalesce(name, 'unnamed') WHERE id BETWEEN 2 AND 4");
    expect(data).toEqual({ command: 'UPDATE', ...EMPTY_RESULT, row_count: 3 });
    expect(await rows('SELECT id, qty, name FROM items WHERE id BETWEEN 1 AND 4 ORDER BY id')).toEqual([
      [1, 21, 'apple'],
      [2, 42, 'pear'],
      [3, 63, 'unnamed'],
      [4, 84, 'fig'],
    ]);
    expect((await sql('UPDATE items SET qty = 0 WHERE id = 999')).row_count).toBe(0);
  });

  it('UPDATE … FROM another table, with RETURNING', async () => {
    const data = await sql('UPDATE items SET qty = items.qty + p.price FROM prices p WHERE items.id = p.item AND p.price >= 200 RETURNING items.id, items.qty');
    expect(data.command).toBe('UPDATE');
    expect(data.row_count).toBe(2);
    expect([...data.rows].sort((a, b) => (a[0] as number) - (b[0] as number))).toEqual([
      [2, 242],
      [4, 484],
    ]);
  });

  it('DELETE with a subquery, and DELETE … RETURNING', async () => {
    const data = await sql('DELETE FROM items WHERE id IN (SELECT id + 100 FROM items WHERE qty > 100)');
    expect(data).toEqual({ command: 'DELETE', ...EMPTY_RESULT, row_count: 1 });
    expect(await rows('SELECT id FROM items WHERE id > 100')).toEqual([[101]]);
    const returned = await sql('DELETE FROM items WHERE id = 101 OR name IS NULL RETURNING id, name');
    expect(returned).toEqual({
      command: 'DELETE',
      columns: [
        { name: 'id', type: 'int4' },
        { name: 'name', type: 'text' },
      ],
      rows: [[101, 'apple']],
      row_count: 1,
    });
    expect((await sql('DELETE FROM items WHERE id = 999 RETURNING *')).row_count).toBe(0);
  });

  it('a statement that fails midway leaves nothing behind (INSERT, UPDATE, INSERT … SELECT)', async () => {
    const before = await rows('SELECT * FROM items ORDER BY id');
    await fails("INSERT INTO items VALUES (20, 1, 'a'), (21, 2, 'b'), (22, NULL, 'c'), (23, 4, 'd')", { status: 400, code: 'NOT_NULL_VIOLATION', sqlstate: '23502' });
    await fails("INSERT INTO items VALUES (30, 1, 'a'), (31, 2, 'b'), (30, 3, 'c')", { status: 409, sqlstate: '23505' });
    await fails("INSERT INTO items VALUES (40, 1, 'a'), (41, 2, 'b'), (1, 3, 'c')", { status: 409, sqlstate: '23505' });
    // qty 2147483647 + 1 overflows on one row only: the other rows must keep their qty.
    await sql("INSERT INTO items VALUES (50, 2147483647, 'max')");
    await fails('UPDATE items SET qty = qty + 1', { status: 400, sqlstate: '22003' });
    await fails('INSERT INTO items SELECT id + 1000, 10 / (qty - 2147483647), name FROM items', { status: 400, sqlstate: '22012' });
    expect(await rows('SELECT * FROM items ORDER BY id')).toEqual([...before, [50, 2147483647, 'max']]);
    await sql('DELETE FROM items WHERE id = 50');
  });

  it('ON CONFLICT DO NOTHING without a target skips a row that conflicts on a UNIQUE column (PostgreSQL: INSERT 0 1)', async () => {
    await sql('CREATE TABLE ocu (id int PRIMARY KEY, e text UNIQUE)');
    await sql("INSERT INTO ocu VALUES (1, 'a')");
    const data = await sql("INSERT INTO ocu VALUES (2, 'a'), (3, 'b') ON CONFLICT DO NOTHING");
    expect(data.row_count).toBe(1);
    expect(await rows('SELECT id, e FROM ocu ORDER BY id')).toEqual([
      [1, 'a'],
      [3, 'b'],
    ]);
  });

  it('ON CONFLICT DO NOTHING skips a second row with the same key in the same statement (PostgreSQL: INSERT 0 1)', async () => {
    await sql('CREATE TABLE ocs (id int PRIMARY KEY, v text)');
    const data = await sql("INSERT INTO ocs VALUES (4, 'c'), (4, 'd') ON CONFLICT DO NOTHING");
    expect(data.row_count).toBe(1);
    expect(await rows('SELECT id, v FROM ocs')).toEqual([[4, 'c']]);
  });
});

// ---------------------------------------------------------------------------

describe('transactions (BEGIN / COMMIT / ROLLBACK over Mantis-Txn)', () => {
  beforeAll(async () => {
    await sql('CREATE TABLE acct (id int PRIMARY KEY, bal int)');
    await sql('INSERT INTO acct VALUES (1, 100), (2, 200)');
  });

  async function begin(statement = 'BEGIN'): Promise<string> {
    const answer = await run(statement);
    expect(answer.body.data).toEqual({ command: 'BEGIN', ...EMPTY_RESULT, row_count: 0 });
    const txn = answer.body.meta?.txn;
    expect(typeof txn === 'string' && txn.length > 0).toBe(true);
    expect(answer.headers.get('mantis-txn')).toBe(txn);
    return txn as string;
  }

  const inTxn = (txn: string): Headers_ => ({ 'Mantis-Txn': txn });

  it("BEGIN answers the id; the transaction sees its own writes, other requests do not until COMMIT", async () => {
    const txn = await begin();
    expect((await sql('UPDATE acct SET bal = bal - 10 WHERE id = 1', undefined, inTxn(txn))).row_count).toBe(1);
    expect((await sql('INSERT INTO acct VALUES (3, 300)', undefined, inTxn(txn))).row_count).toBe(1);
    expect(await rows('SELECT * FROM acct ORDER BY id', undefined, inTxn(txn))).toEqual([
      [1, 90],
      [2, 200],
      [3, 300],
    ]);
    // Key lookups (a filter pinning the primary key) see the transaction's writes too, and only there.
    expect(await rows('SELECT bal FROM acct WHERE id = 3', undefined, inTxn(txn))).toEqual([[300]]);
    expect(await rows('SELECT id, bal FROM acct WHERE id IN (1, 3) ORDER BY id', undefined, inTxn(txn))).toEqual([
      [1, 90],
      [3, 300],
    ]);
    expect(await rows('SELECT * FROM acct ORDER BY id')).toEqual([
      [1, 100],
      [2, 200],
    ]);
    expect(await rows('SELECT bal FROM acct WHERE id = 3')).toEqual([]);
    expect(await sql('COMMIT', undefined, inTxn(txn))).toEqual({ command: 'COMMIT', ...EMPTY_RESULT, row_count: 0 });
    expect(await rows('SELECT * FROM acct ORDER BY id')).toEqual([
      [1, 90],
      [2, 200],
      [3, 300],
    ]);
  });

  it('ROLLBACK discards the writes', async () => {
    const txn = await begin();
    expect((await sql('DELETE FROM acct WHERE id = 3', undefined, inTxn(txn))).row_count).toBe(1);
    await sql('UPDATE acct SET bal = 0', undefined, inTxn(txn));
    expect(await rows('SELECT count(*), sum(bal) FROM acct', undefined, inTxn(txn))).toEqual([[2, 0]]);
    expect(await sql('ROLLBACK', undefined, inTxn(txn))).toEqual({ command: 'ROLLBACK', ...EMPTY_RESULT, row_count: 0 });
    expect(await rows('SELECT count(*), sum(bal) FROM acct')).toEqual([[3, 590]]);
  });

  it('BEGIN ISOLATION LEVEL SERIALIZABLE works', async () => {
    const txn = await begin('BEGIN ISOLATION LEVEL SERIALIZABLE');
    expect(await rows('SELECT bal FROM acct WHERE id = 2', undefined, inTxn(txn))).toEqual([[200]]);
    await sql('UPDATE acct SET bal = 201 WHERE id = 2', undefined, inTxn(txn));
    expect((await sql('COMMIT', undefined, inTxn(txn))).command).toBe('COMMIT');
    expect(await rows('SELECT bal FROM acct WHERE id = 2')).toEqual([[201]]);
  });

  it('two transactions updating the same row: the second COMMIT is 409 40001 and its write is lost', async () => {
    const first = await begin();
    const second = await begin();
    await sql('UPDATE acct SET bal = 1 WHERE id = 2', undefined, inTxn(first));
    await sql('UPDATE acct SET bal = 2 WHERE id = 2', undefined, inTxn(second));
    await sql('COMMIT', undefined, inTxn(first));
    await fails('COMMIT', { status: 409, code: 'TXN_CONFLICT', sqlstate: '40001' }, undefined, inTxn(second));
    expect(await rows('SELECT bal FROM acct WHERE id = 2')).toEqual([[1]]);
  });

  it('DDL with the Mantis-Txn header is refused (0A000) and not applied', async () => {
    const txn = await begin();
    await fails('CREATE TABLE in_txn (id int PRIMARY KEY)', { status: 400, code: 'SQL_NOT_SUPPORTED', sqlstate: '0A000' }, undefined, inTxn(txn));
    await fails('DROP TABLE acct', { status: 400, sqlstate: '0A000' }, undefined, inTxn(txn));
    await sql('ROLLBACK', undefined, inTxn(txn));
    await fails('SELECT * FROM in_txn', { status: 404, sqlstate: '42P01' });
    expect(await rows('SELECT count(*) FROM acct')).toEqual([[3]]);
  });

  it('COMMIT and ROLLBACK without a header answer 200 with the 25P01 warning in meta', async () => {
    for (const statement of ['COMMIT', 'ROLLBACK']) {
      const answer = await run(statement);
      expect(answer.body.data).toEqual({ command: statement, ...EMPTY_RESULT, row_count: 0 });
      expect(JSON.stringify(answer.body.meta)).toContain('25P01');
    }
  });

  it('a statement with an unknown transaction id is refused', async () => {
    const e = await post({ query: 'SELECT * FROM acct' }, inTxn('no-such-txn'));
    expect(e.status).toBeGreaterThanOrEqual(400);
    expect(e.body.success).toBe(false);
    expect(e.body.error?.sqlstate).toMatch(/^[0-9A-Z]{5}$/);
  });
});

// ---------------------------------------------------------------------------

describe('EXPLAIN', () => {
  beforeAll(async () => {
    await sql('CREATE TABLE people (id int PRIMARY KEY, city text, age int)');
    await sql('CREATE TABLE visits (pid int, place text)');
    await sql(`INSERT INTO people VALUES ${valuesOf(200, (i) => `${i}, 'city${i % 10}', ${20 + (i % 50)}`)}`);
    await sql(`INSERT INTO visits VALUES ${valuesOf(50, (i) => `${i * 3}, 'p${i % 4}'`)}`);
  });

  const planOf = (data: SqlData): string => data.rows.map((r) => r[0] as string).join('\n');

  it('EXPLAIN answers command EXPLAIN, one text column "QUERY PLAN", and a Pushed Filter for the shard-side condition', async () => {
    const data = await sql('EXPLAIN SELECT * FROM people WHERE id = 5');
    expect(data.command).toBe('EXPLAIN');
    expect(data.columns).toEqual([{ name: 'QUERY PLAN', type: 'text' }]);
    expect(data.row_count).toBe(data.rows.length);
    expect(data.rows.every((r) => r.length === 1 && typeof r[0] === 'string')).toBe(true);
    const plan = planOf(data);
    expect(plan).toMatch(/Pushed Filter: \(id = 5\)/);
    expect(plan).toMatch(/Planning Time: [\d.]+ ms/);
    expect(plan).not.toMatch(/actual time=/);
  });

  it('a join shows Hash Join with its Hash Cond', async () => {
    const plan = planOf(await sql('EXPLAIN SELECT p.id, v.place FROM people p JOIN visits v ON p.id = v.pid'));
    expect(plan).toContain('Hash Join');
    expect(plan).toMatch(/Hash Cond: \(p\.id = v\.pid\)|Hash Cond: \(v\.pid = p\.id\)/);
  });

  it('EXPLAIN ANALYZE adds actual time/rows/loops, per-shard lines and Execution Time', async () => {
    const plan = planOf(await sql('EXPLAIN ANALYZE SELECT p.id, v.place FROM people p JOIN visits v ON p.id = v.pid WHERE p.age > 30'));
    expect(plan).toMatch(/actual time=[\d.]+\.\.[\d.]+ rows=\d+ loops=\d+/);
    expect(plan).toMatch(/Shards: 2 .*Rows Scanned: \d+/);
    expect(plan).toMatch(/Execution Time: [\d.]+ ms/);
    // The top node's actual rows are the real answer's count.
    const real = await rows('SELECT count(*) FROM people p JOIN visits v ON p.id = v.pid WHERE p.age > 30');
    expect(plan.split('\n')[0]).toContain(`rows=${real[0][0] as number} loops=1`);
    expect(plan.split('\n').find((l) => l.includes('Hash Join'))).toMatch(/actual time=/);
  });

  it('a primary-key lookup reads one key from one partition instead of scanning', async () => {
    const plan = planOf(await sql('EXPLAIN ANALYZE SELECT * FROM people WHERE id = 5'));
    expect(plan).toMatch(/Key Lookup on people/);
    expect(plan).toMatch(/Partitions: 1\b/);
    expect(plan).toMatch(/rows=1 loops=1/);
    expect(plan).not.toMatch(/Rows Scanned: 200/);
  });

  it('EXPLAIN (FORMAT JSON) answers one JSON text with Plan, Node Type, Plan Rows, Plans, Planning Time', async () => {
    const data = await sql('EXPLAIN (FORMAT JSON) SELECT p.id FROM people p JOIN visits v ON p.id = v.pid WHERE p.age > 30');
    expect(data.command).toBe('EXPLAIN');
    expect(data.columns).toEqual([{ name: 'QUERY PLAN', type: 'text' }]);
    expect(data.row_count).toBe(1);
    type JsonPlan = { 'Node Type': string; 'Plan Rows': number; Plans?: JsonPlan[]; 'Actual Rows'?: number };
    const doc = JSON.parse(data.rows[0][0] as string) as { Plan: JsonPlan; 'Planning Time': number; 'Execution Time'?: number }[];
    expect(doc).toHaveLength(1);
    expect(doc[0].Plan['Node Type']).toBeTypeOf('string');
    expect(doc[0].Plan['Plan Rows']).toBeTypeOf('number');
    expect(doc[0]['Planning Time']).toBeTypeOf('number');
    expect(doc[0]['Execution Time']).toBeUndefined();
    const types: string[] = [];
    const walk = (n: JsonPlan): void => {
      types.push(n['Node Type']);
      n.Plans?.forEach(walk);
    };
    walk(doc[0].Plan);
    expect(types).toContain('Hash Join');
    expect(doc[0].Plan['Actual Rows']).toBeUndefined();
  });

  it('EXPLAIN (ANALYZE, FORMAT JSON) adds Execution Time and Actual Rows', async () => {
    const data = await sql('EXPLAIN (ANALYZE, FORMAT JSON) SELECT id FROM people WHERE age = 25');
    const doc = JSON.parse(data.rows[0][0] as string) as { Plan: { 'Actual Rows': number; 'Node Type': string }; 'Execution Time': number }[];
    expect(doc[0]['Execution Time']).toBeTypeOf('number');
    // age = 25 holds for i % 50 = 5: 4 of the 200 rows.
    expect(doc[0].Plan['Actual Rows']).toBe(4);
  });

  it('after CREATE INDEX on city, the shards report an index plan for city = …', async () => {
    const before = planOf(await sql("EXPLAIN ANALYZE SELECT * FROM people WHERE city = 'city3'"));
    expect(before).toMatch(/Plan: SCAN/);
    expect(before).toMatch(/Rows Scanned: 200/);
    await sql('CREATE INDEX people_city ON people (city)');
    const after = planOf(await sql("EXPLAIN ANALYZE SELECT * FROM people WHERE city = 'city3'"));
    expect(after).toMatch(/Pushed Filter: \(city = 'city3'\)/);
    expect(after).toMatch(/Shards: 2 +Plan: INDEX\(people_city\)/);
    expect(after).toMatch(/Rows Scanned: 20\b/);
    expect(after).toMatch(/rows=20 loops=1/);
    expect(await rows("SELECT count(*) FROM people WHERE city = 'city3'")).toEqual([[20]]);
  });

  it('EXPLAIN of a missing table is 42P01', async () => {
    await fails('EXPLAIN SELECT * FROM nosuch', { status: 404, sqlstate: '42P01', position: 23 });
  });
});

// ---------------------------------------------------------------------------

describe('NDJSON and Arrow answers', () => {
  beforeAll(async () => {
    await sql('CREATE TABLE fmt (id int8 PRIMARY KEY, i int4, f float8, b bool, s text, d date, ts timestamptz)');
    await sql(
      "INSERT INTO fmt VALUES (9007199254740993, 1, 0.5, true, 'a', '2024-02-29', '2024-01-02T03:04:05Z'), (2, NULL, NULL, false, NULL, NULL, NULL), (3, -3, 2.25, NULL, 'c', '1999-12-31', '1970-01-01T00:00:01Z')",
    );
  });

  async function ndjson(query: string): Promise<{ status: number; type: string | null; lines: unknown[] }> {
    const response = await fetch(endpoint(server.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/x-ndjson' },
      body: JSON.stringify({ query }),
    });
    const text = await response.text();
    if (response.status === 200) expect(text.endsWith('\n')).toBe(true);
    return { status: response.status, type: response.headers.get('content-type'), lines: text.trimEnd().split('\n').map((l) => JSON.parse(l) as unknown) };
  }

  async function arrow(query: string): Promise<{ status: number; type: string | null; bytes: Uint8Array }> {
    const response = await fetch(endpoint(server.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/vnd.apache.arrow.stream' },
      body: JSON.stringify({ query }),
    });
    return { status: response.status, type: response.headers.get('content-type'), bytes: new Uint8Array(await response.arrayBuffer()) };
  }

  it('NDJSON: a header line {command, columns}, one JSON array per row, a trailer with row_count', async () => {
    const answer = await ndjson('SELECT id, i, s, d FROM fmt ORDER BY id');
    expect(answer.status).toBe(200);
    expect(answer.type).toMatch(/^application\/x-ndjson/);
    expect(answer.lines[0]).toEqual({
      command: 'SELECT',
      columns: [
        { name: 'id', type: 'int8' },
        { name: 'i', type: 'int4' },
        { name: 's', type: 'text' },
        { name: 'd', type: 'date' },
      ],
    });
    expect(answer.lines.slice(1, -1)).toEqual([
      [2, null, null, null],
      [3, -3, 'c', '1999-12-31'],
      ['9007199254740993', 1, 'a', '2024-02-29'],
    ]);
    expect(answer.lines.at(-1)).toMatchObject({ row_count: 3 });
  });

  it('NDJSON of a DML statement: header, RETURNING rows, trailer with the count; of an error: the JSON error', async () => {
    const answer = await ndjson('UPDATE fmt SET i = i + 1 WHERE id = 3 RETURNING id, i');
    expect(answer.lines).toEqual([{ command: 'UPDATE', columns: [{ name: 'id', type: 'int8' }, { name: 'i', type: 'int4' }] }, [3, -2], expect.objectContaining({ row_count: 1 })]);
    const failed = await ndjson('SELECT * FROM nosuch');
    expect(failed.status).toBe(404);
    expect(failed.lines).toEqual([expect.objectContaining({ success: false, error: expect.objectContaining({ sqlstate: '42P01' }) })]);
  });

  it('Arrow IPC stream: columns with Arrow types and the values (int8 as bigint, dates)', async () => {
    const answer = await arrow('SELECT id, i, f, b, s, d FROM fmt ORDER BY id');
    expect(answer.status).toBe(200);
    expect(answer.type).toBe('application/vnd.apache.arrow.stream');
    const table = tableFromIPC(answer.bytes);
    expect(table.numRows).toBe(3);
    expect(table.schema.fields.map((f) => f.name)).toEqual(['id', 'i', 'f', 'b', 's', 'd']);
    expect(table.schema.fields.map((f) => String(f.type))).toEqual(['Int64', 'Int32', 'Float64', 'Bool', 'Utf8', 'Date32<DAY>']);
    expect(table.getChild('id')?.toArray()).toEqual(new BigInt64Array([2n, 3n, 9007199254740993n]));
    expect([...(table.getChild('i') ?? [])]).toEqual([null, -2, 1]);
    expect([...(table.getChild('f') ?? [])]).toEqual([null, 2.25, 0.5]);
    expect([...(table.getChild('b') ?? [])]).toEqual([false, null, true]);
    expect([...(table.getChild('s') ?? [])]).toEqual([null, 'c', 'a']);
    const dates = [...(table.getChild('d') ?? [])].map((v) => (v === null ? null : new Date(v as number).toISOString().slice(0, 10)));
    expect(dates).toEqual([null, '1999-12-31', '2024-02-29']);
  });

  it('Arrow of an empty result keeps the schema', async () => {
    const table = tableFromIPC((await arrow('SELECT id, s FROM fmt WHERE id < 0')).bytes);
    expect(table.numRows).toBe(0);
    expect(table.schema.fields.map((f) => f.name)).toEqual(['id', 's']);
  });

  it('Arrow answers a timestamptz column (as an Arrow timestamp)', async () => {
    const answer = await arrow('SELECT id, ts FROM fmt ORDER BY id');
    expect({ status: answer.status, type: answer.type }).toEqual({ status: 200, type: 'application/vnd.apache.arrow.stream' });
    const table = tableFromIPC(answer.bytes);
    expect(String(table.schema.fields[1].type)).toMatch(/^Timestamp/);
    expect(table.getChild('ts')?.get(2)).not.toBeNull();
    expect(table.getChild('ts')?.get(0)).toBeNull();
  });
});

// ---------------------------------------------------------------------------

describe('mixed queries', () => {
  beforeAll(async () => {
    await sql('CREATE TABLE dept (id int PRIMARY KEY, name text)');
    await sql('CREATE TABLE emp (id int PRIMARY KEY, dept int, name text, salary int)');
    await sql("INSERT INTO dept VALUES (1, 'eng'), (2, 'ops'), (3, 'empty')");
    await sql("INSERT INTO emp VALUES (1, 1, 'ann', 100), (2, 1, 'bob', NULL), (3, 2, 'cid', 80), (4, NULL, 'dan', 70), (5, 1, 'eve', 120)");
  });

  it('one statement joins tables, groups and orders', async () => {
    const data = await sql(
      'SELECT d.name, count(e.id) AS n, sum(e.salary) AS total FROM dept d LEFT JOIN emp e ON e.dept = d.id GROUP BY d.name ORDER BY n DESC, d.name',
    );
    expect(data.columns).toEqual([
      { name: 'name', type: 'text' },
      { name: 'n', type: 'int8' },
      { name: 'total', type: 'int8' },
    ]);
    expect(data.rows).toEqual([
      ['eng', 3, 220],
      ['ops', 1, 80],
      ['empty', 0, null],
    ]);
  });

  it('NULL handling: comparisons with NULL, IS NULL, coalesce, aggregates skip NULLs', async () => {
    expect(await rows('SELECT NULL::int IS NULL, NULL = NULL, coalesce(NULL, 7), 1 + NULL')).toEqual([[true, null, 7, null]]);
    expect(await rows('SELECT count(*), count(salary), count(dept), avg(salary)::int FROM emp')).toEqual([[5, 4, 4, 93]]);
    expect(await rows('SELECT name FROM emp WHERE salary > 90 OR salary IS NULL ORDER BY name')).toEqual([['ann'], ['bob'], ['eve']]);
    expect(await rows('SELECT name FROM emp WHERE dept NOT IN (2) ORDER BY name')).toEqual([['ann'], ['bob'], ['eve']]);
  });

  it('ORDER BY … NULLS FIRST / NULLS LAST, DESC puts NULLs first by default', async () => {
    expect(await rows('SELECT id FROM emp ORDER BY salary NULLS FIRST')).toEqual([[2], [4], [3], [1], [5]]);
    expect(await rows('SELECT id FROM emp ORDER BY salary DESC')).toEqual([[2], [5], [1], [3], [4]]);
    expect(await rows('SELECT id FROM emp ORDER BY salary DESC NULLS LAST')).toEqual([[5], [1], [3], [4], [2]]);
  });

  it('LIMIT / OFFSET with parameters page through an ordered result', async () => {
    const pages: unknown[][] = [];
    for (let offset = 0; offset < 6; offset += 2) pages.push(...(await rows('SELECT name FROM emp ORDER BY id LIMIT $1 OFFSET $2', [2, offset])));
    expect(pages).toEqual([['ann'], ['bob'], ['cid'], ['dan'], ['eve']]);
  });

  it('a correlated subquery, a CTE and a window function', async () => {
    expect(
      await rows('WITH top AS (SELECT dept, max(salary) AS m FROM emp GROUP BY dept) SELECT e.name FROM emp e JOIN top ON top.dept = e.dept AND top.m = e.salary ORDER BY e.name'),
    ).toEqual([['cid'], ['eve']]);
    expect(await rows('SELECT name FROM dept d WHERE NOT EXISTS (SELECT 1 FROM emp e WHERE e.dept = d.id)')).toEqual([['empty']]);
    expect(await rows('SELECT name, rank() OVER (ORDER BY salary DESC NULLS LAST) FROM emp ORDER BY id')).toEqual([
      ['ann', 2],
      ['bob', 5],
      ['cid', 3],
      ['dan', 4],
      ['eve', 1],
    ]);
  });
});

// ---------------------------------------------------------------------------

describe('Mantis-Deadline-Ms', () => {
  beforeAll(async () => {
    await sql('CREATE TABLE dl1 (id int PRIMARY KEY, v int)');
    await sql('CREATE TABLE dl2 (id int PRIMARY KEY, v int)');
    const values = valuesOf(2000, (i) => `${i}, ${i % 7}`);
    await sql(`INSERT INTO dl1 VALUES ${values}`);
    await sql(`INSERT INTO dl2 VALUES ${values}`);
  });

  const EXPENSIVE = 'SELECT count(*) FROM dl1 a CROSS JOIN dl2 b WHERE a.v + b.v > 3';

  it('a 1 ms deadline on an expensive query answers 57014 instead of hanging', async () => {
    const answer = await post({ query: EXPENSIVE }, { 'Mantis-Deadline-Ms': '1' });
    expect(answer.body.success).toBe(false);
    expect(answer.body.error?.sqlstate).toBe('57014');
    expect(['SQL_CANCELED', 'DEADLINE_EXCEEDED']).toContain(answer.body.error?.code);
    expect(answer.ms).toBeLessThan(1000);
  });

  it('a deadline that passes while the router joins cancels the join (57014) long before it would finish', async () => {
    const answer = await post({ query: EXPENSIVE }, { 'Mantis-Deadline-Ms': '150' });
    expect({ status: answer.status, code: answer.body.error?.code, sqlstate: answer.body.error?.sqlstate }).toEqual({
      status: 400,
      code: 'SQL_CANCELED',
      sqlstate: '57014',
    });
    // Unbounded, this join takes seconds (4 M rows).
    expect(answer.ms).toBeLessThan(1500);
    // The server keeps answering; a cheap query within a deadline succeeds.
    expect(await rows('SELECT count(*) FROM dl1 WHERE v = 3', undefined, { 'Mantis-Deadline-Ms': '5000' })).toEqual([[286]]);
  });
});

// ---------------------------------------------------------------------------

describe('--sql-memory-mb (a second server with 16 MiB)', () => {
  let small: ServerProcess;
  let refused: Answer;
  let peakBefore = 0;
  let peakAfter = 0;

  /** The process's peak resident set (VmHWM), in bytes; 0 where /proc is not there. */
  const peakRss = (pid: number): number => {
    const status = `/proc/${pid}/status`;
    if (!existsSync(status)) return 0;
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(status, 'utf8'));
    return match === null ? 0 : Number(match[1]) * 1024;
  };

  beforeAll(async () => {
    small = await startServer({ shards: 2, fsync: 'batch', extraArgs: ['--sql-memory-mb', '16'] });
    await run('CREATE TABLE m (id int PRIMARY KEY, v int)', undefined, {}, small.url);
    await run(`INSERT INTO m VALUES ${valuesOf(2000, (i) => `${i}, ${i % 7}`)}`, undefined, {}, small.url);
    peakBefore = peakRss(small.proc.pid as number);
    // 2,000 × 2,000 = 4 M joined rows: hundreds of MiB materialized.
    refused = await post({ query: 'SELECT a.id, b.id FROM m a CROSS JOIN m b' }, {}, small.url);
    peakAfter = peakRss(small.proc.pid as number);
  });

  it('a query materializing far more than 16 MiB answers 400 SQL_MEMORY_LIMIT / 53200, and the server keeps serving', async () => {
    expect({ status: refused.status, code: refused.body.error?.code, sqlstate: refused.body.error?.sqlstate }).toEqual({
      status: 400,
      code: 'SQL_MEMORY_LIMIT',
      sqlstate: '53200',
    });
    const after = await run('SELECT count(*), sum(v) FROM m', undefined, {}, small.url);
    expect(after.body.data?.rows).toEqual([[2000, 5995]]);
    // A small join fits.
    const fits = await run('SELECT count(*) FROM m a JOIN m b ON a.id = b.id WHERE a.v = 0', undefined, {}, small.url);
    expect(fits.body.data?.rows).toEqual([[286]]);
  });

  it.runIf(existsSync('/proc/self/status'))('the memory limit stops the statement before its memory grows far past the limit (peak RSS + < 256 MiB)', () => {
    expect(peakBefore).toBeGreaterThan(0);
    expect(peakAfter - peakBefore).toBeLessThan(256 * 1024 * 1024);
  });

});
