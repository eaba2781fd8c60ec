// The client's options, their defaults, and the checks made when a client is
// built (a bad option is a programming error: it throws at once).

import type { Registry } from 'prom-client';
import type { PoolOptions } from './adaptive-pool.js';
import type { BreakerOptions } from './request-breaker.js';
import type { RetryOptions } from './retry-policy.js';

export type MantisClientOptions = {
  /** The server, e.g. http://127.0.0.1:8080 (no path). */
  readonly url: string;
  /** The `client` label of this client's metrics. Default "default". */
  readonly name?: string;
  /** Default budget of a call, retries included. Default 5000 ms. */
  readonly timeoutMs?: number;
  /**
   * How long past its budget a call waits for the server's own 504
   * DEADLINE_EXCEEDED (which says for sure the request was not applied)
   * before giving up locally. Default 0: a call never outlasts its budget.
   */
  readonly deadlineGraceMs?: number;
  readonly pool?: Partial<PoolOptions>;
  /** false switches the breaker off. */
  readonly breaker?: Partial<BreakerOptions> | false;
  /** false: one attempt per call. */
  readonly retry?: Partial<RetryOptions> | false;
  /** Where to register the client's metrics; none are kept without one. */
  readonly registry?: Registry;
};

export type ResolvedOptions = {
  readonly origin: string;
  readonly name: string;
  readonly timeoutMs: number;
  readonly deadlineGraceMs: number;
  readonly pool: PoolOptions;
  readonly breaker: BreakerOptions | null;
  readonly retry: RetryOptions;
  readonly registry: Registry | null;
};

/** The server refuses a Mantis-Deadline-Ms budget above one day. */
export const CALL_TIMEOUT_MS_MAX = 86_400_000;

export const DEFAULTS = Object.freeze({
  timeoutMs: 5000,
  pool: { min: 1, max: 16, idleTimeoutMs: 5000, queueMax: 10_000, connectTimeoutMs: 2000 } satisfies PoolOptions,
  breaker: { errorThresholdPercentage: 50, volumeThreshold: 10, resetTimeoutMs: 1000, rollingWindowMs: 10_000 } satisfies BreakerOptions,
  retry: { attempts: 3, baseDelayMs: 25, maxDelayMs: 1000 } satisfies RetryOptions,
});

function check(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) throw new RangeError(`${name} must be an integer in ${min}..${max}, got ${value}`);
  return value;
}

export function checkTimeout(name: string, value: number): number {
  return check(name, value, 1, CALL_TIMEOUT_MS_MAX);
}

function origin(url: string): string {
  const parsed = new URL(url);
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new RangeError(`url must be http: or https:, got ${parsed.protocol}`);
  if (parsed.pathname !== '/' || parsed.search !== '') throw new RangeError(`url must have no path or query, got ${url}`);
  return parsed.origin;
}

export function resolveOptions(options: MantisClientOptions): ResolvedOptions {
  const pool = { ...DEFAULTS.pool, ...options.pool };
  check('pool.max', pool.max, 1, 10_000);
  check('pool.min', pool.min, 0, pool.max);
  check('pool.idleTimeoutMs', pool.idleTimeoutMs, 1, CALL_TIMEOUT_MS_MAX);
  check('pool.queueMax', pool.queueMax, 0, Number.MAX_SAFE_INTEGER);
  checkTimeout('pool.connectTimeoutMs', pool.connectTimeoutMs);
  const breaker = options.breaker === false ? null : { ...DEFAULTS.breaker, ...options.breaker };
  if (breaker !== null) {
    check('breaker.errorThresholdPercentage', breaker.errorThresholdPercentage, 1, 100);
    check('breaker.volumeThreshold', breaker.volumeThreshold, 0, Number.MAX_SAFE_INTEGER);
    checkTimeout('breaker.resetTimeoutMs', breaker.resetTimeoutMs);
    checkTimeout('breaker.rollingWindowMs', breaker.rollingWindowMs);
  }
  const retry = options.retry === false ? { ...DEFAULTS.retry, attempts: 1 } : { ...DEFAULTS.retry, ...options.retry };
  check('retry.attempts', retry.attempts, 1, 100);
  check('retry.baseDelayMs', retry.baseDelayMs, 0, CALL_TIMEOUT_MS_MAX);
  check('retry.maxDelayMs', retry.maxDelayMs, retry.baseDelayMs, CALL_TIMEOUT_MS_MAX);
  return {
    origin: origin(options.url),
    name: options.name ?? 'default',
    timeoutMs: checkTimeout('timeoutMs', options.timeoutMs ?? DEFAULTS.timeoutMs),
    deadlineGraceMs: check('deadlineGraceMs', options.deadlineGraceMs ?? 0, 0, CALL_TIMEOUT_MS_MAX),
    pool,
    breaker,
    retry,
    registry: options.registry ?? null,
  };
}
