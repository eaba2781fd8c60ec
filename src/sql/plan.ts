// The router's physical operators. A statement's plan is a tree of these; the
// executor first fetches every table scan's rows from the shards (pushed
// filters, needed columns, pushed aggregates: see sql-exec.ts), then runs the
// tree synchronously: each operator answers its whole output (Value[][]).
// Subquery plans run once per statement when uncorrelated, per outer row
// otherwise (their scans are fetched once). Every operator counts its actual
// rows, loops and time for EXPLAIN ANALYZE.

import { compareValues, hashKeyOf, valueToJson, valueToText } from './sql-cast.js';
import type { Compiled, Env } from './ir.js';
import { installSubqueryRunner } from './ir.js';
import { Jsonb, type SqlType, type Value } from './sql-types.js';
import { sqlError } from './sql-errors.js';
import type { OperatorImpl } from './sql-operators.js';

export type Row = Value[];

/** One output column of an operator: its name (for `*`, USING and answers) and type. */
export type ColInfo = { readonly name: string; readonly type: SqlType; readonly rel: string | null; readonly hidden?: boolean };

export type SortKey = { readonly f: Compiled; readonly desc: boolean; readonly nullsFirst: boolean; readonly type: SqlType; readonly text: string };

export abstract class PlanNode {
  abstract readonly name: string;
  children: PlanNode[] = [];
  /** Estimated output rows (for EXPLAIN and join order). */
  estRows = 1000;
  estCost = 0;
  actualRows = 0;
  loops = 0;
  ms = 0;
  /** Extra EXPLAIN lines ("Filter: …", "Hash Cond: …"). */
  details: string[] = [];
  constructor(readonly cols: ColInfo[]) {}

  /** Rows computed ahead of the run (a runtime filter's source ran first): answered as they are. */
  memo: Row[] | null = null;

  run(env: Env): Row[] {
    if (this.memo !== null) {
      const rows = this.memo;
      this.memo = null;
      return rows;
    }
    const t0 = performance.now();
    const out = this.exec(env);
    if (!this.selfCharged) env.charge(out.length * this.rowBytes());
    this.ms += performance.now() - t0;
    this.loops++;
    this.actualRows += out.length;
    return out;
  }
  protected abstract exec(env: Env): Row[];
  /** Operators that grow their output fast (joins) charge memory as they go, not after. */
  protected selfCharged = false;
  /** Router memory one output row is counted at. */
  rowBytes(): number {
    return this.cols.length * 16 + 48;
  }
  /** Extra ANALYZE lines (per shard figures, memory). */
  analyzeDetails(): string[] {
    return [];
  }
}

installSubqueryRunner((plan, row, env, correlated) => {
  if (!correlated) {
    const hit = env.subCache.get(plan);
    if (hit !== undefined) return hit;
    const rows = plan.run({ ...env, outer: [...env.outer, row] });
    env.subCache.set(plan, rows);
    return rows;
  }
  return plan.run({ ...env, outer: [...env.outer, row] });
});

/** A table's rows, fetched before the tree runs (see sql-exec.ts `prefetch`). */
export class PrefetchedNode extends PlanNode {
  rows: Row[] | null = null;
  /** Shard figures for EXPLAIN ANALYZE. */
  shardInfo: string[] = [];
  constructor(
    readonly name: string,
    cols: ColInfo[],
    readonly fetch: (env: Env) => Promise<Row[]>,
  ) {
    super(cols);
    // Charged once, when the rows arrive (sql-exec.ts runPlan), not at every run.
    this.selfCharged = true;
  }
  protected exec(): Row[] {
    if (this.rows === null) throw new Error('assertion failed: a scan ran before its rows were fetched');
    return this.rows;
  }
  override analyzeDetails(): string[] {
    return this.shardInfo;
  }
}

/** One row of no columns (SELECT without FROM). */
export class ResultNode extends PlanNode {
  readonly name = 'Result';
  constructor() {
    super([]);
    this.estRows = 1;
  }
  protected exec(): Row[] {
    return [[]];
  }
}

export class ValuesNode extends PlanNode {
  readonly name = 'Values Scan';
  constructor(
    cols: ColInfo[],
    readonly rows: Compiled[][],
  ) {
    super(cols);
    this.estRows = rows.length;
  }
  protected exec(env: Env): Row[] {
    return this.rows.map((r) => r.map((f) => f([], env)));
  }
}

export class FilterNode extends PlanNode {
  readonly name = 'Filter';
  constructor(
    readonly child: PlanNode,
    readonly pred: Compiled,
    text: string,
  ) {
    super(child.cols);
    this.children = [child];
    this.details = [`Filter: ${text}`];
    this.estRows = Math.max(1, Math.round(child.estRows * 0.33));
  }
  protected exec(env: Env): Row[] {
    const out: Row[] = [];
    const p = this.pred;
    let n = 0;
    for (const row of this.child.run(env)) {
      if ((++n & 4095) === 0) env.check();
      if (p(row, env) === true) out.push(row);
    }
    return out;
  }
}

export class ProjectNode extends PlanNode {
  readonly name = 'Project';
  constructor(
    readonly child: PlanNode,
    readonly exprs: Compiled[],
    cols: ColInfo[],
  ) {
    super(cols);
    this.children = [child];
    this.estRows = child.estRows;
  }
  protected exec(env: Env): Row[] {
    const ex = this.exprs;
    const input = this.child.run(env);
    const out: Row[] = new Array<Row>(input.length);
    for (let i = 0; i < input.length; i++) {
      if ((i & 4095) === 4095) env.check();
      const row = input[i];
      const r: Row = new Array<Value>(ex.length);
      for (let j = 0; j < ex.length; j++) r[j] = ex[j](row, env);
      out[i] = r;
    }
    return out;
  }
}

export type JoinKind = 'inner' | 'left' | 'right' | 'full' | 'semi' | 'anti';

/**
 * A join of two inputs: hash join on equi keys (NULL keys never match), nested loop otherwise.
 * Output: left columns then right columns (semi/anti: left only). `residual` sees the joined row.
 */
export class JoinNode extends PlanNode {
  readonly name: string;
  constructor(
    readonly kind: JoinKind,
    readonly left: PlanNode,
    readonly right: PlanNode,
    readonly leftKeys: Compiled[],
    readonly rightKeys: Compiled[],
    readonly keyTypes: SqlType[],
    readonly residual: Compiled | null,
    condText: string[],
  ) {
    super(kind === 'semi' || kind === 'anti' ? left.cols : [...left.cols, ...right.cols]);
    this.children = [left, right];
    this.selfCharged = true;
    const label = { inner: '', left: 'Left ', right: 'Right ', full: 'Full ', semi: 'Semi ', anti: 'Anti ' }[kind];
    this.name = leftKeys.length > 0 ? `Hash ${label}Join` : `Nested Loop ${label}Join`.replace('Loop  Join', 'Loop Join');
    this.details = condText;
    this.estRows = leftKeys.length > 0 ? Math.max(left.estRows, right.estRows) : Math.max(1, left.estRows * right.estRows * (residual === null ? 1 : 0.33));
    if (kind === 'semi' || kind === 'anti') this.estRows = Math.max(1, Math.round(left.estRows / 2));
  }

  protected exec(env: Env): Row[] {
    const L = this.left.run(env);
    const R = this.right.run(env);
    const lw = this.left.cols.length;
    const rw = this.right.cols.length;
    const kind = this.kind;
    const res = this.residual;
    const out: Row[] = [];
    const rightMatched = kind === 'right' || kind === 'full' ? new Uint8Array(R.length) : null;
    const nullsL: Value[] = new Array<Value>(lw).fill(null);
    const nullsR: Value[] = new Array<Value>(rw).fill(null);
    const rowBytes = this.rowBytes();
    let charged = 0;
    const chargeSoFar = (): void => {
      if (out.length - charged >= 4096) {
        env.charge((out.length - charged) * rowBytes);
        charged = out.length;
      }
    };
    const emit = (l: Row, candidates: Iterable<number>): void => {
      chargeSoFar();
      let matched = false;
      for (const j of candidates) {
        const r = R[j];
        const joined = [...l, ...r];
        if (res !== null && res(joined, env) !== true) continue;
        matched = true;
        if (kind === 'semi') break;
        if (kind === 'anti') break;
        if (rightMatched !== null) rightMatched[j] = 1;
        out.push(joined);
        if ((out.length & 4095) === 0) chargeSoFar();
      }
      if (kind === 'semi' && matched) out.push(l);
      else if (kind === 'anti' && !matched) out.push(l);
      else if (!matched && (kind === 'left' || kind === 'full')) out.push([...l, ...nullsR]);
    };
    if (this.leftKeys.length > 0 && kind === 'inner' && L.length < R.length) {
      // Inner join, smaller left input: build the hash table on the left, probe with the right.
      const table = new Map<string | number, number[]>();
      const types = this.keyTypes;
      const lk = this.leftKeys;
      for (let i = 0; i < L.length; i++) {
        const key = hashKey(lk, types, L[i], env);
        if (key === null) continue;
        const list = table.get(key);
        if (list === undefined) table.set(key, [i]);
        else list.push(i);
      }
      const rk = this.rightKeys;
      const matches: [number, number][] = [];
      let n = 0;
      for (let j = 0; j < R.length; j++) {
        if ((++n & 4095) === 0) env.check();
        const key = hashKey(rk, types, R[j], env);
        if (key === null) continue;
        const hits = table.get(key);
        if (hits !== undefined) for (const i of hits) matches.push([i, j]);
      }
      // Left-input order, as the probe-with-left path answers.
      matches.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      for (const [i, j] of matches) {
        const joined = [...L[i], ...R[j]];
        if (res !== null && res(joined, env) !== true) continue;
        out.push(joined);
        if ((out.length & 4095) === 0) chargeSoFar();
      }
    } else if (this.leftKeys.length > 0) {
      const table = new Map<string | number, number[]>();
      const rk = this.rightKeys;
      const types = this.keyTypes;
      for (let j = 0; j < R.length; j++) {
        const key = hashKey(rk, types, R[j], env);
        if (key === null) continue;
        const list = table.get(key);
        if (list === undefined) table.set(key, [j]);
        else list.push(j);
      }
      const lk = this.leftKeys;
      let n = 0;
      for (const l of L) {
        if ((++n & 1023) === 0) env.check();
        const key = hashKey(lk, types, l, env);
        emit(l, key === null ? [] : (table.get(key) ?? []));
      }
    } else {
      const all = R.map((_r, j) => j);
      let n = 0;
      for (const l of L) {
        if ((++n & 63) === 0) env.check();
        emit(l, all);
      }
    }
    if (rightMatched !== null) {
      for (let j = 0; j < R.length; j++) if (rightMatched[j] === 0) out.push([...nullsL, ...R[j]]);
    }
    env.charge((out.length - charged) * rowBytes);
    return out;
  }
}

/** A join whose right side is a LATERAL subquery: run once per left row (the row is its outer row). */
export class LateralJoinNode extends PlanNode {
  readonly name: string;
  constructor(
    readonly kind: 'inner' | 'left',
    readonly left: PlanNode,
    readonly right: PlanNode,
    readonly cond: Compiled | null,
    details: string[],
  ) {
    super([...left.cols, ...right.cols]);
    this.children = [left, right];
    this.name = kind === 'left' ? 'Nested Loop Left Join (lateral)' : 'Nested Loop (lateral)';
    this.selfCharged = true;
    this.details = details;
  }
  protected exec(env: Env): Row[] {
    const out: Row[] = [];
    const nullsR: Value[] = new Array<Value>(this.right.cols.length).fill(null);
    let n = 0;
    let charged = 0;
    for (const l of this.left.run(env)) {
      if ((++n & 63) === 0) env.check();
      if (out.length - charged >= 4096) {
        env.charge((out.length - charged) * this.rowBytes());
        charged = out.length;
      }
      let matched = false;
      for (const r of this.right.run({ ...env, outer: [...env.outer, l] })) {
        const joined = [...l, ...r];
        if (this.cond !== null && this.cond(joined, env) !== true) continue;
        matched = true;
        out.push(joined);
      }
      if (!matched && this.kind === 'left') out.push([...l, ...nullsR]);
    }
    env.charge((out.length - charged) * this.rowBytes());
    return out;
  }
}

/** The hash key of a row's join/group key values; null when a key is NULL (joins never match it). */
function hashKey(keys: Compiled[], types: SqlType[], row: Row, env: Env): string | number | null {
  if (keys.length === 1) {
    const v = keys[0](row, env);
    return v === null ? null : hashKeyOf(v, types[0]);
  }
  let s = '';
  for (let i = 0; i < keys.length; i++) {
    const v = keys[i](row, env);
    if (v === null) return null;
    const k = hashKeyOf(v, types[i]);
    s += `${typeof k === 'number' ? 'n' : 's'}${String(k).length}:${String(k)}`;
  }
  return s;
}

/** A group key (NULLs group together, as GROUP BY and DISTINCT want). */
export function groupKey(vals: readonly Value[], types: readonly SqlType[]): string | number {
  if (vals.length === 1) {
    const v = vals[0];
    return v === null ? '\u0000null' : hashKeyOf(v, types[0]);
  }
  let s = '';
  for (let i = 0; i < vals.length; i++) {
    const v = vals[i];
    if (v === null) s += 'N;';
    else {
      const k = String(hashKeyOf(v, types[i]));
      s += `${k.length}:${k};`;
    }
  }
  return s;
}

// ---- aggregates ----

export type AggSpec = {
  readonly fn: string;
  readonly args: Compiled[];
  readonly argTypes: SqlType[];
  readonly star: boolean;
  readonly distinct: boolean;
  readonly filter: Compiled | null;
  readonly order: SortKey[];
  readonly type: SqlType;
  readonly text: string;
};

/** One aggregate's running state. */
export type Acc = { add(args: Value[]): void; result(): Value; remove?(args: Value[]): void };

export function makeAcc(spec: { fn: string; argTypes: SqlType[]; type: SqlType; star: boolean }): Acc {
  const { fn, argTypes, type } = spec;
  switch (fn) {
    case 'count': {
      let n = 0;
      return spec.star
        ? { add: () => void n++, remove: () => void n--, result: () => n }
        : { add: (a) => void (a[0] !== null && n++), remove: (a) => void (a[0] !== null && n--), result: () => n };
    }
    case 'sum':
    case 'avg': {
      let n = 0;
      let s: number | bigint = 0;
      const intIn = argTypes[0] === 'int2' || argTypes[0] === 'int4' || argTypes[0] === 'int8';
      const add = (v: Value, sign: number): void => {
        if (v === null) return;
        n += sign;
        if (intIn) {
          if (typeof s === 'number' && typeof v === 'number') {
            const t = sign > 0 ? s + v : s - v;
            if (Number.isSafeInteger(t)) {
              s = t;
              return;
            }
          }
          const big = BigInt(s) + BigInt(v as number | bigint) * BigInt(sign);
          s = big >= -9007199254740991n && big <= 9007199254740991n ? Number(big) : big;
        } else s = (s as number) + sign * (v as number);
      };
      return {
        add: (a) => add(a[0], 1),
        remove: (a) => add(a[0], -1),
        result: () => {
          if (n === 0) return null;
          if (fn === 'sum') {
            if (type === 'int8' && typeof s === 'bigint' && (s > 2n ** 63n - 1n || s < -(2n ** 63n))) throw sqlError('22003', 'bigint out of range');
            return type === 'numeric' || type === 'float8' || type === 'float4' ? (typeof s === 'bigint' ? Number(s) : s) : s;
          }
          return Number(s) / n;
        },
      };
    }
    case 'min':
    case 'max': {
      let best: Value = null;
      const max = fn === 'max';
      const t = argTypes[0];
      return {
        add: (a) => {
          const v = a[0];
          if (v === null) return;
          if (best === null) best = v;
          else {
            const c = compareValues(v, best, t);
            if (max ? c > 0 : c < 0) best = v;
          }
        },
        result: () => best,
      };
    }
    case 'bool_and':
    case 'every':
    case 'bool_or': {
      let r: boolean | null = null;
      const and = fn !== 'bool_or';
      return {
        add: (a) => {
          const v = a[0];
          if (v === null) return;
          r = r === null ? (v as boolean) : and ? r && (v as boolean) : r || (v as boolean);
        },
        result: () => r,
      };
    }
    case 'string_agg': {
      const parts: string[] = [];
      const seps: string[] = [];
      return {
        add: (a) => {
          if (a[0] === null) return;
          parts.push(a[0] as string);
          seps.push(a[1] === null ? '' : (a[1] as string));
        },
        result: () => (parts.length === 0 ? null : parts.map((p, i) => (i === 0 ? p : seps[i] + p)).join('')),
      };
    }
    case 'array_agg': {
      // Answered as PostgreSQL's array text ({1,2,NULL}, strings quoted when needed).
      const items: Value[] = [];
      const t = argTypes[0];
      const el = (v: Value): string => {
        if (v === null) return 'NULL';
        const s = valueToText(v, t);
        return /^[^{},"\\\s]+$/.test(s) && s.toUpperCase() !== 'NULL' ? s : `"${s.replace(/(["\\])/g, '\\$1')}"`;
      };
      return { add: (a) => void items.push(a[0]), result: () => (items.length === 0 ? null : `{${items.map(el).join(',')}}`) };
    }
    case 'json_agg':
    case 'jsonb_agg': {
      const items: unknown[] = [];
      const t = argTypes[0];
      return { add: (a) => void items.push(a[0] === null ? null : a[0] instanceof Jsonb ? a[0].value : valueToJson(a[0], t)), result: () => (items.length === 0 ? null : new Jsonb(items)) };
    }
    case 'stddev':
    case 'stddev_samp':
    case 'stddev_pop':
    case 'variance':
    case 'var_samp':
    case 'var_pop': {
      let n = 0;
      let mean = 0;
      let m2 = 0;
      return {
        add: (a) => {
          if (a[0] === null) return;
          const x = Number(a[0]);
          n++;
          const d = x - mean;
          mean += d / n;
          m2 += d * (x - mean);
        },
        result: () => {
          const pop = fn.endsWith('_pop');
          if (n === 0 || (!pop && n === 1)) return null;
          const v = m2 / (pop ? n : n - 1);
          return fn.startsWith('std') ? Math.sqrt(v) : v;
        },
      };
    }
    default:
      throw new Error(`assertion failed: unknown aggregate ${fn}`);
  }
}

/** Feeds an aggregate spec over a group's rows (handles DISTINCT, FILTER and ORDER BY). */
function aggregateRows(spec: AggSpec, rows: readonly Row[], env: Env): Value {
  const acc = makeAcc(spec);
  let input: readonly Row[] = rows;
  if (spec.filter !== null) {
    const f = spec.filter;
    input = rows.filter((r) => f(r, env) === true);
  }
  if (spec.order.length > 0) input = sortRows([...input], spec.order, env);
  const seen = spec.distinct ? new Set<string | number>() : null;
  for (const r of input) {
    const args = spec.args.map((f) => f(r, env));
    if (seen !== null) {
      if (args[0] === null) continue;
      const k = groupKey(args, spec.argTypes);
      if (seen.has(k)) continue;
      seen.add(k);
    }
    acc.add(args);
  }
  return acc.result();
}

/**
 * GROUP BY (or a whole-input aggregate): output rows are [aggregates…, representative input row…];
 * expressions above read grouped columns from the representative row (equal within a group).
 */
export class AggregateNode extends PlanNode {
  readonly name: string;
  constructor(
    readonly child: PlanNode,
    readonly groups: Compiled[],
    readonly groupTypes: SqlType[],
    readonly aggs: AggSpec[],
    groupText: string[],
    /** GROUP BY () or no GROUP BY: one row even for no input. */
    readonly whole: boolean,
  ) {
    super([...aggs.map((a) => ({ name: a.fn, type: a.type, rel: null })), ...child.cols]);
    this.children = [child];
    this.name = whole ? 'Aggregate' : 'HashAggregate';
    if (!whole) this.details = [`Group Key: ${groupText.join(', ')}`];
    this.estRows = whole ? 1 : Math.max(1, Math.round(child.estRows / 10));
  }
  protected exec(env: Env): Row[] {
    const input = this.child.run(env);
    const width = this.child.cols.length;
    const simple = this.aggs.every((a) => !a.distinct && a.filter === null && a.order.length === 0);
    if (this.whole) {
      const rep = input.length > 0 ? input[0] : new Array<Value>(width).fill(null);
      return [[...this.aggs.map((a) => aggregateRows(a, input, env)), ...rep]];
    }
    const groups = new Map<string | number, { rep: Row; rows: Row[]; accs: Acc[] | null }>();
    let n = 0;
    for (const row of input) {
      if ((++n & 4095) === 0) env.check();
      const key = groupKey(
        this.groups.map((g) => g(row, env)),
        this.groupTypes,
      );
      let g = groups.get(key);
      if (g === undefined) {
        g = { rep: row, rows: [], accs: simple ? this.aggs.map((a) => makeAcc(a)) : null };
        groups.set(key, g);
      }
      if (g.accs !== null) {
        for (let i = 0; i < this.aggs.length; i++) g.accs[i].add(this.aggs[i].args.map((f) => f(row, env)));
      } else g.rows.push(row);
    }
    const out: Row[] = [];
    for (const g of groups.values()) {
      const vals = g.accs !== null ? g.accs.map((a) => a.result()) : this.aggs.map((a) => aggregateRows(a, g.rows, env));
      out.push([...vals, ...g.rep]);
    }
    return out;
  }
}

// ---- sort, limit, distinct ----

export function rowComparator(keys: readonly SortKey[], env: Env): (a: { k: Value[] }, b: { k: Value[] }) => number {
  return (a, b) => {
    for (let i = 0; i < keys.length; i++) {
      const x = a.k[i];
      const y = b.k[i];
      const key = keys[i];
      let c: number;
      if (x === null || y === null) {
        if (x === null && y === null) continue;
        c = x === null ? (key.nullsFirst ? -1 : 1) : key.nullsFirst ? 1 : -1;
        return c;
      }
      c = compareValues(x, y, key.type);
      if (c !== 0) return key.desc ? -c : c;
    }
    void env;
    return 0;
  };
}

export function sortRows(rows: Row[], keys: readonly SortKey[], env: Env): Row[] {
  const decorated = rows.map((r, i) => ({ r, i, k: keys.map((key) => key.f(r, env)) }));
  const cmp = rowComparator(keys, env);
  decorated.sort((a, b) => cmp(a, b) || a.i - b.i);
  return decorated.map((d) => d.r);
}

export class SortNode extends PlanNode {
  readonly name = 'Sort';
  constructor(
    readonly child: PlanNode,
    readonly keys: SortKey[],
  ) {
    super(child.cols);
    this.children = [child];
    this.details = [`Sort Key: ${keys.map((k) => `${k.text}${k.desc ? ' DESC' : ''}${k.nullsFirst !== k.desc ? (k.nullsFirst ? ' NULLS FIRST' : ' NULLS LAST') : ''}`).join(', ')}`];
    this.estRows = child.estRows;
  }
  protected exec(env: Env): Row[] {
    return sortRows(this.child.run(env), this.keys, env);
  }
}

export class LimitNode extends PlanNode {
  readonly name = 'Limit';
  constructor(
    readonly child: PlanNode,
    readonly limit: Compiled | null,
    readonly offset: Compiled | null,
  ) {
    super(child.cols);
    this.children = [child];
    this.estRows = child.estRows;
  }
  protected exec(env: Env): Row[] {
    const count = (f: Compiled | null, what: string): number | null => {
      if (f === null) return null;
      const v = f([], env);
      if (v === null) return null;
      const n = Number(v);
      if (n < 0) throw sqlError(what === 'LIMIT' ? '2201W' : '2201X', `${what} must not be negative`);
      return n;
    };
    const lim = count(this.limit, 'LIMIT');
    const off = count(this.offset, 'OFFSET') ?? 0;
    const rows = this.child.run(env);
    return rows.slice(off, lim === null ? undefined : off + lim);
  }
}

/** DISTINCT (on: null → all columns) / DISTINCT ON (first row of each key, in input order). */
export class DistinctNode extends PlanNode {
  readonly name = 'Unique';
  constructor(
    readonly child: PlanNode,
    readonly on: Compiled[] | null,
    readonly onTypes: SqlType[] | null,
    /** Columns compared by plain DISTINCT (the visible ones; junk order-by columns excluded). */
    readonly visible: number,
  ) {
    super(child.cols);
    this.children = [child];
    this.estRows = child.estRows;
  }
  protected exec(env: Env): Row[] {
    const seen = new Set<string | number>();
    const out: Row[] = [];
    const types = this.onTypes ?? this.child.cols.slice(0, this.visible).map((c) => c.type);
    for (const row of this.child.run(env)) {
      const vals = this.on === null ? row.slice(0, this.visible) : this.on.map((f) => f(row, env));
      const k = groupKey(vals, types);
      if (seen.has(k)) continue;
      seen.add(k);
      out.push(row);
    }
    return out;
  }
}

export class SetOpNode extends PlanNode {
  readonly name: string;
  constructor(
    readonly op: 'union' | 'intersect' | 'except',
    readonly all: boolean,
    readonly left: PlanNode,
    readonly right: PlanNode,
    cols: ColInfo[],
    readonly leftCasts: Compiled[] | null,
    readonly rightCasts: Compiled[] | null,
  ) {
    super(cols);
    this.children = [left, right];
    this.name = op === 'union' ? (all ? 'Append' : 'HashSetOp Union') : `HashSetOp ${op === 'intersect' ? 'Intersect' : 'Except'}${all ? ' All' : ''}`;
    this.estRows = left.estRows + right.estRows;
  }
  protected exec(env: Env): Row[] {
    const conv = (rows: Row[], casts: Compiled[] | null): Row[] => (casts === null ? rows : rows.map((r) => casts.map((f) => f(r, env))));
    const L = conv(this.left.run(env), this.leftCasts);
    const R = conv(this.right.run(env), this.rightCasts);
    const types = this.cols.map((c) => c.type);
    const key = (r: Row): string | number => groupKey(r, types);
    if (this.op === 'union') {
      if (this.all) return [...L, ...R];
      const seen = new Set<string | number>();
      const out: Row[] = [];
      for (const r of [...L, ...R]) {
        const k = key(r);
        if (!seen.has(k)) {
          seen.add(k);
          out.push(r);
        }
      }
      return out;
    }
    const counts = new Map<string | number, number>();
    for (const r of R) counts.set(key(r), (counts.get(key(r)) ?? 0) + 1);
    const out: Row[] = [];
    const emitted = new Set<string | number>();
    for (const r of L) {
      const k = key(r);
      const c = counts.get(k) ?? 0;
      if (this.op === 'intersect') {
        if (c > 0) {
          if (this.all) {
            counts.set(k, c - 1);
            out.push(r);
          } else if (!emitted.has(k)) {
            emitted.add(k);
            out.push(r);
          }
        }
      } else if (this.all) {
        if (c > 0) counts.set(k, c - 1);
        else out.push(r);
      } else if (c === 0 && !emitted.has(k)) {
        emitted.add(k);
        out.push(r);
      }
    }
    return out;
  }
}

/** A CTE's rows, computed once per statement and read by every reference. */
export class CteScanNode extends PlanNode {
  readonly name: string;
  constructor(
    readonly cte: { plan: PlanNode | null; name: string },
    cols: ColInfo[],
  ) {
    super(cols);
    this.name = `CTE Scan on ${cte.name}`;
  }
  protected exec(env: Env): Row[] {
    const plan = this.cte.plan;
    if (plan === null) throw new Error('assertion failed: a CTE without a plan');
    const hit = env.subCache.get(plan);
    if (hit !== undefined) return hit;
    const rows = plan.run(env);
    env.subCache.set(plan, rows);
    return rows;
  }
}

/** The rows of the recursive CTE's previous iteration (what its recursive term reads). */
export class WorkTableNode extends PlanNode {
  readonly name: string;
  current: Row[] = [];
  constructor(name: string, cols: ColInfo[]) {
    super(cols);
    this.name = `WorkTable Scan on ${name}`;
  }
  protected exec(): Row[] {
    return this.current;
  }
}

/** WITH RECURSIVE: the non-recursive term, then the recursive term over the last iteration's rows until none. */
export class RecursiveUnionNode extends PlanNode {
  readonly name = 'Recursive Union';
  constructor(
    readonly base: PlanNode,
    readonly step: PlanNode,
    readonly work: WorkTableNode,
    readonly all: boolean,
    cols: ColInfo[],
    readonly rowsMax: number,
  ) {
    super(cols);
    this.children = [base, step];
  }
  protected exec(env: Env): Row[] {
    const types = this.cols.map((c) => c.type);
    const seen = this.all ? null : new Set<string | number>();
    const out: Row[] = [];
    const keep = (rows: Row[]): Row[] => {
      if (seen === null) return rows;
      const fresh: Row[] = [];
      for (const r of rows) {
        const k = groupKey(r, types);
        if (!seen.has(k)) {
          seen.add(k);
          fresh.push(r);
        }
      }
      return fresh;
    };
    let current = keep(this.base.run(env));
    while (current.length > 0) {
      env.check();
      out.push(...current);
      if (out.length > this.rowsMax) throw sqlError('54000', `WITH RECURSIVE produced more than ${this.rowsMax} rows (the statement's row limit); add a stop condition`);
      this.work.current = current;
      // The step's subquery caches must not keep the previous iteration's rows.
      clearCaches(this.step, env);
      current = keep(this.step.run(env));
    }
    return out;
  }
}

function clearCaches(node: PlanNode, env: Env): void {
  env.subCache.delete(node);
  for (const c of node.children) clearCaches(c, env);
}

/** A correlated-free helper for IN (subquery) turned semi join: compares with `=` of the resolved types. */
export type EqImpl = OperatorImpl;
