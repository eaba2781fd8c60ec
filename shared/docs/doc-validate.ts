// Checks on documents and names that both the router and the shards apply:
// a collection's `$jsonSchema` validator (compiled with ajv's 2020 dialect
// after translating MongoDB's draft-4 flavour), the document limits (16 MiB
// encoded, nesting depth 100, `_id` and field-name rules), and the names of
// collections and indexes.
//
// MongoDB's `$jsonSchema` differs from JSON Schema in ways that matter here:
// `type: "number"` matches every numeric BSON type (int, long, double,
// decimal) and `bsonType` names BSON types, so both become one custom
// keyword (`bsonType`) checked with typeName(); draft-4 boolean
// `exclusiveMinimum`/`exclusiveMaximum`, `dependencies` and tuple `items`
// are rewritten to their 2020 forms. Keywords MongoDB does not support
// ($ref, $schema, default, definitions, format, id) are refused.

import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import { MantisError } from '../errors.js';
import { nestsUnboundedQuantifiers } from './regex-guard.js';
import { isDoc, typeName, type TypeName } from './bson-types.js';
import { encodeDoc } from './doc-codec.js';
import type { Doc, DocValue } from './doc-types.js';

export const DOC_BYTES_MAX = 16 * 1024 * 1024;
export const DOC_DEPTH_MAX = 100;
export const NAME_CHARS_MAX = 120;

/** A compiled validator: throws DOC_VALIDATION naming the first failing path. */
export type DocValidator = (doc: Doc) => void;

const BSON_TYPE_ALIASES: ReadonlySet<string> = new Set<TypeName | 'number'>([
  'double', 'string', 'object', 'array', 'binData', 'objectId', 'bool', 'date', 'null', 'regex', 'int', 'long', 'decimal', 'number',
]);
/** JSON Schema `type` as MongoDB reads it: in BSON type aliases. */
const JSON_TYPE_TO_BSON: Readonly<Record<string, readonly string[]>> = {
  number: ['int', 'long', 'double', 'decimal'],
  string: ['string'],
  object: ['object'],
  array: ['array'],
  boolean: ['bool'],
  null: ['null'],
};
const NUMERIC: ReadonlySet<string> = new Set(['int', 'long', 'double', 'decimal']);

/** Keywords passed to ajv as they are (their schema values are translated recursively where they hold schemas). */
const PLAIN_KEYWORDS: ReadonlySet<string> = new Set([
  'title', 'description', 'enum', 'maximum', 'minimum', 'maxLength', 'minLength', 'pattern', 'maxItems', 'minItems',
  'uniqueItems', 'maxProperties', 'minProperties', 'required', 'multipleOf',
]);
const SCHEMA_KEYWORDS: ReadonlySet<string> = new Set(['not', 'additionalProperties', 'additionalItems']);
const SCHEMA_LIST_KEYWORDS: ReadonlySet<string> = new Set(['allOf', 'anyOf', 'oneOf']);
const SCHEMA_MAP_KEYWORDS: ReadonlySet<string> = new Set(['properties', 'patternProperties']);

let ajvInstance: Ajv2020 | null = null;

function ajv(): Ajv2020 {
  if (ajvInstance !== null) return ajvInstance;
  const instance = new Ajv2020({ allErrors: false, strict: false, validateSchema: true, unicodeRegExp: false, verbose: true });
  instance.addKeyword({
    keyword: 'bsonType',
    schemaType: ['string', 'array'],
    errors: false,
    validate: (schema: string | string[], data: unknown) => matchesBsonType(schema, data as DocValue),
  });
  ajvInstance = instance;
  return instance;
}

function matchesBsonType(schema: string | string[], value: DocValue): boolean {
  if (value === undefined) return true;
  const actual = typeName(value);
  const wanted = typeof schema === 'string' ? [schema] : schema;
  return wanted.some((t) => t === actual || (t === 'number' && NUMERIC.has(actual)));
}

/**
 * REQUIRES: validator is the collection's `validator` option: `{ $jsonSchema: {...} }` or null.
 * ENSURES: a function that throws DOC_VALIDATION for a document the schema refuses; BAD_QUERY here for a bad schema.
 */
export function compileValidator(validator: Doc | null): DocValidator {
  if (validator === null) return () => undefined;
  const keys = Object.keys(validator);
  if (keys.length !== 1 || keys[0] !== '$jsonSchema' || !isDoc(validator.$jsonSchema)) {
    throw new MantisError('BAD_QUERY', 'a validator must be {"$jsonSchema": {...}} (query-operator validators are not supported)');
  }
  checkSchemaPatterns(validator.$jsonSchema, '$jsonSchema');
  const schema = translateSchema(validator.$jsonSchema, '$jsonSchema');
  let check;
  try {
    check = ajv().compile(schema);
  } catch (error) {
    throw new MantisError('BAD_QUERY', `$jsonSchema is not a valid schema: ${error instanceof Error ? error.message : String(error)}`);
  }
  return (doc) => {
    if (check(doc)) return;
    const first = check.errors?.[0];
    throw new MantisError('DOC_VALIDATION', `document failed validation: ${describeError(first)}`, first === undefined ? undefined : { path: errorPath(first) });
  };
}

/**
 * Every regex of a schema (`pattern`, `patternProperties` keys) passes the guard $regex does: a
 * validator runs on the router's thread, where a catastrophic pattern would stall every request.
 */
function checkSchemaPatterns(node: DocValue, at: string): void {
  if (Array.isArray(node)) {
    node.forEach((v, i) => checkSchemaPatterns(v, `${at}[${i}]`));
    return;
  }
  if (!isDoc(node)) return;
  for (const [key, value] of Object.entries(node)) {
    if (key === 'pattern' && typeof value === 'string' && nestsUnboundedQuantifiers(value)) {
      throw new MantisError('BAD_QUERY', `${at}.pattern nests unbounded quantifiers (as (a+)+ does), which can take exponential time; rewrite it without the nesting`);
    }
    if (key === 'patternProperties' && isDoc(value)) {
      for (const p of Object.keys(value)) {
        if (nestsUnboundedQuantifiers(p)) throw new MantisError('BAD_QUERY', `${at}.patternProperties key ${JSON.stringify(p)} nests unbounded quantifiers; rewrite it without the nesting`);
      }
    }
    checkSchemaPatterns(value, `${at}.${key}`);
  }
}

function errorPath(error: ErrorObject): string {
  const segments = error.instancePath.split('/').slice(1).map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
  if (error.keyword === 'required') segments.push(String((error.params as { missingProperty?: string }).missingProperty));
  if (error.keyword === 'additionalProperties') segments.push(String((error.params as { additionalProperty?: string }).additionalProperty));
  return segments.join('.');
}

function describeError(error: ErrorObject | undefined): string {
  if (error === undefined) return 'the document does not match $jsonSchema';
  const path = errorPath(error);
  const where = path === '' ? 'the document' : `"${path}"`;
  switch (error.keyword) {
    case 'required':
      return `${where} is required`;
    case 'additionalProperties':
      return `${where} is not allowed (additionalProperties)`;
    case 'bsonType': {
      const wanted = error.schema as string | string[];
      return `${where} must be of BSON type ${typeof wanted === 'string' ? wanted : wanted.join(' or ')}`;
    }
    default:
      return `${where} ${error.message ?? 'is invalid'} (${error.keyword})`;
  }
}

/** MongoDB's $jsonSchema (draft 4 + bsonType) as an ajv 2020 schema. */
function translateSchema(schema: DocValue, where: string): Record<string, unknown> {
  if (!isDoc(schema)) throw new MantisError('BAD_QUERY', `${where} must be an object`);
  const out: Record<string, unknown> = {};
  const bsonTypes: string[] = [];
  for (const [key, value] of Object.entries(schema)) {
    const at = `${where}.${key}`;
    if (key === 'type' || key === 'bsonType') bsonTypes.push(...typeList(key, value, at));
    else if (key === 'exclusiveMinimum' || key === 'exclusiveMaximum') continue; // with minimum/maximum below
    else if (PLAIN_KEYWORDS.has(key)) out[key] = plainValue(value, at);
    else if (SCHEMA_KEYWORDS.has(key)) out[key] = typeof value === 'boolean' ? value : translateSchema(value, at);
    else if (SCHEMA_LIST_KEYWORDS.has(key)) out[key] = schemaList(value, at);
    else if (SCHEMA_MAP_KEYWORDS.has(key)) out[key] = schemaMap(value, at);
    else if (key === 'items') out.items = Array.isArray(value) ? schemaList(value, at) : translateSchema(value, at);
    else if (key === 'dependencies') Object.assign(out, dependencies(value, at));
    else throw new MantisError('BAD_QUERY', `${at}: unsupported $jsonSchema keyword "${key}"`);
  }
  if (bsonTypes.length > 0) out.bsonType = bsonTypes.length === 1 ? bsonTypes[0] : [...new Set(bsonTypes)];
  exclusiveBound(schema, out, 'minimum', 'exclusiveMinimum', where);
  exclusiveBound(schema, out, 'maximum', 'exclusiveMaximum', where);
  // Draft 4's tuple form: items [..] with additionalItems → prefixItems with items.
  if (Array.isArray(out.items)) {
    out.prefixItems = out.items;
    if (out.additionalItems !== undefined) out.items = out.additionalItems;
    else delete out.items;
    delete out.additionalItems;
  } else delete out.additionalItems;
  return out;
}

function typeList(key: string, value: DocValue, at: string): string[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) throw new MantisError('BAD_QUERY', `${at} must name at least one type`);
  return list.flatMap((t) => {
    if (typeof t !== 'string') throw new MantisError('BAD_QUERY', `${at} must be a string or an array of strings`);
    if (key === 'type') {
      const mapped = JSON_TYPE_TO_BSON[t];
      if (mapped === undefined) throw new MantisError('BAD_QUERY', `${at}: unknown type "${t}" (MongoDB's $jsonSchema has no "integer"; use bsonType "int" or "long")`);
      return mapped;
    }
    if (!BSON_TYPE_ALIASES.has(t)) throw new MantisError('BAD_QUERY', `${at}: unknown BSON type "${t}"`);
    return [t];
  });
}

function exclusiveBound(schema: Doc, out: Record<string, unknown>, bound: 'minimum' | 'maximum', exclusive: 'exclusiveMinimum' | 'exclusiveMaximum', where: string): void {
  const flag = schema[exclusive];
  if (flag === undefined) return;
  if (typeof flag !== 'boolean') throw new MantisError('BAD_QUERY', `${where}.${exclusive} must be true or false (draft 4)`);
  if (out[bound] === undefined) throw new MantisError('BAD_QUERY', `${where}.${exclusive} needs "${bound}"`);
  if (!flag) return;
  out[exclusive] = out[bound];
  delete out[bound];
}

function schemaList(value: DocValue, at: string): Record<string, unknown>[] {
  if (!Array.isArray(value) || value.length === 0) throw new MantisError('BAD_QUERY', `${at} must be a non-empty array of schemas`);
  return value.map((s, i) => translateSchema(s, `${at}.${i}`));
}

function schemaMap(value: DocValue, at: string): Record<string, unknown> {
  if (!isDoc(value)) throw new MantisError('BAD_QUERY', `${at} must be an object of schemas`);
  return Object.fromEntries(Object.entries(value).map(([k, s]) => [k, translateSchema(s, `${at}.${k}`)]));
}

function dependencies(value: DocValue, at: string): Record<string, unknown> {
  if (!isDoc(value)) throw new MantisError('BAD_QUERY', `${at} must be an object`);
  const required: Record<string, unknown> = {};
  const schemas: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (Array.isArray(v)) required[k] = plainValue(v, `${at}.${k}`);
    else schemas[k] = translateSchema(v, `${at}.${k}`);
  }
  return {
    ...(Object.keys(required).length > 0 ? { dependentRequired: required } : {}),
    ...(Object.keys(schemas).length > 0 ? { dependentSchemas: schemas } : {}),
  };
}

/** Keyword values that are data (enum members, bounds): bigint becomes a number for ajv. */
function plainValue(value: DocValue, at: string): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (Array.isArray(value)) return value.map((v) => plainValue(v, at));
  return value;
}

// ---- document limits ---------------------------------------------------------

/**
 * The limits every stored document obeys (insert, replace, and what an update produced):
 * nesting depth ≤ 100, no field name starting with "$" at the top level or inside _id, no NUL in a
 * field name, an _id that is not an array, regex or missing, and ≤ 16 MiB encoded.
 * Throws DOC_VALIDATION (or DOC_TOO_LARGE).
 */
export function checkDocument(doc: Doc): void {
  const id = doc._id;
  if (id !== undefined) checkId(id);
  let bound = 0;
  for (const name in doc) {
    if (name.charCodeAt(0) === 0x24 /* $ */) throw new MantisError('DOC_VALIDATION', `field name "${name}" starts with "$"; top-level field names may not`);
    bound += fieldBound(name) + valueBound(doc[name], 2, name);
  }
  // The walk above bounds the encoded size from above; only a document that might be too large is encoded.
  if (bound > DOC_BYTES_MAX) {
    const bytes = encodeDoc(doc).length;
    if (bytes > DOC_BYTES_MAX) throw new MantisError('DOC_TOO_LARGE', `the document is ${bytes} bytes encoded; the limit is ${DOC_BYTES_MAX}`);
  }
}

/** An _id as MongoDB allows it: any value but an array, a regex or undefined; a document _id has no "$" field names. */
export function checkId(id: DocValue | undefined): void {
  if (id === undefined) throw new MantisError('DOC_VALIDATION', 'the document has no _id');
  if (Array.isArray(id)) throw new MantisError('DOC_VALIDATION', '_id may not be an array');
  if (typeName(id) === 'regex') throw new MantisError('DOC_VALIDATION', '_id may not be a regular expression');
  if (isDoc(id)) {
    for (const name of Object.keys(id)) {
      if (name.startsWith('$')) throw new MantisError('DOC_VALIDATION', `_id may not hold a field starting with "$" ("${name}")`);
    }
  }
}

function fieldBound(name: string): number {
  if (name.includes('\0')) throw new MantisError('DOC_VALIDATION', `field name ${JSON.stringify(name)} contains a NUL character`);
  return 3 * name.length + 6;
}

/** An upper bound of a value's encoded size; checks depth and nested field names on the way. */
function valueBound(value: DocValue, depth: number, path: string): number {
  switch (typeof value) {
    case 'string':
      return 3 * value.length + 6;
    case 'object': {
      if (value === null) return 2;
      if (Array.isArray(value)) {
        if (depth > DOC_DEPTH_MAX) throw tooDeep(path);
        let bytes = 6;
        for (let i = 0; i < value.length; i++) bytes += valueBound(value[i], depth + 1, path) + 1;
        return bytes;
      }
      if (isDoc(value)) {
        if (depth > DOC_DEPTH_MAX) throw tooDeep(path);
        let bytes = 6;
        for (const name in value) bytes += fieldBound(name) + valueBound(value[name], depth + 1, path);
        return bytes;
      }
      // An invalid Date (a conversion past the range of dates) has no BSON form and no JSON one.
      if (value instanceof Date && Number.isNaN(value.getTime())) throw new MantisError('DOC_VALIDATION', `field "${path}" holds an invalid date (outside ±8.64e15 ms)`);
      // ObjectId, Date, Decimal128: small; Binary and regex: their own size.
      if ('buffer' in value && value.buffer instanceof Uint8Array) return value.buffer.length + 8;
      if ('pattern' in value && typeof value.pattern === 'string') return 3 * (value.pattern.length + String(value.options).length) + 8;
      return 24;
    }
    default:
      return 18;
  }
}

function tooDeep(path: string): MantisError {
  return new MantisError('DOC_VALIDATION', `the document nests deeper than ${DOC_DEPTH_MAX} levels (under "${path}")`);
}

// ---- names -------------------------------------------------------------------

const NAME_PATTERN = /^[A-Za-z0-9_.-]+$/;

function checkName(name: unknown, what: string): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > NAME_CHARS_MAX || !NAME_PATTERN.test(name)) {
    throw new MantisError('INVALID_PARAMETER', `${what} must be 1–${NAME_CHARS_MAX} characters of A–Z, a–z, 0–9, "_", "." and "-"`);
  }
  if (name.startsWith('system.')) throw new MantisError('INVALID_PARAMETER', `${what} may not start with "system."`);
  // A URL path cannot carry "." or ".." as a segment (clients normalize them away).
  if (name === '.' || name === '..') throw new MantisError('INVALID_PARAMETER', `${what} may not be "." or ".."`);
  return name;
}

export function checkCollectionName(name: unknown): string {
  return checkName(name, 'a collection name');
}

export function checkIndexName(name: unknown): string {
  return checkName(name, 'an index name');
}
