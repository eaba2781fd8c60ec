// Column chunk encodings: one column of one segment (at most 65,536 rows) as
// bytes, with the encoding chosen from the data, and back to the column
// vectors of table-types.ts.
//
// chunk   = u8 encoding  u8 flags  6 zero bytes  body     flags: 1 = null bitmap present, 2 = body is lz4
// body    = [null bitmap: ceil(rows / 8) bytes, zero-padded to a multiple of 8]  payload
//           (lz4: lz4-napi's frame of that, when it saves ≥ 10 %)
// The payload of an uncompressed chunk starting at an 8-aligned offset is 8-aligned, so a plain
// float64 / int64 chunk decodes to a view of the chunk's bytes (no copy): decoded vectors may share
// memory with the bytes given and are read-only.
//
// payloads (rows = n; values of NULL rows are filled with a neighbour so they cost nothing):
//   null       every row NULL: nothing
//   plain      float64 / safe int64: n × f64 LE     int64 past 2^53: n × i64 LE
//              string: utf16End u32 × n, flags u8, blob (UTF-8 / WTF-8)   binary: end u32 × n, blob
//   bitpack    numbers: base f64, width u8, (v - base) packed (frame of reference)   boolean: n bits
//   delta      first f64, base f64, width u8, (v[i] - v[i-1] - base) packed for i ≥ 1
//   rle        runs u32, run values f64 × runs, run ends u32 × runs
//   decimal    float64 with at most 6 decimals: e u8, base f64, width u8, (v·10^e - base) packed;
//              decoded as m / 10^e (chosen only when that gives back every value exactly)
//   dictionary numbers: size u32, values f64 × size, width u8, codes packed
//              string: size u32 (bit 31: codes packed), the dict as a plain string payload, codes
//                      bit-packed at the dict's width up to 256 values, else u16 | u32 by size
// bitpack / delta apply to integral values within 2^53 (int64 and integral float64 columns);
// rle / dictionary to numbers without -0 (equal values must be identical bits).
//
// Zone maps follow cells.ts' order: numbers numeric with -0 == 0 and NaN above everything, strings by
// code point, binary bytewise.

import { uncompressSync } from 'lz4-napi';
import { assert, MantisError } from '../errors.js';
import { lz4Compress } from '../../workers/lsm/lz4-compressor.js';
import { normalizeInt64, type Cell, type ColumnType, type NullBitmap, type Vector, type ZoneMap } from './table-types.js';
import { bitWidth, packBits, packedBytes, unpackBits, unpackDeltas } from './enc-bits.js';
import { readUtf8, utf8MaxBytes, writeUtf8 } from './codec-utf8.js';
import { compareBytes, compareStrings } from './cells.js';

export type BaseEncoding = 'null' | 'plain' | 'bitpack' | 'delta' | 'rle' | 'dictionary' | 'decimal';

const ENC_IDS: Record<BaseEncoding, number> = { null: 0, plain: 1, bitpack: 2, delta: 3, rle: 4, dictionary: 5, decimal: 6 };
const ENC_NAMES: BaseEncoding[] = ['null', 'plain', 'bitpack', 'delta', 'rle', 'dictionary', 'decimal'];
const POW10 = [1, 10, 100, 1000, 10000, 100000, 1000000];
const FLAG_NULLS = 1;
const FLAG_LZ4 = 2;
/** int64 plain stored as i64 (some value past 2^53): the high bit of the encoding byte. */
const PLAIN_I64 = 0x80;
const MAX_SAFE = 9007199254740991;
const DICT_MAX = 4096;
const LZ4_MIN_BYTES = 64;
const HEADER_BYTES = 8;

function pad8(n: number): number {
  return (n + 7) & ~7;
}

/** Uninitialized (not zero-filled) arrays for decode outputs that are overwritten whole. */
function allocF64(n: number): Float64Array {
  const b = Buffer.allocUnsafeSlow(n * 8);
  return new Float64Array(b.buffer, b.byteOffset, n);
}

export type EncodedColumn = {
  readonly bytes: Uint8Array;
  /** The encoding's name, with '+lz4' when compressed (e.g. 'delta+lz4'). */
  readonly encoding: string;
  /** What the values take plain (8 per number, 1 per boolean, UTF-8 length, binary length; NULL 0). */
  readonly plainBytes: number;
  readonly zone: ZoneMap;
};

export type EncodeOptions = {
  /** Force this encoding (tests). REQUIRES: it applies to the data. */
  readonly encoding?: BaseEncoding;
  /** false: never lz4; true: always lz4 (tests); default: when it saves ≥ 10 %. */
  readonly lz4?: boolean;
};

// ── payload writer ──

class Out {
  buf: Uint8Array;
  view: DataView;
  at = 0;
  constructor(size: number) {
    this.buf = new Uint8Array(Math.max(16, size));
    this.view = new DataView(this.buf.buffer);
  }
  room(extra: number): void {
    if (this.at + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.at + extra) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.buf.subarray(0, this.at));
    this.buf = grown;
    this.view = new DataView(grown.buffer);
  }
  u8(v: number): void { this.room(1); this.buf[this.at++] = v; }
  u32(v: number): void { this.room(4); this.view.setUint32(this.at, v, true); this.at += 4; }
  f64(v: number): void { this.room(8); this.view.setFloat64(this.at, v, true); this.at += 8; }
  bytes(b: Uint8Array): void { this.room(b.length); this.buf.set(b, this.at); this.at += b.length; }
  /** Copies a typed array's bytes (little-endian platform). */
  raw(a: ArrayBufferView): void { this.bytes(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)); }
  finish(): Uint8Array { return this.buf.subarray(0, this.at); }
}

// ── null bitmaps ──

function isNull(nulls: NullBitmap, i: number): boolean {
  return nulls !== null && (nulls[i >> 3] & (1 << (i & 7))) !== 0;
}

function nullCountOf(nulls: NullBitmap, n: number): number {
  if (nulls === null) return 0;
  let count = 0;
  for (let i = 0; i < n; i++) if ((nulls[i >> 3] & (1 << (i & 7))) !== 0) count++;
  return count;
}

function allNullBitmap(n: number): Uint8Array {
  const b = new Uint8Array((n + 7) >> 3).fill(0xff);
  if (n & 7) b[b.length - 1] = (1 << (n & 7)) - 1;
  return b;
}

// ── encode ──

/** Encodes one column chunk of `rows` rows. REQUIRES: the vector's type is `type` and holds ≥ rows values. */
export function encodeColumn(type: ColumnType, vector: Vector, rows: number, opts: EncodeOptions = {}): EncodedColumn {
  assert(vector.type === type || ((type === 'int64' || type === 'timestamp') && (vector.type === 'int64' || vector.type === 'timestamp')), `vector of ${vector.type} for a ${type} column`);
  const nulls = vector.nulls;
  const nullCount = nullCountOf(nulls, rows);
  if (nullCount === rows) {
    assert(opts.encoding === undefined || opts.encoding === 'null', 'an all-null chunk encodes as null');
    const zone: ZoneMap = { min: null, max: null, nullCount, rowCount: rows, distinct: 0 };
    return { bytes: Uint8Array.of(ENC_IDS.null, 0, 0, 0, 0, 0, 0, 0), encoding: 'null', plainBytes: 0, zone };
  }
  const hasNulls = nullCount > 0;
  let payload: Payload;
  switch (vector.type) {
    case 'int64':
    case 'timestamp':
    case 'float64':
      payload = encodeNumbers(type, vector.values, nulls, rows, nullCount, opts.encoding);
      break;
    case 'boolean':
      payload = encodeBooleans(vector.values, nulls, rows, nullCount, opts.encoding);
      break;
    case 'string':
      payload = encodeStrings('values' in vector ? vector.values : dictValues(vector.codes, vector.dict, rows), nulls, rows, nullCount, opts.encoding);
      break;
    case 'binary':
      payload = encodeBinary(vector.values, nulls, rows, nullCount, opts.encoding);
      break;
  }
  return frame(payload, hasNulls ? (nulls as Uint8Array).subarray(0, (rows + 7) >> 3) : null, opts.lz4);
}

type Payload = { readonly id: number; readonly name: BaseEncoding; readonly bytes: Uint8Array; readonly plainBytes: number; readonly zone: ZoneMap };

function frame(p: Payload, nulls: Uint8Array | null, lz4: boolean | undefined): EncodedColumn {
  const nullBytes = nulls === null ? 0 : pad8(nulls.length);
  let body: Uint8Array;
  if (nulls === null) body = p.bytes;
  else {
    body = new Uint8Array(nullBytes + p.bytes.length);
    body.set(nulls, 0);
    body.set(p.bytes, nullBytes);
  }
  let flags = nulls === null ? 0 : FLAG_NULLS;
  let name = p.name as string;
  if (lz4 !== false && (lz4 === true || body.length >= LZ4_MIN_BYTES)) {
    const limit = lz4 === true ? body.length + (body.length >> 4) + 64 : Math.floor(body.length * 0.9) - 4;
    const packed = limit > 0 ? lz4Compress(body, limit) : null;
    if (packed !== null) {
      body = packed;
      flags |= FLAG_LZ4;
      name += '+lz4';
    }
  }
  const bytes = new Uint8Array(HEADER_BYTES + body.length);
  bytes[0] = p.id;
  bytes[1] = flags;
  bytes.set(body, HEADER_BYTES);
  return { bytes, encoding: name, plainBytes: p.plainBytes, zone: p.zone };
}

function dictValues(codes: Uint8Array | Uint16Array | Uint32Array, dict: readonly string[], rows: number): string[] {
  const out = new Array<string>(rows);
  for (let i = 0; i < rows; i++) out[i] = dict[codes[i]] ?? '';
  return out;
}

// ── numbers ──

type NumberStats = {
  filled: Float64Array;
  min: number;
  max: number;
  hasNaN: boolean;
  /** Non-null, non-NaN values. */
  numeric: number;
  hasNegZero: boolean;
  /** Every non-null value is an integer within ±(2^53 - 1). */
  safeIntegral: boolean;
  runs: number;
  /** Distinct values when ≤ DICT_MAX, else -1. */
  distinctSmall: number;
  dict: Map<number, number> | null;
};

function numberStats(values: Float64Array, nulls: NullBitmap, n: number): NumberStats {
  const filled = new Float64Array(n);
  let first = 0;
  while (isNull(nulls, first)) first++;
  let prev = values[first];
  let min = Infinity;
  let max = -Infinity;
  let hasNaN = false;
  let numeric = 0;
  let hasNegZero = false;
  let safeIntegral = true;
  let runs = 0;
  let dict: Map<number, number> | null = new Map();
  let last = NaN;
  let lastSet = false;
  for (let i = 0; i < n; i++) {
    let v: number;
    if (nulls !== null && (nulls[i >> 3] & (1 << (i & 7))) !== 0) v = prev;
    else {
      v = values[i];
      prev = v;
      if (v !== v) hasNaN = true;
      else {
        numeric++;
        if (v < min) min = v;
        if (v > max) max = v;
        if (v === 0 && 1 / v < 0) hasNegZero = true;
      }
      if (safeIntegral && !(Number.isInteger(v) && v <= MAX_SAFE && v >= -MAX_SAFE)) safeIntegral = false;
    }
    filled[i] = v;
    if (!lastSet || !(v === last || (v !== v && last !== last))) {
      runs++;
      last = v;
      lastSet = true;
    }
    if (dict !== null && !isNull(nulls, i) && !dict.has(v)) {
      if (dict.size >= DICT_MAX) dict = null;
      else dict.set(v, dict.size);
    }
  }
  if (safeIntegral && hasNegZero) safeIntegral = false;
  return { filled, min, max, numeric, hasNaN, hasNegZero, safeIntegral, runs, distinctSmall: dict === null ? -1 : dict.size, dict };
}

/**
 * Estimated distinct non-null values from a strided sample of at most 4,096 (GEE estimator:
 * sqrt(N/n)·f1 + Σ f≥2, f1 = values seen once in the sample), for high-cardinality chunks.
 */
function estimateDistinct<T>(at: (i: number) => T, nulls: NullBitmap, n: number, nonNull: number): number {
  const step = Math.max(1, Math.floor(n / 4096));
  const counts = new Map<T, number>();
  let sampled = 0;
  for (let i = 0; i < n; i += step) {
    if (isNull(nulls, i)) continue;
    const v = at(i);
    counts.set(v, (counts.get(v) ?? 0) + 1);
    sampled++;
  }
  if (sampled === 0) return 0;
  let once = 0;
  for (const c of counts.values()) if (c === 1) once++;
  const estimate = Math.sqrt(nonNull / sampled) * once + (counts.size - once);
  return Math.max(counts.size, Math.min(nonNull, Math.round(estimate)));
}

function encodeNumbers(type: ColumnType, values: Float64Array | BigInt64Array, nulls: NullBitmap, n: number, nullCount: number, force: BaseEncoding | undefined): Payload {
  if (values instanceof BigInt64Array) {
    const safe = bigToSafe(values, nulls, n);
    if (safe === null) return encodeBigPlain(values, nulls, n, nullCount, force);
    values = safe;
  }
  const s = numberStats(values, nulls, n);
  const nonNull = n - nullCount;
  const cellOf = (v: number): Cell => (v === 0 ? 0 : v);
  const zone: ZoneMap = {
    min: s.numeric === 0 ? NaN : cellOf(s.min),
    max: s.hasNaN ? NaN : cellOf(s.max),
    nullCount,
    rowCount: n,
    distinct: s.distinctSmall >= 0 ? s.distinctSmall : estimateDistinct((i) => (s.filled[i] === 0 ? 0 : s.filled[i]), nulls, n, nonNull),
  };
  const plainBytes = nonNull * 8;
  const sizes: Partial<Record<BaseEncoding, number>> = { plain: n * 8 };
  let forWidth = -1;
  let deltaBase = 0;
  let deltaWidth = -1;
  if (s.safeIntegral) {
    const range = s.max - s.min;
    if (range <= MAX_SAFE) {
      forWidth = bitWidth(range);
      sizes.bitpack = 9 + packedBytes(n, forWidth);
    }
    const d = deltaStats(s.filled, n);
    if (d !== null) {
      deltaBase = d.min;
      deltaWidth = d.width;
      sizes.delta = 17 + packedBytes(n - 1, deltaWidth);
    }
  }
  let scaled: { e: number; values: Float64Array; min: number; width: number } | null = null;
  if (!s.safeIntegral && !s.hasNaN && !s.hasNegZero && s.numeric > 0) {
    scaled = decimalScale(s.filled, n, s.min, s.max);
    if (scaled !== null) sizes.decimal = 10 + packedBytes(n, scaled.width);
  }
  if (!s.hasNegZero) {
    sizes.rle = 4 + s.runs * 12;
    if (s.dict !== null) sizes.dictionary = 5 + 8 * s.dict.size + packedBytes(n, bitWidth(Math.max(0, s.dict.size - 1)));
  }
  const choice = force ?? smallest(sizes);
  assert(sizes[choice] !== undefined, `encoding ${choice} does not apply to this ${type} chunk`);
  const out = new Out(sizes[choice] as number);
  switch (choice) {
    case 'plain':
      out.raw(s.filled);
      break;
    case 'bitpack':
      out.f64(s.min);
      out.u8(forWidth);
      out.room(packedBytes(n, forWidth));
      out.at = packBits(s.filled, 0, n, s.min, forWidth, out.buf, out.at);
      break;
    case 'delta': {
      const deltas = new Float64Array(n);
      for (let i = 1; i < n; i++) deltas[i] = s.filled[i] - s.filled[i - 1];
      out.f64(s.filled[0]);
      out.f64(deltaBase);
      out.u8(deltaWidth);
      out.room(packedBytes(n - 1, deltaWidth));
      out.at = packBits(deltas, 1, n - 1, deltaBase, deltaWidth, out.buf, out.at);
      break;
    }
    case 'rle':
      writeRuns(s.filled, n, s.runs, out);
      break;
    case 'decimal': {
      const d = scaled as NonNullable<typeof scaled>;
      out.u8(d.e);
      out.f64(d.min);
      out.u8(d.width);
      out.room(packedBytes(n, d.width));
      out.at = packBits(d.values, 0, n, d.min, d.width, out.buf, out.at);
      break;
    }
    case 'dictionary': {
      const dict = s.dict as Map<number, number>;
      const codes = new Float64Array(n);
      for (let i = 0; i < n; i++) codes[i] = dict.get(s.filled[i]) ?? 0;
      const width = bitWidth(Math.max(0, dict.size - 1));
      out.u32(dict.size);
      for (const v of dict.keys()) out.f64(v);
      out.u8(width);
      out.room(packedBytes(n, width));
      out.at = packBits(codes, 0, n, 0, width, out.buf, out.at);
      break;
    }
    default:
      assert(false, `encoding ${choice} does not apply to numbers`);
  }
  return { id: ENC_IDS[choice], name: choice, bytes: out.finish(), plainBytes, zone };
}

/**
 * The smallest e in 1..6 such that every value is m / 10^e for a safe integer m (exactly, as
 * the decoder divides), with the m's range within 2^53; null when none.
 */
function decimalScale(filled: Float64Array, n: number, min: number, max: number): { e: number; values: Float64Array; min: number; width: number } | null {
  for (let e = 1; e < POW10.length; e++) {
    const p = POW10[e];
    if (!fitsScale(min, p) || !fitsScale(max, p) || !fitsScale(filled[n >> 1], p)) continue;
    const values = new Float64Array(n);
    let ok = true;
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < n; i++) {
      const v = filled[i];
      const m = Math.round(v * p);
      if (m / p !== v || m > MAX_SAFE || m < -MAX_SAFE) {
        ok = false;
        break;
      }
      values[i] = m;
      if (m < lo) lo = m;
      if (m > hi) hi = m;
    }
    if (!ok) continue;
    if (hi - lo > MAX_SAFE) return null;
    return { e, values, min: lo, width: bitWidth(hi - lo) };
  }
  return null;
}

function fitsScale(v: number, p: number): boolean {
  const m = Math.round(v * p);
  return m / p === v && m <= MAX_SAFE && m >= -MAX_SAFE;
}

function smallest(sizes: Partial<Record<BaseEncoding, number>>): BaseEncoding {
  let best: BaseEncoding = 'plain';
  let bestSize = Infinity;
  // Order: simplest first, so ties keep the cheaper decode.
  for (const name of ['plain', 'bitpack', 'decimal', 'dictionary', 'rle', 'delta'] as const) {
    const size = sizes[name];
    if (size !== undefined && size < bestSize) {
      best = name;
      bestSize = size;
    }
  }
  return best;
}

function deltaStats(filled: Float64Array, n: number): { min: number; width: number } | null {
  if (n < 2) return null;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 1; i < n; i++) {
    const d = filled[i] - filled[i - 1];
    if (d < min) min = d;
    if (d > max) max = d;
  }
  if (min < -MAX_SAFE || max > MAX_SAFE || max - min > MAX_SAFE) return null;
  return { min, width: bitWidth(max - min) };
}

function writeRuns(filled: Float64Array, n: number, runs: number, out: Out): void {
  out.u32(runs);
  const ends = new Uint32Array(runs);
  const vals = new Float64Array(runs);
  let r = 0;
  for (let i = 0; i < n; i++) {
    const v = filled[i];
    if (i === 0 || !(v === vals[r - 1] || (v !== v && vals[r - 1] !== vals[r - 1]))) {
      if (r > 0) ends[r - 1] = i;
      vals[r++] = v;
    }
  }
  ends[r - 1] = n;
  assert(r === runs, 'run count changed');
  out.raw(vals);
  out.raw(ends);
}

/** The values as a Float64Array when every non-null one is a safe integer, else null. */
function bigToSafe(values: BigInt64Array, nulls: NullBitmap, n: number): Float64Array | null {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    if (isNull(nulls, i)) continue;
    const v = values[i];
    if (v > 9007199254740991n || v < -9007199254740991n) return null;
    out[i] = Number(v);
  }
  return out;
}

function encodeBigPlain(values: BigInt64Array, nulls: NullBitmap, n: number, nullCount: number, force: BaseEncoding | undefined): Payload {
  assert(force === undefined || force === 'plain', 'int64 past 2^53 encodes plain');
  let min: bigint | null = null;
  let max: bigint | null = null;
  const seen = new Set<bigint>();
  const copy = new BigInt64Array(n);
  for (let i = 0; i < n; i++) {
    if (isNull(nulls, i)) continue;
    const v = values[i];
    copy[i] = v;
    if (min === null || v < min) min = v;
    if (max === null || v > max) max = v;
    seen.add(v);
  }
  const out = new Out(n * 8);
  out.raw(copy);
  const zone: ZoneMap = { min: normalizeInt64(min as bigint), max: normalizeInt64(max as bigint), nullCount, rowCount: n, distinct: seen.size };
  return { id: ENC_IDS.plain | PLAIN_I64, name: 'plain', bytes: out.finish(), plainBytes: (n - nullCount) * 8, zone };
}

// ── booleans ──

function encodeBooleans(values: Uint8Array, nulls: NullBitmap, n: number, nullCount: number, force: BaseEncoding | undefined): Payload {
  assert(force === undefined || force === 'bitpack', 'booleans encode as bitpack');
  const bits = new Uint8Array((n + 7) >> 3);
  let trues = 0;
  let falses = 0;
  for (let i = 0; i < n; i++) {
    if (isNull(nulls, i)) continue;
    if (values[i] !== 0) {
      bits[i >> 3] |= 1 << (i & 7);
      trues++;
    } else falses++;
  }
  const zone: ZoneMap = { min: falses === 0, max: trues > 0, nullCount, rowCount: n, distinct: (trues > 0 ? 1 : 0) + (falses > 0 ? 1 : 0) };
  return { id: ENC_IDS.bitpack, name: 'bitpack', bytes: bits, plainBytes: n - nullCount, zone };
}

// ── strings ──


function encodeStrings(values: readonly string[], nulls: NullBitmap, n: number, nullCount: number, force: BaseEncoding | undefined): Payload {
  const dict = new Map<string, number>();
  let dictOk = true;
  let min: string | null = null;
  let max: string | null = null;
  let plainBytes = 0;
  let blobMax = 0;
  for (let i = 0; i < n; i++) {
    if (isNull(nulls, i)) continue;
    const s = values[i];
    blobMax += utf8MaxBytes(s);
    if (min === null || compareStrings(s, min) < 0) min = s;
    if (max === null || compareStrings(s, max) > 0) max = s;
    if (dictOk && !dict.has(s)) {
      // Mostly distinct after the first rows: a dictionary will not pay; stop building it.
      if (dict.size >= 65536 || (force !== 'dictionary' && dict.size >= 2048 && dict.size * 4 > (i + 1) * 3)) dictOk = false;
      else dict.set(s, dict.size);
    }
  }
  const plain = new Out(n * 4 + 5 + blobMax);
  plainBytes = writeStringList(values, nulls, n, plain);
  const distinct = dictOk ? dict.size : estimateDistinct((i) => values[i], nulls, n, n - nullCount);
  const zone: ZoneMap = { min: stringLowerBound(min as string), max: stringUpperBound(max as string), nullCount, rowCount: n, distinct };
  let useDict = dictOk;
  if (force === undefined) {
    if (dictOk) {
      const codeBytes = dict.size <= 256 ? bitWidth(Math.max(0, dict.size - 1)) / 8 : dict.size <= 65536 ? 2 : 4;
      let dictBlob = 0;
      for (const s of dict.keys()) dictBlob += s.length; // close enough for the choice
      useDict = 9 + dict.size * 4 + dictBlob + n * codeBytes < plain.at;
    }
  } else {
    assert(force === 'plain' || (force === 'dictionary' && dictOk), `encoding ${force} does not apply to this string chunk`);
    useDict = force === 'dictionary';
  }
  if (!useDict) return { id: ENC_IDS.plain, name: 'plain', bytes: plain.finish(), plainBytes, zone };
  const keys = [...dict.keys()];
  const out = new Out(plain.at);
  const packed = keys.length <= 256;
  out.u32(packed ? keys.length | DICT_PACKED : keys.length);
  writeStringList(keys, null, keys.length, out);
  const codes = packed ? new Uint8Array(n) : keys.length <= 65536 ? new Uint16Array(n) : new Uint32Array(n);
  for (let i = 0; i < n; i++) codes[i] = isNull(nulls, i) ? 0 : (dict.get(values[i]) as number);
  if (codes instanceof Uint8Array) packSmallCodes(codes, n, bitWidth(Math.max(0, keys.length - 1)), out);
  else out.raw(codes);
  return { id: ENC_IDS.dictionary, name: 'dictionary', bytes: out.finish(), plainBytes, zone };
}

/**
 * A string dictionary of at most 256 values stores its codes bit-packed at the dictionary's
 * width (a 5-value column: 3 bits a row); its size word carries this flag. Chunks written before
 * the flag existed (codes as whole bytes) still decode.
 */
const DICT_PACKED = 0x80000000;

/** Packs codes (each < 2^width, width ≤ 8) LSB-first into ceil(n·width/8) bytes. */
function packSmallCodes(codes: Uint8Array, n: number, width: number, out: Out): void {
  const bytes = Math.ceil((n * width) / 8);
  out.room(bytes);
  if (width === 0) return;
  const buf = out.buf;
  let at = out.at;
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < n; i++) {
    acc |= codes[i] << bits;
    bits += width;
    while (bits >= 8) {
      buf[at++] = acc & 0xff;
      acc >>>= 8;
      bits -= 8;
    }
  }
  if (bits > 0) buf[at++] = acc & 0xff;
  out.at = at;
}

/** The n codes packSmallCodes wrote at bytes[at…]. REQUIRES: the bytes are there (need checked). */
function unpackSmallCodes(bytes: Uint8Array, at: number, n: number, width: number): Uint8Array {
  const codes = new Uint8Array(n);
  if (width === 0) return codes;
  const mask = (1 << width) - 1;
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < n; i++) {
    while (bits < width) {
      acc |= bytes[at++] << bits;
      bits += 8;
    }
    codes[i] = acc & mask;
    acc >>>= width;
    bits -= width;
  }
  return codes;
}

/** utf16End u32 × n, flags u8 (1: some lone surrogate), blobBytes u32, UTF-8 blob. Returns the blob's bytes. */
function writeStringList(values: readonly string[], nulls: NullBitmap, n: number, out: Out): number {
  out.room(n * 4 + 5);
  const endsAt = out.at;
  out.at += n * 4;
  const flagsAt = out.at;
  out.at += 5;
  const blobAt = out.at;
  let units = 0;
  let wellFormed = true;
  for (let i = 0; i < n; i++) {
    if (!isNull(nulls, i)) {
      const s = values[i];
      units += s.length;
      out.room(utf8MaxBytes(s));
      out.at = writeUtf8(s, out.buf, out.at);
      if (wellFormed && !s.isWellFormed()) wellFormed = false;
    }
    out.view.setUint32(endsAt + i * 4, units, true);
  }
  out.buf[flagsAt] = wellFormed ? 0 : 1;
  out.view.setUint32(flagsAt + 1, out.at - blobAt, true);
  return out.at - blobAt;
}

// Zone bounds of long strings and byte strings are shortened (they live in every segment's meta):
// min to a prefix (≤ the value), max to a prefix with its last incrementable unit raised (> the value).
const ZONE_MAX_UNITS = 128;

export function stringLowerBound(s: string): string {
  if (s.length <= ZONE_MAX_UNITS) return s;
  let k = ZONE_MAX_UNITS;
  const c = s.charCodeAt(k - 1);
  if (c >= 0xd800 && c <= 0xdbff) k--; // do not split a surrogate pair
  return s.slice(0, k);
}

export function stringUpperBound(s: string): string {
  if (s.length <= ZONE_MAX_UNITS) return s;
  const t = stringLowerBound(s);
  for (let i = t.length - 1; i >= 0; i--) {
    const c = t.charCodeAt(i);
    if (c >= 0xdc00 && c <= 0xdfff && i > 0) {
      const h = t.charCodeAt(i - 1);
      if (h >= 0xd800 && h <= 0xdbff) {
        const cp = 0x10000 + ((h - 0xd800) << 10) + (c - 0xdc00);
        if (cp < 0x10ffff) return t.slice(0, i - 1) + String.fromCodePoint(cp + 1);
        i--;
        continue;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) continue;
    if (c === 0xffff) continue;
    return t.slice(0, i) + String.fromCharCode(c === 0xd7ff ? 0xe000 : c + 1);
  }
  return s;
}

function bytesLowerBound(b: Uint8Array): Uint8Array {
  return b.slice(0, Math.min(b.length, ZONE_MAX_UNITS));
}

function bytesUpperBound(b: Uint8Array): Uint8Array {
  if (b.length <= ZONE_MAX_UNITS) return b.slice();
  for (let i = ZONE_MAX_UNITS - 1; i >= 0; i--) {
    if (b[i] === 0xff) continue;
    const out = b.slice(0, i + 1);
    out[i]++;
    return out;
  }
  return b.slice();
}

// ── binary ──

function encodeBinary(values: readonly Uint8Array[], nulls: NullBitmap, n: number, nullCount: number, force: BaseEncoding | undefined): Payload {
  assert(force === undefined || force === 'plain', 'binary encodes plain');
  let total = 0;
  let min: Uint8Array | null = null;
  let max: Uint8Array | null = null;
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    if (isNull(nulls, i)) continue;
    const b = values[i];
    total += b.length;
    if (min === null || compareBytes(b, min) < 0) min = b;
    if (max === null || compareBytes(b, max) > 0) max = b;
    if (seen.size < DICT_MAX) seen.add(Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1'));
  }
  const out = new Out(n * 4 + total);
  const endsAt = out.at;
  out.at += n * 4;
  let end = 0;
  for (let i = 0; i < n; i++) {
    if (!isNull(nulls, i)) {
      out.bytes(values[i]);
      end += values[i].length;
    }
    out.view.setUint32(endsAt + i * 4, end, true);
  }
  const zone: ZoneMap = { min: bytesLowerBound(min as Uint8Array), max: bytesUpperBound(max as Uint8Array), nullCount, rowCount: n, distinct: seen.size };
  return { id: ENC_IDS.plain, name: 'plain', bytes: out.finish(), plainBytes: total, zone };
}

// ── decode ──

/** The encoding name of a chunk (as encodeColumn reported it). */
export function chunkEncoding(bytes: Uint8Array): string {
  const name = ENC_NAMES[bytes[0] & 0x7f] ?? 'unknown';
  return (bytes[1] & FLAG_LZ4) !== 0 ? `${name}+lz4` : name;
}

function corrupt(message: string): MantisError {
  return new MantisError('DATA_CORRUPT', `column chunk: ${message}`);
}

/** Decodes a chunk of `rows` rows into a vector. Throws MantisError DATA_CORRUPT on malformed bytes. */
export function decodeColumn(type: ColumnType, bytes: Uint8Array, rows: number): Vector {
  if (bytes.length < HEADER_BYTES) throw corrupt('too short');
  const id = bytes[0];
  const flags = bytes[1];
  if (id === ENC_IDS.null) return nullVector(type, rows);
  let body = bytes.subarray(HEADER_BYTES);
  if ((flags & FLAG_LZ4) !== 0) {
    try {
      const raw = uncompressSync(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
      body = new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
    } catch (error) {
      throw corrupt(`lz4: ${(error as Error).message}`);
    }
  }
  let nulls: Uint8Array | null = null;
  let at = 0;
  const bitmapBytes = (rows + 7) >> 3;
  if ((flags & FLAG_NULLS) !== 0) {
    if (body.length < bitmapBytes) throw corrupt('truncated null bitmap');
    nulls = body.slice(0, bitmapBytes);
    at = pad8(bitmapBytes);
  }
  try {
    return decodePayload(type, id, body, at, rows, nulls);
  } catch (error) {
    if (error instanceof MantisError) throw error;
    throw corrupt((error as Error).message);
  }
}

function nullVector(type: ColumnType, n: number): Vector {
  const nulls = n > 0 ? allNullBitmap(n) : null;
  switch (type) {
    case 'int64':
    case 'timestamp':
      return { type, values: new Float64Array(n), nulls };
    case 'float64':
      return { type, values: new Float64Array(n), nulls };
    case 'boolean':
      return { type, values: new Uint8Array(n), nulls };
    case 'string':
      return { type, values: new Array<string>(n).fill(''), nulls };
    case 'binary':
      return { type, values: new Array<Uint8Array>(n).fill(new Uint8Array(0)), nulls };
  }
}

function need(body: Uint8Array, end: number): void {
  if (end > body.length) throw corrupt(`truncated payload (need ${end} bytes, have ${body.length})`);
}

function decodePayload(type: ColumnType, id: number, body: Uint8Array, at: number, n: number, nulls: Uint8Array | null): Vector {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  switch (type) {
    case 'int64':
    case 'timestamp':
    case 'float64': {
      if (id === (ENC_IDS.plain | PLAIN_I64)) {
        if (type === 'float64') throw corrupt('i64 payload in a float64 chunk');
        need(body, at + n * 8);
        if (((body.byteOffset + at) & 7) === 0) return { type, values: new BigInt64Array(body.buffer, body.byteOffset + at, n), nulls };
        const values = new BigInt64Array(n);
        new Uint8Array(values.buffer).set(body.subarray(at, at + n * 8));
        return { type, values, nulls };
      }
      const values = decodeNumbers(id, body, view, at, n);
      return type === 'float64' ? { type, values, nulls } : { type, values, nulls };
    }
    case 'boolean': {
      if (id !== ENC_IDS.bitpack) throw corrupt(`encoding ${id} in a boolean chunk`);
      need(body, at + ((n + 7) >> 3));
      const values = new Uint8Array(n);
      for (let i = 0; i < n; i++) values[i] = (body[at + (i >> 3)] >> (i & 7)) & 1;
      return { type, values, nulls };
    }
    case 'string': {
      if (id === ENC_IDS.plain) return { type, values: readStringList(body, view, at, n).values, nulls };
      if (id !== ENC_IDS.dictionary) throw corrupt(`encoding ${id} in a string chunk`);
      need(body, at + 4);
      const sizeWord = view.getUint32(at, true);
      const size = sizeWord & ~DICT_PACKED;
      const { values: dict, end } = readStringList(body, view, at + 4, size);
      if ((sizeWord & DICT_PACKED) !== 0) {
        if (size > 256) throw corrupt('a packed string dictionary of more than 256 values');
        const bitsWide = bitWidth(Math.max(0, size - 1));
        need(body, end + Math.ceil((n * bitsWide) / 8));
        const codes = unpackSmallCodes(body, end, n, bitsWide);
        for (let i = 0; i < n; i++) if (codes[i] >= size && size > 0) throw corrupt('dictionary code out of range');
        return { type, codes, dict, nulls };
      }
      const width = size <= 256 ? 1 : size <= 65536 ? 2 : 4;
      need(body, end + n * width);
      const codes = width === 1 ? new Uint8Array(n) : width === 2 ? new Uint16Array(n) : new Uint32Array(n);
      new Uint8Array(codes.buffer).set(body.subarray(end, end + n * width));
      return { type, codes, dict, nulls };
    }
    case 'binary': {
      if (id !== ENC_IDS.plain) throw corrupt(`encoding ${id} in a binary chunk`);
      need(body, at + n * 4);
      const total = n > 0 ? view.getUint32(at + (n - 1) * 4, true) : 0;
      const blobAt = at + n * 4;
      need(body, blobAt + total);
      const blob = body.slice(blobAt, blobAt + total);
      const values = new Array<Uint8Array>(n);
      let start = 0;
      for (let i = 0; i < n; i++) {
        const end = view.getUint32(at + i * 4, true);
        if (end < start || end > total) throw corrupt('binary offsets out of order');
        values[i] = blob.subarray(start, end);
        start = end;
      }
      return { type, values, nulls };
    }
  }
}

function decodeNumbers(id: number, body: Uint8Array, view: DataView, at: number, n: number): Float64Array {
  if (id === ENC_IDS.plain) {
    need(body, at + n * 8);
    if (((body.byteOffset + at) & 7) === 0) return new Float64Array(body.buffer, body.byteOffset + at, n);
    const copy = allocF64(n);
    new Uint8Array(copy.buffer, copy.byteOffset, n * 8).set(body.subarray(at, at + n * 8));
    return copy;
  }
  const out = allocF64(n);
  switch (id) {
    case ENC_IDS.bitpack: {
      need(body, at + 9);
      const base = view.getFloat64(at, true);
      const width = body[at + 8];
      if (width > 53) throw corrupt(`bit width ${width}`);
      need(body, at + 9 + packedBytes(n, width));
      unpackBits(body, at + 9, n, base, width, out);
      return out;
    }
    case ENC_IDS.decimal: {
      need(body, at + 10);
      const e = body[at];
      const p = POW10[e];
      if (p === undefined) throw corrupt(`decimal exponent ${e}`);
      const base = view.getFloat64(at + 1, true);
      const width = body[at + 9];
      if (width > 53) throw corrupt(`bit width ${width}`);
      need(body, at + 10 + packedBytes(n, width));
      unpackBits(body, at + 10, n, base, width, out);
      for (let i = 0; i < n; i++) out[i] /= p;
      return out;
    }
    case ENC_IDS.delta: {
      if (n === 0) return out;
      need(body, at + 17);
      const first = view.getFloat64(at, true);
      const base = view.getFloat64(at + 8, true);
      const width = body[at + 16];
      if (width > 53) throw corrupt(`bit width ${width}`);
      need(body, at + 17 + packedBytes(n - 1, width));
      unpackDeltas(body, at + 17, n, first, base, width, out);
      return out;
    }
    case ENC_IDS.rle: {
      need(body, at + 4);
      const runs = view.getUint32(at, true);
      need(body, at + 4 + runs * 12);
      const vals = new Float64Array(runs);
      new Uint8Array(vals.buffer).set(body.subarray(at + 4, at + 4 + runs * 8));
      const ends = new Uint32Array(runs);
      new Uint8Array(ends.buffer).set(body.subarray(at + 4 + runs * 8, at + 4 + runs * 12));
      let start = 0;
      for (let r = 0; r < runs; r++) {
        const end = ends[r];
        if (end < start || end > n) throw corrupt('run ends out of order');
        out.fill(vals[r], start, end);
        start = end;
      }
      if (start !== n) throw corrupt('runs do not cover the chunk');
      return out;
    }
    case ENC_IDS.dictionary: {
      need(body, at + 4);
      const size = view.getUint32(at, true);
      need(body, at + 5 + size * 8);
      const dict = new Float64Array(size);
      new Uint8Array(dict.buffer).set(body.subarray(at + 4, at + 4 + size * 8));
      const width = body[at + 4 + size * 8];
      if (width > 32) throw corrupt(`code width ${width}`);
      const codesAt = at + 5 + size * 8;
      need(body, codesAt + packedBytes(n, width));
      unpackBits(body, codesAt, n, 0, width, out);
      for (let i = 0; i < n; i++) {
        const v = dict[out[i]];
        if (v === undefined) throw corrupt('dictionary code out of range');
        out[i] = v;
      }
      return out;
    }
    default:
      throw corrupt(`unknown numeric encoding ${id}`);
  }
}

const decoder = new TextDecoder('utf-8', { fatal: false });

function readStringList(body: Uint8Array, view: DataView, at: number, n: number): { values: string[]; end: number } {
  need(body, at + n * 4 + 5);
  const wtf8 = body[at + n * 4] !== 0;
  const blobBytes = view.getUint32(at + n * 4 + 1, true);
  const blobAt = at + n * 4 + 5;
  const blobEnd = blobAt + blobBytes;
  need(body, blobEnd);
  const totalUnits = n > 0 ? view.getUint32(at + (n - 1) * 4, true) : 0;
  const text = wtf8 ? readUtf8(body, blobAt, blobEnd) : decoder.decode(body.subarray(blobAt, blobEnd));
  if (text.length !== totalUnits) throw corrupt('string blob length mismatch');
  const values = new Array<string>(n);
  let start = 0;
  for (let i = 0; i < n; i++) {
    const end = view.getUint32(at + i * 4, true);
    if (end < start || end > totalUnits) throw corrupt('string ends out of order');
    values[i] = text.substring(start, end);
    start = end;
  }
  return { values, end: blobEnd };
}
