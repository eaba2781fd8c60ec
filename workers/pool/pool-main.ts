// Entry point of a piscina pool thread: stateless tasks in, results out.
// Each task carries everything it needs and is dispatched by its kind: the
// LSM's flush and compaction (workers/lsm/lsm-tasks.ts), and the building of
// a table segment (workers/tables/segment-task.ts).

import { runLsmTask, type LsmTask, type LsmTaskResult } from '../lsm/index.js';
import { runSegmentTask, type SegmentTask, type SegmentTaskResult } from '../tables/segment-task.js';

export type PoolTask = LsmTask | SegmentTask;
export type PoolTaskResult = LsmTaskResult | SegmentTaskResult;

export default function runTask(task: PoolTask): PoolTaskResult {
  if (task.kind === 'table-segment') return runSegmentTask(task);
  return runLsmTask(task);
}
