// POST /api/v1/txn/execute: operations and compare-and-set conditions (on a
// value, a version, or existence) committed atomically in one request, across
// shards; a failed condition is 409 TXN_CONFLICT naming the key and nothing is
// written; bad bodies are 400s with a code. Run with the HTTP fast path on and
// off (the route is served natively, or through Hono).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSlotMap, shardOfKey } from '../../shared/slot.js';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';
import { expectError, expectOk, keyPath } from '../helpers/http-client.js';

type GetResult = { op: 'get'; key: string; found: boolean; value?: string; version?: string; content_type?: string };
type ExecuteData = { committed: true; commit_ts: number; results: (GetResult | { op: 'put'; key: string } | { op: 'delete'; key: string; deleted: boolean })[] };

const slots = buildSlotMap(2);
/** Two keys on different shards, under a per-run prefix. */
function crossPair(prefix: string): [string, string] {
  const byShard: string[][] = [[], []];
  for (let i = 0; byShard[0].length === 0 || byShard[1].length === 0; i++) {
    const key = `${prefix}/${i}`;
    byShard[shardOfKey(slots, new TextEncoder().encode(key))].push(key);
  }
  return [byShard[0][0], byShard[1][0]];
}

afterAll(cleanup);

describe.each([true, false])('POST /api/v1/txn/execute (fast path %s)', (fastPath) => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServer({ shards: 2, fsync: 'batch', fastPath });
  });
  const execute = (body: unknown): Promise<Response> =>
    fetch(`${server.url}/api/v1/txn/execute`, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  /** A 409 TXN_CONFLICT; its error names the key and the reason. */
  const conflict = async (response: Response): Promise<{ code: string; message: string; key: string; reason: string }> => {
    expect(response.status).toBe(409);
    const body = (await response.json()) as { success: boolean; error: { code: string; message: string; key: string; reason: string } };
    expect(body.success).toBe(false);
    expect(body.error.code).toBe('TXN_CONFLICT');
    return body.error;
  };
  const plainGet = async (key: string): Promise<string | null> => {
    const response = await fetch(`${server.url}/api/v1/kv/${keyPath(key)}`);
    return response.status === 404 ? null : await response.text();
  };

  it('puts, gets and deletes across shards in one atomic request, reads seeing earlier operations', async () => {
    const [a, b] = crossPair(`exec-${fastPath}/basic`);
    const data = (await expectOk<ExecuteData>(await execute({
      operations: [
        { op: 'put', key: a, value: '100' },
        { op: 'put', key: b, value: 'x', content_type: 'text/x-test' },
        { op: 'get', key: a },
        { op: 'delete', key: b },
        { op: 'get', key: b },
      ],
    }))).data;
    expect(data.committed).toBe(true);
    expect(data.commit_ts).toBeGreaterThan(0);
    expect(data.results).toEqual([
      { op: 'put', key: a },
      { op: 'put', key: b },
      expect.objectContaining({ op: 'get', key: a, found: true, value: '100' }),
      { op: 'delete', key: b, deleted: true },
      { op: 'get', key: b, found: false },
    ]);
    expect(await plainGet(a)).toBe('100');
    expect(await plainGet(b)).toBeNull();
  });

  it('compare-and-set on a value: applied when it matches, 409 TXN_CONFLICT naming the key and nothing written when not', async () => {
    const [a, b] = crossPair(`exec-${fastPath}/cas-value`);
    await expectOk(await execute({ operations: [{ op: 'put', key: a, value: '100' }, { op: 'put', key: b, value: '0' }] }));
    await expectOk(await execute({
      conditions: [{ key: a, value: '100' }],
      operations: [{ op: 'put', key: a, value: '90' }, { op: 'put', key: b, value: '10' }],
    }));
    expect([await plainGet(a), await plainGet(b)]).toEqual(['90', '10']);
    const failed = await conflict(await execute({
      conditions: [{ key: a, value: '100' }],
      operations: [{ op: 'put', key: a, value: '80' }, { op: 'put', key: b, value: '20' }],
    }));
    expect(failed).toMatchObject({ key: a, reason: 'condition' });
    expect(failed.message).toContain(a);
    expect([await plainGet(a), await plainGet(b)]).toEqual(['90', '10']);
  });

  it('compare-and-set on a version: the version a read returned works once, then is stale', async () => {
    const [a, b] = crossPair(`exec-${fastPath}/cas-version`);
    await expectOk(await execute({ operations: [{ op: 'put', key: a, value: '1' }] }));
    const read = (await expectOk<ExecuteData>(await execute({ operations: [{ op: 'get', key: a }] }))).data.results[0] as GetResult;
    expect(read.version).toMatch(/^\d+\.\d+$/);
    // The header on a read inside a transaction gives the same version.
    const id = (await expectOk<{ id: string }>(await fetch(`${server.url}/api/v1/txn`, { method: 'POST' }))).data.id;
    const inTxn = await fetch(`${server.url}/api/v1/kv/${keyPath(a)}`, { headers: { 'Mantis-Txn': id } });
    expect(inTxn.headers.get('mantis-version')).toBe(read.version);
    await inTxn.arrayBuffer();
    await expectOk(await execute({ conditions: [{ key: a, version: read.version }], operations: [{ op: 'put', key: a, value: '2' }, { op: 'put', key: b, value: 'moved' }] }));
    const again = await conflict(await execute({ conditions: [{ key: a, version: read.version }], operations: [{ op: 'put', key: a, value: '3' }] }));
    expect(again).toMatchObject({ key: a, reason: 'condition' });
    expect(await plainGet(a)).toBe('2');
  });

  it('conditions on existence: insert-if-absent happens once', async () => {
    const [a] = crossPair(`exec-${fastPath}/exists`);
    const body = { conditions: [{ key: a, exists: false }], operations: [{ op: 'put', key: a, value: 'first' }] };
    await expectOk(await execute(body));
    expect(await conflict(await execute({ ...body, operations: [{ op: 'put', key: a, value: 'second' }] }))).toMatchObject({ key: a, reason: 'condition' });
    expect(await plainGet(a)).toBe('first');
    await expectOk(await execute({ conditions: [{ key: a, exists: true }], operations: [{ op: 'delete', key: a }] }));
    expect(await plainGet(a)).toBeNull();
  });

  it('concurrent compare-and-set increments on one counter: none is lost', async () => {
    const [a] = crossPair(`exec-${fastPath}/counter`);
    await expectOk(await execute({ operations: [{ op: 'put', key: a, value: '0' }] }));
    let applied = 0;
    await Promise.all(
      Array.from({ length: 6 }, async () => {
        for (let done = 0; done < 10; ) {
          const read = (await expectOk<ExecuteData>(await execute({ operations: [{ op: 'get', key: a }] }))).data.results[0] as GetResult;
          const response = await execute({ conditions: [{ key: a, value: read.value }], operations: [{ op: 'put', key: a, value: String(Number(read.value) + 1) }] });
          if (response.status === 200) {
            applied++;
            done++;
          } else expect(response.status).toBe(409);
          await response.arrayBuffer();
        }
      }),
    );
    expect(applied).toBe(60);
    expect(await plainGet(a)).toBe('60');
  });

  it('paths that are not a transaction route are 404 NOT_FOUND on both listeners', async () => {
    for (const path of ['/api/v1/txn//commit', '/api/v1/txn/commit', '/api/v1/txn/a/b/commit', '/api/v1/txn/x/rollback/commit', '/api/v1/txn/x/commitx']) {
      await expectError(await fetch(`${server.url}${path}`, { method: 'POST' }), 404, 'NOT_FOUND');
    }
    await expectError(await fetch(`${server.url}/api/v1/txn/nope/commit`, { method: 'POST' }), 404, 'TXN_NOT_FOUND');
  });

  it.each([
    ['not JSON', '{', 400, 'INVALID_JSON'],
    ['no operations', {}, 400, 'INVALID_PARAMETER'],
    ['empty operations', { operations: [] }, 400, 'INVALID_PARAMETER'],
    ['an unknown field', { operations: [{ op: 'get', key: 'k' }], extra: 1 }, 400, 'INVALID_PARAMETER'],
    ['an unknown op', { operations: [{ op: 'incr', key: 'k' }] }, 400, 'INVALID_PARAMETER'],
    ['a put without a value', { operations: [{ op: 'put', key: 'k' }] }, 400, 'INVALID_PARAMETER'],
    ['a non-string value', { operations: [{ op: 'put', key: 'k', value: 5 }] }, 400, 'INVALID_PARAMETER'],
    ['an empty key', { operations: [{ op: 'get', key: '' }] }, 400, 'INVALID_KEY'],
    ['a condition with two tests', { conditions: [{ key: 'k', value: 'a', exists: true }], operations: [{ op: 'get', key: 'k' }] }, 400, 'INVALID_PARAMETER'],
    ['a bad isolation', { isolation: 'chaos', operations: [{ op: 'get', key: 'k' }] }, 400, 'INVALID_PARAMETER'],
    ['a bad ttl', { operations: [{ op: 'put', key: 'k', value: 'v', ttl: -1 }] }, 400, 'INVALID_TTL'],
    ['too many operations', { operations: Array.from({ length: 1001 }, () => ({ op: 'get', key: 'k' })) }, 413, 'BATCH_TOO_LARGE'],
  ] as const)('refuses %s', async (_what, body, status, code) => {
    await expectError(await execute(body), status, code);
  });
});
