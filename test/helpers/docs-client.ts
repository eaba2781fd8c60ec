// HTTP helpers for the document store's integration tests: the routes under
// /api/v1/docs as the issue names them, documents as relaxed Extended JSON
// (plain JSON values built by hand, so the server's EJSON is checked against
// the spec and not against the same library), cursor paging through every
// page with a duplicate check, and the placement of a document's _id on a
// shard (to build cross-shard cases).

import { expect } from 'vitest';
import { expectOk } from './http-client.js';

export type Json = null | boolean | number | string | Json[] | JsonDoc;
export type JsonDoc = { [field: string]: Json };

export const TXN_HEADER = 'Mantis-Txn';

export type FindMeta = { readonly count?: number; readonly next_cursor?: string | null; readonly [field: string]: unknown };
export type FindPage = { readonly docs: JsonDoc[]; readonly meta: FindMeta };
export type UpdateData = { readonly matched: number; readonly modified: number; readonly upserted_id?: Json };

export function docsUrl(base: string, path = ''): string {
  return `${base}/api/v1/docs${path}`;
}

/** `/api/v1/docs/<coll>/<id>` with the id percent-encoded and an optional query (`?id_type=number`). */
export function byIdUrl(base: string, coll: string, id: string, query = ''): string {
  return docsUrl(base, `/${encodeURIComponent(coll)}/${encodeURIComponent(id)}${query}`);
}

function headersFor(txn: string | null, json: boolean): Record<string, string> {
  const headers: Record<string, string> = json ? { 'content-type': 'application/json' } : {};
  if (txn !== null) headers[TXN_HEADER] = txn;
  return headers;
}

/** A request with a JSON body (sent as is when a string); `txn` adds the Mantis-Txn header. */
export function sendJson(url: string, method: string, body: unknown, txn: string | null = null): Promise<Response> {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return fetch(url, { method, body: text, headers: headersFor(txn, true) });
}

/** POST /api/v1/docs/<coll>/<action> (insert, find, update, find_and_modify, delete, aggregate, explain, indexes). */
export function postAction(base: string, coll: string, action: string, body: unknown, txn: string | null = null): Promise<Response> {
  return sendJson(docsUrl(base, `/${encodeURIComponent(coll)}/${action}`), 'POST', body, txn);
}

/** A collection under test: every route of one collection, optionally inside a transaction. */
export class DocsClient {
  constructor(
    readonly base: string,
    readonly coll: string,
    readonly txn: string | null = null,
  ) {}

  /** The same collection seen from inside transaction `txn`. */
  inTxn(txn: string): DocsClient {
    return new DocsClient(this.base, this.coll, txn);
  }

  post(action: string, body: unknown): Promise<Response> {
    return postAction(this.base, this.coll, action, body, this.txn);
  }

  /** Inserts and returns data.inserted_ids (asserting one per document). */
  async insert(documents: readonly JsonDoc[]): Promise<Json[]> {
    const { data } = await expectOk<{ inserted_ids: Json[] }>(await this.post('insert', { documents }));
    expect(data.inserted_ids).toHaveLength(documents.length);
    return data.inserted_ids;
  }

  /** Inserts in batches of up to 1000 (the route's limit). */
  async insertMany(documents: readonly JsonDoc[], batch = 1000): Promise<void> {
    for (let at = 0; at < documents.length; at += batch) await this.insert(documents.slice(at, at + batch));
  }

  async find(body: JsonDoc): Promise<FindPage> {
    const envelope = await expectOk<JsonDoc[]>(await this.post('find', body));
    expect(Array.isArray(envelope.data), JSON.stringify(envelope).slice(0, 300)).toBe(true);
    return { docs: envelope.data, meta: envelope.meta as FindMeta };
  }

  /**
   * Every page of a query, following meta.next_cursor (the same body plus `cursor`) until it is
   * absent; fails on a document seen twice (by _id). Returns the documents in the order served.
   */
  async findAll(body: JsonDoc, pageLimit = 1000): Promise<JsonDoc[]> {
    const all: JsonDoc[] = [];
    const seen = new Set<string>();
    let cursor: string | null = null;
    for (let pages = 0; ; pages++) {
      expect(pages, 'more pages than documents: the cursor does not advance').toBeLessThan(100_000);
      const page: FindPage = await this.find(cursor === null ? { ...body, limit: pageLimit } : { ...body, limit: pageLimit, cursor });
      for (const doc of page.docs) {
        const key = JSON.stringify(doc._id);
        expect(seen.has(key), `_id ${key} served twice while paging`).toBe(false);
        seen.add(key);
        all.push(doc);
      }
      const next = page.meta.next_cursor;
      if (next === undefined || next === null) return all;
      expect(typeof next).toBe('string');
      cursor = next;
    }
  }

  async update(body: JsonDoc): Promise<UpdateData> {
    return (await expectOk<UpdateData>(await this.post('update', body))).data;
  }

  async deleteWhere(filter: JsonDoc, multi = true): Promise<number> {
    return (await expectOk<{ deleted: number }>(await this.post('delete', { filter, multi }))).data.deleted;
  }

  async aggregate(pipeline: JsonDoc[], extra: JsonDoc = {}): Promise<JsonDoc[]> {
    return (await expectOk<JsonDoc[]>(await this.post('aggregate', { pipeline, ...extra }))).data;
  }

  createIndex(spec: JsonDoc): Promise<Response> {
    return this.post('indexes', spec);
  }

  dropIndex(name: string): Promise<Response> {
    return fetch(docsUrl(this.base, `/${encodeURIComponent(this.coll)}/indexes/${encodeURIComponent(name)}`), { method: 'DELETE', headers: headersFor(this.txn, false) });
  }

  /** GET /api/v1/docs/<coll>: options, indexes and stats. */
  info(): Promise<Response> {
    return fetch(docsUrl(this.base, `/${encodeURIComponent(this.coll)}`));
  }

  drop(): Promise<Response> {
    return fetch(docsUrl(this.base, `/${encodeURIComponent(this.coll)}`), { method: 'DELETE' });
  }

  getById(id: string, query = ''): Promise<Response> {
    return fetch(byIdUrl(this.base, this.coll, id, query), { headers: headersFor(this.txn, false) });
  }

  putById(id: string, doc: unknown, query = ''): Promise<Response> {
    return sendJson(byIdUrl(this.base, this.coll, id, query), 'PUT', doc, this.txn);
  }

  patchById(id: string, update: unknown, query = ''): Promise<Response> {
    return sendJson(byIdUrl(this.base, this.coll, id, query), 'PATCH', update, this.txn);
  }

  deleteById(id: string, query = ''): Promise<Response> {
    return fetch(byIdUrl(this.base, this.coll, id, query), { method: 'DELETE', headers: headersFor(this.txn, false) });
  }
}

/** A fresh collection name for one test (names: [A-Za-z0-9_.-]). */
export function collName(tag: string): string {
  return `${tag}_${Math.random().toString(36).slice(2, 10)}`;
}

/** A 24-hex ObjectId string: 4-byte time, then a counter, unique within the test process. */
let oidCounter = 0;
export function oidHex(): string {
  const time = Math.floor(Date.now() / 1000).toString(16).padStart(8, '0');
  return `${time}${(process.pid % 0xffff).toString(16).padStart(4, '0')}${(oidCounter++).toString(16).padStart(12, '0')}`;
}

/** `{"$oid": hex}` */
export function oid(hex: string = oidHex()): JsonDoc {
  return { $oid: hex };
}

/** `{"$date": ISO}` */
export function date(ms: number): JsonDoc {
  return { $date: new Date(ms).toISOString() };
}

/** A deterministic PRNG (mulberry32), so generated data and queries are the same every run. */
export { rng as prng } from '../../bench/lib/storage-data.js';

/** The _ids of documents as sortable strings (for set comparisons). */
export function idsOf(docs: readonly JsonDoc[]): string[] {
  return docs.map((d) => JSON.stringify(d._id)).sort();
}

/**
 * An error envelope with this status whose code is one of `codes`, for the few answers where the
 * issue fixes the status but leaves the code to the implementation (e.g. a too-deep document is
 * "refused": DOC_VALIDATION or BAD_QUERY). Returns the error.
 */
export async function expectErrorIn(response: Response, status: number, codes: readonly string[]): Promise<{ code: string; message: string; path?: string }> {
  const text = await response.text();
  expect(response.status, text.slice(0, 500)).toBe(status);
  const body = JSON.parse(text) as { success: boolean; error?: { code: string; message: string; path?: string } };
  expect(body.success).toBe(false);
  expect(codes, text.slice(0, 500)).toContain(body.error?.code);
  expect(body.error?.message.length).toBeGreaterThan(0);
  return body.error as { code: string; message: string; path?: string };
}

/** One shard's part of POST /explain: the plan (COLLSCAN, IXSCAN, IDHACK), the index, and its counters. */
export type ShardPlan = { readonly plan: string; readonly index: string | null; readonly keysExamined: number; readonly docsExamined: number; readonly returned: number };

type RawShardPlan = { plan: string; index?: string | null; keys_examined: number; docs_examined: number; returned: number };

/** POST /explain → the plan of every shard that ran the query. */
export async function explain(client: DocsClient, body: JsonDoc): Promise<ShardPlan[]> {
  const { data } = await expectOk<{ shards: RawShardPlan[] }>(await client.post('explain', body));
  expect(Array.isArray(data.shards), JSON.stringify(data)).toBe(true);
  return data.shards.map((s) => ({ plan: s.plan, index: s.index ?? null, keysExamined: s.keys_examined, docsExamined: s.docs_examined, returned: s.returned }));
}

/** Sums of the counters over the shards. */
export function explainTotals(plans: readonly ShardPlan[]): { keysExamined: number; docsExamined: number; returned: number } {
  return plans.reduce((t, p) => ({ keysExamined: t.keysExamined + p.keysExamined, docsExamined: t.docsExamined + p.docsExamined, returned: t.returned + p.returned }), { keysExamined: 0, docsExamined: 0, returned: 0 });
}

export type IndexInfo = { readonly name: string; readonly keys: JsonDoc; readonly building?: boolean; readonly [field: string]: unknown };

/** The indexes GET /api/v1/docs/<coll> reports. */
export async function indexesOf(client: DocsClient): Promise<IndexInfo[]> {
  const { data } = await expectOk<{ indexes: IndexInfo[] }>(await client.info());
  expect(Array.isArray(data.indexes), JSON.stringify(data).slice(0, 500)).toBe(true);
  return data.indexes;
}

export type DocError = { readonly code: string; readonly message: string; readonly retryable: boolean; readonly [detail: string]: unknown };

/**
 * An error envelope with this status and code (like expectError), allowing the extra details
 * document errors carry (e.g. the path a validator refused, the index of a duplicate key).
 */
export async function expectFailure(response: Response, status: number, code: string): Promise<DocError> {
  const text = await response.text();
  expect({ status: response.status, text }).toEqual({ status, text: expect.stringContaining(`"code":"${code}"`) });
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  const body = JSON.parse(text) as { success: boolean; error: DocError };
  expect(body.success).toBe(false);
  expect(body.error).toMatchObject({ code, message: expect.any(String), retryable: expect.any(Boolean) });
  expect(body.error.message.length).toBeGreaterThan(0);
  return body.error;
}
