// Derived columns: arithmetic a query computes per batch on the shard before it aggregates
// (SQL's sum(price * (1 - discount))), checked against the same sums computed row by row.

import { describe, expect, it } from 'vitest';
import { PartialAggregator, withDerived } from '../../shared/tables/vector-agg.js';
import type { Batch, DerivedExpr } from '../../shared/tables/table-types.js';

function batch(price: number[], disc: (number | null)[], group: number[]): Batch {
  const nulls = new Uint8Array((disc.length + 7) >> 3);
  disc.forEach((d, i) => {
    if (d === null) nulls[i >> 3] |= 1 << (i & 7);
  });
  return {
    length: price.length,
    columns: [
      { type: 'int64', values: Float64Array.from(group), nulls: null },
      { type: 'float64', values: Float64Array.from(price), nulls: null },
      { type: 'float64', values: Float64Array.from(disc.map((d) => d ?? 0)), nulls: disc.includes(null) ? nulls : null },
    ],
    selection: null,
  };
}

describe('derived columns', () => {
  const expr: DerivedExpr = { op: '*', a: { op: 'col', col: 1 }, b: { op: '-', a: { op: 'const', value: 1 }, b: { op: 'col', col: 2 } } };

  it('appends the computed column and leaves the input batch alone; NULL in gives NULL out', () => {
    const b = batch([10, 20, 30], [0.1, null, 0.5], [1, 1, 2]);
    const d = withDerived(b, [expr]);
    expect(b.columns).toHaveLength(3);
    expect(d.columns).toHaveLength(4);
    const v = d.columns[3] as { values: Float64Array; nulls: Uint8Array | null };
    expect(v.values[0]).toBeCloseTo(9, 12);
    expect(v.values[2]).toBeCloseTo(15, 12);
    expect(v.nulls?.[0]).toBe(0b010);
  });

  it('sums and counts per group as row-by-row arithmetic does (selection respected)', () => {
    const n = 5000;
    const price = Array.from({ length: n }, (_x, i) => (i * 7919) % 1000 + 0.25);
    const disc = Array.from({ length: n }, (_x, i) => (i % 13 === 0 ? null : ((i * 31) % 11) / 100));
    const group = Array.from({ length: n }, (_x, i) => i % 4);
    const b = batch(price, disc, group);
    b.selection = Uint32Array.from(Array.from({ length: n }, (_x, i) => i).filter((i) => i % 3 !== 0));
    const agg = new PartialAggregator([0], [{ fn: 'sum', col: 3, as: 's' }, { fn: 'count', col: 3, as: 'c' }], ['int64', 'float64', 'float64', 'float64']);
    agg.addBatch(withDerived(b, [expr]));
    const got = new Map(agg.result().map((g) => [Number(g.key[0]), g.states]));
    for (let g = 0; g < 4; g++) {
      let sum = 0;
      let count = 0;
      for (const i of b.selection) {
        if (group[i] !== g || disc[i] === null) continue;
        sum += price[i] * (1 - (disc[i] as number));
        count++;
      }
      const states = got.get(g) as unknown[];
      expect(Number(states[0])).toBeCloseTo(sum, 6);
      expect(states[1]).toBe(count);
    }
  });
});
