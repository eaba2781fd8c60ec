// The query planner: which documents a find has to look at. An _id equality
// or $in reads those documents; otherwise the best usable secondary index is
// scanned over byte ranges of its entry keys; else the collection is scanned.
//
// Bounds only need to be a superset: the caller always re-applies the filter.
// What keeps them a superset:
// - type bracketing: {$gt: 5} covers the numbers above 5 only, as it matches;
// - multikey: we do not know whether an index holds arrays, so two bounds on
//   one path are never intersected ({$gt: 1, $lt: 5} may match [0, 9] through
//   two elements); the planner keeps one of them (the lower);
// - entries hold array elements, not the arrays: a condition whose operand is
//   an array (or a regex, which matches strings) gives no bounds;
// - a sparse index lacks documents missing every indexed field, a partial one
//   those its filter rejects: used only when the query cannot match those.
// Ranges are relative: the bytes after indexPrefix(collId, index.id)
// (doc-keys absoluteRange makes them storage keys).

import { canonicalOrder, isBsonRegExp, isDoc } from './bson-types.js';
import { valuesEqual } from './compare.js';
import { descOf } from './doc-keys.js';
import type { Doc, DocValue } from './doc-types.js';
import { hashedValue, type IndexDef } from './index-entries.js';
import { encodeIndexValue, prefixEnd, valueEqualityKey } from './key-codec.js';
import { parsePath } from './paths.js';

export type KeyRange = readonly [start: Uint8Array, end: Uint8Array];

export type QueryPlan =
  | { readonly kind: 'collscan' }
  | { readonly kind: 'idlookup'; readonly ids: readonly DocValue[] }
  | {
      readonly kind: 'ixscan';
      readonly index: IndexDef;
      /** Sorted, disjoint [start, end) bounds within the index (after its prefix). */
      readonly ranges: readonly KeyRange[];
      /** Scanning the ranges in order meets documents in the sort's order (first meeting counts). */
      readonly coversSort: boolean;
      /** Every entry in the ranges belongs to a matching document (no need to re-filter). */
      readonly exactBounds: boolean;
    };

/** Most ranges one plan may have ($in × $in); past it, later components are left unbounded. */
export const PLAN_RANGES_MAX = 1000;

/** Picks the plan for a find. REQUIRES: filter compiles (compileFilter validated it). */
export function planQuery(filter: Doc, sort: Doc | null, indexes: readonly IndexDef[]): QueryPlan {
  const conds = collectConditions(filter);
  const ids = idLookup(conds.get('_id'));
  if (ids !== null) return { kind: 'idlookup', ids };
  let best: Candidate | null = null;
  for (const index of indexes) {
    const c = planIndex(index, conds, sort, filter);
    if (c !== null && (best === null || c.score > best.score)) best = c;
  }
  if (best === null) return { kind: 'collscan' };
  return { kind: 'ixscan', index: best.index, ranges: best.ranges, coversSort: best.coversSort, exactBounds: best.exact };
}

// ── conditions per path ─────────────────────────────────────────────────────

/** What the filter says about one path, as far as bounds care. */
type PathConds = {
  eq: DocValue[];
  ins: DocValue[][];
  lower: { value: DocValue; inclusive: boolean }[];
  upper: { value: DocValue; inclusive: boolean }[];
  /** Some condition cannot match a missing field (sparse indexes need one). */
  excludesMissing: boolean;
  /** Some condition was not turned into bounds. */
  other: boolean;
};

function collectConditions(filter: Doc): Map<string, PathConds> {
  const out = new Map<string, PathConds>();
  let extra = false;
  const visit = (f: Doc): void => {
    for (const key of Object.keys(f)) {
      const value = f[key];
      if (key === '$and' && Array.isArray(value)) {
        for (const part of value) if (isDoc(part)) visit(part);
      } else if (key.startsWith('$')) extra = true;
      else addCondition(out, key, value);
    }
  };
  visit(filter);
  if (extra) out.set('$', emptyConds()); // marks "more than path conditions" for exactBounds
  return out;
}

function emptyConds(): PathConds {
  return { eq: [], ins: [], lower: [], upper: [], excludesMissing: false, other: true };
}

function condsOf(out: Map<string, PathConds>, path: string): PathConds {
  let c = out.get(path);
  if (c === undefined) {
    c = { eq: [], ins: [], lower: [], upper: [], excludesMissing: false, other: false };
    out.set(path, c);
  }
  return c;
}

function isOperatorDoc(v: DocValue): v is Doc {
  if (!isDoc(v)) return false;
  for (const k in v) return k.startsWith('$');
  return false;
}

function addCondition(out: Map<string, PathConds>, path: string, spec: DocValue): void {
  const c = condsOf(out, path);
  if (!isOperatorDoc(spec)) return addEquality(c, spec);
  for (const op of Object.keys(spec)) addOperator(c, op, spec[op]);
}

/** Operands that bounds can express: not arrays, not regexes (they match strings). */
function boundable(v: DocValue): boolean {
  return !Array.isArray(v) && !isBsonRegExp(v);
}

function addEquality(c: PathConds, v: DocValue): void {
  if (!boundable(v)) {
    c.other = true;
    if (isBsonRegExp(v)) c.excludesMissing = true;
    return;
  }
  c.eq.push(v);
  if (v !== null) c.excludesMissing = true;
}

function addOperator(c: PathConds, op: string, arg: DocValue): void {
  switch (op) {
    case '$eq': return addEquality(c, arg);
    case '$in': return addIn(c, arg);
    case '$gt': case '$gte': case '$lt': case '$lte': return addRange(c, op, arg);
    case '$exists': case '$type': case '$regex': case '$size': case '$mod': case '$elemMatch': case '$all':
      c.other = true;
      if (op !== '$exists' || (arg !== false && arg !== 0 && arg !== null)) c.excludesMissing = true;
      return;
    default:
      c.other = true; // $ne $nin $not $options: no bounds, may match missing
  }
}

function addIn(c: PathConds, arg: DocValue): void {
  if (!Array.isArray(arg) || !arg.every(boundable)) {
    c.other = true;
    return;
  }
  c.ins.push(arg);
  if (!arg.some((v) => v === null)) c.excludesMissing = true;
}

function addRange(c: PathConds, op: string, arg: DocValue): void {
  if (!boundable(arg)) {
    c.other = true;
    c.excludesMissing = true;
    return;
  }
  const inclusive = op === '$gte' || op === '$lte';
  // {$gte: null} and {$lte: null} are {$eq: null}; {$gt: null} matches nothing.
  if (arg === null && inclusive) return addEquality(c, null);
  c.excludesMissing = true;
  if (op === '$gt' || op === '$gte') c.lower.push({ value: arg, inclusive });
  else c.upper.push({ value: arg, inclusive });
}

// ── _id lookups ─────────────────────────────────────────────────────────────

function idLookup(c: PathConds | undefined): DocValue[] | null {
  if (c === undefined) return null;
  if (c.eq.length > 0) return [c.eq[0]];
  if (c.ins.length > 0) return dedupe(c.ins[0]);
  return null;
}

function dedupe(values: readonly DocValue[]): DocValue[] {
  const seen = new Map<string, DocValue>();
  for (const v of values) if (!seen.has(valueEqualityKey(v))) seen.set(valueEqualityKey(v), v);
  return [...seen.values()];
}

// ── one index ───────────────────────────────────────────────────────────────

type Candidate = { index: IndexDef; ranges: KeyRange[]; coversSort: boolean; exact: boolean; score: number };

/** One component's bounds: points (equality, $in), a range, or nothing. */
type Bounds =
  | { kind: 'points'; values: DocValue[] }
  | { kind: 'range'; lower: { value: DocValue; inclusive: boolean } | null; upper: { value: DocValue; inclusive: boolean } | null }
  | { kind: 'none' };

function planIndex(index: IndexDef, conds: Map<string, PathConds>, sort: Doc | null, filter: Doc): Candidate | null {
  if (index.state !== 'ready' || index.keys.some(([, dir]) => dir === 'text')) return null;
  if (!usableSubset(index, conds, filter)) return null;
  const bounds = index.keys.map(([path, dir]) => componentBounds(conds.get(path), dir));
  let pointComponents = 0;
  while (pointComponents < bounds.length && bounds[pointComponents].kind === 'points') pointComponents++;
  const rangeNext = pointComponents < bounds.length && bounds[pointComponents].kind === 'range';
  const coversSort = sortCovered(index, bounds, pointComponents, sort);
  if (pointComponents === 0 && !rangeNext && !coversSort) return null;
  const ranges = buildRanges(index, bounds);
  const score = pointComponents * 4 + (rangeNext ? 2 : 0) + (coversSort ? 1 : 0) + (index.unique && pointComponents === index.keys.length ? 1 : 0);
  return { index, ranges, coversSort, exact: exactBounds(index, conds, bounds, pointComponents), score };
}

/** A sparse or partial index holds only some documents: usable when the query cannot match the others. */
function usableSubset(index: IndexDef, conds: Map<string, PathConds>, filter: Doc): boolean {
  if (index.sparse && !index.keys.some(([path]) => conds.get(path)?.excludesMissing === true)) return false;
  if (index.partialFilter !== null) {
    for (const key of Object.keys(index.partialFilter)) {
      if (!Object.hasOwn(filter, key) || !valuesEqual(filter[key], index.partialFilter[key])) return false;
    }
  }
  return true;
}

function componentBounds(c: PathConds | undefined, dir: IndexDef['keys'][number][1]): Bounds {
  if (c === undefined) return { kind: 'none' };
  if (c.eq.length > 0) return points(c.eq.slice(0, 1), dir);
  if (c.ins.length > 0) return points(c.ins[0], dir);
  if (dir === 'hashed') return { kind: 'none' };
  if (c.lower.length > 0) return { kind: 'range', lower: c.lower[0], upper: null };
  if (c.upper.length > 0) return { kind: 'range', lower: null, upper: c.upper[0] };
  return { kind: 'none' };
}

function points(values: readonly DocValue[], dir: IndexDef['keys'][number][1]): Bounds {
  const unique = dedupe(values);
  return { kind: 'points', values: dir === 'hashed' ? unique.map(hashedValue) : unique };
}

/** Sort keys continue the point components with the index's own directions, over unbounded components. */
function sortCovered(index: IndexDef, bounds: Bounds[], pointComponents: number, sort: Doc | null): boolean {
  if (sort === null) return false;
  const keys = Object.keys(sort);
  if (keys.length === 0) return false;
  for (let i = 0; i < pointComponents; i++) {
    if ((bounds[i] as { values: DocValue[] }).values.length !== 1) return false;
  }
  for (let j = 0; j < keys.length; j++) {
    const i = pointComponents + j;
    if (i >= index.keys.length) return false;
    const [path, dir] = index.keys[i];
    const want = sort[keys[j]];
    if (path !== keys[j] || (dir !== 1 && dir !== -1) || !(want === dir || (typeof want === 'bigint' && Number(want) === dir))) return false;
    // A bounded component of a (possibly) multikey index would meet a
    // document at its first element in range, not at its sort key.
    if (bounds[i].kind !== 'none') return false;
    if (parsePath(path).indexes.some((n) => n >= 0)) return false;
  }
  return true;
}

/** Bounds match documents exactly: only equality/$in on plain paths, nothing else in the filter. */
function exactBounds(index: IndexDef, conds: Map<string, PathConds>, bounds: Bounds[], pointComponents: number): boolean {
  const paths = new Set(index.keys.slice(0, pointComponents).map(([p]) => p));
  for (const [path, c] of conds) {
    if (!paths.has(path) || c.other || c.lower.length > 0 || c.upper.length > 0 || c.eq.length + c.ins.length !== 1) return false;
  }
  for (let i = 0; i < pointComponents; i++) {
    const [path, dir] = index.keys[i];
    if (dir === 'hashed' || parsePath(path).indexes.some((n) => n >= 0)) return false;
    if ((bounds[i] as { values: DocValue[] }).values.some((v) => v === null || v !== v || isDoc(v))) return false;
  }
  return pointComponents > 0;
}

// ── byte ranges ─────────────────────────────────────────────────────────────

const EMPTY = new Uint8Array(0);
const ALL_END = Uint8Array.of(0xff); // no component starts with 0xff

function buildRanges(index: IndexDef, bounds: Bounds[]): KeyRange[] {
  const desc = descOf(index);
  let prefixes: Uint8Array[] = [EMPTY];
  for (let i = 0; i < bounds.length; i++) {
    const b = bounds[i];
    if (b.kind === 'points' && prefixes.length * b.values.length <= PLAN_RANGES_MAX) {
      const parts = b.values.map((v) => component(encodeIndexValue(v), desc[i]));
      prefixes = prefixes.flatMap((p) => parts.map((part) => concat(p, part)));
      continue;
    }
    if (b.kind === 'range') return normalize(prefixes.map((p) => rangeWithin(p, b, desc[i])));
    break;
  }
  return normalize(prefixes.map((p): KeyRange => (p.length === 0 ? [EMPTY, ALL_END] : [p, prefixEnd(p)])));
}

function component(bytes: Uint8Array, desc: boolean): Uint8Array {
  if (!desc) return bytes;
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = ~bytes[i] & 0xff;
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/**
 * [start, end) of the keys under `prefix` whose next component lies in the
 * range, within the canonical class of its bound (type bracketing).
 */
function rangeWithin(prefix: Uint8Array, b: Extract<Bounds, { kind: 'range' }>, desc: boolean): KeyRange {
  const bound = (b.lower ?? b.upper) as { value: DocValue; inclusive: boolean };
  const cls = canonicalOrder(bound.value);
  // In value order: from `lo` to `hi`, each a byte string of component bytes
  // (ascending form); then mapped to key order.
  const classStart = Uint8Array.of(cls);
  const classEnd = Uint8Array.of(cls + 1);
  const enc = encodeIndexValue(bound.value);
  if (!desc) {
    const lo = b.lower === null ? classStart : b.lower.inclusive ? enc : prefixEnd(enc);
    const hi = b.upper === null ? classEnd : b.upper.inclusive ? prefixEnd(enc) : enc;
    return [concat(prefix, lo), concat(prefix, hi)];
  }
  // Inverted bytes reverse the order: the value's upper bound is the key's start.
  const inv = component(enc, true);
  const start = b.upper === null ? Uint8Array.of(~cls & 0xff) : b.upper.inclusive ? inv : prefixEnd(inv);
  const end = b.lower === null ? Uint8Array.of((~cls & 0xff) + 1) : b.lower.inclusive ? prefixEnd(inv) : inv;
  return [concat(prefix, start), concat(prefix, end)];
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** Sorted by start, empty ones dropped, overlapping ones merged. */
function normalize(ranges: KeyRange[]): KeyRange[] {
  const sorted = ranges.filter(([s, e]) => compareBytes(s, e) < 0).sort((x, y) => compareBytes(x[0], y[0]));
  const out: [Uint8Array, Uint8Array][] = [];
  for (const [s, e] of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && compareBytes(s, last[1]) <= 0) {
      if (compareBytes(e, last[1]) > 0) last[1] = e;
    } else out.push([s, e]);
  }
  return out;
}

