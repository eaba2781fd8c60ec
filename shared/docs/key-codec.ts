// Index and _id key bytes: an order-preserving, prefix-free encoding of
// DocValues (FoundationDB tuple-layer style). For any a, b:
//   sign(bytewise(encodeIndexValue(a), encodeIndexValue(b))) == compareValues(a, b)
// and no encoding is a prefix of another, so compound keys concatenate and a
// descending component is the same bytes inverted.
//
// Layout: a value starts with its canonical class (bson-types CANONICAL: null
// 05, number 0a, string 0f, object 14, array 19, binData 1e, objectId 23,
// bool 28, date 2d, regex 32); 0x00 ends strings, documents and arrays.
//   number   0a f64-ordered(floor) 00                  exact doubles
//            0a f64-ordered(floor) 01 exact-decimal    the rest (Int64 past 2^53, Decimal128)
//            where floor = the largest double <= v, so values sharing it are
//            ordered by the tie-break (00 = the double itself, first).
//   string   0f escaped-utf8 00   (00 -> 01 01, 01 -> 01 02; lone surrogates as WTF-8)
//   object   14 (class(value) escaped-name 00 body(value))* 00   (MongoDB: class, name, value)
//   array    19 value* 00
//   binData  1e u32be(length) subtype bytes
//   objectId 23 12 bytes;  bool 28 00|01;  date 2d i64be(ms) with the sign bit flipped
//   regex    32 escaped-pattern 00 escaped-options 00
// In a compound index key (encodeIndexKey) the entry of an empty array field
// is the single byte 03, below null (see EMPTY_ARRAY_ENTRY).
// Equal values (1, 1n, 1.0, Decimal128("1.00")) get equal bytes, so the type of
// a number is not recoverable: decodeIndexValue gives a number when the value
// is an exact double, else a bigint (integral, in Int64 range) or Decimal128.

import { Binary, BSONRegExp, Decimal128, ObjectId } from 'bson';
import { binaryBytes, canonicalOrder, CANONICAL } from './bson-types.js';
import { decimalStringToExact } from './compare.js';
import type { Doc, DocValue } from './doc-types.js';

// ── writer state (one growable buffer; results are copied out) ─────────────

let buf = new Uint8Array(1024);
let pos = 0;
const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);
const u64 = new BigUint64Array(f64.buffer);

function ensure(extra: number): void {
  if (pos + extra <= buf.length) return;
  let size = buf.length * 2;
  while (size < pos + extra) size *= 2;
  const grown = new Uint8Array(size);
  grown.set(buf.subarray(0, pos));
  buf = grown;
}

function put(byte: number): void {
  ensure(1);
  buf[pos++] = byte;
}

/** The order-preserving bytes of one value (missing encodes as null). */
export function encodeIndexValue(v: DocValue | undefined): Uint8Array {
  pos = 0;
  writeValue(v);
  return buf.slice(0, pos);
}

/**
 * A compound key: the components concatenated, each descending one inverted.
 * REQUIRES: desc.length >= values.length (missing entries mean ascending).
 */
export function encodeIndexKey(values: readonly (DocValue | undefined)[], desc: readonly boolean[]): Uint8Array {
  pos = 0;
  writeIndexKey(values, desc);
  return buf.slice(0, pos);
}

/**
 * In an index key (not in encodeIndexValue) the entry of a field holding an
 * empty array is this one byte, below null: MongoDB indexes it as undefined,
 * so an index scan in key order meets it where an ascending sort puts an
 * empty array (first). index-entries gives that entry as EMPTY_ARRAY_KEY (by
 * identity: an empty array that is an element, as in [[]], stays an array).
 */
export const EMPTY_ARRAY_ENTRY = 0x03;
export const EMPTY_ARRAY_KEY: DocValue[] = Object.freeze([]) as unknown as DocValue[];

/** Appends encodeIndexKey's bytes to the writer (doc-keys builds keys in one pass). */
function writeIndexKey(values: readonly (DocValue | undefined)[], desc: readonly boolean[]): void {
  for (let i = 0; i < values.length; i++) {
    const from = pos;
    const v = values[i];
    if (v === EMPTY_ARRAY_KEY) put(EMPTY_ARRAY_ENTRY);
    else writeValue(v);
    if (desc[i] === true) for (let j = from; j < pos; j++) buf[j] = ~buf[j] & 0xff;
  }
}

/**
 * Builds one key from raw byte parts and encoded values in a single buffer:
 * parts are Uint8Arrays copied as they are, or {values, desc} encoded.
 */
export type KeyPart = Uint8Array | { readonly values: readonly (DocValue | undefined)[]; readonly desc?: readonly boolean[] };

export function buildKey(parts: readonly KeyPart[]): Uint8Array {
  pos = 0;
  for (const part of parts) {
    if (part instanceof Uint8Array) {
      ensure(part.length);
      buf.set(part, pos);
      pos += part.length;
    } else writeIndexKey(part.values, part.desc ?? []);
  }
  return buf.slice(0, pos);
}

function writeValue(v: DocValue | undefined): void {
  const cls = canonicalOrder(v);
  put(cls);
  writeBody(cls, v);
}

function writeBody(cls: number, v: DocValue | undefined): void {
  switch (cls) {
    case CANONICAL.null: return;
    case CANONICAL.number: return writeNumber(v as number | bigint | Decimal128);
    case CANONICAL.string: return writeString(v as string);
    case CANONICAL.object: return writeDoc(v as Doc);
    case CANONICAL.array: return writeArray(v as DocValue[]);
    case CANONICAL.binData: return writeBinary(v as Binary);
    case CANONICAL.objectId: return writeOid(v as ObjectId);
    case CANONICAL.bool: return put(v === true ? 1 : 0);
    case CANONICAL.date: return writeDate(v as Date);
    case CANONICAL.regex: return writeRegex(v as BSONRegExp);
    default: throw new Error(`assertion failed: key-codec has no encoding for class ${cls}`);
  }
}

/** bson 7 keeps an ObjectId as four 24-bit ints; reading them skips `id`'s allocation. */
type OidInternals = { i0?: number; i1?: number; i2?: number; i3?: number };

function writeOid(oid: ObjectId): void {
  const raw = oid as unknown as OidInternals;
  if (typeof raw.i0 !== 'number' || typeof raw.i1 !== 'number' || typeof raw.i2 !== 'number' || typeof raw.i3 !== 'number') {
    return writeRaw(oid.id);
  }
  ensure(12);
  put24(raw.i0);
  put24(raw.i1);
  put24(raw.i2);
  put24(raw.i3);
}

function put24(v: number): void {
  buf[pos++] = (v >>> 16) & 0xff;
  buf[pos++] = (v >>> 8) & 0xff;
  buf[pos++] = v & 0xff;
}

function writeRaw(bytes: Uint8Array): void {
  ensure(bytes.length);
  buf.set(bytes, pos);
  pos += bytes.length;
}

function writeDoc(doc: Doc): void {
  for (const name in doc) {
    const value = doc[name];
    if (value === undefined) continue;
    const cls = canonicalOrder(value);
    put(cls);
    writeString(name);
    writeBody(cls, value);
  }
  put(0);
}

function writeArray(arr: DocValue[]): void {
  for (const v of arr) writeValue(v);
  put(0);
}

function writeBinary(b: Binary): void {
  const bytes = binaryBytes(b);
  ensure(5 + bytes.length);
  writeU32(bytes.length);
  buf[pos++] = b.sub_type;
  buf.set(bytes, pos);
  pos += bytes.length;
}

function writeU32(n: number): void {
  buf[pos++] = n >>> 24;
  buf[pos++] = (n >>> 16) & 0xff;
  buf[pos++] = (n >>> 8) & 0xff;
  buf[pos++] = n & 0xff;
}

function writeDate(d: Date): void {
  const ms = d.getTime();
  ensure(8);
  // An invalid date (NaN) sorts first among dates, as compareValues has it.
  const bits = ms !== ms ? 0n : BigInt.asUintN(64, BigInt(ms)) ^ (1n << 63n);
  u64[0] = bits;
  for (let i = 0; i < 8; i++) buf[pos + i] = f64Bytes[7 - i];
  pos += 8;
}

function writeRegex(r: BSONRegExp): void {
  writeString(r.pattern);
  writeString(r.options);
}

// Escaped UTF-8 with a 00 terminator: 00 -> 01 01 and 01 -> 01 02 keep byte
// order and make the encoding prefix-free. Written by hand (not TextEncoder)
// so a lone surrogate keeps its own bytes instead of becoming U+FFFD.
function writeString(s: string): void {
  ensure(3 * s.length * 2 + 1);
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      if (c <= 1) {
        buf[pos++] = 1;
        buf[pos++] = c + 1;
      } else buf[pos++] = c;
      continue;
    }
    if (c < 0x800) {
      buf[pos++] = 0xc0 | (c >> 6);
      buf[pos++] = 0x80 | (c & 0x3f);
      continue;
    }
    if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
      const lo = s.charCodeAt(i + 1);
      if (lo >= 0xdc00 && lo < 0xe000) {
        c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
        i++;
        buf[pos++] = 0xf0 | (c >> 18);
        buf[pos++] = 0x80 | ((c >> 12) & 0x3f);
        buf[pos++] = 0x80 | ((c >> 6) & 0x3f);
        buf[pos++] = 0x80 | (c & 0x3f);
        continue;
      }
    }
    buf[pos++] = 0xe0 | (c >> 12);
    buf[pos++] = 0x80 | ((c >> 6) & 0x3f);
    buf[pos++] = 0x80 | (c & 0x3f);
  }
  buf[pos++] = 0;
}

// ── numbers ─────────────────────────────────────────────────────────────────

const TIE_EXACT = 0x00;
const TIE_DECIMAL = 0x01;

/** A number as sign, decimal digits (no leading/trailing zeros) and exponent: v = ±0.DIGITS × 10^point. */
type ExactDecimal = { negative: boolean; digits: string; point: number };

function writeNumber(v: number | bigint | Decimal128): void {
  ensure(9);
  if (typeof v === 'number') {
    writeOrderedDouble(v);
    buf[pos++] = TIE_EXACT;
    return;
  }
  const exact = typeof v === 'bigint' ? bigintExact(v) : decimalExact(v);
  if (typeof exact === 'number') {
    writeOrderedDouble(exact);
    buf[pos++] = TIE_EXACT;
    return;
  }
  const floor = floorDouble(exact);
  writeOrderedDouble(floor);
  if (exactEqualsDouble(exact, floor)) {
    buf[pos++] = TIE_EXACT;
    return;
  }
  buf[pos++] = TIE_DECIMAL;
  writeExactDecimal(exact);
}

/** Big-endian IEEE bits, sign bit flipped for >= 0 and all bits for < 0; NaN all zero (lowest). */
function writeOrderedDouble(d: number): void {
  if (d !== d) {
    for (let i = 0; i < 8; i++) buf[pos++] = 0;
    return;
  }
  f64[0] = d === 0 ? 0 : d; // -0 equals 0
  const negative = (f64Bytes[7] & 0x80) !== 0;
  for (let i = 0; i < 8; i++) {
    const b = f64Bytes[7 - i];
    buf[pos++] = negative ? ~b & 0xff : i === 0 ? b ^ 0x80 : b;
  }
}

function readOrderedDouble(bytes: Uint8Array, at: number, mask: number): number {
  const first = bytes[at] ^ mask;
  if (first === 0 && isZeroRun(bytes, at, mask)) return NaN;
  const negative = (first & 0x80) === 0;
  for (let i = 0; i < 8; i++) {
    const b = bytes[at + i] ^ mask;
    f64Bytes[7 - i] = negative ? ~b & 0xff : i === 0 ? b ^ 0x80 : b;
  }
  return f64[0];
}

function isZeroRun(bytes: Uint8Array, at: number, mask: number): boolean {
  for (let i = 0; i < 8; i++) if ((bytes[at + i] ^ mask) !== 0) return false;
  return true;
}

/** A bigint as a plain number when exact, else its exact decimal form. */
function bigintExact(v: bigint): number | ExactDecimal {
  const d = Number(v);
  if (Number.isFinite(d) && BigInt(d) === v) return d;
  const negative = v < 0n;
  const text = (negative ? -v : v).toString();
  const digits = text.replace(/0+$/, '');
  return { negative, digits, point: text.length };
}

/** A Decimal128 as a plain number when it is NaN, infinite, zero or an exact double. */
function decimalExact(v: Decimal128): number | ExactDecimal {
  const parsed = decimalStringToExact(v.toString());
  if (parsed.kind === 'nan') return NaN;
  if (parsed.kind === 'inf') return parsed.negative ? -Infinity : Infinity;
  if (parsed.coefficient === 0n) return 0;
  const negative = parsed.coefficient < 0n;
  const text = (negative ? -parsed.coefficient : parsed.coefficient).toString();
  const digits = text.replace(/0+$/, '');
  return { negative, digits, point: text.length + parsed.exponent };
}

/** The largest double <= x (-Infinity below -MAX_VALUE, MAX_VALUE above it). */
function floorDouble(x: ExactDecimal): number {
  let d = Number(`${x.negative ? '-' : ''}0.${x.digits}e${x.point}`);
  if (d === Infinity) return Number.MAX_VALUE;
  if (d === -Infinity) return -Infinity;
  if (compareExactToDouble(x, d) < 0) d = nextDown(d);
  return d;
}

function nextDown(d: number): number {
  if (d === 0) return -Number.MIN_VALUE;
  f64[0] = d;
  u64[0] = d > 0 ? u64[0] - 1n : u64[0] + 1n;
  return f64[0];
}

function exactEqualsDouble(x: ExactDecimal, d: number): boolean {
  return Number.isFinite(d) && compareExactToDouble(x, d) === 0;
}

/** Sign of x - d for finite d, compared exactly with bigints. */
function compareExactToDouble(x: ExactDecimal, d: number): number {
  if (d === -Infinity) return 1;
  // x = X * 10^xe, d = D * 2^de; scale both to integers.
  let X = BigInt(x.digits) * (x.negative ? -1n : 1n);
  let xe = x.point - x.digits.length;
  const { mantissa, exponent } = splitDouble(d);
  let D = mantissa;
  if (xe < 0) { D *= 10n ** BigInt(-xe); xe = 0; }
  if (exponent < 0) X *= 2n ** BigInt(-exponent);
  else D *= 2n ** BigInt(exponent);
  X *= 10n ** BigInt(xe);
  return X === D ? 0 : X < D ? -1 : 1;
}

/** d = mantissa * 2^exponent exactly (d finite). */
function splitDouble(d: number): { mantissa: bigint; exponent: number } {
  f64[0] = d;
  const bits = u64[0];
  const negative = bits >> 63n === 1n;
  const biased = Number((bits >> 52n) & 0x7ffn);
  const fraction = bits & ((1n << 52n) - 1n);
  const mantissa = biased === 0 ? fraction : fraction | (1n << 52n);
  const exponent = (biased === 0 ? 1 : biased) - 1075;
  return { mantissa: negative ? -mantissa : mantissa, exponent };
}

// Exact decimal tie-break: sign byte (00 negative, 01 positive), then for a
// positive value u16be(point + 0x8000) and ASCII digits ending 00; a negative
// value has those bytes inverted so larger magnitudes sort first.
function writeExactDecimal(x: ExactDecimal): void {
  ensure(4 + x.digits.length);
  buf[pos++] = x.negative ? 0 : 1;
  const from = pos;
  const point = x.point + 0x8000;
  if (point < 0 || point > 0xffff) throw new Error(`assertion failed: decimal exponent ${x.point} out of range`);
  buf[pos++] = point >>> 8;
  buf[pos++] = point & 0xff;
  for (let i = 0; i < x.digits.length; i++) buf[pos++] = x.digits.charCodeAt(i);
  buf[pos++] = 0;
  if (x.negative) for (let j = from; j < pos; j++) buf[j] = ~buf[j] & 0xff;
}

// ── decoding (for _id round trips and key parsing) ──────────────────────────

const utf8 = new TextDecoder('utf-8');

/** One decoded value and the offset just past it. */
export type Decoded = { value: DocValue; end: number };

/** The value of encodeIndexValue's bytes. See the header on number types. */
export function decodeIndexValue(bytes: Uint8Array): DocValue {
  const { value, end } = decodeIndexValueAt(bytes, 0, false);
  if (end !== bytes.length) throw new Error(`assertion failed: ${bytes.length - end} bytes after an index value`);
  return value;
}

/** Decodes one component at `at`; `inverted` for a descending component. */
export function decodeIndexValueAt(bytes: Uint8Array, at: number, inverted: boolean): Decoded {
  const r = new Reader(bytes, at, inverted ? 0xff : 0);
  const value = r.value();
  return { value, end: r.at };
}

class Reader {
  constructor(readonly bytes: Uint8Array, public at: number, readonly mask: number) {}

  byte(): number {
    if (this.at >= this.bytes.length) throw new Error('assertion failed: index key ends early');
    return this.bytes[this.at++] ^ this.mask;
  }

  value(): DocValue {
    return this.body(this.byte());
  }

  body(cls: number): DocValue {
    switch (cls) {
      case CANONICAL.null: return null;
      case EMPTY_ARRAY_ENTRY: return [];
      case CANONICAL.number: return this.number();
      case CANONICAL.string: return this.string();
      case CANONICAL.object: return this.doc();
      case CANONICAL.array: return this.array();
      case CANONICAL.binData: return this.binary();
      case CANONICAL.objectId: return new ObjectId(this.raw(12));
      case CANONICAL.bool: return this.byte() === 1;
      case CANONICAL.date: return this.date();
      case CANONICAL.regex: return new BSONRegExp(this.string(), this.string());
      default: throw new Error(`assertion failed: bad index value class ${cls}`);
    }
  }

  raw(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.byte();
    return out;
  }

  string(): string {
    const bytes: number[] = [];
    for (;;) {
      const b = this.byte();
      if (b === 0) break;
      bytes.push(b === 1 ? this.byte() - 1 : b);
    }
    return decodeWtf8(bytes);
  }

  doc(): Doc {
    const doc: Doc = {};
    for (let cls = this.byte(); cls !== 0; cls = this.byte()) {
      const name = this.string();
      const value = this.body(cls);
      if (name === '__proto__') Object.defineProperty(doc, name, { value, enumerable: true, writable: true, configurable: true });
      else doc[name] = value;
    }
    return doc;
  }

  array(): DocValue[] {
    const arr: DocValue[] = [];
    for (let cls = this.byte(); cls !== 0; cls = this.byte()) arr.push(this.body(cls));
    return arr;
  }

  binary(): Binary {
    const len = ((this.byte() << 24) | (this.byte() << 16) | (this.byte() << 8) | this.byte()) >>> 0;
    const subtype = this.byte();
    return new Binary(this.raw(len), subtype);
  }

  date(): Date {
    let bits = 0n;
    for (let i = 0; i < 8; i++) bits = (bits << 8n) | BigInt(this.byte());
    if (bits === 0n) return new Date(NaN);
    return new Date(Number(BigInt.asIntN(64, bits ^ (1n << 63n))));
  }

  number(): number | bigint | Decimal128 {
    const d = readOrderedDouble(this.bytes, this.at, this.mask);
    this.at += 8;
    if (this.byte() === TIE_EXACT) return d;
    const negative = this.byte() === 0;
    const m = negative ? 0xff : 0;
    const point = (((this.byte() ^ m) << 8) | (this.byte() ^ m)) - 0x8000;
    let digits = '';
    for (let c = this.byte() ^ m; c !== 0; c = this.byte() ^ m) digits += String.fromCharCode(c);
    return exactToValue(negative, digits, point);
  }
}

/** An exact decimal as a bigint when integral and in Int64 range, else Decimal128. */
function exactToValue(negative: boolean, digits: string, point: number): bigint | Decimal128 {
  const sign = negative ? '-' : '';
  if (point >= digits.length && point <= 19) {
    const n = BigInt(sign + digits + '0'.repeat(point - digits.length));
    if (BigInt.asIntN(64, n) === n) return n;
  }
  return Decimal128.fromString(`${sign}0.${digits}E${point}`);
}

function decodeWtf8(bytes: number[]): string {
  let ascii = true;
  for (const b of bytes) if (b >= 0x80) { ascii = false; break; }
  if (ascii) return String.fromCharCode(...bytes);
  // TextDecoder turns a WTF-8 lone surrogate into U+FFFD; decode by hand then.
  if (!hasSurrogateBytes(bytes)) return utf8.decode(new Uint8Array(bytes));
  let s = '';
  for (let i = 0; i < bytes.length;) {
    const b = bytes[i];
    if (b < 0x80) { s += String.fromCharCode(b); i += 1; }
    else if (b < 0xe0) { s += String.fromCharCode(((b & 0x1f) << 6) | (bytes[i + 1] & 0x3f)); i += 2; }
    else if (b < 0xf0) { s += String.fromCharCode(((b & 0x0f) << 12) | ((bytes[i + 1] & 0x3f) << 6) | (bytes[i + 2] & 0x3f)); i += 3; }
    else {
      const c = ((b & 0x07) << 18) | ((bytes[i + 1] & 0x3f) << 12) | ((bytes[i + 2] & 0x3f) << 6) | (bytes[i + 3] & 0x3f);
      s += String.fromCodePoint(c);
      i += 4;
    }
  }
  return s;
}

function hasSurrogateBytes(bytes: number[]): boolean {
  for (let i = 0; i + 1 < bytes.length; i++) if (bytes[i] === 0xed && bytes[i + 1] >= 0xa0) return true;
  return false;
}

// ── equality keys ───────────────────────────────────────────────────────────

const latin1 = new TextDecoder('latin1');

/**
 * A string equal for two values exactly when valuesEqual says so (1, 1n and
 * 1.0 share one; null and missing share one): for Map/Set keys and hashing.
 */
export function valueEqualityKey(v: DocValue | undefined): string {
  switch (typeof v) {
    case 'string': return 's' + v;
    case 'number': return v === 0 ? 'n0' : 'n' + String(v);
    case 'boolean': return v ? 'T' : 'F';
    case 'undefined': return 'z';
    case 'bigint': {
      const d = Number(v);
      return Number.isFinite(d) && BigInt(d) === v ? (d === 0 ? 'n0' : 'n' + String(d)) : bytesKey(v);
    }
    default: return v === null ? 'z' : bytesKey(v);
  }
}

function bytesKey(v: DocValue): string {
  const bytes = encodeIndexValue(v);
  // A number that is an exact double spells like the fast path above.
  if (bytes[0] === CANONICAL.number && bytes[9] === TIE_EXACT) {
    const d = readOrderedDouble(bytes, 1, 0);
    return d === 0 ? 'n0' : 'n' + String(d);
  }
  return 'k' + latin1.decode(bytes);
}

/** The smallest byte string greater than every string that starts with `prefix`. */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  let n = prefix.length;
  while (n > 0 && prefix[n - 1] === 0xff) n--;
  if (n === 0) throw new Error('assertion failed: prefixEnd of an all-0xff prefix');
  const end = prefix.slice(0, n);
  end[n - 1]++;
  return end;
}
