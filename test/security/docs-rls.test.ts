// Row-level security and body permissions of the document store (issue 14),
// in process: a real 2-shard ShardPool, the DocService and the document
// handlers (compiled, from dist/: the shards load compiled workers), an
// AuthStore in a temporary directory with DocPolicy entries, and hand-built
// principals. Two tenants share collections under the policy
// {tenant: "$$CLAIMS.tenant"}: every read sees only its own documents, every
// write touches only them and may not leave a document of the other tenant
// behind, inside transactions too; change streams deliver only their events.
// The pure parts (claims substitution, filter AND, the stream predicate, the
// pipeline walk) are checked directly against the sources.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as DocsIndex from '../../src/docs/index.js';
import type * as DocRoutes from '../../src/http/doc-routes.js';
import type * as RouterIndex from '../../src/router/index.js';
import type * as AuthStoreModule from '../../src/security/auth-store.js';
import type * as PrincipalModule from '../../src/security/principal.js';
import type * as CoordinatorLogModule from '../../src/txn/coordinator-log.js';
import type * as TxnMetricsModule from '../../src/txn/txn-metrics.js';
import type * as InvalidationModule from '../../shared/cache/invalidation.js';
import type * as OracleModule from '../../shared/txn/timestamp-oracle.js';
import type { AuthStore } from '../../src/security/auth-store.js';
import type { Principal } from '../../src/security/principal.js';
import type { DocPolicy } from '../../src/security/policy-types.js';
import type { Doc } from '../../shared/docs/doc-types.js';
import type { DocService, DocTxnManager } from '../../src/docs/index.js';
import type { DocHandlers } from '../../src/http/doc-routes.js';
import type { ShardPool } from '../../src/router/index.js';
import type { CoordinatorLog } from '../../src/txn/coordinator-log.js';
import type { TimestampReserver } from '../../shared/txn/timestamp-oracle.js';
import { AuthStore as SrcAuthStore } from '../../src/security/auth-store.js';
import { BUILTIN_ROLES, compilePermissions, SYSTEM } from '../../src/security/principal.js';
import { andFilter, isMatchNothing, pipelineCollections, rlsCheckFilterFor, rlsFilterFor, rowPredicateFor, substituteClaims } from '../../src/docs/doc-rls.js';
import { ChangeHub } from '../../src/docs/change-hub.js';
import { ensureBuilt, ROOT } from '../helpers/child-process.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonDoc = { [k: string]: Json };
type Answer = { status: number; body: { success: boolean; data: unknown; meta?: Record<string, unknown>; error?: { code: string; message: string } } };

const SHARDS = 2;
const dist = <T>(path: string): Promise<T> => import(pathToFileURL(join(ROOT, 'dist', path)).href) as Promise<T>;

let dir: string;
let pool: ShardPool;
let txns: DocTxnManager;
let docs: DocService;
let handlers: DocHandlers;
let store: AuthStore;
let timestamps: TimestampReserver;
let coordinator: CoordinatorLog;
let changeSourceOf: typeof DocsIndex.changeSource;
let compile: typeof PrincipalModule.compilePermissions;

/** A principal as the authenticator would build it for a user. */
function user(name: string, roles: string[], claims: Record<string, unknown>): Principal {
  const perms = compile(roles, (r) => store.role(r));
  return { kind: 'user', id: name, sub: name, roles, claims, bypassRls: perms.admin, can: perms.can, limitKey: `user:${name}` };
}

let admin: Principal;
let alice: Principal;
let bob: Principal;
let noClaim: Principal;
let outsider: Principal;
let narrow: Principal;

beforeAll(async () => {
  ensureBuilt('dist/src/docs/doc-rls.js', ['src/docs/doc-rls.ts', 'src/docs/doc-service.ts', 'src/docs/change-hub.ts', 'src/http/doc-routes.ts', 'src/docs/unique-writes.ts', 'src/docs/txn-doc-commands.ts']);
  const [router, docsMod, routes, auth, principal, coord, metrics, invalidation, oracle] = await Promise.all([
    dist<typeof RouterIndex>('src/router/index.js'),
    dist<typeof DocsIndex>('src/docs/index.js'),
    dist<typeof DocRoutes>('src/http/doc-routes.js'),
    dist<typeof AuthStoreModule>('src/security/auth-store.js'),
    dist<typeof PrincipalModule>('src/security/principal.js'),
    dist<typeof CoordinatorLogModule>('src/txn/coordinator-log.js'),
    dist<typeof TxnMetricsModule>('src/txn/txn-metrics.js'),
    dist<typeof InvalidationModule>('shared/cache/invalidation.js'),
    dist<typeof OracleModule>('shared/txn/timestamp-oracle.js'),
  ]);
  changeSourceOf = docsMod.changeSource;
  compile = principal.compilePermissions;
  dir = await mkdtemp(join(tmpdir(), 'mantis-docs-rls-'));
  const log = pino({ level: 'silent' });
  timestamps = await oracle.TimestampReserver.open(join(dir, 'txn'), { log });
  coordinator = await coord.CoordinatorLog.open(join(dir, 'txn'), { log });
  pool = new router.ShardPool({
    shards: SHARDS,
    oracle: timestamps.buffer,
    dataDir: dir,
    fsync: 'none',
    fsyncBatchMs: 5,
    logLevel: 'silent',
    log,
    storage: { memoryBudgetBytes: 64 * 1024 * 1024, blockBytes: 4096, level1Bytes: null, levelMultiplier: 10 },
    cacheBytes: 0,
    cacheEvents: invalidation.createInterest(),
    cachePolicies: [],
    writeBackMs: 100,
    onDocChanges: (_shard, changes) => docs?.shardChanges(changes),
  });
  await pool.start();
  txns = new docsMod.DocTxnManager({ pool, oracle: timestamps.buffer, log: coordinator, logger: log, metrics: metrics.createTxnMetrics(new Registry()), maxAgeMs: 60_000 });
  await txns.recover();
  docs = new docsMod.DocService({ pool, txns, log, dataDir: dir });
  await docs.start();
  store = await auth.AuthStore.open(dir);
  handlers = routes.createDocHandlers(docs, log, { store });
  // "app" may read and write every collection; "narrow" only two, and the policies name both.
  await store.putRole('app', [{ resource: 'docs:*', actions: ['read', 'write'] }]);
  await store.putRole('narrow', [
    { resource: 'docs:n_orders', actions: ['read', 'write'] },
    { resource: 'docs:n_customers', actions: ['read'] },
  ]);
  await store.putRole('viewer', [{ resource: 'docs:*', actions: ['read', 'write'] }]);
  admin = user('root', ['admin'], {});
  alice = user('alice', ['app'], { tenant: 'a' });
  bob = user('bob', ['app'], { tenant: 'b' });
  noClaim = user('nemo', ['app'], {});
  outsider = user('olga', ['viewer'], { tenant: 'a' });
  narrow = user('nina', ['narrow'], { tenant: 'a' });
}, 120_000);

afterAll(async () => {
  txns?.close();
  await pool?.stop(10_000);
  await coordinator?.close().catch(() => undefined);
  await timestamps?.close().catch(() => undefined);
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

async function call(who: Principal | undefined, method: string, path: string, body?: unknown, txn?: string): Promise<Answer> {
  const q = path.indexOf('?');
  const reply = await handlers.handle({
    method,
    rawPath: `/api/v1/docs${q < 0 ? path : path.slice(0, q)}`,
    rawQuery: q < 0 ? '' : path.slice(q + 1),
    contentType: 'application/json',
    txn,
    deadline: { header: undefined, receivedAtMs: Date.now() },
    body: Buffer.from(body === undefined ? '' : JSON.stringify(body)),
    principal: who,
  });
  return { status: reply.status, body: JSON.parse(String(reply.body)) as Answer['body'] };
}

async function ok<T = unknown>(who: Principal | undefined, method: string, path: string, body?: unknown, txn?: string): Promise<T> {
  const a = await call(who, method, path, body, txn);
  if (a.status !== 200) throw new Error(`${method} ${path}: ${a.status} ${JSON.stringify(a.body.error)}`);
  return a.body.data as T;
}

async function refused(expected: { status: number; code: string; message?: string }, who: Principal, method: string, path: string, body?: unknown, txn?: string): Promise<void> {
  const a = await call(who, method, path, body, txn);
  expect({ status: a.status, code: a.body.error?.code }).toEqual({ status: expected.status, code: expected.code });
  if (expected.message !== undefined) expect(a.body.error?.message).toContain(expected.message);
}

const find = (who: Principal, coll: string, filter: JsonDoc = {}, txn?: string): Promise<JsonDoc[]> => ok<JsonDoc[]>(who, 'POST', `/${coll}/find`, { filter, sort: { _id: 1 }, limit: 1000 }, txn);
const ids = (list: JsonDoc[]): Json[] => list.map((d) => d._id);

async function tenantPolicy(coll: string, extra: Partial<DocPolicy> = {}): Promise<void> {
  await store.createPolicy({ kind: 'docs', name: 'tenant_isolation', collection: coll, command: 'all', roles: ['app', 'narrow'], using: { tenant: '$$CLAIMS.tenant' }, check: null, ...extra });
}

const ORDERS: JsonDoc[] = [
  { _id: 'a1', tenant: 'a', customer: 'ca1', amount: 10 },
  { _id: 'a2', tenant: 'a', customer: 'ca1', amount: 20 },
  { _id: 'a3', tenant: 'a', customer: 'cb1', amount: 5 },
  { _id: 'b1', tenant: 'b', customer: 'cb1', amount: 100 },
  { _id: 'b2', tenant: 'b', customer: 'cb1', amount: 200 },
];
const CUSTOMERS: JsonDoc[] = [
  { _id: 'ca1', tenant: 'a', name: 'Acme' },
  { _id: 'ca2', tenant: 'a', name: 'Apex' },
  { _id: 'cb1', tenant: 'b', name: 'Bolt' },
];

/** A fresh collection under the tenant policy, holding ORDERS (written by the admin). */
async function seeded(coll: string, documents: JsonDoc[] = ORDERS): Promise<void> {
  await tenantPolicy(coll);
  await ok(admin, 'POST', `/${coll}/insert`, { documents });
}

async function allDocs(coll: string): Promise<JsonDoc[]> {
  return find(admin, coll);
}

describe('the pure parts', () => {
  const p = (claims: Record<string, unknown>, sub = 'u1'): Principal => ({ ...SYSTEM, kind: 'user', id: sub, sub, roles: ['app'], claims, bypassRls: false });

  it('replaces "$$CLAIMS.x" anywhere, $in arrays included; a missing claim makes the filter unusable', () => {
    const filter: Doc = { tenant: '$$CLAIMS.tenant', $or: [{ owner: '$$CLAIMS.sub' }, { team: { $in: ['$$CLAIMS.team', 'all'] } }], note: 'plain $$ text' };
    expect(substituteClaims(filter, p({ tenant: 'a', team: 7 }))).toEqual({ tenant: 'a', $or: [{ owner: 'u1' }, { team: { $in: ['7', 'all'] } }], note: 'plain $$ text' });
    expect(typeof substituteClaims(filter, p({ tenant: 'a' }))).toBe('symbol');
    expect(typeof substituteClaims({ tenant: '$$CLAIMS.tenant' }, p({ tenant: { nested: 1 } }))).toBe('symbol');
  });

  it('ANDs policy conditions first and keeps the caller _id where idsOfFilter reads it', () => {
    expect(andFilter({ x: 1 }, null)).toEqual({ x: 1 });
    expect(andFilter({}, { tenant: 'a' })).toEqual({ tenant: 'a' });
    const merged = andFilter({ x: 1, _id: 'k' }, { tenant: 'a' });
    expect(merged).toEqual({ tenant: 'a', x: 1, _id: 'k' });
    expect(Object.keys(merged)[0]).toBe('tenant');
    expect(andFilter({ tenant: 'b', _id: 'k' }, { tenant: 'a' })).toEqual({ $and: [{ tenant: 'a' }], tenant: 'b', _id: 'k' });
    expect(andFilter({ $and: [{ y: 2 }], tenant: 'b' }, { tenant: 'a' })).toEqual({ $and: [{ tenant: 'a' }, { y: 2 }], tenant: 'b' });
  });

  it('walks pipelines for the collections they read and write, $facet and sub-pipelines included', () => {
    const pipeline = [
      { $lookup: { from: 'c1', localField: 'x', foreignField: 'y', as: 'j' } },
      { $facet: { f: [{ $lookup: { from: 'c2', pipeline: [{ $lookup: { from: 'c3', pipeline: [], as: 'k' } }], as: 'j' } }], g: [{ $unionWith: { coll: 'c4', pipeline: [{ $graphLookup: { from: 'c5' } }] } }] } },
      { $unionWith: 'c6' },
      { $out: 'w1' },
      { $merge: { into: { db: 'x', coll: 'w2' } } },
      { $merge: 'w3' },
    ];
    const { reads, writes } = pipelineCollections(pipeline);
    expect(reads.sort()).toEqual(['c1', 'c2', 'c3', 'c4', 'c5', 'c6']);
    expect(writes.sort()).toEqual(['w1', 'w2', 'w3']);
  });
});

describe('the stream predicate', () => {
  let local: AuthStore;
  let localDir: string;
  beforeAll(async () => {
    localDir = await mkdtemp(join(tmpdir(), 'mantis-docs-rls-store-'));
    local = await SrcAuthStore.open(localDir);
    await local.createPolicy({ kind: 'docs', name: 'own', collection: 'c', command: 'all', roles: ['app'], using: { tenant: '$$CLAIMS.tenant' }, check: null });
  });
  afterAll(async () => {
    await rm(localDir, { recursive: true, force: true });
  });
  const principal = (claims: Record<string, unknown>, roles = ['app']): Principal => {
    const perms = compilePermissions(roles, (r) => BUILTIN_ROLES.find((b) => b.name === r) ?? { name: r, permissions: [{ resource: 'docs:*', actions: ['read'] }] });
    return { kind: 'user', id: 'u', sub: 'u', roles, claims, bypassRls: perms.admin, can: perms.can, limitKey: 'user:u' };
  };

  it('lets through only the documents the select policies show, and follows policy changes', async () => {
    const a = rowPredicateFor(local, principal({ tenant: 'a' }), 'c');
    expect(a({ _id: 1, tenant: 'a' })).toBe(true);
    expect(a({ _id: 2, tenant: 'b' })).toBe(false);
    expect(a({ _id: 3 })).toBe(false); // a delete known only by its key
    expect(rowPredicateFor(local, principal({}), 'c')({ _id: 4 })).toBe(false); // missing claim: nothing, never {tenant: null}
    expect(rowPredicateFor(local, principal({ tenant: 'a' }, ['other']), 'c')({ _id: 5, tenant: 'a' })).toBe(false); // no applicable policy
    expect(rowPredicateFor(local, principal({}, ['admin']), 'c')({ _id: 6, tenant: 'z' })).toBe(true); // bypasses RLS
    expect(rowPredicateFor(local, undefined, 'c')({ _id: 7 })).toBe(true); // the system
    expect(rowPredicateFor(local, principal({ tenant: 'a' }), 'no_policy')({ _id: 8, tenant: 'b' })).toBe(true);
    expect(a({ _id: 9, tenant: 'shared' })).toBe(false);
    await local.createPolicy({ kind: 'docs', name: 'shared', collection: 'c', command: 'select', roles: ['public'], using: { tenant: 'shared' }, check: null });
    expect(a({ _id: 9, tenant: 'shared' })).toBe(true);
    expect(a({ _id: 2, tenant: 'b' })).toBe(false);
  });

  it('decides deletes on the pre-image, else the last image the ring still holds, else the key alone', () => {
    const hub = new ChangeHub({ ringEvents: 3 });
    const got: string[] = [];
    const stop = hub.subscribe('c', null, null, (e) => got.push((JSON.parse(e.json) as { documentKey: { _id: string } }).documentKey._id), rowPredicateFor(local, principal({ tenant: 'a' }), 'c'));
    hub.publish([{ op: 'insert', coll: 'c', id: 'x', doc: { _id: 'x', tenant: 'a' } }]);
    hub.publish([{ op: 'insert', coll: 'c', id: 'y', doc: { _id: 'y', tenant: 'a' } }]);
    hub.publish([{ op: 'delete', coll: 'c', id: 'y' }]); // the ring's image of y
    hub.publish([{ op: 'delete', coll: 'c', id: 'y' }]); // y's last event is a delete: only the key
    hub.publish([{ op: 'insert', coll: 'c', id: 'z', doc: { _id: 'z', tenant: 'b' } }]); // evicts x's insert
    hub.publish([{ op: 'delete', coll: 'c', id: 'x' }]); // only the key now
    hub.publish([{ op: 'delete', coll: 'c', id: 'w', before: { _id: 'w', tenant: 'a' } }]);
    hub.publish([{ op: 'delete', coll: 'c', id: 'z' }]);
    stop();
    expect(got).toEqual(['x', 'y', 'y', 'w']);
  });

  it('falls back to USING for WITH CHECK, and matches nothing without an applicable policy', async () => {
    const p = principal({ tenant: 'a' });
    expect(rlsFilterFor(local, p, 'c', 'select')).toEqual({ $or: [{ tenant: 'a' }, { tenant: 'shared' }] });
    expect(rlsFilterFor(local, p, 'c', 'update')).toEqual({ tenant: 'a' });
    expect(rlsCheckFilterFor(local, p, 'c', 'insert')).toEqual({ tenant: 'a' });
    expect(isMatchNothing(rlsFilterFor(local, principal({ tenant: 'a' }, ['other']), 'c', 'delete'))).toBe(true);
    expect(rlsFilterFor(local, SYSTEM, 'c', 'select')).toBeNull();
  });
});

describe('reads see only the caller’s documents', () => {
  beforeAll(async () => {
    await seeded('orders');
    await seeded('customers', CUSTOMERS);
  });

  it('find, with and without filters of its own', async () => {
    expect(ids(await find(alice, 'orders'))).toEqual(['a1', 'a2', 'a3']);
    expect(ids(await find(bob, 'orders'))).toEqual(['b1', 'b2']);
    expect(ids(await find(alice, 'orders', { tenant: 'b' }))).toEqual([]);
    expect(ids(await find(alice, 'orders', { _id: 'b1' }))).toEqual([]);
    expect(ids(await find(alice, 'orders', { _id: { $in: ['a1', 'b1'] } }))).toEqual(['a1']);
    expect(ids(await find(alice, 'orders', { $or: [{ amount: { $gt: 50 } }, { _id: 'a2' }] }))).toEqual(['a2']);
  });

  it('count and $group aggregate over the caller’s documents only', async () => {
    expect(await ok(alice, 'POST', '/orders/aggregate', { pipeline: [{ $count: 'n' }] })).toEqual([{ n: 3 }]);
    expect(await ok(bob, 'POST', '/orders/aggregate', { pipeline: [{ $group: { _id: '$tenant', total: { $sum: '$amount' } } }] })).toEqual([{ _id: 'b', total: 300 }]);
    expect(await ok(alice, 'POST', '/orders/aggregate', { pipeline: [{ $group: { _id: null, total: { $sum: '$amount' } } }] })).toEqual([{ _id: null, total: 35 }]);
    const found = await call(alice, 'POST', '/orders/find', { filter: {} });
    expect(found.body.meta?.count).toBe(3);
  });

  it('$lookup into another RLS collection sees only the caller’s documents there', async () => {
    const joined = await ok<JsonDoc[]>(alice, 'POST', '/orders/aggregate', {
      pipeline: [{ $lookup: { from: 'customers', localField: 'customer', foreignField: '_id', as: 'c' } }, { $project: { names: '$c.name' } }, { $sort: { _id: 1 } }],
    });
    // a3 points at bob's customer: not there for alice.
    expect(joined).toEqual([{ _id: 'a1', names: ['Acme'] }, { _id: 'a2', names: ['Acme'] }, { _id: 'a3', names: [] }]);
    const piped = await ok<JsonDoc[]>(alice, 'POST', '/orders/aggregate', {
      pipeline: [{ $match: { _id: 'a1' } }, { $facet: { all: [{ $lookup: { from: 'customers', pipeline: [{ $sort: { _id: 1 } }], as: 'every' } }, { $project: { n: { $size: '$every' } } }] } }],
    });
    expect(piped).toEqual([{ all: [{ _id: 'a1', n: 2 }] }]);
  });

  it('get by id of the other tenant’s document is 404', async () => {
    expect(await ok(alice, 'GET', '/orders/a1')).toMatchObject({ _id: 'a1' });
    await refused({ status: 404, code: 'DOC_NOT_FOUND' }, alice, 'GET', '/orders/b1');
  });

  it('explain (its counters include every document) is refused to a caller under the policy; an admin may', async () => {
    await refused({ status: 403, code: 'FORBIDDEN', message: 'row-level security' }, alice, 'POST', '/orders/explain', { filter: {} });
    const plan = await ok<{ shards: { returned: number }[] }>(admin, 'POST', '/orders/explain', { filter: {} });
    expect(plan.shards.reduce((n, s) => n + s.returned, 0)).toBe(5);
  });

  it('a missing claim or no applicable policy sees nothing; an admin sees everything', async () => {
    await ok(admin, 'POST', '/orders/insert', { documents: [{ _id: 'untagged', amount: 1 }, { _id: 'nulltag', tenant: null }] });
    expect(ids(await find(noClaim, 'orders'))).toEqual([]);
    expect(await ok(noClaim, 'POST', '/orders/aggregate', { pipeline: [{ $count: 'n' }] })).toEqual([]);
    expect(ids(await find(outsider, 'orders'))).toEqual([]);
    await refused({ status: 404, code: 'DOC_NOT_FOUND' }, outsider, 'GET', '/orders/a1');
    expect(ids(await find(admin, 'orders'))).toEqual(['a1', 'a2', 'a3', 'b1', 'b2', 'nulltag', 'untagged']);
    expect(ids(await find(alice, 'orders'))).toEqual(['a1', 'a2', 'a3']);
    await ok(admin, 'POST', '/orders/delete', { filter: { _id: { $in: ['untagged', 'nulltag'] } } });
  });

  it('a request without a principal runs as the system (sees everything)', async () => {
    expect(ids(await find(undefined as unknown as Principal, 'orders'))).toEqual(['a1', 'a2', 'a3', 'b1', 'b2']);
  });
});

describe('permissions inside bodies and the listing', () => {
  beforeAll(async () => {
    await seeded('n_orders');
    await seeded('n_customers', CUSTOMERS);
    await ok(admin, 'POST', '/n_secret/insert', { documents: [{ _id: 's1', tenant: 'a', code: 42 }] });
  });

  it('$lookup (also inside $facet and sub-pipelines) into a collection without read permission is FORBIDDEN', async () => {
    const forbidden = { status: 403, code: 'FORBIDDEN', message: 'missing permission docs:n_secret read' };
    await refused(forbidden, narrow, 'POST', '/n_orders/aggregate', { pipeline: [{ $lookup: { from: 'n_secret', localField: 'x', foreignField: 'y', as: 's' } }] });
    await refused(forbidden, narrow, 'POST', '/n_orders/aggregate', { pipeline: [{ $facet: { f: [{ $lookup: { from: 'n_customers', pipeline: [{ $lookup: { from: 'n_secret', pipeline: [], as: 'z' } }], as: 's' } }] } }] });
    await refused(forbidden, narrow, 'POST', '/n_orders/aggregate', { pipeline: [{ $unionWith: 'n_secret' }] });
    await refused({ status: 403, code: 'FORBIDDEN', message: 'missing permission docs:n_customers write' }, narrow, 'POST', '/n_orders/aggregate', { pipeline: [{ $out: 'n_customers' }] });
    // Allowed targets reach the pipeline compiler, which does not support these stages.
    await refused({ status: 400, code: 'BAD_QUERY' }, narrow, 'POST', '/n_orders/aggregate', { pipeline: [{ $out: 'n_orders' }] });
    const joined = await ok<JsonDoc[]>(narrow, 'POST', '/n_orders/aggregate', { pipeline: [{ $lookup: { from: 'n_customers', localField: 'customer', foreignField: '_id', as: 'c' } }, { $project: { n: { $size: '$c' } } }] });
    expect(joined.map((d) => d.n).sort()).toEqual([0, 1, 1]);
  });

  it('the listing shows only readable collections, with row-level counts', async () => {
    const listed = await ok<JsonDoc[]>(narrow, 'GET', '');
    expect(listed.map((c) => c.name).sort()).toEqual(['n_customers', 'n_orders']);
    const orders = listed.find((c) => c.name === 'n_orders') as JsonDoc;
    expect(orders).toMatchObject({ count: 3, size_bytes: null, row_level_security: true });
    const meta = (await call(narrow, 'GET', '')).body.meta;
    expect(meta?.count).toBe(2);
    const all = await ok<JsonDoc[]>(admin, 'GET', '');
    expect(all.find((c) => c.name === 'n_orders')).toMatchObject({ count: 5 });
    expect(all.find((c) => c.name === 'n_orders')?.row_level_security).toBeUndefined();
    expect(all.map((c) => c.name)).toContain('n_secret');
    const described = await ok<JsonDoc>(narrow, 'GET', '/n_orders');
    expect(described).toMatchObject({ count: 3, size_bytes: null, row_level_security: true });
  });
});

describe('writes touch only the caller’s documents', () => {
  it('patch, replace and delete by id of the other tenant’s document are 404 and change nothing', async () => {
    await seeded('w_byid');
    await refused({ status: 404, code: 'DOC_NOT_FOUND' }, alice, 'PATCH', '/w_byid/b1', { $set: { amount: 0 } });
    await refused({ status: 404, code: 'DOC_NOT_FOUND' }, alice, 'PUT', '/w_byid/b1', { tenant: 'a', amount: 0 });
    await refused({ status: 409, code: 'DUPLICATE_KEY' }, alice, 'PUT', '/w_byid/b1?upsert=true', { tenant: 'a', amount: 0 });
    await refused({ status: 404, code: 'DOC_NOT_FOUND' }, alice, 'DELETE', '/w_byid/b1');
    expect(await allDocs('w_byid')).toEqual(ORDERS);
    expect(await ok(alice, 'PATCH', '/w_byid/a1', { $inc: { amount: 1 } })).toMatchObject({ _id: 'a1', amount: 11 });
    expect(await ok(alice, 'PUT', '/w_byid/a2', { tenant: 'a', amount: 21 })).toMatchObject({ matched: 1, modified: 1 });
    expect(await ok(alice, 'PUT', '/w_byid/a9?upsert=true', { tenant: 'a', amount: 9 })).toMatchObject({ upserted_id: 'a9' });
    await refused({ status: 403, code: 'FORBIDDEN' }, alice, 'PUT', '/w_byid/a8?upsert=true', { tenant: 'b', amount: 8 });
    await refused({ status: 403, code: 'FORBIDDEN' }, alice, 'PUT', '/w_byid/a3', { tenant: 'b' });
    await refused({ status: 403, code: 'FORBIDDEN' }, alice, 'PATCH', '/w_byid/a3', { $set: { tenant: 'b' } });
    expect(await ok(alice, 'DELETE', '/w_byid/a9')).toEqual({ deleted: 1 });
    expect(ids(await allDocs('w_byid'))).toEqual(['a1', 'a2', 'a3', 'b1', 'b2']);
    expect((await allDocs('w_byid'))[2]).toEqual(ORDERS[2]);
  });

  it('update and delete with multi count and change only the caller’s documents', async () => {
    await seeded('w_multi');
    expect(await ok(alice, 'POST', '/w_multi/update', { filter: {}, update: { $inc: { amount: 1 } }, multi: true })).toEqual({ matched: 3, modified: 3, upserted_id: null });
    expect(await ok(alice, 'POST', '/w_multi/update', { filter: { _id: 'b1' }, update: { $inc: { amount: 1 } } })).toEqual({ matched: 0, modified: 0, upserted_id: null });
    expect((await allDocs('w_multi')).map((d) => d.amount)).toEqual([11, 21, 6, 100, 200]);
    expect(await ok(bob, 'POST', '/w_multi/delete', { filter: { amount: { $gt: 0 } } })).toEqual({ deleted: 2 });
    expect(await ok(bob, 'POST', '/w_multi/delete', { filter: { _id: 'a1' }, multi: false })).toEqual({ deleted: 0 });
    expect(ids(await allDocs('w_multi'))).toEqual(['a1', 'a2', 'a3']);
    const fam = await ok<JsonDoc | null>(bob, 'POST', '/w_multi/find_and_modify', { filter: {}, update: { $set: { x: 1 } } });
    expect(fam).toBeNull();
    expect(await ok(alice, 'POST', '/w_multi/find_and_modify', { filter: {}, sort: { amount: -1 }, update: { $set: { x: 1 } }, return: 'after' })).toMatchObject({ _id: 'a2', x: 1 });
    expect(await ok(bob, 'POST', '/w_multi/find_and_modify', { filter: {}, remove: true })).toBeNull();
  });

  it('an insert of the other tenant’s document is refused and writes nothing', async () => {
    await tenantPolicy('w_insert');
    const violation = { status: 403, code: 'FORBIDDEN', message: 'new document violates row-level security policy for collection "w_insert"' };
    await refused(violation, alice, 'POST', '/w_insert/insert', { documents: [{ _id: 'x1', tenant: 'a' }, { _id: 'x2', tenant: 'b' }] });
    await refused(violation, alice, 'POST', '/w_insert/insert', { documents: [{ _id: 'x3' }] });
    await refused(violation, noClaim, 'POST', '/w_insert/insert', { documents: [{ _id: 'x4', tenant: null }] });
    expect(await allDocs('w_insert')).toEqual([]);
    expect(await ok(alice, 'POST', '/w_insert/insert', { documents: [{ _id: 'x1', tenant: 'a' }, { tenant: 'a' }] })).toMatchObject({ inserted_ids: ['x1', expect.anything()] });
    // The other tenant's _id is taken whether or not bob sees it.
    await refused({ status: 409, code: 'DUPLICATE_KEY' }, bob, 'POST', '/w_insert/insert', { documents: [{ _id: 'x1', tenant: 'b' }] });
  });

  it('an update that moves a document to the other tenant is refused, all of a multi update with it', async () => {
    await seeded('w_move');
    const violation = { status: 403, code: 'FORBIDDEN', message: 'violates row-level security policy' };
    await refused(violation, alice, 'POST', '/w_move/update', { filter: { _id: 'a1' }, update: { $set: { tenant: 'b' } } });
    await refused(violation, alice, 'POST', '/w_move/update', { filter: {}, update: { $set: { tenant: 'b' } }, multi: true });
    await refused(violation, alice, 'POST', '/w_move/update', { filter: { amount: { $gte: 0 } }, update: [{ $set: { amount: 0, tenant: { $cond: [{ $eq: ['$_id', 'a3'] }, 'b', '$tenant'] } } }], multi: true });
    await refused(violation, alice, 'POST', '/w_move/find_and_modify', { filter: {}, update: { $unset: { tenant: '' } } });
    expect(await allDocs('w_move')).toEqual(ORDERS);
  });

  it('a multi update over several batches is checked whole before any batch commits', async () => {
    await tenantPolicy('w_batches');
    const documents = Array.from({ length: 1200 }, (_, i): JsonDoc => ({ _id: `d${String(i).padStart(4, '0')}`, tenant: 'a', v: 0 }));
    for (let at = 0; at < documents.length; at += 1000) await ok(alice, 'POST', '/w_batches/insert', { documents: documents.slice(at, at + 1000) });
    await refused({ status: 403, code: 'FORBIDDEN' }, alice, 'POST', '/w_batches/update', {
      filter: {},
      update: [{ $set: { v: 1, tenant: { $cond: [{ $eq: ['$_id', 'd1199'] }, 'b', '$tenant'] } } }],
      multi: true,
    });
    expect(await ok(admin, 'POST', '/w_batches/aggregate', { pipeline: [{ $match: { v: 1 } }, { $count: 'n' }] })).toEqual([]);
    expect(await ok(alice, 'POST', '/w_batches/update', { filter: {}, update: { $set: { v: 2 } }, multi: true })).toMatchObject({ matched: 1200, modified: 1200 });
  });

  it('upserts insert only documents the insert policies accept', async () => {
    await seeded('w_upsert');
    expect(await ok(alice, 'POST', '/w_upsert/update', { filter: { sku: 'n1' }, update: { $set: { tenant: 'a', amount: 1 } }, upsert: true })).toMatchObject({ matched: 0, upserted_id: expect.anything() });
    await refused({ status: 403, code: 'FORBIDDEN' }, alice, 'POST', '/w_upsert/update', { filter: { sku: 'n2' }, update: { $set: { tenant: 'b' } }, upsert: true });
    // Not seeded from the policy: the caller's own filter and update make the document.
    await refused({ status: 403, code: 'FORBIDDEN' }, alice, 'POST', '/w_upsert/update', { filter: { sku: 'n3' }, update: { $set: { amount: 3 } }, upsert: true });
    await refused({ status: 403, code: 'FORBIDDEN' }, alice, 'POST', '/w_upsert/find_and_modify', { filter: { sku: 'n4' }, update: { $set: { tenant: 'b' } }, upsert: true });
    expect(await ok(alice, 'POST', '/w_upsert/find_and_modify', { filter: { sku: 'n5', tenant: 'a' }, update: { $set: { amount: 5 } }, upsert: true, return: 'after' })).toMatchObject({ sku: 'n5', tenant: 'a' });
    // Bob's b1 is not there for alice: her upsert by its _id meets the _id.
    await refused({ status: 409, code: 'DUPLICATE_KEY' }, alice, 'POST', '/w_upsert/update', { filter: { _id: 'b1' }, update: { $set: { tenant: 'a' } }, upsert: true });
    expect((await allDocs('w_upsert')).filter((d) => d.sku !== undefined).map((d) => d.sku).sort()).toEqual(['n1', 'n5']);
    expect((await allDocs('w_upsert')).find((d) => d._id === 'b1')).toEqual(ORDERS[3]);
  });

  it('a collection with a unique index (the transactional path) is secured alike', async () => {
    await seeded('w_unique');
    await ok(admin, 'POST', '/w_unique/indexes', { keys: { amount: 1 }, unique: true });
    expect(await ok(alice, 'POST', '/w_unique/update', { filter: {}, update: { $inc: { amount: 1000 } }, multi: true })).toMatchObject({ matched: 3, modified: 3 });
    await refused({ status: 403, code: 'FORBIDDEN' }, alice, 'POST', '/w_unique/update', { filter: { amount: { $gt: 0 } }, update: { $set: { tenant: 'b' } }, multi: true });
    expect(await ok(bob, 'POST', '/w_unique/delete', { filter: {} })).toEqual({ deleted: 2 });
    expect((await allDocs('w_unique')).map((d) => [d._id, d.amount])).toEqual([['a1', 1010], ['a2', 1020], ['a3', 1005]]);
    await refused({ status: 403, code: 'FORBIDDEN' }, bob, 'POST', '/w_unique/insert', { documents: [{ tenant: 'a', amount: 1 }] });
  });

  it('policies per command: a separate WITH CHECK and $in over claims', async () => {
    await store.createPolicy({ kind: 'docs', name: 'read_shared', collection: 'w_notes', command: 'select', roles: ['app'], using: { tenant: { $in: ['$$CLAIMS.tenant', 'shared'] } }, check: null });
    await store.createPolicy({ kind: 'docs', name: 'write_own', collection: 'w_notes', command: 'insert', roles: ['app'], using: null, check: { tenant: '$$CLAIMS.tenant', author: '$$CLAIMS.sub' } });
    await ok(admin, 'POST', '/w_notes/insert', { documents: [{ _id: 'n1', tenant: 'shared' }, { _id: 'n2', tenant: 'a' }, { _id: 'n3', tenant: 'b' }] });
    expect(ids(await find(alice, 'w_notes'))).toEqual(['n1', 'n2']);
    expect(ids(await find(bob, 'w_notes'))).toEqual(['n1', 'n3']);
    await refused({ status: 403, code: 'FORBIDDEN' }, alice, 'POST', '/w_notes/insert', { documents: [{ _id: 'n4', tenant: 'a' }] });
    await ok(alice, 'POST', '/w_notes/insert', { documents: [{ _id: 'n4', tenant: 'a', author: 'alice' }] });
    // No update or delete policy: nothing to update or delete.
    expect(await ok(alice, 'POST', '/w_notes/update', { filter: {}, update: { $set: { x: 1 } }, multi: true })).toMatchObject({ matched: 0 });
    expect(await ok(alice, 'POST', '/w_notes/delete', { filter: {} })).toEqual({ deleted: 0 });
    expect(ids(await allDocs('w_notes'))).toEqual(['n1', 'n2', 'n3', 'n4']);
  });
});

describe('collections under row-level security', () => {
  it('are changed (options, drop, indexes) only by a role that bypasses it', async () => {
    await seeded('w_schema');
    const forbidden = { status: 403, code: 'FORBIDDEN', message: 'has row-level security' };
    await refused(forbidden, alice, 'DELETE', '/w_schema');
    await refused(forbidden, alice, 'PUT', '/w_schema', {});
    await refused(forbidden, alice, 'POST', '/w_schema/indexes', { keys: { amount: 1 } });
    await refused(forbidden, alice, 'DELETE', '/w_schema/indexes/amount_1');
    expect(await allDocs('w_schema')).toEqual(ORDERS);
    expect(await ok(alice, 'PUT', '/w_free', {})).toMatchObject({ created: true });
    expect(await ok(alice, 'DELETE', '/w_free')).toMatchObject({ dropped: true });
    expect(await ok(admin, 'POST', '/w_schema/indexes', { keys: { amount: 1 } })).toMatchObject({ name: 'amount_1' });
    expect(await ok(admin, 'DELETE', '/w_schema')).toMatchObject({ dropped: true });
  });
});

describe('transactions (Mantis-Txn) take the same path', () => {
  it('reads, writes and checks inside a transaction', async () => {
    await seeded('t_orders');
    await seeded('t_customers', CUSTOMERS);
    const txn = txns.begin('snapshot', 30_000).id;
    expect(ids(await find(alice, 't_orders', {}, txn))).toEqual(['a1', 'a2', 'a3']);
    expect(await ok(alice, 'POST', '/t_orders/aggregate', { pipeline: [{ $lookup: { from: 't_customers', localField: 'customer', foreignField: '_id', as: 'c' } }, { $project: { n: { $size: '$c' } } }, { $sort: { _id: 1 } }] }, txn)).toEqual([
      { _id: 'a1', n: 1 },
      { _id: 'a2', n: 1 },
      { _id: 'a3', n: 0 },
    ]);
    await refused({ status: 404, code: 'DOC_NOT_FOUND' }, alice, 'GET', '/t_orders/b1', undefined, txn);
    await refused({ status: 404, code: 'DOC_NOT_FOUND' }, alice, 'PATCH', '/t_orders/b1', { $set: { amount: 0 } }, txn);
    await refused({ status: 403, code: 'FORBIDDEN' }, alice, 'POST', '/t_orders/insert', { documents: [{ _id: 't1', tenant: 'b' }] }, txn);
    await refused({ status: 403, code: 'FORBIDDEN' }, alice, 'POST', '/t_orders/update', { filter: {}, update: { $set: { tenant: 'b' } }, multi: true }, txn);
    await refused({ status: 403, code: 'FORBIDDEN' }, alice, 'POST', '/t_orders/update', { filter: { sku: 'u' }, update: { $set: { tenant: 'b' } }, upsert: true }, txn);
    expect(await ok(alice, 'POST', '/t_orders/update', { filter: {}, update: { $inc: { amount: 1 } }, multi: true }, txn)).toMatchObject({ matched: 3, modified: 3 });
    expect(await ok(alice, 'POST', '/t_orders/delete', { filter: { _id: { $in: ['a3', 'b1'] } } }, txn)).toEqual({ deleted: 1 });
    expect(await ok(alice, 'POST', '/t_orders/insert', { documents: [{ _id: 't2', tenant: 'a' }] }, txn)).toMatchObject({ inserted_ids: ['t2'] });
    expect(await ok(alice, 'PUT', '/t_orders/t3?upsert=true', { tenant: 'a' }, txn)).toMatchObject({ upserted_id: 't3' });
    await refused({ status: 409, code: 'DUPLICATE_KEY' }, alice, 'PUT', '/t_orders/b2?upsert=true', { tenant: 'a' }, txn);
    expect(await ok(bob, 'POST', '/t_orders/delete', { filter: {} }, txn)).toEqual({ deleted: 2 });
    await txns.commit(txn);
    expect((await allDocs('t_orders')).map((d) => [d._id, d.amount ?? null])).toEqual([['a1', 11], ['a2', 21], ['t2', null], ['t3', null]]);
  });
});

describe('change streams deliver only the subscriber’s documents', () => {
  type Event = { operationType: string; documentKey: { _id: string } };

  it('inserts, updates and deletes (with pre-images) of the other tenant are not delivered', async () => {
    await tenantPolicy('s_orders');
    await ok(admin, 'POST', '/s_orders/insert', { documents: [{ _id: 'old_a', tenant: 'a' }, { _id: 'old_b', tenant: 'b' }, { _id: 'old_c', tenant: 'b' }] });
    const source = changeSourceOf(docs.hub, { store });
    const seen: Record<string, string[]> = { alice: [], bob: [], admin: [], none: [] };
    const listen = (name: string, who: Principal): (() => void) =>
      source.subscribe('s_orders', null, null, (e) => {
        const event = JSON.parse(e.json) as Event;
        seen[name].push(`${event.operationType}:${event.documentKey._id}`);
      }, who);
    const stops = [listen('alice', alice), listen('bob', bob), listen('admin', admin), listen('none', noClaim)];
    try {
      await ok(admin, 'POST', '/s_orders/insert', { documents: [{ _id: 'e1', tenant: 'a' }, { _id: 'e2', tenant: 'b' }, { _id: 'e3', tenant: 'a' }] });
      await ok(admin, 'PATCH', '/s_orders/e2', { $set: { v: 1 } });
      await ok(admin, 'PATCH', '/s_orders/e3', { $set: { tenant: 'b' } }); // moves out of alice's view
      await ok(admin, 'DELETE', '/s_orders/e1'); // single delete: the shard returns the pre-image
      await ok(admin, 'POST', '/s_orders/delete', { filter: { _id: 'old_b' } }); // multi delete of a document not seen since: only its key, shown to no RLS subscriber
      await ok(admin, 'POST', '/s_orders/delete', { filter: { _id: { $in: ['e2', 'e3'] } } }); // multi delete: the ring's last image decides
      await ok(admin, 'DELETE', '/s_orders/old_c'); // single delete: the shard returns the pre-image
      const txn = txns.begin('snapshot', 30_000).id;
      await ok(admin, 'POST', '/s_orders/insert', { documents: [{ _id: 'e4', tenant: 'a' }] }, txn);
      await ok(admin, 'DELETE', '/s_orders/old_a', undefined, txn); // the transaction's delete carries its pre-image
      await txns.commit(txn);
    } finally {
      for (const stop of stops) stop();
    }
    // Events of one write reach the hub per shard: compare as sets.
    expect(seen.alice.sort()).toEqual(['delete:e1', 'delete:old_a', 'insert:e1', 'insert:e3', 'insert:e4']);
    expect(seen.bob.sort()).toEqual(['delete:e2', 'delete:e3', 'delete:old_c', 'insert:e2', 'update:e2', 'update:e3']);
    expect(seen.none).toEqual([]);
    expect(seen.admin).toHaveLength(12);
  });

  it('subscribing needs read permission', () => {
    const source = changeSourceOf(docs.hub, { store });
    expect(() => source.subscribe('n_secret', null, null, () => undefined, narrow)).toThrow(/missing permission docs:n_secret read/);
    const stop = source.subscribe('n_orders', null, null, () => undefined, narrow);
    stop();
  });
});
