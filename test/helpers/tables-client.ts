// HTTP helpers for the columnar tables' integration tests: every route under
// /api/v1/tables as the issue names them, the JSON envelope unpacked, error
// bodies with their details (column, row), cursor paging through every page
// with a duplicate check, and a plain in-test GROUP BY to check answers
// against.

import { expect } from 'vitest';
import { expectOk } from './http-client.js';

export type Json = null | boolean | number | string | Json[] | { [field: string]: Json };
export type JsonRow = { [column: string]: Json };

export type QueryAnswer = {
  readonly columns: string[];
  readonly rows: Json[][];
  readonly next_cursor: string | null;
  readonly stats: { took_ms: number; shards: number; segments_scanned: number; segments_pruned: number; rows_scanned: number; plan: string };
};

export type TableError = { readonly code: string; readonly message: string; readonly retryable: boolean; readonly column?: string; readonly row?: number; readonly [detail: string]: unknown };

let counter = 0;
/** A table name unique within the test process. */
export function tableName(tag: string): string {
  return `t_${tag}_${process.pid}_${++counter}`;
}

export function tablesUrl(base: string, path = ''): string {
  return `${base}/api/v1/tables${path}`;
}

export function send(url: string, method: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
  if (body === undefined) return fetch(url, { method, headers });
  return fetch(url, { method, body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });
}

/** Asserts an error envelope with this status and code; returns the error object (details included). */
export async function expectTableError(response: Response, status: number, code: string): Promise<TableError> {
  const text = await response.text();
  expect({ status: response.status, text: text.slice(0, 600) }).toEqual({ status, text: expect.stringContaining(`"code":"${code}"`) });
  const body = JSON.parse(text) as { success: boolean; error: TableError };
  expect(body.success).toBe(false);
  expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeGreaterThan(0);
  return body.error;
}

/** One table under test: every route of it. */
export class TablesClient {
  constructor(
    readonly base: string,
    readonly name: string,
  ) {}

  url(path = ''): string {
    return tablesUrl(this.base, `/${encodeURIComponent(this.name)}${path}`);
  }

  create(columns: readonly JsonRow[], primaryKey: readonly string[], extra: JsonRow = {}): Promise<Response> {
    return send(tablesUrl(this.base), 'POST', { name: this.name, columns, primary_key: primaryKey, ...extra });
  }

  async createOk(columns: readonly JsonRow[], primaryKey: readonly string[], extra: JsonRow = {}): Promise<JsonRow> {
    return (await expectOk<JsonRow>(await this.create(columns, primaryKey, extra), 201)).data;
  }

  post(action: string, body: unknown): Promise<Response> {
    return send(this.url(`/${action}`), 'POST', body);
  }

  insert(rows: readonly JsonRow[], extra: JsonRow = {}): Promise<Response> {
    return this.post('rows', { rows, ...extra });
  }

  async insertOk(rows: readonly JsonRow[], extra: JsonRow = {}): Promise<{ inserted: number; replaced: number; ignored: number }> {
    return (await expectOk<{ inserted: number; replaced: number; ignored: number }>(await this.insert(rows, extra))).data;
  }

  /** Inserts in batches of up to 10,000 (the route's limit). */
  async insertMany(rows: readonly JsonRow[], batch = 10_000): Promise<void> {
    for (let at = 0; at < rows.length; at += batch) {
      const done = await this.insertOk(rows.slice(at, at + batch));
      expect(done.inserted).toBe(Math.min(batch, rows.length - at));
    }
  }

  getRow(pk: string): Promise<Response> {
    return send(this.url(`/rows/${encodeURIComponent(pk)}`), 'GET');
  }

  async query(body: Record<string, unknown>): Promise<QueryAnswer> {
    const { data } = await expectOk<QueryAnswer>(await this.post('query', body));
    expect(Array.isArray(data.rows), JSON.stringify(data).slice(0, 300)).toBe(true);
    return data;
  }

  /** Every page of a query through next_cursor; fails on a repeated row (by the key columns' positions). */
  async queryAll(body: Record<string, unknown>, keyAt: readonly number[]): Promise<{ rows: Json[][]; pages: number }> {
    const rows: Json[][] = [];
    const seen = new Set<string>();
    let cursor: string | null = null;
    let pages = 0;
    for (;;) {
      const page = await this.query(cursor === null ? body : { ...body, cursor });
      pages++;
      for (const row of page.rows) {
        const key = JSON.stringify(keyAt.map((k) => row[k]));
        expect(seen.has(key), `row ${key} served twice`).toBe(false);
        seen.add(key);
        rows.push(row);
      }
      if (page.next_cursor === null) return { rows, pages };
      cursor = page.next_cursor;
      expect(pages).toBeLessThan(10_000);
    }
  }

  async update(where: unknown, set: JsonRow): Promise<number> {
    return (await expectOk<{ affected: number }>(await this.post('update', { where, set }))).data.affected;
  }

  async delete(where: unknown): Promise<number> {
    return (await expectOk<{ affected: number }>(await this.post('delete', { where }))).data.affected;
  }

  info(): Promise<Response> {
    return send(this.url(), 'GET');
  }

  async stats(): Promise<JsonRow> {
    return (await expectOk<JsonRow>(await send(this.url('/stats'), 'GET'))).data;
  }

  async move(): Promise<void> {
    await expectOk(await this.post('move', {}));
  }

  drop(query = ''): Promise<Response> {
    return send(`${this.url()}${query}`, 'DELETE');
  }
}

/** A plain GROUP BY over row objects: group key text → {count, sum} of `value` (non-null values only in sum). */
export function plainGroups(rows: readonly JsonRow[], groupBy: string, value: string): Map<string, { key: Json; count: number; sum: number; n: number }> {
  const out = new Map<string, { key: Json; count: number; sum: number; n: number }>();
  for (const row of rows) {
    const k = JSON.stringify(row[groupBy] ?? null);
    let g = out.get(k);
    if (g === undefined) out.set(k, (g = { key: row[groupBy] ?? null, count: 0, sum: 0, n: 0 }));
    g.count++;
    const v = row[value];
    if (typeof v === 'number') {
      g.sum += v;
      g.n++;
    }
  }
  return out;
}
