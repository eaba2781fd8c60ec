// The document operations run inside a transaction: the routes with a
// Mantis-Txn header, and the router's own transactions for collections with a
// unique index. Matching, sorting, updating and projecting happen here on the
// router over the documents read at the transaction's snapshot; the writes are
// planned, checked, then buffered (txn-doc-ops.ts).

import { MantisError } from '../../shared/errors.js';
import type { CollectionInfo } from '../../shared/docs/doc-protocol.js';
import type { Doc, DocPredicate, DocValue } from '../../shared/docs/doc-types.js';
import { checkDocument } from '../../shared/docs/doc-validate.js';
import { compileFilter } from '../../shared/docs/filter.js';
import { compilePipeline } from '../../shared/docs/pipeline.js';
import { getPath } from '../../shared/docs/paths.js';
import { compileProjection } from '../../shared/docs/projection.js';
import { sortKeyOf } from '../../shared/docs/sort.js';
import { compileMutation, idsOfFilter, type FindOutcome, type Mutation, type PipelineSettings, type UpdateOutcome, type Validators } from './doc-common.js';
import type { AggregateRequest, DeleteRequest, FindAndModifyRequest, FindRequest, UpdateRequest, WriteRls } from './doc-requests.js';
import { duplicateId } from './unique-entries.js';
import { decodeCursor, encodeCursor, queryFingerprint } from './find-cursor.js';
import { keyComparator, mergeRuns, type Keyed } from './find-merge.js';
import { TxnDocOps, WritePlan } from './txn-doc-ops.js';
import type { DocTxnManager } from './doc-txn-manager.js';

/** What one transaction of a write by candidates did: candidates gone through, matched, modified (deleted). */
export type CandidateBatch = { readonly consumed: number; readonly matched: number; readonly modified: number };
/** The document a single-document write by candidates changed: before, after (null: deleted), and whether it changed. */
export type FirstModified = { readonly before: Doc; readonly after: Doc | null; readonly modified: boolean };
/** When a transaction of a write by candidates is full (checked before each further document). */
export type WriteBudget = { full(plan: WritePlan, docs: number): boolean };

export class TxnDocCommands {
  readonly ops: TxnDocOps;

  constructor(
    txns: DocTxnManager,
    private readonly validators: Validators,
  ) {
    this.ops = new TxnDocOps(txns);
  }

  /** Documents matching filter in the transaction's view, in _id order. */
  async matching(txn: string, info: CollectionInfo, filter: Doc, deadlineMs: number): Promise<Doc[]> {
    const predicate = compileFilter(filter);
    const ids = idsOfFilter(filter);
    const docs = ids !== null ? await this.ops.readDocs(txn, info, ids, deadlineMs) : await this.ops.allDocs(txn, info, deadlineMs);
    return docs.filter(predicate);
  }

  async find(txn: string, info: CollectionInfo, req: FindRequest, deadlineMs: number): Promise<FindOutcome> {
    const compare = keyComparator(req.sort);
    const project = req.projection === null ? null : compileProjection(req.projection);
    const fingerprint = queryFingerprint({ collId: info.id, filter: req.filter, sort: req.sort, projection: req.projection });
    const after = req.cursor === null ? null : decodeCursor(req.cursor, fingerprint);
    let keyed = sortedKeyed(await this.matching(txn, info, req.filter, deadlineMs), req.sort, compare);
    if (after !== null) keyed = keyed.filter((k) => compare(k.key, after) > 0);
    const page = mergeRuns([keyed], compare, after === null ? req.skip : 0, req.limit);
    return {
      docs: project === null ? page.docs : page.docs.map(project),
      nextCursor: page.more && page.lastKey !== null ? encodeCursor(fingerprint, page.lastKey) : null,
    };
  }

  async aggregate(txn: string, info: CollectionInfo | undefined, req: AggregateRequest, settings: PipelineSettings, lookup: (from: string, filter: Doc) => Promise<Doc[]>, deadlineMs: number): Promise<Doc[]> {
    const pipeline = compilePipeline(req.pipeline, { allowDiskUse: req.allowDiskUse, memoryLimitBytes: settings.memoryLimitBytes, tmpDir: settings.tmpDir, lookup, split: false });
    const docs = info === undefined ? [] : await this.ops.allDocs(txn, info, deadlineMs);
    const out: Doc[] = [];
    for await (const doc of pipeline.run([docs])) out.push(doc);
    return out;
  }

  /** REQUIRES: docs prepared (prepareDocs: _id first, checked, validated). */
  async insert(txn: string, info: CollectionInfo, docs: readonly Doc[], deadlineMs: number): Promise<void> {
    const plan = new WritePlan();
    for (const doc of docs) await this.ops.planInsert(txn, info, doc, plan, deadlineMs);
    await this.ops.apply(txn, plan, deadlineMs);
  }

  async update(txn: string, info: CollectionInfo, req: UpdateRequest, deadlineMs: number): Promise<UpdateOutcome> {
    const mutation = compileMutation(req.update, req.arrayFilters, req.filter, !req.multi, req.rls);
    const matches = await this.matching(txn, info, req.filter, deadlineMs);
    const targets = req.multi ? matches : matches.slice(0, 1);
    const plan = new WritePlan();
    const now = new Date();
    let modified = 0;
    for (const doc of targets) if ((await this.planUpdate(txn, info, doc, mutation, now, plan, deadlineMs)) !== null) modified++;
    let upsertedId: DocValue | null = null;
    if (targets.length === 0 && req.upsert) {
      const doc = this.checked(info, mutation.upsert(now));
      await this.ops.planInsert(txn, info, doc, plan, deadlineMs);
      upsertedId = doc._id;
    }
    await this.ops.apply(txn, plan, deadlineMs);
    return { matched: targets.length, modified, upsertedId };
  }

  async remove(txn: string, info: CollectionInfo, req: DeleteRequest, deadlineMs: number): Promise<number> {
    const matches = await this.matching(txn, info, req.filter, deadlineMs);
    const targets = req.multi ? matches : matches.slice(0, 1);
    const plan = new WritePlan();
    for (const doc of targets) await this.planDelete(txn, info, doc, plan, deadlineMs);
    await this.ops.apply(txn, plan, deadlineMs);
    return targets.length;
  }

  /** The document before or after (null: none matched and no upsert, or "before" of an upsert). */
  async findAndModify(txn: string, info: CollectionInfo, req: FindAndModifyRequest, deadlineMs: number): Promise<Doc | null> {
    const compare = keyComparator(req.sort);
    const candidate = sortedKeyed(await this.matching(txn, info, req.filter, deadlineMs), req.sort, compare)[0]?.doc ?? null;
    const project = (doc: Doc | null): Doc | null => (doc === null || req.projection === null ? doc : compileProjection(req.projection)(doc));
    const plan = new WritePlan();
    if (req.remove) {
      if (candidate !== null) await this.planDelete(txn, info, candidate, plan, deadlineMs);
      await this.ops.apply(txn, plan, deadlineMs);
      return project(candidate);
    }
    const mutation = compileMutation(req.update as Doc | Doc[], req.arrayFilters, req.filter, true, req.rls);
    const now = new Date();
    if (candidate === null) {
      if (!req.upsert) return null;
      const doc = this.checked(info, mutation.upsert(now));
      await this.ops.planInsert(txn, info, doc, plan, deadlineMs);
      await this.ops.apply(txn, plan, deadlineMs);
      return req.returnAfter ? project(doc) : null;
    }
    const after = (await this.planUpdate(txn, info, candidate, mutation, now, plan, deadlineMs)) ?? candidate;
    await this.ops.apply(txn, plan, deadlineMs);
    return project(req.returnAfter ? after : candidate);
  }

  /**
   * PUT by id: replaces the document (upsert: creates it). Under row-level security, `rows` holds
   * the USING filter the current document must match (one it does not is not there for this
   * caller; an upsert then meets its _id: DUPLICATE_KEY, as on a shard) and the checks.
   */
  async replace(txn: string, info: CollectionInfo, id: DocValue, replacement: Doc, upsert: boolean, deadlineMs: number, rows?: { readonly filter: Doc; readonly rls: WriteRls }): Promise<UpdateOutcome> {
    const mutation = compileMutation(replacement, null, { _id: id }, true, rows?.rls);
    const current = await this.ops.readDoc(txn, info, id, deadlineMs);
    if (current !== null && rows !== undefined && !compileFilter(rows.filter)(current)) {
      if (upsert) throw duplicateId(info.name, id);
      return { matched: 0, modified: 0, upsertedId: null };
    }
    const plan = new WritePlan();
    if (current === null) {
      if (!upsert) return { matched: 0, modified: 0, upsertedId: null };
      const doc = this.checked(info, { ...mutation.upsert(new Date()), _id: id });
      await this.ops.planInsert(txn, info, doc, plan, deadlineMs);
      await this.ops.apply(txn, plan, deadlineMs);
      return { matched: 0, modified: 0, upsertedId: id };
    }
    const next = await this.planUpdate(txn, info, current, mutation, new Date(), plan, deadlineMs);
    await this.ops.apply(txn, plan, deadlineMs);
    return { matched: 1, modified: next === null ? 0 : 1, upsertedId: null };
  }

  // ---- by candidate _ids (unique-writes.ts) ----------------------------------------
  // Writes outside a client transaction to a collection with a unique index find their candidates
  // with the plain, index-backed find first; each batch of them is then read here by _id at the
  // snapshot of one of the router's own transactions and checked against the filter again (a
  // candidate may have changed since the find saw it).

  /**
   * Updates the candidates still matching, in order, until `budget` says the transaction is full;
   * how many candidates it went through (the rest go in the next transaction).
   */
  async updateCandidates(txn: string, info: CollectionInfo, ids: readonly DocValue[], predicate: DocPredicate, mutation: Mutation, now: Date, budget: WriteBudget, deadlineMs: number): Promise<CandidateBatch> {
    const plan = new WritePlan();
    let consumed = 0;
    let matched = 0;
    let modified = 0;
    while (consumed < ids.length && !budget.full(plan, consumed)) {
      const doc = await this.ops.readDoc(txn, info, ids[consumed++], deadlineMs, plan);
      if (doc === null || !predicate(doc)) continue;
      matched++;
      if ((await this.planUpdate(txn, info, doc, mutation, now, plan, deadlineMs)) !== null) modified++;
    }
    await this.ops.apply(txn, plan, deadlineMs);
    return { consumed, matched, modified };
  }

  /** Deletes the candidates still matching, in order, until `budget` says the transaction is full. */
  async removeCandidates(txn: string, info: CollectionInfo, ids: readonly DocValue[], predicate: DocPredicate, budget: WriteBudget, deadlineMs: number): Promise<CandidateBatch> {
    const plan = new WritePlan();
    let consumed = 0;
    let matched = 0;
    while (consumed < ids.length && !budget.full(plan, consumed)) {
      const doc = await this.ops.readDoc(txn, info, ids[consumed++], deadlineMs, plan);
      if (doc === null || !predicate(doc)) continue;
      matched++;
      await this.planDelete(txn, info, doc, plan, deadlineMs);
    }
    await this.ops.apply(txn, plan, deadlineMs);
    return { consumed, matched, modified: matched };
  }

  /**
   * The first candidate (in the given order) that still matches, updated (mutation) or deleted
   * (null); null when none of them matches any more.
   */
  async modifyFirst(txn: string, info: CollectionInfo, ids: readonly DocValue[], predicate: DocPredicate, mutation: Mutation | null, now: Date, deadlineMs: number): Promise<FirstModified | null> {
    for (const id of ids) {
      const doc = await this.ops.readDoc(txn, info, id, deadlineMs);
      if (doc === null || !predicate(doc)) continue;
      const plan = new WritePlan();
      let after: Doc | null = null;
      if (mutation === null) await this.planDelete(txn, info, doc, plan, deadlineMs);
      else after = await this.planUpdate(txn, info, doc, mutation, now, plan, deadlineMs);
      await this.ops.apply(txn, plan, deadlineMs);
      return { before: doc, after: after ?? (mutation === null ? null : doc), modified: mutation === null || after !== null };
    }
    return null;
  }

  /** Inserts the document an upsert creates when nothing matched; that document. */
  async insertUpsert(txn: string, info: CollectionInfo, mutation: Mutation, now: Date, deadlineMs: number): Promise<Doc> {
    const doc = this.checked(info, mutation.upsert(now));
    await this.insert(txn, info, [doc], deadlineMs);
    return doc;
  }

  /** Plans one document's update; the new document, or null when nothing changed. */
  private async planUpdate(txn: string, info: CollectionInfo, doc: Doc, mutation: Mutation, now: Date, plan: WritePlan, deadlineMs: number): Promise<Doc | null> {
    const result = mutation.apply(doc, now);
    if (!result.modified) return null;
    const next = this.checked(info, result.doc);
    await this.ops.planChange(txn, info, doc, next, plan, deadlineMs);
    plan.changes.push(
      mutation.replacement
        ? { op: 'replace', coll: info.name, id: doc._id, doc: next }
        : { op: 'update', coll: info.name, id: doc._id, doc: next, updated: pickFields(next, result.changed), removed: result.removed },
    );
    return next;
  }

  private async planDelete(txn: string, info: CollectionInfo, doc: Doc, plan: WritePlan, deadlineMs: number): Promise<void> {
    await this.ops.planChange(txn, info, doc, null, plan, deadlineMs);
    // The pre-image goes with the event: row-level security decides who may see it (change-hub.ts).
    plan.changes.push({ op: 'delete', coll: info.name, id: doc._id, before: doc });
  }

  private checked(info: CollectionInfo, doc: Doc): Doc {
    checkDocument(doc);
    this.validators.of(info)?.(doc);
    return doc;
  }
}

function sortedKeyed(docs: Doc[], sort: Doc | null, compare: ReturnType<typeof keyComparator>): Keyed[] {
  const keyed = docs.map((doc): Keyed => ({ doc, key: sort === null ? [doc._id] : [...sortKeyOf(sort, doc), doc._id] }));
  return keyed.sort((a, b) => compare(a.key, b.key));
}

/** The values of changed dotted paths in the new document (for the change event's updatedFields). */
export function pickFields(doc: Doc, paths: readonly string[]): Doc {
  const out: Doc = {};
  for (const path of paths) {
    const value = getPath(doc, path);
    if (value !== undefined) out[path] = value;
  }
  return out;
}

export function notInTxn(what: string): MantisError {
  return new MantisError('INVALID_PARAMETER', `${what} is not transactional: send it without the Mantis-Txn header`);
}
