// The 32-bit hash of a cache key (MurmurHash3 x86_32, seed fixed). Run by the
// router (before CacheReader.get) and by the shard (CacheWriter): both sides
// must agree, so this is the only definition.

const SEED = 0x9747b28c;

function mixWord(h: number, word: number): number {
  let k = Math.imul(word, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  h ^= Math.imul(k, 0x1b873593);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function finalMix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** ENSURES: a u32, the same on every thread for the same bytes. */
export function cacheHash(key: Uint8Array): number {
  const length = key.length;
  const whole = length & ~3;
  let h = SEED;
  for (let i = 0; i < whole; i += 4) {
    h = mixWord(h, key[i] | (key[i + 1] << 8) | (key[i + 2] << 16) | (key[i + 3] << 24));
  }
  let tail = 0;
  const rest = length & 3;
  if (rest === 3) tail ^= key[whole + 2] << 16;
  if (rest >= 2) tail ^= key[whole + 1] << 8;
  if (rest >= 1) {
    tail ^= key[whole];
    tail = Math.imul(tail, 0xcc9e2d51);
    tail = (tail << 15) | (tail >>> 17);
    h ^= Math.imul(tail, 0x1b873593);
  }
  return finalMix(h ^ length);
}
