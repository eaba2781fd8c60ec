// The router's cache control plane: policies by prefix (persisted, pushed to
// every shard), explicit invalidation by key, prefix or tag, durable
// dependency edges, and the cascade that follows them. Cascades are driven by
// the shards' own events: when a key with dependents changes (write, delete,
// TTL expiry or explicit invalidation), its descendants — found by a
// cycle-safe walk of the graph — are invalidated on their owning shards with
// reason "cascade"; cascade events never start a cascade of their own (the
// walk already covered everything reachable). Evictions do not cascade: the
// stored value did not change. An explicit invalidation by key or tag runs
// its cascade itself and answers after it; the shards' "explicit" events for
// those keys are then skipped here (`cascadedByRequest`).
// Tags: a key's tags are dropped on DELETE and when a `delete` or `ttl` event
// names it, so the index holds only keys that still exist.

import { MantisError } from '../../shared/errors.js';
import { LIMITS } from '../../shared/limits.js';
import type { InvalidationEvent } from '../../shared/cache/invalidation.js';
import { type PolicyRule } from '../../shared/cache/policy.js';
import type { ShardClient, ShardPool } from '../router/index.js';
import type { Logger } from '../log.js';
import type { DependencyGraph } from './dependency-graph.js';
import type { InvalidationHub } from './invalidation-hub.js';
import type { PolicyStore } from './policy-store.js';
import { parseTags, type TagIndex } from './tag-index.js';
import type { KeyHooks } from '../http/kv-handlers.js';

const CASCADING_REASONS: ReadonlySet<InvalidationEvent['reason']> = new Set(['write', 'delete', 'ttl', 'explicit']);
/** Keys per invalidate frame (each ≤ 1 KiB; frames are fragmented across the ring anyway). */
const INVALIDATE_KEYS_PER_CALL = 1024;

export type InvalidateTarget = { readonly key: string } | { readonly prefix: string } | { readonly tag: string };

export type InvalidateResult = {
  /** Keys the request named (1 for a key, the tagged keys for a tag; 0 for a prefix: unknown up front). */
  readonly keys: number;
  /** Cache entries removed. */
  readonly removed: number;
  /** Dependents that the cascade invalidates after this (transitively, each once). */
  readonly dependents: number;
};

export class CacheControl {
  private cascadeQueue: string[] = [];
  private cascadeRunning = false;
  /** Keys whose explicit invalidation cascades in the request (count of pending "explicit" events to skip). */
  private readonly cascadedByRequest = new Map<string, number>();

  constructor(
    private readonly pool: ShardPool,
    private readonly hub: InvalidationHub,
    private readonly graph: DependencyGraph,
    private readonly tags: TagIndex,
    private readonly policyStore: PolicyStore,
    private readonly cacheEnabled: boolean,
    private readonly log: Logger,
  ) {
    hub.onEvents((_shard, events) => this.onShardEvents(events));
    this.updateInterest();
  }

  /** The shards post events while edges or tagged keys exist (cascades, tag clean-up), not only for subscribers. */
  private updateInterest(): void {
    this.hub.setInternalInterest(this.graph.edgeCount > 0 || this.tags.size > 0);
  }

  // ---- policies ----------------------------------------------------------------

  get policies(): { readonly rules: readonly PolicyRule[]; readonly source: string } {
    return { rules: this.policyStore.rules, source: this.policyStore.source };
  }

  /** Replaces every rule: persisted first, then pushed to the shards. */
  async setPolicies(rules: readonly PolicyRule[]): Promise<void> {
    if (!this.cacheEnabled && rules.some((r) => r.policy !== 'write-through' && r.policy !== 'read-through')) {
      throw new MantisError('CACHE_DISABLED', 'the cache is off (--cache-mb 0): only write-through and read-through rules apply');
    }
    await this.policyStore.save(rules);
    await this.pool.setCachePolicies(rules);
  }

  // ---- tags --------------------------------------------------------------------

  /** After an acknowledged PUT with ?tags=…: the key's tags become exactly these. */
  tagKey(key: string, tags: readonly string[]): void {
    if (tags.length === 0) {
      if (this.tags.size > 0 && this.tags.untag(key)) this.updateInterest();
      return;
    }
    try {
      this.tags.tag(key, tags);
    } catch (error) {
      // Only a race of concurrent PUTs past the limit gets here (parseTags checked it): the write is
      // acknowledged already, so its tags are dropped and said so in the log.
      this.log.warn({ err: error, key }, 'tags of an acknowledged PUT could not be recorded');
    }
    this.updateInterest();
  }

  /** After an acknowledged DELETE. */
  forgetKey(key: string): void {
    if (this.tags.size > 0 && this.tags.untag(key)) this.updateInterest();
  }

  /** The KV routes' hooks: ?tags= on PUT, and tags dropped on DELETE. */
  keyHooks(): KeyHooks {
    return {
      parseTags: (raw, key) => {
        const tags = parseTags(raw);
        // Refused before the write, so a PUT is never acknowledged with its tags dropped.
        if (tags.length > 0 && this.tags.tagsOf(key).length === 0 && this.tags.size >= LIMITS.cache_tagged_keys_max) {
          throw new MantisError('TAG_LIMIT', `${this.tags.size} keys are tagged already, the most the tag index holds`);
        }
        return tags;
      },
      onPut: (key, tags) => this.tagKey(key, tags),
      onDelete: (key) => this.forgetKey(key),
    };
  }

  // ---- invalidation --------------------------------------------------------------

  async invalidate(target: InvalidateTarget): Promise<InvalidateResult> {
    if ('prefix' in target) {
      const prefix = Buffer.from(target.prefix, 'utf8');
      const removed = await Promise.all(this.pool.shards.map((shard) => this.invalidatePrefix(shard, prefix)));
      return { keys: 0, removed: removed.reduce((a, b) => a + b, 0), dependents: 0 };
    }
    const keys = 'key' in target ? [target.key] : this.tags.keysOf(target.tag);
    const cascades = this.graph.edgeCount > 0;
    // The answer comes after the cascade, so a read issued after it never finds a dependent cached.
    if (cascades) for (const key of keys) this.cascadedByRequest.set(key, (this.cascadedByRequest.get(key) ?? 0) + 1);
    const removed = await this.invalidateKeys(keys, 'explicit');
    if (!cascades) return { keys: keys.length, removed, dependents: 0 };
    const dependents = await this.graph.descendantsAsync(keys);
    if (dependents.length > 0) await this.invalidateKeys(dependents, 'cascade');
    return { keys: keys.length, removed, dependents: dependents.length };
  }

  // ---- dependencies --------------------------------------------------------------

  async addDependency(parent: string, child: string): Promise<boolean> {
    const created = await this.graph.add(parent, child);
    this.updateInterest();
    return created;
  }

  async removeDependency(parent: string, child: string): Promise<boolean> {
    const removed = await this.graph.remove(parent, child);
    this.updateInterest();
    return removed;
  }

  children(parent: string): string[] {
    return this.graph.children(parent);
  }

  parents(child: string): string[] {
    return this.graph.parents(child);
  }

  get dependencyCount(): number {
    return this.graph.edgeCount;
  }

  async close(): Promise<void> {
    await this.graph.close();
  }

  // ---- internals -----------------------------------------------------------------

  private onShardEvents(events: readonly InvalidationEvent[]): void {
    if (this.tags.size > 0) {
      let untagged = false;
      for (const event of events) if ((event.reason === 'delete' || event.reason === 'ttl') && this.tags.untag(event.key)) untagged = true;
      if (untagged) this.updateInterest();
    }
    if (this.graph.edgeCount === 0) return;
    for (const event of events) {
      if (event.reason === 'explicit' && this.skipExplicit(event.key)) continue;
      if (CASCADING_REASONS.has(event.reason) && this.graph.hasChildren(event.key)) this.cascadeQueue.push(event.key);
    }
    if (this.cascadeQueue.length > 0 && !this.cascadeRunning) void this.runCascades();
  }

  /** True for an "explicit" event whose cascade its request runs itself. */
  private skipExplicit(key: string): boolean {
    const pending = this.cascadedByRequest.get(key);
    if (pending === undefined) return false;
    if (pending <= 1) this.cascadedByRequest.delete(key);
    else this.cascadedByRequest.set(key, pending - 1);
    return true;
  }

  /** One walk for every root queued meanwhile: a burst of parent writes costs one cascade round. */
  private async runCascades(): Promise<void> {
    this.cascadeRunning = true;
    try {
      while (this.cascadeQueue.length > 0) {
        const roots = [...new Set(this.cascadeQueue.splice(0))];
        // In chunks: a large graph's walk must not hold the main thread.
        const dependents = await this.graph.descendantsAsync(roots);
        if (dependents.length === 0) continue;
        try {
          await this.invalidateKeys(dependents, 'cascade');
        } catch (error) {
          // A shard restarting clears its whole segment anyway; subscribers are told by the restart.
          this.log.warn({ err: error, roots: roots.slice(0, 10), dependents: dependents.length }, 'cache dependency cascade failed on a shard');
        }
      }
    } finally {
      this.cascadeRunning = false;
    }
  }

  /** Invalidates keys on their owning shards (events for every key); returns entries removed. */
  private async invalidateKeys(keys: readonly string[], reason: 'explicit' | 'cascade'): Promise<number> {
    const byShard = new Map<ShardClient, Uint8Array[]>();
    for (const key of keys) {
      const bytes = Buffer.from(key, 'utf8');
      const shard = this.pool.shardFor(bytes);
      const list = byShard.get(shard);
      if (list === undefined) byShard.set(shard, [bytes]);
      else list.push(bytes);
    }
    const calls: Promise<number>[] = [];
    for (const [shard, list] of byShard) {
      for (let i = 0; i < list.length; i += INVALIDATE_KEYS_PER_CALL) {
        calls.push(this.callInvalidate(shard, reason, list.slice(i, i + INVALIDATE_KEYS_PER_CALL), null));
      }
    }
    const removed = await Promise.all(calls);
    return removed.reduce((a, b) => a + b, 0);
  }

  /** One shard's cache, slice by slice, so the shard serves other requests between slices. */
  private async invalidatePrefix(shard: ShardClient, prefix: Uint8Array): Promise<number> {
    let removed = 0;
    for (let from = 0; from !== -1; ) {
      const response = await shard.call({ kind: 'invalidate', reason: 'explicit', keys: [], prefix, fromSlot: from, slotBudget: LIMITS.cache_invalidate_slots_max });
      if (response.kind === 'error') throw new MantisError(response.code, response.message);
      if (response.kind !== 'invalidated') throw new Error(`assertion failed: unexpected shard response ${response.kind} to invalidate`);
      removed += response.removed;
      from = response.nextSlot;
    }
    return removed;
  }

  private async callInvalidate(shard: ShardClient, reason: 'explicit' | 'cascade', keys: Uint8Array[], prefix: Uint8Array | null): Promise<number> {
    const response = await shard.call({ kind: 'invalidate', reason, keys, prefix, fromSlot: 0, slotBudget: 0 });
    if (response.kind === 'invalidated') return response.removed;
    if (response.kind === 'error') throw new MantisError(response.code, response.message);
    throw new Error(`assertion failed: unexpected shard response ${response.kind} to invalidate`);
  }
}
