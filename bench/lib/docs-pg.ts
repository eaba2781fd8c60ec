// PostgreSQL JSONB, the document benchmark's baseline, driven by `pg` from
// this process (the same process and client-side work as the MantisDB half):
// a table of (id identity primary key, doc jsonb) in a throwaway cluster
// started by lib/pgbench.ts with PostgreSQL's default configuration, multi-row
// INSERTs of 1000 documents as prepared statements, an expression index on
// doc->'user'->>'email' for the lookups, and GROUP BY over the same jsonb for
// the aggregation.
//
// The lookup uses a btree expression index, not GIN: equality on one nested
// field is what an expression index is for, and GIN's `doc @> {...}` would
// index every path of the 1 KB document (bigger and slower to build).

import pg from 'pg';
import type { GroupRow } from './docs-gen.js';
import type { TempPostgres } from './pgbench.js';

export const PG_TABLE = 'docs';

export type PgDocsClient = pg.Client;

export async function pgConnect(cluster: TempPostgres): Promise<pg.Client> {
  const client = new pg.Client({ host: cluster.host, port: cluster.port, user: cluster.user, database: cluster.database });
  await client.connect();
  return client;
}

/** A fresh table: no index but the primary key, as a new MantisDB collection has only _id. */
export async function pgCreateTable(client: pg.Client): Promise<void> {
  await client.query(`DROP TABLE IF EXISTS ${PG_TABLE}`);
  await client.query(`CREATE TABLE ${PG_TABLE} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, doc jsonb NOT NULL)`);
}

const insertTexts = new Map<number, string>();

/** `INSERT … VALUES ($1::jsonb), …, ($n::jsonb)`, one statement text per batch size. */
export function insertSql(rows: number): string {
  let text = insertTexts.get(rows);
  if (text === undefined) {
    const values: string[] = [];
    for (let k = 1; k <= rows; k++) values.push(`($${k}::jsonb)`);
    text = `INSERT INTO ${PG_TABLE} (doc) VALUES ${values.join(',')}`;
    insertTexts.set(rows, text);
  }
  return text;
}

/** One multi-row INSERT of the documents (JSON text), prepared once per connection and batch size; one transaction. */
export async function pgInsertBatch(client: pg.Client, jsons: readonly string[]): Promise<void> {
  const r = await client.query({ name: `docs-insert-${jsons.length}`, text: insertSql(jsons.length), values: jsons as string[] });
  if (r.rowCount !== jsons.length) throw new Error(`PostgreSQL INSERT of ${jsons.length} documents reported ${r.rowCount} rows`);
}

const PG_EMAIL_INDEX = `CREATE INDEX ${PG_TABLE}_user_email ON ${PG_TABLE} ((doc->'user'->>'email'))`;

export async function pgCreateEmailIndex(client: pg.Client): Promise<void> {
  await client.query(PG_EMAIL_INDEX);
}

/** ANALYZE after the index, so the planner knows the table it was loaded into (not timed). */
export async function pgAnalyze(client: pg.Client): Promise<void> {
  await client.query(`ANALYZE ${PG_TABLE}`);
}

/** VACUUM after the load (sets hint bits and the visibility map, as autovacuum would soon): not timed. */
export async function pgVacuum(client: pg.Client): Promise<void> {
  await client.query(`VACUUM ${PG_TABLE}`);
}

export const PG_LOOKUP_SQL = `SELECT doc FROM ${PG_TABLE} WHERE doc->'user'->>'email' = $1`;

/** The documents whose user.email is `email` (pg parses the jsonb, as our client parses the HTTP answer). */
export async function pgLookup(client: pg.Client, email: string): Promise<number> {
  const r = await client.query({ name: 'docs-lookup', text: PG_LOOKUP_SQL, values: [email] });
  return r.rows.length;
}

/** Whether the lookup's plan uses the expression index (EXPLAIN's text). */
export async function pgLookupPlan(client: pg.Client, email: string): Promise<string> {
  const r = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${PG_LOOKUP_SQL}`, [email]);
  return r.rows.map((row) => row['QUERY PLAN']).join('\n');
}

export const PG_GROUP_SQL =
  `SELECT doc->>'category' AS category, count(*)::int AS count, sum((doc->>'amount')::float8) AS total, avg((doc->'user'->>'age')::float8) AS avg_age ` +
  `FROM ${PG_TABLE} WHERE doc->>'status' = 'active' GROUP BY 1 ORDER BY 1`;

/** The aggregation: active documents grouped by category (the same question as the $match + $group pipeline). */
export async function pgGroup(client: pg.Client): Promise<GroupRow[]> {
  const r = await client.query<{ category: string; count: number; total: number; avg_age: number }>(PG_GROUP_SQL);
  return r.rows.map((row) => ({ category: row.category, count: Number(row.count), total: Number(row.total), avgAge: Number(row.avg_age) }));
}

export type PgSizes = {
  /** The heap with its TOAST table (pg_table_size). */
  readonly tableBytes: number;
  readonly indexBytes: number;
  readonly totalBytes: number;
  readonly rows: number;
};

export async function pgSizes(client: pg.Client): Promise<PgSizes> {
  const r = await client.query<{ t: string; i: string; a: string; n: string }>(
    `SELECT pg_table_size('${PG_TABLE}') AS t, pg_indexes_size('${PG_TABLE}') AS i, pg_total_relation_size('${PG_TABLE}') AS a, (SELECT count(*) FROM ${PG_TABLE}) AS n`,
  );
  const row = r.rows[0];
  return { tableBytes: Number(row.t), indexBytes: Number(row.i), totalBytes: Number(row.a), rows: Number(row.n) };
}

/** The server settings that matter for these phases, as the running server reports them. */
export async function pgSettings(client: pg.Client): Promise<Record<string, string>> {
  const names = ['shared_buffers', 'work_mem', 'max_parallel_workers_per_gather', 'jit', 'synchronous_commit', 'fsync'];
  const r = await client.query<{ name: string; setting: string }>(`SELECT name, current_setting(name) AS setting FROM pg_settings WHERE name = ANY($1)`, [names]);
  return Object.fromEntries(r.rows.map((row) => [row.name, row.setting]));
}
