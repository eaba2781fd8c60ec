// The one error type the client throws. It carries the server's code and
// `retryable` when the server answered, or a client code when it did not
// (the connection failed, the budget ran out, the breaker is open).

import type { ErrorCode } from '../../shared/errors.js';
import type { BatchOpResult } from './kv-types.js';

/** Codes the client produces itself, when the server gave no answer to carry. */
export const ClientErrorCode = Object.freeze({
  /** Connecting failed or the connection broke before a whole answer arrived. Retryable. */
  CONNECTION_FAILED: 'CONNECTION_FAILED',
  /** The circuit breaker is open: the call was not sent. */
  CIRCUIT_OPEN: 'CIRCUIT_OPEN',
  /** The caller's AbortSignal fired. */
  ABORTED: 'ABORTED',
  /** More calls waiting for a connection than `pool.queueMax`. */
  POOL_QUEUE_FULL: 'POOL_QUEUE_FULL',
  /** The client was closed. */
  CLIENT_CLOSED: 'CLIENT_CLOSED',
  /** The server's answer was not what the API promises (e.g. not an envelope). */
  BAD_RESPONSE: 'BAD_RESPONSE',
});

export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

/** Server codes (shared/errors.ts), client codes, or a code this client version does not know yet. */
export type MantisErrorCode = ErrorCode | ClientErrorCode | `HTTP_${number}` | (string & {});

/**
 * Where the error comes from:
 * - `server`: the server answered with this code;
 * - `transport`: the request was (or may have been) sent and no answer came
 *   (connection broken, or the budget ran out while waiting);
 * - `client`: refused locally before anything was sent.
 */
export type ErrorSource = 'server' | 'transport' | 'client';

export type MantisClientErrorInit = {
  readonly code: MantisErrorCode;
  readonly message: string;
  /** HTTP status of the server's answer; 0 when there was none. */
  readonly status: number;
  readonly retryable: boolean;
  readonly source: ErrorSource;
  readonly cause?: unknown;
  readonly batchResults?: readonly BatchOpResult[];
};

export class MantisClientError extends Error {
  readonly code: MantisErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  readonly source: ErrorSource;
  /**
   * batch() only, when some shard failed: every op's result, the failed ones
   * with an `error`. Ops on other shards were applied (atomic per shard).
   */
  readonly batchResults?: readonly BatchOpResult[];

  constructor(init: MantisClientErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'MantisClientError';
    this.code = init.code;
    this.status = init.status;
    this.retryable = init.retryable;
    this.source = init.source;
    if (init.batchResults !== undefined) this.batchResults = init.batchResults;
  }
}

export function clientError(code: ClientErrorCode | 'DEADLINE_EXCEEDED', message: string, source: ErrorSource, cause?: unknown): MantisClientError {
  const retryable = code === 'CONNECTION_FAILED';
  return new MantisClientError({ code, message, status: 0, retryable, source, cause });
}

/** The error of a server answer: the envelope's error, or the status alone when there is no body (HEAD). */
export function serverError(status: number, body: unknown, retryAfter: boolean): MantisClientError {
  const error = isRecord(body) && isRecord(body.error) ? body.error : null;
  if (error !== null && typeof error.code === 'string' && typeof error.message === 'string') {
    return new MantisClientError({ code: error.code, message: error.message, status, retryable: error.retryable === true, source: 'server' });
  }
  // A 503 without a body (HEAD) is retryable exactly when the server said Retry-After.
  const retryable = status === 503 && retryAfter;
  return new MantisClientError({ code: `HTTP_${status}`, message: `the server answered ${status}`, status, retryable, source: 'server' });
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
