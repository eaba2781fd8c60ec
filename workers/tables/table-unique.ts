// Unique secondary indexes of the columnar tables: the shard side of the
// claims that make a value tuple unique across every shard.
//
// A unique index's local entries (table-index.ts) live beside their rows, on
// the rows' shards, so they cannot tell two shards hold one value. Uniqueness
// is a global entry per value tuple instead, placed by the tuple's own slot:
//   FF 'Q' u32(table) u16(index) value slot(value) → pk bytes of the owning row
// where value = encodeKeyCells of the tuple (ascending) and slot(value) =
// valueSlot(value), so every writer of one tuple meets on one shard. The router
// claims the tuples of the rows it is about to write (`unique-claim`, on the
// shard owning each tuple's slot) before writing them, and releases them
// (`unique-release`) when the write is refused or a row gives a tuple up.
// - A claim takes every tuple that is free (or already held by the same key:
//   a retried claim is safe) and answers the others as conflicts, each with the
//   key holding it (a tuple claimed twice within the command for two keys: the
//   later one conflicts). The router releases what it took when it gives up.
// - A release deletes an entry only while it still names the given key, so a
//   late release never frees a tuple someone else took since.
// - A tuple with a NULL cell is never claimed (NULLs are distinct, as in SQL).
// An entry whose owner no longer holds the tuple (the row expired or was
// deleted without a release) is stale: the router may check the holder's row
// and release the entry with the holder's key before claiming again.
// Runs inside a shard.

import { MantisError } from '../../shared/errors.js';
import { decodeKeyCells, encodeKeyCells } from '../../shared/tables/key-cells.js';
import { encodePk, keyShape, uniqueKey, valueSlot } from '../../shared/tables/table-keys.js';
import type { Cell, ColumnType, TableIndexDef, TableInfo } from '../../shared/tables/table-types.js';
import type { DeleteOp, PutOp } from '../../shared/wire.js';
import type { LsmStore } from '../lsm/index.js';
import { keyToBinary } from '../store/memtable.js';
import { TABLE_CONTENT_TYPE } from './table-catalog.js';
import { INDEX_VALUE_BYTES_MAX } from './table-index.js';

type Write = PutOp | DeleteOp;

/** One tuple of a unique-claim / unique-release command: the index's cells and the row's key cells. */
export type UniqueEntryRef = { readonly values: readonly Cell[]; readonly key: readonly Cell[] };

export type ClaimResult = {
  /** The entries taken (tuples that were free). */
  readonly writes: Write[];
  readonly conflicts: { readonly entry: number; readonly key: Cell[] }[];
};

/** The unique index `indexId` of the table and its column types; INDEX_NOT_FOUND when absent or not unique. */
function uniqueIndex(info: TableInfo, indexId: number): { def: TableIndexDef; types: ColumnType[] } {
  const def = info.indexes.find((i) => i.id === indexId);
  if (def === undefined || !def.unique) {
    throw new MantisError('INDEX_NOT_FOUND', `table "${info.name}" has no unique index with id ${indexId} on this shard`);
  }
  const types = def.columns.map((name) => {
    const col = info.columns.find((c) => c.name === name);
    if (col === undefined) throw new Error(`assertion failed: index ${def.name} names column ${name}, which table ${info.name} does not have`);
    return col.type;
  });
  return { def, types };
}

/** The unique-entry key of a value tuple, or null when a cell is NULL (never claimed). */
export function uniqueEntryKey(info: TableInfo, def: TableIndexDef, types: readonly ColumnType[], values: readonly Cell[]): Uint8Array | null {
  if (values.length !== types.length) {
    throw new MantisError('BAD_QUERY', `unique index "${def.name}" has ${types.length} columns, a claim gave ${values.length} values`);
  }
  for (const v of values) if (v === null) return null;
  const valueBytes = encodeKeyCells(types, values);
  if (valueBytes.length > INDEX_VALUE_BYTES_MAX) {
    throw new MantisError(
      'KEY_TOO_LARGE',
      `unique index "${def.name}" of table "${info.name}": the indexed value takes ${valueBytes.length} bytes, over the ${INDEX_VALUE_BYTES_MAX}-byte limit of index keys`,
      { index: def.name, column: def.columns[0] },
    );
  }
  return uniqueKey(info.id, def.id, valueBytes, valueSlot(valueBytes));
}

/**
 * The slot of the shard that owns a tuple's unique entry (the router sends claims there):
 * valueSlot(encodeKeyCells(index column types, values)).
 */
export function uniqueSlotOf(types: readonly ColumnType[], values: readonly Cell[]): number {
  return valueSlot(encodeKeyCells(types, values));
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Claims the tuples for their keys (see the module comment). The caller applies the writes. */
export function uniqueClaim(store: LsmStore, info: TableInfo, indexId: number, entries: readonly UniqueEntryRef[], nowMs: number): ClaimResult {
  const { def, types } = uniqueIndex(info, indexId);
  const shape = keyShape(info);
  const writes: Write[] = [];
  const conflicts: { entry: number; key: Cell[] }[] = [];
  /** Tuples claimed by this command: entry key → pk bytes. */
  const mine = new Map<string, Uint8Array>();
  for (let i = 0; i < entries.length; i++) {
    const key = uniqueEntryKey(info, def, types, entries[i].values);
    if (key === null) continue;
    const pk = encodePk(info, entries[i].key);
    const bin = keyToBinary(key);
    const earlier = mine.get(bin);
    if (earlier !== undefined) {
      if (!sameBytes(earlier, pk)) conflicts.push({ entry: i, key: decodeKeyCells(shape.types, earlier, shape.desc) });
      continue;
    }
    const held = store.get(key, nowMs);
    if (held !== undefined && !sameBytes(held.value, pk)) {
      conflicts.push({ entry: i, key: decodeKeyCells(shape.types, held.value, shape.desc) });
      continue;
    }
    mine.set(bin, pk);
    if (held === undefined) writes.push({ kind: 'put', key, contentType: TABLE_CONTENT_TYPE, expiresAtMs: 0, value: pk });
  }
  return { writes, conflicts };
}

/** Releases the tuples the keys hold (entries held by other keys stay). The caller applies the writes. */
export function uniqueRelease(store: LsmStore, info: TableInfo, indexId: number, entries: readonly UniqueEntryRef[], nowMs: number): Write[] {
  const { def, types } = uniqueIndex(info, indexId);
  const writes: Write[] = [];
  const seen = new Set<string>();
  for (const entry of entries) {
    const key = uniqueEntryKey(info, def, types, entry.values);
    if (key === null) continue;
    const bin = keyToBinary(key);
    if (seen.has(bin)) continue;
    const held = store.get(key, nowMs);
    if (held === undefined || !sameBytes(held.value, encodePk(info, entry.key))) continue;
    seen.add(bin);
    writes.push({ kind: 'delete', key });
  }
  return writes;
}

/** The key cells holding a tuple here, or null (tests, the router's stale-entry checks through a shard command). */
export function uniqueHolder(store: LsmStore, info: TableInfo, indexId: number, values: readonly Cell[], nowMs: number): Cell[] | null {
  const { def, types } = uniqueIndex(info, indexId);
  const key = uniqueEntryKey(info, def, types, values);
  if (key === null) return null;
  const held = store.get(key, nowMs);
  if (held === undefined) return null;
  const shape = keyShape(info);
  return decodeKeyCells(shape.types, held.value, shape.desc);
}
