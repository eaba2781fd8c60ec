// The live tables of one shard by level, open for reading, and the choice of
// the next compaction. Level 0 holds flushed memtables newest first (they may
// overlap); levels 1.. are sorted runs of disjoint tables. Runs in the shard.

import { levelTargetBytes, type LsmTuning } from './lsm-options.js';
import { compareKeys, type LsmEntry, type ReadStats, type SstMeta } from './sst-format.js';
import type { SstReader } from './sst-reader.js';

export type Compaction = {
  readonly level: number;
  /** Tables of `level` … */
  readonly inputs: readonly SstMeta[];
  /** … and the tables of level+1 they overlap. */
  readonly overlaps: readonly SstMeta[];
  /** Nothing below level+1 overlaps the key range. */
  readonly bottom: boolean;
};

const overlaps = (m: SstMeta, lo: Uint8Array, hi: Uint8Array): boolean =>
  compareKeys(m.largestKey, lo) >= 0 && compareKeys(m.smallestKey, hi) <= 0;

export class VersionSet {
  /** Per level: readers in level order (L0 newest first, others by key). */
  readonly levels: SstReader[][];
  /** Per level ≥ 1: where the next size-triggered compaction starts (round robin over the key space). */
  private readonly compactPointer: (Uint8Array | null)[];

  constructor(levelCount: number) {
    this.levels = Array.from({ length: levelCount }, () => []);
    this.compactPointer = Array.from({ length: levelCount }, () => null);
  }

  metas(): SstMeta[][] {
    return this.levels.map((l) => l.map((r) => r.meta));
  }

  all(): SstReader[] {
    return this.levels.flat();
  }

  levelBytes(level: number): number {
    return this.levels[level].reduce((s, r) => s + r.meta.fileBytes, 0);
  }

  get tableCount(): number {
    return this.levels.reduce((s, l) => s + l.length, 0);
  }

  /** The newest version of key in the tables (put or delete), or undefined. */
  get(key: Uint8Array, stats: ReadStats): LsmEntry | undefined {
    for (const r of this.levels[0]) {
      if (compareKeys(key, r.meta.smallestKey) < 0 || compareKeys(key, r.meta.largestKey) > 0) continue;
      const e = r.get(key, undefined, stats);
      if (e !== undefined) return e;
    }
    for (let level = 1; level < this.levels.length; level++) {
      const r = this.findTable(level, key);
      if (r === null) continue;
      const e = r.get(key, undefined, stats);
      if (e !== undefined) return e;
    }
    return undefined;
  }

  /** The table of a sorted level whose range may hold key. */
  findTable(level: number, key: Uint8Array): SstReader | null {
    const tables = this.levels[level];
    const lo = this.lowerBound(level, key);
    if (lo === tables.length || compareKeys(tables[lo].meta.smallestKey, key) > 0) return null;
    return tables[lo];
  }

  /** Index of the first table of a sorted level whose largest key ≥ key. */
  lowerBound(level: number, key: Uint8Array): number {
    const tables = this.levels[level];
    let lo = 0;
    let hi = tables.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareKeys(tables[mid].meta.largestKey, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The most urgent compaction that reads no quarantined table, or null. */
  pick(t: LsmTuning, quarantined: ReadonlySet<number> = new Set()): Compaction | null {
    const clean = (c: Compaction): boolean => ![...c.inputs, ...c.overlaps].some((m) => quarantined.has(m.fileNumber));
    if (this.levels[0].length >= t.level0CompactTables) {
      const c = this.expand(0, this.levels[0].map((r) => r.meta));
      if (clean(c)) return c;
    }
    const scored: { level: number; score: number }[] = [];
    for (let level = 1; level < this.levels.length - 1; level++) {
      const score = this.levelBytes(level) / levelTargetBytes(t, level);
      if (score >= 1) scored.push({ level, score });
    }
    scored.sort((a, b) => b.score - a.score);
    for (const { level } of scored) {
      const tables = this.levels[level];
      const pointer = this.compactPointer[level];
      let start = pointer === null ? 0 : tables.findIndex((r) => compareKeys(r.meta.smallestKey, pointer) > 0);
      if (start < 0) start = 0;
      // Round robin over the key space, skipping tables whose compaction would read a quarantined one.
      for (let k = 0; k < tables.length; k++) {
        const i = (start + k) % tables.length;
        const c = this.expand(level, [tables[i].meta]);
        if (!clean(c)) continue;
        this.compactPointer[level] = tables[i].meta.largestKey;
        return c;
      }
    }
    return null;
  }

  private expand(level: number, inputs: SstMeta[]): Compaction {
    let lo = inputs[0].smallestKey;
    let hi = inputs[0].largestKey;
    for (const m of inputs) {
      if (compareKeys(m.smallestKey, lo) < 0) lo = m.smallestKey;
      if (compareKeys(m.largestKey, hi) > 0) hi = m.largestKey;
    }
    const next = this.levels[level + 1].map((r) => r.meta).filter((m) => overlaps(m, lo, hi));
    let bottom = true;
    for (let deeper = level + 2; deeper < this.levels.length && bottom; deeper++) {
      if (this.levels[deeper].some((r) => overlaps(r.meta, lo, hi))) bottom = false;
    }
    return { level, inputs, overlaps: next, bottom };
  }

  /** Installs tables in a sorted level (≥ 1), keeping key order. */
  insertSorted(level: number, readers: readonly SstReader[]): void {
    const l = this.levels[level];
    l.push(...readers);
    l.sort((a, b) => compareKeys(a.meta.smallestKey, b.meta.smallestKey));
  }

  /** Removes tables by file number from every level; returns the removed readers. */
  remove(fileNumbers: ReadonlySet<number>): SstReader[] {
    const removed: SstReader[] = [];
    for (let level = 0; level < this.levels.length; level++) {
      this.levels[level] = this.levels[level].filter((r) => {
        if (!fileNumbers.has(r.meta.fileNumber)) return true;
        removed.push(r);
        return false;
      });
    }
    return removed;
  }
}
