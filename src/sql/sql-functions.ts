// SQL scalar functions: PostgreSQL's built-ins over our types, resolved with
// PostgreSQL's overload rules (selectCandidate, shared with the operators) and
// answering with its results and errors.
//
//   math      abs, round (float8: ties to even; numeric: ties away, with a scale), trunc, floor,
//             ceil/ceiling, sign, sqrt, cbrt, power/pow, exp, ln, log (base 10, or log(b, x)),
//             mod, pi, random
//   text      length/char_length/character_length, octet_length, lower, upper, initcap,
//             substr/substring, btrim/ltrim/rtrim, replace, concat, concat_ws, position/strpos,
//             left, right, repeat, reverse, split_part, starts_with, lpad, rpad, md5, ascii, chr
//   time      now/current_timestamp/transaction_timestamp/statement_timestamp (the statement's
//             start), clock_timestamp, current_date, localtimestamp, extract (numeric),
//             date_part (float8), date_trunc, make_date, age
//   jsonb     jsonb_typeof, jsonb_array_length, to_jsonb, jsonb_build_object, jsonb_build_array
//   uuid      gen_random_uuid
//
// Aggregates, window functions and the special forms (COALESCE, NULLIF, GREATEST, LEAST,
// CASE) live with the planner and executor.

import { createHash, randomUUID } from 'node:crypto';
import { sqlError } from './sql-errors.js';
import { Interval, Jsonb, TYPE_DISPLAY, type SqlType, type Value } from './sql-types.js';
import {
  checkInt,
  civilFromDays,
  daysFromCivil,
  daysInMonth,
  floorToDay,
  formatNumeric,
  formatRfc3339,
  roundHalfAway,
  roundHalfEven,
  timestampFields,
  US_PER_DAY,
  US_PER_HOUR,
  US_PER_MINUTE,
  US_PER_SECOND,
  valueToJson,
  valueToText,
} from './sql-cast.js';
import { selectCandidate, type Candidate } from './sql-operators.js';

export type EvalContext = {
  /** The statement's start time, µs since the epoch (now(), current_timestamp). */
  readonly nowUs: number;
};

export type FunctionImpl = {
  readonly returns: SqlType;
  /** The types the caller casts each argument to (implicit casts); for variadic ones, one per argument given. */
  readonly args: readonly SqlType[];
  /** NULL in any argument → NULL, without calling. */
  readonly strict: boolean;
  /** A new value each call (random(), clock_timestamp()): never folded as a constant. */
  readonly volatile: boolean;
  call(args: Value[], ctx: EvalContext): Value;
};

type Fn = FunctionImpl & Candidate;

const FUNCTIONS = new Map<string, Fn[]>();

type Options = { readonly strict?: boolean; readonly volatile?: boolean };

function def(names: string | readonly string[], args: readonly SqlType[], returns: SqlType, call: (a: Value[], ctx: EvalContext) => Value, options: Options = {}): void {
  for (const name of typeof names === 'string' ? [names] : names) {
    const list = FUNCTIONS.get(name) ?? [];
    list.push({ returns, args, params: args, strict: options.strict ?? true, volatile: options.volatile ?? false, call });
    FUNCTIONS.set(name, list);
  }
}

// ---------------------------------------------------------------------------
// Math

for (const t of ['int2', 'int4', 'int8'] as const) {
  def('abs', [t], t, ([x]) => checkInt(typeof x === 'bigint' ? (x < 0n ? -x : x) : Math.abs(x as number), t));
  def('mod', [t, t], t, ([x, y]) => {
    if (y === 0) throw sqlError('22012', 'division by zero');
    if (typeof x === 'bigint' || typeof y === 'bigint') return checkInt(BigInt(x as number) % BigInt(y as number), t);
    return ((x as number) % (y as number)) + 0;
  });
}
for (const t of ['numeric', 'float4', 'float8'] as const) def('abs', [t], t, ([x]) => Math.abs(x as number));
def('mod', ['numeric', 'numeric'], 'numeric', ([x, y]) => {
  if (y === 0) throw sqlError('22012', 'division by zero');
  return ((x as number) % (y as number)) + 0;
});

/**
 * Decimal rounding of a double at `scale` digits after the point (negative: before it), on its
 * shortest decimal text so that round(2.675, 2) is 2.68 as PostgreSQL's exact numeric gives.
 * `away`: ties away from zero (round); else truncate (trunc).
 */
export function roundDecimal(x: number, scale: number, away: boolean): number {
  if (!Number.isFinite(x)) return x;
  const text = formatNumeric(Math.abs(x));
  const point = text.indexOf('.');
  const intPart = point < 0 ? text : text.slice(0, point);
  const fracPart = point < 0 ? '' : text.slice(point + 1);
  // All digits, and where the kept ones end.
  const digits = intPart + fracPart;
  const keep = intPart.length + scale;
  if (keep >= digits.length) return x;
  if (keep < 0) return 0;
  let kept = BigInt(digits.slice(0, keep) || '0');
  if (away && digits.charCodeAt(keep) >= 0x35 /* '5' */) kept += 1n;
  const value = Number(`${kept}e${-scale}`);
  return x < 0 ? -value : value;
}

def('round', ['float8'], 'float8', ([x]) => roundHalfEven(x as number));
def('round', ['numeric'], 'numeric', ([x]) => roundHalfAway(x as number) + 0);
def('round', ['numeric', 'int4'], 'numeric', ([x, s]) => roundDecimal(x as number, s as number, true) + 0);
def('trunc', ['float8'], 'float8', ([x]) => Math.trunc(x as number));
def('trunc', ['numeric'], 'numeric', ([x]) => Math.trunc(x as number) + 0);
def('trunc', ['numeric', 'int4'], 'numeric', ([x, s]) => roundDecimal(x as number, s as number, false) + 0);
for (const t of ['float8', 'numeric'] as const) {
  const z = t === 'numeric' ? (x: number): number => x + 0 : (x: number): number => x; // numeric has no -0
  def('floor', [t], t, ([x]) => z(Math.floor(x as number)));
  def(['ceil', 'ceiling'], [t], t, ([x]) => z(Math.ceil(x as number)));
  def('sign', [t], t, ([x]) => z(Math.sign(x as number)));
  def('sqrt', [t], t, ([x]) => {
    if ((x as number) < 0) throw sqlError('2201F', 'cannot take square root of a negative number');
    return Math.sqrt(x as number);
  });
  def(['power', 'pow'], [t, t], t, ([x, y]) => power(x as number, y as number));
  def('exp', [t], t, ([x]) => floatResult(Math.exp(x as number), x as number));
  def('ln', [t], t, ([x]) => Math.log(logArg(x as number)));
  def('log', [t], t, ([x]) => Math.log10(logArg(x as number)));
}
def('log', ['numeric', 'numeric'], 'numeric', ([b, x]) => {
  const lb = Math.log(logArg(b as number));
  if (lb === 0) throw sqlError('22012', 'division by zero');
  return Math.log(logArg(x as number)) / lb;
});
def('cbrt', ['float8'], 'float8', ([x]) => Math.cbrt(x as number));
def('pi', [], 'float8', () => Math.PI);
def('random', [], 'float8', () => Math.random(), { volatile: true });

function logArg(x: number): number {
  if (x === 0) throw sqlError('2201E', 'cannot take logarithm of zero');
  if (x < 0) throw sqlError('2201E', 'cannot take logarithm of a negative number');
  return x;
}

function floatResult(r: number, ...inputs: number[]): number {
  if (!Number.isFinite(r) && !Number.isNaN(r) && inputs.every(Number.isFinite)) throw sqlError('22003', 'value out of range: overflow');
  return r;
}

function power(x: number, y: number): number {
  if (x === 0 && y < 0) throw sqlError('2201F', 'zero raised to a negative power is undefined');
  if (x < 0 && !Number.isInteger(y) && Number.isFinite(y)) {
    throw sqlError('2201F', 'a negative number raised to a non-integer power yields a complex result');
  }
  return floatResult(x ** y, x, y);
}

// ---------------------------------------------------------------------------
// Text

const SURROGATE = /[\uD800-\uDFFF]/;

/** A string's characters (code points, as PostgreSQL counts them in UTF-8). */
function chars(s: string): string[] | string {
  return SURROGATE.test(s) ? Array.from(s) : s;
}

function charLength(s: string): number {
  return SURROGATE.test(s) ? Array.from(s).length : s.length;
}

/** Characters [from, to) of s, 0-based, clamped. */
function sliceChars(s: string, from: number, to: number): string {
  const c = chars(s);
  const a = Math.max(0, from);
  const b = Math.min(c.length, to);
  if (b <= a) return '';
  return typeof c === 'string' ? c.slice(a, b) : c.slice(a, b).join('');
}

/** PostgreSQL's substr: 1-based `start` (may be ≤ 0: the window still counts from it), optional length. */
export function substr(s: string, start: number, length?: number): string {
  if (length === undefined) return sliceChars(s, start - 1, Infinity);
  if (length < 0) throw sqlError('22011', 'negative substring length not allowed');
  return sliceChars(s, start - 1, start - 1 + length);
}

function trimChars(s: string, set: string, leading: boolean, trailing: boolean): string {
  const c = Array.from(s);
  const drop = new Set(Array.from(set));
  let a = 0;
  let b = c.length;
  if (leading) while (a < b && drop.has(c[a])) a++;
  if (trailing) while (b > a && drop.has(c[b - 1])) b--;
  return c.slice(a, b).join('');
}

/** The longest text lpad, rpad and repeat build (characters): past it, 54000 as PostgreSQL's "requested length too large". */
const BUILT_TEXT_MAX = 16 * 1024 * 1024;

function tooLong(n: number): void {
  if (n > BUILT_TEXT_MAX) throw sqlError('54000', 'requested length too large');
}

function pad(s: string, len: number, fill: string, left: boolean): string {
  if (len <= 0) return '';
  tooLong(len);
  const c = Array.from(s);
  if (c.length >= len) return c.slice(0, len).join('');
  const f = Array.from(fill);
  if (f.length === 0) return s;
  const need = len - c.length;
  const unit = f.join('');
  const padding = f.length === 1 ? unit.repeat(need) : unit.repeat(Math.floor(need / f.length)) + f.slice(0, need % f.length).join('');
  return left ? padding + s : s + padding;
}

def(['length', 'char_length', 'character_length'], ['text'], 'int4', ([s]) => charLength(s as string));
def('length', ['bytea'], 'int4', ([b]) => (b as Uint8Array).length);
def('octet_length', ['text'], 'int4', ([s]) => Buffer.byteLength(s as string));
def('octet_length', ['bytea'], 'int4', ([b]) => (b as Uint8Array).length);
def('lower', ['text'], 'text', ([s]) => (s as string).toLowerCase());
def('upper', ['text'], 'text', ([s]) => (s as string).toUpperCase());
def('initcap', ['text'], 'text', ([s]) => (s as string).toLowerCase().replace(/(^|[^\p{L}\p{N}])(\p{L})/gu, (_, p: string, c: string) => p + c.toUpperCase()));
def(['substr', 'substring'], ['text', 'int4'], 'text', ([s, a]) => substr(s as string, a as number));
def(['substr', 'substring'], ['text', 'int4', 'int4'], 'text', ([s, a, n]) => substr(s as string, a as number, n as number));
def('btrim', ['text'], 'text', ([s]) => trimChars(s as string, ' ', true, true));
def('btrim', ['text', 'text'], 'text', ([s, c]) => trimChars(s as string, c as string, true, true));
def('ltrim', ['text'], 'text', ([s]) => trimChars(s as string, ' ', true, false));
def('ltrim', ['text', 'text'], 'text', ([s, c]) => trimChars(s as string, c as string, true, false));
def('rtrim', ['text'], 'text', ([s]) => trimChars(s as string, ' ', false, true));
def('rtrim', ['text', 'text'], 'text', ([s, c]) => trimChars(s as string, c as string, false, true));
def('replace', ['text', 'text', 'text'], 'text', ([s, from, to]) => ((from as string) === '' ? (s as string) : (s as string).split(from as string).join(to as string)));
// position(substring IN string) reaches us as position(string, substring), like strpos.
def(['position', 'strpos'], ['text', 'text'], 'int4', ([s, sub]) => {
  const i = (s as string).indexOf(sub as string);
  return i < 0 ? 0 : charLength((s as string).slice(0, i)) + 1;
});
def('left', ['text', 'int4'], 'text', ([s, n]) => {
  const k = n as number;
  return k >= 0 ? sliceChars(s as string, 0, k) : sliceChars(s as string, 0, charLength(s as string) + k);
});
def('right', ['text', 'int4'], 'text', ([s, n]) => {
  const k = n as number;
  const len = charLength(s as string);
  return k >= 0 ? sliceChars(s as string, len - k, len) : sliceChars(s as string, -k, len);
});
def('repeat', ['text', 'int4'], 'text', ([s, n]) => {
  if ((n as number) <= 0) return '';
  tooLong((s as string).length * (n as number));
  return (s as string).repeat(n as number);
});
def('reverse', ['text'], 'text', ([s]) => Array.from(s as string).reverse().join(''));
def('split_part', ['text', 'text', 'int4'], 'text', ([s, d, n]) => {
  const k = n as number;
  if (k === 0) throw sqlError('22023', 'field position must not be zero');
  const parts = (d as string) === '' ? [s as string] : (s as string).split(d as string);
  const i = k > 0 ? k - 1 : parts.length + k;
  return i >= 0 && i < parts.length ? parts[i] : '';
});
def('starts_with', ['text', 'text'], 'bool', ([s, p]) => (s as string).startsWith(p as string));
def('lpad', ['text', 'int4'], 'text', ([s, n]) => pad(s as string, n as number, ' ', true));
def('lpad', ['text', 'int4', 'text'], 'text', ([s, n, f]) => pad(s as string, n as number, f as string, true));
def('rpad', ['text', 'int4'], 'text', ([s, n]) => pad(s as string, n as number, ' ', false));
def('rpad', ['text', 'int4', 'text'], 'text', ([s, n, f]) => pad(s as string, n as number, f as string, false));
def('md5', ['text'], 'text', ([s]) => createHash('md5').update(s as string, 'utf8').digest('hex'));
def('md5', ['bytea'], 'text', ([b]) => createHash('md5').update(b as Uint8Array).digest('hex'));
def('ascii', ['text'], 'int4', ([s]) => (s as string).codePointAt(0) ?? 0);
def('chr', ['int4'], 'text', ([n]) => {
  const c = n as number;
  if (c === 0) throw sqlError('54000', 'null character not permitted');
  if (c < 0 || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) throw sqlError('54000', 'requested character too large for encoding: ' + c);
  return String.fromCodePoint(c);
});

/** A value's text as a polymorphic text function (concat, format) prints it: the type's output function (bool: t / f). */
function outputText(v: Value, type: SqlType): string {
  if (type === 'bool') return v ? 't' : 'f';
  return valueToText(v, type);
}

// ---------------------------------------------------------------------------
// Dates and times

const TIME_OF_DAY_FIELDS = new Set(['hour', 'minute', 'second', 'microseconds', 'milliseconds', 'timezone', 'timezone_hour', 'timezone_minute']);

/** ISO 8601 week number and week-year of a day number. */
function isoWeek(days: number): { week: number; year: number } {
  const isodow = ((((days + 3) % 7) + 7) % 7) + 1; // 1970-01-01 was a Thursday (isodow 4)
  const thursday = days + 4 - isodow;
  const { y } = civilFromDays(thursday);
  return { week: Math.floor((thursday - daysFromCivil(y, 1, 1)) / 7) + 1, year: y };
}

function unitNotRecognized(field: string, type: SqlType): Error {
  return sqlError('22023', `unit "${field}" not recognized for type ${TYPE_DISPLAY[type]}`);
}

/** Canonical field names of PostgreSQL's abbreviations ('years', 'mins', 'dow'…). */
function canonicalField(f: string): string {
  const s = f.toLowerCase();
  const aliases: Record<string, string> = {
    years: 'year', y: 'year', yr: 'year', yrs: 'year',
    months: 'month', mon: 'month', mons: 'month',
    days: 'day', d: 'day',
    hours: 'hour', h: 'hour', hr: 'hour', hrs: 'hour',
    minutes: 'minute', m: 'minute', min: 'minute', mins: 'minute',
    seconds: 'second', s: 'second', sec: 'second', secs: 'second',
    us: 'microseconds', usec: 'microseconds', usecs: 'microseconds', microsecond: 'microseconds', useconds: 'microseconds',
    ms: 'milliseconds', msec: 'milliseconds', msecs: 'milliseconds', millisecond: 'milliseconds', mseconds: 'milliseconds',
    weeks: 'week', w: 'week',
    decades: 'decade', centuries: 'century', millennia: 'millennium', millenniums: 'millennium', qtr: 'quarter',
  }; // prettier-ignore
  return aliases[s] ?? s;
}

/** EXTRACT / date_part of a timestamp, timestamptz or date (µs). */
export function extractField(field: string, ts: number, type: SqlType): number {
  const f = canonicalField(field);
  if (type === 'date' && TIME_OF_DAY_FIELDS.has(f)) throw sqlError('0A000', `unit "${field}" not supported for type date`);
  if (!Number.isFinite(ts)) {
    if (['epoch', 'year', 'decade', 'century', 'millennium', 'isoyear', 'julian'].includes(f)) return ts;
    if (!EXTRACT_FIELDS.has(f)) throw unitNotRecognized(field, type);
    return NaN; // PostgreSQL: NULL for the others; the caller sees NaN only for infinite input
  }
  const t = timestampFields(ts);
  switch (f) {
    case 'year':
      return t.y;
    case 'month':
      return t.m;
    case 'day':
      return t.d;
    case 'hour':
      return t.hh;
    case 'minute':
      return t.mi;
    case 'second':
      return t.ss + t.us / 1e6;
    case 'milliseconds':
      return t.ss * 1000 + t.us / 1000;
    case 'microseconds':
      return t.ss * 1e6 + t.us;
    case 'epoch':
      return ts / 1e6;
    case 'dow':
      return (((t.days + 4) % 7) + 7) % 7;
    case 'isodow':
      return ((((t.days + 3) % 7) + 7) % 7) + 1;
    case 'doy':
      return t.days - daysFromCivil(t.y, 1, 1) + 1;
    case 'quarter':
      return Math.floor((t.m - 1) / 3) + 1;
    case 'week':
      return isoWeek(t.days).week;
    case 'isoyear':
      return isoWeek(t.days).year;
    case 'decade':
      return Math.floor(t.y / 10);
    case 'century':
      return t.y > 0 ? Math.floor((t.y + 99) / 100) : -Math.floor((99 - (t.y - 1)) / 100);
    case 'millennium':
      return t.y > 0 ? Math.floor((t.y + 999) / 1000) : -Math.floor((999 - (t.y - 1)) / 1000);
    case 'julian':
      return t.days + 2440588 + (ts - t.days * US_PER_DAY) / US_PER_DAY;
    case 'timezone':
    case 'timezone_hour':
    case 'timezone_minute':
      if (type === 'timestamptz') return 0;
      throw sqlError('0A000', `unit "${field}" not supported for type ${TYPE_DISPLAY[type]}`);
    default:
      throw unitNotRecognized(field, type);
  }
}

const EXTRACT_FIELDS = new Set(['year', 'month', 'day', 'hour', 'minute', 'second', 'milliseconds', 'microseconds', 'epoch', 'dow', 'isodow', 'doy', 'quarter', 'week', 'isoyear', 'decade', 'century', 'millennium', 'julian', 'timezone', 'timezone_hour', 'timezone_minute']);

/** EXTRACT / date_part of an interval. */
export function extractIntervalField(field: string, iv: Interval): number {
  const f = canonicalField(field);
  const years = Math.trunc(iv.months / 12);
  switch (f) {
    case 'millennium':
      return Math.trunc(years / 1000);
    case 'century':
      return Math.trunc(years / 100);
    case 'decade':
      return Math.trunc(years / 10);
    case 'year':
      return years;
    case 'quarter':
      return Math.trunc((iv.months % 12) / 3) + 1;
    case 'month':
      return iv.months % 12;
    case 'day':
      return iv.days;
    case 'hour':
      return Math.trunc(iv.us / US_PER_HOUR);
    case 'minute':
      return Math.trunc((iv.us % US_PER_HOUR) / US_PER_MINUTE);
    case 'second':
      return (iv.us % US_PER_MINUTE) / 1e6;
    case 'milliseconds':
      return (iv.us % US_PER_MINUTE) / 1000;
    case 'microseconds':
      return iv.us % US_PER_MINUTE;
    case 'epoch':
      // PostgreSQL: a year is 365.25 days, a month 30 days.
      return years * 365.25 * 86400 + (iv.months % 12) * 30 * 86400 + iv.days * 86400 + iv.us / 1e6;
    default:
      if (EXTRACT_FIELDS.has(f)) throw sqlError('0A000', `unit "${field}" not supported for type interval`);
      throw unitNotRecognized(field, 'interval');
  }
}

/** date_trunc of a timestamp (µs) to `field`. */
export function truncTimestamp(field: string, ts: number, type: SqlType): number {
  if (!Number.isFinite(ts)) return ts;
  const f = canonicalField(field);
  const t = timestampFields(ts);
  const day = t.days * US_PER_DAY;
  const ymd = (y: number, m: number, d = 1): number => daysFromCivil(y, m, d) * US_PER_DAY;
  switch (f) {
    case 'microseconds':
      return ts;
    case 'milliseconds':
      return ts - (t.us % 1000);
    case 'second':
      return ts - t.us;
    case 'minute':
      return day + t.hh * US_PER_HOUR + t.mi * US_PER_MINUTE;
    case 'hour':
      return day + t.hh * US_PER_HOUR;
    case 'day':
      return day;
    case 'week':
      return (t.days - ((((t.days + 3) % 7) + 7) % 7)) * US_PER_DAY; // back to Monday
    case 'month':
      return ymd(t.y, t.m);
    case 'quarter':
      return ymd(t.y, Math.floor((t.m - 1) / 3) * 3 + 1);
    case 'year':
      return ymd(t.y, 1);
    case 'decade':
      return ymd(Math.floor(t.y / 10) * 10, 1);
    case 'century':
      return ymd(Math.floor((t.y - 1) / 100) * 100 + 1, 1);
    case 'millennium':
      return ymd(Math.floor((t.y - 1) / 1000) * 1000 + 1, 1);
    default:
      throw unitNotRecognized(field, type);
  }
}

/** date_trunc of an interval. */
function truncInterval(field: string, iv: Interval): Interval {
  const f = canonicalField(field);
  const years = Math.trunc(iv.months / 12);
  const trunc = (n: number, by: number): number => Math.trunc(n / by) * by;
  switch (f) {
    case 'millennium':
      return new Interval(trunc(years, 1000) * 12, 0, 0);
    case 'century':
      return new Interval(trunc(years, 100) * 12, 0, 0);
    case 'decade':
      return new Interval(trunc(years, 10) * 12, 0, 0);
    case 'year':
      return new Interval(years * 12, 0, 0);
    case 'quarter':
      return new Interval(years * 12 + trunc(iv.months % 12, 3), 0, 0);
    case 'month':
      return new Interval(iv.months, 0, 0);
    case 'day':
      return new Interval(iv.months, iv.days, 0);
    case 'hour':
      return new Interval(iv.months, iv.days, trunc(iv.us, US_PER_HOUR));
    case 'minute':
      return new Interval(iv.months, iv.days, trunc(iv.us, US_PER_MINUTE));
    case 'second':
      return new Interval(iv.months, iv.days, trunc(iv.us, US_PER_SECOND));
    case 'milliseconds':
      return new Interval(iv.months, iv.days, trunc(iv.us, 1000));
    case 'microseconds':
      return iv;
    default:
      if (EXTRACT_FIELDS.has(f)) throw sqlError('0A000', `unit "${field}" not supported for type interval`);
      throw unitNotRecognized(field, 'interval');
  }
}

/** age(a, b): the symbolic difference in years, months, days and time (PostgreSQL's field-wise borrow). */
export function age(a: number, b: number): Interval {
  if (!Number.isFinite(a) || !Number.isFinite(b)) throw sqlError('22008', 'interval out of range');
  const neg = a < b;
  const [hi, lo] = neg ? [timestampFields(b), timestampFields(a)] : [timestampFields(a), timestampFields(b)];
  let us = (hi.hh - lo.hh) * US_PER_HOUR + (hi.mi - lo.mi) * US_PER_MINUTE + (hi.ss - lo.ss) * US_PER_SECOND + (hi.us - lo.us);
  let days = hi.d - lo.d;
  let months = (hi.y - lo.y) * 12 + (hi.m - lo.m);
  if (us < 0) {
    us += US_PER_DAY;
    days--;
  }
  if (days < 0) {
    // Borrow the days of the month before the later date's month (PostgreSQL borrows from the earlier date's month).
    days += daysInMonth(lo.y, lo.m);
    months--;
  }
  const s = neg ? -1 : 1;
  return new Interval(s * months + 0, s * days + 0, s * us + 0);
}

for (const name of ['now', 'current_timestamp', 'transaction_timestamp', 'statement_timestamp']) {
  def(name, [], 'timestamptz', (_, ctx) => ctx.nowUs);
}
def('localtimestamp', [], 'timestamp', (_, ctx) => ctx.nowUs);
def('current_date', [], 'date', (_, ctx) => floorToDay(ctx.nowUs));
def('clock_timestamp', [], 'timestamptz', () => Date.now() * 1000, { volatile: true });
for (const t of ['timestamp', 'timestamptz', 'date'] as const) {
  def('extract', ['text', t], 'numeric', ([f, ts]) => extractField(f as string, ts as number, t));
}
for (const t of ['timestamp', 'timestamptz'] as const) {
  def('date_part', ['text', t], 'float8', ([f, ts]) => extractField(f as string, ts as number, t));
  def('date_trunc', ['text', t], t, ([f, ts]) => truncTimestamp(f as string, ts as number, t));
  def('age', [t, t], 'interval', ([a, b]) => age(a as number, b as number));
}
def('age', ['timestamp'], 'interval', ([a], ctx) => age(floorToDay(ctx.nowUs), a as number));
def('extract', ['text', 'interval'], 'numeric', ([f, iv]) => extractIntervalField(f as string, iv as Interval));
def('date_part', ['text', 'interval'], 'float8', ([f, iv]) => extractIntervalField(f as string, iv as Interval));
def('date_trunc', ['text', 'interval'], 'interval', ([f, iv]) => truncInterval(f as string, iv as Interval));
def('make_date', ['int4', 'int4', 'int4'], 'date', ([y, m, d]) => {
  const [yy, mm, dd] = [y as number, m as number, d as number];
  if (yy === 0) throw sqlError('22008', `date field value out of range: ${yy}-${pad2(mm)}-${pad2(dd)}`);
  const year = yy < 0 ? yy + 1 : yy; // no year 0: -1 is 1 BC
  if (mm < 1 || mm > 12 || dd < 1 || dd > daysInMonth(year, mm)) {
    throw sqlError('22008', `date field value out of range: ${yy}-${pad2(mm)}-${pad2(dd)}`);
  }
  return daysFromCivil(year, mm, dd) * US_PER_DAY;
});

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

// ---------------------------------------------------------------------------
// jsonb and uuid

function jsonTypeof(j: unknown): string {
  if (j === null || j === undefined) return 'null';
  if (Array.isArray(j)) return 'array';
  if (typeof j === 'object') return 'object';
  return typeof j === 'number' || typeof j === 'bigint' ? 'number' : typeof j;
}

def('jsonb_typeof', ['jsonb'], 'text', ([j]) => jsonTypeof((j as Jsonb).value));
def('jsonb_array_length', ['jsonb'], 'int4', ([j]) => {
  const v = (j as Jsonb).value;
  if (Array.isArray(v)) return v.length;
  const kind = v !== null && typeof v === 'object' ? 'a non-array' : 'a scalar';
  throw sqlError('22023', `cannot get array length of ${kind}`);
});
def('gen_random_uuid', [], 'uuid', () => randomUUID(), { volatile: true });

/** A value as JSON, as to_jsonb gives it: numbers, strings, booleans; timestamps in PostgreSQL's ISO form. */
export function toJsonValue(v: Value, type: SqlType): unknown {
  if (v === null) return null;
  switch (type) {
    case 'timestamp':
      return Number.isFinite(v as number) ? formatRfc3339(v as number).replace(/Z$/, '').replace(/(\.\d*?)0+$/, '$1') : valueToText(v, type);
    case 'timestamptz':
      return Number.isFinite(v as number) ? formatRfc3339(v as number).replace(/(\.\d*?)0+Z$/, '$1Z').replace(/Z$/, '+00:00') : valueToText(v, type);
    case 'bytea':
    case 'interval':
    case 'unknown':
      return valueToText(v, type);
    case 'int8':
      return typeof v === 'bigint' ? Number(v) : v;
    case 'numeric':
    case 'float4':
    case 'float8':
      return Number.isFinite(v as number) ? v : valueToText(v, type);
    default:
      return valueToJson(v, type);
  }
}

// ---------------------------------------------------------------------------
// Resolution

/** The type a polymorphic "any" argument is taken as: an unknown literal is text. */
function anyType(t: SqlType): SqlType {
  return t === 'unknown' ? 'text' : t;
}

/** Functions whose arguments are "any" (variadic or polymorphic): built per call from the argument types. */
function polymorphic(name: string, argTypes: readonly SqlType[]): FunctionImpl | null {
  const args = argTypes.map(anyType);
  switch (name) {
    case 'concat':
      if (args.length === 0) return null;
      return {
        returns: 'text',
        args,
        strict: false,
        volatile: false,
        call: (vals) => vals.map((v, i) => (v === null ? '' : outputText(v, args[i]))).join(''),
      };
    case 'concat_ws':
      if (args.length < 2) return null;
      return {
        returns: 'text',
        args: ['text', ...args.slice(1)],
        strict: false,
        volatile: false,
        call: (vals) => {
          if (vals[0] === null) return null;
          const parts: string[] = [];
          for (let i = 1; i < vals.length; i++) if (vals[i] !== null) parts.push(outputText(vals[i], args[i]));
          return parts.join(vals[0] as string);
        },
      };
    case 'to_jsonb':
      if (args.length !== 1) return null;
      return { returns: 'jsonb', args, strict: true, volatile: false, call: ([v]) => (args[0] === 'jsonb' ? v : new Jsonb(toJsonValue(v, args[0]))) };
    case 'jsonb_build_array':
      return { returns: 'jsonb', args, strict: false, volatile: false, call: (vals) => new Jsonb(vals.map((v, i) => jsonOf(v, args[i]))) };
    case 'jsonb_build_object':
      if (args.length % 2 !== 0) throw sqlError('22023', 'argument list must have even number of elements');
      return {
        returns: 'jsonb',
        args,
        strict: false,
        volatile: false,
        call: (vals) => {
          const out: Record<string, unknown> = {};
          for (let i = 0; i < vals.length; i += 2) {
            if (vals[i] === null) throw sqlError('22023', 'argument 1: key must not be null');
            out[args[i] === 'text' ? (vals[i] as string) : valueToText(vals[i], args[i])] = jsonOf(vals[i + 1], args[i + 1]);
          }
          return new Jsonb(out);
        },
      };
    default:
      return null;
  }
}

function jsonOf(v: Value, type: SqlType): unknown {
  return type === 'jsonb' && v !== null ? (v as Jsonb).value : toJsonValue(v, type);
}

/**
 * The function `name` (lower case, without `pg_catalog.`) for argument types `argTypes`, by
 * PostgreSQL's overload rules: 42883 "function lower(integer) does not exist" when none fits,
 * 42725 "function f(unknown) is not unique" when several do.
 */
export function resolveFunction(name: string, argTypes: readonly SqlType[], location?: number): FunctionImpl {
  const signature = (): string => `${name}(${argTypes.map((t) => TYPE_DISPLAY[t]).join(', ')})`;
  const poly = polymorphic(name, argTypes);
  if (poly !== null) return poly;
  const found = selectCandidate(FUNCTIONS.get(name) ?? [], argTypes);
  if (found === 'ambiguous') throw sqlError('42725', `function ${signature()} is not unique`, location);
  if (found === null) throw sqlError('42883', `function ${signature()} does not exist`, location);
  return found;
}

/** Whether `name` is a scalar function here (any overload), for the binder's "is this an aggregate?" checks. */
export function isScalarFunction(name: string): boolean {
  return FUNCTIONS.has(name) || ['concat', 'concat_ws', 'to_jsonb', 'jsonb_build_array', 'jsonb_build_object'].includes(name);
}
