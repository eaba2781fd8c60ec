// SQL operators: PostgreSQL's operator set over our types, its overload
// resolution (exact match, then implicit casts ranked as func_select_candidate
// ranks them), and its results and errors.
//
//   + - * / %        ints (result: the wider int; overflow 22003 per type, never wraps;
//                    / truncates toward zero), numeric, float4/float8 (overflow 22003
//                    "value out of range: overflow"), / 0 and % 0 → 22012
//   unary - +        numbers, interval (-)
//   & | # << >> ~    ints
//   = <> < <= > >=   every type (the binder maps != to <>); the numeric tower, date and
//                    timestamps compare across types
//   ||               text (and text || any non-text, via its text output: 'a' || 1 = 'a1'),
//                    bytea, jsonb
//   -> ->> @> <@ ?   jsonb
//   ~~ !~~ ~~* !~~*  LIKE / ILIKE ('%', '_', backslash escape); ~ ~* !~ !~* regex (JS RegExp)
//   date/time        date ± int4, date - date, date/timestamp(tz) ± interval (months
//                    calendar-aware), timestamp - timestamp, interval ± interval, interval * / float8
//
// Operands reach `call` already cast to the operator's `left` / `right` types and non-null:
// every operator here is strict (NULL in, NULL out), which the caller handles.

import { sqlError } from './sql-errors.js';
import { INT_RANGE, Interval, Jsonb, TYPE_DISPLAY, type SqlType, type Value } from './sql-types.js';
import {
  checkInt,
  compareJsonb,
  compareValues,
  daysFromCivil,
  daysInMonth,
  formatJsonb,
  implicitCastable,
  intOutOfRange,
  isPreferredType,
  timestampFields,
  toFloat4,
  typeCategory,
  US_PER_DAY,
} from './sql-cast.js';
import { normalizeInt64 } from '../../shared/tables/table-types.js';

export type OperatorImpl = {
  readonly returns: SqlType;
  /** null: a prefix operator. */
  readonly left: SqlType | null;
  readonly right: SqlType;
  call(l: Value, r: Value): Value;
};

// ---------------------------------------------------------------------------
// Overload resolution (shared with functions)

/** A candidate of an overloaded operator or function: its parameter types. */
export type Candidate = { readonly params: readonly SqlType[] };

/**
 * PostgreSQL's overload resolution (func_select_candidate) over `candidates` for `args`:
 * an exact match wins (an unknown argument may take the type of the other side, for
 * binary operators); else the candidates every argument casts to implicitly, narrowed to
 * the most exact matches, then to the most exact-or-preferred-in-the-argument's-category
 * matches (known arguments only), then — for unknown arguments — to the string category or
 * the one category all accept.
 * Returns the single survivor, null when none fits, 'ambiguous' when several remain.
 */
export function selectCandidate<C extends Candidate>(candidates: readonly C[], args: readonly SqlType[], binaryOperator = false): C | null | 'ambiguous' {
  const sameArity = candidates.filter((c) => c.params.length === args.length);
  const exact = sameArity.find((c) => c.params.every((p, i) => p === args[i]));
  if (exact !== undefined) return exact;
  if (binaryOperator && args.length === 2 && (args[0] === 'unknown') !== (args[1] === 'unknown')) {
    const known = args[0] === 'unknown' ? args[1] : args[0];
    const asKnown = sameArity.find((c) => c.params[0] === known && c.params[1] === known);
    if (asKnown !== undefined) return asKnown;
  }
  let list = sameArity.filter((c) => c.params.every((p, i) => implicitCastable(args[i], p)));
  if (list.length <= 1) return list[0] ?? null;
  // Most exact matches, then most "exact or the preferred type of the argument's category",
  // both over the known arguments only.
  list = keepMax(list, (c) => c.params.filter((p, i) => args[i] !== 'unknown' && p === args[i]).length);
  if (list.length === 1) return list[0];
  list = keepMax(list, (c) => c.params.filter((p, i) => args[i] !== 'unknown' && (p === args[i] || (isPreferredType(p) && typeCategory(p) === typeCategory(args[i])))).length);
  if (list.length === 1) return list[0];
  // Unknown arguments: prefer the string category, else the one category every candidate takes.
  for (let i = 0; i < args.length; i++) {
    if (args[i] !== 'unknown') continue;
    const categories = new Set(list.map((c) => typeCategory(c.params[i])));
    if (categories.has('S')) list = list.filter((c) => typeCategory(c.params[i]) === 'S');
    else if (categories.size > 1) return 'ambiguous';
    // Within the category, the preferred type if a candidate takes it.
    if (list.some((c) => isPreferredType(c.params[i]))) list = list.filter((c) => isPreferredType(c.params[i]));
  }
  return list.length === 1 ? list[0] : 'ambiguous';
}

function keepMax<C>(list: C[], score: (c: C) => number): C[] {
  const scores = list.map(score);
  const max = Math.max(...scores);
  return list.filter((_, i) => scores[i] === max);
}

// ---------------------------------------------------------------------------
// The operator table

type Op = OperatorImpl & Candidate & { readonly name: string };

const OPERATORS = new Map<string, Op[]>();

function def(name: string, left: SqlType | null, right: SqlType, returns: SqlType, call: (l: Value, r: Value) => Value): void {
  const params = left === null ? [right] : [left, right];
  const list = OPERATORS.get(name) ?? [];
  list.push({ name, left, right, returns, params, call });
  OPERATORS.set(name, list);
}

const INTS: readonly SqlType[] = ['int2', 'int4', 'int8'];
const FLOATS: readonly SqlType[] = ['float4', 'float8'];
const COMPARISONS = ['=', '<>', '<', '<=', '>', '>='] as const;

function wider(a: SqlType, b: SqlType): SqlType {
  return INTS.indexOf(a) >= INTS.indexOf(b) ? a : b;
}

function divisionByZero(): Error {
  return sqlError('22012', 'division by zero');
}

// Integer arithmetic: exact in doubles while within 2^53, else in bigint; each type's range checked.
type IntFn = (a: number, b: number) => number;
type BigFn = (a: bigint, b: bigint) => bigint;

function intArith(type: SqlType, fn: IntFn, big: BigFn): (l: Value, r: Value) => Value {
  const [lo, hi] = INT_RANGE[type];
  const nlo = Number(lo);
  const nhi = Number(hi);
  if (type !== 'int8') {
    // int2 / int4 results are exact doubles (products < 2^62 lose nothing that matters for the range test).
    return (l, r) => {
      const x = fn(l as number, r as number);
      if (x < nlo || x > nhi) throw intOutOfRange(type);
      return x + 0;
    };
  }
  return (l, r) => {
    if (typeof l === 'number' && typeof r === 'number') {
      const x = fn(l, r);
      if (Number.isSafeInteger(x)) return x + 0;
    }
    const x = big(BigInt(l as number | bigint), BigInt(r as number | bigint));
    if (x < lo || x > hi) throw intOutOfRange(type);
    return normalizeInt64(x);
  };
}

for (const a of INTS) {
  for (const b of INTS) {
    const t = wider(a, b);
    def('+', a, b, t, intArith(t, (x, y) => x + y, (x, y) => x + y));
    def('-', a, b, t, intArith(t, (x, y) => x - y, (x, y) => x - y));
    def('*', a, b, t, intArith(t, (x, y) => x * y, (x, y) => x * y));
    // Doubles divide exactly enough below 2^31; larger dividends go through bigint (NaN: not a safe integer).
    const div = intArith(t, (x, y) => (Math.abs(x) <= 2 ** 31 ? Math.trunc(x / y) : NaN), (x, y) => x / y);
    def('/', a, b, t, (l, r) => {
      if (r === 0) throw divisionByZero();
      return div(l, r);
    });
    for (const op of COMPARISONS) def(op, a, b, 'bool', comparison(op, 'int8'));
  }
  // % only between equal types (PostgreSQL has no cross-type int modulo; casts get there).
  const mod = intArith(a, (x, y) => x % y, (x, y) => x % y);
  def('%', a, a, a, (l, r) => {
    if (r === 0) throw divisionByZero();
    return mod(l, r);
  });
  def('-', null, a, a, (_, r) => checkInt(typeof r === 'bigint' ? -r : -(r as number), a));
  def('+', null, a, a, (_, r) => r);
  // Bitwise: & | # between equal types, shifts by an int4, ~ prefix.
  const bit = (fn: BigFn) => (l: Value, r: Value) => checkInt(BigInt.asIntN(a === 'int2' ? 16 : a === 'int4' ? 32 : 64, fn(BigInt(l as number), BigInt(r as number))), a);
  def('&', a, a, a, bit((x, y) => x & y));
  def('|', a, a, a, bit((x, y) => x | y));
  def('#', a, a, a, bit((x, y) => x ^ y));
  def('<<', a, 'int4', a, bit((x, y) => x << y));
  def('>>', a, 'int4', a, bit((x, y) => x >> y));
  def('~', null, a, a, (_, r) => checkInt(typeof r === 'bigint' ? ~r : ~BigInt(r as number), a));
}

/** A float result's overflow / underflow check (PostgreSQL's float_overflow_error). */
function checkFloat(x: number, inputsFinite: boolean, type: SqlType): number {
  if (!Number.isFinite(x) && !Number.isNaN(x) && inputsFinite) {
    throw sqlError('22003', type === 'numeric' ? 'value overflows numeric format' : 'value out of range: overflow');
  }
  return type === 'float4' ? toFloat4(x) : x;
}

function floatArith(type: SqlType, fn: (a: number, b: number) => number): (l: Value, r: Value) => Value {
  return (l, r) => {
    const a = l as number;
    const b = r as number;
    const x = fn(a, b);
    if (x === 0 && a !== 0 && fn === mul && b !== 0 && type !== 'numeric') throw sqlError('22003', 'value out of range: underflow');
    return checkFloat(x, Number.isFinite(a) && Number.isFinite(b), type);
  };
}

const mul = (a: number, b: number): number => a * b;

/** The digits after the decimal point of a double's shortest text (0.25 → 2, 1e-7 → 7). */
function decimalScale(x: number): number {
  const s = String(x);
  const e = s.indexOf('e');
  const point = s.indexOf('.');
  const frac = point < 0 ? 0 : (e < 0 ? s.length : e) - point - 1;
  return e < 0 ? frac : Math.max(0, frac - Number(s.slice(e + 1)));
}

/**
 * numeric + - *: PostgreSQL's result is exact at scale max(s1, s2) (+, -) or s1 + s2 (*); ours
 * is a double, rounded back to that scale so that 0.1 + 0.2 is 0.3 as in PostgreSQL.
 */
function numericArith(fn: (a: number, b: number) => number, scale: (sa: number, sb: number) => number): (l: Value, r: Value) => Value {
  const raw = floatArith('numeric', fn);
  return (l, r) => {
    const x = raw(l, r) as number;
    if (!Number.isFinite(x) || Number.isInteger(x) || Math.abs(x) >= 1e21) return x;
    const s = scale(decimalScale(l as number), decimalScale(r as number));
    return s <= 20 ? Number(x.toFixed(s)) + 0 : x;
  };
}

def('+', 'numeric', 'numeric', 'numeric', numericArith((x, y) => x + y, Math.max));
def('-', 'numeric', 'numeric', 'numeric', numericArith((x, y) => x - y, Math.max));
def('*', 'numeric', 'numeric', 'numeric', numericArith(mul, (a, b) => a + b));

for (const a of [...FLOATS, 'numeric' as SqlType]) {
  for (const b of a === 'numeric' ? ['numeric' as SqlType] : FLOATS) {
    const t = a === 'float4' && b === 'float4' ? 'float4' : a === 'numeric' ? 'numeric' : 'float8';
    if (t !== 'numeric') {
      def('+', a, b, t, floatArith(t, (x, y) => x + y));
      def('-', a, b, t, floatArith(t, (x, y) => x - y));
      def('*', a, b, t, floatArith(t, mul));
    }
    def('/', a, b, t, (l, r) => {
      if (r === 0) throw divisionByZero();
      return floatArith(t, (x, y) => x / y)(l, r);
    });
    for (const op of COMPARISONS) def(op, a, b, 'bool', comparison(op, 'float8'));
  }
  def('-', null, a, a, (_, r) => -(r as number));
  def('+', null, a, a, (_, r) => r);
}
def('%', 'numeric', 'numeric', 'numeric', (l, r) => {
  if (r === 0) throw divisionByZero();
  return ((l as number) % (r as number)) + 0;
});

function comparison(op: (typeof COMPARISONS)[number], type: SqlType): (l: Value, r: Value) => Value {
  switch (op) {
    case '=':
      return (l, r) => compareValues(l, r, type) === 0;
    case '<>':
      return (l, r) => compareValues(l, r, type) !== 0;
    case '<':
      return (l, r) => compareValues(l, r, type) < 0;
    case '<=':
      return (l, r) => compareValues(l, r, type) <= 0;
    case '>':
      return (l, r) => compareValues(l, r, type) > 0;
    case '>=':
      return (l, r) => compareValues(l, r, type) >= 0;
  }
}

for (const t of ['bool', 'text', 'bytea', 'interval', 'uuid', 'jsonb'] as const) {
  for (const op of COMPARISONS) def(op, t, t, 'bool', comparison(op, t));
}
const DATETIMES: readonly SqlType[] = ['date', 'timestamp', 'timestamptz'];
for (const a of DATETIMES) {
  for (const b of DATETIMES) for (const op of COMPARISONS) def(op, a, b, 'bool', comparison(op, 'timestamp'));
}

// ---------------------------------------------------------------------------
// Text, bytea and jsonb

def('||', 'text', 'text', 'text', (l, r) => (l as string) + (r as string));
def('||', 'bytea', 'bytea', 'bytea', (l, r) => {
  const a = l as Uint8Array;
  const b = r as Uint8Array;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
});
def('||', 'jsonb', 'jsonb', 'jsonb', (l, r) => new Jsonb(jsonbConcat((l as Jsonb).value, (r as Jsonb).value)));

/** jsonb || jsonb: objects merge (right wins), otherwise arrays concatenate (a scalar as a one-element array). */
function jsonbConcat(a: unknown, b: unknown): unknown {
  const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (isObj(a) && isObj(b)) return { ...a, ...b };
  return [...(Array.isArray(a) ? a : [a]), ...(Array.isArray(b) ? b : [b])];
}

function jsonbGet(j: unknown, key: Value): unknown {
  if (typeof key === 'string') {
    if (j === null || typeof j !== 'object' || Array.isArray(j)) return undefined;
    return Object.hasOwn(j, key) ? (j as Record<string, unknown>)[key] : undefined;
  }
  if (!Array.isArray(j)) return undefined;
  let i = Number(key);
  if (i < 0) i += j.length;
  return i >= 0 && i < j.length ? j[i] : undefined;
}

for (const k of ['int4', 'text'] as const) {
  def('->', 'jsonb', k, 'jsonb', (l, r) => {
    const v = jsonbGet((l as Jsonb).value, r);
    return v === undefined ? null : new Jsonb(v);
  });
  def('->>', 'jsonb', k, 'text', (l, r) => {
    const v = jsonbGet((l as Jsonb).value, r);
    if (v === undefined || v === null) return null;
    return typeof v === 'string' ? v : formatJsonb(v);
  });
}

/** PostgreSQL's jsonb containment (@>): objects by key, arrays by elements in any order; a top-level array contains a scalar. */
export function jsonbContains(a: unknown, b: unknown, top = true): boolean {
  if (Array.isArray(a)) {
    if (Array.isArray(b)) return b.every((y) => a.some((x) => jsonbContains(x, y, false)));
    if (top && (b === null || typeof b !== 'object')) return a.some((x) => compareJsonb(x, b) === 0);
    return false;
  }
  if (a !== null && typeof a === 'object') {
    if (b === null || typeof b !== 'object' || Array.isArray(b)) return false;
    const x = a as Record<string, unknown>;
    return Object.entries(b as Record<string, unknown>).every(([k, v]) => Object.hasOwn(x, k) && jsonbContains(x[k], v, false));
  }
  if (Array.isArray(b) || (b !== null && typeof b === 'object')) return false;
  return compareJsonb(a, b) === 0;
}

def('@>', 'jsonb', 'jsonb', 'bool', (l, r) => jsonbContains((l as Jsonb).value, (r as Jsonb).value));
def('<@', 'jsonb', 'jsonb', 'bool', (l, r) => jsonbContains((r as Jsonb).value, (l as Jsonb).value));
def('?', 'jsonb', 'text', 'bool', (l, r) => {
  const j = (l as Jsonb).value;
  if (Array.isArray(j)) return j.some((x) => x === r);
  if (j !== null && typeof j === 'object') return Object.hasOwn(j, r as string);
  return j === r;
});

// ---------------------------------------------------------------------------
// LIKE and regular expressions

const PATTERN_CACHE = new Map<string, RegExp>();

function cached(key: string, build: () => RegExp): RegExp {
  let re = PATTERN_CACHE.get(key);
  if (re === undefined) {
    if (PATTERN_CACHE.size >= 1000) PATTERN_CACHE.clear();
    re = build();
    PATTERN_CACHE.set(key, re);
  }
  return re;
}

/** A LIKE pattern as a RegExp: % any run, _ one character (newlines included), backslash escapes the next character. */
export function likeRegExp(pattern: string, caseInsensitive: boolean): RegExp {
  return cached(`${caseInsensitive ? 'I' : 'L'}${pattern}`, () => {
    let src = '';
    const chars = Array.from(pattern);
    for (let i = 0; i < chars.length; i++) {
      const c = chars[i];
      if (c === '\\') {
        // A trailing escape: PostgreSQL fails the match (it errors only when text remains at that
        // point, 22025 "LIKE pattern must not end with escape character"; we answer false then too).
        src += i + 1 >= chars.length ? '(?!)' : escapeRegExp(chars[++i]);
      } else if (c === '%') {
        src += '[^]*';
      } else if (c === '_') {
        src += '[^]';
      } else {
        src += escapeRegExp(c);
      }
    }
    return new RegExp(`^${src}$`, caseInsensitive ? 'iu' : 'u');
  });
}

function escapeRegExp(c: string): string {
  return /[\\^$.*+?()[\]{}|/-]/.test(c) ? `\\${c}` : c;
}

/** A POSIX regular expression (PostgreSQL's ~) approximated by a JS RegExp. */
export function posixRegExp(pattern: string, caseInsensitive: boolean): RegExp {
  return cached(`${caseInsensitive ? 'R' : 'r'}${pattern}`, () => {
    try {
      return new RegExp(pattern, caseInsensitive ? 'iu' : 'u');
    } catch (e) {
      throw sqlError('2201B', `invalid regular expression: ${(e as Error).message}`);
    }
  });
}

def('~~', 'text', 'text', 'bool', (l, r) => likeRegExp(r as string, false).test(l as string));
def('!~~', 'text', 'text', 'bool', (l, r) => !likeRegExp(r as string, false).test(l as string));
def('~~*', 'text', 'text', 'bool', (l, r) => likeRegExp(r as string, true).test(l as string));
def('!~~*', 'text', 'text', 'bool', (l, r) => !likeRegExp(r as string, true).test(l as string));
def('~', 'text', 'text', 'bool', (l, r) => posixRegExp(r as string, false).test(l as string));
def('!~', 'text', 'text', 'bool', (l, r) => !posixRegExp(r as string, false).test(l as string));
def('~*', 'text', 'text', 'bool', (l, r) => posixRegExp(r as string, true).test(l as string));
def('!~*', 'text', 'text', 'bool', (l, r) => !posixRegExp(r as string, true).test(l as string));

// ---------------------------------------------------------------------------
// Dates, timestamps, intervals

function intervalOutOfRange(): Error {
  return sqlError('22008', 'interval out of range');
}

function timestampOutOfRange(): Error {
  return sqlError('22008', 'timestamp out of range');
}

// PostgreSQL's timestamps run from 4713-11-24 BC to 294276 AD; past 2^53 µs (year ~287396)
// our doubles lose microseconds, so that is our upper end.
const TS_MIN = daysFromCivil(-4713, 11, 24) * US_PER_DAY;

function checkTimestamp(ts: number): number {
  if (Number.isFinite(ts) && (ts < TS_MIN || ts > Number.MAX_SAFE_INTEGER)) throw timestampOutOfRange();
  return ts;
}

/** timestamp + interval: months on the calendar (the day clamped to the month's end), then days, then µs. */
export function addInterval(ts: number, iv: Interval): number {
  if (!Number.isFinite(ts)) return ts;
  let t = ts;
  if (iv.months !== 0) {
    const f = timestampFields(t);
    const total = f.y * 12 + (f.m - 1) + iv.months;
    const y = Math.floor(total / 12);
    const m = total - y * 12 + 1;
    const d = Math.min(f.d, daysInMonth(y, m));
    t = daysFromCivil(y, m, d) * US_PER_DAY + (t - f.days * US_PER_DAY);
  }
  return checkTimestamp(t + iv.days * US_PER_DAY + iv.us);
}

function negateInterval(iv: Interval): Interval {
  return new Interval(-iv.months + 0, -iv.days + 0, -iv.us + 0);
}

/** timestamp - timestamp: days and µs (PostgreSQL's justify_hours of the difference), no months. */
function timestampDiff(a: number, b: number): Interval {
  if (!Number.isFinite(a) || !Number.isFinite(b)) throw sqlError('22008', 'cannot subtract infinite timestamps');
  const diff = a - b;
  const days = Math.trunc(diff / US_PER_DAY);
  return new Interval(0, days + 0, diff - days * US_PER_DAY + 0);
}

/** interval * factor, PostgreSQL's interval_mul: fractions of months cascade to days (30), of days to µs. */
export function multiplyInterval(iv: Interval, factor: number): Interval {
  const monthsF = iv.months * factor;
  if (Number.isNaN(monthsF) || Math.abs(monthsF) > 2147483647) throw intervalOutOfRange();
  const months = Math.trunc(monthsF);
  const daysF = iv.days * factor;
  if (Math.abs(daysF) > 2147483647) throw intervalOutOfRange();
  let days = Math.trunc(daysF);
  const monthRemainderDays = tsRound((monthsF - months) * 30);
  let secRemainder = tsRound((daysF - days + monthRemainderDays - Math.trunc(monthRemainderDays)) * 86400);
  if (Math.abs(secRemainder) >= 86400) {
    days += Math.trunc(secRemainder / 86400);
    secRemainder -= Math.trunc(secRemainder / 86400) * 86400;
  }
  days += Math.trunc(monthRemainderDays);
  const us = Math.round(iv.us * factor + secRemainder * 1e6);
  if (!Number.isFinite(us)) throw intervalOutOfRange();
  return new Interval(months + 0, days + 0, us + 0);
}

/** PostgreSQL's TSROUND: to microsecond precision. */
function tsRound(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

def('+', 'date', 'int4', 'date', (l, r) => checkTimestamp((l as number) + (r as number) * US_PER_DAY));
def('+', 'int4', 'date', 'date', (l, r) => checkTimestamp((r as number) + (l as number) * US_PER_DAY));
def('-', 'date', 'int4', 'date', (l, r) => checkTimestamp((l as number) - (r as number) * US_PER_DAY));
def('-', 'date', 'date', 'int4', (l, r) => {
  if (!Number.isFinite(l as number) || !Number.isFinite(r as number)) throw sqlError('22008', 'cannot subtract infinite dates');
  return Math.round(((l as number) - (r as number)) / US_PER_DAY) + 0;
});
for (const t of ['date', 'timestamp', 'timestamptz'] as const) {
  const result = t === 'date' ? 'timestamp' : t;
  def('+', t, 'interval', result, (l, r) => addInterval(l as number, r as Interval));
  def('+', 'interval', t, result, (l, r) => addInterval(r as number, l as Interval));
  def('-', t, 'interval', result, (l, r) => addInterval(l as number, negateInterval(r as Interval)));
}
def('-', 'timestamp', 'timestamp', 'interval', (l, r) => timestampDiff(l as number, r as number));
def('-', 'timestamptz', 'timestamptz', 'interval', (l, r) => timestampDiff(l as number, r as number));
def('+', 'interval', 'interval', 'interval', (l, r) => addIntervals(l as Interval, r as Interval));
def('-', 'interval', 'interval', 'interval', (l, r) => addIntervals(l as Interval, negateInterval(r as Interval)));
def('-', null, 'interval', 'interval', (_, r) => negateInterval(r as Interval));
def('+', null, 'interval', 'interval', (_, r) => r);
def('*', 'interval', 'float8', 'interval', (l, r) => multiplyInterval(l as Interval, r as number));
def('*', 'float8', 'interval', 'interval', (l, r) => multiplyInterval(r as Interval, l as number));
def('/', 'interval', 'float8', 'interval', (l, r) => {
  if (r === 0) throw divisionByZero();
  return multiplyInterval(l as Interval, 1 / (r as number));
});

function addIntervals(a: Interval, b: Interval): Interval {
  const months = a.months + b.months;
  const days = a.days + b.days;
  if (Math.abs(months) > 2147483647 || Math.abs(days) > 2147483647) throw intervalOutOfRange();
  return new Interval(months, days, a.us + b.us);
}

// ---------------------------------------------------------------------------
// Resolution

/** `text || x` / `x || text` for a non-text x: PostgreSQL's anytextcat / textanycat (x's text output). */
function textConcatAny(left: SqlType, right: SqlType): OperatorImpl | null {
  const texty = (t: SqlType): boolean => t === 'text' || t === 'unknown';
  if (left === 'unknown' && right === 'unknown') return null;
  if (!texty(left) && !texty(right)) return null;
  // An unknown literal next to a type with its own || takes that type (bytea || 'a' is bytea's).
  const textSide = texty(left) ? left : right;
  const other = texty(left) ? right : left;
  if (textSide === 'unknown' && (other === 'bytea' || other === 'jsonb')) return null;
  return { returns: 'text', left: 'text', right: 'text', call: (l, r) => (l as string) + (r as string) };
}

function operatorName(op: string, left: SqlType | null, right: SqlType): string {
  return left === null ? `${op} ${TYPE_DISPLAY[right]}` : `${TYPE_DISPLAY[left]} ${op} ${TYPE_DISPLAY[right]}`;
}

/**
 * The operator `op` for operand types `left` (null: prefix) and `right`, by PostgreSQL's rules:
 * 42883 "operator does not exist: integer + text" when none fits, 42725 "operator is not
 * unique: …" when several do. An unknown operand takes the other side's type; unknown vs
 * unknown is text (for comparisons, LIKE, ||).
 */
export function resolveOperator(op: string, left: SqlType | null, right: SqlType, location?: number): OperatorImpl {
  const name = op === '!=' ? '<>' : op;
  if (name === '||' && left !== null) {
    const exact = OPERATORS.get('||')?.find((o) => o.left === left && o.right === right);
    if (exact === undefined && (left === 'unknown' || right === 'unknown' || left === 'text' || right === 'text')) {
      const viaText = textConcatAny(left, right);
      if (viaText !== null) return viaText;
      if (left === 'unknown' && right === 'unknown') return resolveOperator('||', 'text', 'text', location);
    }
  }
  const candidates = OPERATORS.get(name) ?? [];
  const args = left === null ? [right] : [left, right];
  const found = selectCandidate(candidates.filter((c) => (c.left === null) === (left === null)), args, left !== null);
  if (found === 'ambiguous') {
    throw sqlError('42725', `operator is not unique: ${operatorName(op, left, right)}`, location);
  }
  if (found === null) throw sqlError('42883', `operator does not exist: ${operatorName(op, left, right)}`, location);
  return found;
}
