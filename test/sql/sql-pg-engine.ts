// An sqllogictest engine over PostgreSQL itself (the `pg` client): the
// reference the runner (test/sql/slt.ts) and our own .test files are checked
// against, and what test/sql/slt-expect.ts takes expected results from.
//
// Every value arrives as PostgreSQL's text output (no pg type parsing: no
// Dates, no rounding), then becomes what MantisDB's JSON answer would carry:
// booleans as booleans, integers and floats as numbers (an int8 past 2^53
// stays a decimal string), numeric as its exact decimal string (PostgreSQL's
// text, trailing zeros included), everything else as text.

import pg from 'pg';
import type { Exec, ExecResult } from './slt.js';

export type PgEngine = {
  readonly exec: Exec;
  readonly client: pg.Client;
  close(): Promise<void>;
};

const BOOL = 16;
const INTEGERS = new Set([20, 21, 23, 26]); // int8, int2, int4, oid
const FLOATS = new Set([700, 701]); // float4, float8

const rawText = { getTypeParser: () => (value: string) => value } as unknown as pg.CustomTypesConfig;

function convert(value: unknown, typeId: number): unknown {
  if (value === null || typeof value !== 'string') return value;
  if (typeId === BOOL) return value === 't';
  if (INTEGERS.has(typeId)) {
    const n = Number(value);
    return Number.isSafeInteger(n) ? n : value;
  }
  if (FLOATS.has(typeId)) return Number(value); // 'NaN', 'Infinity', '-Infinity' included
  return value;
}

/** Runs one SQL text (simple query protocol); the last statement's rows when it holds several. */
export async function pgExec(client: pg.Client, sql: string): Promise<ExecResult> {
  type Result = pg.QueryResult<unknown[]>;
  let result: Result | Result[];
  try {
    result = (await client.query<unknown[]>({ text: sql, rowMode: 'array', types: rawText })) as Result | Result[];
  } catch (e) {
    if (e instanceof pg.DatabaseError) return { ok: false, message: `${e.code ?? ''}: ${e.message}` };
    throw e;
  }
  const last: Result | undefined = Array.isArray(result) ? result[result.length - 1] : result;
  const fields = last?.fields ?? [];
  const rows = (last?.rows ?? []).map((row: unknown[]) => row.map((v: unknown, k: number) => convert(v, fields[k]?.dataTypeID ?? 25)));
  return { ok: true, rows };
}

/** Connects a client and answers {exec, close}. */
export async function connectPgEngine(config: pg.ClientConfig): Promise<PgEngine> {
  const client = new pg.Client({ ...config, types: rawText });
  await client.connect();
  // An error on the idle connection must not crash the test process; the next query reports it.
  client.on('error', () => undefined);
  return { exec: (sql) => pgExec(client, sql), client, close: () => client.end() };
}
