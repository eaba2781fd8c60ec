// Ordered listing over every source of one shard — active memtable, the
// memtable being flushed, each table of level 0, each sorted level — merged so
// that the newest source decides each key. Keys are binary strings (latin1 of
// the UTF-8 bytes), so string order is byte order. Runs in the shard; a
// listing is synchronous, so no table changes under a cursor.

import { binaryToKey, type Entry, type Memtable } from '../store/memtable.js';
import type { ReadStats } from './sst-format.js';
import type { SstIterator, SstReader } from './sst-reader.js';
import type { VersionSet } from './version-set.js';

/** One source positioned on a key; next() moves past every version of that key. */
export interface KeyCursor {
  key: string | null;
  /** The newest version of `key` in this source (a table's is a view, valid until next()). */
  entry(): Pick<Entry, 'kind' | 'expiresAtMs' | 'value'>;
  next(): void;
}

const toBinary = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');

class MemtableCursor implements KeyCursor {
  key: string | null = null;
  private current: Entry | null = null;
  private readonly it: Iterator<[string, Entry]>;

  constructor(table: Memtable, start: string, exclusive: boolean, end: string | null) {
    this.it = table.range(start, exclusive, end);
    this.next();
  }

  entry(): Entry {
    return this.current as Entry;
  }

  next(): void {
    const r = this.it.next();
    if (r.done === true) {
      this.key = null;
      this.current = null;
    } else {
      [this.key, this.current] = r.value;
    }
  }
}

/** A sequence of tables with ascending, disjoint ranges (one sorted level, or one L0 table). */
class TablesCursor implements KeyCursor {
  key: string | null = null;
  private it: SstIterator | null = null;
  private index: number;

  constructor(
    private readonly tables: readonly SstReader[],
    first: number,
    start: string,
    exclusive: boolean,
    private readonly end: string | null,
    private readonly stats: ReadStats,
  ) {
    this.index = first;
    if (this.index < tables.length) {
      this.it = tables[this.index].iterator(stats);
      this.it.seek(binaryToKey(start));
    }
    this.settle();
    if (exclusive && this.key === start) this.next();
  }

  entry(): Pick<Entry, 'kind' | 'expiresAtMs' | 'value'> {
    return (this.it as SstIterator).entry();
  }

  next(): void {
    const it = this.it as SstIterator;
    const key = this.key;
    // Skip the older versions of this key (newest comes first in internal order).
    do it.next();
    while (it.valid() && toBinary(it.entry().key) === key);
    this.settle();
  }

  /** Moves to the next table while the current one is exhausted; sets key (null at the end). */
  private settle(): void {
    while (this.it !== null && !this.it.valid()) {
      this.index++;
      if (this.index >= this.tables.length) {
        this.it = null;
        break;
      }
      this.it = this.tables[this.index].iterator(this.stats);
      this.it.seekToFirst();
    }
    const key = this.it === null ? null : toBinary(this.it.entry().key);
    this.key = key !== null && this.end !== null && key >= this.end ? null : key;
  }
}

/** Cursors over every source, newest first. */
export function openCursors(
  memtables: readonly Memtable[],
  versions: VersionSet,
  start: string,
  exclusive: boolean,
  end: string | null,
  stats: ReadStats,
): KeyCursor[] {
  const cursors: KeyCursor[] = memtables.map((t) => new MemtableCursor(t, start, exclusive, end));
  for (const table of versions.levels[0]) cursors.push(new TablesCursor([table], 0, start, exclusive, end, stats));
  const startBytes = binaryToKey(start);
  for (let level = 1; level < versions.levels.length; level++) {
    const tables = versions.levels[level];
    if (tables.length === 0) continue;
    cursors.push(new TablesCursor(tables, versions.lowerBound(level, startBytes), start, exclusive, end, stats));
  }
  return cursors;
}

/** Calls visit(key, kind, expiresAtMs) with each distinct key's newest version, in order, until it returns false. */
export function mergeKeys(cursors: KeyCursor[], visit: (key: string, kind: number, expiresAtMs: number) => boolean): void {
  mergeEntries(cursors, (key, kind, expiresAtMs) => visit(key, kind, expiresAtMs));
}

/**
 * Calls visit(key, kind, expiresAtMs, value) with each distinct key's newest version, in order,
 * until it returns false. visit runs before the cursors move on, so `value` (a view into a table
 * block) is valid only during the call.
 */
export function mergeEntries(cursors: KeyCursor[], visit: (key: string, kind: number, expiresAtMs: number, value: Uint8Array) => boolean): void {
  for (;;) {
    let min: string | null = null;
    let owner = -1;
    for (let i = 0; i < cursors.length; i++) {
      const k = cursors[i].key;
      if (k !== null && (min === null || k < min)) {
        min = k;
        owner = i;
      }
    }
    if (min === null) return;
    const { kind, expiresAtMs, value } = cursors[owner].entry();
    const go = visit(min, kind, expiresAtMs, value);
    for (const c of cursors) if (c.key === min) c.next();
    if (!go) return;
  }
}
