// The shared-memory counters a shard writes and the router's prom-client
// collect() reads (no messages for metrics). One Float64Array per shard; the
// shard is the only writer, so plain stores suffice. The router owns the
// buffer and hands the same one to a restarted shard so counters stay monotonic.

export const FSYNC_BUCKETS_MS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 1000] as const;

export const ShardMetric = Object.freeze({
  ops_get: 0,
  ops_head: 1,
  ops_put: 2,
  ops_delete: 3,
  ops_list: 4,
  ops_batch: 5,
  ops_batch_items: 6,
  ops_error: 7,
  batches_drained: 8,
  frames_drained: 9,
  wal_bytes: 10,
  wal_writes: 11,
  fsync_count: 12,
  fsync_seconds_sum: 13,
  keys: 14,
  memtable_bytes: 15,
  replay_dropped_bytes: 16,
  storage_failed: 17,
  restarts: 18,
  ttl_expired: 19,
  write_stalls: 20,
  corrupt_reads: 21,
  lsm_flushes: 22,
  lsm_compactions: 23,
  lsm_tables: 24,
  lsm_level0_tables: 25,
  lsm_table_bytes: 26,
  lsm_user_bytes: 27,
  lsm_disk_bytes_written: 28,
  lsm_compaction_bytes_read: 29,
  lsm_memory_bytes: 30,
  block_cache_bytes: 31,
  block_cache_hits: 32,
  block_cache_misses: 33,
  blocks_read: 34,
  disk_wal_bytes: 35,
  disk_free_bytes: 36,
  lsm_corruptions: 37,
  lsm_quarantined_tables: 38,
  write_back_flushes: 39,
  /** Write-back requests acknowledged and not yet handed to the WAL. */
  write_back_pending: 40,
  /** Requests refused because their Mantis-Deadline-Ms passed before the shard started them. */
  deadline_exceeded: 41,
  /** Transactions (workers/txn/txn-participant.ts): the version store's keys, older versions and bytes (gauges). */
  txn_version_keys: 42,
  txn_versions: 43,
  txn_version_bytes: 44,
  /** Intents held: write intents (keys), read intents (keys) and range intents (prefixes) (gauge). */
  txn_intents: 45,
  /** One-shard commits (txn-commit) applied. */
  txn_commits: 46,
  /** Prepares voted yes (txn-prepare). */
  txn_prepares: 47,
  /** Decisions applied to a transaction prepared here: commit, abort. */
  txn_decided_commit: 48,
  txn_decided_abort: 49,
  /** Validations refused (txn-commit and txn-prepare), by reason. */
  txn_conflicts_write: 50,
  txn_conflicts_read: 51,
  txn_conflicts_range: 52,
  txn_conflicts_locked: 53,
  /** Always last: the fsync histogram's buckets follow. */
  fsync_bucket_base: 54,
});

export const SHARD_METRIC_SLOTS = ShardMetric.fsync_bucket_base + FSYNC_BUCKETS_MS.length + 1;

export function createShardMetrics(): SharedArrayBuffer {
  return new SharedArrayBuffer(SHARD_METRIC_SLOTS * 8);
}
