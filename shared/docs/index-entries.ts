// Which entries a document has in a secondary index, and the key writes that
// keep an index in step with a document change.
//
// Entry values follow MongoDB's multikey rules: a path through or ending in
// an array gives one entry per element (an empty leaf array gives one entry,
// EMPTY_ARRAY_KEY, which sorts below null as MongoDB's undefined); a missing field indexes as null, also inside an array element
// ({a: [{b: 1}, {}]} has a.b entries 1 and null); a compound index may reach arrays
// through at most one array field (else "cannot index parallel arrays").
// Entries are a superset of what the matcher can match on the path with a
// non-array operand, which is all the planner needs (it re-applies the
// filter): numeric path parts are followed both as positions and as field
// names, as the matcher does. 'hashed' components hold a 64-bit hash of the
// value (as an Int64), 'text' components one lower-cased word per entry.
// A sparse index skips documents missing every indexed field; a partial one
// those its filter rejects.

import { MantisError } from '../errors.js';
import { isDoc } from './bson-types.js';
import { valuesEqual } from './compare.js';
import { descOf, idSuffix, indexPrefix } from './doc-keys.js';
import type { Doc, DocPredicate, DocValue } from './doc-types.js';
import { compileFilter } from './filter.js';
import { buildKey, EMPTY_ARRAY_KEY, valueEqualityKey } from './key-codec.js';
import { ownField, parsePath, type FieldPath } from './paths.js';

export type IndexDirection = 1 | -1 | 'hashed' | 'text';

/** An index as the catalog keeps it (shared by router, shards and planner). */
export type IndexDef = {
  readonly id: number;
  readonly name: string;
  readonly keys: Array<[path: string, dir: IndexDirection]>;
  readonly unique: boolean;
  readonly sparse: boolean;
  readonly partialFilter: Doc | null;
  readonly ttlSeconds: number | null;
  readonly state: 'building' | 'ready';
};

/** Most entries one document may have in one index (MongoDB has no such cap; a runaway text field would). */
export const INDEX_ENTRIES_PER_DOC_MAX = 100_000;

/** One path's values in a document: the entries, where arrays were met, and whether the field exists. */
type PathValues = { values: DocValue[]; arrayAt: string | null; present: boolean };

/**
 * The index entries (one value per key component) of a document, no
 * duplicates. [] when the document is not in the index (partial, sparse,
 * text without words).
 */
export function indexEntryValues(def: Pick<IndexDef, 'keys' | 'sparse' | 'partialFilter'>, doc: Doc): DocValue[][] {
  if (def.partialFilter !== null && !partialPredicate(def.partialFilter)(doc)) return [];
  const perPath = def.keys.map(([path, dir]) => componentValues(doc, path, dir));
  if (def.sparse && perPath.every((p) => !p.present)) return [];
  checkParallelArrays(def.keys, perPath);
  return crossProduct(perPath.map((p) => p.values));
}

function componentValues(doc: Doc, path: string, dir: IndexDirection): PathValues {
  const found = pathValues(doc, parsePath(path));
  if (dir === 'hashed') {
    if (found.arrayAt !== null) throw new MantisError('BAD_QUERY', `hashed indexes do not support array values (field '${path}')`);
    return { ...found, values: found.values.map(hashedValue) };
  }
  if (dir === 'text') {
    const words = textTokens(found.values);
    return { values: words, arrayAt: found.arrayAt, present: words.length > 0 };
  }
  return found;
}

function checkParallelArrays(keys: IndexDef['keys'], perPath: PathValues[]): void {
  let first = -1;
  for (let i = 0; i < perPath.length; i++) {
    const at = perPath[i].arrayAt;
    if (at === null || keys[i][1] === 'text') continue;
    if (first < 0) first = i;
    else if (perPath[first].arrayAt !== at) {
      throw new MantisError('BAD_QUERY', `cannot index parallel arrays [${keys[first][0]}] [${keys[i][0]}]`);
    }
  }
}

function crossProduct(lists: DocValue[][]): DocValue[][] {
  let out: DocValue[][] = [[]];
  for (const list of lists) {
    if (list.length === 0) return [];
    const next: DocValue[][] = [];
    for (const prefix of out) for (const v of list) next.push([...prefix, v]);
    if (next.length > INDEX_ENTRIES_PER_DOC_MAX) {
      throw new MantisError('BAD_QUERY', `a document would have more than ${INDEX_ENTRIES_PER_DOC_MAX} entries in one index`);
    }
    out = next;
  }
  return out;
}

// ── walking a path ──────────────────────────────────────────────────────────

class PathWalk {
  /** Equality keys of `values`, made once a second value comes (most paths have one). */
  private seen: Set<string> | null = null;
  readonly values: DocValue[] = [];
  arrayAt: string | null = null;
  present = false;

  constructor(readonly fp: FieldPath) {}

  emit(v: DocValue): void {
    this.present = true;
    this.add(v);
  }

  /** The field is missing here (in this array element, or the whole path): null, as MongoDB indexes it. */
  emitMissing(): void {
    this.add(null);
  }

  private add(v: DocValue): void {
    if (this.values.length === 0) {
      this.values.push(v);
      return;
    }
    if (this.seen === null) this.seen = new Set([valueEqualityKey(this.values[0])]);
    const key = valueEqualityKey(v);
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.values.push(v);
  }

  sawArray(partsBefore: number): void {
    this.arrayAt ??= this.fp.parts.slice(0, partsBefore).join('.');
  }
}

function pathValues(doc: Doc, fp: FieldPath): PathValues {
  const walk = new PathWalk(fp);
  fromDoc(walk, doc, 0);
  // Nothing found (arrays of scalars where the path goes on): the document
  // still gets an entry, as null, so other components find it.
  if (walk.values.length === 0) walk.emitMissing();
  return { values: walk.values, arrayAt: walk.arrayAt, present: walk.present };
}

function fromDoc(walk: PathWalk, doc: Doc, start: number): void {
  const { parts, inherited } = walk.fp;
  let cur = doc;
  for (let i = start; ; i++) {
    const v = ownField(cur, parts[i], inherited[i]);
    if (v === undefined) return walk.emitMissing();
    if (Array.isArray(v)) return inArray(walk, v, i + 1);
    if (i === parts.length - 1) return walk.emit(v);
    if (!isDoc(v)) return walk.emitMissing();
    cur = v;
  }
}

/** `next`: index of the path part after the array. */
function inArray(walk: PathWalk, arr: DocValue[], next: number): void {
  walk.sawArray(next);
  const n = walk.fp.parts.length;
  if (next === n) {
    if (arr.length === 0) walk.emit(EMPTY_ARRAY_KEY);
    for (const e of arr) walk.emit(e);
    return;
  }
  const position = walk.fp.indexes[next];
  for (let k = 0; k < arr.length; k++) {
    const e = arr[k];
    if (isDoc(e)) fromDoc(walk, e, next);
    if (k !== position) continue;
    if (next + 1 === n) walk.emit(e);
    else if (isDoc(e)) fromDoc(walk, e, next + 1);
    else if (Array.isArray(e)) inArray(walk, e, next + 1);
  }
}

// ── hashed and text components ──────────────────────────────────────────────

/** A 64-bit hash of a value (equal values hash alike: 1, 1n, 1.0), as an Int64. */
export function hashedValue(v: DocValue): bigint {
  const s = valueEqualityKey(v);
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995) ^ (h2 >>> 13);
  }
  return BigInt.asIntN(64, (BigInt(h1 >>> 0) << 32n) | BigInt(h2 >>> 0));
}

const WORD_SPLIT = /[^\p{L}\p{N}]+/u;

/** The distinct lower-cased words of the strings among `values` (text index entries). */
export function textTokens(values: readonly DocValue[]): string[] {
  const words = new Set<string>();
  for (const v of values) {
    if (typeof v !== 'string') continue;
    for (const w of v.toLowerCase().split(WORD_SPLIT)) if (w !== '') words.add(w);
  }
  return [...words];
}

// ── partial filters ─────────────────────────────────────────────────────────

// Compiled once per filter object (catalog entries are long-lived).
const partialCache = new WeakMap<Doc, DocPredicate>();

function partialPredicate(filter: Doc): DocPredicate {
  let p = partialCache.get(filter);
  if (p === undefined) {
    p = compileFilter(filter);
    partialCache.set(filter, p);
  }
  return p;
}

// ── key writes ──────────────────────────────────────────────────────────────

export type IndexWrites = { puts: Uint8Array[]; deletes: Uint8Array[] };

/**
 * The entry keys of `def` to write and delete when a document goes from
 * oldDoc to newDoc (null: absent). Only the difference: an update that
 * leaves the indexed fields alone writes nothing. Throws BAD_QUERY when
 * newDoc cannot be indexed (parallel arrays, hashed array).
 */
export function indexWrites(def: IndexDef, collId: number, oldDoc: Doc | null, newDoc: Doc | null): IndexWrites {
  const oldEntries = oldDoc === null ? [] : indexEntryValues(def, oldDoc);
  const newEntries = newDoc === null ? [] : indexEntryValues(def, newDoc);
  // Most updates leave indexed fields alone: same entries, same _id, no keys to build.
  if (oldDoc !== null && newDoc !== null && sameEntries(oldEntries, newEntries) && valuesEqual(oldDoc._id, newDoc._id)) {
    return { puts: [], deletes: [] };
  }
  const oldKeys = oldDoc === null ? [] : entryKeys(def, collId, oldDoc, oldEntries);
  const newKeys = newDoc === null ? [] : entryKeys(def, collId, newDoc, newEntries);
  if (oldKeys.length === 0 || newKeys.length === 0) return { puts: newKeys, deletes: oldKeys };
  const oldSet = new Set(oldKeys.map(keyString));
  const newSet = new Set(newKeys.map(keyString));
  return {
    puts: newKeys.filter((k) => !oldSet.has(keyString(k))),
    deletes: oldKeys.filter((k) => !newSet.has(keyString(k))),
  };
}

function keyString(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
}

function sameEntries(a: DocValue[][], b: DocValue[][]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    for (let j = 0; j < a[i].length; j++) {
      const x = a[i][j];
      const y = b[i][j];
      // EMPTY_ARRAY_KEY is told apart by identity (an element [] is another key).
      if ((x === EMPTY_ARRAY_KEY) !== (y === EMPTY_ARRAY_KEY) || !valuesEqual(x, y)) return false;
    }
  }
  return true;
}

/** The entry keys of a document (distinct: entries are). */
function entryKeys(def: IndexDef, collId: number, doc: Doc, entries: DocValue[][]): Uint8Array[] {
  if (entries.length === 0) return [];
  const desc = descOf(def);
  const head = indexPrefix(collId, def.id);
  const tail = idSuffix(doc._id);
  return entries.map((values) => buildKey([head, { values, desc }, tail]));
}
