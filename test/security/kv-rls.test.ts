// KV row-level security (issue 14) on a real server with --auth on, with the
// uWS fast path and through Hono only: two tenants, users alice
// (claims {tenant: "a"}) and bob ({tenant: "b"}) with role readwrite, under
// the policies "tenant:{tenant}:" and "user:{sub}:". Through every KV path
// alice never reads, lists, counts, writes or deletes a key of bob's:
// GET/HEAD (404, as if absent), PUT (403), DELETE (404), the listing (only her
// keys, no total, no cursor naming his), batches and transactions (403 when
// anything touches his keys; his transaction is not hers to use or end), SQL's
// read-only kv relation, the cache's dependency listing, the invalidation
// streams (SSE with ?access_token= and WebSocket carry only her keys), and a
// GET the cache answers. The admin bypasses the policies; a credential
// without the claim sees nothing under the scope. HEAD runs last in each
// block: should the server die on a HEAD the gate refuses (uWS aborts the
// process when a HEAD is answered before an abort handler is attached), the
// other results still stand.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSlotMap, shardOfKey } from '../../shared/slot.js';
import {
  call,
  createKey,
  createKvPolicy,
  createUser,
  login,
  loginAdmin,
  ok,
  openSseStream,
  openWsStream,
  startAuthServer,
  type Answer,
} from '../helpers/auth-support.js';
import { cleanup, type ServerProcess } from '../helpers/server-process.js';
import type { StreamMessage } from '../helpers/stream-clients.js';

const SHARDS = 2;
const slotMap = buildSlotMap(SHARDS);
const shardOf = (key: string): number => shardOfKey(slotMap, Buffer.from(key));

const A_KEYS = ['tenant:a:1', 'tenant:a:2', 'tenant:a:3'];
const B_KEYS = ['tenant:b:1', 'tenant:b:2', 'tenant:b:secret'];
const OTHER = 'open:1';
const PASSWORD = 'tenant-password-123';

type Setup = {
  readonly server: ServerProcess;
  readonly base: string;
  readonly admin: string;
  readonly alice: string;
  readonly bob: string;
  /** An API key with role readwrite and no tenant claim. */
  readonly noClaim: string;
  readonly noClaimSub: string;
};

const valueOf = (key: string): string => `value of ${key}`;

async function put(base: string, token: string, key: string, value = valueOf(key)): Promise<Answer> {
  return call(base, 'PUT', `/api/v1/kv/${key}`, { token, body: value, contentType: 'text/plain' });
}

async function prepare(fastPath: boolean): Promise<Setup> {
  const server = await startAuthServer({ fastPath, shards: SHARDS });
  const base = server.url;
  const admin = await loginAdmin(base);
  await createKvPolicy(base, admin, 't', 'tenant:{tenant}:', ['readwrite']);
  await createKvPolicy(base, admin, 'own', 'user:{sub}:', ['readwrite']);
  await createUser(base, admin, 'alice', PASSWORD, ['readwrite'], { tenant: 'a' });
  await createUser(base, admin, 'bob', PASSWORD, ['readwrite'], { tenant: 'b' });
  const alice = await login(base, 'alice', PASSWORD);
  const bob = await login(base, 'bob', PASSWORD);
  const noClaim = await createKey(base, admin, 'no-claim', ['readwrite']);
  for (const key of [...A_KEYS, ...B_KEYS, OTHER, 'user:alice:1', 'user:bob:1']) await ok(put(base, admin, key), 200);
  return { server, base, admin, alice, bob, noClaim: noClaim.key, noClaimSub: `key:${noClaim.id}` };
}

/** The admin's view of a key: its value, or null when absent. */
async function adminRead(s: Setup, key: string): Promise<string | null> {
  const a = await call(s.base, 'GET', `/api/v1/kv/${encodeURIComponent(key)}`, { token: s.admin });
  if (a.status === 404) return null;
  expect(a.status, a.text).toBe(200);
  return a.text;
}

async function expectBUntouched(s: Setup): Promise<void> {
  for (const key of B_KEYS) expect(await adminRead(s, key), key).toBe(valueOf(key));
}

function expectNotFound(a: Answer, what: string): void {
  expect(a.status, `${what}: ${a.text}`).toBe(404);
  expect(a.json?.error?.code, what).toBe('KEY_NOT_FOUND');
  expect(a.text, what).not.toContain('value of');
}

function expectForbidden(a: Answer, what: string): void {
  expect(a.status, `${what}: ${a.text}`).toBe(403);
  expect(a.json?.error?.code, what).toBe('FORBIDDEN');
  expect(a.text, what).not.toContain('value of');
}

async function list(s: Setup, token: string, query: string, headers: Record<string, string> = {}): Promise<{ keys: string[]; meta: Record<string, unknown> }> {
  const a = await call(s.base, 'GET', `/api/v1/kv?${query}`, { token, headers });
  expect(a.status, a.text).toBe(200);
  return { keys: a.json?.data as string[], meta: a.json?.meta ?? {} };
}

/** Keys `${prefix}${n}`, one per shard, so a stream that has them all has every earlier event of each shard. */
function markersFor(prefix: string): string[] {
  const markers: (string | undefined)[] = Array.from({ length: SHARDS }, () => undefined);
  for (let n = 0; markers.includes(undefined); n++) {
    const key = `${prefix}${n}`;
    markers[shardOf(key)] ??= key;
  }
  return markers as string[];
}

afterAll(cleanup);

describe.each([
  { fastPath: true, label: 'fast path on' },
  { fastPath: false, label: 'fast path off (Hono)' },
])('KV row-level security, $label', ({ fastPath }) => {
  let s: Setup;

  beforeAll(async () => {
    s = await prepare(fastPath);
  });

  afterAll(async () => {
    await s?.server.stop();
  });

  it('GET: her own keys, never his (404 as if absent, percent-encoded too)', async () => {
    for (const key of A_KEYS) {
      const a = await call(s.base, 'GET', `/api/v1/kv/${key}`, { token: s.alice });
      expect(a.status, a.text).toBe(200);
      expect(a.text).toBe(valueOf(key));
    }
    for (const key of B_KEYS) {
      expectNotFound(await call(s.base, 'GET', `/api/v1/kv/${key}`, { token: s.alice }), `GET ${key}`);
      expectNotFound(await call(s.base, 'GET', `/api/v1/kv/${encodeURIComponent(key)}`, { token: s.alice }), `GET ${encodeURIComponent(key)}`);
    }
    // Bob the other way round.
    expectNotFound(await call(s.base, 'GET', '/api/v1/kv/tenant:a:1', { token: s.bob }), 'bob GET tenant:a:1');
    expect((await call(s.base, 'GET', '/api/v1/kv/tenant:b:1', { token: s.bob })).status).toBe(200);
    // Keys outside every scope are governed by permissions only.
    expect((await call(s.base, 'GET', `/api/v1/kv/${OTHER}`, { token: s.alice })).status).toBe(200);
  });

  it('a GET the cache answers does not leak either', async () => {
    const hitsBefore = await cacheHits(s);
    // The admin reads bob's key twice: the second read is served from the cache.
    for (let i = 0; i < 2; i++) expect(await adminRead(s, 'tenant:b:1')).toBe(valueOf('tenant:b:1'));
    expect(await cacheHits(s)).toBeGreaterThan(hitsBefore);
    for (let i = 0; i < 3; i++) expectNotFound(await call(s.base, 'GET', '/api/v1/kv/tenant:b:1', { token: s.alice }), `cached GET #${i + 1}`);
    // Her own key, read twice, is still hers.
    for (let i = 0; i < 2; i++) expect((await call(s.base, 'GET', '/api/v1/kv/tenant:a:1', { token: s.alice })).text).toBe(valueOf('tenant:a:1'));
  });

  it('PUT: his keys are refused (403) and stay as they were; hers are written', async () => {
    for (const key of [...B_KEYS, 'tenant:b:new']) expectForbidden(await put(s.base, s.alice, key, 'overwritten by alice'), `PUT ${key}`);
    expect(await adminRead(s, 'tenant:b:new')).toBeNull();
    await expectBUntouched(s);
    expect((await put(s.base, s.alice, 'tenant:a:new', valueOf('tenant:a:new'))).status).toBe(200);
    expect(await adminRead(s, 'tenant:a:new')).toBe(valueOf('tenant:a:new'));
    // The scope is the literal head of the template: a key of no tenant is refused too.
    expectForbidden(await put(s.base, s.alice, 'tenant:', 'x'), 'PUT tenant:');
    expectForbidden(await put(s.base, s.alice, 'tenant:ab:1', 'x'), 'PUT tenant:ab:1');
  });

  it('DELETE: his keys answer 404 and stay', async () => {
    for (const key of B_KEYS) expectNotFound(await call(s.base, 'DELETE', `/api/v1/kv/${key}`, { token: s.alice }), `DELETE ${key}`);
    await expectBUntouched(s);
    await ok(put(s.base, s.admin, 'tenant:a:del'), 200);
    expect((await call(s.base, 'DELETE', '/api/v1/kv/tenant:a:del', { token: s.alice })).status).toBe(200);
    expect(await adminRead(s, 'tenant:a:del')).toBeNull();
  });

  it('the listing shows only her keys, with no total and no cursor naming his', async () => {
    const mine = (await list(s, s.admin, 'prefix=tenant:a:&limit=1000')).keys;
    expect(mine.length).toBeGreaterThanOrEqual(A_KEYS.length);
    const scoped = await list(s, s.alice, 'prefix=tenant:&limit=1000');
    expect(scoped.keys).toEqual(mine);
    expect(scoped.meta.total).toBeNull();
    expect(scoped.meta.count).toBe(mine.length);
    // His prefix: nothing at all.
    const his = await list(s, s.alice, 'prefix=tenant:b:');
    expect(his.keys).toEqual([]);
    expect(his.meta.total).toBeNull();
    // Every key she may list: hers, her user: keys and keys outside the scopes; none of his.
    const all = await list(s, s.alice, 'limit=1000');
    expect(all.keys.filter((k) => k.startsWith('tenant:b:') || k.startsWith('user:bob:'))).toEqual([]);
    expect(all.keys).toEqual(expect.arrayContaining([...A_KEYS, 'user:alice:1', OTHER]));
    expect(all.meta.total).toBeNull();
    // The admin sees both tenants, with the total.
    const adminView = await list(s, s.admin, 'prefix=tenant:&limit=1000');
    expect(adminView.keys).toEqual(expect.arrayContaining([...A_KEYS, ...B_KEYS]));
    expect(adminView.meta.total).toBe(adminView.keys.length);
  });

  it('paging the listing never names his keys (the cursor is a key)', async () => {
    // Pages of one key under "tenant:": the pages that hold his keys come back empty, and their cursor must not name them.
    const seen: string[] = [];
    const cursors: string[] = [];
    let query = 'prefix=tenant:&limit=1';
    let lastPage = false;
    for (let page = 0; page < 100 && !lastPage; page++) {
      const { keys, meta } = await list(s, s.alice, query);
      seen.push(...keys);
      const cursor = meta.next_cursor;
      if (typeof cursor !== 'string') {
        lastPage = true;
        break;
      }
      cursors.push(cursor);
      query = `prefix=tenant:&limit=1&cursor=${encodeURIComponent(cursor)}`;
    }
    expect(lastPage, 'the paging ends').toBe(true);
    expect(seen.filter((k) => !k.startsWith('tenant:a:'))).toEqual([]);
    expect(seen).toEqual(expect.arrayContaining(A_KEYS));
    const named = cursors.map((c) => Buffer.from(c, 'base64url').toString('utf8')).filter((k) => k.startsWith('tenant:b:'));
    expect(named, 'cursors that decode to a key of the other tenant').toEqual([]);
  });

  it('a batch that touches any of his keys is refused whole (403)', async () => {
    const batch = (ops: unknown[]): Promise<Answer> => call(s.base, 'POST', '/api/v1/kv/batch', { token: s.alice, body: { ops } });
    expectForbidden(await batch([{ op: 'get', key: 'tenant:b:1' }]), 'batch get');
    expectForbidden(await batch([{ op: 'put', key: 'tenant:b:1', value: 'x' }]), 'batch put');
    expectForbidden(await batch([{ op: 'delete', key: 'tenant:b:1' }]), 'batch delete');
    expectForbidden(await batch([{ op: 'put', key: 'tenant:a:batch', value: 'x' }, { op: 'delete', key: 'tenant:b:2' }]), 'mixed batch');
    expect(await adminRead(s, 'tenant:a:batch')).toBeNull();
    await expectBUntouched(s);
    const own = await batch([{ op: 'put', key: 'tenant:a:batch', value: 'mine' }, { op: 'get', key: 'tenant:a:1' }]);
    expect(own.status, own.text).toBe(200);
    expect(await adminRead(s, 'tenant:a:batch')).toBe('mine');
  });

  it('inside a transaction (Mantis-Txn): his keys are absent or refused; the listing is hers', async () => {
    const txn = (await ok<{ id: string }>(call(s.base, 'POST', '/api/v1/txn', { token: s.alice, body: {} }), 200)).id;
    const headers = { 'mantis-txn': txn };
    expectNotFound(await call(s.base, 'GET', '/api/v1/kv/tenant:b:1', { token: s.alice, headers }), 'txn GET');
    expectForbidden(await call(s.base, 'PUT', '/api/v1/kv/tenant:b:1', { token: s.alice, headers, body: 'x', contentType: 'text/plain' }), 'txn PUT');
    expectNotFound(await call(s.base, 'DELETE', '/api/v1/kv/tenant:b:2', { token: s.alice, headers }), 'txn DELETE');
    const listed = await list(s, s.alice, 'prefix=tenant:&limit=1000', headers);
    expect(listed.keys.filter((k) => !k.startsWith('tenant:a:'))).toEqual([]);
    expect(listed.keys).toEqual(expect.arrayContaining(A_KEYS));
    expect(listed.meta.total).toBeNull();
    expect((await call(s.base, 'PUT', '/api/v1/kv/tenant:a:txn', { token: s.alice, headers, body: 'in txn', contentType: 'text/plain' })).status).toBe(200);
    expect((await call(s.base, 'POST', `/api/v1/txn/${txn}/commit`, { token: s.alice })).status).toBe(200);
    expect(await adminRead(s, 'tenant:a:txn')).toBe('in txn');
    await expectBUntouched(s);
  });

  it('POST /api/v1/txn/execute: operations or conditions on his keys are refused (403)', async () => {
    const execute = (body: unknown): Promise<Answer> => call(s.base, 'POST', '/api/v1/txn/execute', { token: s.alice, body });
    expectForbidden(await execute({ operations: [{ op: 'get', key: 'tenant:b:1' }] }), 'execute get');
    expectForbidden(await execute({ operations: [{ op: 'put', key: 'tenant:b:1', value: 'x' }] }), 'execute put');
    expectForbidden(await execute({ operations: [{ op: 'delete', key: 'tenant:b:1' }] }), 'execute delete');
    expectForbidden(await execute({ operations: [{ op: 'put', key: 'tenant:a:exec', value: 'x' }, { op: 'delete', key: 'tenant:b:2' }] }), 'execute mixed');
    // A condition is a read: whether his key exists must not be learnt from it.
    expectForbidden(await execute({ conditions: [{ key: 'tenant:b:secret', exists: true }], operations: [{ op: 'put', key: 'tenant:a:exec', value: 'x' }] }), 'execute condition exists');
    expectForbidden(await execute({ conditions: [{ key: 'tenant:b:secret', value: valueOf('tenant:b:secret') }], operations: [{ op: 'get', key: 'tenant:a:1' }] }), 'execute condition value');
    expect(await adminRead(s, 'tenant:a:exec')).toBeNull();
    await expectBUntouched(s);
    const own = await execute({ conditions: [{ key: 'tenant:a:1', exists: true }], operations: [{ op: 'put', key: 'tenant:a:exec', value: 'mine' }, { op: 'get', key: 'tenant:a:2' }] });
    expect(own.status, own.text).toBe(200);
    expect(await adminRead(s, 'tenant:a:exec')).toBe('mine');
  });

  it('a transaction is its owner\'s: the other tenant can neither write into it nor end it', async () => {
    // Ids are a per-server prefix and a counter: bob learns the prefix from a transaction of his own.
    const txn = (await ok<{ id: string }>(call(s.base, 'POST', '/api/v1/txn', { token: s.alice, body: {} }), 200)).id;
    expect((await call(s.base, 'PUT', '/api/v1/kv/tenant:a:owned', { token: s.alice, headers: { 'mantis-txn': txn }, body: 'hers', contentType: 'text/plain' })).status).toBe(200);
    const intrude = await call(s.base, 'PUT', '/api/v1/kv/tenant:b:intruder', { token: s.bob, headers: { 'mantis-txn': txn }, body: 'x', contentType: 'text/plain' });
    const rollback = await call(s.base, 'POST', `/api/v1/txn/${txn}/rollback`, { token: s.bob });
    const refused = (a: Answer): boolean => a.status === 403 || a.status === 404;
    expect({ intrude: refused(intrude), rollback: refused(rollback) }, `bob in alice's transaction: PUT ${intrude.status} ${intrude.text}\nrollback ${rollback.status} ${rollback.text}`).toEqual({ intrude: true, rollback: true });
    expect((await call(s.base, 'POST', `/api/v1/txn/${txn}/commit`, { token: s.alice })).status).toBe(200);
    expect(await adminRead(s, 'tenant:a:owned')).toBe('hers');
    expect(await adminRead(s, 'tenant:b:intruder')).toBeNull();
  });

  it('SQL\'s kv relation shows only her keys', async () => {
    const sql = (token: string, query: string): Promise<Answer> => call(s.base, 'POST', '/api/v1/sql', { token, body: { query } });
    const rows = (a: Answer): unknown[][] => (a.json?.data as { rows: unknown[][] }).rows;
    const query = "SELECT key, value FROM kv WHERE key LIKE 'tenant:%' ORDER BY key";
    const adminView = await sql(s.admin, query);
    expect(adminView.status, adminView.text).toBe(200);
    expect(rows(adminView).map((r) => r[0])).toEqual(expect.arrayContaining([...A_KEYS, ...B_KEYS]));
    for (const q of [query, "SELECT key, value FROM kv WHERE key = 'tenant:b:secret'", "SELECT count(*) AS n FROM kv WHERE key LIKE 'tenant:b:%'", 'SELECT key, value FROM kv']) {
      const a = await sql(s.alice, q);
      if (a.status === 403) continue; // refused outright leaks nothing either
      expect(a.status, `${q}: ${a.text}`).toBe(200);
      expect(a.text, q).not.toContain('tenant:b:');
      expect(a.text, q).not.toContain(valueOf('tenant:b:secret'));
      if (q.startsWith('SELECT count')) expect(rows(a), q).toEqual([[0]]);
    }
  });

  it('the cache\'s dependency listing names none of his keys', async () => {
    await ok(call(s.base, 'POST', '/api/v1/cache/dependencies', { token: s.admin, body: { parent: 'tenant:b:1', child: 'tenant:b:secret' } }));
    const children = await call(s.base, 'GET', '/api/v1/cache/dependencies?parent=tenant:b:1', { token: s.alice });
    const parents = await call(s.base, 'GET', '/api/v1/cache/dependencies?child=tenant:b:secret', { token: s.alice });
    const named = (a: Answer, field: string): unknown[] => (a.status === 200 ? ((a.json?.data as Record<string, unknown[]>)[field] ?? []) : []);
    expect({ children: named(children, 'children'), parents: named(parents, 'parents') }, `${children.text}\n${parents.text}`).toEqual({ children: [], parents: [] });
  });

  it('the invalidation streams (SSE with ?access_token=, WebSocket) carry only her keys', async () => {
    const sse = await openSseStream(s.base, `/api/v1/cache/invalidations/stream?prefix=tenant:&access_token=${encodeURIComponent(s.alice)}`);
    expect(sse.status, sse.text).toBe(200);
    const ws = await openWsStream(s.base, s.alice);
    const adminWs = await openWsStream(s.base, s.admin);
    try {
      expect((await sse.inbox.next()).data).toEqual({ type: 'subscribed', stream: 'invalidations', prefix: 'tenant:' });
      expect(await ws.request({ subscribe: 'invalidations', prefix: 'tenant:' })).toEqual({ type: 'subscribed', stream: 'invalidations', prefix: 'tenant:' });
      // Subscribing to his prefix is allowed, and delivers nothing.
      expect(await ws.request({ subscribe: 'invalidations', prefix: 'tenant:b:' })).toMatchObject({ type: 'subscribed', prefix: 'tenant:b:' });
      expect(await adminWs.request({ subscribe: 'invalidations', prefix: 'tenant:' })).toMatchObject({ type: 'subscribed' });

      // The admin writes and deletes keys of both tenants; then one marker of hers per shard.
      for (const key of ['tenant:b:s1', 'tenant:a:s1', 'tenant:b:s2']) await ok(put(s.base, s.admin, key), 200);
      await ok(call(s.base, 'DELETE', '/api/v1/kv/tenant:b:s1', { token: s.admin }), 200);
      await ok(call(s.base, 'DELETE', '/api/v1/kv/tenant:a:s1', { token: s.admin }), 200);
      const markers = markersFor('tenant:a:marker-');
      for (const key of markers) await ok(put(s.base, s.admin, key), 200);

      const keysUntilMarkers = async (next: () => Promise<StreamMessage>): Promise<string[]> => {
        const waiting = new Set(markers);
        const keys: string[] = [];
        while (waiting.size > 0) {
          const m = await next();
          expect(m.type).toBe('invalidation');
          keys.push(String(m.key));
          waiting.delete(String(m.key));
        }
        return keys;
      };
      const viaAdmin = await keysUntilMarkers(() => adminWs.inbox.next());
      expect(viaAdmin).toEqual(expect.arrayContaining(['tenant:b:s1', 'tenant:b:s2']));
      const viaSse = await keysUntilMarkers(async () => (await sse.inbox.next()).data);
      const viaWs = await keysUntilMarkers(() => ws.inbox.next());
      for (const keys of [viaSse, viaWs]) {
        expect(keys.filter((k) => !k.startsWith('tenant:a:'))).toEqual([]);
        expect(keys).toEqual(expect.arrayContaining(['tenant:a:s1', ...markers]));
      }
      expect(ws.inbox.unread().filter((m) => !String(m.key ?? '').startsWith('tenant:a:'))).toEqual([]);
      expect(sse.inbox.unread().filter((e) => !String(e.data.key ?? '').startsWith('tenant:a:'))).toEqual([]);
    } finally {
      sse.close();
      ws.close();
      adminWs.close();
    }
  });

  it('{sub} templates: each user reads and writes only under user:<own name>:', async () => {
    expect((await call(s.base, 'GET', '/api/v1/kv/user:alice:1', { token: s.alice })).status).toBe(200);
    expectNotFound(await call(s.base, 'GET', '/api/v1/kv/user:bob:1', { token: s.alice }), 'GET user:bob:1');
    expectForbidden(await put(s.base, s.alice, 'user:bob:2', 'x'), 'PUT user:bob:2');
    expectNotFound(await call(s.base, 'DELETE', '/api/v1/kv/user:bob:1', { token: s.alice }), 'DELETE user:bob:1');
    expect((await put(s.base, s.alice, 'user:alice:2')).status).toBe(200);
    expect((await list(s, s.alice, 'prefix=user:&limit=1000')).keys).toEqual(['user:alice:1', 'user:alice:2']);
    expect((await list(s, s.bob, 'prefix=user:&limit=1000')).keys).toEqual(['user:bob:1']);
    // A prefix of another user's name is not hers: "user:alice:" does not cover "user:alicex:".
    expectForbidden(await put(s.base, s.alice, 'user:alicex:1', 'x'), 'PUT user:alicex:1');
    expect(await adminRead(s, 'user:bob:1')).toBe(valueOf('user:bob:1'));
  });

  it('the admin bypasses the policies', async () => {
    for (const key of [...A_KEYS, ...B_KEYS, 'user:alice:1', 'user:bob:1']) expect(await adminRead(s, key)).toBe(valueOf(key));
    expect((await put(s.base, s.admin, 'tenant:b:by-admin')).status).toBe(200);
    const batch = await call(s.base, 'POST', '/api/v1/kv/batch', { token: s.admin, body: { ops: [{ op: 'get', key: 'tenant:a:1' }, { op: 'get', key: 'tenant:b:1' }] } });
    expect(batch.status, batch.text).toBe(200);
    expect((await call(s.base, 'DELETE', '/api/v1/kv/tenant:b:by-admin', { token: s.admin })).status).toBe(200);
  });

  it('a credential without the claim sees nothing under the scope', async () => {
    const token = s.noClaim;
    for (const key of [...A_KEYS, ...B_KEYS]) expectNotFound(await call(s.base, 'GET', `/api/v1/kv/${key}`, { token }), `no-claim GET ${key}`);
    expectForbidden(await put(s.base, token, 'tenant:a:from-key', 'x'), 'no-claim PUT');
    expectForbidden(await put(s.base, token, 'tenant::x', 'x'), 'no-claim PUT under an empty tenant');
    expectNotFound(await call(s.base, 'DELETE', '/api/v1/kv/tenant:a:1', { token }), 'no-claim DELETE');
    const listed = await list(s, token, 'prefix=tenant:&limit=1000');
    expect(listed.keys).toEqual([]);
    expect(listed.meta.total).toBeNull();
    expectForbidden(await call(s.base, 'POST', '/api/v1/kv/batch', { token, body: { ops: [{ op: 'get', key: 'tenant:a:1' }] } }), 'no-claim batch');
    expectForbidden(await call(s.base, 'POST', '/api/v1/txn/execute', { token, body: { operations: [{ op: 'get', key: 'tenant:a:1' }] } }), 'no-claim execute');
    // Outside the scopes it is an ordinary readwrite key; under user: it has its own {sub}.
    expect((await call(s.base, 'GET', `/api/v1/kv/${OTHER}`, { token })).status).toBe(200);
    expect((await put(s.base, token, `user:${s.noClaimSub}:1`)).status).toBe(200);
    expect((await list(s, token, 'prefix=user:&limit=1000')).keys).toEqual([`user:${s.noClaimSub}:1`]);
    for (const key of A_KEYS) expect(await adminRead(s, key)).toBe(valueOf(key));
  });

  // Last: see the header (a HEAD refused at the gate must not take the server down).
  it('HEAD: his keys answer 404 like GET, and the server stays up', async () => {
    const head = (key: string, token: string): Promise<Answer> => call(s.base, 'HEAD', `/api/v1/kv/${key}`, { token });
    expect((await head('tenant:a:1', s.alice)).status).toBe(200);
    for (const key of B_KEYS) {
      const a = await head(key, s.alice).catch((error: unknown) => {
        throw new Error(`HEAD ${key}: ${(error as Error).message}\nserver stderr:\n${s.server.output().stderr.slice(-2000)}`);
      });
      expect(a.status, `HEAD ${key}`).toBe(404);
      expect(a.headers.get('content-length') ?? '0').not.toBe(String(Buffer.byteLength(valueOf(key))));
    }
    expect((await call(s.base, 'GET', '/health/live')).status).toBe(200);
  });
});

async function cacheHits(s: Setup): Promise<number> {
  const stats = await ok<{ total: { hits: number } }>(call(s.base, 'GET', '/api/v1/cache/stats', { token: s.admin }), 200);
  return stats.total.hits;
}
