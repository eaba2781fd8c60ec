// The public shapes of what the client sends and gets back, in the
// application's terms (Buffers, Dates, camelCase), not the wire's.

import type { MantisClientError } from './client-error.js';

/** Per call: a time budget and/or a signal. The remaining budget travels as Mantis-Deadline-Ms. */
export type CallOptions = {
  /** Budget of the whole call, retries included, in ms (default: the client's timeoutMs). */
  readonly timeoutMs?: number;
  /** Aborts the call (ABORTED). */
  readonly signal?: AbortSignal;
  /** Retries after the first attempt, for retryable errors only (default: retry.attempts - 1). */
  readonly retries?: number;
};

export type KvEntry = {
  readonly value: Buffer;
  readonly contentType: string;
  readonly expiresAt: Date | null;
};

export type KvMeta = {
  readonly contentType: string;
  readonly size: number;
  readonly expiresAt: Date | null;
};

export type PutOptions = CallOptions & {
  /** Time to live in whole seconds (1..315360000). */
  readonly ttl?: number;
  /** Default: text/plain; charset=utf-8 for a string value, application/octet-stream for bytes. */
  readonly contentType?: string;
};

export type PutResult = { readonly key: string; readonly bytes: number; readonly expiresAt: Date | null };

export type ListPageOptions = CallOptions & {
  readonly prefix?: string;
  /** Keys per page, 1..1000 (default 100). */
  readonly limit?: number;
  /** From a previous page's nextCursor. */
  readonly cursor?: string | null;
};

export type ListPage = {
  readonly keys: string[];
  /** Keys under the prefix in total. */
  readonly total: number;
  /** Pass it as `cursor` for the next page; null on the last page. */
  readonly nextCursor: string | null;
};

/** list(): the budget and signal apply to each page request. */
export type ListOptions = CallOptions & { readonly prefix?: string; readonly pageSize?: number };

export type BatchOpInput =
  | { readonly op: 'get'; readonly key: string }
  | {
      readonly op: 'put';
      readonly key: string;
      readonly value: string | Uint8Array;
      readonly ttl?: number;
      readonly contentType?: string;
    }
  | { readonly op: 'delete'; readonly key: string };

export type BatchOpResult =
  | { readonly op: 'get'; readonly key: string; readonly found: true; readonly value: Buffer; readonly contentType: string }
  | { readonly op: 'get'; readonly key: string; readonly found: false }
  | { readonly op: 'put'; readonly key: string; readonly ok: true }
  | { readonly op: 'delete'; readonly key: string; readonly deleted: boolean }
  /** Only in MantisClientError.batchResults: this op's shard failed. */
  | { readonly op: BatchOpInput['op']; readonly key: string; readonly error: MantisClientError };

export type ReadyShard = { readonly id: number; readonly state: string; readonly keys: number; readonly restarts: number };
export type ReadyInfo = { readonly ready: boolean; readonly shards: readonly ReadyShard[] };
