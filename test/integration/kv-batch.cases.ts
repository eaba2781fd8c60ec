// POST /api/v1/kv/batch in JSON and MessagePack: results in op order across
// shards, per-op semantics, value encodings, validation before anything is
// applied, and the op-count limit. Part of the shared KV suite (kv-api.cases.ts).

import { pack, unpack } from 'msgpackr';
import { expect, it } from 'vitest';
import { expectError, expectOk } from '../helpers/http-client.js';
import { expectValue, kvUrl, namespace, putValue, type TargetRef } from '../helpers/kv-client.js';

const TEXT_TYPE = 'text/plain; charset=utf-8';
const BATCH_OPS_MAX = 1000;

type BatchOp =
  | { op: 'put'; key: string; value: unknown; ttl?: unknown; encoding?: string; content_type?: string }
  | { op: 'get' | 'delete'; key: string };

type BatchResult = {
  op: string;
  key: string;
  ok?: boolean;
  found?: boolean;
  value?: string;
  encoding?: string;
  content_type?: string;
  deleted?: boolean;
};

function postBatch(url: string, body: unknown): Promise<Response> {
  return fetch(`${url}/api/v1/kv/batch`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
}

function postRaw(url: string, body: string | Uint8Array, contentType: string): Promise<Response> {
  return fetch(`${url}/api/v1/kv/batch`, { method: 'POST', body, headers: { 'content-type': contentType } });
}

async function runBatch(url: string, ops: readonly BatchOp[]): Promise<BatchResult[]> {
  const reply = await expectOk<BatchResult[]>(await postBatch(url, { ops }));
  expect(reply.meta).toEqual({ count: ops.length });
  return reply.data;
}

/** What a batch of text puts, gets and deletes must answer, applied in order to a model store. */
function modelResults(ops: readonly BatchOp[], store: Map<string, string>): BatchResult[] {
  return ops.map((op): BatchResult => {
    switch (op.op) {
      case 'put':
        store.set(op.key, String(op.value));
        return { op: 'put', key: op.key, ok: true };
      case 'get': {
        const value = store.get(op.key);
        return value === undefined ? { op: 'get', key: op.key, found: false } : { op: 'get', key: op.key, found: true, value, content_type: TEXT_TYPE };
      }
      case 'delete':
        return { op: 'delete', key: op.key, deleted: store.delete(op.key) };
    }
  });
}

export function kvBatchCases(target: TargetRef): void {
  it('answers put, get and delete of one key in order', async () => {
    const { url } = target();
    const a = `${namespace('batch')}a`;
    const data = await runBatch(url, [
      { op: 'put', key: a, value: 'text', ttl: 60 },
      { op: 'get', key: a },
      { op: 'delete', key: a },
    ]);
    expect(data).toEqual([
      { op: 'put', key: a, ok: true },
      { op: 'get', key: a, found: true, value: 'text', content_type: TEXT_TYPE },
      { op: 'delete', key: a, deleted: true },
    ]);
    await expectError(await fetch(kvUrl(url, a)), 404, 'KEY_NOT_FOUND');
  });

  it('keeps op order across shards and applies each op after the ones before it', async () => {
    const { url } = target();
    const ns = namespace('batch');
    const keys = Array.from({ length: 40 }, (_, i) => `${ns}k${i}`);
    const ops: BatchOp[] = [
      ...keys.map((key, i): BatchOp => ({ op: 'put', key, value: `v${i}` })),
      ...[...keys].reverse().map((key): BatchOp => ({ op: 'get', key })),
      { op: 'get', key: `${ns}missing` },
      ...keys.slice(0, 10).map((key): BatchOp => ({ op: 'delete', key })),
      { op: 'delete', key: keys[0] },
      { op: 'get', key: keys[0] },
      { op: 'put', key: keys[1], value: 'again' },
      { op: 'get', key: keys[1] },
    ];
    const expected = modelResults(ops, new Map());
    expect(await runBatch(url, ops)).toEqual(expected);
    await expectValue(url, keys[1], Buffer.from('again'), TEXT_TYPE);
    await expectValue(url, keys[39], Buffer.from('v39'), TEXT_TYPE);
    await expectError(await fetch(kvUrl(url, keys[5])), 404, 'KEY_NOT_FOUND');
  });

  it('stores base64 values as bytes and JSON values as application/json; gets non-UTF-8 values as base64', async () => {
    const { url } = target();
    const ns = namespace('batch');
    const bytes = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x41, 0x00]);
    const doc = { a: 1, b: [true, null, 'ü'] };
    await runBatch(url, [
      { op: 'put', key: `${ns}bin`, value: bytes.toString('base64'), encoding: 'base64' },
      { op: 'put', key: `${ns}doc`, value: doc },
    ]);
    await expectValue(url, `${ns}bin`, bytes, 'application/octet-stream');
    const stored = await fetch(kvUrl(url, `${ns}doc`));
    expect(stored.headers.get('content-type')).toBe('application/json');
    expect(await stored.json()).toEqual(doc);

    const raw = Buffer.from([0xc3, 0x28, 0x00, 0xff]); // not UTF-8
    await expectOk(await putValue(url, `${ns}raw`, raw, 'image/x-test'));
    const gets = await runBatch(url, [
      { op: 'get', key: `${ns}bin` },
      { op: 'get', key: `${ns}raw` },
      { op: 'get', key: `${ns}doc` },
    ]);
    expect(gets).toEqual([
      { op: 'get', key: `${ns}bin`, found: true, value: bytes.toString('base64'), encoding: 'base64', content_type: 'application/octet-stream' },
      { op: 'get', key: `${ns}raw`, found: true, value: raw.toString('base64'), encoding: 'base64', content_type: 'image/x-test' },
      { op: 'get', key: `${ns}doc`, found: true, value: JSON.stringify(doc), content_type: 'application/json' },
    ]);
  });

  it('applies a ttl given in a put op', async () => {
    const { url } = target();
    const key = `${namespace('batch')}ttl`;
    await runBatch(url, [{ op: 'put', key, value: 'x', ttl: 3600 }]);
    const get = await expectValue(url, key, Buffer.from('x'), TEXT_TYPE);
    expect(Date.parse(get.headers.get('mantis-expires-at') ?? '')).toBeGreaterThan(Date.now());
  });

  it('speaks MessagePack when the body is application/msgpack', async () => {
    const { url } = target();
    const ns = namespace('msgpack');
    const bytes = Buffer.from([0x00, 0x01, 0xfe, 0xff]);
    const ops = [
      { op: 'put', key: `${ns}bin`, value: bytes },
      { op: 'put', key: `${ns}text`, value: 'hello' },
      { op: 'get', key: `${ns}bin` },
      { op: 'get', key: `${ns}text` },
      { op: 'get', key: `${ns}missing` },
      { op: 'delete', key: `${ns}text` },
    ];
    const response = await postRaw(url, pack({ ops }), 'application/msgpack');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/msgpack/);
    const reply = unpack(Buffer.from(await response.arrayBuffer())) as { success: boolean; data: Record<string, unknown>[]; meta: unknown };
    expect(reply.success).toBe(true);
    expect(reply.meta).toEqual({ count: ops.length });
    // Keys may come back as strings or as bytes; compare their text.
    const keyText = (key: unknown): string => (typeof key === 'string' ? key : Buffer.from(key as Uint8Array).toString('utf8'));
    expect(reply.data.map((r) => [r.op, keyText(r.key)])).toEqual(ops.map((op) => [op.op, op.key]));
    expect(reply.data[0]).toMatchObject({ ok: true });
    expect(reply.data[1]).toMatchObject({ ok: true });
    expect(reply.data[2]).toMatchObject({ found: true, content_type: 'application/octet-stream' });
    expect(Buffer.from(reply.data[2].value as Uint8Array).equals(bytes)).toBe(true);
    expect(reply.data[3]).toMatchObject({ found: true, content_type: TEXT_TYPE });
    expect(Buffer.from(reply.data[3].value as Uint8Array).toString('utf8')).toBe('hello');
    expect(reply.data[4]).toMatchObject({ found: false });
    expect(reply.data[5]).toMatchObject({ deleted: true });
    await expectValue(url, `${ns}bin`, bytes, 'application/octet-stream');
    await expectError(await fetch(kvUrl(url, `${ns}text`)), 404, 'KEY_NOT_FOUND');
  });

  it('accepts 1000 ops and refuses 1001 with 413 BATCH_TOO_LARGE, applying none', async () => {
    const { url } = target();
    const ns = namespace('batch');
    const gets: BatchOp[] = Array.from({ length: BATCH_OPS_MAX }, (_, i) => ({ op: 'get', key: `${ns}${i}` }));
    const data = await runBatch(url, gets);
    expect(data).toHaveLength(BATCH_OPS_MAX);
    expect(data.every((r) => r.found === false)).toBe(true);
    const puts: BatchOp[] = Array.from({ length: BATCH_OPS_MAX + 1 }, (_, i) => ({ op: 'put', key: `${ns}${i}`, value: 'x' }));
    await expectError(await postBatch(url, { ops: puts }), 413, 'BATCH_TOO_LARGE');
    await expectError(await fetch(kvUrl(url, `${ns}0`)), 404, 'KEY_NOT_FOUND');
  });

  it.each(['{"ops":[', 'not json', '', '{"ops":[{"op":"get","key":"a"}]} trailing'])('refuses the malformed JSON body %j with 400 INVALID_JSON', async (body) => {
    const { url } = target();
    await expectError(await postRaw(url, body, 'application/json'), 400, 'INVALID_JSON');
  });

  it.each([
    ['an array', []],
    ['null', null],
    ['a string', 'ops'],
    ['an object without ops', {}],
    ['ops that is not an array', { ops: { op: 'get', key: 'a' } }],
    ['an op that is not an object', { ops: [42] }],
    ['an unknown op', { ops: [{ op: 'incr', key: 'a' }] }],
    ['a put without a value', { ops: [{ op: 'put', key: 'a' }] }],
  ])('refuses %s with 400 INVALID_BATCH', async (_what, body) => {
    const { url } = target();
    await expectError(await postBatch(url, body), 400, 'INVALID_BATCH');
  });

  it('refuses a malformed op with a message naming its index', async () => {
    const { url } = target();
    const error = await expectError(await postBatch(url, { ops: [{ op: 'get', key: 'fine' }, { op: 'incr', key: 'a' }] }), 400, 'INVALID_BATCH');
    expect(error.message).toContain('ops[1]');
  });

  it('stores the content_type given in a put op', async () => {
    const { url } = target();
    const key = `${namespace('batch')}typed`;
    await runBatch(url, [{ op: 'put', key, value: '<p>hi</p>', content_type: 'text/html' }]);
    await expectValue(url, key, Buffer.from('<p>hi</p>'), 'text/html');
  });

  it('refuses a body that is neither JSON nor MessagePack with 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    const { url } = target();
    await expectError(await postRaw(url, 'a,b\n1,2\n', 'text/csv'), 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('validates every op before applying any', async () => {
    const { url } = target();
    const key = `${namespace('batch')}first`;
    const response = await postBatch(url, { ops: [{ op: 'put', key, value: 'v' }, { op: 'put', key: `${key}2`, value: 'v', ttl: 0 }] });
    await expectError(response, 400, 'INVALID_TTL');
    await expectError(await fetch(kvUrl(url, key)), 404, 'KEY_NOT_FOUND');
  });

  it('refuses a malformed MessagePack body with 400', async () => {
    const { url } = target();
    const response = await postRaw(url, Buffer.from([0xc1, 0xff, 0x00]), 'application/msgpack');
    expect(response.status).toBe(400);
    await response.arrayBuffer();
  });
}
