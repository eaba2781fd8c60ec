// The client's typed KV calls against the real server: values round-trip
// byte-exact with their content type and TTL, list iterates every page by
// cursor, batch reports per op, and a server error becomes a
// MantisClientError with the server's code, status and retryable flag.

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MantisClient } from '../../src/client/index.js';
import { rejection } from '../helpers/client-support.js';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';

let server: ServerProcess;
let client: MantisClient;

beforeAll(async () => {
  server = await startServer({ shards: 2 });
  client = new MantisClient({ url: server.url, pool: { min: 2, max: 8 } });
  await client.connect();
});

afterAll(async () => {
  await client?.close();
  await cleanup();
});

describe('MantisClient KV calls', () => {
  it('puts and gets bytes and text with their content type; a missing key is null', async () => {
    const bytes = randomBytes(3000);
    expect(await client.put('bin/ä/../x y', bytes)).toEqual({ key: 'bin/ä/../x y', bytes: 3000, expiresAt: null });
    const got = await client.get('bin/ä/../x y');
    expect(got?.value.equals(bytes)).toBe(true);
    expect(got?.contentType).toBe('application/octet-stream');
    await client.put('text', 'héllo', { contentType: 'text/x-greeting' });
    expect((await client.get('text'))?.value.toString('utf8')).toBe('héllo');
    expect((await client.get('text'))?.contentType).toBe('text/x-greeting');
    expect(await client.get('never-written')).toBeNull();
    expect(await client.head('never-written')).toBeNull();
  });

  it('puts with a ttl and reports the expiry on put, get and head', async () => {
    const before = Date.now();
    const put = await client.put('ttl-key', 'v', { ttl: 60 });
    expect(put.expiresAt?.getTime()).toBeGreaterThanOrEqual(before + 59_000);
    expect((await client.get('ttl-key'))?.expiresAt?.toISOString()).toBe(put.expiresAt?.toISOString());
    expect(await client.head('ttl-key')).toEqual({ contentType: 'text/plain; charset=utf-8', size: 1, expiresAt: put.expiresAt });
  });

  it('deletes, saying whether the key existed', async () => {
    await client.put('doomed', 'x');
    expect(await client.delete('doomed')).toBe(true);
    expect(await client.delete('doomed')).toBe(false);
    expect(await client.get('doomed')).toBeNull();
  });

  it('lists every key under a prefix across cursor pages, in byte order', async () => {
    const keys = Array.from({ length: 250 }, (_, i) => `list/${String(i).padStart(3, '0')}`);
    await client.batch(keys.map((key) => ({ op: 'put', key, value: key })));
    const seen: string[] = [];
    for await (const key of client.list({ prefix: 'list/', pageSize: 40 })) seen.push(key);
    expect(seen).toEqual(keys);
    const page = await client.listPage({ prefix: 'list/', limit: 100 });
    expect(page.total).toBe(250);
    expect(page.keys).toEqual(keys.slice(0, 100));
    expect(page.nextCursor).not.toBeNull();
  });

  it('runs a batch and returns results in order, binary values byte-exact', async () => {
    const bytes = Buffer.from([0, 0xff, 0xfe, 0x80]);
    const results = await client.batch([
      { op: 'put', key: 'b/1', value: bytes },
      { op: 'put', key: 'b/2', value: 'two', ttl: 30 },
      { op: 'get', key: 'b/1' },
      { op: 'get', key: 'b/none' },
      { op: 'delete', key: 'b/2' },
    ]);
    expect(results.map((r) => r.op)).toEqual(['put', 'put', 'get', 'get', 'delete']);
    const got = results[2];
    expect(got.op === 'get' && 'found' in got && got.found ? got.value.equals(bytes) : false).toBe(true);
    expect(results[3]).toEqual({ op: 'get', key: 'b/none', found: false });
    expect(results[4]).toEqual({ op: 'delete', key: 'b/2', deleted: true });
  });

  it('turns a server error into a MantisClientError with code, status and retryable', async () => {
    const ttl = await rejection(client.put('k', 'v', { ttl: 0 }));
    expect({ code: ttl.code, status: ttl.status, retryable: ttl.retryable, source: ttl.source }).toEqual({
      code: 'INVALID_TTL',
      status: 400,
      retryable: false,
      source: 'server',
    });
    const batch = await rejection(client.batch(Array.from({ length: 1001 }, (_, i) => ({ op: 'get' as const, key: `k${i}` }))));
    expect({ code: batch.code, status: batch.status }).toEqual({ code: 'BATCH_TOO_LARGE', status: 413 });
    const key = await rejection(client.get('k'.repeat(2000)));
    expect(key.code).toBe('KEY_TOO_LARGE');
  });

  it('refuses bad options at construction', () => {
    expect(() => new MantisClient({ url: server.url, pool: { min: 5, max: 2 } })).toThrow(RangeError);
    expect(() => new MantisClient({ url: `${server.url}/api` })).toThrow(RangeError);
    expect(() => new MantisClient({ url: server.url, timeoutMs: 0 })).toThrow(RangeError);
  });
});
