// The document operations on the plain path: commands to the shards that own
// the documents, each applied atomically per shard (one WAL record). Inserts
// are grouped by shard (one command per shard); scans are scattered to every
// shard (or only to the shards of the _ids a filter pins) and repeated slice
// by slice; a single-document update, delete or find_and_modify first finds
// its candidate (sort, limit 1) and then changes exactly that _id on its
// shard, looking again when the candidate changed in between.
// Collections with a unique index never come here for writes (see
// unique-entries.ts and doc-service.ts).

import { MantisError } from '../../shared/errors.js';
import type { CollectionInfo, DocChange, DocCommand, ExecStats, FindCommand } from '../../shared/docs/doc-protocol.js';
import type { Doc, DocValue } from '../../shared/docs/doc-types.js';
import { docKey } from '../../shared/docs/doc-keys.js';
import { encodeDoc } from '../../shared/docs/doc-codec.js';
import { compilePipeline, type LookupFn } from '../../shared/docs/pipeline.js';
import { compileProjection } from '../../shared/docs/projection.js';
import type { ShardClient, ShardPool } from '../router/index.js';
import type { ChangeHub, PublishedChange } from './change-hub.js';
import { compileMutation, idsOfFilter, type FindOutcome, type Mutation, type PipelineSettings, type UpdateOutcome } from './doc-common.js';
import type { AggregateRequest, DeleteRequest, FindAndModifyRequest, FindRequest, UpdateRequest } from './doc-requests.js';
import { callExpect, runSliced, SLICE_BUDGET_MS } from './doc-shard-call.js';
import { decodeCursor, encodeCursor, queryFingerprint } from './find-cursor.js';
import { keyComparator, mergePage, type SliceSource } from './find-merge.js';

/** How often a single-document write looks for its candidate again when it changed in between. */
const CANDIDATE_ATTEMPTS_MAX = 10;
const ID_ONLY: Doc = { _id: 1 };

export type ShardExplain = ExecStats & { readonly shard: number };

export class PlainDocCommands {
  constructor(
    private readonly pool: ShardPool,
    private readonly hub: ChangeHub,
  ) {}

  shardOfId(info: CollectionInfo, id: DocValue): ShardClient {
    return this.pool.shardFor(docKey(info.id, id));
  }

  /** The shards that can hold a match: those of the pinned _ids, else all. */
  private shardsFor(info: CollectionInfo, filter: Doc): readonly ShardClient[] {
    const ids = idsOfFilter(filter);
    if (ids === null) return this.pool.shards;
    return [...new Set(ids.map((id) => this.shardOfId(info, id)))];
  }

  // ---- reads ------------------------------------------------------------------

  async find(info: CollectionInfo, req: FindRequest, deadlineMs: number): Promise<FindOutcome> {
    const compare = keyComparator(req.sort);
    const shape = { collId: info.id, filter: req.filter, sort: req.sort, projection: req.projection };
    const after = req.cursor === null ? null : decodeCursor(req.cursor, queryFingerprint(shape));
    const skip = after === null ? req.skip : 0;
    const command: FindCommand = {
      op: 'find', coll: info.name, filter: req.filter, sort: req.sort, projection: req.projection,
      limit: skip + req.limit + 1, after, resume: null, budget_ms: SLICE_BUDGET_MS, hint: req.hint,
    };
    // A page ends before the document that would take it past FIND_PAGE_BYTES_MAX (next_cursor goes on from there).
    const bytes = { bytesMax: FIND_PAGE_BYTES_MAX, sizeOf: (doc: Doc) => encodeDoc(doc).length };
    const page = await mergePage(this.shardsFor(info, req.filter).map((shard) => findSource(shard, command, deadlineMs)), compare, skip, req.limit, bytes);
    const nextCursor = page.more && page.lastKey !== null ? encodeCursor(queryFingerprint(shape), page.lastKey) : null;
    return { docs: page.docs, nextCursor };
  }

  /** Every document matching filter (no limit): $lookup's foreign side. */
  async findAll(info: CollectionInfo, filter: Doc, deadlineMs: number): Promise<Doc[]> {
    const command: FindCommand = { op: 'find', coll: info.name, filter, sort: null, projection: null, limit: 0, after: null, resume: null, budget_ms: SLICE_BUDGET_MS, hint: null };
    const page = await mergePage(this.shardsFor(info, filter).map((shard) => findSource(shard, command, deadlineMs)), keyComparator(null), 0, 0);
    return page.docs;
  }

  /** The _id of the first document matching filter in sort order (boxed: an _id may be null), or null for none. */
  async candidate(info: CollectionInfo, filter: Doc, sort: Doc | null, deadlineMs: number): Promise<{ readonly id: DocValue } | null> {
    const command: FindCommand = { op: 'find', coll: info.name, filter, sort, projection: ID_ONLY, limit: 1, after: null, resume: null, budget_ms: SLICE_BUDGET_MS, hint: null };
    const page = await mergePage(this.shardsFor(info, filter).map((shard) => findSource(shard, command, deadlineMs)), keyComparator(sort), 0, 1);
    return page.lastKey === null ? null : { id: page.lastKey[page.lastKey.length - 1] };
  }

  /** The document with this _id, if it also matches `filter` (the caller's row filter AND-ed with the _id), or null. */
  async getById(info: CollectionInfo, id: DocValue, deadlineMs: number, filter: Doc = { _id: id }): Promise<Doc | null> {
    const command: FindCommand = { op: 'find', coll: info.name, filter, sort: null, projection: null, limit: 1, after: null, resume: null, budget_ms: SLICE_BUDGET_MS, hint: null };
    const answer = await callExpect(this.shardOfId(info, id), command, false, deadlineMs, 'found');
    return answer.docs[0] ?? null;
  }

  /** Runs the query on every shard it concerns and reports each shard's plan and counters. */
  async explain(info: CollectionInfo, req: FindRequest, deadlineMs: number): Promise<ShardExplain[]> {
    keyComparator(req.sort); // a bad sort is refused here, once
    const command: FindCommand = {
      op: 'find', coll: info.name, filter: req.filter, sort: req.sort, projection: req.projection,
      limit: req.skip + req.limit + 1, after: null, resume: null, budget_ms: SLICE_BUDGET_MS, hint: req.hint,
    };
    return Promise.all(
      this.shardsFor(info, req.filter).map(async (shard) => {
        let stats: ShardExplain = { shard: shard.id, plan: 'EOF', index: null, keysExamined: 0, docsExamined: 0, returned: 0 };
        await runSliced(shard, command, false, deadlineMs, 'found', (a) => {
          stats = { shard: shard.id, plan: a.stats.plan, index: a.stats.index, keysExamined: stats.keysExamined + a.stats.keysExamined, docsExamined: stats.docsExamined + a.stats.docsExamined, returned: stats.returned + a.stats.returned };
        });
        return stats;
      }),
    );
  }

  async aggregate(info: CollectionInfo | undefined, req: AggregateRequest, settings: PipelineSettings, lookup: LookupFn, deadlineMs: number): Promise<Doc[]> {
    const pipeline = compilePipeline(req.pipeline, { allowDiskUse: req.allowDiskUse, memoryLimitBytes: settings.memoryLimitBytes, tmpDir: settings.tmpDir, lookup });
    const command: DocCommand = { op: 'aggregate', coll: info?.name ?? '', stages: pipeline.shard.stages, group: pipeline.shard.partialGroup, resume: null, budget_ms: SLICE_BUDGET_MS, now_ms: pipeline.shard.nowMs };
    const input = info === undefined ? [] : scatterBatches(this.pool.shards, (shard, push) => runSliced(shard, command, false, deadlineMs, 'aggregated', (a) => push(a.docs)));
    const out: Doc[] = [];
    let bytes = 0;
    for await (const doc of pipeline.run(input)) {
      bytes += encodeDoc(doc).length;
      if (bytes > AGGREGATE_RESULT_BYTES_MAX) {
        throw new MantisError('AGGREGATE_MEMORY_LIMIT', `the aggregation's result passed ${AGGREGATE_RESULT_BYTES_MAX} bytes, the most one answer holds; add $limit or $project to the pipeline`);
      }
      out.push(doc);
    }
    return out;
  }

  /** Documents, bytes and index entries summed over the shards; an index is built when every shard built it. */
  async stats(info: CollectionInfo, deadlineMs: number, counts = true): Promise<{ count: number; bytes: number; indexes: Map<string, { entries: number; built: boolean; error?: string }> }> {
    const answers = await Promise.all(this.pool.shards.map((shard) => callExpect(shard, { op: 'coll-stats', coll: info.name, counts }, false, deadlineMs, 'coll-stats')));
    const indexes = new Map<string, { entries: number; built: boolean; error?: string }>();
    let count = 0;
    let bytes = 0;
    for (const a of answers) {
      count += a.count;
      bytes += a.bytes;
      for (const i of a.indexes) {
        const known = indexes.get(i.name) ?? { entries: 0, built: true };
        const error = known.error ?? i.error;
        indexes.set(i.name, { entries: known.entries + i.entries, built: known.built && i.built, ...(error === undefined ? {} : { error }) });
      }
    }
    return { count, bytes, indexes };
  }

  // ---- writes -----------------------------------------------------------------

  /**
   * REQUIRES: docs prepared (prepareDocs). One insert command per shard, all at once; each shard
   * applies its part atomically. A duplicate _id refuses that shard's part (the other shards'
   * parts stand, as MongoDB's inserts before a failing one do).
   */
  async insert(info: CollectionInfo, docs: readonly Doc[], deadlineMs: number): Promise<void> {
    const groups = new Map<ShardClient, Doc[]>();
    for (const doc of docs) {
      const shard = this.shardOfId(info, doc._id);
      const group = groups.get(shard);
      if (group === undefined) groups.set(shard, [doc]);
      else group.push(doc);
    }
    const watched = this.hub.watches(info.name);
    const results = await Promise.allSettled(
      [...groups].map(async ([shard, group]) => {
        // Documents travel in their stored form: the shard keeps the bytes and decodes them only to index them.
        const command: DocCommand = { op: 'insert', coll: info.name, docs: [], ids: group.map((doc) => doc._id), encoded: group.map((doc) => encodeDoc(doc)) };
        await callExpect(shard, command, true, deadlineMs, 'inserted');
        // The shard's insert events carry no document: the router has it.
        if (watched) this.hub.publish(group.map((doc): DocChange => ({ op: 'insert', coll: info.name, id: doc._id, doc })));
      }),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  }

  /** update one or many; upsert when nothing matched (the caller retries a lost upsert race). */
  async update(info: CollectionInfo, req: UpdateRequest, insertUpsert: (doc: Doc) => Promise<void>, deadlineMs: number): Promise<UpdateOutcome> {
    notUnderRls(req);
    const mutation = compileMutation(req.update, req.arrayFilters, req.filter, !req.multi);
    if (req.multi) {
      const command: DocCommand = { op: 'update', coll: info.name, filter: req.filter, update: req.update, arrayFilters: req.arrayFilters, multi: true, ids: null, returnDoc: null, resume: null, budget_ms: SLICE_BUDGET_MS };
      let matched = 0;
      let modified = 0;
      await Promise.all(
        this.shardsFor(info, req.filter).map((shard) =>
          runSliced(shard, command, true, deadlineMs, 'updated', (a) => {
            matched += a.matched;
            modified += a.modified;
            this.hub.publish(a.changes);
          }),
        ),
      );
      if (matched > 0 || !req.upsert) return { matched, modified, upsertedId: null };
    } else {
      const one = await this.updateOne(info, req.filter, null, mutation, req, null, deadlineMs);
      if (one !== null) return { matched: 1, modified: one.modified ? 1 : 0, upsertedId: null };
      if (!req.upsert) return { matched: 0, modified: 0, upsertedId: null };
    }
    const doc = mutation.upsert(new Date());
    await insertUpsert(doc);
    return { matched: 0, modified: 0, upsertedId: doc._id };
  }

  async remove(info: CollectionInfo, req: DeleteRequest, deadlineMs: number): Promise<number> {
    if (!req.multi) return (await this.deleteOne(info, req.filter, null, false, deadlineMs)) === null ? 0 : 1;
    const command: DocCommand = { op: 'delete', coll: info.name, filter: req.filter, multi: true, ids: null, returnDoc: false, resume: null, budget_ms: SLICE_BUDGET_MS };
    let deleted = 0;
    await Promise.all(
      this.shardsFor(info, req.filter).map((shard) =>
        runSliced(shard, command, true, deadlineMs, 'deleted', (a) => {
          deleted += a.deleted;
          this.hub.publish(a.changes);
        }),
      ),
    );
    return deleted;
  }

  /** find_and_modify: the document before or after, or null. */
  async findAndModify(info: CollectionInfo, req: FindAndModifyRequest, insertUpsert: (doc: Doc) => Promise<void>, deadlineMs: number): Promise<Doc | null> {
    const project = (doc: Doc | null): Doc | null => (doc === null || req.projection === null ? doc : compileProjection(req.projection)(doc));
    if (req.remove) return project(await this.deleteOne(info, req.filter, req.sort, true, deadlineMs));
    notUnderRls(req);
    const mutation = compileMutation(req.update as Doc | Doc[], req.arrayFilters, req.filter, true);
    const one = await this.updateOne(info, req.filter, req.sort, mutation, { update: req.update as Doc | Doc[], arrayFilters: req.arrayFilters }, req.returnAfter ? 'after' : 'before', deadlineMs);
    if (one !== null) return project(one.doc);
    if (!req.upsert) return null;
    const doc = mutation.upsert(new Date());
    await insertUpsert(doc);
    return req.returnAfter ? project(doc) : null;
  }

  /** PUT by id. */
  async replace(info: CollectionInfo, id: DocValue, replacement: Doc, upsert: boolean, deadlineMs: number): Promise<UpdateOutcome> {
    const command: DocCommand = { op: 'replace', coll: info.name, id, filter: { _id: id }, replacement, upsert, returnDoc: null };
    const a = await callExpect(this.shardOfId(info, id), command, true, deadlineMs, 'updated');
    this.hub.publish(a.changes);
    return { matched: a.matched, modified: a.modified, upsertedId: a.upserted };
  }

  /**
   * Finds the first match (sort order) and updates exactly it, looking again when it changed in
   * between. Null when nothing matched; else whether it was modified and the document asked for.
   */
  private async updateOne(
    info: CollectionInfo,
    filter: Doc,
    sort: Doc | null,
    mutation: Mutation,
    spec: { update: Doc | Doc[]; arrayFilters: Doc[] | null },
    returnDoc: 'before' | 'after' | null,
    deadlineMs: number,
  ): Promise<{ modified: boolean; doc: Doc | null } | null> {
    const pinned = onlyId(filter);
    for (let attempt = 0; attempt < CANDIDATE_ATTEMPTS_MAX; attempt++) {
      // One pinned _id needs no candidate search: the shard checks the filter on that document.
      const found = pinned !== undefined ? { id: pinned } : await this.candidate(info, filter, sort, deadlineMs);
      if (found === null) return null;
      const id = found.id;
      const shard = this.shardOfId(info, id);
      const command: DocCommand = mutation.replacement
        ? { op: 'replace', coll: info.name, id, filter, replacement: spec.update as Doc, upsert: false, returnDoc }
        : { op: 'update', coll: info.name, filter, update: spec.update, arrayFilters: spec.arrayFilters, multi: false, ids: [id], returnDoc, resume: null, budget_ms: SLICE_BUDGET_MS };
      const a = await callExpect(shard, command, true, deadlineMs, 'updated');
      this.hub.publish(a.changes);
      if (a.matched > 0) return { modified: a.modified > 0, doc: a.doc };
      if (pinned !== undefined) return null;
    }
    throw busyCandidate();
  }

  private async deleteOne(info: CollectionInfo, filter: Doc, sort: Doc | null, returnDoc: boolean, deadlineMs: number): Promise<Doc | null> {
    const pinned = onlyId(filter);
    for (let attempt = 0; attempt < CANDIDATE_ATTEMPTS_MAX; attempt++) {
      const found = pinned !== undefined ? { id: pinned } : await this.candidate(info, filter, sort, deadlineMs);
      if (found === null) return null;
      const id = found.id;
      // A watched collection's delete asks for the document too: its event carries the pre-image (row-level security reads it).
      const watched = this.hub.watches(info.name);
      const command: DocCommand = { op: 'delete', coll: info.name, filter, multi: false, ids: [id], returnDoc: returnDoc || watched, resume: null, budget_ms: SLICE_BUDGET_MS };
      const a = await callExpect(this.shardOfId(info, id), command, true, deadlineMs, 'deleted');
      const before = a.doc;
      this.hub.publish(before === null ? a.changes : a.changes.map((c): PublishedChange => ({ ...c, before })));
      if (a.deleted > 0) return a.doc ?? { _id: id };
      if (pinned !== undefined) return null;
    }
    throw busyCandidate();
  }
}

/** Documents of one find page, encoded: past it the page ends early with a next_cursor (a 16 MiB document still fits). */
const FIND_PAGE_BYTES_MAX = 16 * 1024 * 1024;
/** Documents of one aggregate answer, encoded: AGGREGATE_MEMORY_LIMIT beyond. */
const AGGREGATE_RESULT_BYTES_MAX = 64 * 1024 * 1024;

/** Writes under row-level security compute their documents on the router (doc-service.ts routes them), never here. */
function notUnderRls(req: { readonly rls?: unknown }): void {
  if (req.rls !== undefined) throw new Error('assertion failed: a write under row-level security reached the plain path');
}

/** The one _id a filter pins (undefined: none or several). */
function onlyId(filter: Doc): DocValue | undefined {
  const ids = idsOfFilter(filter);
  return ids !== null && ids.length === 1 ? ids[0] : undefined;
}

function busyCandidate(): MantisError {
  return new MantisError('TXN_CONFLICT', `the matching document changed ${CANDIDATE_ATTEMPTS_MAX} times while it was being written; retry`);
}

/** A shard's sliced find answer as merge runs. */
export function findSource(shard: ShardClient, command: FindCommand, deadlineMs: number): SliceSource {
  let resume: Uint8Array | null = null;
  return {
    next: async () => {
      const a = await callExpect(shard, { ...command, resume }, false, deadlineMs, 'found');
      resume = a.resume;
      return { items: a.docs.map((doc, i) => ({ doc, key: a.keys[i] })), more: resume !== null };
    },
  };
}

/**
 * Runs `produce` on every shard at once and yields the batches they push, as they arrive.
 * The first failure ends the iteration with that error.
 */
async function* scatterBatches(shards: readonly ShardClient[], produce: (shard: ShardClient, push: (docs: Doc[]) => void) => Promise<void>): AsyncGenerator<Doc[]> {
  const queue: Doc[][] = [];
  let running = shards.length;
  let failure: { error: unknown } | null = null;
  let wake: (() => void) | null = null;
  const notify = (): void => {
    wake?.();
    wake = null;
  };
  for (const shard of shards) {
    produce(shard, (docs) => {
      if (docs.length > 0) queue.push(docs);
      notify();
    }).then(
      () => {
        running--;
        notify();
      },
      (error: unknown) => {
        failure ??= { error };
        running--;
        notify();
      },
    );
  }
  for (;;) {
    if (failure !== null) throw (failure as { error: unknown }).error;
    const batch = queue.shift();
    if (batch !== undefined) {
      yield batch;
      continue;
    }
    if (running === 0) return;
    await new Promise<void>((resolve) => (wake = resolve));
  }
}
