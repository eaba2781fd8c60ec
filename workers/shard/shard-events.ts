// A shard's invalidation events (shared/cache/invalidation.ts), collected
// while a batch is applied and posted once at its end: one BroadcastChannel
// message per drained ring batch, never one per key. Nothing is collected
// while nobody listens (the shared interest word is read once per batch).

import { BroadcastChannel } from 'node:worker_threads';
import { INVALIDATION_CHANNEL, Interest, encodeEvents, type InvalidationEvent, type InvalidationMessage, type InvalidationReason } from '../../shared/cache/invalidation.js';

/** Events held before a post at most; a larger batch posts in several messages. */
const EVENTS_PER_MESSAGE_MAX = 4096;

export class ShardEvents {
  private readonly channel = new BroadcastChannel(INVALIDATION_CHANNEL);
  private readonly interest: Int32Array;
  private pending: InvalidationEvent[] = [];
  /** Whether events are being collected in the current batch. */
  active = false;

  constructor(
    private readonly shard: number,
    interest: SharedArrayBuffer,
  ) {
    this.interest = new Int32Array(interest);
    this.channel.unref();
  }

  /** Reads the interest word: call at the start of each batch (and each maintenance tick). */
  refresh(): boolean {
    this.active = Atomics.load(this.interest, Interest.listeners) > 0;
    return this.active;
  }

  /** REQUIRES: the key's UTF-8 bytes. No-op unless active. */
  emit(key: Uint8Array, reason: InvalidationReason, ts: number): void {
    if (!this.active) return;
    this.pending.push({ key: Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('utf8'), reason, ts });
    if (this.pending.length >= EVENTS_PER_MESSAGE_MAX) this.post();
  }

  /** Posts what the batch collected. */
  post(): void {
    if (this.pending.length === 0) return;
    const message: InvalidationMessage = { shard: this.shard, events: encodeEvents(this.pending) };
    this.channel.postMessage(message);
    this.pending = [];
  }

  close(): void {
    this.post();
    this.channel.close();
  }
}
