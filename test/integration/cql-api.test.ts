// CQL over HTTP (POST /api/v1/cql) against a real server with two shards,
// with the statements of Cassandra's documentation examples (the cycling
// keyspace: cyclist_name, rank_by_year_and_name, cyclist_category, calendar,
// cyclist_expenses): keyspaces, CREATE TABLE forms, INSERT / UPDATE / DELETE,
// SELECT on partitions and clustering ranges with ORDER BY and LIMIT,
// aggregates, IF NOT EXISTS / IF EXISTS / IF conditions with [applied],
// USING TTL and default_time_to_live expiring rows, BATCH, CREATE INDEX,
// ALLOW FILTERING refusals with Cassandra's message, bind markers and paging,
// every type's JSON form, and the error classes as codes.

import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';
import { openSse, type SseEvent } from '../helpers/stream-clients.js';

afterAll(cleanup);

type CqlData = { columns: string[]; rows: unknown[][]; paging_state: string | null };
type CqlFailure = { code: string; message: string };

const ALLOW_FILTERING =
  'Cannot execute this query as it might involve data filtering and thus may have unpredictable performance. If you want to execute this query despite the performance unpredictability, use ALLOW FILTERING';

let server: ServerProcess;

beforeAll(async () => {
  server = await startServer({ shards: 2, fsync: 'batch' });
});

async function post(body: unknown): Promise<{ status: number; json: { success: boolean; data?: CqlData; error?: CqlFailure } }> {
  const response = await fetch(`${server.url}/api/v1/cql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, json: JSON.parse(text) as { success: boolean; data?: CqlData; error?: CqlFailure } };
}

/** Runs a statement that must succeed; returns {columns, rows, paging_state}. */
async function cql(query: string, params?: unknown, extra: Record<string, unknown> = {}): Promise<CqlData> {
  const { status, json } = await post({ query, ...(params === undefined ? {} : { params }), ...extra });
  expect({ status, error: json.error }, query).toEqual({ status: 200, error: undefined });
  return json.data as CqlData;
}

/** Runs a statement that must fail with this HTTP status and code; returns the error. */
async function cqlFails(query: string, status: number, code: string, params?: unknown): Promise<CqlFailure> {
  const { status: got, json } = await post({ query, ...(params === undefined ? {} : { params }) });
  expect({ status: got, code: json.error?.code }, `${query} → ${JSON.stringify(json)}`).toEqual({ status, code });
  return json.error as CqlFailure;
}

const VOS = '5b6962dd-3f90-4c93-8f61-eabfa4a803e2';
const FRAME = 'e7ae5cf3-d358-4d99-b900-85902fda9bb0';
const TIRALONGO = '220844bf-4860-49d6-9a4b-6b5d3a79cbfb';
const KRUIKSWIJK = '6ab09bec-e68e-48d9-a5f8-97e6fb4c9b47';

describe('cycling.cyclist_name (single-column primary key)', () => {
  beforeAll(async () => {
    await cql("CREATE KEYSPACE IF NOT EXISTS cycling WITH REPLICATION = { 'class' : 'SimpleStrategy', 'replication_factor' : 1 }");
    await cql('USE cycling');
    await cql('CREATE TABLE cycling.cyclist_name ( id UUID PRIMARY KEY, lastname text, firstname text )');
    for (const [id, last, first] of [
      [VOS, 'VOS', 'Marianne'],
      ['e7cd5752-bc0d-4157-a80f-7523add8dbcd', 'VAN DER BREGGEN', 'Anna'],
      [FRAME, 'FRAME', 'Alex'],
      [TIRALONGO, 'TIRALONGO', 'Paolo'],
      [KRUIKSWIJK, 'KRUIKSWIJK', 'Steven'],
      ['fb372533-eb95-4bb4-8685-6ef61e994caa', 'MATTHEWS', 'Michael'],
    ]) {
      await cql(`INSERT INTO cycling.cyclist_name (id, lastname, firstname) VALUES (${id}, '${last}', '${first}')`);
    }
  });

  it('SELECT * answers every row, columns in Cassandra order (key, then by name)', async () => {
    const all = await cql('SELECT * FROM cycling.cyclist_name');
    expect(all.columns).toEqual(['id', 'firstname', 'lastname']);
    expect(all.rows).toHaveLength(6);
    expect(all.rows).toContainEqual([FRAME, 'Alex', 'FRAME']);
    expect(all.paging_state).toBeNull();
  });

  it('reads one partition by its key; an absent key answers no row', async () => {
    expect((await cql(`SELECT lastname FROM cyclist_name WHERE id = ${KRUIKSWIJK}`)).rows).toEqual([['KRUIKSWIJK']]);
    expect((await cql(`SELECT lastname FROM cyclist_name WHERE id IN (${KRUIKSWIJK}, ${VOS})`)).rows.sort()).toEqual([['KRUIKSWIJK'], ['VOS']]);
    expect((await cql('SELECT * FROM cyclist_name WHERE id = 00000000-0000-0000-0000-000000000000')).rows).toEqual([]);
  });

  it('a second CREATE TABLE is AlreadyExists; IF NOT EXISTS is no error', async () => {
    const e = await cqlFails('CREATE TABLE cycling.cyclist_name ( id UUID PRIMARY KEY, lastname text )', 409, 'AlreadyExists');
    expect(e.message).toBe('Cannot add already existing table "cyclist_name" to keyspace "cycling"');
    await cql('CREATE TABLE IF NOT EXISTS cycling.cyclist_name ( id UUID PRIMARY KEY, lastname text )');
  });

  it("a filter on another column needs ALLOW FILTERING (Cassandra's message), or an index", async () => {
    const e = await cqlFails("SELECT * FROM cycling.cyclist_name WHERE lastname = 'FRAME'", 400, 'Invalid');
    expect(e.message).toBe(ALLOW_FILTERING);
    expect((await cql("SELECT id FROM cycling.cyclist_name WHERE lastname = 'FRAME' ALLOW FILTERING")).rows).toEqual([[FRAME]]);
    await cql('CREATE INDEX IF NOT EXISTS ON cycling.cyclist_name (lastname)');
    expect((await cql("SELECT id FROM cycling.cyclist_name WHERE lastname = 'FRAME'")).rows).toEqual([[FRAME]]);
    await cql('CREATE INDEX IF NOT EXISTS ON cycling.cyclist_name (lastname)');
    expect((await cqlFails("SELECT id FROM cycling.cyclist_name WHERE lastname = 'FRAME' AND firstname = 'Alex'", 400, 'Invalid')).message).toBe(ALLOW_FILTERING);
    await cql('DROP INDEX cycling.cyclist_name_lastname_idx');
    await cqlFails("SELECT id FROM cycling.cyclist_name WHERE lastname = 'FRAME'", 400, 'Invalid');
  });

  it('INSERT … IF NOT EXISTS answers [applied], with the row already there when not applied', async () => {
    const again = await cql(`INSERT INTO cycling.cyclist_name (id, lastname, firstname) VALUES (${FRAME}, 'FRAME', 'Alexander') IF NOT EXISTS`);
    expect(again).toEqual({ columns: ['[applied]', 'id', 'firstname', 'lastname'], rows: [[false, FRAME, 'Alex', 'FRAME']], paging_state: null });
    const fresh = await cql("INSERT INTO cycling.cyclist_name (id, lastname, firstname) VALUES (c4b65263-fe58-4846-83e8-f0e1c13d518f, 'RATTO', 'Rissa') IF NOT EXISTS");
    expect(fresh).toEqual({ columns: ['[applied]'], rows: [[true]], paging_state: null });
  });

  it('UPDATE … IF condition / IF EXISTS applies only when it holds', async () => {
    const yes = await cql(`UPDATE cycling.cyclist_name SET firstname = 'Alexander' WHERE id = ${FRAME} IF lastname = 'FRAME'`);
    expect(yes.rows).toEqual([[true]]);
    const no = await cql(`UPDATE cycling.cyclist_name SET firstname = 'Al' WHERE id = ${FRAME} IF lastname = 'SMITH'`);
    expect(no).toEqual({ columns: ['[applied]', 'lastname'], rows: [[false, 'FRAME']], paging_state: null });
    expect((await cql(`SELECT firstname FROM cycling.cyclist_name WHERE id = ${FRAME}`)).rows).toEqual([['Alexander']]);
    expect((await cql("UPDATE cycling.cyclist_name SET firstname = 'X' WHERE id = 11111111-1111-1111-1111-111111111111 IF EXISTS")).rows).toEqual([[false]]);
    expect((await cql('SELECT * FROM cycling.cyclist_name WHERE id = 11111111-1111-1111-1111-111111111111')).rows).toEqual([]);
  });

  it('UPDATE without IF is an upsert; INSERT of some columns keeps the others', async () => {
    await cql("UPDATE cycling.cyclist_name SET lastname = 'NEW' WHERE id = 22222222-2222-2222-2222-222222222222");
    expect((await cql('SELECT id, firstname, lastname FROM cycling.cyclist_name WHERE id = 22222222-2222-2222-2222-222222222222')).rows).toEqual([
      ['22222222-2222-2222-2222-222222222222', null, 'NEW'],
    ]);
    await cql('INSERT INTO cycling.cyclist_name (id) VALUES (33333333-3333-3333-3333-333333333333)');
    expect((await cql('SELECT * FROM cycling.cyclist_name WHERE id = 33333333-3333-3333-3333-333333333333')).rows).toEqual([['33333333-3333-3333-3333-333333333333', null, null]]);
    await cql('DELETE FROM cycling.cyclist_name WHERE id = 33333333-3333-3333-3333-333333333333');
    await cql(`INSERT INTO cycling.cyclist_name (id, firstname) VALUES (${VOS}, 'Mari')`);
    expect((await cql(`SELECT firstname, lastname FROM cycling.cyclist_name WHERE id = ${VOS}`)).rows).toEqual([['Mari', 'VOS']]);
  });

  it('DELETE a column, a row, IF EXISTS', async () => {
    await cql(`DELETE firstname FROM cycling.cyclist_name WHERE id = ${VOS}`);
    expect((await cql(`SELECT firstname, lastname FROM cycling.cyclist_name WHERE id = ${VOS}`)).rows).toEqual([[null, 'VOS']]);
    expect((await cql(`DELETE FROM cycling.cyclist_name WHERE id = ${VOS} IF EXISTS`)).rows).toEqual([[true]]);
    expect((await cql(`DELETE FROM cycling.cyclist_name WHERE id = ${VOS} IF EXISTS`)).rows).toEqual([[false]]);
    await cql('DELETE FROM cycling.cyclist_name WHERE id = 22222222-2222-2222-2222-222222222222');
    expect((await cql('SELECT COUNT(*) FROM cycling.cyclist_name')).rows).toEqual([[6]]);
  });
});

describe('cycling.rank_by_year_and_name (composite partition key, clustering column)', () => {
  const JAPAN = 'Tour of Japan - Stage 4 - Minami > Shinshu';
  const GIRO = "Giro d'Italia - Stage 11 - Forli > Imola";
  beforeAll(async () => {
    await cql(`CREATE TABLE cycling.rank_by_year_and_name (
        race_year int,
        race_name text,
        cyclist_name text,
        rank int,
        PRIMARY KEY ((race_year, race_name), rank)
      );`);
    const rows: [number, string, string, number][] = [
      [2015, JAPAN, 'Benjamin PRADES', 1],
      [2015, JAPAN, 'Adam PHELAN', 2],
      [2015, JAPAN, 'Thomas LEBAS', 3],
      [2015, GIRO, 'Ilnur ZAKARIN', 1],
      [2015, GIRO, 'Carlos BETANCUR', 2],
      [2014, '4th Tour of Beijing', 'Phillippe GILBERT', 1],
      [2014, '4th Tour of Beijing', 'Daniel MARTIN', 2],
      [2014, '4th Tour of Beijing', 'Johan Esteban CHAVES', 3],
    ];
    for (const [year, race, name, rank] of rows) {
      await cql(`INSERT INTO cycling.rank_by_year_and_name (race_year, race_name, cyclist_name, rank) VALUES (${year}, '${race.replace(/'/g, "''")}', '${name}', ${rank});`);
    }
  });

  const partition = `WHERE race_year = 2015 AND race_name = '${JAPAN}'`;

  it('a partition in clustering order; ranges on the clustering column; LIMIT', async () => {
    const all = await cql(`SELECT * FROM cycling.rank_by_year_and_name ${partition}`);
    expect(all.columns).toEqual(['race_year', 'race_name', 'rank', 'cyclist_name']);
    expect(all.rows.map((r) => r[2])).toEqual([1, 2, 3]);
    expect((await cql(`SELECT rank FROM cycling.rank_by_year_and_name ${partition} AND rank > 1`)).rows).toEqual([[2], [3]]);
    expect((await cql(`SELECT rank FROM cycling.rank_by_year_and_name ${partition} AND rank >= 1 AND rank < 3`)).rows).toEqual([[1], [2]]);
    expect((await cql(`SELECT rank FROM cycling.rank_by_year_and_name ${partition} LIMIT 2`)).rows).toEqual([[1], [2]]);
    expect((await cql(`SELECT rank, cyclist_name FROM cycling.rank_by_year_and_name ${partition} AND rank = 2`)).rows).toEqual([[2, 'Adam PHELAN']]);
  });

  it('ORDER BY the clustering column, across IN partitions too', async () => {
    expect((await cql(`SELECT rank FROM cycling.rank_by_year_and_name ${partition} ORDER BY rank DESC`)).rows).toEqual([[3], [2], [1]]);
    const both = await cql(`SELECT race_name, rank FROM cycling.rank_by_year_and_name WHERE race_year = 2015 AND race_name IN ('${JAPAN}', '${GIRO.replace(/'/g, "''")}') ORDER BY rank DESC`);
    expect(both.rows.map((r) => r[1])).toEqual([3, 2, 2, 1, 1]);
    const e = await cqlFails('SELECT * FROM cycling.rank_by_year_and_name ORDER BY rank', 400, 'Invalid');
    expect(e.message).toBe('ORDER BY is only supported when the partition key is restricted by an EQ or an IN.');
    expect((await cqlFails(`SELECT * FROM cycling.rank_by_year_and_name ${partition} ORDER BY cyclist_name`, 400, 'Invalid')).message).toBe(
      'Order by is currently only supported on the clustered columns of the PRIMARY KEY, got cyclist_name',
    );
  });

  it('part of the partition key, or the clustering column alone, needs ALLOW FILTERING', async () => {
    expect((await cqlFails('SELECT * FROM cycling.rank_by_year_and_name WHERE race_year = 2015', 400, 'Invalid')).message).toBe(ALLOW_FILTERING);
    expect((await cqlFails('SELECT * FROM cycling.rank_by_year_and_name WHERE rank = 1', 400, 'Invalid')).message).toBe(ALLOW_FILTERING);
    expect((await cql('SELECT * FROM cycling.rank_by_year_and_name WHERE race_year = 2015 ALLOW FILTERING')).rows).toHaveLength(5);
    const winners = await cql('SELECT cyclist_name FROM cycling.rank_by_year_and_name WHERE rank = 1 ALLOW FILTERING');
    expect(winners.rows.map((r) => r[0]).sort()).toEqual(['Benjamin PRADES', 'Ilnur ZAKARIN', 'Phillippe GILBERT']);
  });

  it('aggregates', async () => {
    const agg = await cql("SELECT COUNT(*), max(rank), min(cyclist_name), sum(rank), avg(rank) FROM cycling.rank_by_year_and_name WHERE race_year = 2014 AND race_name = '4th Tour of Beijing'");
    expect(agg.columns).toEqual(['count', 'system.max(rank)', 'system.min(cyclist_name)', 'system.sum(rank)', 'system.avg(rank)']);
    expect(agg.rows).toEqual([[3, 3, 'Daniel MARTIN', 6, 2]]);
    expect((await cql("SELECT COUNT(*) AS n FROM cycling.rank_by_year_and_name WHERE race_year = 1999 AND race_name = 'none'")).rows).toEqual([[0]]);
    const groups = await cql('SELECT race_year, race_name, count(*) FROM cycling.rank_by_year_and_name GROUP BY race_year, race_name');
    expect(groups.rows.map((r) => r[2]).sort()).toEqual([2, 3, 3]);
  });

  it('DELETE a clustering range, then the partition', async () => {
    await cql(`DELETE FROM cycling.rank_by_year_and_name ${partition} AND rank > 1`);
    expect((await cql(`SELECT rank FROM cycling.rank_by_year_and_name ${partition}`)).rows).toEqual([[1]]);
    await cql(`DELETE FROM cycling.rank_by_year_and_name ${partition}`);
    expect((await cql(`SELECT rank FROM cycling.rank_by_year_and_name ${partition}`)).rows).toEqual([]);
    expect((await cqlFails('DELETE FROM cycling.rank_by_year_and_name WHERE rank = 1', 400, 'Invalid')).message).toBe('Some partition key parts are missing: race_year, race_name');
  });
});

describe('WITH CLUSTERING ORDER BY (… DESC)', () => {
  beforeAll(async () => {
    await cql(`CREATE TABLE cycling.cyclist_category (
        category text, points int, id UUID, lastname text,
        PRIMARY KEY (category, points)
      ) WITH CLUSTERING ORDER BY (points DESC);`);
    const rows: [string, number, string, string][] = [
      ['GC', 1269, TIRALONGO, 'TIRALONGO'],
      ['One-day-races', 367, TIRALONGO, 'TIRALONGO'],
      ['GC', 1324, KRUIKSWIJK, 'KRUIKSWIJK'],
      ['One-day-races', 198, KRUIKSWIJK, 'KRUIKSWIJK'],
      ['Time-trial', 53, TIRALONGO, 'TIRALONGO'],
      ['Time-trial', 182, KRUIKSWIJK, 'KRUIKSWIJK'],
      ['Sprint', 39, TIRALONGO, 'TIRALONGO'],
      ['Sprint', 0, KRUIKSWIJK, 'KRUIKSWIJK'],
    ];
    for (const [category, points, id, last] of rows) {
      await cql('INSERT INTO cycling.cyclist_category (category, points, id, lastname) VALUES (?, ?, ?, ?)', [category, points, id, last]);
    }
  });

  it('a partition reads in the declared (descending) order; ORDER BY ASC reverses it', async () => {
    expect((await cql("SELECT points FROM cycling.cyclist_category WHERE category = 'GC'")).rows).toEqual([[1324], [1269]]);
    expect((await cql("SELECT points FROM cycling.cyclist_category WHERE category = 'GC' ORDER BY points ASC")).rows).toEqual([[1269], [1324]]);
    expect((await cql("SELECT lastname FROM cycling.cyclist_category WHERE category = 'Time-trial' AND points > 100")).rows).toEqual([['KRUIKSWIJK']]);
  });

  it('INSERT … JSON (DEFAULT NULL and DEFAULT UNSET) and SELECT JSON', async () => {
    await cql(`INSERT INTO cycling.cyclist_category JSON '{"category": "GC", "points": 780, "id": "829aa84a-4bba-411f-a4fb-38167a987cda", "lastname": "SUTHERLAND"}'`);
    await cql(`INSERT INTO cycling.cyclist_category JSON '{"category": "GC", "points": 780, "lastname": "SUTHERLAND R."}' DEFAULT UNSET`);
    expect((await cql("SELECT JSON id, lastname FROM cycling.cyclist_category WHERE category = 'GC' AND points = 780")).rows).toEqual([
      ['{"id":"829aa84a-4bba-411f-a4fb-38167a987cda","lastname":"SUTHERLAND R."}'],
    ]);
    await cql('INSERT INTO cycling.cyclist_category JSON ?', ['{"category": "GC", "points": 780, "lastname": "S."}']);
    expect((await cql("SELECT id, lastname FROM cycling.cyclist_category WHERE category = 'GC' AND points = 780")).rows).toEqual([[null, 'S.']]);
    expect((await cqlFails(`INSERT INTO cycling.cyclist_category JSON '{"category": "GC", "points": 1, "nope": 1}'`, 400, 'Invalid')).message).toBe(
      'JSON values map contains unrecognized column: nope',
    );
    await cql("DELETE FROM cycling.cyclist_category WHERE category = 'GC' AND points = 780");
  });

  it('the clustering order must name clustering columns, in key order', async () => {
    expect((await cqlFails('CREATE TABLE cycling.bad1 (a int, b int, c int, PRIMARY KEY (a, b)) WITH CLUSTERING ORDER BY (c DESC)', 400, 'Invalid')).message).toBe(
      'Missing CLUSTERING ORDER for column b',
    );
    expect((await cqlFails('CREATE TABLE cycling.bad2 (a int, b int, PRIMARY KEY (a)) WITH CLUSTERING ORDER BY (b DESC)', 400, 'Invalid')).message).toBe(
      'Only clustering columns can be defined in CLUSTERING ORDER directive',
    );
    expect((await cqlFails('CREATE TABLE cycling.bad3 (a int, b text)', 400, 'Invalid')).message).toBe("No PRIMARY KEY specifed for table 'bad3' (exactly one required)");
    expect((await cqlFails('CREATE TABLE cycling.bad4 (a int PRIMARY KEY, b list<text>)', 400, 'Invalid')).message).toMatch(/type list<text> is not supported/);
    expect((await cqlFails("CREATE TABLE cycling.bad5 (a int PRIMARY KEY) WITH frobnicate = 'x'", 400, 'SyntaxException')).message).toBe("Unknown property 'frobnicate'");
  });
});

describe('calendar: timestamps as clustering columns, ranges on them, BATCH', () => {
  beforeAll(async () => {
    await cql(`CREATE TABLE cycling.calendar (
        race_id int, race_name text, race_start_date timestamp, race_end_date timestamp,
        PRIMARY KEY (race_id, race_start_date, race_end_date)
      ) WITH CLUSTERING ORDER BY (race_start_date DESC, race_end_date DESC);`);
    await cql(`BEGIN BATCH
        INSERT INTO cycling.calendar (race_id, race_start_date, race_end_date, race_name) VALUES (201, '2015-02-18', '2015-02-22', 'Women''s Tour of New Zealand');
        INSERT INTO cycling.calendar (race_id, race_start_date, race_end_date, race_name) VALUES (200, '2015-02-18', '2015-02-22', 'Tour of Qatar');
        INSERT INTO cycling.calendar (race_id, race_start_date, race_end_date, race_name) VALUES (200, '2015-03-01', '2015-03-08', 'Paris-Nice');
        INSERT INTO cycling.calendar (race_id, race_start_date, race_end_date, race_name) VALUES (200, '2015-05-09 10:00:00+0000', '2015-05-31', 'Giro d''Italia');
        UPDATE cycling.calendar SET race_name = 'Tour of Qatar (women)' WHERE race_id = 201 AND race_start_date = '2015-02-18' AND race_end_date = '2015-02-22';
      APPLY BATCH;`);
  });

  it('reads newest first, a date range, timestamps as RFC 3339', async () => {
    const all = await cql('SELECT race_start_date, race_name FROM cycling.calendar WHERE race_id = 200');
    expect(all.rows).toEqual([
      ['2015-05-09T10:00:00Z', "Giro d'Italia"],
      ['2015-03-01T00:00:00Z', 'Paris-Nice'],
      ['2015-02-18T00:00:00Z', 'Tour of Qatar'],
    ]);
    const spring = await cql("SELECT race_name FROM cycling.calendar WHERE race_id = 200 AND race_start_date >= '2015-03-01' AND race_start_date < '2015-05-09'");
    expect(spring.rows).toEqual([['Paris-Nice']]);
    expect((await cql('SELECT race_name FROM cycling.calendar WHERE race_id = 201')).rows).toEqual([['Tour of Qatar (women)']]);
  });

  it('a BATCH of mixed writes with bind markers applies them in order', async () => {
    await cql(
      `BEGIN UNLOGGED BATCH
         INSERT INTO cycling.calendar (race_id, race_start_date, race_end_date, race_name) VALUES (?, ?, ?, ?);
         INSERT INTO cycling.calendar (race_id, race_start_date, race_end_date, race_name) VALUES (?, ?, ?, ?);
         DELETE FROM cycling.calendar WHERE race_id = ? AND race_start_date = ? AND race_end_date = ?;
       APPLY BATCH`,
      [300, '2016-01-01', '2016-01-05', 'A', 300, '2016-02-01', '2016-02-05', 'B', 300, '2016-01-01', '2016-01-05'],
    );
    expect((await cql('SELECT race_name FROM cycling.calendar WHERE race_id = 300')).rows).toEqual([['B']]);
    const e = await cqlFails("BEGIN BATCH INSERT INTO cycling.calendar (race_id, race_start_date, race_end_date) VALUES (1, '2016-01-01', '2016-01-02') IF NOT EXISTS APPLY BATCH", 400, 'Invalid');
    expect(e.message).toMatch(/Conditional statements/);
  });

  it('a BATCH with a statement Cassandra refuses writes nothing, whatever its place', async () => {
    const bad = [
      "UPDATE cycling.calendar SET nope = 'x' WHERE race_id = 400 AND race_start_date = '2016-01-01' AND race_end_date = '2016-01-02'",
      "UPDATE cycling.calendar SET race_name = 'x' WHERE race_id = 400",
      'DELETE FROM cycling.calendar WHERE race_name = 400',
      "DELETE race_name FROM cycling.calendar WHERE race_id = 400 AND race_start_date > '2016-01-01'",
      "INSERT INTO cycling.calendar (race_id, race_start_date, race_end_date, race_name) VALUES (400, '2016-01-01', '2016-01-02', 42)",
    ];
    for (const [i, statement] of bad.entries()) {
      await cqlFails(
        `BEGIN BATCH
           INSERT INTO cycling.calendar (race_id, race_start_date, race_end_date, race_name) VALUES (${401 + i}, '2016-01-01', '2016-01-02', 'first');
           UPDATE cycling.calendar SET race_name = 'second' WHERE race_id = ${401 + i} AND race_start_date = '2016-03-01' AND race_end_date = '2016-03-02';
           ${statement};
         APPLY BATCH`,
        400,
        'Invalid',
      );
      expect((await cql(`SELECT race_name FROM cycling.calendar WHERE race_id = ${401 + i}`)).rows, statement).toEqual([]);
    }
  });

  it('a BATCH whose later statement is over a key or index size limit writes nothing (checked before the first runs)', async () => {
    await cql('CREATE TABLE cycling.batch_sizes (k text PRIMARY KEY, v text, w text)');
    await cql('CREATE INDEX ON cycling.batch_sizes (w)');
    await cql("INSERT INTO cycling.batch_sizes (k, v) VALUES ('held', 'before')");
    const big = 'x'.repeat(5000);
    const later = [
      ['INSERT INTO cycling.batch_sizes (k, v) VALUES (?, ?)', [big, 'v']],
      ['INSERT INTO cycling.batch_sizes (k, w) VALUES (?, ?)', ['b', big]],
      ['UPDATE cycling.batch_sizes SET w = ? WHERE k = ?', [big, 'c']],
      ['INSERT INTO cycling.batch_sizes JSON ?', [JSON.stringify({ k: big, v: 'v' })]],
    ] as const;
    for (const [statement, params] of later) {
      await cqlFails(
        `BEGIN BATCH
           INSERT INTO cycling.batch_sizes (k, v) VALUES ('a', 'a');
           UPDATE cycling.batch_sizes SET v = 'changed' WHERE k = 'held';
           ${statement};
         APPLY BATCH`,
        400,
        'KEY_TOO_LARGE',
        params,
      );
      expect((await cql('SELECT k, v FROM cycling.batch_sizes')).rows, statement).toEqual([['held', 'before']]);
    }
  });
});

describe('TTL', () => {
  it('USING TTL rows expire on time; UPDATE USING TTL too', async () => {
    await cql('CREATE TABLE cycling.ttl_demo (id int PRIMARY KEY, v text)');
    await cql("INSERT INTO cycling.ttl_demo (id, v) VALUES (1, 'short') USING TTL 1");
    await cql("INSERT INTO cycling.ttl_demo (id, v) VALUES (2, 'kept')");
    await cql("UPDATE cycling.ttl_demo USING TTL 1 SET v = 'short too' WHERE id = 3");
    expect((await cql('SELECT id FROM cycling.ttl_demo')).rows.map((r) => r[0]).sort()).toEqual([1, 2, 3]);
    await sleep(2200);
    expect((await cql('SELECT id FROM cycling.ttl_demo')).rows).toEqual([[2]]);
    expect((await cql('SELECT * FROM cycling.ttl_demo WHERE id = 1')).rows).toEqual([]);
  });

  it('an expiring row sends an invalidation event tbl/<table>/<key as JSON>', async () => {
    await cql('CREATE TABLE cycling.ttl_events (race text, stage int, leader text, PRIMARY KEY (race, stage))');
    const sse = await openSse(server.url, 'tbl/ttl_events/');
    try {
      await cql("INSERT INTO cycling.ttl_events (race, stage, leader) VALUES ('Giro', 4, 'ZAKARIN') USING TTL 1");
      const deadline = Date.now() + 15_000;
      let seen: SseEvent | null = null;
      while (seen === null && Date.now() < deadline) {
        const e = await sse.inbox.next(deadline - Date.now(), 'the TTL invalidation event');
        if (e.event === 'invalidation' && e.data.key === 'tbl/ttl_events/["Giro",4]') seen = e;
      }
      expect(seen?.data).toMatchObject({ key: 'tbl/ttl_events/["Giro",4]', reason: 'ttl' });
    } finally {
      sse.close();
    }
  });

  it("default_time_to_live applies to writes that give no TTL; invalid TTLs are refused", async () => {
    await cql('CREATE TABLE cycling.ttl_default (id int PRIMARY KEY, v text) WITH default_time_to_live = 1');
    await cql("INSERT INTO cycling.ttl_default (id, v) VALUES (1, 'a')");
    await cql("INSERT INTO cycling.ttl_default (id, v) VALUES (2, 'b') USING TTL 3600");
    await sleep(2200);
    expect((await cql('SELECT id FROM cycling.ttl_default')).rows).toEqual([[2]]);
    expect((await cqlFails("INSERT INTO cycling.ttl_default (id, v) VALUES (3, 'c') USING TTL -1", 400, 'Invalid')).message).toBe('A TTL must be greater or equal to 0, but was -1');
    expect((await cqlFails("INSERT INTO cycling.ttl_default (id, v) VALUES (3, 'c') USING TTL 630720001", 400, 'Invalid')).message).toBe(
      'ttl is too large. requested (630720001) maximum (630720000)',
    );
  });

  it('USING TTL 0 means no TTL, over a table default too', async () => {
    await cql('CREATE TABLE cycling.ttl_zero (id int PRIMARY KEY, v text) WITH default_time_to_live = 1');
    await cql("INSERT INTO cycling.ttl_zero (id, v) VALUES (1, 'kept') USING TTL 0");
    await cql("INSERT INTO cycling.ttl_zero (id, v) VALUES (2, 'default')");
    await cql("UPDATE cycling.ttl_zero USING TTL 0 SET v = 'kept too' WHERE id = 3");
    await sleep(2200);
    expect((await cql('SELECT id, v FROM cycling.ttl_zero')).rows.sort()).toEqual([[1, 'kept'], [3, 'kept too']]);
  });

  it('a TTL never expires what a later write without one wrote, nor a row that had none (TTLs are per row: the row keeps its longest life)', async () => {
    await cql('CREATE TABLE cycling.ttl_cells (k int PRIMARY KEY, v text, w text)');
    await cql("INSERT INTO cycling.ttl_cells (k, v) VALUES (1, 'x') USING TTL 1");
    await cql("UPDATE cycling.ttl_cells SET v = 'y' WHERE k = 1");
    await cql("INSERT INTO cycling.ttl_cells (k, v) VALUES (2, 'x') USING TTL 1");
    await cql("INSERT INTO cycling.ttl_cells (k, w) VALUES (2, 'z')");
    await cql("INSERT INTO cycling.ttl_cells (k, v) VALUES (4, 'x')");
    await cql("UPDATE cycling.ttl_cells USING TTL 1 SET w = 'a' WHERE k = 4");
    await cql("INSERT INTO cycling.ttl_cells (k, v) VALUES (5, 'x') USING TTL 1");
    await cql("UPDATE cycling.ttl_cells USING TTL 1 SET w = 'b' WHERE k = 5");
    await cql("INSERT INTO cycling.ttl_cells (k, v, w) VALUES (6, 'x', 'y')");
    await cql("INSERT INTO cycling.ttl_cells (k, v, w) VALUES (6, 'x2', 'y2') USING TTL 1");
    await sleep(2500);
    expect((await cql('SELECT k, v, w FROM cycling.ttl_cells')).rows.sort()).toEqual([
      [1, 'y', null],
      [2, 'x', 'z'],
      [4, 'x', 'a'],
    ]);
  });
});

describe('types, bind markers, paging', () => {
  beforeAll(async () => {
    await cql(`CREATE TABLE cycling.all_types (
        id uuid, seq int, tid timeuuid, name text, nick varchar, big bigint, ratio double, ok boolean, at timestamp, raw blob,
        PRIMARY KEY (id, seq))`);
  });

  it('every type round-trips as the tables API shows it (JSON cells)', async () => {
    await cql(
      "INSERT INTO cycling.all_types (id, seq, tid, name, nick, big, ratio, ok, at, raw) VALUES (e7ae5cf3-d358-4d99-b900-85902fda9bb0, 1, now(), 'Ünïcode', 'v', 9223372036854775807, 1.5, true, '2024-01-02 03:04:05.123+0000', 0xCAFE)",
    );
    await cql('INSERT INTO cycling.all_types (id, seq, big, ratio, at, raw) VALUES (?, ?, ?, ?, ?, ?)', ['E7AE5CF3-D358-4D99-B900-85902FDA9BB0', 2, '-9007199254740993', -0.25, 1704164645000, '0x00ff']);
    const rows = (await cql('SELECT seq, tid, name, nick, big, ratio, ok, at, raw FROM cycling.all_types WHERE id = e7ae5cf3-d358-4d99-b900-85902fda9bb0')).rows;
    expect(rows[0].slice(2)).toEqual(['Ünïcode', 'v', '9223372036854775807', 1.5, true, '2024-01-02T03:04:05.123000Z', 'yv4=']);
    expect(rows[0][1]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(rows[1]).toEqual([2, null, null, null, '-9007199254740993', -0.25, null, '2024-01-02T03:04:05Z', 'AP8=']);
  });

  it('date, float, time and inet columns (cyclist_alt_stats)', async () => {
    await cql('CREATE TABLE IF NOT EXISTS cycling.cyclist_alt_stats ( id UUID PRIMARY KEY, lastname text, birthday date, nationality text, weight float, height float, wake_up time, home inet )');
    await cql(
      "INSERT INTO cycling.cyclist_alt_stats (id, lastname, birthday, nationality, weight, height, wake_up, home) VALUES (ed584e99-80f7-4b13-9a90-9dc5571e6821, 'TSATEVICH', '1989-07-05', 'Russia', 64.1, 183, '06:30:00', '2001:DB8::1')",
    );
    const row = (await cql('SELECT birthday, weight, height, wake_up, home FROM cycling.cyclist_alt_stats WHERE id = ed584e99-80f7-4b13-9a90-9dc5571e6821')).rows[0];
    expect(row).toEqual(['1989-07-05', Math.fround(64.1), 183, '06:30:00.000000000', '2001:db8::1']);
    const born = await cql("SELECT lastname FROM cycling.cyclist_alt_stats WHERE birthday > '1989-01-01' ALLOW FILTERING");
    expect(born.rows).toEqual([['TSATEVICH']]);
  });

  it('type errors are Invalid with the column named', async () => {
    expect((await cqlFails("INSERT INTO cycling.all_types (id, seq) VALUES (e7ae5cf3-d358-4d99-b900-85902fda9bb0, 'one')", 400, 'Invalid')).message).toBe(
      'Invalid STRING constant (one) for "seq" of type int',
    );
    expect((await cqlFails('INSERT INTO cycling.all_types (id, seq) VALUES (e7ae5cf3-d358-4d99-b900-85902fda9bb0, 2147483648)', 400, 'Invalid')).message).toBe(
      "Unable to make int from '2147483648'",
    );
    expect((await cqlFails('INSERT INTO cycling.all_types (id, seq, tid) VALUES (e7ae5cf3-d358-4d99-b900-85902fda9bb0, 3, e7ae5cf3-d358-4d99-b900-85902fda9bb0)', 400, 'Invalid')).message).toMatch(
      /version/,
    );
    expect((await cqlFails('INSERT INTO cycling.all_types (id, nope) VALUES (e7ae5cf3-d358-4d99-b900-85902fda9bb0, 1)', 400, 'Invalid')).message).toBe('Undefined column name nope');
    expect((await cqlFails('INSERT INTO cycling.all_types (id, name) VALUES (e7ae5cf3-d358-4d99-b900-85902fda9bb0, null)', 400, 'Invalid')).message).toBe('Some clustering keys are missing: seq');
    expect((await cqlFails('INSERT INTO cycling.all_types (id, seq) VALUES (?, ?)', 400, 'Invalid', [FRAME])).message).toBe('There were 2 markers(?) in CQL but 1 bound variables');
  });

  it('named markers; paging through a partition with paging_state', async () => {
    const id = '00000000-0000-4000-8000-000000000001';
    for (let seq = 0; seq < 25; seq++) await cql('INSERT INTO cycling.all_types (id, seq, name) VALUES (:id, :seq, :name)', { id, seq, name: `n${seq}` });
    const query = 'SELECT seq FROM cycling.all_types WHERE id = ?';
    const seen: unknown[] = [];
    let state: string | null = null;
    let pages = 0;
    do {
      const page: CqlData = await cql(query, [id], { page_size: 10, paging_state: state });
      seen.push(...page.rows.map((r) => r[0]));
      state = page.paging_state;
      pages++;
    } while (state !== null && pages < 10);
    expect(pages).toBe(3);
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => i));
    // A LIMIT holds across pages.
    const first = await cql(`${query} LIMIT 15`, [id], { page_size: 10 });
    const second = await cql(`${query} LIMIT 15`, [id], { page_size: 10, paging_state: first.paging_state });
    expect([...first.rows, ...second.rows].map((r) => r[0])).toEqual(Array.from({ length: 15 }, (_, i) => i));
    expect(second.paging_state).toBeNull();
  });
});

describe('timeuuid clustering columns order by time', () => {
  /** A version-1 UUID for a time (100-ns ticks since 1582-10-15), with a fixed clock sequence and node. */
  const v1 = (ms: number, node = '000000000001'): string => {
    const t = (BigInt(ms) + 12219292800000n) * 10000n;
    const low = (t & 0xffffffffn).toString(16).padStart(8, '0');
    const mid = ((t >> 32n) & 0xffffn).toString(16).padStart(4, '0');
    const hi = (((t >> 48n) & 0x0fffn) | 0x1000n).toString(16).padStart(4, '0');
    return `${low}-${mid}-${hi}-8000-${node}`;
  };

  it('rows come in time order, ranges on the column select by time, values come back as given', async () => {
    await cql('CREATE TABLE cycling.ts_events (sensor int, at timeuuid, reading int, PRIMARY KEY (sensor, at))');
    const base = Date.UTC(2024, 0, 1);
    // Times chosen so that the low time field's text order differs from time order.
    const ids = Array.from({ length: 6 }, (_, i) => v1(base + i * 5 * 60 * 1000));
    for (const i of [3, 0, 5, 1, 4, 2]) await cql('INSERT INTO cycling.ts_events (sensor, at, reading) VALUES (1, ?, ?)', [ids[i], i]);
    const all = await cql('SELECT at, reading FROM cycling.ts_events WHERE sensor = 1');
    expect(all.rows).toEqual(ids.map((u, i) => [u, i]));
    expect((await cql(`SELECT reading FROM cycling.ts_events WHERE sensor = 1 AND at > ${ids[2]}`)).rows).toEqual([[3], [4], [5]]);
    expect((await cql('SELECT reading FROM cycling.ts_events WHERE sensor = 1 AND at <= ? ORDER BY at DESC', [ids[1]])).rows).toEqual([[1], [0]]);
    expect((await cql('SELECT min(at), max(at) FROM cycling.ts_events WHERE sensor = 1')).rows).toEqual([[ids[0], ids[5]]]);
    // now() values inserted one after another come back in insertion order.
    for (let i = 0; i < 20; i++) await cql('INSERT INTO cycling.ts_events (sensor, at, reading) VALUES (2, now(), ?)', [i]);
    const later = await cql('SELECT reading FROM cycling.ts_events WHERE sensor = 2');
    expect(later.rows).toEqual(Array.from({ length: 20 }, (_, i) => [i]));
  });
});

describe('more SELECT forms', () => {
  beforeAll(async () => {
    await cql('CREATE TABLE cycling.race_times (race_name text, lap int, rider text, seconds double, PRIMARY KEY (race_name, lap, rider))');
    const rows: [string, number, string, number][] = [];
    for (const race of ['Paris-Roubaix', 'Tour of Flanders', 'Milan-San Remo']) {
      for (let lap = 1; lap <= 3; lap++) for (const rider of ['A', 'B']) rows.push([race, lap, rider, lap * 100 + (rider === 'A' ? 1.5 : 2.25)]);
    }
    await cql(
      `BEGIN BATCH ${rows.map(() => 'INSERT INTO cycling.race_times (race_name, lap, rider, seconds) VALUES (?, ?, ?, ?);').join(' ')} APPLY BATCH`,
      rows.flat(),
    );
  });

  it('whole primary keys by IN (point lookups), in key order, with ORDER BY and LIMIT', async () => {
    const q = "SELECT lap, rider FROM cycling.race_times WHERE race_name = 'Paris-Roubaix' AND lap IN (3, 1) AND rider IN ('B', 'A')";
    expect((await cql(q)).rows).toEqual([[1, 'A'], [1, 'B'], [3, 'A'], [3, 'B']]);
    expect((await cql(`${q} ORDER BY lap DESC`)).rows).toEqual([[3, 'B'], [3, 'A'], [1, 'B'], [1, 'A']]);
    expect((await cql(`${q} LIMIT 3`)).rows).toEqual([[1, 'A'], [1, 'B'], [3, 'A']]);
    expect((await cql('SELECT seconds FROM cycling.race_times WHERE race_name = ? AND lap = ? AND rider IN ?', ['Milan-San Remo', 2, ['B']])).rows).toEqual([[202.25]]);
  });

  it('a clustering prefix with a range on the next column; IN ? of partitions', async () => {
    const rows = (await cql("SELECT lap, rider FROM cycling.race_times WHERE race_name = 'Tour of Flanders' AND lap = 2 AND rider > 'A'")).rows;
    expect(rows).toEqual([[2, 'B']]);
    const many = await cql('SELECT race_name FROM cycling.race_times WHERE race_name IN ? AND lap = 1', [['Paris-Roubaix', 'Milan-San Remo']]);
    expect(many.rows.map((r) => r[0]).sort()).toEqual(['Milan-San Remo', 'Milan-San Remo', 'Paris-Roubaix', 'Paris-Roubaix']);
  });

  it('SELECT DISTINCT partition keys; GROUP BY a key prefix; SELECT JSON', async () => {
    expect((await cql('SELECT DISTINCT race_name FROM cycling.race_times')).rows.map((r) => r[0]).sort()).toEqual(['Milan-San Remo', 'Paris-Roubaix', 'Tour of Flanders']);
    const laps = await cql("SELECT lap, count(*), max(seconds) FROM cycling.race_times WHERE race_name = 'Paris-Roubaix' GROUP BY race_name, lap");
    expect(laps.columns).toEqual(['lap', 'count', 'system.max(seconds)']);
    expect(laps.rows.sort((a, b) => (a[0] as number) - (b[0] as number))).toEqual([[1, 2, 102.25], [2, 2, 202.25], [3, 2, 302.25]]);
    const json = await cql("SELECT JSON lap, rider FROM cycling.race_times WHERE race_name = 'Paris-Roubaix' AND lap = 1");
    expect(json).toEqual({ columns: ['[json]'], rows: [['{"lap":1,"rider":"A"}'], ['{"lap":1,"rider":"B"}']], paging_state: null });
  });

  it('an index on a clustering column serves = without ALLOW FILTERING', async () => {
    await cqlFails('SELECT race_name FROM cycling.race_times WHERE lap = 2', 400, 'Invalid');
    await cql('CREATE INDEX lap_idx ON cycling.race_times (lap)');
    expect((await cql('SELECT race_name, rider FROM cycling.race_times WHERE lap = 2')).rows).toHaveLength(6);
    expect((await cqlFails('CREATE INDEX lap_idx ON cycling.race_times (lap)', 409, 'AlreadyExists')).message).toMatch(/lap_idx/);
    expect((await cqlFails('CREATE INDEX ON cycling.race_times (nope)', 400, 'Invalid')).message).toBe('Undefined column name nope');
  });
});

describe('filtering agrees with a plain computation', () => {
  type R = { p: number; c1: number; c2: number; v: number | null };
  const rows: R[] = [];
  for (let p = 0; p < 4; p++) for (let c1 = 0; c1 < 4; c1++) for (let c2 = 0; c2 < 4; c2++) rows.push({ p, c1, c2, v: (p * 7 + c1 * 3 + c2) % 5 === 0 ? null : (p * 7 + c1 * 3 + c2) % 9 });
  beforeAll(async () => {
    await cql('CREATE TABLE cycling.grid (p int, c1 int, c2 int, v int, PRIMARY KEY (p, c1, c2)) WITH CLUSTERING ORDER BY (c1 DESC)');
    for (let i = 0; i < rows.length; i += 16) {
      const part = rows.slice(i, i + 16);
      await cql(`BEGIN BATCH ${part.map(() => 'INSERT INTO cycling.grid (p, c1, c2, v) VALUES (?, ?, ?, ?);').join(' ')} APPLY BATCH`, part.flatMap((r) => [r.p, r.c1, r.c2, r.v]));
    }
  });

  async function filteringRound(start: number): Promise<void> {
    let seed = start;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const ops = ['=', '<', '<=', '>', '>=', 'IN'] as const;
    const test = (op: (typeof ops)[number], x: number | null, arg: number | number[]): boolean => {
      if (x === null) return false;
      switch (op) {
        case '=':
          return x === arg;
        case '<':
          return x < (arg as number);
        case '<=':
          return x <= (arg as number);
        case '>':
          return x > (arg as number);
        case '>=':
          return x >= (arg as number);
        case 'IN':
          return (arg as number[]).includes(x);
      }
    };
    for (let q = 0; q < 40; q++) {
      const used = new Set<string>();
      const parts: string[] = [];
      const checks: ((r: R) => boolean)[] = [];
      const n = 1 + rnd(3);
      for (let i = 0; i < n; i++) {
        const col = (['p', 'c1', 'c2', 'v'] as const)[rnd(4)];
        if (used.has(col)) continue;
        used.add(col);
        const op = ops[rnd(ops.length)];
        const arg = op === 'IN' ? [rnd(9), rnd(9)] : rnd(col === 'v' ? 9 : 4);
        parts.push(op === 'IN' ? `${col} IN (${(arg as number[]).join(', ')})` : `${col} ${op} ${arg as number}`);
        checks.push((r) => test(op, r[col], arg));
      }
      const query = `SELECT p, c1, c2, v FROM cycling.grid WHERE ${parts.join(' AND ')} ALLOW FILTERING`;
      const got = (await cql(query)).rows;
      const want = rows
        .filter((r) => checks.every((c) => c(r)))
        .sort((a, b) => a.p - b.p || b.c1 - a.c1 || a.c2 - b.c2)
        .map((r) => [r.p, r.c1, r.c2, r.v]);
      expect(got, query).toEqual(want);
    }
  }

  async function partitionRound(start: number): Promise<void> {
    let seed = start;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const range = (col: 'c1' | 'c2'): [string, (r: R) => boolean] => {
      const lo = rnd(4);
      const hi = lo + rnd(3);
      const loInc = rnd(2) === 0;
      const hiInc = rnd(2) === 0;
      const which = rnd(3); // 0: a lower bound, 1: an upper bound, 2: both
      const parts: string[] = [];
      const checks: ((r: R) => boolean)[] = [];
      if (which !== 1) {
        parts.push(`${col} ${loInc ? '>=' : '>'} ${lo}`);
        checks.push((r) => (loInc ? r[col] >= lo : r[col] > lo));
      }
      if (which !== 0) {
        parts.push(`${col} ${hiInc ? '<=' : '<'} ${hi}`);
        checks.push((r) => (hiInc ? r[col] <= hi : r[col] < hi));
      }
      return [parts.join(' AND '), (r) => checks.every((c) => c(r))];
    };
    for (let q = 0; q < 40; q++) {
      const ps = rnd(3) === 0 ? [rnd(4), rnd(4)] : [rnd(4)];
      const where: string[] = [ps.length === 1 ? `p = ${ps[0]}` : `p IN (${ps.join(', ')})`];
      const checks: ((r: R) => boolean)[] = [(r) => ps.includes(r.p)];
      const shape = rnd(4);
      if (shape === 1) {
        const [text, check] = range('c1');
        where.push(text);
        checks.push(check);
      } else if (shape >= 2) {
        const c1s = rnd(2) === 0 ? [rnd(4)] : [rnd(4), rnd(4)];
        where.push(c1s.length === 1 ? `c1 = ${c1s[0]}` : `c1 IN (${c1s.join(', ')})`);
        checks.push((r) => c1s.includes(r.c1));
        if (shape === 3) {
          const [text, check] = range('c2');
          where.push(text);
          checks.push(check);
        }
      }
      const order = rnd(3);
      const orderBy = order === 0 ? '' : order === 1 ? ' ORDER BY c1 ASC' : ' ORDER BY c1 DESC';
      const limit = rnd(3) === 0 ? 1 + rnd(10) : 0;
      const query = `SELECT p, c1, c2 FROM cycling.grid WHERE ${where.join(' AND ')}${orderBy}${limit > 0 ? ` LIMIT ${limit}` : ''}`;
      const matching = rows.filter((r) => checks.every((c) => c(r)));
      const byKey = (a: R, b: R): number => a.p - b.p || b.c1 - a.c1 || a.c2 - b.c2;
      const asc = (a: R, b: R): number => a.c1 - b.c1 || b.c2 - a.c2 || a.p - b.p;
      const desc = (a: R, b: R): number => b.c1 - a.c1 || a.c2 - b.c2 || a.p - b.p;
      matching.sort(order === 0 ? byKey : order === 1 ? asc : desc);
      const want = (limit > 0 ? matching.slice(0, limit) : matching).map((r) => [r.p, r.c1, r.c2]);
      expect((await cql(query)).rows, query).toEqual(want);
    }
  }

  it('random restrictions with ALLOW FILTERING answer exactly the matching rows', async () => {
    await filteringRound(12345);
  });

  it('random partition reads (clustering prefixes and ranges, ORDER BY, LIMIT, IN) answer the rows in order', async () => {
    await partitionRound(777);
  });

  it('the same once the mover turned the rows into column segments', async () => {
    const moved = await fetch(`${server.url}/api/v1/tables/grid/move`, { method: 'POST' });
    expect(moved.status).toBe(200);
    const stats = (await (await fetch(`${server.url}/api/v1/tables/grid/stats`)).json()) as { data: { segments: number; delta_rows: number } };
    expect(stats.data.segments).toBeGreaterThan(0);
    expect(stats.data.delta_rows).toBe(0);
    await filteringRound(999);
    await partitionRound(4242);
    // A row changed after the move: a delete mark on the segment's copy and a new delta row.
    await cql('UPDATE cycling.grid SET v = 100 WHERE p = 1 AND c1 = 2 AND c2 = 3');
    rows[rows.findIndex((r) => r.p === 1 && r.c1 === 2 && r.c2 === 3)].v = 100;
    expect((await cql('SELECT v FROM cycling.grid WHERE p = 1 AND c1 = 2 AND c2 = 3')).rows).toEqual([[100]]);
    await filteringRound(31337);
  });

  it('PER PARTITION LIMIT, through pages too', async () => {
    const firstTwo = [0, 1, 2, 3].flatMap((p) => [[p, 3, 0], [p, 3, 1]]);
    expect((await cql('SELECT p, c1, c2 FROM cycling.grid PER PARTITION LIMIT 2')).rows).toEqual(firstTwo);
    const pages: unknown[][] = [];
    let state: string | null = null;
    let n = 0;
    do {
      const page: CqlData = await cql('SELECT p, c1, c2 FROM cycling.grid PER PARTITION LIMIT 2', undefined, { page_size: 3, paging_state: state });
      pages.push(...page.rows);
      state = page.paging_state;
    } while (state !== null && ++n < 10);
    expect(pages).toEqual(firstTwo);
    expect((await cql('SELECT p, c1, c2 FROM cycling.grid WHERE c2 = 2 PER PARTITION LIMIT 1 LIMIT 3 ALLOW FILTERING')).rows).toEqual([[0, 3, 2], [1, 3, 2], [2, 3, 2]]);
    expect((await cql('SELECT p, c1, c2 FROM cycling.grid WHERE p IN (1, 2) AND c1 IN (0, 1) AND c2 IN (0, 1) PER PARTITION LIMIT 3')).rows).toEqual([
      [1, 1, 0], [1, 1, 1], [1, 0, 0], [2, 1, 0], [2, 1, 1], [2, 0, 0],
    ]);
    expect((await cqlFails('SELECT count(*) FROM cycling.grid PER PARTITION LIMIT 1', 400, 'Invalid')).message).toBe('PER PARTITION LIMIT is not allowed with aggregate queries.');
  });
});

describe('errors and schema statements', () => {
  it('SyntaxException with the line and column', async () => {
    const e = await cqlFails('SELECT * FORM cycling.cyclist_name', 400, 'SyntaxException');
    expect(e.message).toBe("line 1:9 mismatched input 'FORM' expecting K_FROM");
    await cqlFails('SELEC 1', 400, 'SyntaxException');
  });

  it('unknown tables are Invalid; DROP TABLE [IF EXISTS]; TRUNCATE; ALTER TABLE ADD', async () => {
    expect((await cqlFails('SELECT * FROM cycling.nope', 400, 'Invalid')).message).toBe('unconfigured table nope');
    await cql('CREATE TABLE cycling.scratch (k int PRIMARY KEY, v text)');
    await cql("INSERT INTO cycling.scratch (k, v) VALUES (1, 'a')");
    await cql('ALTER TABLE cycling.scratch ADD extra bigint');
    expect((await cql('SELECT * FROM cycling.scratch')).rows).toEqual([[1, null, 'a']]);
    expect((await cqlFails('ALTER TABLE cycling.scratch ADD v text', 400, 'Invalid')).message).toBe("Column with name 'v' already exists");
    await cql('TRUNCATE cycling.scratch');
    expect((await cql('SELECT * FROM cycling.scratch')).rows).toEqual([]);
    await cql('DROP TABLE cycling.scratch');
    expect((await cqlFails('DROP TABLE cycling.scratch', 400, 'Invalid')).message).toBe("Table 'cycling.scratch' doesn't exist");
    await cql('DROP TABLE IF EXISTS cycling.scratch');
  });

  it('UPDATE rules: the whole primary key, no key column in SET', async () => {
    expect((await cqlFails("UPDATE cycling.rank_by_year_and_name SET cyclist_name = 'x' WHERE race_year = 2015", 400, 'Invalid')).message).toBe(
      'Some partition key parts are missing: race_name',
    );
    expect((await cqlFails("UPDATE cycling.rank_by_year_and_name SET cyclist_name = 'x' WHERE race_year = 2015 AND race_name = 'a'", 400, 'Invalid')).message).toBe(
      'Some clustering keys are missing: rank',
    );
    expect((await cqlFails("UPDATE cycling.rank_by_year_and_name SET rank = 2 WHERE race_year = 2015 AND race_name = 'a' AND rank = 1", 400, 'Invalid')).message).toBe(
      'PRIMARY KEY part rank found in SET part',
    );
  });

  it('the body: query required, consistency levels checked, other methods refused', async () => {
    expect((await post({ params: [] })).status).toBe(400);
    expect((await post({ query: 'SELECT * FROM cycling.cyclist_name', consistency: 'LOCAL_QUORUM' })).status).toBe(200);
    expect((await post({ query: 'SELECT * FROM cycling.cyclist_name', consistency: 'SOMETIMES' })).json.error?.code).toBe('INVALID_PARAMETER');
    expect((await fetch(`${server.url}/api/v1/cql`)).status).toBe(405);
  });

  it('a CQL table is a table of the HTTP API too (with its CQL types)', async () => {
    const response = await fetch(`${server.url}/api/v1/tables/cyclist_category`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { data: { columns: { name: string; type: string; cql_type?: string }[]; primary_key: string[] } };
    expect(body.data.primary_key).toEqual(['category', 'points']);
    expect(body.data.columns.find((c) => c.name === 'id')).toMatchObject({ type: 'string', cql_type: 'uuid' });
  });
});

describe('through the Hono listener (--http-fast-path off)', () => {
  it('serves the same statements and errors', async () => {
    const slow = await startServer({ shards: 1, fsync: 'batch', fastPath: false });
    try {
      const run = async (query: string): Promise<{ status: number; body: { data?: CqlData; error?: CqlFailure } }> => {
        const response = await fetch(`${slow.url}/api/v1/cql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
        return { status: response.status, body: (await response.json()) as { data?: CqlData; error?: CqlFailure } };
      };
      expect((await run('CREATE TABLE k (id int PRIMARY KEY, v text)')).status).toBe(200);
      expect((await run("INSERT INTO k (id, v) VALUES (1, 'one')")).status).toBe(200);
      expect((await run('SELECT * FROM k')).body.data?.rows).toEqual([[1, 'one']]);
      expect((await run("SELECT * FROM k WHERE v = 'one'")).body.error?.message).toBe(ALLOW_FILTERING);
      expect((await run('SELECT * FROM')).body.error?.code).toBe('SyntaxException');
      expect((await fetch(`${slow.url}/api/v1/cql`)).status).toBe(405);
    } finally {
      await slow.stop();
    }
  });
});
