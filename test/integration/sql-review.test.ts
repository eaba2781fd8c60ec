// SQL regressions found by review against PostgreSQL 15 (each expectation is PostgreSQL's answer):
// conditions a primary-key lookup must not drop, text builders past their limit, dates outside
// ±2^53 µs, deep nesting, t.* with USING columns, RETURNING x.* in UPDATE … FROM, ON CONFLICT
// counts and aliases, numeric precision, decorrelated [NOT] EXISTS / IN.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';

afterAll(cleanup);

type Answer = { status: number; body: { success: boolean; data?: { command: string; columns: { name: string }[]; rows: unknown[][]; row_count: number }; error?: { code: string; sqlstate?: string } } };

let server: ServerProcess;

beforeAll(async () => {
  server = await startServer({ shards: 2, fsync: 'batch' });
});

async function run(query: string, params: unknown[] = []): Promise<Answer> {
  const r = await fetch(`${server.url}/api/v1/sql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, params }) });
  return { status: r.status, body: (await r.json()) as Answer['body'] };
}

async function rows(query: string): Promise<unknown[][]> {
  const a = await run(query);
  expect(a.body.error, query).toBeUndefined();
  return a.body.data?.rows ?? [];
}

async function sqlstate(query: string): Promise<string | undefined> {
  const a = await run(query);
  expect(a.body.success, query).toBe(false);
  return a.body.error?.sqlstate;
}

describe('SQL regressions', () => {
  it('a key lookup keeps every condition on the key columns (reads and writes)', async () => {
    await rows('CREATE TABLE k (id int4 PRIMARY KEY, v text)');
    await rows("INSERT INTO k VALUES (1,'one'),(2,'two'),(3,'three')");
    expect(await rows('SELECT * FROM k WHERE id = 1 AND id = 2')).toEqual([]);
    expect(await rows('SELECT * FROM k WHERE id IN (1,2) AND id = 3')).toEqual([]);
    expect(await rows('SELECT id FROM k WHERE id IN (1,2) AND id IN (2,3)')).toEqual([[2]]);
    const del = await run('DELETE FROM k WHERE id = 1 AND id = 2 RETURNING *');
    expect(del.body.data?.row_count).toBe(0);
    expect(await rows('SELECT count(*) FROM k')).toEqual([[3]]);
  });

  it('text builders past their limit answer 54000 and the server stays up', async () => {
    expect(await sqlstate("SELECT lpad('x', 1000000000)")).toBe('54000');
    expect(await sqlstate("SELECT repeat('x', 1000000000)")).toBe('54000');
    expect(await rows("SELECT lpad('7', 4, 'ab'), rpad('7', 3, '0')")).toEqual([['aba7', '700']]);
  });

  it('dates and timestamps far from 1970 are stored and read back', async () => {
    await rows('CREATE TABLE dt (id int4 PRIMARY KEY, d date, t timestamptz)');
    await rows("INSERT INTO dt VALUES (1, '0001-01-01', '2300-01-01T00:00:00Z'), (2, '9999-12-31', '1500-06-01T12:00:00Z')");
    expect(await rows('SELECT id, d, t FROM dt ORDER BY id')).toEqual([
      [1, '0001-01-01', '2300-01-01T00:00:00Z'],
      [2, '9999-12-31', '1500-06-01T12:00:00Z'],
    ]);
    expect(await rows("SELECT id FROM dt WHERE d > '5000-01-01'")).toEqual([[2]]);
  });

  it('deep nesting is 54001, not a crash', async () => {
    expect(await sqlstate(`SELECT ${'NOT '.repeat(3000)}true`)).toBe('54001');
    expect(await rows('SELECT 1')).toEqual([[1]]);
  });

  it('t.* includes the USING column; RETURNING x.* names the relation x', async () => {
    await rows('CREATE TABLE ua (id int4 PRIMARY KEY, x text)');
    await rows('CREATE TABLE ub (id int4 PRIMARY KEY, y text)');
    await rows("INSERT INTO ua VALUES (1, 'a')");
    await rows("INSERT INTO ub VALUES (1, 'b'), (2, 'c')");
    const a = await run('SELECT ua.*, ub.* FROM ua JOIN ub USING (id)');
    expect(a.body.data?.columns.map((c) => c.name)).toEqual(['id', 'x', 'id', 'y']);
    expect(a.body.data?.rows).toEqual([[1, 'a', 1, 'b']]);
    const n = await run('SELECT ua.* FROM ua NATURAL JOIN ub');
    expect(n.body.data?.columns.map((c) => c.name)).toEqual(['id', 'x']);
    const u = await run("UPDATE ua SET x = ub.y FROM ub WHERE ub.id = ua.id RETURNING ub.*, ua.x");
    expect(u.body.data?.columns.map((c) => c.name)).toEqual(['id', 'y', 'x']);
    expect(u.body.data?.rows).toEqual([[1, 'b', 'b']]);
  });

  it('ON CONFLICT DO NOTHING counts only inserted rows; the INSERT alias works in DO UPDATE', async () => {
    await rows('CREATE TABLE oc (id int4 PRIMARY KEY, u int4 UNIQUE, n int4)');
    await rows('INSERT INTO oc VALUES (1, 30, 1)');
    const a = await run('INSERT INTO oc (id, u) VALUES (300, 30) ON CONFLICT DO NOTHING');
    expect(a.body.data?.row_count).toBe(0);
    await rows('INSERT INTO oc AS x VALUES (1, 30, 5) ON CONFLICT (id) DO UPDATE SET n = x.n * 2');
    expect(await rows('SELECT n FROM oc WHERE id = 1')).toEqual([[2]]);
  });

  it('numeric(p,s) refuses values past its precision (22003)', async () => {
    await rows('CREATE TABLE nm (id int4 PRIMARY KEY, n numeric(5,2))');
    expect(await sqlstate('INSERT INTO nm VALUES (1, 1000.00)')).toBe('22003');
    expect(await sqlstate('INSERT INTO nm VALUES (1, 999.995)')).toBe('22003');
    await rows('INSERT INTO nm VALUES (2, 999.994)');
    expect(await rows('SELECT n FROM nm')).toEqual([[999.99]]);
    expect(await sqlstate('SELECT $0')).toBe('42P02');
  });

  it('[NOT] EXISTS and IN subqueries run as semi and anti joins with the same answers', async () => {
    await rows('CREATE TABLE su (id int4 PRIMARY KEY, name text)');
    await rows('CREATE TABLE so (id int4 PRIMARY KEY, uid int4, amount int4)');
    await rows("INSERT INTO su VALUES (1,'ann'),(2,'bob'),(3,'cyd'),(4,'dan')");
    await rows('INSERT INTO so VALUES (1,1,10),(2,1,20),(3,2,5),(4,4,1),(5,NULL,3)');
    const plan = (await rows('EXPLAIN SELECT name FROM su WHERE EXISTS (SELECT 1 FROM so WHERE so.uid = su.id AND so.amount > 4)')).map((r) => r[0]).join('\n');
    expect(plan).toContain('Hash Semi Join');
    expect(await rows('SELECT name FROM su WHERE EXISTS (SELECT 1 FROM so WHERE so.uid = su.id AND so.amount > 4) ORDER BY 1')).toEqual([['ann'], ['bob']]);
    expect(await rows('SELECT name FROM su WHERE NOT EXISTS (SELECT 1 FROM so WHERE so.uid = su.id) ORDER BY 1')).toEqual([['cyd']]);
    expect(await rows('SELECT name FROM su WHERE id IN (SELECT uid FROM so) ORDER BY 1')).toEqual([['ann'], ['bob'], ['dan']]);
    // NOT IN with a NULL in the subquery: no row (PostgreSQL's three-valued answer), not an anti join.
    expect(await rows('SELECT name FROM su WHERE id NOT IN (SELECT uid FROM so) ORDER BY 1')).toEqual([]);
  });
});

describe('SQL regressions (second review)', () => {
  it('a float4 result is not computed in doubles on the shards; ON sees the tables of an aliased join', async () => {
    await rows('CREATE TABLE f4 (id int4 PRIMARY KEY, v text)');
    await rows("INSERT INTO f4 VALUES (1, 'a'), (2, 'b')");
    // PostgreSQL: 16777217 is not a float4; rounded to 16777216.
    expect(await rows('SELECT sum((id * 16777217.0)::float4) FROM f4 WHERE id = 1')).toEqual([[16777216]]);
    await rows('CREATE TABLE ja (id int4 PRIMARY KEY)');
    await rows('CREATE TABLE jb (id int4 PRIMARY KEY, a_id int4)');
    await rows('INSERT INTO ja VALUES (1), (2)');
    await rows('INSERT INTO jb VALUES (10, 1), (11, 2), (12, 2)');
    expect(await rows('SELECT j.a_id FROM (ja JOIN jb ON jb.a_id = ja.id) j WHERE j.a_id > 1 ORDER BY 1')).toEqual([[2], [2]]);
    // LIMIT 2.5 rounds to 3 (an assignment to bigint); a UNION's ORDER BY names output columns only.
    expect(await rows('SELECT id FROM jb ORDER BY id LIMIT 2.5')).toEqual([[10], [11], [12]]);
    expect(await sqlstate('SELECT id FROM ja UNION SELECT id FROM jb ORDER BY id + 1')).toBe('0A000');
  });
});

describe('SQL regressions (own reading)', () => {
  it('an UPDATE that moves some rows to new keys and leaves others in place', async () => {
    await rows('CREATE TABLE mv (id int4 PRIMARY KEY, v text)');
    await rows("INSERT INTO mv VALUES (1, 'a'), (2, 'b'), (3, 'c')");
    const a = await run("UPDATE mv SET id = CASE WHEN id = 1 THEN 100 ELSE id END, v = v || '!'");
    expect(a.body.error).toBeUndefined();
    expect(a.body.data?.row_count).toBe(3);
    expect(await rows('SELECT id, v FROM mv ORDER BY id')).toEqual([
      [2, 'b!'],
      [3, 'c!'],
      [100, 'a!'],
    ]);
    // Moving onto an existing key is a duplicate (and nothing changes).
    expect(await sqlstate('UPDATE mv SET id = 3 WHERE id = 2')).toBe('23505');
    expect(await rows('SELECT count(*) FROM mv')).toEqual([[3]]);
  });
});

describe('SQL join order', () => {
  it('a FROM list joined in another order than written (runtime filters chained) answers as written', async () => {
    await rows('CREATE TABLE o1 (id int4 PRIMARY KEY, x int4)');
    await rows('CREATE TABLE o2 (id int4 PRIMARY KEY, x int4, y int4)');
    await rows('CREATE TABLE o3 (id int4 PRIMARY KEY, y int4, name text)');
    await rows('INSERT INTO o1 VALUES (1, 10), (2, 20), (3, 30), (4, 10)');
    await rows('INSERT INTO o2 VALUES (1, 10, 100), (2, 20, 200), (3, 30, 300)');
    await rows("INSERT INTO o3 VALUES (1, 100, 'q'), (2, 200, 'r'), (3, 100, 'q')");
    const q = "SELECT o1.id, o2.id, o3.id FROM o1, o2, o3 WHERE o1.x = o2.x AND o2.y = o3.y AND o3.name = 'q' ORDER BY 1, 3";
    const plan = (await rows(`EXPLAIN ${q}`)).map((r) => r[0]).join('\n');
    expect(plan).toContain('Join Order: o3, o2, o1');
    expect(await rows(q)).toEqual([
      [1, 1, 1],
      [1, 1, 3],
      [4, 1, 1],
      [4, 1, 3],
    ]);
    // SELECT * keeps the written column order.
    const star = await run("SELECT * FROM o1, o3 WHERE o1.id = o3.id AND o3.name = 'r'");
    expect(star.body.data?.columns.map((c) => c.name)).toEqual(['id', 'x', 'id', 'y', 'name']);
    expect(star.body.data?.rows).toEqual([[2, 20, 2, 200, 'r']]);
  });
});
