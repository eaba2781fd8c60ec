// Inputs where the fast path and the Hono path could drift apart, or where a
// request could turn into a 500: dot segments in keys (sent raw over
// node:http, since fetch would normalize them), methods no route answers, and
// batch values that are not representable as JSON.

import { Packr } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request as httpRequest } from 'node:http';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';

afterAll(cleanup);

describe.each([{ fastPath: true }, { fastPath: false }])('edge inputs, fast path $fastPath', ({ fastPath }) => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServer({ shards: 2, fastPath });
  });
  afterAll(async () => {
    await server.stop();
  });

  /** node:http with host/port/path kept apart: a URL string would be normalized. */
  const raw = (method: string, path: string, body?: string, headers?: Record<string, string>): Promise<{ status: number; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: server.port, method, path, headers, signal: AbortSignal.timeout(10_000) });
      req.on('response', (res) => {
        const parts: Buffer[] = [];
        res.on('data', (chunk: Buffer) => parts.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
      });
      req.on('error', reject);
      req.end(body);
    });

  it.each(['..', 'a/../b', '%2e%2e', 'x/../../../health/live', './.'])('keeps the key %s exactly as sent', async (key) => {
    const put = await raw('PUT', `/api/v1/kv/${key}`, `value of ${key}`, { 'content-type': 'text/plain' });
    expect(put.status).toBe(200);
    const stored = (JSON.parse(put.body.toString()) as { data: { key: string } }).data.key;
    expect(stored).toBe(decodeURIComponent(key));
    const get = await raw('GET', `/api/v1/kv/${key}`);
    expect(get.status).toBe(200);
    expect(get.body.toString()).toBe(`value of ${key}`);
  });

  it.each(['TRACE'])('answers %s with 405 JSON, not 500', async (method) => {
    const response = await raw(method, '/api/v1/kv/a');
    expect(response.status).toBe(405);
    expect(JSON.parse(response.body.toString())).toMatchObject({ success: false, error: { code: 'METHOD_NOT_ALLOWED' } });
  });

  it('stores a MessagePack uint64 value in a batch instead of failing with 500', async () => {
    const packr = new Packr({ useRecords: false });
    const body = packr.pack({ ops: [{ op: 'put', key: 'big-int', value: { n: 2n ** 63n } }] });
    const response = await fetch(`${server.url}/api/v1/kv/batch`, { method: 'POST', headers: { 'content-type': 'application/msgpack' }, body });
    expect(response.status).toBe(200);
  });

  it('refuses a JSON value nested too deeply to store with 400 INVALID_BATCH', async () => {
    const depth = 200_000;
    const value = '['.repeat(depth) + ']'.repeat(depth);
    const response = await fetch(`${server.url}/api/v1/kv/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: `{"ops":[{"op":"put","key":"deep","value":${value}}]}`,
    });
    expect([400]).toContain(response.status);
    const body = (await response.json()) as { error: { code: string } };
    expect(['INVALID_BATCH', 'INVALID_JSON']).toContain(body.error.code);
  });
});
