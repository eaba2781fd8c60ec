// The bodies and parameters of the document routes, parsed into typed
// requests. Bodies are relaxed (or canonical) Extended JSON objects; a field
// the route does not know, or a field of the wrong shape, is 400
// INVALID_PARAMETER naming it; operators inside filters and updates are
// checked later by their compilers (400 BAD_QUERY naming the operator).

import { isUtf8 } from 'node:buffer';
import { ObjectId } from 'bson';
import { MantisError } from '../../shared/errors.js';
import { LIMITS } from '../../shared/limits.js';
import { isDoc } from '../../shared/docs/bson-types.js';
import type { Doc, DocValue } from '../../shared/docs/doc-types.js';
import { parseEjson } from '../../shared/docs/ejson.js';

export const INSERT_DOCS_MAX = 1000;
export const FIND_LIMIT_MAX = 1000;
export const FIND_LIMIT_DEFAULT = 100;

export type FindRequest = {
  readonly filter: Doc;
  readonly projection: Doc | null;
  readonly sort: Doc | null;
  readonly skip: number;
  readonly limit: number;
  readonly cursor: string | null;
  readonly hint: string | null;
};
export type UpdateRequest = {
  readonly filter: Doc;
  readonly update: Doc | Doc[];
  readonly upsert: boolean;
  readonly multi: boolean;
  readonly arrayFilters: Doc[] | null;
  /** Set by the service under row-level security (never parsed from a body). */
  readonly rls?: WriteRls;
};
export type FindAndModifyRequest = {
  readonly filter: Doc;
  /** null with remove. */
  readonly update: Doc | Doc[] | null;
  readonly sort: Doc | null;
  readonly upsert: boolean;
  readonly returnAfter: boolean;
  readonly remove: boolean;
  readonly projection: Doc | null;
  readonly arrayFilters: Doc[] | null;
  /** Set by the service under row-level security (never parsed from a body). */
  readonly rls?: WriteRls;
};
/**
 * A write under row-level security (doc-rls.ts): `filter` then has the USING filter AND-ed in;
 * `seed` is the caller's own filter (an upsert's document and the positional $ read it), and the
 * checks refuse (FORBIDDEN) a post-image or an upserted document the WITH CHECK filters reject.
 * Such a write computes its documents on the router (the transactional paths), never on a shard.
 */
export type WriteRls = {
  readonly seed: Doc;
  readonly checkUpdate: ((doc: Doc) => void) | null;
  readonly checkInsert: ((doc: Doc) => void) | null;
};
export type DeleteRequest = { readonly filter: Doc; readonly multi: boolean };
export type AggregateRequest = { readonly pipeline: Doc[]; readonly allowDiskUse: boolean };
export type IndexRequest = {
  readonly name: string | null;
  readonly keys: Array<[string, 1 | -1 | 'hashed' | 'text']>;
  readonly unique: boolean;
  readonly sparse: boolean;
  readonly ttlSeconds: number | null;
  readonly partialFilter: Doc | null;
};
export type CollectionOptions = { readonly validator: Doc | null };
export type IdType = 'number' | 'string' | 'oid';

/**
 * A request body as a document. The Content-Type may be application/json, none, or text/plain
 * (what fetch sends for a string body); anything else is 415.
 */
export function bodyDoc(contentType: string | undefined, body: Uint8Array): Doc {
  const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json' && type !== '' && type !== 'text/plain') {
    throw new MantisError('UNSUPPORTED_MEDIA_TYPE', 'the body must be application/json (relaxed Extended JSON)');
  }
  // isUtf8 (simdutf) then a plain decode: faster than a fatal TextDecoder on megabyte inserts.
  if (!isUtf8(body)) throw new MantisError('INVALID_JSON', 'the body is not valid UTF-8');
  const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  if (text.trim() === '') throw new MantisError('INVALID_JSON', 'the body is empty; send a JSON object');
  let value: DocValue;
  try {
    value = parseEjson(text);
  } catch (error) {
    // A value bson's own constructors refuse (e.g. regex options) is bad input, never a 500.
    if (error instanceof MantisError) throw error;
    throw new MantisError('BAD_QUERY', `invalid Extended JSON value: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (!isDoc(value)) throw new MantisError('INVALID_JSON', 'the body must be a JSON object');
  return value;
}

function onlyFields(body: Doc, allowed: readonly string[]): void {
  for (const k in body) {
    if (!allowed.includes(k)) throw new MantisError('INVALID_PARAMETER', `unknown field "${k}"; expected ${allowed.map((a) => `"${a}"`).join(', ')}`);
  }
}

function docField(body: Doc, name: string, fallback: Doc | null): Doc | null {
  const v = body[name];
  if (v === undefined || v === null) return fallback;
  if (!isDoc(v)) throw new MantisError('INVALID_PARAMETER', `"${name}" must be an object`);
  return v;
}

function filterOf(body: Doc): Doc {
  return docField(body, 'filter', {}) as Doc;
}

/** A sort spec, or null for none ({} counts as none). Directions are checked by the sort compiler. */
function sortOf(body: Doc): Doc | null {
  const sort = docField(body, 'sort', null);
  return sort === null || Object.keys(sort).length === 0 ? null : sort;
}

function boolField(body: Doc, name: string, fallback: boolean): boolean {
  const v = body[name];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') throw new MantisError('INVALID_PARAMETER', `"${name}" must be true or false`);
  return v;
}

function intField(body: Doc, name: string, fallback: number, min: number, max: number): number {
  const v = body[name];
  if (v === undefined || v === null) return fallback;
  const n = typeof v === 'bigint' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw new MantisError('INVALID_PARAMETER', `"${name}" must be a whole number from ${min} to ${max}`);
  }
  return n;
}

function stringField(body: Doc, name: string): string | null {
  const v = body[name];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string' || v === '') throw new MantisError('INVALID_PARAMETER', `"${name}" must be a non-empty string`);
  return v;
}

function updateField(body: Doc, required: boolean): Doc | Doc[] | null {
  const v = body.update;
  if (v === undefined || v === null) {
    if (required) throw new MantisError('INVALID_PARAMETER', '"update" is required: an operator document or a pipeline array');
    return null;
  }
  if (Array.isArray(v)) {
    if (!v.every(isDoc)) throw new MantisError('INVALID_PARAMETER', '"update" as a pipeline must be an array of stage objects');
    return v as Doc[];
  }
  if (!isDoc(v)) throw new MantisError('INVALID_PARAMETER', '"update" must be an operator document or a pipeline array');
  return v;
}

function arrayFiltersOf(body: Doc): Doc[] | null {
  const v = body.array_filters;
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v) || !v.every(isDoc)) throw new MantisError('INVALID_PARAMETER', '"array_filters" must be an array of filter objects');
  return v as Doc[];
}

// ---- per route ---------------------------------------------------------------

/** POST insert: the documents (1..1000), each an object. */
export function insertRequest(body: Doc): Doc[] {
  onlyFields(body, ['documents']);
  const docs = body.documents;
  if (!Array.isArray(docs) || docs.length === 0) throw new MantisError('INVALID_PARAMETER', '"documents" must be a non-empty array of objects');
  if (docs.length > INSERT_DOCS_MAX) throw new MantisError('INVALID_PARAMETER', `"documents" holds ${docs.length} documents; the limit is ${INSERT_DOCS_MAX} per request`);
  for (let i = 0; i < docs.length; i++) {
    if (!isDoc(docs[i])) throw new MantisError('INVALID_PARAMETER', `documents[${i}] must be an object`);
  }
  return docs as Doc[];
}

const FIND_FIELDS = ['filter', 'projection', 'sort', 'skip', 'limit', 'cursor', 'hint'];

export function findRequest(body: Doc, fields: readonly string[] = FIND_FIELDS): FindRequest {
  onlyFields(body, fields);
  const cursor = body.cursor;
  if (cursor !== undefined && cursor !== null && typeof cursor !== 'string') throw new MantisError('CURSOR_INVALID', '"cursor" must be a next_cursor token from a previous page');
  return {
    filter: filterOf(body),
    projection: docField(body, 'projection', null),
    sort: sortOf(body),
    // Each shard is asked for skip + limit documents and the router holds them: skip is bounded as
    // the KV routes' offset is (cursors page through more).
    skip: intField(body, 'skip', 0, 0, LIMITS.list_offset_max),
    limit: intField(body, 'limit', FIND_LIMIT_DEFAULT, 1, FIND_LIMIT_MAX),
    cursor: typeof cursor === 'string' ? cursor : null,
    hint: stringField(body, 'hint'),
  };
}

/** POST explain: a find's fields (the query is run to count what it examines). */
export function explainRequest(body: Doc): FindRequest {
  return findRequest(body, ['filter', 'projection', 'sort', 'skip', 'limit', 'hint']);
}

export function updateRequest(body: Doc): UpdateRequest {
  onlyFields(body, ['filter', 'update', 'upsert', 'multi', 'array_filters']);
  return {
    filter: filterOf(body),
    update: updateField(body, true) as Doc | Doc[],
    upsert: boolField(body, 'upsert', false),
    multi: boolField(body, 'multi', false),
    arrayFilters: arrayFiltersOf(body),
  };
}

export function findAndModifyRequest(body: Doc): FindAndModifyRequest {
  onlyFields(body, ['filter', 'update', 'sort', 'upsert', 'return', 'remove', 'projection', 'array_filters']);
  const remove = boolField(body, 'remove', false);
  const update = updateField(body, !remove);
  if (remove && update !== null) throw new MantisError('INVALID_PARAMETER', 'give "update" or "remove": true, not both');
  const ret = body.return;
  if (ret !== undefined && ret !== null && ret !== 'before' && ret !== 'after') throw new MantisError('INVALID_PARAMETER', '"return" must be "before" or "after"');
  const upsert = boolField(body, 'upsert', false);
  if (remove && upsert) throw new MantisError('INVALID_PARAMETER', '"upsert" cannot be combined with "remove"');
  return {
    filter: filterOf(body),
    update,
    sort: sortOf(body),
    upsert,
    returnAfter: ret === 'after',
    remove,
    projection: docField(body, 'projection', null),
    arrayFilters: arrayFiltersOf(body),
  };
}

export function deleteRequest(body: Doc): DeleteRequest {
  onlyFields(body, ['filter', 'multi']);
  return { filter: filterOf(body), multi: boolField(body, 'multi', true) };
}

export function aggregateRequest(body: Doc): AggregateRequest {
  onlyFields(body, ['pipeline', 'allow_disk_use']);
  const pipeline = body.pipeline;
  if (!Array.isArray(pipeline) || !pipeline.every(isDoc)) throw new MantisError('INVALID_PARAMETER', '"pipeline" must be an array of stage objects');
  return { pipeline: pipeline as Doc[], allowDiskUse: boolField(body, 'allow_disk_use', false) };
}

const INDEX_TYPES = ['btree', 'hash', 'text'] as const;

export function indexRequest(body: Doc): IndexRequest {
  onlyFields(body, ['name', 'keys', 'unique', 'sparse', 'ttl_seconds', 'partial_filter', 'type']);
  const type = body.type ?? 'btree';
  if (!INDEX_TYPES.includes(type as (typeof INDEX_TYPES)[number])) throw new MantisError('INVALID_PARAMETER', '"type" must be "btree", "hash" or "text"');
  const keysDoc = docField(body, 'keys', null);
  if (keysDoc === null || Object.keys(keysDoc).length === 0) throw new MantisError('INVALID_PARAMETER', '"keys" must be a non-empty object of {"path": 1 | -1}');
  const keys = Object.entries(keysDoc).map(([path, dir]): [string, 1 | -1 | 'hashed' | 'text'] => {
    if (path === '' || path.startsWith('$') || path.split('.').some((p) => p === '')) throw new MantisError('BAD_QUERY', `index key "${path}" is not a field path`);
    if (type === 'hash' || dir === 'hashed') return [path, 'hashed'];
    if (type === 'text' || dir === 'text') return [path, 'text'];
    const n = typeof dir === 'bigint' ? Number(dir) : dir;
    if (n !== 1 && n !== -1) throw new MantisError('BAD_QUERY', `index key "${path}": the direction must be 1 or -1 (or use "type")`);
    return [path, n];
  });
  const ttl = body.ttl_seconds;
  let ttlSeconds: number | null = null;
  if (ttl !== undefined && ttl !== null) {
    const n = typeof ttl === 'bigint' ? Number(ttl) : ttl;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 2 ** 31 - 1) throw new MantisError('INVALID_PARAMETER', '"ttl_seconds" must be a whole number of seconds ≥ 0, or null');
    if (keys.length !== 1 || typeof keys[0][1] !== 'number') throw new MantisError('BAD_QUERY', 'a TTL index has exactly one ascending or descending key (a date field)');
    ttlSeconds = n;
  }
  const unique = boolField(body, 'unique', false);
  if (unique && keys.some(([, d]) => typeof d !== 'number')) throw new MantisError('BAD_QUERY', 'a hashed or text index cannot be unique');
  return { name: stringField(body, 'name'), keys, unique, sparse: boolField(body, 'sparse', false), ttlSeconds, partialFilter: docField(body, 'partial_filter', null) };
}

/** PUT /api/v1/docs/:c: the collection's options. */
export function collectionOptions(body: Doc): CollectionOptions {
  onlyFields(body, ['validator']);
  return { validator: docField(body, 'validator', null) };
}

/** The default index name MongoDB gives: path_dir joined by "_". */
export function defaultIndexName(keys: IndexRequest['keys']): string {
  return keys.map(([p, d]) => `${p}_${d}`).join('_');
}

// ---- ids in paths ------------------------------------------------------------

/** The ?id_type= query parameter (null when absent). */
export function idTypeOf(query: URLSearchParams): IdType | null {
  const t = query.get('id_type');
  if (t === null) return null;
  if (t !== 'number' && t !== 'string' && t !== 'oid') throw new MantisError('INVALID_PARAMETER', '"id_type" must be "number", "string" or "oid"');
  return t;
}

const HEX24 = /^[0-9a-fA-F]{24}$/;

/**
 * The _id a path segment names (already percent-decoded): an ObjectId when it is 24 hex digits,
 * else a string; id_type says otherwise (number: a JSON number; oid: must be 24 hex digits).
 */
export function idFromSegment(segment: string, idType: IdType | null): DocValue {
  switch (idType) {
    case null:
      return HEX24.test(segment) ? ObjectId.createFromHexString(segment) : segment;
    case 'string':
      return segment;
    case 'oid':
      if (!HEX24.test(segment)) throw new MantisError('INVALID_PARAMETER', `"${segment.slice(0, 64)}" is not an ObjectId (24 hex digits)`);
      return ObjectId.createFromHexString(segment);
    case 'number': {
      const n = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/.test(segment) ? Number(segment) : NaN;
      if (!Number.isFinite(n)) throw new MantisError('INVALID_PARAMETER', `"${segment.slice(0, 64)}" is not a number`);
      // Integers beyond 2^53 keep their digits as an Int64.
      if (Number.isInteger(n) && !Number.isSafeInteger(n) && /^-?[0-9]+$/.test(segment)) {
        const big = BigInt(segment);
        if (big >= -(2n ** 63n) && big < 2n ** 63n) return big;
      }
      return n;
    }
  }
}

/** A path segment strictly percent-decoded. */
export function decodeSegment(raw: string, what: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new MantisError('INVALID_PARAMETER', `the ${what} in the path is not valid percent-encoded UTF-8`);
  }
}
