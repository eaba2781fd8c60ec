// Benchmark support (main thread, offline): the two yardsticks for the cache
// hit-rate simulation, over equal-size entries. A plain LRU (a Map in access
// order, evicting its oldest key) and Belady's optimal (offline: on a miss
// with a full cache, drop whichever of the cached keys and the newcomer is
// next used farthest in the future; the newcomer may be the one dropped).

/** Hits over the whole trace and over positions from `warmup` on. */
export interface TraceHits {
  readonly all: number;
  readonly afterWarmup: number;
}

/** Hits of a plain LRU holding at most `entries` keys over the trace. */
export function lruHits(trace: Int32Array, entries: number, warmup: number): TraceHits {
  const cache = new Map<number, true>();
  let hits = 0;
  let afterWarmup = 0;
  for (let i = 0; i < trace.length; i++) {
    const key = trace[i];
    if (cache.delete(key)) {
      hits++;
      if (i >= warmup) afterWarmup++;
    } else if (cache.size >= entries) {
      const oldest = cache.keys().next();
      if (!oldest.done) cache.delete(oldest.value);
    }
    cache.set(key, true);
  }
  return { all: hits, afterWarmup };
}

/** For each position, the position of the next access of the same key (trace.length when none). */
function nextUses(trace: Int32Array, keyCount: number): Int32Array {
  const next = new Int32Array(trace.length);
  const seen = new Int32Array(keyCount).fill(trace.length);
  for (let i = trace.length - 1; i >= 0; i--) {
    next[i] = seen[trace[i]];
    seen[trace[i]] = i;
  }
  return next;
}

/** Hits of Belady's optimal cache of `entries` keys (keys are ids in [0, keyCount)). */
export function beladyHits(trace: Int32Array, keyCount: number, entries: number, warmup: number): TraceHits {
  const next = nextUses(trace, keyCount);
  const heap = new FarthestHeap(entries, keyCount);
  let hits = 0;
  let afterWarmup = 0;
  for (let i = 0; i < trace.length; i++) {
    const key = trace[i];
    if (heap.has(key)) {
      hits++;
      if (i >= warmup) afterWarmup++;
      heap.update(key, next[i]);
    } else if (heap.size < entries) {
      heap.push(key, next[i]);
    } else if (next[i] < heap.topPriority()) {
      heap.replaceTop(key, next[i]);
    }
  }
  return { all: hits, afterWarmup };
}

/** An indexed max-heap of cached keys by next-use position. */
class FarthestHeap {
  size = 0;
  private readonly keys: Int32Array;
  private readonly priorities: Int32Array;
  private readonly position: Int32Array;

  constructor(capacity: number, keyCount: number) {
    this.keys = new Int32Array(capacity);
    this.priorities = new Int32Array(capacity);
    this.position = new Int32Array(keyCount).fill(-1);
  }

  has(key: number): boolean {
    return this.position[key] >= 0;
  }

  topPriority(): number {
    return this.priorities[0];
  }

  push(key: number, priority: number): void {
    this.place(this.size++, key, priority);
    this.siftUp(this.size - 1);
  }

  /** Next uses only move later, so an update only sifts up. */
  update(key: number, priority: number): void {
    const at = this.position[key];
    this.priorities[at] = priority;
    this.siftUp(at);
  }

  replaceTop(key: number, priority: number): void {
    this.position[this.keys[0]] = -1;
    this.place(0, key, priority);
    this.siftDown(0);
  }

  private place(at: number, key: number, priority: number): void {
    this.keys[at] = key;
    this.priorities[at] = priority;
    this.position[key] = at;
  }

  private swap(i: number, j: number): void {
    const key = this.keys[i];
    const priority = this.priorities[i];
    this.place(i, this.keys[j], this.priorities[j]);
    this.place(j, key, priority);
  }

  private siftUp(at: number): void {
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if (this.priorities[parent] >= this.priorities[at]) return;
      this.swap(parent, at);
      at = parent;
    }
  }

  private siftDown(at: number): void {
    for (;;) {
      const left = 2 * at + 1;
      if (left >= this.size) return;
      const right = left + 1;
      const larger = right < this.size && this.priorities[right] > this.priorities[left] ? right : left;
      if (this.priorities[at] >= this.priorities[larger]) return;
      this.swap(at, larger);
      at = larger;
    }
  }
}
