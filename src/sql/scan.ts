// Tables as SQL relations: the columns SQL sees (types as declared in SQL, or
// mapped from the table's own types), and the scan that fetches rows from the
// shards with the query's pushed filter (a `where` predicate the shards apply
// with zone-map, bloom and index pruning), only the columns the query reads,
// and, for a single-table aggregate whose filter went down whole, the
// aggregation itself (partial aggregates per shard, merged by TableService).

import type { Cell, ColumnDef, DerivedExpr, Predicate, TableInfo, AggregateSpec } from '../../shared/tables/table-types.js';
import { pinnedPartitions, type TableQuery, type TableService } from '../tables/table-service.js';
import { chooseIndex } from '../../workers/tables/table-index.js';
import { compile, exprText, type Env, type Expr } from './ir.js';
import { PrefetchedNode, type AggSpec, type ColInfo, type PlanNode, type Row } from './plan.js';
import type { ScanHandle, SqlRelation } from './binder.js';
import { Jsonb, type SqlType, type Value } from './sql-types.js';

/** Per statement: its deadline and transaction (scans read at the transaction's snapshot). */
export type StatementContext = { deadlineMs: number; txn: string | null; shardsTouched: number };

/** The name of the hidden key column of tables created without a PRIMARY KEY. */
export const ROWID = '_rowid';

/** The SQL type of a table column. */
export function sqlTypeOf(col: ColumnDef): SqlType {
  if (col.sqlType !== undefined) {
    if (col.sqlType === 'rowid') return 'int8';
    return typmodOf(col.sqlType).type;
  }
  if (col.cqlType !== undefined) {
    switch (col.cqlType) {
      case 'int':
        return 'int4';
      case 'smallint':
      case 'tinyint':
        return 'int2';
      case 'float':
        return 'float4';
      case 'uuid':
      case 'timeuuid':
        return 'uuid';
      case 'date':
        return 'date';
      default:
        break;
    }
  }
  switch (col.type) {
    case 'int64':
      return 'int8';
    case 'float64':
      return 'float8';
    case 'string':
      return 'text';
    case 'boolean':
      return 'bool';
    case 'timestamp':
      return 'timestamptz';
    case 'binary':
      return 'bytea';
  }
}

/**
 * A column's declared SQL type with its modifier: `varchar(20)` → text, length 20;
 * `numeric(15,2)` → numeric, scale 2.
 */
export function typmodOf(sqlType: string): { type: SqlType; length: number | null; scale: number | null; precision: number | null } {
  const m = /^([a-z0-9_ ]+)\((\d+)(?:,(\d+))?\)$/.exec(sqlType);
  if (m === null) return { type: sqlType as SqlType, length: null, scale: null, precision: null };
  const type = m[1] as SqlType;
  if (type === 'numeric') return { type, length: null, scale: m[3] === undefined ? 0 : Number(m[3]), precision: Number(m[2]) };
  return { type: 'text', length: Number(m[2]), scale: null, precision: null };
}

/** A stored cell as a SQL value of the column's type. */
export function cellToValue(cell: Cell, type: SqlType): Value {
  if (cell === null) return null;
  if (type === 'jsonb' && typeof cell === 'string') return new Jsonb(JSON.parse(cell) as unknown);
  if (type === 'float4' || type === 'float8' || type === 'numeric') return typeof cell === 'bigint' ? Number(cell) : cell;
  // SQL timestamps are µs as doubles: past ±2^53 µs (years before 1685 or after 2254) stored cells are bigints.
  if ((type === 'timestamptz' || type === 'timestamp' || type === 'date') && typeof cell === 'bigint') return Number(cell);
  return cell;
}

export class TableRelation implements SqlRelation {
  readonly name: string;
  readonly cols: { name: string; type: SqlType; hidden: boolean }[];
  constructor(
    readonly info: TableInfo,
    private readonly service: TableService,
    private readonly stmt: StatementContext,
    private readonly scans: TableScan[],
    private readonly rowsEstimate: number,
  ) {
    this.name = info.name;
    this.cols = info.columns.map((c) => ({ name: c.name, type: sqlTypeOf(c), hidden: c.sqlType === 'rowid' }));
  }
  makeScan(alias: string): ScanHandle {
    const scan = new TableScan(this.info, this.service, this.stmt, alias, this.cols.map((c) => ({ name: c.name, type: c.type, rel: alias, hidden: c.hidden })), this.rowsEstimate);
    this.scans.push(scan);
    return scan;
  }
}

/** Past this many keys an IN list on the primary key scans instead of reading key by key. */
const KEY_LOOKUPS_MAX = 1000;
/** A pushed ORDER BY … LIMIT keeps at most this many rows per shard (larger windows scan everything). */
const TOP_N_MAX = 100_000;
/** A runtime filter carries at most this many key values (more: the scan goes without it). */
const RUNTIME_IN_MAX = 250_000;

type Pushed = { readonly expr: Expr; readonly build: (env: Env) => Predicate };

export class TableScan implements ScanHandle {
  readonly node: PrefetchedNode;
  readonly needed = new Set<number>();
  private readonly pushed: Pushed[] = [];
  private readonly types: SqlType[];
  private topN: { keys: { col: number; desc: boolean }[]; window: (row: Row, env: Env) => Value } | null = null;
  private aggregate: { groups: number[]; aggs: AggregateSpec[]; derived: DerivedExpr[]; finish: (rows: Row[]) => Row[] } | null = null;
  constructor(
    readonly info: TableInfo,
    private readonly service: TableService,
    private readonly stmt: StatementContext,
    readonly alias: string,
    cols: ColInfo[],
    rowsEstimate: number,
  ) {
    this.types = cols.map((c) => c.type);
    this.node = new PrefetchedNode(`Shard Scan on ${info.name}${alias !== info.name ? ` ${alias}` : ''}`, cols, (env) => this.fetch(env));
    // Columns the query does not read are not fetched: only the read ones count.
    this.node.rowBytes = () => Math.max(1, this.needed.size) * 16 + 48;
    this.node.estRows = rowsEstimate;
  }

  need(col: number): void {
    this.needed.add(col);
  }

  isKey(col: number): boolean {
    return this.info.primaryKey.length === 1 && this.info.columns[col]?.name === this.info.primaryKey[0];
  }

  push(conj: Expr): boolean {
    const build = this.predicateOf(conj);
    if (build === null) return false;
    this.pushed.push({ expr: conj, build });
    // PostgreSQL's default selectivities: 0.005 for equality, 1/3 for a range; a whole key: one row.
    const eq = conj.k === 'op' && conj.op === '=';
    const keyEq = eq && conj.args.some((a) => a.k === 'col' && this.info.primaryKey.length === 1 && this.info.columns[a.idx]?.name === this.info.primaryKey[0]);
    this.node.estRows = keyEq ? 1 : Math.max(1, Math.round(this.node.estRows * (eq ? 0.005 : 0.33)));
    this.describe();
    return true;
  }

  private describe(): void {
    const names = (i: number): string => this.info.columns[i].name;
    const lines: string[] = [];
    if (this.pushed.length > 0) lines.push(`Pushed Filter: ${this.pushed.map((p) => exprText(p.expr, names)).join(' AND ')}`);
    if (this.aggregate !== null) {
      const w = this.info.columns.length;
      const derivedText = (d: DerivedExpr): string => (d.op === 'col' ? names(d.col) : d.op === 'const' ? String(d.value) : `(${derivedText(d.a)} ${d.op} ${derivedText(d.b)})`);
      const argText = (col: number | null): string => (col === null ? '*' : col >= w ? derivedText((this.aggregate as { derived: DerivedExpr[] }).derived[col - w]) : names(col));
      lines.push(`Pushed Aggregate: ${this.aggregate.aggs.map((a) => `${a.fn}(${argText(a.col)})`).join(', ')}`);
      if (this.aggregate.groups.length > 0) lines.push(`Group Key: ${this.aggregate.groups.map(names).join(', ')}`);
    }
    this.node.details = lines;
  }

  /** Set by the binder: fetch after `source` ran, with `col IN (its key values)` added to the filter. */
  runtime: { col: number; source: PlanNode; key: (row: Row, env: Env) => Value; text: string } | null = null;

  runtimeIn(col: number, source: PlanNode, key: (row: Row, env: Env) => Value, keyText: string): void {
    if (this.runtime !== null || !this.pushableType(col)) return;
    const t = this.types[col];
    if (t === 'float4' || t === 'float8' || t === 'numeric') return;
    this.runtime = { col, source, key, text: keyText };
    this.need(col);
    this.node.details.push(`Runtime Filter: ${this.info.columns[col].name} IN (${keyText} of the join's other input)`);
  }

  /** The runtime filter's predicate: the source's distinct keys (null: too many, scan without). */
  runtimePredicate(env: Env): Predicate | null {
    const r = this.runtime;
    if (r === null) return null;
    const rows = r.source.run(env);
    r.source.memo = rows;
    const seen = new Set<unknown>();
    const values: Cell[] = [];
    for (const row of rows) {
      const v = r.key(row, env);
      if (v === null) continue;
      const k = typeof v === 'bigint' ? `${v}n` : v;
      if (seen.has(k)) continue;
      seen.add(k);
      values.push(this.cellOf(v, r.col));
      if (values.length > RUNTIME_IN_MAX) return null;
    }
    return { col: r.col, op: 'in', value: values };
  }

  pushTopN(keys: { col: number; desc: boolean }[], window: (row: Row, env: Env) => Value): void {
    this.topN = { keys, window };
    for (const k of keys) this.need(k.col);
    this.node.details.push(`Pushed Top-N: ${keys.map((k) => `${this.info.columns[k.col].name}${k.desc ? ' DESC' : ''}`).join(', ')}`);
  }

  /** A conjunct the shards can apply as a `where` predicate (values from constants or parameters), or null. */
  private predicateOf(e: Expr): ((env: Env) => Predicate) | null {
    const valueOf = (x: Expr): ((env: Env) => Value) | null => {
      if (x.k === 'const' || x.k === 'param') {
        const f = compile(x);
        return (env) => f([], env);
      }
      return null;
    };
    const colOf = (x: Expr): number | null => (x.k === 'col' && this.pushableType(x.idx) ? x.idx : null);
    switch (e.k) {
      case 'and':
      case 'or': {
        const parts = e.args.map((a) => this.predicateOf(a));
        if (parts.some((p) => p === null)) return null;
        const ps = parts as ((env: Env) => Predicate)[];
        return e.k === 'and' ? (env) => ({ and: ps.map((p) => p(env)) }) : (env) => ({ or: ps.map((p) => p(env)) });
      }
      case 'isnull': {
        const col = colOf(e.arg);
        if (col === null) return null;
        return () => ({ col, op: e.neg ? 'is_not_null' : 'is_null' });
      }
      case 'op': {
        if (e.args.length !== 2) return null;
        const ops: Record<string, '=' | '!=' | '<' | '<=' | '>' | '>='> = { '=': '=', '<>': '!=', '!=': '!=', '<': '<', '<=': '<=', '>': '>', '>=': '>=' };
        const flip: Record<string, '=' | '!=' | '<' | '<=' | '>' | '>='> = { '=': '=', '!=': '!=', '<': '>', '<=': '>=', '>': '<', '>=': '<=' };
        if (e.op === '~~') {
          const col = colOf(e.args[0]);
          const pat = e.args[1];
          if (col === null || pat.k !== 'const' || typeof pat.value !== 'string') return null;
          const m = /^([^%_\\]*)%$/.exec(pat.value);
          if (m === null || this.types[col] !== 'text') return null;
          const prefix = m[1];
          return () => ({ col, op: 'starts_with', value: prefix });
        }
        const op = ops[e.op];
        if (op === undefined) return null;
        let col = colOf(e.args[0]);
        let val = valueOf(e.args[1]);
        let theOp = op;
        if (col === null || val === null) {
          col = colOf(e.args[1]);
          val = valueOf(e.args[0]);
          theOp = flip[op];
        }
        if (col === null || val === null) return null;
        const side = e.args[0].k === 'col' ? e.args[1] : e.args[0];
        if (!this.sameStorage(this.types[col], side.type)) return null;
        const c = col;
        const v = val;
        const o = theOp;
        return (env) => {
          const value = v(env);
          if (value === null) return { col: c, op: 'in', value: [] };
          return { col: c, op: o, value: this.cellOf(value, c) };
        };
      }
      case 'in': {
        if (e.neg) return null;
        const col = colOf(e.arg);
        if (col === null) return null;
        const vals = e.list.map(valueOf);
        if (vals.some((v) => v === null) || e.list.some((x) => !this.sameStorage(this.types[col], x.type))) return null;
        const vs = vals as ((env: Env) => Value)[];
        return (env) => ({ col, op: 'in', value: vs.map((v) => v(env)).filter((v) => v !== null).map((v) => this.cellOf(v, col)) });
      }
      default:
        return null;
    }
  }

  private pushableType(col: number): boolean {
    const t = this.types[col];
    return t !== 'bytea' && t !== 'jsonb' && t !== 'interval';
  }

  /** Values of this type compare on the shard exactly as SQL compares them with the column. */
  private sameStorage(colType: SqlType, valueType: SqlType): boolean {
    const ints = (t: SqlType): boolean => t === 'int2' || t === 'int4' || t === 'int8';
    if (ints(colType)) return ints(valueType);
    if (colType === 'float8' || colType === 'float4' || colType === 'numeric') return valueType === colType;
    if (colType === 'text' || colType === 'uuid') return valueType === colType;
    return valueType === colType;
  }

  private cellOf(v: Value, col: number): Cell {
    const t = this.types[col];
    if ((t === 'timestamptz' || t === 'timestamp' || t === 'date') && typeof v === 'number' && !Number.isSafeInteger(v)) {
      // Stored timestamps are int64 µs: a bound past ±2^53 is a bigint, an infinite one the int64 end.
      if (v === Infinity) return 2n ** 63n - 1n;
      if (v === -Infinity) return -(2n ** 63n);
      return BigInt(Math.round(v));
    }
    if (typeof v === 'object' && v !== null && !(v instanceof Uint8Array)) return String(v);
    return v as Cell;
  }

  pushAggregate(groups: Expr[], _aggs: AggSpec[], raw: { fn: string; arg: Expr | null; star: boolean; distinct: boolean; filter: boolean; order: boolean }[]): PlanNode | null {
    const groupCols: number[] = [];
    for (const g of groups) {
      if (g.k !== 'col') return null;
      groupCols.push(g.idx);
    }
    // Each SQL aggregate → shard aggregates (avg: sum and count) and how to finish it.
    const specs: AggregateSpec[] = [];
    const finishers: ((row: Row, base: number) => Value)[] = [];
    const derived: DerivedExpr[] = [];
    const width = this.types.length;
    for (const a of raw) {
      if (a.distinct || a.filter || a.order) return null;
      let col: number | null = null;
      let t: SqlType | null = null;
      if (a.arg !== null && a.arg.k === 'col') {
        col = a.arg.idx;
        t = this.types[col];
      } else if (a.arg !== null) {
        // An arithmetic expression of float/numeric type: computed on the shards as a derived column.
        const d = a.fn === 'count' || a.fn === 'min' || a.fn === 'max' ? null : this.derivedOf(a.arg);
        if (d === null) return null;
        col = width + derived.length;
        derived.push(d);
        t = 'float8';
      }
      const at = specs.length;
      switch (a.fn) {
        case 'count':
          specs.push({ fn: 'count', col, as: `a${at}` });
          finishers.push((row, base) => Number(row[base + at] ?? 0));
          break;
        case 'sum':
        case 'avg': {
          if (t === null || !['int2', 'int4', 'int8', 'float4', 'float8', 'numeric'].includes(t)) return null;
          const isInt = t === 'int2' || t === 'int4' || t === 'int8';
          specs.push({ fn: 'sum', col, as: `a${at}` });
          if (a.fn === 'sum') {
            finishers.push((row, base) => {
              const v = row[base + at];
              if (v === null || v === undefined) return null;
              if (typeof v === 'string') return Number(v);
              return t === 'int8' ? Number(v) : v;
            });
          } else {
            specs.push({ fn: 'count', col, as: `a${at + 1}` });
            finishers.push((row, base) => {
              const s = row[base + at];
              const n = Number(row[base + at + 1] ?? 0);
              if (s === null || s === undefined || n === 0) return null;
              return (isInt ? Number(s) : (s as number)) / n;
            });
          }
          break;
        }
        case 'min':
        case 'max':
          if (t === null || t === 'bytea' || t === 'jsonb') return null;
          specs.push({ fn: a.fn, col, as: `a${at}` });
          finishers.push((row, base) => cellToValue(row[base + at] as Cell, t));
          break;
        default:
          return null;
      }
    }
    const nGroups = groupCols.length;
    const whole = groups.length === 0;
    this.aggregate = {
      groups: groupCols,
      aggs: specs,
      derived,
      finish: (rows) => {
        if (whole && rows.length === 0) rows = [new Array<Value>(specs.length).fill(null)];
        return rows.map((r) => {
          const rep = new Array<Value>(width).fill(null);
          groupCols.forEach((c, i) => (rep[c] = cellToValue(r[i] as Cell, this.types[c])));
          return [...finishers.map((f) => f(r, nGroups)), ...rep];
        });
      },
    };
    const aggCols: ColInfo[] = raw.map((a) => ({ name: a.fn, type: 'numeric', rel: null }));
    const node = this.node;
    (node as { cols: ColInfo[] }).cols = [...aggCols, ...node.cols];
    node.estRows = whole ? 1 : Math.max(1, Math.round(node.estRows / 10));
    this.describe();
    return node;
  }

  /** The runtime filter computed for this statement (set by the executor before the fetch). */
  runtimeWhere: Predicate | null = null;

  private where(env: Env): Predicate | null {
    const parts = this.pushed.map((p) => p.build(env));
    if (this.runtimeWhere !== null) parts.push(this.runtimeWhere);
    return parts.length === 0 ? null : parts.length === 1 ? parts[0] : { and: parts };
  }

  /** For EXPLAIN: the access path the shards will choose for the pushed filter (the same planner call). */
  explainAccess(env: Env): void {
    if (this.aggregate !== null && this.pushed.length === 0) return;
    let where: Predicate | null;
    try {
      where = this.where(env);
    } catch {
      return;
    }
    const label = `${this.info.name}${this.alias !== this.info.name ? ` ${this.alias}` : ''}`;
    const pinned = pinnedPartitions(this.info, where);
    const keyed = pinned !== null && this.info.partitionKeyLength === this.info.primaryKey.length;
    const index = keyed ? null : chooseIndex(this.info, where, null);
    if (index !== null) {
      (this.node as { name: string }).name = `Shard Index Scan using ${index.index.name} on ${label}`;
    } else if (keyed) {
      (this.node as { name: string }).name = `Shard Key Lookup on ${label}`;
    }
    if (pinned !== null) this.node.details.push(`Partitions: ${pinned.length} (pinned by the primary key)`);
  }

  /** The keys to read when every pushed conjunct is an equality (or IN) on a primary-key column and they pin whole keys. */
  private keyLookup(where: Predicate | null): Cell[][] | null {
    if (where === null || this.aggregate !== null || this.info.partitionKeyLength !== this.info.primaryKey.length) return null;
    const keyCols = new Set(this.info.primaryKey.map((k) => this.info.columns.findIndex((c) => c.name === k)));
    const parts = 'and' in where ? where.and : [where];
    if (!parts.every((p) => 'col' in p && keyCols.has(p.col) && (p.op === '=' || p.op === 'in'))) return null;
    // One condition per key column: the keys are then exactly the filter (a second condition on a
    // column, id = 1 AND id = 2, goes to the shards as a filter instead).
    const cols = parts.map((p) => (p as { col: number }).col);
    if (new Set(cols).size !== cols.length || cols.length !== keyCols.size) return null;
    const keys = pinnedPartitions(this.info, where);
    if (keys === null || keys.length > KEY_LOOKUPS_MAX) return null;
    const seen = new Set<string>();
    return keys.filter((k) => {
      const id = JSON.stringify(k, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
      if (seen.has(id)) return false;
      seen.add(id);
      return true;
    });
  }

  /** The scan's `query`: every matching row in any order, or (a pushed top-N) the first `window` rows in order. */
  private topQuery(cols: number[], where: Predicate | null, env: Env): TableQuery {
    const base: TableQuery = { columns: cols, where, groupBy: [], aggregates: [], orderBy: [], limit: 0, offset: 0, after: null, hint: null, unordered: true };
    if (this.topN === null) return base;
    const w = this.topN.window([], env);
    if (w === null || typeof w !== 'number' || !Number.isFinite(w) || w <= 0 || w > TOP_N_MAX) return base;
    return { ...base, orderBy: this.topN.keys, limit: w, unordered: false };
  }

  /** A float/numeric arithmetic expression over this table's numeric columns as a shard-side derived column. */
  private derivedOf(e: Expr): DerivedExpr | null {
    // float8/numeric only: the shards compute in doubles (a float4 result would need rounding).
    if (e.type !== 'float8' && e.type !== 'numeric') return null;
    const walk = (x: Expr): DerivedExpr | null => {
      switch (x.k) {
        case 'col': {
          const t = this.types[x.idx];
          // float4 values are stored float4-exact: read as doubles (a float8 cast) they are the same.
          return t === 'float8' || t === 'float4' || t === 'numeric' || t === 'int2' || t === 'int4' || t === 'int8' ? { op: 'col', col: x.idx } : null;
        }
        case 'const':
          return typeof x.value === 'number' && Number.isFinite(x.value) ? { op: 'const', value: x.value } : null;
        case 'cast':
          return x.type === 'float8' || x.type === 'numeric' ? walk(x.arg) : null;
        case 'op': {
          if (x.args.length !== 2 || (x.op !== '+' && x.op !== '-' && x.op !== '*')) return null;
          if (x.type !== 'float8' && x.type !== 'numeric') return null;
          const a = walk(x.args[0]);
          const b = walk(x.args[1]);
          return a === null || b === null ? null : { op: x.op, a, b };
        }
        default:
          return null;
      }
    };
    return walk(e);
  }

  private async fetch(env: Env): Promise<Row[]> {
    const where = this.where(env);
    const t0 = performance.now();
    if (this.aggregate !== null) {
      const r = await this.service.query(
        this.info.name,
        { columns: [], where, groupBy: this.aggregate.groups, aggregates: this.aggregate.aggs, derived: this.aggregate.derived, orderBy: [], limit: 0, offset: 0, after: null, hint: null },
        this.stmt.deadlineMs,
        this.stmt.txn,
      );
      this.node.shardInfo = [`Shards: ${r.stats.shards}  Plan: ${r.stats.plan}  Rows Scanned: ${r.stats.rows_scanned}  Segments: ${r.stats.segments_scanned} scanned, ${r.stats.segments_pruned} pruned  Fetch: ${(performance.now() - t0).toFixed(3)} ms`];
      this.stmt.shardsTouched += r.stats.shards;
      return this.aggregate.finish(r.rows as Row[]);
    }
    const byKey = this.keyLookup(where);
    if (byKey !== null) {
      const found = await this.service.get(this.info.name, byKey, this.stmt.deadlineMs, this.stmt.txn);
      this.node.shardInfo = [`Key Lookups: ${byKey.length}  Found: ${found.filter((r) => r !== null).length}  Fetch: ${(performance.now() - t0).toFixed(3)} ms`];
      const types = this.types;
      return found.filter((r): r is Cell[] => r !== null).map((r) => r.map((c, i) => cellToValue(c, types[i])));
    }
    const cols = [...this.needed].sort((a, b) => a - b);
    if (cols.length === 0) cols.push(this.info.columns.findIndex((c) => c.name === this.info.primaryKey[0]));
    const r = await this.service.query(
      this.info.name,
      this.topQuery(cols, where, env),
      this.stmt.deadlineMs,
      this.stmt.txn,
    );
    this.node.shardInfo = [`Shards: ${r.stats.shards}  Plan: ${r.stats.plan}  Rows Scanned: ${r.stats.rows_scanned}  Segments: ${r.stats.segments_scanned} scanned, ${r.stats.segments_pruned} pruned  Fetch: ${(performance.now() - t0).toFixed(3)} ms`];
    this.stmt.shardsTouched += r.stats.shards;
    const width = this.types.length;
    const types = this.types;
    // Stored cells are SQL values as they are, but for jsonb (stored as JSON text).
    const plain = cols.every((c) => types[c] !== 'jsonb');
    const template: Row = new Array<Value>(width).fill(null);
    const timeCol = cols.map((c) => types[c] === 'timestamptz' || types[c] === 'timestamp' || types[c] === 'date');
    const out: Row[] = new Array<Row>(r.rows.length);
    const n = cols.length;
    for (let i = 0; i < r.rows.length; i++) {
      const src = r.rows[i];
      const row: Row = template.slice();
      if (plain) {
        for (let j = 0; j < n; j++) {
          const v = src[j];
          // Timestamps past ±2^53 µs come as bigints: SQL holds them as doubles.
          row[cols[j]] = typeof v === 'bigint' && timeCol[j] ? Number(v) : (v as Value);
        }
      }
      else for (let j = 0; j < n; j++) row[cols[j]] = cellToValue(src[j], types[cols[j]]);
      out[i] = row;
    }
    return out;
  }
}
