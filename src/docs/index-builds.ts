// Creating and dropping secondary indexes. A new index enters the catalog in
// state 'building' and is pushed to every shard; each shard fills its local
// entries in the background (writes go on meanwhile and keep the entries of
// the documents they touch) and reports `built` in coll-stats, which the
// router polls; then the index turns 'ready' (the planners use it from then
// on). A unique index also needs its global entries (unique-entries.ts): the
// router waits for the plain writes that began before the index existed,
// scans the collection and writes one entry per value through transactions;
// a value held by two documents fails the build (409 DUPLICATE_KEY) and the
// index is removed again. A build the router did not see finish (restart) is
// resumed at start.

import { MantisError } from '../../shared/errors.js';
import { valuesEqual } from '../../shared/docs/compare.js';
import type { CollectionInfo, FindCommand } from '../../shared/docs/doc-protocol.js';
import type { Doc } from '../../shared/docs/doc-types.js';
import { checkIndexName } from '../../shared/docs/doc-validate.js';
import { DOC_CONTENT_TYPE } from '../../shared/docs/doc-writes.js';
import { compileFilter } from '../../shared/docs/filter.js';
import type { IndexDef } from '../../shared/docs/index-entries.js';
import type { Logger } from '../log.js';
import type { ShardPool } from '../router/index.js';
import { sleep } from '../kv/kv-service.js';
import type { CatalogCache } from './catalog-cache.js';
import { defaultIndexName, type IndexRequest } from './doc-requests.js';
import { callExpect, SLICE_BUDGET_MS, type Answer } from './doc-shard-call.js';
import type { DocTxnManager } from './doc-txn-manager.js';
import type { PlainDocCommands } from './plain-doc-commands.js';
import { binaryKey, duplicateKey, ownerBytes, ownerOf, stillHolds, uniqueEntriesOf, type UniqueEntry } from './unique-entries.js';
import type { TxnDocOps } from './txn-doc-ops.js';

const POLL_MS_MIN = 20;
const POLL_MS_MAX = 500;
/**
 * Global entries written per transaction while building a unique index, and transactions at once
 * (one transaction's reads go one after another; several run side by side).
 */
const UNIQUE_BATCH_ENTRIES = 100;
const UNIQUE_BATCHES_PARALLEL = 8;

export type OwnTxn = <T>(work: (txn: string) => Promise<T>) => Promise<T>;

export type IndexBuildDeps = {
  readonly pool: ShardPool;
  readonly catalog: CatalogCache;
  readonly plain: PlainDocCommands;
  readonly txns: DocTxnManager;
  readonly ops: TxnDocOps;
  readonly ownTxn: OwnTxn;
  readonly log: Logger;
};

export class IndexBuilds {
  constructor(private readonly d: IndexBuildDeps) {}

  /** Adds the index and returns once it is ready (or refused, and removed again). */
  async create(coll: string, req: IndexRequest): Promise<IndexDef> {
    const name = checkIndexName(req.name ?? defaultIndexName(req.keys));
    if (req.partialFilter !== null) compileFilter(req.partialFilter);
    let def: IndexDef | null = null;
    const info = await this.d.catalog.change(coll, (current) => {
      const base = current ?? this.d.catalog.fresh(coll, null);
      if (name === '_id_' || base.indexes.some((i) => i.name === name)) throw new MantisError('INDEX_EXISTS', `collection "${coll}" already has an index named "${name}"`);
      def = { id: base.nextIndexId, name, keys: req.keys, unique: req.unique, sparse: req.sparse, partialFilter: req.partialFilter, ttlSeconds: req.ttlSeconds, state: 'building' };
      return { ...base, indexes: [...base.indexes, def], nextIndexId: base.nextIndexId + 1 };
    });
    return this.finish(coll, def as unknown as IndexDef, info.version);
  }

  async drop(coll: string, name: string): Promise<void> {
    await this.d.catalog.change(coll, (current) => {
      if (current === undefined) throw new MantisError('COLLECTION_NOT_FOUND', `collection "${coll}" does not exist`);
      if (name === '_id_') throw new MantisError('BAD_QUERY', 'the _id index cannot be dropped');
      if (!current.indexes.some((i) => i.name === name)) throw new MantisError('INDEX_NOT_FOUND', `collection "${coll}" has no index named "${name}"`);
      return { ...current, indexes: current.indexes.filter((i) => i.name !== name) };
    });
  }

  /** At start: the builds a restart interrupted go on in the background. */
  resume(infos: readonly CollectionInfo[]): void {
    for (const info of infos) {
      for (const def of info.indexes) {
        if (def.state !== 'building') continue;
        this.finish(info.name, def, info.version).catch((error: unknown) => this.d.log.warn({ err: error, coll: info.name, index: def.name }, 'an index build resumed at start failed; the index was removed'));
      }
    }
  }

  private async finish(coll: string, def: IndexDef, version: number): Promise<IndexDef> {
    try {
      if (def.unique) {
        await this.d.catalog.writesDrained(coll, version);
        await this.buildUnique(coll, def);
      }
      await this.waitBuilt(coll, def);
      let ready = def;
      await this.d.catalog.change(coll, (current) => {
        const at = current?.indexes.findIndex((i) => i.id === def.id) ?? -1;
        if (current === undefined || at < 0) throw indexGone(coll, def);
        ready = { ...current.indexes[at], state: 'ready' };
        return { ...current, indexes: current.indexes.map((i, j) => (j === at ? ready : i)) };
      });
      return ready;
    } catch (error) {
      await this.d.catalog
        .change(coll, (current) => (current === undefined || !current.indexes.some((i) => i.id === def.id) ? (current as CollectionInfo) : { ...current, indexes: current.indexes.filter((i) => i.id !== def.id) }))
        .catch(() => undefined);
      throw error;
    }
  }

  /** Polls every shard's coll-stats until each reports the index built. */
  private async waitBuilt(coll: string, def: IndexDef): Promise<void> {
    let waitMs = POLL_MS_MIN;
    for (;;) {
      const info = this.d.catalog.get(coll);
      if (info === undefined || !info.indexes.some((i) => i.id === def.id)) throw indexGone(coll, def);
      // Build states only: counting documents and entries walks the collection on every shard.
      const stats = await this.d.plain.stats(info, 0, false);
      const built = stats.indexes.get(def.name);
      if (built?.built === true) return;
      // A shard met a document the index cannot hold: the build fails (the caller drops the index).
      if (built?.error !== undefined) throw new MantisError('BAD_QUERY', `index "${def.name}" cannot be built: ${built.error}`);
      await sleep(waitMs);
      waitMs = Math.min(waitMs * 2, POLL_MS_MAX);
    }
  }

  /** Writes the global entry of every value the collection's documents hold in the new unique index. */
  private async buildUnique(coll: string, def: IndexDef): Promise<void> {
    const info = this.d.catalog.get(coll);
    if (info === undefined || !info.indexes.some((i) => i.id === def.id)) throw indexGone(coll, def);
    const only: CollectionInfo = { ...info, indexes: [def] };
    const command: FindCommand = { op: 'find', coll, filter: {}, sort: null, projection: null, limit: 0, after: null, resume: null, budget_ms: SLICE_BUDGET_MS, hint: null };
    for (const shard of this.d.pool.shards) {
      let resume: Uint8Array | null = null;
      do {
        const answer: Answer<'found'> = await callExpect(shard, { ...command, resume }, false, 0, 'found');
        resume = answer.resume;
        const batch: { entry: UniqueEntry; doc: Doc }[] = [];
        for (const doc of answer.docs) for (const entry of uniqueEntriesOf(only, doc).values()) batch.push({ entry, doc });
        const step = UNIQUE_BATCH_ENTRIES * UNIQUE_BATCHES_PARALLEL;
        for (let at = 0; at < batch.length; at += step) {
          const parts = Array.from({ length: UNIQUE_BATCHES_PARALLEL }, (_, i) => batch.slice(at + i * UNIQUE_BATCH_ENTRIES, at + (i + 1) * UNIQUE_BATCH_ENTRIES));
          await Promise.all(parts.map((part) => this.writeEntries(only, part)));
        }
      } while (resume !== null);
    }
  }

  /** One transaction: each entry is taken unless a live document other than its own holds the value. */
  private async writeEntries(info: CollectionInfo, batch: readonly { entry: UniqueEntry; doc: Doc }[]): Promise<void> {
    if (batch.length === 0) return;
    const inBatch = new Map<string, Doc>();
    for (const { entry, doc } of batch) {
      const bin = binaryKey(entry.key);
      const other = inBatch.get(bin);
      if (other !== undefined && !valuesEqual(other._id, doc._id)) throw duplicateKey(info.name, entry);
      inBatch.set(bin, doc);
    }
    await this.d.ownTxn(async (txn) => {
      for (const { entry, doc } of batch) {
        const read = await this.d.txns.get(txn, entry.key, 0);
        if (read !== null) {
          const owner = ownerOf(read.entry.value);
          if (valuesEqual(owner, doc._id)) continue;
          if (stillHolds(info, entry, await this.d.ops.readDoc(txn, info, owner, 0))) throw duplicateKey(info.name, entry);
        }
        // The document may have changed since the scan read it: take the entry only if it still holds the value.
        if (!stillHolds(info, entry, await this.d.ops.readDoc(txn, info, doc._id, 0))) continue;
        await this.d.txns.put(txn, entry.key, DOC_CONTENT_TYPE, 0, ownerBytes(doc._id));
      }
    });
  }
}

function indexGone(coll: string, def: IndexDef): MantisError {
  return new MantisError('INDEX_NOT_FOUND', `index "${def.name}" of collection "${coll}" was dropped while it was being built`);
}
