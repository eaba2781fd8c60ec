// Every limit MantisDB enforces, in one place, units last (TigerBeetle style).
// Router and shards both load this file; a limit crossed by a client is
// answered with the error code named beside it.

export const LIMITS = Object.freeze({
  /** Keys hash to one of this many slots; slots map to shards (as Redis Cluster). */
  slot_count: 16384,
  /** KEY_TOO_LARGE when crossed (after percent-decoding, in UTF-8 bytes). */
  key_bytes_max: 1024,
  /** INVALID_CONTENT_TYPE when crossed. */
  content_type_bytes_max: 255,
  /** Default of --max-value-bytes; VALUE_TOO_LARGE (413) when crossed. */
  value_bytes_max_default: 16 * 1024 * 1024,
  /** Upper bound accepted for --max-value-bytes: one value must fit one WAL record (64 MiB + 64 KiB). */
  value_bytes_max_ceiling: 64 * 1024 * 1024,
  /** The writes of one request must fit one WAL record; VALUE_TOO_LARGE beyond (a batch of many big puts). */
  request_write_bytes_max: 64 * 1024 * 1024,
  /** Body of JSON routes (batch): BODY_TOO_LARGE when crossed. */
  json_body_overhead_bytes: 1024 * 1024,
  /** BATCH_TOO_LARGE when crossed. */
  batch_ops_max: 1000,
  /** per_page is capped here; INVALID_PARAMETER above it. */
  list_limit_max: 1000,
  list_limit_default: 100,
  /** INVALID_PARAMETER above it (offset paging costs O(offset); use cursors). */
  list_offset_max: 100_000,
  /** INVALID_TTL above it (10 years). */
  ttl_seconds_max: 10 * 365 * 24 * 3600,
  /** Bytes of one shard ring (per direction); power of two. */
  ring_bytes: 4 * 1024 * 1024,
  /** Requests queued for one shard beyond what its ring holds; SHARD_BUSY (503) beyond. */
  shard_queue_bytes_max: 256 * 1024 * 1024,
  shard_queue_requests_max: 100_000,
  /** Frames a shard drains before yielding to its event loop. */
  batch_frames_max: 4096,
  /** WAL segment size before rolling to the next file. */
  wal_segment_bytes_max: 64 * 1024 * 1024,
  /** How long a shard may take to replay its WAL and report ready. */
  shard_start_timeout_ms: 120_000,
  /** Graceful shutdown waits this long for in-flight requests. */
  shutdown_drain_timeout_ms: 10_000,
  /** TTL sweeper: interval and the most entries one sweep may remove. */
  ttl_sweep_interval_ms: 250,
  ttl_sweep_entries_max: 2000,
  /** Writes held during an LSM write stall are answered SHARD_BUSY (503, retryable) after this long. */
  write_stall_max_ms: 5_000,
  /** While storage is failed, a shard probes the disk this often to resume writes. */
  storage_probe_interval_ms: 1_000,
  /** The probe resumes writes only with at least this much free space (besides a test write that must succeed). */
  storage_probe_free_bytes_min: 4 * 1024 * 1024,
  /** V8 young generation of shard and pool threads: garbage is scavenged before it inflates RSS. */
  worker_young_generation_mb: 8,
  /**
   * V8 old generation of a shard thread. Past it the shard thread alone is terminated (and restarted,
   * answering SHARD_UNAVAILABLE meanwhile) instead of V8's heap-limit abort taking the whole process.
   */
  shard_old_generation_mb: 4096,
  /** Upper bound of --cache-mb (the whole process; each shard's segment is at most 1 GiB of logical bytes). */
  cache_mb_max: 256 * 1024,
  /**
   * Cache index slots one sweep tick may examine, removals included: a few ms at most (about 1 µs
   * per removal). A 64 MiB cache on 2 shards is swept whole in about 20 s; reads check TTLs anyway.
   */
  cache_sweep_slots_max: 4096,
  /** Mantis-Deadline-Ms above this (one day) is INVALID_PARAMETER. */
  deadline_budget_ms_max: 86_400_000,
  /** How often a shard publishes its storage gauges (disk usage, free space, levels). */
  storage_stats_interval_ms: 1_000,
  /**
   * Bytes an invalidation subscriber (WebSocket or SSE) may fall behind: beyond it the stream is
   * cut (WebSocket close 1008), never thinned, so the client knows to resubscribe and resync.
   */
  cache_stream_backlog_bytes_max: 4 * 1024 * 1024,
  /** A WebSocket control message above this is INVALID_PARAMETER (the socket stays open). */
  cache_stream_message_bytes_max: 4096,
  /** Prefixes one WebSocket may hold at once; INVALID_PARAMETER beyond. */
  cache_stream_prefixes_max: 64,
  /**
   * Durable cache dependency edges (POST /api/v1/cache/dependencies); DEPENDENCY_LIMIT (507)
   * beyond. They live in main-thread memory: 1M edges measured ~350 MB of heap and 1.5 s to reopen.
   */
  cache_dependencies_max: 200_000,
  /**
   * Cache index slots one slice of an invalidation by prefix examines: ~65k slots hold a shard for
   * a few ms; the router sends slices until the whole index is covered.
   */
  cache_invalidate_slots_max: 65_536,
  /** Keys with tags (PUT ?tags=) held in the main thread's tag index; TAG_LIMIT (507) beyond. */
  cache_tagged_keys_max: 1_000_000,
  /**
   * Transactions. A plain write of a key a committing transaction holds is retried (backoff up to
   * txn_locked_backoff_ms_max) for at most this long, then TXN_CONFLICT (409); a snapshot read of
   * such a key waits as long.
   */
  txn_locked_wait_ms_max: 5_000,
  txn_locked_backoff_ms_max: 20,
  /** POST /api/v1/txn timeout_ms (idle timeout): default and bound (INVALID_PARAMETER beyond). */
  txn_timeout_ms_default: 5_000,
  txn_timeout_ms_max: 600_000,
  /** Default of --txn-max-age-ms: a transaction older than this is aborted (TXN_SNAPSHOT_TOO_OLD). */
  txn_max_age_ms_default: 60_000,
  /** Open transactions at once; TXN_LIMIT (503, retryable) beyond. */
  txn_active_max: 100_000,
  /** Ended transactions remembered, so a late commit/rollback gets 410/409 rather than 404. */
  txn_ended_remembered: 100_000,
  /** Distinct keys one transaction may write; INVALID_PARAMETER beyond. */
  txn_writes_max: 10_000,
  /** Operations and conditions of one POST /api/v1/txn/execute; BATCH_TOO_LARGE beyond. */
  txn_execute_items_max: 1000,
  /**
   * Admission control (src/http/overload.ts). A request arriving while this many are already in
   * flight at the listener is shed: 503 OVERLOADED (retryable, Retry-After: 1), before any work.
   * Health, Prometheus and metrics routes are never shed. Env override: MANTIS_OVERLOAD_INFLIGHT_MAX.
   */
  overload_inflight_max: 4096,
  /**
   * Main-thread event-loop lag (timer drift, probed every overload_probe_interval_ms) that puts the
   * listener under pressure when overload_lag_samples probes within overload_lag_window_ms see at
   * least this much; released once every probe for overload_lag_release_ms saw less than half of it.
   * Env: MANTIS_OVERLOAD_LAG_MS.
   */
  overload_lag_ms: 250,
  overload_lag_samples: 2,
  overload_lag_window_ms: 2_000,
  overload_lag_release_ms: 1_000,
  overload_probe_interval_ms: 100,
  /**
   * Requests pending on the busiest shard (sent and not answered, queued included) that put the
   * listener under pressure; released below half of it. Env: MANTIS_OVERLOAD_SHARD_PENDING_MAX.
   */
  overload_shard_pending_max: 20_000,
  /** Under pressure, requests are shed only while at least this many are in flight (the excess). */
  overload_pressure_inflight_floor: 128,
});

export type Limits = typeof LIMITS;
