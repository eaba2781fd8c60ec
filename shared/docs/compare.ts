// MongoDB's total order over DocValues (the BSON comparison order) and the
// equality it implies. Everything that orders or matches values uses this:
// filters, sort, $min/$max, index key encoding (key-codec.ts must agree
// byte-for-byte), group keys.
//
// The order, as MongoDB's BSONElement::woCompare defines it:
// - different canonical classes compare by class (bson-types CANONICAL);
//   missing sorts as null and equals it;
// - numbers (double, int, Int64 bigint, Decimal128) compare by exact numeric
//   value across kinds; NaN equals NaN and sorts below every other number;
// - strings by Unicode code point (= UTF-8 byte order, MongoDB's binary
//   collation), not by JS's UTF-16 units;
// - documents element by element: first the elements' canonical classes,
//   then the field names (code point order), then the values; a document
//   that is a prefix of another sorts first;
// - arrays element by element, the shorter prefix first;
// - binData by length, then subtype, then bytes; ObjectId by its 12 bytes;
//   booleans false < true; dates by ms since the epoch (signed); regexes by
//   pattern then options.

import type { Binary, BSONRegExp, Decimal128, ObjectId } from 'bson';
import { binaryBytes, canonicalOrder, CANONICAL } from './bson-types.js';
import type { Doc, DocValue } from './doc-types.js';

/** -1, 0 or 1: a before, equal to, or after b in MongoDB's order. */
export function compareValues(a: DocValue | undefined, b: DocValue | undefined): number {
  if (typeof a === 'number' && typeof b === 'number') return compareDoubles(a, b);
  if (typeof a === 'string' && typeof b === 'string') return compareStrings(a, b);
  const ca = canonicalOrder(a);
  const cb = canonicalOrder(b);
  if (ca !== cb) return ca < cb ? -1 : 1;
  return compareSameClass(ca, a, b);
}

/** MongoDB equality: 1 == 1n == 1.0 == Decimal128("1.0"), NaN == NaN, null == missing. */
export function valuesEqual(a: DocValue | undefined, b: DocValue | undefined): boolean {
  if (a === b) return true;
  const ta = typeof a;
  if (ta === 'number' && typeof b === 'number') return a !== a && b !== b;
  if (ta === 'string' || ta === 'boolean') return false;
  return compareValues(a, b) === 0;
}

function compareSameClass(cls: number, a: DocValue | undefined, b: DocValue | undefined): number {
  switch (cls) {
    case CANONICAL.null:
      return 0;
    case CANONICAL.number:
      return compareNumbers(a as number | bigint | Decimal128, b as number | bigint | Decimal128);
    case CANONICAL.string:
      return compareStrings(a as string, b as string);
    case CANONICAL.object:
      return compareDocs(a as Doc, b as Doc);
    case CANONICAL.array:
      return compareArrays(a as DocValue[], b as DocValue[]);
    case CANONICAL.binData:
      return compareBinary(a as Binary, b as Binary);
    case CANONICAL.objectId:
      return compareObjectIds(a as ObjectId, b as ObjectId);
    case CANONICAL.bool:
      return a === b ? 0 : a === false ? -1 : 1;
    case CANONICAL.date:
      return compareDoubles((a as Date).getTime(), (b as Date).getTime());
    case CANONICAL.regex:
      return compareRegex(a as BSONRegExp, b as BSONRegExp);
    default:
      throw new Error(`assertion failed: canonical class ${cls}`);
  }
}

/** Doubles with NaN equal to itself and below everything; -0 equals 0. */
export function compareDoubles(a: number, b: number): number {
  if (a < b) return -1;
  if (a > b) return 1;
  if (a === b) return 0;
  // At least one NaN.
  const an = a !== a;
  const bn = b !== b;
  return an && bn ? 0 : an ? -1 : 1;
}

/** Code point order (UTF-8 byte order) of two JS strings. */
export function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const n = a.length < b.length ? a.length : b.length;
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  if (i === n) return a.length < b.length ? -1 : 1;
  const x = codeUnitRank(a.charCodeAt(i));
  const y = codeUnitRank(b.charCodeAt(i));
  return x < y ? -1 : 1;
}

// UTF-16 units order code points correctly except that surrogates
// (D800-DFFF, i.e. code points >= 0x10000) must sort above E000-FFFF.
function codeUnitRank(u: number): number {
  if (u < 0xd800) return u;
  return u >= 0xe000 ? u - 0x800 : u + 0x2000;
}

function compareDocs(a: Doc, b: Doc): number {
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  const n = ka.length < kb.length ? ka.length : kb.length;
  for (let i = 0; i < n; i++) {
    const va = a[ka[i]];
    const vb = b[kb[i]];
    const ca = canonicalOrder(va);
    const cb = canonicalOrder(vb);
    if (ca !== cb) return ca < cb ? -1 : 1;
    const byName = compareStrings(ka[i], kb[i]);
    if (byName !== 0) return byName;
    const byValue = compareSameClass(ca, va, vb);
    if (byValue !== 0) return byValue;
  }
  return ka.length === kb.length ? 0 : ka.length < kb.length ? -1 : 1;
}

function compareArrays(a: DocValue[], b: DocValue[]): number {
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) {
    const c = compareValues(a[i], b[i]);
    if (c !== 0) return c;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

function compareBinary(a: Binary, b: Binary): number {
  if (a.position !== b.position) return a.position < b.position ? -1 : 1;
  if (a.sub_type !== b.sub_type) return a.sub_type < b.sub_type ? -1 : 1;
  return compareBytes(binaryBytes(a), binaryBytes(b));
}

// bson 7.3 packs an ObjectId's bytes into four 24-bit ints (i0..i3, big-endian
// order); compare those when present instead of allocating `.id` twice.
type PackedOid = { i0?: number; i1?: number; i2?: number; i3?: number };

export function compareObjectIds(a: ObjectId, b: ObjectId): number {
  const pa = a as unknown as PackedOid;
  const pb = b as unknown as PackedOid;
  if (typeof pa.i3 === 'number' && typeof pb.i3 === 'number') {
    if (pa.i0 !== pb.i0) return (pa.i0 as number) < (pb.i0 as number) ? -1 : 1;
    if (pa.i1 !== pb.i1) return (pa.i1 as number) < (pb.i1 as number) ? -1 : 1;
    if (pa.i2 !== pb.i2) return (pa.i2 as number) < (pb.i2 as number) ? -1 : 1;
    if (pa.i3 !== pb.i3) return pa.i3 < pb.i3 ? -1 : 1;
    return 0;
  }
  return compareBytes(a.id, b.id);
}

function compareRegex(a: BSONRegExp, b: BSONRegExp): number {
  const byPattern = compareStrings(a.pattern, b.pattern);
  return byPattern !== 0 ? byPattern : compareStrings(a.options, b.options);
}

// ---- numbers across kinds -------------------------------------------------

/** Exact numeric order of number / bigint / Decimal128 (NaN lowest, NaN == NaN). */
export function compareNumbers(a: number | bigint | Decimal128, b: number | bigint | Decimal128): number {
  const ta = typeof a;
  const tb = typeof b;
  if (ta === 'number' && tb === 'number') return compareDoubles(a as number, b as number);
  if (ta === 'bigint' && tb === 'bigint') return a === b ? 0 : (a as bigint) < (b as bigint) ? -1 : 1;
  if (ta === 'bigint' && tb === 'number') return -compareDoubleBigint(b as number, a as bigint);
  if (ta === 'number' && tb === 'bigint') return compareDoubleBigint(a as number, b as bigint);
  return compareExact(toExact(a), toExact(b));
}

function compareDoubleBigint(d: number, n: bigint): number {
  if (d !== d) return -1;
  if (d === Infinity) return 1;
  if (d === -Infinity) return -1;
  const floor = Math.floor(d);
  const f = BigInt(floor);
  if (f !== n) return f < n ? -1 : 1;
  return floor === d ? 0 : 1;
}

/** A number as sign * coefficient * 10^exponent, or a special value. */
export type Exact =
  | { readonly kind: 'nan' }
  | { readonly kind: 'inf'; readonly negative: boolean }
  | { readonly kind: 'finite'; readonly coefficient: bigint; readonly exponent: number };

function toExact(v: number | bigint | Decimal128): Exact {
  if (typeof v === 'bigint') return { kind: 'finite', coefficient: v, exponent: 0 };
  if (typeof v === 'number') return doubleToExact(v);
  return decimalStringToExact(v.toString());
}

function doubleToExact(d: number): Exact {
  if (d !== d) return { kind: 'nan' };
  if (d === Infinity || d === -Infinity) return { kind: 'inf', negative: d < 0 };
  if (Number.isInteger(d)) return { kind: 'finite', coefficient: BigInt(d), exponent: 0 };
  // d * 2^k is exact (no overflow: a non-integer double is below 2^53).
  let x = d;
  let k = 0;
  while (!Number.isInteger(x)) {
    x *= 2;
    k++;
  }
  // d = x / 2^k = x * 5^k / 10^k
  return { kind: 'finite', coefficient: BigInt(x) * 5n ** BigInt(k), exponent: -k };
}

/** Parses Decimal128's string form ("-1.50", "1E+3", "1.2E-7", "NaN", "-Infinity"). */
export function decimalStringToExact(s: string): Exact {
  if (s === 'NaN' || s === '-NaN') return { kind: 'nan' };
  if (s === 'Infinity' || s === '-Infinity') return { kind: 'inf', negative: s[0] === '-' };
  const e = s.search(/[eE]/);
  const mantissa = e < 0 ? s : s.slice(0, e);
  let exponent = e < 0 ? 0 : Number(s.slice(e + 1));
  const dot = mantissa.indexOf('.');
  let digits = mantissa;
  if (dot >= 0) {
    exponent -= mantissa.length - dot - 1;
    digits = mantissa.slice(0, dot) + mantissa.slice(dot + 1);
  }
  return { kind: 'finite', coefficient: BigInt(digits), exponent };
}

function compareExact(a: Exact, b: Exact): number {
  if (a.kind === 'nan') return b.kind === 'nan' ? 0 : -1;
  if (b.kind === 'nan') return 1;
  if (a.kind === 'inf') return b.kind === 'inf' && a.negative === b.negative ? 0 : a.negative ? -1 : 1;
  if (b.kind === 'inf') return b.negative ? 1 : -1;
  let ca = a.coefficient;
  let cb = b.coefficient;
  if (a.exponent > b.exponent) ca *= 10n ** BigInt(a.exponent - b.exponent);
  else if (b.exponent > a.exponent) cb *= 10n ** BigInt(b.exponent - a.exponent);
  return ca === cb ? 0 : ca < cb ? -1 : 1;
}
