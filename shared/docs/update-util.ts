// Small value helpers the update modules share: MongoDB's "binary identical"
// test (a $set of an identical value is a no-op, but 1 and 1n differ), copies
// of client-supplied values, own-property reads and writes that are safe for
// any field name (`__proto__`, `constructor`), the field order MongoDB 5.0+
// applies updates in, and short renderings of values for error messages.

import { binaryBytes, isDoc, isInt32, typeName } from './bson-types.js';
import type { Doc, DocValue } from './doc-types.js';
import { MantisError } from '../errors.js';

export function badUpdate(message: string): MantisError {
  return new MantisError('BAD_QUERY', message);
}

/** The field's own value, or undefined (never an inherited property). */
export function ownField(doc: Doc, field: string): DocValue | undefined {
  return Object.hasOwn(doc, field) ? doc[field] : undefined;
}

/** Sets an own data property, even for the name `__proto__`. */
export function setOwn(doc: Doc, field: string, value: DocValue): void {
  if (field === '__proto__') {
    Object.defineProperty(doc, field, { value, writable: true, enumerable: true, configurable: true });
  } else {
    doc[field] = value;
  }
}

/**
 * A shallow copy keeping an own `__proto__` key as data. A key loop, not
 * spread: spread is several times slower on documents in dictionary mode
 * (measured: 15 µs against 3 µs for 33 fields).
 */
export function copyDoc(doc: Doc): Doc {
  const out: Doc = {};
  for (const k of Object.keys(doc)) setOwn(out, k, doc[k]);
  return out;
}

/** All digits: the field names that index arrays (MongoDB: no sign, any length). */
export function isIndexField(field: string): boolean {
  if (field.length === 0) return false;
  for (let i = 0; i < field.length; i++) {
    const c = field.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/**
 * MongoDB 5.0+ applies the fields of an update in this order: numeric names
 * numerically, everything else lexicographically (bytes).
 */
export function compareFieldNames(a: string, b: string): number {
  if (isIndexField(a) && isIndexField(b)) {
    const x = a.replace(/^0+(?=\d)/, '');
    const y = b.replace(/^0+(?=\d)/, '');
    if (x.length !== y.length) return x.length < y.length ? -1 : 1;
    if (x !== y) return x < y ? -1 : 1;
    return a < b ? -1 : a > b ? 1 : 0;
  }
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Same type and same bytes, as MongoDB's binaryEqualValues (field order matters). */
export function identical(a: DocValue | undefined, b: DocValue | undefined): boolean {
  if (typeof a === 'number' || typeof b === 'number') return Object.is(a, b);
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  const ta = typeName(a);
  if (ta !== typeName(b)) return false;
  return identicalObjects(ta, a, b);
}

function identicalObjects(type: string, a: object, b: object): boolean {
  switch (type) {
    case 'array':
      return identicalArrays(a as DocValue[], b as DocValue[]);
    case 'object':
      return identicalDocs(a as Doc, b as Doc);
    case 'date':
      return Object.is((a as Date).getTime(), (b as Date).getTime());
    case 'objectId':
    case 'decimal':
      return Buffer.from(bytesOf(a)).equals(Buffer.from(bytesOf(b)));
    case 'binData': {
      const x = a as import('bson').Binary;
      const y = b as import('bson').Binary;
      return x.sub_type === y.sub_type && Buffer.from(binaryBytes(x)).equals(Buffer.from(binaryBytes(y)));
    }
    case 'regex': {
      const x = a as import('bson').BSONRegExp;
      const y = b as import('bson').BSONRegExp;
      return x.pattern === y.pattern && x.options === y.options;
    }
    default:
      throw new Error(`assertion failed: identical() on ${type}`);
  }
}

function bytesOf(v: object): Uint8Array {
  if ('id' in v && v.id instanceof Uint8Array) return v.id;
  if ('bytes' in v && v.bytes instanceof Uint8Array) return v.bytes;
  throw new Error('assertion failed: value without bytes');
}

function identicalArrays(a: DocValue[], b: DocValue[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!identical(a[i], b[i])) return false;
  return true;
}

function identicalDocs(a: Doc, b: Doc): boolean {
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (let i = 0; i < ka.length; i++) {
    if (ka[i] !== kb[i] || !identical(a[ka[i]], b[kb[i]])) return false;
  }
  return true;
}

/**
 * A copy of a client-supplied value for storing in a document: documents,
 * arrays and dates are copied so no two stored documents share them (one
 * compiled update may write many documents). bson values are immutable.
 */
export function cloneValue(v: DocValue): DocValue {
  if (typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) return v.map(cloneValue);
  if (v instanceof Date) return new Date(v.getTime());
  if (!isDoc(v)) return v;
  const out: Doc = {};
  for (const k of Object.keys(v)) setOwn(out, k, cloneValue(v[k]));
  return out;
}

const DESCRIBE_CHARS_MAX = 120;

/** A short shell-style rendering of a value for error messages. */
export function describe(v: DocValue | undefined): string {
  const s = render(v, 0);
  return s.length > DESCRIBE_CHARS_MAX ? `${s.slice(0, DESCRIBE_CHARS_MAX)}...` : s;
}

function render(v: DocValue | undefined, depth: number): string {
  if (v === undefined) return 'missing';
  if (depth > 4) return '...';
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'bigint':
      return `${v}`;
    case 'number':
      return isInt32(v) || !Number.isInteger(v) ? String(v) : `${v}.0`;
    case 'boolean':
      return String(v);
    default:
      return renderObject(v, depth);
  }
}

function renderObject(v: DocValue, depth: number): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `[ ${v.map((x) => render(x, depth + 1)).join(', ')} ]`;
  if (isDoc(v)) {
    const parts = Object.keys(v).map((k) => `${k}: ${render(v[k], depth + 1)}`);
    return `{ ${parts.join(', ')} }`;
  }
  if (v instanceof Date) return `new Date(${v.getTime()})`;
  switch (typeName(v)) {
    case 'objectId':
      return `ObjectId('${v.toString()}')`;
    case 'decimal':
      return `NumberDecimal("${v.toString()}")`;
    case 'regex': {
      const r = v as import('bson').BSONRegExp;
      return `/${r.pattern}/${r.options}`;
    }
    default:
      return typeName(v);
  }
}

/** "{_id: 1}" style naming of a document for MongoDB-shaped messages. */
export function describeId(id: DocValue | undefined): string {
  return id === undefined ? 'no id' : `_id: ${describe(id)}`;
}
