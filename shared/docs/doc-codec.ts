// The stored (and ring) binary form of documents and DocValues. One tag byte
// per value; containers carry their body length so a reader can skip a field
// without decoding it (decodeDocFields: $match/$group touch a few fields of
// each document). Every BSON type we keep round-trips exactly: int32 vs double
// is kept as far as JS can tell (an integral double decodes as that number),
// bigint stays bigint (int64; wider ones are kept losslessly as text), -0 stays
// -0, Date keeps its ms (NaN for an invalid date).
//
// Chosen by measurement (bench/docs-codec.ts: 20k documents of ~860 B as
// JSON, 13 fields, 3 nested objects, 3 arrays, ObjectId/Date/Int64; ns per
// document, best of 9 interleaved rounds on this 2-core box while other work
// ran on it (load ~4), so absolute figures are inflated, the ranking held in
// every run):
//   this codec          encode 2640  decode 2600  size 841 B  (2 fields only: 800)
//   msgpackr + ext      encode 4000  decode 4080  size 788 B
//   bson (js-bson 7)    encode 5990  decode 7320  size 952 B
// msgpackr is close but renames a "__proto__" field, needs process-global
// extensions (they would leak into the KV batch codec) and cannot skip an
// unread field; the 4-byte container lengths that allow skipping cost the
// 6% in size.

// Layout: value = tag body. Strings: 1- or 4-byte length then UTF-8; the tag
// says whether the bytes are all ASCII (decoded with latin1, the fast path).
// Object body: (key value)*, key = u8 length (0xff: u32 follows) + UTF-8.
// Numbers are little-endian. Field named "__proto__" is kept as an own field.
// Strings are UTF-8, so a lone surrogate (invalid in BSON too) reads back as
// U+FFFD: input validation should refuse it.

import { Binary, BSONRegExp, Decimal128, ObjectId } from 'bson';
import type { Doc, DocValue } from './doc-types.js';

const T_NULL = 0x01;
const T_FALSE = 0x02;
const T_TRUE = 0x03;
const T_INT8 = 0x04;
const T_INT32 = 0x05;
const T_DOUBLE = 0x06;
const T_INT64 = 0x07;
const T_BIGINT_TEXT = 0x08;
const T_ASCII8 = 0x09;
const T_UTF8_8 = 0x0a;
const T_ASCII32 = 0x0b;
const T_UTF8_32 = 0x0c;
const T_DATE = 0x0d;
const T_OID = 0x0e;
const T_DECIMAL = 0x0f;
const T_BINARY = 0x10;
const T_REGEX = 0x11;
const T_ARRAY = 0x12;
const T_OBJECT = 0x13;
const T_UNDEFINED = 0x14;
const T_BYTES = 0x15; // a raw Uint8Array: ring payloads only (resume keys), never in documents

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

// ── encoder state ────────────────────────────────────────────────────────────
// Values are encoded into a shared chunk and handed out as views of it: a copy
// per document cost as much as encoding its scalars. A chunk is replaced when
// it runs low; the old one lives while any view of it does (memtables keep
// many documents anyway). A value that outgrew the chunk gets a chunk of its
// own, so one 16 MiB document does not pin a 32 MiB chunk for small ones.

// Node's own Buffer string codecs (what toString() and write() call after
// checking their arguments); untyped in @types/node but there since Node 0.x.
type SliceBuffer = Buffer & {
  latin1Slice(start: number, end: number): string;
  utf8Slice(start: number, end: number): string;
  utf8Write(s: string, offset: number, length: number): number;
};

function newChunk(size: number): SliceBuffer {
  return Buffer.allocUnsafeSlow(size) as SliceBuffer;
}

const CHUNK_BYTES = 256 * 1024;
const CHUNK_LOW_BYTES = 8 * 1024;
let out = newChunk(CHUNK_BYTES);
let start = 0;
let pos = 0;
const scratch = new ArrayBuffer(8);
const scratchF64 = new Float64Array(scratch);
const scratchI64 = new BigInt64Array(scratch);
const scratchU8 = new Uint8Array(scratch);

/** Room for `extra` more bytes; moves the value begun at `start` to a new chunk if needed. */
function ensure(extra: number): void {
  if (pos + extra <= out.length) return;
  const used = pos - start;
  let size = CHUNK_BYTES;
  while (size < used + extra) size *= 2;
  const grown = newChunk(size);
  out.copy(grown, 0, start, pos);
  out = grown;
  start = 0;
  pos = used;
}

/**
 * The stored form of a document. ENSURES: a view into a shared chunk; never
 * write into it or transfer its ArrayBuffer (copy first if you must).
 */
export function encodeDoc(doc: Doc): Buffer {
  return encodeValue(doc);
}

/**
 * The binary form of any DocValue (documents, ring payloads, spill files); a
 * view as encodeDoc's. Ring payloads may also hold raw Uint8Arrays (decoded as
 * Uint8Array) and undefined (skipped in objects, null in arrays).
 */
export function encodeValue(value: DocValue | undefined): Buffer {
  if (out.length - pos < CHUNK_LOW_BYTES || out.length > CHUNK_BYTES) {
    out = newChunk(CHUNK_BYTES);
    pos = 0;
  }
  start = pos;
  writeValue(value);
  return out.subarray(start, pos);
}

function writeValue(v: DocValue | undefined): void {
  ensure(18);
  switch (typeof v) {
    case 'string': return writeString(v);
    case 'number': return writeNumber(v);
    case 'boolean': out[pos++] = v ? T_TRUE : T_FALSE; return;
    case 'bigint': return writeBigint(v);
    case 'undefined': out[pos++] = T_UNDEFINED; return;
    case 'object': return v === null ? void (out[pos++] = T_NULL) : writeObjectValue(v);
    default: throw new Error(`doc-codec: cannot encode a ${typeof v}`);
  }
}

function writeNumber(v: number): void {
  if ((v | 0) === v && (v !== 0 || 1 / v > 0)) {
    if (v >= -128 && v <= 127) {
      out[pos++] = T_INT8;
      out[pos++] = v & 0xff;
    } else {
      out[pos++] = T_INT32;
      writeI32(v);
    }
    return;
  }
  out[pos++] = T_DOUBLE;
  writeF64(v);
}

function writeI32(v: number): void {
  out[pos] = v & 0xff;
  out[pos + 1] = (v >>> 8) & 0xff;
  out[pos + 2] = (v >>> 16) & 0xff;
  out[pos + 3] = (v >>> 24) & 0xff;
  pos += 4;
}

function writeF64(v: number): void {
  scratchF64[0] = v;
  copyScratch();
}

function copyScratch(): void {
  for (let i = 0; i < 8; i++) out[pos + i] = scratchU8[i];
  pos += 8;
}

function writeBigint(v: bigint): void {
  if (v >= INT64_MIN && v <= INT64_MAX) {
    out[pos++] = T_INT64;
    scratchI64[0] = v;
    copyScratch();
    return;
  }
  out[pos++] = T_BIGINT_TEXT;
  writeKey(v.toString());
}

function writeString(s: string): void {
  const n = s.length;
  ensure(5 + 3 * n);
  if (n <= 85) {
    // 3 bytes per UTF-16 unit at most, so the length fits one byte.
    const tagAt = pos;
    pos += 2;
    const len = writeUtf8(s, pos);
    out[tagAt] = len === n ? T_ASCII8 : T_UTF8_8;
    out[tagAt + 1] = len;
    pos += len;
    return;
  }
  const tagAt = pos;
  pos += 5;
  const len = out.utf8Write(s, pos, out.length - pos);
  out[tagAt] = len === n ? T_ASCII32 : T_UTF8_32;
  out.writeUInt32LE(len, tagAt + 1);
  pos += len;
}

/** Writes s at `offset` (room checked by the caller); returns the byte count. */
function writeUtf8(s: string, offset: number): number {
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return out.utf8Write(s, offset, out.length - offset);
    out[offset + i] = c;
  }
  return n;
}

function writeKey(k: string): void {
  const n = k.length;
  ensure(5 + 3 * n);
  if (n <= 84) {
    const lenAt = pos++;
    const len = writeUtf8(k, pos);
    out[lenAt] = len;
    pos += len;
    return;
  }
  out[pos] = 0xff;
  const len = out.utf8Write(k, pos + 5, out.length - pos - 5);
  out.writeUInt32LE(len, pos + 1);
  pos += 5 + len;
}

// By prototype, not `v.constructor`: documents come in many shapes, and a
// property load over many shapes is slower than these builtins.
function writeObjectValue(v: object): void {
  if (Array.isArray(v)) return writeArray(v as DocValue[]);
  const proto: unknown = Object.getPrototypeOf(v);
  if (proto === Object.prototype || proto === null) return writeDoc(v as Doc);
  if (v instanceof Date) return writeDate(v);
  if (v instanceof ObjectId) return writeOid(v);
  if (v instanceof Decimal128) return writeFixed(T_DECIMAL, v.bytes);
  if (v instanceof Binary) return writeBinary(v);
  if (v instanceof BSONRegExp) return writeRegex(v);
  if (v instanceof Uint8Array) return writeBytes(v);
  throw new Error(`doc-codec: cannot encode a ${(proto as { constructor?: { name?: string } } | null)?.constructor?.name ?? 'object'}`);
}

function writeDoc(doc: Doc): void {
  out[pos++] = T_OBJECT;
  const lenAt = pos - start; // relative: ensure() may move the value to a new chunk
  pos += 4;
  // Documents are plain objects (JSON.parse, decodeDoc, our operators): no
  // inherited enumerable fields, so no hasOwnProperty per field.
  for (const key in doc) {
    const value = doc[key];
    if (value === undefined) continue; // missing, as BSON's ignoreUndefined
    writeKey(key);
    writeValue(value);
  }
  out.writeUInt32LE(pos - start - lenAt - 4, start + lenAt);
}

function writeArray(arr: DocValue[]): void {
  out[pos++] = T_ARRAY;
  const lenAt = pos - start;
  pos += 4;
  for (let i = 0; i < arr.length; i++) {
    const value = arr[i];
    if (value === undefined) {
      ensure(1);
      out[pos++] = T_NULL; // a hole or undefined element reads back as null, as in JSON
    } else writeValue(value);
  }
  out.writeUInt32LE(pos - start - lenAt - 4, start + lenAt);
}

function writeDate(d: Date): void {
  out[pos++] = T_DATE;
  writeF64(d.getTime());
}

/** bson 7 keeps an ObjectId as four 24-bit ints; reading them skips `id`'s allocation. */
type OidInternals = { i0?: number; i1?: number; i2?: number; i3?: number };

function writeOid(oid: ObjectId): void {
  const raw = oid as unknown as OidInternals;
  if (typeof raw.i0 !== 'number' || typeof raw.i1 !== 'number' || typeof raw.i2 !== 'number' || typeof raw.i3 !== 'number') {
    return writeFixed(T_OID, oid.id);
  }
  out[pos++] = T_OID;
  write24(raw.i0);
  write24(raw.i1);
  write24(raw.i2);
  write24(raw.i3);
}

function write24(v: number): void {
  out[pos] = (v >>> 16) & 0xff;
  out[pos + 1] = (v >>> 8) & 0xff;
  out[pos + 2] = v & 0xff;
  pos += 3;
}

function writeFixed(tag: number, bytes: Uint8Array): void {
  ensure(1 + bytes.length);
  out[pos++] = tag;
  out.set(bytes, pos);
  pos += bytes.length;
}

function writeBinary(b: Binary): void {
  const bytes = b.buffer.subarray(0, b.position);
  ensure(6 + bytes.length);
  out[pos++] = T_BINARY;
  out[pos++] = b.sub_type;
  out.writeUInt32LE(bytes.length, pos);
  pos += 4;
  out.set(bytes, pos);
  pos += bytes.length;
}

function writeBytes(bytes: Uint8Array): void {
  ensure(5 + bytes.length);
  out[pos++] = T_BYTES;
  out.writeUInt32LE(bytes.length, pos);
  pos += 4;
  out.set(bytes, pos);
  pos += bytes.length;
}

function writeRegex(r: BSONRegExp): void {
  out[pos++] = T_REGEX;
  writeKey(r.pattern);
  writeKey(r.options);
}

// ── decoder ──────────────────────────────────────────────────────────────────

let src = newChunk(0);
let at = 0;

// A new ObjectId from 12 bytes at an offset: bson 7's own fast constructor form.
const OidAt = ObjectId as unknown as new (bytes: Uint8Array, offset: number) => ObjectId;

function asBuffer(bytes: Uint8Array): SliceBuffer {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return buf as SliceBuffer;
}

/** REQUIRES: bytes came from encodeDoc. */
export function decodeDoc(bytes: Uint8Array): Doc {
  const value = decodeValue(bytes);
  if (value === null || typeof value !== 'object' || value.constructor !== Object) {
    throw new Error('doc-codec: stored value is not a document');
  }
  return value as Doc;
}

/** REQUIRES: bytes came from encodeValue. */
export function decodeValue(bytes: Uint8Array): DocValue | undefined {
  src = asBuffer(bytes);
  at = 0;
  const value = readValue();
  if (at !== src.length) throw new Error(`doc-codec: ${src.length - at} trailing bytes`);
  return value;
}

// The wanted names as bytes, per Set (callers keep one Set per pipeline), so
// top-level keys are matched without making strings of the unwanted ones.
type WantedField = { readonly name: string; readonly bytes: Uint8Array };
const wantedCache = new WeakMap<ReadonlySet<string>, WantedField[][]>();
const utf8Encoder = new TextEncoder();

function wantedByLength(fields: ReadonlySet<string>): WantedField[][] {
  let byLength = wantedCache.get(fields);
  if (byLength !== undefined) return byLength;
  byLength = [];
  for (const name of fields) {
    const bytes = utf8Encoder.encode(name);
    (byLength[bytes.length] ??= []).push({ name, bytes });
  }
  wantedCache.set(fields, byLength);
  return byLength;
}

/** The wanted field whose name is the `len` key bytes at `at`, if any. */
function matchWanted(byLength: WantedField[][], len: number): string | undefined {
  const candidates = byLength[len];
  if (candidates === undefined) return undefined;
  for (const c of candidates) {
    let i = 0;
    while (i < len && c.bytes[i] === src[at + i]) i++;
    if (i === len) return c.name;
  }
  return undefined;
}

/**
 * Only the named top-level fields of a stored document (others are skipped
 * unread: no string is made of their names); the result keeps the stored
 * field order. Pass the same Set for every document of a scan: its names are
 * prepared once per Set. REQUIRES: bytes came from encodeDoc; `fields` is not
 * changed after its first use.
 */
export function decodeDocFields(bytes: Uint8Array, fields: ReadonlySet<string>): Doc {
  src = asBuffer(bytes);
  at = 0;
  if (src[at++] !== T_OBJECT) throw new Error('doc-codec: stored value is not a document');
  const end = readU32() + at;
  const byLength = wantedByLength(fields);
  const doc: Doc = {};
  while (at < end) {
    let len = src[at++];
    if (len === 0xff) len = readU32();
    const name = matchWanted(byLength, len);
    at += len;
    if (name !== undefined) setField(doc, name, readValue());
    else skipValue();
  }
  return doc;
}

function readU32(): number {
  const v = src[at] | (src[at + 1] << 8) | (src[at + 2] << 16) | (src[at + 3] << 24);
  at += 4;
  return v >>> 0;
}

function readValue(): DocValue | undefined {
  const tag = src[at++];
  switch (tag) {
    case T_NULL: return null;
    case T_FALSE: return false;
    case T_TRUE: return true;
    case T_INT8: return (src[at++] << 24) >> 24;
    case T_INT32: return readU32() | 0;
    case T_DOUBLE: return readF64();
    case T_INT64: return readI64();
    case T_BIGINT_TEXT: return BigInt(readKey());
    case T_ASCII8: return readLatin1(src[at++]);
    case T_UTF8_8: return readUtf8(src[at++]);
    case T_ASCII32: return readLatin1(readU32());
    case T_UTF8_32: return readUtf8(readU32());
    case T_DATE: return new Date(readF64());
    case T_OID: return readOid();
    case T_DECIMAL: return readDecimal();
    case T_BINARY: return readBinary();
    case T_REGEX: return readRegex();
    case T_ARRAY: return readArray();
    case T_OBJECT: return readDoc();
    case T_UNDEFINED: return undefined;
    case T_BYTES: return readBytes() as unknown as DocValue;
    default: throw new Error(`doc-codec: bad tag ${tag} at ${at - 1}`);
  }
}

function readBytes(): Uint8Array {
  const len = readU32();
  const bytes = new Uint8Array(src.subarray(at, at + len)); // a copy, not a Buffer
  at += len;
  return bytes;
}

function readF64(): number {
  for (let i = 0; i < 8; i++) scratchU8[i] = src[at + i];
  at += 8;
  return scratchF64[0];
}

function readI64(): bigint {
  for (let i = 0; i < 8; i++) scratchU8[i] = src[at + i];
  at += 8;
  return scratchI64[0];
}

function readLatin1(len: number): string {
  const start = at;
  at += len;
  return len <= 8 ? shortAscii(src, start, len) : src.latin1Slice(start, at);
}

// Short strings (names, tags, codes) are most values: one fromCharCode call
// with the bytes as arguments is about twice as fast as the native slice or a
// concatenation loop, and gives a flat string.
function shortAscii(b: Buffer, i: number, len: number): string {
  const f = String.fromCharCode;
  switch (len) {
    case 0: return '';
    case 1: return f(b[i]);
    case 2: return f(b[i], b[i + 1]);
    case 3: return f(b[i], b[i + 1], b[i + 2]);
    case 4: return f(b[i], b[i + 1], b[i + 2], b[i + 3]);
    case 5: return f(b[i], b[i + 1], b[i + 2], b[i + 3], b[i + 4]);
    case 6: return f(b[i], b[i + 1], b[i + 2], b[i + 3], b[i + 4], b[i + 5]);
    case 7: return f(b[i], b[i + 1], b[i + 2], b[i + 3], b[i + 4], b[i + 5], b[i + 6]);
    default: return f(b[i], b[i + 1], b[i + 2], b[i + 3], b[i + 4], b[i + 5], b[i + 6], b[i + 7]);
  }
}

function readUtf8(len: number): string {
  const start = at;
  at += len;
  return src.utf8Slice(start, at);
}

// Field names repeat across documents: a small cache hands back the same
// (internalized) string, which spares the allocation and V8's property-key
// hashing on every read.
const KEY_CACHE_SIZE = 4096;
const keyCache: (string | undefined)[] = new Array<string | undefined>(KEY_CACHE_SIZE);

function readKey(): string {
  let len = src[at++];
  if (len === 0xff) len = readU32();
  const start = at;
  at += len;
  if (len > 24) return src.utf8Slice(start, at);
  let h = len;
  for (let i = start; i < at; i++) h = Math.imul(h ^ src[i], 0x01000193);
  const slot = (h >>> 20) & (KEY_CACHE_SIZE - 1);
  const cached = keyCache[slot];
  if (cached !== undefined && cached.length === len && sameAscii(cached, start)) return cached;
  const key = src.utf8Slice(start, at);
  if (key.length === len) keyCache[slot] = key; // ASCII only: then chars == bytes
  return key;
}

function sameAscii(s: string, start: number): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) !== src[start + i]) return false;
  return true;
}

function setField(doc: Doc, key: string, value: DocValue | undefined): void {
  if (value === undefined) return;
  if (key === '__proto__') Object.defineProperty(doc, key, { value, enumerable: true, writable: true, configurable: true });
  else doc[key] = value;
}

function readDoc(): Doc {
  const end = readU32() + at;
  const doc: Doc = {};
  while (at < end) {
    const key = readKey();
    setField(doc, key, readValue());
  }
  return doc;
}

function readArray(): DocValue[] {
  const end = readU32() + at;
  const arr: DocValue[] = [];
  while (at < end) arr.push(readValue() ?? null);
  return arr;
}

function readOid(): ObjectId {
  const oid = new OidAt(src, at);
  at += 12;
  return oid;
}

function readDecimal(): Decimal128 {
  const d = new Decimal128(src.slice(at, at + 16));
  at += 16;
  return d;
}

function readBinary(): Binary {
  const subtype = src[at++];
  const len = readU32();
  const b = new Binary(Uint8Array.prototype.slice.call(src, at, at + len), subtype);
  at += len;
  return b;
}

function readRegex(): BSONRegExp {
  const pattern = readKey();
  const options = readKey();
  return new BSONRegExp(pattern, options);
}

function skipValue(): void {
  const tag = src[at++];
  switch (tag) {
    case T_NULL: case T_FALSE: case T_TRUE: case T_UNDEFINED: return;
    case T_INT8: at += 1; return;
    case T_INT32: at += 4; return;
    case T_DOUBLE: case T_INT64: case T_DATE: at += 8; return;
    case T_OID: at += 12; return;
    case T_DECIMAL: at += 16; return;
    case T_ASCII8: case T_UTF8_8: at += 1 + src[at]; return;
    case T_ASCII32: case T_UTF8_32: case T_ARRAY: case T_OBJECT: case T_BYTES: return skipBytes(readU32());
    case T_BINARY: at += 1; return skipBytes(readU32());
    case T_BIGINT_TEXT: skipKey(); return;
    case T_REGEX: skipKey(); skipKey(); return;
    default: throw new Error(`doc-codec: bad tag ${tag} at ${at - 1}`);
  }
}

// Not `at += readU32()`: that reads `at` before readU32 moves it.
function skipBytes(len: number): void {
  at += len;
}

function skipKey(): void {
  let len = src[at++];
  if (len === 0xff) len = readU32();
  at += len;
}
