// The main thread's end of the invalidation channel: hears every shard's
// events, hands them to internal listeners (dependency cascades) and to
// subscribers filtered by key prefix (the WebSocket and SSE streams), and
// carries main-thread events (hit-rate warnings) to the same subscribers.
// Shards post only while the shared interest count is above zero.

import { BroadcastChannel } from 'node:worker_threads';
import { INVALIDATION_CHANNEL, Interest, decodeEvents, type InvalidationEvent, type InvalidationMessage } from '../../shared/cache/invalidation.js';

export type HitRateWarning = {
  readonly type: 'warning';
  readonly reason: 'low_hit_rate';
  readonly shard: number;
  /** The hit rate over the window (0..1). */
  readonly hit_rate: number;
  readonly threshold: number;
  readonly window_s: number;
  readonly ts: number;
};

/**
 * A shard thread died and was restarted: its cache segment is cleared, and its cache-only keys and
 * write-back writes not yet in the WAL are gone. No per-key events can be sent for them, so every
 * subscriber is told to drop what it holds and resync.
 */
export type ShardReset = {
  readonly type: 'reset';
  readonly reason: 'shard_restart';
  readonly shard: number;
  readonly ts: number;
};

export type StreamEvent = ({ readonly type: 'invalidation' } & InvalidationEvent) | HitRateWarning | ShardReset;

/** Gets each event a subscription asks for, in order (per key, the order the shard applied them). */
export type Subscriber = (event: StreamEvent) => void;

type Subscription = { readonly prefix: string; readonly deliver: Subscriber };

export class InvalidationHub {
  private readonly channel = new BroadcastChannel(INVALIDATION_CHANNEL);
  private readonly interest: Int32Array;
  private readonly subscriptions = new Set<Subscription>();
  private readonly internal = new Set<(shard: number, events: readonly InvalidationEvent[]) => void>();
  private internalInterest = 0;

  constructor(interest: SharedArrayBuffer) {
    this.interest = new Int32Array(interest);
    this.channel.onmessage = (message: unknown) => this.receive((message as { data: InvalidationMessage }).data);
    // The channel must not keep the process alive on its own.
    this.channel.unref();
  }

  /** Delivers every invalidation whose key starts with `prefix` ('' = all) and every warning. */
  subscribe(prefix: string, deliver: Subscriber): () => void {
    const subscription = { prefix, deliver };
    this.subscriptions.add(subscription);
    this.updateInterest();
    return () => {
      if (this.subscriptions.delete(subscription)) this.updateInterest();
    };
  }

  /** Internal listener (the dependency cascade): sees every shard event batch. */
  onEvents(listener: (shard: number, events: readonly InvalidationEvent[]) => void): void {
    this.internal.add(listener);
  }

  /** Internal listeners that need events even with no subscriber (dependencies exist). */
  setInternalInterest(wanted: boolean): void {
    this.internalInterest = wanted ? 1 : 0;
    this.updateInterest();
  }

  /** A main-thread event (hit-rate warning): to every subscriber. */
  publishWarning(warning: HitRateWarning): void {
    for (const s of this.subscriptions) this.deliver(s, warning);
  }

  /** A shard restarted (see ShardReset): to every subscriber, whatever its prefix. */
  publishReset(shard: number): void {
    const reset: ShardReset = { type: 'reset', reason: 'shard_restart', shard, ts: Date.now() };
    for (const s of this.subscriptions) this.deliver(s, reset);
  }

  close(): void {
    this.subscriptions.clear();
    this.updateInterest();
    this.channel.close();
  }

  private receive(message: InvalidationMessage): void {
    const events = decodeEvents(message.events);
    for (const listener of this.internal) listener(message.shard, events);
    if (this.subscriptions.size === 0) return;
    for (const event of events) {
      const streamed: StreamEvent = { type: 'invalidation', key: event.key, reason: event.reason, ts: event.ts };
      for (const s of this.subscriptions) if (event.key.startsWith(s.prefix)) this.deliver(s, streamed);
    }
  }

  private deliver(s: Subscription, event: StreamEvent): void {
    s.deliver(event);
  }

  private updateInterest(): void {
    Atomics.store(this.interest, Interest.listeners, this.subscriptions.size + this.internalInterest);
  }
}
