// Numeric arithmetic across MongoDB's four number types as this store holds
// them: a JS number (int32 when integral and in range, else double), a bigint
// (Int64) and bson's Decimal128. The result type is the widest operand type
// (int < long < double < decimal), as MongoDB does; a long that overflows
// int64 becomes a double. Two deliberate differences from MongoDB, forced by
// the value model: int + int past int32 stays a JS number (we cannot tell an
// integral double from an int), and decimal division and the transcendental
// functions go through doubles (add, subtract and multiply are exact).

import { Decimal128 } from 'bson';
import type { DocValue } from './doc-types.js';
import { isDecimal, type Value } from './agg-expr-core.js';

export type Num = number | bigint | Decimal128;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

export function isNum(v: Value): v is Num {
  return typeof v === 'number' || typeof v === 'bigint' || isDecimal(v);
}

export function isInt32(n: number): boolean {
  return Number.isInteger(n) && n >= -2147483648 && n <= 2147483647;
}

/** 0 int/double (JS number), 1 long, 2 decimal: the widest wins. */
function rank(v: Num): number {
  if (typeof v === 'number') return 0;
  if (typeof v === 'bigint') return 1;
  return 2;
}

export function toJsNumber(v: Num): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  return Number(v.toString());
}

function longOrDouble(r: bigint): number | bigint {
  return r < INT64_MIN || r > INT64_MAX ? Number(r) : r;
}

// ---- exact decimal add/subtract/multiply on (coefficient, exponent) pairs ----

interface Dec {
  c: bigint;
  e: number;
}

function parseDec(v: Num): Dec | null {
  const s = typeof v === 'number' ? (Object.is(v, -0) ? '0' : String(v)) : v.toString();
  const m = /^(-?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(s);
  if (m === null) return null; // NaN, Infinity
  const frac = m[3] ?? '';
  const c = BigInt(`${m[1]}${m[2] || '0'}${frac}`);
  return { c, e: Number(m[4] ?? 0) - frac.length };
}

function decToValue(d: Dec): Decimal128 {
  return Decimal128.fromStringWithRounding(`${d.c}E${d.e}`);
}

function align(a: Dec, b: Dec): [bigint, bigint, number] {
  const e = Math.min(a.e, b.e);
  return [a.c * 10n ** BigInt(a.e - e), b.c * 10n ** BigInt(b.e - e), e];
}

function decimalOp(a: Num, b: Num, op: 'add' | 'sub' | 'mul'): Decimal128 {
  const x = parseDec(a);
  const y = parseDec(b);
  if (x === null || y === null) return Decimal128.fromString(String(doubleOp(toJsNumber(a), toJsNumber(b), op)));
  if (op === 'mul') return decToValue({ c: x.c * y.c, e: x.e + y.e });
  const [cx, cy, e] = align(x, y);
  return decToValue({ c: op === 'add' ? cx + cy : cx - cy, e });
}

function doubleOp(a: number, b: number, op: 'add' | 'sub' | 'mul'): number {
  if (op === 'add') return a + b;
  if (op === 'sub') return a - b;
  return a * b;
}

function longOp(a: bigint, b: bigint, op: 'add' | 'sub' | 'mul'): number | bigint {
  if (op === 'add') return longOrDouble(a + b);
  if (op === 'sub') return longOrDouble(a - b);
  return longOrDouble(a * b);
}

/** a (op) b with MongoDB's result-type widening. */
export function arith(a: Num, b: Num, op: 'add' | 'sub' | 'mul'): Num {
  const r = Math.max(rank(a), rank(b));
  if (r === 2) return decimalOp(a, b, op);
  if (r === 1) {
    // long with a double (any number outside int32) is double arithmetic
    if (typeof a === 'number' && !isInt32(a)) return doubleOp(a, Number(b), op);
    if (typeof b === 'number' && !isInt32(b)) return doubleOp(Number(a), b, op);
    return longOp(BigInt(a as number | bigint), BigInt(b as number | bigint), op);
  }
  return doubleOp(a as number, b as number, op);
}

/** Wraps a double result back into the widest input's kind (decimal stays decimal). */
export function fromDouble(result: number, like: Num): Num {
  if (isDecimal(like)) return Decimal128.fromStringWithRounding(String(result));
  return result;
}

export function isZero(v: Num): boolean {
  return toJsNumber(v) === 0;
}

/** Integral value of a number argument, or null when it is not a whole number. */
export function wholeNumber(v: DocValue | undefined): number | null {
  if (typeof v === 'number') return Number.isInteger(v) ? v : null;
  if (typeof v === 'bigint') return Number(v);
  if (isDecimal(v)) {
    const n = Number(v.toString());
    return Number.isInteger(n) ? n : null;
  }
  return null;
}

/** Sum of a numeric sequence, as $sum does (non-numbers are the caller's business). */
export function sumNums(values: Iterable<Num>): Num {
  let acc: Num = 0;
  for (const v of values) acc = arith(acc, v, 'add');
  return acc;
}

/**
 * Rounds (half to even) or truncates `v` at `place` decimal digits (negative:
 * left of the point) on its shortest decimal form, so round(2.675, 2) sees
 * the digits a user wrote rather than the binary double's expansion.
 */
export function roundAt(v: Num, place: number, mode: 'round' | 'trunc'): Num {
  if (typeof v === 'bigint' && place >= 0) return v;
  if (typeof v === 'number' && (!Number.isFinite(v) || (Number.isInteger(v) && place >= 0))) return v;
  const d = parseDec(v);
  if (d === null) return v;
  const drop = -place - d.e;
  if (drop <= 0) return v;
  const unit = 10n ** BigInt(drop);
  let q = d.c / unit; // truncates toward zero
  const rem = d.c - q * unit;
  if (mode === 'round') q += halfEvenAdjust(q, rem, unit);
  const out: Dec = { c: q, e: d.e + drop };
  if (isDecimal(v)) return decToValue(out);
  const n = Number(`${out.c}E${out.e}`);
  return typeof v === 'bigint' ? longOrDouble(BigInt(Math.round(n))) : n;
}

function halfEvenAdjust(q: bigint, rem: bigint, unit: bigint): bigint {
  const twice = (rem < 0n ? -rem : rem) * 2n;
  const sign = rem < 0n ? -1n : 1n;
  if (twice > unit) return sign;
  if (twice === unit && q % 2n !== 0n) return sign;
  return 0n;
}
