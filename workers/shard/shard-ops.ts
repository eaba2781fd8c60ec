// Op* functions run inside a shard and apply one request to its LSM store
// (Dragonfly's Cmd*/Op* split: the router's cmd* functions send, these apply).
// A write records what it replaced in an undo list, so that a batch whose WAL
// write or fsync fails can be rolled back instead of staying visible.
// Reads may read table blocks from disk synchronously: the shard thread owns
// its tables, and a block read is one pread (usually page-cached).
// With a cache, every applied write goes through it too (ShardCache), a GET
// the store answers loads the cache, and a rollback drops the undone keys.

import { unreachable } from '../../shared/errors.js';
import type { BatchOp, BatchResult, DeleteOp, PutOp, ShardRequest, ShardResponse } from '../../shared/wire.js';
import type { LsmStore, Undo } from '../lsm/index.js';
import { binaryToKey, keyToBinary } from '../store/memtable.js';
import type { ShardCache } from './shard-cache.js';

export type { Undo } from '../lsm/index.js';

/** What applying one request produced: its response, and for writes the ops to log. */
export type Applied = {
  readonly response: ShardResponse;
  readonly writes: (PutOp | DeleteOp)[];
};

export class ShardOps {
  /** cache: this shard's cache segment writer, or null when the cache is off. */
  constructor(
    private readonly store: LsmStore,
    private readonly cache: ShardCache | null = null,
  ) {}

  apply(request: ShardRequest, nowMs: number, undo: Undo[]): Applied {
    switch (request.kind) {
      case 'get':
      case 'put':
      case 'delete':
        return this.applyOne(request, nowMs, undo);
      case 'head':
        return { response: this.opHead(request.key, nowMs), writes: [] };
      case 'list':
        return { response: this.opList(request, nowMs), writes: [] };
      case 'batch':
        return this.opBatch(request.ops, nowMs, undo);
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

  rollback(undo: readonly Undo[]): void {
    this.store.rollback(undo);
    this.cache?.forget(undo);
  }

  private applyOne(op: BatchOp, nowMs: number, undo: Undo[]): { response: BatchResult; writes: (PutOp | DeleteOp)[] } {
    switch (op.kind) {
      case 'get':
        return { response: this.opGet(op.key, nowMs), writes: [] };
      case 'put':
        return { response: this.opPut(op, undo), writes: [op] };
      case 'delete':
        return { response: this.opDelete(op.key, nowMs, undo), writes: [op] };
      default:
        return unreachable(op);
    }
  }

  private opGet(key: Uint8Array, nowMs: number): BatchResult {
    const entry = this.store.get(key, nowMs);
    if (entry === undefined) return { kind: 'missing' };
    this.cache?.store(key, entry.value, entry.contentType, entry.expiresAtMs); // read-through
    return { kind: 'value', contentType: entry.contentType, expiresAtMs: entry.expiresAtMs, value: entry.value };
  }

  private opHead(key: Uint8Array, nowMs: number): ShardResponse {
    const entry = this.store.get(key, nowMs);
    if (entry === undefined) return { kind: 'missing' };
    return { kind: 'meta', contentType: entry.contentType, expiresAtMs: entry.expiresAtMs, size: entry.value.length };
  }

  private opPut(op: PutOp, undo: Undo[]): BatchResult {
    // The value is a view into the request frame: keep the frame when the value
    // is most of it (a single PUT), copy it out when it is a small part (a batch).
    const value = op.value.byteLength * 2 >= op.value.buffer.byteLength ? op.value : op.value.slice();
    undo.push(this.store.put(op.key, value, op.contentType, op.expiresAtMs));
    this.cache?.store(op.key, value, op.contentType, op.expiresAtMs); // write-through, before any ack
    return { kind: 'done' };
  }

  private opDelete(key: Uint8Array, nowMs: number, undo: Undo[]): BatchResult {
    const existed = this.store.get(key, nowMs) !== undefined;
    undo.push(this.store.delete(key));
    this.cache?.remove(key);
    return { kind: 'deleted', existed };
  }

  private opList(request: Extract<ShardRequest, { kind: 'list' }>, nowMs: number): ShardResponse {
    const prefix = keyToBinary(request.prefix);
    const after = request.after === null ? null : keyToBinary(request.after);
    const { keys, more } = this.store.list(prefix, after, request.skip, request.limit, nowMs);
    const total = request.wantTotal ? this.store.count(prefix, nowMs) : 0;
    return { kind: 'keys', keys: keys.map(binaryToKey), total, more };
  }

  private opBatch(ops: readonly BatchOp[], nowMs: number, undo: Undo[]): Applied {
    const results: BatchResult[] = [];
    const writes: (PutOp | DeleteOp)[] = [];
    for (const op of ops) {
      const applied = this.applyOne(op, nowMs, undo);
      results.push(applied.response);
      writes.push(...applied.writes);
    }
    return { response: { kind: 'results', results }, writes };
  }
}
