// The $sort comparator: MongoDB's sort-key rules. A key path reaches through
// arrays of documents; an array at the end contributes its elements; the key
// is the smallest candidate for an ascending key and the largest for a
// descending one; missing is null, and an empty array sorts before null.

import { compareValues } from './compare.js';
import { badQuery, isPlainDoc, ownField } from './agg-expr-core.js';
import type { Doc, DocValue } from './doc-types.js';

const EMPTY_ARRAY = Symbol('empty array');
type Candidate = DocValue | typeof EMPTY_ARRAY;

interface SortKey {
  readonly parts: readonly string[];
  readonly dir: 1 | -1;
}

function parseSortSpec(spec: Doc): SortKey[] {
  return Object.entries(spec).map(([path, dir]) => {
    if (path === '' || path.split('.').some((p) => p === '' || p.startsWith('$'))) throw badQuery(`$sort: invalid sort key '${path}'`);
    if (isPlainDoc(dir) && '$meta' in dir) throw badQuery('$sort: $meta sort keys are not supported');
    const n = typeof dir === 'bigint' ? Number(dir) : dir;
    if (n !== 1 && n !== -1) throw badQuery(`$sort key ordering must be 1 (for ascending) or -1 (for descending): ${path}`);
    return { parts: path.split('.'), dir: n };
  });
}

function candidates(v: DocValue | undefined, parts: readonly string[], i: number, out: Candidate[]): void {
  if (i === parts.length) {
    if (!Array.isArray(v)) out.push(v === undefined ? null : v);
    else if (v.length === 0) out.push(EMPTY_ARRAY);
    else for (const e of v) out.push(e);
    return;
  }
  if (Array.isArray(v)) {
    for (const e of v) if (isPlainDoc(e)) candidates(ownField(e, parts[i]), parts, i + 1, out);
    const at = /^(0|[1-9][0-9]*)$/.test(parts[i]) ? Number(parts[i]) : -1;
    if (at >= 0 && at < v.length) candidates(v[at], parts, i + 1, out);
    return;
  }
  if (isPlainDoc(v)) candidates(ownField(v, parts[i]), parts, i + 1, out);
  else out.push(null);
}

function compareCandidates(a: Candidate, b: Candidate): number {
  if (a === EMPTY_ARRAY) return b === EMPTY_ARRAY ? 0 : -1;
  if (b === EMPTY_ARRAY) return 1;
  return compareValues(a, b);
}

function keyOf(doc: Doc, key: SortKey): Candidate {
  const out: Candidate[] = [];
  candidates(doc, key.parts, 0, out);
  if (out.length === 0) return null;
  let best = out[0];
  for (let i = 1; i < out.length; i++) {
    const c = compareCandidates(out[i], best);
    if (key.dir === 1 ? c < 0 : c > 0) best = out[i];
  }
  return best;
}

/** A comparator for `spec` ({path: 1 | -1, …}); keys are computed per comparison, cached per document. */
export function compileSortSpec(spec: DocValue): (a: Doc, b: Doc) => number {
  if (!isPlainDoc(spec) || Object.keys(spec).length === 0) throw badQuery('$sort requires a non-empty object');
  const keys = parseSortSpec(spec);
  const cache = new WeakMap<Doc, Candidate[]>();
  const keysOf = (d: Doc): Candidate[] => {
    let k = cache.get(d);
    if (k === undefined) {
      k = keys.map((key) => keyOf(d, key));
      cache.set(d, k);
    }
    return k;
  };
  return (a, b) => {
    const ka = keysOf(a);
    const kb = keysOf(b);
    for (let i = 0; i < keys.length; i++) {
      const c = compareCandidates(ka[i], kb[i]);
      if (c !== 0) return keys[i].dir * c;
    }
    return 0;
  };
}
