// The SQL benchmark's data (`npm run bench:sql`): a deterministic, seeded
// TPC-H-like generator of region, nation, supplier, customer, orders and
// lineitem at a scale factor (SF 1: 10k suppliers, 150k customers, 1.5M
// orders, ≈6M lineitems), with dbgen's column names and value distributions:
//
//   - order keys sparse as dbgen's (8 used out of every 32), customers whose
//     key is a multiple of 3 place no order, 1..7 lines per order;
//   - o_orderdate uniform in 1992-01-01 .. 1998-08-02, l_shipdate = orderdate
//     + 1..121 days, l_commitdate = orderdate + 30..90, l_receiptdate =
//     shipdate + 1..30; l_returnflag R/A when received by 1995-06-17, else N;
//     l_linestatus O when shipped after 1995-06-17, else F; o_orderstatus F,
//     O or P from its lines; o_totalprice the sum of its lines' charge;
//   - l_quantity 1..50, l_extendedprice = quantity × the part's retail price
//     (dbgen's formula of the part key: no part table is needed), l_discount
//     0.00..0.10, l_tax 0.00..0.08, l_suppkey one of the part's 4 suppliers
//     (dbgen's formula), c_mktsegment 5 values, o_orderpriority 5 values,
//     l_shipmode 7, l_shipinstruct 4, acctbal -999.99..9999.99;
//   - the comment columns, part and partsupp are left out (Q1, Q3, Q5, Q6 do
//     not read them).
//
// Every value is a pure function of (seed, table, row or order index): any
// range is made on demand, in any order, and each engine gets the same rows.
// Blocks are columnar: numbers in Float64Arrays (decimals as integer cents,
// dates as days since 1970-01-01), text in string arrays.
//
// Also here: each engine's DDL (decimals numeric(15,2) in PostgreSQL and
// DuckDB, float8 in MantisDB, REAL in SQLite; dates text in SQLite), the
// standard query texts of Q1, Q3, Q5, Q6 with their date arithmetic
// precomputed into literals, and the GROUP BY table.

import { mix } from './tables-data.js';

export type Kind = 'int' | 'big' | 'dec' | 'date' | 'text';
export type Column = { readonly name: string; readonly kind: Kind };
export type TableDef = { readonly name: string; readonly columns: readonly Column[]; readonly primaryKey: readonly string[] };
export type TpchTable = 'region' | 'nation' | 'supplier' | 'customer' | 'orders' | 'lineitem';
export type Cells = Float64Array | string[];
export type Block = { readonly table: string; readonly rows: number; readonly cols: readonly Cells[] };

const c = (name: string, kind: Kind): Column => ({ name, kind });

export const TPCH_TABLES: readonly TableDef[] = [
  { name: 'region', columns: [c('r_regionkey', 'int'), c('r_name', 'text')], primaryKey: ['r_regionkey'] },
  { name: 'nation', columns: [c('n_nationkey', 'int'), c('n_name', 'text'), c('n_regionkey', 'int')], primaryKey: ['n_nationkey'] },
  {
    name: 'supplier',
    columns: [c('s_suppkey', 'int'), c('s_name', 'text'), c('s_address', 'text'), c('s_nationkey', 'int'), c('s_phone', 'text'), c('s_acctbal', 'dec')],
    primaryKey: ['s_suppkey'],
  },
  {
    name: 'customer',
    columns: [c('c_custkey', 'int'), c('c_name', 'text'), c('c_address', 'text'), c('c_nationkey', 'int'), c('c_phone', 'text'), c('c_acctbal', 'dec'), c('c_mktsegment', 'text')],
    primaryKey: ['c_custkey'],
  },
  {
    name: 'orders',
    columns: [
      c('o_orderkey', 'int'), c('o_custkey', 'int'), c('o_orderstatus', 'text'), c('o_totalprice', 'dec'), c('o_orderdate', 'date'),
      c('o_orderpriority', 'text'), c('o_clerk', 'text'), c('o_shippriority', 'int'),
    ],
    primaryKey: ['o_orderkey'],
  },
  {
    name: 'lineitem',
    columns: [
      c('l_orderkey', 'int'), c('l_partkey', 'int'), c('l_suppkey', 'int'), c('l_linenumber', 'int'), c('l_quantity', 'dec'), c('l_extendedprice', 'dec'),
      c('l_discount', 'dec'), c('l_tax', 'dec'), c('l_returnflag', 'text'), c('l_linestatus', 'text'), c('l_shipdate', 'date'), c('l_commitdate', 'date'),
      c('l_receiptdate', 'date'), c('l_shipinstruct', 'text'), c('l_shipmode', 'text'),
    ],
    primaryKey: ['l_orderkey', 'l_linenumber'],
  },
];

export const tableDef = (name: string): TableDef => {
  const t = name === G_TABLE.name ? G_TABLE : TPCH_TABLES.find((d) => d.name === name);
  if (t === undefined) throw new Error(`no table ${name}`);
  return t;
};

// ---- dates ----

const DAY_MS = 86_400_000;
export const dayOf = (iso: string): number => Math.round(Date.parse(`${iso}T00:00:00Z`) / DAY_MS);
const START_DAY = dayOf('1992-01-01');
const END_DAY = dayOf('1998-12-31');
const CURRENT_DAY = dayOf('1995-06-17');
const ISO_CACHE: string[] = [];
/** Days since 1970-01-01 → "YYYY-MM-DD". */
export function isoDay(day: number): string {
  let s = ISO_CACHE[day];
  if (s === undefined) {
    s = new Date(day * DAY_MS).toISOString().slice(0, 10);
    if (day >= 0 && day < 40_000) ISO_CACHE[day] = s;
  }
  return s;
}

// ---- the value lists ----

export const REGIONS = ['AFRICA', 'AMERICA', 'ASIA', 'EUROPE', 'MIDDLE EAST'] as const;
/** dbgen's 25 nations and their regions. */
export const NATIONS: readonly (readonly [string, number])[] = [
  ['ALGERIA', 0], ['ARGENTINA', 1], ['BRAZIL', 1], ['CANADA', 1], ['EGYPT', 4], ['ETHIOPIA', 0], ['FRANCE', 3], ['GERMANY', 3], ['INDIA', 2], ['INDONESIA', 2],
  ['IRAN', 4], ['IRAQ', 4], ['JAPAN', 2], ['JORDAN', 4], ['KENYA', 0], ['MOROCCO', 0], ['MOZAMBIQUE', 0], ['PERU', 1], ['CHINA', 2], ['ROMANIA', 3],
  ['SAUDI ARABIA', 4], ['VIETNAM', 2], ['RUSSIA', 3], ['UNITED KINGDOM', 3], ['UNITED STATES', 1],
];
export const SEGMENTS = ['AUTOMOBILE', 'BUILDING', 'FURNITURE', 'HOUSEHOLD', 'MACHINERY'] as const;
export const PRIORITIES = ['1-URGENT', '2-HIGH', '3-MEDIUM', '4-NOT SPECIFIED', '5-LOW'] as const;
export const SHIP_INSTRUCT = ['DELIVER IN PERSON', 'COLLECT COD', 'NONE', 'TAKE BACK RETURN'] as const;
export const SHIP_MODES = ['REG AIR', 'AIR', 'RAIL', 'SHIP', 'TRUCK', 'MAIL', 'FOB'] as const;
const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

// ---- sizes and randomness ----

export type TpchSpec = {
  readonly sf: number;
  readonly seed: number;
  readonly suppliers: number;
  readonly customers: number;
  readonly orders: number;
  readonly parts: number;
};

export function tpchSpec(sf: number, seed: number): TpchSpec {
  const n = (base: number): number => Math.max(1, Math.floor(base * sf));
  return { sf, seed, suppliers: n(10_000), customers: n(150_000), orders: n(1_500_000), parts: n(200_000) };
}

/** An unsigned 32-bit value of (stream, index) under the seed. */
const rnd = (spec: TpchSpec, stream: number, index: number): number => mix(index >>> 0, (stream * 0x3c6ef372 + spec.seed * 0x61c88647) | 0);
/** Uniform integer in [lo, hi]. */
const uni = (spec: TpchSpec, stream: number, index: number, lo: number, hi: number): number => lo + (rnd(spec, stream, index) % (hi - lo + 1));

const pad9 = (n: number): string => String(n).padStart(9, '0');
function randomText(spec: TpchSpec, stream: number, index: number, minLen: number, maxLen: number): string {
  const len = uni(spec, stream, index, minLen, maxLen);
  let s = '';
  for (let i = 0; i < len; i++) s += ALNUM[rnd(spec, stream + 1, index * 64 + i) % ALNUM.length];
  return s;
}
const phone = (spec: TpchSpec, stream: number, index: number, nation: number): string =>
  `${nation + 10}-${uni(spec, stream, index, 100, 999)}-${uni(spec, stream + 1, index, 100, 999)}-${uni(spec, stream + 2, index, 1000, 9999)}`;

/** dbgen's retail price of a part, in cents. */
export const retailCents = (partkey: number): number => 90_000 + (Math.floor(partkey / 10) % 20_001) + 100 * (partkey % 1000);
/** dbgen's i-th (0..3) supplier of a part. */
export const supplierOf = (partkey: number, i: number, s: number): number => ((partkey + i * (Math.floor(s / 4) + Math.floor((partkey - 1) / s))) % s) + 1;
/** dbgen's sparse order keys: 8 used out of every 32. */
export const orderKeyOf = (i: number): number => Math.floor(i / 8) * 32 + (i % 8) + 1;

// ---- blocks ----

/** How many generation units a table has: rows, or orders for lineitem (1..7 rows each). */
export function unitsOf(spec: TpchSpec, table: string): number {
  switch (table) {
    case 'region':
      return REGIONS.length;
    case 'nation':
      return NATIONS.length;
    case 'supplier':
      return spec.suppliers;
    case 'customer':
      return spec.customers;
    case 'orders':
    case 'lineitem':
      return spec.orders;
    default:
      throw new Error(`no table ${table}`);
  }
}

/** Rows per unit at most (lineitem: 7 lines per order). */
export const maxRowsPerUnit = (table: string): number => (table === 'lineitem' ? 7 : 1);

function regionBlock(from: number, to: number): Block {
  const key = new Float64Array(to - from);
  const name: string[] = [];
  for (let i = from; i < to; i++) {
    key[i - from] = i;
    name.push(REGIONS[i]);
  }
  return { table: 'region', rows: to - from, cols: [key, name] };
}

function nationBlock(from: number, to: number): Block {
  const key = new Float64Array(to - from);
  const region = new Float64Array(to - from);
  const name: string[] = [];
  for (let i = from; i < to; i++) {
    key[i - from] = i;
    name.push(NATIONS[i][0]);
    region[i - from] = NATIONS[i][1];
  }
  return { table: 'nation', rows: to - from, cols: [key, name, region] };
}

function partyBlock(spec: TpchSpec, table: 'supplier' | 'customer', from: number, to: number): Block {
  const n = to - from;
  const key = new Float64Array(n);
  const nation = new Float64Array(n);
  const bal = new Float64Array(n);
  const name: string[] = [];
  const address: string[] = [];
  const phones: string[] = [];
  const segment: string[] = [];
  const base = table === 'supplier' ? 100 : 200;
  for (let i = from; i < to; i++) {
    const k = i + 1;
    const j = i - from;
    key[j] = k;
    nation[j] = uni(spec, base, k, 0, 24);
    bal[j] = uni(spec, base + 1, k, -99_999, 999_999);
    name.push(`${table === 'supplier' ? 'Supplier' : 'Customer'}#${pad9(k)}`);
    address.push(randomText(spec, base + 2, k, 10, 40));
    phones.push(phone(spec, base + 4, k, nation[j]));
    if (table === 'customer') segment.push(SEGMENTS[uni(spec, base + 7, k, 0, SEGMENTS.length - 1)]);
  }
  return table === 'supplier'
    ? { table, rows: n, cols: [key, name, address, nation, phones, bal] }
    : { table, rows: n, cols: [key, name, address, nation, phones, bal, segment] };
}

/** Orders [from, to) (indices) and their lines. */
export function ordersAndLines(spec: TpchSpec, from: number, to: number): { orders: Block; lineitem: Block } {
  const n = to - from;
  const o = { key: new Float64Array(n), cust: new Float64Array(n), status: [] as string[], total: new Float64Array(n), date: new Float64Array(n), prio: [] as string[], clerk: [] as string[], ship: new Float64Array(n) };
  const max = n * 7;
  const l = {
    order: new Float64Array(max), part: new Float64Array(max), supp: new Float64Array(max), line: new Float64Array(max), qty: new Float64Array(max), ext: new Float64Array(max),
    disc: new Float64Array(max), tax: new Float64Array(max), rflag: [] as string[], lstatus: [] as string[], ship: new Float64Array(max), commit: new Float64Array(max),
    receipt: new Float64Array(max), instruct: [] as string[], mode: [] as string[],
  };
  const customersWithOrders = spec.customers - Math.floor(spec.customers / 3);
  const clerks = Math.max(1, Math.floor(1000 * spec.sf));
  let r = 0;
  for (let i = from; i < to; i++) {
    const j = i - from;
    const okey = orderKeyOf(i);
    const pick = uni(spec, 300, i, 0, Math.max(0, customersWithOrders - 1));
    const odate = uni(spec, 302, i, START_DAY, END_DAY - 151);
    o.key[j] = okey;
    o.cust[j] = Math.min(spec.customers, pick + Math.floor(pick / 2) + 1); // the pick-th key that is not a multiple of 3
    o.date[j] = odate;
    o.prio.push(PRIORITIES[uni(spec, 303, i, 0, 4)]);
    o.clerk.push(`Clerk#${pad9(uni(spec, 304, i, 1, clerks))}`);
    const lines = uni(spec, 305, i, 1, 7);
    let total = 0;
    let shipped = 0;
    for (let ln = 1; ln <= lines; ln++) {
      const li = i * 8 + ln;
      const part = uni(spec, 310, li, 1, spec.parts);
      const qty = uni(spec, 312, li, 1, 50);
      const ext = qty * retailCents(part);
      const disc = uni(spec, 313, li, 0, 10);
      const tax = uni(spec, 314, li, 0, 8);
      const ship = odate + uni(spec, 315, li, 1, 121);
      const receipt = ship + uni(spec, 317, li, 1, 30);
      l.order[r] = okey;
      l.part[r] = part;
      l.supp[r] = supplierOf(part, uni(spec, 311, li, 0, 3), spec.suppliers);
      l.line[r] = ln;
      l.qty[r] = qty * 100;
      l.ext[r] = ext;
      l.disc[r] = disc;
      l.tax[r] = tax;
      l.ship[r] = ship;
      l.commit[r] = odate + uni(spec, 316, li, 30, 90);
      l.receipt[r] = receipt;
      l.rflag.push(receipt <= CURRENT_DAY ? ((rnd(spec, 318, li) & 1) === 0 ? 'R' : 'A') : 'N');
      const f = ship > CURRENT_DAY ? 'O' : 'F';
      if (f === 'F') shipped++;
      l.lstatus.push(f);
      l.instruct.push(SHIP_INSTRUCT[uni(spec, 319, li, 0, 3)]);
      l.mode.push(SHIP_MODES[uni(spec, 320, li, 0, 6)]);
      total += Math.round((ext * (100 - disc) * (100 + tax)) / 10_000);
      r++;
    }
    o.status.push(shipped === lines ? 'F' : shipped === 0 ? 'O' : 'P');
    o.total[j] = total;
  }
  const cut = (a: Float64Array): Float64Array => a.subarray(0, r);
  return {
    orders: { table: 'orders', rows: n, cols: [o.key, o.cust, o.status, o.total, o.date, o.prio, o.clerk, o.ship] },
    lineitem: {
      table: 'lineitem',
      rows: r,
      cols: [cut(l.order), cut(l.part), cut(l.supp), cut(l.line), cut(l.qty), cut(l.ext), cut(l.disc), cut(l.tax), l.rflag, l.lstatus, cut(l.ship), cut(l.commit), cut(l.receipt), l.instruct, l.mode],
    },
  };
}

/** The rows of units [from, to) of a table. */
export function tpchBlock(spec: TpchSpec, table: string, from: number, to: number): Block {
  switch (table) {
    case 'region':
      return regionBlock(from, to);
    case 'nation':
      return nationBlock(from, to);
    case 'supplier':
    case 'customer':
      return partyBlock(spec, table, from, to);
    case 'orders':
      return ordersAndLines(spec, from, to).orders;
    case 'lineitem':
      return ordersAndLines(spec, from, to).lineitem;
    default:
      throw new Error(`no table ${table}`);
  }
}

// ---- the GROUP BY table: id, k = (id × 7919) mod 1000 (1,000 groups), v = (id × 104729) mod 10007 ----

export const G_TABLE: TableDef = { name: 'g', columns: [c('id', 'big'), c('k', 'int'), c('v', 'big')], primaryKey: ['id'] };
export const G_GROUPS = 1000;
export const gK = (id: number): number => (id * 7919) % G_GROUPS;
export const gV = (id: number): number => (id * 104_729) % 10_007;
/** The same rows, made by each engine's SQL (id × 104729 < 2^53 up to 86 billion rows). */
export const G_SELECT_EXPR = 'i, (i * 7919) % 1000, (i * 104729) % 10007';

export function gBlock(from: number, to: number): Block {
  const n = to - from;
  const id = new Float64Array(n);
  const k = new Float64Array(n);
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    id[i] = from + i;
    k[i] = gK(from + i);
    v[i] = gV(from + i);
  }
  return { table: 'g', rows: n, cols: [id, k, v] };
}

/** The expected GROUP BY answer: [k, count, sum(v)] ordered by k. */
export function gExpected(rows: number): number[][] {
  const count = new Float64Array(G_GROUPS);
  const sum = new Float64Array(G_GROUPS);
  for (let i = 0; i < rows; i++) {
    const k = gK(i);
    count[k]++;
    sum[k] += gV(i);
  }
  const out: number[][] = [];
  for (let k = 0; k < G_GROUPS; k++) if (count[k] > 0) out.push([k, count[k], sum[k]]);
  return out;
}

export const G_QUERY = 'SELECT k, count(*) AS c, sum(v) AS s FROM g GROUP BY k ORDER BY k';
export const POINT_QUERY = 'SELECT * FROM g WHERE id = $1';

// ---- DDL ----

export type Dialect = 'postgres' | 'duckdb' | 'sqlite' | 'mantis';

const TYPE_OF: Record<Dialect, Record<Kind, string>> = {
  postgres: { int: 'integer', big: 'bigint', dec: 'numeric(15,2)', date: 'date', text: 'varchar' },
  duckdb: { int: 'integer', big: 'bigint', dec: 'numeric(15,2)', date: 'date', text: 'varchar' },
  sqlite: { int: 'INTEGER', big: 'INTEGER', dec: 'REAL', date: 'TEXT', text: 'TEXT' },
  mantis: { int: 'int4', big: 'int8', dec: 'float8', date: 'date', text: 'text' },
};

/** CREATE TABLE for a dialect; the primary key inline unless `withKey` is false (PostgreSQL adds it after the load). */
export function createSql(t: TableDef, dialect: Dialect, withKey = true): string {
  const types = TYPE_OF[dialect];
  const cols = t.columns.map((col) => `${col.name} ${types[col.kind]} NOT NULL`);
  if (withKey) cols.push(`PRIMARY KEY (${t.primaryKey.join(', ')})`);
  return `CREATE TABLE ${t.name} (${cols.join(', ')})`;
}

// ---- cell formats ----

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));
/** Cents → "12.34" (integer arithmetic: exact). */
export function decText(cents: number): string {
  const a = cents < 0 ? -cents : cents;
  const s = `${Math.floor(a / 100)}.${pad2(a % 100)}`;
  return cents < 0 ? `-${s}` : s;
}

type Fmt = (i: number) => string;

/**
 * One formatter per column of a block, each bound to its own array (so each call site stays
 * monomorphic): CSV cells, or the tables API's JSON members ("name":value; decimals as numbers,
 * dates as RFC 3339 at midnight UTC). Generated text holds no comma, quote or backslash.
 */
function formatters(def: { readonly columns: readonly Column[] }, b: Block, style: 'csv' | 'json'): Fmt[] {
  return def.columns.map((col, k): Fmt => {
    const key = style === 'json' ? `"${col.name}":` : '';
    if (col.kind === 'text') {
      const a = b.cols[k] as string[];
      return style === 'json' ? (i) => `${key}"${a[i]}"` : (i) => a[i];
    }
    const a = b.cols[k] as Float64Array;
    if (col.kind === 'dec') return (i) => key + decText(a[i]);
    if (col.kind === 'date') return style === 'json' ? (i) => `${key}"${isoDay(a[i])}T00:00:00Z"` : (i) => isoDay(a[i]);
    return (i) => key + String(a[i]);
  });
}

/** Rows [from, to) of a block as CSV lines, each ending in a newline. */
export function csvRows(def: { readonly columns: readonly Column[] }, b: Block, from = 0, to = b.rows): string {
  const f = formatters(def, b, 'csv');
  let out = '';
  for (let i = from; i < to; i++) {
    let line = f[0](i);
    for (let k = 1; k < f.length; k++) line += `,${f[k](i)}`;
    out += `${line}\n`;
  }
  return out;
}

/** Rows [from, to) of a block as the tables API's JSON objects, joined by commas (the inside of a JSON array). */
export function jsonRows(def: { readonly columns: readonly Column[] }, b: Block, from = 0, to = b.rows): string {
  const f = formatters(def, b, 'json');
  const parts = new Array<string>(to - from);
  for (let i = from; i < to; i++) {
    let row = `{${f[0](i)}`;
    for (let k = 1; k < f.length; k++) row += `,${f[k](i)}`;
    parts[i - from] = `${row}}`;
  }
  return parts.join(',');
}

/** One row as SQLite parameters: decimals as REAL, dates as "YYYY-MM-DD". */
export function sqliteRow(def: { readonly columns: readonly Column[] }, b: Block, i: number): (number | string)[] {
  const out = new Array<number | string>(b.cols.length);
  for (let k = 0; k < b.cols.length; k++) {
    const v = b.cols[k][i];
    const kind = def.columns[k].kind;
    out[k] = kind === 'dec' ? (v as number) / 100 : kind === 'date' ? isoDay(v as number) : v;
  }
  return out;
}

// ---- the queries: TPC-H's texts with the dates precomputed ----

export type QueryId = 'q1' | 'q3' | 'q5' | 'q6';
export const QUERY_IDS: readonly QueryId[] = ['q1', 'q3', 'q5', 'q6'];

export const TPCH_QUERIES: Readonly<Record<QueryId, string>> = {
  // date '1998-12-01' - interval '90' day
  q1: `select l_returnflag, l_linestatus, sum(l_quantity) as sum_qty, sum(l_extendedprice) as sum_base_price,
  sum(l_extendedprice * (1 - l_discount)) as sum_disc_price, sum(l_extendedprice * (1 - l_discount) * (1 + l_tax)) as sum_charge,
  avg(l_quantity) as avg_qty, avg(l_extendedprice) as avg_price, avg(l_discount) as avg_disc, count(*) as count_order
from lineitem
where l_shipdate <= date '1998-09-02'
group by l_returnflag, l_linestatus
order by l_returnflag, l_linestatus`,
  q3: `select l_orderkey, sum(l_extendedprice * (1 - l_discount)) as revenue, o_orderdate, o_shippriority
from customer, orders, lineitem
where c_mktsegment = 'BUILDING' and c_custkey = o_custkey and l_orderkey = o_orderkey
  and o_orderdate < date '1995-03-15' and l_shipdate > date '1995-03-15'
group by l_orderkey, o_orderdate, o_shippriority
order by revenue desc, o_orderdate
limit 10`,
  // o_orderdate < date '1994-01-01' + interval '1' year
  q5: `select n_name, sum(l_extendedprice * (1 - l_discount)) as revenue
from customer, orders, lineitem, supplier, nation, region
where c_custkey = o_custkey and l_orderkey = o_orderkey and l_suppkey = s_suppkey and c_nationkey = s_nationkey
  and s_nationkey = n_nationkey and n_regionkey = r_regionkey and r_name = 'ASIA'
  and o_orderdate >= date '1994-01-01' and o_orderdate < date '1995-01-01'
group by n_name
order by revenue desc`,
  // l_discount between 0.06 - 0.01 and 0.06 + 0.01: as literals, so a float8 column compares as a numeric one does
  q6: `select sum(l_extendedprice * l_discount) as revenue
from lineitem
where l_shipdate >= date '1994-01-01' and l_shipdate < date '1995-01-01'
  and l_discount between 0.05 and 0.07 and l_quantity < 24`,
};

/** The tables each query reads. */
export const QUERY_TABLES: Readonly<Record<QueryId, readonly TpchTable[]>> = {
  q1: ['lineitem'],
  q3: ['customer', 'orders', 'lineitem'],
  q5: ['region', 'nation', 'supplier', 'customer', 'orders', 'lineitem'],
  q6: ['lineitem'],
};

/** SQLite has no `date '…'` literal: its dates are ISO text, compared as text. The only change to the text. */
export const forSqlite = (sql: string): string => sql.replace(/\bdate '(\d{4}-\d{2}-\d{2})'/g, "'$1'");
