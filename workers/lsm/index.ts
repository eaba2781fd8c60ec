// The LSM tree of one shard: the store the shard actor uses, its tuning, and
// the pool task entry (runLsmTask) for flushes and compactions.
export { LsmStore, type LsmStoreOptions, type StorageFailure, type Undo } from './lsm-store.js';
export { tuningFromBudget, type LsmTuning, type LsmTuningOverrides } from './lsm-options.js';
export { runLsmTask, type LsmTask, type LsmTaskResult } from './lsm-tasks.js';
export { CorruptionError } from './sst-format.js';
