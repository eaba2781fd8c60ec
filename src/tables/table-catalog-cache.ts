// The router's copy of the table catalog, as catalog-cache.ts is for
// collections. Every shard keeps the same entries (the router pushes each
// change to all of them with catalog-put and catalog-drop); at start the
// router reads every shard's catalog, keeps the highest `version` of each
// table and pushes it to the shards that hold an older one or none (a crash
// between two pushes left them apart).
//
// A drop wins: a table id any shard reports as dropped (`catalog-get`'s
// `dropped`, from its drop markers: a crash cut the drop short) is dropped on
// every shard and never pushed again.
//
// Changes to one table run one at a time (a promise chain per name), so two
// concurrent creations of one name create it once, and column, index and drop
// changes do not interleave. The cache changes only after every shard took
// the change.

import { randomInt } from 'node:crypto';
import { MantisError } from '../../shared/errors.js';
import type { TableInfo } from '../../shared/tables/table-types.js';
import type { ShardPool } from '../router/index.js';
import { callTableExpect } from './table-shard-call.js';

const TABLE_ID_MAX = 2 ** 32 - 1;

export class TableCatalogCache {
  private readonly infos = new Map<string, TableInfo>();
  private readonly chains = new Map<string, Promise<unknown>>();

  constructor(private readonly pool: ShardPool) {}

  /** Reads every shard's catalog; the highest version of each table wins and is pushed where it differs. */
  async reconcile(): Promise<TableInfo[]> {
    const catalogs = await Promise.all(this.pool.shards.map((shard) => callTableExpect(shard, { op: 'catalog-get' }, 0, 'catalog-get')));
    const dropped = new Set<number>(catalogs.flatMap((c) => c.dropped));
    const best = new Map<string, TableInfo>();
    for (const catalog of catalogs) {
      for (const info of catalog.tables) {
        if (dropped.has(info.id)) continue;
        const known = best.get(info.name);
        if (known === undefined || info.version > known.version) best.set(info.name, info);
      }
    }
    const unfinished = new Map<number, string>();
    for (const catalog of catalogs) for (const info of catalog.tables) if (dropped.has(info.id)) unfinished.set(info.id, info.name);
    for (const [id, name] of unfinished) {
      await Promise.all(this.pool.shards.map((shard) => callTableExpect(shard, { op: 'catalog-drop', name, id }, 0, 'catalog-drop')));
    }
    await Promise.all(
      this.pool.shards.map(async (shard, i) => {
        for (const info of best.values()) {
          const held = catalogs[i].tables.find((t) => t.name === info.name);
          if (held === undefined || held.version !== info.version || held.id !== info.id) {
            await callTableExpect(shard, { op: 'catalog-put', info }, 0, 'catalog-put');
          }
        }
      }),
    );
    this.infos.clear();
    for (const info of best.values()) this.infos.set(info.name, info);
    return [...best.values()];
  }

  get(name: string): TableInfo | undefined {
    return this.infos.get(name);
  }

  require(name: string): TableInfo {
    const info = this.infos.get(name);
    if (info === undefined) throw new MantisError('TABLE_NOT_FOUND', `table "${name}" does not exist`);
    return info;
  }

  all(): TableInfo[] {
    return [...this.infos.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * Runs `edit` on the current entry (undefined: none) under the table's lock; its result is pushed
   * to every shard with the version raised by one. Returns the new entry (or the current one when
   * `edit` returned it unchanged: nothing is pushed).
   */
  change(name: string, edit: (info: TableInfo | undefined) => TableInfo | Promise<TableInfo>): Promise<TableInfo> {
    return this.exclusive(name, async () => {
      const current = this.infos.get(name);
      const next = await edit(current);
      if (next === current) return next;
      const versioned: TableInfo = { ...next, version: (current?.version ?? 0) + 1 };
      await this.push(versioned);
      return versioned;
    });
  }

  /** Drops the table on every shard (its keys and segment files are deleted in the background); null when it does not exist. */
  drop(name: string): Promise<TableInfo | null> {
    return this.exclusive(name, async () => {
      const current = this.infos.get(name);
      if (current === undefined) return null;
      await Promise.all(this.pool.shards.map((shard) => callTableExpect(shard, { op: 'catalog-drop', name, id: current.id }, 0, 'catalog-drop')));
      this.infos.delete(name);
      return current;
    });
  }

  /** An id no live table uses (ids are random, so a re-created table never meets its predecessor's keys). */
  freshId(): number {
    const used = new Set([...this.infos.values()].map((i) => i.id));
    let id = randomInt(1, TABLE_ID_MAX);
    while (used.has(id)) id = randomInt(1, TABLE_ID_MAX);
    return id;
  }

  /** Runs work after every earlier change of this table, before any later one. */
  exclusive<T>(name: string, work: () => Promise<T>): Promise<T> {
    const previous = this.chains.get(name) ?? Promise.resolve();
    const result = previous.then(work);
    const settled = result.catch(() => undefined);
    this.chains.set(name, settled);
    void settled.then(() => {
      if (this.chains.get(name) === settled) this.chains.delete(name);
    });
    return result;
  }

  private async push(info: TableInfo): Promise<void> {
    await Promise.all(this.pool.shards.map((shard) => callTableExpect(shard, { op: 'catalog-put', info }, 0, 'catalog-put')));
    this.infos.set(info.name, info);
  }
}
