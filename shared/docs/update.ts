// Document updates, MongoDB's semantics: operator updates ($set ... $pop,
// positional `$`, `$[]`, `$[<id>]` with arrayFilters), pipeline updates
// ([{$set: ...}, ...]), whole-document replacement, and what an upsert and
// the positional operator take from the filter. An update is compiled once
// and applied per document; applying never mutates the input document (the
// result shares unchanged parts with it).
//
// Where this differs from MongoDB, and why:
// - an integral double behaves as an int ($inc 2147483647.0 by 1 gives a long),
//   because the value model cannot tell them apart (doc-types.ts);
// - $currentDate {$type: "timestamp"} stores a Date (no Timestamp type);
// - "modified" means the document changed: a $push with a $sort that leaves
//   the array as it was is not a modification (MongoDB counts it);
// - a top-level `$`-prefixed field is refused on updates of existing documents
//   and allowed on upsert inserts, as MongoDB 5.0+ does; nested ones pass.
//
// Module map: update-tree.ts parses operators into the update tree,
// update-apply.ts walks it over a document, update-field-ops.ts and
// update-array-ops.ts are the operators, update-pipeline.ts the pipeline
// stages, update-query.ts the upsert seed and the positional match.

import { isBsonRegExp, isDoc, typeName } from './bson-types.js';
import { valuesEqual } from './compare.js';
import type { Doc, DocValue } from './doc-types.js';
import { applyTree } from './update-apply.js';
import { checkPipelineShape, compileUpdatePipeline, type DocStage } from './update-pipeline.js';
import { parseOperatorUpdate, type ParsedUpdate } from './update-tree.js';
import type { Run } from './update-types.js';
import { badUpdate, describe, describeId, identical, isIndexField, ownField, setOwn } from './update-util.js';

export { matchedArrayPosition, upsertSeed } from './update-query.js';

export interface UpdateContext {
  /** True when applying to an upsert's new document ($setOnInsert applies). */
  isInsert: boolean;
  /** $currentDate and $$NOW. */
  now: Date;
  /** The index the positional `$` stands for (matchedArrayPosition). */
  matchedArrayIndex?: number;
}

export interface UpdateResult {
  doc: Doc;
  modified: boolean;
  /** Dotted paths set or changed, for change streams (concrete: `a.0.b`, never `a.$`). */
  changed: string[];
  /** Dotted paths removed. */
  removed: string[];
}

export interface CompiledUpdate {
  apply(doc: Doc, ctx: UpdateContext): UpdateResult;
  readonly kind: 'operators' | 'pipeline';
  /** True when a path uses the positional `$`: the caller must pass matchedArrayIndex. */
  readonly positional: boolean;
}

export interface UpdateOptions {
  arrayFilters?: Doc[];
}

/** True for a replacement document (its first field is not an operator), as MongoDB decides. */
export function isReplacementUpdate(update: Doc): boolean {
  const first = Object.keys(update)[0];
  return first !== undefined && !first.startsWith('$');
}

/**
 * Compiles an operator document or an update pipeline. Throws BAD_QUERY
 * (naming the operator or path) for anything MongoDB refuses when parsing.
 */
export function compileUpdate(update: Doc | Doc[], options: UpdateOptions = {}): CompiledUpdate {
  if (Array.isArray(update)) {
    if (options.arrayFilters !== undefined) {
      throw badUpdate('arrayFilters may not be specified for pipeline-style updates');
    }
    return compilePipelineUpdate(update);
  }
  if (!isDoc(update)) throw badUpdate('update must be an object or an array of pipeline stages');
  if (Object.keys(update).length === 0) throw badUpdate('Update document requires atomic operators');
  if (isReplacementUpdate(update)) {
    throw badUpdate(
      `Update document requires atomic operators, found field '${Object.keys(update)[0]}' (a replacement replaces the whole document)`,
    );
  }
  const parsed = parseOperatorUpdate(update, options.arrayFilters ?? []);
  return {
    kind: 'operators',
    positional: hasPositional(update),
    apply: (doc, ctx) => applyOperators(parsed, doc, ctx),
  };
}

function hasPositional(update: Doc): boolean {
  for (const op of Object.keys(update)) {
    const fields = update[op];
    if (isDoc(fields) && Object.keys(fields).some((p) => p.split('.').includes('$'))) return true;
  }
  return false;
}

function applyOperators(parsed: ParsedUpdate, doc: Doc, ctx: UpdateContext): UpdateResult {
  const docId = ownField(doc, '_id');
  const run: Run = {
    isInsert: ctx.isInsert,
    now: ctx.now,
    matchedArrayIndex: ctx.matchedArrayIndex,
    docId,
    renameSources: resolveRenameSources(doc, parsed.renameSources, docId),
    changed: [],
    removed: [],
  };
  const out = applyTree(parsed.root, doc, run);
  if (out === doc) return { doc, modified: false, changed: [], removed: [] };
  checkIdUnchanged(doc, out);
  return { doc: ctx.isInsert ? idFirst(out) : out, modified: true, changed: run.changed, removed: run.removed };
}

/** Each $rename source's value in the input document (MongoDB refuses sources inside arrays). */
function resolveRenameSources(
  doc: Doc,
  sources: readonly string[],
  docId: DocValue | undefined,
): Map<string, DocValue | undefined> {
  const out = new Map<string, DocValue | undefined>();
  for (const source of sources) out.set(source, renameSourceValue(doc, source, docId));
  return out;
}

function renameSourceValue(doc: Doc, source: string, docId: DocValue | undefined): DocValue | undefined {
  const parts = source.split('.');
  let cur: DocValue | undefined = doc;
  let arrayField: string | undefined;
  for (let i = 0; i < parts.length; i++) {
    if (isDoc(cur)) {
      cur = ownField(cur, parts[i]);
    } else if (Array.isArray(cur) && isIndexField(parts[i])) {
      arrayField ??= parts[i - 1];
      cur = cur[Number(parts[i])];
    } else {
      throw badUpdate(
        `cannot use the part (${parts[i - 1]} of ${source}) to traverse the element ({${parts[i - 1]}: ${describe(cur)}})`,
      );
    }
    if (cur === undefined) return undefined;
  }
  if (arrayField !== undefined) {
    throw badUpdate(
      `The source field cannot be an array element, '${source}' in doc with ${describeId(docId)} has an array field called '${arrayField}'`,
    );
  }
  return cur;
}

function checkIdUnchanged(before: Doc, after: Doc): void {
  const old = ownField(before, '_id');
  const now = ownField(after, '_id');
  if (old !== undefined && !identical(old, now)) {
    throw badUpdate("Performing an update on the path '_id' would modify the immutable field '_id'");
  }
  if (old === undefined && now !== undefined) checkIdValue(now);
}

/** MongoDB's storageValidIdField. */
function checkIdValue(id: DocValue): void {
  if (Array.isArray(id) || isBsonRegExp(id)) {
    throw badUpdate(`The '_id' value cannot be of type ${typeName(id)}`);
  }
  if (isDoc(id) && Object.keys(id).some((k) => k.startsWith('$'))) {
    throw badUpdate(`_id fields may not contain '$'-prefixed fields: ${describe(id)}`);
  }
}

/** The document with `_id` as its first field (MongoDB keeps it first on insert). */
function idFirst(doc: Doc): Doc {
  const keys = Object.keys(doc);
  if (keys[0] === '_id' || !keys.includes('_id')) return doc;
  const out: Doc = { _id: doc._id };
  for (const k of keys) if (k !== '_id') setOwn(out, k, doc[k]);
  return out;
}

// ---- pipeline updates ---------------------------------------------------------

function compilePipelineUpdate(stages: Doc[]): CompiledUpdate {
  checkPipelineShape(stages);
  // Compile once now so a bad expression is refused at compile time; $$NOW is
  // per application, so a later `now` recompiles (cached for the last one).
  let cachedNow = Date.now();
  let transform: DocStage = compileUpdatePipeline(stages, new Date(cachedNow));
  return {
    kind: 'pipeline',
    positional: false,
    apply(doc, ctx) {
      if (ctx.now.getTime() !== cachedNow) {
        cachedNow = ctx.now.getTime();
        transform = compileUpdatePipeline(stages, new Date(cachedNow));
      }
      const out = keepId(doc, transform(doc), 'After applying the update');
      if (identical(doc, out)) return { doc, modified: false, changed: [], removed: [] };
      return { doc: out, modified: true, ...topLevelDiff(doc, out) };
    },
  };
}

function topLevelDiff(before: Doc, after: Doc): { changed: string[]; removed: string[] } {
  const changed = Object.keys(after).filter((k) => !identical(ownField(before, k), after[k]));
  const removed = Object.keys(before).filter((k) => !Object.hasOwn(after, k));
  return { changed, removed };
}

/**
 * The new document with the old `_id` first: a new document without `_id`
 * keeps the old one; a different `_id` is refused.
 */
function keepId(old: Doc, next: Doc, what: string): Doc {
  const id = ownField(old, '_id');
  const nextId = ownField(next, '_id');
  if (id === undefined) {
    if (nextId !== undefined) checkIdValue(nextId);
    return nextId === undefined ? next : idFirst(next);
  }
  if (nextId !== undefined && !valuesEqual(id, nextId)) {
    throw badUpdate(`${what}, the (immutable) field '_id' was found to have been altered to _id: ${describe(nextId)}`);
  }
  const out: Doc = { _id: id };
  for (const k of Object.keys(next)) if (k !== '_id') setOwn(out, k, next[k]);
  return out;
}

// ---- replacement --------------------------------------------------------------

/**
 * The document a replacement produces: the replacement's fields with the
 * old `_id` first. Refuses top-level `$` fields and a changed `_id`. The
 * result shares values with `replacement`.
 */
export function replacementDoc(doc: Doc, replacement: Doc): Doc {
  if (!isDoc(replacement)) throw badUpdate('a replacement must be a document');
  for (const key of Object.keys(replacement)) {
    if (key.startsWith('$')) {
      throw badUpdate(
        `The dollar ($) prefixed field '${key}' in '${key}' is not allowed in the context of an update's replacement document. Consider using an aggregation pipeline with $replaceWith.`,
      );
    }
  }
  return keepId(doc, replacement, 'After applying the update');
}
