// The vectorized executor against a naive row evaluator written here from the SQL rules
// (fast-check differential): filters with NULLs and three-valued logic over every vector form
// (plain and dictionary strings, Float64Array and BigInt64Array int64, booleans, binary), zone-map
// pruning (never prunes a chunk holding a match), grouped and plain aggregates split across
// batches and partials then merged, and top-k with cursors.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cellsEqual, compareCells, compareOrdered, tupleKey } from '../../shared/tables/cells.js';
import type { AggregateFn, AggregateSpec, Batch, Cell, ColumnType, OrderBy, Predicate, Row, Vector, ZoneMap } from '../../shared/tables/table-types.js';
import { normalizeInt64 } from '../../shared/tables/table-types.js';
import { TopK } from '../../shared/tables/top-k.js';
import { finalizeState, mergeGroups, PartialAggregator } from '../../shared/tables/vector-agg.js';
import { evalRow, filterBatch } from '../../shared/tables/vector-filter.js';
import { materialize, rowsToBatch, vectorFromCells } from '../../shared/tables/vector-rows.js';
import { mayMatch } from '../../shared/tables/zone-prune.js';

// ---- schema and data --------------------------------------------------------------

// 0 id (unique int64), 1 int64, 2 float64, 3 string, 4 boolean, 5 timestamp, 6 binary, 7 int64 (large values)
const TYPES: ColumnType[] = ['int64', 'int64', 'float64', 'string', 'boolean', 'timestamp', 'binary', 'int64'];

const DOMAINS: Cell[][] = [
  [],
  [-3, -2, -1, 0, 1, 2, 3, 2n ** 60n],
  [-1.5, -0, 0, 0.5, 2, NaN, Infinity, -Infinity],
  ['', 'a', 'ab', 'b', 'ba', '\uffff', '\u{1F600}', 'é'],
  [false, true],
  [-1_000_000, 0, 1, 1_700_000_000_000_000, 9_000_000_000_000_000n],
  [new Uint8Array([]), new Uint8Array([0]), new Uint8Array([1, 2]), new Uint8Array([255])],
  [2 ** 52, -(2 ** 52), 2 ** 53 - 1, -(2 ** 53 - 1), 12345678901234, 7, -(2n ** 62n)],
];

const cellOf = (col: number): fc.Arbitrary<Cell> => fc.constantFrom(...DOMAINS[col]);

/** Rows with a unique id first; NULLs anywhere, or (one run in three) none at all (the no-NULL fast paths). */
function rowsArb(maxRows: number): fc.Arbitrary<Row[]> {
  return fc.nat(2).chain((mode) => {
    const row = fc.tuple(...TYPES.slice(1).map((_, i) => (mode === 0 ? cellOf(i + 1) : fc.option(cellOf(i + 1), { freq: 4 }))));
    return fc.array(row, { maxLength: maxRows }).map((rs) => rs.map((r, i) => [i * 7 - 20, ...r] as Row));
  });
}

/** One column's vector in a randomly chosen form. */
function vectorIn(type: ColumnType, cells: Cell[], form: number): Vector {
  if (type === 'string' && form % 2 === 1) {
    const dict: string[] = [];
    const at = new Map<string, number>();
    for (const c of cells) if (c !== null && !at.has(c as string)) at.set(c as string, dict.push(c as string) - 1);
    if (form % 4 === 3) dict.push('unused'); // a dictionary entry no row uses
    const codes = form % 3 === 0 ? new Uint32Array(cells.length) : form % 3 === 1 ? new Uint16Array(cells.length) : new Uint8Array(cells.length);
    cells.forEach((c, i) => (codes[i] = c === null ? 0 : (at.get(c as string) as number)));
    return { type, codes, dict, nulls: vectorFromCells(type, cells).nulls };
  }
  if ((type === 'int64' || type === 'timestamp') && form % 2 === 1) {
    const values = new BigInt64Array(cells.length);
    cells.forEach((c, i) => (values[i] = c === null ? 0n : BigInt(c as number | bigint)));
    return { type, values, nulls: vectorFromCells(type, cells).nulls };
  }
  return vectorFromCells(type, cells);
}

function batchOf(rows: Row[], forms: number[], selection: Uint32Array | null): Batch {
  const columns = TYPES.map((t, c) => vectorIn(t, rows.map((r) => r[c]), forms[c]));
  return { length: rows.length, columns, selection };
}

const formsArb = fc.array(fc.nat(11), { minLength: TYPES.length, maxLength: TYPES.length });

function selectionOf(n: number, mask: boolean[] | null): Uint32Array | null {
  if (mask === null) return null;
  const out: number[] = [];
  for (let i = 0; i < n; i++) if (mask[i % mask.length]) out.push(i);
  return Uint32Array.from(out);
}

// ---- predicates -----------------------------------------------------------------

function leafArb(): fc.Arbitrary<Predicate> {
  return fc.integer({ min: 1, max: TYPES.length - 1 }).chain((col): fc.Arbitrary<Predicate> => {
    const ops: fc.Arbitrary<Predicate>[] = [
      fc.tuple(fc.constantFrom('=', '!=', '<', '<=', '>', '>=' as const), cellOf(col)).map(([op, value]) => ({ col, op, value })),
      fc.tuple(fc.constantFrom('in', 'not_in' as const), fc.array(fc.option(cellOf(col), { freq: 6 }), { maxLength: 4 })).map(([op, value]) => ({ col, op, value })),
      fc.constantFrom('is_null', 'is_not_null' as const).map((op) => ({ col, op })),
    ];
    if (TYPES[col] === 'string') ops.push(fc.constantFrom('', 'a', 'b', '\u{1F600}', 'x').map((value) => ({ col, op: 'starts_with' as const, value })));
    return fc.oneof(...ops);
  });
}

const predicateArb: fc.Arbitrary<Predicate> = fc.letrec<{ p: Predicate }>((tie) => ({
  p: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leafArb(),
    fc.array(tie('p'), { maxLength: 3 }).map((and) => ({ and })),
    fc.array(tie('p'), { maxLength: 3 }).map((or) => ({ or })),
    tie('p').map((not) => ({ not })),
  ),
})).p;

const T = 1;
const F = 0;
const U = 2;

/** SQL three-valued logic, row by row, straight from the rules. */
function naive(p: Predicate, row: Row): number {
  if ('and' in p) {
    const ts = p.and.map((c) => naive(c, row));
    return ts.includes(F) ? F : ts.includes(U) ? U : T;
  }
  if ('or' in p) {
    const ts = p.or.map((c) => naive(c, row));
    return ts.includes(T) ? T : ts.includes(U) ? U : F;
  }
  if ('not' in p) {
    const t = naive(p.not, row);
    return t === U ? U : 1 - t;
  }
  const v = row[p.col];
  switch (p.op) {
    case 'is_null':
      return v === null ? T : F;
    case 'is_not_null':
      return v === null ? F : T;
    case 'in':
    case 'not_in': {
      if (v === null) return U;
      const hit = p.value.some((x) => x !== null && compareCells(v, x) === 0);
      const res = hit ? T : p.value.includes(null) ? U : F;
      return p.op === 'in' ? res : res === U ? U : 1 - res;
    }
    case 'starts_with':
      return v === null ? U : (v as string).startsWith(p.value) ? T : F;
    default: {
      if (v === null) return U;
      const c = compareCells(v, p.value);
      const ok = { '=': c === 0, '!=': c !== 0, '<': c < 0, '<=': c <= 0, '>': c > 0, '>=': c >= 0 }[p.op];
      return ok ? T : F;
    }
  }
}

describe('filterBatch / evalRow', () => {
  it('agree with the naive three-valued evaluator on every vector form', () => {
    fc.assert(
      fc.property(rowsArb(40), formsArb, fc.option(fc.array(fc.boolean(), { minLength: 1, maxLength: 7 })), predicateArb, (rows, forms, mask, p) => {
        const selection = selectionOf(rows.length, mask);
        const batch = batchOf(rows, forms, selection);
        const expected: number[] = [];
        for (const r of selection ?? rows.map((_, i) => i)) if (naive(p, rows[r]) === T) expected.push(r);
        const got = filterBatch(batch, p);
        expect(got === null ? rows.map((_, i) => i) : [...got]).toEqual(expected);
        if (got === null) expect(selection).toBeNull();
        for (let i = 0; i < rows.length; i++) expect(evalRow(p, rows[i])).toBe(naive(p, rows[i]) === T);
      }),
      { numRuns: 3000 },
    );
  });

  it('known answers: NULL is unknown, NOT unknown is unknown, NaN is the largest float', () => {
    const rows: Row[] = [
      [1, null, NaN, 'NYC', true, 0, null, 0],
      [2, 5, 1, null, null, 0, null, 0],
    ];
    const batch = rowsToBatch(TYPES, rows, TYPES.map(() => true));
    const sel = (p: Predicate) => {
      const s = filterBatch(batch, p);
      return s === null ? [0, 1] : [...s];
    };
    expect(sel({ col: 1, op: '>', value: 3 })).toEqual([1]);
    expect(sel({ not: { col: 1, op: '>', value: 3 } })).toEqual([]);
    expect(sel({ col: 2, op: '>', value: 1e300 })).toEqual([0]);
    expect(sel({ col: 2, op: '=', value: NaN })).toEqual([0]);
    expect(sel({ or: [{ col: 1, op: '=', value: 5 }, { col: 3, op: '=', value: 'NYC' }] })).toEqual([0, 1]);
    expect(sel({ col: 1, op: 'not_in', value: [1, null] })).toEqual([]);
    expect(sel({ not: { col: 1, op: 'in', value: [5, null] } })).toEqual([]);
    expect(sel({ and: [] })).toEqual([0, 1]);
    expect(sel({ or: [] })).toEqual([]);
    expect(materialize({ ...batch, selection: Uint32Array.of(1) }, [0, 3])).toEqual([[2, null]]);
  });
});

describe('rowsToBatch / materialize', () => {
  it('round-trip the selected rows, short rows padded with NULL', () => {
    fc.assert(
      fc.property(rowsArb(30), fc.option(fc.array(fc.boolean(), { minLength: 1, maxLength: 5 })), fc.nat(TYPES.length), (rows, mask, cut) => {
        const short = rows.map((r, i) => (i % 3 === 0 ? r.slice(0, cut) : r));
        const batch = rowsToBatch(TYPES, short, TYPES.map(() => true));
        batch.selection = selectionOf(rows.length, mask);
        const picked = [...(batch.selection ?? rows.map((_, i) => i))];
        const cols = TYPES.map((_, c) => c);
        const want = picked.map((i) => cols.map((c) => short[i][c] ?? null));
        const got = materialize(batch, cols);
        expect(got.length).toBe(want.length);
        got.forEach((row, i) => row.forEach((cell, c) => expect(cellsEqual(cell, want[i][c])).toBe(true)));
      }),
      { numRuns: 300 },
    );
  });
});

// ---- zone maps ---------------------------------------------------------------------

function zoneOfRows(rows: Row[], col: number): ZoneMap {
  let min: Cell = null;
  let max: Cell = null;
  let nullCount = 0;
  for (const r of rows) {
    const v = r[col];
    if (v === null) nullCount++;
    else {
      if (min === null || compareCells(v, min) < 0) min = v;
      if (max === null || compareCells(v, max) > 0) max = v;
    }
  }
  return { min, max, nullCount, rowCount: rows.length, distinct: 0 };
}

describe('mayMatch', () => {
  it('never prunes a chunk that holds a matching row', () => {
    let pruned = 0;
    fc.assert(
      fc.property(rowsArb(6), predicateArb, fc.boolean(), (rows, p, withBloom) => {
        const zones = TYPES.map((_, c) => zoneOfRows(rows, c));
        const bloom = withBloom ? (col: number, cell: Cell) => rows.some((r) => r[col] !== null && compareCells(r[col], cell) === 0) : undefined;
        const may = mayMatch(p, (c) => zones[c], bloom);
        if (rows.some((r) => naive(p, r) === T)) expect(may).toBe(true);
        if (!may) pruned++;
      }),
      { numRuns: 3000 },
    );
    expect(pruned).toBeGreaterThan(100);
  });

  it('prunes ranges outside the zone', () => {
    const z: ZoneMap = { min: 10, max: 20, nullCount: 0, rowCount: 5, distinct: 5 };
    expect(mayMatch({ col: 0, op: '>', value: 20 }, () => z)).toBe(false);
    expect(mayMatch({ col: 0, op: '>=', value: 20 }, () => z)).toBe(true);
    expect(mayMatch({ col: 0, op: 'is_null' }, () => z)).toBe(false);
    expect(mayMatch({ not: { col: 0, op: '<', value: 21 } }, () => z)).toBe(false);
    expect(mayMatch({ col: 0, op: '=', value: 15 }, () => z, () => false)).toBe(false);
    expect(mayMatch({ col: 0, op: '=', value: 15 }, () => null)).toBe(true);
  });
});

// ---- aggregates --------------------------------------------------------------------------

const GROUPABLE = [1, 2, 3, 4, 5, 6, 7];

function aggsArb(): fc.Arbitrary<AggregateSpec[]> {
  const one = fc.oneof(
    fc.constant<AggregateSpec>({ fn: 'count', col: null, as: 'n' }),
    fc.integer({ min: 1, max: 7 }).map<AggregateSpec>((col) => ({ fn: 'count', col, as: 'c' })),
    fc.tuple(fc.constantFrom<AggregateFn>('sum', 'avg'), fc.constantFrom(1, 2, 5, 7)).map<AggregateSpec>(([fn, col]) => ({ fn, col, as: 's' })),
    fc.tuple(fc.constantFrom<AggregateFn>('min', 'max'), fc.integer({ min: 1, max: 7 })).map<AggregateSpec>(([fn, col]) => ({ fn, col, as: 'm' })),
  );
  return fc.array(one, { minLength: 1, maxLength: 4 });
}

/** Straight from the SQL rules: groups by key, NULLs skipped, exact int sums (bigint). */
function naiveAggregate(rows: Row[], groupBy: number[], aggs: AggregateSpec[]): Row[] {
  const groups = new Map<string, Row[]>();
  for (const r of rows) {
    const k = tupleKey(groupBy.map((c) => r[c]));
    const g = groups.get(k);
    if (g === undefined) groups.set(k, [r]);
    else g.push(r);
  }
  if (groupBy.length === 0 && groups.size === 0) groups.set('', []);
  const out: Row[] = [];
  for (const g of groups.values()) {
    const key = groupBy.map((c) => (g.length > 0 ? g[0][c] : null));
    const cells = aggs.map((a): Cell => {
      if (a.col === null) return g.length;
      const vals = g.map((r) => r[a.col as number]).filter((v) => v !== null);
      switch (a.fn) {
        case 'count':
          return vals.length;
        case 'sum':
          if (vals.length === 0) return null;
          if (TYPES[a.col] === 'float64') return vals.reduce<number>((s, v) => s + (v as number), 0);
          return normalizeInt64(vals.reduce<bigint>((s, v) => s + BigInt(v as number | bigint), 0n));
        case 'avg':
          return vals.length === 0 ? null : vals.reduce<number>((s, v) => s + Number(v), 0) / vals.length;
        default: {
          if (vals.length === 0) return null;
          let best = vals[0];
          for (const v of vals) if (compareCells(v, best) * (a.fn === 'min' ? -1 : 1) > 0) best = v;
          return best;
        }
      }
    });
    out.push([...key, ...cells]);
  }
  return out;
}

function sortRows(rows: Row[]): Row[] {
  return rows.slice().sort((a, b) => {
    for (let i = 0; i < a.length; i++) {
      const c = compareOrdered(a[i], b[i], false);
      if (c !== 0) return c;
    }
    return 0;
  });
}

/**
 * Rows equal, except columns with a tolerance scale (avg, float sums: addition order differs) within
 * 1e-9 relative plus float64 rounding of partial sums as large as `scale` (the inputs' Σ|v|).
 */
function expectRowsClose(got: Row[], want: Row[], scale: (number | null)[]): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < got.length; i++) {
    for (let j = 0; j < want[i].length; j++) {
      const g = got[i][j];
      const w = want[i][j];
      const sc = scale[j];
      if (sc !== null && typeof g === 'number' && typeof w === 'number' && Number.isFinite(w)) {
        expect(Math.abs(g - w)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(w)) + sc * 2 ** -48);
      } else if (!cellsEqual(g, w)) expect([i, j, g]).toEqual([i, j, w]);
    }
  }
}

describe('PartialAggregator / mergeGroups / finalizeState', () => {
  it('agree with naive grouping over split batches and partials', () => {
    fc.assert(
      fc.property(
        rowsArb(60),
        formsArb,
        fc.subarray(GROUPABLE, { maxLength: 2 }),
        aggsArb(),
        fc.array(fc.nat(60), { maxLength: 4 }),
        fc.nat(3),
        fc.option(predicateArb, { freq: 3 }),
        (rows, forms, groupBy, aggs, cuts, partsWanted, where) => {
          // Split the rows into batches at `cuts`, spread the batches over 1..4 aggregators.
          const bounds = [...new Set([0, ...cuts.map((c) => Math.min(c, rows.length)), rows.length])].sort((a, b) => a - b);
          const parts = Array.from({ length: partsWanted + 1 }, () => new PartialAggregator(groupBy, aggs, TYPES));
          const kept: Row[] = [];
          for (let b = 0; b + 1 < bounds.length; b++) {
            const slice = rows.slice(bounds[b], bounds[b + 1]);
            const batch = batchOf(slice, forms.map((f) => f + b), null);
            if (where !== null) batch.selection = filterBatch(batch, where);
            for (let i = 0; i < slice.length; i++) if (where === null || naive(where, slice[i]) === T) kept.push(slice[i]);
            parts[b % parts.length].addBatch(batch);
          }
          const merged = mergeGroups(
            parts.map((p) => p.result()),
            groupBy.length,
            aggs,
          );
          const got = merged.map((g) => [...g.key, ...aggs.map((a, i) => finalizeState(a.fn, g.states[i], a.col === null ? 'int64' : TYPES[a.col]))]);
          const absSum = (col: number) => kept.reduce((t, r) => (r[col] === null || !Number.isFinite(Number(r[col])) ? t : t + Math.abs(Number(r[col]))), 0);
          const scale = [
            ...groupBy.map(() => null),
            ...aggs.map((a) => (a.fn === 'avg' || (a.fn === 'sum' && a.col !== null && TYPES[a.col] === 'float64') ? absSum(a.col as number) : null)),
          ];
          expectRowsClose(sortRows(got), sortRows(naiveAggregate(kept, groupBy, aggs)), scale);
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('int64 sums stay exact on every group-by fast path (fused loops, snapshots, bigint)', () => {
    const big = fc.constantFrom(2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 52 + 1, 7, -3, 2 ** 40 + 1);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(3), big), { minLength: 1, maxLength: 40 }),
        fc.array(fc.nat(40), { maxLength: 3 }),
        fc.constantFrom('dict', 'int', 'wide', 'bool', 'none'),
        (data, cuts, form) => {
          const bounds = [...new Set([0, ...cuts.map((c) => Math.min(c, data.length)), data.length])].sort((a, b) => a - b);
          const groupBy = form === 'none' ? [] : [0];
          const agg = new PartialAggregator(groupBy, [{ fn: 'sum', col: 1, as: 's' }, { fn: 'count', col: null, as: 'n' }], [form === 'int' || form === 'wide' ? 'int64' : form === 'bool' ? 'boolean' : 'string', 'int64']);
          for (let b = 0; b + 1 < bounds.length; b++) {
            const part = data.slice(bounds[b], bounds[b + 1]);
            const keyCol: Vector =
              form === 'int' || form === 'wide'
                ? vectorFromCells('int64', part.map(([k]) => (form === 'wide' ? k * 30_000 : k)))
                : form === 'bool'
                  ? vectorFromCells('boolean', part.map(([k]) => k % 2 === 0))
                  : { type: 'string', codes: Uint8Array.from(part.map(([k]) => k)), dict: ['a', 'b', 'c', 'd'], nulls: null };
            agg.addBatch({ length: part.length, columns: [keyCol, vectorFromCells('int64', part.map(([, v]) => v))], selection: null });
          }
          const want = new Map<string, bigint>();
          for (const [k, v] of data) {
            const key = form === 'none' ? '' : tupleKey([form === 'int' ? k : form === 'wide' ? k * 30_000 : form === 'bool' ? k % 2 === 0 : 'abcd'[k]]);
            want.set(key, (want.get(key) ?? 0n) + BigInt(v));
          }
          const got = agg.result();
          expect(got.length).toBe(want.size);
          for (const g of got) expect(finalizeState('sum', g.states[0], 'int64')).toBe(normalizeInt64(want.get(tupleKey(g.key)) as bigint));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('int64 sums stay exact past 2^53 and fold back to numbers', () => {
    const n = 70_000;
    const values = new Float64Array(n).fill(2 ** 50);
    const batch: Batch = { length: n, columns: [{ type: 'int64', values, nulls: null }], selection: null };
    const agg = new PartialAggregator([], [{ fn: 'sum', col: 0, as: 's' }], ['int64']);
    agg.addBatch(batch);
    agg.addBatch({ ...batch, columns: [{ type: 'int64', values: new Float64Array(n).fill(-(2 ** 50)), nulls: null }] });
    agg.addBatch({ length: 1, columns: [{ type: 'int64', values: Float64Array.of(1), nulls: null }], selection: null });
    expect(finalizeState('sum', agg.result()[0].states[0], 'int64')).toBe(1);
    const one = new PartialAggregator([], [{ fn: 'sum', col: 0, as: 's' }], ['int64']);
    one.addBatch(batch);
    expect(finalizeState('sum', one.result()[0].states[0], 'int64')).toBe(BigInt(n) * 2n ** 50n);
    const merged = mergeGroups([[{ key: [], states: [2 ** 53 - 1] }], [{ key: [], states: [2] }]], 0, [{ fn: 'sum', col: 0, as: 's' }]);
    expect(finalizeState('sum', merged[0].states[0], 'int64')).toBe(2n ** 53n + 1n);
  });

  it('no GROUP BY over no rows gives one group: count 0, sum NULL, avg NULL', () => {
    const aggs: AggregateSpec[] = [
      { fn: 'count', col: null, as: 'n' },
      { fn: 'sum', col: 0, as: 's' },
      { fn: 'avg', col: 0, as: 'a' },
      { fn: 'min', col: 0, as: 'm' },
    ];
    const g = mergeGroups([[], []], 0, aggs);
    expect(g.map((x) => aggs.map((a, i) => finalizeState(a.fn, x.states[i], 'int64')))).toEqual([[0, null, null, null]]);
    const agg = new PartialAggregator([], aggs, ['int64']);
    agg.addBatch({ length: 3, columns: [vectorFromCells('int64', [1, 2, 3])], selection: new Uint32Array(0) });
    expect(agg.result().map((x) => aggs.map((a, i) => finalizeState(a.fn, x.states[i], 'int64')))).toEqual([[0, null, null, null]]);
  });
});

// ---- top-k ----------------------------------------------------------------------------------

describe('TopK', () => {
  it('agrees with sort + cursor + limit', () => {
    fc.assert(
      fc.property(
        rowsArb(50),
        formsArb,
        fc.array(fc.record({ col: fc.integer({ min: 1, max: 7 }), desc: fc.boolean() }), { maxLength: 2 }),
        fc.boolean(),
        fc.nat(8),
        fc.option(fc.nat(49)),
        fc.array(fc.nat(50), { maxLength: 3 }),
        (rows, forms, orderBy: OrderBy[], keyDesc, limit, afterRow, cuts) => {
          const sortCols = [...orderBy.map((o) => o.col), 0];
          const desc = [...orderBy.map((o) => o.desc), keyDesc];
          const cmp = (a: Row, b: Row): number => {
            for (let j = 0; j < sortCols.length; j++) {
              const c = compareOrdered(a[sortCols[j]], b[sortCols[j]], desc[j]);
              if (c !== 0) return c;
            }
            return 0;
          };
          const after = afterRow === null || afterRow >= rows.length ? null : sortCols.map((c) => rows[afterRow][c]);
          const afterTuple = after === null ? null : (after as Row);
          let want = rows.slice().sort(cmp);
          if (afterTuple !== null) {
            const tupleRow: Row = [];
            sortCols.forEach((c, j) => (tupleRow[c] = afterTuple[j]));
            want = want.filter((r) => cmp(r, tupleRow) > 0);
          }
          if (limit > 0) want = want.slice(0, limit);
          const top = new TopK(orderBy, [0], limit, afterTuple, [keyDesc]);
          const bounds = [...new Set([0, ...cuts.map((c) => Math.min(c, rows.length)), rows.length])].sort((a, b) => a - b);
          const columns = [0, 3, 1];
          for (let b = 0; b + 1 < bounds.length; b++) top.addBatch(batchOf(rows.slice(bounds[b], bounds[b + 1]), forms, null), columns);
          expect(top.rows()).toEqual(want.map((r) => columns.map((c) => r[c])));
        },
      ),
      { numRuns: 1500 },
    );
  });
});
