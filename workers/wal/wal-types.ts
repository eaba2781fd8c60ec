// Contract types shared by WAL replay and the WAL writer (both run inside a shard worker).
// Kept apart so replay does not depend on the writer and vice versa.

export type WalLog = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

export interface WalMetricsSink {
  onWrite(bytes: number): void;
  onFsync(durationMs: number): void;
}

export type WalFsyncPolicy = 'always' | 'batch' | 'none';

export interface WalOptions {
  dir: string;
  /** When a write counts as durable: after its own fdatasync, within fsyncBatchMs, or at once. */
  fsync: WalFsyncPolicy;
  fsyncBatchMs: number;
  /** A segment rolls once it reaches this size (the batch that crosses it still lands whole). */
  segmentBytesMax: number;
  metrics?: WalMetricsSink;
  log?: WalLog;
  /**
   * Keep retired segments here (point-in-time recovery) instead of deleting them, and put the
   * active segment here too at close. Same file system: a hard link; another one: a copy.
   */
  archiveDir?: string;
}

export interface ReplayResult {
  /** Segment files read (the truncated one included, dropped ones not). */
  segments: number;
  records: number;
  /** Bytes of valid records replayed. */
  bytes: number;
  /** LSN of the last valid record; 0 for an empty log. */
  lastLsn: number;
  /** Highest segment number present in the directory, dropped ones included, so it is never reused. */
  lastSegment: number;
  truncated: null | { segment: string; offset: number; droppedBytes: number; reason: string };
}
