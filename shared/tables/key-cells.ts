// Order-preserving, prefix-free bytes of a tuple of cells (primary keys, index
// values): for cells of the same types, bytewise order of the encodings is the
// order of the tuples, and no encoding is a prefix of another's, so tuples
// concatenate and a descending column is its bytes inverted.
//
//   cell      = 01 body      (non-null)
//             | 02           (NULL: after every value ascending, before every value descending,
//                             PostgreSQL's NULLS LAST / NULLS FIRST)
//   int64, timestamp  8 bytes big-endian, sign bit flipped (number and bigint forms encode alike)
//   float64   8 bytes: IEEE bits, negatives inverted, positives with the sign bit flipped
//             (total order; -0 is written as 0, every NaN as one NaN after +Infinity)
//   boolean   00 | 01
//   string    WTF-8 bytes escaped (00 → 01 01, 01 → 01 02), then 00.
//             Order is Unicode code point order (bytewise UTF-8, Cassandra's text order),
//             which differs from JS `<` (UTF-16 units) only for U+E000..U+FFFF vs astral chars.
//   binary    bytes escaped as strings, then 00.

import { assert } from '../errors.js';
import type { Cell, ColumnType } from './table-types.js';
import { readUtf8, utf8MaxBytes, writeUtf8 } from './codec-utf8.js';

const NON_NULL = 0x01;
const NULL = 0x02;
const TWO32 = 4294967296;

let buf = new Uint8Array(1024);
let view = new DataView(buf.buffer);
let pos = 0;
let scratch = new Uint8Array(256);

function ensure(extra: number): void {
  if (pos + extra <= buf.length) return;
  let size = buf.length * 2;
  while (size < pos + extra) size *= 2;
  const grown = new Uint8Array(size);
  grown.set(buf.subarray(0, pos));
  buf = grown;
  view = new DataView(buf.buffer);
}

/**
 * The key bytes of `cells` (cells.length <= types.length: a shorter tuple encodes a prefix, for
 * range bounds). desc[i] true: column i descending (missing entries: ascending).
 * REQUIRES: each non-null cell has its column's type.
 */
export function encodeKeyCells(types: readonly ColumnType[], cells: readonly Cell[], desc?: readonly boolean[]): Uint8Array {
  assert(cells.length <= types.length, 'more key cells than key columns');
  pos = 0;
  for (let i = 0; i < cells.length; i++) {
    const from = pos;
    writeCell(types[i], cells[i]);
    if (desc !== undefined && desc[i] === true) for (let j = from; j < pos; j++) buf[j] = ~buf[j] & 0xff;
  }
  return buf.slice(0, pos);
}

/** One cell's key bytes (ascending). */
export function encodeKeyCell(type: ColumnType, cell: Cell): Uint8Array {
  pos = 0;
  writeCell(type, cell);
  return buf.slice(0, pos);
}

function writeCell(type: ColumnType, cell: Cell): void {
  ensure(10);
  if (cell === null || cell === undefined) {
    buf[pos++] = NULL;
    return;
  }
  buf[pos++] = NON_NULL;
  switch (type) {
    case 'int64':
    case 'timestamp':
      return writeInt(cell);
    case 'float64':
      assert(typeof cell === 'number', 'key cell is not a float64');
      return writeFloat(cell);
    case 'boolean':
      assert(typeof cell === 'boolean', 'key cell is not a boolean');
      buf[pos++] = cell ? 1 : 0;
      return;
    case 'string': {
      assert(typeof cell === 'string', 'key cell is not a string');
      const max = utf8MaxBytes(cell);
      if (scratch.length < max) scratch = new Uint8Array(Math.max(max, scratch.length * 2));
      const len = writeUtf8(cell, scratch, 0);
      return writeEscaped(scratch, len);
    }
    case 'binary':
      assert(cell instanceof Uint8Array, 'key cell is not binary');
      return writeEscaped(cell, cell.length);
  }
}

function writeInt(cell: Cell): void {
  if (typeof cell === 'number') {
    assert(Number.isSafeInteger(cell), 'key int64 cell is not a safe integer');
    const hi = Math.floor(cell / TWO32);
    const lo = cell - hi * TWO32;
    view.setUint32(pos, (hi ^ 0x80000000) >>> 0);
    view.setUint32(pos + 4, lo);
  } else {
    assert(typeof cell === 'bigint', 'key int64 cell is not a number or bigint');
    view.setBigUint64(pos, BigInt.asUintN(64, cell) ^ 0x8000000000000000n);
  }
  pos += 8;
}

function writeFloat(v: number): void {
  if (v !== v) {
    view.setUint32(pos, 0xfff80000);
    view.setUint32(pos + 4, 0);
    pos += 8;
    return;
  }
  view.setFloat64(pos, v === 0 ? 0 : v);
  const hi = view.getUint32(pos);
  if (hi >= 0x80000000) {
    view.setUint32(pos, ~hi >>> 0);
    view.setUint32(pos + 4, ~view.getUint32(pos + 4) >>> 0);
  } else {
    view.setUint32(pos, (hi | 0x80000000) >>> 0);
  }
  pos += 8;
}

function writeEscaped(src: Uint8Array, len: number): void {
  ensure(len * 2 + 1);
  for (let i = 0; i < len; i++) {
    const b = src[i];
    if (b > 1) buf[pos++] = b;
    else {
      buf[pos++] = 0x01;
      buf[pos++] = b + 1;
    }
  }
  buf[pos++] = 0;
}

// ── reader ──

const f64 = new DataView(new ArrayBuffer(8));

/** The cells of a whole key encoded by encodeKeyCells with the same types and desc. */
export function decodeKeyCells(types: readonly ColumnType[], bytes: Uint8Array, desc?: readonly boolean[]): Cell[] {
  const { cells, end } = decodeKeyCellsAt(types, bytes, 0, desc);
  if (end !== bytes.length) throw new RangeError(`key has ${bytes.length - end} trailing bytes`);
  return cells;
}

/** Decodes types.length cells starting at `start`; returns them and where they end. */
export function decodeKeyCellsAt(
  types: readonly ColumnType[],
  bytes: Uint8Array,
  start: number,
  desc?: readonly boolean[],
): { cells: Cell[]; end: number } {
  const cells = new Array<Cell>(types.length);
  let at = start;
  for (let i = 0; i < types.length; i++) {
    const mask = desc !== undefined && desc[i] === true ? 0xff : 0;
    at = readCell(types[i], bytes, at, mask, cells, i);
  }
  return { cells, end: at };
}

/** Where the types.length cells starting at `start` end (no decoding). */
export function skipKeyCells(types: readonly ColumnType[], bytes: Uint8Array, start: number, desc?: readonly boolean[]): number {
  let at = start;
  for (let i = 0; i < types.length; i++) {
    const mask = desc !== undefined && desc[i] === true ? 0xff : 0;
    at = skipCell(types[i], bytes, at, mask);
  }
  return at;
}

function need(bytes: Uint8Array, end: number): void {
  if (end > bytes.length) throw new RangeError(`key truncated: need ${end} bytes, have ${bytes.length}`);
}

function skipCell(type: ColumnType, bytes: Uint8Array, at: number, mask: number): number {
  need(bytes, at + 1);
  const tag = bytes[at++] ^ mask;
  if (tag === NULL) return at;
  if (tag !== NON_NULL) throw new RangeError(`bad key cell tag ${tag}`);
  switch (type) {
    case 'int64':
    case 'timestamp':
    case 'float64':
      need(bytes, at + 8);
      return at + 8;
    case 'boolean':
      need(bytes, at + 1);
      return at + 1;
    case 'string':
    case 'binary': {
      for (;;) {
        need(bytes, at + 1);
        const b = bytes[at++] ^ mask;
        if (b === 0) return at;
        if (b === 1) at++;
      }
    }
  }
}

function readCell(type: ColumnType, bytes: Uint8Array, at: number, mask: number, out: Cell[], i: number): number {
  need(bytes, at + 1);
  const tag = bytes[at++] ^ mask;
  if (tag === NULL) {
    out[i] = null;
    return at;
  }
  if (tag !== NON_NULL) throw new RangeError(`bad key cell tag ${tag}`);
  switch (type) {
    case 'int64':
    case 'timestamp': {
      need(bytes, at + 8);
      for (let j = 0; j < 8; j++) f64.setUint8(j, bytes[at + j] ^ mask);
      const hi = (f64.getUint32(0) ^ 0x80000000) | 0;
      const lo = f64.getUint32(4);
      const v = hi * TWO32 + lo;
      out[i] = Number.isSafeInteger(v) ? v : f64.getBigInt64(0) ^ -0x8000000000000000n;
      return at + 8;
    }
    case 'float64': {
      need(bytes, at + 8);
      for (let j = 0; j < 8; j++) f64.setUint8(j, bytes[at + j] ^ mask);
      const hi = f64.getUint32(0);
      if (hi >= 0x80000000) f64.setUint32(0, hi & 0x7fffffff);
      else {
        f64.setUint32(0, ~hi >>> 0);
        f64.setUint32(4, ~f64.getUint32(4) >>> 0);
      }
      out[i] = f64.getFloat64(0);
      return at + 8;
    }
    case 'boolean':
      need(bytes, at + 1);
      out[i] = (bytes[at] ^ mask) !== 0;
      return at + 1;
    case 'string':
    case 'binary': {
      const end = skipCell(type, bytes, at - 1, mask);
      const raw = unescape(bytes, at, end - 1, mask);
      out[i] = type === 'string' ? readUtf8(raw, 0, raw.length) : raw;
      return end;
    }
  }
}

/** The unescaped bytes of bytes[start, end) (end: the terminator's position). */
function unescape(bytes: Uint8Array, start: number, end: number, mask: number): Uint8Array {
  const out = new Uint8Array(end - start);
  let n = 0;
  for (let i = start; i < end; i++) {
    const b = bytes[i] ^ mask;
    if (b === 1) out[n++] = (bytes[++i] ^ mask) - 1;
    else out[n++] = b;
  }
  return n === out.length ? out : out.slice(0, n);
}
