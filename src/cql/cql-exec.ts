// Runs CQL statements on the columnar tables: each parsed statement
// (cql-parser.ts), checked by Cassandra's rules (cql-plan.ts), becomes
// TableService calls (src/tables/table-service.ts):
//
//   CREATE TABLE / DROP TABLE / ALTER TABLE ADD / TRUNCATE  → createTable, dropTable, addColumn, delete(all)
//   CREATE INDEX / DROP INDEX                               → createIndex (btree, waits until built), dropIndex
//   INSERT (every column)                                   → insert, on conflict replace (Cassandra's upsert)
//   INSERT (some columns) / UPDATE                          → update with upsertKey per row (other columns kept)
//   INSERT … IF NOT EXISTS                                  → insert, on conflict ignore; [applied] and the row there
//   UPDATE / DELETE … IF EXISTS | IF conditions             → update / delete filtered by key AND conditions (one
//                                                              shard turn: atomic); [applied] and the columns there
//   DELETE (rows, ranges)                                   → delete filtered; DELETE cols → update to null
//   SELECT                                                  → query (pages through paging_state), aggregates
//   BATCH                                                   → its statements in order; runs of full-row INSERTs
//                                                              into one table go as one all-or-nothing insert
//   CREATE KEYSPACE, USE                                    → accepted, nothing to do (one namespace)
//
// Auth on (`security` given): each statement needs its tables' permissions
// (tables:<t> read for SELECT; write, and `sql` write, for writes and DDL;
// conditional writes answer the row, so read too). CQL does not apply
// row-level security policies: a table with RLS enabled is refused to callers
// that do not bypass it (they use SQL, which applies them).
//
// Keyspaces: MantisDB has one namespace; `ks.table` names the table `table`.
// Row TTLs: USING TTL n, else the table's default_time_to_live.

import { MantisError } from '../../shared/errors.js';
import { cellToJson } from '../../shared/tables/cell-json.js';
import { tupleKey } from '../../shared/tables/cells.js';
import type { Cell, ColumnDef, Row, TableInfo } from '../../shared/tables/table-types.js';
import { decodeCursor, encodeCursor, queryFingerprint, rowComparator } from '../tables/table-query.js';
import { checkIndexedSizes, checkKeySize } from '../tables/table-rows.js';
import type { ColumnInput } from '../tables/table-schema.js';
import type { TableService } from '../tables/table-service.js';
import type { AlterTableAdd, Batch, CqlStatement, ParsedCql, CqlTerm, CqlUsing, CreateIndex, CreateTable, Delete, Insert, QualifiedName, Select, Update } from './cql-ast.js';
import { parseCql } from './cql-parser.js';
import {
  andOf,
  checkDeleteRange,
  conditionPredicates,
  cqlTable,
  fullKeys,
  invalid,
  isTimeuuid,
  keyPredicate,
  planSelect,
  restrictionsOf,
  starColumns,
  wherePredicate,
  type CqlTable,
  type OutputColumn,
  type SelectPlan,
} from './cql-plan.js';
import { mapCqlType, paramToCell, termToCell, termToInt, timeuuidText, type TermContext } from './cql-types.js';
import type { AuthStore } from '../security/auth-store.js';
import { SYSTEM, type Action, type Principal } from '../security/principal.js';

/** The keyspace named in messages when a statement names none. */
export const DEFAULT_KEYSPACE = 'mantis';
export const PAGE_SIZE_DEFAULT = 5000;
export const PAGE_SIZE_MAX = 100_000;
const TTL_MAX_SECONDS = 630_720_000;
/** Table options Cassandra knows; accepted and ignored except default_time_to_live. */
const TABLE_OPTIONS = new Set([
  'additional_write_policy', 'allow_auto_snapshot', 'bloom_filter_fp_chance', 'caching', 'cdc', 'comment', 'compaction', 'compression',
  'crc_check_chance', 'dclocal_read_repair_chance', 'default_time_to_live', 'extensions', 'gc_grace_seconds', 'id', 'incremental_backups',
  'max_index_interval', 'memtable', 'memtable_flush_period_in_ms', 'min_index_interval', 'read_repair', 'read_repair_chance', 'speculative_retry',
]);

export type CqlRequest = {
  readonly query: string;
  /** Bind values: an array for `?` markers (in order), or an object for `:name` markers. */
  readonly params?: unknown;
  readonly pageSize?: number;
  readonly pagingState?: string | null;
  readonly deadlineMs: number;
  /** Who runs the statement (undefined: the system principal, when auth is off). */
  readonly principal?: Principal;
};

/** Present when auth is on: the auth store's RLS flags (CQL refuses RLS tables to callers under RLS) and DROP TABLE's cleanup. */
export type CqlSecurityOptions = { readonly store: Pick<AuthStore, 'rlsEnabled' | 'forgetTable'> };

/** A statement's answer: column names and rows of JSON cells; pagingState when a SELECT has more pages. */
export type CqlAnswer = { readonly columns: string[]; readonly rows: unknown[][]; readonly pagingState: string | null };

const EMPTY: CqlAnswer = { columns: [], rows: [], pagingState: null };

export class CqlExecutor {
  constructor(
    private readonly tables: TableService,
    private readonly security?: CqlSecurityOptions,
  ) {}

  async execute(req: CqlRequest): Promise<CqlAnswer> {
    if (typeof req.query !== 'string' || req.query.trim() === '') throw new MantisError('SyntaxException', 'line 1:0 no viable alternative at input \'<EOF>\'');
    const parsed = parseCached(req.query);
    this.authorize(parsed.statement, req.principal ?? SYSTEM);
    const ctx: TermContext = { params: bindValues(parsed.binds, req.params), nowMs: Date.now() };
    try {
      return await this.run(parsed.statement, ctx, req);
    } catch (error) {
      throw cqlError(error, parsed.statement);
    }
  }

  /** The statement's permissions (auth on); tables under RLS are refused to callers that do not bypass it. */
  private authorize(s: CqlStatement, p: Principal): void {
    const store = this.security?.store;
    if (store === undefined) return;
    const need = (table: string, action: Action): void => {
      if (!p.can(`tables:${table}`, action)) throw new MantisError('FORBIDDEN', `permission denied for table ${table} (needs tables:${table} ${action})`);
    };
    const writes = (): void => {
      if (!p.can('sql', 'write')) throw new MantisError('FORBIDDEN', 'permission denied: statements that write need sql write');
    };
    const noRls = (table: string): void => {
      if (!p.bypassRls && store.rlsEnabled(table)) {
        throw new MantisError('FORBIDDEN', `table ${table} has row-level security enabled: CQL does not apply policies, query it through SQL (POST /api/v1/sql)`);
      }
    };
    const write = (w: Insert | Update | Delete): void => {
      need(w.table.name, 'write');
      // A conditional write answers the row there: reading it.
      if ((w.kind === 'insert' && w.ifNotExists) || (w.kind !== 'insert' && (w.ifExists || w.conditions.length > 0))) need(w.table.name, 'read');
      noRls(w.table.name);
    };
    switch (s.kind) {
      case 'select':
        need(s.table.name, 'read');
        noRls(s.table.name);
        return;
      case 'insert':
      case 'update':
      case 'delete':
        writes();
        write(s);
        return;
      case 'batch':
        writes();
        for (const w of s.statements) write(w);
        return;
      case 'create-table':
      case 'drop-table':
      case 'alter-table-add':
      case 'create-index':
        writes();
        need(s.table.name, 'write');
        return;
      case 'truncate':
        writes();
        need(s.table.name, 'write');
        noRls(s.table.name);
        return;
      case 'drop-index': {
        writes();
        const owner = this.tables.list().find((x) => x.indexes.some((i) => i.name === s.index.name));
        if (owner !== undefined) need(owner.name, 'write');
        return;
      }
      case 'create-keyspace':
      case 'use':
      case 'drop-keyspace':
        return;
    }
  }

  private run(s: CqlStatement, ctx: TermContext, req: CqlRequest): Promise<CqlAnswer> {
    switch (s.kind) {
      case 'create-table':
        return this.createTable(s, req.deadlineMs);
      case 'drop-table':
        return this.dropTable(s.table, s.ifExists, req.deadlineMs);
      case 'truncate':
        return this.truncate(s.table, req.deadlineMs);
      case 'alter-table-add':
        return this.alterAdd(s, req.deadlineMs);
      case 'create-index':
        return this.createIndex(s, req.deadlineMs);
      case 'drop-index':
        return this.dropIndex(s.index, s.ifExists, req.deadlineMs);
      case 'create-keyspace':
      case 'use':
        return Promise.resolve(EMPTY);
      case 'drop-keyspace':
        throw invalid('DROP KEYSPACE is not supported: MantisDB has one namespace (drop its tables instead)');
      case 'insert':
        return this.insert(s, ctx, req.deadlineMs);
      case 'update':
        return this.update(s, ctx, req.deadlineMs);
      case 'delete':
        return this.delete(s, ctx, req.deadlineMs);
      case 'select':
        return this.select(s, ctx, req);
      case 'batch':
        return this.batch(s, ctx, req.deadlineMs);
    }
  }

  private infoOf(q: QualifiedName): TableInfo {
    try {
      return this.tables.info(q.name);
    } catch (error) {
      if (error instanceof MantisError && error.code === 'TABLE_NOT_FOUND') throw invalid(`unconfigured table ${q.name}`);
      throw error;
    }
  }

  // ---- schema ----

  private async createTable(s: CreateTable, deadlineMs: number): Promise<CqlAnswer> {
    const name = s.table.name;
    if (s.compactStorage) throw invalid('Compact tables are not allowed in Cassandra starting with 4.0 version.');
    if (s.primaryKeyDecls === 0) throw invalid(`No PRIMARY KEY specifed for table '${name}' (exactly one required)`);
    if (s.primaryKeyDecls > 1) throw invalid(`Multiple PRIMARY KEY specified for table '${name}' (exactly one required)`);
    const declared = new Map<string, ColumnInput>();
    for (const c of s.columns) {
      if (declared.has(c.name)) throw invalid(`Duplicate column '${c.name}' declaration for table '${name}'`);
      if (c.isStatic) throw invalid(`Static column '${c.name}': static columns are not supported`);
      const { type, cqlType } = mapCqlType(c.type);
      declared.set(c.name, { name: c.name, type, nullable: true, default: null, cqlType });
    }
    const primaryKey = [...s.partitionKey, ...s.clustering];
    const seen = new Set<string>();
    for (const k of primaryKey) {
      if (!declared.has(k)) throw invalid(`Unknown column '${k}' referenced in PRIMARY KEY for table '${name}'`);
      if (seen.has(k)) throw invalid(`Duplicate column '${k}' in PRIMARY KEY clause for table '${name}'`);
      seen.add(k);
      (declared.get(k) as ColumnInput).nullable = false;
    }
    const desc = new Map<string, boolean>();
    for (const o of s.clusteringOrder) {
      if (desc.has(o.column)) throw invalid(`Duplicate column '${o.column}' in CLUSTERING ORDER BY clause for table '${name}'`);
      desc.set(o.column, o.desc);
    }
    if (s.clusteringOrder.length > s.clustering.length) throw invalid('Only clustering columns can be defined in CLUSTERING ORDER directive');
    s.clusteringOrder.forEach((o, n) => {
      const c = s.clustering[n];
      if (o.column !== c) {
        if (desc.has(c)) throw invalid(`The order of columns in the CLUSTERING ORDER directive must match that of the clustering columns (${c} must appear before ${o.column})`);
        throw invalid(`Missing CLUSTERING ORDER for column ${c}`);
      }
    });
    let defaultTtlSeconds = 0;
    for (const [key, value] of s.options) {
      if (!TABLE_OPTIONS.has(key)) throw new MantisError('SyntaxException', `Unknown property '${key}'`);
      if (key === 'default_time_to_live') {
        if (typeof value !== 'number' || !Number.isInteger(value)) throw new MantisError('SyntaxException', `Invalid value for property 'default_time_to_live'. It should be an integer`);
        if (value < 0) throw invalid(`default_time_to_live must be greater than or equal to 0 (got ${value})`);
        if (value > TTL_MAX_SECONDS) throw invalid(`default_time_to_live must be less than or equal to ${TTL_MAX_SECONDS} (got ${value})`);
        defaultTtlSeconds = value;
      }
    }
    // Key columns first (in key order), then the others as declared.
    const columns = [...primaryKey.map((k) => declared.get(k) as ColumnInput), ...[...declared.values()].filter((c) => !seen.has(c.name))];
    const keyDesc = primaryKey.map((k) => desc.get(k) === true);
    await this.tables.createTable(
      { name, columns, primaryKey, partitionKeyLength: s.partitionKey.length, keyDesc, defaultTtlSeconds, cql: true, ifNotExists: s.ifNotExists },
      deadlineMs,
    );
    return EMPTY;
  }

  private async dropTable(q: QualifiedName, ifExists: boolean, deadlineMs: number): Promise<CqlAnswer> {
    try {
      await this.tables.dropTable(q.name, { ifExists }, deadlineMs);
    } catch (error) {
      if (error instanceof MantisError && error.code === 'TABLE_NOT_FOUND') throw invalid(`Table '${q.keyspace ?? DEFAULT_KEYSPACE}.${q.name}' doesn't exist`);
      throw error;
    }
    // Its row-level security policies and flag go with it.
    await this.security?.store.forgetTable(q.name);
    return EMPTY;
  }

  private async truncate(q: QualifiedName, deadlineMs: number): Promise<CqlAnswer> {
    this.infoOf(q);
    await this.tables.delete(q.name, null, deadlineMs);
    return EMPTY;
  }

  private async alterAdd(s: AlterTableAdd, deadlineMs: number): Promise<CqlAnswer> {
    const info = this.infoOf(s.table);
    for (const c of s.columns) {
      if (c.isStatic) throw invalid(`Static column '${c.name}': static columns are not supported`);
      if (info.columns.some((x) => x.name === c.name)) throw invalid(`Column with name '${c.name}' already exists`);
      mapCqlType(c.type);
    }
    for (const c of s.columns) {
      const { type, cqlType } = mapCqlType(c.type);
      await this.tables.addColumn(s.table.name, { name: c.name, type, nullable: true, default: null, cqlType }, deadlineMs);
    }
    return EMPTY;
  }

  private async createIndex(s: CreateIndex, deadlineMs: number): Promise<CqlAnswer> {
    const info = this.infoOf(s.table);
    const t = cqlTable(info);
    const col = t.byName.get(s.column);
    if (col === undefined) throw invalid(`Undefined column name ${s.column}`);
    if (t.partitionCount === 1 && t.keys[0] === col) throw invalid(`Cannot create secondary index on the only partition key column ${s.column}`);
    const name = s.name ?? `${info.name}_${s.column}_idx`;
    const same = info.indexes.find((i) => i.name !== name && i.type === 'btree' && i.columns.length === 1 && i.columns[0] === s.column);
    if (same !== undefined && !info.indexes.some((i) => i.name === name)) {
      if (s.ifNotExists) return EMPTY;
      throw invalid(`Index ${name} is a duplicate of existing index ${same.name}`);
    }
    const other = this.tables.list().find((x) => x.name !== info.name && x.indexes.some((i) => i.name === name));
    if (other !== undefined) {
      if (s.ifNotExists) return EMPTY;
      throw new MantisError('AlreadyExists', `Index '${name}' already exists`);
    }
    await this.tables.createIndex(info.name, { name, columns: [s.column], type: 'btree', unique: false, ifNotExists: s.ifNotExists }, deadlineMs);
    return EMPTY;
  }

  private async dropIndex(q: QualifiedName, ifExists: boolean, deadlineMs: number): Promise<CqlAnswer> {
    const owner = this.tables.list().find((x) => x.indexes.some((i) => i.name === q.name));
    if (owner === undefined) {
      if (ifExists) return EMPTY;
      throw invalid(`Index '${q.keyspace ?? DEFAULT_KEYSPACE}.${q.name}' doesn't exist`);
    }
    await this.tables.dropIndex(owner.name, q.name, { ifExists }, deadlineMs);
    return EMPTY;
  }

  // ---- writes ----

  private async insert(s: Insert, ctx: TermContext, deadlineMs: number): Promise<CqlAnswer> {
    const info = this.infoOf(s.table);
    const t = cqlTable(info);
    const row = insertRow(t, s, ctx);
    const ttlMs = ttlOf(s.using, info, ctx);
    if (s.ifNotExists) {
      const done = await this.tables.insert(info.name, [row.cells], { onConflict: 'ignore', ttlMs }, deadlineMs);
      if (done.inserted > 0) return applied();
      const [there] = await this.tables.get(info.name, [row.key], deadlineMs);
      return notApplied(t, there, starColumns(t));
    }
    await this.write(t, row, ttlMs, deadlineMs);
    return EMPTY;
  }

  /** An unconditional INSERT: a full row replaces, a partial one updates (creating the row when absent). */
  private async write(t: CqlTable, row: InsertRow, ttlMs: number, deadlineMs: number): Promise<void> {
    if (row.full) {
      await this.tables.insert(t.info.name, [row.cells], { onConflict: 'replace', ttlMs }, deadlineMs);
      return;
    }
    await this.tables.update(t.info.name, keyPredicate(t, row.key), row.set, { upsertKey: row.key, ttlMs, cellTtl: true }, deadlineMs);
  }

  private async update(s: Update, ctx: TermContext, deadlineMs: number): Promise<CqlAnswer> {
    const done = this.prepareUpdate(s, ctx, deadlineMs);
    return typeof done === 'function' ? done() : done;
  }

  /**
   * Checks an UPDATE and returns what runs it; a conditional one (IF …) runs at once (its answer).
   * Everything that can refuse the statement (names, types, key restrictions) throws here, before
   * anything is written — a BATCH prepares all its statements first.
   */
  private prepareUpdate(s: Update, ctx: TermContext, deadlineMs: number): Promise<CqlAnswer> | (() => Promise<CqlAnswer>) {
    const info = this.infoOf(s.table);
    const t = cqlTable(info);
    const keys = fullKeys(t, restrictionsOf(t, s.where, ctx), 'UPDATE');
    const set: Record<string, Cell> = {};
    for (const a of s.set) {
      const col = t.byName.get(a.column);
      if (col === undefined) throw invalid(`Undefined column name ${a.column}`);
      if (t.keyPos.has(col)) throw invalid(`PRIMARY KEY part ${a.column} found in SET part`);
      if (a.column in set) throw invalid(`Multiple incompatible setting of column ${a.column}`);
      set[a.column] = termToCell(a.value, info.columns[col], ctx);
    }
    const ttlMs = ttlOf(s.using, info, ctx);
    for (const key of keys) {
      checkKeySize(info, key, null);
      const named: Record<string, Cell> = { ...set };
      t.keys.forEach((c, i) => (named[info.columns[c].name] = key[i]));
      checkIndexedSizes(info, named, null);
    }
    if (s.ifExists || s.conditions.length > 0) return this.conditional(t, keys, s.ifExists, s.conditions, ctx, (where) => this.tables.update(info.name, where, set, { ttlMs, cellTtl: true }, deadlineMs), deadlineMs);
    return async () => {
      await inWaves(keys, (key) => this.tables.update(info.name, keyPredicate(t, key), set, { upsertKey: key, ttlMs, cellTtl: true }, deadlineMs));
      return EMPTY;
    };
  }

  /**
   * A lightweight transaction on one row: the write filtered by its key AND the conditions runs in
   * one shard turn, so it applies only if they hold. Not applied: [applied] false and, when the
   * row exists, the condition columns (IF EXISTS: nothing more) as they are.
   */
  private async conditional(
    t: CqlTable,
    keys: Cell[][],
    ifExists: boolean,
    conditions: Update['conditions'],
    ctx: TermContext,
    run: (where: NonNullable<ReturnType<typeof andOf>>) => Promise<{ affected: number }>,
    deadlineMs: number,
  ): Promise<CqlAnswer> {
    if (keys.length !== 1) throw invalid('IN on the clustering key columns is not supported with conditional updates');
    const cond = conditionPredicates(t, conditions, ctx);
    const where = andOf([keyPredicate(t, keys[0]), ...cond.predicates]) as NonNullable<ReturnType<typeof andOf>>;
    const { affected } = await run(where);
    if (affected > 0) return applied();
    if (ifExists) return { columns: ['[applied]'], rows: [[false]], pagingState: null };
    const [there] = await this.tables.get(t.info.name, [keys[0]], deadlineMs);
    return notApplied(t, there, cond.columns);
  }

  private async delete(s: Delete, ctx: TermContext, deadlineMs: number): Promise<CqlAnswer> {
    const done = this.prepareDelete(s, ctx, deadlineMs);
    return typeof done === 'function' ? done() : done;
  }

  /** As prepareUpdate, for a DELETE. */
  private prepareDelete(s: Delete, ctx: TermContext, deadlineMs: number): Promise<CqlAnswer> | (() => Promise<CqlAnswer>) {
    const info = this.infoOf(s.table);
    const t = cqlTable(info);
    if (s.using.timestamp !== null) throw invalid('USING TIMESTAMP is not supported');
    const rs = restrictionsOf(t, s.where, ctx);
    const conditional = s.ifExists || s.conditions.length > 0;
    if (s.columns.length > 0) {
      const set: Record<string, Cell> = {};
      for (const name of s.columns) {
        const col = t.byName.get(name);
        if (col === undefined) throw invalid(`Undefined column name ${name}`);
        if (t.keyPos.has(col)) throw invalid(`Invalid identifier ${name} for deletion (should not be a PRIMARY KEY part)`);
        set[name] = null;
      }
      let keys: Cell[][];
      try {
        keys = fullKeys(t, rs, 'DELETE');
      } catch (error) {
        if (error instanceof MantisError && /clustering keys are missing|Slice restrictions/.test(error.message)) throw invalid('Range deletions are not supported for specific columns');
        throw error;
      }
      if (conditional) return this.conditional(t, keys, s.ifExists, s.conditions, ctx, (where) => this.tables.update(info.name, where, set, {}, deadlineMs), deadlineMs);
      return async () => {
        await inWaves(keys, (key) => this.tables.update(info.name, keyPredicate(t, key), set, {}, deadlineMs));
        return EMPTY;
      };
    }
    if (conditional) {
      let keys: Cell[][];
      try {
        keys = fullKeys(t, rs, 'DELETE');
      } catch (error) {
        if (error instanceof MantisError && /clustering keys are missing|Slice restrictions/.test(error.message)) {
          throw invalid('DELETE statements must restrict all PRIMARY KEY columns with equality relations in order to use IF conditions');
        }
        throw error;
      }
      return this.conditional(t, keys, s.ifExists, s.conditions, ctx, (where) => this.tables.delete(info.name, where, deadlineMs), deadlineMs);
    }
    checkDeleteRange(t, rs);
    const where = wherePredicate(rs);
    return async () => {
      await this.tables.delete(info.name, where, deadlineMs);
      return EMPTY;
    };
  }

  private async batch(b: Batch, ctx: TermContext, deadlineMs: number): Promise<CqlAnswer> {
    if (b.type === 'counter') throw invalid('Counter batches are not supported (MantisDB has no counter columns)');
    if (b.using.timestamp !== null) throw invalid('USING TIMESTAMP is not supported');
    for (const s of b.statements) {
      if ((s.kind === 'insert' && s.ifNotExists) || (s.kind !== 'insert' && (s.ifExists || s.conditions.length > 0))) {
        throw invalid('Conditional statements (IF …) in a BATCH are not supported');
      }
      if (s.using.timestamp !== null) throw invalid('USING TIMESTAMP is not supported');
    }
    // Every statement is checked (and its cells built) before the first one runs: a statement
    // Cassandra would refuse refuses the whole batch with nothing written.
    type Step = { readonly row: { t: CqlTable; ttlMs: number; key: Cell[]; cells: Record<string, Cell> } } | { readonly exec: () => Promise<unknown> };
    const steps: Step[] = b.statements.map((s): Step => {
      if (s.kind === 'insert') {
        const info = this.infoOf(s.table);
        const t = cqlTable(info);
        const row = insertRow(t, s, ctx);
        const ttlMs = ttlOf(s.using, info, ctx);
        if (row.full) return { row: { t, ttlMs, key: row.key, cells: row.cells } };
        return { exec: () => this.write(t, row, ttlMs, deadlineMs) };
      }
      const prepared = s.kind === 'update' ? this.prepareUpdate(s, ctx, deadlineMs) : this.prepareDelete(s, ctx, deadlineMs);
      if (typeof prepared !== 'function') throw new Error('assertion failed: a conditional statement in a batch');
      return { exec: prepared };
    });
    // Runs of full-row INSERTs into one table with one TTL go as one all-or-nothing insert (a key
    // written twice in the run: the later row wins, as it would one after the other).
    let run: { t: CqlTable; ttlMs: number; rows: Map<string, Record<string, Cell>> } | null = null;
    const flush = async (): Promise<void> => {
      if (run === null) return;
      const r = run;
      run = null;
      await this.tables.insert(r.t.info.name, [...r.rows.values()], { onConflict: 'replace', ttlMs: r.ttlMs }, deadlineMs);
    };
    for (const step of steps) {
      if ('row' in step) {
        const { t, ttlMs, key, cells } = step.row;
        if (run !== null && (run.t !== t || run.ttlMs !== ttlMs)) await flush();
        run ??= { t, ttlMs, rows: new Map() };
        const k = tupleKey(key);
        run.rows.delete(k);
        run.rows.set(k, cells);
        continue;
      }
      await flush();
      await step.exec();
    }
    await flush();
    return EMPTY;
  }

  // ---- reads ----

  private async select(s: Select, ctx: TermContext, req: CqlRequest): Promise<CqlAnswer> {
    const info = this.infoOf(s.table);
    const plan = planSelect(s, info, ctx);
    const toJson = (rows: Row[]): unknown[][] => rows.map((row) => plan.output.map((o) => outputCell(o, row[o.at])));
    if (plan.aggregating) {
      const result = await this.tables.query(
        info.name,
        { columns: [], where: plan.where, groupBy: plan.groupBy, aggregates: plan.aggregates, orderBy: [], limit: plan.limit, offset: 0, after: null, hint: null },
        req.deadlineMs,
      );
      let rows = result.rows;
      // Aggregates over no rows: one row (count 0, the others null), as Cassandra answers.
      if (rows.length === 0 && plan.groupBy.length === 0 && plan.aggregates.length > 0) rows = [plan.aggregates.map((a) => (a.fn === 'count' ? 0 : null))];
      return shaped(plan.json, plan.output, toJson(rows), null);
    }
    const pageSize = req.pageSize ?? PAGE_SIZE_DEFAULT;
    if (plan.keys !== null && plan.keys.length <= pageSize && (req.pagingState ?? null) === null) {
      // Whole primary keys: point lookups, then the order and LIMIT here.
      const t = cqlTable(info);
      const found = (await this.tables.get(info.name, plan.keys, req.deadlineMs)).filter((r): r is Row => r !== null);
      const order = [...plan.orderBy, ...t.keys.map((col, i) => ({ col, desc: info.keyDesc[i] }))];
      found.sort(rowComparator(order.map((o) => o.col), order.map((o) => o.desc)));
      const perPartition = plan.perPartitionLimit > 0 ? capPerPartition(found, (row) => tupleKey(t.keys.slice(0, t.partitionCount).map((k) => row[k])), plan.perPartitionLimit) : found;
      const rows = (plan.limit > 0 ? perPartition.slice(0, plan.limit) : perPartition).map((row) => plan.columns.map((c) => row[c]));
      return shaped(plan.json, plan.output, toJson(rows), null);
    }
    if (plan.perPartitionLimit > 0) return this.selectPerPartition(info, plan, req, pageSize, toJson);
    const fingerprint = queryFingerprint(info.id, ['cql', req.query, req.params ?? null]);
    let remaining = plan.limit > 0 ? plan.limit : -1;
    let after: Cell[] | null = null;
    if (req.pagingState !== undefined && req.pagingState !== null) {
      const state = pagingStateOf(req.pagingState, fingerprint);
      if (state.length < 1 || typeof state[0] !== 'number') throw invalid('Invalid paging state');
      remaining = state[0];
      after = state.slice(1);
    }
    const limit = remaining < 0 ? pageSize : Math.min(pageSize, remaining);
    const result = await this.tables.query(
      info.name,
      { columns: plan.columns, where: plan.where, groupBy: [], aggregates: [], orderBy: plan.orderBy, limit, offset: 0, after, hint: null },
      req.deadlineMs,
    );
    const left = remaining < 0 ? -1 : remaining - result.rows.length;
    const pagingState = result.nextCursor !== null && left !== 0 ? encodeCursor(fingerprint, [left, ...result.nextCursor]) : null;
    return shaped(plan.json, plan.output, toJson(result.rows), pagingState);
  }

  /**
   * SELECT … PER PARTITION LIMIT n: reads in chunks and keeps at most n rows of each partition (rows
   * of a partition come together in the order read). The paging state carries the LIMIT left, the
   * partition being read and how many of its rows were served, then the cursor.
   */
  private async selectPerPartition(info: TableInfo, plan: SelectPlan, req: CqlRequest, pageSize: number, toJson: (rows: Row[]) => unknown[][]): Promise<CqlAnswer> {
    const t = cqlTable(info);
    const columns = [...new Set([...plan.columns, ...t.keys, ...plan.orderBy.map((o) => o.col)])];
    const at = (col: number): number => columns.indexOf(col);
    const partitionAt = t.keys.slice(0, t.partitionCount).map(at);
    const cursorAt = [...plan.orderBy.map((o) => at(o.col)), ...t.keys.map(at)];
    const fingerprint = queryFingerprint(info.id, ['cql', req.query, req.params ?? null]);
    let remaining = plan.limit > 0 ? plan.limit : -1;
    let partition: string | null = null;
    let served = 0;
    let after: Cell[] | null = null;
    if (req.pagingState !== undefined && req.pagingState !== null) {
      const state = pagingStateOf(req.pagingState, fingerprint);
      if (state.length < 3 || typeof state[0] !== 'number' || typeof state[2] !== 'number' || (state[1] !== null && typeof state[1] !== 'string')) throw invalid('Invalid paging state');
      remaining = state[0];
      partition = state[1] as string | null;
      served = state[2];
      after = state.slice(3);
    }
    const want = remaining < 0 ? pageSize : Math.min(pageSize, remaining);
    const out: Row[] = [];
    let more = true;
    while (out.length < want && more) {
      const chunk = Math.min(PAGE_SIZE_MAX, Math.max(want - out.length, PER_PARTITION_CHUNK));
      const result = await this.tables.query(
        info.name,
        { columns, where: plan.where, groupBy: [], aggregates: [], orderBy: plan.orderBy, limit: chunk, offset: 0, after, hint: null },
        req.deadlineMs,
      );
      more = result.nextCursor !== null;
      for (let i = 0; i < result.rows.length; i++) {
        if (out.length === want) {
          more = true;
          break;
        }
        const row = result.rows[i];
        const key = tupleKey(partitionAt.map((p) => row[p]));
        if (key === partition) served++;
        else {
          partition = key;
          served = 1;
        }
        after = cursorAt.map((p) => row[p]);
        if (served <= plan.perPartitionLimit) out.push(row);
      }
    }
    const left = remaining < 0 ? -1 : remaining - out.length;
    const pagingState = more && left !== 0 && after !== null ? encodeCursor(fingerprint, [left, partition, served, ...after]) : null;
    return shaped(plan.json, plan.output, toJson(out), pagingState);
  }
}

/** How many rows a PER PARTITION LIMIT read asks for at a time (at least). */
const PER_PARTITION_CHUNK = 1000;

/** The rows, at most `max` of each partition (rows of a partition adjacent or not). */
function capPerPartition(rows: Row[], partitionOf: (row: Row) => string, max: number): Row[] {
  const seen = new Map<string, number>();
  return rows.filter((row) => {
    const k = partitionOf(row);
    const n = (seen.get(k) ?? 0) + 1;
    seen.set(k, n);
    return n <= max;
  });
}

function pagingStateOf(token: string, fingerprint: string): Cell[] {
  try {
    return decodeCursor(token, fingerprint);
  } catch (error) {
    if (error instanceof MantisError) throw new MantisError('Invalid', `Invalid paging state: ${error.message.replace(/"cursor"/g, 'paging_state')}`);
    throw error;
  }
}

// ---- helpers ----

/** Parsed statements by text (the trees are read-only): repeated statements with bind markers parse once. */
const parsedCache = new Map<string, ParsedCql>();
const PARSED_CACHE_MAX = 1000;
const CACHED_TEXT_MAX = 4096;

function parseCached(text: string): ParsedCql {
  const hit = parsedCache.get(text);
  if (hit !== undefined) {
    parsedCache.delete(text);
    parsedCache.set(text, hit);
    return hit;
  }
  const parsed = parseCql(text);
  if (text.length <= CACHED_TEXT_MAX) {
    if (parsedCache.size >= PARSED_CACHE_MAX) parsedCache.delete(parsedCache.keys().next().value as string);
    parsedCache.set(text, parsed);
  }
  return parsed;
}

/** How many single-row writes of one statement (an IN list of keys) are in flight at once. */
const WRITES_IN_FLIGHT = 64;

/** Runs `write` for every key, at most WRITES_IN_FLIGHT at a time. */
async function inWaves(keys: readonly Cell[][], write: (key: Cell[]) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < keys.length; i += WRITES_IN_FLIGHT) await Promise.all(keys.slice(i, i + WRITES_IN_FLIGHT).map(write));
}

/** The statement's bind values by marker index, from params (an array for ?, an object for :name). */
export function bindValues(binds: readonly (string | null)[], params: unknown): unknown[] {
  if (params === undefined || params === null) {
    if (binds.length > 0) throw invalid(`There were ${binds.length} markers(?) in CQL but 0 bound variables`);
    return [];
  }
  if (Array.isArray(params)) {
    if (params.length !== binds.length) throw invalid(`There were ${binds.length} markers(?) in CQL but ${params.length} bound variables`);
    return params;
  }
  if (typeof params === 'object') {
    const named = params as Record<string, unknown>;
    return binds.map((name) => {
      if (name === null) throw invalid('Positional bind markers (?) need "params" as an array');
      if (!Object.prototype.hasOwnProperty.call(named, name)) throw invalid(`No value given for bind marker :${name}`);
      return named[name];
    });
  }
  throw new MantisError('INVALID_PARAMETER', '"params" must be an array (for ? markers) or an object (for :name markers)');
}

type InsertRow = {
  /** Every named cell (key included). */
  readonly cells: Record<string, Cell>;
  readonly key: Cell[];
  /** The non-key cells. */
  readonly set: Record<string, Cell>;
  /** Whether the statement names every column of the table. */
  readonly full: boolean;
};

function insertRow(t: CqlTable, s: Insert, ctx: TermContext): InsertRow {
  if (s.json !== null) return jsonRow(t, s.json, ctx);
  if (new Set(s.columns).size !== s.columns.length) throw invalid('The column names contains duplicates');
  if (s.columns.length !== s.values.length) throw invalid('Unmatched column names/values');
  const cells: Record<string, Cell> = {};
  const set: Record<string, Cell> = {};
  s.columns.forEach((name, i) => {
    const col = t.byName.get(name);
    if (col === undefined) throw invalid(`Undefined column name ${name}`);
    const cell = termToCell(s.values[i], t.info.columns[col], ctx);
    cells[name] = cell;
    if (!t.keyPos.has(col)) set[name] = cell;
  });
  return keyedRow(t, cells, set, s.columns.length === t.info.columns.length);
}

/**
 * INSERT … JSON: the object's fields are column names (case-insensitive unless "quoted" inside the
 * JSON name, as in Cassandra) and its values the bind-parameter JSON forms. DEFAULT NULL (the
 * default) sets the columns it leaves out to null (a full row); DEFAULT UNSET leaves them as they are.
 */
function jsonRow(t: CqlTable, json: NonNullable<Insert['json']>, ctx: TermContext): InsertRow {
  const given = json.value.kind === 'bind' ? ctx.params[json.value.index] : json.value.kind === 'literal' ? json.value.text : null;
  let parsed: unknown = given;
  if (typeof given === 'string') {
    try {
      parsed = JSON.parse(given);
    } catch (error) {
      throw invalid(`Could not decode JSON string as a map: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalid('Could not decode JSON string as a map: not a JSON object');
  const cells: Record<string, Cell> = {};
  const set: Record<string, Cell> = {};
  for (const [field, value] of Object.entries(parsed as Record<string, unknown>)) {
    const name = field.length > 1 && field.startsWith('"') && field.endsWith('"') ? field.slice(1, -1).replace(/""/g, '"') : field.toLowerCase();
    const col = t.byName.get(name);
    if (col === undefined) throw invalid(`JSON values map contains unrecognized column: ${field}`);
    if (name in cells) throw invalid(`JSON values map contains column ${name} twice`);
    const cell = paramToCell(value, t.info.columns[col]);
    cells[name] = cell;
    if (!t.keyPos.has(col)) set[name] = cell;
  }
  if (json.defaultNull) {
    for (const c of t.info.columns) {
      if (!(c.name in cells) && !t.keyPos.has(t.byName.get(c.name) as number)) {
        cells[c.name] = null;
        set[c.name] = null;
      }
    }
  }
  return keyedRow(t, cells, set, Object.keys(cells).length === t.info.columns.length);
}

/** The named cells of an INSERT with its key checked (every key column given, none null). */
function keyedRow(t: CqlTable, cells: Record<string, Cell>, set: Record<string, Cell>, full: boolean): InsertRow {
  const missingPartition = t.keys.slice(0, t.partitionCount).filter((c) => !(t.info.columns[c].name in cells));
  if (missingPartition.length > 0) throw invalid(`Some partition key parts are missing: ${missingPartition.map((c) => t.info.columns[c].name).join(', ')}`);
  const missingClustering = t.keys.slice(t.partitionCount).filter((c) => !(t.info.columns[c].name in cells));
  if (missingClustering.length > 0) throw invalid(`Some clustering keys are missing: ${missingClustering.map((c) => t.info.columns[c].name).join(', ')}`);
  const key = t.keys.map((c) => {
    const cell = cells[t.info.columns[c].name];
    if (cell === null) throw invalid(`Invalid null value in condition for column ${t.info.columns[c].name}`);
    return cell;
  });
  // Refused now rather than by a shard mid-way through a BATCH.
  checkKeySize(t.info, key, null);
  checkIndexedSizes(t.info, cells, null);
  return { cells, key, set, full };
}

/**
 * A write's TTL for the table service: ms > 0, or -1 for none (USING TTL 0, or no TTL on a table
 * without default_time_to_live). The service reads 0 as "the table's default" and an update as
 * "keep the row's expiry"; a CQL write without a TTL must leave what it writes permanent.
 */
function ttlOf(using: CqlUsing, info: TableInfo, ctx: TermContext): number {
  if (using.timestamp !== null) throw invalid('USING TIMESTAMP is not supported');
  if (using.ttl === null) return info.defaultTtlSeconds > 0 ? info.defaultTtlSeconds * 1000 : -1;
  const ttl = termToInt(using.ttl as CqlTerm, '[ttl]', ctx);
  if (ttl < 0) throw invalid(`A TTL must be greater or equal to 0, but was ${ttl}`);
  if (ttl > TTL_MAX_SECONDS) throw invalid(`ttl is too large. requested (${ttl}) maximum (${TTL_MAX_SECONDS})`);
  return ttl > 0 ? ttl * 1000 : -1;
}

function applied(): CqlAnswer {
  return { columns: ['[applied]'], rows: [[true]], pagingState: null };
}

/** [applied] false, then the given columns of the row there (none when there is no row). */
function notApplied(t: CqlTable, row: Row | null, columns: readonly number[]): CqlAnswer {
  if (row === null) return { columns: ['[applied]'], rows: [[false]], pagingState: null };
  return {
    columns: ['[applied]', ...columns.map((c) => t.info.columns[c].name)],
    rows: [[false, ...columns.map((c) => columnCell(t.info.columns[c], row[c]))]],
    pagingState: null,
  };
}

function outputCell(o: OutputColumn, cell: Cell): unknown {
  if (o.truncate && typeof cell === 'number') return Number.isFinite(cell) ? Math.trunc(cell) : cell;
  if (o.timeuuid === true && typeof cell === 'string') return timeuuidText(cell);
  return cellToJson(o.type, cell);
}

/** A stored cell of column `col` as CQL answers it. */
function columnCell(col: ColumnDef, cell: Cell): unknown {
  if (isTimeuuid(col) && typeof cell === 'string') return timeuuidText(cell);
  return cellToJson(col.type, cell);
}

/** SELECT JSON: one column "[json]" holding each row as a JSON object text. */
function shaped(json: boolean, output: readonly OutputColumn[], rows: unknown[][], pagingState: string | null): CqlAnswer {
  if (!json) return { columns: output.map((o) => o.name), rows, pagingState };
  return {
    columns: ['[json]'],
    rows: rows.map((r) => [JSON.stringify(Object.fromEntries(output.map((o, i) => [o.name, r[i]])))]),
    pagingState,
  };
}

const TO_INVALID = new Set(['INVALID_SCHEMA', 'TYPE_MISMATCH', 'NOT_NULL_VIOLATION', 'UNKNOWN_COLUMN', 'BAD_QUERY', 'COLUMN_EXISTS', 'INDEX_NOT_FOUND', 'CURSOR_INVALID', 'TABLE_NOT_FOUND']);

/** The table service's refusals as Cassandra's error classes (the details stay). */
export function cqlError(error: unknown, s: CqlStatement): unknown {
  if (!(error instanceof MantisError)) return error;
  if (error.code === 'TABLE_EXISTS' && s.kind === 'create-table') {
    return new MantisError('AlreadyExists', `Cannot add already existing table "${s.table.name}" to keyspace "${s.table.keyspace ?? DEFAULT_KEYSPACE}"`, error.details);
  }
  if (error.code === 'INDEX_EXISTS') return new MantisError('AlreadyExists', error.message, error.details);
  if (TO_INVALID.has(error.code)) return new MantisError('Invalid', error.message, error.details);
  return error;
}
