// Key → slot: CRC16/XMODEM of the key bytes mod 16384, with Redis Cluster's
// hash tags ("{user:1}.profile" hashes only "user:1") so related keys can be
// placed on one shard. The slot map (slot → shard) is plain data so shards can
// later be rebalanced or moved to another machine.

import { LIMITS } from './limits.js';

const TABLE = buildTable();

function buildTable(): Uint16Array {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
    table[i] = crc;
  }
  return table;
}

export function crc16(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0;
  for (let i = start; i < end; i++) {
    crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ bytes[i]) & 0xff];
  }
  return crc;
}

/**
 * First byte of the internal keys the document store (and later models) write: 0xFF never starts
 * valid UTF-8, so no KV key (always valid UTF-8) can collide with them, and they sort after every
 * KV key. An internal key ends with its slot (u16, big-endian): the model chooses it (a document
 * and its index entries share the slot of the document's _id).
 */
export const INTERNAL_KEY_BYTE = 0xff;

export function isInternalKey(key: Uint8Array): boolean {
  return key.length > 0 && key[0] === INTERNAL_KEY_BYTE;
}

/** The slot of a key given as UTF-8 bytes, honouring a non-empty {hash tag}; an internal key carries its slot. */
export function slotOfKey(key: Uint8Array): number {
  if (key.length >= 3 && key[0] === INTERNAL_KEY_BYTE) return ((key[key.length - 2] << 8) | key[key.length - 1]) % LIMITS.slot_count;
  let open = -1;
  for (let i = 0; i < key.length; i++) {
    if (key[i] === 0x7b) { open = i; break; }
  }
  if (open >= 0) {
    for (let j = open + 1; j < key.length; j++) {
      if (key[j] === 0x7d) {
        if (j > open + 1) return crc16(key, open + 1, j) % LIMITS.slot_count;
        break;
      }
    }
  }
  return crc16(key) % LIMITS.slot_count;
}

/** slot → shard index. Contiguous ranges, as evenly split as the counts allow. */
export type SlotMap = Uint16Array;

export function buildSlotMap(shardCount: number): SlotMap {
  if (!Number.isInteger(shardCount) || shardCount < 1 || shardCount > 1024) {
    throw new RangeError(`shard count must be an integer in 1..1024, got ${shardCount}`);
  }
  const map = new Uint16Array(LIMITS.slot_count);
  for (let slot = 0; slot < LIMITS.slot_count; slot++) {
    map[slot] = Math.floor((slot * shardCount) / LIMITS.slot_count);
  }
  return map;
}

export function shardOfKey(map: SlotMap, key: Uint8Array): number {
  return map[slotOfKey(key)];
}
