// The bytes of one table row (a delta row's LSM value, a frame of the segment
// task's input). Compact and quick rather than self-describing: the reader
// brings the column types.
//
//   row   = varint(cellCount) nullBitmap(ceil(cellCount / 8)) cell*   (non-null cells only, in column order)
//   int64, timestamp  zigzag varint (numbers below 2^52 in magnitude take the number path)
//   float64           8 bytes little-endian
//   boolean           1 byte
//   string            varint(byteLength) WTF-8 bytes
//   binary            varint(byteLength) bytes
//
// A row written before columns were added has fewer cells: the missing trailing
// cells decode as null (the caller applies the column default).

import { assert } from '../errors.js';
import { normalizeInt64, type Cell, type ColumnType, type Row } from './table-types.js';
import { readUtf8, utf8MaxBytes, writeUtf8 } from './codec-utf8.js';

const TWO52 = 4503599627370496;

// ── writer state: one growable buffer, results are copied out ──
let buf = new Uint8Array(4096);
let view = new DataView(buf.buffer);

function ensureCapacity(bytes: number): void {
  if (bytes <= buf.length) return;
  let size = buf.length * 2;
  while (size < bytes) size *= 2;
  buf = new Uint8Array(size);
  view = new DataView(buf.buffer);
}

/** The most bytes encodeRow may write for `row`. */
function maxRowBytes(types: readonly ColumnType[], row: Row): number {
  let total = 5 + ((types.length + 7) >> 3);
  for (let i = 0; i < types.length; i++) {
    const cell = row[i];
    if (cell === null || cell === undefined) continue;
    switch (types[i]) {
      case 'string': total += 5 + utf8MaxBytes(cell as string); break;
      case 'binary': total += 5 + (cell as Uint8Array).length; break;
      default: total += 10;
    }
  }
  return total;
}

/** The row's bytes. REQUIRES: every non-null cell has its column's type (cell forms of table-types). */
export function encodeRow(types: readonly ColumnType[], row: Row): Uint8Array {
  const end = writeRow(types, row, 0);
  return buf.slice(0, end);
}

/**
 * The row's bytes as a view of the codec's shared buffer, valid only until the next encode
 * call: for callers that copy many rows into one frame (the segment task input) at once.
 */
export function encodeRowView(types: readonly ColumnType[], row: Row): Uint8Array {
  const end = writeRow(types, row, 0);
  return buf.subarray(0, end);
}

function writeRow(types: readonly ColumnType[], row: Row, start: number): number {
  const n = types.length;
  ensureCapacity(start + maxRowBytes(types, row));
  let at = writeVarint(n, start);
  const bitmapAt = at;
  const bitmapBytes = (n + 7) >> 3;
  buf.fill(0, at, at + bitmapBytes);
  at += bitmapBytes;
  for (let i = 0; i < n; i++) {
    const cell = i < row.length ? row[i] : null;
    if (cell === null || cell === undefined) {
      buf[bitmapAt + (i >> 3)] |= 1 << (i & 7);
      continue;
    }
    switch (types[i]) {
      case 'int64':
      case 'timestamp':
        at = writeInt(cell, at);
        break;
      case 'float64':
        assert(typeof cell === 'number', `row cell ${i} is not a float64`);
        view.setFloat64(at, cell, true);
        at += 8;
        break;
      case 'boolean':
        assert(typeof cell === 'boolean', `row cell ${i} is not a boolean`);
        buf[at++] = cell ? 1 : 0;
        break;
      case 'string': {
        assert(typeof cell === 'string', `row cell ${i} is not a string`);
        at = writeString(cell, at);
        break;
      }
      case 'binary': {
        assert(cell instanceof Uint8Array, `row cell ${i} is not binary`);
        at = writeVarint(cell.length, at);
        buf.set(cell, at);
        at += cell.length;
        break;
      }
    }
  }
  return at;
}

function writeString(s: string, at: number): number {
  // ASCII strings below 128 chars: one length byte, then the bytes (the common case).
  if (s.length < 128) {
    const lenAt = at++;
    const end = writeUtf8(s, buf, at);
    const len = end - at;
    if (len < 128) {
      buf[lenAt] = len;
      return end;
    }
    // Longer than one varint byte once encoded: shift it right by the extra length bytes.
    const lenBytes = varintLength(len);
    buf.copyWithin(at + lenBytes - 1, at, end);
    writeVarint(len, lenAt);
    return end + lenBytes - 1;
  }
  const maxLen = utf8MaxBytes(s);
  const lenBytes = varintLength(maxLen);
  const dataAt = at + lenBytes;
  const end = writeUtf8(s, buf, dataAt);
  const len = end - dataAt;
  const realLenBytes = varintLength(len);
  if (realLenBytes !== lenBytes) buf.copyWithin(at + realLenBytes, dataAt, end);
  writeVarint(len, at);
  return at + realLenBytes + len;
}

function varintLength(n: number): number {
  let bytes = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    bytes++;
  }
  return bytes;
}

function writeVarint(n: number, at: number): number {
  while (n >= 128) {
    buf[at++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[at++] = n;
  return at;
}

function writeInt(cell: Cell, at: number): number {
  if (typeof cell === 'number') {
    assert(Number.isSafeInteger(cell), 'row int64 cell is not a safe integer');
    if (cell < TWO52 && cell > -TWO52) return writeVarint(cell >= 0 ? cell * 2 : -cell * 2 - 1, at);
    return writeBigVarint(zigzagBig(BigInt(cell)), at);
  }
  assert(typeof cell === 'bigint', 'row int64 cell is not a number or bigint');
  return writeBigVarint(zigzagBig(cell), at);
}

function zigzagBig(v: bigint): bigint {
  return v >= 0n ? v << 1n : ((-v) << 1n) - 1n;
}

function writeBigVarint(v: bigint, at: number): number {
  while (v >= 128n) {
    buf[at++] = Number(v & 0x7fn) | 0x80;
    v >>= 7n;
  }
  buf[at++] = Number(v);
  return at;
}

// ── reader ──

/** The row of `bytes`: one cell per type (missing trailing cells: null). Throws on truncated input. */
export function decodeRow(types: readonly ColumnType[], bytes: Uint8Array): Row {
  const r = new RowReader(bytes);
  const count = r.varint();
  const bitmapAt = r.at;
  r.at += (count + 7) >> 3;
  const n = types.length;
  const row: Row = new Array<Cell>(n);
  for (let i = 0; i < n; i++) {
    if (i >= count || (bytes[bitmapAt + (i >> 3)] & (1 << (i & 7))) !== 0) {
      row[i] = null;
      continue;
    }
    row[i] = r.cell(types[i]);
  }
  if (r.at > bytes.length) throw new RangeError(`row truncated: ${r.at} > ${bytes.length} bytes`);
  return row;
}

const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);

class RowReader {
  at = 0;
  constructor(private readonly bytes: Uint8Array) {}

  cell(type: ColumnType): Cell {
    switch (type) {
      case 'int64':
      case 'timestamp':
        return this.int();
      case 'float64': {
        const b = this.bytes;
        const at = this.at;
        if (at + 8 > b.length) throw new RangeError('row truncated in a float64');
        for (let j = 0; j < 8; j++) f64Bytes[j] = b[at + j];
        this.at = at + 8;
        return f64[0];
      }
      case 'boolean':
        return this.bytes[this.at++] !== 0;
      case 'string': {
        const len = this.varint();
        const start = this.at;
        this.at += len;
        if (this.at > this.bytes.length) throw new RangeError('row truncated in a string');
        return readUtf8(this.bytes, start, this.at);
      }
      case 'binary': {
        const len = this.varint();
        const start = this.at;
        this.at += len;
        if (this.at > this.bytes.length) throw new RangeError('row truncated in a binary cell');
        return this.bytes.slice(start, this.at);
      }
    }
  }

  varint(): number {
    const b = this.bytes;
    let v = 0;
    let mul = 1;
    for (;;) {
      if (this.at >= b.length) throw new RangeError('row truncated in a varint');
      const byte = b[this.at++];
      v += (byte & 0x7f) * mul;
      if (byte < 0x80) return v;
      mul *= 128;
    }
  }

  int(): number | bigint {
    const b = this.bytes;
    let end = this.at;
    while (end < b.length && b[end] >= 0x80) end++;
    if (end >= b.length) throw new RangeError('row truncated in an integer');
    if (end - this.at < 7) {
      const zz = this.varint();
      return zz % 2 === 0 ? zz / 2 : -(zz + 1) / 2;
    }
    let zz = 0n;
    for (let i = end; i >= this.at; i--) zz = (zz << 7n) | BigInt(b[i] & 0x7f);
    this.at = end + 1;
    return normalizeInt64((zz & 1n) === 0n ? zz >> 1n : -((zz + 1n) >> 1n));
  }
}

/**
 * How many cells a stored row holds (fewer than the table's columns: written before columns were
 * added): its leading varint, read without a reader (hot: the mover and scans ask per row).
 */
export function rowCellCount(bytes: Uint8Array): number {
  let v = 0;
  let mul = 1;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    v += (b & 0x7f) * mul;
    if (b < 0x80) return v;
    mul *= 128;
  }
  throw new RangeError('row truncated in a varint');
}

/** Rows' bytes framed into one array (u32le length + bytes each): the segment task's input. */
export function frameRows(rows: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const r of rows) total += 4 + r.length;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const r of rows) {
    view.setUint32(at, r.length, true);
    out.set(r, at + 4);
    at += 4 + r.length;
  }
  return out;
}

/** The rows of frameRows' bytes, decoded (`count` frames). Throws RangeError on malformed frames. */
export function unframeRows(types: readonly ColumnType[], framed: Uint8Array, count: number): Row[] {
  const view = new DataView(framed.buffer, framed.byteOffset, framed.byteLength);
  const rows: Row[] = new Array<Row>(count);
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (at + 4 > framed.length) throw new RangeError(`row frame ${i} truncated`);
    const len = view.getUint32(at, true);
    if (at + 4 + len > framed.length) throw new RangeError(`row frame ${i} truncated`);
    rows[i] = decodeRow(types, framed.subarray(at + 4, at + 4 + len));
    at += 4 + len;
  }
  if (at !== framed.length) throw new RangeError(`${framed.length - at} bytes after the last row frame`);
  return rows;
}
