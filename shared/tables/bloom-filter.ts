// Bloom filters of segment columns and segment keys, in the LSM's filter
// format (workers/lsm/bloom.ts: murmur3 double hashing, [bits][u8 k]). A cell
// is hashed through its ascending key-cell bytes, so cells equal as
// compareCells sees them (1 and 1n, -0 and 0) hash alike; NULL is never added.

import { bloomHash, bloomMayContain, buildBloom } from '../../workers/lsm/bloom.js';
import { encodeKeyCell } from './key-cells.js';
import type { Cell, ColumnType, Vector } from './table-types.js';

export const BLOOM_BITS_PER_KEY = 10;

/** The bloom hash of a non-null cell of `type`. */
export function cellBloomHash(type: ColumnType, cell: Cell): number {
  return bloomHash(encodeKeyCell(type, cell));
}

/** A filter over the distinct non-null values of the first `rows` values of a vector. */
export function buildColumnBloom(vector: Vector, rows: number, bitsPerKey = BLOOM_BITS_PER_KEY): Uint8Array {
  const nulls = vector.nulls;
  const hashes = new Uint32Array(rows);
  let count = 0;
  if (vector.type === 'string' && 'codes' in vector) {
    const dictHashes = vector.dict.map((s) => cellBloomHash('string', s));
    const seen = new Uint8Array(vector.dict.length);
    for (let i = 0; i < rows; i++) {
      if (nulls !== null && (nulls[i >> 3] & (1 << (i & 7))) !== 0) continue;
      const code = vector.codes[i];
      if (seen[code] === 0) {
        seen[code] = 1;
        hashes[count++] = dictHashes[code];
      }
    }
    return buildBloom(hashes, count, bitsPerKey);
  }
  const seen = new Set<number>();
  for (let i = 0; i < rows; i++) {
    if (nulls !== null && (nulls[i >> 3] & (1 << (i & 7))) !== 0) continue;
    const h = cellBloomHash(vector.type, cellAt(vector, i));
    if (!seen.has(h)) {
      seen.add(h);
      hashes[count++] = h;
    }
  }
  return buildBloom(hashes, count, bitsPerKey);
}

function cellAt(v: Vector, i: number): Cell {
  switch (v.type) {
    case 'int64':
    case 'timestamp':
    case 'float64':
      return v.values[i];
    case 'boolean':
      return v.values[i] !== 0;
    case 'string':
      return 'codes' in v ? v.dict[v.codes[i]] : v.values[i];
    case 'binary':
      return v.values[i];
  }
}

/** A filter over byte strings (segment primary keys). */
export function buildBytesBloom(keys: readonly Uint8Array[], bitsPerKey = BLOOM_BITS_PER_KEY): Uint8Array {
  const hashes = new Uint32Array(keys.length);
  for (let i = 0; i < keys.length; i++) hashes[i] = bloomHash(keys[i]);
  return buildBloom(hashes, keys.length, bitsPerKey);
}

/** False only when no value equal to `cell` was added. NULL: true (blooms do not track NULL). */
export function bloomMayContainCell(filter: Uint8Array, type: ColumnType, cell: Cell): boolean {
  if (cell === null) return true;
  return bloomMayContain(filter, encodeKeyCell(type, cell));
}

/** False only when `key` was certainly not added to a buildBytesBloom filter. */
export function bloomMayContainBytes(filter: Uint8Array, key: Uint8Array): boolean {
  return bloomMayContain(filter, key);
}
