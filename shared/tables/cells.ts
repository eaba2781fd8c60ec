// Cells one at a time: ordering, equality, type checks and sizes. The single
// source of truth for how two values of a column compare; the vectorized
// filters, aggregates, zone pruning and top-k all agree with compareCells.
//
// Order within one column type (PostgreSQL's, and the key encoding's):
// - int64 / timestamp: numeric (number and bigint forms mix exactly);
// - float64: numeric total order with -0 == 0 and NaN equal to itself and
//   greater than every other value (so NaN sorts last, `x > 5` holds for NaN);
// - string: Unicode code point order (== UTF-8 byte order, unlike JS `<`,
//   which compares UTF-16 code units);
// - boolean: false < true; binary: unsigned bytes, shorter prefix first.
// NULL is not ordered here: callers place it (NULLS LAST ascending, FIRST
// descending: compareNullsLast / compareOrdered).

import type { Cell, ColumnType } from './table-types.js';
import { INT64_MAX, INT64_MIN } from './table-types.js';

/** Code point order of two strings (UTF-8 byte order). */
export function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      // Surrogates (code points ≥ U+10000) rank above U+E000..U+FFFF.
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x < y ? -1 : 1;
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  }
  return a.length < b.length ? -1 : a.length === b.length ? 0 : 1;
}

/** float64 total order: -0 == 0, NaN == NaN and above everything. */
export function compareFloats(a: number, b: number): number {
  if (a < b) return -1;
  if (a > b) return 1;
  if (a === b) return 0;
  // At least one NaN.
  const an = a !== a;
  const bn = b !== b;
  return an === bn ? 0 : an ? 1 : -1;
}

/**
 * Compares two non-null cells of the same column type (see the module comment for the orders).
 * Numbers and bigints compare numerically, whichever form each is in.
 */
export function compareCells(a: Cell, b: Cell): number {
  switch (typeof a) {
    case 'number':
      if (typeof b === 'number') return compareFloats(a, b);
      return a < (b as bigint) ? -1 : a > (b as bigint) ? 1 : a !== a ? 1 : 0;
    case 'bigint':
      if (typeof b === 'number' && b !== b) return -1;
      return a < (b as bigint | number) ? -1 : a > (b as bigint | number) ? 1 : 0;
    case 'string':
      return compareStrings(a, b as string);
    case 'boolean':
      return a === b ? 0 : a ? 1 : -1;
    default:
      if (a instanceof Uint8Array) return compareBytes(a, b as Uint8Array);
      throw new Error(`compareCells: not a comparable cell: ${String(a)}`);
  }
}

/** NULL above every value (ascending NULLS LAST); otherwise compareCells. */
export function compareNullsLast(a: Cell, b: Cell): number {
  if (a === null) return b === null ? 0 : 1;
  if (b === null) return -1;
  return compareCells(a, b);
}

/** Order of one ORDER BY term: ascending NULLS LAST, descending NULLS FIRST (PostgreSQL's defaults). */
export function compareOrdered(a: Cell, b: Cell, desc: boolean): number {
  const c = compareNullsLast(a, b);
  return desc ? -c : c;
}

/** Equality as grouping and DISTINCT see it (NULL equals NULL here; compareCells' order otherwise). */
export function cellsEqual(a: Cell, b: Cell): boolean {
  if (a === b) return true;
  if (a === null || b === null) return false;
  return compareCells(a, b) === 0;
}

/** Equality of two cell tuples, element-wise by cellsEqual. */
export function tuplesEqual(a: readonly Cell[], b: readonly Cell[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!cellsEqual(a[i], b[i])) return false;
  return true;
}

/**
 * A string identifying a cell tuple up to cellsEqual (Map keys for grouping and merging).
 * Numbers and bigints of equal value give the same text; -0 and 0 too; NaN is one value.
 */
export function tupleKey(cells: readonly Cell[]): string {
  let out = '';
  for (let i = 0; i < cells.length; i++) {
    const c = cells[i];
    if (i > 0) out += '\u0000';
    out += cellKey(c);
  }
  return out;
}

function cellKey(c: Cell): string {
  switch (typeof c) {
    case 'number':
      return `n${c === 0 ? 0 : c}`;
    case 'bigint':
      return `n${c}`;
    case 'string':
      // Escape the separator so distinct tuples never collide.
      return `s${c.includes('\u0000') || c.includes('\u0001') ? c.replaceAll('\u0001', '\u0001\u0001').replaceAll('\u0000', '\u00010') : c}`;
    case 'boolean':
      return c ? 'T' : 'F';
    default:
      if (c === null) return 'N';
      return `b${Buffer.from(c.buffer, c.byteOffset, c.byteLength).toString('hex')}`;
  }
}

/** Is `cell` a value of `type` in its engine form (NULL is accepted: nullability is checked elsewhere)? */
export function checkCell(type: ColumnType, cell: Cell): boolean {
  if (cell === null) return true;
  switch (type) {
    case 'int64':
    case 'timestamp':
      if (typeof cell === 'number') return Number.isSafeInteger(cell);
      return typeof cell === 'bigint' && cell >= INT64_MIN && cell <= INT64_MAX;
    case 'float64':
      return typeof cell === 'number';
    case 'string':
      return typeof cell === 'string';
    case 'boolean':
      return typeof cell === 'boolean';
    case 'binary':
      return cell instanceof Uint8Array;
  }
}

/**
 * Approximate plain size of a cell in bytes (what an uncompressed column would spend on it):
 * 8 for numbers and timestamps, 1 for booleans, UTF-8 length for strings, length for binary, 0 for NULL.
 */
export function cellByteSize(cell: Cell): number {
  switch (typeof cell) {
    case 'number':
    case 'bigint':
      return 8;
    case 'boolean':
      return 1;
    case 'string':
      return cell.length < 64 && isAscii(cell) ? cell.length : Buffer.byteLength(cell, 'utf8');
    default:
      return cell === null ? 0 : cell.byteLength;
  }
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** A short name of a cell's JS form, for error messages. */
export function cellKind(cell: unknown): string {
  if (cell === null) return 'null';
  if (cell instanceof Uint8Array) return 'binary';
  if (Array.isArray(cell)) return 'array';
  return typeof cell;
}
