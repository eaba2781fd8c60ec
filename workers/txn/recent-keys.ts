// The keys of the version store in byte order, for prefix checks (predicate
// validation, snapshot listings). Sorted chunks of at most CHUNK_MAX records
// (a flat B+tree of depth one, like store/sorted-keys.ts), each chunk carrying
// the largest latest-commit timestamp among its records, so "any key in this
// range committed after S?" skips every chunk whose maximum is ≤ S without
// looking inside it. Keys are binary strings, so string order is byte order.
//
// Costs (n records, C = CHUNK_MAX): insert and delete O(log(n/C) + C) (a
// splice); raise O(log(n/C)); a range query O(log(n/C) + chunks overlapping
// the range + C per overlapping chunk whose maximum is > S).

const CHUNK_MAX = 128;
const MERGE_BELOW = CHUNK_MAX >>> 2;

/** What the index needs from a record: its key (never changes) and its latest commit timestamp (only grows). */
export type Stamped = { readonly key: string; readonly latestTs: number };

type Chunk<T extends Stamped> = { recs: T[]; maxTs: number };

export class RecentKeys<T extends Stamped> {
  private chunks: Chunk<T>[] = [];
  size = 0;

  /** Index of the first chunk whose last key is >= key (chunks.length if none). */
  private chunkFor(key: string): number {
    let lo = 0;
    let hi = this.chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const recs = this.chunks[mid].recs;
      if (recs[recs.length - 1].key < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private static lowerBound<T extends Stamped>(recs: T[], key: string): number {
    let lo = 0;
    let hi = recs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (recs[mid].key < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private static maxOf<T extends Stamped>(recs: T[]): number {
    let max = 0;
    for (const r of recs) if (r.latestTs > max) max = r.latestTs;
    return max;
  }

  /** REQUIRES: no record with this key is present. */
  insert(rec: T): void {
    this.size++;
    if (this.chunks.length === 0) {
      this.chunks.push({ recs: [rec], maxTs: rec.latestTs });
      return;
    }
    let c = this.chunkFor(rec.key);
    if (c === this.chunks.length) c--;
    const chunk = this.chunks[c];
    const i = RecentKeys.lowerBound(chunk.recs, rec.key);
    if (chunk.recs[i]?.key === rec.key) throw new Error('assertion failed: RecentKeys.insert of a key already present');
    chunk.recs.splice(i, 0, rec);
    if (rec.latestTs > chunk.maxTs) chunk.maxTs = rec.latestTs;
    if (chunk.recs.length > CHUNK_MAX) {
      const upper = chunk.recs.splice(CHUNK_MAX >>> 1);
      chunk.maxTs = RecentKeys.maxOf(chunk.recs);
      this.chunks.splice(c + 1, 0, { recs: upper, maxTs: RecentKeys.maxOf(upper) });
    }
  }

  /** REQUIRES: rec is present. */
  delete(rec: T): void {
    const c = this.chunkFor(rec.key);
    const chunk = this.chunks[c];
    const i = chunk === undefined ? -1 : RecentKeys.lowerBound(chunk.recs, rec.key);
    if (i < 0 || chunk.recs[i] !== rec) throw new Error('assertion failed: RecentKeys.delete of a record that is not present');
    chunk.recs.splice(i, 1);
    this.size--;
    if (chunk.recs.length === 0) {
      this.chunks.splice(c, 1);
      return;
    }
    if (rec.latestTs >= chunk.maxTs) chunk.maxTs = RecentKeys.maxOf(chunk.recs);
    // Keep chunks from thinning out after a GC wave: merge a small chunk into a neighbour.
    if (chunk.recs.length < MERGE_BELOW) {
      const n = c + 1 < this.chunks.length ? c + 1 : c - 1;
      if (n >= 0 && this.chunks[n].recs.length + chunk.recs.length <= CHUNK_MAX >>> 1) {
        const [lo, hi] = n > c ? [chunk, this.chunks[n]] : [this.chunks[n], chunk];
        lo.recs.push(...hi.recs);
        lo.maxTs = Math.max(lo.maxTs, hi.maxTs);
        this.chunks.splice(Math.max(c, n), 1);
      }
    }
  }

  /** After rec.latestTs grew. REQUIRES: rec is present. */
  raise(rec: T): void {
    const chunk = this.chunks[this.chunkFor(rec.key)];
    if (chunk !== undefined && rec.latestTs > chunk.maxTs) chunk.maxTs = rec.latestTs;
  }

  /** Records with start <= key < end (end null = unbounded) and latestTs > ts, in key order. */
  *newerThan(start: string, end: string | null, ts: number): Generator<T> {
    for (let c = this.chunkFor(start); c < this.chunks.length; c++) {
      const { recs, maxTs } = this.chunks[c];
      if (end !== null && recs[0].key >= end) return;
      if (maxTs <= ts) continue;
      for (let i = recs[0].key < start ? RecentKeys.lowerBound(recs, start) : 0; i < recs.length; i++) {
        const rec = recs[i];
        if (end !== null && rec.key >= end) return;
        if (rec.latestTs > ts) yield rec;
      }
    }
  }

  /** Every record in key order (tests and diagnostics). */
  *all(): Generator<T> {
    for (const chunk of this.chunks) yield* chunk.recs;
  }

  /** Structure invariants, for tests: sorted, chunk sizes and exact chunk maxima. */
  check(): void {
    let prev: string | null = null;
    let count = 0;
    for (const chunk of this.chunks) {
      if (chunk.recs.length === 0 || chunk.recs.length > CHUNK_MAX) throw new Error('RecentKeys: chunk size out of range');
      if (chunk.maxTs !== RecentKeys.maxOf(chunk.recs)) throw new Error('RecentKeys: stale chunk maximum');
      for (const r of chunk.recs) {
        if (prev !== null && !(prev < r.key)) throw new Error('RecentKeys: keys out of order');
        prev = r.key;
        count++;
      }
    }
    if (count !== this.size) throw new Error('RecentKeys: size mismatch');
  }
}
