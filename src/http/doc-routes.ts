// The document store over HTTP (issue 11). Bodies and answers are relaxed
// Extended JSON in the usual envelope {success, data, meta}.
//
//   GET    /api/v1/docs                          collections with counts and sizes
//   PUT    /api/v1/docs/:c                       {"validator": {"$jsonSchema": …}} creates it or sets the validator
//   GET    /api/v1/docs/:c                       options, indexes and stats
//   DELETE /api/v1/docs/:c                       drops it with its indexes
//   POST   /api/v1/docs/:c/insert                {"documents": […]} → {inserted_ids}
//   POST   /api/v1/docs/:c/find                  {filter, projection, sort, skip, limit, cursor, hint} → docs, meta.count, meta.next_cursor
//   POST   /api/v1/docs/:c/update                {filter, update, upsert, multi, array_filters} → {matched, modified, upserted_id}
//   POST   /api/v1/docs/:c/find_and_modify       {filter, update, sort, upsert, return, remove, projection, array_filters} → the document or null
//   POST   /api/v1/docs/:c/delete                {filter, multi} → {deleted}
//   POST   /api/v1/docs/:c/aggregate             {pipeline, allow_disk_use} → results
//   POST   /api/v1/docs/:c/explain               {filter, sort, projection, skip, limit, hint} → {shards: [plan and counters per shard]}
//   POST   /api/v1/docs/:c/indexes               {name, keys, unique, ttl_seconds, partial_filter, type, sparse} → the index, once ready
//   DELETE /api/v1/docs/:c/indexes/:name
//   GET|PUT|PATCH|DELETE /api/v1/docs/:c/:id    one document (PUT replaces, ?upsert=true creates; PATCH updates)
//   GET    /api/v1/docs/:c/changes               the change stream over SSE (doc-change-streams.ts; with
//                                                ?id_type=… it is the document whose _id is "changes")
//
// Action routes are POST only and by-id routes never POST, so neither shadows
// the other. `:id` is an ObjectId when it is 24 hex digits, else a string;
// ?id_type=number|string|oid says otherwise. A Mantis-Txn header runs any
// document route inside that transaction (collection and index changes are
// refused there: they are not transactional).
//
// With security (auth on), the listener's gate has checked the route's own
// permission (docs:<c> read or write); here a request's body is checked for the
// other collections it names (an aggregation's $lookup/$unionWith/$graphLookup
// need read, $out/$merge write: 403 FORBIDDEN), the listing shows only the
// collections the caller may read, and row-level security applies to every
// operation (src/docs/doc-rls.ts), transactions included. A collection with
// row-level security is changed (options, drop, indexes) only by a principal
// that bypasses it.

import type { Context, Hono } from 'hono';
import { MantisError } from '../../shared/errors.js';
import type { Doc, DocValue } from '../../shared/docs/doc-types.js';
import { isReplacementUpdate } from '../../shared/docs/update.js';
import { toEjson } from '../../shared/docs/ejson.js';
import type { IndexDef } from '../../shared/docs/index-entries.js';
import {
  aggregateRequest,
  bodyDoc,
  collectionOptions,
  decodeSegment,
  deleteRequest,
  explainRequest,
  findAndModifyRequest,
  findRequest,
  idFromSegment,
  idTypeOf,
  indexRequest,
  insertRequest,
  updateRequest,
} from '../docs/doc-requests.js';
import type { CollectionSummary, DocService } from '../docs/doc-service.js';
import { notInTxn } from '../docs/txn-doc-commands.js';
import { deadlineFromHeader, type DeadlineHeader } from '../kv/index.js';
import type { Logger } from '../log.js';
import type { Bindings } from './hono-app.js';
import { toResponse } from './hono-app.js';
import { guarded, okReply, type HttpReply } from './reply.js';
import { DOCS_PATH } from './routes.js';
import { TXN_HEADER, txnIdOf } from './txn-routes.js';
import type { Principal } from '../security/principal.js';
import { docAccess, type DocAccess, type DocSecurity } from '../docs/doc-rls.js';

export type DocRequestParts = {
  readonly method: string;
  readonly rawPath: string;
  readonly rawQuery: string;
  readonly contentType: string | undefined;
  /** The Mantis-Txn header, when given. */
  readonly txn: string | undefined;
  readonly deadline: DeadlineHeader;
  readonly body: Uint8Array;
  /** Who is asking (undefined: the system, when auth is off); row-level security reads it. */
  readonly principal?: Principal;
};

export type DocHandlers = { handle(parts: DocRequestParts): Promise<HttpReply> };

const ACTIONS = new Set(['insert', 'find', 'update', 'find_and_modify', 'delete', 'aggregate', 'explain', 'indexes']);

/** `security` when authentication is on (the principal of each request is then enforced); without it nothing is checked. */
export function createDocHandlers(docs: DocService, log: Logger, security?: DocSecurity): DocHandlers {
  const guard = guarded((error) => log.error({ err: error }, 'unexpected error in a document route'));
  return { handle: (parts) => guard(() => route(docs, parts, docAccess(security, parts.principal))) };
}

async function route(docs: DocService, p: DocRequestParts, access: DocAccess | undefined): Promise<HttpReply> {
  const rest = p.rawPath.slice(DOCS_PATH.length);
  const segments = rest === '' || rest === '/' ? [] : rest.slice(1).split('/');
  const method = p.method === 'HEAD' ? 'GET' : p.method;
  const txn = p.txn === undefined ? null : txnIdOf(p.txn);
  const deadlineMs = deadlineFromHeader(p.deadline);
  if (segments.some((s) => s === '')) throw new MantisError('NOT_FOUND', `no route for ${p.method} ${p.rawPath}`);
  const coll = segments.length > 0 ? decodeSegment(segments[0], 'collection name') : '';
  switch (segments.length) {
    case 0:
      if (method !== 'GET') throw notAllowed(p.method, 'GET', '/api/v1/docs');
    {
      const listing = await docs.listCollections(deadlineMs, access);
      return okReply(listing.map(listingJson), { count: listing.length });
    }
    case 1:
      return collectionRoute(docs, method, coll, p, txn, deadlineMs, access);
    case 2: {
      const second = decodeSegment(segments[1], 'document id');
      if (method === 'POST') {
        if (!ACTIONS.has(second)) throw new MantisError('NOT_FOUND', `no action "${second}"; POST one of ${[...ACTIONS].join(', ')} (documents by id: GET, PUT, PATCH, DELETE)`);
        return actionRoute(docs, second, coll, p, txn, deadlineMs, access);
      }
      return byIdRoute(docs, method, coll, second, p, txn, deadlineMs, access);
    }
    case 3:
      if (decodeSegment(segments[1], 'path') === 'indexes') {
        if (method !== 'DELETE') throw notAllowed(p.method, 'DELETE', '/api/v1/docs/:c/indexes/:name');
        if (txn !== null) throw notInTxn('dropping an index');
        access?.requireSchemaChange(coll, 'dropping an index');
        const name = decodeSegment(segments[2], 'index name');
        await docs.dropIndex(coll, name);
        return okReply({ name, dropped: true });
      }
      throw new MantisError('NOT_FOUND', `no route for ${p.method} ${p.rawPath}`);
    default:
      throw new MantisError('NOT_FOUND', `no route for ${p.method} ${p.rawPath}`);
  }
}

async function collectionRoute(docs: DocService, method: string, coll: string, p: DocRequestParts, txn: string | null, deadlineMs: number, access: DocAccess | undefined): Promise<HttpReply> {
  switch (method) {
    case 'GET':
      return okReply(describeJson(await docs.describe(coll, deadlineMs, access)));
    case 'PUT': {
      if (txn !== null) throw notInTxn('creating a collection');
      access?.requireSchemaChange(coll, 'setting the options');
      const options = collectionOptions(p.body.length === 0 ? {} : bodyDoc(p.contentType, p.body));
      const { created, info } = await docs.putCollection(coll, options);
      return okReply({ name: info.name, created, options: { validator: info.validator === null ? null : toEjson(info.validator) } });
    }
    case 'DELETE':
      if (txn !== null) throw notInTxn('dropping a collection');
      access?.requireSchemaChange(coll, 'dropping the collection');
      await docs.dropCollection(coll);
      return okReply({ name: coll, dropped: true });
    default:
      throw notAllowed(p.method, 'GET, PUT or DELETE', '/api/v1/docs/:c (POST goes to /api/v1/docs/:c/insert, /find, …)');
  }
}

async function actionRoute(docs: DocService, action: string, coll: string, p: DocRequestParts, txn: string | null, deadlineMs: number, access: DocAccess | undefined): Promise<HttpReply> {
  const body = bodyDoc(p.contentType, p.body);
  const txnMeta = txn === null ? {} : { txn };
  switch (action) {
    case 'insert': {
      const ids = await docs.insert(coll, insertRequest(body), txn, deadlineMs, access);
      return okReply({ inserted_ids: ids.map(toEjson) }, { count: ids.length, ...txnMeta });
    }
    case 'find': {
      const req = findRequest(body);
      const found = await docs.find(coll, req, txn, deadlineMs, access);
      return okReply(found.docs.map(toEjson), { count: found.docs.length, next_cursor: found.nextCursor, ...txnMeta });
    }
    case 'update': {
      const outcome = await docs.update(coll, updateRequest(body), txn, deadlineMs, access);
      return okReply({ matched: outcome.matched, modified: outcome.modified, upserted_id: outcome.upsertedId === null ? null : toEjson(outcome.upsertedId) }, txnMeta);
    }
    case 'find_and_modify': {
      const doc = await docs.findAndModify(coll, findAndModifyRequest(body), txn, deadlineMs, access);
      return okReply(doc === null ? null : toEjson(doc), txnMeta);
    }
    case 'delete':
      return okReply({ deleted: await docs.remove(coll, deleteRequest(body), txn, deadlineMs, access) }, txnMeta);
    case 'aggregate': {
      const results = await docs.aggregate(coll, aggregateRequest(body), txn, deadlineMs, access);
      return okReply(results.map(toEjson), { count: results.length, ...txnMeta });
    }
    case 'explain': {
      access?.requireExplain(coll);
      const shards = await docs.explain(coll, explainRequest(body), deadlineMs, access);
      return okReply({
        shards: shards.map((s) => ({ shard: s.shard, plan: s.plan, index: s.index, keys_examined: s.keysExamined, docs_examined: s.docsExamined, returned: s.returned })),
      });
    }
    case 'indexes': {
      if (txn !== null) throw notInTxn('creating an index');
      access?.requireSchemaChange(coll, 'creating an index');
      return okReply(indexJson(await docs.createIndex(coll, indexRequest(body))));
    }
    default:
      throw new Error(`assertion failed: action ${action}`);
  }
}

async function byIdRoute(docs: DocService, method: string, coll: string, idText: string, p: DocRequestParts, txn: string | null, deadlineMs: number, access: DocAccess | undefined): Promise<HttpReply> {
  const query = new URLSearchParams(p.rawQuery);
  const id = idFromSegment(idText, idTypeOf(query));
  const txnMeta = txn === null ? {} : { txn };
  switch (method) {
    case 'GET':
      return okReply(toEjson(await docs.getById(coll, id, txn, deadlineMs, access)), txnMeta);
    case 'PUT': {
      const upsert = query.get('upsert');
      if (upsert !== null && upsert !== 'true' && upsert !== 'false') throw new MantisError('INVALID_PARAMETER', '"upsert" must be true or false');
      const outcome = await docs.replaceById(coll, id, bodyDoc(p.contentType, p.body), upsert === 'true', txn, deadlineMs, access);
      return okReply({ matched: outcome.matched, modified: outcome.modified, upserted_id: outcome.upsertedId === null ? null : toEjson(outcome.upsertedId) }, txnMeta);
    }
    case 'PATCH':
      return okReply(toEjson(await docs.patchById(coll, id, patchBody(p), txn, deadlineMs, access)), txnMeta);
    case 'DELETE':
      await docs.deleteById(coll, id, txn, deadlineMs, access);
      return okReply({ deleted: 1 }, txnMeta);
    default:
      throw notAllowed(p.method, 'GET, PUT, PATCH or DELETE', '/api/v1/docs/:c/:id');
  }
}

/** PATCH takes an update document or a pipeline (a bare array, or {"update": …}); never a replacement. */
function patchBody(p: DocRequestParts): Doc | Doc[] {
  const type = (p.contentType ?? '').split(';')[0].trim().toLowerCase();
  const text = Buffer.from(p.body).toString('utf8').trimStart();
  if (text.startsWith('[')) {
    const wrapped = bodyDoc(type === '' ? undefined : 'application/json', Buffer.from(`{"update":${text}}`));
    return wrapped.update as Doc[];
  }
  const body = bodyDoc(p.contentType, p.body);
  if (isReplacementUpdate(body)) throw new MantisError('BAD_QUERY', 'PATCH takes an update document ({"$set": …}) or a pipeline; use PUT to replace a document');
  return body;
}

function notAllowed(method: string, allowed: string, where: string): MantisError {
  return new MantisError('METHOD_NOT_ALLOWED', `${method} is not allowed on ${where}; use ${allowed}`);
}

// ---- JSON shapes ---------------------------------------------------------------

const DIRECTION_TYPE = { hashed: 'hash', text: 'text' } as const;

export function indexJson(def: IndexDef, entries?: number): Record<string, unknown> {
  const keys: Record<string, DocValue> = {};
  for (const [path, dir] of def.keys) keys[path] = dir;
  const special = def.keys.find(([, d]) => typeof d === 'string')?.[1];
  return {
    name: def.name,
    keys,
    unique: def.unique,
    sparse: def.sparse,
    ttl_seconds: def.ttlSeconds,
    partial_filter: def.partialFilter === null ? null : toEjson(def.partialFilter),
    type: special === undefined ? 'btree' : DIRECTION_TYPE[special as 'hashed' | 'text'],
    state: def.state,
    building: def.state === 'building',
    ...(entries === undefined ? {} : { entries }),
  };
}

const ID_INDEX = { name: '_id_', keys: { _id: 1 }, unique: true, sparse: false, ttl_seconds: null, partial_filter: null, type: 'btree', state: 'ready', building: false };

function listingJson(s: CollectionSummary): Record<string, unknown> {
  return {
    name: s.info.name,
    count: s.count,
    size_bytes: s.bytes,
    indexes: s.info.indexes.length + 1,
    created_at: new Date(s.info.createdAtMs).toISOString(),
    ...(s.rowLevel ? { row_level_security: true } : {}),
  };
}

function describeJson(s: CollectionSummary): Record<string, unknown> {
  return {
    name: s.info.name,
    options: { validator: s.info.validator === null ? null : toEjson(s.info.validator) },
    indexes: s.rowLevel
      ? [{ ...ID_INDEX, entries: null }, ...s.info.indexes.map((def) => ({ ...indexJson(def), entries: null }))]
      : [{ ...ID_INDEX, entries: s.count }, ...s.info.indexes.map((def) => indexJson(def, s.indexes.get(def.name)?.entries ?? 0))],
    count: s.count,
    size_bytes: s.bytes,
    stats: { count: s.count, size_bytes: s.bytes },
    created_at: new Date(s.info.createdAtMs).toISOString(),
    catalog_version: s.info.version,
    ...(s.rowLevel ? { row_level_security: true } : {}),
  };
}

// ---- Hono --------------------------------------------------------------------------

export function registerDocRoutes(app: Hono<{ Bindings: Bindings }>, handlers: DocHandlers): void {
  const serve = async (c: Context<{ Bindings: Bindings }>): Promise<Response> =>
    toResponse(
      await handlers.handle({
        principal: c.env.principal,
        method: c.req.method,
        rawPath: c.env.rawPath,
        rawQuery: c.env.rawQuery,
        contentType: c.req.header('content-type'),
        txn: c.req.header(TXN_HEADER),
        deadline: { header: c.req.header('mantis-deadline-ms'), receivedAtMs: c.env.receivedAtMs },
        body: new Uint8Array(await c.req.arrayBuffer()),
      }),
    );
  app.all(DOCS_PATH, serve);
  app.all(`${DOCS_PATH}/*`, serve);
}

