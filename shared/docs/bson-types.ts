// BSON type facts about DocValues: the $type names and numbers, MongoDB's
// canonical cross-type order, and the numeric helpers every query module uses.
// Classification is by `typeof` and bson's `_bsontype` tag (not instanceof), so
// values built by another copy of the bson package classify the same.

import type { Binary, BSONRegExp, Decimal128, ObjectId } from 'bson';
import type { Doc, DocValue } from './doc-types.js';

export type TypeName =
  | 'double'
  | 'string'
  | 'object'
  | 'array'
  | 'binData'
  | 'objectId'
  | 'bool'
  | 'date'
  | 'null'
  | 'regex'
  | 'int'
  | 'long'
  | 'decimal';

/** BSON type numbers of the $type aliases (MongoDB's table). */
export const TYPE_NUMBERS: Readonly<Record<TypeName, number>> = Object.freeze({
  double: 1,
  string: 2,
  object: 3,
  array: 4,
  binData: 5,
  objectId: 7,
  bool: 8,
  date: 9,
  null: 10,
  regex: 11,
  int: 16,
  long: 18,
  decimal: 19,
});

/**
 * Canonical sort classes (MongoDB's canonicalizeBSONType values): values of
 * different classes compare by class alone; all numbers share one class.
 * Missing sorts with null.
 */
export const CANONICAL = Object.freeze({
  minKey: -1,
  null: 5,
  number: 10,
  string: 15,
  object: 20,
  array: 25,
  binData: 30,
  objectId: 35,
  bool: 40,
  date: 45,
  timestamp: 47,
  regex: 50,
  maxKey: 127,
});

type BsonTagged = { readonly _bsontype?: string };

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

/** The bson class tag of a value, or undefined for anything else. */
function bsonTag(v: object): string | undefined {
  return (v as BsonTagged)._bsontype;
}

/** True for a plain document (not an array, Date or bson value). */
export function isDoc(v: DocValue | undefined): v is Doc {
  return (
    typeof v === 'object' &&
    v !== null &&
    !Array.isArray(v) &&
    !(v instanceof Date) &&
    (v as BsonTagged)._bsontype === undefined
  );
}

export function isObjectId(v: DocValue | undefined): v is ObjectId {
  return typeof v === 'object' && v !== null && (v as BsonTagged)._bsontype === 'ObjectId';
}

export function isDecimal(v: DocValue | undefined): v is Decimal128 {
  return typeof v === 'object' && v !== null && (v as BsonTagged)._bsontype === 'Decimal128';
}

export function isBinary(v: DocValue | undefined): v is Binary {
  return typeof v === 'object' && v !== null && (v as BsonTagged)._bsontype === 'Binary';
}

export function isBsonRegExp(v: DocValue | undefined): v is BSONRegExp {
  return typeof v === 'object' && v !== null && (v as BsonTagged)._bsontype === 'BSONRegExp';
}

/** True for number, bigint (Int64) and Decimal128. */
export function isNumeric(v: DocValue | undefined): v is number | bigint | Decimal128 {
  const t = typeof v;
  return t === 'number' || t === 'bigint' || isDecimal(v);
}

/** A numeric value as a JS double (Decimal128 and large Int64 lose precision). */
export function toDouble(v: number | bigint | Decimal128): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  return decimalToDouble(v);
}

export function decimalToDouble(d: Decimal128): number {
  const s = d.toString();
  if (s === 'NaN' || s === '-NaN') return NaN;
  if (s === 'Infinity') return Infinity;
  if (s === '-Infinity') return -Infinity;
  return Number(s);
}

/** True when a JS number is $type "int" (an integer in int32 range, not -0). */
export function isInt32(n: number): boolean {
  return Number.isInteger(n) && n >= INT32_MIN && n <= INT32_MAX && !Object.is(n, -0);
}

/** The $type alias of a value (missing has no type: callers check first). */
export function typeName(v: DocValue): TypeName {
  switch (typeof v) {
    case 'number':
      return isInt32(v) ? 'int' : 'double';
    case 'string':
      return 'string';
    case 'boolean':
      return 'bool';
    case 'bigint':
      return 'long';
    case 'object':
      return objectTypeName(v);
    default:
      throw new Error(`assertion failed: not a DocValue: ${typeof v}`);
  }
}

function objectTypeName(v: object | null): TypeName {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (v instanceof Date) return 'date';
  switch (bsonTag(v)) {
    case undefined:
      return 'object';
    case 'ObjectId':
      return 'objectId';
    case 'Decimal128':
      return 'decimal';
    case 'Binary':
      return 'binData';
    case 'BSONRegExp':
      return 'regex';
    default:
      throw new Error(`assertion failed: unsupported bson value ${bsonTag(v)}`);
  }
}

/** The BSON type number of a value ($type's numeric form). */
export function typeNumber(v: DocValue): number {
  return TYPE_NUMBERS[typeName(v)];
}

/** MongoDB's canonical order class of a value; missing sorts as null. */
export function canonicalOrder(v: DocValue | undefined): number {
  switch (typeof v) {
    case 'number':
    case 'bigint':
      return CANONICAL.number;
    case 'string':
      return CANONICAL.string;
    case 'boolean':
      return CANONICAL.bool;
    case 'undefined':
      return CANONICAL.null;
    case 'object':
      return objectCanonical(v);
    default:
      throw new Error(`assertion failed: not a DocValue: ${typeof v}`);
  }
}

function objectCanonical(v: object | null): number {
  if (v === null) return CANONICAL.null;
  if (Array.isArray(v)) return CANONICAL.array;
  if (v instanceof Date) return CANONICAL.date;
  switch (bsonTag(v)) {
    case undefined:
      return CANONICAL.object;
    case 'ObjectId':
      return CANONICAL.objectId;
    case 'Decimal128':
      return CANONICAL.number;
    case 'Binary':
      return CANONICAL.binData;
    case 'BSONRegExp':
      return CANONICAL.regex;
    default:
      throw new Error(`assertion failed: unsupported bson value ${bsonTag(v)}`);
  }
}

/** $type operands: alias → type numbers it stands for ("number" is four). */
export function typeNumbersOfAlias(alias: string): readonly number[] | undefined {
  if (alias === 'number') return [1, 16, 18, 19];
  const n = (TYPE_NUMBERS as Record<string, number>)[alias];
  return n === undefined ? undefined : [n];
}

/** The bytes of a Binary (its buffer may be longer than its length). */
export function binaryBytes(b: Binary): Uint8Array {
  return b.buffer.length === b.position ? b.buffer : b.buffer.subarray(0, b.position);
}
