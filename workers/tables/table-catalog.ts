// The shard's copy of the table catalog: one entry per table under an internal
// key (`tableCatalogKey(name)`, value: the TableInfo packed with msgpackr),
// written by the router's catalog-put to every shard and logged like any write,
// so a shard restarted alone finds it in its own store. Beside each entry the
// shard keeps what it derives from it (column types, key columns). Drops leave
// a marker of their own:
//   FF 'W' u32 table            → a dropped table: its keys and files being deleted (empty value),
//                                 or gone ([1], kept for good so the drop keeps winning)
//   FF 'W' u32 table u16 index  → a dropped index whose entries are being deleted
// Runs inside a shard.

import { Packr } from 'msgpackr';
import type { ColumnType, TableInfo } from '../../shared/tables/table-types.js';
import { tableCatalogKey } from '../../shared/tables/table-keys.js';
import type { LsmStore } from '../lsm/index.js';
import { binaryToKey, keyToBinary } from '../store/memtable.js';
import { prefixEnd } from '../store/sorted-keys.js';

const packr = new Packr({ useRecords: false, int64AsType: 'bigint', mapsAsObjects: true });

/** Content type of every table-engine LSM value (internal keys; never served as KV). */
export const TABLE_CONTENT_TYPE = 'application/x-mantis-table';

export const DROP_TAG = 0x57; // 'W'

/** What the shard derives from a catalog entry. */
export type TableState = {
  readonly info: TableInfo;
  /** Column types in storage order. */
  readonly types: ColumnType[];
  /** Column positions of the primary key, in key order. */
  readonly keyCols: number[];
  readonly keyTypes: ColumnType[];
  readonly keyDesc: boolean[];
  /** Key order with every column ascending (the slot hash input). */
  readonly isKeyCol: boolean[];
};

export function deriveState(info: TableInfo): TableState {
  const types = info.columns.map((c) => c.type);
  const keyCols = info.primaryKey.map((name) => {
    const at = info.columns.findIndex((c) => c.name === name);
    if (at < 0) throw new Error(`assertion failed: primary key column "${name}" of table "${info.name}" is not a column`);
    return at;
  });
  const isKeyCol = types.map(() => false);
  for (const c of keyCols) isKeyCol[c] = true;
  return {
    info,
    types,
    keyCols,
    keyTypes: keyCols.map((c) => types[c]),
    keyDesc: keyCols.map((_c, i) => info.keyDesc[i] === true),
    isKeyCol,
  };
}

export function encodeTableInfo(info: TableInfo): Uint8Array {
  return packr.pack(info);
}

export function decodeTableInfo(bytes: Uint8Array): TableInfo {
  return packr.unpack(bytes) as TableInfo;
}

/** Packs any engine value (segment metas, resume tokens). */
export function packValue(value: unknown): Uint8Array {
  return packr.pack(value);
}

export function unpackValue<T>(bytes: Uint8Array): T {
  return packr.unpack(bytes) as T;
}

export function tableDropMarker(tableId: number, indexId: number | null = null): Uint8Array {
  const key = new Uint8Array(indexId === null ? 6 : 8);
  const view = new DataView(key.buffer);
  key[0] = 0xff;
  key[1] = DROP_TAG;
  view.setUint32(2, tableId);
  if (indexId !== null) view.setUint16(6, indexId);
  return key;
}

/** FF tag u32(table): the prefix of every key of a table with this tag. */
export function tablePrefix(tag: string, tableId: number): Uint8Array {
  const key = new Uint8Array(6);
  key[0] = 0xff;
  key[1] = tag.charCodeAt(0);
  new DataView(key.buffer).setUint32(2, tableId);
  return key;
}

export class TableCatalog {
  private readonly byName = new Map<string, TableState>();
  private readonly byId = new Map<number, TableState>();

  /** Reads every catalog entry of the store (at start, after WAL replay). */
  load(store: LsmStore, nowMs: number): void {
    this.byName.clear();
    this.byId.clear();
    const prefix = keyToBinary(tableCatalogKey(''));
    store.scan(prefix, false, prefixEnd(prefix), nowMs, (_key, value) => {
      this.set(decodeTableInfo(value.slice()));
      return true;
    });
  }

  get(name: string): TableState | undefined {
    return this.byName.get(name);
  }

  byTableId(id: number): TableState | undefined {
    return this.byId.get(id);
  }

  all(): TableState[] {
    return [...this.byName.values()];
  }

  set(info: TableInfo): TableState {
    const previous = this.byName.get(info.name);
    if (previous !== undefined) this.byId.delete(previous.info.id);
    const state = deriveState(info);
    this.byName.set(info.name, state);
    this.byId.set(info.id, state);
    return state;
  }

  delete(name: string): void {
    const state = this.byName.get(name);
    if (state === undefined) return;
    this.byName.delete(name);
    this.byId.delete(state.info.id);
  }

  /** Dropped tables (indexId null) and indexes whose keys are still being deleted (drop markers in the store). */
  pendingDrops(store: LsmStore, nowMs: number): { tableId: number; indexId: number | null; done: boolean }[] {
    const drops: { tableId: number; indexId: number | null; done: boolean }[] = [];
    const prefix = keyToBinary(new Uint8Array([0xff, DROP_TAG]));
    store.scan(prefix, false, prefixEnd(prefix), nowMs, (key, value) => {
      const bytes = binaryToKey(key);
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const done = value.length > 0 && value[0] === 1;
      if (bytes.length === 6) drops.push({ tableId: view.getUint32(2), indexId: null, done });
      if (bytes.length === 8) drops.push({ tableId: view.getUint32(2), indexId: view.getUint16(6), done: false });
      return true;
    });
    return drops;
  }
}
