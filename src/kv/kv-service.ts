// Cmd* functions: the router side of every KV operation. They pick the
// owning shard by slot, send the request over its ring, and turn shard error
// responses into MantisErrors. Listing scatters to every shard and merges.
// Every cmd takes deadlineMs: absolute ms since the epoch, 0 = none (see
// ShardClient.call); a scatter checks it once before sending any part.
// GET and HEAD first look in the owning shard's cache segment (read on this
// thread, no hop); a hit is exact because the shard writes through its cache
// before it acknowledges a write, so only a miss goes over the ring.

import { cacheHash, type CacheHit } from '../../shared/cache/index.js';
import { MantisError } from '../../shared/errors.js';
import { LIMITS } from '../../shared/limits.js';
import type { BatchOp, BatchResult, ShardRequest, ShardResponse, ValueResult } from '../../shared/wire.js';
import { deadlineExceeded, type ShardClient, type ShardPool } from '../router/index.js';
import type { ListParams } from './kv-input.js';

export type HeadResult = { readonly contentType: string; readonly size: number; readonly expiresAtMs: number };
export type ListResult = { readonly keys: Uint8Array[]; readonly total: number; readonly more: boolean };
export type BatchOutcome = {
  /** One entry per op, in order; an op whose shard failed holds that error. */
  readonly results: (BatchResult | MantisError)[];
  /** The first shard failure, if any (the other shards' ops were applied). */
  readonly error: MantisError | null;
};

function unexpected(response: ShardResponse): never {
  if (response.kind === 'error') throw new MantisError(response.code, response.message);
  throw new Error(`assertion failed: unexpected shard response ${response.kind}`);
}

export class KvService {
  constructor(private readonly pool: ShardPool) {}

  /**
   * The cached entry of key with no thread hop and no promise (the listener's
   * hit path), or null: ask cmdGet/cmdHead. Throws DEADLINE_EXCEEDED as they would.
   */
  cachedGet(key: Uint8Array, deadlineMs = 0, borrow = false): CacheHit | null {
    return cachedHit(this.pool.shardFor(key), key, deadlineMs, borrow);
  }

  /** cacheTried: the caller's cachedGet already missed; go straight to the ring. */
  async cmdGet(key: Uint8Array, deadlineMs = 0, cacheTried = false): Promise<ValueResult | null> {
    const shard = this.pool.shardFor(key);
    const hit = cacheTried ? null : cachedHit(shard, key, deadlineMs);
    if (hit !== null) return { kind: 'value', contentType: hit.contentType, expiresAtMs: hit.expiresAtMs, value: hit.value };
    const response = await shard.call({ kind: 'get', key }, deadlineMs);
    if (response.kind === 'value') return response;
    if (response.kind === 'missing') return null;
    return unexpected(response);
  }

  async cmdHead(key: Uint8Array, deadlineMs = 0, cacheTried = false): Promise<HeadResult | null> {
    const shard = this.pool.shardFor(key);
    // Borrowed: only the length is kept, so the value is not copied out for a HEAD.
    const hit = cacheTried ? null : cachedHit(shard, key, deadlineMs, true);
    if (hit !== null) return { contentType: hit.contentType, size: hit.value.length, expiresAtMs: hit.expiresAtMs };
    const response = await shard.call({ kind: 'head', key }, deadlineMs);
    if (response.kind === 'meta') return response;
    if (response.kind === 'missing') return null;
    return unexpected(response);
  }

  async cmdPut(key: Uint8Array, contentType: string, expiresAtMs: number, value: Uint8Array, deadlineMs = 0): Promise<void> {
    const response = await callWrite(this.pool.shardFor(key), { kind: 'put', key, contentType, expiresAtMs, value }, deadlineMs);
    if (response.kind !== 'done') unexpected(response);
  }

  async cmdDelete(key: Uint8Array, deadlineMs = 0): Promise<boolean> {
    const response = await callWrite(this.pool.shardFor(key), { kind: 'delete', key }, deadlineMs);
    if (response.kind === 'deleted') return response.existed;
    return unexpected(response);
  }

  /** Scatter to every shard, merge in byte order, cut the page. */
  async cmdList(params: ListParams, deadlineMs = 0): Promise<ListResult> {
    assertBeforeDeadline(deadlineMs);
    const want = params.offset + params.limit;
    const parts = await Promise.all(
      this.pool.shards.map(async (shard) => {
        const request = { kind: 'list', prefix: params.prefix, after: params.cursor, skip: 0, limit: want, wantTotal: true } as const;
        const response = await shard.call(request, deadlineMs);
        return response.kind === 'keys' ? response : unexpected(response);
      }),
    );
    const merged = mergeSorted(parts.map((p) => p.keys));
    const keys = merged.slice(params.offset, want);
    const more = merged.length > want || parts.some((p) => p.more);
    return { keys, total: parts.reduce((sum, p) => sum + p.total, 0), more };
  }

  /** Groups ops by shard (one atomic request per shard) and reassembles results in order. */
  async cmdBatch(ops: readonly BatchOp[], deadlineMs = 0): Promise<BatchOutcome> {
    assertBeforeDeadline(deadlineMs);
    const groups = new Map<number, { ops: BatchOp[]; positions: number[] }>();
    ops.forEach((op, position) => {
      const shard = this.pool.shardFor(op.key).id;
      let group = groups.get(shard);
      if (group === undefined) groups.set(shard, (group = { ops: [], positions: [] }));
      group.ops.push(op);
      group.positions.push(position);
    });
    const results: (BatchResult | MantisError)[] = new Array(ops.length);
    let firstError: MantisError | null = null;
    await Promise.all(
      [...groups].map(async ([shard, group]) => {
        try {
          const response = await callWrite(this.pool.shards[shard], { kind: 'batch', ops: group.ops }, deadlineMs);
          if (response.kind !== 'results') unexpected(response);
          group.positions.forEach((position, i) => (results[position] = response.results[i]));
        } catch (error) {
          const failure = error instanceof MantisError ? error : new MantisError('INTERNAL', String(error));
          firstError ??= failure;
          for (const position of group.positions) results[position] = failure;
        }
      }),
    );
    return { results, error: firstError };
  }
}

/**
 * Sends a plain write. A shard answers txn-locked, applying nothing, when a key written is held by
 * a committing transaction (between its prepare and its decision, usually a few ms): the write is
 * sent again with backoff until the key is free, within the deadline and at most
 * LIMITS.txn_locked_wait_ms_max, then refused with TXN_CONFLICT.
 */
export async function callWrite(shard: ShardClient, request: ShardRequest, deadlineMs: number): Promise<ShardResponse> {
  const started = Date.now();
  let waitMs = 1;
  for (;;) {
    const response = await shard.call(request, deadlineMs);
    if (response.kind !== 'txn-locked') return response;
    const now = Date.now();
    if (now - started + waitMs > LIMITS.txn_locked_wait_ms_max || (deadlineMs !== 0 && now + waitMs >= deadlineMs)) {
      const key = Buffer.from(response.key).toString('utf8');
      throw new MantisError('TXN_CONFLICT', `key "${key}" is held by committing transaction ${response.txnId}; the write waited ${now - started} ms and was not applied`, { key, reason: 'locked' });
    }
    await sleep(waitMs);
    waitMs = Math.min(waitMs * 2, LIMITS.txn_locked_backoff_ms_max);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The cached entry, or null (go to the ring). A request already past its
 * deadline is refused first, as ShardClient.call would, so a hit never
 * answers what the ring path would have refused.
 */
function cachedHit(shard: ShardClient, key: Uint8Array, deadlineMs: number, borrow = false): CacheHit | null {
  const nowMs = Date.now();
  if (deadlineMs !== 0 && nowMs >= deadlineMs) throw deadlineExceeded('before it was sent to a shard');
  return shard.cachedGet(key, cacheHash(key), nowMs, borrow);
}

/** A scatter is refused whole when its deadline has passed, so no part of it is applied. */
function assertBeforeDeadline(deadlineMs: number): void {
  if (deadlineMs !== 0 && Date.now() >= deadlineMs) throw deadlineExceeded('before it was sent to the shards');
}

/** k-way merge of sorted key lists (byte order), small k. */
export function mergeSorted(lists: Uint8Array[][]): Uint8Array[] {
  if (lists.length === 1) return lists[0];
  const out: Uint8Array[] = [];
  const at = lists.map(() => 0);
  for (;;) {
    let best = -1;
    for (let i = 0; i < lists.length; i++) {
      if (at[i] < lists[i].length && (best < 0 || Buffer.compare(lists[i][at[i]], lists[best][at[best]]) < 0)) best = i;
    }
    if (best < 0) return out;
    out.push(lists[best][at[best]++]);
  }
}
