// The router's copy of the collection catalog. Every shard keeps the same
// entries (the router pushes each change to all of them with catalog-put and
// catalog-drop); at start the router reads every shard's catalog, keeps the
// highest `version` of each collection and pushes it to the shards that hold
// an older one or none (a crash between two pushes left them apart).
//
// Changes to one collection run one at a time (a promise chain per name), so
// an implicit creation by two concurrent first inserts creates it once, and
// index builds and drops do not interleave. The cache changes only after
// every shard took the change.
//
// A write gate counts the plain (non-transactional) writes in flight per
// collection and catalog version: an index build waits for the writes that
// started under an older catalog (and so may not write the new index's global
// unique entries) before it scans the collection.

import { randomInt } from 'node:crypto';
import { MantisError } from '../../shared/errors.js';
import type { CollectionInfo } from '../../shared/docs/doc-protocol.js';
import type { ShardPool } from '../router/index.js';
import { callExpect } from './doc-shard-call.js';

const COLL_ID_MAX = 2 ** 32 - 1;

export class CatalogCache {
  private readonly infos = new Map<string, CollectionInfo>();
  private readonly chains = new Map<string, Promise<unknown>>();
  /** Per collection: catalog version → plain writes in flight. */
  private readonly inFlight = new Map<string, Map<number, number>>();
  private readonly drainWaiters = new Map<string, (() => void)[]>();

  constructor(private readonly pool: ShardPool) {}

  /** Reads every shard's catalog; the highest version of each collection wins and is pushed where it differs. */
  async reconcile(): Promise<CollectionInfo[]> {
    const catalogs = await Promise.all(this.pool.shards.map((shard) => callExpect(shard, { op: 'catalog-get' }, false, 0, 'catalog')));
    // A drop wins: a collection id any shard dropped (a crash cut the drop short) is dropped everywhere.
    const dropped = new Set<number>(catalogs.flatMap((c) => c.dropped ?? []));
    const best = new Map<string, CollectionInfo>();
    for (const catalog of catalogs) {
      for (const info of catalog.collections) {
        if (dropped.has(info.id)) continue;
        const known = best.get(info.name);
        if (known === undefined || info.version > known.version) best.set(info.name, info);
      }
    }
    const unfinished = new Map<number, string>();
    for (const catalog of catalogs) for (const info of catalog.collections) if (dropped.has(info.id)) unfinished.set(info.id, info.name);
    for (const [id, name] of unfinished) {
      await Promise.all(this.pool.shards.map((shard) => callExpect(shard, { op: 'catalog-drop', name, id }, true, 0, 'ok')));
    }
    await Promise.all(
      this.pool.shards.map(async (shard, i) => {
        for (const info of best.values()) {
          const held = catalogs[i].collections.find((c) => c.name === info.name);
          if (held === undefined || held.version !== info.version || held.id !== info.id) {
            await callExpect(shard, { op: 'catalog-put', info }, true, 0, 'ok');
          }
        }
      }),
    );
    this.infos.clear();
    for (const info of best.values()) this.infos.set(info.name, info);
    return [...best.values()];
  }

  get(name: string): CollectionInfo | undefined {
    return this.infos.get(name);
  }

  require(name: string): CollectionInfo {
    const info = this.infos.get(name);
    if (info === undefined) throw new MantisError('COLLECTION_NOT_FOUND', `collection "${name}" does not exist`);
    return info;
  }

  all(): CollectionInfo[] {
    return [...this.infos.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** The collection, created (empty, no validator) when it does not exist yet. */
  async ensure(name: string): Promise<CollectionInfo> {
    return this.infos.get(name) ?? this.change(name, (info) => info ?? this.fresh(name, null));
  }

  /**
   * Runs `edit` on the current entry (undefined: none) under the collection's lock; its result is
   * pushed to every shard with the version raised by one. Returns the new entry (or the current
   * one when `edit` returned it unchanged: nothing is pushed).
   */
  change(name: string, edit: (info: CollectionInfo | undefined) => CollectionInfo | Promise<CollectionInfo>): Promise<CollectionInfo> {
    return this.exclusive(name, async () => {
      const current = this.infos.get(name);
      const next = await edit(current);
      if (next === current) return next;
      const versioned = { ...next, version: (current?.version ?? 0) + 1 };
      await this.push(versioned);
      return versioned;
    });
  }

  /** Drops the collection on every shard (its keys are deleted in the background). */
  drop(name: string): Promise<CollectionInfo> {
    return this.exclusive(name, async () => {
      const current = this.require(name);
      await Promise.all(this.pool.shards.map((shard) => callExpect(shard, { op: 'catalog-drop', name, id: current.id }, true, 0, 'ok')));
      this.infos.delete(name);
      return current;
    });
  }

  /** A new collection entry with an id no live collection uses (ids are random so a re-created collection never meets its predecessor's keys). */
  fresh(name: string, validator: CollectionInfo['validator']): CollectionInfo {
    const used = new Set([...this.infos.values()].map((i) => i.id));
    let id = randomInt(1, COLL_ID_MAX);
    while (used.has(id)) id = randomInt(1, COLL_ID_MAX);
    return { name, id, version: 1, createdAtMs: Date.now(), validator, indexes: [], nextIndexId: 1 };
  }

  /** Runs work after every earlier change of this collection, before any later one. */
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

  // ---- the write gate ---------------------------------------------------------

  /** Counts a plain write under `info`'s catalog version; call the result when it is answered. */
  enterWrite(info: CollectionInfo): () => void {
    let versions = this.inFlight.get(info.name);
    if (versions === undefined) this.inFlight.set(info.name, (versions = new Map()));
    versions.set(info.version, (versions.get(info.version) ?? 0) + 1);
    const held = versions;
    return () => {
      const left = (held.get(info.version) ?? 1) - 1;
      if (left > 0) held.set(info.version, left);
      else held.delete(info.version);
      if (held.size === 0 && this.inFlight.get(info.name) === held) this.inFlight.delete(info.name);
      this.wakeDrained(info.name);
    };
  }

  /** Resolves once no plain write that started under a catalog version below `version` is in flight. */
  writesDrained(name: string, version: number): Promise<void> {
    if (!this.olderInFlight(name, version)) return Promise.resolve();
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.olderInFlight(name, version)) this.waitDrained(name, check);
        else resolve();
      };
      this.waitDrained(name, check);
    });
  }

  private olderInFlight(name: string, version: number): boolean {
    const versions = this.inFlight.get(name);
    if (versions === undefined) return false;
    for (const v of versions.keys()) if (v < version) return true;
    return false;
  }

  private waitDrained(name: string, wake: () => void): void {
    let waiters = this.drainWaiters.get(name);
    if (waiters === undefined) this.drainWaiters.set(name, (waiters = []));
    waiters.push(wake);
  }

  private wakeDrained(name: string): void {
    const waiters = this.drainWaiters.get(name);
    if (waiters === undefined) return;
    this.drainWaiters.delete(name);
    for (const wake of waiters) wake();
  }

  private async push(info: CollectionInfo): Promise<void> {
    await Promise.all(this.pool.shards.map((shard) => callExpect(shard, { op: 'catalog-put', info }, true, 0, 'ok')));
    this.infos.set(info.name, info);
  }
}
