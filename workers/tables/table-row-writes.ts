// The row writes an insert makes, and the expiry rules of new and changed
// rows: shared by the plain commands (table-shard.ts), which apply them at
// once, and a transaction's plans (table-snapshot.ts), which read the table
// at a snapshot and hand the writes to the router to buffer.

import { MantisError } from '../../shared/errors.js';
import type { OnConflict } from '../../shared/tables/table-protocol.js';
import { encodeRow } from '../../shared/tables/row-codec.js';
import type { Cell, TableInfo } from '../../shared/tables/table-types.js';
import type { DeleteOp, PutOp } from '../../shared/wire.js';
import { keyToBinary } from '../store/memtable.js';
import { TABLE_CONTENT_TYPE } from './table-catalog.js';
import type { RowPlace, SegEntry, TableData } from './table-data.js';
import { indexEntryWrites } from './table-index.js';

type Write = PutOp | DeleteOp;

/** A new row's expiry: ttlMs > 0 from now; < 0 (CQL: written without a TTL) never; 0 the table's default. */
export function newRowExpiry(info: TableInfo, ttlMs: number, nowMs: number): number {
  if (ttlMs > 0) return nowMs + ttlMs;
  if (ttlMs < 0) return 0;
  if (info.defaultTtlSeconds > 0) return nowMs + info.defaultTtlSeconds * 1000;
  return 0;
}

/**
 * The expiry of a row an update changes. HTTP (cellTtl false): ttlMs > 0 sets it from now, else
 * the row keeps its own. CQL (cellTtl true): Cassandra keeps a TTL per cell where a table row has
 * one, so a write never makes a row expire sooner than it would (ttlMs > 0 moves the expiry later
 * only; a permanent row stays permanent), and a write without a TTL (ttlMs ≤ 0) makes the row
 * permanent — what it wrote must not expire with the row.
 */
export function changedExpiry(oldExpiresAtMs: number, ttlMs: number, nowMs: number, cellTtl: boolean): number {
  if (!cellTtl) return ttlMs > 0 ? nowMs + ttlMs : oldExpiresAtMs;
  if (ttlMs <= 0 || oldExpiresAtMs === 0) return 0;
  return Math.max(oldExpiresAtMs, nowMs + ttlMs);
}

export type InsertCounts = { inserted: number; replaced: number; ignored: number; readonly insertedKeys: Cell[][] };

/**
 * Appends to `writes` what inserting `rows` (stored forms; rowIndex: their indexes in the client's
 * request) makes: each row's delta put, its index entries, and for a replaced segment row its
 * delete mark (`mark`). `lookup` says where a key's row lives now (or at the snapshot). A key
 * already there, or given twice, follows onConflict (error: DUPLICATE_KEY naming the row).
 * `rowDone` is called after each row's writes (with its key cells).
 */
export function insertWrites(
  t: TableData,
  rows: readonly Uint8Array[],
  rowIndex: readonly number[],
  onConflict: OnConflict,
  expiresAtMs: number,
  lookup: (keyCells: Cell[], pk: Uint8Array, slot: number) => RowPlace | null,
  mark: (seg: SegEntry, index: number, slot: number) => void,
  writes: Write[],
  rowDone: ((keyCells: Cell[]) => void) | null = null,
): InsertCounts {
  const info = t.state.info;
  const indexed = info.indexes.some((i) => i.type !== 'bloom');
  const seen = new Set<string | number>();
  const counts: InsertCounts = { inserted: 0, replaced: 0, ignored: 0, insertedKeys: [] };
  for (let i = 0; i < rows.length; i++) {
    const bytes = rows[i];
    const row = t.decode(bytes);
    const keyCells = t.keyCellsOf(row);
    const pk = t.pkBytes(keyCells);
    const slot = t.slotOfPk(pk, keyCells);
    const key = t.rowKeyOf(pk, slot);
    // A single numeric key is its own identity (no binary string per row).
    const id = keyCells.length === 1 && typeof keyCells[0] === 'number' ? keyCells[0] : keyToBinary(key);
    const repeat = seen.has(id);
    seen.add(id);
    const existing = repeat ? null : lookup(keyCells, pk, slot);
    if (existing !== null || repeat) {
      if (onConflict === 'error') {
        throw new MantisError('DUPLICATE_KEY', `a row with this primary key already exists in table "${info.name}" (row ${rowIndex[i] ?? i})`, { row: rowIndex[i] ?? i });
      }
      if (onConflict === 'ignore') {
        counts.ignored++;
        continue;
      }
      counts.replaced++;
      if (existing !== null) {
        if (existing.kind === 'segment') mark(existing.seg, existing.index, slot);
        if (indexed) indexEntryWrites(info, existing.row, row, pk, slot, expiresAtMs, existing.expiresAtMs, writes);
      }
    } else {
      counts.inserted++;
      counts.insertedKeys.push(keyCells);
      if (indexed) indexEntryWrites(info, null, row, pk, slot, expiresAtMs, 0, writes);
    }
    writes.push({ kind: 'put', key, contentType: TABLE_CONTENT_TYPE, expiresAtMs, value: bytes.length === 0 ? encodeRow(t.state.types, row) : bytes });
    rowDone?.(keyCells);
  }
  return counts;
}
