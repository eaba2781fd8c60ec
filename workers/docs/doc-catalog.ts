// The shard's copy of the document catalog: one entry per collection under an
// internal key (`catalogKey(name)`), written by the router's catalog-put to
// every shard and logged like any write, so a shard restarted alone finds it
// in its own store. Beside each entry the shard keeps what it derives from it
// (compiled validator, the indexes the planner may use, TTL indexes) and its
// own per-shard state in internal keys of its own:
//   FF 'B' u32 coll u16 index → backfill position of an index being built
//                               (empty value = built on this shard)
//   FF 'X' u32 coll           → a dropped collection: its keys being deleted (empty value), or
//                               gone ([1], kept for good so the drop keeps winning)
// Runs inside a shard.

import { decodeValue, encodeValue } from '../../shared/docs/doc-codec.js';
import { catalogKey } from '../../shared/docs/doc-keys.js';
import type { CollectionInfo } from '../../shared/docs/doc-protocol.js';
import type { Doc, DocValue } from '../../shared/docs/doc-types.js';
import { compileValidator } from '../../shared/docs/doc-validate.js';
import type { IndexDef } from '../../shared/docs/index-entries.js';
import type { LsmStore } from '../lsm/index.js';
import { binaryToKey, keyToBinary } from '../store/memtable.js';
import { prefixEnd } from '../store/sorted-keys.js';

export type CollState = {
  readonly info: CollectionInfo;
  readonly validate: (doc: Doc) => void;
  /** Indexes the planner may use (state 'ready'). */
  readonly ready: IndexDef[];
  readonly ttl: IndexDef[];
};

const CATALOG_PREFIX = keyToBinary(catalogKey(''));
const BUILD_TAG = 0x42; // 'B'
const DROP_TAG = 0x58; // 'X'

export function buildStateKey(collId: number, indexId: number): Uint8Array {
  const key = new Uint8Array(8);
  key[0] = 0xff;
  key[1] = BUILD_TAG;
  new DataView(key.buffer).setUint32(2, collId);
  new DataView(key.buffer).setUint16(6, indexId);
  return key;
}

export function dropMarkerKey(collId: number): Uint8Array {
  const key = new Uint8Array(6);
  key[0] = 0xff;
  key[1] = DROP_TAG;
  new DataView(key.buffer).setUint32(2, collId);
  return key;
}

/** The prefix of every storage key of a collection with this tag ('D' docs, 'I' index entries, 'U' unique entries). */
export function collectionPrefix(tag: string, collId: number): Uint8Array {
  const key = new Uint8Array(6);
  key[0] = 0xff;
  key[1] = tag.charCodeAt(0);
  new DataView(key.buffer).setUint32(2, collId);
  return key;
}

export function encodeCatalogEntry(info: CollectionInfo): Uint8Array {
  return encodeValue(info as unknown as DocValue).slice();
}

export class ShardCatalog {
  private readonly byName = new Map<string, CollState>();

  /** Reads every catalog entry of the store (at start, after WAL replay). */
  load(store: LsmStore, nowMs: number): void {
    this.byName.clear();
    store.scan(CATALOG_PREFIX, false, prefixEnd(CATALOG_PREFIX), nowMs, (_key, value) => {
      const info = decodeValue(value.slice()) as unknown as CollectionInfo;
      this.set(info);
      return true;
    });
  }

  get(name: string): CollState | undefined {
    return this.byName.get(name);
  }

  all(): CollState[] {
    return [...this.byName.values()];
  }

  set(info: CollectionInfo): CollState {
    const state: CollState = {
      info,
      validate: compileValidator(info.validator),
      ready: info.indexes.filter((i) => i.state === 'ready'),
      ttl: info.indexes.filter((i) => i.ttlSeconds !== null),
    };
    this.byName.set(info.name, state);
    return state;
  }

  delete(name: string): void {
    this.byName.delete(name);
  }

  /** Dropped collections (indexId null) and indexes whose keys are still being deleted (drop markers in the store). */
  pendingDrops(store: LsmStore, nowMs: number): { collId: number; indexId: number | null; done: boolean }[] {
    const drops: { collId: number; indexId: number | null; done: boolean }[] = [];
    const prefix = keyToBinary(new Uint8Array([0xff, DROP_TAG]));
    store.scan(prefix, false, prefixEnd(prefix), nowMs, (key, value) => {
      const bytes = binaryToKey(key);
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      // A collection's marker with value [1]: the drop finished here (kept so the drop keeps winning).
      const done = value.length > 0 && value[0] === 1;
      if (bytes.length === 6) drops.push({ collId: view.getUint32(2), indexId: null, done });
      if (bytes.length === 8) drops.push({ collId: view.getUint32(2), indexId: view.getUint16(6), done: false });
      return true;
    });
    return drops;
  }
}
