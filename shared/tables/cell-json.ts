// Cells over JSON: the HTTP API's column values in and out.
//
// In (cellFromJson, strict; anything else is TYPE_MISMATCH naming the column):
// - int64: a JSON integer within ±(2^53 - 1), or a decimal string ("-42",
//   "9223372036854775807") for any int64;
// - float64: a JSON number (JSON has no NaN or Infinity; the strings are refused);
// - timestamp: an RFC 3339 string ("2024-01-02T03:04:05.123456Z", any offset,
//   't'/' ' separators and lowercase 'z' accepted), kept to the microsecond
//   (further fraction digits are truncated); years outside 0000..9999 as ISO 8601
//   expanded years (±YYYYYY), as they come out, within int64 microseconds;
// - binary: a standard base64 string (padding optional);
// - boolean: true / false; string: any well-formed string (no lone surrogate) of at
//   most 16 MiB of UTF-8;
// - null: NULL for every type (the caller checks NOT NULL).
//
// Out (cellToJson):
// - int64: a number when safe, else a decimal string;
// - float64: a number; NaN, Infinity and -Infinity (possible through CQL) as those strings;
// - timestamp: RFC 3339 in UTC, 'Z', with a 6-digit fraction only when the
//   microseconds are non-zero ("2024-01-02T03:04:05Z", "2024-01-02T03:04:05.120000Z");
//   years outside 0000..9999 as ±YYYYYY (ISO 8601 expanded years);
// - binary: standard base64 with padding.

import { MantisError } from '../errors.js';
import { cellKind } from './cells.js';
import type { Cell, ColumnDef, ColumnType } from './table-types.js';
import { INT64_MAX, INT64_MIN, normalizeInt64 } from './table-types.js';

export const MAX_STRING_CELL_BYTES = 16 * 1024 * 1024;

function mismatch(col: ColumnDef, what: string): MantisError {
  return new MantisError('TYPE_MISMATCH', `column "${col.name}" (${col.type}): ${what}`, { column: col.name });
}

/** A JSON value → the column's cell. Throws TYPE_MISMATCH (details.column) when it does not fit. */
export function cellFromJson(col: ColumnDef, json: unknown): Cell {
  if (json === null) return null;
  switch (col.type) {
    case 'int64':
      return int64FromJson(col, json);
    case 'float64':
      if (typeof json !== 'number' || !Number.isFinite(json)) throw mismatch(col, `expected a number, got ${cellKind(json)}`);
      return json;
    case 'timestamp': {
      if (typeof json !== 'string') throw mismatch(col, `expected an RFC 3339 timestamp string, got ${cellKind(json)}`);
      const us = parseRfc3339(json);
      if (us === null) throw mismatch(col, `not an RFC 3339 timestamp: ${JSON.stringify(json.slice(0, 64))}`);
      return us;
    }
    case 'binary': {
      if (typeof json !== 'string') throw mismatch(col, `expected a base64 string, got ${cellKind(json)}`);
      const bytes = decodeBase64(json);
      if (bytes === null) throw mismatch(col, 'not a base64 string');
      return bytes;
    }
    case 'boolean':
      if (typeof json !== 'boolean') throw mismatch(col, `expected a boolean, got ${cellKind(json)}`);
      return json;
    case 'string':
      if (typeof json !== 'string') throw mismatch(col, `expected a string, got ${cellKind(json)}`);
      if (json.length * 3 > MAX_STRING_CELL_BYTES && Buffer.byteLength(json, 'utf8') > MAX_STRING_CELL_BYTES) {
        throw mismatch(col, 'string longer than 16 MiB');
      }
      // A lone surrogate has no UTF-8 form: stored, it would become U+FFFD and two different
      // strings (keys!) would become one.
      if (!json.isWellFormed()) throw mismatch(col, 'the string holds a lone UTF-16 surrogate (not valid Unicode)');
      return json;
  }
}

function int64FromJson(col: ColumnDef, json: unknown): Cell {
  if (typeof json === 'number') {
    if (!Number.isSafeInteger(json)) {
      throw mismatch(col, Number.isInteger(json) ? 'integer beyond 2^53: send it as a decimal string' : `expected an integer, got ${json}`);
    }
    return json === 0 ? 0 : json;
  }
  if (typeof json === 'string') {
    const v = parseInt64(json);
    if (v === null) throw mismatch(col, `not a 64-bit integer: ${JSON.stringify(json.slice(0, 64))}`);
    return v;
  }
  throw mismatch(col, `expected an integer, got ${cellKind(json)}`);
}

/** A decimal int64 string ("-12", "+7") → its cell form, or null when malformed or out of range. */
export function parseInt64(s: string): number | bigint | null {
  if (!/^[-+]?[0-9]{1,20}$/.test(s)) return null;
  const v = BigInt(s);
  if (v < INT64_MIN || v > INT64_MAX) return null;
  return normalizeInt64(v);
}

/** A cell of `type` → its JSON form (see the module comment). */
export function cellToJson(type: ColumnType, cell: Cell): unknown {
  if (cell === null) return null;
  switch (type) {
    case 'int64':
      if (typeof cell === 'bigint') {
        const n = normalizeInt64(cell);
        return typeof n === 'number' ? n : n.toString();
      }
      return cell;
    case 'float64':
      if (typeof cell === 'number' && !Number.isFinite(cell)) return String(cell);
      return typeof cell === 'bigint' ? Number(cell) : cell;
    case 'timestamp':
      return formatRfc3339(cell as number | bigint);
    case 'binary':
      return Buffer.from((cell as Uint8Array).buffer, (cell as Uint8Array).byteOffset, (cell as Uint8Array).byteLength).toString('base64');
    case 'boolean':
    case 'string':
      return cell;
  }
}

// ---- base64 ----

const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

/** Standard base64 (padding optional) → bytes, or null when malformed. */
export function decodeBase64(s: string): Uint8Array | null {
  if (!BASE64_RE.test(s)) return null;
  const body = s.endsWith('==') ? s.length - 2 : s.endsWith('=') ? s.length - 1 : s.length;
  if (body % 4 === 1 || (body !== s.length && s.length % 4 !== 0)) return null;
  const buf = Buffer.from(s, 'base64');
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

// ---- timestamps ----

/** Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
export function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** [year, month 1..12, day 1..31] of a day number since 1970-01-01. */
export function civilFromDays(z: number): [number, number, number] {
  z += 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, d];
}

const RFC3339_RE = /^(\d{4}|[+-]\d{6})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,12}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

function daysInMonth(y: number, m: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

/** An RFC 3339 date-time → microseconds since the epoch (UTC), or null when malformed. */
export function parseRfc3339(s: string): number | bigint | null {
  const m = RFC3339_RE.exec(s);
  if (m === null) return null;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = Number(m[6]);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  if (hour > 23 || minute > 59 || second > 59) return null;
  let offsetSec = 0;
  if (m[8] === undefined) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return null;
    offsetSec = (oh * 3600 + om * 60) * (m[9] === '-' ? -1 : 1);
  }
  const micros = m[7] === undefined ? 0 : Number(m[7].slice(0, 6).padEnd(6, '0'));
  const secs = daysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offsetSec;
  const us = secs * 1e6 + micros;
  if (Number.isSafeInteger(us)) return us;
  const big = BigInt(secs) * 1000000n + BigInt(micros);
  return big < INT64_MIN || big > INT64_MAX ? null : normalizeInt64(big);
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** Microseconds since the epoch → RFC 3339 in UTC (see the module comment for the form). */
export function formatRfc3339(us: number | bigint): string {
  let secs: number;
  let micros: number;
  if (typeof us === 'bigint') {
    let s = us / 1000000n;
    let f = us - s * 1000000n;
    if (f < 0n) {
      s -= 1n;
      f += 1000000n;
    }
    secs = Number(s);
    micros = Number(f);
  } else {
    secs = Math.floor(us / 1e6);
    micros = us - secs * 1e6;
    if (micros < 0) {
      secs -= 1;
      micros += 1e6;
    } else if (micros >= 1e6) {
      secs += 1;
      micros -= 1e6;
    }
  }
  const days = Math.floor(secs / 86400);
  const sod = secs - days * 86400;
  const [y, mo, d] = civilFromDays(days);
  const year = y >= 0 && y <= 9999 ? pad(y, 4) : `${y < 0 ? '-' : '+'}${pad(Math.abs(y), 6)}`;
  const hh = Math.floor(sod / 3600);
  const mi = Math.floor((sod % 3600) / 60);
  const ss = sod % 60;
  const frac = micros === 0 ? '' : `.${pad(micros, 6)}`;
  return `${year}-${pad(mo, 2)}-${pad(d, 2)}T${pad(hh, 2)}:${pad(mi, 2)}:${pad(ss, 2)}${frac}Z`;
}
