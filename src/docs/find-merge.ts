// Merging the answers of a scattered find. Every shard answers its matching
// documents together with each document's `keys` (its sort key values, then
// its _id), in slices: an answer with a `resume` position means "ask again
// from there". Each slice is a sorted run of its own (a shard sorts what one
// budgeted slice of its scan found, so two slices of one shard may
// interleave); the router merges every run like sorted runs by those keys —
// never by re-reading the documents — and cuts the page (skip, limit). The
// same comparison orders cursor positions.

import { compareValues } from '../../shared/docs/compare.js';
import { parseSort } from '../../shared/docs/sort.js';
import type { Doc, DocValue } from '../../shared/docs/doc-types.js';

/** One document of an answer and its merge key ([sort values…, _id]). */
export type Keyed = { readonly doc: Doc; readonly key: DocValue[] };

/** One slice of a shard's answer; `more` false when the shard has nothing after it. */
export type Slice = { readonly items: Keyed[]; readonly more: boolean };

/** A shard's answer as a sequence of slices (each a sorted run); next() is called until a slice says no more. */
export type SliceSource = { next(): Promise<Slice> };

export type KeyCompare = (a: readonly DocValue[], b: readonly DocValue[]) => number;

/**
 * The order of merge keys for a sort spec ({field: 1|-1, …}; null: _id order): the sort values
 * in their directions (MongoDB's sort order, as the shards sort), then _id ascending (the shards
 * break ties the same way). Throws BAD_QUERY for a bad sort spec.
 */
export function keyComparator(sort: Doc | null): KeyCompare {
  if (sort === null) return (a, b) => compareValues(a[0], b[0]);
  const { compareKeys, keys } = parseSort(sort);
  const n = keys.length;
  return (a, b) => compareKeys(a, b) || compareValues(a[n], b[n]);
}

export type MergedPage = {
  readonly docs: Doc[];
  /** The merge key of the last document of the page (the cursor position), or null when empty. */
  readonly lastKey: DocValue[] | null;
  /** True when at least one more matching document follows the page. */
  readonly more: boolean;
};

/**
 * Every slice of every source, each source asked again until it has no more; sources are asked
 * in parallel. REQUIRES: each slice holds at most what the page needs (skip + limit + 1), so
 * memory is bounded by slices × that.
 */
export async function collectRuns(sources: readonly SliceSource[]): Promise<Keyed[][]> {
  const perSource = await Promise.all(
    sources.map(async (source) => {
      const runs: Keyed[][] = [];
      for (;;) {
        const slice = await source.next();
        if (slice.items.length > 0) runs.push(slice.items);
        if (!slice.more) return runs;
      }
    }),
  );
  return perSource.flat();
}

/** A bound on a page's bytes: the page ends early (more: true) before the document that would cross it (never empty). */
export type PageBytes = { readonly bytesMax: number; readonly sizeOf: (doc: Doc) => number };

/** Merges sorted runs, skips `skip` and returns the next `limit` (0: all), and whether more follow. */
export function mergeRuns(runs: readonly Keyed[][], compare: KeyCompare, skip: number, limit: number, bytes?: PageBytes): MergedPage {
  let used = 0;
  const fits = (doc: Doc, count: number): boolean => {
    if (bytes === undefined) return true;
    used += bytes.sizeOf(doc);
    return count === 0 || used <= bytes.bytesMax;
  };
  if (bytes === undefined && runs.length === 1 && skip === 0 && (limit === 0 || runs[0].length <= limit)) {
    const only = runs[0];
    return { docs: only.map((k) => k.doc), lastKey: only.length === 0 ? null : only[only.length - 1].key, more: false };
  }
  const at = runs.map(() => 0);
  const docs: Doc[] = [];
  let lastKey: DocValue[] | null = null;
  let skipped = 0;
  for (;;) {
    let best = -1;
    for (let r = 0; r < runs.length; r++) {
      if (at[r] < runs[r].length && (best < 0 || compare(runs[r][at[r]].key, runs[best][at[best]].key) < 0)) best = r;
    }
    if (best < 0) return { docs, lastKey, more: false };
    if (limit !== 0 && docs.length === limit) return { docs, lastKey, more: true };
    const item = runs[best][at[best]];
    if (skipped < skip) {
      at[best]++;
      skipped++;
      continue;
    }
    if (!fits(item.doc, docs.length)) return { docs, lastKey, more: true };
    at[best]++;
    docs.push(item.doc);
    lastKey = item.key;
  }
}

/** collectRuns then mergeRuns. */
export async function mergePage(sources: readonly SliceSource[], compare: KeyCompare, skip: number, limit: number, bytes?: PageBytes): Promise<MergedPage> {
  return mergeRuns(await collectRuns(sources), compare, skip, limit, bytes);
}
