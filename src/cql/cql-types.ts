// CQL types on MantisDB's column types, and CQL values (literals, bind
// parameters, the few functions) as cells of a column.
//
//   CQL type                 ours       checks
//   text, varchar            string
//   ascii                    string     US-ASCII only
//   int / smallint / tinyint int64      32 / 16 / 8-bit range
//   bigint                   int64
//   double                   float64
//   float                    float64    rounded to 32-bit precision
//   boolean                  boolean
//   timestamp                timestamp  µs; literals: integer ms since the epoch or
//                                       'yyyy-mm-dd[( |T)hh:mm[:ss[.fff]]][Z|±hh[:mm]|±hhmm]' (UTC when no zone)
//   uuid                     string     canonical lower-case text
//   timeuuid                 string     lower-case text of a version-1 UUID, time fields first
//                                       (timeuuidStored: sorts by time); answered in the standard form
//   blob                     binary     0x… literals
//   date                     string     'yyyy-mm-dd' (years 0001..9999: the text sorts as the dates do)
//   time                     string     'hh:mm:ss.nnnnnnnnn' (nanoseconds; literals may omit the fraction)
//   inet                     string     an IPv4 or IPv6 address, canonical text (ordered as text)
//
// The CQL type is kept in ColumnDef.cqlType; a table created over HTTP (no
// cqlType) reads as bigint / double / text / boolean / timestamp / blob.
// Literal kinds follow Cassandra's assignment rules (a 'string' is not a
// uuid, an integer is not text, …) and errors use its messages ("Invalid
// STRING constant (abc) for "id" of type int"). Bind parameters arrive as
// JSON: numbers, strings (uuids, timestamps as RFC 3339 or integer ms, int64
// beyond 2^53 as decimal strings, blobs as 0x… hex or base64), booleans, null.

import { randomBytes, randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import { MantisError } from '../../shared/errors.js';
import { decodeBase64, daysFromCivil, parseInt64 } from '../../shared/tables/cell-json.js';
import type { Cell, ColumnDef, ColumnType } from '../../shared/tables/table-types.js';
import { normalizeInt64 } from '../../shared/tables/table-types.js';
import type { CqlLiteral, CqlTerm, CqlTypeName } from './cql-ast.js';

export type CqlTypeMapping = { readonly type: ColumnType; readonly cqlType: string };

const NATIVE: Record<string, ColumnType> = {
  text: 'string',
  varchar: 'string',
  ascii: 'string',
  int: 'int64',
  smallint: 'int64',
  tinyint: 'int64',
  bigint: 'int64',
  double: 'float64',
  float: 'float64',
  boolean: 'boolean',
  timestamp: 'timestamp',
  uuid: 'string',
  timeuuid: 'string',
  blob: 'binary',
  date: 'string',
  time: 'string',
  inet: 'string',
};

const UNSUPPORTED = new Set(['counter', 'decimal', 'duration', 'varint', 'list', 'set', 'map', 'frozen', 'tuple', 'vector']);

function invalid(message: string): MantisError {
  return new MantisError('Invalid', message);
}

/** A declared CQL type → our column type, or Invalid when MantisDB has no such type. */
export function mapCqlType(t: CqlTypeName): CqlTypeMapping {
  const type = t.params.length === 0 ? NATIVE[t.name] : undefined;
  if (type !== undefined) return { type, cqlType: t.name === 'varchar' ? 'text' : t.name };
  if (UNSUPPORTED.has(t.name)) {
    throw invalid(`type ${typeText(t)} is not supported (MantisDB's CQL types: ${Object.keys(NATIVE).join(', ')})`);
  }
  throw invalid(`Unknown type ${typeText(t)}`);
}

function typeText(t: CqlTypeName): string {
  return t.params.length === 0 ? t.name : `${t.name}<${t.params.map(typeText).join(', ')}>`;
}

/** The CQL type a column reads as. */
export function cqlTypeOf(col: ColumnDef): string {
  if (col.cqlType !== undefined) return col.cqlType;
  switch (col.type) {
    case 'int64':
      return 'bigint';
    case 'float64':
      return 'double';
    case 'string':
      return 'text';
    case 'boolean':
      return 'boolean';
    case 'timestamp':
      return 'timestamp';
    case 'binary':
      return 'blob';
  }
}

const INT_RANGES: Record<string, readonly [number, number]> = {
  int: [-2147483648, 2147483647],
  smallint: [-32768, 32767],
  tinyint: [-128, 127],
};

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** What a term means once its column is known: the statement's bind values and the clock. */
export type TermContext = {
  /** The bind values, by marker index (already resolved from positional or named params). */
  readonly params: readonly unknown[];
  readonly nowMs: number;
};

/**
 * A term as a cell of `col`. `what` names the receiver in errors (a column name, or e.g. "[ttl]").
 * NULL comes back as null; callers refuse it where Cassandra does (keys, conditions).
 */
export function termToCell(term: CqlTerm, col: ColumnDef, ctx: TermContext): Cell {
  const cql = cqlTypeOf(col);
  switch (term.kind) {
    case 'bind':
      return paramToCell(ctx.params[term.index], col);
    case 'call':
      return callToCell(term, col, cql, ctx);
    case 'literal':
      return literalToCell(term.type, term.text, col, cql);
  }
}

function constantError(kind: string, text: string, col: ColumnDef, cql: string): MantisError {
  return invalid(`Invalid ${kind.toUpperCase()} constant (${text}) for "${col.name}" of type ${cql}`);
}

function literalToCell(kind: CqlLiteral['type'], text: string, col: ColumnDef, cql: string): Cell {
  if (kind === 'null') return null;
  switch (cql) {
    case 'text':
    case 'varchar':
      if (kind !== 'string') throw constantError(kind, text, col, cql);
      if (!text.isWellFormed()) throw invalid(`Invalid UTF-8 in string literal for "${col.name}": a lone UTF-16 surrogate`);
      return text;
    case 'ascii':
      if (kind !== 'string') throw constantError(kind, text, col, cql);
      // eslint-disable-next-line no-control-regex
      if (!/^[\x00-\x7f]*$/.test(text)) throw invalid(`Invalid ASCII character in string literal ${text}`);
      return text;
    case 'int':
    case 'smallint':
    case 'tinyint': {
      if (kind !== 'integer') throw constantError(kind, text, col, cql);
      const v = Number(text);
      const [lo, hi] = INT_RANGES[cql];
      if (!Number.isInteger(v) || v < lo || v > hi) throw invalid(`Unable to make ${cql} from '${text}'`);
      return v === 0 ? 0 : v;
    }
    case 'bigint': {
      if (kind !== 'integer') throw constantError(kind, text, col, cql);
      const v = parseInt64(text);
      if (v === null) throw invalid(`Unable to make long from '${text}'`);
      return v;
    }
    case 'double':
    case 'float': {
      if (kind !== 'integer' && kind !== 'float') throw constantError(kind, text, col, cql);
      const v = floatOf(text);
      return cql === 'float' ? Math.fround(v) : v;
    }
    case 'boolean':
      if (kind !== 'boolean') throw constantError(kind, text, col, cql);
      return text === 'true';
    case 'timestamp':
      if (kind === 'integer') return timestampFromMs(text, col);
      if (kind === 'string') return parseCqlTimestamp(text);
      throw constantError(kind, text, col, cql);
    case 'date':
      if (kind === 'string') return parseCqlDate(text);
      if (kind === 'integer') return dateFromDays(text);
      throw constantError(kind, text, col, cql);
    case 'time':
      if (kind === 'string') return parseCqlTime(text);
      if (kind === 'integer') return timeFromNanos(text);
      throw constantError(kind, text, col, cql);
    case 'inet':
      if (kind !== 'string') throw constantError(kind, text, col, cql);
      return parseInet(text);
    case 'uuid':
    case 'timeuuid':
      if (kind !== 'uuid') throw constantError(kind, text, col, cql);
      return checkUuid(text.toLowerCase(), cql);
    case 'blob':
      if (kind !== 'hex') throw constantError(kind, text, col, cql);
      return hexToBytes(text);
    default:
      throw invalid(`column "${col.name}" has a type CQL cannot write (${cql})`);
  }
}

function floatOf(text: string): number {
  switch (text.toLowerCase()) {
    case 'nan':
    case '-nan':
      return NaN;
    case 'infinity':
      return Infinity;
    case '-infinity':
      return -Infinity;
    default:
      return Number(text);
  }
}

function timestampFromMs(text: string, col: ColumnDef): Cell {
  const ms = parseInt64(text);
  if (ms === null) throw invalid(`Unable to make long from '${text}' for "${col.name}"`);
  if (typeof ms === 'number' && Number.isSafeInteger(ms * 1000)) return ms * 1000;
  const us = BigInt(ms) * 1000n;
  if (us < -(2n ** 63n) || us >= 2n ** 63n) throw invalid(`timestamp ${text} ms is out of range`);
  return normalizeInt64(us);
}

/** yyyy-mm-dd[( |T)hh:mm[:ss[.f…]]][zone]: Cassandra's timestamp literal forms. */
const TIMESTAMP_RE = /^([+-]?\d{4,})-(\d{1,2})-(\d{1,2})(?:[ Tt](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(?:([Zz])|(?:GMT|UTC)?([+-])(\d{2}):?(\d{2})?)?$/;

/** A CQL timestamp string → µs since the epoch (UTC when it names no zone). */
export function parseCqlTimestamp(text: string): number | bigint {
  const m = TIMESTAMP_RE.exec(text.trim());
  const bad = (): MantisError => invalid(`Unable to coerce '${text}' to a formatted date (long)`);
  if (m === null) throw bad();
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = m[4] === undefined ? 0 : Number(m[4]);
  const minute = m[5] === undefined ? 0 : Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  const micros = m[7] === undefined ? 0 : Number(m[7].slice(0, 6).padEnd(6, '0'));
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) throw bad();
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const dim = month === 2 ? (leap ? 29 : 28) : month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
  if (day > dim) throw bad();
  let offsetSec = 0;
  if (m[9] !== undefined) {
    const oh = Number(m[10]);
    const om = m[11] === undefined ? 0 : Number(m[11]);
    if (oh > 23 || om > 59) throw bad();
    offsetSec = (oh * 3600 + om * 60) * (m[9] === '-' ? -1 : 1);
  }
  const secs = daysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offsetSec;
  const us = secs * 1e6 + micros;
  if (Number.isSafeInteger(us)) return us;
  // Past 2^53 µs (after 2255, before 1685): exact in bigint, within int64.
  const big = BigInt(secs) * 1000000n + BigInt(micros);
  if (big < -(2n ** 63n) || big >= 2n ** 63n) throw bad();
  return normalizeInt64(big);
}

function checkUuid(text: string, cql: string): string {
  if (cql === 'timeuuid' && STORED_TIMEUUID_RE.test(text) && text[0] === '1') return text; // as the HTTP API shows it
  if (!UUID_RE.test(text)) throw invalid(`Unable to make UUID from '${text}'`);
  if (cql === 'timeuuid' && text[14] !== '1') throw invalid('Unsupported UUID version for timeuuid: only version 1 (time-based) UUIDs are timeuuids');
  return cql === 'timeuuid' ? timeuuidStored(text) : text;
}

function hexToBytes(text: string): Uint8Array {
  const hex = text.slice(2);
  if (hex.length % 2 !== 0) throw invalid(`An hex string representing bytes must have an even length (${text})`);
  const buf = Buffer.from(hex, 'hex');
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

function callToCell(term: Extract<CqlTerm, { kind: 'call' }>, col: ColumnDef, cql: string, ctx: TermContext): Cell {
  const args = term.args;
  const noArgs = (): void => {
    if (args.length !== 0) throw invalid(`Invalid number of arguments in call to function system.${term.name}: 0 required but ${args.length} provided`);
  };
  const assign = (fnType: string, value: Cell): Cell => {
    if (fnType !== cql && !(fnType === 'timeuuid' && cql === 'uuid')) {
      throw invalid(`Type error: cannot assign result of function system.${term.name} (type ${fnType}) to ${col.name} (type ${cql})`);
    }
    return value;
  };
  switch (term.name) {
    case 'uuid':
      noArgs();
      return assign('uuid', randomUUID());
    case 'now':
    case 'currenttimeuuid': {
      noArgs();
      const u = timeuuidAt(ctx.nowMs);
      return assign('timeuuid', cql === 'timeuuid' ? timeuuidStored(u) : u);
    }
    case 'currenttimestamp':
      noArgs();
      return assign('timestamp', ctx.nowMs * 1000);
    case 'currentdate':
      noArgs();
      return assign('date', new Date(ctx.nowMs).toISOString().slice(0, 10));
    case 'todate': {
      if (args.length !== 1) throw invalid(`Invalid number of arguments in call to function system.todate: 1 required but ${args.length} provided`);
      const u = termToCell(args[0], { name: col.name, type: 'string', nullable: true, default: null, cqlType: 'timeuuid' }, ctx);
      if (u === null) return null;
      return assign('date', new Date(timeuuidMs(u as string)).toISOString().slice(0, 10));
    }
    case 'totimestamp':
    case 'dateof': {
      if (args.length !== 1) throw invalid(`Invalid number of arguments in call to function system.${term.name}: 1 required but ${args.length} provided`);
      const arg = args[0];
      const u = termToCell(arg, { name: col.name, type: 'string', nullable: true, default: null, cqlType: 'timeuuid' }, ctx);
      if (u === null) return null;
      return assign('timestamp', timeuuidMs(u as string) * 1000);
    }
    default:
      throw invalid(`Unknown function '${term.name}'`);
  }
}

// ---- bind parameters (JSON) ----

function paramError(col: ColumnDef, cql: string, value: unknown, expected: string): MantisError {
  const shown = typeof value === 'string' ? JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value) : Array.isArray(value) ? 'an array' : value === undefined ? 'nothing' : typeof value === 'object' ? 'an object' : String(value);
  return invalid(`Invalid value for bind variable ${col.name} of type ${cql}: expected ${expected}, got ${shown}`);
}

/** A JSON bind value → a cell of `col` (see the module comment for the JSON forms). */
export function paramToCell(value: unknown, col: ColumnDef): Cell {
  const cql = cqlTypeOf(col);
  if (value === null) return null;
  switch (cql) {
    case 'text':
    case 'varchar':
    case 'ascii':
      if (typeof value !== 'string') throw paramError(col, cql, value, 'a string');
      // eslint-disable-next-line no-control-regex
      if (cql === 'ascii' && !/^[\x00-\x7f]*$/.test(value)) throw invalid(`Invalid byte for ascii in bind variable ${col.name}`);
      if (!value.isWellFormed()) throw invalid(`Invalid UTF-8 for bind variable ${col.name}: the string holds a lone UTF-16 surrogate`);
      return value;
    case 'int':
    case 'smallint':
    case 'tinyint': {
      if (typeof value !== 'number' || !Number.isInteger(value)) throw paramError(col, cql, value, 'an integer');
      const [lo, hi] = INT_RANGES[cql];
      if (value < lo || value > hi) throw invalid(`Invalid value for bind variable ${col.name}: ${value} is outside the ${cql} range ${lo}..${hi}`);
      return value === 0 ? 0 : value;
    }
    case 'bigint': {
      if (typeof value === 'number' && Number.isSafeInteger(value)) return value === 0 ? 0 : value;
      if (typeof value === 'string') {
        const v = parseInt64(value);
        if (v !== null) return v;
      }
      throw paramError(col, cql, value, 'an integer (a decimal string beyond 2^53)');
    }
    case 'double':
    case 'float': {
      let v: number;
      if (typeof value === 'number') v = value;
      else if (typeof value === 'string' && /^-?(NaN|Infinity)$/.test(value)) v = floatOf(value);
      else throw paramError(col, cql, value, 'a number');
      return cql === 'float' ? Math.fround(v) : v;
    }
    case 'boolean':
      if (typeof value !== 'boolean') throw paramError(col, cql, value, 'true or false');
      return value;
    case 'timestamp':
      if (typeof value === 'number' && Number.isSafeInteger(value)) return timestampFromMs(String(value), col);
      if (typeof value === 'string') return parseCqlTimestamp(value);
      throw paramError(col, cql, value, 'integer milliseconds or a timestamp string');
    case 'date':
      if (typeof value === 'string') return parseCqlDate(value);
      throw paramError(col, cql, value, "a 'yyyy-mm-dd' string");
    case 'time':
      if (typeof value === 'string') return parseCqlTime(value);
      if (typeof value === 'number' && Number.isSafeInteger(value)) return timeFromNanos(String(value));
      throw paramError(col, cql, value, "an 'hh:mm:ss[.fffffffff]' string or nanoseconds since midnight");
    case 'inet':
      if (typeof value === 'string') return parseInet(value);
      throw paramError(col, cql, value, 'an IPv4 or IPv6 address string');
    case 'uuid':
    case 'timeuuid':
      if (typeof value !== 'string') throw paramError(col, cql, value, 'a uuid string');
      return checkUuid(value.toLowerCase(), cql);
    case 'blob': {
      if (typeof value !== 'string') throw paramError(col, cql, value, '0x… hex or base64');
      if (/^0[xX][0-9a-fA-F]*$/.test(value)) return hexToBytes(value);
      const bytes = decodeBase64(value);
      if (bytes === null) throw paramError(col, cql, value, '0x… hex or base64');
      return bytes;
    }
    default:
      throw invalid(`column "${col.name}" has a type CQL cannot write (${cql})`);
  }
}

/** An integer parameter of a statement (LIMIT, TTL) from a literal or a bind value. */
export function termToInt(term: CqlTerm, what: string, ctx: TermContext): number {
  let v: unknown;
  if (term.kind === 'literal' && term.type === 'integer') v = Number(term.text);
  else if (term.kind === 'bind') v = ctx.params[term.index];
  else throw invalid(`Invalid ${term.kind === 'literal' ? term.type.toUpperCase() : 'function'} constant for ${what} of type int`);
  if (typeof v !== 'number' || !Number.isInteger(v) || v < -2147483648 || v > 2147483647) {
    throw invalid(`Invalid value for ${what}: expected a 32-bit integer, got ${JSON.stringify(v) ?? 'nothing'}`);
  }
  return v;
}

// ---- date, time, inet ----

const DATE_RE = /^(\d{4})-(\d{1,2})-(\d{1,2})$/;

/** 'yyyy-mm-dd' → the canonical date text (zero-padded), or Invalid. */
export function parseCqlDate(text: string): string {
  const m = DATE_RE.exec(text.trim());
  const bad = (): MantisError => invalid(`Unable to coerce '${text}' to a formatted date (long)`);
  if (m === null) throw bad();
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > new Date(Date.UTC(2000, mo, 0)).getUTCDate() || (mo === 2 && d === 29 && !((y % 4 === 0 && y % 100 !== 0) || y % 400 === 0))) throw bad();
  return `${String(y).padStart(4, '0')}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}

/** Cassandra's raw date integer (days since the epoch, centred on 2^31) → the date text. */
function dateFromDays(text: string): string {
  const raw = Number(text);
  if (!Number.isInteger(raw) || raw < 0 || raw > 2 ** 32 - 1) throw invalid(`Unable to make unsigned int (for date) from: '${text}'`);
  const ms = (raw - 2 ** 31) * 86_400_000;
  const d = new Date(ms);
  if (Number.isNaN(d.getTime()) || d.getUTCFullYear() < 1 || d.getUTCFullYear() > 9999) throw invalid(`date ${text} is outside the years 0001..9999`);
  return d.toISOString().slice(0, 10);
}

const TIME_RE = /^(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?$/;

/** 'hh:mm:ss[.fffffffff]' → 'hh:mm:ss.nnnnnnnnn' (the text sorts as the times do). */
export function parseCqlTime(text: string): string {
  const m = TIME_RE.exec(text.trim());
  if (m === null || Number(m[1]) > 23 || Number(m[2]) > 59 || Number(m[3]) > 59) throw invalid(`Timestamp format must be hh:mm:ss[.fffffffff] (got '${text}')`);
  return `${m[1].padStart(2, '0')}:${m[2]}:${m[3]}.${(m[4] ?? '').padEnd(9, '0')}`;
}

function timeFromNanos(text: string): string {
  const n = BigInt(text);
  if (n < 0n || n >= 86_400_000_000_000n) throw invalid(`Invalid time value ${text}: nanoseconds since midnight in 0..86399999999999`);
  const secs = Number(n / 1_000_000_000n);
  const pad = (v: number): string => String(v).padStart(2, '0');
  return `${pad(Math.floor(secs / 3600))}:${pad(Math.floor(secs / 60) % 60)}:${pad(secs % 60)}.${String(n % 1_000_000_000n).padStart(9, '0')}`;
}

/** An IPv4 or IPv6 address → its canonical text (IPv6 lower-case, as Node's URL parser writes it). */
export function parseInet(text: string): string {
  const kind = isIP(text);
  if (kind === 4) return text.split('.').map((o) => String(Number(o))).join('.');
  if (kind === 6 && !text.includes('%')) {
    try {
      return new URL(`http://[${text}]/`).hostname.slice(1, -1);
    } catch {
      // falls through to the refusal
    }
  }
  throw invalid(`Unable to make inet address from '${text}'`);
}

// ---- timeuuids ----

/** 100-ns intervals between 1582-10-15 (the UUID epoch) and 1970-01-01. */
const UUID_EPOCH_OFFSET = 0x01b21dd213814000n;
let lastTicks = 0n;
const clockSeqAndNode = randomBytes(8);
clockSeqAndNode[0] = (clockSeqAndNode[0] & 0x3f) | 0x80; // RFC 4122 variant
clockSeqAndNode[2] |= 0x01; // multicast bit: a random node, not a MAC address

/** A new version-1 UUID for the time `ms` (unique within this process: ticks never repeat). */
export function timeuuidAt(ms: number): string {
  let ticks = BigInt(ms) * 10000n + UUID_EPOCH_OFFSET;
  if (ticks <= lastTicks) ticks = lastTicks + 1n;
  lastTicks = ticks;
  const timeLow = ticks & 0xffffffffn;
  const timeMid = (ticks >> 32n) & 0xffffn;
  const timeHi = ((ticks >> 48n) & 0x0fffn) | 0x1000n;
  const hex = (v: bigint, width: number): string => v.toString(16).padStart(width, '0');
  const tail = Buffer.from(clockSeqAndNode).toString('hex');
  return `${hex(timeLow, 8)}-${hex(timeMid, 4)}-${hex(timeHi, 4)}-${tail.slice(0, 4)}-${tail.slice(4)}`;
}

/**
 * A timeuuid as a timeuuid column stores it: the version-and-high time field first, then the
 * middle and low ones, then clock sequence and node ("1hhh-mmmm-llllllll-cccc-nnnnnnnnnnnn"), so
 * that the text orders as Cassandra orders timeuuids — by time, then by the rest. REQUIRES: the
 * standard lower-case form of a version-1 UUID.
 */
export function timeuuidStored(uuid: string): string {
  return `${uuid.slice(14, 18)}-${uuid.slice(9, 13)}-${uuid.slice(0, 8)}-${uuid.slice(19)}`;
}

const STORED_TIMEUUID_RE = /^[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A timeuuid column's stored text in the standard form (a value already standard is kept). */
export function timeuuidText(stored: string): string {
  if (!STORED_TIMEUUID_RE.test(stored)) return stored;
  return `${stored.slice(10, 18)}-${stored.slice(5, 9)}-${stored.slice(0, 4)}-${stored.slice(19)}`;
}

/** The time (ms since the epoch) of a version-1 UUID (standard or stored form). */
export function timeuuidMs(given: string): number {
  const uuid = timeuuidText(given);
  const timeLow = BigInt(`0x${uuid.slice(0, 8)}`);
  const timeMid = BigInt(`0x${uuid.slice(9, 13)}`);
  const timeHi = BigInt(`0x${uuid.slice(15, 18)}`);
  const ticks = (timeHi << 48n) | (timeMid << 32n) | timeLow;
  return Number((ticks - UUID_EPOCH_OFFSET) / 10000n);
}

/** CQL types whose values our column type holds more of (ranges, formats): the tables API checks them too. */
const NARROWED = new Set(['int', 'smallint', 'tinyint', 'float', 'ascii', 'uuid', 'timeuuid', 'date', 'time', 'inet']);

/**
 * A JSON value for a column a CQL table declared with a narrower type (int, uuid, inet, …) as CQL
 * would store it (range-checked, canonical text; timeuuids in their time-ordered form), or null
 * when the column needs nothing more than its own type's check. Throws Invalid.
 */
export function narrowedCell(json: unknown, col: ColumnDef): { cell: Cell } | null {
  if (col.cqlType === undefined || !NARROWED.has(col.cqlType)) return null;
  return { cell: paramToCell(json, col) };
}
