// A table on this shard as a transaction sees it: the state at its snapshot
// timestamp, with the transaction's own writes of the table on top (the
// overlay the router sends), and the planning of its operations there.
//
// The LSM holds only each key's latest value; the version store
// (workers/txn/version-store.ts) knows the keys committed after a snapshot and
// what they held before. So a key read at snapshot S is the overlay's write,
// else the version store's answer (the LSM's current entry, or the older
// version S saw), and a listing at S is the LSM's current listing corrected by
// `visibleAt`. The table's structure is read the same way: the segment entries
// (S keys) at S name the segments S saw — one compacted away since is still
// read from its file, which the shard keeps until no snapshot older than the
// compaction is left (TableShard.retireFiles) — and each segment's delete
// marks (V keys) at S say which of its rows are live there.
//
// planTxn runs one operation (insert, update, delete, get, query) over that
// view and answers the key writes it makes — delta rows, delete marks, index
// entries, exactly what the plain command would apply — without applying
// anything; the router buffers them in the transaction, and the transaction's
// commit applies them (first committer wins on every key). The segment
// entries of the segments whose rows it marks deleted go back as keys to
// validate at commit: a compaction that rewrote such a segment after the
// snapshot makes the commit fail TXN_CONFLICT instead of marking a row of a
// segment that is gone (which would lose the delete or leave a duplicate);
// so does the table's catalog entry, since the writes carry the index entries
// of the schema the shard had when it planned them.
// Runs inside a shard.

import { existsSync } from 'node:fs';
import { MantisError } from '../../shared/errors.js';
import { LIMITS } from '../../shared/limits.js';
import type { QueryCommand, TableAnswer, TxnKeyWrite, TxnTableAnswer, TxnTableCommand } from '../../shared/tables/table-protocol.js';
import { deleteMarkPrefix, rowPrefix, segmentKey, tableCatalogKey, segmentPrefix, segIdFromKey, slotOfTableKey, pkFromRowKey } from '../../shared/tables/table-keys.js';
import { decodeSegmentMeta } from '../../shared/tables/segment-format.js';
import type { Batch, Cell, Predicate, Row } from '../../shared/tables/table-types.js';
import { rowsToBatch } from '../../shared/tables/vector-rows.js';
import { filterBatch } from '../../shared/tables/vector-filter.js';
import { encodeRow } from '../../shared/tables/row-codec.js';
import type { DeleteOp, PutOp } from '../../shared/wire.js';
import type { LsmStore } from '../lsm/index.js';
import { binaryToKey, isLive, keyToBinary } from '../store/memtable.js';
import { prefixEnd } from '../store/sorted-keys.js';
import type { VersionStore } from '../txn/version-store.js';
import { TABLE_CONTENT_TYPE } from './table-catalog.js';
import type { BatchSource, RowPlace, ScanCounters, SegEntry, TableData } from './table-data.js';
import { indexEntryWrites } from './table-index.js';
import { changedExpiry, insertWrites, newRowExpiry } from './table-row-writes.js';

type Write = PutOp | DeleteOp;

const DELTA_BATCH_ROWS = 4096;
const EMPTY = new Uint8Array(0);

/** A key another transaction holds while committing: the read must wait (answered txn-locked). */
export class LockedRead extends Error {
  constructor(
    readonly key: Uint8Array,
    readonly txnId: string,
  ) {
    super('a key the snapshot read is held by a committing transaction');
  }
}

type Seen = { readonly value: Uint8Array; readonly expiresAtMs: number };
type Listed = { readonly key: string; readonly value: Uint8Array; readonly expiresAtMs: number };

/** Keys at a snapshot, with a transaction's own writes on top. */
export class SnapshotView {
  private readonly overlay = new Map<string, TxnKeyWrite>();

  constructor(
    private readonly store: LsmStore,
    private readonly versions: VersionStore,
    private readonly snapshotTs: number,
    overlay: readonly TxnKeyWrite[],
    private readonly nowMs: number,
  ) {
    for (const w of overlay) this.overlay.set(keyToBinary(w.key), w);
  }

  /** The live entry of a key (throws LockedRead, SnapshotTooOldError). */
  get(key: Uint8Array): Seen | undefined {
    const bin = keyToBinary(key);
    const own = this.overlay.get(bin);
    if (own !== undefined) return own.value === null || expired(own.expiresAtMs, this.nowMs) ? undefined : { value: own.value, expiresAtMs: own.expiresAtMs };
    const lookup = this.versions.lookup(bin, this.snapshotTs);
    if (lookup.kind === 'locked') throw new LockedRead(key, lookup.txnId);
    const entry = lookup.kind === 'latest' ? this.store.get(key, this.nowMs) : lookup.entry !== undefined && isLive(lookup.entry, this.nowMs) ? lookup.entry : undefined;
    return entry === undefined ? undefined : { value: entry.value, expiresAtMs: entry.expiresAtMs };
  }

  /** The live entries under a prefix, in key order. */
  list(prefixBytes: Uint8Array): Listed[] {
    const prefix = keyToBinary(prefixBytes);
    const corrections = this.versions.visibleAt(prefix, this.snapshotTs);
    if (corrections.kind === 'locked') throw new LockedRead(binaryToKey(corrections.key), corrections.txnId);
    const dropped = new Set(corrections.hide);
    for (const s of corrections.show) dropped.add(s.key);
    const out = new Map<string, Listed>();
    this.store.scan(prefix, false, prefixEnd(prefix), this.nowMs, (key) => {
      if (dropped.has(key)) return true;
      const entry = this.store.get(binaryToKey(key), this.nowMs);
      if (entry !== undefined) out.set(key, { key, value: entry.value, expiresAtMs: entry.expiresAtMs });
      return true;
    });
    for (const s of corrections.show) if (isLive(s.entry, this.nowMs)) out.set(s.key, { key: s.key, value: s.entry.value, expiresAtMs: s.entry.expiresAtMs });
    for (const [bin, w] of this.overlay) {
      if (!bin.startsWith(prefix)) continue;
      if (w.value === null || expired(w.expiresAtMs, this.nowMs)) out.delete(bin);
      else out.set(bin, { key: bin, value: w.value, expiresAtMs: w.expiresAtMs });
    }
    return [...out.keys()].sort().map((k) => out.get(k) as Listed);
  }
}

function expired(expiresAtMs: number, nowMs: number): boolean {
  return expiresAtMs !== 0 && expiresAtMs <= nowMs;
}

/** One table's rows at a snapshot (the RowReader a query runs over). */
export class SnapshotTable {
  private segs: SegEntry[] | null = null;
  private readonly marks = new Map<number, Set<number>>();

  constructor(
    readonly t: TableData,
    readonly view: SnapshotView,
    private readonly nowMs: number,
  ) {}

  /** The segments the snapshot saw, by id ascending; a file deleted since: TXN_SNAPSHOT_TOO_OLD. */
  segments(): SegEntry[] {
    if (this.segs !== null) return this.segs;
    const out: SegEntry[] = [];
    for (const e of this.view.list(segmentPrefix(this.t.tableId))) {
      const segId = segIdFromKey(binaryToKey(e.key));
      let seg = this.t.segments.find((s) => s.segId === segId);
      if (seg === undefined) {
        seg = this.t.entryOf(segId, decodeSegmentMeta(e.value.slice()));
        if (!existsSync(seg.path)) {
          throw new MantisError('TXN_SNAPSHOT_TOO_OLD', `segment ${segId} of table "${this.t.state.info.name}" that this transaction's snapshot reads was compacted and its file removed; start a new transaction`);
        }
      }
      out.push(seg);
    }
    this.segs = out.sort((a, b) => a.segId - b.segId);
    return this.segs;
  }

  /** A segment's delete marks at the snapshot. */
  marksOf(seg: SegEntry): Set<number> {
    let set = this.marks.get(seg.segId);
    if (set === undefined) {
      set = new Set();
      for (const e of this.view.list(deleteMarkPrefix(this.t.tableId, seg.segId))) set.add(markIndexOf(e.key));
      this.marks.set(seg.segId, set);
    }
    return set;
  }

  lookup(keyCells: Cell[], pk: Uint8Array, slot: number): RowPlace | null {
    const key = this.t.rowKeyOf(pk, slot);
    const entry = this.view.get(key);
    if (entry !== undefined) return { kind: 'delta', key, row: this.t.decode(entry.value), expiresAtMs: entry.expiresAtMs };
    const segs = this.segments();
    for (let s = segs.length - 1; s >= 0; s--) {
      const seg = segs[s];
      if (Buffer.compare(pk, seg.minKey) < 0 || Buffer.compare(pk, seg.maxKey) > 0) continue;
      const index = this.t.findInSegment(seg, keyCells, pk);
      if (index < 0) continue;
      if (this.view.get(this.t.markKey(seg, index, slot)) !== undefined) continue;
      const expiresAtMs = this.t.expiryOf(seg, index);
      if (expired(expiresAtMs, this.nowMs)) continue;
      return { kind: 'segment', seg, index, row: this.t.segmentRow(seg, index), expiresAtMs };
    }
    return null;
  }

  /** The live rows of a segment at the snapshot as a selection (null: all). */
  private selection(seg: SegEntry): Uint32Array | null {
    const marks = this.marksOf(seg);
    const n = seg.meta.rows;
    const hasExpiry = seg.meta.expiry !== null;
    if (marks.size === 0 && !hasExpiry) return null;
    const sel = new Uint32Array(n);
    let k = 0;
    for (let i = 0; i < n; i++) {
      if (marks.has(i)) continue;
      if (hasExpiry && expired(this.t.expiryOf(seg, i), this.nowMs)) continue;
      sel[k++] = i;
    }
    return k === n ? null : sel.subarray(0, k);
  }

  /** Every live row as batches: segments (pruned by `where`), then the delta. */
  scan(needed: boolean[], where: Predicate | null, _nowMs: number, counters: ScanCounters, visit: (batch: Batch, source: BatchSource) => boolean): void {
    for (const seg of this.segments()) {
      counters.segmentsTotal++;
      if (!this.t.segmentMayMatch(seg, where, counters)) {
        counters.segmentsPruned++;
        continue;
      }
      const selection = this.selection(seg);
      if (selection !== null && selection.length === 0) continue;
      const columns = new Array<ReturnType<TableData['segColumn']> | undefined>(this.t.state.types.length);
      for (let c = 0; c < columns.length; c++) if (needed[c]) columns[c] = this.t.segColumn(seg, c);
      counters.rowsScanned += selection === null ? seg.meta.rows : selection.length;
      if (!visit({ length: seg.meta.rows, columns, selection }, { kind: 'segment', seg })) return;
    }
    this.scanDelta(needed, counters, (batch, source) => visit(batch, { kind: 'delta', keys: source.keys, rows: source.rows }));
  }

  private scanDelta(needed: boolean[], counters: ScanCounters, visit: (batch: Batch, source: { keys: string[]; rows: Row[]; expires: number[] }) => boolean): void {
    const listed = this.view.list(rowPrefix(this.t.tableId));
    for (let at = 0; at < listed.length; at += DELTA_BATCH_ROWS) {
      const part = listed.slice(at, at + DELTA_BATCH_ROWS);
      const rows = part.map((e) => this.t.decode(e.value));
      counters.rowsScanned += rows.length;
      counters.deltaRows += rows.length;
      if (!visit(rowsToBatch(this.t.state.types, rows, needed), { keys: part.map((e) => e.key), rows, expires: part.map((e) => e.expiresAtMs) })) return;
    }
  }

  /** Calls `change` for every live row matching `where` (segments, then the delta). */
  matching(where: Predicate | null, change: (place: RowPlace, pk: Uint8Array, slot: number) => void): number {
    const needed = this.t.state.types.map(() => true);
    const counters = { segmentsTotal: 0, segmentsPruned: 0, rowsScanned: 0, deltaRows: 0, zoneMapChecks: 0, zoneMapPrunes: 0, bloomChecks: 0, bloomPrunes: 0 };
    let affected = 0;
    for (const seg of this.segments()) {
      if (!this.t.segmentMayMatch(seg, where, null)) continue;
      const batch: Batch = { length: seg.meta.rows, columns: [], selection: this.selection(seg) };
      if (batch.selection !== null && batch.selection.length === 0) continue;
      for (let c = 0; c < needed.length; c++) batch.columns[c] = this.t.segColumn(seg, c);
      for (const i of select(batch, where)) {
        const row = this.t.segmentRow(seg, i);
        const keyCells = this.t.keyCellsOf(row);
        change({ kind: 'segment', seg, index: i, row, expiresAtMs: this.t.expiryOf(seg, i) }, this.t.pkBytes(keyCells), this.t.slotOf(keyCells));
        affected++;
      }
    }
    this.scanDelta(needed, counters, (batch, source) => {
      for (const i of select(batch, where)) {
        const key = binaryToKey(source.keys[i]);
        change({ kind: 'delta', key, row: source.rows[i], expiresAtMs: source.expires[i] }, pkFromRowKey(key), slotOfTableKey(key));
        affected++;
      }
      return true;
    });
    return affected;
  }
}

function select(batch: Batch, where: Predicate | null): Uint32Array | number[] {
  if (where !== null) batch.selection = filterBatch(batch, where);
  if (batch.selection !== null) return batch.selection;
  return Array.from({ length: batch.length }, (_, i) => i);
}

/** Row index of a delete-mark key (FF 'V' u32 table u32 seg u32 row slot) given as a binary string. */
function markIndexOf(key: string): number {
  return ((key.charCodeAt(10) << 24) >>> 0) + (key.charCodeAt(11) << 16) + (key.charCodeAt(12) << 8) + key.charCodeAt(13);
}

/** What the shard's query needs to run over a snapshot instead of the current rows. */
export type QueryRunner = (c: QueryCommand, nowMs: number, reader: SnapshotTable) => TableAnswer;

/** Plans one transaction operation on table `t` at the command's snapshot (see the header). */
export function planTxn(
  t: TableData,
  store: LsmStore,
  versions: VersionStore,
  c: TxnTableCommand,
  nowMs: number,
  runQuery: QueryRunner,
): TxnTableAnswer {
  const snap = new SnapshotTable(t, new SnapshotView(store, versions, c.snapshotTs, c.overlay, nowMs), nowMs);
  const info = t.state.info;
  const indexed = info.indexes.some((i) => i.type !== 'bloom');
  const writes: Write[] = [];
  const rowOf: number[] = [];
  const keyCells: Cell[][] = [];
  const validate = new Map<number, Uint8Array>();
  /** The writes pushed since the last call belong to the row with these key cells. */
  const own = (cells: Cell[]): void => {
    keyCells.push(cells);
    while (rowOf.length < writes.length) rowOf.push(keyCells.length - 1);
  };
  /**
   * A transaction writes at most LIMITS.txn_writes_max keys: a write that plans more on this shard
   * alone is refused as soon as it does, not after planning every row (which holds the shard).
   */
  const bounded = (): void => {
    if (writes.length > LIMITS.txn_writes_max) {
      throw new MantisError('INVALID_PARAMETER', `this ${c.action.kind} would write more than ${LIMITS.txn_writes_max} keys in transaction (a table row is one key, plus one per index entry and one per delete mark); the limit is ${LIMITS.txn_writes_max}: split it, or run it outside the transaction`);
    }
  };
  const mark = (seg: SegEntry, index: number, slot: number): void => {
    writes.push({ kind: 'put', key: t.markKey(seg, index, slot), contentType: TABLE_CONTENT_TYPE, expiresAtMs: 0, value: EMPTY });
    if (!validate.has(seg.segId)) validate.set(seg.segId, segmentKey(t.tableId, seg.segId));
  };
  const a = c.action;
  let result: TableAnswer;
  switch (a.kind) {
    case 'insert': {
      const lookup = (cells: Cell[], pk: Uint8Array, slot: number): RowPlace | null => snap.lookup(cells, pk, slot);
      const n = insertWrites(t, a.rows, a.rowIndex, a.onConflict, newRowExpiry(info, a.ttlMs, nowMs), lookup, mark, writes, own);
      result = { ok: true, op: 'insert', inserted: n.inserted, replaced: n.replaced, ignored: n.ignored, insertedKeys: n.insertedKeys };
      break;
    }
    case 'update': {
      for (const [col] of a.set) {
        if (col < 0 || col >= t.state.types.length) throw new MantisError('UNKNOWN_COLUMN', `update sets unknown column position ${col}`);
        if (t.state.isKeyCol[col]) throw new MantisError('BAD_QUERY', `update may not set primary-key column "${info.columns[col].name}"`, { column: info.columns[col].name });
      }
      const affected = snap.matching(a.where, (place, pk, slot) => {
        const next = place.row.slice();
        for (const [col, cell] of a.set) next[col] = cell;
        const expiresAtMs = changedExpiry(place.expiresAtMs, a.ttlMs, nowMs, false);
        if (place.kind === 'segment') mark(place.seg, place.index, slot);
        writes.push({ kind: 'put', key: place.kind === 'delta' ? place.key : t.rowKeyOf(pk, slot), contentType: TABLE_CONTENT_TYPE, expiresAtMs, value: encodeRow(t.state.types, next) });
        if (indexed) indexEntryWrites(info, place.row, next, pk, slot, expiresAtMs, place.expiresAtMs, writes);
        own(t.keyCellsOf(place.row));
        bounded();
      });
      result = { ok: true, op: 'update', affected, resume: null };
      break;
    }
    case 'delete': {
      const affected = snap.matching(a.where, (place, pk, slot) => {
        if (place.kind === 'delta') writes.push({ kind: 'delete', key: place.key });
        else mark(place.seg, place.index, slot);
        if (indexed) indexEntryWrites(info, place.row, null, pk, slot, 0, place.expiresAtMs, writes);
        own(t.keyCellsOf(place.row));
        bounded();
      });
      result = { ok: true, op: 'delete', affected, resume: null };
      break;
    }
    case 'get': {
      const rows: (Row | null)[] = [];
      for (const cells of a.keys) {
        const pk = t.pkBytes(cells);
        const place = snap.lookup(cells, pk, t.slotOfPk(pk, cells));
        if (place === null) rows.push(null);
        else rows.push(a.columns.length === 0 ? place.row : a.columns.map((col) => place.row[col]));
      }
      result = { ok: true, op: 'get', rows };
      break;
    }
    case 'query':
      result = runQuery(a.query, nowMs, snap);
      break;
  }
  // Later writes of one key win (an insert repeating a key, an index entry deleted and put again).
  const last = new Map<string, number>();
  writes.forEach((w, i) => last.set(keyToBinary(w.key), i));
  const out: (TxnKeyWrite & { row: number })[] = [];
  writes.forEach((w, i) => {
    if (last.get(keyToBinary(w.key)) !== i) return;
    out.push({ key: w.key, value: w.kind === 'put' ? w.value : null, expiresAtMs: w.kind === 'put' ? w.expiresAtMs : 0, row: rowOf[i] ?? 0 });
  });
  // The writes follow the table's schema as this shard has it now (its indexes, columns): a schema
  // change before the commit (an index being built would miss these rows) aborts it.
  if (out.length > 0) validate.set(-1, tableCatalogKey(info.name));
  return { ok: true, op: 'txn', result, writes: out, keyCells, validate: [...validate.values()] };
}
