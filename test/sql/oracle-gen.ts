// Seeded generators for the SQL differential test against PostgreSQL
// (test/sql/sql-oracle.test.ts): one small data set (four tables, NULL-heavy
// small-domain ints so joins and groups collide, short strings from a small
// alphabet that sorts differently in code-point order than in a locale, a float,
// a boolean, an int8 with values past 2^53) and query families.
//
// Every case comes from its own seed (`caseSeed(family, i)`), so a failure
// reproduces with `generateCase(family, seed)`. Each case says whether its ORDER
// BY fixes the row order completely (`ordered`): then the rows are compared in
// order, else as multisets. Rules that keep PostgreSQL's answer the only right
// one:
// - LIMIT/OFFSET only under a total ORDER BY (every output column, or a unique key);
// - order-sensitive window functions (row_number, ntile, lag, lead, first/last/
//   nth_value) and ROWS frames order by a unique key last; RANGE offset frames
//   only with aggregates (peers are all in or all out);
// - no ORDER BY on computed non-integer values (avg, sums of floats): our numeric
//   is a double, so near-equal values could sort differently;
// - scalar subqueries return at most one row (an aggregate, or ORDER BY key LIMIT 1);
// - sums and averages only over small ints and the float (no numeric overflow, no
//   sum of the int8 column whose exact sum would exceed a double).
// The `errors` family is the only one meant to make PostgreSQL fail.

// ---------------------------------------------------------------------------
// PRNG

/** mulberry32: a 32-bit state, good enough and tiny. Returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Rand {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  float(): number {
    return this.next();
  }
  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }
  /** `count` distinct items in their original order. */
  some<T>(items: readonly T[], min: number, max: number): T[] {
    const n = Math.min(items.length, this.int(min, max));
    const idx = items.map((_, i) => i);
    for (let i = idx.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [idx[i], idx[j]] = [idx[j], idx[i]];
    }
    return idx
      .slice(0, n)
      .sort((p, q) => p - q)
      .map((i) => items[i]);
  }
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }
}

// ---------------------------------------------------------------------------
// Schema and data

export type ColType = 'int' | 'int8' | 'text' | 'float' | 'bool';
export type Col = { readonly name: string; readonly type: ColType; readonly lo?: number; readonly hi?: number };
export type TableName = 't1' | 't2' | 't3' | 'tree';
export type TableDef = { readonly name: TableName; readonly cols: readonly Col[]; readonly key: string | null; readonly rows: number };

const SQL_TYPE: Record<ColType, string> = { int: 'int4', int8: 'int8', text: 'text', float: 'float8', bool: 'bool' };

export const TABLES: Readonly<Record<TableName, TableDef>> = {
  t1: {
    name: 't1',
    key: 'id',
    rows: 60,
    cols: [
      { name: 'id', type: 'int', lo: 1, hi: 60 },
      { name: 'a', type: 'int', lo: 0, hi: 5 },
      { name: 'b', type: 'int', lo: 0, hi: 9 },
      { name: 's', type: 'text' },
      { name: 'f', type: 'float' },
      { name: 'flag', type: 'bool' },
      { name: 'big', type: 'int8' },
    ],
  },
  t2: {
    name: 't2',
    key: 'k',
    rows: 45,
    cols: [
      { name: 'k', type: 'int', lo: 1, hi: 45 },
      { name: 'a', type: 'int', lo: 0, hi: 5 },
      { name: 'c', type: 'int', lo: 0, hi: 6 },
      { name: 's', type: 'text' },
      { name: 'g', type: 'float' },
    ],
  },
  t3: {
    name: 't3',
    key: null,
    rows: 36,
    cols: [
      { name: 'a', type: 'int', lo: 0, hi: 5 },
      { name: 'b', type: 'int', lo: 0, hi: 9 },
      { name: 's', type: 'text' },
      { name: 'n', type: 'int8', lo: 0, hi: 20 },
    ],
  },
  tree: {
    name: 'tree',
    key: 'id',
    rows: 30,
    cols: [
      { name: 'id', type: 'int', lo: 1, hi: 30 },
      { name: 'parent', type: 'int', lo: 1, hi: 30 },
      { name: 'name', type: 'text' },
      { name: 'w', type: 'int', lo: 0, hi: 4 },
    ],
  },
};
export const TABLE_NAMES: readonly TableName[] = ['t1', 't2', 't3', 'tree'];

/** Short strings whose code-point order differs from a locale's: upper case first, '' first, a space. */
const WORDS = ['a', 'b', 'c', 'ab', 'ba', 'abc', 'A', 'B', 'Ab', '', 'aa', 'b a', 'a%', 'bb'];
const BIG = ['9007199254740993', '-9007199254740993', '9223372036854775807', '-9223372036854775807'];

export type Cell = null | boolean | number | string;
export type Dataset = { readonly seed: number; readonly rows: Readonly<Record<TableName, readonly Cell[][]>> };

function gen(r: Rand, t: TableName, i: number, n: number): Cell[] {
  const nul = (p: number): boolean => r.chance(p);
  const small = (lo: number, hi: number, p: number): Cell => (nul(p) ? null : r.int(lo, hi));
  const word = (p: number): Cell => (nul(p) ? null : r.pick(WORDS));
  const float = (p: number): Cell => (nul(p) ? null : r.pick([0, 0.5, -1.25, 2.5, 3]) + (r.chance(0.6) ? Math.round((r.float() * 200 - 100) * 100) / 100 : 0));
  switch (t) {
    case 't1': {
      // Two fixed rows hold int8's maximum and 2^53 + 1 (the errors family overflows on the first).
      const big = i === 7 ? BIG[2] : i === 13 ? BIG[0] : nul(0.1) ? null : r.chance(0.1) ? r.pick(BIG) : r.int(-1_000_000, 1_000_000) * (r.chance(0.5) ? 1_000_000 : 1);
      return [i + 1, small(0, 5, 0.3), small(0, 9, 0.15), word(0.25), float(0.2), nul(0.2) ? null : r.chance(0.5), big];
    }
    case 't2':
      return [i + 1, small(0, 5, 0.3), small(0, 6, 0.2), word(0.25), float(0.25)];
    case 't3':
      return [small(0, 5, 0.3), small(0, 9, 0.2), word(0.3), small(0, 20, 0.2)];
    case 'tree': {
      // Roots (NULL parent), children of an earlier node, and two orphans (a parent that does not exist).
      const id = i + 1;
      const parent = id <= 3 || r.chance(0.08) ? null : i === n - 1 || i === n - 5 ? 900 + id : r.int(1, id - 1);
      return [id, parent, word(0.15), small(0, 4, 0.15)];
    }
  }
}

export function generateData(seed: number): Dataset {
  const r = new Rand(seed);
  const rows = {} as Record<TableName, Cell[][]>;
  for (const t of TABLE_NAMES) {
    const n = TABLES[t].rows;
    const list: Cell[][] = [];
    for (let i = 0; i < n; i++) {
      // t3 has no key: every fourth row repeats an earlier one (duplicate rows).
      if (t === 't3' && i > 0 && i % 4 === 0) list.push([...list[r.int(0, i - 1)]]);
      else list.push(gen(r, t, i, n));
    }
    rows[t] = list;
  }
  return { seed, rows };
}

export function literal(v: Cell, type: ColType): string {
  if (v === null) return 'NULL';
  if (type === 'text') return `'${String(v).replaceAll("'", "''")}'`;
  if (type === 'bool') return v ? 'TRUE' : 'FALSE';
  return String(v);
}

/**
 * CREATE TABLE and INSERT statements, standard SQL both PostgreSQL and MantisDB accept. `reverse`
 * inserts the rows in the opposite order (a second physical layout, to check determinism).
 */
export function loadStatements(ds: Dataset, options: { reverse?: boolean; chunk?: number } = {}): string[] {
  const out: string[] = [];
  const chunk = options.chunk ?? 40;
  for (const t of TABLE_NAMES) {
    const def = TABLES[t];
    const cols = def.cols.map((c) => `${c.name} ${SQL_TYPE[c.type]}${c.name === def.key ? ' PRIMARY KEY' : ''}`);
    out.push(`CREATE TABLE ${t} (${cols.join(', ')})`);
    const rows = options.reverse ? [...ds.rows[t]].reverse() : ds.rows[t];
    for (let i = 0; i < rows.length; i += chunk) {
      const values = rows.slice(i, i + chunk).map((row) => `(${row.map((v, j) => literal(v, def.cols[j].type)).join(', ')})`);
      out.push(`INSERT INTO ${t} (${def.cols.map((c) => c.name).join(', ')}) VALUES ${values.join(', ')}`);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Expression helpers

const cols = (t: TableName, ...types: ColType[]): Col[] => TABLES[t].cols.filter((c) => types.length === 0 || types.includes(c.type));
const colNamed = (t: TableName, name: string): Col => {
  const c = TABLES[t].cols.find((x) => x.name === name);
  if (c === undefined) throw new Error(`no column ${t}.${name}`);
  return c;
};
const q = (alias: string, c: Col | string): string => `${alias}.${typeof c === 'string' ? c : c.name}`;
const kOf = (r: Rand, c: Col): number => r.int(c.lo ?? 0, c.hi ?? 5);
const WORD_CONSTS = ["'a'", "'b'", "'ab'", "'B'", "''", "'ba'", "'c'"];

/** A predicate on one column of `alias` (table `t`). */
export function pred(r: Rand, alias: string, t: TableName, only?: Col): string {
  const c = only ?? r.pick(TABLES[t].cols);
  const x = q(alias, c);
  switch (c.type) {
    case 'int': {
      const k = kOf(r, c);
      return r.pick([
        `${x} = ${k}`,
        `${x} <> ${k}`,
        `${x} < ${k}`,
        `${x} >= ${k}`,
        `${x} IS NULL`,
        `${x} IS NOT NULL`,
        `${x} BETWEEN ${k} AND ${k + 2}`,
        `${x} IN (${k}, ${kOf(r, c)})`,
        `${x} IN (${k}, NULL)`,
        `${x} IS DISTINCT FROM ${k}`,
        `coalesce(${x}, -1) > ${k}`,
        `${x} % 2 = ${r.int(0, 1)}`,
      ]);
    }
    case 'int8':
      return r.pick([`${x} > 0`, `${x} IS NULL`, `${x} < ${r.int(0, 20)}`, `${x} IS NOT NULL`, `${x} <> 0`]);
    case 'text': {
      const w = r.pick(WORD_CONSTS);
      return r.pick([`${x} = ${w}`, `${x} < ${w}`, `${x} >= ${w}`, `${x} LIKE 'a%'`, `${x} IS NULL`, `${x} <> ''`, `${x} IN ('a', 'ab', 'B')`, `length(${x}) > 1`, `${x} IS NOT NULL`]);
    }
    case 'float':
      return r.pick([`${x} > 0`, `${x} < 10.5`, `${x} IS NULL`, `${x} BETWEEN -5 AND 50`, `${x} >= 2.5`]);
    case 'bool':
      return r.pick([x, `NOT ${x}`, `${x} IS NULL`, `${x} IS NOT TRUE`, `${x} = false`]);
  }
}

/** One or two predicates joined by AND/OR. */
function where(r: Rand, alias: string, t: TableName): string {
  if (r.chance(0.25)) return `(${pred(r, alias, t)} ${r.pick(['AND', 'OR'])} ${pred(r, alias, t)})`;
  return pred(r, alias, t);
}

const intCols = (t: TableName): Col[] => cols(t, 'int');
const smallInt = (t: TableName): Col[] => intCols(t).filter((c) => (c.hi ?? 0) <= 9);
const dir = (r: Rand): string => r.pick(['', ' ASC', ' DESC']) + r.pick(['', '', ' NULLS FIRST', ' NULLS LAST']);

/** ORDER BY every output column by position (a total order), with an optional LIMIT/OFFSET. */
function orderAll(r: Rand, n: number, limit = r.chance(0.5)): string {
  const positions = r.shuffle(Array.from({ length: n }, (_, i) => i + 1));
  return ` ORDER BY ${positions.map((p) => `${p}${dir(r)}`).join(', ')}${limit ? limitClause(r) : ''}`;
}

function limitClause(r: Rand): string {
  return r.pick([` LIMIT ${r.int(0, 12)}`, ` LIMIT ${r.int(1, 10)} OFFSET ${r.int(0, 8)}`, ` OFFSET ${r.int(0, 30)}`, ' LIMIT ALL', ` FETCH FIRST ${r.int(1, 5)} ROWS ONLY`]);
}

export type Case = { readonly family: Family; readonly seed: number; readonly sql: string; readonly ordered: boolean };
type Gen = { sql: string; ordered: boolean };

// ---------------------------------------------------------------------------
// joins

const COMMON: readonly (readonly [TableName, TableName, readonly string[]])[] = [
  ['t1', 't2', ['a', 's']],
  ['t1', 't3', ['a', 'b', 's']],
  ['t2', 't3', ['a', 's']],
  ['t1', 'tree', ['id']],
];

/** A join condition between x (table tx) and y (table ty); `equiOnly` for FULL JOIN (hash/merge-joinable). */
function joinCond(r: Rand, x: string, tx: TableName, y: string, ty: TableName, equiOnly: boolean): string {
  const cx = r.pick(intCols(tx));
  const cy = r.pick(intCols(ty));
  const eq = `${q(x, cx)} = ${q(y, cy)}`;
  if (equiOnly) {
    if (r.chance(0.2)) return `${eq} AND ${q(x, cols(tx, 'text')[0])} = ${q(y, cols(ty, 'text')[0])}`;
    return eq;
  }
  const tx2 = cols(tx, 'text')[0];
  const ty2 = cols(ty, 'text')[0];
  return r.pick([
    eq,
    eq,
    `${eq} AND ${pred(r, y, ty)}`,
    `${eq} AND ${pred(r, x, tx)}`,
    `${q(x, cx)} < ${q(y, cy)}`,
    `${eq} AND ${q(x, tx2)} <> ${q(y, ty2)}`,
    `(${eq} OR ${q(x, r.pick(intCols(tx)))} = ${q(y, r.pick(intCols(ty)))})`,
    `${q(x, tx2)} = ${q(y, ty2)}`,
    `${q(x, cx)} + 1 = ${q(y, cy)}`,
    `${q(x, cx)} BETWEEN ${q(y, cy)} - 1 AND ${q(y, cy)} + 1`,
  ]);
}

function selectCols(r: Rand, parts: readonly (readonly [string, TableName])[], min = 2, max = 4): string[] {
  const all = parts.flatMap(([alias, t]) => TABLES[t].cols.map((c) => q(alias, c)));
  return r.some(all, min, max);
}

function genJoins(r: Rand): Gen {
  const shape = r.pick(['two', 'two', 'two', 'self', 'three', 'three', 'using', 'natural', 'cross', 'comma', 'derived', 'tree']);
  const kind = (): string => r.pick(['JOIN', 'INNER JOIN', 'LEFT JOIN', 'LEFT OUTER JOIN', 'RIGHT JOIN', 'FULL JOIN', 'FULL OUTER JOIN']);
  const finish = (from: string, parts: readonly (readonly [string, TableName])[], wherePart: string): Gen => {
    if (r.chance(0.2)) {
      const [alias, t] = r.pick(parts);
      const key = TABLES[t].key;
      const aggs = r.some([`count(*)`, `count(${q(alias, key ?? TABLES[t].cols[0].name)})`, `sum(${q(alias, r.pick(smallInt(t)))})`, `min(${q(alias, cols(t, 'text')[0])})`, `max(${q(alias, r.pick(intCols(t)))})`], 1, 3);
      return { sql: `SELECT ${aggs.join(', ')} FROM ${from}${wherePart}`, ordered: true };
    }
    const sel = selectCols(r, parts);
    if (r.chance(0.4)) return { sql: `SELECT ${sel.join(', ')} FROM ${from}${wherePart}${orderAll(r, sel.length)}`, ordered: true };
    return { sql: `SELECT ${sel.join(', ')} FROM ${from}${wherePart}`, ordered: false };
  };
  const maybeWhere = (parts: readonly (readonly [string, TableName])[]): string => {
    if (!r.chance(0.45)) return '';
    const [alias, t] = r.pick(parts);
    if (r.chance(0.25) && parts.length > 1) {
      // Anti-join shape: the other side's column IS NULL after an outer join.
      const [a2, t2] = parts[parts.length - 1];
      return ` WHERE ${q(a2, TABLES[t2].cols[0])} IS NULL`;
    }
    return ` WHERE ${where(r, alias, t)}`;
  };
  switch (shape) {
    case 'two':
    case 'self': {
      const tx = r.pick(TABLE_NAMES);
      const ty = shape === 'self' ? tx : r.pick(TABLE_NAMES.filter((t) => t !== tx));
      const k = kind();
      const cond = joinCond(r, 'x', tx, 'y', ty, k.startsWith('FULL'));
      const parts = [['x', tx], ['y', ty]] as const;
      return finish(`${tx} x ${k} ${ty} y ON ${cond}`, parts, maybeWhere(parts));
    }
    case 'tree': {
      const k = r.pick(['JOIN', 'LEFT JOIN', 'RIGHT JOIN', 'FULL JOIN']);
      const parts = [['c', 'tree'], ['p', 'tree']] as const;
      return finish(`tree c ${k} tree p ON c.parent = p.id`, parts, maybeWhere(parts));
    }
    case 'three': {
      const [tx, ty, tz] = r.shuffle(TABLE_NAMES).slice(0, 3);
      const k1 = kind();
      const k2 = kind();
      const c1 = joinCond(r, 'x', tx, 'y', ty, k1.startsWith('FULL'));
      const c2 = r.chance(0.5) ? joinCond(r, 'y', ty, 'z', tz, k2.startsWith('FULL')) : joinCond(r, 'x', tx, 'z', tz, k2.startsWith('FULL'));
      const parts = [['x', tx], ['y', ty], ['z', tz]] as const;
      // Either left-deep, or y and z joined first (parenthesized), with x joined to y.
      const from = r.chance(0.6) || c2.includes('x.')
        ? `${tx} x ${k1} ${ty} y ON ${c1} ${k2} ${tz} z ON ${c2}`
        : `${tx} x ${k1} (${ty} y ${k2} ${tz} z ON ${c2}) ON ${c1}`;
      return finish(from, parts, maybeWhere(parts));
    }
    case 'using':
    case 'natural': {
      const [t1, t2, common] = r.pick(COMMON);
      const [tx, ty] = r.chance(0.5) ? [t1, t2] : [t2, t1];
      const k = r.pick(['JOIN', 'LEFT JOIN', 'RIGHT JOIN', 'FULL JOIN']);
      const using = shape === 'using' ? r.some(common, 1, common.length) : [...common];
      const from = shape === 'using' ? `${tx} x ${k} ${ty} y USING (${using.join(', ')})` : `${tx} x NATURAL ${k.replace(' JOIN', '')} JOIN ${ty} y`.replace('NATURAL JOIN JOIN', 'NATURAL JOIN');
      const rest = [...TABLES[tx].cols.filter((c) => !using.includes(c.name)).map((c) => q('x', c)), ...TABLES[ty].cols.filter((c) => !using.includes(c.name)).map((c) => q('y', c))];
      const sel = r.chance(0.3) ? ['*'] : [...r.some(using, 1, using.length), ...r.some(rest, 1, 3)];
      const w = r.chance(0.3) ? ` WHERE ${using[0]} ${r.pick(['IS NULL', 'IS NOT NULL', '> 1', "<> 'a'"])}` : '';
      const wsafe = w.includes("'") && colNamed(tx, using[0]).type !== 'text' ? '' : w.includes('> 1') && colNamed(tx, using[0]).type === 'text' ? '' : w;
      if (sel[0] !== '*' && r.chance(0.4)) return { sql: `SELECT ${sel.join(', ')} FROM ${from}${wsafe}${orderAll(r, sel.length)}`, ordered: true };
      return { sql: `SELECT ${sel.join(', ')} FROM ${from}${wsafe}`, ordered: false };
    }
    case 'cross': {
      const [tx, ty] = r.shuffle(TABLE_NAMES).slice(0, 2);
      const parts = [['x', tx], ['y', ty]] as const;
      return finish(`${tx} x CROSS JOIN ${ty} y`, parts, ` WHERE ${pred(r, 'x', tx)} AND ${pred(r, 'y', ty)}`);
    }
    case 'comma': {
      const [tx, ty] = r.shuffle(TABLE_NAMES).slice(0, 2);
      const parts = [['x', tx], ['y', ty]] as const;
      return finish(`${tx} x, ${ty} y`, parts, ` WHERE ${joinCond(r, 'x', tx, 'y', ty, false)}${r.chance(0.5) ? ` AND ${pred(r, 'x', tx)}` : ''}`);
    }
    default: {
      // A join with a derived table (an aggregate per key).
      const tx = r.pick(TABLE_NAMES);
      const td = r.pick(TABLE_NAMES);
      const gk = r.pick(smallInt(td));
      const k = r.pick(['JOIN', 'LEFT JOIN', 'RIGHT JOIN', 'FULL JOIN']);
      const cx = r.pick(smallInt(tx));
      const sql = `SELECT ${q('x', cx)}, d.k, d.n FROM ${tx} x ${k} (SELECT ${gk.name} AS k, count(*) AS n FROM ${td} GROUP BY ${gk.name}) d ON d.k = ${q('x', cx)}`;
      if (r.chance(0.5)) return { sql: sql + orderAll(r, 3), ordered: true };
      return { sql, ordered: false };
    }
  }
}

// ---------------------------------------------------------------------------
// subqueries

const KEYED: readonly TableName[] = ['t1', 't2', 'tree'];

/** Output: the outer key first (rows are distinct), then `extra`; in key order half the time. */
function keyedSelect(r: Rand, t: TableName, extra: readonly string[], wherePart: string): Gen {
  const key = q('x', TABLES[t].key ?? 'a');
  const sel = [key, ...extra];
  const sql = `SELECT ${sel.join(', ')} FROM ${t} x${wherePart}`;
  if (TABLES[t].key !== null && r.chance(0.5)) return { sql: `${sql} ORDER BY ${key}${r.pick(['', ' DESC'])}${r.chance(0.3) ? limitClause(r) : ''}`, ordered: true };
  return { sql, ordered: false };
}

/** A correlation predicate between inner y (ty) and outer x (tx). */
function corr(r: Rand, tx: TableName, ty: TableName): string {
  const cy = r.pick(intCols(ty));
  const cx = r.pick(intCols(tx));
  return r.pick([`${q('y', cy)} = ${q('x', cx)}`, `${q('y', cy)} = ${q('x', cx)}`, `${q('y', cy)} > ${q('x', cx)}`, `${q('y', cols(ty, 'text')[0])} = ${q('x', cols(tx, 'text')[0])}`]);
}

function genSubqueries(r: Rand): Gen {
  const tx = r.pick(KEYED);
  const ty = r.pick(TABLE_NAMES);
  const inner = (): string => `${corr(r, tx, ty)}${r.chance(0.3) ? ` AND ${pred(r, 'y', ty)}` : ''}`;
  const agg = (): string => {
    const c = r.pick(smallInt(ty));
    return r.pick([`max(${q('y', c)})`, `min(${q('y', c)})`, `count(*)`, `count(${q('y', c)})`, `sum(${q('y', c)})`, `min(${q('y', cols(ty, 'text')[0])})`]);
  };
  const xc = (): string => q('x', r.pick(smallInt(tx)));
  const yc = (): string => q('y', r.pick(smallInt(ty)));
  const shape = r.int(0, 12);
  switch (shape) {
    case 0: // scalar aggregate in SELECT
      return keyedSelect(r, tx, [xc(), `(SELECT ${agg()} FROM ${ty} y WHERE ${inner()}) AS sq`], r.chance(0.3) ? ` WHERE ${pred(r, 'x', tx)}` : '');
    case 1: {
      // scalar first-by-key in SELECT
      const ky = TABLES[ty].key;
      if (ky === null) return keyedSelect(r, tx, [`(SELECT count(*) FROM ${ty} y WHERE ${inner()}) AS n`], '');
      return keyedSelect(r, tx, [`(SELECT ${q('y', r.pick(TABLES[ty].cols))} FROM ${ty} y WHERE ${inner()} ORDER BY ${q('y', ky)}${r.pick(['', ' DESC'])} LIMIT 1) AS first`], '');
    }
    case 2: // scalar in WHERE
      return keyedSelect(r, tx, [xc()], ` WHERE ${xc()} ${r.pick(['>', '=', '<=', '<>'])} (SELECT ${r.pick(['avg', 'min', 'max'])}(${yc()}) FROM ${ty} y${r.chance(0.7) ? ` WHERE ${inner()}` : ''})`);
    case 3: // [NOT] EXISTS
      return keyedSelect(r, tx, [xc()], ` WHERE ${r.pick(['', 'NOT '])}EXISTS (SELECT 1 FROM ${ty} y WHERE ${inner()})${r.chance(0.3) ? ` AND ${pred(r, 'x', tx)}` : ''}`);
    case 4: {
      // [NOT] IN (subquery) with NULLs in the subquery (or filtered out)
      const filt = r.pick(['', ` WHERE ${yc()} IS NOT NULL`, ` WHERE ${pred(r, 'y', ty)}`, ` WHERE ${inner()}`]);
      return keyedSelect(r, tx, [xc()], ` WHERE ${xc()} ${r.pick(['IN', 'NOT IN'])} (SELECT ${yc()} FROM ${ty} y${filt})`);
    }
    case 5: // IN / NOT IN as a value (three-valued), with EXISTS
      return keyedSelect(r, tx, [xc(), `${xc()} ${r.pick(['IN', 'NOT IN'])} (SELECT ${yc()} FROM ${ty} y${r.chance(0.5) ? ` WHERE ${pred(r, 'y', ty)}` : ''}) AS inq`, `EXISTS (SELECT 1 FROM ${ty} y WHERE ${inner()}) AS ex`], '');
    case 6: // IN / NOT IN with a literal list holding NULL
      return keyedSelect(r, tx, [xc(), `${xc()} ${r.pick(['IN', 'NOT IN'])} (${r.int(0, 5)}, NULL) AS v`], r.chance(0.5) ? ` WHERE ${xc()} ${r.pick(['IN', 'NOT IN'])} (${r.int(0, 5)}, ${r.pick(['NULL', String(r.int(0, 5))])})` : '');
    case 7: // ANY / ALL
      return keyedSelect(r, tx, [xc(), `${xc()} ${r.pick(['>', '=', '<', '<>'])} ${r.pick(['ANY', 'ALL', 'SOME'])} (SELECT ${yc()} FROM ${ty} y WHERE ${inner()}) AS q`], '');
    case 8: // ANY / ALL in WHERE
      return keyedSelect(r, tx, [xc()], ` WHERE ${xc()} ${r.pick(['>=', '=', '<'])} ${r.pick(['ANY', 'ALL'])} (SELECT ${yc()} FROM ${ty} y${r.chance(0.6) ? ` WHERE ${inner()}` : ''})`);
    case 9: {
      // derived table with a filter on its aggregate
      const c = r.pick(smallInt(ty));
      const sql = `SELECT d.g, d.n, d.m FROM (SELECT ${c.name} AS g, count(*) AS n, max(${r.pick(smallInt(ty)).name}) AS m FROM ${ty} GROUP BY ${c.name}) d WHERE d.n ${r.pick(['>', '<', '>='])} ${r.int(1, 8)}`;
      return r.chance(0.5) ? { sql: `${sql} ORDER BY d.g${dir(r)}`, ordered: true } : { sql, ordered: false };
    }
    case 10: {
      // two levels of correlation
      const tz = r.pick(TABLE_NAMES);
      return keyedSelect(r, tx, [xc()], ` WHERE EXISTS (SELECT 1 FROM ${ty} y WHERE ${inner()} AND ${r.pick(['', 'NOT '])}EXISTS (SELECT 1 FROM ${tz} z WHERE ${q('z', r.pick(smallInt(tz)))} = ${xc()} AND ${q('z', cols(tz, 'text')[0])} = ${q('y', cols(ty, 'text')[0])}))`);
    }
    case 11: {
      // LATERAL
      const key = q('x', TABLES[tx].key ?? 'a');
      const sql = `SELECT ${key}, l.m, l.n FROM ${tx} x, LATERAL (SELECT max(${yc()}) AS m, count(*) AS n FROM ${ty} y WHERE ${inner()}) l`;
      return r.chance(0.5) ? { sql: `${sql} ORDER BY ${key}`, ordered: true } : { sql, ordered: false };
    }
    default: {
      // scalar subquery in a HAVING / comparison against an uncorrelated aggregate, and in an expression
      return keyedSelect(r, tx, [`${xc()} - (SELECT min(${yc()}) FROM ${ty} y) AS d`, `coalesce((SELECT max(${yc()}) FROM ${ty} y WHERE ${inner()}), -1) AS m`], '');
    }
  }
}

// ---------------------------------------------------------------------------
// GROUP BY / HAVING / aggregates

function groupKeys(r: Rand, alias: string, t: TableName): string[] {
  const opts: string[] = [
    ...smallInt(t).map((c) => q(alias, c)),
    ...cols(t, 'text', 'bool').map((c) => q(alias, c)),
    `${q(alias, r.pick(smallInt(t)))} % 3`,
    `coalesce(${q(alias, r.pick(smallInt(t)))}, -1)`,
    `(${q(alias, r.pick(smallInt(t)))} > 2)`,
  ];
  return r.some(opts, 0, 2);
}

function aggExprs(r: Rand, alias: string, t: TableName): string[] {
  const si = (): string => q(alias, r.pick(smallInt(t)));
  const any = (): string => q(alias, r.pick(TABLES[t].cols.filter((c) => c.type !== 'bool')));
  const flt = cols(t, 'float');
  const f = flt.length > 0 ? q(alias, flt[0]) : si();
  const opts = [
    () => 'count(*)',
    () => `count(${any()})`,
    () => `count(DISTINCT ${any()})`,
    () => `sum(${si()})`,
    () => `sum(${f})`,
    () => `avg(${si()})`,
    () => `avg(${f})`,
    () => `min(${any()})`,
    () => `max(${any()})`,
    () => `sum(${si()}) FILTER (WHERE ${pred(r, alias, t)})`,
    () => `count(*) FILTER (WHERE ${pred(r, alias, t)})`,
    () => `max(${any()}) FILTER (WHERE ${pred(r, alias, t)})`,
    () => `avg(DISTINCT ${si()})`,
    () => `sum(DISTINCT ${si()})`,
    () => `sum(${si()} * 2 + ${si()})`,
    () => `count(DISTINCT ${si()}) FILTER (WHERE ${pred(r, alias, t)})`,
  ];
  return r.some(opts, 1, 4).map((g) => g());
}

function having(r: Rand, alias: string, t: TableName): string {
  const si = (): string => q(alias, r.pick(smallInt(t)));
  const one = (): string =>
    r.pick([
      `count(*) > ${r.int(0, 6)}`,
      `count(*) = ${r.int(1, 3)}`,
      `sum(${si()}) > ${r.int(0, 20)}`,
      `min(${q(alias, cols(t, 'text')[0])}) >= 'b'`,
      `avg(${si()}) < ${r.int(1, 6)}`,
      `count(DISTINCT ${si()}) >= 2`,
      `max(${si()}) IS NULL`,
      `sum(${si()}) IS NOT NULL`,
    ]);
  return r.chance(0.25) ? `${one()} ${r.pick(['AND', 'OR'])} ${one()}` : one();
}

function genGroupBy(r: Rand): Gen {
  let t = r.pick(TABLE_NAMES);
  let alias = 'x';
  let from = `${t} x`;
  if (r.chance(0.2)) {
    // aggregate over a join: group by columns of either side
    const ty = r.pick(TABLE_NAMES);
    const k = r.pick(['JOIN', 'LEFT JOIN']);
    from = `${t} x ${k} ${ty} y ON ${joinCond(r, 'x', t, 'y', ty, true)}`;
    if (r.chance(0.5)) {
      t = ty;
      alias = 'y';
    }
  }
  const keys = groupKeys(r, alias, t);
  const aggs = aggExprs(r, alias, t);
  const w = r.chance(0.4) ? ` WHERE ${r.chance(0.1) ? `${q(alias, r.pick(smallInt(t)))} > 100` : where(r, alias, t)}` : '';
  const byPos = keys.length > 0 && r.chance(0.25);
  const group = keys.length > 0 ? ` GROUP BY ${byPos ? keys.map((_, i) => i + 1).join(', ') : keys.join(', ')}` : '';
  const h = r.chance(0.4) ? ` HAVING ${having(r, alias, t)}` : '';
  const sel = [...keys, ...aggs];
  const sql = `SELECT ${sel.join(', ')} FROM ${from}${w}${group}${h}`;
  if (keys.length === 0) return { sql, ordered: true }; // at most one row
  if (r.chance(0.5)) {
    // Group keys identify a group: ordering by them (all of them) is total. count(*) first sometimes.
    const lead = r.chance(0.3) ? `count(*)${r.pick([' DESC', ''])}, ` : '';
    const ord = r.shuffle(keys.map((_, i) => `${i + 1}${dir(r)}`));
    return { sql: `${sql} ORDER BY ${lead}${ord.join(', ')}${r.chance(0.4) ? limitClause(r) : ''}`, ordered: true };
  }
  return { sql, ordered: false };
}

// ---------------------------------------------------------------------------
// window functions

const ORDER_SENSITIVE = new Set(['row_number', 'ntile', 'lag', 'lead', 'first_value', 'last_value', 'nth_value']);

const FRAMES_ROWS = [
  'ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW',
  'ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING',
  'ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING',
  'ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING',
  'ROWS 2 PRECEDING',
  'ROWS BETWEEN 2 PRECEDING AND 1 PRECEDING',
  'ROWS BETWEEN 1 FOLLOWING AND 3 FOLLOWING',
];
const FRAMES_RANGE = ['RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW', 'RANGE BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING', 'RANGE BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING', 'RANGE UNBOUNDED PRECEDING'];
const FRAMES_RANGE_OFFSET = ['RANGE BETWEEN 1 PRECEDING AND 1 FOLLOWING', 'RANGE BETWEEN 2 PRECEDING AND CURRENT ROW', 'RANGE BETWEEN CURRENT ROW AND 1 FOLLOWING', 'RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING'];

/** One window function call with its OVER clause; `key` is the table's unique column (x.key). */
function windowCall(r: Rand, t: TableName, key: string): string {
  const si = (): string => q('x', r.pick(smallInt(t)));
  const anyc = (): string => q('x', r.pick(TABLES[t].cols));
  const fn = r.pick(['row_number', 'rank', 'dense_rank', 'ntile', 'lag', 'lead', 'first_value', 'last_value', 'nth_value', 'sum', 'avg', 'count', 'min', 'max', 'count*']);
  let call: string;
  switch (fn) {
    case 'row_number':
    case 'rank':
    case 'dense_rank':
      call = `${fn}()`;
      break;
    case 'ntile':
      call = `ntile(${r.int(1, 5)})`;
      break;
    case 'lag':
    case 'lead': {
      const c = r.pick(TABLES[t].cols.filter((x) => x.type === 'int' || x.type === 'text'));
      const def = c.type === 'int' ? String(r.int(-1, 3)) : "'none'";
      call = r.pick([`${fn}(${q('x', c)})`, `${fn}(${q('x', c)}, ${r.int(1, 3)})`, `${fn}(${q('x', c)}, ${r.int(1, 2)}, ${def})`]);
      break;
    }
    case 'first_value':
    case 'last_value':
      call = `${fn}(${anyc()})`;
      break;
    case 'nth_value':
      call = `nth_value(${anyc()}, ${r.int(1, 3)})`;
      break;
    case 'count*':
      call = 'count(*)';
      break;
    case 'sum':
    case 'avg':
      call = `${fn}(${r.chance(0.3) && t !== 't3' && cols(t, 'float').length > 0 ? q('x', cols(t, 'float')[0]) : si()})`;
      break;
    default:
      call = `${fn}(${q('x', r.pick(TABLES[t].cols.filter((c) => c.type !== 'bool')))})`;
  }
  const part = r.some([...smallInt(t).map((c) => q('x', c)), ...cols(t, 'text', 'bool').map((c) => q('x', c))], 0, 2);
  const sensitive = ORDER_SENSITIVE.has(fn);
  const aggregate = ['sum', 'avg', 'count', 'min', 'max', 'count*'].includes(fn);
  const needsOrder = sensitive || fn === 'rank' || fn === 'dense_rank' || r.chance(0.6);
  let order: string[] = [];
  let frame = '';
  if (needsOrder) {
    const frameKind = !aggregate && !sensitive ? 'none' : r.pick(['none', 'none', 'rows', 'range', 'offset']);
    if (frameKind === 'offset' && aggregate) {
      // RANGE with an offset: exactly one numeric ORDER BY column; peers all in or out.
      order = [`${si()}${r.pick(['', ' DESC'])}${r.pick(['', ' NULLS FIRST', ' NULLS LAST'])}`];
      frame = ` ${r.pick(FRAMES_RANGE_OFFSET)}`;
    } else {
      order = r.some([...smallInt(t), ...cols(t, 'text', 'float')].map((c) => `${q('x', c)}${dir(r)}`), 1, 2);
      const total = sensitive || frameKind === 'rows' || r.chance(0.3);
      if (total) order.push(`x.${key}${r.pick(['', ' DESC'])}`);
      if (frameKind === 'rows' && (aggregate || sensitive)) frame = ` ${r.pick(FRAMES_ROWS)}`;
      else if (frameKind === 'range' && (aggregate || sensitive)) frame = ` ${r.pick(FRAMES_RANGE)}`;
    }
  } else if (aggregate && r.chance(0.3)) {
    frame = '';
  }
  const spec = [part.length > 0 ? `PARTITION BY ${part.join(', ')}` : '', order.length > 0 ? `ORDER BY ${order.join(', ')}` : ''].filter((s) => s !== '').join(' ');
  return `${call} OVER (${spec}${frame})`;
}

function genWindows(r: Rand): Gen {
  const t = r.pick(KEYED);
  const key = TABLES[t].key as string;
  const shape = r.int(0, 9);
  if (shape === 0) {
    // top-N per group over a derived table
    const p = q('x', r.pick(smallInt(t)));
    const o = q('x', r.pick([...smallInt(t), ...cols(t, 'text')]));
    const sql = `SELECT * FROM (SELECT x.${key}, ${p} AS p, ${o} AS o, row_number() OVER (PARTITION BY ${p} ORDER BY ${o}${dir(r)}, x.${key}) AS rn FROM ${t} x) s WHERE s.rn <= ${r.int(1, 3)}`;
    return r.chance(0.5) ? { sql: `${sql} ORDER BY s.${key}`, ordered: true } : { sql, ordered: false };
  }
  if (shape === 1) {
    // a window over a grouped query
    const g = q('x', r.pick(smallInt(t)));
    const fn = r.pick([`rank() OVER (ORDER BY count(*) DESC)`, `dense_rank() OVER (ORDER BY sum(${q('x', r.pick(smallInt(t)))}))`, `sum(count(*)) OVER (ORDER BY ${g})`, `count(*) OVER ()`, `row_number() OVER (ORDER BY ${g} NULLS FIRST)`, `lag(count(*)) OVER (ORDER BY ${g})`]);
    const sql = `SELECT ${g}, count(*), ${fn} AS w FROM ${t} x GROUP BY ${g}`;
    return r.chance(0.5) ? { sql: `${sql} ORDER BY 1${dir(r)}`, ordered: true } : { sql, ordered: false };
  }
  const calls: string[] = [];
  const n = r.int(1, 3);
  let named = '';
  if (shape === 2) {
    // a named window shared by two calls
    const p = q('x', r.pick(smallInt(t)));
    named = ` WINDOW w AS (PARTITION BY ${p} ORDER BY ${q('x', r.pick(smallInt(t)))}, x.${key})`;
    calls.push(`${r.pick(['row_number()', 'rank()', 'lag(x.' + key + ')', `sum(${q('x', r.pick(smallInt(t)))})`])} OVER w`, `${r.pick(['first_value(x.' + key + ')', 'count(*)', 'dense_rank()', `max(${q('x', r.pick(smallInt(t)))})`])} OVER w`);
  } else {
    for (let i = 0; i < n; i++) calls.push(windowCall(r, t, key));
  }
  const extra = r.some(TABLES[t].cols.filter((c) => c.name !== key).map((c) => q('x', c)), 0, 2);
  const sel = [`x.${key}`, ...extra, ...calls.map((c, i) => `${c} AS w${i}`)];
  const w = r.chance(0.3) ? ` WHERE ${where(r, 'x', t)}` : '';
  const sql = `SELECT ${sel.join(', ')} FROM ${t} x${w}${named}`;
  if (r.chance(0.5)) return { sql: `${sql} ORDER BY x.${key}${r.pick(['', ' DESC'])}${r.chance(0.3) ? limitClause(r) : ''}`, ordered: true };
  return { sql, ordered: false };
}

// ---------------------------------------------------------------------------
// CTEs

function genCtes(r: Rand): Gen {
  const shape = r.int(0, 9);
  const t = r.pick(TABLE_NAMES);
  const ord = (sql: string, n: number): Gen => (r.chance(0.5) ? { sql: sql + orderAll(r, n), ordered: true } : { sql, ordered: false });
  switch (shape) {
    case 0: {
      // plain CTE (an aggregate) joined back to a table
      const g = r.pick(smallInt(t));
      const ty = r.pick(TABLE_NAMES.filter((x) => smallInt(x).length > 0));
      const gy = r.pick(smallInt(ty));
      return ord(`WITH c AS (SELECT ${g.name} AS g, count(*) AS n, min(${cols(t, 'text')[0].name}) AS lo FROM ${t}${r.chance(0.4) ? ` x WHERE ${pred(r, 'x', t)}` : ''} GROUP BY ${g.name}) SELECT c.g, c.n, c.lo, ${q('y', gy)} FROM c ${r.pick(['JOIN', 'LEFT JOIN', 'RIGHT JOIN'])} ${ty} y ON ${q('y', gy)} = c.g`, 4);
    }
    case 1: {
      // two CTEs, the second reading the first
      const g = r.pick(smallInt(t));
      return ord(
        `WITH c1 AS (SELECT ${g.name} AS g, ${cols(t, 'text')[0].name} AS s FROM ${t} x WHERE ${pred(r, 'x', t)}), c2 AS (SELECT g, count(*) AS n FROM c1 GROUP BY g) SELECT c1.g, c1.s, c2.n FROM c1 JOIN c2 ON c1.g ${r.pick(['=', 'IS NOT DISTINCT FROM'])} c2.g`,
        3,
      );
    }
    case 2: {
      // one CTE referenced twice (a self-join of the CTE)
      const [c1, c2] = [r.pick(smallInt(t)), r.pick(smallInt(t))];
      return ord(`WITH c AS (SELECT ${c1.name} AS p, ${c2.name} AS v FROM ${t} x WHERE ${pred(r, 'x', t)}) SELECT l.p, l.v, r.v FROM c l ${r.pick(['JOIN', 'LEFT JOIN', 'FULL JOIN'])} c r ON l.p = r.v`, 3);
    }
    case 3: {
      // recursive counting, joined to a table
      const k = r.int(1, 15);
      const ty = r.pick(TABLE_NAMES);
      const c = r.pick(smallInt(ty));
      if (r.chance(0.4)) return { sql: `WITH RECURSIVE r(n) AS (SELECT ${r.int(0, 2)} UNION ALL SELECT n + ${r.int(1, 2)} FROM r WHERE n < ${k}) SELECT count(*), sum(n), max(n) FROM r`, ordered: true };
      return ord(`WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < ${k}) SELECT r.n, count(${q('y', c)}) FROM r LEFT JOIN ${ty} y ON ${q('y', c)} = r.n GROUP BY r.n`, 2);
    }
    case 4: {
      // fibonacci in int8
      const k = r.int(2, 60);
      return ord(`WITH RECURSIVE fib(i, a, b) AS (SELECT 1, 0::int8, 1::int8 UNION ALL SELECT i + 1, b, a + b FROM fib WHERE i < ${k}) SELECT i, a FROM fib WHERE i % ${r.int(1, 4)} = 0`, 2);
    }
    case 5: {
      // tree walk down from the roots (or one node), with depth and path
      const start = r.chance(0.5) ? 'parent IS NULL' : `id = ${r.int(1, 12)}`;
      const maxDepth = r.chance(0.3) ? ` WHERE w.depth < ${r.int(1, 3)}` : '';
      const sel = r.pick(['id, depth, path', 'id, parent, depth', 'depth, count(*)']);
      const tail = sel.includes('count') ? ' GROUP BY depth' : '';
      return ord(
        `WITH RECURSIVE walk(id, parent, depth, path) AS (SELECT id, parent, 0, coalesce(name, '?') FROM tree WHERE ${start} UNION ALL SELECT t.id, t.parent, w.depth + 1, w.path || '/' || coalesce(t.name, '?') FROM tree t JOIN walk w ON t.parent = w.id${maxDepth}) SELECT ${sel} FROM walk${tail}`,
        sel.split(',').length,
      );
    }
    case 6: {
      // ancestors of a node (walk up)
      return ord(`WITH RECURSIVE up(id, parent, hops) AS (SELECT id, parent, 0 FROM tree WHERE id = ${r.int(1, 30)} UNION ALL SELECT t.id, t.parent, u.hops + 1 FROM up u JOIN tree t ON t.id = u.parent) SELECT id, parent, hops FROM up`, 3);
    }
    case 7: {
      // a join with a table in the recursive term, filtering the walk
      const p = pred(r, 'x', 't1');
      return ord(
        `WITH RECURSIVE walk(id, lvl, acc) AS (SELECT id, 0, w FROM tree WHERE parent IS NULL UNION ALL SELECT t.id, k.lvl + 1, k.acc + coalesce(x.b, 0) FROM walk k JOIN tree t ON t.parent = k.id JOIN t1 x ON x.id = t.id WHERE ${p}) SELECT id, lvl, acc FROM walk`,
        3,
      );
    }
    case 8: {
      // UNION (distinct) recursion over a finite domain: terminates by deduplication
      const m = r.int(5, 12);
      return ord(`WITH RECURSIVE r(v) AS (SELECT DISTINCT b FROM t1 WHERE b IS NOT NULL AND b < ${r.int(1, 4)} UNION SELECT (v * ${r.int(2, 5)} + ${r.int(1, 3)}) % ${m} FROM r) SELECT v FROM r`, 1);
    }
    default: {
      // CTE with a window inside, used in a subquery
      const g = r.pick(smallInt(t));
      const key = TABLES[t].key;
      if (key === null) return ord(`WITH c AS (SELECT ${g.name} AS g, count(*) OVER (PARTITION BY ${g.name}) AS n FROM ${t}) SELECT DISTINCT g, n FROM c`, 2);
      return ord(`WITH c AS (SELECT ${key} AS id, ${g.name} AS g, rank() OVER (PARTITION BY ${g.name} ORDER BY ${key} DESC) AS rk FROM ${t}) SELECT id, g FROM c WHERE rk = 1 AND g IN (SELECT g FROM c WHERE rk > ${r.int(1, 3)})`, 2);
    }
  }
}

// ---------------------------------------------------------------------------
// set operations

/** Column lists that line up across tables (same count, compatible types). */
const SET_SHAPES: readonly (readonly (readonly [TableName, string])[])[] = [
  [['t1', 'a, s'], ['t2', 'a, s'], ['t3', 'a, s']],
  [['t1', 'b'], ['t2', 'c'], ['t3', 'b'], ['tree', 'w']],
  [['t1', 'a, b'], ['t2', 'a, c'], ['t3', 'a, b'], ['tree', 'w, parent']],
  [['t1', 's'], ['t2', 's'], ['t3', 's'], ['tree', 'name']],
  [['t1', 'b, flag'], ['t2', 'c, NULL'], ['t3', 'b, a > 2']],
  [['t1', 'a'], ['t3', 'n'], ['t2', 'c']], // int4 with int8
  [['t1', 'id, f'], ['t2', 'k, g'], ['tree', 'id, w']], // float with int
];

function genSetOps(r: Rand): Gen {
  const shape = r.pick(SET_SHAPES);
  const width = shape[0][1].split(',').length;
  const op = (): string => r.pick(['UNION', 'UNION ALL', 'INTERSECT', 'INTERSECT ALL', 'EXCEPT', 'EXCEPT ALL']);
  // An untyped NULL column in at most one arm: two such arms resolve to text first, which then clashes with bool.
  let nullArm = false;
  const arm = (): string => {
    const [t, picked] = r.pick(shape);
    const list = picked.includes('NULL') && nullArm ? picked.replace('NULL', 'c > 3') : picked;
    nullArm ||= list.includes('NULL');
    return `SELECT ${list} FROM ${t}${r.chance(0.6) ? ` x WHERE ${pred(r, 'x', t)}` : ''}`;
  };
  const n = r.chance(0.3) ? 3 : 2;
  let body = arm();
  for (let i = 1; i < n; i++) {
    const o = op();
    body = n === 3 && i === 2 && r.chance(0.5) ? `(${body}) ${o} ${arm()}` : n === 3 && i === 1 && r.chance(0.3) ? `${body} ${o} (${arm()} ${op()} ${arm()})` : `${body} ${o} ${arm()}`;
    if (body.split('SELECT').length - 1 >= n) break;
  }
  const use = r.int(0, 9);
  if (use === 0) return { sql: `SELECT count(*) FROM (${body}) u`, ordered: true };
  if (use === 1 && width === 1 && shape[0][1] !== 's') {
    const c = r.pick(smallInt('t1'));
    return { sql: `SELECT x.id FROM t1 x WHERE ${q('x', c)} ${r.pick(['IN', 'NOT IN'])} (${body}) ORDER BY x.id`, ordered: true };
  }
  if (r.chance(0.5)) return { sql: body + orderAll(r, width), ordered: true };
  return { sql: body, ordered: false };
}

// ---------------------------------------------------------------------------
// DISTINCT / DISTINCT ON / ORDER BY … NULLS FIRST|LAST / LIMIT / OFFSET

function genDistinctOrder(r: Rand): Gen {
  const t = r.pick(TABLE_NAMES);
  const key = TABLES[t].key;
  const w = r.chance(0.3) ? ` WHERE ${where(r, 'x', t)}` : '';
  const shape = r.int(0, 6);
  if (shape <= 1) {
    // DISTINCT over a few columns (or expressions)
    const exprs = r.some([...TABLES[t].cols.map((c) => q('x', c)), `coalesce(${q('x', r.pick(smallInt(t)))}, 0)`, `${q('x', r.pick(smallInt(t)))} % 2`, `length(${q('x', cols(t, 'text')[0])})`], 1, 3);
    const sql = `SELECT DISTINCT ${exprs.join(', ')} FROM ${t} x${w}`;
    return r.chance(0.5) ? { sql: sql + orderAll(r, exprs.length), ordered: true } : { sql, ordered: false };
  }
  if (shape === 2 && key !== null) {
    // DISTINCT ON: which row wins is fixed by ORDER BY ending in the key
    const on = r.some([...smallInt(t), ...cols(t, 'text', 'bool')].map((c) => q('x', c)), 1, 2);
    const other = q('x', r.pick(TABLES[t].cols));
    const order = [...on.map((c) => `${c}${dir(r)}`), `${other}${dir(r)}`, `x.${key}${r.pick(['', ' DESC'])}`];
    return { sql: `SELECT DISTINCT ON (${on.join(', ')}) ${on.join(', ')}, ${other}, x.${key} FROM ${t} x${w} ORDER BY ${order.join(', ')}${r.chance(0.3) ? limitClause(r) : ''}`, ordered: true };
  }
  // ORDER BY with directions, NULLS FIRST/LAST, expressions, aliases and positions, then LIMIT/OFFSET.
  // t3 has no key: output every column and order by all of them last (duplicates are identical rows).
  const all = TABLES[t].cols.map((c) => q('x', c));
  const sel = key !== null ? r.some(all, 1, 3) : all;
  const exprs = [...TABLES[t].cols.map((c) => q('x', c)), `coalesce(${q('x', r.pick(smallInt(t)))}, ${r.int(-1, 9)})`, `-${q('x', r.pick(smallInt(t)))}`, `length(${q('x', cols(t, 'text')[0])})`, `${q('x', r.pick(smallInt(t)))} % 3`];
  const alias = r.chance(0.3) ? `${q('x', r.pick(smallInt(t)))} + ${r.int(1, 3)}` : null;
  const selAll = alias !== null ? [...sel, `${alias} AS z`] : sel;
  const order = r.some(exprs, 1, 3).map((e) => `${e}${dir(r)}`);
  if (alias !== null && r.chance(0.6)) order.unshift(`z${dir(r)}`);
  if (r.chance(0.3)) order.unshift(`${r.int(1, selAll.length)}${dir(r)}`);
  if (key !== null) {
    order.push(`x.${key}${r.pick(['', ' DESC'])}`);
    return { sql: `SELECT ${selAll.join(', ')} FROM ${t} x${w} ORDER BY ${order.join(', ')}${r.chance(0.6) ? limitClause(r) : ''}`, ordered: true };
  }
  return { sql: `SELECT ${selAll.join(', ')} FROM ${t} x${w} ORDER BY ${[...order, ...all.map((c) => `${c}${dir(r)}`)].join(', ')}${r.chance(0.6) ? limitClause(r) : ''}`, ordered: true };
}

// ---------------------------------------------------------------------------
// errors: statements PostgreSQL refuses; we must refuse them with the same SQLSTATE

function genErrors(r: Rand): Gen {
  const t = r.pick(KEYED);
  const key = TABLES[t].key as string;
  const si = (): string => q('x', r.pick(smallInt(t)));
  const txt = q('x', cols(t, 'text')[0]);
  const list: (() => string)[] = [
    () => `SELECT x.nope FROM ${t} x`, // 42703
    () => `SELECT ${key}, nope FROM ${t}`, // 42703
    () => `SELECT * FROM no_such_table`, // 42P01
    () => `SELECT a FROM t1 JOIN t2 ON t1.a = t2.a`, // 42702
    () => `SELECT s FROM t1, t3`, // 42702
    () => `SELECT ${si()}, ${q('x', key)} FROM ${t} x GROUP BY ${si()}`, // 42803
    () => `SELECT sum(count(*)) FROM ${t} x`, // 42803
    () => `SELECT ${q('x', key)} FROM ${t} x WHERE count(*) > 1`, // 42803
    () => `SELECT ${q('x', key)} FROM ${t} x WHERE row_number() OVER () > 1`, // 42P20
    () => `SELECT (SELECT b FROM t1 WHERE b IS NOT NULL)`, // 21000
    () => `SELECT x.id, (SELECT y.k FROM t2 y WHERE y.a = 0) FROM t1 x`, // 21000
    () => `SELECT sum(${si()}) / 0 FROM ${t} x`, // 22012
    () => `SELECT ${q('x', key)} / (${q('x', key)} - ${q('x', key)}) FROM ${t} x`, // 22012
    () => `SELECT ${q('x', key)} % 0 FROM ${t} x`, // 22012
    () => `SELECT 2147483647 + ${r.int(1, 9)}`, // 22003
    () => `SELECT big * 1000 FROM t1`, // 22003 (9223372036854775807 is in the data)
    () => `SELECT max(big) + 1 FROM t1`, // 22003
    () => `SELECT ${q('x', key)} * 2147483647 * 2 FROM ${t} x`, // 22003
    () => `SELECT a FROM t1 UNION SELECT a, s FROM t2`, // 42601
    () => `SELECT a FROM t1 UNION SELECT s FROM t2`, // 42804
    () => `SELECT ${q('x', key)} FROM ${t} x WHERE ${txt}`, // 42804
    () => `SELECT * FROM t1 x JOIN t2 y ON x.a`, // 42804
    () => `SELECT nosuchfn(${si()}) FROM ${t} x`, // 42883
    () => `SELECT ${txt} + 1 FROM ${t} x`, // 42883
    () => `SELECT ${q('x', key)} FROM ${t} x WHERE ${si()} = 'zz'`, // 22P02
    () => `SELECT 'abc'::int4`, // 22P02
    () => `SELECT ${q('x', key)} FROM ${t} x LIMIT -1`, // 2201W
    () => `SELECT ${q('x', key)} FROM ${t} x OFFSET -1`, // 2201X
    () => `SELECT ntile(0) OVER (ORDER BY ${q('x', key)}) FROM ${t} x`, // 22014
    () => `SELECT nth_value(${si()}, 0) OVER (ORDER BY ${q('x', key)}) FROM ${t} x`, // 22016
    () => `SELECT DISTINCT ON (${si()}) ${q('x', key)} FROM ${t} x ORDER BY ${q('x', key)}`, // 42P10
    () => `SELECT DISTINCT ${si()} FROM ${t} x ORDER BY ${q('x', key)}`, // 42P10
    () => `SELECT ${si()} FROM ${t} x ORDER BY ${r.int(2, 9)}`, // 42P10
    () => `SELECT ${si()} FROM ${t} x GROUP BY ${r.int(2, 9)}`, // 42P10
    () => `WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT count(*) FROM r) SELECT * FROM r`, // 42P19
    () => `WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n::int8 + 1 FROM r WHERE n < 3) SELECT * FROM r`, // 42804
    () => `SELECT * FROM t1 x JOIN t2 x ON true`, // 42712
    () => `SELECT * FROM t1 JOIN t2 USING (b)`, // 42703
    () => `SELECT ${si()} FROM ${t} x HAVING count(*) > 0`, // 42803
    () => `SELECT FROM WHERE ${si()}`, // 42601
    () => `SELECT ${si()} FROM ${t} x ORDER BY`, // 42601
    () => `SELECT ${si()} FROM ${t} x WHERE ${q('x', key)} IN (SELECT k, a FROM t2)`, // 42601
    () => `SELECT ${q('x', key)} FROM ${t} x WHERE EXISTS (SELECT 1 FROM t2 y WHERE y.zz = x.${key})`, // 42703
  ];
  const i = r.int(0, list.length - 1);
  return { sql: list[i](), ordered: false };
}

// ---------------------------------------------------------------------------
// Families and cases

export type Family = 'joins' | 'subqueries' | 'groupby' | 'windows' | 'ctes' | 'setops' | 'distinct_order' | 'errors';

const GENERATORS: Readonly<Record<Family, (r: Rand) => Gen>> = {
  joins: genJoins,
  subqueries: genSubqueries,
  groupby: genGroupBy,
  windows: genWindows,
  ctes: genCtes,
  setops: genSetOps,
  distinct_order: genDistinctOrder,
  errors: genErrors,
};

/** Cases per family (before SQL_ORACLE_SCALE). */
export const FAMILY_SIZES: Readonly<Record<Family, number>> = {
  joins: 500,
  subqueries: 500,
  groupby: 500,
  windows: 500,
  ctes: 400,
  setops: 400,
  distinct_order: 400,
  errors: 150,
};
export const FAMILIES = Object.keys(FAMILY_SIZES) as Family[];

const FAMILY_SALT: Readonly<Record<Family, number>> = { joins: 1, subqueries: 2, groupby: 3, windows: 4, ctes: 5, setops: 6, distinct_order: 7, errors: 8 };

/** The seed of a family's i-th case. */
export function caseSeed(family: Family, index: number): number {
  return FAMILY_SALT[family] * 1_000_000 + index;
}

export function generateCase(family: Family, seed: number): Case {
  const g = GENERATORS[family](new Rand(seed));
  return { family, seed, sql: g.sql, ordered: g.ordered };
}

export function generateFamily(family: Family, count: number = FAMILY_SIZES[family]): Case[] {
  return Array.from({ length: count }, (_, i) => generateCase(family, caseSeed(family, i)));
}
