// A shard's in-memory table: point lookups through a Map, ordered listing
// through SortedKeys, TTL expiry checked on every read and swept in the
// background through a min-heap of deadlines. Keys are binary strings of the
// UTF-8 key bytes (latin1 code units), so ordering is byte ordering.
// Over disk tables a delete must stay as a tombstone (kind KIND_DELETE) that
// masks older versions below; get/list/count treat tombstones as absent.

import { KIND_DELETE, KIND_PUT, type EntryKind } from '../lsm/sst-format.js';
import { prefixEnd, SortedKeys } from './sorted-keys.js';

export { KIND_DELETE, KIND_PUT };

export type Entry = {
  readonly value: Uint8Array;
  readonly contentType: string;
  /** ms since the epoch; 0 = never expires. */
  readonly expiresAtMs: number;
  /** The shard's sequence number of this version (newer versions have larger ones). */
  readonly seq: number;
  readonly kind: EntryKind;
};

const EMPTY = new Uint8Array(0);

export function tombstone(seq: number): Entry {
  return { value: EMPTY, contentType: '', expiresAtMs: 0, seq, kind: KIND_DELETE };
}

const ENTRY_OVERHEAD_BYTES = 96;

export function keyToBinary(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
}

export function binaryToKey(key: string): Uint8Array {
  return Buffer.from(key, 'latin1');
}

/** A put that has not expired: what a read may return. */
export const isLive = (entry: Entry, nowMs: number): boolean =>
  entry.kind === KIND_PUT && (entry.expiresAtMs === 0 || entry.expiresAtMs > nowMs);

export class Memtable {
  private readonly entries = new Map<string, Entry>();
  private readonly order = new SortedKeys();
  private readonly deadlines = new DeadlineHeap();
  private ttlEntries = 0;
  private tombstones = 0;
  bytes = 0;

  get size(): number {
    return this.entries.size;
  }

  /** The live entry, or undefined when absent or expired. */
  get(key: string, nowMs: number): Entry | undefined {
    const entry = this.entries.get(key);
    return entry !== undefined && isLive(entry, nowMs) ? entry : undefined;
  }

  /** The stored entry even if expired (for undo records). */
  raw(key: string): Entry | undefined {
    return this.entries.get(key);
  }

  /** Sets (entry) or removes (undefined) a key; returns the previous entry. */
  set(key: string, entry: Entry | undefined): Entry | undefined {
    const previous = this.entries.get(key);
    if (previous !== undefined) {
      this.bytes -= sizeOf(key, previous);
      if (previous.expiresAtMs !== 0) this.ttlEntries--;
      if (previous.kind === KIND_DELETE) this.tombstones--;
    }
    if (entry === undefined) {
      if (previous !== undefined) {
        this.entries.delete(key);
        this.order.delete(key);
      }
      return previous;
    }
    this.entries.set(key, entry);
    if (previous === undefined) this.order.insert(key);
    this.bytes += sizeOf(key, entry);
    if (entry.kind === KIND_DELETE) this.tombstones++;
    if (entry.expiresAtMs !== 0) {
      this.ttlEntries++;
      this.deadlines.push(entry.expiresAtMs, key);
      if (this.deadlines.size > 2 * this.ttlEntries + 1024) this.rebuildDeadlines();
    }
    return previous;
  }

  /** Live keys with the prefix, after the exclusive cursor, skipping `skip`, at most `limit`. */
  list(prefix: string, after: string | null, skip: number, limit: number, nowMs: number): { keys: string[]; more: boolean } {
    const end = prefixEnd(prefix);
    const start = after !== null && after > prefix ? after : prefix;
    const exclusive = after !== null && after >= prefix;
    const keys: string[] = [];
    let skipped = 0;
    for (const key of this.order.range(start, exclusive, end)) {
      if (!isLive(this.entries.get(key) as Entry, nowMs)) continue;
      if (skipped < skip) { skipped++; continue; }
      if (keys.length === limit) return { keys, more: true };
      keys.push(key);
    }
    return { keys, more: false };
  }

  /** Every stored version (tombstones and expired puts included) from `start` up to `end`, in key order. */
  *range(start: string, exclusive: boolean, end: string | null): Generator<[string, Entry]> {
    for (const key of this.order.range(start, exclusive, end)) yield [key, this.entries.get(key) as Entry];
  }

  /** Live keys with the prefix: O(chunks) when no key carries a TTL and there is no tombstone. */
  count(prefix: string, nowMs: number): number {
    const end = prefixEnd(prefix);
    if (this.ttlEntries === 0 && this.tombstones === 0) return this.order.count(prefix, end);
    let live = 0;
    for (const key of this.order.range(prefix, false, end)) {
      if (isLive(this.entries.get(key) as Entry, nowMs)) live++;
    }
    return live;
  }

  /** Drops heap entries left behind by overwrites so the heap stays O(live TTL keys). */
  private rebuildDeadlines(): void {
    this.deadlines.clear();
    for (const [key, entry] of this.entries) {
      if (entry.expiresAtMs !== 0) this.deadlines.push(entry.expiresAtMs, key);
    }
  }

  /**
   * Removes up to `max` expired entries; returns how many. Needs no WAL record: replay re-checks expiry.
   * With `keepTombstones` (older versions may sit in disk tables) an expired put becomes a tombstone
   * of the same seq instead, so it goes on masking them.
   */
  sweepExpired(nowMs: number, max: number, keepTombstones = false, onExpired?: (key: string) => void): number {
    let removed = 0;
    while (removed < max) {
      const top = this.deadlines.peek();
      if (top === undefined || top.atMs > nowMs) break;
      this.deadlines.pop();
      const entry = this.entries.get(top.key);
      if (entry !== undefined && entry.expiresAtMs === top.atMs) {
        this.set(top.key, keepTombstones ? tombstone(entry.seq) : undefined);
        onExpired?.(top.key);
        removed++;
      }
    }
    return removed;
  }
}

function sizeOf(key: string, entry: Entry): number {
  return key.length + entry.value.length + entry.contentType.length + ENTRY_OVERHEAD_BYTES;
}

/** A min-heap of (deadline, key); stale items are the caller's to skip when popped. */
export class DeadlineHeap {
  private readonly at: number[] = [];
  private readonly keys: string[] = [];

  get size(): number {
    return this.at.length;
  }

  clear(): void {
    this.at.length = 0;
    this.keys.length = 0;
  }

  peek(): { atMs: number; key: string } | undefined {
    return this.at.length === 0 ? undefined : { atMs: this.at[0], key: this.keys[0] };
  }

  push(atMs: number, key: string): void {
    this.at.push(atMs);
    this.keys.push(key);
    let i = this.at.length - 1;
    while (i > 0) {
      const parent = (i - 1) >>> 1;
      if (this.at[parent] <= this.at[i]) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  pop(): void {
    const last = this.at.length - 1;
    this.swap(0, last);
    this.at.pop();
    this.keys.pop();
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < this.at.length && this.at[l] < this.at[m]) m = l;
      if (r < this.at.length && this.at[r] < this.at[m]) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }

  private swap(a: number, b: number): void {
    [this.at[a], this.at[b]] = [this.at[b], this.at[a]];
    [this.keys[a], this.keys[b]] = [this.keys[b], this.keys[a]];
  }
}
