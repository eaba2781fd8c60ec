// What a shard's document engine does on its own, in small steps between
// request batches (the actor runs each step as internal work and logs its
// writes as one WAL record, so each step is atomic and durable):
// - index backfill: a new index is maintained by every write from the moment
//   its catalog entry arrives; the backfill adds entries for the documents
//   already there, in _id order, remembering its position in a build-state key
//   written with the entries (a restart goes on from there). Entries are keyed
//   by value and _id, so writing one twice is harmless.
// - TTL: documents whose TTL-indexed date is older than the index's
//   expireAfterSeconds are deleted with their index entries (found through the
//   index, oldest first) and reported to the router's change streams.
// - drops: the keys of a dropped collection or index are deleted in chunks,
//   then its drop marker.
// Runs inside a shard.

import { decodeDoc } from '../../shared/docs/doc-codec.js';
import { docKey, docPrefix, idFromIndexKey, indexPrefix } from '../../shared/docs/doc-keys.js';
import type { CollectionInfo, DocAnswer, DocChange } from '../../shared/docs/doc-protocol.js';
import { DOC_CONTENT_TYPE, docWrites, INDEX_ENTRY_VALUE } from '../../shared/docs/doc-writes.js';
import { indexWrites, type IndexDef } from '../../shared/docs/index-entries.js';
import { encodeIndexKey } from '../../shared/docs/key-codec.js';
import type { DeleteOp, PutOp } from '../../shared/wire.js';
import { MantisError } from '../../shared/errors.js';
import type { DocValue } from '../../shared/docs/doc-types.js';
import type { LsmStore } from '../lsm/index.js';
import type { ShardOps, Undo } from '../shard/shard-ops.js';
import { binaryToKey, keyToBinary } from '../store/memtable.js';
import { prefixEnd } from '../store/sorted-keys.js';
import { buildStateKey, collectionPrefix, dropMarkerKey, type CollState, type ShardCatalog } from './doc-catalog.js';

type Write = PutOp | DeleteOp;

/** Documents one backfill step indexes, keys one drop step deletes, documents one TTL step expires. */
const BACKFILL_DOCS_MAX = 2000;
const DROP_KEYS_MAX = 5000;
const TTL_DOCS_MAX = 1000;
const STEP_BUDGET_MS = 15;
const EARLIEST_DATE = new Date(-8.64e15);
/** Build-state values: [1, position…] in progress, [0] built, [2, message…] failed. */
const BUILD_FAILED = 2;

type Build = { readonly collName: string; readonly collId: number; readonly index: IndexDef; position: Uint8Array | null };
type Drop = { readonly marker: Uint8Array; readonly prefixes: Uint8Array[] };

export type StepResult = { readonly writes: Write[]; readonly changes: DocChange[]; readonly more: boolean };

export class DocBackground {
  private builds: Build[] = [];
  private drops: Drop[] = [];
  /** Collections whose drop finished here (markers kept, value DROP_DONE). */
  private readonly droppedDone = new Set<number>();

  constructor(
    private readonly store: LsmStore,
    private readonly ops: ShardOps,
    private readonly catalog: ShardCatalog,
    private readonly postChanges: (changes: DocChange[]) => void,
    private readonly log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void,
  ) {}

  open(nowMs: number): void {
    for (const drop of this.catalog.pendingDrops(this.store, nowMs)) {
      if (drop.done) this.droppedDone.add(drop.collId);
      else if (drop.indexId === null) this.dropped(drop.collId);
      else this.drops.push({ marker: indexDropMarker(drop.collId, drop.indexId), prefixes: [indexPrefix(drop.collId, drop.indexId)] });
    }
    this.catalogChanged(nowMs);
  }

  /** Re-reads which indexes still need their backfill on this shard. */
  catalogChanged(nowMs: number): void {
    const builds: Build[] = [];
    for (const state of this.catalog.all()) {
      for (const index of state.info.indexes) {
        const entry = this.store.get(buildStateKey(state.info.id, index.id), nowMs);
        if (entry === undefined || entry.value.length === 0 || entry.value[0] !== 1) continue;
        const position = entry.value.length > 1 ? entry.value.slice(1) : null;
        builds.push({ collName: state.info.name, collId: state.info.id, index, position });
      }
    }
    this.builds = builds;
  }

  /** Writes that start the backfill of indexes new in `next` and drop the entries of indexes it no longer has. */
  indexesAdded(prev: CollectionInfo | null, next: CollectionInfo): Write[] {
    const writes: Write[] = [];
    const before = new Set(prev?.indexes.map((i) => i.id) ?? []);
    for (const index of next.indexes) {
      if (before.has(index.id)) continue;
      writes.push({ kind: 'put', key: buildStateKey(next.id, index.id), contentType: DOC_CONTENT_TYPE, expiresAtMs: 0, value: new Uint8Array([1]) });
    }
    if (prev !== null && prev.id === next.id) {
      const now = new Set(next.indexes.map((i) => i.id));
      for (const index of prev.indexes) {
        if (now.has(index.id)) continue;
        const marker = indexDropMarker(next.id, index.id);
        writes.push({ kind: 'put', key: marker, contentType: DOC_CONTENT_TYPE, expiresAtMs: 0, value: new Uint8Array(0) });
        writes.push({ kind: 'delete', key: buildStateKey(next.id, index.id) });
        this.drops.push({ marker, prefixes: [indexPrefix(next.id, index.id)] });
      }
    }
    return writes;
  }

  dropMarker(collId: number): Write {
    return { kind: 'put', key: dropMarkerKey(collId), contentType: DOC_CONTENT_TYPE, expiresAtMs: 0, value: new Uint8Array(0) };
  }

  /** A collection was dropped: its keys go in the background. */
  dropped(collId: number): void {
    if (this.droppedDone.has(collId)) return;
    if (this.drops.some((d) => keyToBinary(d.marker) === keyToBinary(dropMarkerKey(collId)))) return;
    this.drops.push({ marker: dropMarkerKey(collId), prefixes: ['D', 'I', 'U'].map((tag) => collectionPrefix(tag, collId)) });
    this.builds = this.builds.filter((b) => b.collId !== collId);
  }

  /** Ids of collections dropped here: being deleted, or done (their drop markers). */
  droppedCollections(): number[] {
    const ids = new Set(this.droppedDone);
    for (const d of this.drops) if (d.marker.length === 6) ids.add(collIdOfMarker(d.marker));
    return [...ids];
  }

  /** Anything to do now? (TTL is checked on every tick anyway.) */
  busy(): boolean {
    return this.builds.length > 0 || this.drops.length > 0;
  }

  /**
   * One bounded step: drops first, then backfills, then TTL expiry. The writes are applied here
   * (with undo entries) and must be logged by the caller as one WAL record.
   */
  step(nowMs: number, undo: Undo[]): StepResult {
    const deadline = Date.now() + STEP_BUDGET_MS;
    const writes: Write[] = [];
    const changes: DocChange[] = [];
    if (this.drops.length > 0) this.dropStep(nowMs, writes);
    else if (this.builds.length > 0) this.buildStep(this.builds[0], nowMs, deadline, writes);
    this.ttlStep(nowMs, deadline, writes, changes);
    if (writes.length > 0) {
      const refused = this.ops.applyInternalWrites(writes, nowMs, undo);
      if (refused !== null) {
        // A transaction holds one of these keys: try again next tick; nothing was applied.
        this.catalogChanged(nowMs);
        return { writes: [], changes: [], more: false };
      }
    }
    if (changes.length > 0) this.postChanges(changes);
    return { writes, changes, more: this.busy() };
  }

  private dropStep(nowMs: number, writes: Write[]): void {
    const drop = this.drops[0];
    let budget = DROP_KEYS_MAX;
    while (drop.prefixes.length > 0 && budget > 0) {
      const prefix = keyToBinary(drop.prefixes[0]);
      const keys = this.store.list(prefix, null, 0, budget, nowMs).keys;
      for (const k of keys) writes.push({ kind: 'delete', key: binaryToKey(k) });
      budget -= keys.length;
      if (budget > 0) drop.prefixes.shift();
    }
    if (drop.prefixes.length === 0) {
      // A collection's marker stays, marked done, for good: ids are never reused, and the router's
      // reconciliation must learn of the drop even after this shard finished it (a drop wins).
      if (drop.marker.length === 6) {
        writes.push({ kind: 'put', key: drop.marker, contentType: DOC_CONTENT_TYPE, expiresAtMs: 0, value: DROP_DONE });
        this.droppedDone.add(collIdOfMarker(drop.marker));
      } else {
        writes.push({ kind: 'delete', key: drop.marker });
      }
      this.drops.shift();
    }
  }

  private buildStep(build: Build, nowMs: number, deadline: number, writes: Write[]): void {
    const state = this.catalog.get(build.collName);
    if (state === undefined || state.info.id !== build.collId || !state.info.indexes.some((i) => i.id === build.index.id)) {
      this.builds.shift();
      return;
    }
    const prefix = keyToBinary(docPrefix(build.collId));
    const start = build.position === null ? prefix : keyToBinary(build.position);
    let n = 0;
    let last: string | null = null;
    let finished = true;
    let failure: string | null = null;
    const from = writes.length;
    this.store.scan(start, build.position !== null, prefixEnd(prefix), nowMs, (key, value) => {
      const doc = decodeDoc(value);
      try {
        for (const k of indexWrites(build.index, build.collId, null, doc).puts) writes.push({ kind: 'put', key: k, contentType: DOC_CONTENT_TYPE, expiresAtMs: 0, value: INDEX_ENTRY_VALUE });
      } catch (error) {
        if (!(error instanceof MantisError)) throw error;
        failure = `document ${JSON.stringify(describeId(doc._id))} cannot be indexed: ${error.message}`;
        return false;
      }
      last = key;
      if (++n >= BACKFILL_DOCS_MAX || (n % 64 === 0 && Date.now() >= deadline)) {
        finished = false;
        return false;
      }
      return true;
    });
    const stateKey = buildStateKey(build.collId, build.index.id);
    if (failure !== null) {
      // The build cannot finish: say so in the build state (coll-stats reports it, the router drops
      // the index and answers the error); nothing of this step is written.
      writes.length = from;
      const message = new TextEncoder().encode(failure);
      const value = new Uint8Array(1 + message.length);
      value[0] = BUILD_FAILED;
      value.set(message, 1);
      writes.push({ kind: 'put', key: stateKey, contentType: DOC_CONTENT_TYPE, expiresAtMs: 0, value });
      this.builds.shift();
      this.log('warn', 'index build failed on this shard', { collection: build.collName, index: build.index.name, error: failure });
      return;
    }
    if (finished) {
      writes.push({ kind: 'put', key: stateKey, contentType: DOC_CONTENT_TYPE, expiresAtMs: 0, value: new Uint8Array([0]) });
      this.builds.shift();
      this.log('info', 'index built on this shard', { collection: build.collName, index: build.index.name, docs: n });
      return;
    }
    const position = binaryToKey(last as unknown as string);
    const value = new Uint8Array(1 + position.length);
    value[0] = 1;
    value.set(position, 1);
    writes.push({ kind: 'put', key: stateKey, contentType: DOC_CONTENT_TYPE, expiresAtMs: 0, value });
    build.position = position;
  }

  private ttlStep(nowMs: number, deadline: number, writes: Write[], changes: DocChange[]): void {
    let budget = TTL_DOCS_MAX;
    for (const state of this.catalog.all()) {
      for (const index of state.ttl) {
        if (budget <= 0 || Date.now() >= deadline) return;
        budget -= this.expire(state, index, nowMs, budget, writes, changes);
      }
    }
  }

  /** Deletes documents whose indexed date is older than the index's TTL; returns how many. */
  private expire(state: CollState, index: IndexDef, nowMs: number, max: number, writes: Write[], changes: DocChange[]): number {
    const ttlMs = (index.ttlSeconds ?? 0) * 1000;
    const prefix = indexPrefix(state.info.id, index.id);
    const start = concat(prefix, encodeIndexKey([EARLIEST_DATE], [false]));
    const end = concat(prefix, encodeIndexKey([new Date(nowMs - ttlMs)], [false]));
    const ids = new Map<string, Uint8Array>();
    this.store.scan(keyToBinary(start), false, keyToBinary(end), nowMs, (indexKey) => {
      const id = idFromIndexKey(binaryToKey(indexKey), index);
      const key = docKey(state.info.id, id);
      ids.set(keyToBinary(key), key);
      return ids.size < max;
    });
    let n = 0;
    for (const key of ids.values()) {
      const entry = this.store.get(key, nowMs);
      if (entry === undefined) continue;
      const doc = decodeDoc(entry.value);
      const w = docWrites(state.info, doc, null);
      for (const k of w.deletes) writes.push({ kind: 'delete', key: k });
      changes.push({ op: 'delete', coll: state.info.name, id: doc._id });
      n++;
    }
    return n;
  }

  /** Documents, bytes (from a sample) and entries per index on this shard; counts false: build states only. */
  collStats(state: CollState, counts: boolean, nowMs: number): DocAnswer {
    const prefix = keyToBinary(docPrefix(state.info.id));
    const count = counts ? this.store.count(prefix, nowMs) : 0;
    let sampled = 0;
    let sampledBytes = 0;
    if (counts) {
      this.store.scan(prefix, false, prefixEnd(prefix), nowMs, (_key, value) => {
        sampledBytes += value.length;
        return ++sampled < 256;
      });
    }
    const bytes = sampled === 0 ? 0 : Math.round((sampledBytes / sampled) * count);
    const indexes = state.info.indexes.map((index) => {
      const building = this.builds.some((b) => b.collId === state.info.id && b.index.id === index.id);
      const stateValue = this.store.get(buildStateKey(state.info.id, index.id), nowMs)?.value;
      const failed = stateValue !== undefined && stateValue[0] === BUILD_FAILED;
      const built = !building && !failed && stateValue?.[0] !== 1;
      const entries = counts ? this.store.count(keyToBinary(indexPrefix(state.info.id, index.id)), nowMs) : 0;
      if (failed) return { name: index.name, entries, built, error: new TextDecoder().decode(stateValue.subarray(1)) };
      return { name: index.name, entries, built };
    });
    return { op: 'coll-stats', count, bytes, indexes };
  }
}

function describeId(id: DocValue): unknown {
  return typeof id === 'bigint' ? id.toString() : id;
}

/** The value of a collection's drop marker once its keys are gone. */
const DROP_DONE = new Uint8Array([1]);

function collIdOfMarker(marker: Uint8Array): number {
  return new DataView(marker.buffer, marker.byteOffset, marker.byteLength).getUint32(2);
}

function indexDropMarker(collId: number, indexId: number): Uint8Array {
  const key = new Uint8Array(8);
  key.set(dropMarkerKey(collId));
  new DataView(key.buffer).setUint16(6, indexId);
  return key;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
