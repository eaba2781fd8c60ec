// The storage keys of the columnar tables. All are internal keys (first byte
// 0xFF, see shared/slot.ts); those placed by a row or value end with the
// 2-byte big-endian slot shared/slot.ts reads back, so a row, its delete mark
// and its index entries live on the shard owning the row's slot. Tags are
// distinct from the document store's (D I U C).
//
//   delta row      FF 'R' u32be(table) pk slot                         value: encodeRow
//   delete mark    FF 'V' u32be(table) u32be(segment) u32be(row) slot    a segment row is deleted
//   segment        FF 'S' u32be(table) u32be(segment)                    value: encoded SegmentMeta (shard-local)
//   index entry    FF 'K' u32be(table) u16be(index) value pk slot(pk)
//   unique entry   FF 'Q' u32be(table) u16be(index) value slot(value)   value: pk bytes
//   catalog        FF 'E' utf8(name)                                     (shard-local, no slot)
//   drop marker    FF 'W' u32be(table)                                   (shard-local, no slot)
//
// pk = encodeKeyCells(primary-key types, cells, keyDesc), so a prefix scan of
// the delta walks rows in primary-key order; value = encodeKeyCells of the
// indexed columns (or a hash index's 8 hash bytes).

import { crc16 } from '../slot.js';
import { LIMITS } from '../limits.js';
import type { Cell, ColumnType, TableInfo } from './table-types.js';
import { encodeKeyCells } from './key-cells.js';
import { readUtf8, utf8Bytes } from './codec-utf8.js';

const TAG_ROW = 0x52; // 'R'
const TAG_DELETE_MARK = 0x56; // 'V'
const TAG_SEGMENT = 0x53; // 'S'
const TAG_INDEX = 0x4b; // 'K'
const TAG_UNIQUE = 0x51; // 'Q'
const TAG_CATALOG = 0x45; // 'E'
const TAG_DROP = 0x57; // 'W'

/** Bytes before the pk in a row key, and before the value in index / unique keys. */
export const ROW_HEADER_BYTES = 6;
export const INDEX_HEADER_BYTES = 8;
export const SLOT_BYTES = 2;

type KeyShape = { readonly types: ColumnType[]; readonly positions: number[]; readonly desc: boolean[] };
const shapes = new WeakMap<TableInfo, KeyShape>();

/** The primary key's column types, column positions and descending flags (cached per TableInfo). */
export function keyShape(info: TableInfo): KeyShape {
  let shape = shapes.get(info);
  if (shape === undefined) {
    const positions = info.primaryKey.map((name) => {
      const at = info.columns.findIndex((c) => c.name === name);
      if (at < 0) throw new Error(`assertion failed: primary key column ${name} is not a column of ${info.name}`);
      return at;
    });
    shape = {
      positions,
      types: positions.map((p) => info.columns[p].type),
      desc: info.primaryKey.map((_, i) => info.keyDesc[i] === true),
    };
    shapes.set(info, shape);
  }
  return shape;
}

/** The most bytes a btree index's value tuple may take in its key encoding (KEY_TOO_LARGE beyond). */
export const INDEX_VALUE_BYTES_MAX = 4096;

/** The pk bytes of key cells (primary-key order), with the table's descending columns. */
export function encodePk(info: TableInfo, keyCells: readonly Cell[]): Uint8Array {
  const shape = keyShape(info);
  return encodeKeyCells(shape.types, keyCells, shape.desc);
}

/** The slot of a row: CRC16 of its partition-key cells (ascending encoding) mod slot_count. */
export function rowSlot(info: TableInfo, keyCells: readonly Cell[]): number {
  const shape = keyShape(info);
  const n = info.partitionKeyLength;
  const bytes = encodeKeyCells(shape.types, keyCells.length > n ? keyCells.slice(0, n) : keyCells);
  return crc16(bytes) % LIMITS.slot_count;
}

/** The slot of a unique entry: CRC16 of the value bytes. */
export function valueSlot(valueBytes: Uint8Array): number {
  return crc16(valueBytes) % LIMITS.slot_count;
}

function header(tag: number, tableId: number, extra: number): Uint8Array {
  const bytes = new Uint8Array(ROW_HEADER_BYTES + extra);
  bytes[0] = 0xff;
  bytes[1] = tag;
  putU32(bytes, 2, tableId);
  return bytes;
}

function putU32(bytes: Uint8Array, at: number, v: number): void {
  bytes[at] = v >>> 24;
  bytes[at + 1] = (v >>> 16) & 0xff;
  bytes[at + 2] = (v >>> 8) & 0xff;
  bytes[at + 3] = v & 0xff;
}

function getU32(bytes: Uint8Array, at: number): number {
  return ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
}

function putSlot(bytes: Uint8Array, slot: number): void {
  bytes[bytes.length - 2] = slot >>> 8;
  bytes[bytes.length - 1] = slot & 0xff;
}

/** The slot an internal key ending with one carries. */
export function slotOfTableKey(key: Uint8Array): number {
  return (key[key.length - 2] << 8) | key[key.length - 1];
}

/** The tag byte of a table key ('R', 'V', …) as a character, or null when not a table key. */
export function tableKeyTag(key: Uint8Array): string | null {
  if (key.length < 2 || key[0] !== 0xff) return null;
  const tag = key[1];
  return tag === TAG_ROW || tag === TAG_DELETE_MARK || tag === TAG_SEGMENT || tag === TAG_INDEX || tag === TAG_UNIQUE || tag === TAG_CATALOG || tag === TAG_DROP
    ? String.fromCharCode(tag)
    : null;
}

/** The table id of any table key but catalog entries. */
export function tableIdOfKey(key: Uint8Array): number {
  return getU32(key, 2);
}

// ── delta rows ──

export function rowKey(tableId: number, pkBytes: Uint8Array, slot: number): Uint8Array {
  const key = header(TAG_ROW, tableId, pkBytes.length + SLOT_BYTES);
  key.set(pkBytes, ROW_HEADER_BYTES);
  putSlot(key, slot);
  return key;
}

/** Every delta row key of a table starts with this. */
export function rowPrefix(tableId: number): Uint8Array {
  return header(TAG_ROW, tableId, 0);
}

/** The pk bytes of a delta row key (a view into `key`). */
export function pkFromRowKey(key: Uint8Array): Uint8Array {
  return key.subarray(ROW_HEADER_BYTES, key.length - SLOT_BYTES);
}

// ── delete marks of segment rows ──

export function deleteMarkKey(tableId: number, segId: number, rowIdx: number, slot: number): Uint8Array {
  const key = header(TAG_DELETE_MARK, tableId, 8 + SLOT_BYTES);
  putU32(key, 6, segId);
  putU32(key, 10, rowIdx);
  putSlot(key, slot);
  return key;
}

/** The prefix of a table's delete marks, or of one segment's. */
export function deleteMarkPrefix(tableId: number, segId?: number): Uint8Array {
  if (segId === undefined) return header(TAG_DELETE_MARK, tableId, 0);
  const key = header(TAG_DELETE_MARK, tableId, 4);
  putU32(key, 6, segId);
  return key;
}

/** The segment and row a delete mark key names. */
export function parseDeleteMarkKey(key: Uint8Array): { segId: number; rowIdx: number } {
  return { segId: getU32(key, 6), rowIdx: getU32(key, 10) };
}

// ── segment manifest entries ──

export function segmentKey(tableId: number, segId: number): Uint8Array {
  const key = header(TAG_SEGMENT, tableId, 4);
  putU32(key, 6, segId);
  return key;
}

export function segmentPrefix(tableId: number): Uint8Array {
  return header(TAG_SEGMENT, tableId, 0);
}

export function segIdFromKey(key: Uint8Array): number {
  return getU32(key, 6);
}

// ── secondary index entries ──

function indexHeader(tag: number, tableId: number, indexId: number, extra: number): Uint8Array {
  const key = header(tag, tableId, 2 + extra);
  key[6] = (indexId >>> 8) & 0xff;
  key[7] = indexId & 0xff;
  return key;
}

export function indexEntryKey(tableId: number, indexId: number, valueBytes: Uint8Array, pkBytes: Uint8Array, slot: number): Uint8Array {
  const key = indexHeader(TAG_INDEX, tableId, indexId, valueBytes.length + pkBytes.length + SLOT_BYTES);
  key.set(valueBytes, INDEX_HEADER_BYTES);
  key.set(pkBytes, INDEX_HEADER_BYTES + valueBytes.length);
  putSlot(key, slot);
  return key;
}

/** Every entry key of one index starts with this; with valueBytes: every entry of that value (prefix-free values). */
export function indexPrefix(tableId: number, indexId: number, valueBytes?: Uint8Array): Uint8Array {
  const extra = valueBytes === undefined ? 0 : valueBytes.length;
  const key = indexHeader(TAG_INDEX, tableId, indexId, extra);
  if (valueBytes !== undefined) key.set(valueBytes, INDEX_HEADER_BYTES);
  return key;
}

/** value + pk bytes of an index entry key (a view); split it with skipKeyCells or a fixed hash length. */
export function indexEntryBody(key: Uint8Array): Uint8Array {
  return key.subarray(INDEX_HEADER_BYTES, key.length - SLOT_BYTES);
}

export function uniqueKey(tableId: number, indexId: number, valueBytes: Uint8Array, slot: number): Uint8Array {
  const key = indexHeader(TAG_UNIQUE, tableId, indexId, valueBytes.length + SLOT_BYTES);
  key.set(valueBytes, INDEX_HEADER_BYTES);
  putSlot(key, slot);
  return key;
}

export function uniquePrefix(tableId: number, indexId: number): Uint8Array {
  return indexHeader(TAG_UNIQUE, tableId, indexId, 0);
}

// ── catalog ──

/** A table's catalog entry (tableCatalogKey('') is the prefix of all of them). */
export function tableCatalogKey(name: string): Uint8Array {
  const nameBytes = utf8Bytes(name);
  const key = new Uint8Array(2 + nameBytes.length);
  key[0] = 0xff;
  key[1] = TAG_CATALOG;
  key.set(nameBytes, 2);
  return key;
}

/** The table name of a catalog key. */
export function nameFromCatalogKey(key: Uint8Array): string {
  return readUtf8(key, 2, key.length);
}

/** A dropped table's marker (its data is being removed in the background). */
export function tableDropKey(tableId: number): Uint8Array {
  return header(TAG_DROP, tableId, 0);
}

/** tableDropKey('s prefix: every drop marker starts with it. */
export function tableDropPrefix(): Uint8Array {
  return Uint8Array.of(0xff, TAG_DROP);
}

/**
 * The smallest key greater than every key starting with `prefix` (the exclusive end of a prefix
 * scan), or null when there is none (all 0xFF bytes).
 */
export function prefixEnd(prefix: Uint8Array): Uint8Array | null {
  let n = prefix.length;
  while (n > 0 && prefix[n - 1] === 0xff) n--;
  if (n === 0) return null;
  const end = prefix.slice(0, n);
  end[n - 1]++;
  return end;
}
