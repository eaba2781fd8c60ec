// One shard's rows of the tables: where each row lives and how to read it.
// A row lives in exactly one live place:
// - the delta: an LSM internal key rowKey(table, pk, slot) whose value is the
//   row's stored form (row-codec), with the row's TTL as the LSM entry's;
// - or a segment: an immutable column file (tables/t<table>/s<seg>.seg under
//   the shard's data dir) registered by segmentKey(table, seg) → SegmentMeta,
//   its rows in primary-key byte order, unless a delete mark
//   deleteMarkKey(table, seg, row, slot) says that copy is gone.
// Point lookups: delta get, then each segment whose [minKey, maxKey] covers
// the key and whose key bloom may hold it, by binary search over the decoded
// key columns, then the delete mark. Scans produce Batches (column vectors
// with a selection of the live rows) from segments (decoded columns cached in
// memory within a bound) and from the delta (rows decoded into vectors).
// Runs inside a shard.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeRow, rowCellCount } from '../../shared/tables/row-codec.js';
import { crc16 } from '../../shared/slot.js';
import { LIMITS } from '../../shared/limits.js';
import { decodeKeyCells, encodeKeyCells } from '../../shared/tables/key-cells.js';
import { deleteMarkKey, deleteMarkPrefix, pkFromRowKey, rowKey, rowPrefix, rowSlot, segmentKey, slotOfTableKey } from '../../shared/tables/table-keys.js';
import { decodeSegmentMeta, SegmentReader, type SegmentMeta } from '../../shared/tables/segment-format.js';
import { rowsToBatch } from '../../shared/tables/vector-rows.js';
import { mayMatch } from '../../shared/tables/zone-prune.js';
import type { Batch, Cell, ColumnType, NullBitmap, Predicate, Row, Vector, ZoneMap } from '../../shared/tables/table-types.js';
import type { LsmStore } from '../lsm/index.js';
import { binaryToKey, keyToBinary } from '../store/memtable.js';
import { prefixEnd } from '../store/sorted-keys.js';
import { tablePrefix, type TableState } from './table-catalog.js';

/** Delta rows turned into one batch at a time. */
const DELTA_BATCH_ROWS = 4096;

/** One registered segment of a table on this shard. */
export type SegEntry = {
  readonly tableId: number;
  readonly segId: number;
  readonly meta: SegmentMeta;
  readonly path: string;
  readonly minKey: Uint8Array;
  readonly maxKey: Uint8Array;
  /** Columns the segment was written with (later columns: their default). */
  readonly columnCount: number;
};

/** Where a row is: in the delta (its LSM key and value's expiry) or a segment row. */
export type RowPlace =
  | { readonly kind: 'delta'; readonly key: Uint8Array; readonly row: Row; readonly expiresAtMs: number }
  | { readonly kind: 'segment'; readonly seg: SegEntry; readonly index: number; readonly row: Row; readonly expiresAtMs: number };

/** What a scan visit gets beside the batch: where its rows come from. */
export type BatchSource =
  | { readonly kind: 'delta'; readonly keys: string[]; readonly rows: Row[] }
  | { readonly kind: 'segment'; readonly seg: SegEntry };

export type ScanCounters = {
  segmentsTotal: number;
  segmentsPruned: number;
  rowsScanned: number;
  deltaRows: number;
  zoneMapChecks: number;
  zoneMapPrunes: number;
  bloomChecks: number;
  bloomPrunes: number;
};

export function newCounters(): ScanCounters {
  return { segmentsTotal: 0, segmentsPruned: 0, rowsScanned: 0, deltaRows: 0, zoneMapChecks: 0, zoneMapPrunes: 0, bloomChecks: 0, bloomPrunes: 0 };
}

export function segmentPath(dataDir: string, tableId: number, segId: number): string {
  return join(dataDir, 'tables', `t${tableId}`, `s${segId}.seg`);
}

export function tableDir(dataDir: string, tableId: number): string {
  return join(dataDir, 'tables', `t${tableId}`);
}

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

/**
 * Readers of segment files, least recently used first, within a byte bound (file bytes plus
 * decoded column vectors, estimated). One per shard, shared by its tables.
 */
export class SegmentCache {
  private readonly readers = new Map<string, { reader: SegmentReader; cost: number; decoded: Set<number> }>();
  private bytes = 0;

  constructor(private readonly boundBytes: number) {}

  reader(seg: SegEntry): SegmentReader {
    let hit = this.readers.get(seg.path);
    if (hit !== undefined) {
      this.readers.delete(seg.path);
      this.readers.set(seg.path, hit);
      return hit.reader;
    }
    const bytes = readFileSync(seg.path);
    const reader = new SegmentReader(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), seg.meta);
    hit = { reader, cost: bytes.length, decoded: new Set() };
    this.readers.set(seg.path, hit);
    this.bytes += hit.cost;
    this.evict(seg.path);
    return reader;
  }

  /** A decoded column of the segment (cached by the reader; counted against the bound). */
  column(seg: SegEntry, col: number): Vector {
    const reader = this.reader(seg);
    const v = reader.column(col);
    const hit = this.readers.get(seg.path);
    if (hit !== undefined && !hit.decoded.has(col)) {
      hit.decoded.add(col);
      const cost = vectorBytes(v, seg.meta.rows);
      hit.cost += cost;
      this.bytes += cost;
      this.evict(seg.path);
    }
    return v;
  }

  forget(path: string): void {
    const hit = this.readers.get(path);
    if (hit === undefined) return;
    this.readers.delete(path);
    this.bytes -= hit.cost;
  }

  inMemoryBytes(): number {
    return this.bytes;
  }

  /** Bytes held for one segment file (0 when not cached). */
  costOf(path: string): number {
    return this.readers.get(path)?.cost ?? 0;
  }

  private evict(keep: string): void {
    for (const [path, hit] of this.readers) {
      if (this.bytes <= this.boundBytes) return;
      if (path === keep) continue;
      this.readers.delete(path);
      this.bytes -= hit.cost;
    }
  }
}

function vectorBytes(v: Vector, rows: number): number {
  if ('codes' in v) return v.codes.byteLength + v.dict.length * 32;
  if (v.type === 'string' || v.type === 'binary') return rows * 40;
  return (v.values as { byteLength: number }).byteLength;
}

/** The cell at row i of a vector. */
export function cellAt(v: Vector, i: number): Cell {
  if (v.nulls !== null && (v.nulls[i >> 3] & (1 << (i & 7))) !== 0) return null;
  if ('codes' in v) return v.dict[v.codes[i]];
  switch (v.type) {
    case 'int64':
    case 'timestamp': {
      const x = v.values[i];
      return typeof x === 'bigint' ? (x >= -9007199254740991n && x <= 9007199254740991n ? Number(x) : x) : x;
    }
    case 'float64':
      return v.values[i];
    case 'boolean':
      return v.values[i] !== 0;
    case 'string':
      return v.values[i];
    case 'binary':
      return v.values[i];
  }
}

/** A vector of n rows all holding `cell` (a column added after the segment was written). */
export function constantVector(type: ColumnType, cell: Cell, n: number): Vector {
  const nulls: NullBitmap = cell === null ? new Uint8Array((n + 7) >> 3).fill(0xff) : null;
  switch (type) {
    case 'int64':
    case 'timestamp':
      if (typeof cell === 'bigint') return { type, values: new BigInt64Array(n).fill(cell), nulls };
      return { type, values: new Float64Array(n).fill(cell === null ? 0 : (cell as number)), nulls };
    case 'float64':
      return { type, values: new Float64Array(n).fill(cell === null ? 0 : (cell as number)), nulls };
    case 'boolean':
      return { type, values: new Uint8Array(n).fill(cell === true ? 1 : 0), nulls };
    case 'string':
      return { type, codes: new Uint8Array(n), dict: [cell === null ? '' : (cell as string)], nulls };
    case 'binary':
      return { type, values: new Array<Uint8Array>(n).fill(cell === null ? new Uint8Array(0) : (cell as Uint8Array)), nulls };
  }
}

/** One table's data on this shard: its segments (the delta is the LSM's). */
export class TableData {
  /** Segments by id, ascending. */
  segments: SegEntry[] = [];
  /** Delta rows written since the last move (approximate; the mover's trigger). */
  deltaWrites = 0;
  lastWriteMs = 0;
  /** Delete marks per segment, loaded on first use and kept current by every mark this engine writes. */
  private readonly marks = new Map<number, Set<number>>();
  /** Per segment without expiry: its live rows (null: all), derived from the marks. */
  private readonly liveSel = new Map<number, Uint32Array | null>();
  zoneMapChecks = 0;
  zoneMapPrunes = 0;
  bloomChecks = 0;
  bloomPrunes = 0;
  readonly indexHits: Record<string, number> = {};
  lastMove: { atMs: number; rows: number; ms: number } | null = null;

  constructor(
    public state: TableState,
    private readonly store: LsmStore,
    private readonly cache: SegmentCache,
    private readonly dataDir: string,
  ) {}

  get tableId(): number {
    return this.state.info.id;
  }

  /** Reads the table's segment entries (at open). */
  loadSegments(nowMs: number): void {
    const prefix = keyToBinary(tablePrefix('S', this.tableId));
    const segs: SegEntry[] = [];
    this.store.scan(prefix, false, prefixEnd(prefix), nowMs, (key, value) => {
      const bytes = binaryToKey(key);
      const segId = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(6);
      segs.push(this.entryOf(segId, decodeSegmentMeta(value.slice())));
      return true;
    });
    this.segments = segs.sort((a, b) => a.segId - b.segId);
  }

  entryOf(segId: number, meta: SegmentMeta): SegEntry {
    return {
      tableId: this.tableId,
      segId,
      meta,
      path: segmentPath(this.dataDir, this.tableId, segId),
      minKey: meta.minKey,
      maxKey: meta.maxKey,
      columnCount: meta.columns.length,
    };
  }

  addSegment(seg: SegEntry): void {
    this.segments.push(seg);
    this.segments.sort((a, b) => a.segId - b.segId);
  }

  removeSegment(segId: number): SegEntry | undefined {
    const at = this.segments.findIndex((s) => s.segId === segId);
    if (at < 0) return undefined;
    const [seg] = this.segments.splice(at, 1);
    this.marks.delete(segId);
    this.liveSel.delete(segId);
    this.cache.forget(seg.path);
    return seg;
  }

  segmentKeyOf(segId: number): Uint8Array {
    return segmentKey(this.tableId, segId);
  }

  // ---- keys -----------------------------------------------------------------

  keyCellsOf(row: Row): Cell[] {
    const out: Cell[] = new Array<Cell>(this.state.keyCols.length);
    for (let i = 0; i < out.length; i++) out[i] = row[this.state.keyCols[i]];
    return out;
  }

  pkBytes(keyCells: readonly Cell[]): Uint8Array {
    return encodeKeyCells(this.state.keyTypes, keyCells, this.state.keyDesc);
  }

  keyCellsFromPk(pk: Uint8Array): Cell[] {
    return decodeKeyCells(this.state.keyTypes, pk, this.state.keyDesc);
  }

  slotOf(keyCells: Cell[]): number {
    return rowSlot(this.state.info, keyCells);
  }

  /** The slot from the pk bytes when the whole key is the partition key, ascending (the common case); else from the cells. */
  slotOfPk(pk: Uint8Array, keyCells: Cell[]): number {
    return this.pkIsPartition ? crc16(pk) % LIMITS.slot_count : rowSlot(this.state.info, keyCells);
  }

  private get pkIsPartition(): boolean {
    const s = this.state;
    return s.info.partitionKeyLength === s.keyCols.length && !s.keyDesc.includes(true);
  }

  rowKeyOf(pk: Uint8Array, slot: number): Uint8Array {
    return rowKey(this.tableId, pk, slot);
  }

  markKey(seg: SegEntry, index: number, slot: number): Uint8Array {
    return deleteMarkKey(this.tableId, seg.segId, index, slot);
  }

  /** A stored row as a full row of the current schema (added columns get their default). */
  decode(value: Uint8Array): Row {
    const row = decodeRow(this.state.types, value);
    const cols = this.state.info.columns;
    // Cells past the stored count decode as null: an added column's default applies.
    const stored = rowCellCount(value);
    for (let i = stored; i < cols.length; i++) row[i] = cols[i].default;
    return row;
  }

  // ---- delete marks ---------------------------------------------------------

  marksOf(seg: SegEntry, nowMs: number): Set<number> {
    let set = this.marks.get(seg.segId);
    if (set !== undefined) return set;
    set = new Set();
    const prefix = keyToBinary(deleteMarkPrefix(this.tableId, seg.segId));
    this.store.scan(prefix, false, prefixEnd(prefix), nowMs, (key) => {
      set?.add(markIndexOf(key));
      return true;
    });
    this.marks.set(seg.segId, set);
    return set;
  }

  /** A mark this engine wrote (or undid): the cached set follows. */
  noteMark(segId: number, index: number, present: boolean): void {
    this.liveSel.delete(segId);
    const set = this.marks.get(segId);
    if (set === undefined) return;
    if (present) set.add(index);
    else set.delete(index);
  }

  /** Drops the cached marks (a rollback may have undone some). */
  forgetMarks(): void {
    this.marks.clear();
    this.liveSel.clear();
  }

  // ---- point lookups --------------------------------------------------------

  /** The live row with this primary key, or null. */
  lookup(keyCells: Cell[], pk: Uint8Array, slot: number, nowMs: number): RowPlace | null {
    const key = this.rowKeyOf(pk, slot);
    const entry = this.store.get(key, nowMs);
    if (entry !== undefined) return { kind: 'delta', key, row: this.decode(entry.value), expiresAtMs: entry.expiresAtMs };
    for (let s = this.segments.length - 1; s >= 0; s--) {
      const seg = this.segments[s];
      if (compareBytes(pk, seg.minKey) < 0 || compareBytes(pk, seg.maxKey) > 0) continue;
      const index = this.findInSegment(seg, keyCells, pk);
      if (index < 0) continue;
      if (this.marksOf(seg, nowMs).has(index)) continue;
      const expiresAtMs = this.expiryOf(seg, index);
      if (expiresAtMs !== 0 && expiresAtMs <= nowMs) continue;
      return { kind: 'segment', seg, index, row: this.segmentRow(seg, index), expiresAtMs };
    }
    return null;
  }

  /** The row index of the key in the segment, or -1 (bloom first, then binary search). */
  findInSegment(seg: SegEntry, keyCells: Cell[], pk: Uint8Array): number {
    const reader = this.cache.reader(seg);
    this.bloomChecks++;
    if (!reader.mayContainKey(pk)) {
      this.bloomPrunes++;
      return -1;
    }
    if (this.state.keyCols.length === 1) {
      const v = this.cache.column(seg, this.state.keyCols[0]);
      const target = keyCells[0];
      // The common key: one integer column, decoded as numbers: search the numbers themselves.
      if ((v.type === 'int64' || v.type === 'timestamp') && v.values instanceof Float64Array && typeof target === 'number') {
        return searchNumbers(v.values, target, this.state.keyDesc[0]);
      }
    }
    const cols = this.state.keyCols.map((c) => this.cache.column(seg, c));
    const cells: Cell[] = new Array<Cell>(cols.length);
    let lo = 0;
    let hi = seg.meta.rows - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      for (let i = 0; i < cols.length; i++) cells[i] = cellAt(cols[i], mid);
      const c = compareBytes(this.pkBytes(cells), pk);
      if (c === 0) return mid;
      if (c < 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  expiryOf(seg: SegEntry, index: number): number {
    if (seg.meta.expiry === null) return 0;
    const e = this.cache.reader(seg).expiry();
    return e === null ? 0 : e[index];
  }

  /** Row `index` of a segment, every column of the current schema. */
  segmentRow(seg: SegEntry, index: number): Row {
    const cols = this.state.info.columns;
    const row: Row = new Array<Cell>(cols.length);
    for (let c = 0; c < cols.length; c++) row[c] = c < seg.columnCount ? cellAt(this.cache.column(seg, c), index) : cols[c].default;
    return row;
  }

  // ---- scans ----------------------------------------------------------------

  /** A segment's column, or the added column's default for a segment written before it. */
  segColumn(seg: SegEntry, col: number): Vector {
    if (col < seg.columnCount) return this.cache.column(seg, col);
    const def = this.state.info.columns[col];
    return constantVector(def.type, def.default, seg.meta.rows);
  }

  zoneOf(seg: SegEntry, col: number): ZoneMap | null {
    if (col >= seg.columnCount) {
      const d = this.state.info.columns[col].default;
      const n = seg.meta.rows;
      return { min: d, max: d, nullCount: d === null ? n : 0, rowCount: n, distinct: d === null ? 0 : 1 };
    }
    return seg.meta.columns[col].zone;
  }

  /** May the segment hold a row matching the predicate? (zone maps, bloom filters) */
  segmentMayMatch(seg: SegEntry, where: Predicate | null, counters: ScanCounters | null): boolean {
    if (where === null) return true;
    this.zoneMapChecks++;
    if (counters !== null) counters.zoneMapChecks++;
    const reader = seg.meta.blooms.length > 0 ? this.cache.reader(seg) : null;
    let bloomUsed = false;
    const ok = mayMatch(
      where,
      (col) => this.zoneOf(seg, col),
      reader === null
        ? undefined
        : (col, cell) => {
            if (col >= seg.columnCount || !reader.hasBloom(col)) return true;
            bloomUsed = true;
            this.bloomChecks++;
            return reader.mayContain(col, cell);
          },
    );
    if (!ok) {
      if (bloomUsed) this.bloomPrunes++;
      this.zoneMapPrunes++;
      if (counters !== null) counters.zoneMapPrunes++;
    }
    return ok;
  }

  /** The live rows of a segment (no mark, not expired) as a selection, or null when all are. */
  liveSelection(seg: SegEntry, nowMs: number): Uint32Array | null {
    const marks = this.marksOf(seg, nowMs);
    const expiry = seg.meta.expiry === null ? null : this.cache.reader(seg).expiry();
    const n = seg.meta.rows;
    if (marks.size === 0 && expiry === null) return null;
    // Without expiry the selection depends on the marks alone: kept until a mark changes (read-only).
    if (expiry === null) {
      const cached = this.liveSel.get(seg.segId);
      if (cached !== undefined) return cached;
    }
    const sorted = Uint32Array.from(marks).sort();
    const sel = new Uint32Array(n);
    let k = 0;
    let m = 0;
    for (let i = 0; i < n; i++) {
      if (m < sorted.length && sorted[m] === i) {
        m++;
        continue;
      }
      if (expiry !== null && expiry[i] !== 0 && expiry[i] <= nowMs) continue;
      sel[k++] = i;
    }
    const out = k === n ? null : sel.subarray(0, k);
    if (expiry === null) this.liveSel.set(seg.segId, out);
    return out;
  }

  /**
   * Every live row as batches: segments (pruned by `where`), then the delta. `needed[c]`: load column
   * c. visit returns false to stop.
   */
  scan(needed: boolean[], where: Predicate | null, nowMs: number, counters: ScanCounters, visit: (batch: Batch, source: BatchSource) => boolean): void {
    for (const seg of this.segments) {
      counters.segmentsTotal++;
      if (!this.segmentMayMatch(seg, where, counters)) {
        counters.segmentsPruned++;
        continue;
      }
      if (!this.visitSegment(seg, needed, nowMs, counters, visit)) return;
    }
    this.scanDelta(needed, null, nowMs, counters, DELTA_BATCH_ROWS, visit);
  }

  visitSegment(seg: SegEntry, needed: boolean[], nowMs: number, counters: ScanCounters, visit: (batch: Batch, source: BatchSource) => boolean): boolean {
    const selection = this.liveSelection(seg, nowMs);
    if (selection !== null && selection.length === 0) return true;
    const columns: (Vector | undefined)[] = new Array<Vector | undefined>(this.state.types.length);
    for (let c = 0; c < columns.length; c++) if (needed[c]) columns[c] = this.segColumn(seg, c);
    counters.rowsScanned += selection === null ? seg.meta.rows : selection.length;
    return visit({ length: seg.meta.rows, columns, selection }, { kind: 'segment', seg });
  }

  /** Delta rows in key order from `after` (a binary key, exclusive), in batches of batchRows. */
  scanDelta(
    needed: boolean[],
    after: string | null,
    nowMs: number,
    counters: ScanCounters,
    batchRows: number,
    visit: (batch: Batch, source: BatchSource) => boolean,
  ): void {
    const prefix = keyToBinary(rowPrefix(this.tableId));
    let keys: string[] = [];
    let rows: Row[] = [];
    let go = true;
    const flush = (): void => {
      if (rows.length === 0) return;
      const batch = rowsToBatch(this.state.types, rows, needed);
      counters.rowsScanned += rows.length;
      counters.deltaRows += rows.length;
      go = visit(batch, { kind: 'delta', keys, rows });
      keys = [];
      rows = [];
    };
    this.store.scan(after ?? prefix, after !== null, prefixEnd(prefix), nowMs, (key, value) => {
      keys.push(key);
      rows.push(this.decode(value));
      if (rows.length >= batchRows) flush();
      return go;
    });
    if (go) flush();
  }

  // ---- rows for an index backfill (table-index.ts BackfillRows) --------------

  get info(): TableState['info'] {
    return this.state.info;
  }

  segmentIds(): number[] {
    return this.segments.map((s) => s.segId);
  }

  segmentRows(segId: number, from: number, nowMs: number, visit: (row: Row, rowIdx: number, pk: Uint8Array, slot: number, expiresAtMs: number) => boolean): boolean {
    const seg = this.segments.find((s) => s.segId === segId);
    if (seg === undefined) return false;
    const sel = this.liveSelection(seg, nowMs);
    const n = sel === null ? seg.meta.rows : sel.length;
    for (let k = 0; k < n; k++) {
      const i = sel === null ? k : sel[k];
      if (i < from) continue;
      const row = this.segmentRow(seg, i);
      const keyCells = this.keyCellsOf(row);
      if (!visit(row, i, this.pkBytes(keyCells), this.slotOf(keyCells), this.expiryOf(seg, i))) break;
    }
    return true;
  }

  deltaRows(after: string | null, nowMs: number, visit: (key: string, row: Row, pk: Uint8Array, slot: number, expiresAtMs: number) => boolean): void {
    const prefix = keyToBinary(rowPrefix(this.tableId));
    this.store.scan(after ?? prefix, after !== null, prefixEnd(prefix), nowMs, (key, value) => {
      const bytes = binaryToKey(key);
      const expiresAtMs = this.store.get(bytes, nowMs)?.expiresAtMs ?? 0;
      return visit(key, this.decode(value), pkFromRowKey(bytes), slotOfTableKey(bytes), expiresAtMs);
    });
  }

  /** Delta rows (live) on this shard: counts the prefix. */
  deltaCount(nowMs: number): number {
    return this.store.count(keyToBinary(rowPrefix(this.tableId)), nowMs);
  }
}

/** Row index of a delete-mark key (FF 'V' u32 table u32 seg u32 row slot). */
function markIndexOf(key: string): number {
  return ((key.charCodeAt(10) << 24) >>> 0) + (key.charCodeAt(11) << 16) + (key.charCodeAt(12) << 8) + key.charCodeAt(13);
}


/** Binary search of a sorted (ascending, or descending when desc) array of numbers; -1 when absent. */
function searchNumbers(values: Float64Array, target: number, desc: boolean): number {
  let lo = 0;
  let hi = values.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = values[mid];
    if (v === target) return mid;
    if (v < target !== desc) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}
