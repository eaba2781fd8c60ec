// The storage keys of the document store. All are internal keys (first byte
// 0xFF, which never starts a UTF-8 KV key) and, except catalog entries, end
// with the 2-byte big-endian slot that shared/slot.ts reads back: a document,
// its index entries share the slot of the document's _id, so they live on one
// shard and go into one WAL record.
//
//   document      FF 'D' u32be(coll) id slot(id)
//   index entry   FF 'I' u32be(coll) u16be(index) key-components id slot(id)
//   unique entry  FF 'U' u32be(coll) u16be(index) key-components slot(key-components)
//   catalog       FF 'C' utf8(name)
//
// id and key-components are key-codec bytes (order-preserving), so a prefix
// scan walks documents in _id order and index entries in index order.

import { crc16 } from '../slot.js';
import { LIMITS } from '../limits.js';
import type { DocValue } from './doc-types.js';
import { buildKey, decodeIndexValue, decodeIndexValueAt, encodeIndexKey, encodeIndexValue } from './key-codec.js';

const TAG_DOC = 0x44; // 'D'
const TAG_INDEX = 0x49; // 'I'
const TAG_UNIQUE = 0x55; // 'U'
const TAG_CATALOG = 0x43; // 'C'
const DOC_HEADER_BYTES = 6;
const INDEX_HEADER_BYTES = 8;
const SLOT_BYTES = 2;

/** The slot of a document: CRC16 of its encoded _id. */
export function docSlot(idBytes: Uint8Array): number {
  return crc16(idBytes) % LIMITS.slot_count;
}

function header(tag: number, collId: number, indexId?: number): Uint8Array {
  const bytes = new Uint8Array(indexId === undefined ? DOC_HEADER_BYTES : INDEX_HEADER_BYTES);
  bytes[0] = 0xff;
  bytes[1] = tag;
  bytes[2] = collId >>> 24;
  bytes[3] = (collId >>> 16) & 0xff;
  bytes[4] = (collId >>> 8) & 0xff;
  bytes[5] = collId & 0xff;
  if (indexId !== undefined) {
    bytes[6] = (indexId >>> 8) & 0xff;
    bytes[7] = indexId & 0xff;
  }
  return bytes;
}

function slotBytes(slot: number): Uint8Array {
  return Uint8Array.of(slot >>> 8, slot & 0xff);
}

/** The key of a document. */
export function docKey(collId: number, id: DocValue): Uint8Array {
  const idBytes = encodeIndexValue(id);
  return buildKey([header(TAG_DOC, collId), idBytes, slotBytes(docSlot(idBytes))]);
}

/** Every document key of a collection starts with this. */
export function docPrefix(collId: number): Uint8Array {
  return header(TAG_DOC, collId);
}

/** The _id of a document key (its number type may differ: see key-codec). */
export function idFromDocKey(key: Uint8Array): DocValue {
  return decodeIndexValue(key.subarray(DOC_HEADER_BYTES, key.length - SLOT_BYTES));
}

/** The slot a document or index key carries. */
export function slotOfDocKey(key: Uint8Array): number {
  return (key[key.length - 2] << 8) | key[key.length - 1];
}

/**
 * The key of one index entry. REQUIRES: values are an entry of
 * indexEntryValues, desc has one flag per component.
 */
export function indexKey(collId: number, indexId: number, values: readonly DocValue[], desc: readonly boolean[], id: DocValue): Uint8Array {
  return buildKey([header(TAG_INDEX, collId, indexId), { values, desc }, idSuffix(id)]);
}

/** What ends every index entry key of a document: its encoded _id and slot. */
export function idSuffix(id: DocValue): Uint8Array {
  const idBytes = encodeIndexValue(id);
  const slot = docSlot(idBytes);
  const out = new Uint8Array(idBytes.length + SLOT_BYTES);
  out.set(idBytes, 0);
  out[idBytes.length] = slot >>> 8;
  out[idBytes.length + 1] = slot & 0xff;
  return out;
}

/** Every entry key of one index starts with this. */
export function indexPrefix(collId: number, indexId: number): Uint8Array {
  return header(TAG_INDEX, collId, indexId);
}

/** An index's key pattern, as far as key bytes care (index-entries' IndexDef has it). */
export type IndexKeyPattern = { readonly keys: readonly (readonly [path: string, dir: 1 | -1 | 'hashed' | 'text'])[] };

/** Which components of an index are descending. */
export function descOf(def: IndexKeyPattern): boolean[] {
  return def.keys.map(([, dir]) => dir === -1);
}

/** The _id of an index entry key of `def` (components are skipped, not decoded). */
export function idFromIndexKey(key: Uint8Array, def: IndexKeyPattern): DocValue {
  let at = INDEX_HEADER_BYTES;
  for (const [, dir] of def.keys) at = decodeIndexValueAt(key, at, dir === -1).end;
  return decodeIndexValue(key.subarray(at, key.length - SLOT_BYTES));
}

/** The index key components (values) of an index entry key of `def`. */
export function valuesFromIndexKey(key: Uint8Array, def: IndexKeyPattern): DocValue[] {
  let at = INDEX_HEADER_BYTES;
  const values: DocValue[] = [];
  for (const [, dir] of def.keys) {
    const { value, end } = decodeIndexValueAt(key, at, dir === -1);
    values.push(value);
    at = end;
  }
  return values;
}

/**
 * Bounds within an index (as planQuery gives them, after the index prefix)
 * made into storage keys: [start, end).
 */
export function absoluteRange(collId: number, indexId: number, range: readonly [Uint8Array, Uint8Array]): [Uint8Array, Uint8Array] {
  const prefix = indexPrefix(collId, indexId);
  return [buildKey([prefix, range[0]]), buildKey([prefix, range[1]])];
}

/**
 * The global uniqueness entry of a value of a unique index, placed by the
 * value (not by _id), so every insert of one value meets on one shard.
 */
export function uniqueKey(collId: number, indexId: number, values: readonly DocValue[]): Uint8Array {
  const keyBytes = encodeIndexKey(values, []);
  return buildKey([header(TAG_UNIQUE, collId, indexId), keyBytes, slotBytes(crc16(keyBytes) % LIMITS.slot_count)]);
}

/** Every uniqueness entry of one index starts with this. */
export function uniquePrefix(collId: number, indexId: number): Uint8Array {
  return header(TAG_UNIQUE, collId, indexId);
}

const utf8 = new TextEncoder();

/** The catalog entry of a collection (catalogKey('') is the prefix of all of them). */
export function catalogKey(name: string): Uint8Array {
  const nameBytes = utf8.encode(name);
  const key = new Uint8Array(2 + nameBytes.length);
  key[0] = 0xff;
  key[1] = TAG_CATALOG;
  key.set(nameBytes, 2);
  return key;
}
