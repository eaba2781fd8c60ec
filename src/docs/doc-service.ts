// The document store on the router: what each document route does. Every
// operation takes the collection's catalog entry and goes one of three ways:
//   - inside the client's transaction (Mantis-Txn): read at its snapshot,
//     filtered here, writes buffered in it (txn-doc-commands.ts);
//   - a write to a collection with a unique index: the same, in a short
//     transaction of the router's own, committed at once and retried on a
//     conflict, so the global unique entries stay exact (unique-entries.ts);
//     inserts there are one-shot transactions with "does not exist yet"
//     conditions, all reads at once (unique-insert.ts); an update or delete
//     whose filter pins no _id finds its candidates with the plain find first
//     and changes them by _id, a batch per transaction (unique-writes.ts);
//   - anything else: commands to the shards that own the documents
//     (plain-doc-commands.ts).
// Row-level security (doc-rls.ts, an optional DocAccess on every operation):
// the caller's USING filter is AND-ed into the operation's filter (an
// aggregation gets a leading $match, its foreign reads their collection's
// filter), so it travels every path above; an update, replace, patch,
// find_and_modify or upsert of a restricted caller goes the transactional way
// even on a plain collection (`rowWrite`), because its WITH CHECK needs every
// document it writes on the router before the write; inserts are checked
// before they are sent.
// Change events reach the hub from the shards' write answers, from
// transactions when they commit (DocTxnManager) and from the shards' own
// changes (TTL expiry, via the pool).

import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { MantisError } from '../../shared/errors.js';
import type { CollectionInfo, DocChange } from '../../shared/docs/doc-protocol.js';
import type { Doc, DocPredicate, DocValue } from '../../shared/docs/doc-types.js';
import { checkCollectionName, compileValidator } from '../../shared/docs/doc-validate.js';
import { stringifyEjson } from '../../shared/docs/ejson.js';
import type { IndexDef } from '../../shared/docs/index-entries.js';
import type { Logger } from '../log.js';
import type { ShardPool } from '../router/index.js';
import { sleep } from '../kv/kv-service.js';
import { CatalogCache } from './catalog-cache.js';
import { ChangeHub } from './change-hub.js';
import { checkReplacementId, idsOfFilter, prepareDocs, Validators, withId, type FindOutcome, type PipelineSettings, type UpdateOutcome } from './doc-common.js';
import type { AggregateRequest, CollectionOptions, DeleteRequest, FindAndModifyRequest, FindRequest, IndexRequest, UpdateRequest, WriteRls } from './doc-requests.js';
import { andFilter, isMatchNothing, rowPredicate, type DocAccess } from './doc-rls.js';
import type { DocTxnManager } from './doc-txn-manager.js';
import { IndexBuilds } from './index-builds.js';
import { PlainDocCommands, type ShardExplain } from './plain-doc-commands.js';
import { TxnDocCommands } from './txn-doc-commands.js';
import { hasUniqueIndex } from './unique-entries.js';
import { UniqueInserts } from './unique-insert.js';
import { UniqueWrites } from './unique-writes.js';

/** The router's own transactions (unique indexes): isolation, idle timeout, attempts on a conflict. */
const OWN_TXN_TIMEOUT_MS = 30_000;
const OWN_TXN_ATTEMPTS_MAX = 8;
/** Upserts that lost an insert race look again this often. */
const UPSERT_ATTEMPTS_MAX = 3;
/** Per blocking aggregation stage ($group, $sort, …), as MongoDB's 100 MB. */
export const AGGREGATE_MEMORY_BYTES = 100 * 1024 * 1024;
/** Events each watched collection keeps for resuming a change stream. */
export const CHANGE_RING_EVENTS = 10_000;

export type DocServiceOptions = {
  readonly pool: ShardPool;
  readonly txns: DocTxnManager;
  readonly log: Logger;
  readonly dataDir: string;
};

/** rowLevel: the count is what the caller's row-level security lets it see; bytes (null) and index entries (empty) are not given. */
export type CollectionSummary = {
  readonly info: CollectionInfo;
  readonly count: number;
  readonly bytes: number | null;
  readonly indexes: ReadonlyMap<string, { entries: number; built: boolean }>;
  readonly rowLevel: boolean;
};

export class DocService {
  readonly hub = new ChangeHub({ ringEvents: CHANGE_RING_EVENTS });
  readonly catalog: CatalogCache;
  private readonly validators = new Validators();
  private readonly plain: PlainDocCommands;
  private readonly inTxn: TxnDocCommands;
  private readonly builds: IndexBuilds;
  private readonly uniqueInserts: UniqueInserts;
  private readonly uniqueWrites: UniqueWrites;
  private readonly pipelines: PipelineSettings;

  constructor(private readonly o: DocServiceOptions) {
    this.catalog = new CatalogCache(o.pool);
    this.plain = new PlainDocCommands(o.pool, this.hub);
    this.inTxn = new TxnDocCommands(o.txns, this.validators);
    this.builds = new IndexBuilds({ pool: o.pool, catalog: this.catalog, plain: this.plain, txns: o.txns, ops: this.inTxn.ops, ownTxn: (work) => this.ownTxn(work), log: o.log });
    this.uniqueInserts = new UniqueInserts(o.pool, o.txns, (changes) => this.hub.publish(changes));
    this.uniqueWrites = new UniqueWrites({ pool: o.pool, catalog: this.catalog, txn: this.inTxn, ownTxn: (work) => this.ownTxn(work) });
    this.pipelines = { memoryLimitBytes: AGGREGATE_MEMORY_BYTES, tmpDir: join(o.dataDir, 'tmp', 'aggregate') };
    o.txns.onCommittedChanges = (changes) => this.hub.publish(changes);
  }

  /**
   * Once every shard is ready: the aggregation spill directory emptied (a crash may have left
   * files) and created, the catalog reconciled, interrupted index builds resumed.
   */
  async start(): Promise<void> {
    await rm(this.pipelines.tmpDir, { recursive: true, force: true });
    await mkdir(this.pipelines.tmpDir, { recursive: true });
    const infos = await this.catalog.reconcile();
    this.builds.resume(infos);
  }

  /** Changes a shard made on its own (TTL expiry). */
  shardChanges(changes: readonly DocChange[]): void {
    this.hub.publish(changes);
  }

  // ---- collections --------------------------------------------------------------

  /** Every collection (with access: those it may read), with counts and sizes. */
  async listCollections(deadlineMs: number, access?: DocAccess): Promise<CollectionSummary[]> {
    const infos = this.catalog.all().filter((info) => access === undefined || access.can(info.name, 'read'));
    return Promise.all(infos.map((info) => this.summary(info, deadlineMs, access)));
  }

  async describe(coll: string, deadlineMs: number, access?: DocAccess): Promise<CollectionSummary> {
    return this.summary(this.catalog.require(checkCollectionName(coll)), deadlineMs, access);
  }

  /** PUT /api/v1/docs/:c: creates the collection or changes its validator. */
  async putCollection(coll: string, options: CollectionOptions): Promise<{ created: boolean; info: CollectionInfo }> {
    checkCollectionName(coll);
    if (options.validator !== null) compileValidator(options.validator);
    let created = false;
    const info = await this.catalog.change(coll, (current) => {
      if (current === undefined) {
        created = true;
        return this.catalog.fresh(coll, options.validator);
      }
      return { ...current, validator: options.validator };
    });
    return { created, info };
  }

  async dropCollection(coll: string): Promise<void> {
    await this.catalog.drop(checkCollectionName(coll));
    this.validators.forget(coll);
  }

  async createIndex(coll: string, req: IndexRequest): Promise<IndexDef> {
    return this.builds.create(checkCollectionName(coll), req);
  }

  async dropIndex(coll: string, name: string): Promise<void> {
    await this.builds.drop(checkCollectionName(coll), name);
  }

  // ---- reads ----------------------------------------------------------------------

  // Every operation takes an optional `access` (doc-rls.ts): the caller's permissions for what its
  // body names beyond the route, and row-level security (select, insert, update or delete
  // policies). Without it nothing is checked.

  async find(coll: string, req: FindRequest, txn: string | null, deadlineMs: number, access?: DocAccess): Promise<FindOutcome> {
    const info = this.catalog.get(checkCollectionName(coll));
    if (info === undefined) return { docs: [], nextCursor: null };
    const rows = access?.using(info.name, 'select') ?? null;
    const q = rows === null ? req : { ...req, filter: andFilter(req.filter, rows) };
    return txn === null ? this.plain.find(info, q, deadlineMs) : this.inTxn.find(txn, info, q, deadlineMs);
  }

  async getById(coll: string, id: DocValue, txn: string | null, deadlineMs: number, access?: DocAccess): Promise<Doc> {
    const info = this.catalog.require(checkCollectionName(coll));
    const rows = access?.using(info.name, 'select') ?? null;
    let doc: Doc | null;
    if (txn === null) doc = await this.plain.getById(info, id, deadlineMs, andFilter({ _id: id }, rows));
    else {
      doc = await this.inTxn.ops.readDoc(txn, info, id, deadlineMs, null, false);
      if (doc !== null && rows !== null && !(rowPredicate(rows) as DocPredicate)(doc)) doc = null;
    }
    // A document the caller may not see is not there for it.
    if (doc === null) throw docNotFound(coll, id);
    return doc;
  }

  async aggregate(coll: string, req: AggregateRequest, txn: string | null, deadlineMs: number, access?: DocAccess): Promise<Doc[]> {
    const info = this.catalog.get(checkCollectionName(coll));
    access?.requirePipeline(req.pipeline);
    const lookup = async (from: string, filter: Doc): Promise<Doc[]> => {
      access?.require(from, 'read');
      const foreign = this.catalog.get(from);
      if (foreign === undefined) return [];
      const rows = access?.using(from, 'select') ?? null;
      if (isMatchNothing(rows)) return [];
      const q = andFilter(filter, rows);
      return txn === null ? this.plain.findAll(foreign, q, deadlineMs) : this.inTxn.matching(txn, foreign, q, deadlineMs);
    };
    // The documents the caller may see, as a leading $match (pushed to the shards with the pipeline's own).
    const rows = info === undefined ? null : (access?.using(info.name, 'select') ?? null);
    const source = isMatchNothing(rows) ? undefined : info;
    const r = rows === null ? req : { ...req, pipeline: [{ $match: rows }, ...req.pipeline] };
    if (txn !== null) return this.inTxn.aggregate(txn, source, r, this.pipelines, lookup, deadlineMs);
    return this.plain.aggregate(source, r, this.pipelines, lookup, deadlineMs);
  }

  async explain(coll: string, req: FindRequest, deadlineMs: number, access?: DocAccess): Promise<ShardExplain[]> {
    const info = this.catalog.get(checkCollectionName(coll));
    if (info === undefined) return [];
    const rows = access?.using(info.name, 'select') ?? null;
    return this.plain.explain(info, rows === null ? req : { ...req, filter: andFilter(req.filter, rows) }, deadlineMs);
  }

  // ---- writes -----------------------------------------------------------------------

  /** The _ids of the inserted documents, in order. */
  async insert(coll: string, raw: readonly Doc[], txn: string | null, deadlineMs: number, access?: DocAccess): Promise<DocValue[]> {
    const check = access?.checker(checkCollectionName(coll), 'insert') ?? null;
    // Every document is checked before anything is written (or the collection created).
    const withIds = check === null ? raw : raw.map(withId);
    if (check !== null) for (const doc of withIds) check(doc);
    const info = await this.catalog.ensure(checkCollectionName(coll));
    const docs = prepareDocs(withIds, this.validators.of(info));
    if (txn === null && hasUniqueIndex(info)) await this.uniqueInserts.insert(info, docs, deadlineMs);
    else await this.write(info, txn, (t) => this.inTxn.insert(t, info, docs, deadlineMs), () => this.plain.insert(info, docs, deadlineMs));
    return docs.map((d) => d._id);
  }

  async update(coll: string, req: UpdateRequest, txn: string | null, deadlineMs: number, access?: DocAccess): Promise<UpdateOutcome> {
    const info = req.upsert ? await this.catalog.ensure(checkCollectionName(coll)) : this.catalog.get(checkCollectionName(coll));
    if (info === undefined) return { matched: 0, modified: 0, upsertedId: null };
    const secured = this.securedWrite(info.name, req.filter, req.upsert, access);
    if (secured !== null) {
      const r: UpdateRequest = { ...req, ...secured };
      return this.rowWrite(r.filter, txn, (t) => this.inTxn.update(t, info, r, deadlineMs), () => this.uniqueWrites.update(info, r, deadlineMs));
    }
    if (this.byCandidates(info, req.filter, txn)) return this.uniqueWrites.update(info, req, deadlineMs);
    return this.write(
      info,
      txn,
      (t) => this.inTxn.update(t, info, req, deadlineMs),
      () => this.upsertRetried(() => this.plain.update(info, req, (doc) => this.insertUpserted(info, doc, deadlineMs), deadlineMs)),
    );
  }

  async remove(coll: string, req: DeleteRequest, txn: string | null, deadlineMs: number, access?: DocAccess): Promise<number> {
    const info = this.catalog.get(checkCollectionName(coll));
    if (info === undefined) return 0;
    const rows = access?.using(info.name, 'delete') ?? null;
    if (rows !== null) req = { ...req, filter: andFilter(req.filter, rows) };
    if (this.byCandidates(info, req.filter, txn)) return this.uniqueWrites.remove(info, req, deadlineMs);
    return this.write(info, txn, (t) => this.inTxn.remove(t, info, req, deadlineMs), () => this.plain.remove(info, req, deadlineMs));
  }

  async findAndModify(coll: string, req: FindAndModifyRequest, txn: string | null, deadlineMs: number, access?: DocAccess): Promise<Doc | null> {
    const info = req.upsert ? await this.catalog.ensure(checkCollectionName(coll)) : this.catalog.get(checkCollectionName(coll));
    if (info === undefined) return null;
    if (req.remove) {
      const rows = access?.using(info.name, 'delete') ?? null;
      if (rows !== null) req = { ...req, filter: andFilter(req.filter, rows) };
    } else {
      const secured = this.securedWrite(info.name, req.filter, req.upsert, access);
      if (secured !== null) {
        const r: FindAndModifyRequest = { ...req, ...secured };
        return this.rowWrite(r.filter, txn, (t) => this.inTxn.findAndModify(t, info, r, deadlineMs), () => this.uniqueWrites.findAndModify(info, r, deadlineMs));
      }
    }
    if (this.byCandidates(info, req.filter, txn)) return this.uniqueWrites.findAndModify(info, req, deadlineMs);
    return this.write(
      info,
      txn,
      (t) => this.inTxn.findAndModify(t, info, req, deadlineMs),
      () => this.upsertRetried(() => this.plain.findAndModify(info, req, (doc) => this.insertUpserted(info, doc, deadlineMs), deadlineMs)),
    );
  }

  /** PUT by id: 404 DOC_NOT_FOUND when it does not exist and upsert is false. */
  async replaceById(coll: string, id: DocValue, replacement: Doc, upsert: boolean, txn: string | null, deadlineMs: number, access?: DocAccess): Promise<UpdateOutcome> {
    checkReplacementId(id, replacement);
    const info = upsert ? await this.catalog.ensure(checkCollectionName(coll)) : this.catalog.require(checkCollectionName(coll));
    // _id first, as in every stored document (the shard keeps the replacement's field order).
    const { _id: _given, ...fields } = replacement;
    const ordered: Doc = { _id: id, ...fields };
    const secured = this.securedWrite(info.name, { _id: id }, upsert, access);
    if (secured !== null) {
      const rows = { filter: secured.filter, rls: secured.rls };
      const outcome = await this.rowWrite(rows.filter, txn, (t) => this.inTxn.replace(t, info, id, ordered, upsert, deadlineMs, rows), () => Promise.reject(new Error('assertion failed: a replace by id pins its _id')));
      if (outcome.matched === 0 && outcome.upsertedId === null) throw docNotFound(coll, id);
      return outcome;
    }
    const outcome = await this.write(info, txn, (t) => this.inTxn.replace(t, info, id, ordered, upsert, deadlineMs), () => this.plain.replace(info, id, ordered, upsert, deadlineMs));
    if (outcome.matched === 0 && outcome.upsertedId === null) throw docNotFound(coll, id);
    return outcome;
  }

  /** PATCH by id: the update document applied to that one document; the document after it. */
  async patchById(coll: string, id: DocValue, update: Doc | Doc[], txn: string | null, deadlineMs: number, access?: DocAccess): Promise<Doc> {
    const info = this.catalog.require(checkCollectionName(coll));
    const req: FindAndModifyRequest = { filter: { _id: id }, update, sort: null, upsert: false, returnAfter: true, remove: false, projection: null, arrayFilters: null };
    const secured = this.securedWrite(info.name, req.filter, false, access);
    if (secured !== null) {
      const r: FindAndModifyRequest = { ...req, ...secured };
      const doc = await this.rowWrite(r.filter, txn, (t) => this.inTxn.findAndModify(t, info, r, deadlineMs), () => this.uniqueWrites.findAndModify(info, r, deadlineMs));
      if (doc === null) throw docNotFound(coll, id);
      return doc;
    }
    const doc = await this.write(info, txn, (t) => this.inTxn.findAndModify(t, info, req, deadlineMs), () => this.plain.findAndModify(info, req, () => Promise.resolve(), deadlineMs));
    if (doc === null) throw docNotFound(coll, id);
    return doc;
  }

  async deleteById(coll: string, id: DocValue, txn: string | null, deadlineMs: number, access?: DocAccess): Promise<void> {
    const info = this.catalog.require(checkCollectionName(coll));
    const deleted = await this.remove(info.name, { filter: { _id: id }, multi: false }, txn, deadlineMs, access);
    if (deleted === 0) throw docNotFound(coll, id);
  }

  // ---- paths ------------------------------------------------------------------------

  /**
   * An update-kind write under row-level security: the filter with the update policies' USING
   * AND-ed in, and the checks of what it writes (update policies for post-images; insert policies
   * for an upsert's document); null when the caller is not restricted on this collection.
   */
  private securedWrite(coll: string, filter: Doc, upsert: boolean, access: DocAccess | undefined): { filter: Doc; rls: WriteRls } | null {
    if (access === undefined) return null;
    const rows = access.using(coll, 'update');
    const checkUpdate = access.checker(coll, 'update');
    const checkInsert = upsert ? access.checker(coll, 'insert') : null;
    if (rows === null && checkUpdate === null && checkInsert === null) return null;
    return { filter: andFilter(filter, rows), rls: { seed: filter, checkUpdate, checkInsert } };
  }

  /**
   * Runs an update-kind write under row-level security where the router computes every document
   * before it is written (the checks need them; a shard would apply the update itself): inside
   * the client's transaction; in one transaction of the router's own when the filter pins _ids;
   * else by candidates (unique-writes.ts: candidates from the plain find, changed in batches of
   * the router's own transactions, a multi update checked whole first).
   */
  private async rowWrite<T>(filter: Doc, txn: string | null, inTxn: (txn: string) => Promise<T>, byCandidates: () => Promise<T>): Promise<T> {
    if (txn !== null) return this.named(txn, inTxn);
    if (idsOfFilter(filter) === null) return byCandidates();
    return this.ownTxn(inTxn);
  }

  /**
   * Whether a write goes by candidates (unique-writes.ts): outside a client transaction, on a
   * collection with a unique index, with a filter that pins no _id (one that does reads its
   * documents by key in one transaction of the router's own).
   */
  private byCandidates(info: CollectionInfo, filter: Doc, txn: string | null): boolean {
    return txn === null && hasUniqueIndex(info) && idsOfFilter(filter) === null;
  }

  /** Runs a write the right way for the collection and the request (see the header). */
  private async write<T>(info: CollectionInfo, txn: string | null, inTxn: (txn: string) => Promise<T>, plain: () => Promise<T>): Promise<T> {
    if (txn !== null) return this.named(txn, inTxn);
    if (hasUniqueIndex(info)) return this.ownTxn(inTxn);
    const release = this.catalog.enterWrite(info);
    try {
      return await plain();
    } finally {
      release();
    }
  }

  /** A short transaction of the router's own, committed at once; a conflict runs the work again. */
  private async ownTxn<T>(work: (txn: string) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const { id } = this.o.txns.begin('snapshot', OWN_TXN_TIMEOUT_MS);
      try {
        const result = await this.named(id, work);
        await this.o.txns.commit(id);
        return result;
      } catch (error) {
        await this.o.txns.rollback(id).catch(() => undefined);
        const retry = error instanceof MantisError && (error.code === 'TXN_CONFLICT' || error.code === 'TXN_ABORTED') && attempt < OWN_TXN_ATTEMPTS_MAX;
        if (!retry) throw error;
        await sleep(Math.floor(Math.random() * 2 ** attempt));
      }
    }
  }

  /** Runs work in a transaction; a conflict on one of its internal keys is reported by name. */
  private async named<T>(txn: string, work: (txn: string) => Promise<T>): Promise<T> {
    try {
      return await work(txn);
    } catch (error) {
      throw this.o.txns.readable(txn, error);
    }
  }

  /** The document an upsert creates, checked and inserted on the plain path. */
  private async insertUpserted(info: CollectionInfo, doc: Doc, deadlineMs: number): Promise<void> {
    const [ready] = prepareDocs([doc], this.validators.of(info));
    await this.plain.insert(info, [ready], deadlineMs);
  }

  /** An upsert whose insert met a duplicate _id (a racing upsert won) looks again: now it matches. */
  private async upsertRetried<T>(work: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await work();
      } catch (error) {
        if (!(error instanceof MantisError && error.code === 'DUPLICATE_KEY' && attempt < UPSERT_ATTEMPTS_MAX)) throw error;
      }
    }
  }

  /**
   * A collection's counts and sizes. For a caller restricted by row-level security the count is
   * of the documents it may see (counted through the shards with its filter), and bytes and index
   * entries are not given (null): they would tell the size of what it cannot see.
   */
  private async summary(info: CollectionInfo, deadlineMs: number, access?: DocAccess): Promise<CollectionSummary> {
    const rows = access?.using(info.name, 'select') ?? null;
    if (rows !== null) {
      const counted = isMatchNothing(rows) ? [] : await this.plain.aggregate(info, { pipeline: [{ $match: rows }, { $count: 'n' }], allowDiskUse: false }, this.pipelines, () => Promise.resolve([]), deadlineMs);
      const n = counted[0]?.n;
      return { info, count: typeof n === 'number' ? n : 0, bytes: null, indexes: new Map(), rowLevel: true };
    }
    const stats = await this.plain.stats(info, deadlineMs);
    return { info, count: stats.count, bytes: stats.bytes, indexes: stats.indexes, rowLevel: false };
  }
}

function docNotFound(coll: string, id: DocValue): MantisError {
  return new MantisError('DOC_NOT_FOUND', `no document with _id ${stringifyEjson(id)} in collection "${coll}"`);
}
