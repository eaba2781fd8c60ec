// Keep-alive connections to one origin whose number adapts to demand.
//
// undici's Pool has a fixed `connections` cap and never closes a connection
// because it is idle, so this pool manages undici Client objects itself, one
// HTTP/1.1 connection each (pipelining 1, so a connection is busy with at
// most one request):
// - acquire() takes the most recently used idle connection (LIFO, so under
//   light load the same few stay hot and the rest go idle);
// - with none idle and fewer than `max`, it opens a new one (grow);
// - at `max`, the call waits in a FIFO queue (bounded by `queueMax`);
// - a reaper, running only while there are more than `min`, closes
//   connections idle for longer than `idleTimeoutMs` (shrink);
// - a connection whose request failed at the transport level is discarded.

import { Client } from 'undici';
import { clientError, type MantisClientError } from './client-error.js';

export type PoolOptions = {
  readonly min: number;
  readonly max: number;
  readonly idleTimeoutMs: number;
  readonly queueMax: number;
  readonly connectTimeoutMs: number;
};

export type PoolStats = {
  /** Connections the pool holds (busy + idle). */
  readonly connections: number;
  readonly busy: number;
  readonly idle: number;
  /** Calls waiting for a connection. */
  readonly queued: number;
};

export type PoolEvents = {
  onOpen(): void;
  onClose(reason: 'idle' | 'broken' | 'closed'): void;
  onChange(stats: PoolStats): void;
};

export type Connection = {
  readonly id: number;
  readonly client: Client;
  idleSince: number;
};

type Waiter = {
  resolve(connection: Connection): void;
  reject(error: MantisClientError): void;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: () => void;
};

export class AdaptivePool {
  private readonly idle: Connection[] = [];
  private readonly busy = new Set<Connection>();
  private readonly waiters: Waiter[] = [];
  private reaper: NodeJS.Timeout | null = null;
  private nextId = 1;
  private closed = false;

  constructor(
    private readonly origin: string,
    private readonly options: PoolOptions,
    private readonly events: PoolEvents,
  ) {}

  stats(): PoolStats {
    const busy = this.busy.size;
    const idle = this.idle.length;
    return { connections: busy + idle, busy, idle, queued: this.waiters.length };
  }

  /**
   * A connection for one request; give it back with release().
   * REQUIRES: failure() gives the error to reject with when signal aborts.
   */
  acquire(signal: AbortSignal | undefined, failure: () => MantisClientError): Promise<Connection> {
    if (this.closed) return Promise.reject(clientError('CLIENT_CLOSED', 'the client is closed', 'client'));
    if (signal?.aborted) return Promise.reject(failure());
    const ready = this.idle.pop() ?? (this.size() < this.options.max ? this.open() : null);
    if (ready !== null) {
      this.busy.add(ready);
      this.changed();
      return Promise.resolve(ready);
    }
    if (this.waiters.length >= this.options.queueMax) {
      return Promise.reject(clientError('POOL_QUEUE_FULL', `${this.waiters.length} calls already wait for a connection (pool.queueMax)`, 'client'));
    }
    return this.enqueue(signal, failure);
  }

  /** Gives a connection back. A broken one (its request failed in transport) is closed. */
  release(connection: Connection, broken: boolean): void {
    if (!this.busy.delete(connection)) return;
    if (broken || this.closed) {
      this.discard(connection, broken ? 'broken' : 'closed');
      this.serveWaiter(null);
    } else {
      this.serveWaiter(connection);
    }
    this.changed();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stopReaper();
    for (const waiter of this.waiters.splice(0)) waiter.reject(clientError('CLIENT_CLOSED', 'the client is closed', 'client'));
    const all = [...this.idle.splice(0), ...this.busy];
    this.busy.clear();
    this.changed();
    await Promise.all(all.map((c) => this.discard(c, 'closed')));
  }

  private size(): number {
    return this.idle.length + this.busy.size;
  }

  private open(): Connection {
    const client = new Client(this.origin, {
      pipelining: 1,
      connectTimeout: this.options.connectTimeoutMs,
      // The reaper decides when an idle connection closes, not the socket timer.
      keepAliveTimeout: Math.max(this.options.idleTimeoutMs * 2, 4000),
    });
    this.events.onOpen();
    return { id: this.nextId++, client, idleSince: performance.now() };
  }

  private discard(connection: Connection, reason: 'idle' | 'broken' | 'closed'): Promise<void> {
    this.events.onClose(reason);
    return connection.client.destroy().catch(() => undefined);
  }

  private enqueue(signal: AbortSignal | undefined, failure: () => MantisClientError): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const at = this.waiters.indexOf(waiter);
          if (at >= 0) this.waiters.splice(at, 1);
          this.changed();
          reject(failure());
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.waiters.push(waiter);
      this.changed();
    });
  }

  /** Hands a free connection (or a new one, if one was discarded) to the oldest waiter, else parks it idle. */
  private serveWaiter(free: Connection | null): void {
    const waiter = this.waiters.shift();
    if (waiter === undefined) {
      if (free !== null) this.park(free);
      return;
    }
    waiter.signal?.removeEventListener('abort', waiter.onAbort);
    const connection = free ?? this.open();
    this.busy.add(connection);
    waiter.resolve(connection);
  }

  private park(connection: Connection): void {
    connection.idleSince = performance.now();
    this.idle.push(connection);
    if (this.size() > this.options.min) this.startReaper();
  }

  private startReaper(): void {
    if (this.reaper !== null) return;
    const every = Math.max(10, Math.floor(this.options.idleTimeoutMs / 2));
    this.reaper = setInterval(() => this.reap(), every);
    this.reaper.unref();
  }

  private stopReaper(): void {
    if (this.reaper !== null) clearInterval(this.reaper);
    this.reaper = null;
  }

  /** Closes the longest-idle connections past idleTimeoutMs, down to min. */
  private reap(): void {
    const cutoff = performance.now() - this.options.idleTimeoutMs;
    let reaped = false;
    // idle is ordered by release time: index 0 has been idle longest.
    while (this.idle.length > 0 && this.size() > this.options.min && this.idle[0].idleSince <= cutoff) {
      void this.discard(this.idle.shift() as Connection, 'idle');
      reaped = true;
    }
    if (this.size() <= this.options.min) this.stopReaper();
    if (reaped) this.changed();
  }

  private changed(): void {
    this.events.onChange(this.stats());
  }
}
