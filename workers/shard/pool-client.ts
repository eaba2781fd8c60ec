// The shard's side of the task pool: posts a task on its pool port and
// resolves when the main thread relays the pool's answer.

import type { MessagePort } from 'node:worker_threads';

type Reply = { readonly id: number; readonly result?: unknown; readonly error?: string };

export class PoolClient {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: unknown) => void; reject: (e: Error) => void }>();

  constructor(private readonly port: MessagePort) {
    port.on('message', (reply: Reply) => {
      const p = this.pending.get(reply.id);
      if (p === undefined) return;
      this.pending.delete(reply.id);
      if (reply.error !== undefined) p.reject(new Error(`pool task failed: ${reply.error}`));
      else p.resolve(reply.result);
    });
    // Tasks are background work: they must not keep a finished shard alive.
    port.unref();
  }

  /** lane 'urgent' for work writers may wait for (flushes), 'background' for the rest. */
  run<R>(task: unknown, transfer: ArrayBuffer[], lane: 'urgent' | 'background'): Promise<R> {
    const id = this.nextId++;
    return new Promise<R>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (r: unknown) => void, reject });
      this.port.postMessage({ id, lane, task, transfer }, transfer);
    });
  }
}
