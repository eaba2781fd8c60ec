// Shared by the table index tests: a seeded generator, a table with columns
// of every indexable kind (NULLs, NaN, -0, astral strings, bigints), random
// rows and predicate trees, and the reference evaluator (SQL three-valued
// logic over cells.ts' orders) that decides which rows match.

import { cellsEqual, compareCells } from '../../shared/tables/cells.js';
import type { Cell, ColumnDef, Predicate, Row, TableIndexDef, TableInfo } from '../../shared/tables/table-types.js';

export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const col = (name: string, type: ColumnDef['type'], nullable = true): ColumnDef => ({ name, type, nullable, default: null });

export const COLUMNS: ColumnDef[] = [
  col('id', 'int64', false),
  col('a', 'int64'),
  col('f', 'float64'),
  col('s', 'string'),
  col('b', 'boolean'),
  col('t', 'timestamp'),
  col('g', 'string'),
];
export const ID = 0;
export const A = 1;
export const F = 2;
export const S = 3;
export const B = 4;
export const T = 5;
export const G = 6;

export function idx(id: number, name: string, type: TableIndexDef['type'], columns: string[], extra: Partial<TableIndexDef> = {}): TableIndexDef {
  return { id, name, type, columns, unique: false, state: 'ready', ...extra };
}

export const INDEXES: TableIndexDef[] = [
  idx(1, 'a_bt', 'btree', ['a']),
  idx(2, 's_a_bt', 'btree', ['s', 'a']),
  idx(3, 'g_hash', 'hash', ['g']),
  idx(4, 'a_b_hash', 'hash', ['a', 'b']),
  idx(5, 'f_bt', 'btree', ['f']),
  idx(6, 't_bt', 'btree', ['t']),
  idx(7, 's_hash', 'hash', ['s']),
  idx(8, 'g_bloom', 'bloom', ['g']),
];

export function tableInfo(indexes: TableIndexDef[] = INDEXES, extra: Partial<TableInfo> = {}): TableInfo {
  return {
    name: 't',
    id: 77,
    version: 1,
    createdAtMs: 0,
    columns: COLUMNS,
    primaryKey: ['id'],
    partitionKeyLength: 1,
    keyDesc: [false],
    indexes,
    nextIndexId: 9,
    defaultTtlSeconds: 0,
    cql: false,
    ...extra,
  };
}

export const STRINGS = ['', 'a', 'ab', 'abc', 'b', 'ba', 'é', 'éa', '\u0000', '\u0001x', 'a\u0000', '😀', '\uE000', 'Z', 'zz'];
export const FLOATS = [0, -0, 1.5, -1.5, NaN, Infinity, -Infinity, 2, 3.25, 1e300, -1e-300];
export const BIGS = [2n ** 60n, -(2n ** 60n), 2n ** 63n - 1n, -(2n ** 63n)];

export function pick<T>(r: () => number, list: readonly T[]): T {
  return list[Math.floor(r() * list.length)];
}

export function cellFor(r: () => number, c: number): Cell {
  if (c !== ID && r() < 0.12) return null;
  switch (c) {
    case A:
      return r() < 0.05 ? pick(r, BIGS) : Math.floor(r() * 11) - 5;
    case F:
      return pick(r, FLOATS);
    case S:
      return pick(r, STRINGS);
    case B:
      return r() < 0.5;
    case T:
      return r() < 0.05 ? pick(r, BIGS) : 1_700_000_000_000_000 + Math.floor(r() * 7) * 1_000_000;
    case G:
      return pick(r, ['red', 'green', 'blue', 'x']);
    default:
      throw new Error(`no column ${c}`);
  }
}

export function randomRow(r: () => number, id: number): Row {
  return COLUMNS.map((_c, i) => (i === ID ? id : cellFor(r, i)));
}

export function randomLeaf(r: () => number): Predicate {
  const c = pick(r, [A, F, S, B, T, G]);
  const op = pick(r, ['=', '=', '=', '!=', '<', '<=', '>', '>=', 'in', 'in', 'not_in', 'is_null', 'is_not_null', 'starts_with'] as const);
  const value = (): Cell => {
    let v = cellFor(r, c);
    while (v === null) v = cellFor(r, c);
    return v;
  };
  switch (op) {
    case 'in':
    case 'not_in':
      return { col: c, op, value: Array.from({ length: Math.floor(r() * 4) }, value) };
    case 'is_null':
    case 'is_not_null':
      return { col: c, op };
    case 'starts_with':
      if (c !== S) return { col: c, op: '=', value: value() };
      return { col: S, op, value: pick(r, ['', 'a', 'ab', 'é', '\u0000', '😀', '\uD83D', 'b']) };
    default:
      return { col: c, op, value: value() };
  }
}

export function randomPredicate(r: () => number, depth = 0): Predicate {
  const x = r();
  if (depth >= 3 || x < 0.45) return randomLeaf(r);
  if (x < 0.8) return { and: Array.from({ length: 1 + Math.floor(r() * 3) }, () => randomPredicate(r, depth + 1)) };
  if (x < 0.93) return { or: Array.from({ length: 1 + Math.floor(r() * 2) }, () => randomPredicate(r, depth + 1)) };
  return { not: randomPredicate(r, depth + 1) };
}

// ── the reference evaluator (SQL three-valued logic) ────────────────────────

export function evalP(p: Predicate, row: Row): boolean | null {
  if ('and' in p) {
    let unknown = false;
    for (const q of p.and) {
      const v = evalP(q, row);
      if (v === false) return false;
      if (v === null) unknown = true;
    }
    return unknown ? null : true;
  }
  if ('or' in p) {
    let unknown = false;
    for (const q of p.or) {
      const v = evalP(q, row);
      if (v === true) return true;
      if (v === null) unknown = true;
    }
    return unknown ? null : false;
  }
  if ('not' in p) {
    const v = evalP(p.not, row);
    return v === null ? null : !v;
  }
  const cell = row[p.col];
  switch (p.op) {
    case 'is_null':
      return cell === null;
    case 'is_not_null':
      return cell !== null;
    default:
  }
  if (cell === null) return null;
  switch (p.op) {
    case 'in':
      return p.value.some((v) => cellsEqual(cell, v));
    case 'not_in':
      return !p.value.some((v) => cellsEqual(cell, v));
    case 'starts_with':
      return (cell as string).startsWith(p.value);
    default: {
      const c = compareCells(cell, p.value);
      switch (p.op) {
        case '=':
          return c === 0;
        case '!=':
          return c !== 0;
        case '<':
          return c < 0;
        case '<=':
          return c <= 0;
        case '>':
          return c > 0;
        case '>=':
          return c >= 0;
      }
    }
  }
  throw new Error('unreachable');
}
