// Per-value tests of the filter language: what one candidate value (see
// paths.ts) must be for $eq, $gt/$gte/$lt/$lte, $in, $type, $regex, $mod and
// $size to hold. `undefined` is a missing candidate. filter.ts decides which
// candidates a test sees and combines the results.
//
// MongoDB rules kept here:
// - equality is compareValues equality (1 == 1n == 1.0), null matches missing;
// - comparisons only between values of one canonical class ("type
//   bracketing"): {$gt: 5} never matches a string; {$gte: null} and
//   {$lte: null} match null and missing, {$gt: null}/{$lt: null} nothing;
// - NaN equals NaN but every other comparison with NaN is false (MongoDB's
//   ComparisonMatchExpression special case), so {$lt: 5} skips NaN.

import type { BSONRegExp } from 'bson';
import { MantisError } from '../errors.js';
import { canonicalOrder, CANONICAL, isBsonRegExp, isDecimal, typeNumber, typeNumbersOfAlias } from './bson-types.js';
import { compareNumbers, compareValues, valuesEqual } from './compare.js';
import type { DocValue } from './doc-types.js';
import { compileRegex } from './agg-expr-string.js';

/** True when one candidate value satisfies the condition. */
export type ValueTest = (v: DocValue | undefined) => boolean;

export type CompareOp = '$gt' | '$gte' | '$lt' | '$lte';

export function badQuery(message: string): MantisError {
  return new MantisError('BAD_QUERY', message);
}

function isNaNValue(v: DocValue | undefined): boolean {
  if (typeof v === 'number') return v !== v;
  return isDecimal(v) && v.toString().endsWith('NaN');
}

// ---- equality ---------------------------------------------------------------

export function eqTest(c: DocValue): ValueTest {
  switch (typeof c) {
    case 'string':
    case 'boolean':
      return (v) => v === c;
    case 'number':
      if (c !== c) return isNaNValue;
      return (v) => v === c || (typeof v === 'bigint' || isDecimal(v) ? compareNumbers(v, c) === 0 : false);
    case 'bigint':
      return (v) => (typeof v === 'number' || typeof v === 'bigint' || isDecimal(v) ? compareNumbers(v, c) === 0 : false);
    default:
      break;
  }
  if (c === null) return (v) => v === null || v === undefined;
  if (isNaNValue(c)) return isNaNValue;
  const cls = canonicalOrder(c);
  return (v) => v !== undefined && v !== null && canonicalOrder(v) === cls && compareValues(v, c) === 0;
}

// ---- range comparisons --------------------------------------------------------

export function compareTest(op: CompareOp, c: DocValue): ValueTest {
  if (c === null) return op === '$gte' || op === '$lte' ? eqTest(null) : () => false;
  if (isNaNValue(c)) return op === '$gte' || op === '$lte' ? isNaNValue : () => false;
  if (typeof c === 'number') return numberCompareTest(op, c);
  if (typeof c === 'string') return stringCompareTest(op, c);
  const cls = canonicalOrder(c);
  const accept = acceptor(op);
  return (v) => {
    if (v === undefined || v === null || canonicalOrder(v) !== cls) return false;
    if (cls === CANONICAL.number && isNaNValue(v)) return false;
    return accept(compareValues(v, c));
  };
}

function acceptor(op: CompareOp): (cmp: number) => boolean {
  switch (op) {
    case '$gt':
      return (cmp) => cmp > 0;
    case '$gte':
      return (cmp) => cmp >= 0;
    case '$lt':
      return (cmp) => cmp < 0;
    case '$lte':
      return (cmp) => cmp <= 0;
  }
}

// The hot path: a number operand compared with a number value needs no class
// lookup; NaN values fail every JS comparison, as MongoDB wants.
function numberCompareTest(op: CompareOp, c: number): ValueTest {
  const accept = acceptor(op);
  const slow = (v: DocValue | undefined): boolean =>
    (typeof v === 'bigint' || isDecimal(v)) && !isNaNValue(v) && accept(compareNumbers(v, c));
  switch (op) {
    case '$gt':
      return (v) => (typeof v === 'number' ? v > c : slow(v));
    case '$gte':
      return (v) => (typeof v === 'number' ? v >= c : slow(v));
    case '$lt':
      return (v) => (typeof v === 'number' ? v < c : slow(v));
    case '$lte':
      return (v) => (typeof v === 'number' ? v <= c : slow(v));
  }
}

function stringCompareTest(op: CompareOp, c: string): ValueTest {
  const accept = acceptor(op);
  return (v) => typeof v === 'string' && accept(compareValues(v, c));
}

// ---- $in ----------------------------------------------------------------------

/**
 * $in: equal to one of the values, or matched by one of the regexes. Strings
 * and exactly-representable numbers go through Sets; the rest are compared.
 */
export function inTest(values: readonly DocValue[], where: string): ValueTest {
  const strings = new Set<string>();
  const numbers = new Set<number>();
  const numerics: DocValue[] = []; // every numeric operand, for bigint/decimal values
  const inexact: DocValue[] = []; // numeric operands a double cannot hold exactly
  const others: DocValue[] = [];
  const regexes: ValueTest[] = [];
  let hasNull = false;
  let hasTrue = false;
  let hasFalse = false;
  for (const x of values) {
    if (typeof x === 'string') strings.add(x);
    else if (x === true) hasTrue = true;
    else if (x === false) hasFalse = true;
    else if (x === null) hasNull = true;
    else if (isBsonRegExp(x)) regexes.push(regexTest(x.pattern, x.options, where));
    else if (typeof x === 'number' || typeof x === 'bigint' || isDecimal(x)) {
      numerics.push(x);
      const d = typeof x === 'number' ? x : Number(x.toString());
      if (compareNumbers(d, x) === 0) numbers.add(d);
      else inexact.push(x);
    } else {
      if (isInOperatorObject(x)) throw badQuery(`${where}: cannot nest $ under $in`);
      others.push(x);
    }
  }
  return (v) => {
    switch (typeof v) {
      case 'string':
        if (strings.has(v)) return true;
        break;
      case 'number':
        if (numbers.has(v) || (inexact.length > 0 && inexact.some((x) => valuesEqual(v, x)))) return true;
        break;
      case 'boolean':
        return v ? hasTrue : hasFalse;
      case 'undefined':
        return hasNull;
      case 'bigint':
        return numerics.some((x) => valuesEqual(v, x));
      default:
        if (v === null) return hasNull;
        if (isDecimal(v)) return numerics.some((x) => valuesEqual(v, x));
        if (others.some((x) => valuesEqual(v, x))) return true;
    }
    for (let i = 0; i < regexes.length; i++) if (regexes[i](v)) return true;
    return false;
  };
}

function isInOperatorObject(x: DocValue): boolean {
  if (typeof x !== 'object' || x === null || Array.isArray(x) || x instanceof Date) return false;
  for (const k in x) return k.startsWith('$');
  return false;
}

// ---- $regex -------------------------------------------------------------------

/** Strings the pattern matches, and stored regexes equal to it. */
export function regexTest(pattern: string, options: string, where: string): ValueTest {
  if (pattern.includes('\0')) throw badQuery(`${where}: regular expression cannot contain an embedded null byte`);
  const re = compileRegex(pattern, options, where);
  const sorted = [...options].sort().join(''); // BSONRegExp keeps its options sorted
  return (v) => {
    if (typeof v === 'string') return re.test(v);
    return isBsonRegExp(v) && v.pattern === pattern && [...v.options].sort().join('') === sorted;
  };
}

/** The test of a BSONRegExp used as a filter value ({a: /x/}). */
export function bsonRegexTest(r: BSONRegExp, where: string): ValueTest {
  return regexTest(r.pattern, r.options, where);
}

// ---- $type, $mod, $size -------------------------------------------------------------

export function typeTest(spec: DocValue, where: string): ValueTest {
  const list = Array.isArray(spec) ? spec : [spec];
  if (list.length === 0) throw badQuery(`${where}: $type must match at least one type`);
  const wanted = new Set<number>();
  for (const t of list) for (const n of typeNumbersOf(t, where)) wanted.add(n);
  return (v) => v !== undefined && wanted.has(typeNumber(v));
}

// Types outside our value model are still valid $type operands (they match nothing).
const FOREIGN_TYPE_ALIASES: Readonly<Record<string, number>> = {
  undefined: 6,
  dbPointer: 12,
  javascript: 13,
  symbol: 14,
  javascriptWithScope: 15,
  timestamp: 17,
  minKey: -1,
  maxKey: 127,
};

const KNOWN_TYPE_NUMBERS = new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, -1, 127]);

function typeNumbersOf(t: DocValue, where: string): readonly number[] {
  if (typeof t === 'string') {
    const ns = typeNumbersOfAlias(t) ?? (Object.hasOwn(FOREIGN_TYPE_ALIASES, t) ? [FOREIGN_TYPE_ALIASES[t]] : undefined);
    if (ns === undefined) throw badQuery(`${where}: unknown type name alias: ${t}`);
    return ns;
  }
  if (typeof t === 'number' || typeof t === 'bigint' || isDecimal(t)) {
    const n = Number(t.toString());
    if (!Number.isInteger(n) || !KNOWN_TYPE_NUMBERS.has(n)) throw badQuery(`${where}: invalid numerical type code: ${n}`);
    return [n];
  }
  throw badQuery(`${where}: type must be represented as a number or a string`);
}

/** $mod: [divisor, remainder] (truncated toward zero, as MongoDB 5+ does). */
export function modTest(spec: DocValue, where: string): ValueTest {
  if (!Array.isArray(spec) || spec.length !== 2) {
    throw badQuery(`${where}: malformed mod, needs to be an array of two numbers`);
  }
  const divisor = modOperand(spec[0], where, 'divisor');
  const remainder = modOperand(spec[1], where, 'remainder');
  if (divisor === 0n) throw badQuery(`${where}: divisor cannot be 0`);
  const smallD = Number(divisor);
  const smallR = Number(remainder);
  const small = Number.isSafeInteger(smallD) && Number.isSafeInteger(smallR);
  return (v) => {
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) return false;
      const t = Math.trunc(v);
      if (small && Number.isSafeInteger(t)) return t % smallD === smallR;
      return BigInt(t) % divisor === remainder;
    }
    if (typeof v === 'bigint') return v % divisor === remainder;
    if (isDecimal(v)) {
      const d = Number(v.toString());
      return Number.isFinite(d) && BigInt(Math.trunc(d)) % divisor === remainder;
    }
    return false;
  };
}

function modOperand(x: DocValue, where: string, what: string): bigint {
  if (typeof x === 'bigint') return x;
  const n = typeof x === 'number' ? x : isDecimal(x) ? Number(x.toString()) : NaN;
  if (typeof x !== 'number' && !isDecimal(x)) throw badQuery(`${where}: malformed mod, ${what} not a number`);
  if (!Number.isFinite(n)) throw badQuery(`${where}: malformed mod, ${what} value is invalid :: caused by :: ${n}`);
  return BigInt(Math.trunc(n));
}

export function sizeTest(spec: DocValue, where: string): ValueTest {
  let n: number;
  if (typeof spec === 'number') n = spec;
  else if (typeof spec === 'bigint') n = Number(spec);
  else if (isDecimal(spec)) n = Number(spec.toString());
  else throw badQuery(`${where}: $size needs a number`);
  if (!Number.isInteger(n)) throw badQuery(`${where}: $size must be a whole number`);
  if (n < 0) throw badQuery(`${where}: $size may not be negative`);
  return (v) => Array.isArray(v) && v.length === n;
}
