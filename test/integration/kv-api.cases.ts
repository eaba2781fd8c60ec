// The KV API conformance suite, written once and run against every server
// configuration (1 and N shards, uWebSockets.js fast path on and off) by
// kv-api.test.ts — Hono's common.case.test.ts habit. Each test works in its
// own key namespace, so tests never see each other's keys.

import { randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { expectError, expectOk, rawRequest, toResponse, waitUntil } from '../helpers/http-client.js';
import { expectValue, kvUrl, namespace, putValue, SMALL_VALUE_BYTES_MAX, type DeleteData, type PutData, type TargetRef } from '../helpers/kv-client.js';
import { kvBatchCases } from './kv-batch.cases.js';
import { kvListCases } from './kv-list.cases.js';

const TTL_EXPIRY_WAIT_MS = 15_000;

export function kvApiCases(target: TargetRef): void {
  describe('single keys', () => itemCases(target));
  describe('TTL', () => ttlCases(target));
  describe('request errors', () => errorCases(target));
  describe('value size limit', () => sizeLimitCases(target));
  describe('listing', () => kvListCases(target));
  describe('batch', () => kvBatchCases(target));
  describe('health, metrics, unknown routes', () => opsCases(target));
}

function itemCases(target: TargetRef): void {
  it('round-trips binary bytes (0x00..0xFF) with the default content type; HEAD gives type and length', async () => {
    const { url } = target();
    const key = `${namespace('bin')}value`;
    const value = Buffer.concat([Buffer.from([0x00, 0xff, 0x00]), Buffer.from(Array.from({ length: 256 }, (_, i) => i)), Buffer.from([0xff])]);
    const put = await expectOk<PutData>(await putValue(url, key, value));
    expect(put.data).toEqual({ key, bytes: value.length, expires_at: null });
    const get = await expectValue(url, key, value, 'application/octet-stream');
    expect(get.headers.get('mantis-expires-at')).toBeNull();

    const head = await fetch(kvUrl(url, key), { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toBe('application/octet-stream');
    expect(head.headers.get('content-length')).toBe(String(value.length));
    expect((await head.arrayBuffer()).byteLength).toBe(0);
  });

  it('keeps the content type it was given', async () => {
    const { url } = target();
    const ns = namespace('ctype');
    const text = 'héllo wörld 🙂';
    await expectOk(await putValue(url, `${ns}text`, text, 'text/plain; charset=utf-8'));
    await expectValue(url, `${ns}text`, Buffer.from(text, 'utf8'), 'text/plain; charset=utf-8');
    const doc = Buffer.from('{"a":[1,2]}');
    await expectOk(await putValue(url, `${ns}doc`, doc, 'application/vnd.mantis.test+json'));
    await expectValue(url, `${ns}doc`, doc, 'application/vnd.mantis.test+json');
  });

  it('round-trips an empty value and a 1 MiB value', async () => {
    const { url } = target();
    const ns = namespace('sizes');
    const put = await expectOk<PutData>(await putValue(url, `${ns}empty`, new Uint8Array(0)));
    expect(put.data.bytes).toBe(0);
    await expectValue(url, `${ns}empty`, new Uint8Array(0), 'application/octet-stream');
    const big = randomBytes(1024 * 1024);
    expect((await expectOk<PutData>(await putValue(url, `${ns}big`, big))).data.bytes).toBe(big.length);
    await expectValue(url, `${ns}big`, big, 'application/octet-stream');
  });

  it('takes the key from the rest of the path, percent-decoded: UTF-8, raw and encoded slashes, reserved characters', async () => {
    const { url } = target();
    const ns = namespace('keys');
    for (const key of [`${ns}ключ/🙂`, `${ns}a/b/c`, `${ns}100% sure?#&=+ ;,`, `${ns}日本語/テスト/`]) {
      const value = Buffer.from(`value of ${key}`);
      const put = await expectOk<PutData>(await putValue(url, key, value, 'text/plain'));
      expect(put.data.key).toBe(key);
      // The same key with every '/' percent-encoded.
      const encoded = await fetch(`${url}/api/v1/kv/${encodeURIComponent(key)}`);
      expect(encoded.status).toBe(200);
      expect(Buffer.from(await encoded.arrayBuffer()).equals(value)).toBe(true);
    }
    const listed = await expectOk<string[]>(await fetch(`${url}/api/v1/kv?${new URLSearchParams({ prefix: ns })}`));
    expect(listed.data).toEqual([`${ns}100% sure?#&=+ ;,`, `${ns}a/b/c`, `${ns}ключ/🙂`, `${ns}日本語/テスト/`]);
  });

  it('accepts a key of exactly 1024 UTF-8 bytes', async () => {
    const { url } = target();
    const key = `${randomUUID().slice(0, 8)}${'é'.repeat(508)}`; // 8 + 1016 bytes
    expect(Buffer.byteLength(key)).toBe(1024);
    await expectOk(await putValue(url, key, Buffer.from('max')));
    await expectValue(url, key, Buffer.from('max'), 'application/octet-stream');
    const listed = await expectOk<string[]>(await fetch(`${url}/api/v1/kv?${new URLSearchParams({ prefix: key.slice(0, 8) })}`));
    expect(listed.data).toEqual([key]);
  });

  it('overwrites value, content type and expiry', async () => {
    const { url } = target();
    const key = `${namespace('over')}k`;
    await expectOk(await putValue(url, key, 'first', 'text/plain', '?ttl=3600'));
    const second = Buffer.from([0xde, 0xad, 0x00, 0xbe, 0xef]);
    const put = await expectOk<PutData>(await putValue(url, key, second, 'application/x-second'));
    expect(put.data).toEqual({ key, bytes: 5, expires_at: null });
    const get = await expectValue(url, key, second, 'application/x-second');
    expect(get.headers.get('mantis-expires-at')).toBeNull();
  });

  it('deletes: deleted:true, then 404 for GET and HEAD, deleted:false again, gone from the listing', async () => {
    const { url } = target();
    const ns = namespace('del');
    const key = `${ns}k`;
    await expectOk(await putValue(url, key, 'x'));
    await expectOk(await putValue(url, `${ns}other`, 'y'));
    const first = await expectOk<DeleteData>(await fetch(kvUrl(url, key), { method: 'DELETE' }));
    expect(first.data).toEqual({ key, deleted: true });
    await expectError(await fetch(kvUrl(url, key)), 404, 'KEY_NOT_FOUND');
    const head = await fetch(kvUrl(url, key), { method: 'HEAD' });
    expect(head.status).toBe(404);
    expect((await head.arrayBuffer()).byteLength).toBe(0);
    const again = await expectOk<DeleteData>(await fetch(kvUrl(url, key), { method: 'DELETE' }));
    expect(again.data).toEqual({ key, deleted: false });
    const listed = await expectOk<string[]>(await fetch(`${url}/api/v1/kv?${new URLSearchParams({ prefix: ns })}`));
    expect(listed.data).toEqual([`${ns}other`]);
    expect(listed.meta.total).toBe(1);
  });

  it('answers 404 KEY_NOT_FOUND for a key never written', async () => {
    const { url } = target();
    await expectError(await fetch(kvUrl(url, `${namespace('missing')}k`)), 404, 'KEY_NOT_FOUND');
  });
}

function ttlCases(target: TargetRef): void {
  it('reports the expiry in the PUT reply and the Mantis-Expires-At header', async () => {
    const { url } = target();
    const key = `${namespace('ttl')}long`;
    const before = Date.now();
    const put = await expectOk<PutData>(await putValue(url, key, 'v', 'text/plain', '?ttl=3600'));
    expect(put.data.expires_at).not.toBeNull();
    const expiresAt = Date.parse(put.data.expires_at ?? '');
    // Generous bounds: the point is "about an hour from now", not timing.
    expect(expiresAt).toBeGreaterThan(before + 3_000_000);
    expect(expiresAt).toBeLessThan(before + 4_000_000);
    const get = await expectValue(url, key, Buffer.from('v'), 'text/plain');
    expect(get.headers.get('mantis-expires-at')).toBe(put.data.expires_at);
    const head = await fetch(kvUrl(url, key), { method: 'HEAD' });
    expect(head.headers.get('mantis-expires-at')).toBe(put.data.expires_at);
  });

  it('expires a key put with ttl=1: GET and HEAD turn 404 and it is no longer listed', async () => {
    const { url } = target();
    const ns = namespace('ttl');
    await expectOk(await putValue(url, `${ns}short`, 'bye', 'text/plain', '?ttl=1'));
    await expectOk(await putValue(url, `${ns}stays`, 'hi', 'text/plain'));
    await waitUntil(
      async () => {
        const response = await fetch(kvUrl(url, `${ns}short`));
        await response.arrayBuffer();
        return response.status === 404 ? true : undefined;
      },
      { timeoutMs: TTL_EXPIRY_WAIT_MS, intervalMs: 100, what: 'the ttl=1 key to expire' },
    );
    await expectError(await fetch(kvUrl(url, `${ns}short`)), 404, 'KEY_NOT_FOUND');
    expect((await fetch(kvUrl(url, `${ns}short`), { method: 'HEAD' })).status).toBe(404);
    const listed = await expectOk<string[]>(await fetch(`${url}/api/v1/kv?${new URLSearchParams({ prefix: ns })}`));
    expect(listed.data).toEqual([`${ns}stays`]);
    expect(listed.meta.total).toBe(1);
  });
}

function errorCases(target: TargetRef): void {
  it('refuses an empty key with 400 INVALID_KEY', async () => {
    const { url } = target();
    await expectError(await fetch(`${url}/api/v1/kv/`), 400, 'INVALID_KEY');
    await expectError(await fetch(`${url}/api/v1/kv/`, { method: 'PUT', body: 'x' }), 400, 'INVALID_KEY');
    await expectError(await fetch(`${url}/api/v1/kv/`, { method: 'DELETE' }), 400, 'INVALID_KEY');
  });

  it('refuses a key over 1024 UTF-8 bytes with 400 KEY_TOO_LARGE', async () => {
    const { url } = target();
    const key = 'é'.repeat(512) + 'x'; // 1025 bytes, 513 characters
    await expectError(await putValue(url, key, 'v'), 400, 'KEY_TOO_LARGE');
    await expectError(await fetch(kvUrl(url, key)), 400, 'KEY_TOO_LARGE');
  });

  it.each(['%ZZ', '%FF', 'ok%E0%A4', '%C0%AF', 'a%'])('refuses the undecodable key path %s with 400 INVALID_KEY', async (raw) => {
    const { url } = target();
    await expectError(await fetch(`${url}/api/v1/kv/${raw}`), 400, 'INVALID_KEY');
    await expectError(await fetch(`${url}/api/v1/kv/${raw}`, { method: 'PUT', body: 'x' }), 400, 'INVALID_KEY');
    await expectError(await fetch(`${url}/api/v1/kv/${raw}`, { method: 'DELETE' }), 400, 'INVALID_KEY');
  });

  it.each(['0', '-1', 'abc', '1.5', '1e3'])('refuses ttl=%s with 400 INVALID_TTL and stores nothing', async (ttl) => {
    const { url } = target();
    const key = `${namespace('badttl')}k`;
    await expectError(await putValue(url, key, 'v', undefined, `?ttl=${ttl}`), 400, 'INVALID_TTL');
    await expectError(await fetch(kvUrl(url, key)), 404, 'KEY_NOT_FOUND');
  });

  it.each(['POST', 'PATCH'])('answers %s on a key with 405 METHOD_NOT_ALLOWED', async (method) => {
    const { url } = target();
    await expectError(await fetch(kvUrl(url, 'some-key'), { method, body: 'x' }), 405, 'METHOD_NOT_ALLOWED');
  });
}

function sizeLimitCases(target: TargetRef): void {
  const put = (url: string, key: string, body: Buffer, chunked: boolean) =>
    rawRequest({
      url: kvUrl(url, key),
      method: 'PUT',
      headers: chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(body.length) },
      // Chunked: several HTTP chunks, so the limit must hold across them.
      chunks: chunked ? [body.subarray(0, 300), body.subarray(300, 700), body.subarray(700)] : [body],
      timeoutMs: 10_000,
    });

  for (const chunked of [false, true]) {
    const how = chunked ? 'a chunked body' : 'a Content-Length body';
    it(`accepts a value of exactly --max-value-bytes as ${how}`, async () => {
      const { smallUrl } = target();
      const key = `${namespace('limit')}exact`;
      const value = randomBytes(SMALL_VALUE_BYTES_MAX);
      const response = await put(smallUrl, key, value, chunked);
      expect(response.status, response.body.toString()).toBe(200);
      await expectValue(smallUrl, key, value, 'application/octet-stream');
    });

    it(`refuses a value over --max-value-bytes as ${how} with 413 VALUE_TOO_LARGE and stores nothing`, async () => {
      const { smallUrl } = target();
      const key = `${namespace('limit')}over`;
      const response = await put(smallUrl, key, randomBytes(SMALL_VALUE_BYTES_MAX + 1), chunked);
      await expectError(toResponse(response), 413, 'VALUE_TOO_LARGE');
      await expectError(await fetch(kvUrl(smallUrl, key)), 404, 'KEY_NOT_FOUND');
    });
  }

  it('refuses a batch put over --max-value-bytes with 413 VALUE_TOO_LARGE', async () => {
    const { smallUrl } = target();
    const key = `${namespace('limit')}batch`;
    const body = JSON.stringify({ ops: [{ op: 'put', key, value: 'x'.repeat(SMALL_VALUE_BYTES_MAX + 1) }] });
    await expectError(await fetch(`${smallUrl}/api/v1/kv/batch`, { method: 'POST', body, headers: { 'content-type': 'application/json' } }), 413, 'VALUE_TOO_LARGE');
    await expectError(await fetch(kvUrl(smallUrl, key)), 404, 'KEY_NOT_FOUND');
  });
}

type ReadyData = {
  ready: boolean;
  shards: { id: number; state: string; keys: number; restarts: number; replay: unknown }[];
};

function opsCases(target: TargetRef): void {
  it('GET /health/live answers 200', async () => {
    const { url } = target();
    await expectOk(await fetch(`${url}/health/live`));
  });

  it('GET /health/ready answers 200 with every shard ready', async () => {
    const { url, shards } = target();
    const ready = await expectOk<ReadyData>(await fetch(`${url}/health/ready`));
    expect(ready.data.ready).toBe(true);
    expect(ready.data.shards.map((s) => s.id)).toEqual(Array.from({ length: shards }, (_, i) => i));
    for (const shard of ready.data.shards) {
      expect(shard).toMatchObject({ state: 'ready', restarts: 0, keys: expect.any(Number) });
      expect(shard.replay).not.toBeUndefined();
    }
  });

  it('GET /api/metrics/prometheus serves the documented metrics as text', async () => {
    const { url } = target();
    await expectOk(await putValue(url, `${namespace('metrics')}k`, 'v'));
    const response = await fetch(`${url}/api/metrics/prometheus`);
    const text = await response.text();
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    for (const name of [
      'mantis_http_requests_total',
      'mantis_http_request_duration_seconds',
      'mantis_shard_ops_total',
      'mantis_ring_used_bytes',
      'mantis_wal_bytes_total',
      'mantis_wal_fsync_duration_seconds',
    ]) {
      expect(text).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
    }
    expect(text).toMatch(/^mantis_http_requests_total\{[^}]*route="\/api\/v1\/kv\/:key"[^}]*method="put"[^}]*\} [1-9]/im);
  });

  it('redirects GET / to the dashboard', async () => {
    const { url } = target();
    const answer = await fetch(`${url}/`, { redirect: 'manual' });
    expect(answer.status).toBe(302);
    expect(answer.headers.get('location')).toBe('/admin/');
  });

  it.each([
    ['GET', '/api/v2/kv/a'],
    ['GET', '/health'],
    ['DELETE', '/api/metrics/prometheus'],
  ])('answers %s %s with 404 NOT_FOUND JSON', async (method, path) => {
    const { url } = target();
    await expectError(await fetch(`${url}${path}`, { method }), 404, 'NOT_FOUND');
  });
}
