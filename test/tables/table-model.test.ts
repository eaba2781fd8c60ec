// Model test of the shard table engine: random inserts (each on_conflict),
// updates and deletes by random predicates, deletes by key, mover runs (in
// this thread and in the background racing writes), compactions and restarts,
// checked against a plain Map of rows after every step: the full scan, point
// lookups, a filtered query and a grouped aggregate must agree.

import { describe, expect, it } from 'vitest';
import type { Cell, Predicate, Row, TableInfo } from '../../shared/tables/table-types.js';
import type { OnConflict } from '../../shared/tables/table-protocol.js';
import { allRows, col, insertCmd, newShard, queryCmd, reopen, tableInfo, type TShard } from '../helpers/table-shard-harness.js';

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const info: TableInfo = tableInfo('m', [col('id', 'int64', false), col('g', 'string'), col('x', 'int64'), col('f', 'float64', false), col('b', 'boolean')], ['id']);
const KEYS = 400;
const GROUPS = ['a', 'b', 'c', null];

/** SQL three-valued truth: 1 true, 0 false, -1 unknown. */
function truth(p: Predicate, row: Row): number {
  if ('and' in p) {
    let out = 1;
    for (const c of p.and) out = Math.min(out, truth(c, row) === -1 ? 0.5 : truth(c, row));
    return out === 0.5 ? -1 : out;
  }
  if ('or' in p) {
    let out = 0;
    for (const c of p.or) out = Math.max(out, truth(c, row) === -1 ? 0.5 : truth(c, row));
    return out === 0.5 ? -1 : out;
  }
  if ('not' in p) {
    const t = truth(p.not, row);
    return t === -1 ? -1 : 1 - t;
  }
  const v = row[p.col];
  if (p.op === 'is_null') return v === null ? 1 : 0;
  if (p.op === 'is_not_null') return v === null ? 0 : 1;
  if (v === null) return -1;
  switch (p.op) {
    case '=': return v === p.value ? 1 : 0;
    case '!=': return v !== p.value ? 1 : 0;
    case '<': return (v as number) < (p.value as number) ? 1 : 0;
    case '>': return (v as number) > (p.value as number) ? 1 : 0;
    case 'in': return (p.value as Cell[]).includes(v) ? 1 : 0;
    default: throw new Error(`op ${p.op}`);
  }
}

function randomLeaf(r: () => number): Predicate {
  switch (Math.floor(r() * 6)) {
    case 0: return { col: 2, op: (['<', '>', '=', '!='] as const)[Math.floor(r() * 4)], value: Math.floor(r() * 100) };
    case 1: {
      const g = GROUPS[Math.floor(r() * 3)] as string;
      return { col: 1, op: '=', value: g };
    }
    case 2: return { col: 1, op: 'is_null' };
    case 3: return { col: 4, op: '=', value: r() < 0.5 };
    case 4: return { col: 2, op: 'in', value: [Math.floor(r() * 100), Math.floor(r() * 100), Math.floor(r() * 100)] };
    default: return { col: 0, op: '<', value: Math.floor(r() * KEYS) };
  }
}

function randomPredicate(r: () => number, depth = 0): Predicate {
  const k = r();
  if (depth < 2 && k < 0.15) return { and: [randomPredicate(r, depth + 1), randomPredicate(r, depth + 1)] };
  if (depth < 2 && k < 0.3) return { or: [randomPredicate(r, depth + 1), randomPredicate(r, depth + 1)] };
  if (depth < 2 && k < 0.35) return { not: randomPredicate(r, depth + 1) };
  return randomLeaf(r);
}

function randomRow(r: () => number, id: number): Row {
  return [id, GROUPS[Math.floor(r() * GROUPS.length)], r() < 0.1 ? null : Math.floor(r() * 100), Math.floor(r() * 1000) / 8, r() < 0.1 ? null : r() < 0.5];
}

function sorted(model: Map<number, Row>): Row[] {
  return [...model.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]);
}

function check(s: TShard, model: Map<number, Row>, r: () => number, step: string): void {
  expect(allRows(s, info), step).toEqual(sorted(model));
  const keys = [Math.floor(r() * KEYS), Math.floor(r() * KEYS), Math.floor(r() * KEYS)];
  const got = s.ok({ op: 'get', table: info.name, tableId: info.id, keys: keys.map((k) => [k]), columns: [] }).rows;
  expect(got, `${step}: get ${keys.join(',')}`).toEqual(keys.map((k) => model.get(k) ?? null));
  const where = randomPredicate(r);
  const want = sorted(model).filter((row) => truth(where, row) === 1);
  expect(allRows(s, info, where), `${step}: query ${JSON.stringify(where)}`).toEqual(want);
  const agg = s.ok(queryCmd(info, { groupBy: [1], aggregates: [{ fn: 'count', col: null, as: 'n' }, { fn: 'sum', col: 2, as: 's' }] }));
  const groups = new Map<Cell, [number, number | null]>();
  for (const row of model.values()) {
    const g = groups.get(row[1]) ?? [0, null];
    g[0]++;
    if (row[2] !== null) g[1] = (g[1] ?? 0) + (row[2] as number);
    groups.set(row[1], g);
  }
  const gotGroups = new Map(agg.groups.map((g) => [g.key[0], [g.states[0], g.states[1] === null ? null : Number(g.states[1])]]));
  expect(gotGroups, `${step}: aggregate`).toEqual(groups);
}

async function runModel(seed: number, steps: number): Promise<void> {
  const r = rng(seed);
  let s = newShard();
  s.ok({ op: 'catalog-put', info });
  const model = new Map<number, Row>();
  const seen = { segments: 0, marks: 0, compactions: 0 };
  for (let step = 0; step < steps; step++) {
    const k = r();
    let label: string;
    if (k < 0.35) {
      const n = 1 + Math.floor(r() * 40);
      const rows = Array.from({ length: n }, () => randomRow(r, Math.floor(r() * KEYS)));
      const onConflict = (['error', 'replace', 'ignore'] as OnConflict[])[Math.floor(r() * 3)];
      label = `insert ${n} ${onConflict}`;
      const next = new Map(model);
      let inserted = 0;
      let replaced = 0;
      let ignored = 0;
      let refused = false;
      for (const row of rows) {
        const id = row[0] as number;
        if (next.has(id)) {
          if (onConflict === 'error') refused = true;
          else if (onConflict === 'replace') {
            replaced++;
            next.set(id, row);
          } else ignored++;
        } else {
          inserted++;
          next.set(id, row);
        }
      }
      const answer = s.run(insertCmd(info, rows, onConflict));
      if (refused) {
        expect(answer.ok === false && answer.code, label).toBe('DUPLICATE_KEY');
      } else {
        expect(answer, label).toMatchObject({ ok: true, inserted, replaced, ignored });
        for (const [id, row] of next) model.set(id, row);
      }
    } else if (k < 0.47) {
      const where = r() < 0.1 ? null : randomPredicate(r);
      const value = r() < 0.2 ? null : Math.floor(r() * 100);
      label = `update ${JSON.stringify(where)} x=${value}`;
      let n = 0;
      for (const [id, row] of model) {
        if (where !== null && truth(where, row) !== 1) continue;
        const next = row.slice();
        next[2] = value;
        model.set(id, next);
        n++;
      }
      const answer = s.ok({ op: 'update', table: info.name, tableId: info.id, where, set: [[2, value]], resume: null, upsertKey: null, ttlMs: 0 });
      expect(answer.affected, label).toBe(n);
    } else if (k < 0.55) {
      const where = randomPredicate(r);
      label = `delete ${JSON.stringify(where)}`;
      let n = 0;
      for (const [id, row] of model) {
        if (truth(where, row) !== 1) continue;
        model.delete(id);
        n++;
      }
      expect(s.ok({ op: 'delete', table: info.name, tableId: info.id, where, resume: null }).affected, label).toBe(n);
    } else if (k < 0.63) {
      const keys = Array.from({ length: 1 + Math.floor(r() * 10) }, () => Math.floor(r() * KEYS));
      label = `delete-keys ${keys.join(',')}`;
      let n = 0;
      for (const key of new Set(keys)) if (model.delete(key)) n++;
      expect(s.ok({ op: 'delete-keys', table: info.name, tableId: info.id, keys: keys.map((x) => [x]) }).deleted, label).toBe(n);
    } else if (k < 0.73) {
      label = 'move';
      s.ok({ op: 'move', table: info.name, tableId: info.id });
    } else if (k < 0.85) {
      // A background move with writes racing its build.
      label = 'background move racing writes';
      const t = s.tables.data.get(info.id);
      if (t !== undefined) s.tables.mover.startMove(t, Date.now());
      const rows = Array.from({ length: 5 }, () => randomRow(r, Math.floor(r() * KEYS)));
      const answer = s.run(insertCmd(info, rows, 'replace'));
      if (answer.ok) for (const row of rows) model.set(row[0] as number, row);
      const gone = Math.floor(r() * KEYS);
      s.ok({ op: 'delete-keys', table: info.name, tableId: info.id, keys: [[gone]] });
      model.delete(gone);
      await s.settleMover();
    } else if (k < 0.93) {
      label = 'compaction';
      if (await s.backgroundCompaction(info.name)) seen.compactions++;
    } else {
      label = 'restart';
      s = await reopen(s);
    }
    check(s, model, r, `seed ${seed} step ${step}: ${label}`);
    const st = s.ok({ op: 'stats', table: info.name, tableId: info.id }).stats;
    seen.segments = Math.max(seen.segments, st.segments);
    seen.marks = Math.max(seen.marks, st.deletedRows);
  }
  // The run went through segments, delete marks and compactions, not the delta alone.
  expect(seen.segments).toBeGreaterThan(1);
  expect(seen.marks).toBeGreaterThan(0);
  expect(seen.compactions).toBeGreaterThan(0);
}

describe('table shard model', () => {
  for (const seed of [1, 2, 3, 4]) {
    it(`agrees with a row model at every step (seed ${seed})`, async () => {
      await runModel(seed, 150);
    }, 60_000);
  }
});
