// Updates, deletes and find_and_modify outside a client transaction on a
// collection with a unique index, when the filter does not pin _ids. Such a
// write must run through the router's own transactions (the global unique
// entries change with the documents: unique-entries.ts), but it does not read
// the collection inside them. It works in two steps:
//   1. the candidates: the plain find on the shards (index-backed, sliced, the
//      same as a client's find), projecting only _id, page by page in the
//      write's order (_id order, or find_and_modify's sort);
//   2. the change: a short transaction of the router's own per batch of
//      candidates, which reads each one by _id at its snapshot, checks the
//      filter on it again (it may have changed since the find saw it), and
//      writes the document, its local index entries and its unique entries as
//      any transaction does (txn-doc-ops.ts).
// A multi update or delete commits batch by batch (at most BATCH_DOCS
// documents, BATCH_WRITES keys or BATCH_BYTES per transaction), so neither
// the transaction nor the router's memory grows with the number of matches.
// That is MongoDB's promise for a multi write: each document is changed
// atomically, the whole write is not — a failure (409 DUPLICATE_KEY on some
// document) leaves the batches committed before it in place, and a document
// inserted (or changed to match) while the write runs may be missed, as in
// MongoDB. Inside a Mantis-Txn transaction the write reads at the snapshot
// instead (txn-doc-commands.ts) and is all-or-nothing.
// A single-document write takes the first candidate in the query's order that
// still matches at its transaction's snapshot, the next one if it does not.
// Updates under row-level security come this way on any collection (their
// post-images are checked on the router, doc-service.ts); a multi one first
// applies the update to every match without writing (`precheck`), so a
// refused post-image refuses the whole write before any batch commits.

import { MantisError } from '../../shared/errors.js';
import type { CollectionInfo, FindCommand } from '../../shared/docs/doc-protocol.js';
import type { Doc, DocPredicate, DocValue } from '../../shared/docs/doc-types.js';
import { compileFilter } from '../../shared/docs/filter.js';
import { compileProjection } from '../../shared/docs/projection.js';
import type { ShardPool } from '../router/index.js';
import type { CatalogCache } from './catalog-cache.js';
import { compileMutation, type Mutation, type UpdateOutcome } from './doc-common.js';
import type { DeleteRequest, FindAndModifyRequest, UpdateRequest } from './doc-requests.js';
import { SLICE_BUDGET_MS } from './doc-shard-call.js';
import { keyComparator, mergePage } from './find-merge.js';
import type { OwnTxn } from './index-builds.js';
import type { CandidateBatch, FirstModified, TxnDocCommands, WriteBudget } from './txn-doc-commands.js';
import type { WritePlan } from './txn-doc-ops.js';
import { findSource } from './plain-doc-commands.js';

/** Documents one transaction of a multi write changes at most. */
export const BATCH_DOCS = 500;
/** Keys (documents, index and unique entries) and bytes one transaction writes at most (about; the transaction's own limits are 10,000 keys and 64 MiB). */
const BATCH_WRITES = 5_000;
const BATCH_BYTES = 16 * 1024 * 1024;
/** Candidates one find asks for: several transactions' worth, so an index scan is not repeated per batch. */
const MULTI_PAGE = 4 * BATCH_DOCS;
/** Candidates a single-document write asks for at once (usually the first still matches). */
const ONE_PAGE = 8;
/** An upsert whose insert met a duplicate (a racing upsert won) looks again this often. */
const UPSERT_ATTEMPTS_MAX = 3;
const ID_ONLY: Doc = { _id: 1 };

export type UniqueWritesDeps = {
  readonly pool: ShardPool;
  readonly catalog: CatalogCache;
  readonly txn: TxnDocCommands;
  readonly ownTxn: OwnTxn;
};

/** What a write did when something matched; null when nothing did (and nothing was written). */
type Written<T> = { readonly value: T } | null;

export class UniqueWrites {
  constructor(private readonly d: UniqueWritesDeps) {}

  async update(info: CollectionInfo, req: UpdateRequest, deadlineMs: number): Promise<UpdateOutcome> {
    const mutation = compileMutation(req.update, req.arrayFilters, req.filter, !req.multi, req.rls);
    const predicate = compileFilter(req.filter);
    const now = new Date();
    // Under row-level security a multi update commits batch by batch: every post-image is checked first, so a refused one writes nothing.
    if (req.multi && req.rls !== undefined) await this.precheck(info, req.filter, mutation, now, deadlineMs);
    const write = async (): Promise<Written<UpdateOutcome>> => {
      if (!req.multi) {
        const one = await this.first(info, req.filter, null, predicate, mutation, now, deadlineMs);
        return one === null ? null : { value: { matched: 1, modified: one.modified ? 1 : 0, upsertedId: null } };
      }
      const done = await this.batches(info, req.filter, deadlineMs, (txn, current, ids, budget) => this.d.txn.updateCandidates(txn, current, ids, predicate, mutation, now, budget, deadlineMs));
      return done.matched === 0 ? null : { value: { matched: done.matched, modified: done.modified, upsertedId: null } };
    };
    const insert = async (): Promise<UpdateOutcome> => {
      const doc = await this.d.ownTxn((txn) => this.d.txn.insertUpsert(txn, info, mutation, now, deadlineMs));
      return { matched: 0, modified: 0, upsertedId: doc._id };
    };
    return this.upserting(req.upsert, write, insert, { matched: 0, modified: 0, upsertedId: null });
  }

  async remove(info: CollectionInfo, req: DeleteRequest, deadlineMs: number): Promise<number> {
    const predicate = compileFilter(req.filter);
    if (!req.multi) return (await this.first(info, req.filter, null, predicate, null, new Date(), deadlineMs)) === null ? 0 : 1;
    const done = await this.batches(info, req.filter, deadlineMs, (txn, current, ids, budget) => this.d.txn.removeCandidates(txn, current, ids, predicate, budget, deadlineMs));
    return done.matched;
  }

  /** The document before or after (null: none matched and no upsert, or "before" of an upsert). */
  async findAndModify(info: CollectionInfo, req: FindAndModifyRequest, deadlineMs: number): Promise<Doc | null> {
    keyComparator(req.sort); // a bad sort is refused before anything is read
    const project = (doc: Doc | null): Doc | null => (doc === null || req.projection === null ? doc : compileProjection(req.projection)(doc));
    if (req.remove) {
      const predicate = compileFilter(req.filter);
      const gone = await this.first(info, req.filter, req.sort, predicate, null, new Date(), deadlineMs);
      return project(gone?.before ?? null);
    }
    const mutation = compileMutation(req.update as Doc | Doc[], req.arrayFilters, req.filter, true, req.rls);
    const predicate = compileFilter(req.filter);
    const now = new Date();
    const write = async (): Promise<Written<Doc | null>> => {
      const one = await this.first(info, req.filter, req.sort, predicate, mutation, now, deadlineMs);
      return one === null ? null : { value: project(req.returnAfter ? one.after : one.before) };
    };
    const insert = async (): Promise<Doc | null> => {
      const doc = await this.d.ownTxn((txn) => this.d.txn.insertUpsert(txn, info, mutation, now, deadlineMs));
      return req.returnAfter ? project(doc) : null;
    };
    return this.upserting(req.upsert, write, insert, null);
  }

  /**
   * `write` (null: nothing matched, so nothing was written); then, with upsert, `insert`. An
   * insert that meets a duplicate may have lost a race with another upsert of the same document:
   * the write runs again (now it may match) a few times before the duplicate is the answer.
   */
  private async upserting<T>(upsert: boolean, write: () => Promise<Written<T>>, insert: () => Promise<T>, none: T): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const written = await write();
      if (written !== null) return written.value;
      if (!upsert) return none;
      try {
        return await insert();
      } catch (error) {
        if (!(error instanceof MantisError && error.code === 'DUPLICATE_KEY' && attempt < UPSERT_ATTEMPTS_MAX)) throw error;
      }
    }
  }

  /** The first candidate in `sort` order that still matches, changed (mutation) or deleted (null); null when none does. */
  private async first(info: CollectionInfo, filter: Doc, sort: Doc | null, predicate: DocPredicate, mutation: Mutation | null, now: Date, deadlineMs: number): Promise<FirstModified | null> {
    for await (const ids of this.candidatePages(info, filter, sort, ONE_PAGE, deadlineMs)) {
      const current = this.current(info);
      if (current === null) return null;
      const one = await this.gated(current, () => this.d.ownTxn((txn) => this.d.txn.modifyFirst(txn, current, ids, predicate, mutation, now, deadlineMs)));
      if (one !== null) return one;
    }
    return null;
  }

  /**
   * A multi write: every candidate (in _id order) through `work`, one transaction per batch; a
   * batch that keeps conflicting with other writers is retried smaller.
   */
  private async batches(
    info: CollectionInfo,
    filter: Doc,
    deadlineMs: number,
    work: (txn: string, current: CollectionInfo, ids: readonly DocValue[], budget: WriteBudget) => Promise<CandidateBatch>,
  ): Promise<{ matched: number; modified: number }> {
    let matched = 0;
    let modified = 0;
    for await (const page of this.candidatePages(info, filter, null, MULTI_PAGE, deadlineMs)) {
      for (let at = 0; at < page.length; ) {
        // The catalog may change during a long write (an index added): each batch writes under the current entry.
        const current = this.current(info);
        if (current === null) return { matched, modified };
        const ids = page.slice(at, at + BATCH_DOCS);
        let attempt = 0;
        const done = await this.gated(current, () => this.d.ownTxn((txn) => work(txn, current, ids, batchBudget(BATCH_DOCS >> Math.min(attempt++, 6)))));
        matched += done.matched;
        modified += done.modified;
        at += done.consumed;
      }
    }
    return { matched, modified };
  }

  /** The collection's catalog entry now; null when it was dropped (or dropped and created again). */
  private current(info: CollectionInfo): CollectionInfo | null {
    const now = this.d.catalog.get(info.name);
    return now === undefined || now.id !== info.id ? null : now;
  }

  /** Runs work counted as a write under `info`'s catalog version (an index build waits for it). */
  private async gated<T>(info: CollectionInfo, work: () => Promise<T>): Promise<T> {
    const release = this.d.catalog.enterWrite(info);
    try {
      return await work();
    } finally {
      release();
    }
  }

  /**
   * Applies the mutation (with its row-level security checks) to every document matching filter
   * now, writing nothing: the first refusal is thrown before any batch commits. A document that
   * changes between this pass and its batch is checked again there (that batch then fails).
   */
  private async precheck(info: CollectionInfo, filter: Doc, mutation: Mutation, now: Date, deadlineMs: number): Promise<void> {
    for await (const docs of this.matchPages(info, filter, null, MULTI_PAGE, null, deadlineMs)) for (const doc of docs) mutation.apply(doc, now);
  }

  /**
   * The _ids of the documents matching filter, a page (up to `size`) at a time, in the order of
   * `sort` then _id (null: _id order), from every shard; each page continues after the last one.
   */
  private async *candidatePages(info: CollectionInfo, filter: Doc, sort: Doc | null, size: number, deadlineMs: number): AsyncGenerator<DocValue[]> {
    for await (const docs of this.matchPages(info, filter, sort, size, ID_ONLY, deadlineMs)) yield docs.map((doc) => doc._id as DocValue);
  }

  /** The documents matching filter (projected), a page at a time, as candidatePages. */
  private async *matchPages(info: CollectionInfo, filter: Doc, sort: Doc | null, size: number, projection: Doc | null, deadlineMs: number): AsyncGenerator<Doc[]> {
    const compare = keyComparator(sort);
    let after: DocValue[] | null = null;
    for (;;) {
      const command: FindCommand = { op: 'find', coll: info.name, filter, sort, projection, limit: size + 1, after, resume: null, budget_ms: SLICE_BUDGET_MS, hint: null };
      const page = await mergePage(this.d.pool.shards.map((shard) => findSource(shard, command, deadlineMs)), compare, 0, size);
      if (page.docs.length > 0) yield page.docs;
      if (!page.more || page.lastKey === null) return;
      after = page.lastKey;
    }
  }
}

/** A transaction's limit: at most `docs` documents, BATCH_WRITES keys, BATCH_BYTES bytes (checked before each further document). */
function batchBudget(docs: number): WriteBudget {
  return {
    full: (plan: WritePlan, n: number): boolean => {
      if (n === 0) return false; // at least one document per transaction, whatever its size
      if (n >= Math.max(1, docs) || plan.puts.length + plan.deletes.length >= BATCH_WRITES) return true;
      let bytes = 0;
      for (const put of plan.puts) bytes += put.key.byteLength + put.value.byteLength;
      return bytes >= BATCH_BYTES;
    },
  };
}

