// Dotted field paths: parsing (cached), the query-side lookup with MongoDB's
// implicit array traversal, plain lookup, and set/unset for updates.
//
// Query lookup follows MongoDB's BSONElementIterator (matcher/path.cpp):
// - walk objects part by part; a missing part or a scalar met before the
//   last part yields one "missing" candidate (undefined);
// - a leaf array yields each element, then the array itself (or only the
//   array, for $size/$elemMatch: `leafArrays: false`);
// - a non-leaf array is traversed: each element that is a document continues
//   the rest of the path (yielding "missing" if it lacks it); scalars and
//   nested arrays yield nothing, except at a numeric position: part "1" picks
//   element 1 (after trying "1" as a field of a document element); if that
//   position is the last part it yields the element itself, unexpanded;
// - an array whose rest of path finds nothing yields no candidate at all, so
//   {"a.b": null} does not match {a: [1]} or {a: []}.

import { MantisError } from '../errors.js';
import { isDoc } from './bson-types.js';
import type { Doc, DocValue } from './doc-types.js';

/** A parsed dotted path. */
export interface FieldPath {
  readonly path: string;
  readonly parts: readonly string[];
  /** Per part: the array index it names (canonical digits), else -1. */
  readonly indexes: readonly number[];
  /** Per part: true when it names an Object.prototype member (needs hasOwn). */
  readonly inherited: readonly boolean[];
}

const PATH_CACHE_MAX = 4096;
const pathCache = new Map<string, FieldPath>();

/** Parses "a.b.0" (cached). REQUIRES: no empty part (validate first). */
export function parsePath(path: string): FieldPath {
  let parsed = pathCache.get(path);
  if (parsed !== undefined) return parsed;
  const parts = path.split('.');
  parsed = Object.freeze({
    path,
    parts: Object.freeze(parts),
    indexes: Object.freeze(parts.map(indexOfPart)),
    inherited: Object.freeze(parts.map((p) => p in Object.prototype)),
  });
  if (pathCache.size >= PATH_CACHE_MAX) pathCache.clear();
  pathCache.set(path, parsed);
  return parsed;
}

/** Throws BAD_QUERY unless `path` is a usable field path (no empty part). */
export function checkPath(path: string, what: string): void {
  if (path === '' || path.split('.').some((p) => p === '')) {
    throw new MantisError('BAD_QUERY', `${what}: invalid field path '${path}'`);
  }
}

// MongoDB matches a part against array positions by string equality with
// the element's field name, so "01" never names position 1.
function indexOfPart(part: string): number {
  if (!/^(0|[1-9][0-9]{0,14})$/.test(part)) return -1;
  return Number(part);
}

/** A document's own field (inherited names like "constructor" are missing). */
export function ownField(doc: Doc, name: string, inherited: boolean): DocValue | undefined {
  if (inherited && !Object.hasOwn(doc, name)) return undefined;
  return doc[name];
}

// ---- query-side lookup ------------------------------------------------------

/** Returns true to stop the walk (a candidate matched). */
export type CandidateVisitor = (value: DocValue | undefined) => boolean;

/**
 * Visits the candidate values MongoDB's matcher sees for `path` in `doc`;
 * returns true as soon as `visit` does. `leafArrays` false: a leaf array is
 * one candidate (not its elements) — $size and $elemMatch.
 */
export function someCandidate(
  doc: Doc,
  path: FieldPath,
  leafArrays: boolean,
  visit: CandidateVisitor,
): boolean {
  return fromDoc(doc, path, 0, leafArrays, visit);
}

/** All candidates as an array (undefined = missing); for tests and tools. */
export function lookupForQuery(doc: Doc, path: string, leafArrays = true): Array<DocValue | undefined> {
  const out: Array<DocValue | undefined> = [];
  someCandidate(doc, parsePath(path), leafArrays, (v) => {
    out.push(v);
    return false;
  });
  return out;
}

// getFieldDottedOrArray, then the iterator's BEGIN state.
function fromDoc(doc: Doc, fp: FieldPath, start: number, leafArrays: boolean, visit: CandidateVisitor): boolean {
  const parts = fp.parts;
  const last = parts.length - 1;
  let cur = doc;
  for (let i = start; ; i++) {
    const v = ownField(cur, parts[i], fp.inherited[i]);
    if (v === undefined) return visit(undefined);
    if (Array.isArray(v)) return inArray(v, fp, i + 1, leafArrays, visit);
    if (i === last) return visit(v);
    if (!isDoc(v)) return visit(undefined);
    cur = v;
  }
}

// The iterator's IN_ARRAY state: `next` is the index of the part after the array.
function inArray(
  arr: DocValue[],
  fp: FieldPath,
  next: number,
  leafArrays: boolean,
  visit: CandidateVisitor,
): boolean {
  const n = fp.parts.length;
  if (next === n) {
    if (leafArrays) {
      for (let k = 0; k < arr.length; k++) if (visit(arr[k])) return true;
    }
    return visit(arr);
  }
  const position = fp.indexes[next];
  const lastPart = next + 1 === n;
  for (let k = 0; k < arr.length; k++) {
    const e = arr[k];
    if (isDoc(e)) {
      if (fromDoc(e, fp, next, leafArrays, visit)) return true;
      if (k === position && (lastPart ? visit(e) : fromDoc(e, fp, next + 1, leafArrays, visit))) return true;
    } else if (k === position) {
      if (lastPart) {
        if (visit(e)) return true;
      } else if (Array.isArray(e) && inArray(e, fp, next + 1, leafArrays, visit)) {
        return true;
      }
    }
  }
  return false;
}

// ---- plain lookup -----------------------------------------------------------

/**
 * The value at `path` without implicit array traversal: objects by field,
 * arrays only by numeric position. Missing → undefined.
 */
export function getPath(doc: Doc, path: string | FieldPath): DocValue | undefined {
  const fp = typeof path === 'string' ? parsePath(path) : path;
  let cur: DocValue | undefined = doc;
  for (let i = 0; i < fp.parts.length; i++) {
    if (Array.isArray(cur)) {
      const at = fp.indexes[i];
      cur = at >= 0 && at < cur.length ? cur[at] : undefined;
    } else if (isDoc(cur)) {
      cur = ownField(cur, fp.parts[i], fp.inherited[i]);
    } else {
      return undefined;
    }
    if (cur === undefined) return undefined;
  }
  return cur;
}

// ---- updates ----------------------------------------------------------------

type Container = Doc | DocValue[];

function describe(v: DocValue | undefined): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

function childOf(c: Container, fp: FieldPath, i: number): DocValue | undefined {
  if (Array.isArray(c)) {
    const at = fp.indexes[i];
    return at >= 0 ? c[at] : undefined;
  }
  return ownField(c, fp.parts[i], fp.inherited[i]);
}

function putChild(c: Container, fp: FieldPath, i: number, value: DocValue): void {
  if (Array.isArray(c)) {
    const at = fp.indexes[i];
    if (at < 0) {
      throw new MantisError('BAD_QUERY', `Cannot create field '${fp.parts[i]}' in an array at '${fp.path}'`);
    }
    while (c.length < at) c.push(null);
    c[at] = value;
    return;
  }
  if (fp.inherited[i] && !Object.hasOwn(c, fp.parts[i])) {
    Object.defineProperty(c, fp.parts[i], { value, writable: true, enumerable: true, configurable: true });
    return;
  }
  c[fp.parts[i]] = value;
}

function asContainer(v: DocValue | undefined): Container | undefined {
  return Array.isArray(v) || isDoc(v) ? v : undefined;
}

/**
 * Sets `path` to `value` in place, creating missing intermediate documents;
 * a numeric part indexes an array (padding with null). A scalar in the way is
 * BAD_QUERY, as in MongoDB. REQUIRES: the caller owns every container on the path.
 */
export function setPath(doc: Doc, path: string | FieldPath, value: DocValue): void {
  const fp = typeof path === 'string' ? parsePath(path) : path;
  let cur: Container = doc;
  const last = fp.parts.length - 1;
  for (let i = 0; i < last; i++) {
    const child = childOf(cur, fp, i);
    if (child === undefined) {
      const created: Doc = {};
      putChild(cur, fp, i, created);
      cur = created;
      continue;
    }
    const next = asContainer(child);
    if (next === undefined) {
      throw new MantisError(
        'BAD_QUERY',
        `Cannot create field '${fp.parts[i + 1]}' in element {${fp.parts[i]}: ${describe(child)}} at '${fp.path}'`,
      );
    }
    cur = next;
  }
  putChild(cur, fp, last, value);
}

/**
 * Copy-on-write setPath: returns a new document sharing everything off the
 * path with `doc`; `doc` is not modified.
 */
export function setPathCopy(doc: Doc, path: string | FieldPath, value: DocValue): Doc {
  const fp = typeof path === 'string' ? parsePath(path) : path;
  const root = { ...doc };
  let cur: Container = root;
  const last = fp.parts.length - 1;
  for (let i = 0; i < last; i++) {
    const child = childOf(cur, fp, i);
    const existing = asContainer(child);
    if (existing === undefined && child !== undefined) {
      throw new MantisError(
        'BAD_QUERY',
        `Cannot create field '${fp.parts[i + 1]}' in element {${fp.parts[i]}: ${describe(child)}} at '${fp.path}'`,
      );
    }
    const copy: Container = existing === undefined ? {} : Array.isArray(existing) ? existing.slice() : { ...existing };
    putChild(cur, fp, i, copy);
    cur = copy;
  }
  putChild(cur, fp, last, value);
  return root;
}

/**
 * Removes `path` in place: a document field is deleted, an array element is
 * set to null (MongoDB's $unset on a position). Returns whether anything
 * changed. REQUIRES: the caller owns every container on the path.
 */
export function unsetPath(doc: Doc, path: string | FieldPath): boolean {
  const fp = typeof path === 'string' ? parsePath(path) : path;
  const parent = containerAt(doc, fp, fp.parts.length - 1);
  if (parent === undefined) return false;
  return removeChild(parent, fp);
}

/** Copy-on-write unsetPath: returns `doc` itself when nothing changes. */
export function unsetPathCopy(doc: Doc, path: string | FieldPath): Doc {
  const fp = typeof path === 'string' ? parsePath(path) : path;
  const last = fp.parts.length - 1;
  const parent = containerAt(doc, fp, last);
  if (parent === undefined || childOf(parent, fp, last) === undefined) return doc;
  const root = { ...doc };
  let cur: Container = root;
  for (let i = 0; i < last; i++) {
    const child = childOf(cur, fp, i) as Container;
    const copy: Container = Array.isArray(child) ? child.slice() : { ...child };
    putChild(cur, fp, i, copy);
    cur = copy;
  }
  removeChild(cur, fp);
  return root;
}

function containerAt(doc: Doc, fp: FieldPath, depth: number): Container | undefined {
  let cur: Container = doc;
  for (let i = 0; i < depth; i++) {
    const next = asContainer(childOf(cur, fp, i));
    if (next === undefined) return undefined;
    cur = next;
  }
  return cur;
}

function removeChild(parent: Container, fp: FieldPath): boolean {
  const last = fp.parts.length - 1;
  if (childOf(parent, fp, last) === undefined) return false;
  if (Array.isArray(parent)) {
    parent[fp.indexes[last]] = null;
  } else {
    delete parent[fp.parts[last]];
  }
  return true;
}
