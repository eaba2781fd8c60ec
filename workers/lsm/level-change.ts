// One edit of the level structure — tables removed, a flushed table added to
// level 0, compaction outputs added to a sorted level — applied either to the
// manifest's metadata (written first) or to the open readers (swapped second).

import { compareKeys, type SstMeta } from './sst-format.js';
import type { SstReader } from './sst-reader.js';

export type LevelChange = {
  readonly remove: ReadonlySet<number>;
  /** Prepended to level 0 (newest first). */
  readonly level0: readonly SstReader[];
  /** The sorted level (≥ 1) that receives `sorted`. */
  readonly level: number;
  readonly sorted: readonly SstReader[];
};

export function applyChange(levels: readonly (readonly SstMeta[])[], change: LevelChange): SstMeta[][] {
  const out = levels.map((l) => l.filter((m) => !change.remove.has(m.fileNumber)));
  out[0].unshift(...change.level0.map((r) => r.meta));
  if (change.sorted.length > 0) {
    out[change.level].push(...change.sorted.map((r) => r.meta));
    out[change.level].sort((a, b) => compareKeys(a.smallestKey, b.smallestKey));
  }
  return out;
}
