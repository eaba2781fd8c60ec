// The columnar tables on the router: what each table route (and each CQL
// statement, src/cql/) does. The catalog lives on every shard and here
// (table-catalog-cache.ts); rows live on the shard of their partition key's
// slot. Every operation sends at most one command per shard, all at once:
//   - insert: rows checked and encoded here, grouped by shard; all or
//     nothing — when a shard refuses its part (DUPLICATE_KEY …), the rows the
//     other shards inserted are deleted again (delete-keys) before the
//     refusal is answered; a key given twice in one request is refused before
//     anything is sent;
//   - update / delete by filter: sliced on every shard (or only the shard a
//     filter pins by its whole partition key), each row changed once;
//   - get: keys grouped by shard; query: scattered, rows merged as sorted
//     runs (table-query.ts), groups merged and finalized.
// Unique indexes: before rows are inserted their values are claimed on the
// shard of each value's slot (unique-claim); a value held by another live row
// refuses the batch (409 DUPLICATE_KEY), a claim left by a row that is gone
// (or holds another value now) is released and taken over; claims made for a
// refused batch are released.

import { MantisError } from '../../shared/errors.js';
import { buildSlotMap, type SlotMap } from '../../shared/slot.js';
import { cellsEqual, checkCell, tupleKey } from '../../shared/tables/cells.js';
import { encodeKeyCells } from '../../shared/tables/key-cells.js';
import type { OnConflict, ScanStats, ShardTableStats, TableCommand } from '../../shared/tables/table-protocol.js';
import { encodePk, keyShape, rowKey, rowSlot, tableKeyTag, uniqueKey, valueSlot } from '../../shared/tables/table-keys.js';
import { derivedColumns, type AggregateSpec, type Cell, type DerivedExpr, type OrderBy, type Predicate, type Row, type TableIndexDef, type TableIndexType, type TableInfo } from '../../shared/tables/table-types.js';
import type { Logger } from '../log.js';
import type { ShardClient, ShardPool } from '../router/index.js';
import { sleep } from '../kv/kv-service.js';
import { TableCatalogCache } from './table-catalog-cache.js';
import { checkAfter, finalGroups, mergeRuns, rowComparator } from './table-query.js';
import { fullRow, keyText, prepareRows, shapeOf } from './table-rows.js';
import { buildIndexDef, buildTableInfo, checkColumn, checkName, type ColumnInput, type CreateTableInput } from './table-schema.js';
import { callTable, callTableExpect, runSlicedWrite } from './table-shard-call.js';
import { TableWriteGate } from './table-write-gate.js';
import { TableTxn, type PlanContext } from './table-txn.js';
import type { TxnWriteOp } from '../../shared/txn/txn-wire.js';
import { decodeKeyCells } from '../../shared/tables/key-cells.js';
import type { DocTxnManager } from '../docs/doc-txn-manager.js';
import { statsJson } from './table-stats.js';

export type { CreateTableInput } from './table-schema.js';

export type TableQuery = {
  /** Column positions to answer (rows), when not aggregating. */
  columns: number[];
  where: Predicate | null;
  groupBy: number[];
  aggregates: AggregateSpec[];
  /** Derived float64 columns (SQL expressions) aggregates may name at position columns.length + j. */
  derived?: DerivedExpr[];
  /** Rows in any order (no limit, no cursor): neither the shards nor the router sort them. */
  unordered?: boolean;
  /** Rows: column positions. Aggregating: positions in the output row ([group-by…, aggregates…]). */
  orderBy: OrderBy[];
  /** 0: every row. */
  limit: number;
  offset: number;
  /** Cursor position: [order-by cells…, key cells…] of the last row served (rows only). */
  after: Cell[] | null;
  hint: string | null;
};

export type QueryStats = { took_ms: number; shards: number; segments_scanned: number; segments_pruned: number; rows_scanned: number; plan: string };
export type QueryResult = { columns: string[]; rows: Row[]; nextCursor: Cell[] | null; stats: QueryStats };

/** How far the partition-key analysis of a filter goes before it scatters instead (IN lists multiply). */
const PINNED_COMBINATIONS_MAX = 256;
/** Unique claims: rounds of releasing stale claims before the batch is refused as a conflict. */
const CLAIM_ROUNDS_MAX = 4;
/** Index builds: how often the shards are asked whether the backfill is done (doubling to the max). */
const BUILD_POLL_MS_MIN = 20;
const BUILD_POLL_MS_MAX = 500;

type UniqueEntry = { values: Cell[]; key: Cell[]; row: number };

export class TableService {
  readonly catalog: TableCatalogCache;
  private readonly slotMap: SlotMap;
  /** Unique values claimed by writes in flight here: `${table}/${index}/${tupleKey(values)}` → count. */
  private readonly claiming = new Map<string, number>();
  /** Inserts and updates in flight by catalog version (a unique index build waits for the older ones). */
  private readonly gate = new TableWriteGate();
  /** Row operations inside a transaction (null: the server runs without the transaction manager). */
  private readonly inTxn: TableTxn | null;

  constructor(private readonly o: { readonly pool: ShardPool; readonly log: Logger; readonly txns?: DocTxnManager }) {
    this.catalog = new TableCatalogCache(o.pool);
    this.slotMap = buildSlotMap(o.pool.shards.length);
    this.inTxn = o.txns === undefined ? null : new TableTxn(o.pool, o.txns);
  }

  private txnTables(): TableTxn {
    if (this.inTxn === null) throw new MantisError('INVALID_PARAMETER', 'table operations do not run inside a transaction on this server');
    return this.inTxn;
  }

  /** Once every shard is ready: the catalog reconciled; index builds a restart interrupted resumed. */
  async start(): Promise<void> {
    const infos = await this.catalog.reconcile();
    for (const info of infos) {
      for (const index of info.indexes) if (index.state === 'building') void this.finishBuild(info.name, index.name).catch((error: unknown) => this.o.log.error({ err: error, table: info.name, index: index.name }, 'resuming a table index build failed'));
    }
  }

  info(name: string): TableInfo {
    return this.catalog.require(name);
  }

  list(): TableInfo[] {
    return this.catalog.all();
  }

  // ---- schema ------------------------------------------------------------------------

  async createTable(input: CreateTableInput, _deadlineMs: number): Promise<{ created: boolean; info: TableInfo }> {
    checkName(input.name, 'a table name');
    let created = false;
    const info = await this.catalog.change(input.name, (current) => {
      if (current !== undefined) {
        if (input.ifNotExists === true) return current;
        throw new MantisError('TABLE_EXISTS', `table "${input.name}" already exists`);
      }
      created = true;
      return buildTableInfo(input, this.catalog.freshId(), Date.now());
    });
    return { created, info };
  }

  async dropTable(name: string, opts: { ifExists: boolean }, _deadlineMs: number): Promise<{ dropped: boolean }> {
    const dropped = await this.catalog.drop(name);
    if (dropped === null && !opts.ifExists) throw notFound(name);
    return { dropped: dropped !== null };
  }

  /** A new column at the end: nullable, or NOT NULL with a default (rows stored before read it as the default). */
  async addColumn(name: string, col: ColumnInput, _deadlineMs: number): Promise<TableInfo> {
    return this.catalog.change(name, (current) => {
      if (current === undefined) throw notFound(name);
      const def = checkColumn(col, false);
      if (current.columns.some((c) => c.name === def.name)) throw new MantisError('COLUMN_EXISTS', `table "${name}" already has a column "${def.name}"`, { column: def.name });
      if (!def.nullable && def.default === null) {
        throw new MantisError('INVALID_SCHEMA', `column "${def.name}": an added column is nullable or has a default (rows already stored get it)`, { column: def.name });
      }
      return { ...current, columns: [...current.columns, def] };
    });
  }

  async createIndex(
    name: string,
    def: { name: string; columns: string[]; type: TableIndexType; unique: boolean; ifNotExists?: boolean },
    deadlineMs: number,
  ): Promise<{ created: boolean; index: TableIndexDef }> {
    let created = false;
    const info = await this.catalog.change(name, (current) => {
      if (current === undefined) throw notFound(name);
      if (current.indexes.some((i) => i.name === def.name)) {
        if (def.ifNotExists === true) return current;
        throw new MantisError('INDEX_EXISTS', `table "${name}" already has an index "${def.name}"`);
      }
      const index = buildIndexDef(current, def);
      created = true;
      return { ...current, indexes: [...current.indexes, index], nextIndexId: current.nextIndexId + 1 };
    });
    if (!created) return { created, index: info.indexes.find((i) => i.name === def.name) as TableIndexDef };
    return { created, index: await this.finishBuild(name, def.name, deadlineMs) };
  }

  async dropIndex(name: string, index: string, opts: { ifExists: boolean }, _deadlineMs: number): Promise<{ dropped: boolean }> {
    let dropped = false;
    await this.catalog.change(name, (current) => {
      if (current === undefined) throw notFound(name);
      if (!current.indexes.some((i) => i.name === index)) {
        if (opts.ifExists) return current;
        throw new MantisError('INDEX_NOT_FOUND', `table "${name}" has no index "${index}"`);
      }
      dropped = true;
      return { ...current, indexes: current.indexes.filter((i) => i.name !== index) };
    });
    return { dropped };
  }

  // ---- writes --------------------------------------------------------------------------

  async insert(
    name: string,
    rows: Record<string, Cell>[],
    opts: { onConflict: OnConflict; ttlMs: number },
    deadlineMs: number,
  ): Promise<{ inserted: number; replaced: number; ignored: number }> {
    const info = this.catalog.require(name);
    return this.insertRows(info, rows.map((r, i) => fullRow(info, r, i)), opts, deadlineMs);
  }

  /** Full rows (fullRow / rowFromJson made them) into `info`: the batch all or nothing. */
  async insertRows(info: TableInfo, rows: Row[], opts: { onConflict: OnConflict; ttlMs: number }, deadlineMs: number, txn: string | null = null): Promise<{ inserted: number; replaced: number; ignored: number }> {
    if (txn !== null) {
      const prepared = prepareRows(info, rows, (slot) => this.slotMap[slot]);
      const parts = [...prepared.byShard];
      const ttlMs = opts.ttlMs !== 0 ? opts.ttlMs : info.defaultTtlSeconds * 1000; // < 0: none (CQL's USING TTL 0)
      const answers = await this.txnTables().run(
        txn,
        info,
        parts.map(([shard]) => this.o.pool.shards[shard]),
        (shard) => {
          const part = prepared.byShard.get(shard.id) as { rows: Uint8Array[]; rowIndex: number[] };
          return { kind: 'insert', rows: part.rows, rowIndex: part.rowIndex, onConflict: opts.onConflict, ttlMs };
        },
        true,
        deadlineMs,
        info.indexes.some((i) => i.unique) ? (ctx) => this.txnUniqueEntries(txn, info, rows, ctx, deadlineMs) : undefined,
      ).catch((error: unknown) => {
        throw namedKeyConflict(info, error);
      });
      let inserted = 0;
      let replaced = 0;
      let ignored = 0;
      for (const a of answers) {
        if (a.ok && a.op === 'insert') {
          inserted += a.inserted;
          replaced += a.replaced;
          ignored += a.ignored;
        }
      }
      return { inserted, replaced, ignored };
    }
    const leave = this.gate.enter(info.id, info.version);
    try {
      return await this.insertGated(info, rows, opts, deadlineMs);
    } finally {
      leave();
    }
  }

  private async insertGated(info: TableInfo, rows: Row[], opts: { onConflict: OnConflict; ttlMs: number }, deadlineMs: number): Promise<{ inserted: number; replaced: number; ignored: number }> {
    const prepared = prepareRows(info, rows, (slot) => this.slotMap[slot]);
    const ttlMs = opts.ttlMs !== 0 ? opts.ttlMs : info.defaultTtlSeconds * 1000; // < 0: none (CQL's USING TTL 0)
    const unique = info.indexes.filter((i) => i.unique);
    const release = unique.length === 0 ? null : await this.claimUnique(info, unique, rows, opts.onConflict, deadlineMs);
    try {
      const parts = [...prepared.byShard];
      const settled = await Promise.allSettled(
        parts.map(([shard, part]) =>
          callTableExpect(
            this.o.pool.shards[shard],
            { op: 'insert', table: info.name, tableId: info.id, rows: part.rows, rowIndex: part.rowIndex, onConflict: opts.onConflict, ttlMs },
            deadlineMs,
            'insert',
          ),
        ),
      );
      const failures = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected').map((s) => s.reason as unknown);
      if (failures.length > 0) {
        // Undo the parts that went in (a replace overwrote rows it cannot give back: its parts stay).
        if (opts.onConflict !== 'replace') {
          await Promise.all(
            settled.map(async (s, i) => {
              if (s.status !== 'fulfilled' || s.value.insertedKeys.length === 0) return;
              await callTable(this.o.pool.shards[parts[i][0]], { op: 'delete-keys', table: info.name, tableId: info.id, keys: s.value.insertedKeys }, 0).catch((error: unknown) =>
                this.o.log.error({ err: error, table: info.name }, 'undoing the inserted part of a refused table batch failed'),
              );
            }),
          );
        }
        throw namedKeyConflict(info, firstFailure(failures));
      }
      let inserted = 0;
      let replaced = 0;
      let ignored = 0;
      for (const s of settled) {
        if (s.status !== 'fulfilled') continue;
        inserted += s.value.inserted;
        replaced += s.value.replaced;
        ignored += s.value.ignored;
      }
      return { inserted, replaced, ignored };
    } catch (error) {
      await release?.(true);
      throw error;
    } finally {
      await release?.(false);
    }
  }

  /**
   * A transaction's insert into a table with unique indexes (TableTxn's `more` step): for every
   * value tuple a row it writes takes, the global entry read at the snapshot (and validated at
   * commit); held by another key whose row still holds the tuple there, or being claimed by a plain
   * insert of this router right now: DUPLICATE_KEY. Otherwise the entry is written with the row
   * (a stale entry is taken over; its holder's delta key is validated, so a holder inserted after
   * the snapshot aborts the commit). Two writers of one tuple both write its entry: the later
   * commit loses, answered DUPLICATE_KEY (the key is named so).
   */
  private async txnUniqueEntries(txn: string, info: TableInfo, rows: readonly Row[], ctx: PlanContext, deadlineMs: number): Promise<TxnWriteOp[]> {
    const shape = shapeOf(info);
    // Rows the insert writes (on_conflict: ignore leaves some out).
    const written = new Set<string>();
    for (const answer of ctx.answers) for (const w of answer.writes) if (w.value !== null && tableKeyTag(w.key) === 'R') written.add(Buffer.from(w.key).toString('latin1'));
    type Take = { index: TableIndexDef; values: Cell[]; tk: string; r: number; pk: Uint8Array; entry: Uint8Array };
    const takes: Take[] = [];
    for (const index of info.indexes) {
      if (!index.unique) continue;
      const cols = index.columns.map((c) => shape.byName.get(c) as number);
      const types = cols.map((c) => info.columns[c].type);
      const seen = new Map<string, number>();
      for (let r = 0; r < rows.length; r++) {
        const row = rows[r];
        const values = cols.map((c) => row[c]);
        if (values.some((v) => v === null)) continue;
        const keyCells = shape.keys.map((k) => row[k]);
        const pk = encodePk(info, keyCells);
        if (!written.has(Buffer.from(rowKey(info.id, pk, rowSlot(info, keyCells))).toString('latin1'))) continue;
        const tk = tupleKey(values);
        const other = seen.get(tk);
        if (other !== undefined) throw duplicateValue(info, index, values, r, `row ${other} of this request`);
        seen.set(tk, r);
        const valueBytes = encodeKeyCells(types, values);
        takes.push({ index, values, tk, r, pk, entry: uniqueKey(info.id, index.id, valueBytes, valueSlot(valueBytes)) });
      }
    }
    const ks = keyShape(info);
    const out: TxnWriteOp[] = [];
    // The entries are read at the snapshot (validated at commit), 256 at a time.
    for (let at = 0; at < takes.length; at += 256) {
      const part = takes.slice(at, at + 256);
      const reads = await Promise.all(part.map((take) => ctx.op.read(take.entry, deadlineMs, true)));
      await Promise.all(
        part.map(async (take, i) => {
          const read = reads[i];
          const { index, values, r, pk, entry } = take;
          if (read !== null && sameBytes(read.entry.value, pk)) return; // this row's own entry already
          if (read !== null) {
            const holderPk = read.entry.value;
            const holderCells = decodeKeyCells(ks.types, holderPk, ks.desc);
            const holderText = `the row with key ${keyText(holderCells)}`;
            if ((this.claiming.get(`${info.id}/${index.id}/${take.tk}`) ?? 0) > 0) throw duplicateValue(info, index, values, r, holderText);
            const holderShard = this.shardOfKey(info, holderCells);
            const got = await ctx.plan(holderShard, { kind: 'get', keys: [holderCells], columns: [] });
            const holder = got.result.ok && got.result.op === 'get' ? got.result.rows[0] : null;
            const cols = index.columns.map((c) => shape.byName.get(c) as number);
            if (holder !== null && cols.every((c, j) => cellsEqual(holder[c], values[j]))) throw duplicateValue(info, index, values, r, holderText);
            // Stale: taken over. Its holder's row must not appear after the snapshot (a plain insert
            // that claimed the value before the snapshot and wrote its row after it).
            ctx.op.validate(holderShard, rowKey(info.id, holderPk, rowSlot(info, holderCells)));
          }
          this.inTxn?.nameKey(txn, entry, { text: `the value ${keyText(values)} of unique index "${index.name}" of table "${info.name}"`, duplicate: duplicateValue(info, index, values, r, 'a row another transaction or writer committed first') });
          out.push({ kind: 'put', key: entry, contentType: 'application/x-mantis-table', expiresAtMs: 0, value: pk });
        }),
      );
    }
    return out;
  }

  async update(
    name: string,
    where: Predicate | null,
    set: Record<string, Cell>,
    opts: { upsertKey?: Cell[]; ttlMs?: number; cellTtl?: boolean },
    deadlineMs: number,
    txn: string | null = null,
  ): Promise<{ affected: number }> {
    const info = this.catalog.require(name);
    const shape = shapeOf(info);
    const pairs: [number, Cell][] = [];
    for (const column in set) {
      const at = shape.byName.get(column);
      if (at === undefined) throw new MantisError('UNKNOWN_COLUMN', `table "${name}" has no column ${JSON.stringify(column)}`, { column });
      if (shape.keys.includes(at)) throw new MantisError('BAD_QUERY', `"set" cannot change primary-key column "${column}" (delete the row and insert it anew)`, { column });
      const cell = set[column];
      if (cell === null && !info.columns[at].nullable) throw new MantisError('NOT_NULL_VIOLATION', `column "${column}" is NOT NULL`, { column });
      if (cell !== null && !checkCell(info.columns[at].type, cell)) throw new MantisError('TYPE_MISMATCH', `column "${column}" is ${info.columns[at].type}; the value given is not`, { column });
      pairs.push([at, cell]);
    }
    if (pairs.length === 0 && opts.upsertKey === undefined) throw new MantisError('BAD_QUERY', '"set" names no column');
    const touchesUnique = info.indexes.some((i) => i.unique && i.columns.some((c) => c in set));
    const ttlMs = opts.ttlMs ?? 0;
    if (txn !== null) {
      if (touchesUnique) throw uniqueUpdateRefused(info);
      if (opts.upsertKey !== undefined) throw new MantisError('INVALID_PARAMETER', 'an update by key that creates the row (CQL UPDATE) does not run inside a transaction');
      const answers = await this.txnTables().run(txn, info, this.shardsFor(info, where), () => ({ kind: 'update', where, set: pairs, ttlMs }), true, deadlineMs);
      return { affected: answers.reduce((sum, a) => sum + (a.ok && a.op === 'update' ? a.affected : 0), 0) };
    }
    if (opts.upsertKey !== undefined) {
      const key = this.checkKey(info, opts.upsertKey);
      if (touchesUnique) throw uniqueUpdateRefused(info);
      const shard = this.shardOfKey(info, key);
      const command: TableCommand = { op: 'update', table: name, tableId: info.id, where, set: pairs, resume: null, upsertKey: key, ttlMs, cellTtl: opts.cellTtl === true };
      const leave = this.gate.enter(info.id, info.version);
      try {
        return { affected: await runSlicedWrite(shard, command, deadlineMs) };
      } finally {
        leave();
      }
    }
    if (touchesUnique) throw uniqueUpdateRefused(info);
    const command: TableCommand = { op: 'update', table: name, tableId: info.id, where, set: pairs, resume: null, upsertKey: null, ttlMs, cellTtl: opts.cellTtl === true };
    const leave = this.gate.enter(info.id, info.version);
    try {
      const counts = await Promise.all(this.shardsFor(info, where).map((shard) => runSlicedWrite(shard, command, deadlineMs)));
      return { affected: counts.reduce((a, b) => a + b, 0) };
    } finally {
      leave();
    }
  }

  async delete(name: string, where: Predicate | null, deadlineMs: number, txn: string | null = null): Promise<{ affected: number }> {
    const info = this.catalog.require(name);
    if (txn !== null) {
      const answers = await this.txnTables().run(txn, info, this.shardsFor(info, where), () => ({ kind: 'delete', where }), true, deadlineMs);
      return { affected: answers.reduce((sum, a) => sum + (a.ok && a.op === 'delete' ? a.affected : 0), 0) };
    }
    const command: TableCommand = { op: 'delete', table: name, tableId: info.id, where, resume: null };
    const counts = await Promise.all(this.shardsFor(info, where).map((shard) => runSlicedWrite(shard, command, deadlineMs)));
    return { affected: counts.reduce((a, b) => a + b, 0) };
  }

  // ---- reads ---------------------------------------------------------------------------

  /** Rows by primary key (cells in key order), in the order asked; null for a key with no row. */
  async get(name: string, keys: Cell[][], deadlineMs: number, txn: string | null = null): Promise<(Row | null)[]> {
    const info = this.catalog.require(name);
    const checked = keys.map((k) => this.checkKey(info, k));
    const byShard = new Map<ShardClient, number[]>();
    checked.forEach((key, i) => {
      const shard = this.shardOfKey(info, key);
      let at = byShard.get(shard);
      if (at === undefined) byShard.set(shard, (at = []));
      at.push(i);
    });
    const out: (Row | null)[] = new Array<Row | null>(keys.length).fill(null);
    const all = shapeOf(info).all;
    if (txn !== null) {
      const shards = [...byShard.keys()];
      const answers = await this.txnTables().run(txn, info, shards, (shard) => ({ kind: 'get', keys: (byShard.get(shard) as number[]).map((i) => checked[i]), columns: all }), false, deadlineMs);
      answers.forEach((answer, s) => {
        if (answer.ok && answer.op === 'get') answer.rows.forEach((row, j) => (out[(byShard.get(shards[s]) as number[])[j]] = row));
      });
      return out;
    }
    await Promise.all(
      [...byShard].map(async ([shard, at]) => {
        const answer = await callTableExpect(shard, { op: 'get', table: name, tableId: info.id, keys: at.map((i) => checked[i]), columns: all }, deadlineMs, 'get');
        answer.rows.forEach((row, j) => (out[at[j]] = row));
      }),
    );
    return out;
  }

  async query(name: string, q: TableQuery, deadlineMs: number, txn: string | null = null): Promise<QueryResult> {
    const started = performance.now();
    const info = this.catalog.require(name);
    this.checkQuery(info, q);
    const shards = this.shardsFor(info, q.where);
    const aggregating = q.groupBy.length > 0 || q.aggregates.length > 0;
    const keys = shapeOf(info).keys;
    if (!aggregating && q.after !== null) checkAfter(info, q.orderBy, keys, q.after);
    const window = q.limit === 0 ? 0 : q.offset + q.limit + 1;
    const command: TableCommand = {
      op: 'query',
      table: name,
      tableId: info.id,
      columns: aggregating ? [] : q.columns,
      where: q.where,
      groupBy: q.groupBy,
      aggregates: q.aggregates,
      ...(q.derived === undefined || q.derived.length === 0 ? {} : { derived: q.derived }),
      ...(q.unordered === true && q.limit === 0 && q.after === null && q.orderBy.length === 0 ? { unordered: true } : {}),
      orderBy: aggregating ? [] : q.orderBy,
      limit: aggregating ? 0 : window,
      after: aggregating ? null : q.after,
      hint: q.hint,
    };
    const answers =
      txn === null
        ? await Promise.all(shards.map((shard) => callTableExpect(shard, command, deadlineMs, 'query')))
        : (await this.txnTables().run(txn, info, shards, () => ({ kind: 'query', query: command }), false, deadlineMs)).map((a) => {
            if (!a.ok || a.op !== 'query') throw new Error('assertion failed: a txn query answered no query result');
            return a;
          });
    const stats = queryStats(answers.map((a) => a.stats), shards.length);
    if (aggregating) {
      const outNames = [...q.groupBy.map((g) => info.columns[g].name), ...q.aggregates.map((a) => a.as)];
      let rows = finalGroups(info, answers.map((a) => a.groups), q.groupBy, q.aggregates, q.derived?.length ?? 0);
      if (q.orderBy.length > 0) {
        const compare = rowComparator(q.orderBy.map((o) => o.col), q.orderBy.map((o) => o.desc));
        rows.sort(compare);
      }
      rows = rows.slice(q.offset, q.limit === 0 ? undefined : q.offset + q.limit);
      return { columns: outNames, rows, nextCursor: null, stats: { ...stats, took_ms: elapsed(started) } };
    }
    // Every shard answers the same column list (asked, then order-by and key columns not among them).
    const answerColumns = answers.length > 0 ? answers[0].columns : [...q.columns];
    const posOf = (col: number): number => {
      const at = answerColumns.indexOf(col);
      if (at < 0) throw new Error(`assertion failed: a shard's query answer lacks column ${col}`);
      return at;
    };
    const sortAt = [...q.orderBy.map((o) => posOf(o.col)), ...keys.map(posOf)];
    const sortDesc = [...q.orderBy.map((o) => o.desc), ...info.keyDesc];
    // Shards answer the same layout; one that differs (it should not) is brought to the first one's.
    const runs = answers.map((a) => (sameColumns(a.columns, answerColumns) ? a.rows : remap(a.rows, a.columns, answerColumns)));
    const merged = command.unordered === true ? runs.flat() : mergeRuns(runs, rowComparator(sortAt, sortDesc), window);
    const end = q.limit === 0 ? merged.length : Math.min(merged.length, q.offset + q.limit);
    const page = merged.slice(q.offset, end);
    const more = q.limit !== 0 && merged.length > q.offset + q.limit;
    const last = page.length > 0 ? page[page.length - 1] : null;
    const nextCursor = more && last !== null ? sortAt.map((at) => last[at]) : null;
    const askedAt = q.columns.map(posOf);
    const identity = askedAt.length === answerColumns.length && askedAt.every((a, i) => a === i);
    const rows = identity ? page : page.map((row) => askedAt.map((at) => row[at]));
    return { columns: q.columns.map((c) => info.columns[c].name), rows, nextCursor, stats: { ...stats, took_ms: elapsed(started) } };
  }

  /** The GET /stats body: every shard's figures summed, per column and per encoding. */
  async stats(name: string, deadlineMs: number): Promise<unknown> {
    const info = this.catalog.require(name);
    const parts = await Promise.all(this.o.pool.shards.map((shard) => callTableExpect(shard, { op: 'stats', table: name, tableId: info.id }, deadlineMs, 'stats')));
    return statsJson(info, parts.map((p) => p.stats));
  }

  /** Runs the mover on every shard: answers when the delta is in segments. */
  async move(name: string, deadlineMs: number): Promise<void> {
    const info = this.catalog.require(name);
    // A shard moves what one turn's budget allows and answers more: true while delta rows remain.
    await Promise.all(
      this.o.pool.shards.map(async (shard) => {
        for (;;) {
          const answer = await callTableExpect(shard, { op: 'move', table: name, tableId: info.id }, deadlineMs, 'move');
          if (answer.more !== true) return;
        }
      }),
    );
  }

  /** Every shard's figures (tests, diagnosis). */
  async shardStats(name: string, deadlineMs: number): Promise<ShardTableStats[]> {
    const info = this.catalog.require(name);
    return Promise.all(this.o.pool.shards.map(async (shard) => (await callTableExpect(shard, { op: 'stats', table: name, tableId: info.id }, deadlineMs, 'stats')).stats));
  }

  // ---- placement -------------------------------------------------------------------------

  private shardOfKey(info: TableInfo, key: Cell[]): ShardClient {
    return this.o.pool.shards[this.slotMap[rowSlot(info, key)]];
  }

  /**
   * The shards that can hold a match: when the filter's top-level conjuncts pin every
   * partition-key column with = (or a short IN list), only the shards of those partitions.
   */
  private shardsFor(info: TableInfo, where: Predicate | null): readonly ShardClient[] {
    const pinned = pinnedPartitions(info, where);
    if (pinned === null) return this.o.pool.shards;
    return [...new Set(pinned.map((cells) => this.shardOfKey(info, cells)))];
  }

  private checkKey(info: TableInfo, key: Cell[]): Cell[] {
    const shape = shapeOf(info);
    if (!Array.isArray(key) || key.length !== shape.keys.length) {
      throw new MantisError('BAD_QUERY', `a primary key of table "${info.name}" has ${shape.keys.length} cell(s) (${info.primaryKey.join(', ')})`);
    }
    for (let i = 0; i < key.length; i++) {
      const col = info.columns[shape.keys[i]];
      if (key[i] === null) throw new MantisError('BAD_QUERY', `primary-key column "${col.name}" cannot be null`, { column: col.name });
      if (!checkCell(col.type, key[i])) throw new MantisError('TYPE_MISMATCH', `primary-key column "${col.name}" is ${col.type}; the value given is not`, { column: col.name });
    }
    return key;
  }

  private checkQuery(info: TableInfo, q: TableQuery): void {
    const n = info.columns.length;
    const inRange = (c: number | null): boolean => c === null || (Number.isInteger(c) && c >= 0 && c < n);
    if (!q.columns.every(inRange) || !q.groupBy.every(inRange)) throw new Error('assertion failed: query column position out of range');
    if (!Number.isInteger(q.limit) || q.limit < 0 || !Number.isInteger(q.offset) || q.offset < 0) throw new MantisError('BAD_QUERY', '"limit" and "offset" are integers ≥ 0');
    const aggregating = q.groupBy.length > 0 || q.aggregates.length > 0;
    if (aggregating) {
      const outputs = q.groupBy.length + q.aggregates.length;
      if (q.orderBy.some((o) => o.col < 0 || o.col >= outputs)) throw new Error('assertion failed: aggregate order-by position out of range');
      if (q.after !== null) throw new MantisError('CURSOR_INVALID', 'an aggregating query has no cursor; use "offset" and "limit"');
    } else if (!q.orderBy.every((o) => inRange(o.col))) throw new Error('assertion failed: order-by position out of range');
    const derived = q.derived ?? [];
    for (const d of derived) {
      for (const col of derivedColumns(d)) {
        if (!inRange(col)) throw new Error('assertion failed: derived column position out of range');
        const type = info.columns[col].type;
        if (type !== 'int64' && type !== 'float64') throw new MantisError('TYPE_MISMATCH', `a derived column reads "${info.columns[col].name}", a ${type} column`);
      }
    }
    for (const a of q.aggregates) {
      if (a.fn !== 'count' && a.col === null) throw new MantisError('BAD_QUERY', `aggregate "${a.as}": ${a.fn} needs a column`);
      if (a.col !== null && a.col >= n && a.col < n + derived.length && Number.isInteger(a.col)) continue;
      if (!inRange(a.col)) throw new Error('assertion failed: aggregate column position out of range');
      if ((a.fn === 'sum' || a.fn === 'avg') && a.col !== null) {
        const type = info.columns[a.col].type;
        if (type !== 'int64' && type !== 'float64') {
          throw new MantisError('TYPE_MISMATCH', `aggregate "${a.as}": ${a.fn} takes an int64 or float64 column; "${info.columns[a.col].name}" is ${type}`, { column: info.columns[a.col].name });
        }
      }
    }
  }

  // ---- unique indexes ------------------------------------------------------------------

  /**
   * Claims every unique value the rows hold (rows with a NULL in the index columns hold none).
   * Returns the release: release(true) gives every claim up (the batch was refused); release(false)
   * only ends the in-flight marks. With on_conflict=replace a value held by the row of the same
   * key is no conflict (the claim's holder is that key); ignore: a row whose value is held elsewhere
   * is still refused (a unique value is never silently dropped).
   */
  private async claimUnique(info: TableInfo, indexes: readonly TableIndexDef[], rows: readonly Row[], _onConflict: OnConflict, deadlineMs: number): Promise<(giveUp: boolean) => Promise<void>> {
    const shape = shapeOf(info);
    const claimed: { index: TableIndexDef; shard: ShardClient; entries: UniqueEntry[] }[] = [];
    const marks: string[] = [];
    const releaseAll = async (giveUp: boolean): Promise<void> => {
      for (const m of marks.splice(0)) {
        const left = (this.claiming.get(m) ?? 1) - 1;
        if (left > 0) this.claiming.set(m, left);
        else this.claiming.delete(m);
      }
      if (!giveUp) return;
      await Promise.all(
        claimed.splice(0).map((c) =>
          callTable(c.shard, { op: 'unique-release', table: info.name, tableId: info.id, index: c.index.id, entries: c.entries.map(({ values, key }) => ({ values, key })) }, 0).catch(async (error: unknown) => {
            if (!(await this.indexGone(info, c.index, error))) this.o.log.error({ err: error, table: info.name }, 'releasing unique claims of a refused table batch failed');
          }),
        ),
      );
    };
    try {
      for (const index of indexes) {
        const cols = index.columns.map((c) => shape.byName.get(c) as number);
        const types = cols.map((c) => info.columns[c].type);
        const byShard = new Map<ShardClient, UniqueEntry[]>();
        const seen = new Map<string, number>();
        rows.forEach((row, r) => {
          const values = cols.map((c) => row[c]);
          if (values.some((v) => v === null)) return;
          const tk = tupleKey(values);
          const other = seen.get(tk);
          if (other !== undefined) throw duplicateValue(info, index, values, r, `row ${other} of this request`);
          seen.set(tk, r);
          const shard = this.o.pool.shards[this.slotMap[valueSlot(encodeKeyCells(types, values))]];
          let list = byShard.get(shard);
          if (list === undefined) byShard.set(shard, (list = []));
          list.push({ values, key: shape.keys.map((k) => row[k]), row: r });
          const mark = `${info.id}/${index.id}/${tk}`;
          marks.push(mark);
          this.claiming.set(mark, (this.claiming.get(mark) ?? 0) + 1);
        });
        await Promise.all([...byShard].map(([shard, entries]) => this.claimOn(info, index, cols, shard, entries, claimed, deadlineMs)));
      }
    } catch (error) {
      await releaseAll(true);
      throw error;
    }
    return releaseAll;
  }

  /**
   * The error is a shard's INDEX_NOT_FOUND for an index the catalog no longer has (dropped, or its
   * build failed). Shards learn of a catalog change before this router's cache does: the table's
   * pending changes are waited for first.
   */
  private async indexGone(info: TableInfo, index: TableIndexDef, error: unknown): Promise<boolean> {
    if (!(error instanceof MantisError) || error.code !== 'INDEX_NOT_FOUND') return false;
    await this.catalog.exclusive(info.name, () => Promise.resolve());
    const now = this.catalog.get(info.name);
    return now === undefined || now.id !== info.id || !now.indexes.some((i) => i.id === index.id);
  }

  private async claimOn(
    info: TableInfo,
    index: TableIndexDef,
    cols: readonly number[],
    shard: ShardClient,
    entries: UniqueEntry[],
    claimed: { index: TableIndexDef; shard: ShardClient; entries: UniqueEntry[] }[],
    deadlineMs: number,
  ): Promise<void> {
    let pending = entries;
    for (let round = 1; ; round++) {
      let answer;
      try {
        answer = await callTableExpect(
          shard,
          { op: 'unique-claim', table: info.name, tableId: info.id, index: index.id, entries: pending.map(({ values, key }) => ({ values, key })) },
          deadlineMs,
          'unique-claim',
        );
      } catch (error) {
        // The index was dropped (or its build failed) since this insert read the catalog: there is
        // no uniqueness left to hold for it.
        if (await this.indexGone(info, index, error)) return;
        throw error;
      }
      const refused = new Set(answer.conflicts.map((c) => c.entry));
      claimed.push({ index, shard, entries: pending.filter((_, i) => !refused.has(i)) });
      if (answer.conflicts.length === 0) return;
      // A holder that is gone, or holds another value now, left a stale claim: release it and claim again.
      const stale: { values: Cell[]; key: Cell[] }[] = [];
      const retry: UniqueEntry[] = [];
      const holders = await this.get(info.name, answer.conflicts.map((c) => c.key), deadlineMs);
      for (let i = 0; i < answer.conflicts.length; i++) {
        const conflict = answer.conflicts[i];
        const entry = pending[conflict.entry];
        const holder = holders[i];
        const heldHere = (this.claiming.get(`${info.id}/${index.id}/${tupleKey(entry.values)}`) ?? 0) > 1;
        const live = holder !== null && cols.every((c, j) => cellsEqual(holder[c], entry.values[j]));
        if (live || heldHere || round >= CLAIM_ROUNDS_MAX) throw duplicateValue(info, index, entry.values, entry.row, `the row with key ${keyText(conflict.key)}`);
        stale.push({ values: entry.values, key: conflict.key });
        retry.push(entry);
      }
      await callTableExpect(shard, { op: 'unique-release', table: info.name, tableId: info.id, index: index.id, entries: stale }, deadlineMs, 'unique-release');
      pending = retry;
    }
  }

  /**
   * Waits until every shard has built the index (its backfill), then marks it ready. A unique
   * index first claims the values of the rows already there; two rows with one value fail the
   * build (the index is removed again, 409 DUPLICATE_KEY).
   */
  private async finishBuild(name: string, indexName: string, deadlineMs = 0): Promise<TableIndexDef> {
    let info = this.catalog.require(name);
    let index = info.indexes.find((i) => i.name === indexName);
    if (index === undefined) throw new MantisError('INDEX_NOT_FOUND', `table "${name}" has no index "${indexName}"`);
    if (index.unique) {
      try {
        // Writes that began before the index was in the catalog claim nothing for it: let them end first.
        await this.gate.drained(info.id, info.version);
        await this.claimExisting(info, index, deadlineMs);
      } catch (error) {
        await this.dropIndex(name, indexName, { ifExists: true }, 0);
        throw error;
      }
    }
    let waitMs = BUILD_POLL_MS_MIN;
    while (!(await this.built(info, index, deadlineMs))) {
      await sleep(waitMs);
      waitMs = Math.min(waitMs * 2, BUILD_POLL_MS_MAX);
      info = this.catalog.require(name);
      index = info.indexes.find((i) => i.name === indexName);
      if (index === undefined) throw new MantisError('INDEX_NOT_FOUND', `index "${indexName}" of table "${name}" was dropped while it was being built`);
    }
    const ready = await this.catalog.change(name, (current) => {
      if (current === undefined) throw notFound(name);
      if (!current.indexes.some((i) => i.name === indexName)) throw new MantisError('INDEX_NOT_FOUND', `index "${indexName}" of table "${name}" was dropped while it was being built`);
      return { ...current, indexes: current.indexes.map((i) => (i.name === indexName ? { ...i, state: 'ready' as const } : i)) };
    });
    return ready.indexes.find((i) => i.name === indexName) as TableIndexDef;
  }

  /**
   * Whether every shard has built the index (stats' indexBuilds lists the builds not finished). A
   * build that failed on a shard (a row the index cannot hold) drops the index: 400 BAD_QUERY.
   */
  private async built(info: TableInfo, index: TableIndexDef, deadlineMs: number): Promise<boolean> {
    const parts = await Promise.all(this.o.pool.shards.map((shard) => callTableExpect(shard, { op: 'stats', table: info.name, tableId: info.id }, deadlineMs, 'stats')));
    let done = true;
    for (const part of parts) {
      const state = part.stats.indexBuilds?.[index.name];
      if (state === undefined) continue;
      if (state.startsWith('failed')) {
        await this.dropIndex(info.name, index.name, { ifExists: true }, 0);
        throw new MantisError('BAD_QUERY', `index "${index.name}" of table "${info.name}" could not be built (${state}); it was dropped`);
      }
      done = false;
    }
    return done;
  }

  /** A new unique index: the values of the rows already stored, claimed (pages of 5,000 rows in key order). */
  private async claimExisting(info: TableInfo, index: TableIndexDef, deadlineMs: number): Promise<void> {
    const all = info.columns.map((_, i) => i);
    let after: Cell[] | null = null;
    for (;;) {
      const page: QueryResult = await this.query(info.name, { columns: all, where: null, groupBy: [], aggregates: [], orderBy: [], limit: 5000, offset: 0, after, hint: '$scan' }, deadlineMs);
      const release = await this.claimUnique(info, [index], page.rows, 'error', deadlineMs);
      await release(false);
      if (page.nextCursor === null) return;
      after = page.nextCursor;
    }
  }
}

function notFound(name: string): MantisError {
  return new MantisError('TABLE_NOT_FOUND', `table "${name}" does not exist`);
}

function uniqueUpdateRefused(info: TableInfo): MantisError {
  return new MantisError('BAD_QUERY', `"set" changes a column of a unique index of table "${info.name}"; delete the row and insert it with the new value`);
}

function duplicateValue(info: TableInfo, index: TableIndexDef, values: readonly Cell[], row: number, holder: string): MantisError {
  return new MantisError('DUPLICATE_KEY', `row ${row}: unique index "${index.name}" of table "${info.name}" already holds ${keyText(values)} (${holder})`, {
    row,
    index: index.name,
    column: index.columns.join(','),
  });
}

/** A primary-key DUPLICATE_KEY from a shard names the key's column(s) too, as every row error names its column. */
function namedKeyConflict(info: TableInfo, error: unknown): unknown {
  if (!(error instanceof MantisError) || error.code !== 'DUPLICATE_KEY' || error.details?.column !== undefined) return error;
  return new MantisError('DUPLICATE_KEY', error.message, { ...error.details, column: info.primaryKey.join(',') });
}

/** The refusal to answer for a batch: the one naming the lowest row index (the client's first bad row). */
function firstFailure(failures: readonly unknown[]): unknown {
  let best: unknown = failures[0];
  let bestRow = Infinity;
  for (const f of failures) {
    const row = f instanceof MantisError ? f.details?.row : undefined;
    if (typeof row === 'number' && row < bestRow) {
      bestRow = row;
      best = f;
    }
  }
  return best;
}

/**
 * The partition-key tuples a filter pins through top-level conjuncts (col = v, col in […]); null when
 * some partition-key column is not pinned (or the combinations are too many).
 */
export function pinnedPartitions(info: TableInfo, where: Predicate | null): Cell[][] | null {
  if (where === null) return null;
  const conjuncts: Predicate[] = 'and' in where ? [...where.and] : [where];
  const keys = shapeOf(info).keys.slice(0, info.partitionKeyLength);
  const choices: Cell[][] = [];
  for (const k of keys) {
    let values: Cell[] | null = null;
    for (const c of conjuncts) {
      if (!('col' in c) || c.col !== k) continue;
      if (c.op === '=') values = [c.value];
      else if (c.op === 'in') values = [...c.value];
      if (values !== null) break;
    }
    if (values === null) return null;
    choices.push(values);
  }
  let tuples: Cell[][] = [[]];
  for (const values of choices) {
    const next: Cell[][] = [];
    for (const t of tuples) for (const v of values) if (v !== null) next.push([...t, v]);
    if (next.length > PINNED_COMBINATIONS_MAX) return null;
    tuples = next;
  }
  return tuples;
}

function sameColumns(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((c, i) => c === b[i]);
}

/** Rows of layout `from` (column positions) in layout `to`; every column of `to` must be in `from`. */
function remap(rows: readonly Row[], from: readonly number[], to: readonly number[]): Row[] {
  const at = to.map((c) => {
    const i = from.indexOf(c);
    if (i < 0) throw new Error(`assertion failed: a shard's query answer lacks column ${c}`);
    return i;
  });
  return rows.map((row) => at.map((i) => row[i]));
}

function queryStats(parts: readonly ScanStats[], shards: number): QueryStats {
  let segments = 0;
  let pruned = 0;
  let rows = 0;
  const plans = new Set<string>();
  for (const p of parts) {
    segments += p.segmentsTotal;
    pruned += p.segmentsPruned;
    rows += p.rowsScanned;
    plans.add(p.index === null ? p.plan : `${p.plan}(${p.index})`);
  }
  return { took_ms: 0, shards, segments_scanned: segments - pruned, segments_pruned: pruned, rows_scanned: rows, plan: [...plans].join(' + ') || 'NONE' };
}

function elapsed(startedMs: number): number {
  return Math.round((performance.now() - startedMs) * 1000) / 1000;
}


function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}
