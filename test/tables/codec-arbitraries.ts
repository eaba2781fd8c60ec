// fast-check arbitraries of table cells, rows and typed columns for the codec and segment tests.

import fc from 'fast-check';
import { COLUMN_TYPES, INT64_MAX, INT64_MIN, normalizeInt64, type Cell, type ColumnType, type Row, type Vector } from '../../shared/tables/table-types.js';

/** int64 cells in their normalized forms, biased to edges: small, near 2^53, near the int64 limits. */
export const int64Arb: fc.Arbitrary<number | bigint> = fc.oneof(
  fc.integer({ min: -1000, max: 1000 }),
  fc.integer(),
  fc.maxSafeInteger(),
  fc.bigInt({ min: -(2n ** 54n), max: 2n ** 54n }).map(normalizeInt64),
  fc.bigInt({ min: INT64_MIN, max: INT64_MAX }).map(normalizeInt64),
  fc.constantFrom(INT64_MIN, INT64_MAX, INT64_MIN + 1n, INT64_MAX - 1n, 2n ** 53n, -(2n ** 53n), 9007199254740991, -9007199254740991, 2 ** 52, -(2 ** 52), 0).map((v) =>
    typeof v === 'bigint' ? normalizeInt64(v) : v,
  ),
);

export const float64Arb: fc.Arbitrary<number> = fc.oneof(
  fc.double(),
  fc.integer({ min: -100, max: 100 }),
  fc.constantFrom(0, -0, NaN, Infinity, -Infinity, Number.MIN_VALUE, -Number.MIN_VALUE, Number.MAX_VALUE, 0.1, 1e300),
);

export const stringArb: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.string({ unit: fc.constantFrom('a', '\ud7ff', '\uffff', '\u{10ffff}'), minLength: 120, maxLength: 140 }),
  fc.constantFrom('', '\u0000', '\u0001', '\u0000\u0001', 'a\u0000b', '\ud800', 'x\udc00y', '\uffff', '\u{1f600}', 'é'.repeat(70)),
  fc.string({ unit: fc.constantFrom('a', 'b', '\u0000', '\u0001', 'é', '\ue000', '\u{10000}'), maxLength: 6 }),
);

export const binaryArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ maxLength: 40 }),
  fc.uint8Array({ min: 0, max: 2, maxLength: 6 }),
  fc.uint8Array({ min: 250, max: 255, minLength: 120, maxLength: 200 }),
);

export function cellArb(type: ColumnType, nullable = true): fc.Arbitrary<Cell> {
  const base: fc.Arbitrary<Cell> = (() => {
    switch (type) {
      case 'int64':
      case 'timestamp':
        return int64Arb;
      case 'float64':
        return float64Arb;
      case 'boolean':
        return fc.boolean();
      case 'string':
        return stringArb;
      case 'binary':
        return binaryArb;
    }
  })();
  return nullable ? fc.option(base, { nil: null, freq: 4 }) : base;
}

export const typeArb: fc.Arbitrary<ColumnType> = fc.constantFrom(...COLUMN_TYPES);

export const typesArb: fc.Arbitrary<ColumnType[]> = fc.array(typeArb, { minLength: 1, maxLength: 8 });

export function rowArb(types: readonly ColumnType[], nullable = true): fc.Arbitrary<Row> {
  return fc.tuple(...types.map((t) => cellArb(t, nullable)));
}

/** Types plus a row of them. */
export const typedRowArb: fc.Arbitrary<{ types: ColumnType[]; row: Row }> = typesArb.chain((types) => rowArb(types).map((row) => ({ types, row })));

/** Reference order of two same-typed non-null cells: ints exact, floats total (-0 == 0, NaN last), strings by code point. */
export function compareCellRef(type: ColumnType, a: Cell, b: Cell): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? 1 : -1; // NULLS LAST
  switch (type) {
    case 'int64':
    case 'timestamp': {
      const x = BigInt(a as number | bigint);
      const y = BigInt(b as number | bigint);
      return x < y ? -1 : x > y ? 1 : 0;
    }
    case 'float64': {
      const x = a as number;
      const y = b as number;
      if (x !== x) return y !== y ? 0 : 1;
      if (y !== y) return -1;
      return x < y ? -1 : x > y ? 1 : 0;
    }
    case 'boolean':
      return Number(a) - Number(b);
    case 'string':
      return compareCodePoints(a as string, b as string);
    case 'binary':
      return Buffer.compare(a as Uint8Array, b as Uint8Array);
  }
}

function compareCodePoints(a: string, b: string): number {
  const x = [...a].map((c) => c.codePointAt(0) as number);
  const y = [...b].map((c) => c.codePointAt(0) as number);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] < y[i] ? -1 : 1;
  return x.length - y.length === 0 ? 0 : x.length < y.length ? -1 : 1;
}

/** Cell equality for round trips: floats by Object.is except -0/0 only where `zeroEqual`, bytes by content. */
export function cellSame(a: Cell, b: Cell, zeroEqual = false): boolean {
  if (a instanceof Uint8Array && b instanceof Uint8Array) return Buffer.compare(a, b) === 0;
  if (typeof a === 'number' && typeof b === 'number') return zeroEqual ? (a === b || (a !== a && b !== b)) : Object.is(a, b);
  return a === b;
}

/** A column vector of `cells` (int64: Float64Array when all safe, else BigInt64Array). */
export function vectorOf(type: ColumnType, cells: readonly Cell[]): Vector {
  const n = cells.length;
  let nulls: Uint8Array | null = null;
  cells.forEach((c, i) => {
    if (c === null) {
      nulls ??= new Uint8Array((n + 7) >> 3);
      nulls[i >> 3] |= 1 << (i & 7);
    }
  });
  switch (type) {
    case 'int64':
    case 'timestamp': {
      if (cells.every((c) => typeof c !== 'bigint')) return { type, values: Float64Array.from(cells, (c) => (c === null ? 0 : (c as number))), nulls };
      return { type, values: BigInt64Array.from(cells, (c) => (c === null ? 0n : BigInt(c as number | bigint))), nulls };
    }
    case 'float64':
      return { type, values: Float64Array.from(cells, (c) => (c === null ? 0 : (c as number))), nulls };
    case 'boolean':
      return { type, values: Uint8Array.from(cells, (c) => (c === true ? 1 : 0)), nulls };
    case 'string':
      return { type, values: cells.map((c) => (c === null ? '' : (c as string))), nulls };
    case 'binary':
      return { type, values: cells.map((c) => (c === null ? new Uint8Array(0) : (c as Uint8Array))), nulls };
  }
}

/** Cell i of a vector (int64 normalized). */
export function cellOf(v: Vector, i: number): Cell {
  if (v.nulls !== null && (v.nulls[i >> 3] & (1 << (i & 7))) !== 0) return null;
  switch (v.type) {
    case 'int64':
    case 'timestamp': {
      const x = v.values[i];
      return typeof x === 'bigint' ? normalizeInt64(x) : x;
    }
    case 'float64':
      return v.values[i];
    case 'boolean':
      return v.values[i] !== 0;
    case 'string':
      return 'codes' in v ? v.dict[v.codes[i]] : v.values[i];
    case 'binary':
      return v.values[i];
  }
}
