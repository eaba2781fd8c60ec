// The piscina pool for stateless heavy work (LSM flushes and compactions
// today). It lives on the main thread; each shard reaches it through its own
// MessagePort: {id, task} in, {id, result} or {id, error} out. The router
// never looks inside a task. Buffers a task carries are transferred, not copied.

import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { LIMITS } from '../../shared/limits.js';

// Compiled layout: dist/src/pool/task-pool.js → dist/workers/pool/pool-main.js
const POOL_ENTRY = fileURLToPath(new URL('../../workers/pool/pool-main.js', import.meta.url));

type TaskMessage = { readonly id: number; readonly task: unknown; readonly transfer: readonly ArrayBuffer[] };

export class TaskPool {
  private readonly pool: Piscina;

  /** One thread per two cores (at least one): shards keep the other cores. */
  constructor(threads = Math.max(1, Math.floor(availableParallelism() / 2))) {
    this.pool = new Piscina({
      filename: POOL_ENTRY,
      minThreads: 1,
      maxThreads: threads,
      idleTimeout: 30_000,
      resourceLimits: { maxYoungGenerationSizeMb: LIMITS.worker_young_generation_mb },
    });
  }

  get threads(): number {
    return this.pool.threads.length;
  }

  /** Answers the tasks a shard posts on `port` until the port closes. */
  serve(port: MessagePort): void {
    port.on('message', (message: TaskMessage) => {
      this.pool.run(message.task, { transferList: [...message.transfer] }).then(
        (result: unknown) => port.postMessage({ id: message.id, result }),
        (error: unknown) => port.postMessage({ id: message.id, error: error instanceof Error ? error.message : String(error) }),
      );
    });
    port.on('close', () => port.removeAllListeners());
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
