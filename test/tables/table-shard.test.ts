// The shard table engine over a real LSM store and WAL (one shard in this
// process): catalog, inserts with each on_conflict, point lookups in the delta
// and in segments, queries (filters, aggregates, order, cursors) over segments
// and delta together, sliced updates and deletes, the mover's commit racing
// writes, compaction, TTL, drops, restart.

import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Row, TableInfo } from '../../shared/tables/table-types.js';
import { allRows, col, insertCmd, newShard, queryCmd, reopen, tableInfo, type AnswerOf, type TShard } from '../helpers/table-shard-harness.js';

const people = (): TableInfo =>
  tableInfo('people', [col('id', 'int64', false), col('name', 'string'), col('age', 'int64'), col('score', 'float64'), col('active', 'boolean')], ['id']);

function setup(info = people()): TShard {
  const s = newShard();
  s.ok({ op: 'catalog-put', info });
  return s;
}

const person = (id: number): Row => [id, `n${id % 7}`, id % 50, id / 4, id % 3 === 0];

describe('table shard: writes and lookups', () => {
  it('inserts rows, refuses a duplicate with the row index, replaces and ignores', () => {
    const info = people();
    const s = setup(info);
    const a = s.ok(insertCmd(info, [person(1), person(2)]));
    expect(a.inserted).toBe(2);
    expect(a.insertedKeys).toEqual([[1], [2]]);
    const dup = s.run({ ...insertCmd(info, [person(3), person(2)]), rowIndex: [7, 8] });
    expect(dup.ok).toBe(false);
    if (!dup.ok) {
      expect(dup.code).toBe('DUPLICATE_KEY');
      expect(dup.details).toEqual({ row: 8 });
    }
    // All or nothing: row 3 was not inserted.
    expect(s.ok({ op: 'get', table: 'people', tableId: info.id, keys: [[3]], columns: [] }).rows).toEqual([null]);
    const replaced = s.ok(insertCmd(info, [[2, 'two', 1, 1.5, false]], 'replace'));
    expect(replaced).toMatchObject({ inserted: 0, replaced: 1 });
    const ignored = s.ok(insertCmd(info, [[2, 'x', 1, 1, true], person(4)], 'ignore'));
    expect(ignored).toMatchObject({ inserted: 1, ignored: 1 });
    expect(allRows(s, info)).toEqual([person(1), [2, 'two', 1, 1.5, false], person(4)]);
  });

  it('answers TABLE_NOT_FOUND for an unknown table or a stale id', () => {
    const info = people();
    const s = setup(info);
    const a = s.run({ op: 'get', table: 'people', tableId: 999, keys: [[1]], columns: [] });
    expect(a.ok === false && a.code).toBe('TABLE_NOT_FOUND');
    const b = s.run(queryCmd({ ...info, name: 'nope' }));
    expect(b.ok === false && b.code).toBe('TABLE_NOT_FOUND');
  });

  it('finds rows in segments after a move, and replaces a segment row with a delete mark', () => {
    const info = people();
    const s = setup(info);
    const rows = Array.from({ length: 3000 }, (_v, i) => person(i));
    s.ok(insertCmd(info, rows));
    s.ok({ op: 'move', table: 'people', tableId: info.id });
    const st = s.ok({ op: 'stats', table: 'people', tableId: info.id }).stats;
    expect(st).toMatchObject({ rows: 3000, deltaRows: 0, segments: 1, segmentRows: 3000 });
    expect(s.ok({ op: 'get', table: 'people', tableId: info.id, keys: [[17], [2999], [5000]], columns: [] }).rows).toEqual([person(17), person(2999), null]);
    const dup = s.run(insertCmd(info, [person(17)]));
    expect(dup.ok === false && dup.code).toBe('DUPLICATE_KEY');
    s.ok(insertCmd(info, [[17, 'new', 0, 0, false]], 'replace'));
    expect(s.ok({ op: 'get', table: 'people', tableId: info.id, keys: [[17]], columns: [] }).rows).toEqual([[17, 'new', 0, 0, false]]);
    const after = s.ok({ op: 'stats', table: 'people', tableId: info.id }).stats;
    expect(after).toMatchObject({ rows: 3000, deltaRows: 1, deletedRows: 1 });
    const all = allRows(s, info);
    expect(all.length).toBe(3000);
    expect(all[17]).toEqual([17, 'new', 0, 0, false]);
  });

  it('queries segments and delta together: filters, order, limit, cursor, aggregates', () => {
    const info = people();
    const s = setup(info);
    s.ok(insertCmd(info, Array.from({ length: 2000 }, (_v, i) => person(i))));
    s.ok({ op: 'move', table: 'people', tableId: info.id });
    s.ok(insertCmd(info, Array.from({ length: 500 }, (_v, i) => person(2000 + i))));
    const where = { col: 2, op: '>=' as const, value: 45 };
    const expected = Array.from({ length: 2500 }, (_v, i) => person(i)).filter((r) => (r[2] as number) >= 45);
    expect(allRows(s, info, where)).toEqual(expected);
    // Order by score desc, limit 5, then the next page after the last tuple.
    const page = s.ok(queryCmd(info, { columns: [0], orderBy: [{ col: 3, desc: true }], limit: 5 }));
    expect(page.columns).toEqual([0, 3]);
    expect(page.rows.map((r) => r[0])).toEqual([2499, 2498, 2497, 2496, 2495]);
    const last = page.rows[4];
    const next = s.ok(queryCmd(info, { columns: [0], orderBy: [{ col: 3, desc: true }], limit: 2, after: [last[1], last[0]] }));
    expect(next.rows.map((r) => r[0])).toEqual([2494, 2493]);
    const agg = s.ok(queryCmd(info, { groupBy: [1], aggregates: [{ fn: 'count', col: null, as: 'c' }, { fn: 'sum', col: 2, as: 's' }] }));
    const groups = new Map(agg.groups.map((g) => [g.key[0], g.states]));
    const n3 = Array.from({ length: 2500 }, (_v, i) => i).filter((i) => i % 7 === 3);
    expect(groups.get('n3')?.[0]).toBe(n3.length);
    expect(Number(groups.get('n3')?.[1])).toBe(n3.reduce((a, i) => a + (i % 50), 0));
    // A primary-key plan for an equality on the key.
    const pk = s.ok(queryCmd(info, { where: { col: 0, op: 'in', value: [3, 2400, 99999] } }));
    expect(pk.stats.plan).toBe('PK');
    expect(pk.rows).toEqual([person(3), person(2400)]);
  });

  it('prunes segments by zone maps', () => {
    const info = people();
    const s = setup(info);
    for (let chunk = 0; chunk < 3; chunk++) {
      s.ok(insertCmd(info, Array.from({ length: 1000 }, (_v, i) => person(chunk * 1000 + i))));
      s.ok({ op: 'move', table: 'people', tableId: info.id });
    }
    const q = s.ok(queryCmd(info, { where: { col: 0, op: '<', value: 500 } }));
    expect(q.rows.length).toBe(500);
    expect(q.stats.segmentsTotal).toBe(3);
    expect(q.stats.segmentsPruned).toBe(2);
  });

  it('updates and deletes by where, sliced, each row once; delete-keys', () => {
    const info = people();
    const s = setup(info);
    s.ok(insertCmd(info, Array.from({ length: 1000 }, (_v, i) => person(i))));
    s.ok({ op: 'move', table: 'people', tableId: info.id });
    s.ok(insertCmd(info, Array.from({ length: 200 }, (_v, i) => person(1000 + i))));
    const where = { col: 4, op: '=' as const, value: true };
    const up = s.ok({ op: 'update', table: 'people', tableId: info.id, where, set: [[3, -1]], resume: null, upsertKey: null, ttlMs: 0 });
    expect(up.affected).toBe(400);
    expect(up.resume).toBeNull();
    const rows = allRows(s, info);
    expect(rows.length).toBe(1200);
    for (const r of rows) expect(r[3] === -1).toBe(r[4] === true);
    const pkSet = s.run({ op: 'update', table: 'people', tableId: info.id, where: null, set: [[0, 5]], resume: null, upsertKey: null, ttlMs: 0 });
    expect(pkSet.ok === false && pkSet.code).toBe('BAD_QUERY');
    const del = s.ok({ op: 'delete', table: 'people', tableId: info.id, where: { col: 2, op: '<', value: 10 }, resume: null });
    expect(del.affected).toBe(240);
    expect(allRows(s, info).length).toBe(960);
    const dk = s.ok({ op: 'delete-keys', table: 'people', tableId: info.id, keys: [[10], [1010], [1], [10]] });
    expect(dk.deleted).toBe(2);
    expect(allRows(s, info).length).toBe(958);
  });

  it('slices an update over WRITE_SLICE_ROWS rows: each row changed once across slices', () => {
    const info = people();
    const s = setup(info);
    for (let b = 0; b < 60_000; b += 10_000) {
      s.ok(insertCmd(info, Array.from({ length: 10_000 }, (_v, i) => person(b + i))));
      if (b === 20_000) s.ok({ op: 'move', table: 'people', tableId: info.id });
    }
    let resume: Uint8Array | null = null;
    const slices: number[] = [];
    do {
      const a: AnswerOf<'update'> = s.ok({ op: 'update', table: 'people', tableId: info.id, where: null, set: [[2, -7]], resume, upsertKey: null, ttlMs: 0 });
      slices.push(a.affected);
      resume = a.resume;
    } while (resume !== null);
    // Full slices, then the rest (a last empty slice when the rows end at a slice's end).
    expect(slices.slice(0, 6)).toEqual([10_000, 10_000, 10_000, 10_000, 10_000, 10_000]);
    expect(slices.slice(6).every((n) => n === 0)).toBe(true);
    expect(slices.length).toBeLessThanOrEqual(7);
    const rows = allRows(s, info);
    expect(rows.length).toBe(60_000);
    expect(rows.every((r) => r[2] === -7)).toBe(true);
  }, 60_000);

  it('upserts one row by key (CQL UPDATE)', () => {
    const info = people();
    const s = setup(info);
    s.ok({ op: 'update', table: 'people', tableId: info.id, where: null, set: [[1, 'fresh']], resume: null, upsertKey: [77], ttlMs: 0 });
    s.ok({ op: 'update', table: 'people', tableId: info.id, where: null, set: [[2, 3]], resume: null, upsertKey: [77], ttlMs: 0 });
    expect(allRows(s, info)).toEqual([[77, 'fresh', 3, null, null]]);
  });
});

describe('table shard: mover, compaction, restart', () => {
  it('a background move keeps rows changed while the segment was built', async () => {
    const info = people();
    const s = setup(info);
    s.ok(insertCmd(info, Array.from({ length: 100 }, (_v, i) => person(i))));
    const t = s.tables.data.get(info.id);
    if (t === undefined) throw new Error('no table');
    expect(s.tables.mover.startMove(t, Date.now())).toBe(true);
    // Meanwhile: row 5 replaced, row 6 deleted, row 7 deleted and inserted again.
    s.ok(insertCmd(info, [[5, 'changed', 0, 0, false]], 'replace'));
    s.ok({ op: 'delete-keys', table: 'people', tableId: info.id, keys: [[6], [7]] });
    s.ok(insertCmd(info, [[7, 'again', 0, 0, false]]));
    await s.settleMover();
    const st = s.ok({ op: 'stats', table: 'people', tableId: info.id }).stats;
    expect(st).toMatchObject({ segments: 1, segmentRows: 100, deletedRows: 3, deltaRows: 2, rows: 99 });
    const rows = allRows(s, info);
    expect(rows.length).toBe(99);
    expect(rows.find((r) => r[0] === 5)).toEqual([5, 'changed', 0, 0, false]);
    expect(rows.find((r) => r[0] === 6)).toBeUndefined();
    expect(rows.find((r) => r[0] === 7)).toEqual([7, 'again', 0, 0, false]);
  });

  it('compacts small segments into one and deletes the old files', async () => {
    const info = people();
    const s = setup(info);
    for (let chunk = 0; chunk < 4; chunk++) {
      s.ok(insertCmd(info, Array.from({ length: 100 }, (_v, i) => person(chunk * 100 + i))));
      s.ok({ op: 'move', table: 'people', tableId: info.id });
    }
    s.ok({ op: 'delete-keys', table: 'people', tableId: info.id, keys: [[0], [150], [399]] });
    expect(await s.backgroundCompaction('people')).toBe(true);
    const st = s.ok({ op: 'stats', table: 'people', tableId: info.id }).stats;
    expect(st).toMatchObject({ segments: 1, segmentRows: 397, deletedRows: 0, rows: 397 });
    expect(allRows(s, info).map((r) => r[0])).toEqual(Array.from({ length: 400 }, (_v, i) => i).filter((i) => ![0, 150, 399].includes(i)));
    await new Promise((r) => setTimeout(r, 20));
    expect(readdirSync(join(s.dir, 'tables', `t${info.id}`)).length).toBe(1);
  });

  it('removes a segment whose every row is deleted', async () => {
    const info = people();
    const s = setup(info);
    s.ok(insertCmd(info, Array.from({ length: 50 }, (_v, i) => person(i))));
    s.ok({ op: 'move', table: 'people', tableId: info.id });
    s.ok({ op: 'delete', table: 'people', tableId: info.id, where: null, resume: null });
    expect(s.ok({ op: 'stats', table: 'people', tableId: info.id }).stats).toMatchObject({ segments: 1, deletedRows: 50, rows: 0 });
    expect(await s.backgroundCompaction('people')).toBe(true);
    expect(s.ok({ op: 'stats', table: 'people', tableId: info.id }).stats).toMatchObject({ segments: 0, deletedRows: 0, rows: 0 });
    expect(s.store.count('\xffV', Date.now())).toBe(0);
  });

  it('keeps everything across a restart; orphan segment files are removed', async () => {
    const info = people();
    let s = setup(info);
    s.ok(insertCmd(info, Array.from({ length: 500 }, (_v, i) => person(i))));
    s.ok({ op: 'move', table: 'people', tableId: info.id });
    s.ok(insertCmd(info, [person(1000)]));
    s.ok({ op: 'delete-keys', table: 'people', tableId: info.id, keys: [[3]] });
    const before = allRows(s, info);
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(s.dir, 'tables', `t${info.id}`, 's99.seg'), 'orphan');
    s = await reopen(s);
    expect(allRows(s, info)).toEqual(before);
    expect(existsSync(join(s.dir, 'tables', `t${info.id}`, 's99.seg'))).toBe(false);
  });

  it('drops a table: keys and files go, the drop wins', () => {
    const info = people();
    const s = setup(info);
    s.ok(insertCmd(info, Array.from({ length: 100 }, (_v, i) => person(i))));
    s.ok({ op: 'move', table: 'people', tableId: info.id });
    s.ok(insertCmd(info, [person(500)]));
    s.ok({ op: 'catalog-drop', name: 'people', id: info.id });
    s.background();
    expect(existsSync(join(s.dir, 'tables', `t${info.id}`))).toBe(false);
    expect(s.store.count('\xff', Date.now())).toBe(1); // the drop marker alone
    const again = s.run({ op: 'catalog-put', info });
    expect(again.ok === false && again.code).toBe('TABLE_NOT_FOUND');
    expect(s.ok({ op: 'catalog-get' }).dropped).toEqual([info.id]);
  });

  it('a table created again under its name (new id) starts empty; the old id\'s data goes', () => {
    const info = people();
    const s = setup(info);
    s.ok(insertCmd(info, Array.from({ length: 100 }, (_v, i) => person(i))));
    s.ok({ op: 'move', table: 'people', tableId: info.id });
    s.ok(insertCmd(info, [person(500)]));
    const again: TableInfo = { ...info, id: 43, version: 1 };
    s.ok({ op: 'catalog-put', info: again });
    expect(allRows(s, again)).toEqual([]);
    s.background();
    expect(existsSync(join(s.dir, 'tables', `t${info.id}`))).toBe(false);
    expect(s.ok({ op: 'catalog-get' })).toMatchObject({ tables: [again], dropped: [info.id] });
    s.ok(insertCmd(again, [person(1)]));
    expect(allRows(s, again)).toEqual([person(1)]);
  });

  it('expires rows by TTL in the delta and in segments', () => {
    const info = people();
    const s = setup(info);
    const now = Date.now();
    s.ok(insertCmd(info, [person(1), person(2)], 'error', 1000), now);
    s.ok(insertCmd(info, [person(3)]), now);
    s.ok({ op: 'move', table: 'people', tableId: info.id }, now);
    s.ok(insertCmd(info, [person(4)], 'error', 1000), now);
    expect(allRows(s, info).length).toBe(4);
    const later = now + 2000;
    expect(s.ok(queryCmd(info), later).rows.map((r) => r[0])).toEqual([3]);
    expect(s.ok({ op: 'get', table: 'people', tableId: info.id, keys: [[1], [3], [4]], columns: [] }, later).rows.map((r) => r?.[0] ?? null)).toEqual([null, 3, null]);
    s.background(10, later);
    expect(s.expired.sort()).toEqual(['tbl/people/[1]', 'tbl/people/[2]']);
  });

  it('adds a column: old rows and old segments show its default', () => {
    const info = people();
    const s = setup(info);
    s.ok(insertCmd(info, [person(1)]));
    s.ok({ op: 'move', table: 'people', tableId: info.id });
    s.ok(insertCmd(info, [person(2)]));
    const wider: TableInfo = { ...info, version: 2, columns: [...info.columns, col('extra', 'string', true, 'dflt')] };
    s.ok({ op: 'catalog-put', info: wider });
    s.ok(insertCmd(wider, [[...person(3), 'x']]));
    expect(allRows(s, wider)).toEqual([[...person(1), 'dflt'], [...person(2), 'dflt'], [...person(3), 'x']]);
    expect(s.ok(queryCmd(wider, { where: { col: 5, op: '=', value: 'dflt' } })).rows.length).toBe(2);
    s.ok({ op: 'move', table: 'people', tableId: info.id });
    expect(allRows(s, wider)).toEqual([[...person(1), 'dflt'], [...person(2), 'dflt'], [...person(3), 'x']]);
  });
});
