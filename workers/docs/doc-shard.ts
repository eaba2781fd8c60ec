// The document engine of one shard: it answers the router's DocCommands over
// this shard's partition of every collection. A write command computes every
// document change first (reading the store as it was before the command),
// then hands all storage writes — documents and their local index entries —
// to ShardOps in one go, so the command is one WAL record: atomic on this
// shard, and an index never disagrees with its documents after a crash. A
// transaction holding any of those keys refuses the whole command
// (txn-locked), which the router retries.
// Scans are sliced by `budget_ms` (doc-scan.ts) so one big query never holds
// the shard for long. Runs inside a shard.

import { decodeDoc } from '../../shared/docs/doc-codec.js';
import { catalogKey, docKey } from '../../shared/docs/doc-keys.js';
import {
  decodeDocCommand,
  encodeDocAnswer,
  type CollectionInfo,
  type DocAnswer,
  type DocChange,
  type DocCommand,
  type ExecStats,
  type FindCommand,
} from '../../shared/docs/doc-protocol.js';
import type { Doc, DocValue } from '../../shared/docs/doc-types.js';
import { checkDocument } from '../../shared/docs/doc-validate.js';
import { DOC_CONTENT_TYPE, docWrites, type DocWrites } from '../../shared/docs/doc-writes.js';
import { compileFilter } from '../../shared/docs/filter.js';
import { compileProjection } from '../../shared/docs/projection.js';
import { compareSortKeys, sortKeyOf } from '../../shared/docs/sort.js';
import { compareValues, valuesEqual } from '../../shared/docs/compare.js';
import { compileUpdate, matchedArrayPosition, replacementDoc } from '../../shared/docs/update.js';
import { MantisError, unreachable } from '../../shared/errors.js';
import type { DeleteOp, DocRequest, PutOp, ShardResponse } from '../../shared/wire.js';
import type { LsmStore } from '../lsm/index.js';
import type { ShardOps, Undo } from '../shard/shard-ops.js';
import { keyToBinary } from '../store/memtable.js';
import { encodeCatalogEntry, ShardCatalog, type CollState } from './doc-catalog.js';
import { runShardAggregate } from './doc-aggregate.js';
import { choosePlan, planName, scanPlan, type ScanCounters } from './doc-scan.js';
import { DocBackground } from './doc-background.js';

type Write = PutOp | DeleteOp;

export type DocApplied = { readonly response: ShardResponse; readonly writes: Write[] };

const ID_ASC: Doc = { _id: 1 };

export type DocShardDeps = {
  readonly store: LsmStore;
  readonly ops: ShardOps;
  /** Changes this shard made on its own (TTL expiry), for the router's change streams. */
  readonly postChanges: (changes: DocChange[]) => void;
  readonly log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
};

export class DocShard {
  readonly catalog = new ShardCatalog();
  readonly background: DocBackground;

  constructor(private readonly d: DocShardDeps) {
    this.background = new DocBackground(d.store, d.ops, this.catalog, d.postChanges, d.log);
  }

  /** After WAL replay: the catalog and the background work it implies. */
  open(nowMs: number): void {
    this.catalog.load(this.d.store, nowMs);
    this.background.open(nowMs);
  }

  /** One `doc` ring request. Expected failures answer `error`; the caller rolls back `undo` on a throw. */
  handle(request: DocRequest, nowMs: number, undo: Undo[]): DocApplied {
    const command = decodeDocCommand(request.body);
    const result = this.run(command, nowMs, undo);
    if ('kind' in result) return { response: result, writes: [] };
    return { response: { kind: 'doc-result', body: encodeDocAnswer(result.answer) }, writes: result.writes };
  }

  private run(c: DocCommand, nowMs: number, undo: Undo[]): { answer: DocAnswer; writes: Write[] } | ShardResponse {
    switch (c.op) {
      case 'catalog-get':
        return read({ op: 'catalog', collections: this.catalog.all().map((s) => s.info), dropped: this.background.droppedCollections() });
      case 'catalog-put':
        return this.catalogPut(c.info, nowMs, undo);
      case 'catalog-drop':
        return this.catalogDrop(c.name, c.id, nowMs, undo);
      case 'insert':
        return c.encoded !== undefined && c.ids !== undefined ? this.insertEncoded(c.coll, c.ids, c.encoded, nowMs, undo) : this.insert(c.coll, c.docs, nowMs, undo);
      case 'find':
        return read(this.find(c, nowMs));
      case 'update':
        return this.update(c, nowMs, undo);
      case 'replace':
        return this.replace(c, nowMs, undo);
      case 'delete':
        return this.remove(c, nowMs, undo);
      case 'aggregate':
        return read(this.aggregate(c, nowMs));
      case 'coll-stats':
        return read(this.collStats(c.coll, c.counts !== false, nowMs));
      default:
        return unreachable(c);
    }
  }

  // ---- catalog --------------------------------------------------------------

  private catalogPut(info: CollectionInfo, nowMs: number, undo: Undo[]) {
    // A drop wins: an entry for a collection id this shard dropped must not bring it back (its keys
    // are being deleted, and new writes under that id would be deleted with them).
    if (this.background.droppedCollections().includes(info.id)) {
      throw new MantisError('COLLECTION_NOT_FOUND', `collection "${info.name}" (id ${info.id}) was dropped on this shard`);
    }
    const current = this.catalog.get(info.name);
    if (current !== undefined && current.info.version > info.version) return read({ op: 'ok' });
    const write: Write = { kind: 'put', key: catalogKeyOf(info.name), contentType: DOC_CONTENT_TYPE, expiresAtMs: 0, value: encodeCatalogEntry(info) };
    const writes: Write[] = [write, ...this.background.indexesAdded(current?.info ?? null, info)];
    const refused = this.d.ops.applyInternalWrites(writes, nowMs, undo);
    if (refused !== null) return refused;
    this.catalog.set(info);
    this.background.catalogChanged(nowMs);
    return { answer: { op: 'ok' } as DocAnswer, writes };
  }

  private catalogDrop(name: string, id: number, nowMs: number, undo: Undo[]) {
    const current = this.catalog.get(name);
    const writes: Write[] = [];
    if (current !== undefined && current.info.id === id) writes.push({ kind: 'delete', key: catalogKeyOf(name) });
    writes.push(this.background.dropMarker(id));
    const refused = this.d.ops.applyInternalWrites(writes, nowMs, undo);
    if (refused !== null) return refused;
    if (current !== undefined && current.info.id === id) this.catalog.delete(name);
    this.background.dropped(id);
    return { answer: { op: 'ok' } as DocAnswer, writes };
  }

  // ---- writes ---------------------------------------------------------------

  private insert(coll: string, docs: readonly Doc[], nowMs: number, undo: Undo[]) {
    const state = this.requireColl(coll);
    const seen = new Set<string>();
    const all: DocWrites[] = [];
    for (let i = 0; i < docs.length; i++) {
      const doc = docs[i];
      const key = docKey(state.info.id, doc._id);
      const bin = keyToBinary(key);
      if (seen.has(bin) || this.d.store.get(key, nowMs) !== undefined) {
        throw new MantisError('DUPLICATE_KEY', `E11000 duplicate key error collection: ${coll} index: _id_ dup key: { _id: ${describe(doc._id)} }`, { index: '_id_', document_index: String(i) });
      }
      seen.add(bin);
      all.push(docWrites(state.info, null, doc));
    }
    const changes: DocChange[] = docs.map((doc) => ({ op: 'insert', coll, id: doc._id }));
    return this.commit(all, { op: 'inserted', count: docs.length, changes }, nowMs, undo);
  }

  /** As insert, from stored bytes: documents are decoded only when the collection has indexes to fill. */
  private insertEncoded(coll: string, ids: readonly DocValue[], encoded: readonly Uint8Array[], nowMs: number, undo: Undo[]) {
    const state = this.requireColl(coll);
    if (ids.length !== encoded.length) throw new MantisError('INVALID_PARAMETER', 'insert: ids and encoded documents differ in number');
    const seen = new Set<string>();
    const all: DocWrites[] = [];
    const indexed = state.info.indexes.length > 0;
    for (let i = 0; i < ids.length; i++) {
      const key = docKey(state.info.id, ids[i]);
      const bin = keyToBinary(key);
      if (seen.has(bin) || this.d.store.get(key, nowMs) !== undefined) {
        throw new MantisError('DUPLICATE_KEY', `E11000 duplicate key error collection: ${coll} index: _id_ dup key: { _id: ${describe(ids[i])} }`, { index: '_id_', document_index: String(i) });
      }
      seen.add(bin);
      all.push(indexed ? docWrites(state.info, null, decodeDoc(encoded[i]), encoded[i]) : { puts: [{ key, value: encoded[i] }], deletes: [] });
    }
    const changes: DocChange[] = ids.map((id) => ({ op: 'insert', coll, id }));
    return this.commit(all, { op: 'inserted', count: ids.length, changes }, nowMs, undo);
  }

  private update(c: Extract<DocCommand, { op: 'update' }>, nowMs: number, undo: Undo[]) {
    const state = this.catalog.get(c.coll);
    if (state === undefined) return read(updatedNone());
    const predicate = compileFilter(c.filter);
    const compiled = compileUpdate(c.update, { arrayFilters: c.arrayFilters ?? undefined });
    const all: DocWrites[] = [];
    const changes: DocChange[] = [];
    let matched = 0;
    let modified = 0;
    let returned: Doc | null = null;
    const counters: ScanCounters = { keysExamined: 0, docsExamined: 0 };
    const plan = c.ids !== null ? ({ kind: 'idlookup', ids: c.ids } as const) : choosePlan(state, c.filter, null, null);
    const now = new Date(nowMs);
    const outcome = scanPlan(this.d.store, state, plan, nowMs, c.multi ? c.budget_ms : 0, c.resume, counters, (_key, bytes) => {
      const doc = decodeDoc(bytes);
      if (!predicate(doc)) return true;
      matched++;
      const result = compiled.apply(doc, { isInsert: false, now, matchedArrayIndex: compiled.positional ? matchedArrayPosition(c.filter, doc) : undefined });
      if (c.returnDoc === 'before') returned = doc;
      if (result.modified) {
        const next = this.checked(state, doc, result.doc);
        modified++;
        all.push(docWrites(state.info, doc, next));
        changes.push({ op: 'update', coll: c.coll, id: doc._id, doc: next, updated: pick(next, result.changed), removed: result.removed });
        if (c.returnDoc === 'after') returned = next;
      } else if (c.returnDoc === 'after') {
        returned = doc;
      }
      return c.multi;
    });
    const answer: DocAnswer = { op: 'updated', matched, modified, doc: returned, upserted: null, changes, resume: outcome.resume };
    return this.commit(all, answer, nowMs, undo);
  }

  private replace(c: Extract<DocCommand, { op: 'replace' }>, nowMs: number, undo: Undo[]) {
    const state = c.upsert ? this.requireColl(c.coll) : this.catalog.get(c.coll);
    if (state === undefined) return read(updatedNone());
    const key = docKey(state.info.id, c.id);
    const entry = this.d.store.get(key, nowMs);
    if (entry === undefined) {
      if (!c.upsert) return read(updatedNone());
      const doc = this.checked(state, null, { ...c.replacement, _id: c.id });
      const change: DocChange = { op: 'insert', coll: c.coll, id: c.id, doc };
      const answer: DocAnswer = { op: 'updated', matched: 0, modified: 0, doc: c.returnDoc === 'after' ? doc : null, upserted: c.id, changes: [change], resume: null };
      return this.commit([docWrites(state.info, null, doc)], answer, nowMs, undo);
    }
    const doc = decodeDoc(entry.value);
    if (!compileFilter(c.filter)(doc)) {
      if (c.upsert) throw new MantisError('DUPLICATE_KEY', `E11000 duplicate key error collection: ${c.coll} index: _id_ dup key: { _id: ${describe(c.id)} }`, { index: '_id_' });
      return read(updatedNone());
    }
    const next = this.checked(state, doc, replacementDoc(doc, c.replacement));
    const same = compareValues(doc, next) === 0;
    const answer: DocAnswer = {
      op: 'updated',
      matched: 1,
      modified: same ? 0 : 1,
      doc: c.returnDoc === 'before' ? doc : c.returnDoc === 'after' ? next : null,
      upserted: null,
      changes: same ? [] : [{ op: 'replace', coll: c.coll, id: c.id, doc: next }],
      resume: null,
    };
    return this.commit(same ? [] : [docWrites(state.info, doc, next)], answer, nowMs, undo);
  }

  private remove(c: Extract<DocCommand, { op: 'delete' }>, nowMs: number, undo: Undo[]) {
    const state = this.catalog.get(c.coll);
    if (state === undefined) return read({ op: 'deleted', deleted: 0, doc: null, changes: [], resume: null } as DocAnswer);
    const predicate = compileFilter(c.filter);
    const all: DocWrites[] = [];
    const changes: DocChange[] = [];
    let returned: Doc | null = null;
    const counters: ScanCounters = { keysExamined: 0, docsExamined: 0 };
    const plan = c.ids !== null ? ({ kind: 'idlookup', ids: c.ids } as const) : choosePlan(state, c.filter, null, null);
    const outcome = scanPlan(this.d.store, state, plan, nowMs, c.multi ? c.budget_ms : 0, c.resume, counters, (_key, bytes) => {
      const doc = decodeDoc(bytes);
      if (!predicate(doc)) return true;
      all.push(docWrites(state.info, doc, null));
      changes.push({ op: 'delete', coll: c.coll, id: doc._id });
      if (c.returnDoc) returned = doc;
      return c.multi;
    });
    return this.commit(all, { op: 'deleted', deleted: all.length, doc: returned, changes, resume: outcome.resume }, nowMs, undo);
  }

  /** Applies every change of a command as one set of writes (one WAL record); a transaction's intent refuses them all. */
  private commit(all: readonly DocWrites[], answer: DocAnswer, nowMs: number, undo: Undo[]): { answer: DocAnswer; writes: Write[] } | ShardResponse {
    const writes: Write[] = [];
    for (const w of all) {
      for (const key of w.deletes) writes.push({ kind: 'delete', key });
      for (const p of w.puts) writes.push({ kind: 'put', key: p.key, contentType: DOC_CONTENT_TYPE, expiresAtMs: 0, value: p.value });
    }
    const refused = this.d.ops.applyInternalWrites(dedupe(writes), nowMs, undo);
    if (refused !== null) return refused;
    return { answer, writes };
  }

  /** A document an update or replace produced: _id unchanged, limits, the collection's validator. */
  private checked(state: CollState, before: Doc | null, after: Doc): Doc {
    if (before !== null && !valuesEqual(before._id, after._id)) {
      throw new MantisError('BAD_QUERY', "Performing an update on the path '_id' would modify the immutable field '_id'");
    }
    checkDocument(after);
    state.validate(after);
    return after;
  }

  private requireColl(name: string): CollState {
    const state = this.catalog.get(name);
    if (state === undefined) throw new MantisError('COLLECTION_NOT_FOUND', `collection "${name}" does not exist on this shard (its catalog entry has not arrived)`);
    return state;
  }

  // ---- reads ----------------------------------------------------------------

  find(c: FindCommand, nowMs: number): DocAnswer {
    const state = this.catalog.get(c.coll);
    if (state === undefined) return { op: 'found', docs: [], keys: [], resume: null, stats: emptyStats() };
    const predicate = compileFilter(c.filter);
    const sort = c.sort ?? ID_ASC;
    const project = c.projection === null ? null : compileProjection(c.projection);
    const plan = choosePlan(state, c.filter, c.sort, c.hint);
    const counters: ScanCounters = { keysExamined: 0, docsExamined: 0 };
    const sortLen = Object.keys(sort).length;
    const compare = (a: DocValue[], b: DocValue[]): number => compareKeyTuples(sort, sortLen, a, b);
    // Storage order is the answer's order: stop at the limit instead of keeping the best so far.
    // An index meets ties of the sort in the order of its later components: only when the sort names
    // every component are ties broken by _id, as the answer's order (and cursors) need.
    const inOrder =
      (plan.kind === 'collscan' && isIdAscending(c.sort)) ||
      (plan.kind === 'ixscan' && plan.coversSort && c.sort !== null && sortNamesEveryComponent(c.sort, plan.index.keys));
    const limit = c.limit > 0 ? c.limit : Infinity;
    let hits: { doc: Doc; key: DocValue[] }[] = [];
    const startAfterId = plan.kind === 'collscan' && isIdAscending(c.sort) && c.after !== null ? c.after[c.after.length - 1] : undefined;
    const outcome = scanPlan(this.d.store, state, plan, nowMs, c.budget_ms, c.resume, counters, (_key, bytes) => {
      const doc = decodeDoc(bytes);
      if (!predicate(doc)) return true;
      const key = [...sortKeyOf(sort, doc), doc._id];
      if (c.after !== null && compare(key, c.after) <= 0) return true;
      hits.push({ doc, key });
      if (inOrder) return hits.length < limit;
      if (hits.length >= 2 * limit && hits.length >= 64) hits = topK(hits, limit, compare);
      return true;
    }, startAfterId);
    hits = topK(hits, limit, compare);
    const docs = hits.map((h) => (project === null ? h.doc : project(h.doc)));
    const resume = inOrder && hits.length >= limit ? null : outcome.resume;
    return { op: 'found', docs, keys: hits.map((h) => h.key), resume, stats: { ...planName(plan), ...counters, returned: docs.length } };
  }

  private aggregate(c: Extract<DocCommand, { op: 'aggregate' }>, nowMs: number): DocAnswer {
    const state = this.catalog.get(c.coll);
    if (state === undefined) return { op: 'aggregated', docs: [], resume: null, stats: emptyStats() };
    return runShardAggregate(this.d.store, state, c, nowMs);
  }

  private collStats(coll: string, counts: boolean, nowMs: number): DocAnswer {
    const state = this.catalog.get(coll);
    if (state === undefined) return { op: 'coll-stats', count: 0, bytes: 0, indexes: [] };
    return this.background.collStats(state, counts, nowMs);
  }
}

function read(answer: DocAnswer): { answer: DocAnswer; writes: Write[] } {
  return { answer, writes: [] };
}

function updatedNone(): DocAnswer {
  return { op: 'updated', matched: 0, modified: 0, doc: null, upserted: null, changes: [], resume: null };
}

function emptyStats(): ExecStats {
  return { plan: 'EOF', index: null, keysExamined: 0, docsExamined: 0, returned: 0 };
}

function catalogKeyOf(name: string): Uint8Array {
  return catalogKey(name);
}

/** Sort key values then _id: ties on the sort keys are broken by _id ascending. */
export function compareKeyTuples(sort: Doc, sortLen: number, a: DocValue[], b: DocValue[]): number {
  const c = compareSortKeys(sort, a.slice(0, sortLen), b.slice(0, sortLen));
  return c !== 0 ? c : compareValues(a[sortLen], b[sortLen]);
}

function topK<T extends { key: DocValue[] }>(hits: T[], k: number, compare: (a: DocValue[], b: DocValue[]) => number): T[] {
  hits.sort((x, y) => compare(x.key, y.key));
  return Number.isFinite(k) && hits.length > k ? hits.slice(0, k) : hits;
}

function sortNamesEveryComponent(sort: Doc, keys: readonly (readonly [string, unknown])[]): boolean {
  const paths = Object.keys(sort);
  return paths.length === keys.length && paths.every((p, i) => keys[i][0] === p);
}

function isIdAscending(sort: Doc | null): boolean {
  if (sort === null) return true;
  const keys = Object.keys(sort);
  return keys.length === 1 && keys[0] === '_id' && sort._id === 1;
}

/** Later writes of one key win; a put after a delete of the same key (an index entry that moved back) stays. */
function dedupe(writes: Write[]): Write[] {
  if (writes.length < 2) return writes;
  const last = new Map<string, number>();
  for (let i = 0; i < writes.length; i++) last.set(keyToBinary(writes[i].key), i);
  if (last.size === writes.length) return writes;
  return writes.filter((w, i) => last.get(keyToBinary(w.key)) === i);
}

function pick(doc: Doc, fields: readonly string[]): Doc {
  const out: Doc = {};
  for (const f of fields) {
    const v = getDotted(doc, f);
    if (v !== undefined) out[f] = v;
  }
  return out;
}

function getDotted(doc: Doc, path: string): DocValue | undefined {
  let cur: DocValue | undefined = doc;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || cur instanceof Date) return undefined;
    cur = (cur as Record<string, DocValue>)[part];
  }
  return cur;
}

function describe(id: DocValue): string {
  try {
    return JSON.stringify(typeof id === 'bigint' ? id.toString() : id) ?? String(id);
  } catch {
    return String(id);
  }
}
