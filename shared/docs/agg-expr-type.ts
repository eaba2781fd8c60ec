// Type expression operators: $type, $isNumber and the conversions ($convert
// and its $toX shorthands) with MongoDB's conversion table. A failed
// conversion is BAD_QUERY unless $convert's onError says otherwise; null or
// missing input gives null (or onNull).

import { Decimal128, ObjectId } from 'bson';
import { TYPE_NUMBERS, typeName, type TypeName } from './bson-types.js';
import {
  badQuery,
  compileArgs,
  isDecimal,
  isNullish,
  isObjectId,
  namedArgs,
  typeLabel,
  type ExprCompiler,
  type Node,
  type OpTable,
  type Value,
} from './agg-expr-core.js';
import { isNum, toJsNumber } from './agg-expr-num.js';
import { unreachable } from '../errors.js';
import type { DocValue } from './doc-types.js';

type Target = 'double' | 'string' | 'objectId' | 'bool' | 'date' | 'int' | 'long' | 'decimal';

const TARGETS: readonly Target[] = ['double', 'string', 'objectId', 'bool', 'date', 'int', 'long', 'decimal'];

function targetOf(to: Value): Target {
  if (typeof to === 'string' && (TARGETS as readonly string[]).includes(to)) return to as Target;
  if (typeof to === 'number') {
    const name = (Object.keys(TYPE_NUMBERS) as TypeName[]).find((k) => TYPE_NUMBERS[k] === to);
    if (name !== undefined && (TARGETS as readonly string[]).includes(name)) return name as Target;
  }
  throw badQuery(`$convert: unsupported target type: ${String(to)}`);
}

class ConversionFailure extends Error {}

function fail(v: DocValue, to: Target): never {
  const shown = typeof v === 'string' ? `'${v}'` : typeLabel(v);
  throw new ConversionFailure(`Failed to convert ${shown} (${typeName(v)}) to ${to}`);
}

const NUMERIC_STRING = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const SPECIAL_DOUBLES: Readonly<Record<string, number>> = {
  Infinity: Infinity,
  '-Infinity': -Infinity,
  inf: Infinity,
  '-inf': -Infinity,
  NaN: NaN,
  nan: NaN,
};

function parseDouble(s: string): number | null {
  if (NUMERIC_STRING.test(s)) return Number(s);
  return s in SPECIAL_DOUBLES ? SPECIAL_DOUBLES[s] : null;
}

function toDouble(v: DocValue): number {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (isNum(v)) return toJsNumber(v);
  if (v instanceof Date) return v.getTime();
  if (typeof v === 'string') return parseDouble(v) ?? fail(v, 'double');
  return fail(v, 'double');
}

/** An integral conversion in [min, max]: doubles truncate, strings must be base-10 integers. */
function toInteger(v: DocValue, to: 'int' | 'long'): bigint {
  const [min, max] = to === 'int' ? [-(2n ** 31n), 2n ** 31n - 1n] : [-(2n ** 63n), 2n ** 63n - 1n];
  let r: bigint;
  if (typeof v === 'boolean') r = v ? 1n : 0n;
  else if (typeof v === 'bigint') r = v;
  else if (typeof v === 'string') r = /^[+-]?\d+$/.test(v) ? BigInt(v) : fail(v, to);
  else if (v instanceof Date && to === 'long') r = BigInt(v.getTime());
  else if (typeof v === 'number' || isDecimal(v)) {
    const n = toJsNumber(v);
    r = Number.isFinite(n) ? BigInt(Math.trunc(n)) : fail(v, to);
  } else r = fail(v, to);
  if (r < min || r > max) fail(v, to);
  return r;
}

function toStringValue(v: DocValue): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (isDecimal(v)) return v.toString();
  if (isObjectId(v)) return v.toHexString();
  if (v instanceof Date) return v.toISOString();
  return fail(v, 'string');
}

// ISO-8601 dates; a date-time without a zone is UTC, as MongoDB reads it.
const ISO_DATE = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/;

function toDate(v: DocValue): Date {
  if (v instanceof Date) return v;
  if (typeof v === 'bigint' || typeof v === 'number' || isDecimal(v)) {
    const n = toJsNumber(v);
    return Number.isFinite(n) ? new Date(Math.trunc(n)) : fail(v, 'date');
  }
  if (isObjectId(v)) return v.getTimestamp();
  if (typeof v === 'string' && ISO_DATE.test(v)) {
    const m = ISO_DATE.exec(v);
    const zoned = m !== null && m[4] === undefined && m[1] !== undefined ? `${v}Z` : v;
    const d = new Date(zoned.replace(' ', 'T'));
    if (!Number.isNaN(d.getTime())) return d;
  }
  return fail(v, 'date');
}

function toDecimal(v: DocValue): Decimal128 {
  if (isDecimal(v)) return v;
  if (typeof v === 'boolean') return Decimal128.fromString(v ? '1' : '0');
  if (typeof v === 'number' || typeof v === 'bigint') return Decimal128.fromStringWithRounding(String(v));
  if (v instanceof Date) return Decimal128.fromString(String(v.getTime()));
  if (typeof v === 'string' && parseDouble(v) !== null) return Decimal128.fromStringWithRounding(v.replace(/^\+/, ''));
  return fail(v, 'decimal');
}

function toBool(v: DocValue): boolean {
  if (typeof v === 'boolean') return v;
  if (isNum(v)) return toJsNumber(v) !== 0;
  if (typeof v === 'string' || v instanceof Date || isObjectId(v)) return true;
  return fail(v, 'bool');
}

function toObjectId(v: DocValue): ObjectId {
  if (isObjectId(v)) return v;
  if (typeof v === 'string' && /^[0-9a-fA-F]{24}$/.test(v)) return new ObjectId(v);
  return fail(v, 'objectId');
}

/** Converts a non-null value; throws ConversionFailure when the table has no such conversion. */
export function convertValue(v: DocValue, to: Target): DocValue {
  switch (to) {
    case 'double':
      return toDouble(v);
    case 'string':
      return toStringValue(v);
    case 'objectId':
      return toObjectId(v);
    case 'bool':
      return toBool(v);
    case 'date':
      return toDate(v);
    case 'int':
      return Number(toInteger(v, 'int'));
    case 'long':
      return toInteger(v, 'long');
    case 'decimal':
      return toDecimal(v);
    default:
      return unreachable(to);
  }
}

function convertOrThrow(v: DocValue, to: Target, op: string): DocValue {
  try {
    return convertValue(v, to);
  } catch (e) {
    if (e instanceof ConversionFailure) throw badQuery(`${op}: ${e.message}`);
    throw e;
  }
}

function shorthand(to: Target) {
  return (args: DocValue, c: ExprCompiler, op: string): Node => {
    const [a] = compileArgs(args, c, op, 1);
    return (s) => {
      const v = a(s);
      return isNullish(v) ? null : convertOrThrow(v, to, op);
    };
  };
}

function convert(args: DocValue, c: ExprCompiler, op: string): Node {
  const named = namedArgs(args, op, ['input', 'to'], ['onError', 'onNull']);
  const input = c.compile(named.input);
  const to = c.compile(named.to);
  const onError = named.onError === undefined ? null : c.compile(named.onError);
  const onNull = named.onNull === undefined ? null : c.compile(named.onNull);
  return (s) => {
    const v = input(s);
    const target = targetOf(to(s));
    if (isNullish(v)) return onNull === null ? null : onNull(s);
    try {
      return convertValue(v, target);
    } catch (e) {
      if (!(e instanceof ConversionFailure)) throw e;
      if (onError === null) throw badQuery(`${op}: ${e.message}`);
      return onError(s);
    }
  };
}

export const TYPE_OPS: OpTable = {
  $type: (args, c, op) => {
    const [a] = compileArgs(args, c, op, 1);
    return (s) => {
      const v = a(s);
      return v === undefined ? 'missing' : typeName(v);
    };
  },
  $isNumber: (args, c, op) => {
    const [a] = compileArgs(args, c, op, 1);
    return (s) => isNum(a(s));
  },
  $convert: convert,
  $toString: shorthand('string'),
  $toInt: shorthand('int'),
  $toLong: shorthand('long'),
  $toDouble: shorthand('double'),
  $toDecimal: shorthand('decimal'),
  $toBool: shorthand('bool'),
  $toDate: shorthand('date'),
  $toObjectId: shorthand('objectId'),
};
