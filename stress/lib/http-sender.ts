// The load harness's request path: undici's Pool directly, one keep-alive
// HTTP/1.1 connection per --connections, no pipelining. The harness shares
// the machine with the server, so it sends with as little CPU as it can:
// no per-request AbortController or timer (undici's own headers/body
// timeouts bound a request), no response stream, no retries, no breaker.

import { Pool } from 'undici';
import type { Send } from './open-loop.js';
import { keyOf } from './target-server.js';

const REQUEST_TIMEOUT_MS = 60_000;
const PUT_HEADERS = { 'content-type': 'application/octet-stream' };

/** The `code` of an error envelope, or HTTP_<status> when the body is not one. */
export function errorCodeOf(status: number, body: Buffer): string {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { error?: { code?: unknown } };
    if (typeof parsed.error?.code === 'string') return parsed.error.code;
  } catch {
    // not JSON
  }
  return `HTTP_${status}`;
}

function transportCode(error: unknown): string {
  const code = error instanceof Error ? (error as { code?: unknown }).code : undefined;
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return 'TIMEOUT';
  return 'CONNECTION_FAILED';
}

export class HttpSender {
  private readonly pool: Pool;
  private readonly origin: string;

  /** preloaded: a GET of a missing key is an error (KEY_MISSING), not a normal miss. */
  constructor(
    url: string,
    private readonly connections: number,
    private readonly value: Buffer,
    private readonly preloaded: boolean,
  ) {
    this.origin = url;
    this.pool = new Pool(url, {
      connections,
      pipelining: 1,
      keepAliveTimeout: 600_000,
      headersTimeout: REQUEST_TIMEOUT_MS,
      bodyTimeout: REQUEST_TIMEOUT_MS,
    });
  }

  /** Opens every connection before the measurement. */
  async warm(): Promise<void> {
    await Promise.all(
      Array.from({ length: this.connections }, async () => {
        const response = await this.pool.request({ method: 'GET', path: '/health/live' });
        await response.body.arrayBuffer();
        if (response.statusCode !== 200) throw new Error(`/health/live answered ${response.statusCode}`);
      }),
    );
  }

  /**
   * One request through undici's dispatch() with a callback handler: no
   * response stream and no promise per step, which roughly halves the CPU
   * per request compared with request() on this machine.
   */
  readonly send: Send = (op, i) =>
    new Promise<string | null>((resolve) => {
      const path = `/api/v1/kv/${keyOf(i)}`;
      let status = 0;
      const chunks: Buffer[] = [];
      let bytes = 0;
      const options = op === 'get'
        ? { origin: this.origin, method: 'GET' as const, path }
        : { origin: this.origin, method: 'PUT' as const, path, body: this.value, headers: PUT_HEADERS };
      this.pool.dispatch(options, {
        onRequestStart: () => undefined,
        onResponseStart: (_controller, statusCode) => {
          status = statusCode;
        },
        onResponseData: (_controller, chunk) => {
          bytes += chunk.length;
          if (status !== 200) chunks.push(chunk);
        },
        onResponseEnd: () => resolve(this.outcome(op, status, bytes, chunks)),
        onResponseError: (_controller, error) => resolve(transportCode(error)),
      });
    });

  private outcome(op: 'get' | 'put', status: number, bytes: number, chunks: Buffer[]): string | null {
    if (status === 200) return op === 'get' && bytes !== this.value.length ? 'BAD_VALUE' : null;
    if (op === 'get' && status === 404) return this.preloaded ? 'KEY_MISSING' : null;
    return errorCodeOf(status, Buffer.concat(chunks));
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
