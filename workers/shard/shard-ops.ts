// Op* functions run inside a shard and apply one request to its LSM store
// (Dragonfly's Cmd*/Op* split: the router's cmd* functions send, these apply).
// A write records what it replaced in an undo list, so that a batch whose WAL
// write or fsync fails can be rolled back instead of staying visible.
// Reads may read table blocks from disk synchronously: the shard thread owns
// its tables, and a block read is one pread (usually page-cached).
// With a cache, every applied write goes through it too (ShardCache), a GET
// the store answers loads the cache, and a rollback drops the undone keys.
// The key's cache policy (shared/cache/policy.ts) decides how: write-through
// and write-around writes are logged before their ack; write-back writes are
// applied at once and handed back as `deferred`, for the actor to log within
// --write-back-ms after acknowledging them; cache-only writes touch the cache
// alone. Every change is reported to ShardEvents for invalidation subscribers.
// Transactions: before a plain request writes anything (every policy but
// cache-only), the TxnHook checks the keys for foreign intents (answering
// txn-locked instead) and records the commit in the version store; a rollback
// of applied writes tells it the version store no longer matches the LSM. A
// transaction's writes apply through applyTxnWrites, the same path as a
// write-through plain write.

import { MantisError, unreachable } from '../../shared/errors.js';
import { LIMITS } from '../../shared/limits.js';
import { DEFAULT_POLICY, PolicyTable, type ResolvedPolicy } from '../../shared/cache/policy.js';
import type { BatchOp, BatchResult, DeleteOp, InvalidateRequest, PutOp, ShardRequest, ShardResponse } from '../../shared/wire.js';
import type { CacheHit } from '../../shared/cache/index.js';
import type { LsmStore, Undo } from '../lsm/index.js';
import { binaryToKey, keyToBinary, type Entry } from '../store/memtable.js';
import { INTERNAL_KEY_BYTE, isInternalKey } from '../../shared/slot.js';
import type { ShardCache } from './shard-cache.js';
import type { ShardEvents } from './shard-events.js';

export type { Undo } from '../lsm/index.js';

type Write = PutOp | DeleteOp;

/** What applying one request produced: its response, the writes to log before the ack, and write-back writes to log later. */
export type Applied = {
  readonly response: ShardResponse;
  readonly writes: Write[];
  readonly deferred: Write[];
};

const NONE: Write[] = [];
const INTERNAL_PREFIX = String.fromCharCode(INTERNAL_KEY_BYTE);

/** What the shard's transaction participant needs to see of plain writes (workers/txn/txn-participant.ts). */
export interface TxnHook {
  /**
   * Before a plain request writes these keys (binary strings, distinct; `keys` makes them, called
   * only when they are needed: intents held or snapshots live): an answer (txn-locked) refuses the
   * whole request, null lets it go on (its commit is recorded). May throw MantisError (no timestamp
   * to be had) before recording anything.
   */
  beforePlainWrites(keys: () => readonly string[], nowMs: number): ShardResponse | null;
  /** Applied writes were undone: commits recorded for them are no longer true. */
  writesRolledBack(): void;
}

export class ShardOps {
  private policies = new PolicyTable();
  private txn: TxnHook | null = null;

  /** cache: this shard's cache segment writer, or null when the cache is off. */
  constructor(
    private readonly store: LsmStore,
    private readonly cache: ShardCache | null = null,
    private readonly events: ShardEvents | null = null,
  ) {}

  setPolicies(policies: PolicyTable): void {
    this.policies = policies;
  }

  setTxnHook(hook: TxnHook): void {
    this.txn = hook;
  }

  /**
   * undo collects what the logged writes replaced (rolled back if their WAL write fails);
   * deferredUndo what write-back writes replaced, used only to refuse the whole request before
   * its ack (e.g. over the WAL record limit) — once acknowledged they are never rolled back.
   */
  apply(request: ShardRequest, nowMs: number, undo: Undo[], deferredUndo: Undo[] = []): Applied {
    switch (request.kind) {
      case 'get':
        return { response: this.opGet(request.key, nowMs, this.policyOf(request.key)), writes: NONE, deferred: NONE };
      case 'put':
      case 'delete': {
        const policy = this.policyOf(request.key);
        if (request.kind === 'put') this.checkCacheOnly(request, policy);
        if (policy.write !== 'cache-only' && this.txn !== null) {
          const refused = this.txn.beforePlainWrites(() => [keyToBinary(request.key)], nowMs);
          if (refused !== null) return { response: refused, writes: NONE, deferred: NONE };
        }
        const applied = this.applyOne(request, policy, nowMs, undo, deferredUndo);
        return { response: applied.response, writes: applied.deferred ? NONE : applied.writes, deferred: applied.deferred ? applied.writes : NONE };
      }
      case 'head':
        return { response: this.opHead(request.key, nowMs), writes: NONE, deferred: NONE };
      case 'list':
        return { response: this.opList(request, nowMs), writes: NONE, deferred: NONE };
      case 'batch':
        return this.opBatch(request.ops, nowMs, undo, deferredUndo);
      case 'invalidate':
        return { response: this.opInvalidate(request, nowMs), writes: NONE, deferred: NONE };
      case 'txn-commit':
      case 'txn-prepare':
      case 'txn-decide':
      case 'txn-read':
      case 'txn-list':
        throw new MantisError('INTERNAL', `${request.kind} is handled by the shard's transaction participant, not ShardOps`);
      case 'doc':
        throw new MantisError('INTERNAL', 'doc requests are handled by the shard\'s document engine, not ShardOps');
      case 'tbl':
        throw new MantisError('INTERNAL', 'tbl requests are handled by the shard\'s table engine, not ShardOps');
      case 'backup':
        throw new MantisError('INTERNAL', 'backup cuts are handled by the shard actor, not ShardOps');
      default:
        return unreachable(request);
    }
  }

  /** Re-applies a logged write during WAL replay (no undo; an expired put replays as a delete). */
  replay(op: PutOp | DeleteOp, nowMs: number): void {
    if (op.kind === 'delete' || (op.expiresAtMs !== 0 && op.expiresAtMs <= nowMs)) {
      this.store.delete(op.key.slice());
      return;
    }
    // Copy: op.key and op.value are views into the whole WAL segment read for replay.
    this.store.put(op.key.slice(), op.value.slice(), op.contentType, op.expiresAtMs);
  }

  /**
   * A transaction's writes (validated: no cache-only key), applied as write-through plain writes
   * are: memtable, cache written through (or dropped under write-around; write-back counts as
   * through, since a transaction is logged before its ack), events, undo entries.
   */
  applyTxnWrites(writes: readonly Write[], nowMs: number, undo: Undo[]): void {
    for (const op of writes) {
      if (isInternalKey(op.key)) {
        this.applyInternal(op, undo);
        continue;
      }
      let policy = this.policyOf(op.key);
      if (policy.write === 'cache-only') throw new Error('assertion failed: a transaction writes a cache-only key');
      if (policy.write === 'back') policy = { write: 'through', readThrough: policy.readThrough };
      this.applyOne(op, policy, nowMs, undo, undo);
    }
  }

  /**
   * The writes of a document-store command (internal keys: no cache, no invalidation events): the
   * transaction hook checks them first (a txn-locked answer refuses them all, nothing applied),
   * then they are applied with undo entries. The caller logs them as one WAL record.
   */
  applyInternalWrites(writes: readonly Write[], nowMs: number, undo: Undo[]): ShardResponse | null {
    if (writes.length === 0) return null;
    if (this.txn !== null) {
      const keys = (): string[] => {
        const set = new Set<string>();
        for (const op of writes) set.add(keyToBinary(op.key));
        return [...set];
      };
      const refused = this.txn.beforePlainWrites(keys, nowMs);
      if (refused !== null) return refused;
    }
    for (const op of writes) this.applyInternal(op, undo);
    return null;
  }

  private applyInternal(op: Write, undo: Undo[]): void {
    if (op.kind === 'put') undo.push(this.store.put(op.key, op.value, op.contentType, op.expiresAtMs));
    else undo.push(this.store.delete(op.key));
  }

  /** The key is under a cache-only prefix (its data lives in the cache alone). */
  isCacheOnly(key: Uint8Array): boolean {
    return this.policyOf(key).write === 'cache-only';
  }

  /** A cache-only key's value, as a plain GET reads it. */
  cacheOnlyGet(key: Uint8Array, nowMs: number): CacheHit | null {
    return this.cache?.get(key, nowMs) ?? null;
  }

  /** The store's live entry of key, loading the cache as a plain GET does (read-through). */
  readLatest(key: Uint8Array, nowMs: number): Entry | undefined {
    const entry = this.store.get(key, nowMs);
    if (entry !== undefined && !isInternalKey(key) && this.policyOf(key).readThrough) this.cache?.store(key, entry.value, entry.contentType, entry.expiresAtMs);
    return entry;
  }

  /** Undoes writes; subscribers hear of each key again (its `write` event went out when it was applied). */
  rollback(undo: readonly Undo[]): void {
    if (undo.length === 0) return;
    this.txn?.writesRolledBack();
    this.store.rollback(undo);
    this.cache?.forget(undo);
    if (this.events?.active === true) {
      const now = Date.now();
      for (const entry of undo) this.events.emit(binaryToKey(entry.key), 'write', now);
    }
  }

  private policyOf(key: Uint8Array): ResolvedPolicy {
    const policy = this.policies.resolve(key);
    // Without a cache every key is stored and logged.
    return this.cache === null && policy.write !== 'through' ? DEFAULT_POLICY : policy;
  }

  /** A cache-only put the segment would refuse must be refused before anything is applied. */
  private checkCacheOnly(op: PutOp, policy: ResolvedPolicy): void {
    if (this.cache === null || policy.write !== 'cache-only') return;
    if (!this.cache.accepts(op.key, op.value, op.contentType)) {
      throw new MantisError('VALUE_TOO_LARGE', `the key is under a cache-only prefix and its value (${op.value.length} bytes) is larger than a cache entry may be`);
    }
  }

  private applyOne(op: BatchOp, policy: ResolvedPolicy, nowMs: number, undo: Undo[], deferredUndo: Undo[]): { response: BatchResult; writes: Write[]; deferred: boolean } {
    switch (op.kind) {
      case 'get':
        return { response: this.opGet(op.key, nowMs, policy), writes: NONE, deferred: false };
      case 'put':
        this.events?.emit(op.key, 'write', nowMs);
        return { response: this.opPut(op, policy.write === 'back' ? deferredUndo : undo, policy), writes: policy.write === 'cache-only' ? NONE : [op], deferred: policy.write === 'back' };
      case 'delete':
        this.events?.emit(op.key, 'delete', nowMs);
        return { response: this.opDelete(op.key, nowMs, policy.write === 'back' ? deferredUndo : undo, policy), writes: policy.write === 'cache-only' ? NONE : [op], deferred: policy.write === 'back' };
      default:
        return unreachable(op);
    }
  }

  private opGet(key: Uint8Array, nowMs: number, policy: ResolvedPolicy): BatchResult {
    if (policy.write === 'cache-only') {
      const hit = this.cache?.get(key, nowMs) ?? null;
      return hit === null ? { kind: 'missing' } : { kind: 'value', contentType: hit.contentType, expiresAtMs: hit.expiresAtMs, value: hit.value };
    }
    const entry = this.store.get(key, nowMs);
    if (entry === undefined) return { kind: 'missing' };
    if (policy.readThrough) this.cache?.store(key, entry.value, entry.contentType, entry.expiresAtMs);
    return { kind: 'value', contentType: entry.contentType, expiresAtMs: entry.expiresAtMs, value: entry.value };
  }

  private opHead(key: Uint8Array, nowMs: number): ShardResponse {
    if (this.policyOf(key).write === 'cache-only') {
      const hit = this.cache?.get(key, nowMs) ?? null;
      return hit === null ? { kind: 'missing' } : { kind: 'meta', contentType: hit.contentType, expiresAtMs: hit.expiresAtMs, size: hit.value.length };
    }
    const entry = this.store.get(key, nowMs);
    if (entry === undefined) return { kind: 'missing' };
    return { kind: 'meta', contentType: entry.contentType, expiresAtMs: entry.expiresAtMs, size: entry.value.length };
  }

  private opPut(op: PutOp, undo: Undo[], policy: ResolvedPolicy): BatchResult {
    // The value is a view into the request frame: keep the frame when the value
    // is most of it (a single PUT), copy it out when it is a small part (a batch).
    const value = op.value.byteLength * 2 >= op.value.buffer.byteLength ? op.value : op.value.slice();
    switch (policy.write) {
      case 'cache-only':
        // Size checked before anything was applied (checkCacheOnly); forced past the admission
        // policy, which would otherwise turn a new key away (the value has no other home).
        if (this.cache?.store(op.key, value, op.contentType, op.expiresAtMs, true) === false) {
          throw new Error(`assertion failed: the cache refused a cache-only entry it accepts (${value.length} bytes)`);
        }
        return { kind: 'done' };
      case 'back':
        // `undo` is the request's deferred undo: used only if the request is refused before its ack.
        undo.push(this.store.put(op.key, value, op.contentType, op.expiresAtMs));
        this.cache?.store(op.key, value, op.contentType, op.expiresAtMs);
        return { kind: 'done' };
      case 'around':
        undo.push(this.store.put(op.key, value, op.contentType, op.expiresAtMs));
        this.cache?.remove(op.key);
        return { kind: 'done' };
      case 'through':
        undo.push(this.store.put(op.key, value, op.contentType, op.expiresAtMs));
        this.cache?.store(op.key, value, op.contentType, op.expiresAtMs); // before any ack
        return { kind: 'done' };
      default:
        return unreachable(policy.write);
    }
  }

  private opDelete(key: Uint8Array, nowMs: number, undo: Undo[], policy: ResolvedPolicy): BatchResult {
    if (policy.write === 'cache-only') {
      const existed = this.cache?.get(key, nowMs) != null;
      this.cache?.remove(key);
      return { kind: 'deleted', existed };
    }
    const existed = this.store.get(key, nowMs) !== undefined;
    undo.push(this.store.delete(key));
    this.cache?.remove(key);
    return { kind: 'deleted', existed };
  }

  private opList(request: Extract<ShardRequest, { kind: 'list' }>, nowMs: number): ShardResponse {
    const prefix = keyToBinary(request.prefix);
    const after = request.after === null ? null : keyToBinary(request.after);
    const listed = this.store.list(prefix, after, request.skip, request.limit, nowMs);
    // Internal keys (documents, indexes: first byte 0xFF) sort after every KV key; a KV listing never shows them.
    const keys = listed.keys.filter((k) => k.charCodeAt(0) !== INTERNAL_KEY_BYTE);
    const more = listed.more && keys.length === listed.keys.length;
    const internal = request.prefix.length === 0 && request.wantTotal ? this.store.count(INTERNAL_PREFIX, nowMs) : 0;
    const total = request.wantTotal ? this.store.count(prefix, nowMs) - internal : 0;
    return { kind: 'keys', keys: keys.map(binaryToKey), total, more };
  }

  private opBatch(ops: readonly BatchOp[], nowMs: number, undo: Undo[], deferredUndo: Undo[]): Applied {
    const policies = ops.map((op) => this.policyOf(op.key));
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i];
      if (op.kind === 'put') this.checkCacheOnly(op, policies[i]);
    }
    if (this.txn !== null && ops.some((op, i) => op.kind !== 'get' && policies[i].write !== 'cache-only')) {
      const keys = (): string[] => {
        const set = new Set<string>();
        for (let i = 0; i < ops.length; i++) {
          if (ops[i].kind !== 'get' && policies[i].write !== 'cache-only') set.add(keyToBinary(ops[i].key));
        }
        return [...set];
      };
      const refused = this.txn.beforePlainWrites(keys, nowMs);
      if (refused !== null) return { response: refused, writes: NONE, deferred: NONE };
    }
    const results: BatchResult[] = [];
    const writes: Write[] = [];
    const deferred: Write[] = [];
    for (let i = 0; i < ops.length; i++) {
      const applied = this.applyOne(ops[i], policies[i], nowMs, undo, deferredUndo);
      results.push(applied.response);
      (applied.deferred ? deferred : writes).push(...applied.writes);
    }
    return { response: { kind: 'results', results }, writes, deferred };
  }

  private opInvalidate(request: InvalidateRequest, nowMs: number): ShardResponse {
    let removed = 0;
    if (request.prefix !== null) {
      const budget = Math.min(Math.max(1, request.slotBudget), LIMITS.cache_invalidate_slots_max);
      const slice = this.cache?.removeByPrefix(request.prefix, request.fromSlot, budget) ?? { keys: [], next: -1 };
      for (const key of slice.keys) this.events?.emit(key, request.reason, nowMs);
      return { kind: 'invalidated', removed: slice.keys.length, nextSlot: slice.next };
    } else {
      for (const key of request.keys) {
        if (this.cache?.remove(key) === true) removed++;
        this.events?.emit(key, request.reason, nowMs);
      }
    }
    return { kind: 'invalidated', removed, nextSlot: -1 };
  }
}
