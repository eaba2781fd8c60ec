// Extended JSON at the HTTP edge: relaxed and canonical EJSON in, relaxed
// EJSON out. This sits on the insert/find hot path, so input is JSON.parse
// plus one in-place walk that only inspects objects whose first key starts
// with `$`, and output copies only containers that hold a non-JSON value.
//
// Input wrappers are recognised only in their exact shape (e.g. {"$oid": s}
// with one key), so query operators such as {"$gt": 1} pass through.
// {"$regex": s, "$options": s} (the legacy form) becomes a BSONRegExp, which a
// filter treats exactly like the $regex operator. MinKey, MaxKey, Timestamp,
// code, symbol, DBPointer and undefined are outside the value model: refused.

import { Binary, BSONRegExp, Decimal128, ObjectId } from 'bson';
import { MantisError } from '../errors.js';
import { binaryBytes, isDoc } from './bson-types.js';
import type { Doc, DocValue } from './doc-types.js';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
const YEAR_10000_MS = 253402300800000;
const REFUSED = new Set(['$minKey', '$maxKey', '$timestamp', '$code', '$symbol', '$dbPointer', '$undefined', '$dbRef']);

function bad(message: string): never {
  throw new MantisError('INVALID_JSON', message);
}

/** Parses EJSON text into a DocValue. Syntax errors are INVALID_JSON. */
export function parseEjson(text: string): DocValue {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    bad(`invalid JSON: ${(e as Error).message}`);
  }
  return fromEjson(json);
}

/**
 * Converts a JSON.parse result to a DocValue. REQUIRES: the caller gives
 * `json` up — objects and arrays are converted in place and reused.
 */
export function fromEjson(json: unknown): DocValue {
  if (typeof json !== 'object' || json === null) return json as DocValue;
  return convert(json as Json[] | JsonObject, 0);
}

/**
 * Guards the recursion (the stack) only: documents are limited to 100
 * levels by validation, later; this refuses absurd inputs early.
 */
export const EJSON_DEPTH_MAX = 1000;

function convert(v: Json[] | JsonObject, depth: number): DocValue {
  if (depth > EJSON_DEPTH_MAX) bad(`JSON nested deeper than ${EJSON_DEPTH_MAX} levels`);
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const e = v[i];
      if (typeof e === 'object' && e !== null) v[i] = convert(e, depth + 1) as Json;
    }
    return v as DocValue[];
  }
  for (const first in v) {
    if (first.charCodeAt(0) === 0x24 /* $ */) {
      const wrapped = fromWrapper(first, v);
      if (wrapped !== undefined) return wrapped;
    }
    break;
  }
  for (const k in v) {
    const e = v[k];
    if (typeof e === 'object' && e !== null) {
      const c = convert(e, depth + 1);
      if (c !== e) setOwn(v, k, c as Json);
    }
  }
  return v as Doc;
}

// Assignment to "__proto__" would set the prototype: define it instead.
function setOwn(o: JsonObject, k: string, value: Json): void {
  if (k === '__proto__') Object.defineProperty(o, k, { value, writable: true, enumerable: true, configurable: true });
  else o[k] = value;
}

function keyCount(o: JsonObject): number {
  let n = 0;
  for (const _k in o) n++;
  return n;
}

/** The typed value of a wrapper object, or undefined when `o` is not one. */
function fromWrapper(first: string, o: JsonObject): DocValue | undefined {
  const n = keyCount(o);
  const x = o[first];
  if (n === 2) return twoKeyWrapper(o);
  if (n !== 1) return undefined;
  switch (first) {
    case '$oid':
      return parseOid(x);
    case '$date':
      return parseDate(x);
    case '$numberLong':
      return parseLong(x);
    case '$numberInt':
      return parseInt32(x);
    case '$numberDouble':
      return parseDouble(x);
    case '$numberDecimal':
      return parseDecimal(x);
    case '$binary':
      return isObj(x) ? parseBinary(x.base64, x.subType) : undefined;
    case '$uuid':
      return parseUuid(x);
    case '$regularExpression':
      return isObj(x) ? parseRegex(x.pattern, x.options) : undefined;
    default:
      if (REFUSED.has(first)) throw new MantisError('BAD_QUERY', `EJSON type ${first} is not supported`);
      return undefined;
  }
}

function twoKeyWrapper(o: JsonObject): DocValue | undefined {
  if (typeof o.$regex === 'string' && typeof o.$options === 'string') return parseRegex(o.$regex, o.$options);
  if (typeof o.$binary === 'string' && typeof o.$type === 'string') return parseBinary(o.$binary, o.$type);
  return undefined;
}

function isObj(x: Json | undefined): x is JsonObject {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function parseOid(x: Json): ObjectId {
  if (typeof x !== 'string' || !/^[0-9a-fA-F]{24}$/.test(x)) bad(`invalid $oid: ${JSON.stringify(x)}`);
  return ObjectId.createFromHexString(x);
}

function parseDate(x: Json): Date {
  let ms: number;
  if (typeof x === 'string') ms = Date.parse(x);
  else if (typeof x === 'number') ms = x;
  else if (isObj(x) && keyCount(x) === 1 && x.$numberLong !== undefined) ms = Number(parseLong(x.$numberLong));
  else bad(`invalid $date: ${JSON.stringify(x)}`);
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) bad(`invalid $date: ${JSON.stringify(x)}`);
  return d;
}

function parseLong(x: Json): bigint {
  if (typeof x !== 'string' || !/^-?[0-9]{1,19}$/.test(x)) bad(`invalid $numberLong: ${JSON.stringify(x)}`);
  const n = BigInt(x);
  if (n < INT64_MIN || n > INT64_MAX) bad(`$numberLong out of range: ${x}`);
  return n;
}

function parseInt32(x: Json): number {
  if (typeof x !== 'string' || !/^-?[0-9]{1,10}$/.test(x)) bad(`invalid $numberInt: ${JSON.stringify(x)}`);
  const n = Number(x);
  if (n < INT32_MIN || n > INT32_MAX) bad(`$numberInt out of range: ${x}`);
  return n;
}

function parseDouble(x: Json): number {
  if (x === 'Infinity') return Infinity;
  if (x === '-Infinity') return -Infinity;
  if (x === 'NaN') return NaN;
  const n = typeof x === 'string' && x.trim() !== '' ? Number(x) : NaN;
  if (Number.isNaN(n)) bad(`invalid $numberDouble: ${JSON.stringify(x)}`);
  return n;
}

function parseDecimal(x: Json): Decimal128 {
  if (typeof x !== 'string') bad(`invalid $numberDecimal: ${JSON.stringify(x)}`);
  try {
    return Decimal128.fromString(x);
  } catch (_e) {
    bad(`invalid $numberDecimal: ${JSON.stringify(x)}`);
  }
}

function parseBinary(base64: Json | undefined, subType: Json | undefined): Binary {
  if (typeof base64 !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(base64)) bad('invalid $binary base64');
  if (typeof subType !== 'string' || !/^[0-9a-fA-F]{1,2}$/.test(subType)) bad('invalid $binary subType');
  return new Binary(Buffer.from(base64, 'base64'), parseInt(subType, 16));
}

function parseUuid(x: Json): Binary {
  if (typeof x !== 'string' || !/^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$/.test(x)) {
    bad(`invalid $uuid: ${JSON.stringify(x)}`);
  }
  return new Binary(Buffer.from(x.replace(/-/g, ''), 'hex'), Binary.SUBTYPE_UUID);
}

function parseRegex(pattern: Json | undefined, options: Json | undefined): BSONRegExp {
  if (typeof pattern !== 'string' || typeof options !== 'string') bad('invalid $regularExpression');
  return new BSONRegExp(pattern, sortedOptions(options));
}

function sortedOptions(options: string): string {
  return options.length < 2 ? options : [...options].sort().join('');
}

// ---- output -----------------------------------------------------------------

/**
 * A DocValue as a plain JSON value in relaxed EJSON. Containers holding only
 * JSON values are returned as they are (not copied).
 */
export function toEjson(value: DocValue): Json {
  switch (typeof value) {
    case 'number':
      return Number.isFinite(value) ? value : { $numberDouble: String(value) };
    case 'bigint':
      return longToEjson(value);
    case 'object':
      return value === null ? null : objectToEjson(value);
    default:
      return value;
  }
}

function longToEjson(n: bigint): Json {
  return n >= -9007199254740991n && n <= 9007199254740991n ? Number(n) : { $numberLong: n.toString() };
}

function objectToEjson(v: object): Json {
  if (Array.isArray(v)) return arrayToEjson(v as DocValue[]);
  if (isDoc(v as DocValue)) return docToEjson(v as Doc);
  if (v instanceof Date) return dateToEjson(v);
  switch ((v as { _bsontype?: string })._bsontype) {
    case 'ObjectId':
      return { $oid: (v as ObjectId).toHexString() };
    case 'Decimal128':
      return { $numberDecimal: (v as Decimal128).toString() };
    case 'Binary':
      return binaryToEjson(v as Binary);
    case 'BSONRegExp':
      return { $regularExpression: { pattern: (v as BSONRegExp).pattern, options: (v as BSONRegExp).options } };
    default:
      throw new Error(`assertion failed: not a DocValue: ${String((v as { _bsontype?: string })._bsontype)}`);
  }
}

function dateToEjson(d: Date): Json {
  const ms = d.getTime();
  if (Number.isNaN(ms)) throw new Error('assertion failed: invalid Date in a document');
  return ms >= 0 && ms < YEAR_10000_MS ? { $date: d.toISOString() } : { $date: { $numberLong: String(ms) } };
}

function binaryToEjson(b: Binary): Json {
  const subType = b.sub_type.toString(16).padStart(2, '0');
  return { $binary: { base64: Buffer.from(binaryBytes(b)).toString('base64'), subType } };
}

function needsConversion(v: DocValue): boolean {
  const t = typeof v;
  if (t === 'number') return !Number.isFinite(v as number);
  return t === 'bigint' || (t === 'object' && v !== null);
}

function arrayToEjson(a: DocValue[]): Json {
  let out: Json[] | undefined;
  for (let i = 0; i < a.length; i++) {
    const e = a[i];
    if (!needsConversion(e)) continue;
    const c = toEjson(e);
    if (c === e) continue;
    if (out === undefined) out = a.slice() as Json[];
    out[i] = c;
  }
  return out ?? (a as Json[]);
}

function docToEjson(d: Doc): Json {
  let out: JsonObject | undefined;
  for (const k in d) {
    const e = d[k];
    if (!needsConversion(e)) continue;
    const c = toEjson(e);
    if (c === e) continue;
    if (out === undefined) out = { ...(d as JsonObject) };
    setOwn(out, k, c);
  }
  return out ?? (d as JsonObject);
}

/** Relaxed EJSON text of a value. */
export function stringifyEjson(value: DocValue): string {
  return JSON.stringify(toEjson(value));
}
