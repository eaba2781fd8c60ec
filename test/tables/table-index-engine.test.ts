// Index vs scan equivalence through the shard table engine (TableShard over a
// real LSM store and WAL): random rows spread over segments and the delta,
// random predicate trees, and every query answered identically with hint
// '$scan', with the planner's choice and with each index forced, also with
// ORDER BY + LIMIT; the same after updates, deletes, replaces, moves,
// compaction and a restart; a new index built by the backfill while the table
// holds segments, then used; a dropped index's entries deleted.

import { describe, expect, it } from 'vitest';
import { indexPrefix } from '../../shared/tables/table-keys.js';
import type { Cell, OrderBy, Predicate, Row, TableInfo } from '../../shared/tables/table-types.js';
import { keyToBinary } from '../../workers/store/memtable.js';
import { buildStateOf, indexBuildsOf } from '../../workers/tables/table-index.js';
import { insertCmd, newShard, queryCmd, reopen, type TShard } from '../helpers/table-shard-harness.js';
import { A, cellFor, evalP, F, G, ID, idx, INDEXES, pick, randomPredicate, randomRow, rng, S, T, tableInfo } from './table-index-gen.js';

function query(s: TShard, info: TableInfo, where: Predicate | null, hint: string | null, orderBy: OrderBy[] = [], limit = 0): { rows: Row[]; plan: string } {
  const a = s.ok(queryCmd(info, { where, hint, orderBy, limit }));
  return { rows: a.rows, plan: a.stats.plan };
}

/** Every hint's answer equals the scan's; returns how often the planner chose an index. */
function compareAll(s: TShard, info: TableInfo, where: Predicate, orderBy: OrderBy[] = [], limit = 0): number {
  const base = query(s, info, where, '$scan', orderBy, limit);
  expect(base.plan).not.toBe('INDEX');
  const chosen = query(s, info, where, null, orderBy, limit);
  expect(chosen.rows, `planner (${chosen.plan}) ${JSON.stringify(where, replacer)}`).toEqual(base.rows);
  for (const def of info.indexes) {
    if (def.type === 'bloom' || def.state !== 'ready') continue;
    const forced = query(s, info, where, def.name, orderBy, limit);
    expect(forced.plan).toBe('INDEX');
    expect(forced.rows, `hint ${def.name} ${JSON.stringify(where, replacer)}`).toEqual(base.rows);
  }
  return chosen.plan === 'INDEX' ? 1 : 0;
}

function replacer(_k: string, v: unknown): unknown {
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  return v;
}

function insertRows(s: TShard, info: TableInfo, rows: Row[], ttlMs = 0): void {
  for (let i = 0; i < rows.length; i += 200) s.ok(insertCmd(info, rows.slice(i, i + 200), 'replace', ttlMs));
}

function distinctIds(r: () => number, n: number, below: number): number[] {
  const ids = new Set<number>();
  while (ids.size < n) ids.add(Math.floor(r() * below));
  return [...ids];
}

function sliced(s: TShard, command: { op: 'update' | 'delete' } & Record<string, unknown>): number {
  let resume: Uint8Array | null = null;
  let affected = 0;
  for (;;) {
    const a = s.ok({ ...command, resume } as never) as unknown as { affected: number; resume: Uint8Array | null };
    affected += a.affected;
    resume = a.resume;
    if (resume === null) return affected;
  }
}

describe('index vs scan through the table engine', () => {
  it('identical answers with $scan, the planner and every forced index, over segments and delta, through writes and a restart', async () => {
    let s = newShard();
    const info = tableInfo(INDEXES);
    s.ok({ op: 'catalog-put', info });
    const r = rng(31337);
    insertRows(s, info, Array.from({ length: 900 }, (_v, i) => randomRow(r, i)));
    s.ok({ op: 'move', table: info.name, tableId: info.id });
    insertRows(s, info, Array.from({ length: 500 }, (_v, i) => randomRow(r, 600 + i)));
    s.ok({ op: 'move', table: info.name, tableId: info.id });
    insertRows(s, info, Array.from({ length: 300 }, (_v, i) => randomRow(r, 1000 + i)));
    let planned = 0;
    const round = (n: number): void => {
      for (let i = 0; i < n; i++) {
        const where = randomPredicate(r);
        planned += compareAll(s, info, where);
        if (i % 4 === 0) {
          const c = pick(r, [A, F, S, T, G]);
          planned += compareAll(s, info, where, [{ col: c, desc: r() < 0.5 }], 1 + Math.floor(r() * 20));
        }
      }
    };
    round(30);
    // Updates and deletes through predicates (sliced), replaces of segment rows into the delta.
    for (let k = 0; k < 6; k++) {
      const c = pick(r, [A, F, S, T, G]);
      let v: Cell = cellFor(r, c);
      if (v === null && c === A) v = 1;
      sliced(s, { op: 'update', table: info.name, tableId: info.id, where: randomPredicate(r), set: [[c, v]], upsertKey: null, ttlMs: 0 });
      sliced(s, { op: 'delete', table: info.name, tableId: info.id, where: { and: [randomPredicate(r), { col: ID, op: '<', value: 1300 }] } });
      // (distinct keys per command: the router refuses a key given twice in one request)
      insertRows(s, info, distinctIds(r, 60, 1400).map((id) => randomRow(r, id)));
    }
    round(20);
    s.ok({ op: 'move', table: info.name, tableId: info.id });
    await s.backgroundCompaction(info.name);
    round(15);
    s = await reopen(s);
    round(15);
    expect(planned).toBeGreaterThan(15);
    // Entries match rows one to one.
    const total = query(s, info, null, '$scan').rows.length;
    for (const def of info.indexes) {
      if (def.type === 'bloom') continue;
      expect(s.store.count(keyToBinary(indexPrefix(info.id, def.id)), Date.now()), def.name).toBe(total);
    }
  }, 240_000);

  it('answers the reference evaluator’s rows (the scan itself is right too)', () => {
    const s = newShard();
    const info = tableInfo(INDEXES);
    s.ok({ op: 'catalog-put', info });
    const r = rng(8);
    const rows = Array.from({ length: 400 }, (_v, i) => randomRow(r, i));
    insertRows(s, info, rows.slice(0, 250));
    s.ok({ op: 'move', table: info.name, tableId: info.id });
    insertRows(s, info, rows.slice(250));
    for (let i = 0; i < 80; i++) {
      const where = randomPredicate(r);
      const want = rows.filter((row) => evalP(where, row) === true).map((row) => row[ID]);
      expect(query(s, info, where, null).rows.map((row) => row[ID])).toEqual(want);
    }
  }, 120_000);

  it('rows with a TTL leave the index when they expire', () => {
    const s = newShard();
    const info = tableInfo(INDEXES);
    s.ok({ op: 'catalog-put', info });
    const r = rng(99);
    insertRows(s, info, Array.from({ length: 100 }, (_v, i) => randomRow(r, i)));
    insertRows(s, info, Array.from({ length: 100 }, (_v, i) => randomRow(r, 100 + i)), 60_000);
    const later = Date.now() + 120_000;
    const where: Predicate = { col: A, op: '>=', value: -100 };
    const a = s.ok(queryCmd(info, { where, hint: 'a_bt' }), later).rows;
    const b = s.ok(queryCmd(info, { where, hint: '$scan' }), later).rows;
    expect(a).toEqual(b);
    expect(a.every((row) => (row[ID] as number) < 100)).toBe(true);
  });

  it('backfills a new index over segments and delta, then serves it; a dropped index leaves no entries', () => {
    const s = newShard();
    const base = tableInfo([idx(1, 'a_bt', 'btree', ['a'])]);
    s.ok({ op: 'catalog-put', info: base });
    const r = rng(4);
    insertRows(s, base, Array.from({ length: 1500 }, (_v, i) => randomRow(r, i)));
    s.ok({ op: 'move', table: base.name, tableId: base.id });
    insertRows(s, base, Array.from({ length: 400 }, (_v, i) => randomRow(r, 1200 + i)));
    s.background(); // a_bt arrived with the table: its (empty) build finishes
    const building = { ...base, version: 2, nextIndexId: 4, indexes: [...base.indexes, idx(2, 'g_t_bt', 'btree', ['g', 't'], { state: 'building' }), idx(3, 's_hash', 'hash', ['s'], { state: 'building' })] };
    s.ok({ op: 'catalog-put', info: building });
    expect(indexBuildsOf(s.store, building, Date.now())).toEqual({ g_t_bt: 'building', s_hash: 'building' });
    // What the router polls before it marks the indexes ready.
    expect(s.ok({ op: 'stats', table: base.name, tableId: base.id }).stats.indexBuilds).toEqual({ g_t_bt: 'building', s_hash: 'building' });
    // Writes while the build is pending maintain the new indexes too.
    insertRows(s, building, distinctIds(r, 100, 1700).map((id) => randomRow(r, id)));
    s.background();
    const now = Date.now();
    expect(buildStateOf(s.store, base.id, 2, now).state).toBe('built');
    expect(buildStateOf(s.store, base.id, 3, now).state).toBe('built');
    expect(indexBuildsOf(s.store, building, now)).toEqual({});
    expect(s.ok({ op: 'stats', table: base.name, tableId: base.id }).stats.indexBuilds).toEqual({});
    const ready: TableInfo = { ...building, version: 3, indexes: building.indexes.map((i) => ({ ...i, state: 'ready' as const })) };
    s.ok({ op: 'catalog-put', info: ready });
    let planned = 0;
    for (let i = 0; i < 40; i++) planned += compareAll(s, ready, randomPredicate(r));
    planned += compareAll(s, ready, { and: [{ col: G, op: '=', value: 'red' }, { col: T, op: '>', value: 1_700_000_002_000_000 }] });
    expect(query(s, ready, { col: S, op: '=', value: 'ab' }, null).plan).toBe('INDEX');
    expect(planned).toBeGreaterThan(5);
    const total = query(s, ready, null, '$scan').rows.length;
    expect(s.store.count(keyToBinary(indexPrefix(base.id, 2)), now)).toBe(total);
    // Drop g_t_bt: its entries go in the background.
    const dropped: TableInfo = { ...ready, version: 4, indexes: ready.indexes.filter((i) => i.id !== 2) };
    s.ok({ op: 'catalog-put', info: dropped });
    s.background();
    expect(s.store.count(keyToBinary(indexPrefix(base.id, 2)), Date.now())).toBe(0);
    expect(s.store.count(keyToBinary(indexPrefix(base.id, 3)), Date.now())).toBe(total);
  }, 120_000);
});
