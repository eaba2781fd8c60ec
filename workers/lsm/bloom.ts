// One bloom filter per table over its distinct user keys. Payload: [bit array][u8 k].
// k = round(bitsPerKey · ln 2) clamped to 1..30; probes by double hashing
// (h, h + δ, h + 2δ, ...) mod m, where h = murmur3-32(key) and δ = fmix32(h ^ seed) | 1.
// A key that was added always tests positive: there are no false negatives.

const SEED = 0xbc9f1d34;
const DELTA_SEED = 0x9e3779b9;
const BITS_MIN = 64;

/** murmur3 x86 32-bit. */
export function murmur3(key: Uint8Array, seed: number): number {
  let h = seed >>> 0;
  const n = key.length;
  const blocks = n & ~3;
  for (let i = 0; i < blocks; i += 4) {
    let k = key[i] | (key[i + 1] << 8) | (key[i + 2] << 16) | (key[i + 3] << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = n & 3;
  if (tail > 0) {
    let k = key[blocks];
    if (tail > 1) k |= key[blocks + 1] << 8;
    if (tail > 2) k |= key[blocks + 2] << 16;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= n;
  return fmix32(h);
}

/** murmur3's 32-bit finalizer (unsigned). */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function bloomHash(key: Uint8Array): number {
  return murmur3(key, SEED);
}

export function probeCount(bitsPerKey: number): number {
  return Math.min(30, Math.max(1, Math.round(bitsPerKey * Math.LN2)));
}

/** Builds the filter payload from the key hashes (bloomHash) gathered while writing. */
export function buildBloom(hashes: Uint32Array, count: number, bitsPerKey: number): Uint8Array {
  const k = probeCount(bitsPerKey);
  const bytes = Math.ceil(Math.max(BITS_MIN, Math.ceil(count * bitsPerKey)) / 8);
  const bits = bytes * 8;
  const out = new Uint8Array(bytes + 1);
  for (let i = 0; i < count; i++) {
    let h = hashes[i];
    const delta = fmix32(h ^ DELTA_SEED) | 1;
    for (let j = 0; j < k; j++) {
      const bit = h % bits;
      out[bit >>> 3] |= 1 << (bit & 7);
      h = (h + delta) >>> 0;
    }
  }
  out[bytes] = k;
  return out;
}

/** False only when `key` was certainly not added. A malformed filter (k = 0 or > 30) answers true. */
export function bloomMayContain(filter: Uint8Array, key: Uint8Array): boolean {
  const bytes = filter.length - 1;
  const k = filter[bytes];
  if (bytes <= 0 || k < 1 || k > 30) return true;
  const bits = bytes * 8;
  let h = bloomHash(key);
  const delta = fmix32(h ^ DELTA_SEED) | 1;
  for (let j = 0; j < k; j++) {
    const bit = h % bits;
    if ((filter[bit >>> 3] & (1 << (bit & 7))) === 0) return false;
    h = (h + delta) >>> 0;
  }
  return true;
}
