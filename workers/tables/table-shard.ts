// The table engine of one shard: it answers the router's TableCommands over
// this shard's rows of every table (the `tbl` ring request). A write command
// computes every row change first (reading the store as it was before the
// command), then hands all storage writes — delta rows, delete marks of
// segment rows, index entries — to ShardOps in one go, so the command is one
// WAL record: atomic on this shard. A transaction holding any of those keys
// refuses the whole command (txn-locked), which the router retries.
// Queries run in one turn: segments pruned by zone maps and blooms, only the
// needed columns decoded (and cached), filters and partial aggregates over
// column vectors, the delta decoded into vectors too.
// Transactions: the `txn` command plans a transaction's operation at its
// snapshot and applies nothing (table-snapshot.ts); txnApplied keeps this
// engine's cached state current when a transaction's commit applies table
// keys here; segment files a compaction replaced are retired, not deleted,
// until no older snapshot is open (retireFiles, deleteRetired).
// Runs inside a shard.

import { rmSync } from 'node:fs';
import { MantisError, unreachable } from '../../shared/errors.js';
import {
  decodeTableCommand,
  encodeTableAnswer,
  type QueryCommand,
  type ScanStats,
  type ShardTableStats,
  type TableAnswer,
  type TableCommand,
} from '../../shared/tables/table-protocol.js';
import { derivedColumns, type Batch, type Cell, type ColumnType, type Predicate, type Row, type TableInfo, type ZoneMap } from '../../shared/tables/table-types.js';
import { encodeRow } from '../../shared/tables/row-codec.js';
import { parseDeleteMarkKey, pkFromRowKey, slotOfTableKey, tableCatalogKey, tableIdOfKey, tableKeyTag } from '../../shared/tables/table-keys.js';
import { compareCells } from '../../shared/tables/cells.js';
import { predicateColumns } from '../../shared/tables/where.js';
import { filterBatch } from '../../shared/tables/vector-filter.js';
import { PartialAggregator, withDerived } from '../../shared/tables/vector-agg.js';
import { TopK } from '../../shared/tables/top-k.js';
import { rowsToBatch } from '../../shared/tables/vector-rows.js';
import type { DeleteOp, PutOp, ShardResponse, TblRequest } from '../../shared/wire.js';
import type { LsmStore } from '../lsm/index.js';
import type { ShardOps, Undo } from '../shard/shard-ops.js';
import { binaryToKey, keyToBinary } from '../store/memtable.js';
import { encodeTableInfo, packValue, TABLE_CONTENT_TYPE, TableCatalog, unpackValue, type TableState } from './table-catalog.js';
import { newCounters, SegmentCache, TableData, type BatchSource, type RowPlace, type ScanCounters, type SegEntry } from './table-data.js';
import { TableBackground } from './table-background.js';
import { TableMover, type MoverDeps } from './table-mover.js';
import { chooseIndex, indexBuildsOf, indexCatalogWrites, indexEntryWrites, indexRows } from './table-index.js';
import { uniqueClaim, uniqueRelease } from './table-unique.js';
import { changedExpiry, insertWrites, newRowExpiry } from './table-row-writes.js';
import { LockedRead, planTxn, type SnapshotTable } from './table-snapshot.js';
import { SnapshotTooOldError, type VersionStore } from '../txn/version-store.js';

type Write = PutOp | DeleteOp;

/**
 * Rows one update or delete answer changes at most; `resume` goes on. One slice is one shard turn
 * (and one WAL record): 10,000 rows hold the shard about 0.1–0.3 s, so other requests get between.
 */
export const WRITE_SLICE_ROWS = 10_000;
/** How long an open update/delete slice sequence holds the mover off its table. */
const SLICE_LEASE_MS = 5_000;
/** Decoded segment columns and files kept in memory per shard. */
const SEGMENT_CACHE_BYTES = 384 * 1024 * 1024;
/** Index entries the planner follows before it falls back to a scan (unless a hint names the index). */
const INDEX_ROWS_CAP = 100_000;
/** Primary-key lookups a where clause may expand to before the planner scans instead. */
const PK_PLAN_KEYS_MAX = 10_000;

export type TableApplied = { readonly response: ShardResponse; readonly writes: Write[] };

export type TableShardDeps = {
  readonly store: LsmStore;
  readonly ops: ShardOps;
  /** The shard's data directory (segment files go under tables/). */
  readonly dataDir: string;
  readonly log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
  /** The mover's and compaction's pool tasks and their internal commits (null in tests: in-thread). */
  readonly mover?: Partial<MoverDeps>;
  /** Invalidation events of rows expired by TTL (`tbl/<table>/<pk JSON>`), null when nobody listens. */
  readonly emitExpired?: (name: string, nowMs: number) => void;
  /**
   * Transactions (absent in tests without them): the shard's version store (replaced whole after a
   * rollback, hence a getter), and the oracle's current timestamp and oldest live snapshot, which
   * say when a segment file a compaction replaced can no longer be read by any snapshot.
   */
  readonly txn?: { readonly versions: () => VersionStore; readonly currentTs: () => number; readonly oldestSnapshot: () => number };
};

type Resume = { readonly phase: 0 | 1; readonly key: string | null; readonly seg: number; readonly idx: number; readonly maxSeg: number };

export class TableShard {
  readonly catalog = new TableCatalog();
  readonly cache = new SegmentCache(SEGMENT_CACHE_BYTES);
  /** Per table id: its data on this shard. */
  readonly data = new Map<number, TableData>();
  readonly background: TableBackground;
  readonly mover: TableMover;
  /** Tables whose update/delete slice sequence is open, until when (ms). */
  readonly leases = new Map<number, number>();
  /** Segment files replaced by a compaction, kept while a snapshot older than `ts` may read them. */
  private retired: { readonly paths: string[]; readonly ts: number }[] = [];

  constructor(private readonly d: TableShardDeps) {
    this.mover = new TableMover(this, d.store, d.ops, d.dataDir, d.log, d.mover ?? {});
    this.background = new TableBackground(this, d.store, d.ops, d.dataDir, d.log, d.emitExpired ?? null);
  }

  get store(): LsmStore {
    return this.d.store;
  }

  /** After WAL replay: the catalog, each table's segments, orphan files, pending drops. */
  open(nowMs: number): void {
    this.catalog.load(this.d.store, nowMs);
    this.data.clear();
    for (const state of this.catalog.all()) this.dataOf(state).loadSegments(nowMs);
    this.background.open(nowMs);
    for (const t of this.data.values()) t.deltaWrites = t.deltaCount(nowMs);
  }

  dataOf(state: TableState): TableData {
    let t = this.data.get(state.info.id);
    if (t === undefined) {
      t = new TableData(state, this.d.store, this.cache, this.d.dataDir);
      this.data.set(state.info.id, t);
    } else {
      t.state = state;
    }
    return t;
  }

  /** One `tbl` ring request. Expected failures answer ok:false; the caller rolls back `undo` on a throw. */
  handle(request: TblRequest, nowMs: number, undo: Undo[]): TableApplied {
    const command = decodeTableCommand(request.body);
    let result: { answer: TableAnswer; writes: Write[] } | ShardResponse;
    try {
      result = this.run(command, nowMs, undo);
    } catch (error) {
      if (!(error instanceof MantisError)) throw error;
      // Refused before anything was applied (writes are applied last, all at once).
      const answer: TableAnswer = { ok: false, code: error.code, message: error.message, ...(error.details === undefined ? {} : { details: error.details }) };
      return { response: { kind: 'tbl-result', body: encodeTableAnswer(answer) }, writes: [] };
    }
    if ('kind' in result) return { response: result, writes: [] };
    return { response: { kind: 'tbl-result', body: encodeTableAnswer(result.answer) }, writes: result.writes };
  }

  run(c: TableCommand, nowMs: number, undo: Undo[]): { answer: TableAnswer; writes: Write[] } | ShardResponse {
    switch (c.op) {
      case 'catalog-get':
        return read({ ok: true, op: 'catalog-get', tables: this.catalog.all().map((s) => s.info), dropped: this.background.droppedTables() });
      case 'catalog-put':
        return this.catalogPut(c.info, nowMs, undo);
      case 'catalog-drop':
        return this.catalogDrop(c.name, c.id, nowMs, undo);
      case 'insert':
        return this.insert(c, nowMs, undo);
      case 'delete-keys':
        return this.deleteKeys(c, nowMs, undo);
      case 'update':
        return this.update(c, nowMs, undo);
      case 'delete':
        return this.remove(c, nowMs, undo);
      case 'get':
        return read(this.get(c, nowMs));
      case 'query':
        return read(this.query(c, nowMs));
      case 'stats':
        return read({ ok: true, op: 'stats', stats: this.stats(this.table(c.table, c.tableId), nowMs) });
      case 'move':
        return this.mover.moveNow(this.table(c.table, c.tableId), nowMs, undo);
      case 'unique-claim': {
        const t = this.table(c.table, c.tableId);
        const claimed = uniqueClaim(this.d.store, t.state.info, c.index, c.entries, nowMs);
        const refused = this.d.ops.applyInternalWrites(claimed.writes, nowMs, undo);
        if (refused !== null) return refused;
        return { answer: { ok: true, op: 'unique-claim', conflicts: claimed.conflicts }, writes: claimed.writes };
      }
      case 'unique-release': {
        const t = this.table(c.table, c.tableId);
        const writes = uniqueRelease(this.d.store, t.state.info, c.index, c.entries, nowMs);
        const refused = this.d.ops.applyInternalWrites(writes, nowMs, undo);
        if (refused !== null) return refused;
        return { answer: { ok: true, op: 'unique-release' }, writes };
      }
      case 'txn':
        return this.planTxn(c, nowMs);
      default:
        return unreachable(c);
    }
  }

  /** A transaction's operation planned at its snapshot (table-snapshot.ts); nothing is applied. */
  private planTxn(c: Extract<TableCommand, { op: 'txn' }>, nowMs: number): { answer: TableAnswer; writes: Write[] } | ShardResponse {
    if (this.d.txn === undefined) throw new MantisError('INTERNAL', 'this shard runs without transactions');
    const t = this.table(c.table, c.tableId);
    try {
      return read(planTxn(t, this.d.store, this.d.txn.versions(), c, nowMs, (q, now, snap) => this.query(q, now, snap)));
    } catch (error) {
      if (error instanceof LockedRead) return { kind: 'txn-locked', key: error.key, txnId: error.txnId };
      if (error instanceof SnapshotTooOldError) return { kind: 'error', code: 'TXN_SNAPSHOT_TOO_OLD', message: error.message };
      if (error instanceof MantisError && error.code === 'TXN_SNAPSHOT_TOO_OLD') return { kind: 'error', code: error.code, message: error.message };
      throw error;
    }
  }

  /**
   * A transaction's writes were applied on this shard (its commit, or a decided two-phase commit):
   * the engine's own state follows them as it follows its own writes (cached delete marks and
   * live-row selections, the mover's count of delta writes).
   */
  txnApplied(writes: readonly { readonly kind: 'put' | 'delete'; readonly key: Uint8Array }[], nowMs: number): void {
    for (const w of writes) {
      const tag = tableKeyTag(w.key);
      if (tag !== 'R' && tag !== 'V') continue;
      const t = this.data.get(tableIdOfKey(w.key));
      if (t === undefined) continue;
      if (tag === 'V') {
        const { segId, rowIdx } = parseDeleteMarkKey(w.key);
        t.noteMark(segId, rowIdx, w.kind === 'put');
        t.deltaWrites++;
      } else if (w.kind === 'put') {
        t.deltaWrites++;
      }
      t.lastWriteMs = nowMs;
    }
  }

  /**
   * Segment files a compaction (or the removal of a dead segment) replaced, once that commit is
   * durable: deleted now when no transaction can read them, else kept until every snapshot older
   * than now has ended (deleteRetired, on the sweeper's tick).
   */
  retireFiles(paths: readonly string[]): void {
    if (paths.length === 0) return;
    if (this.d.txn === undefined) {
      for (const p of paths) rmSync(p, { force: true });
      return;
    }
    this.retired.push({ paths: [...paths], ts: this.d.txn.currentTs() });
    this.deleteRetired();
  }

  /** Deletes the retired files no live snapshot can read any more. */
  deleteRetired(): void {
    if (this.retired.length === 0 || this.d.txn === undefined) return;
    const oldest = this.d.txn.oldestSnapshot();
    const keep: { paths: string[]; ts: number }[] = [];
    for (const r of this.retired) {
      // Every live snapshot is at or above `oldest` (published as the oldest active one, or the
      // current timestamp when none is open), and r.ts is at or above the compaction's commit.
      if (r.ts > oldest) {
        keep.push(r);
        continue;
      }
      for (const p of r.paths) {
        this.cache.forget(p);
        rmSync(p, { force: true });
      }
    }
    this.retired = keep;
  }

  /** The table by name, checked against the id the router meant. */
  table(name: string, id: number): TableData {
    const state = this.catalog.get(name);
    if (state === undefined || state.info.id !== id) {
      throw new MantisError('TABLE_NOT_FOUND', `table "${name}" does not exist on this shard (its catalog entry has not arrived, or it was dropped)`);
    }
    return this.dataOf(state);
  }

  // ---- catalog --------------------------------------------------------------

  private catalogPut(info: TableInfo, nowMs: number, undo: Undo[]) {
    // A drop wins: an entry for a table id this shard dropped must not bring it back.
    if (this.background.droppedTables().includes(info.id)) {
      throw new MantisError('TABLE_NOT_FOUND', `table "${info.name}" (id ${info.id}) was dropped on this shard`);
    }
    const current = this.catalog.get(info.name);
    if (current !== undefined && current.info.id === info.id && current.info.version > info.version) return read({ ok: true, op: 'catalog-put' });
    const writes: Write[] = [{ kind: 'put', key: tableCatalogKey(info.name), contentType: TABLE_CONTENT_TYPE, expiresAtMs: 0, value: encodeTableInfo(info) }];
    // A re-created table under the same name: the old id's data goes.
    const replaced = current !== undefined && current.info.id !== info.id ? current.info.id : null;
    if (replaced !== null) writes.push(this.background.dropMarker(replaced));
    for (const w of indexCatalogWrites(replaced === null ? (current?.info ?? null) : null, info)) writes.push(w);
    const indexDrops = current !== undefined && replaced === null ? this.background.indexesRemoved(current.info, info) : [];
    for (const w of indexDrops) writes.push(w);
    const refused = this.d.ops.applyInternalWrites(writes, nowMs, undo);
    if (refused !== null) return refused;
    if (replaced !== null) {
      this.data.delete(replaced);
      this.background.dropped(replaced);
    }
    const state = this.catalog.set(info);
    this.dataOf(state);
    this.background.catalogChanged(info, nowMs);
    return { answer: { ok: true, op: 'catalog-put' } as TableAnswer, writes };
  }

  private catalogDrop(name: string, id: number, nowMs: number, undo: Undo[]) {
    const current = this.catalog.get(name);
    const writes: Write[] = [];
    if (current !== undefined && current.info.id === id) writes.push({ kind: 'delete', key: tableCatalogKey(name) });
    writes.push(this.background.dropMarker(id));
    const refused = this.d.ops.applyInternalWrites(writes, nowMs, undo);
    if (refused !== null) return refused;
    if (current !== undefined && current.info.id === id) this.catalog.delete(name);
    this.data.delete(id);
    this.background.dropped(id);
    return { answer: { ok: true, op: 'catalog-drop' } as TableAnswer, writes };
  }

  // ---- writes ---------------------------------------------------------------

  private insert(c: Extract<TableCommand, { op: 'insert' }>, nowMs: number, undo: Undo[]) {
    const t = this.table(c.table, c.tableId);
    const info = t.state.info;
    const writes: Write[] = [];
    const marks: [number, number][] = [];
    const mark = (seg: SegEntry, index: number, slot: number): void => {
      writes.push(this.markWrite(t, seg, index, slot));
      marks.push([seg.segId, index]);
    };
    const lookup = (keyCells: Cell[], pk: Uint8Array, slot: number): RowPlace | null => t.lookup(keyCells, pk, slot, nowMs);
    const n = insertWrites(t, c.rows, c.rowIndex, c.onConflict, newRowExpiry(info, c.ttlMs, nowMs), lookup, mark, writes);
    // Without repeated keys or index entries every write names its own key: no dedupe pass.
    const unique = n.replaced === 0 && n.ignored === 0 && !info.indexes.some((i) => i.type !== 'bloom');
    return this.commit(t, writes, marks, n.inserted, { ok: true, op: 'insert', inserted: n.inserted, replaced: n.replaced, ignored: n.ignored, insertedKeys: n.insertedKeys }, nowMs, undo, unique);
  }

  private deleteKeys(c: Extract<TableCommand, { op: 'delete-keys' }>, nowMs: number, undo: Undo[]) {
    const t = this.table(c.table, c.tableId);
    const writes: Write[] = [];
    const marks: [number, number][] = [];
    const seen = new Set<string>();
    let deleted = 0;
    for (const keyCells of c.keys) {
      const pk = t.pkBytes(keyCells);
      const bin = keyToBinary(pk);
      if (seen.has(bin)) continue;
      seen.add(bin);
      const slot = t.slotOfPk(pk, keyCells);
      const place = t.lookup(keyCells, pk, slot, nowMs);
      if (place === null) continue;
      deleted++;
      this.deleteWrites(t, place, pk, slot, writes, marks);
    }
    return this.commit(t, writes, marks, 0, { ok: true, op: 'delete-keys', deleted }, nowMs, undo);
  }

  /** The writes removing one live row (delta key or a delete mark, and its index entries). */
  deleteWrites(t: TableData, place: RowPlace, pk: Uint8Array, slot: number, writes: Write[], marks: [number, number][]): void {
    if (place.kind === 'delta') writes.push({ kind: 'delete', key: place.key });
    else {
      writes.push(this.markWrite(t, place.seg, place.index, slot));
      marks.push([place.seg.segId, place.index]);
    }
    if (t.state.info.indexes.some((i) => i.type !== 'bloom')) indexEntryWrites(t.state.info, place.row, null, pk, slot, 0, place.expiresAtMs, writes);
  }

  markWrite(t: TableData, seg: SegEntry, index: number, slot: number): Write {
    return { kind: 'put', key: t.markKey(seg, index, slot), contentType: TABLE_CONTENT_TYPE, expiresAtMs: 0, value: EMPTY };
  }

  private update(c: Extract<TableCommand, { op: 'update' }>, nowMs: number, undo: Undo[]) {
    const t = this.table(c.table, c.tableId);
    for (const [col] of c.set) {
      if (t.state.isKeyCol[col]) throw new MantisError('BAD_QUERY', `update may not set primary-key column "${t.state.info.columns[col].name}"`, { column: t.state.info.columns[col].name });
      if (col < 0 || col >= t.state.types.length) throw new MantisError('UNKNOWN_COLUMN', `update sets unknown column position ${col}`);
    }
    if (c.upsertKey !== null) return this.upsert(t, c, nowMs, undo);
    const writes: Write[] = [];
    const marks: [number, number][] = [];
    const indexed = t.state.info.indexes.some((i) => i.type !== 'bloom');
    const change = (place: RowPlace, pk: Uint8Array, slot: number): void => {
      const next = place.row.slice();
      for (const [col, cell] of c.set) next[col] = cell;
      const expiresAtMs = changedExpiry(place.expiresAtMs, c.ttlMs, nowMs, c.cellTtl === true);
      if (place.kind === 'segment') {
        writes.push(this.markWrite(t, place.seg, place.index, slot));
        marks.push([place.seg.segId, place.index]);
      }
      writes.push({ kind: 'put', key: place.kind === 'delta' ? place.key : t.rowKeyOf(pk, slot), contentType: TABLE_CONTENT_TYPE, expiresAtMs, value: encodeRow(t.state.types, next) });
      if (indexed) indexEntryWrites(t.state.info, place.row, next, pk, slot, expiresAtMs, place.expiresAtMs, writes);
    };
    const { affected, resume } = this.matching(t, c.where, c.resume, nowMs, change);
    return this.commit(t, writes, marks, 0, { ok: true, op: 'update', affected, resume }, nowMs, undo);
  }

  /** CQL UPDATE of one row by full primary key: changed when there, created when not. */
  private upsert(t: TableData, c: Extract<TableCommand, { op: 'update' }>, nowMs: number, undo: Undo[]) {
    const keyCells = c.upsertKey as Cell[];
    const pk = t.pkBytes(keyCells);
    const slot = t.slotOfPk(pk, keyCells);
    const place = t.lookup(keyCells, pk, slot, nowMs);
    const writes: Write[] = [];
    const marks: [number, number][] = [];
    const cols = t.state.info.columns;
    let before: Row | null = null;
    let next: Row;
    let expiresAtMs: number;
    if (place === null) {
      next = cols.map((col) => col.default);
      for (let i = 0; i < keyCells.length; i++) next[t.state.keyCols[i]] = keyCells[i];
      expiresAtMs = newRowExpiry(t.state.info, c.ttlMs, nowMs);
    } else {
      before = place.row;
      next = place.row.slice();
      expiresAtMs = changedExpiry(place.expiresAtMs, c.ttlMs, nowMs, c.cellTtl === true);
      if (place.kind === 'segment') {
        writes.push(this.markWrite(t, place.seg, place.index, slot));
        marks.push([place.seg.segId, place.index]);
      }
    }
    for (const [col, cell] of c.set) next[col] = cell;
    for (let i = 0; i < cols.length; i++) {
      if (!cols[i].nullable && next[i] === null) throw new MantisError('NOT_NULL_VIOLATION', `column "${cols[i].name}" may not be null`, { column: cols[i].name });
    }
    writes.push({ kind: 'put', key: t.rowKeyOf(pk, slot), contentType: TABLE_CONTENT_TYPE, expiresAtMs, value: encodeRow(t.state.types, next) });
    if (t.state.info.indexes.some((i) => i.type !== 'bloom')) indexEntryWrites(t.state.info, before, next, pk, slot, expiresAtMs, place?.expiresAtMs ?? 0, writes);
    return this.commit(t, writes, marks, place === null ? 1 : 0, { ok: true, op: 'update', affected: 1, resume: null }, nowMs, undo);
  }

  private remove(c: Extract<TableCommand, { op: 'delete' }>, nowMs: number, undo: Undo[]) {
    const t = this.table(c.table, c.tableId);
    const writes: Write[] = [];
    const marks: [number, number][] = [];
    const { affected, resume } = this.matching(t, c.where, c.resume, nowMs, (place, pk, slot) => this.deleteWrites(t, place, pk, slot, writes, marks));
    return this.commit(t, writes, marks, 0, { ok: true, op: 'delete', affected, resume }, nowMs, undo);
  }

  /**
   * Calls `change` for each live row matching `where`, at most WRITE_SLICE_ROWS: the delta first
   * (key order), then the segments that existed when the sequence began (id order). A row changed
   * in the delta keeps its key (not met again); a segment row changed goes to the delta, which
   * this sequence has already passed. The mover keeps off the table while the sequence is open.
   */
  private matching(
    t: TableData,
    where: Predicate | null,
    resumeBytes: Uint8Array | null,
    nowMs: number,
    change: (place: RowPlace, pk: Uint8Array, slot: number) => void,
  ): { affected: number; resume: Uint8Array | null } {
    const r: Resume =
      resumeBytes === null
        ? { phase: 0, key: null, seg: -1, idx: -1, maxSeg: t.segments.length === 0 ? -1 : t.segments[t.segments.length - 1].segId }
        : unpackValue<Resume>(resumeBytes);
    const needed = t.state.types.map(() => true);
    const counters = newCounters();
    let affected = 0;
    let next: Resume | null = null;
    if (r.phase === 0) {
      let lastKey: string | null = r.key;
      t.scanDelta(needed, r.key, nowMs, counters, 4096, (batch, source) => {
        const sel = this.select(batch, where);
        const src = source as Extract<BatchSource, { kind: 'delta' }>;
        for (let k = 0; k < sel.length; k++) {
          const i = sel[k];
          const row = src.rows[i];
          const key = binaryToKey(src.keys[i]);
          const entry = this.d.store.get(key, nowMs);
          change({ kind: 'delta', key, row, expiresAtMs: entry?.expiresAtMs ?? 0 }, pkFromRowKey(key), slotOfTableKey(key));
          affected++;
          lastKey = src.keys[i];
          if (affected >= WRITE_SLICE_ROWS) {
            next = { ...r, phase: 0, key: lastKey };
            return false;
          }
        }
        if (batch.length > 0) lastKey = src.keys[batch.length - 1];
        return true;
      });
      if (next === null) next = { ...r, phase: 1, key: null, seg: -1, idx: -1 };
      if (affected >= WRITE_SLICE_ROWS) return this.sliceEnd(t, affected, next, nowMs);
    } else {
      next = r;
    }
    const from: Resume = next;
    for (const seg of [...t.segments]) {
      if (seg.segId > from.maxSeg || seg.segId < from.seg) continue;
      if (!t.segmentMayMatch(seg, where, null)) continue;
      const startIdx = seg.segId === from.seg ? from.idx + 1 : 0;
      let stop = false;
      t.visitSegment(seg, needed, nowMs, counters, (batch) => {
        const sel = this.select(batch, where);
        for (let k = 0; k < sel.length; k++) {
          const i = sel[k];
          if (i < startIdx) continue;
          const row = t.segmentRow(seg, i);
          const keyCells = t.keyCellsOf(row);
          change({ kind: 'segment', seg, index: i, row, expiresAtMs: t.expiryOf(seg, i) }, t.pkBytes(keyCells), t.slotOf(keyCells));
          affected++;
          if (affected >= WRITE_SLICE_ROWS) {
            next = { ...from, phase: 1, seg: seg.segId, idx: i };
            stop = true;
            return false;
          }
        }
        return true;
      });
      if (stop) return this.sliceEnd(t, affected, next, nowMs);
    }
    this.leases.delete(t.tableId);
    return { affected, resume: null };
  }

  private sliceEnd(t: TableData, affected: number, next: Resume, nowMs: number): { affected: number; resume: Uint8Array } {
    this.leases.set(t.tableId, nowMs + SLICE_LEASE_MS);
    return { affected, resume: packValue(next) };
  }

  /** The selected rows of a batch after the filter. */
  private select(batch: Batch, where: Predicate | null): Uint32Array {
    if (where !== null) batch.selection = filterBatch(batch, where);
    return batch.selection ?? allRows(batch.length);
  }

  /** Applies a command's writes as one set (one WAL record); a transaction's intent refuses them all. */
  private commit(
    t: TableData,
    writes: Write[],
    marks: [number, number][],
    newDeltaRows: number,
    answer: TableAnswer,
    nowMs: number,
    undo: Undo[],
    distinct = false,
  ): { answer: TableAnswer; writes: Write[] } | ShardResponse {
    const unique = distinct ? writes : dedupe(writes);
    const refused = this.d.ops.applyInternalWrites(unique, nowMs, undo);
    if (refused !== null) return refused;
    for (const [seg, idx] of marks) t.noteMark(seg, idx, true);
    if (unique.length > 0) {
      t.deltaWrites += newDeltaRows + marks.length;
      t.lastWriteMs = nowMs;
    }
    return { answer, writes: unique };
  }


  // ---- reads ----------------------------------------------------------------

  private get(c: Extract<TableCommand, { op: 'get' }>, nowMs: number): TableAnswer {
    const t = this.table(c.table, c.tableId);
    const rows: (Row | null)[] = [];
    for (const keyCells of c.keys) {
      const pk = t.pkBytes(keyCells);
      const place = t.lookup(keyCells, pk, t.slotOfPk(pk, keyCells), nowMs);
      if (place === null) rows.push(null);
      else rows.push(c.columns.length === 0 ? place.row : c.columns.map((col) => place.row[col]));
    }
    return { ok: true, op: 'get', rows };
  }

  /** A query over the current rows, or over a transaction's snapshot (no index plans there). */
  query(c: QueryCommand, nowMs: number, snap: SnapshotTable | null = null): TableAnswer {
    const t = this.table(c.table, c.tableId);
    const state = t.state;
    const aggregating = c.groupBy.length > 0 || c.aggregates.length > 0;
    const answerCols: number[] = [];
    const needed = state.types.map(() => false);
    if (c.where !== null) for (const col of predicateColumns(c.where)) needed[col] = true;
    const width = state.types.length;
    const derived = c.derived ?? [];
    if (aggregating) {
      for (const col of c.groupBy) needed[col] = true;
      for (const a of c.aggregates) if (a.col !== null && a.col < width) needed[a.col] = true;
      for (const d of derived) for (const col of derivedColumns(d)) needed[col] = true;
    } else {
      for (const col of c.columns) answerCols.push(col);
      for (const o of c.orderBy) if (!answerCols.includes(o.col)) answerCols.push(o.col);
      for (const k of state.keyCols) if (!answerCols.includes(k)) answerCols.push(k);
      for (const col of answerCols) needed[col] = true;
    }
    const counters = newCounters();
    const aggTypes: ColumnType[] = derived.length === 0 ? [...state.types] : [...state.types, ...derived.map((): ColumnType => 'float64')];
    const agg = aggregating ? new PartialAggregator([...c.groupBy], [...c.aggregates], aggTypes) : null;
    const top = aggregating ? null : new TopK([...c.orderBy], state.keyCols, c.limit, c.after, state.keyDesc);
    const visit = (batch: Batch): boolean => {
      if (c.where !== null) {
        batch.selection = filterBatch(batch, c.where);
        if (batch.selection !== null && batch.selection.length === 0) return true;
      }
      if (agg !== null) agg.addBatch(derived.length === 0 ? batch : withDerived(batch, derived));
      else (top as TopK).addBatch(batch, answerCols);
      return true;
    };
    let plan = 'SCAN';
    let indexName: string | null = null;
    const pkKeys = c.hint === '$scan' ? null : pkKeysOf(state, c.where);
    if (pkKeys !== null) {
      plan = 'PK';
      this.visitKeys(t, pkKeys.map((k) => t.pkBytes(k)), needed, nowMs, counters, visit, snap);
    } else if (snap !== null) {
      snap.scan(needed, c.where, nowMs, counters, visit);
    } else {
      const chosen = c.hint === '$scan' ? null : chooseIndex(state.info, c.where, c.hint, c.orderBy, c.limit);
      // The index's rows (stopping early when it yields the ORDER BY order and no cursor skips
      // rows); past INDEX_ROWS_CAP entries a scan is cheaper unless the index was asked for.
      const fetched =
        chosen === null
          ? null
          : indexRows(
              this.d.store,
              chosen,
              c.where,
              nowMs,
              (pk, slot) => t.lookup(t.keyCellsFromPk(pk), pk, slot, nowMs)?.row ?? null,
              aggregating || c.after !== null ? 0 : c.limit,
              c.hint === null ? INDEX_ROWS_CAP : 0,
            );
      if (chosen !== null && fetched !== null) {
        plan = 'INDEX';
        indexName = chosen.index.name;
        t.indexHits[indexName] = (t.indexHits[indexName] ?? 0) + 1;
        counters.rowsScanned += fetched.examined;
        if (fetched.rows.length > 0) visit(rowsToBatch(state.types, fetched.rows, needed));
      } else {
        t.scan(needed, c.where, nowMs, counters, visit);
      }
    }
    const stats: ScanStats = {
      plan,
      index: indexName,
      segmentsTotal: counters.segmentsTotal,
      segmentsPruned: counters.segmentsPruned,
      rowsScanned: counters.rowsScanned,
      deltaRows: counters.deltaRows,
    };
    if (agg !== null) return { ok: true, op: 'query', columns: [], rows: [], groups: agg.result(), stats };
    return { ok: true, op: 'query', columns: answerCols, rows: (top as TopK).rows(c.unordered !== true || c.orderBy.length > 0 || c.limit > 0), groups: [], stats };
  }

  /** Rows by pk bytes (a primary-key or index plan) as batches. */
  private visitKeys(t: TableData, pks: Uint8Array[], needed: boolean[], nowMs: number, counters: ScanCounters, visit: (batch: Batch) => boolean, snap: SnapshotTable | null = null): void {
    const rows: Row[] = [];
    const seen = new Set<string>();
    for (const pk of pks) {
      const bin = keyToBinary(pk);
      if (seen.has(bin)) continue;
      seen.add(bin);
      const keyCells = t.keyCellsFromPk(pk);
      const slot = t.slotOfPk(pk, keyCells);
      const place = snap === null ? t.lookup(keyCells, pk, slot, nowMs) : snap.lookup(keyCells, pk, slot);
      if (place !== null) rows.push(place.row);
    }
    counters.rowsScanned += rows.length;
    if (rows.length > 0) visit(rowsToBatch(t.state.types, rows, needed));
  }

  // ---- stats ----------------------------------------------------------------

  stats(t: TableData, nowMs: number): ShardTableStats {
    const deltaRows = t.deltaCount(nowMs);
    let segmentRows = 0;
    let deletedRows = 0;
    let bytesOnDisk = 0;
    const cols = t.state.info.columns.map((col) => ({ name: col.name, plainBytes: 0, storedBytes: 0, encodings: {} as Record<string, number>, encodingsPlain: {} as Record<string, number>, zone: null as ZoneMap | null }));
    for (const seg of t.segments) {
      segmentRows += seg.meta.rows;
      deletedRows += t.marksOf(seg, nowMs).size;
      bytesOnDisk += seg.meta.bytes;
      for (let i = 0; i < seg.columnCount && i < cols.length; i++) {
        const m = seg.meta.columns[i];
        const out = cols[i];
        out.plainBytes += m.plainBytes;
        out.storedBytes += m.length;
        out.encodings[m.encoding] = (out.encodings[m.encoding] ?? 0) + m.length;
        out.encodingsPlain[m.encoding] = (out.encodingsPlain[m.encoding] ?? 0) + m.plainBytes;
        out.zone = mergeZones(out.zone, m.zone);
      }
    }
    return {
      indexBuilds: indexBuildsOf(this.d.store, t.state.info, nowMs),
      rows: deltaRows + segmentRows - deletedRows,
      deltaRows,
      segments: t.segments.length,
      segmentRows,
      deletedRows,
      bytesOnDisk,
      bytesInMemory: t.segments.reduce((sum, seg) => sum + this.cache.costOf(seg.path), 0),
      columns: cols,
      zoneMapChecks: t.zoneMapChecks,
      zoneMapPrunes: t.zoneMapPrunes,
      bloomChecks: t.bloomChecks,
      bloomPrunes: t.bloomPrunes,
      indexHits: { ...t.indexHits },
      lastMove: t.lastMove,
    };
  }

  /** Is the table's mover held off by an open update/delete slice sequence? */
  leased(tableId: number, nowMs: number): boolean {
    const until = this.leases.get(tableId);
    if (until === undefined) return false;
    if (until > nowMs) return true;
    this.leases.delete(tableId);
    return false;
  }
}

const EMPTY = new Uint8Array(0);

function read(answer: TableAnswer): { answer: TableAnswer; writes: Write[] } {
  return { answer, writes: [] };
}

let allRowsCache = new Uint32Array(0);
function allRows(n: number): Uint32Array {
  if (allRowsCache.length < n) {
    allRowsCache = new Uint32Array(Math.max(n, 65536));
    for (let i = 0; i < allRowsCache.length; i++) allRowsCache[i] = i;
  }
  return allRowsCache.subarray(0, n);
}

function mergeZones(a: ZoneMap | null, b: ZoneMap): ZoneMap {
  if (a === null) return b;
  const min = a.min === null ? b.min : b.min === null ? a.min : compareCells(a.min, b.min) <= 0 ? a.min : b.min;
  const max = a.max === null ? b.max : b.max === null ? a.max : compareCells(a.max, b.max) >= 0 ? a.max : b.max;
  return { min, max, nullCount: a.nullCount + b.nullCount, rowCount: a.rowCount + b.rowCount, distinct: Math.max(a.distinct, b.distinct) };
}

/** Later writes of one key win. */
function dedupe(writes: Write[]): Write[] {
  if (writes.length < 2) return writes;
  const last = new Map<string, number>();
  for (let i = 0; i < writes.length; i++) {
    const k = writes[i].key;
    last.set(keyToBinary(k), i);
  }
  if (last.size === writes.length) return writes;
  return writes.filter((w, i) => last.get(keyToBinary(w.key)) === i);
}

/**
 * The primary keys a where clause pins (= or IN on every key column, under a top-level AND), or
 * null when it does not pin them all (or pins too many).
 */
export function pkKeysOf(state: TableState, where: Predicate | null): Cell[][] | null {
  if (where === null) return null;
  const terms = 'and' in where ? where.and : [where];
  const values: (readonly Cell[] | null)[] = state.keyCols.map(() => null);
  for (const term of terms) {
    if (!('col' in term)) continue;
    const k = state.keyCols.indexOf(term.col);
    if (k < 0 || values[k] !== null) continue;
    if (term.op === '=') values[k] = [term.value];
    else if (term.op === 'in') values[k] = term.value;
  }
  let keys: Cell[][] = [[]];
  for (const v of values) {
    if (v === null) return null;
    if (keys.length * v.length > PK_PLAN_KEYS_MAX) return null;
    const next: Cell[][] = [];
    for (const prefix of keys) for (const cell of v) if (cell !== null) next.push([...prefix, cell]);
    keys = next;
  }
  return keys;
}
