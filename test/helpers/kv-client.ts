// KV-route fixtures shared by the integration suites: the target a suite runs
// against, per-test key namespaces, URLs for keys, and value round-trip checks.

import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import { keyPath } from './http-client.js';

export type KvTarget = {
  /** A server with default limits. */
  readonly url: string;
  /** The same configuration started with --max-value-bytes SMALL_VALUE_BYTES_MAX. */
  readonly smallUrl: string;
  readonly shards: number;
};

/** Servers start in beforeAll, after the suite is collected: read the target lazily. */
export type TargetRef = () => KvTarget;

export const SMALL_VALUE_BYTES_MAX = 1024;

export type PutData = { key: string; bytes: number; expires_at: string | null };
export type DeleteData = { key: string; deleted: boolean };

/** A fresh key namespace ("name-1a2b3c4d/") for one test. */
export function namespace(name: string): string {
  return `${name}-${randomUUID().slice(0, 8)}/`;
}

export function kvUrl(base: string, key: string, query = ''): string {
  return `${base}/api/v1/kv/${keyPath(key)}${query}`;
}

export function putValue(base: string, key: string, value: Uint8Array | string, contentType?: string, query = ''): Promise<Response> {
  const headers: Record<string, string> = contentType === undefined ? {} : { 'content-type': contentType };
  return fetch(kvUrl(base, key, query), { method: 'PUT', body: value, headers });
}

/** GETs the key and asserts 200 with exactly these bytes and this Content-Type. */
export async function expectValue(base: string, key: string, value: Uint8Array, contentType: string): Promise<Response> {
  const response = await fetch(kvUrl(base, key));
  const body = Buffer.from(await response.arrayBuffer());
  expect(response.status, `GET ${key}: ${body.toString('utf8', 0, 300)}`).toBe(200);
  expect(response.headers.get('content-type')).toBe(contentType);
  expect(body.equals(Buffer.from(value)), `GET ${key}: value differs`).toBe(true);
  return response;
}
