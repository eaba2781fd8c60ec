// What the plain path (shard commands) and the transaction path share: the
// results of the operations, documents prepared for insertion (an _id first,
// the limits, the collection's validator), the _ids a filter pins down, and
// the validators compiled once per catalog version.

import { ObjectId } from 'bson';
import { MantisError } from '../../shared/errors.js';
import { isBsonRegExp, isDoc } from '../../shared/docs/bson-types.js';
import { compareValues, valuesEqual } from '../../shared/docs/compare.js';
import type { CollectionInfo } from '../../shared/docs/doc-protocol.js';
import type { Doc, DocValue } from '../../shared/docs/doc-types.js';
import { checkDocument, compileValidator, type DocValidator } from '../../shared/docs/doc-validate.js';
import { compileUpdate, isReplacementUpdate, matchedArrayPosition, replacementDoc, upsertSeed } from '../../shared/docs/update.js';
import type { WriteRls } from './doc-requests.js';

export type UpdateOutcome = { readonly matched: number; readonly modified: number; readonly upsertedId: DocValue | null };
export type FindOutcome = { readonly docs: Doc[]; readonly nextCursor: string | null };

/** Where and how much an aggregation may spill and hold. */
export type PipelineSettings = { readonly memoryLimitBytes: number; readonly tmpDir: string };

/** An absolute deadline (ms since the epoch, 0 = none) every shard call of an operation shares. */
export type Deadline = number;

/** Validators by collection, compiled once per catalog version. */
export class Validators {
  private readonly compiled = new Map<string, { readonly version: number; readonly id: number; readonly check: DocValidator | null }>();

  /** The collection's validator, or null when it has none. */
  of(info: CollectionInfo): DocValidator | null {
    const held = this.compiled.get(info.name);
    if (held !== undefined && held.version === info.version && held.id === info.id) return held.check;
    const check = info.validator === null ? null : compileValidator(info.validator);
    this.compiled.set(info.name, { version: info.version, id: info.id, check });
    return check;
  }

  forget(name: string): void {
    this.compiled.delete(name);
  }
}

/**
 * Documents as they will be stored: `_id` first (a new ObjectId when absent), within the limits,
 * accepted by the validator. The input objects are not changed.
 */
export function prepareDocs(docs: readonly Doc[], validate: DocValidator | null): Doc[] {
  return docs.map((doc, i) => {
    const ready = withId(doc);
    try {
      checkDocument(ready);
      validate?.(ready);
    } catch (error) {
      if (error instanceof MantisError && docs.length > 1) throw new MantisError(error.code, `documents[${i}]: ${error.message}`, error.details);
      throw error;
    }
    return ready;
  });
}

/** The document with its _id as the first field (a new ObjectId when it has none). */
export function withId(doc: Doc): Doc {
  const first = Object.keys(doc)[0];
  if (first === '_id') return doc;
  if (doc._id === undefined) return { _id: new ObjectId(), ...doc };
  const { _id, ...rest } = doc;
  return { _id, ...rest };
}

/** The _ids a filter limits matches to (equality, $eq or $in on _id), or null when it does not. */
export function idsOfFilter(filter: Doc): DocValue[] | null {
  const cond = filter._id;
  if (cond === undefined) return null;
  if (isPlainId(cond)) return [cond];
  if (!isDoc(cond)) return null;
  const ops = Object.keys(cond);
  if (ops.length !== 1) return null;
  if (ops[0] === '$eq' && isPlainId(cond.$eq)) return [cond.$eq as DocValue];
  if (ops[0] === '$in' && Array.isArray(cond.$in) && cond.$in.every(isPlainId)) return dedupeIds(cond.$in);
  return null;
}

/** A value an _id equality can look up by key: not an operator document, an array or a regex. */
function isPlainId(v: DocValue | undefined): boolean {
  if (v === undefined || Array.isArray(v) || isBsonRegExp(v)) return false;
  if (isDoc(v)) return !Object.keys(v).some((k) => k.startsWith('$'));
  return true;
}

function dedupeIds(ids: DocValue[]): DocValue[] {
  const out: DocValue[] = [];
  for (const id of ids) if (!out.some((o) => valuesEqual(o, id))) out.push(id);
  return out;
}

/** A replacement may carry the _id it replaces, never another one. */
export function checkReplacementId(id: DocValue, replacement: Doc): void {
  if (replacement._id !== undefined && !valuesEqual(replacement._id, id)) {
    throw new MantisError('BAD_QUERY', "the replacement's _id differs from the document's: the _id field cannot be changed");
  }
}

/** An update document, pipeline or replacement, compiled once and applied to documents. */
export type Mutation = {
  /** True for a replacement document (the whole document is replaced). */
  readonly replacement: boolean;
  /** The document after the update; modified false when nothing changed. */
  apply(doc: Doc, now: Date): MutationResult;
  /** The document an upsert inserts when nothing matched `filter` (an _id first; not yet checked). */
  upsert(now: Date): Doc;
};
export type MutationResult = { readonly doc: Doc; readonly modified: boolean; readonly changed: string[]; readonly removed: string[] };

/**
 * Compiles an update for documents matching `filter` (the positional `$` needs it). A replacement
 * document (no operator at the top level) is allowed only where `allowReplacement`.
 * Under row-level security (`rls`), the caller's own filter stands in for `filter` and every
 * modified document and upserted document is checked (FORBIDDEN).
 * Throws BAD_QUERY for a bad update.
 */
export function compileMutation(update: Doc | Doc[], arrayFilters: Doc[] | null, filter: Doc, allowReplacement: boolean, rls?: WriteRls): Mutation {
  const plain = compilePlainMutation(update, arrayFilters, rls?.seed ?? filter, allowReplacement);
  if (rls === undefined) return plain;
  const { checkUpdate, checkInsert } = rls;
  return {
    replacement: plain.replacement,
    apply: (doc, now) => {
      const result = plain.apply(doc, now);
      if (result.modified) checkUpdate?.(result.doc);
      return result;
    },
    upsert: (now) => {
      const doc = plain.upsert(now);
      checkInsert?.(doc);
      return doc;
    },
  };
}

function compilePlainMutation(update: Doc | Doc[], arrayFilters: Doc[] | null, filter: Doc, allowReplacement: boolean): Mutation {
  if (!Array.isArray(update) && isReplacementUpdate(update)) {
    if (!allowReplacement) throw new MantisError('BAD_QUERY', 'a replacement document cannot update several documents (multi); use update operators');
    if (arrayFilters !== null) throw new MantisError('BAD_QUERY', 'array_filters cannot be used with a replacement document');
    return {
      replacement: true,
      apply: (doc) => {
        const next = replacementDoc(doc, update);
        return { doc: next, modified: compareValues(doc, next) !== 0, changed: [], removed: [] };
      },
      upsert: () => {
        const seed = upsertSeed(filter);
        return withId(seed._id === undefined ? update : { ...update, _id: seed._id });
      },
    };
  }
  const compiled = compileUpdate(update, arrayFilters === null ? {} : { arrayFilters });
  const apply = (doc: Doc, now: Date, isInsert: boolean): MutationResult => {
    const matchedArrayIndex = compiled.positional && !isInsert ? matchedArrayPosition(filter, doc) : undefined;
    const result = compiled.apply(doc, { isInsert, now, matchedArrayIndex });
    if (!valuesEqual(doc._id, result.doc._id) && !isInsert) {
      throw new MantisError('BAD_QUERY', "Performing an update on the path '_id' would modify the immutable field '_id'");
    }
    return result;
  };
  return {
    replacement: false,
    apply: (doc, now) => apply(doc, now, false),
    upsert: (now) => withId(apply(upsertSeed(filter), now, true).doc),
  };
}
