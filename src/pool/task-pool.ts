// The piscina pools for stateless heavy work (LSM flushes and compactions
// today). They live on the main thread; each shard reaches them through its
// own MessagePort: {id, lane, task} in, {id, result} or {id, error} out. The
// router never looks inside a task. Buffers a task carries are transferred.
// Two lanes, as LevelDB flushes its immutable memtable in the middle of a
// compaction: a flush (which writers may be waiting for) never queues behind
// a long compaction.

import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { LIMITS } from '../../shared/limits.js';

// Compiled layout: dist/src/pool/task-pool.js → dist/workers/pool/pool-main.js
const POOL_ENTRY = fileURLToPath(new URL('../../workers/pool/pool-main.js', import.meta.url));

export type TaskLane = 'urgent' | 'background';

type TaskMessage = { readonly id: number; readonly lane: TaskLane; readonly task: unknown; readonly transfer: readonly ArrayBuffer[] };

function createPool(maxThreads: number): Piscina {
  return new Piscina({
    filename: POOL_ENTRY,
    minThreads: 1,
    maxThreads,
    idleTimeout: 30_000,
    resourceLimits: { maxYoungGenerationSizeMb: LIMITS.worker_young_generation_mb },
  });
}

export class TaskPool {
  private readonly lanes: Record<TaskLane, Piscina>;

  /** Urgent work (flushes) gets one thread; background work (compactions) one per two cores. */
  constructor(backgroundThreads = Math.max(1, Math.floor(availableParallelism() / 2))) {
    this.lanes = { urgent: createPool(1), background: createPool(backgroundThreads) };
  }

  /** Answers the tasks a shard posts on `port` until the port closes. */
  serve(port: MessagePort): void {
    port.on('message', (message: TaskMessage) => {
      const pool = this.lanes[message.lane] ?? this.lanes.background;
      pool.run(message.task, { transferList: [...message.transfer] }).then(
        (result: unknown) => port.postMessage({ id: message.id, result }),
        (error: unknown) => port.postMessage({ id: message.id, error: error instanceof Error ? error.message : String(error) }),
      );
    });
    port.on('close', () => port.removeAllListeners());
  }

  async close(): Promise<void> {
    await Promise.all([this.lanes.urgent.destroy(), this.lanes.background.destroy()]);
  }
}
