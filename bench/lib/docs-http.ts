// MantisDB's half of the document benchmark: the document routes of issue 11
// over HTTP (undici, one keep-alive connection per client), answering in the
// usual envelope { success, data, meta } / { success: false, error: {code} }.
//
//   POST /api/v1/docs/:c/insert    {"documents":[…]}            → data.inserted_ids
//   POST /api/v1/docs/:c/indexes   {"name","keys":{…}}
//   POST /api/v1/docs/:c/find      {"filter":{…},"limit":n}     → data = documents
//   POST /api/v1/docs/:c/explain   {"filter":{…}}               → the plan per shard
//   POST /api/v1/docs/:c/aggregate {"pipeline":[…]}             → data = results
//   GET  /api/v1/docs/:c                                        → options, indexes, stats

import type { Client } from 'undici';
import type { GroupRow } from './docs-gen.js';

export type Reply = { readonly status: number; readonly text: string };

export const docsPath = (collection: string, action?: string): string =>
  `/api/v1/docs/${encodeURIComponent(collection)}${action === undefined ? '' : `/${action}`}`;

export async function call(client: Client, method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: string): Promise<Reply> {
  const res = await client.request({ method, path, body, headers: body === undefined ? {} : { 'content-type': 'application/json' } });
  return { status: res.statusCode, text: await res.body.text() };
}

/** `data` of a 2xx answer; anything else throws with the status and the error code. */
export function dataOf(reply: Reply, what: string): unknown {
  let body: unknown = null;
  try {
    body = JSON.parse(reply.text);
  } catch {
    // reported below
  }
  const envelope = body as { success?: unknown; data?: unknown; error?: { code?: unknown; message?: unknown } } | null;
  if (reply.status < 200 || reply.status > 299 || envelope === null || envelope.success !== true) {
    const e = envelope?.error;
    const detail = e === undefined ? reply.text.slice(0, 200) : `${String(e.code)}: ${String(e.message).slice(0, 200)}`;
    throw new Error(`${what}: HTTP ${reply.status} ${detail}`);
  }
  return envelope.data;
}

/** `{"documents":[…]}` from documents already in JSON text. */
export function insertBody(jsons: readonly string[]): string {
  return `{"documents":[${jsons.join(',')}]}`;
}

export async function httpInsert(client: Client, collection: string, jsons: readonly string[]): Promise<void> {
  const data = dataOf(await call(client, 'POST', docsPath(collection, 'insert'), insertBody(jsons)), `insert of ${jsons.length} documents`);
  const ids = (data as { inserted_ids?: unknown } | null)?.inserted_ids;
  if (!Array.isArray(ids) || ids.length !== jsons.length) throw new Error(`insert of ${jsons.length} documents: data.inserted_ids has ${Array.isArray(ids) ? ids.length : 'no'} ids`);
}

export async function httpCreateIndex(client: Client, collection: string, name: string, keys: Record<string, 1 | -1>): Promise<void> {
  dataOf(await call(client, 'POST', docsPath(collection, 'indexes'), JSON.stringify({ name, keys })), `create index ${name}`);
}

export async function httpCollection(client: Client, collection: string): Promise<unknown> {
  return dataOf(await call(client, 'GET', docsPath(collection)), `GET ${docsPath(collection)}`);
}

export async function httpExplain(client: Client, collection: string, filter: Record<string, unknown>): Promise<unknown> {
  return dataOf(await call(client, 'POST', docsPath(collection, 'explain'), JSON.stringify({ filter })), 'explain');
}

/**
 * The `state` of index `name` in a GET /api/v1/docs/:c answer ("building",
 * "ready"), or null when the index is not listed.
 */
export function indexState(collection: unknown, name: string): string | null {
  const indexes = (collection as { indexes?: unknown } | null)?.indexes;
  if (!Array.isArray(indexes)) return null;
  const found = indexes.find((i: unknown) => (i as { name?: unknown } | null)?.name === name) as { state?: unknown } | undefined;
  return found === undefined ? null : String(found.state);
}

/**
 * Whether an explain answer shows an index scan on `index` and no
 * collection scan on any shard. The plan's exact shape is the router's;
 * this reads it as text, looking for the index name and the words used for
 * a collection scan.
 */
export function explainUsesIndex(explain: unknown, index: string): boolean {
  const text = JSON.stringify(explain);
  return text.includes(`"${index}"`) && !/coll_?scan|collection scan/i.test(text);
}

/** The documents whose user.email is `email` (at most 2 asked for: the caller checks there is exactly one). */
export async function httpFindByEmail(client: Client, collection: string, email: string): Promise<number> {
  const data = dataOf(await call(client, 'POST', docsPath(collection, 'find'), `{"filter":{"user.email":"${email}"},"limit":2}`), 'find');
  if (!Array.isArray(data)) throw new Error('find: data is not an array');
  return data.length;
}

/** The benchmark's aggregation, as a pipeline: the same question as lib/docs-pg.ts PG_GROUP_SQL. */
export const GROUP_PIPELINE = [
  { $match: { status: 'active' } },
  { $group: { _id: '$category', count: { $sum: 1 }, total: { $sum: '$amount' }, avgAge: { $avg: '$user.age' } } },
] as const;

export async function httpGroup(client: Client, collection: string): Promise<GroupRow[]> {
  const data = dataOf(await call(client, 'POST', docsPath(collection, 'aggregate'), JSON.stringify({ pipeline: GROUP_PIPELINE })), 'aggregate');
  if (!Array.isArray(data)) throw new Error('aggregate: data is not an array');
  return data.map((row: unknown) => {
    const r = row as { _id?: unknown; count?: unknown; total?: unknown; avgAge?: unknown };
    return { category: String(r._id), count: Number(r.count), total: Number(r.total), avgAge: Number(r.avgAge) };
  });
}
