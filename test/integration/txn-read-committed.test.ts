// read_committed transactions still keep what must never break (a reviewer
// reproduced each against the real server): an execute compare-and-set is
// atomic (its conditions are validated from the point they were read), and
// document inserts keep _id and unique indexes unique (the reads a write was
// planned from are validated at commit) — racing another read_committed
// transaction or a plain insert, the later commit is refused 409. And a
// transactional KV listing does not report more keys because documents or
// table rows (internal keys) follow the KV keys on a shard.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';

afterAll(cleanup);

let server: ServerProcess;
beforeAll(async () => {
  server = await startServer({ shards: 2, fsync: 'batch' });
});

async function call(method: string, path: string, body?: unknown, txn?: string): Promise<{ status: number; json: { success: boolean; data?: unknown; error?: { code: string } } }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (txn !== undefined) headers['mantis-txn'] = txn;
  const response = await fetch(`${server.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: response.status, json: (await response.json()) as { success: boolean; data?: unknown; error?: { code: string } } };
}

async function begin(): Promise<string> {
  const { status, json } = await call('POST', '/api/v1/txn', { isolation: 'read_committed' });
  expect(status).toBe(200);
  return (json.data as { id: string }).id;
}

const commit = (id: string) => call('POST', `/api/v1/txn/${id}/commit`);

describe('read_committed', () => {
  it('an execute compare-and-set is atomic: concurrent increments lose nothing', async () => {
    await fetch(`${server.url}/api/v1/kv/rc-counter`, { method: 'PUT', body: '0' });
    let applied = 0;
    const client = async (): Promise<void> => {
      for (let i = 0; i < 15; i++) {
        const get = await call('POST', '/api/v1/txn/execute', { isolation: 'read_committed', operations: [{ op: 'get', key: 'rc-counter' }] });
        const read = (get.json.data as { results: { value: string; version: string }[] }).results[0];
        const next = String(Number(read.value) + 1);
        const cas = await call('POST', '/api/v1/txn/execute', {
          isolation: 'read_committed',
          conditions: [{ key: 'rc-counter', version: read.version }],
          operations: [{ op: 'put', key: 'rc-counter', value: next }],
        });
        if (cas.status === 200) applied++;
        else expect(cas.status).toBe(409);
      }
    };
    await Promise.all(Array.from({ length: 8 }, client));
    const final = await (await fetch(`${server.url}/api/v1/kv/rc-counter`)).text();
    expect(applied).toBeGreaterThan(0);
    expect(Number(final)).toBe(applied);
  });

  it('two transactions inserting one _id, or a transaction racing a plain insert of it: the later commit is refused', async () => {
    const c = `/api/v1/docs/rc_ids_${Date.now()}`;
    const t1 = await begin();
    const t2 = await begin();
    expect((await call('POST', `${c}/insert`, { documents: [{ _id: 7, who: 't1' }] }, t1)).status).toBe(200);
    expect((await call('POST', `${c}/insert`, { documents: [{ _id: 7, who: 't2' }] }, t2)).status).toBe(200);
    expect((await commit(t1)).status).toBe(200);
    expect((await commit(t2)).status).toBe(409);
    const t3 = await begin();
    expect((await call('POST', `${c}/insert`, { documents: [{ _id: 8, who: 't3' }] }, t3)).status).toBe(200);
    expect((await call('POST', `${c}/insert`, { documents: [{ _id: 8, who: 'plain' }] })).status).toBe(200);
    expect((await commit(t3)).status).toBe(409);
    const found = await call('POST', `${c}/find`, { filter: {}, sort: { _id: 1 } });
    expect(found.json.data).toEqual([{ _id: 7, who: 't1' }, { _id: 8, who: 'plain' }]);
  });

  it('two transactions taking one unique value: the later commit is 409 DUPLICATE_KEY and the index stays unique', async () => {
    const c = `/api/v1/docs/rc_unique_${Date.now()}`;
    await call('POST', `${c}/insert`, { documents: [{ _id: 0, email: 'seed' }] });
    expect((await call('POST', `${c}/indexes`, { name: 'em', keys: { email: 1 }, unique: true })).status).toBeLessThan(300);
    const t1 = await begin();
    const t2 = await begin();
    expect((await call('POST', `${c}/insert`, { documents: [{ _id: 1, email: 'dup@x' }] }, t1)).status).toBe(200);
    expect((await call('POST', `${c}/insert`, { documents: [{ _id: 2, email: 'dup@x' }] }, t2)).status).toBe(200);
    expect((await commit(t1)).status).toBe(200);
    const second = await commit(t2);
    expect([second.status, second.json.error?.code]).toEqual([409, 'DUPLICATE_KEY']);
    const found = await call('POST', `${c}/find`, { filter: { email: 'dup@x' }, hint: 'em' });
    expect(found.json.data).toEqual([{ _id: 1, email: 'dup@x' }]);
  });
});

describe('a transactional KV listing', () => {
  it('reports no more keys when only internal keys (table rows, documents) follow', async () => {
    await fetch(`${server.url}/api/v1/kv/list-k1`, { method: 'PUT', body: '1' });
    await fetch(`${server.url}/api/v1/kv/list-k2`, { method: 'PUT', body: '2' });
    const table = `list_rows_${Date.now()}`;
    await call('POST', '/api/v1/tables', { name: table, primary_key: ['id'], columns: [{ name: 'id', type: 'int64' }] });
    await call('POST', `/api/v1/tables/${table}/rows`, { rows: Array.from({ length: 300 }, (_, id) => ({ id })) });
    await call('POST', `/api/v1/docs/list_docs_${Date.now()}/insert`, { documents: [{ _id: 1 }] });
    const txn = await begin();
    const response = await fetch(`${server.url}/api/v1/kv?limit=100`, { headers: { 'mantis-txn': txn } });
    const body = (await response.json()) as { data: string[]; meta: { more?: boolean; next_cursor?: string | null } };
    expect(body.data).toEqual(expect.arrayContaining(['list-k1', 'list-k2']));
    expect(body.data.every((k) => !k.startsWith('\u00ff'))).toBe(true);
    expect(body.meta.more ?? false).toBe(false);
    await commit(txn);
  });
});
