// Small HTTP utilities for the integration tests: the JSON envelope parsed
// into types, a node:http request for what fetch cannot express (a chunked
// body, a bounded socket pool), and waiting for a condition with a deadline.

import { request as httpRequest, type Agent, type IncomingHttpHeaders } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { expect } from 'vitest';

export type ErrorBody = { readonly code: string; readonly message: string; readonly retryable: boolean };
export type Success<T> = { readonly success: true; readonly data: T; readonly meta: Record<string, unknown> };
export type Failure = { readonly success: false; readonly error: ErrorBody };
export type Envelope<T> = Success<T> | Failure;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parses an envelope, failing the test with the body text when it is not one. */
export function parseEnvelope<T>(text: string): Envelope<T> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`response is not JSON: ${text.slice(0, 300)}`);
  }
  if (!isRecord(parsed) || typeof parsed.success !== 'boolean') throw new Error(`not an envelope: ${text.slice(0, 300)}`);
  if (parsed.success && !isRecord(parsed.meta)) throw new Error(`success envelope without meta: ${text.slice(0, 300)}`);
  if (!parsed.success && !isRecord(parsed.error)) throw new Error(`failure envelope without error: ${text.slice(0, 300)}`);
  return parsed as Envelope<T>;
}

/** Asserts a JSON success envelope with this status (200 unless given) and returns it. */
export async function expectOk<T>(response: Response, status = 200): Promise<Success<T>> {
  const text = await response.text();
  expect(response.status, text).toBe(status);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  const envelope = parseEnvelope<T>(text);
  if (!envelope.success) throw new Error(`expected success, got ${text}`);
  return envelope;
}

/** Asserts a JSON error envelope with this status and code; returns the error body. */
export async function expectError(response: Response, status: number, code: string): Promise<ErrorBody> {
  const text = await response.text();
  expect({ status: response.status, text }).toEqual({ status, text: expect.stringContaining(`"code":"${code}"`) });
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  const envelope = parseEnvelope<never>(text);
  if (envelope.success) throw new Error(`expected an error, got ${text}`);
  expect(envelope.error).toEqual({ code, message: expect.any(String), retryable: expect.any(Boolean) });
  expect(envelope.error.message.length).toBeGreaterThan(0);
  return envelope.error;
}

export type RawResponse = { readonly status: number; readonly headers: IncomingHttpHeaders; readonly body: Buffer };

export type RawRequest = {
  readonly url: string;
  readonly method: string;
  readonly headers?: Record<string, string>;
  /** Written as separate chunks; with Transfer-Encoding: chunked each is one HTTP chunk. */
  readonly chunks?: readonly Uint8Array[];
  readonly agent?: Agent;
  readonly timeoutMs: number;
};

/**
 * One request over node:http. Rejects on a socket error or after timeoutMs.
 * A server may answer (e.g. 413) and close before the whole body is written:
 * write errors are ignored as long as a response arrives.
 */
export function rawRequest(options: RawRequest): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(options.url, { method: options.method, headers: options.headers, agent: options.agent, signal: AbortSignal.timeout(options.timeoutMs) });
    let answered = false;
    req.on('response', (res) => {
      answered = true;
      const parts: Buffer[] = [];
      res.on('data', (chunk: Buffer) => parts.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    req.on('error', (error) => {
      if (!answered) reject(error);
    });
    for (const chunk of options.chunks ?? []) req.write(chunk);
    req.end();
  });
}

export type WaitOptions = { readonly timeoutMs: number; readonly intervalMs?: number; readonly what: string };

/** Polls check() until it returns a value other than undefined; fails after the deadline. */
export async function waitUntil<T>(check: () => Promise<T | undefined>, options: WaitOptions): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${options.what}`);
    await delay(options.intervalMs ?? 25);
  }
}

/** Runs work over items with at most `limit` in flight; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index], index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

/** Key path segment: percent-encodes everything but '/', so slashes stay raw path separators. */
export function keyPath(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

/** UTF-8 byte order, the order the server lists keys in. */
export function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** A node:http response as a fetch Response, to share the envelope assertions. */
export function toResponse(raw: RawResponse): Response {
  const headers = new Headers();
  for (const [name, value] of Object.entries(raw.headers)) {
    if (typeof value === 'string') headers.set(name, value);
  }
  return new Response(raw.body, { status: raw.status, headers });
}
