// The table benchmark's data (`npm run bench:tables`): one wide-ish row per
// primary key k = 0, 1, 2, …, every column a pure function of k (a 32-bit
// integer hash), so any range of rows can be made on demand, in any order,
// and the same rows go to MantisDB (tables and documents), DuckDB and SQLite.
//
//   k       int64 NOT NULL   primary key, 0..N-1
//   g       int64 NOT NULL   k % 100: the GROUP BY column (repeated, 100 values)
//   x       int64 NOT NULL   uniform 0..999,999: the filter column (WHERE x > 989,999 keeps 1 %)
//   amount  int64 NOT NULL   uniform 0..9,999: the summed column (sums stay exact)
//   price   float64 NOT NULL uniform 0.00..999.99 in cents
//   status  string NOT NULL  5 values, skewed (low cardinality)
//   city    string NOT NULL  1,000 values "city-0000".. (medium cardinality)
//   ts      timestamp NOT NULL 2026-01-01T00:00:00Z + k seconds (sorted)
//   flag    boolean NOT NULL  true for 1 row in 8
//
// The expected answers of the benchmark's queries are computed here from the
// same functions, and every engine's answer is checked against them.

export const TABLE_COLUMNS = [
  { name: 'k', type: 'int64' },
  { name: 'g', type: 'int64' },
  { name: 'x', type: 'int64' },
  { name: 'amount', type: 'int64' },
  { name: 'price', type: 'float64' },
  { name: 'status', type: 'string' },
  { name: 'city', type: 'string' },
  { name: 'ts', type: 'timestamp' },
  { name: 'flag', type: 'boolean' },
] as const;

export type ColumnName = (typeof TABLE_COLUMNS)[number]['name'];

export const GROUPS = 100;
export const X_RANGE = 1_000_000;
/** WHERE x > X_THRESHOLD keeps x in 990,000..999,999: 1 % of the rows. */
export const X_THRESHOLD = 989_999;
export const AMOUNT_RANGE = 10_000;
export const STATUSES = ['active', 'pending', 'closed', 'new', 'archived'] as const;
/** Cumulative percentages of STATUSES: active 50 %, pending 20 %, closed 15 %, new 10 %, archived 5 %. */
const STATUS_CUT = [50, 70, 85, 95, 100] as const;
export const CITIES = 1000;
/** 2026-01-01T00:00:00Z in ms. */
export const TS_BASE_MS = Date.UTC(2026, 0, 1);

/** A 32-bit finalizer (murmur3's fmix32) over k and a per-column salt: unsigned. */
export function mix(k: number, salt: number): number {
  let h = Math.imul((k ^ Math.imul(salt, 0x27d4eb2f)) >>> 0, 0x9e3779b1);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export const gOf = (k: number): number => k % GROUPS;
export const xOf = (k: number): number => mix(k, 1) % X_RANGE;
export const amountOf = (k: number): number => mix(k, 2) % AMOUNT_RANGE;
export const priceOf = (k: number): number => (mix(k, 3) % 100_000) / 100;

export function statusIndexOf(k: number): number {
  const p = mix(k, 4) % 100;
  let i = 0;
  while (p >= STATUS_CUT[i]) i++;
  return i;
}

export const statusOf = (k: number): string => STATUSES[statusIndexOf(k)];
export const cityIndexOf = (k: number): number => mix(k, 5) % CITIES;
export const cityName = (index: number): string => `city-${String(index).padStart(4, '0')}`;
export const cityOf = (k: number): string => cityName(cityIndexOf(k));
/** Microseconds since the epoch. */
export const tsMicrosOf = (k: number): number => (TS_BASE_MS + k * 1000) * 1000;
export const tsIsoOf = (k: number): string => new Date(TS_BASE_MS + k * 1000).toISOString();
export const flagOf = (k: number): boolean => (mix(k, 6) & 7) === 0;

const CITY_NAMES = Array.from({ length: CITIES }, (_, i) => cityName(i));

/** Rows [from, to) as column arrays, for the embedded engines' loaders. */
export type ColumnBlock = {
  readonly from: number;
  readonly to: number;
  readonly x: Int32Array;
  readonly amount: Int32Array;
  readonly price: Float64Array;
  readonly status: Uint8Array;
  readonly city: Uint16Array;
  readonly flag: Uint8Array;
};

export function columnBlock(from: number, to: number): ColumnBlock {
  const n = to - from;
  const b: ColumnBlock = {
    from, to,
    x: new Int32Array(n), amount: new Int32Array(n), price: new Float64Array(n), status: new Uint8Array(n), city: new Uint16Array(n), flag: new Uint8Array(n),
  };
  for (let i = 0; i < n; i++) {
    const k = from + i;
    b.x[i] = xOf(k);
    b.amount[i] = amountOf(k);
    b.price[i] = priceOf(k);
    b.status[i] = statusIndexOf(k);
    b.city[i] = cityIndexOf(k);
    b.flag[i] = flagOf(k) ? 1 : 0;
  }
  return b;
}

export const cityAt = (b: ColumnBlock, i: number): string => CITY_NAMES[b.city[i]];

/** One row as a JSON object text: the body of a table row and of the row-form document alike. */
export function rowJson(k: number): string {
  return `{"k":${k},"g":${gOf(k)},"x":${xOf(k)},"amount":${amountOf(k)},"price":${priceOf(k)},"status":"${statusOf(k)}","city":"${cityOf(k)}","ts":"${tsIsoOf(k)}","flag":${flagOf(k)}}`;
}

/** Rows [from, to) as JSON object texts joined by commas (the inside of a JSON array). */
export function rowsJson(from: number, to: number): string {
  const parts = new Array<string>(to - from);
  for (let k = from; k < to; k++) parts[k - from] = rowJson(k);
  return parts.join(',');
}

/** One GROUP BY g answer row. */
export type GroupRow = { readonly g: number; readonly sum: number; readonly count: number };

/** The filtered scan's answer: count(*), sum(amount) WHERE x > X_THRESHOLD. */
export type FilterAnswer = { readonly count: number; readonly sum: number };

/** The filtered scan returning rows (k, x) WHERE x > X_THRESHOLD: checked by their count and the sums of k and x. */
export type ScanAnswer = { readonly count: number; readonly sumK: number; readonly sumX: number };

export type Expected = { readonly rows: number; readonly groups: GroupRow[]; readonly filter: FilterAnswer; readonly scan: ScanAnswer };

/** The answers for rows [0, rows), from the generator itself. */
export function expectedAnswers(rows: number): Expected {
  const sums = new Float64Array(GROUPS);
  const counts = new Float64Array(GROUPS);
  let fCount = 0;
  let fSum = 0;
  let sumK = 0;
  let sumX = 0;
  for (let k = 0; k < rows; k++) {
    const a = amountOf(k);
    const g = k % GROUPS;
    sums[g] += a;
    counts[g]++;
    const x = xOf(k);
    if (x > X_THRESHOLD) {
      fCount++;
      fSum += a;
      sumK += k;
      sumX += x;
    }
  }
  const groups: GroupRow[] = [];
  for (let g = 0; g < GROUPS; g++) if (counts[g] > 0) groups.push({ g, sum: sums[g], count: counts[g] });
  return { rows, groups, filter: { count: fCount, sum: fSum }, scan: { count: fCount, sumK, sumX } };
}

/** Differences between an engine's groups and the expected ones (empty when they agree; order ignored). */
export function compareGroups(expected: readonly GroupRow[], actual: readonly GroupRow[]): string[] {
  const problems: string[] = [];
  if (actual.length !== expected.length) problems.push(`${actual.length} groups, expected ${expected.length}`);
  const byG = new Map(actual.map((r) => [r.g, r]));
  for (const e of expected) {
    const a = byG.get(e.g);
    if (a === undefined) problems.push(`group g=${e.g} missing`);
    else if (a.sum !== e.sum || a.count !== e.count) problems.push(`group g=${e.g}: sum ${a.sum} count ${a.count}, expected sum ${e.sum} count ${e.count}`);
    if (problems.length >= 5) break;
  }
  return problems;
}

export function compareFilter(expected: FilterAnswer, actual: FilterAnswer): string[] {
  return actual.count === expected.count && actual.sum === expected.sum ? [] : [`count ${actual.count} sum ${actual.sum}, expected count ${expected.count} sum ${expected.sum}`];
}

export function compareScan(expected: ScanAnswer, actual: ScanAnswer): string[] {
  return actual.count === expected.count && actual.sumK === expected.sumK && actual.sumX === expected.sumX
    ? []
    : [`${actual.count} rows (sum k ${actual.sumK}, sum x ${actual.sumX}), expected ${expected.count} (sum k ${expected.sumK}, sum x ${expected.sumX})`];
}

/** The scan answer of rows given as [k, x] pairs (cells as numbers or decimal strings). */
export function scanOf(rows: readonly (readonly unknown[])[], kAt = 0, xAt = 1): ScanAnswer {
  let sumK = 0;
  let sumX = 0;
  for (const r of rows) {
    sumK += Number(r[kAt]);
    sumX += Number(r[xAt]);
  }
  return { count: rows.length, sumK, sumX };
}

/** A deterministic stream of keys in [0, n) for the lookups (xorshift32 from `seed`). */
export function keyStream(seed: number, n: number): () => number {
  let s = (seed * 0x9e3779b1) >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s % n;
  };
}
