// MantisClient: typed calls for every KV route over an adaptive pool of
// keep-alive connections. A call has one time budget (CallBudget) for all of
// its attempts; each attempt goes through the circuit breaker, takes a
// connection, and sends what is left of the budget as Mantis-Deadline-Ms.
// Retryable failures are tried again after a jittered backoff (RetryPolicy).

import { setMaxListeners } from 'node:events';
import { AdaptivePool, type Connection, type PoolStats } from './adaptive-pool.js';
import { CallBudget, sleepWithin } from './call-budget.js';
import { clientError, MantisClientError } from './client-error.js';
import { ClientMetrics, type BreakerState, type CallOp } from './client-metrics.js';
import { checkTimeout, resolveOptions, type MantisClientOptions, type ResolvedOptions } from './client-options.js';
import * as answers from './kv-answers.js';
import type { Answer } from './kv-answers.js';
import type * as T from './kv-types.js';
import { NO_BREAKER, RequestBreaker, type Breaker } from './request-breaker.js';
import { backoffMs, shouldRetry } from './retry-policy.js';

type Method = 'GET' | 'HEAD' | 'PUT' | 'DELETE' | 'POST';
type RequestSpec = {
  readonly method: Method;
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: string | Uint8Array;
};

const KV = '/api/v1/kv';
const READY_POLL_MS = 50;

/** A key as one path segment: every reserved byte escaped, dots too (no dot segments). */
export function keyPath(key: string): string {
  return `${KV}/${encodeURIComponent(key).replaceAll('.', '%2E')}`;
}

export class MantisClient {
  private readonly o: ResolvedOptions;
  private readonly metrics: ClientMetrics;
  private readonly pool: AdaptivePool;
  private readonly breaker: Breaker;

  constructor(options: MantisClientOptions) {
    this.o = resolveOptions(options);
    this.metrics = new ClientMetrics(this.o.registry, this.o.name);
    this.pool = new AdaptivePool(this.o.origin, this.o.pool, {
      onOpen: () => this.metrics.connectionOpened(),
      onClose: (reason) => this.metrics.connectionClosed(reason),
      onChange: (stats) => this.metrics.pool(stats),
    });
    this.breaker = this.o.breaker === null ? NO_BREAKER : new RequestBreaker(this.o.breaker, this.o.name, this.metrics);
  }

  /**
   * Opens `pool.min` connections and waits until /health/ready answers 200 on
   * each of them (polling while the server starts), within timeoutMs.
   */
  async connect(options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<void> {
    const budget = new CallBudget(checkTimeout('timeoutMs', options.timeoutMs ?? 10_000), 0, options.signal);
    const connections = Math.max(1, this.o.pool.min);
    // Every warming request listens on this one budget's signal.
    setMaxListeners(connections + 10, budget.signal);
    try {
      for (;;) {
        const warm = Array.from({ length: connections }, () => this.attempt('ready', { method: 'GET', path: '/health/ready' }, budget, answers.parseReady));
        const outcome = await Promise.allSettled(warm);
        const failed = outcome.find((o): o is PromiseRejectedResult => o.status === 'rejected');
        if (failed === undefined) return;
        const error = asClientError(failed.reason);
        if (!error.retryable || budget.remainingMs() <= READY_POLL_MS) throw error;
        await sleepWithin(READY_POLL_MS, budget);
      }
    } finally {
      budget.dispose();
    }
  }

  /** The value of a key, or null when it is absent or expired. */
  get(key: string, options?: T.CallOptions): Promise<T.KvEntry | null> {
    return this.call('get', { method: 'GET', path: keyPath(key) }, options, answers.parseGet);
  }

  /** Content type, size and expiry of a key without its value, or null. */
  head(key: string, options?: T.CallOptions): Promise<T.KvMeta | null> {
    return this.call('head', { method: 'HEAD', path: keyPath(key) }, options, answers.parseHead);
  }

  put(key: string, value: string | Uint8Array, options: T.PutOptions = {}): Promise<T.PutResult> {
    const contentType = options.contentType ?? (typeof value === 'string' ? 'text/plain; charset=utf-8' : 'application/octet-stream');
    const query = options.ttl === undefined ? '' : `?ttl=${encodeURIComponent(String(options.ttl))}`;
    const spec: RequestSpec = { method: 'PUT', path: keyPath(key) + query, headers: { 'content-type': contentType }, body: value };
    return this.call('put', spec, options, answers.parsePut);
  }

  /** True when the key existed. */
  delete(key: string, options?: T.CallOptions): Promise<boolean> {
    return this.call('delete', { method: 'DELETE', path: keyPath(key) }, options, answers.parseDelete);
  }

  /** One page of keys under a prefix, in byte order. */
  listPage(options: T.ListPageOptions = {}): Promise<T.ListPage> {
    const query = new URLSearchParams({ prefix: options.prefix ?? '', limit: String(options.limit ?? 100) });
    if (options.cursor) query.set('cursor', options.cursor);
    return this.call('list', { method: 'GET', path: `${KV}?${query.toString()}` }, options, answers.parseListPage);
  }

  /** Every key under a prefix, in byte order, fetched page by page with cursors. */
  async *list(options: T.ListOptions = {}): AsyncGenerator<string, void, undefined> {
    let cursor: string | null = null;
    do {
      const page: T.ListPage = await this.listPage({ ...options, limit: options.pageSize ?? 100, cursor });
      yield* page.keys;
      cursor = page.nextCursor;
    } while (cursor !== null);
  }

  /**
   * Up to 1000 ops, atomic per shard, results in order. When a shard fails,
   * throws its error with every op's result in `batchResults`.
   */
  batch(ops: readonly T.BatchOpInput[], options?: T.CallOptions): Promise<T.BatchOpResult[]> {
    const spec: RequestSpec = { method: 'POST', path: `${KV}/batch`, headers: { 'content-type': 'application/json' }, body: answers.encodeBatch(ops) };
    return this.call('batch', spec, options, (answer) => answers.parseBatch(answer, ops));
  }

  stats(): { pool: PoolStats; breaker: BreakerState } {
    return { pool: this.pool.stats(), breaker: this.breaker.state };
  }

  async close(): Promise<void> {
    this.breaker.shutdown();
    await this.pool.close();
  }

  private async call<R>(op: CallOp, spec: RequestSpec, options: T.CallOptions | undefined, parse: (answer: Answer) => R): Promise<R> {
    const budget = new CallBudget(checkTimeout('timeoutMs', options?.timeoutMs ?? this.o.timeoutMs), this.o.deadlineGraceMs, options?.signal);
    const attempts = options?.retries === undefined ? this.o.retry.attempts : options.retries + 1;
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          return await this.breaker.run(() => this.attempt(op, spec, budget, parse));
        } catch (error) {
          const failure = asClientError(error);
          const wait = backoffMs(attempt, this.o.retry);
          if (!shouldRetry(failure, attempt, attempts, wait, budget.remainingMs())) throw failure;
          this.metrics.retry(op);
          await sleepWithin(wait, budget);
        }
      }
    } finally {
      budget.dispose();
    }
  }

  /** One request on one connection, timed and counted. */
  private async attempt<R>(op: CallOp, spec: RequestSpec, budget: CallBudget, parse: (answer: Answer) => R): Promise<R> {
    const started = performance.now();
    let code: string | null = null;
    try {
      return parse(await this.exchange(spec, budget));
    } catch (error) {
      code = error instanceof MantisClientError ? error.code : 'INTERNAL';
      throw error;
    } finally {
      this.metrics.attempt(op, (performance.now() - started) / 1000, code);
    }
  }

  private async exchange(spec: RequestSpec, budget: CallBudget): Promise<Answer> {
    const connection = await this.pool.acquire(budget.signal, () => budget.failure('client'));
    const remainingMs = budget.remainingMs();
    if (remainingMs === 0) {
      this.pool.release(connection, false);
      throw budget.failure('client');
    }
    let broken = true;
    try {
      const answer = await send(connection, spec, remainingMs, budget.signal);
      broken = false;
      return answer;
    } catch (error) {
      throw budget.signal.aborted ? budget.failure('transport', error) : clientError('CONNECTION_FAILED', `${spec.method} ${spec.path}: ${describe(error)}`, 'transport', error);
    } finally {
      this.pool.release(connection, broken);
    }
  }
}

async function send(connection: Connection, spec: RequestSpec, remainingMs: number, signal: AbortSignal): Promise<Answer> {
  const headers = { ...spec.headers, 'mantis-deadline-ms': String(remainingMs) };
  const response = await connection.client.request({ method: spec.method, path: spec.path, headers, body: spec.body, signal });
  const body = Buffer.from(await response.body.arrayBuffer());
  return { status: response.statusCode, headers: response.headers, body };
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? `${code}: ${error.message}` : error.message;
}

function asClientError(error: unknown): MantisClientError {
  if (error instanceof MantisClientError) return error;
  // Not one of ours: a bug in the client. Surface it, never retry it.
  return new MantisClientError({ code: 'INTERNAL', message: `client error: ${describe(error)}`, status: 0, retryable: false, source: 'client', cause: error });
}
