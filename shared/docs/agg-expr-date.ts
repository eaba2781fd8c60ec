// Date expression operators. Every one takes an optional timezone: "UTC",
// an Olson name (via Intl) or a fixed offset "+hh:mm" / "+hhmm" / "+hh".
// Calendar arithmetic works on "local milliseconds" (the UTC instant shifted
// by the zone's offset), read back with the getUTC* accessors.

import {
  badQuery,
  compileArgs,
  isNullish,
  isObjectId,
  isPlainDoc,
  namedArgs,
  typeLabel,
  type ExprCompiler,
  type Node,
  type OpTable,
  type Scope,
} from './agg-expr-core.js';
import { wholeNumber } from './agg-expr-num.js';
import type { DocValue } from './doc-types.js';

const MS_PER_DAY = 86_400_000;

// ------------------------------------------------------------ time zones ----

type Zone = (utcMs: number) => number; // offset in ms at that instant

const zoneCache = new Map<string, Zone>();

function zoneOf(name: string, op: string): Zone {
  let zone = zoneCache.get(name);
  if (zone === undefined) {
    zone = parseZone(name, op);
    zoneCache.set(name, zone);
  }
  return zone;
}

function parseZone(name: string, op: string): Zone {
  if (name === 'UTC' || name === 'GMT' || name === 'Z') return () => 0;
  const m = /^([+-])(\d{2}):?(\d{2})?$/.exec(name);
  if (m !== null) {
    const offset = (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3] ?? 0)) * 60_000;
    return () => offset;
  }
  let fmt: Intl.DateTimeFormat;
  try {
    fmt = new Intl.DateTimeFormat('en-US', {
      timeZone: name,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  } catch {
    throw badQuery(`${op}: unrecognized time zone identifier: "${name}"`);
  }
  return (utcMs) => olsonOffset(fmt, utcMs);
}

function olsonOffset(fmt: Intl.DateTimeFormat, utcMs: number): number {
  const parts: Record<string, number> = {};
  for (const p of fmt.formatToParts(new Date(utcMs))) parts[p.type] = Number(p.value);
  const wall = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second);
  const floored = utcMs - (((utcMs % 1000) + 1000) % 1000);
  return wall - floored;
}

/** The UTC instant of a local wall-clock time (the offset of the result instant, DST-aware). */
function localToUtc(localMs: number, zone: Zone): number {
  const guess = localMs - zone(localMs);
  return localMs - zone(guess);
}

// ---------------------------------------------------------------- parts ----

export interface DateParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  millisecond: number;
  dayOfWeek: number; // 1 = Sunday
  dayOfYear: number;
  week: number; // %U: weeks starting Sunday, days before the first Sunday are week 0
  isoWeek: number;
  isoWeekYear: number;
  isoDayOfWeek: number; // 1 = Monday
  offsetMinutes: number;
}

export function datePartsOf(date: Date, zone: Zone): DateParts {
  const offset = zone(date.getTime());
  const local = new Date(date.getTime() + offset);
  const year = local.getUTCFullYear();
  const startOfYear = Date.UTC(year, 0, 1);
  const dayOfYear = Math.floor((local.getTime() - startOfYear) / MS_PER_DAY) + 1;
  const dow0 = local.getUTCDay(); // 0 = Sunday
  const firstDow0 = new Date(startOfYear).getUTCDay();
  const [isoWeekYear, isoWeek] = isoWeekOf(local);
  return {
    year,
    month: local.getUTCMonth() + 1,
    day: local.getUTCDate(),
    hour: local.getUTCHours(),
    minute: local.getUTCMinutes(),
    second: local.getUTCSeconds(),
    millisecond: local.getUTCMilliseconds(),
    dayOfWeek: dow0 + 1,
    dayOfYear,
    week: Math.floor((dayOfYear - 1 + firstDow0) / 7),
    isoWeek,
    isoWeekYear,
    isoDayOfWeek: dow0 === 0 ? 7 : dow0,
    offsetMinutes: Math.round(offset / 60_000),
  };
}

function isoWeekOf(local: Date): [number, number] {
  // the Thursday of this ISO week decides the ISO year
  const dow = local.getUTCDay() === 0 ? 7 : local.getUTCDay();
  const thursday = new Date(Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), local.getUTCDate() + 4 - dow));
  const year = thursday.getUTCFullYear();
  const week = Math.floor((thursday.getTime() - Date.UTC(year, 0, 1)) / MS_PER_DAY / 7) + 1;
  return [year, week];
}

// ------------------------------------------------------------ arguments ----

function requireDate(v: DocValue, op: string): Date {
  if (v instanceof Date) return v;
  if (isObjectId(v)) return v.getTimestamp();
  throw badQuery(`${op}: can't convert from BSON type ${typeLabel(v)} to Date`);
}

function zoneArg(node: Node | null, s: Scope, op: string): Zone | null {
  if (node === null) return () => 0;
  const tz = node(s);
  if (isNullish(tz)) return null;
  if (typeof tz !== 'string') throw badQuery(`${op}: timezone must be a string, found: ${typeLabel(tz)}`);
  return zoneOf(tz, op);
}

/** $year-style operators: `<date>`, `[<date>]` or `{date, timezone}`. */
function datePart(pick: (p: DateParts) => number) {
  return (args: DocValue, c: ExprCompiler, op: string): Node => {
    let dateNode: Node;
    let tzNode: Node | null = null;
    if (isPlainDoc(args) && 'date' in args) {
      const named = namedArgs(args, op, ['date'], ['timezone']);
      dateNode = c.compile(named.date);
      if (named.timezone !== undefined) tzNode = c.compile(named.timezone);
    } else {
      [dateNode] = compileArgs(args, c, op, 1);
    }
    return (s) => {
      const d = dateNode(s);
      const zone = zoneArg(tzNode, s, op);
      if (isNullish(d) || zone === null) return null;
      return pick(datePartsOf(requireDate(d, op), zone));
    };
  };
}

// -------------------------------------------------------- $dateToString ----

const pad = (n: number, width: number): string => String(Math.abs(n)).padStart(width, '0');

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MONTH_NAMES = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

const FORMATTERS: Readonly<Record<string, (p: DateParts) => string>> = {
  d: (p) => pad(p.day, 2),
  G: (p) => pad(p.isoWeekYear, 4),
  H: (p) => pad(p.hour, 2),
  j: (p) => pad(p.dayOfYear, 3),
  L: (p) => pad(p.millisecond, 3),
  m: (p) => pad(p.month, 2),
  M: (p) => pad(p.minute, 2),
  S: (p) => pad(p.second, 2),
  w: (p) => String(p.dayOfWeek),
  u: (p) => String(p.isoDayOfWeek),
  U: (p) => pad(p.week, 2),
  V: (p) => pad(p.isoWeek, 2),
  Y: (p) => pad(p.year, 4),
  z: (p) => `${p.offsetMinutes < 0 ? '-' : '+'}${pad(Math.trunc(p.offsetMinutes / 60), 2)}${pad(p.offsetMinutes % 60, 2)}`,
  Z: (p) => String(p.offsetMinutes),
  b: (p) => MONTHS[p.month - 1],
  B: (p) => MONTH_NAMES[p.month - 1],
  '%': () => '%',
};

export function formatDate(format: string, parts: DateParts, op = '$dateToString'): string {
  let out = '';
  for (let i = 0; i < format.length; i++) {
    const ch = format[i];
    if (ch !== '%') {
      out += ch;
      continue;
    }
    const f = FORMATTERS[format[i + 1]];
    if (f === undefined) throw badQuery(`${op}: invalid format character '%${format[i + 1] ?? ''}' in format string`);
    out += f(parts);
    i++;
  }
  return out;
}

function dateToString(args: DocValue, c: ExprCompiler, op: string): Node {
  const named = namedArgs(args, op, ['date'], ['format', 'timezone', 'onNull']);
  const date = c.compile(named.date);
  const format = named.format === undefined ? null : c.compile(named.format);
  const tz = named.timezone === undefined ? null : c.compile(named.timezone);
  const onNull = named.onNull === undefined ? null : c.compile(named.onNull);
  return (s) => {
    const f = format === null ? '%Y-%m-%dT%H:%M:%S.%LZ' : format(s);
    const zone = zoneArg(tz, s, op);
    if (isNullish(f) || zone === null) return null;
    if (typeof f !== 'string') throw badQuery(`${op}: format must be a string`);
    const d = date(s);
    if (isNullish(d)) return onNull === null ? null : onNull(s);
    return formatDate(f, datePartsOf(requireDate(d, op), zone), op);
  };
}

// ----------------------------------------------------------- $dateTrunc ----

const FIXED_UNITS: Readonly<Record<string, number>> = {
  millisecond: 1,
  second: 1000,
  minute: 60_000,
  hour: 3_600_000,
  day: MS_PER_DAY,
  week: 7 * MS_PER_DAY,
};
const MONTH_UNITS: Readonly<Record<string, number>> = { month: 1, quarter: 3, year: 12 };
const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const REFERENCE_LOCAL_MS = Date.UTC(2000, 0, 1); // MongoDB's bin reference: 2000-01-01T00:00 local

/** Truncates to bins of `binSize` units counted from 2000-01-01 (weeks: the first startOfWeek day from then). */
export function truncateDate(date: Date, unit: string, binSize: number, zone: Zone, startOfWeek: number): Date {
  const local = date.getTime() + zone(date.getTime());
  const months = MONTH_UNITS[unit];
  if (months !== undefined) {
    const d = new Date(local);
    const m = (d.getUTCFullYear() - 2000) * 12 + d.getUTCMonth();
    const bin = months * binSize;
    const start = Math.floor(m / bin) * bin;
    const startLocal = Date.UTC(2000 + Math.floor(start / 12), ((start % 12) + 12) % 12, 1);
    return new Date(localToUtc(startLocal, zone));
  }
  const width = FIXED_UNITS[unit] * binSize;
  let reference = REFERENCE_LOCAL_MS;
  if (unit === 'week') reference += (((startOfWeek - 6) % 7) + 7) % 7 * MS_PER_DAY; // 2000-01-01 was a Saturday
  const startLocal = reference + Math.floor((local - reference) / width) * width;
  return new Date(localToUtc(startLocal, zone));
}

function dateTrunc(args: DocValue, c: ExprCompiler, op: string): Node {
  const named = namedArgs(args, op, ['date', 'unit'], ['binSize', 'timezone', 'startOfWeek']);
  const [date, unit] = [c.compile(named.date), c.compile(named.unit)];
  const binSize = named.binSize === undefined ? null : c.compile(named.binSize);
  const tz = named.timezone === undefined ? null : c.compile(named.timezone);
  const sow = named.startOfWeek === undefined ? null : c.compile(named.startOfWeek);
  return (s) => {
    const [d, u] = [date(s), unit(s)];
    const size = binSize === null ? 1 : binSize(s);
    const zone = zoneArg(tz, s, op);
    const week = sow === null ? 'sun' : sow(s);
    if (isNullish(d) || isNullish(u) || isNullish(size) || zone === null) return null;
    if (u === 'week' && isNullish(week)) return null;
    if (typeof u !== 'string' || (FIXED_UNITS[u] === undefined && MONTH_UNITS[u] === undefined)) {
      throw badQuery(`${op}: unit must be one of year, quarter, month, week, day, hour, minute, second, millisecond`);
    }
    const n = wholeNumber(size);
    if (n === null || n <= 0) throw badQuery(`${op} requires 'binSize' to be a positive integer`);
    const weekday = typeof week === 'string' ? WEEKDAYS.indexOf(week.toLowerCase().slice(0, 3)) : -1;
    if (u === 'week' && weekday < 0) throw badQuery(`${op}: startOfWeek must be a day of the week`);
    return truncateDate(requireDate(d, op), u, n, zone, weekday);
  };
}

export const DATE_OPS: OpTable = {
  $year: datePart((p) => p.year),
  $month: datePart((p) => p.month),
  $dayOfMonth: datePart((p) => p.day),
  $hour: datePart((p) => p.hour),
  $minute: datePart((p) => p.minute),
  $second: datePart((p) => p.second),
  $millisecond: datePart((p) => p.millisecond),
  $dayOfWeek: datePart((p) => p.dayOfWeek),
  $dayOfYear: datePart((p) => p.dayOfYear),
  $week: datePart((p) => p.week),
  $isoWeek: datePart((p) => p.isoWeek),
  $isoWeekYear: datePart((p) => p.isoWeekYear),
  $isoDayOfWeek: datePart((p) => p.isoDayOfWeek),
  $dateToString: dateToString,
  $dateTrunc: dateTrunc,
};
