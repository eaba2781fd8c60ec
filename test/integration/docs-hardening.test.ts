// Requests that once hurt the server, on a real 2-shard server: none may take
// a shard or the process down, hang it, or answer 500.
// - a $range past what a document can hold: 400, the server stays ready;
// - a regex that nests unbounded quantifiers (exponential backtracking): 400
//   at once, and the shard goes on answering;
// - single-document writes reach a document whose _id is null;
// - a find whose page would pass 16 MiB ends early with a next_cursor, and an
//   aggregate answer past 64 MiB is refused (AGGREGATE_MEMORY_LIMIT), not 500;
// - a validator's regex gets the same guard (it runs on the router's thread);
// - a cursor over a large sort key is accepted back.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';
import { collName, postAction } from '../helpers/docs-client.js';

afterAll(cleanup);

let server: ServerProcess;
beforeAll(async () => {
  server = await startServer({ shards: 2, fsync: 'batch' });
});

type Answer = { success: boolean; data?: unknown; meta?: { next_cursor?: string | null }; error?: { code: string; message: string } };

async function action(coll: string, name: string, body: unknown): Promise<{ status: number; body: Answer }> {
  const response = await postAction(server.url, coll, name, body);
  return { status: response.status, body: (await response.json()) as Answer };
}

async function ready(): Promise<boolean> {
  const response = await fetch(`${server.url}/health/ready`);
  return response.status === 200;
}

describe('document requests that must not hurt the server', () => {
  it('refuses a $range past a document and stays ready', async () => {
    const c = collName('range');
    await action(c, 'insert', { documents: Array.from({ length: 8 }, (_, i) => ({ _id: i })) });
    const r = await action(c, 'aggregate', { pipeline: [{ $project: { x: { $range: [0, 100_000_000] } } }] });
    expect(r.status).toBe(400);
    expect(r.body.error?.code).toBe('BAD_QUERY');
    expect(r.body.error?.message).toMatch(/\$range/);
    expect(await ready()).toBe(true);
  });

  it('refuses a regex with nested unbounded quantifiers at once, and the shard goes on answering', async () => {
    const c = collName('redos');
    await action(c, 'insert', { documents: [{ _id: 1, s: `${'a'.repeat(40)}b` }] });
    const r = await action(c, 'find', { filter: { s: { $regex: '^(a+)+$' } } });
    expect(r.status).toBe(400);
    expect(r.body.error?.code).toBe('BAD_QUERY');
    const ok = await action(c, 'find', { filter: { s: { $regex: '^a+b$' } } });
    expect(ok.status).toBe(200);
    expect(ok.body.data).toHaveLength(1);
    expect(await ready()).toBe(true);
  });

  it('refuses a validator whose pattern can backtrack exponentially', async () => {
    const c = collName('vpat');
    const response = await fetch(`${server.url}/api/v1/docs/${c}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ validator: { $jsonSchema: { properties: { s: { bsonType: 'string', pattern: '^(a+)+$' } } } } }),
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as Answer).error?.code).toBe('BAD_QUERY');
  });

  it('pages on with a cursor whose sort key is large', async () => {
    const c = collName('bigkey');
    await action(c, 'insert', { documents: [0, 1, 2].map((i) => ({ _id: i, s: `${'x'.repeat(60_000)}${i}` })) });
    const seen: number[] = [];
    let cursor: string | null | undefined = null;
    for (let page = 0; page < 5; page++) {
      const r = await action(c, 'find', { filter: {}, sort: { s: 1 }, limit: 1, projection: { s: 0 }, ...(cursor ? { cursor } : {}) });
      expect(r.status).toBe(200);
      seen.push(...(r.body.data as { _id: number }[]).map((d) => d._id));
      cursor = r.body.meta?.next_cursor;
      if (!cursor) break;
    }
    expect(seen).toEqual([0, 1, 2]);
  });

  it('reaches a document whose _id is null with single-document writes', async () => {
    const c = collName('nullid');
    await action(c, 'insert', { documents: [{ _id: null, a: 1 }, { _id: 5, a: 2 }] });
    expect((await action(c, 'update', { filter: { _id: null }, update: { $set: { b: 1 } } })).body.data).toMatchObject({ matched: 1, modified: 1 });
    expect((await action(c, 'update', { filter: { a: 1 }, update: { $set: { c: 1 } } })).body.data).toMatchObject({ matched: 1, modified: 1 });
    expect((await action(c, 'find_and_modify', { filter: { a: 1 }, update: { $set: { d: 1 } }, return: 'after' })).body.data).toEqual({ _id: null, a: 1, b: 1, c: 1, d: 1 });
    expect((await action(c, 'delete', { filter: { _id: null }, multi: false })).body.data).toEqual({ deleted: 1 });
    expect((await action(c, 'find', { filter: {} })).body.data).toEqual([{ _id: 5, a: 2 }]);
  });

  it('ends a find page before 16 MiB with a next_cursor, and refuses an aggregate answer past 64 MiB', async () => {
    const c = collName('big');
    const s = 'x'.repeat(7 * 1024 * 1024);
    for (let i = 0; i < 3; i++) expect((await action(c, 'insert', { documents: [{ _id: i, s }] })).status).toBe(200);
    const first = await action(c, 'find', { filter: {}, projection: { _id: 1, s: 1 }, limit: 10 });
    expect(first.status).toBe(200);
    expect((first.body.data as { _id: number }[]).map((d) => d._id)).toEqual([0, 1]);
    expect(first.body.meta?.next_cursor).toEqual(expect.any(String));
    const second = await action(c, 'find', { filter: {}, projection: { _id: 1, s: 1 }, limit: 10, cursor: first.body.meta?.next_cursor });
    expect((second.body.data as { _id: number }[]).map((d) => d._id)).toEqual([2]);
    const big = await action(c, 'aggregate', { pipeline: [{ $project: { s: { $concat: ['$s', '$s', '$s', '$s'] } } }] });
    expect(big.status).toBe(400);
    expect(big.body.error?.code).toBe('AGGREGATE_MEMORY_LIMIT');
    expect(await ready()).toBe(true);
  });
});
