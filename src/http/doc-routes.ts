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
import {
  any,
  arr,
  bool,
  closed,
  DEADLINE,
  dispatch,
  enumOf,
  int,
  jsonBody as jsonBodySpec,
  nullable,
  ok,
  oneOf,
  pathParam,
  queryParam,
  ref,
  SHARD_READ,
  SHARD_WRITE,
  str,
  TXN,
  TXN_ERRORS,
  type ErrorList,
  type ParamSpec,
  type RouteSpec,
} from './api-spec.js';

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

// ---- route specs (the OpenAPI description is built from these; see api-spec.ts) --------------

const COLL: ParamSpec = pathParam('c', 'The collection: 1–120 characters of A–Z, a–z, 0–9, "_", "." and "-" (not starting with "system.").', 'users', {
  type: 'string',
  pattern: '^[A-Za-z0-9_.-]{1,120}$',
});
const DOC_ID: ParamSpec = pathParam('id', 'The document\'s _id: an ObjectId when it is 24 hex digits, else a string; ?id_type= says otherwise.', '42');
const ID_TYPE = queryParam('id_type', 'How to read {id}: number, string or oid.', enumOf(['number', 'string', 'oid']), 'number');
const COMMON = [TXN, DEADLINE];
const BODY_ERRORS: ErrorList = ['INVALID_JSON', 'UNSUPPORTED_MEDIA_TYPE', 'INVALID_PARAMETER', 'BAD_QUERY'];
const READ_ERRORS: ErrorList = [...BODY_ERRORS, 'FORBIDDEN', 'CURSOR_INVALID', 'AGGREGATE_MEMORY_LIMIT', ...SHARD_READ, ...TXN_ERRORS];
const WRITE_ERRORS: ErrorList = [...BODY_ERRORS, 'FORBIDDEN', 'DOC_VALIDATION', 'DOC_TOO_LARGE', 'DUPLICATE_KEY', ...SHARD_WRITE, ...TXN_ERRORS];
const SCHEMA_ERRORS: ErrorList = ['INVALID_PARAMETER', 'FORBIDDEN', 'SHARD_UNAVAILABLE', 'SHARD_BUSY', 'STORAGE_IO', 'STORAGE_FULL'];
const RLS_NOTE = 'Row-level security policies of the collection apply.';
const SCHEMA_NOTE = 'Refused inside a transaction (400). Under row-level security only a principal that bypasses it may change the collection.';
const TXN_META = { txn: str('the transaction, inside one') };
const ONE_ID = { $oid: '6b162f8b6fbbb5b4344efe87' };
const VALIDATOR = { $jsonSchema: { bsonType: 'object', required: ['name'] } };
const USERS_INFO = {
  name: 'users',
  options: { validator: null },
  indexes: [{ name: '_id_', keys: { _id: 1 }, unique: true, sparse: false, ttl_seconds: null, partial_filter: null, type: 'btree', state: 'ready', building: false, entries: 2 }],
  count: 2,
  size_bytes: 178,
  stats: { count: 2, size_bytes: 178 },
  created_at: '2026-12-07T04:04:02.000Z',
  catalog_version: 1,
};
const EMAIL_INDEX = { name: 'email_1', keys: { email: 1 }, unique: true, sparse: false, ttl_seconds: null, partial_filter: null, type: 'btree', state: 'ready', building: false };

const docAction = (
  action: string,
  summary: string,
  description: string,
  body: ReturnType<typeof jsonBodySpec>,
  response: ReturnType<typeof ok>,
  read: boolean,
  extra: ErrorList = [],
): RouteSpec => ({
  method: 'POST',
  path: `/api/v1/docs/{c}/${action}`,
  tag: 'Documents',
  summary,
  description: `${description} ${RLS_NOTE}`,
  params: [COLL, ...COMMON],
  body,
  responses: [response],
  errors: [...(read ? READ_ERRORS : WRITE_ERRORS), ...extra],
  permission: read ? 'docs:{c}:read' : 'docs:{c}:write',
});

const FIND_FIELDS = {
  filter: ref('Filter'),
  projection: ref('Document'),
  sort: ref('Document'),
  skip: int('first page only', { minimum: 0, maximum: 100_000 }),
  limit: int('default 100', { minimum: 1, maximum: 1000 }),
  hint: str('an index name or "$natural"'),
};
const UPDATE_FIELD = oneOf(ref('Document'), arr(ref('Document')));

export const DOC_ROUTE_SPECS: readonly RouteSpec[] = [
  {
    method: 'GET',
    path: '/api/v1/docs',
    tag: 'Documents',
    summary: 'Every collection, with counts and sizes',
    description: 'With auth on, only the collections the caller may read.',
    params: COMMON,
    responses: [
      ok('The collections.', arr(ref('CollectionSummary')), [{ name: 'users', count: 2, size_bytes: 178, indexes: 1, created_at: '2026-12-07T04:04:02.000Z' }], {
        meta: closed({ count: int() }, ['count']),
        metaExample: { count: 1 },
      }),
    ],
    errors: [...SHARD_READ],
    permission: 'authenticated',
  },
  {
    method: 'PUT',
    path: '/api/v1/docs/{c}',
    tag: 'Documents',
    summary: 'Create a collection, or set its validator',
    description: 'A PUT without a validator removes it.',
    params: [COLL, ...COMMON],
    body: jsonBodySpec(closed({ validator: nullable(ref('Document')) }), { validator: VALIDATOR }, { required: false, lenient: true, description: 'Optional; {"validator": {"$jsonSchema": …}}.' }),
    responses: [
      ok('Created or changed.', closed({ name: str(), created: bool(), options: closed({ validator: nullable(ref('Document')) }, ['validator']) }, ['name', 'created', 'options']), {
        name: 'users',
        created: true,
        options: { validator: VALIDATOR },
      }),
    ],
    errors: [...BODY_ERRORS, ...SCHEMA_ERRORS],
    permission: 'docs:{c}:write',
    permissionNote: SCHEMA_NOTE,
  },
  {
    method: 'GET',
    path: '/api/v1/docs/{c}',
    tag: 'Documents',
    summary: 'A collection\'s options, indexes and stats',
    params: [COLL, ...COMMON],
    responses: [ok('The collection.', ref('CollectionInfo'), USERS_INFO)],
    errors: ['INVALID_PARAMETER', 'COLLECTION_NOT_FOUND', ...SHARD_READ],
    permission: 'docs:{c}:read',
  },
  {
    method: 'DELETE',
    path: '/api/v1/docs/{c}',
    tag: 'Documents',
    summary: 'Drop a collection and its indexes',
    params: [COLL, ...COMMON],
    responses: [ok('Dropped.', closed({ name: str(), dropped: { const: true } }, ['name', 'dropped']), { name: 'users', dropped: true })],
    errors: [...SCHEMA_ERRORS, 'COLLECTION_NOT_FOUND'],
    permission: 'docs:{c}:write',
    permissionNote: SCHEMA_NOTE,
  },
  docAction(
    'insert',
    'Insert documents',
    'An _id given is kept; otherwise a new ObjectId. 1..1000 documents, inserted all-or-none per shard.',
    jsonBodySpec(closed({ documents: arr(ref('Document'), undefined, { minItems: 1, maxItems: 1000 }) }, ['documents']), { documents: [{ _id: 1, name: 'Ada', age: 36 }, { name: 'Grace', age: 85 }] }, { lenient: true }),
    ok('Inserted.', closed({ inserted_ids: arr(any('an _id')) }, ['inserted_ids']), { inserted_ids: [1, ONE_ID] }, { meta: closed({ count: int(), ...TXN_META }, ['count']), metaExample: { count: 2 } }),
    false,
  ),
  docAction(
    'find',
    'Find documents',
    'A collection that does not exist answers []. Page with meta.next_cursor (the same filter, sort and projection).',
    jsonBodySpec(closed({ ...FIND_FIELDS, cursor: nullable(str('meta.next_cursor of the previous page')) }), { filter: { age: { $gt: 30 } }, projection: { name: 1 }, sort: { age: -1 }, limit: 1 }, { lenient: true }),
    ok('The documents.', arr(ref('Document')), [{ _id: ONE_ID, name: 'Grace' }], {
      meta: closed({ count: int(), next_cursor: nullable(str()), ...TXN_META }, ['count', 'next_cursor']),
      metaExample: { count: 1, next_cursor: 'EigAAAAEAQkQ' },
    }),
    true,
  ),
  docAction(
    'update',
    'Update documents by filter',
    '`update` is an operator document or a pipeline; upsert and multi default to false.',
    jsonBodySpec(
      closed({ filter: ref('Filter'), update: UPDATE_FIELD, upsert: bool(), multi: bool(), array_filters: arr(ref('Filter')) }, ['update']),
      { filter: { _id: 1 }, update: { $inc: { age: 1 } } },
      { lenient: true },
    ),
    ok('Updated.', ref('UpdateOutcome'), { matched: 1, modified: 1, upserted_id: null }, { meta: closed(TXN_META) }),
    false,
  ),
  docAction(
    'find_and_modify',
    'Update or remove one document and answer it',
    '`update` or "remove": true; `return` is "before" (the default) or "after". Answers the document, or null.',
    jsonBodySpec(
      closed({
        filter: ref('Filter'),
        update: UPDATE_FIELD,
        remove: bool(),
        sort: ref('Document'),
        upsert: bool(),
        return: enumOf(['before', 'after']),
        projection: ref('Document'),
        array_filters: arr(ref('Filter')),
      }),
      { filter: { name: 'Ada' }, update: { $inc: { age: 1 } }, return: 'after', projection: { age: 1 } },
      { lenient: true },
    ),
    ok('The document, or null.', nullable(ref('Document')), { _id: 1, age: 38 }, { meta: closed(TXN_META) }),
    false,
  ),
  docAction(
    'delete',
    'Delete documents by filter',
    '`multi` defaults to true here.',
    jsonBodySpec(closed({ filter: ref('Filter'), multi: bool() }), { filter: { name: 'Ada' } }, { lenient: true }),
    ok('Deleted.', closed({ deleted: int() }, ['deleted']), { deleted: 1 }, { meta: closed(TXN_META) }),
    false,
  ),
  docAction(
    'aggregate',
    'Run an aggregation pipeline',
    'Blocking stages spill to disk past 100 MiB with allow_disk_use. $lookup, $unionWith and $graphLookup need read on the collections they name, $out and $merge write.',
    jsonBodySpec(closed({ pipeline: arr(ref('Document')), allow_disk_use: bool() }, ['pipeline']), {
      pipeline: [{ $match: { status: 'A' } }, { $group: { _id: '$item', n: { $sum: 1 } } }, { $sort: { n: -1 } }],
    }, { lenient: true }),
    ok('The results.', arr(ref('Document')), [{ _id: 'x', n: 2 }, { _id: 'y', n: 1 }], { meta: closed({ count: int(), ...TXN_META }, ['count']), metaExample: { count: 2 } }),
    true,
    ['DOC_VALIDATION', 'DUPLICATE_KEY', 'STORAGE_IO', 'STORAGE_FULL'],
  ),
  docAction(
    'explain',
    'Explain a find',
    'Per shard: plan (IDHACK, IXSCAN, COLLSCAN), index, keys_examined, docs_examined, returned. Not inside a transaction.',
    jsonBodySpec(closed(FIND_FIELDS), { filter: { email: 'ada@example.com' } }, { lenient: true }),
    ok(
      'The plans.',
      closed(
        {
          shards: arr(
            closed({ shard: int(), plan: str(), index: nullable(str()), keys_examined: int(), docs_examined: int(), returned: int() }, [
              'shard',
              'plan',
              'index',
              'keys_examined',
              'docs_examined',
              'returned',
            ]),
          ),
        },
        ['shards'],
      ),
      { shards: [{ shard: 0, plan: 'IXSCAN', index: 'email_1', keys_examined: 1, docs_examined: 1, returned: 1 }] },
    ),
    true,
  ),
  {
    ...docAction(
      'indexes',
      'Create an index',
      'Answers once every shard has built it. `type` is btree (the default), hash or text; a TTL index has one ascending or descending key.',
      jsonBodySpec(
        closed(
          {
            name: str('default: path_direction joined by "_"'),
            keys: ref('Document'),
            type: enumOf(['btree', 'hash', 'text']),
            unique: bool(),
            sparse: bool(),
            partial_filter: nullable(ref('Filter')),
            ttl_seconds: nullable(int(undefined, { minimum: 0, maximum: 2 ** 31 - 1 })),
          },
          ['keys'],
        ),
        { name: 'email_1', keys: { email: 1 }, unique: true },
        { lenient: true },
      ),
      ok('Built.', ref('DocIndex'), EMAIL_INDEX),
      false,
    ),
    errors: [...BODY_ERRORS, ...SCHEMA_ERRORS, 'INDEX_EXISTS', 'INDEX_NOT_FOUND', 'DUPLICATE_KEY'],
    permissionNote: SCHEMA_NOTE,
  },
  {
    method: 'DELETE',
    path: '/api/v1/docs/{c}/indexes/{name}',
    tag: 'Documents',
    summary: 'Drop an index',
    description: '_id_ cannot be dropped.',
    params: [COLL, pathParam('name', 'The index.', 'email_1'), ...COMMON],
    responses: [ok('Dropped.', closed({ name: str(), dropped: { const: true } }, ['name', 'dropped']), { name: 'email_1', dropped: true })],
    errors: [...SCHEMA_ERRORS, 'BAD_QUERY', 'COLLECTION_NOT_FOUND', 'INDEX_NOT_FOUND'],
    permission: 'docs:{c}:write',
    permissionNote: SCHEMA_NOTE,
  },
  {
    method: 'GET',
    path: '/api/v1/docs/{c}/{id}',
    tag: 'Documents',
    summary: 'One document by _id',
    description: `A missing document is 404 DOC_NOT_FOUND. ${RLS_NOTE}`,
    params: [COLL, DOC_ID, ID_TYPE, ...COMMON],
    responses: [ok('The document.', ref('Document'), { _id: 42, name: 'Linus', age: 56 }, { meta: closed(TXN_META) })],
    errors: [...READ_ERRORS, 'COLLECTION_NOT_FOUND', 'DOC_NOT_FOUND'],
    permission: 'docs:{c}:read',
  },
  {
    method: 'PUT',
    path: '/api/v1/docs/{c}/{id}',
    tag: 'Documents',
    summary: 'Replace a document by _id',
    description: `?upsert=true creates it when absent. ${RLS_NOTE}`,
    params: [COLL, DOC_ID, ID_TYPE, queryParam('upsert', 'Create the document when it does not exist.', enumOf(['true', 'false']), 'true'), ...COMMON],
    body: jsonBodySpec(ref('Document'), { name: 'Linus', email: 'linus@example.com', age: 56 }, { lenient: true, description: 'The new document (its _id, if any, must match).' }),
    responses: [ok('Replaced or created.', ref('UpdateOutcome'), { matched: 0, modified: 0, upserted_id: 42 }, { meta: closed(TXN_META) })],
    errors: [...WRITE_ERRORS, 'COLLECTION_NOT_FOUND', 'DOC_NOT_FOUND'],
    permission: 'docs:{c}:write',
  },
  {
    method: 'PATCH',
    path: '/api/v1/docs/{c}/{id}',
    tag: 'Documents',
    summary: 'Update a document by _id',
    description: `An update document ({"$set": …}) or a pipeline (a bare array, or {"update": […]}); never a replacement (400 BAD_QUERY: use PUT). Answers the document after. ${RLS_NOTE}`,
    params: [COLL, DOC_ID, ID_TYPE, ...COMMON],
    body: jsonBodySpec(oneOf(ref('Document'), arr(ref('Document'))), { $set: { age: 57 } }, { lenient: true }),
    responses: [ok('The document after.', ref('Document'), { _id: 42, name: 'Linus', age: 57 }, { meta: closed(TXN_META) })],
    errors: [...WRITE_ERRORS, 'COLLECTION_NOT_FOUND', 'DOC_NOT_FOUND'],
    permission: 'docs:{c}:write',
  },
  {
    method: 'DELETE',
    path: '/api/v1/docs/{c}/{id}',
    tag: 'Documents',
    summary: 'Delete a document by _id',
    description: RLS_NOTE,
    params: [COLL, DOC_ID, ID_TYPE, ...COMMON],
    responses: [ok('Deleted.', closed({ deleted: { const: 1 } }, ['deleted']), { deleted: 1 }, { meta: closed(TXN_META) })],
    errors: ['INVALID_PARAMETER', 'FORBIDDEN', 'COLLECTION_NOT_FOUND', 'DOC_NOT_FOUND', ...SHARD_WRITE, ...TXN_ERRORS],
    permission: 'docs:{c}:write',
  },
];

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
  dispatch(app, [DOCS_PATH, `${DOCS_PATH}/*`], DOC_ROUTE_SPECS, serve);
}

