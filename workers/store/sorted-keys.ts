// An ordered set of keys for prefix listing and cursors: sorted chunks of at
// most CHUNK_MAX keys (a flat B+tree of depth one). Keys are "binary strings"
// (each char one byte of the UTF-8 key), so JS string order is byte order.

const CHUNK_MAX = 512;

export class SortedKeys {
  private chunks: string[][] = [];
  size = 0;

  /** Index of the first chunk whose last key is >= key (chunks.length if none). */
  private chunkFor(key: string): number {
    let lo = 0;
    let hi = this.chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const chunk = this.chunks[mid];
      if (chunk[chunk.length - 1] < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private static lowerBound(chunk: string[], key: string): number {
    let lo = 0;
    let hi = chunk.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (chunk[mid] < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** REQUIRES: key is not present (the caller's map says so). */
  insert(key: string): void {
    this.size++;
    if (this.chunks.length === 0) {
      this.chunks.push([key]);
      return;
    }
    let c = this.chunkFor(key);
    if (c === this.chunks.length) c--;
    const chunk = this.chunks[c];
    chunk.splice(SortedKeys.lowerBound(chunk, key), 0, key);
    if (chunk.length > CHUNK_MAX) this.chunks.splice(c + 1, 0, chunk.splice(CHUNK_MAX >>> 1));
  }

  /** REQUIRES: key is present. */
  delete(key: string): void {
    const c = this.chunkFor(key);
    const chunk = this.chunks[c];
    const i = chunk === undefined ? -1 : SortedKeys.lowerBound(chunk, key);
    if (i < 0 || chunk[i] !== key) throw new Error('assertion failed: deleting a key that is not in SortedKeys');
    chunk.splice(i, 1);
    this.size--;
    if (chunk.length === 0) this.chunks.splice(c, 1);
  }

  /** Keys k with start <= k (or start < k when exclusive) and k < end (end null = unbounded), in order. */
  *range(start: string, exclusive: boolean, end: string | null): Generator<string> {
    let c = this.chunkFor(start);
    if (c === this.chunks.length) return;
    let i = SortedKeys.lowerBound(this.chunks[c], start);
    if (exclusive && this.chunks[c][i] === start) i++;
    for (; c < this.chunks.length; c++, i = 0) {
      const chunk = this.chunks[c];
      for (; i < chunk.length; i++) {
        const key = chunk[i];
        if (end !== null && key >= end) return;
        yield key;
      }
    }
  }

  /** How many keys lie in [start, end): O(chunks), not O(keys). */
  count(start: string, end: string | null): number {
    const from = this.rank(start);
    const to = end === null ? this.size : this.rank(end);
    return Math.max(0, to - from);
  }

  /** Number of keys < key. */
  private rank(key: string): number {
    const c = this.chunkFor(key);
    let before = 0;
    for (let j = 0; j < c; j++) before += this.chunks[j].length;
    return c === this.chunks.length ? before : before + SortedKeys.lowerBound(this.chunks[c], key);
  }
}

/** The smallest binary string greater than every string with this prefix; null = none. */
export function prefixEnd(prefix: string): string | null {
  let p = prefix;
  while (p.length > 0) {
    const last = p.charCodeAt(p.length - 1);
    if (last < 0xff) return p.slice(0, -1) + String.fromCharCode(last + 1);
    p = p.slice(0, -1);
  }
  return null;
}
