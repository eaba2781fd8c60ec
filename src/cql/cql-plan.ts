// Cassandra's statement rules on a MantisDB table, without touching data:
// the WHERE clause of a SELECT (the partition key restricted by = / IN, the
// clustering columns as a prefix of = / IN with at most one range on the last
// restricted one, or an indexed column with =; anything else needs ALLOW
// FILTERING), ORDER BY on clustering columns of a pinned partition, the
// selection (columns, COUNT(*), aggregates, DISTINCT, GROUP BY on a
// primary-key prefix), and the full primary keys UPDATE and DELETE address.
// Errors are Invalid with Cassandra's messages. The executor (cql-exec.ts)
// runs what this plans.

import { MantisError } from '../../shared/errors.js';
import { tupleKey } from '../../shared/tables/cells.js';
import type { AggregateSpec, Cell, ColumnDef, ColumnType, OrderBy, Predicate, TableInfo } from '../../shared/tables/table-types.js';
import type { CqlCondition, CqlRelation, CqlTerm, Select } from './cql-ast.js';
import { cqlTypeOf, termToCell, termToInt, type TermContext } from './cql-types.js';

export const REQUIRES_ALLOW_FILTERING_MESSAGE =
  'Cannot execute this query as it might involve data filtering and thus may have unpredictable performance. ' +
  'If you want to execute this query despite the performance unpredictability, use ALLOW FILTERING';

/** The most primary keys one UPDATE or DELETE may address through IN lists (their cartesian product). */
export const KEY_COMBINATIONS_MAX = 10_000;
/** The most values an IN list may hold (the tables API's limit too). */
export const IN_LIST_MAX = 10_000;

export function invalid(message: string): MantisError {
  return new MantisError('Invalid', message);
}

// ---- the table as CQL sees it ----

export type ColumnKind = 'partition' | 'clustering' | 'regular';

export type CqlTable = {
  readonly info: TableInfo;
  readonly byName: ReadonlyMap<string, number>;
  /** Column position → its place in the primary key (absent: a regular column). */
  readonly keyPos: ReadonlyMap<number, number>;
  /** Column positions of the primary key, in key order. */
  readonly keys: readonly number[];
  readonly partitionCount: number;
};

const tables = new WeakMap<TableInfo, CqlTable>();

export function cqlTable(info: TableInfo): CqlTable {
  let t = tables.get(info);
  if (t === undefined) {
    const byName = new Map(info.columns.map((c, i) => [c.name, i] as const));
    const keys = info.primaryKey.map((k) => byName.get(k) as number);
    t = { info, byName, keys, keyPos: new Map(keys.map((c, i) => [c, i] as const)), partitionCount: info.partitionKeyLength };
    tables.set(info, t);
  }
  return t;
}

export function kindOf(t: CqlTable, col: number): ColumnKind {
  const k = t.keyPos.get(col);
  if (k === undefined) return 'regular';
  return k < t.partitionCount ? 'partition' : 'clustering';
}

export function columnOf(t: CqlTable, name: string): number {
  const at = t.byName.get(name);
  if (at === undefined) throw invalid(`Undefined column name ${name}`);
  return at;
}

/** SELECT *'s column order, as Cassandra shows it: partition key, clustering columns, then the other columns by name. */
export function starColumns(t: CqlTable): number[] {
  const regular = t.info.columns
    .map((_, i) => i)
    .filter((i) => !t.keyPos.has(i))
    .sort((a, b) => (t.info.columns[a].name < t.info.columns[b].name ? -1 : t.info.columns[a].name > t.info.columns[b].name ? 1 : 0));
  return [...t.keys, ...regular];
}

// ---- restrictions ----

type Bound = { readonly value: Cell; readonly inclusive: boolean };

/** What the WHERE clause says about one column (relations on a column are ANDed). */
export type Restriction = {
  readonly col: number;
  readonly name: string;
  eq: Cell | undefined;
  inList: Cell[] | null;
  lower: Bound | null;
  upper: Bound | null;
  notEqual: Cell[];
};

export function isEqOrIn(r: Restriction): boolean {
  return r.eq !== undefined || r.inList !== null;
}
export function isSlice(r: Restriction): boolean {
  return r.lower !== null || r.upper !== null;
}

function cellFor(term: CqlTerm, col: ColumnDef, ctx: TermContext, what: 'condition' | 'value'): Cell {
  const cell = termToCell(term, col, ctx);
  if (cell === null && what === 'condition') throw invalid(`Invalid null value in condition for column ${col.name}`);
  return cell;
}

function listFor(value: CqlTerm | readonly CqlTerm[], col: ColumnDef, ctx: TermContext): Cell[] {
  if (Array.isArray(value)) return (value as readonly CqlTerm[]).map((v) => cellFor(v, col, ctx, 'condition'));
  const term = value as CqlTerm;
  if (term.kind !== 'bind') throw invalid(`Invalid IN value for column ${col.name}: expected a list`);
  const list = ctx.params[term.index];
  if (!Array.isArray(list)) throw invalid(`Invalid value for bind variable in(${col.name}): expected a list`);
  return list.map((v) => cellFor({ kind: 'bind', index: 0, name: null, pos: term.pos }, col, { ...ctx, params: [v] }, 'condition'));
}

/** The WHERE clause's relations, per column position, checked the way Cassandra merges them. */
export function restrictionsOf(t: CqlTable, where: readonly CqlRelation[], ctx: TermContext): Map<number, Restriction> {
  const out = new Map<number, Restriction>();
  for (const rel of where) {
    const col = columnOf(t, rel.column);
    const def = t.info.columns[col];
    let r = out.get(col);
    if (r === undefined) {
      r = { col, name: def.name, eq: undefined, inList: null, lower: null, upper: null, notEqual: [] };
      out.set(col, r);
    }
    const hasEq = r.eq !== undefined;
    const hasIn = r.inList !== null;
    switch (rel.op) {
      case '=':
        if (hasEq || hasIn || isSlice(r)) throw invalid(`${def.name} cannot be restricted by more than one relation if it includes an Equal`);
        r.eq = cellFor(rel.value as CqlTerm, def, ctx, 'condition');
        break;
      case 'IN':
        if (hasEq) throw invalid(`${def.name} cannot be restricted by more than one relation if it includes an Equal`);
        if (hasIn || isSlice(r)) throw invalid(`${def.name} cannot be restricted by more than one relation if it includes a IN`);
        r.inList = dedupe(listFor(rel.value, def, ctx));
        if (r.inList.length > IN_LIST_MAX) throw invalid(`IN list for ${def.name} holds ${r.inList.length} values; the limit is ${IN_LIST_MAX}`);
        break;
      case '<':
      case '<=':
      case '>':
      case '>=': {
        if (hasEq) throw invalid(`${def.name} cannot be restricted by more than one relation if it includes an Equal`);
        if (hasIn) throw invalid(`${def.name} cannot be restricted by more than one relation if it includes a IN`);
        const bound = { value: cellFor(rel.value as CqlTerm, def, ctx, 'condition'), inclusive: rel.op.endsWith('=') };
        if (rel.op[0] === '>') {
          if (r.lower !== null) throw invalid(`More than one restriction was found for the start bound on ${def.name}`);
          r.lower = bound;
        } else {
          if (r.upper !== null) throw invalid(`More than one restriction was found for the end bound on ${def.name}`);
          r.upper = bound;
        }
        break;
      }
      case '!=':
        r.notEqual.push(cellFor(rel.value as CqlTerm, def, ctx, 'condition'));
        break;
      case 'CONTAINS':
      case 'CONTAINS KEY':
        throw invalid(`Cannot use ${rel.op} on non-collection column ${def.name}`);
      case 'LIKE':
        throw invalid(`LIKE restriction is only supported on properly indexed columns. ${def.name} LIKE ... is not valid.`);
      case 'IS NOT':
        throw invalid(`Unsupported restriction: ${def.name} IS NOT NULL`);
    }
  }
  return out;
}

/** An IN list without repeats (first occurrence kept), as Cassandra treats it. */
function dedupe(cells: Cell[]): Cell[] {
  const seen = new Set<string>();
  const out: Cell[] = [];
  for (const c of cells) {
    const k = tupleKey([c]);
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(c);
  }
  return out;
}

/** A restriction as predicate conjuncts on its column. */
export function predicatesOf(r: Restriction): Predicate[] {
  const out: Predicate[] = [];
  if (r.eq !== undefined) out.push({ col: r.col, op: '=', value: r.eq });
  if (r.inList !== null) out.push({ col: r.col, op: 'in', value: r.inList });
  if (r.lower !== null) out.push({ col: r.col, op: r.lower.inclusive ? '>=' : '>', value: r.lower.value });
  if (r.upper !== null) out.push({ col: r.col, op: r.upper.inclusive ? '<=' : '<', value: r.upper.value });
  for (const v of r.notEqual) out.push({ col: r.col, op: '!=', value: v });
  return out;
}

export function andOf(parts: Predicate[]): Predicate | null {
  if (parts.length === 0) return null;
  return parts.length === 1 ? parts[0] : { and: parts };
}

export function wherePredicate(restrictions: ReadonlyMap<number, Restriction>): Predicate | null {
  return andOf([...restrictions.values()].sort((a, b) => a.col - b.col).flatMap(predicatesOf));
}

// ---- SELECT ----

export type OutputColumn = {
  readonly name: string;
  /** Position in the rows the table service answers (projected columns, or [group-by…, aggregates…]). */
  readonly at: number;
  readonly type: ColumnType;
  /** avg over an integer column: Cassandra answers an integer (truncated). */
  readonly truncate: boolean;
  /** A timeuuid column's cell (stored in its time-ordered form, answered in the standard one). */
  readonly timeuuid?: boolean;
};

export type SelectPlan = {
  readonly columns: number[];
  readonly where: Predicate | null;
  readonly groupBy: number[];
  readonly aggregates: AggregateSpec[];
  readonly orderBy: OrderBy[];
  /** The statement's LIMIT (0: none). */
  readonly limit: number;
  /** PER PARTITION LIMIT (0: none): at most this many rows of each partition, in the order read. */
  readonly perPartitionLimit: number;
  readonly output: OutputColumn[];
  readonly aggregating: boolean;
  readonly json: boolean;
  /** Whether a ready index on a column restricted by = serves the query (for tests and explain). */
  readonly indexColumn: string | null;
  /**
   * The whole primary keys the WHERE names (every key column by = or IN, nothing else), at most
   * POINT_KEYS_MAX of them: the rows are read by key (point lookups) instead of a scan. null otherwise.
   */
  readonly keys: Cell[][] | null;
};

/** The most primary keys a SELECT reads by point lookups (more: a filtered scan). */
export const POINT_KEYS_MAX = 1000;

const INTEGER_CQL = new Set(['int', 'bigint', 'smallint', 'tinyint']);

/** Plans a SELECT: Cassandra's restrictions and ordering rules, then what the table service is asked. */
export function planSelect(s: Select, info: TableInfo, ctx: TermContext): SelectPlan {
  const t = cqlTable(info);
  const restrictions = restrictionsOf(t, s.where, ctx);
  const { keyRange, indexColumn } = checkRestrictions(t, restrictions, s.allowFiltering);
  const orderBy = planOrder(t, s, restrictions, keyRange, indexColumn !== null);
  let limit = 0;
  if (s.limit !== null) {
    limit = termToInt(s.limit, '[limit]', ctx);
    if (limit <= 0) throw invalid('LIMIT must be strictly positive');
  }
  let perPartitionLimit = 0;
  if (s.perPartitionLimit !== null) {
    perPartitionLimit = termToInt(s.perPartitionLimit, '[per_partition_limit]', ctx);
    if (perPartitionLimit <= 0) throw invalid('PER PARTITION LIMIT must be strictly positive');
  }
  const where = wherePredicate(restrictions);
  const sel = planSelection(t, s, restrictions);
  if (perPartitionLimit > 0 && sel.aggregating) throw invalid('PER PARTITION LIMIT is not allowed with aggregate queries.');
  return { ...sel, where, orderBy: sel.aggregating ? [] : orderBy, limit, perPartitionLimit, json: s.json, indexColumn, keys: pointKeys(t, restrictions) };
}

/** The full keys of a WHERE that names only whole primary keys by = / IN (see SelectPlan.keys). */
function pointKeys(t: CqlTable, rs: ReadonlyMap<number, Restriction>): Cell[][] | null {
  if (rs.size !== t.keys.length) return null;
  let tuples: Cell[][] = [[]];
  for (const c of t.keys) {
    const r = rs.get(c);
    if (r === undefined || isSlice(r) || r.notEqual.length > 0 || !isEqOrIn(r)) return null;
    const values = r.eq !== undefined ? [r.eq] : (r.inList as Cell[]);
    const next: Cell[][] = [];
    for (const tuple of tuples) for (const v of values) next.push([...tuple, v]);
    if (next.length > POINT_KEYS_MAX) return null;
    tuples = next;
  }
  return tuples;
}

/**
 * Cassandra's WHERE rules (StatementRestrictions): returns whether the query reads a range of
 * partitions, and the indexed column it may use; throws Invalid where Cassandra refuses.
 */
function checkRestrictions(t: CqlTable, rs: ReadonlyMap<number, Restriction>, allowFiltering: boolean): { keyRange: boolean; indexColumn: string | null } {
  const partition: Restriction[] = [];
  const clustering: Restriction[] = [];
  const regular: Restriction[] = [];
  for (const r of rs.values()) {
    const kind = kindOf(t, r.col);
    (kind === 'partition' ? partition : kind === 'clustering' ? clustering : regular).push(r);
  }
  clustering.sort((a, b) => (t.keyPos.get(a.col) as number) - (t.keyPos.get(b.col) as number));

  // A clustering column after one restricted by a range (checked as restrictions are added).
  if (!allowFiltering) {
    for (let i = 1; i < clustering.length; i++) {
      const prev = clustering[i - 1];
      if (isSlice(prev) || prev.notEqual.length > 0) {
        throw invalid(`Clustering column "${clustering[i].name}" cannot be restricted (preceding column "${prev.name}" is restricted by a non-EQ relation)`);
      }
    }
  }

  // The index that can serve: a ready btree/hash index whose first column is restricted by = alone.
  let indexColumn: string | null = null;
  for (const r of [...regular, ...clustering, ...partition]) {
    if (r.eq === undefined || isSlice(r) || r.notEqual.length > 0) continue;
    if (t.info.indexes.some((ix) => ix.state === 'ready' && ix.type !== 'bloom' && ix.columns[0] === r.name)) {
      indexColumn = r.name;
      break;
    }
  }
  const indexed = (r: Restriction): boolean => t.info.indexes.some((ix) => ix.state === 'ready' && ix.type !== 'bloom' && ix.columns[0] === r.name);

  // Partition key: all of it by = / IN, or none of it (a range of partitions).
  const partitionPinned = partition.length === t.partitionCount && partition.every((r) => isEqOrIn(r) && !isSlice(r) && r.notEqual.length === 0);
  const partial = partition.length > 0 && !partitionPinned;
  const keyRange = !partitionPinned;

  // Clustering columns: a prefix of = / IN, then at most one range.
  let clusteringNeedsFiltering = false;
  for (let i = 0; i < clustering.length; i++) {
    const r = clustering[i];
    const pos = (t.keyPos.get(r.col) as number) - t.partitionCount;
    if (pos !== i || r.notEqual.length > 0 || (i < clustering.length - 1 && !isEqOrIn(r))) clusteringNeedsFiltering = true;
  }

  // The index serves when the key alone cannot: a range of partitions, a filter on other columns, a gap.
  const usesIndex = indexColumn !== null && (keyRange || regular.length > 0 || clusteringNeedsFiltering);
  if (!allowFiltering) {
    if (partial && !usesIndex) throw invalid(REQUIRES_ALLOW_FILTERING_MESSAGE);
    if (clusteringNeedsFiltering && !usesIndex) {
      for (let i = 0; i < clustering.length; i++) {
        const expected = t.info.columns[t.keys[t.partitionCount + i]];
        if (clustering[i].name !== expected.name) {
          throw invalid(`PRIMARY KEY column "${clustering[i].name}" cannot be restricted as preceding column "${expected.name}" is not restricted`);
        }
      }
      throw invalid(REQUIRES_ALLOW_FILTERING_MESSAGE);
    }
    if (regular.length > 0 && !usesIndex) {
      const unsupported = regular.filter(indexed);
      if (unsupported.length === 1) {
        throw invalid(`Column '${unsupported[0].name}' has an index but does not support the operators specified in the query. If you want to execute this query despite the performance unpredictability, use ALLOW FILTERING`);
      }
      throw invalid(REQUIRES_ALLOW_FILTERING_MESSAGE);
    }
    if (usesIndex) {
      // What the index does not serve is filtered: allowed only when that is nothing.
      const filtered = [...regular, ...(partial ? partition : []), ...(keyRange || clusteringNeedsFiltering ? clustering : [])];
      if (filtered.length !== 1 || filtered[0].name !== indexColumn) throw invalid(REQUIRES_ALLOW_FILTERING_MESSAGE);
    } else if (keyRange && clustering.length > 0) throw invalid(REQUIRES_ALLOW_FILTERING_MESSAGE);
  }
  if (usesIndex && partition.some((r) => r.inList !== null)) throw invalid('Select on indexed columns and with IN clause for the PRIMARY KEY are not supported');
  return { keyRange, indexColumn: usesIndex ? indexColumn : null };
}

/** ORDER BY: clustering columns of pinned partitions, in key order, all one way (ascending or reversed). */
function planOrder(t: CqlTable, s: Select, rs: ReadonlyMap<number, Restriction>, keyRange: boolean, usesIndex: boolean): OrderBy[] {
  if (s.orderBy.length === 0) return [];
  const reversed: (boolean | null)[] = new Array<boolean | null>(t.keys.length - t.partitionCount).fill(null);
  let next = 0;
  for (const o of s.orderBy) {
    const col = columnOf(t, o.column);
    if (kindOf(t, col) !== 'clustering') throw invalid(`Order by is currently only supported on the clustered columns of the PRIMARY KEY, got ${o.column}`);
    const pos = (t.keyPos.get(col) as number) - t.partitionCount;
    while (next !== pos) {
      const skipped = rs.get(t.keys[t.partitionCount + next]);
      if (next > pos || skipped === undefined || skipped.eq === undefined) {
        throw invalid('Order by currently only supports the ordering of columns following their declared order in the PRIMARY KEY');
      }
      next++;
    }
    next++;
    reversed[pos] = o.desc !== t.info.keyDesc[t.partitionCount + pos];
  }
  let rev: boolean | null = null;
  for (const r of reversed) {
    if (r === null) continue;
    if (rev === null) rev = r;
    else if (rev !== r) throw invalid('Unsupported order by relation');
  }
  if (usesIndex) throw invalid('ORDER BY with 2ndary indexes is not supported.');
  if (keyRange) throw invalid('ORDER BY is only supported when the partition key is restricted by an EQ or an IN.');
  // Every clustering column in stored order, flipped when reversed: rows of IN partitions merge by it.
  const out: OrderBy[] = [];
  for (let i = t.partitionCount; i < t.keys.length; i++) out.push({ col: t.keys[i], desc: t.info.keyDesc[i] !== (rev === true) });
  return out;
}

function aggregateName(fn: string, column: string | null): string {
  return column === null ? 'count' : `system.${fn}(${column})`;
}

function planSelection(
  t: CqlTable,
  s: Select,
  rs: ReadonlyMap<number, Restriction>,
): { columns: number[]; groupBy: number[]; aggregates: AggregateSpec[]; output: OutputColumn[]; aggregating: boolean } {
  const info = t.info;
  const groupBy = planGroupBy(t, s, rs);
  const selectors = s.selectors;
  const hasAggregate = selectors !== null && selectors.some((x) => x.kind === 'count-star' || x.kind === 'aggregate');
  for (const x of selectors ?? []) if (x.kind === 'function') throw invalid(`Unknown function '${x.name}' (the selectors MantisDB runs: columns, COUNT(*), count, min, max, sum, avg)`);
  if (s.distinct) {
    if (hasAggregate) throw invalid('SELECT DISTINCT with aggregates is not supported');
    if (groupBy.length > 0) throw invalid('GROUP BY with SELECT DISTINCT is not supported');
    if ([...rs.keys()].some((c) => kindOf(t, c) !== 'partition')) {
      throw invalid('SELECT DISTINCT with WHERE clause only supports restriction by partition key and/or static columns.');
    }
    const cols = selectors === null ? t.keys.slice(0, t.partitionCount) : selectors.map((x) => columnOf(t, (x as { column: string }).column));
    for (const c of cols) {
      if (kindOf(t, c) !== 'partition') throw invalid(`SELECT DISTINCT queries must only request partition key columns and/or static columns (not ${info.columns[c].name})`);
    }
    for (let k = 0; k < t.partitionCount; k++) {
      if (!cols.includes(t.keys[k])) throw invalid(`SELECT DISTINCT queries must request all the partition key columns (missing ${info.columns[t.keys[k]].name})`);
    }
    const keys = t.keys.slice(0, t.partitionCount);
    const output = (selectors ?? keys.map((c) => ({ kind: 'column' as const, column: info.columns[c].name, alias: null }))).map((x) => {
      const c = columnOf(t, (x as { column: string }).column);
      return { name: x.alias ?? info.columns[c].name, at: keys.indexOf(c), type: info.columns[c].type, truncate: false, timeuuid: isTimeuuid(info.columns[c]) };
    });
    return { columns: [], groupBy: keys, aggregates: [], output, aggregating: true };
  }
  if (!hasAggregate && groupBy.length === 0) {
    const cols = selectors === null ? starColumns(t) : selectors.map((x) => columnOf(t, (x as { column: string }).column));
    const unique = [...new Set(cols)];
    const output = cols.map((c, i) => ({
      name: selectors === null ? info.columns[c].name : (selectors[i].alias ?? info.columns[c].name),
      at: unique.indexOf(c),
      type: info.columns[c].type,
      truncate: false,
      timeuuid: isTimeuuid(info.columns[c]),
    }));
    return { columns: unique, groupBy: [], aggregates: [], output, aggregating: false };
  }
  // Aggregating: [group-by cells…, aggregate states…] per group.
  const aggregates: AggregateSpec[] = [];
  const output: OutputColumn[] = [];
  const all = selectors ?? starColumns(t).map((c) => ({ kind: 'column' as const, column: info.columns[c].name, alias: null, pos: { line: 1, col: 0 } }));
  for (const x of all) {
    if (x.kind === 'column') {
      const c = columnOf(t, x.column);
      const g = groupBy.indexOf(c);
      if (g < 0) throw invalid(`Selecting column ${x.column} next to aggregates needs it in GROUP BY (MantisDB does not return an arbitrary row's value)`);
      output.push({ name: x.alias ?? x.column, at: g, type: info.columns[c].type, truncate: false, timeuuid: isTimeuuid(info.columns[c]) });
    } else if (x.kind === 'count-star') {
      aggregates.push({ fn: 'count', col: null, as: x.alias ?? 'count' });
      output.push({ name: x.alias ?? 'count', at: groupBy.length + aggregates.length - 1, type: 'int64', truncate: false });
    } else if (x.kind === 'aggregate') {
      const c = columnOf(t, x.column);
      const def = info.columns[c];
      if ((x.fn === 'sum' || x.fn === 'avg') && def.type !== 'int64' && def.type !== 'float64') {
        throw invalid(`Invalid call to function ${x.fn}, none of its type signatures match (the argument ${x.column} is ${cqlTypeOf(def)})`);
      }
      const name = x.alias ?? aggregateName(x.fn, x.column);
      aggregates.push({ fn: x.fn, col: c, as: name });
      const type: ColumnType = x.fn === 'count' ? 'int64' : x.fn === 'avg' ? (def.type === 'int64' ? 'int64' : 'float64') : def.type;
      output.push({ name, at: groupBy.length + aggregates.length - 1, type, truncate: x.fn === 'avg' && INTEGER_CQL.has(cqlTypeOf(def)), timeuuid: (x.fn === 'min' || x.fn === 'max') && isTimeuuid(def) });
    }
  }
  return { columns: [], groupBy, aggregates, output, aggregating: true };
}

/** GROUP BY: primary-key columns in key order (columns restricted by = may be skipped), the whole partition key. */
function planGroupBy(t: CqlTable, s: Select, rs: ReadonlyMap<number, Restriction>): number[] {
  if (s.groupBy.length === 0) return [];
  const out: number[] = [];
  let next = 0;
  for (const name of s.groupBy) {
    const col = columnOf(t, name);
    if (!t.keyPos.has(col)) throw invalid(`Group by is currently only supported on the columns of the PRIMARY KEY, got ${name}`);
    const pos = t.keyPos.get(col) as number;
    while (next !== pos) {
      const skipped = rs.get(t.keys[next]);
      if (next > pos || skipped === undefined || skipped.eq === undefined) {
        throw invalid('Group by currently only support groups of columns following their declared order in the PRIMARY KEY');
      }
      next++;
    }
    next++;
    out.push(col);
  }
  if (next < t.partitionCount) throw invalid('Group by is not supported on only a part of the partition key');
  return out;
}

// ---- writes: the rows UPDATE and DELETE address ----

export type WriteKind = 'UPDATE' | 'DELETE';

/**
 * UPDATE (and DELETE of columns or with IF): every primary-key column by = or IN, nothing else.
 * Returns the full keys (cartesian product of the IN lists, at most KEY_COMBINATIONS_MAX).
 */
export function fullKeys(t: CqlTable, rs: ReadonlyMap<number, Restriction>, kind: WriteKind): Cell[][] {
  checkWriteWhere(t, rs, kind);
  const missingClustering = t.keys.slice(t.partitionCount).filter((c) => !rs.has(c));
  if (missingClustering.length > 0) throw invalid(`Some clustering keys are missing: ${missingClustering.map((c) => t.info.columns[c].name).join(', ')}`);
  for (const c of t.keys.slice(t.partitionCount)) {
    const r = rs.get(c) as Restriction;
    if (isSlice(r)) throw invalid(`Slice restrictions are not supported on the clustering columns in ${kind} statements`);
    if (r.notEqual.length > 0) throw invalid(`Unsupported "!=" relation: ${r.name} != ...`);
  }
  let tuples: Cell[][] = [[]];
  for (const c of t.keys) {
    const r = rs.get(c) as Restriction;
    const values = r.eq !== undefined ? [r.eq] : (r.inList as Cell[]);
    const next: Cell[][] = [];
    for (const tuple of tuples) for (const v of values) next.push([...tuple, v]);
    if (next.length > KEY_COMBINATIONS_MAX) throw invalid(`IN query cartesian product is too big (more than ${KEY_COMBINATIONS_MAX} primary keys)`);
    tuples = next;
  }
  return tuples;
}

/** UPDATE / DELETE: the whole partition key by = / IN, no other column than the primary key's. */
export function checkWriteWhere(t: CqlTable, rs: ReadonlyMap<number, Restriction>, kind: WriteKind): void {
  const regular = [...rs.values()].filter((r) => !t.keyPos.has(r.col));
  if (regular.length > 0) throw invalid(`Non PRIMARY KEY columns found in where clause: ${regular.map((r) => r.name).join(', ')} `);
  const missing = t.keys.slice(0, t.partitionCount).filter((c) => !rs.has(c));
  if (missing.length > 0) throw invalid(`Some partition key parts are missing: ${missing.map((c) => t.info.columns[c].name).join(', ')}`);
  for (const c of t.keys.slice(0, t.partitionCount)) {
    const r = rs.get(c) as Restriction;
    if (isSlice(r) || r.notEqual.length > 0) throw invalid(`Only EQ and IN relation are supported on the partition key (unless you use the token() function) for ${kind} statements`);
  }
}

/**
 * DELETE of rows: the partition key by = / IN, clustering columns as a prefix of = / IN with at most
 * one range on the last one (a range deletion).
 */
export function checkDeleteRange(t: CqlTable, rs: ReadonlyMap<number, Restriction>): void {
  checkWriteWhere(t, rs, 'DELETE');
  let ended: string | null = null;
  for (let i = t.partitionCount; i < t.keys.length; i++) {
    const r = rs.get(t.keys[i]);
    const name = t.info.columns[t.keys[i]].name;
    if (r === undefined) {
      ended ??= name;
      continue;
    }
    if (r.notEqual.length > 0) throw invalid(`Unsupported "!=" relation: ${name} != ...`);
    if (ended !== null) throw invalid(`PRIMARY KEY column "${name}" cannot be restricted as preceding column "${ended}" is not restricted`);
    if (isSlice(r)) {
      for (let j = i + 1; j < t.keys.length; j++) {
        const later = rs.get(t.keys[j]);
        if (later !== undefined) throw invalid(`Clustering column "${later.name}" cannot be restricted (preceding column "${name}" is restricted by a non-EQ relation)`);
      }
      return;
    }
  }
}

/** The predicate of one full key. */
export function keyPredicate(t: CqlTable, key: readonly Cell[]): Predicate {
  return andOf(t.keys.map((c, i) => ({ col: c, op: '=' as const, value: key[i] }))) as Predicate;
}

/** IF conditions of an UPDATE / DELETE as predicates (col = null means the column is null). */
export function conditionPredicates(t: CqlTable, conditions: readonly CqlCondition[], ctx: TermContext): { predicates: Predicate[]; columns: number[] } {
  const predicates: Predicate[] = [];
  const columns: number[] = [];
  for (const c of conditions) {
    const col = columnOf(t, c.column);
    if (t.keyPos.has(col)) throw invalid(`PRIMARY KEY column '${c.column}' cannot have IF conditions`);
    const def = t.info.columns[col];
    if (!columns.includes(col)) columns.push(col);
    if (c.op === 'IN') {
      const values = Array.isArray(c.value) ? (c.value as readonly CqlTerm[]).map((v) => termToCell(v, def, ctx)) : listFor(c.value, def, ctx);
      const nonNull = values.filter((v) => v !== null);
      const parts: Predicate[] = [];
      if (nonNull.length > 0) parts.push({ col, op: 'in', value: nonNull });
      if (nonNull.length < values.length) parts.push({ col, op: 'is_null' });
      predicates.push(parts.length === 1 ? parts[0] : { or: parts });
      continue;
    }
    const value = termToCell(c.value as CqlTerm, def, ctx);
    if (value === null) {
      if (c.op === '=') predicates.push({ col, op: 'is_null' });
      else if (c.op === '!=') predicates.push({ col, op: 'is_not_null' });
      else throw invalid(`Invalid comparison with null for operator "${c.op}"`);
      continue;
    }
    // Cassandra: a condition x != v holds when x is null; other comparisons with a null column fail.
    if (c.op === '!=') predicates.push({ or: [{ col, op: '!=', value }, { col, op: 'is_null' }] });
    else predicates.push({ col, op: c.op, value });
  }
  return { predicates, columns };
}

/** A column declared timeuuid in CQL. */
export function isTimeuuid(col: ColumnDef): boolean {
  return col.cqlType === 'timeuuid';
}
