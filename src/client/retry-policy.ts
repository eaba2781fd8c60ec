// When to try a call again, and how long to wait first. Only errors that say
// so are retried: the server's `retryable: true` (503 SHARD_UNAVAILABLE,
// SHARD_BUSY, SHUTTING_DOWN) and a failed connection. Never CIRCUIT_OPEN
// (failing fast is the point) and never when the wait would outlast the
// budget. Every KV operation is idempotent (put sets, delete removes), so
// sending one again after a broken connection is safe.

import type { MantisClientError } from './client-error.js';

export type RetryOptions = {
  /** Attempts in all, the first included (1 = never retry). */
  readonly attempts: number;
  /** The first backoff's upper bound; it doubles per retry. */
  readonly baseDelayMs: number;
  /** No backoff is longer than this. */
  readonly maxDelayMs: number;
};

/** "Full jitter" backoff: uniform in [0, min(max, base * 2^(retry-1))]. */
export function backoffMs(retry: number, options: RetryOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (retry - 1));
  return Math.floor(random() * ceiling);
}

/**
 * REQUIRES: attempt counts from 1 (the attempt that just failed).
 * ENSURES: true only if another attempt may start within the remaining budget.
 */
export function shouldRetry(error: MantisClientError, attempt: number, attempts: number, waitMs: number, remainingMs: number): boolean {
  if (!error.retryable || error.code === 'CIRCUIT_OPEN') return false;
  return attempt < attempts && waitMs < remainingMs;
}
