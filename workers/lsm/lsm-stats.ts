// What an LSM store counts for metrics, the storage benchmark and /health/ready.

export type StorageFailure = {
  readonly code: 'STORAGE_FULL' | 'STORAGE_IO';
  readonly message: string;
  /** Free bytes the failed work needs before a retry makes sense (the probe waits for them). */
  readonly freeBytesNeeded: number;
};

export class LsmCounters {
  /** Key + value (+ content type) bytes the user wrote: the denominator of write amplification. */
  userBytes = 0;
  flushes = 0;
  flushBytes = 0;
  compactions = 0;
  trivialMoves = 0;
  compactionBytesRead = 0;
  /** Table bytes written by flushes and compactions (the WAL is counted apart). */
  diskBytesWritten = 0;
  /** Checksum failures seen by reads, flushes or compactions. */
  corruptions = 0;
}
