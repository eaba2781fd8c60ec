// Cache invalidation events: what every thread agrees on. A shard emits an
// event for every change of a key it owns (write, delete, TTL expiry,
// eviction, dependency cascade, explicit invalidation) in the order it
// applied them, batched per drained ring batch, on one BroadcastChannel that
// every thread can open. The main thread's InvalidationHub (src/cache) fans
// them out to WebSocket and SSE subscribers and runs dependency cascades.
// Shards post only while someone listens: the hub keeps a count in a shared
// Int32 (`interest`), read by the shard once per batch.

export const INVALIDATION_CHANNEL = 'mantisdb:cache-invalidations';

export const INVALIDATION_REASONS = ['write', 'delete', 'ttl', 'eviction', 'cascade', 'explicit'] as const;
export type InvalidationReason = (typeof INVALIDATION_REASONS)[number];

export type InvalidationEvent = {
  readonly key: string;
  readonly reason: InvalidationReason;
  /** ms since the epoch, when the shard applied the change. */
  readonly ts: number;
};

/**
 * One BroadcastChannel message: a shard's events in the order it applied them, as one JSON string
 * of [key, reason index, ts] triples. Every thread with the channel open receives (and clones)
 * every message, shards included: one string clones far cheaper than an array of objects.
 */
export type InvalidationMessage = {
  readonly shard: number;
  readonly events: string;
};

export function encodeEvents(events: readonly InvalidationEvent[]): string {
  return JSON.stringify(events.map((e) => [e.key, INVALIDATION_REASONS.indexOf(e.reason), e.ts]));
}

/** REQUIRES: text from encodeEvents (a message from our own shards). */
export function decodeEvents(text: string): InvalidationEvent[] {
  const rows = JSON.parse(text) as [string, number, number][];
  return rows.map(([key, reason, ts]) => ({ key, reason: INVALIDATION_REASONS[reason], ts }));
}

/** Int32 slots of the shared interest word. */
export const Interest = {
  /** > 0: post events (subscribers + internal listeners such as dependency cascades). */
  listeners: 0,
  slots: 1,
} as const;

export function createInterest(): SharedArrayBuffer {
  return new SharedArrayBuffer(Interest.slots * Int32Array.BYTES_PER_ELEMENT);
}

export function isInvalidationReason(value: unknown): value is InvalidationReason {
  return typeof value === 'string' && (INVALIDATION_REASONS as readonly string[]).includes(value);
}
