// Entry point of a piscina pool thread: stateless tasks in, results out.
// Each task carries everything it needs (see workers/lsm/lsm-tasks.ts).

import { runLsmTask, type LsmTask, type LsmTaskResult } from '../lsm/index.js';

export default function runTask(task: LsmTask): LsmTaskResult {
  return runLsmTask(task);
}
