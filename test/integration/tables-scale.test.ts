// The table routes over more rows than one segment holds (2 shards): 120,000
// rows in 10,000-row batches, the mover run (several segments per shard),
// then updates and deletes that hit segment rows (delete marks + delta rows)
// and more rows left in the delta. GROUP BY with every aggregate, a 1 %
// selective filtered count, and a cursor walk over a filtered, ordered
// result are checked against the same computation over a plain array.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';
import { tableName, TablesClient, type Json, type JsonRow } from '../helpers/tables-client.js';

afterAll(cleanup);

const ROWS = 120_000;

type Model = { k: number; g: number; x: number; s: string; n: number | null };

function generate(count: number, from = 0): Model[] {
  return Array.from({ length: count }, (_, j) => {
    const k = from + j;
    return { k, g: k % 100, x: ((k * 7919) % 100_000) / 100, s: `cat${k % 13}`, n: k % 11 === 0 ? null : k % 1000 };
  });
}

describe('tables at scale (2 shards)', () => {
  let server: ServerProcess;
  let t: TablesClient;
  let model: Map<number, Model>;
  beforeAll(async () => {
    server = await startServer({ shards: 2, fsync: 'none' });
    t = new TablesClient(server.url, tableName('scale'));
    await t.createOk(
      [
        { name: 'k', type: 'int64' },
        { name: 'g', type: 'int64', nullable: false },
        { name: 'x', type: 'float64', nullable: false },
        { name: 's', type: 'string' },
        { name: 'n', type: 'int64' },
      ],
      ['k'],
    );
    const rows = generate(ROWS);
    await t.insertMany(rows as unknown as JsonRow[]);
    await t.move();
    // Segment rows changed and deleted, and new rows left in the delta.
    expect(await t.update({ col: 'g', op: '=', value: 7 }, { s: 'seven' })).toBe(ROWS / 100);
    expect(await t.delete({ and: [{ col: 'g', op: '=', value: 8 }, { col: 'k', op: '<', value: 60_000 }] })).toBe(600);
    const extra = generate(5_000, ROWS);
    await t.insertMany(extra as unknown as JsonRow[]);
    model = new Map(rows.concat(extra).map((r) => [r.k, r]));
    for (const r of model.values()) {
      if (r.k >= ROWS) continue;
      if (r.g === 7) r.s = 'seven';
      if (r.g === 8 && r.k < 60_000) model.delete(r.k);
    }
  }, 300_000);

  it('the rows are in several segments and the delta', async () => {
    const stats = await t.stats();
    expect(stats.rows).toBe(model.size);
    expect(stats.segments as number).toBeGreaterThanOrEqual(2);
    expect(stats.delta_rows as number).toBeGreaterThan(0);
  });

  it('GROUP BY with count, sum, avg, min and max agrees with a plain computation', async () => {
    const q = await t.query({
      group_by: ['s'],
      aggregates: [
        { fn: 'count', as: 'rows' },
        { fn: 'sum', column: 'x', as: 'sx' },
        { fn: 'sum', column: 'n', as: 'sn' },
        { fn: 'count', column: 'n', as: 'cn' },
        { fn: 'avg', column: 'g', as: 'ag' },
        { fn: 'min', column: 'k', as: 'lo' },
        { fn: 'max', column: 'x', as: 'hi' },
      ],
      order_by: ['s'],
    });
    const groups = new Map<string, { rows: number; sx: number; sn: number; cn: number; sg: number; lo: number; hi: number }>();
    for (const r of model.values()) {
      let g = groups.get(r.s);
      if (g === undefined) groups.set(r.s, (g = { rows: 0, sx: 0, sn: 0, cn: 0, sg: 0, lo: Infinity, hi: -Infinity }));
      g.rows++;
      g.sx += r.x;
      g.sg += r.g;
      if (r.n !== null) {
        g.sn += r.n;
        g.cn++;
      }
      g.lo = Math.min(g.lo, r.k);
      g.hi = Math.max(g.hi, r.x);
    }
    expect(q.rows.map((r) => r[0])).toEqual([...groups.keys()].sort());
    expect(q.rows.map((r) => [r[0], r[1]])).toEqual([...groups].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([s, g]) => [s, g.rows]));
    for (const row of q.rows) {
      const g = groups.get(row[0] as string);
      if (g === undefined) throw new Error(`unexpected group ${JSON.stringify(row)}`);
      expect(row[1]).toBe(g.rows);
      expect(row[2] as number).toBeCloseTo(g.sx, 4);
      expect(row[3]).toBe(g.sn);
      expect(row[4]).toBe(g.cn);
      expect(row[5] as number).toBeCloseTo(g.sg / g.rows, 9);
      expect(row[6]).toBe(g.lo);
      expect(row[7]).toBe(g.hi);
    }
    const byG = await t.query({ group_by: ['g'], aggregates: [{ fn: 'count', as: 'c' }], order_by: ['g'] });
    expect(byG.rows).toHaveLength(100);
    expect(byG.rows.reduce((s, r) => s + (r[1] as number), 0)).toBe(model.size);
  });

  it('a 1 % selective filter counts and pages exactly (cursor over an order with ties)', async () => {
    const where = { col: 'x', op: '>', value: 990 };
    const matching = [...model.values()].filter((r) => r.x > 990);
    expect(matching.length / model.size).toBeLessThan(0.02);
    const count = await t.query({ where, aggregates: [{ fn: 'count', as: 'n' }] });
    expect(count.rows).toEqual([[matching.length]]);
    expect(count.stats.rows_scanned).toBeGreaterThan(0);
    const { rows } = await t.queryAll({ columns: ['k', 's', 'x'], where, order_by: [{ column: 's', desc: true }], limit: 250 }, [0]);
    const expected: Json[][] = matching.sort((a, b) => (a.s < b.s ? 1 : a.s > b.s ? -1 : a.k - b.k)).map((r) => [r.k, r.s, r.x]);
    expect(rows).toEqual(expected);
  });
});
