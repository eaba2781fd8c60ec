// Sort specifications ({a: 1, "b.c": -1}) with MongoDB's rules: values
// compare in the BSON order of compare.ts; a field holding an array sorts by
// its smallest element ascending and its largest descending (the values a
// path reaches, as an index would key them: elements of a leaf array, null
// for array elements lacking the field); an empty array sorts before null
// and missing. No _id tie-break is added here.
//
// sortKeyOf gives the per-key values so a router can merge shard results
// without the documents: an empty array's key is [] (the "before null"
// marker), compared by compareSortKeys. Known gap: a key that is itself an
// empty array reached as an element ({a: [[]]}) also reads as the marker.

import { isDecimal, isDoc } from './bson-types.js';
import { compareValues } from './compare.js';
import type { Doc, DocValue } from './doc-types.js';
import { badQuery } from './filter-values.js';
import { checkPath, ownField, parsePath, type FieldPath } from './paths.js';

export interface SortKey {
  readonly path: FieldPath;
  readonly descending: boolean;
}

/** A parsed sort specification. */
export interface CompiledSort {
  readonly keys: readonly SortKey[];
  /** The sort values of a document, one per key. */
  keyOf(doc: Doc): DocValue[];
  /** Orders two documents (negative: a first). */
  compare(a: Doc, b: Doc): number;
  /** Orders two results of keyOf. */
  compareKeys(a: readonly DocValue[], b: readonly DocValue[]): number;
}

const EMPTY: DocValue[] = Object.freeze([]) as unknown as DocValue[];

/** Parses and validates a sort specification; throws BAD_QUERY. */
export function parseSort(spec: Doc): CompiledSort {
  if (!isDoc(spec)) throw badQuery('sort must be a document');
  const keys = Object.keys(spec).map((path): SortKey => {
    checkPath(path, 'sort');
    if (path.startsWith('$')) throw badQuery(`sort: invalid field '${path}'`);
    return { path: parsePath(path), descending: directionOf(path, spec[path]) === -1 };
  });
  const extract = keys.map((k) => (k.descending ? (d: Doc) => sortValue(d, k.path, true) : (d: Doc) => sortValue(d, k.path, false)));
  const compareKeys = (a: readonly DocValue[], b: readonly DocValue[]): number => {
    for (let i = 0; i < keys.length; i++) {
      const c = compareSortValues(a[i], b[i]);
      if (c !== 0) return keys[i].descending ? -c : c;
    }
    return 0;
  };
  return {
    keys,
    keyOf: (doc) => extract.map((f) => f(doc)),
    compareKeys,
    compare: (a, b) => {
      for (let i = 0; i < keys.length; i++) {
        const c = compareSortValues(extract[i](a), extract[i](b));
        if (c !== 0) return keys[i].descending ? -c : c;
      }
      return 0;
    },
  };
}

function directionOf(path: string, v: DocValue): 1 | -1 {
  const n = typeof v === 'number' ? v : typeof v === 'bigint' || isDecimal(v) ? Number(v.toString()) : NaN;
  if (n === 1 || n === -1) return n;
  if (isDoc(v) && Object.hasOwn(v, '$meta')) throw badQuery(`sort: $meta is not supported for '${path}'`);
  throw badQuery(`$sort key ordering must be 1 (for ascending) or -1 (for descending): '${path}'`);
}

/** A comparator of documents for `spec`. REQUIRES: spec is a valid sort (else BAD_QUERY). */
export function compileSort(spec: Doc): (a: Doc, b: Doc) => number {
  return parseSort(spec).compare;
}

const parsedSorts = new WeakMap<Doc, CompiledSort>();

function cachedSort(spec: Doc): CompiledSort {
  let s = parsedSorts.get(spec);
  if (s === undefined) {
    s = parseSort(spec);
    parsedSorts.set(spec, s);
  }
  return s;
}

/** The sort values of `doc` under `spec`, one per key (for merging shard results). */
export function sortKeyOf(spec: Doc, doc: Doc): DocValue[] {
  return cachedSort(spec).keyOf(doc);
}

/** Orders two sortKeyOf results under `spec`. */
export function compareSortKeys(spec: Doc, a: readonly DocValue[], b: readonly DocValue[]): number {
  return cachedSort(spec).compareKeys(a, b);
}

/** compareValues, with the empty-array marker below everything. */
export function compareSortValues(a: DocValue, b: DocValue): number {
  const ea = a === EMPTY || (Array.isArray(a) && a.length === 0);
  const eb = b === EMPTY || (Array.isArray(b) && b.length === 0);
  if (ea || eb) return ea && eb ? 0 : ea ? -1 : 1;
  return compareValues(a, b);
}

// ---- the sort value of one path -------------------------------------------------

/** The value a document sorts by: the min (or max) of the keys its path yields. */
export function sortValue(doc: Doc, path: FieldPath, descending: boolean): DocValue {
  // Fast path: a one-part path to a non-array value.
  if (path.parts.length === 1) {
    const v = ownField(doc, path.parts[0], path.inherited[0]);
    if (v === undefined) return null;
    if (!Array.isArray(v)) return v;
  }
  let best: DocValue | undefined;
  let sawEmpty = false;
  let any = false;
  collectKeys(doc, path, 0, (v) => {
    any = true;
    if (v === EMPTY) {
      sawEmpty = true;
      return;
    }
    if (best === undefined) best = v;
    else {
      const c = compareValues(v, best);
      if (descending ? c > 0 : c < 0) best = v;
    }
  });
  if (!any) return null;
  if (best === undefined) return sawEmpty ? EMPTY : null;
  return best;
}

// Index-key style traversal: a leaf array yields its elements (an empty one
// yields the marker); arrays on the way are traversed once; a document
// element lacking the rest yields null; scalars in the way yield nothing
// (and a path that yields nothing at all sorts as null).
function collectKeys(v: DocValue | undefined, fp: FieldPath, i: number, emit: (v: DocValue) => void): void {
  if (i === fp.parts.length) {
    if (v === undefined) emit(null);
    else if (!Array.isArray(v)) emit(v);
    else if (v.length === 0) emit(EMPTY);
    else for (const e of v) emit(e);
    return;
  }
  if (Array.isArray(v)) {
    const at = fp.indexes[i];
    if (at >= 0) {
      if (at < v.length) collectKeys(v[at], fp, i + 1, emit);
      return;
    }
    for (const e of v) if (isDoc(e)) collectKeys(ownField(e, fp.parts[i], fp.inherited[i]), fp, i + 1, emit);
    return;
  }
  if (isDoc(v)) collectKeys(ownField(v, fp.parts[i], fp.inherited[i]), fp, i + 1, emit);
  else emit(null);
}
