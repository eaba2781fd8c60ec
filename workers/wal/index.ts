// Public surface of the per-shard write-ahead log (runs inside a shard worker).
// Import from here, not from the files: replay at startup, then a WalWriter for appends.
export { WAL_HEADER_BYTES, WAL_RECORD_BYTES_MAX, decodeNext, encodeRecords } from './wal-record.js';
export type { WalDecodeResult, WalRecordInput } from './wal-record.js';
export { replayWal } from './wal-replay.js';
export type { WalRecordHandler } from './wal-replay.js';
export { WalWriter } from './wal-writer.js';
export type { WalAppendRecord, WalWriterStats } from './wal-writer.js';
export { WalError, WAL_ERROR_CODES } from './wal-error.js';
export type { WalErrorCode } from './wal-error.js';
export { segmentFileName, WAL_SEGMENT_SUFFIX, WAL_DROPPED_SUFFIX } from './wal-segment.js';
export type { ReplayResult, WalFsyncPolicy, WalLog, WalMetricsSink, WalOptions } from './wal-types.js';
