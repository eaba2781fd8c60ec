// SQL value semantics: casts between the SQL types, text input and output,
// JSON input and output (the HTTP route's cells and parameters), ordering and
// hashing. PostgreSQL 15's behaviour and error wording throughout (checked
// against a real server); see sql-types.ts for the value representation.
//
//   cast                         rule (PostgreSQL's)
//   int ↔ int                    range checked: 22003 "smallint/integer/bigint out of range"
//   float → int                  rint (ties to even: 2.5::int = 2), NaN/±Infinity/range → 22003
//   numeric → int                ties away from zero (2.5::numeric::int = 3), NaN → 0A000
//   float8 → float4              Math.fround, overflow → 22003 "value out of range: overflow"
//   int4 ↔ bool                  only int4 (bigint ↔ boolean is 42846 "cannot cast type …")
//   text → x                     x's input function ('  12 ' is 12, '1.5'::int is 22P02)
//   x → text                     x's output function (valueToText)
//   date → timestamp(tz)         midnight; timestamp(tz) → date floors to the day
//   timestamp ↔ timestamptz      the same µs (the session time zone is UTC)
//   jsonb → bool/numbers         a JSON boolean / number, else 22023 "cannot cast jsonb string to type integer"
//
// Gaps (PostgreSQL's numeric is exact decimal, ours a double; jsonb numbers
// are doubles too, so '1.50'::jsonb prints 1.5), time zone names other than
// UTC/GMT/Z are refused, and years BC are not supported.

import { civilFromDays as tableCivilFromDays, daysFromCivil } from '../../shared/tables/cell-json.js';
import { sqlError } from './sql-errors.js';
import { INT_RANGE, Interval, Jsonb, NUMERIC_RANK, TYPE_DISPLAY, type SqlType, type Value } from './sql-types.js';
import { normalizeInt64 } from '../../shared/tables/table-types.js';

export const US_PER_SECOND = 1_000_000;
export const US_PER_MINUTE = 60 * US_PER_SECOND;
export const US_PER_HOUR = 60 * US_PER_MINUTE;
export const US_PER_DAY = 24 * US_PER_HOUR;

// ---------------------------------------------------------------------------
// Integers

/** "smallint out of range" / "integer out of range" / "bigint out of range". */
export function intOutOfRange(type: SqlType, location?: number): Error {
  return sqlError('22003', `${TYPE_DISPLAY[type]} out of range`, location);
}

/** An integer (number or bigint) checked against `type`'s range, in the normalized form. */
export function checkInt(v: number | bigint, type: SqlType, location?: number): number | bigint {
  const [lo, hi] = INT_RANGE[type];
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw intOutOfRange(type, location);
    // int2/int4 bounds are exact doubles; int8's are not, so go through bigint near them.
    if (type !== 'int8' || Number.isSafeInteger(v)) {
      if (v < Number(lo) || v > Number(hi)) throw intOutOfRange(type, location);
      return v === 0 ? 0 : v; // no -0
    }
    v = BigInt(v);
  }
  if (v < lo || v > hi) throw intOutOfRange(type, location);
  return normalizeInt64(v);
}

/** A JS number (rounded when past 2^53) of an int/numeric/float value. */
export function toNumber(v: Value): number {
  return typeof v === 'bigint' ? Number(v) : (v as number);
}

/** PostgreSQL's rint(): round to nearest, ties to even (float → int casts, round(float8)). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  // Math.round rounds ties up; a tie on an odd result goes back down.
  return Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Ties away from zero (numeric → int casts, round(numeric)). */
export function roundHalfAway(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

function floatToInt(x: number, type: SqlType, fromNumeric: boolean, location?: number): number | bigint {
  if (Number.isNaN(x)) {
    if (fromNumeric) throw sqlError('0A000', `cannot convert NaN to ${TYPE_DISPLAY[type]}`, location);
    throw intOutOfRange(type, location);
  }
  const r = fromNumeric ? roundHalfAway(x) : roundHalfEven(x);
  // Past 2^53 every double is an integer: exact through bigint; int8's upper bound 2^63 is out.
  if (type === 'int8' && Number.isFinite(r) && (r >= 2 ** 63 || r < -(2 ** 63))) throw intOutOfRange(type, location);
  return checkInt(Number.isSafeInteger(r) || !Number.isFinite(r) ? r : BigInt(r), type, location);
}

const INT_SYNTAX = /^\s*([+-]?\d+)\s*$/;

function parseIntText(s: string, type: SqlType, location?: number): number | bigint {
  const m = INT_SYNTAX.exec(s);
  if (m === null) throw invalidText(type, s, location);
  const big = BigInt(m[1]);
  const [lo, hi] = INT_RANGE[type];
  if (big < lo || big > hi) throw sqlError('22003', `value "${s}" is out of range for type ${TYPE_DISPLAY[type]}`, location);
  return normalizeInt64(big);
}

// ---------------------------------------------------------------------------
// Floats and numeric

const FLOAT_SYNTAX = /^\s*[+-]?(?:\d+\.?\d*(?:e[+-]?\d+)?|\.\d+(?:e[+-]?\d+)?)\s*$/i;
const FLOAT_SPECIAL = /^\s*([+-]?)(nan|inf|infinity)\s*$/i;

function parseFloatText(s: string, type: SqlType, location?: number): number {
  const special = FLOAT_SPECIAL.exec(s);
  if (special !== null) {
    if (special[2].toLowerCase() === 'nan') {
      if (special[1] !== '') throw invalidText(type, s, location);
      return NaN;
    }
    return special[1] === '-' ? -Infinity : Infinity;
  }
  if (!FLOAT_SYNTAX.test(s)) throw invalidText(type, s, location);
  const x = Number(s.trim());
  if (type === 'numeric') return x;
  const out = type === 'float4' ? Math.fround(x) : x;
  // strtod's ERANGE: overflow to infinity, or underflow of a non-zero literal to zero.
  if (!Number.isFinite(out) || (out === 0 && /[1-9]/.test(s.replace(/e.*$/i, '')))) {
    throw sqlError('22003', `"${s}" is out of range for type ${TYPE_DISPLAY[type]}`, location);
  }
  return out;
}

/** float8 → float4 (PostgreSQL checks overflow and underflow). */
export function toFloat4(x: number, location?: number): number {
  const f = Math.fround(x);
  if (!Number.isFinite(f) && Number.isFinite(x)) throw sqlError('22003', 'value out of range: overflow', location);
  if (f === 0 && x !== 0) throw sqlError('22003', 'value out of range: underflow', location);
  return f;
}

/** The shortest digits of `x` that read back as `x` (as float4 when `float4`), as a mantissa and exponent. */
function shortestDigits(x: number, float4: boolean): { digits: string; exp: number } {
  let s = x.toExponential();
  if (float4) {
    for (let p = 1; p <= 9; p++) {
      const t = x.toExponential(p - 1);
      if (Math.fround(Number(t)) === x) {
        s = t;
        break;
      }
    }
  }
  const e = s.indexOf('e');
  return { digits: s.slice(0, e).replace('.', '').replace('-', ''), exp: Number(s.slice(e + 1)) };
}

/** float8out / float4out (PostgreSQL 12+): shortest round-trip digits, exponent form past 15 (float4: 6) digits. */
export function formatFloat(x: number, float4: boolean): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const sign = x < 0 ? '-' : '';
  const { digits, exp } = shortestDigits(Math.abs(x), float4);
  if (exp < -4 || exp >= (float4 ? 6 : 15)) {
    const mant = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const e = Math.abs(exp);
    return `${sign}${mant}e${exp < 0 ? '-' : '+'}${e < 10 ? '0' : ''}${e}`;
  }
  return sign + plainDigits(digits, exp);
}

/** Digits d1d2d3… × 10^exp (d1 the units digit when exp = 0) as a plain decimal. */
function plainDigits(digits: string, exp: number): string {
  if (exp < 0) return `0.${'0'.repeat(-exp - 1)}${digits}`;
  if (digits.length <= exp + 1) return digits + '0'.repeat(exp + 1 - digits.length);
  return `${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
}

/** numeric's text: a plain decimal (never an exponent), 'NaN', 'Infinity', '-Infinity'. */
export function formatNumeric(x: number): string {
  if (!Number.isFinite(x)) return formatFloat(x, false);
  if (x === 0) return '0';
  const { digits, exp } = shortestDigits(Math.abs(x), false);
  return (x < 0 ? '-' : '') + plainDigits(digits, exp);
}

// ---------------------------------------------------------------------------
// Dates and timestamps (µs since the epoch, UTC)

export { daysFromCivil };

/** The civil date of a day number (the tables' civil_from_days). */
export function civilFromDays(z: number): { y: number; m: number; d: number } {
  const [y, m, d] = tableCivilFromDays(z);
  return { y, m, d };
}

export function daysInMonth(y: number, m: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

/** A timestamp's broken-down UTC fields (us: the microseconds within the second). */
export function timestampFields(ts: number): { y: number; m: number; d: number; hh: number; mi: number; ss: number; us: number; days: number } {
  const days = Math.floor(ts / US_PER_DAY);
  let rest = ts - days * US_PER_DAY;
  const { y, m, d } = civilFromDays(days);
  const hh = Math.floor(rest / US_PER_HOUR);
  rest -= hh * US_PER_HOUR;
  const mi = Math.floor(rest / US_PER_MINUTE);
  rest -= mi * US_PER_MINUTE;
  const ss = Math.floor(rest / US_PER_SECOND);
  return { y, m, d, hh, mi, ss, us: rest - ss * US_PER_SECOND, days };
}

/** Floors a timestamp to its day's midnight (timestamp → date). */
export function floorToDay(ts: number): number {
  return Number.isFinite(ts) ? Math.floor(ts / US_PER_DAY) * US_PER_DAY : ts;
}

// 'YYYY-MM-DD[( |T)HH:MM[:SS[.ffffff]]][ ][Z|UTC|GMT|±HH[:MM]|±HHMM]'
const TIMESTAMP_SYNTAX =
  /^(\d{4,})-(\d{1,2})-(\d{1,2})(?:(?:T|\s+)(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d*))?)?)?\s*(z|utc|gmt|[+-]\d{1,2}(?::?\d{2})?)?$/i;

/** Text → timestamp / timestamptz / date (µs), as PostgreSQL reads the common ISO 8601 forms. */
export function parseTimestamp(s: string, type: 'timestamp' | 'timestamptz' | 'date', location?: number): number {
  const t = s.trim().toLowerCase();
  const special = specialTimestamp(t);
  if (special !== null) return type === 'date' ? floorToDay(special) : special;
  const m = TIMESTAMP_SYNTAX.exec(t);
  // PostgreSQL names plain timestamps "timestamp" in this message.
  const typeName = type === 'timestamp' ? 'timestamp' : TYPE_DISPLAY[type];
  if (m === null) throw sqlError('22007', `invalid input syntax for type ${typeName}: "${s}"`, location);
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const hh = m[4] === undefined ? 0 : Number(m[4]);
  const mi = m[5] === undefined ? 0 : Number(m[5]);
  const ss = m[6] === undefined ? 0 : Number(m[6]);
  // Fractions past microseconds round (PostgreSQL: .1234567 → .123457).
  const frac = m[7] === undefined || m[7] === '' ? 0 : Math.round(Number(`0.${m[7]}`) * 1e6);
  const outOfRange = (): Error => sqlError('22008', `date/time field value out of range: "${s}"`, location);
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo)) throw outOfRange();
  if (hh > 24 || mi > 59 || ss > 60 || (hh === 24 && (mi > 0 || ss > 0 || frac > 0))) throw outOfRange();
  const days = daysFromCivil(y, mo, d);
  if (type === 'date') return days * US_PER_DAY;
  let ts = days * US_PER_DAY + hh * US_PER_HOUR + mi * US_PER_MINUTE + ss * US_PER_SECOND + frac;
  const zone = m[8];
  if (type === 'timestamptz' && zone !== undefined && zone[0] !== 'z' && zone[0] !== 'u' && zone[0] !== 'g') {
    const z = /^([+-])(\d{1,2})(?::?(\d{2}))?$/.exec(zone);
    if (z === null) throw sqlError('22007', `invalid input syntax for type ${typeName}: "${s}"`, location);
    const offset = (Number(z[2]) * 60 + (z[3] === undefined ? 0 : Number(z[3]))) * US_PER_MINUTE;
    ts -= z[1] === '-' ? -offset : offset;
  }
  return ts;
}

/** PostgreSQL's special date/time inputs (now/today/… use the clock: a cast has no statement time). */
function specialTimestamp(t: string): number | null {
  switch (t) {
    case 'epoch':
      return 0;
    case 'infinity':
    case '+infinity':
      return Infinity;
    case '-infinity':
      return -Infinity;
    case 'now':
      return Date.now() * 1000;
    case 'today':
      return floorToDay(Date.now() * 1000);
    case 'tomorrow':
      return floorToDay(Date.now() * 1000) + US_PER_DAY;
    case 'yesterday':
      return floorToDay(Date.now() * 1000) - US_PER_DAY;
    default:
      return null;
  }
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** 'YYYY-MM-DD HH:MM:SS[.ffffff]' (fraction without trailing zeros), PostgreSQL's ISO output. */
function formatTimestampText(ts: number): string {
  const f = timestampFields(ts);
  let s = `${pad(f.y, 4)}-${pad(f.m, 2)}-${pad(f.d, 2)} ${pad(f.hh, 2)}:${pad(f.mi, 2)}:${pad(f.ss, 2)}`;
  if (f.us !== 0) s += `.${pad(f.us, 6)}`.replace(/0+$/, '');
  return s;
}

/** A date's text 'YYYY-MM-DD'. */
export function formatDate(ts: number): string {
  if (!Number.isFinite(ts)) return ts > 0 ? 'infinity' : '-infinity';
  const { y, m, d } = civilFromDays(Math.floor(ts / US_PER_DAY));
  return `${pad(y, 4)}-${pad(m, 2)}-${pad(d, 2)}`;
}

/** RFC 3339 with 'Z', microseconds (6 digits) only when non-zero: the HTTP answer's form. */
export function formatRfc3339(ts: number): string {
  if (!Number.isFinite(ts)) return ts > 0 ? 'infinity' : '-infinity';
  const f = timestampFields(ts);
  const frac = f.us === 0 ? '' : `.${pad(f.us, 6)}`;
  return `${pad(f.y, 4)}-${pad(f.m, 2)}-${pad(f.d, 2)}T${pad(f.hh, 2)}:${pad(f.mi, 2)}:${pad(f.ss, 2)}${frac}Z`;
}

// ---------------------------------------------------------------------------
// Intervals

const INTERVAL_UNITS: Record<string, { months?: number; days?: number; us?: number }> = {};
for (const [names, unit] of [
  [['microsecond', 'microseconds', 'us', 'usec', 'usecs', 'useconds'], { us: 1 }],
  [['millisecond', 'milliseconds', 'ms', 'msec', 'msecs', 'mseconds'], { us: 1000 }],
  [['second', 'seconds', 's', 'sec', 'secs'], { us: US_PER_SECOND }],
  [['minute', 'minutes', 'm', 'min', 'mins'], { us: US_PER_MINUTE }],
  [['hour', 'hours', 'h', 'hr', 'hrs'], { us: US_PER_HOUR }],
  [['day', 'days', 'd'], { days: 1 }],
  [['week', 'weeks', 'w'], { days: 7 }],
  [['month', 'months', 'mon', 'mons'], { months: 1 }],
  [['year', 'years', 'y', 'yr', 'yrs'], { months: 12 }],
  [['decade', 'decades'], { months: 120 }],
  [['century', 'centuries'], { months: 1200 }],
  [['millennium', 'millennia', 'millenniums'], { months: 12000 }],
] as const) {
  for (const n of names) INTERVAL_UNITS[n] = unit;
}

/** Accumulates interval fields, carrying fractions down (1.5 months → 1 mon 15 days, PostgreSQL's rule). */
class IntervalBuilder {
  months = 0;
  days = 0;
  us = 0;

  add(qty: number, unit: { months?: number; days?: number; us?: number }): void {
    if (unit.months !== undefined) {
      const m = qty * unit.months;
      const whole = Math.trunc(m);
      this.months += whole;
      this.addDays((m - whole) * 30);
    } else if (unit.days !== undefined) {
      this.addDays(qty * unit.days);
    } else {
      this.us += qty * (unit.us ?? 0);
    }
  }

  private addDays(d: number): void {
    const whole = Math.trunc(d);
    this.days += whole;
    this.us += (d - whole) * US_PER_DAY;
  }

  build(negate: boolean): Interval {
    const s = negate ? -1 : 1;
    return new Interval(s * this.months + 0, s * this.days + 0, s * Math.round(this.us) + 0);
  }
}

/** Text → interval: PostgreSQL's '1 day 02:00', '3 mons', '2 hours 30 minutes', '@ 1 day ago', ISO 8601 'P1DT2H'. */
export function parseInterval(s: string, location?: number): Interval {
  const bad = (): Error => sqlError('22007', `invalid input syntax for type interval: "${s}"`, location);
  const t = s.trim().toLowerCase();
  if (t === '') throw bad();
  const b = new IntervalBuilder();
  if (t[0] === 'p') return parseIsoInterval(t, b, bad);
  const tokens = t.replace(/^@\s*/, '').match(/[+-]?\d*\.?\d+(?::\d+(?::\d+(?:\.\d*)?)?)?|[a-z]+/g);
  if (tokens === null || tokens.join('').length !== t.replace(/^@/, '').replace(/[\s,]+/g, '').length) throw bad();
  let negate = false;
  const seen = new Set<object>(); // the unit objects are shared by their aliases
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i];
    if (tok === 'ago' && i === tokens.length - 1) {
      negate = true;
      continue;
    }
    if (tok.includes(':')) {
      // [-]HH:MM[:SS[.ffffff]]
      const neg = tok[0] === '-';
      const [hh, mm, ss] = tok.replace(/^[+-]/, '').split(':');
      const us = Number(hh) * US_PER_HOUR + Number(mm) * US_PER_MINUTE + (ss === undefined ? 0 : Number(ss) * US_PER_SECOND);
      if (Number.isNaN(us) || Number(mm) > 59 || (ss !== undefined && Number(ss) >= 60)) throw bad();
      b.us += neg ? -us : us;
      continue;
    }
    const qty = Number(tok);
    if (Number.isNaN(qty)) throw bad();
    const next = tokens[i + 1];
    const unit = next === undefined ? undefined : INTERVAL_UNITS[next];
    if (unit === undefined) {
      // A bare number: seconds (PostgreSQL reads '90' as 00:01:30), only as the last field.
      if (next !== undefined && next !== 'ago') throw bad();
      b.add(qty, { us: US_PER_SECOND });
      continue;
    }
    // A unit given twice ('1 day 1 day') is an error, as PostgreSQL's field mask makes it.
    if (seen.has(unit)) throw bad();
    seen.add(unit);
    b.add(qty, unit);
    i++;
  }
  return b.build(negate);
}

function parseIsoInterval(t: string, b: IntervalBuilder, bad: () => Error): Interval {
  const m = /^p(?:([-\d.]+)y)?(?:([-\d.]+)m)?(?:([-\d.]+)w)?(?:([-\d.]+)d)?(?:t(?:([-\d.]+)h)?(?:([-\d.]+)m)?(?:([-\d.]+)s)?)?$/.exec(t);
  if (m === null || t === 'p' || t.endsWith('t')) throw bad();
  const units = [{ months: 12 }, { months: 1 }, { days: 7 }, { days: 1 }, { us: US_PER_HOUR }, { us: US_PER_MINUTE }, { us: US_PER_SECOND }];
  for (let i = 0; i < units.length; i++) {
    const g = m[i + 1];
    if (g === undefined) continue;
    const q = Number(g);
    if (Number.isNaN(q)) throw bad();
    b.add(q, units[i]);
  }
  return b.build(false);
}

/** An interval's text, PostgreSQL's default IntervalStyle ('1 year 2 mons -3 days +04:05:06.5'). */
export function formatInterval(iv: Interval): string {
  const parts: string[] = [];
  let isBefore = false; // the previous field was negative: a following positive one gets a '+'
  let isZero = true;
  const addPart = (value: number, unit: string): void => {
    if (value === 0) return;
    parts.push(`${isBefore && value > 0 ? '+' : ''}${value} ${unit}${value !== 1 ? 's' : ''}`);
    isBefore = value < 0;
    isZero = false;
  };
  addPart(Math.trunc(iv.months / 12) + 0, 'year');
  addPart((iv.months % 12) + 0, 'mon');
  addPart(iv.days, 'day');
  if (isZero || iv.us !== 0) {
    const minus = iv.us < 0;
    let rest = Math.abs(iv.us);
    const hh = Math.floor(rest / US_PER_HOUR);
    rest -= hh * US_PER_HOUR;
    const mi = Math.floor(rest / US_PER_MINUTE);
    rest -= mi * US_PER_MINUTE;
    const ss = Math.floor(rest / US_PER_SECOND);
    const us = rest - ss * US_PER_SECOND;
    const frac = us === 0 ? '' : `.${pad(us, 6)}`.replace(/0+$/, '');
    parts.push(`${minus ? '-' : isBefore ? '+' : ''}${pad(hh, 2)}:${pad(mi, 2)}:${pad(ss, 2)}${frac}`);
  }
  return parts.join(' ');
}

/** An interval's sort / equality key in µs: (months × 30 + days) × 1 day + µs (PostgreSQL's interval_cmp_value). */
export function intervalKey(iv: Interval): number {
  return (iv.months * 30 + iv.days) * US_PER_DAY + iv.us;
}

// ---------------------------------------------------------------------------
// jsonb

/** Text → jsonb (22P02 "invalid input syntax for type json" when not JSON). */
export function parseJsonb(s: string, location?: number): Jsonb {
  try {
    return new Jsonb(JSON.parse(s));
  } catch {
    throw sqlError('22P02', 'invalid input syntax for type json', location);
  }
}

/** PostgreSQL's key order in a jsonb object: shorter keys first, then bytewise (UTF-8). */
export function compareJsonbKeys(a: string, b: string): number {
  const la = Buffer.byteLength(a);
  const lb = Buffer.byteLength(b);
  return la !== lb ? la - lb : compareText(a, b);
}

/** jsonb's text: PostgreSQL's canonical spacing ({"a": 1, "b": [1, 2]}) and key order. */
export function formatJsonb(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number') return formatNumeric(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return `[${v.map(formatJsonb).join(', ')}]`;
  const obj = v as Record<string, unknown>;
  const keys = Object.keys(obj).sort(compareJsonbKeys);
  return `{${keys.map((k) => `${JSON.stringify(k)}: ${formatJsonb(obj[k])}`).join(', ')}}`;
}

/** PostgreSQL's jsonb ordering: Object > Array > Boolean > Number > String > Null; containers by size, then members. */
export function compareJsonb(a: unknown, b: unknown): number {
  const ra = jsonRank(a);
  const rb = jsonRank(b);
  if (ra !== rb) return ra - rb;
  switch (ra) {
    case 0:
      return 0;
    case 1:
      return compareText(a as string, b as string);
    case 2:
      return compareNumbers(a as number, b as number);
    case 3:
      return (a ? 1 : 0) - (b ? 1 : 0);
    case 4: {
      const x = a as unknown[];
      const y = b as unknown[];
      if (x.length !== y.length) return x.length - y.length;
      for (let i = 0; i < x.length; i++) {
        const c = compareJsonb(x[i], y[i]);
        if (c !== 0) return c;
      }
      return 0;
    }
    default: {
      const x = a as Record<string, unknown>;
      const y = b as Record<string, unknown>;
      const kx = Object.keys(x).sort(compareJsonbKeys);
      const ky = Object.keys(y).sort(compareJsonbKeys);
      if (kx.length !== ky.length) return kx.length - ky.length;
      for (let i = 0; i < kx.length; i++) {
        const c = compareJsonbKeys(kx[i], ky[i]) || compareJsonb(x[kx[i]], y[ky[i]]);
        if (c !== 0) return c;
      }
      return 0;
    }
  }
}

function jsonRank(v: unknown): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'string') return 1;
  if (typeof v === 'number' || typeof v === 'bigint') return 2;
  if (typeof v === 'boolean') return 3;
  return Array.isArray(v) ? 4 : 5;
}

/** A jsonb scalar's JSON type name in PostgreSQL's cast errors ("cannot cast jsonb string to type integer"). */
function jsonKind(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'number') return 'numeric';
  if (typeof v === 'boolean') return 'boolean';
  return Array.isArray(v) ? 'array' : 'object';
}

// ---------------------------------------------------------------------------
// uuid, bytea, bool text

const UUID_SYNTAX = /^\{?([0-9a-f]{4}-?){7}[0-9a-f]{4}\}?$/i;

function parseUuid(s: string, location?: number): string {
  // PostgreSQL accepts upper case, braces, and a hyphen after any group of four digits.
  if (!UUID_SYNTAX.test(s) || (s[0] === '{') !== s.endsWith('}')) throw invalidText('uuid', s, location);
  const hex = s.replace(/[{}-]/g, '').toLowerCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** bytea input: '\x…' hex, else the escape format (bytes of the text, '\\' and '\ooo' octal escapes). */
export function parseBytea(s: string, location?: number): Uint8Array {
  if (s.startsWith('\\x')) {
    const hex = s.slice(2).replace(/\s+/g, '');
    const bad = /[^0-9a-f]/i.exec(hex);
    if (bad !== null) throw sqlError('22023', `invalid hexadecimal digit: "${bad[0]}"`, location);
    if (hex.length % 2 !== 0) throw sqlError('22023', 'invalid hexadecimal data: odd number of digits', location);
    return new Uint8Array(Buffer.from(hex, 'hex'));
  }
  const out: number[] = [];
  const bytes = Buffer.from(s, 'utf8');
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== 0x5c) {
      out.push(bytes[i]);
    } else if (bytes[i + 1] === 0x5c) {
      out.push(0x5c);
      i++;
    } else {
      const oct = s.slice(i + 1, i + 4);
      if (!/^[0-3][0-7]{2}$/.test(oct)) throw sqlError('22P02', 'invalid input syntax for type bytea', location);
      out.push(parseInt(oct, 8));
      i += 3;
    }
  }
  return new Uint8Array(out);
}

const BOOL_TEXT: Record<string, boolean> = { t: true, true: true, y: true, yes: true, on: true, '1': true, f: false, false: false, n: false, no: false, off: false, of: false, '0': false };

function parseBool(s: string, location?: number): boolean {
  const t = s.trim().toLowerCase();
  // Any unambiguous prefix of true/false/yes/no (PostgreSQL's boolin); 'o' alone is ambiguous.
  const exact = BOOL_TEXT[t];
  if (exact !== undefined) return exact;
  if (t.length > 0 && 'true'.startsWith(t)) return true;
  if (t.length > 0 && 'false'.startsWith(t)) return false;
  if (t.length > 1 && 'yes'.startsWith(t)) return true;
  throw invalidText('bool', s, location);
}

function invalidText(type: SqlType, s: string, location?: number): Error {
  return sqlError('22P02', `invalid input syntax for type ${TYPE_DISPLAY[type]}: "${s}"`, location);
}

/** Text → a value of `type` (the type's input function). */
export function parseText(s: string, type: SqlType, location?: number): Value {
  switch (type) {
    case 'text':
    case 'unknown':
      return s;
    case 'bool':
      return parseBool(s, location);
    case 'int2':
    case 'int4':
    case 'int8':
      return parseIntText(s, type, location);
    case 'numeric':
    case 'float4':
    case 'float8':
      return parseFloatText(s, type, location);
    case 'timestamp':
    case 'timestamptz':
    case 'date':
      return parseTimestamp(s, type, location);
    case 'interval':
      return parseInterval(s, location);
    case 'jsonb':
      return parseJsonb(s, location);
    case 'uuid':
      return parseUuid(s, location);
    case 'bytea':
      return parseBytea(s, location);
  }
}

// ---------------------------------------------------------------------------
// Casts

function cannotCast(from: SqlType, to: SqlType, location?: number): Error {
  return sqlError('42846', `cannot cast type ${TYPE_DISPLAY[from]} to ${TYPE_DISPLAY[to]}`, location);
}

const isInt = (t: SqlType): boolean => t === 'int2' || t === 'int4' || t === 'int8';
const isFloatish = (t: SqlType): boolean => t === 'numeric' || t === 'float4' || t === 'float8';
const isTime = (t: SqlType): boolean => t === 'timestamp' || t === 'timestamptz' || t === 'date';

/** Explicit CAST / `::` with PostgreSQL's semantics and errors; null stays null. */
export function castValue(v: Value, from: SqlType, to: SqlType, location?: number): Value {
  if (v === null) return null;
  if (from === to) return v;
  if (from === 'unknown' || (from === 'text' && to !== 'unknown')) return parseText(v as string, to, location);
  if (to === 'text' || to === 'unknown') return valueToText(v, from);
  if (isInt(from)) {
    if (isInt(to)) return checkInt(v as number | bigint, to, location);
    if (to === 'float4') return Math.fround(toNumber(v));
    if (isFloatish(to)) return toNumber(v);
    if (to === 'bool' && from === 'int4') return v !== 0;
  } else if (isFloatish(from)) {
    const x = v as number;
    if (isInt(to)) return floatToInt(x, to, from === 'numeric', location);
    if (to === 'float4') return toFloat4(x, location);
    if (isFloatish(to)) return x;
  } else if (from === 'bool') {
    if (to === 'int4') return v === true ? 1 : 0;
  } else if (isTime(from) && isTime(to)) {
    return to === 'date' ? floorToDay(v as number) : v;
  } else if (from === 'jsonb') {
    return castJsonb((v as Jsonb).value, to, location);
  }
  throw cannotCast(from, to, location);
}

function castJsonb(j: unknown, to: SqlType, location?: number): Value {
  if (to === 'bool' && typeof j === 'boolean') return j;
  if ((isInt(to) || isFloatish(to)) && typeof j === 'number') return castValue(j, 'numeric', to, location);
  if (to !== 'bool' && !isInt(to) && !isFloatish(to)) throw cannotCast('jsonb', to, location);
  throw sqlError('22023', `cannot cast jsonb ${jsonKind(j)} to type ${TYPE_DISPLAY[to]}`, location);
}

// PostgreSQL's type categories (pg_type.typcategory) and preferred types, for implicit coercion.
const CATEGORY: Record<SqlType, string> = {
  bool: 'B',
  int2: 'N',
  int4: 'N',
  int8: 'N',
  numeric: 'N',
  float4: 'N',
  float8: 'N',
  text: 'S',
  bytea: 'U',
  timestamptz: 'D',
  timestamp: 'D',
  date: 'D',
  interval: 'T',
  jsonb: 'U',
  uuid: 'U',
  unknown: 'X',
};
const PREFERRED: ReadonlySet<SqlType> = new Set(['bool', 'float8', 'text', 'timestamptz', 'interval']);

export function typeCategory(t: SqlType): string {
  return CATEGORY[t];
}

export function isPreferredType(t: SqlType): boolean {
  return PREFERRED.has(t);
}

/**
 * PostgreSQL's implicit casts (pg_cast context 'i') among our types: up the numeric tower
 * (int2 → int4 → int8 → numeric → float4 → float8), date → timestamp/timestamptz,
 * timestamp → timestamptz (not back: that one is assignment-only), unknown → anything.
 * No implicit cast to text (uuid::text must be explicit).
 */
export function implicitCastable(from: SqlType, to: SqlType): boolean {
  if (from === to || from === 'unknown') return true;
  const rf = NUMERIC_RANK[from];
  const rt = NUMERIC_RANK[to];
  if (rf !== undefined && rt !== undefined) return rf < rt;
  if (from === 'date') return to === 'timestamp' || to === 'timestamptz';
  return from === 'timestamp' && to === 'timestamptz';
}

/**
 * PostgreSQL's select_common_type (CASE, COALESCE, UNION, IN, VALUES, GREATEST…): all unknown →
 * text; else the first known type, moved to a later one of the same category that it casts to
 * implicitly (and not back), stopping at the category's preferred type. Category mismatches are
 * 42804 "`context` types integer and text cannot be matched"; a same-category type that cannot
 * be converted is 42846 "`context` could not convert type jsonb to uuid".
 */
export function commonType(types: SqlType[], context: string, location?: number): SqlType {
  let ptype: SqlType | null = null;
  for (const t of types) {
    if (t === 'unknown') continue;
    if (ptype === null) {
      ptype = t;
      continue;
    }
    if (t === ptype) continue;
    if (CATEGORY[t] !== CATEGORY[ptype]) {
      throw sqlError('42804', `${context} types ${TYPE_DISPLAY[ptype]} and ${TYPE_DISPLAY[t]} cannot be matched`, location);
    }
    if (!PREFERRED.has(ptype) && implicitCastable(ptype, t) && !implicitCastable(t, ptype)) ptype = t;
  }
  if (ptype === null) return 'text';
  for (const t of types) {
    if (!implicitCastable(t, ptype)) throw sqlError('42846', `${context} could not convert type ${TYPE_DISPLAY[t]} to ${TYPE_DISPLAY[ptype]}`, location);
  }
  return ptype;
}

// ---------------------------------------------------------------------------
// Output

/** PostgreSQL's text output of a non-null value (what `v::text` gives). */
export function valueToText(v: Value, type: SqlType): string {
  if (v === null) return '';
  switch (type) {
    case 'bool':
      return v ? 'true' : 'false';
    case 'int2':
    case 'int4':
    case 'int8':
      return String(v);
    case 'numeric':
      return formatNumeric(v as number);
    case 'float4':
      return formatFloat(v as number, true);
    case 'float8':
      return formatFloat(v as number, false);
    case 'timestamptz':
      if (!Number.isFinite(v as number)) return formatDate(v as number);
      return `${formatTimestampText(v as number)}+00`;
    case 'timestamp':
      if (!Number.isFinite(v as number)) return formatDate(v as number);
      return formatTimestampText(v as number);
    case 'date':
      return formatDate(v as number);
    case 'interval':
      return formatInterval(v as Interval);
    case 'bytea':
      return `\\x${Buffer.from(v as Uint8Array).toString('hex')}`;
    case 'jsonb':
      return formatJsonb((v as Jsonb).value);
    default:
      return String(v);
  }
}

/**
 * A value as the HTTP answer's JSON cell: ints as numbers (a decimal string past 2^53),
 * floats as numbers (NaN / Infinity / -Infinity as those strings), timestamps RFC 3339 'Z',
 * dates 'YYYY-MM-DD', intervals their PostgreSQL text, bytea base64, jsonb the JSON itself.
 */
export function valueToJson(v: Value, type: SqlType): unknown {
  if (v === null) return null;
  switch (type) {
    case 'int2':
    case 'int4':
    case 'int8':
      return typeof v === 'bigint' ? v.toString() : v;
    case 'numeric':
    case 'float4':
    case 'float8': {
      const x = toNumber(v);
      return Number.isFinite(x) ? x : formatFloat(x, false);
    }
    case 'timestamptz':
    case 'timestamp':
      return formatRfc3339(v as number);
    case 'date':
      return formatDate(v as number);
    case 'interval':
      return formatInterval(v as Interval);
    case 'bytea':
      return Buffer.from(v as Uint8Array).toString('base64');
    case 'jsonb':
      return (v as Jsonb).value;
    default:
      return v;
  }
}

/**
 * A request parameter ($1…) of a known type from its JSON: numbers (or decimal strings) for
 * numbers, strings read as the type's text input, booleans for bool (or int4), null → NULL.
 * An 'unknown' parameter keeps a string as a string, a number as the number.
 */
export function jsonToValue(j: unknown, type: SqlType, location?: number): Value {
  if (j === null || j === undefined) return null;
  if (type === 'jsonb') return new Jsonb(j);
  if (typeof j === 'string') {
    if (type === 'bytea' && !j.startsWith('\\x')) return new Uint8Array(Buffer.from(j, 'base64'));
    return parseText(j, type, location);
  }
  if (typeof j === 'number') {
    if (type === 'unknown') return j;
    if (isInt(type)) {
      if (!Number.isInteger(j)) throw invalidText(type, String(j), location);
      return checkInt(j, type, location);
    }
    if (type === 'float4') return toFloat4(j, location);
    if (isFloatish(type)) return j;
    if (type === 'text') return String(j);
  }
  if (typeof j === 'boolean') {
    if (type === 'bool' || type === 'unknown') return j;
    if (type === 'text') return j ? 'true' : 'false';
  }
  throw invalidText(type, typeof j === 'object' ? JSON.stringify(j) : String(j), location);
}

// ---------------------------------------------------------------------------
// Ordering and hashing

/** Code point order of two strings (UTF-8 bytewise, as PostgreSQL's COLLATE "C"). */
export function compareText(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // UTF-16 code units order surrogates (code points ≥ U+10000) below U+E000…U+FFFF: fix up.
    if (x >= 0xd800) x += x >= 0xe000 ? -0x800 : 0x2000;
    if (y >= 0xd800) y += y >= 0xe000 ? -0x800 : 0x2000;
    return x - y;
  }
  return a.length - b.length;
}

/** Orders two numbers of the numeric tower (number or bigint); NaN above everything, equal to NaN. */
export function compareNumbers(a: number | bigint, b: number | bigint): number {
  if (typeof a === 'number' && typeof b === 'number') {
    if (a < b) return -1;
    if (a > b) return 1;
    if (a === b) return 0;
    return Number.isNaN(a) ? (Number.isNaN(b) ? 0 : 1) : -1;
  }
  if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'bigint') return -compareNumbers(b, a);
  // a: number, b: bigint
  const x = a;
  if (Number.isNaN(x)) return 1;
  if (!Number.isFinite(x)) return x > 0 ? 1 : -1;
  const fl = Math.floor(x);
  const big = BigInt(fl);
  if (big !== b) return big < (b as bigint) ? -1 : 1;
  return x === fl ? 0 : 1;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** The total order of two non-null values of one type (ORDER BY, min/max, merge); <0, 0, >0. */
export function compareValues(a: Value, b: Value, type: SqlType): number {
  switch (type) {
    case 'int2':
    case 'int4':
    case 'int8':
    case 'numeric':
    case 'float4':
    case 'float8':
      return compareNumbers(a as number | bigint, b as number | bigint);
    case 'timestamp':
    case 'timestamptz':
    case 'date': {
      const x = a as number;
      const y = b as number;
      return x < y ? -1 : x > y ? 1 : 0;
    }
    case 'bool':
      return (a ? 1 : 0) - (b ? 1 : 0);
    case 'bytea':
      return compareBytes(a as Uint8Array, b as Uint8Array);
    case 'interval': {
      const x = intervalKey(a as Interval);
      const y = intervalKey(b as Interval);
      return x < y ? -1 : x > y ? 1 : 0;
    }
    case 'jsonb':
      return compareJsonb((a as Jsonb).value, (b as Jsonb).value);
    default:
      return compareText(a as string, b as string);
  }
}

/** The hash key of NULL: no non-null value's key equals it (PostgreSQL text cannot hold NUL). */
export const NULL_HASH_KEY = '\u0000NULL';

/**
 * A key for hash tables (GROUP BY, DISTINCT, hash joins): values that `=` finds equal get equal
 * keys (1 and 1n, '1 mon' and '30 days', NaN and NaN, 0 and -0); NULL gets NULL_HASH_KEY.
 */
export function hashKeyOf(v: Value, type: SqlType): string | number {
  if (v === null) return NULL_HASH_KEY;
  switch (type) {
    case 'bool':
      return v ? 1 : 0;
    case 'int2':
    case 'int4':
    case 'int8':
    case 'numeric':
    case 'float4':
    case 'float8':
      if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) && BigInt(Number(v)) === v ? Number(v) : `n${v}`;
      return (v as number) + 0;
    case 'interval':
      return intervalKey(v as Interval);
    case 'bytea':
      return `x${Buffer.from(v as Uint8Array).toString('hex')}`;
    case 'jsonb':
      return formatJsonb((v as Jsonb).value);
    case 'timestamp':
    case 'timestamptz':
    case 'date':
      return v as number;
    default:
      return v as string;
  }
}
