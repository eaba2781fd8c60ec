// Row-level security and per-statement permissions in SQL (issue 14), driven
// in-process: a real ShardPool (two shard threads), TableService, transaction
// manager and AuthStore in a temp data dir, and SqlExecutor with
// `security: { store }`, each statement run as a principal built like the
// authenticator builds them (roles → permissions, claims, bypassRls for
// admins). The modules come from dist/ (the shard workers are the compiled
// ones), built here when stale. Also through the SQL route handler (403,
// FORBIDDEN, 42501) and the CQL executor (permissions; RLS tables refused);
// collections and kv read through SQL keep their own policies.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, ROOT } from '../helpers/child-process.js';
import type { SqlAnswer, SqlExecutor } from '../../src/sql/sql-exec.js';
import type { AuthStore } from '../../src/security/auth-store.js';
import type { Principal } from '../../src/security/principal.js';
import type { CqlExecutor } from '../../src/cql/cql-exec.js';
import type { SqlHandler } from '../../src/http/sql-routes.js';
import type { ShardPool } from '../../src/router/index.js';
import type { DocTxnManager } from '../../src/docs/index.js';
import type { TimestampReserver } from '../../shared/txn/timestamp-oracle.js';
import type { CoordinatorLog } from '../../src/txn/coordinator-log.js';
import type { MantisError } from '../../shared/errors.js';
import type { Value } from '../../src/sql/sql-types.js';

const load = <T>(path: string): Promise<T> => import(pathToFileURL(join(ROOT, 'dist', path)).href) as Promise<T>;

let dir = '';
let pool: ShardPool;
let manager: DocTxnManager;
let reserver: TimestampReserver;
let coordinator: CoordinatorLog;
let store: AuthStore;
let sql: SqlExecutor;
let open: SqlExecutor;
let cql: CqlExecutor;
let handler: SqlHandler;
let kv: import('../../src/kv/kv-service.js').KvService;
let docs: import('../../src/docs/index.js').DocService;
let compile: typeof import('../../src/security/principal.js').compilePermissions;

type Who = { name: string; roles: string[]; claims?: Record<string, unknown> };

function principal(w: Who): Principal {
  const perms = compile(w.roles, (n) => store.role(n));
  return { kind: 'user', id: w.name, sub: w.name, roles: w.roles, claims: w.claims ?? {}, bypassRls: perms.admin, can: perms.can, limitKey: `user:${w.name}` };
}

let admin: Principal;
let alice: Principal;
let bob: Principal;
let carol: Principal;
let viewer: Principal;
let reader: Principal;
let writer: Principal;
let copier: Principal;

async function run(p: Principal | undefined, query: string, params: unknown[] = [], executor: SqlExecutor = sql): Promise<SqlAnswer> {
  return executor.execute({ query, params, txn: null, deadlineMs: Date.now() + 30_000, ...(p === undefined ? {} : { principal: p }) });
}

async function rows(p: Principal, query: string, params: unknown[] = []): Promise<Value[][]> {
  return (await run(p, query, params)).rows;
}

async function fails(p: Principal, query: string, executor: SqlExecutor = sql): Promise<MantisError> {
  try {
    await run(p, query, [], executor);
  } catch (e) {
    return e as MantisError;
  }
  throw new Error(`expected an error from: ${query}`);
}

const sqlstate = (e: MantisError): unknown => e.details?.sqlstate;
const num = (v: Value): number => Number(v);

beforeAll(async () => {
  ensureBuilt('dist/src/sql/sql-security.js', ['src/sql/sql-security.ts', 'src/sql/sql-exec.ts', 'src/sql/binder.ts', 'src/sql/model-relations.ts', 'src/cql/cql-exec.ts', 'src/http/sql-routes.ts']);
  dir = mkdtempSync(join(tmpdir(), 'mantis-sql-rls-'));
  const { ShardPool } = await load<typeof import('../../src/router/index.js')>('src/router/index.js');
  const { TimestampReserver } = await load<typeof import('../../shared/txn/timestamp-oracle.js')>('shared/txn/timestamp-oracle.js');
  const { CoordinatorLog } = await load<typeof import('../../src/txn/coordinator-log.js')>('src/txn/coordinator-log.js');
  const { DocTxnManager, DocService } = await load<typeof import('../../src/docs/index.js')>('src/docs/index.js');
  const { createTxnMetrics } = await load<typeof import('../../src/txn/txn-metrics.js')>('src/txn/txn-metrics.js');
  const { TableService } = await load<typeof import('../../src/tables/table-service.js')>('src/tables/table-service.js');
  const { KvService } = await load<typeof import('../../src/kv/kv-service.js')>('src/kv/kv-service.js');
  const { SqlExecutor } = await load<typeof import('../../src/sql/sql-exec.js')>('src/sql/sql-exec.js');
  const { loadSqlParser } = await load<typeof import('../../src/sql/sql-parse.js')>('src/sql/sql-parse.js');
  const { CqlExecutor } = await load<typeof import('../../src/cql/cql-exec.js')>('src/cql/cql-exec.js');
  const { createSqlHandler } = await load<typeof import('../../src/http/sql-routes.js')>('src/http/sql-routes.js');
  const { AuthStore } = await load<typeof import('../../src/security/auth-store.js')>('src/security/auth-store.js');
  const principalMod = await load<typeof import('../../src/security/principal.js')>('src/security/principal.js');
  const { createInterest } = await load<typeof import('../../shared/cache/invalidation.js')>('shared/cache/invalidation.js');
  const { createLogger } = await load<typeof import('../../src/log.js')>('src/log.js');
  const { Registry } = await import('prom-client');
  compile = principalMod.compilePermissions;
  const log = createLogger('silent');
  reserver = await TimestampReserver.open(join(dir, 'txn'));
  coordinator = await CoordinatorLog.open(join(dir, 'txn'));
  pool = new ShardPool({
    shards: 2,
    oracle: reserver.buffer,
    dataDir: dir,
    fsync: 'none',
    fsyncBatchMs: 2,
    logLevel: 'silent',
    log,
    storage: { memoryBudgetBytes: 64 * 1024 * 1024, blockBytes: 8192, level1Bytes: null, levelMultiplier: 10 },
    cacheBytes: 0,
    cacheEvents: createInterest(),
    cachePolicies: [],
    writeBackMs: 100,
  });
  await pool.start();
  manager = new DocTxnManager({ pool, oracle: reserver.buffer, log: coordinator, logger: log, metrics: createTxnMetrics(new Registry()), maxAgeMs: 60_000 });
  await manager.recover();
  const documents = new DocService({ pool, txns: manager, log, dataDir: dir });
  await documents.start();
  docs = documents;
  const tables = new TableService({ pool, log, txns: manager });
  await tables.start();
  await loadSqlParser();
  store = await AuthStore.open(dir);
  kv = new KvService(pool);
  const base = { tables, txns: manager, memoryBytes: 256 * 1024 * 1024, nextId: () => manager.nextTimestamp(), kv, docs: documents };
  sql = new SqlExecutor({ ...base, security: { store } });
  open = new SqlExecutor(base);
  cql = new CqlExecutor(tables, { store });
  handler = createSqlHandler(sql, log);

  await store.putRole('tenant', [
    { resource: 'tables:*', actions: ['read', 'write'] },
    { resource: 'sql', actions: ['read', 'write'] },
    { resource: 'kv:', actions: ['read'] },
    { resource: 'docs:*', actions: ['read'] },
  ]);
  await store.putRole('viewer', [
    { resource: 'tables:*', actions: ['read'] },
    { resource: 'sql', actions: ['read'] },
  ]);
  await store.putRole('reader', [
    { resource: 'tables:public_info', actions: ['read'] },
    { resource: 'sql', actions: ['read'] },
  ]);
  await store.putRole('writer', [
    { resource: 'tables:public_info', actions: ['read'] },
    { resource: 'sql', actions: ['read', 'write'] },
  ]);
  await store.putRole('copier', [
    { resource: 'tables:public_info', actions: ['read', 'write'] },
    { resource: 'sql', actions: ['read', 'write'] },
  ]);
  admin = principal({ name: 'root', roles: ['admin'] });
  alice = principal({ name: 'alice', roles: ['tenant'], claims: { tenant: 'a' } });
  bob = principal({ name: 'bob', roles: ['tenant'], claims: { tenant: 'b' } });
  carol = principal({ name: 'carol', roles: ['tenant'] });
  viewer = principal({ name: 'vic', roles: ['viewer'], claims: { tenant: 'a' } });
  reader = principal({ name: 'rita', roles: ['reader'] });
  writer = principal({ name: 'will', roles: ['writer'] });
  copier = principal({ name: 'cora', roles: ['copier'] });
  expect(admin.bypassRls).toBe(true);
  expect(alice.bypassRls).toBe(false);

  for (const q of [
    'CREATE TABLE docs (id int PRIMARY KEY, tenant text NOT NULL, owner text, amount int, title text)',
    'CREATE TABLE notes (id int PRIMARY KEY, doc_id int, tenant text, body text)',
    'CREATE TABLE public_info (id int PRIMARY KEY, label text)',
    'CREATE TABLE other (id int PRIMARY KEY, v text)',
    'CREATE TABLE inbox (id int PRIMARY KEY, owner text, msg text)',
    "INSERT INTO docs VALUES (1, 'a', 'alice', 10, 'a1'), (2, 'a', 'alice', 20, 'a2'), (3, 'a', 'ann', 30, 'a3'), (4, 'a', 'ann', 40, 'a4'), (5, 'b', 'bob', 100, 'b1'), (6, 'b', 'bob', 200, 'b2'), (7, 'b', 'ben', 300, 'b3')",
    "INSERT INTO notes VALUES (1, 1, 'a', 'on a1'), (2, 2, 'a', 'on a2'), (3, 5, 'b', 'on b1'), (4, 6, 'b', 'on b2'), (5, 5, 'a', 'a note on b1')",
    "INSERT INTO public_info VALUES (1, 'one'), (2, 'two'), (3, 'three'), (4, 'four'), (5, 'five'), (6, 'six'), (7, 'seven'), (8, 'eight')",
    "INSERT INTO other VALUES (1, 'x')",
    'ALTER TABLE docs ENABLE ROW LEVEL SECURITY',
    "CREATE POLICY tenant_isolation ON docs USING (tenant = auth.jwt() ->> 'tenant') WITH CHECK (tenant = auth.jwt() ->> 'tenant')",
    'ALTER TABLE notes ENABLE ROW LEVEL SECURITY',
    "CREATE POLICY notes_tenant ON notes FOR ALL TO tenant USING (tenant = auth.jwt() ->> 'tenant')",
    'ALTER TABLE inbox ENABLE ROW LEVEL SECURITY',
    'CREATE POLICY inbox_send ON inbox FOR INSERT WITH CHECK (true)',
    'CREATE POLICY inbox_read ON inbox FOR SELECT USING (owner = auth.uid())',
  ]) {
    await run(admin, q);
  }
}, 120_000);

afterAll(async () => {
  manager?.close();
  await pool?.stop(10_000).catch(() => undefined);
  await coordinator?.close().catch(() => undefined);
  await reserver?.close().catch(() => undefined);
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

describe('row-level security: reads', () => {
  it('SELECT * shows each tenant its own rows; admins see all', async () => {
    expect((await rows(alice, 'SELECT id FROM docs ORDER BY id')).map((r) => num(r[0]))).toEqual([1, 2, 3, 4]);
    expect((await rows(bob, 'SELECT id, tenant FROM docs ORDER BY id')).map((r) => num(r[0]))).toEqual([5, 6, 7]);
    expect((await rows(admin, 'SELECT count(*) FROM docs'))[0][0]).toBe(7);
    // No principal with security on: the system (auth off semantics of the route), bypassing RLS.
    expect((await run(undefined, 'SELECT count(*) FROM docs')).rows[0][0]).toBe(7);
  });

  it('count, sum, avg and GROUP BY see only visible rows (pushed aggregates too)', async () => {
    expect((await rows(alice, 'SELECT count(*), sum(amount), min(amount), max(amount) FROM docs'))[0].map(num)).toEqual([4, 100, 10, 40]);
    expect((await rows(bob, 'SELECT count(*), sum(amount) FROM docs'))[0].map(num)).toEqual([3, 600]);
    expect((await rows(alice, 'SELECT tenant, count(*) FROM docs GROUP BY tenant'))).toEqual([['a', 4]]);
    expect((await rows(alice, 'SELECT owner, sum(amount) FROM docs GROUP BY owner ORDER BY owner')).map((r) => [r[0], num(r[1])])).toEqual([
      ['alice', 30],
      ['ann', 70],
    ]);
    expect((await rows(alice, 'SELECT count(*) FROM docs WHERE amount > 15 HAVING count(*) > 0'))[0][0]).toBe(3);
  });

  it('primary-key lookups cannot reach other rows', async () => {
    expect(await rows(alice, 'SELECT * FROM docs WHERE id = 5')).toEqual([]);
    expect(await rows(alice, 'SELECT id FROM docs WHERE id = $1', [6])).toEqual([]);
    expect((await rows(alice, 'SELECT id FROM docs WHERE id IN (1, 5, 6) ORDER BY id')).map((r) => num(r[0]))).toEqual([1]);
    expect((await rows(bob, 'SELECT title FROM docs WHERE id = 5'))).toEqual([['b1']]);
  });

  it('joins: both sides under RLS, one side, comma joins and outer joins', async () => {
    expect(await rows(alice, 'SELECT d.id, n.body FROM docs d JOIN notes n ON n.doc_id = d.id ORDER BY n.id')).toEqual([
      [1, 'on a1'],
      [2, 'on a2'],
    ]);
    expect(await rows(bob, 'SELECT d.id, n.body FROM docs d, notes n WHERE n.doc_id = d.id ORDER BY n.id')).toEqual([
      [5, 'on b1'],
      [6, 'on b2'],
    ]);
    const left = await rows(alice, 'SELECT p.id, d.title FROM public_info p LEFT JOIN docs d ON d.id = p.id ORDER BY p.id');
    expect(left.map((r) => r[1])).toEqual(['a1', 'a2', 'a3', 'a4', null, null, null, null]);
    expect((await rows(alice, 'SELECT count(*) FROM public_info p JOIN docs d ON d.id = p.id'))[0][0]).toBe(4);
    // A note of tenant a on a document of tenant b: its document is not visible to alice.
    expect((await rows(alice, 'SELECT n.id, d.id FROM notes n LEFT JOIN docs d ON d.id = n.doc_id ORDER BY n.id'))).toEqual([
      [1, 1],
      [2, 2],
      [5, null],
    ]);
    expect((await rows(alice, 'SELECT count(*) FROM docs a JOIN docs b ON a.owner = b.owner'))[0][0]).toBe(8);
  });

  it('subqueries: IN, EXISTS, NOT IN, correlated scalar, derived tables', async () => {
    const ids = async (p: Principal, q: string): Promise<number[]> => (await rows(p, q)).map((r) => num(r[0]));
    expect(await ids(alice, 'SELECT id FROM public_info WHERE id IN (SELECT id FROM docs) ORDER BY id')).toEqual([1, 2, 3, 4]);
    expect(await ids(bob, 'SELECT id FROM public_info p WHERE EXISTS (SELECT 1 FROM docs d WHERE d.id = p.id) ORDER BY id')).toEqual([5, 6, 7]);
    expect(await ids(alice, 'SELECT id FROM public_info WHERE id NOT IN (SELECT id FROM docs) ORDER BY id')).toEqual([5, 6, 7, 8]);
    expect(await ids(alice, 'SELECT id FROM public_info p WHERE NOT EXISTS (SELECT 1 FROM docs d WHERE d.id = p.id) ORDER BY id')).toEqual([5, 6, 7, 8]);
    const scalar = await rows(alice, 'SELECT p.id, (SELECT d.amount FROM docs d WHERE d.id = p.id) FROM public_info p ORDER BY p.id');
    expect(scalar.map((r) => r[1])).toEqual([10, 20, 30, 40, null, null, null, null]);
    expect((await rows(alice, 'SELECT (SELECT count(*) FROM docs), (SELECT max(amount) FROM docs)'))[0].map(num)).toEqual([4, 40]);
    expect((await rows(bob, 'SELECT count(*) FROM (SELECT * FROM docs WHERE amount > 0) s'))[0][0]).toBe(3);
    expect(await ids(alice, 'SELECT id FROM public_info p WHERE id = ANY (SELECT doc_id FROM notes) ORDER BY id')).toEqual([1, 2, 5]);
  });

  it('CTEs, recursive CTEs, UNION and window functions', async () => {
    expect((await rows(alice, 'WITH x AS (SELECT * FROM docs) SELECT count(*), sum(amount) FROM x'))[0].map(num)).toEqual([4, 100]);
    expect((await rows(alice, 'WITH RECURSIVE r(n) AS (SELECT min(id) FROM docs UNION ALL SELECT n + 1 FROM r WHERE n < (SELECT max(id) FROM docs)) SELECT count(*) FROM r'))[0][0]).toBe(4);
    expect((await rows(alice, 'SELECT id FROM docs UNION SELECT doc_id FROM notes ORDER BY 1')).map((r) => num(r[0]))).toEqual([1, 2, 3, 4, 5]);
    expect((await rows(bob, 'SELECT tenant FROM docs UNION ALL SELECT tenant FROM notes')).every((r) => r[0] === 'b')).toBe(true);
    const win = await rows(alice, 'SELECT id, sum(amount) OVER (), row_number() OVER (ORDER BY amount DESC), count(*) OVER (PARTITION BY owner) FROM docs ORDER BY id');
    expect(win.map((r) => r.map(num))).toEqual([
      [1, 100, 4, 2],
      [2, 100, 3, 2],
      [3, 100, 2, 2],
      [4, 100, 1, 2],
    ]);
  });

  it('no applicable policy: no rows (default deny); a missing claim: no rows', async () => {
    // notes' policy is TO tenant: the viewer role has none on notes.
    expect(await rows(viewer, 'SELECT * FROM notes')).toEqual([]);
    expect((await rows(viewer, 'SELECT count(*) FROM notes'))[0][0]).toBe(0);
    // Nothing to fetch: the scan asks the shards for no key at all.
    expect((await rows(viewer, 'EXPLAIN SELECT * FROM notes')).map((r) => r[0]).join('\n')).toContain('Pushed Filter: (id IN ())');
    // docs' policy is for PUBLIC: the viewer sees tenant a's rows through its claim.
    expect((await rows(viewer, 'SELECT count(*) FROM docs'))[0][0]).toBe(4);
    // carol has no tenant claim: tenant = NULL is never true.
    expect((await rows(carol, 'SELECT count(*) FROM docs'))[0][0]).toBe(0);
    expect(await rows(carol, 'SELECT * FROM docs WHERE id = 1')).toEqual([]);
  });

  it('auth.uid(), auth.role(), auth.jwt() and current_user answer the principal', async () => {
    expect(await rows(alice, "SELECT auth.uid(), auth.role(), auth.jwt() ->> 'tenant', current_user")).toEqual([['alice', 'tenant', 'a', 'alice']]);
    expect(await rows(bob, "SELECT auth.jwt() ->> 'tenant'")).toEqual([['b']]);
    expect((await rows(admin, 'SELECT auth.uid(), current_user'))[0]).toEqual(['root', 'root']);
    expect(sqlstate(await fails(alice, 'SELECT auth.nope()'))).toBe('42883');
    // Auth off: the system principal's values.
    expect((await run(undefined, 'SELECT auth.uid(), current_user', [], open)).rows).toEqual([['system', 'system']]);
  });

  it('EXPLAIN ANALYZE (its shard counters include every row) is refused under the policy; an admin may', async () => {
    const e = await fails(alice, 'EXPLAIN ANALYZE SELECT * FROM docs WHERE id = 5');
    expect(sqlstate(e)).toBe('42501');
    expect((await rows(admin, 'EXPLAIN ANALYZE SELECT count(*) FROM docs')).length).toBeGreaterThan(0);
  });

  it('EXPLAIN shows the policy filter pushed to the shards', async () => {
    const text = (await rows(alice, 'EXPLAIN SELECT count(*) FROM docs')).map((r) => r[0]).join('\n');
    expect(text).toContain("tenant = 'a'");
    const lookup = (await rows(alice, 'EXPLAIN SELECT * FROM docs WHERE id = 5')).map((r) => r[0]).join('\n');
    expect(lookup).toMatch(/Pushed Filter: .*tenant = 'a'/);
    const adminPlan = (await rows(admin, 'EXPLAIN SELECT count(*) FROM docs')).map((r) => r[0]).join('\n');
    expect(adminPlan).not.toContain('tenant');
  });

  it('policies with subqueries: evaluated as the caller, not shadowed by its CTEs', async () => {
    for (const q of [
      'CREATE TABLE members (uid text, tenant text, PRIMARY KEY (uid, tenant))',
      'CREATE TABLE projects (id int PRIMARY KEY, tenant text, name text)',
      "INSERT INTO members VALUES ('alice', 'x'), ('bob', 'y'), ('bob', 'x')",
      "INSERT INTO projects VALUES (1, 'x', 'px'), (2, 'y', 'py'), (3, 'z', 'pz')",
      'ALTER TABLE projects ENABLE ROW LEVEL SECURITY',
      'CREATE POLICY by_membership ON projects USING (tenant IN (SELECT m.tenant FROM members m WHERE m.uid = auth.uid()))',
    ]) {
      await run(admin, q);
    }
    expect((await rows(alice, 'SELECT name FROM projects ORDER BY id'))).toEqual([['px']]);
    expect((await rows(bob, 'SELECT name FROM projects ORDER BY id'))).toEqual([['px'], ['py']]);
    expect((await rows(bob, 'SELECT count(*) FROM projects'))[0][0]).toBe(2);
    // WITH CHECK falls back to USING, subquery included (VALUES: the policy's scans are fetched too).
    expect((await run(alice, "INSERT INTO projects VALUES (4, 'x', 'px2')")).rowCount).toBe(1);
    expect(sqlstate(await fails(alice, "INSERT INTO projects VALUES (5, 'y', 'nope')"))).toBe('42501');
    expect((await run(bob, "UPDATE projects SET tenant = 'y' WHERE id = 4")).rowCount).toBe(1);
    expect(sqlstate(await fails(bob, "UPDATE projects SET tenant = 'z' WHERE id = 4"))).toBe('42501');
    expect((await run(admin, 'DELETE FROM projects WHERE id = 4')).rowCount).toBe(1);
    // A CTE of the policy table's name is the caller's, never the policy's.
    expect((await rows(alice, "WITH members(uid, tenant) AS (VALUES ('alice', 'z')) SELECT name FROM projects ORDER BY id"))).toEqual([['px']]);
    // A policy that reaches its own table again.
    await run(admin, 'ALTER TABLE members ENABLE ROW LEVEL SECURITY');
    await run(admin, 'CREATE POLICY loop ON members USING (tenant IN (SELECT tenant FROM projects))');
    expect(sqlstate(await fails(alice, 'SELECT * FROM projects'))).toBe('42P17');
    await run(admin, 'DROP POLICY loop ON members');
    // members under RLS without a policy for alice: she sees no memberships, so no projects.
    expect(await rows(alice, 'SELECT name FROM projects')).toEqual([]);
    await run(admin, 'ALTER TABLE members DISABLE ROW LEVEL SECURITY');
    expect((await rows(alice, 'SELECT name FROM projects'))).toEqual([['px']]);
  });
});

describe('row-level security: writes', () => {
  it('UPDATE and DELETE touch only visible rows', async () => {
    expect((await run(alice, 'UPDATE docs SET amount = amount + 1')).rowCount).toBe(4);
    expect((await rows(admin, 'SELECT id, amount FROM docs WHERE id >= 5 ORDER BY id'))).toEqual([
      [5, 100],
      [6, 200],
      [7, 300],
    ]);
    expect((await run(alice, 'UPDATE docs SET amount = 0 WHERE id = 5')).rowCount).toBe(0);
    expect((await run(alice, 'DELETE FROM docs WHERE id IN (5, 6)')).rowCount).toBe(0);
    expect((await run(bob, "UPDATE docs SET title = 'B' WHERE owner = 'bob'")).rowCount).toBe(2);
    expect((await rows(admin, "SELECT count(*) FROM docs WHERE title = 'B'"))[0][0]).toBe(2);
    expect((await run(alice, 'UPDATE docs SET amount = amount - 1')).rowCount).toBe(4);
    // UPDATE … FROM and DELETE … USING: the other table's rows are filtered too.
    expect((await run(alice, 'UPDATE docs SET owner = owner FROM notes n WHERE n.doc_id = docs.id')).rowCount).toBe(2);
    expect((await run(bob, 'UPDATE docs SET owner = owner FROM notes n WHERE n.doc_id = docs.id')).rowCount).toBe(2);
    expect((await run(alice, "DELETE FROM public_info USING docs d WHERE d.id = public_info.id AND d.title = 'nope'")).rowCount).toBe(0);
  });

  it('INSERT of another tenant\'s row is refused (42501); an own row goes in', async () => {
    const e = await fails(alice, "INSERT INTO docs (id, tenant, amount) VALUES (10, 'b', 1)");
    expect(sqlstate(e)).toBe('42501');
    expect(e.code).toBe('FORBIDDEN');
    expect(e.message).toBe('new row violates row-level security policy for table "docs"');
    expect(sqlstate(await fails(alice, "INSERT INTO docs (id, tenant, amount) VALUES (11, 'a', 1), (12, 'b', 1)"))).toBe('42501');
    expect((await rows(admin, 'SELECT count(*) FROM docs WHERE id >= 10'))[0][0]).toBe(0);
    expect((await run(alice, "INSERT INTO docs (id, tenant, amount) VALUES (10, 'a', 1)")).rowCount).toBe(1);
    expect(sqlstate(await fails(carol, "INSERT INTO docs (id, tenant) VALUES (13, 'a')"))).toBe('42501');
    await run(alice, 'DELETE FROM docs WHERE id = 10');
  });

  it('UPDATE moving a row to another tenant is refused; nothing changes', async () => {
    const e = await fails(alice, "UPDATE docs SET tenant = 'b' WHERE id = 1");
    expect(sqlstate(e)).toBe('42501');
    expect((await rows(admin, 'SELECT tenant FROM docs WHERE id = 1'))).toEqual([['a']]);
    // The whole statement is refused (all or nothing): one bad row stops the rest.
    expect(sqlstate(await fails(alice, "UPDATE docs SET tenant = CASE WHEN id = 4 THEN 'b' ELSE tenant END, title = 'changed'"))).toBe('42501');
    expect((await rows(admin, "SELECT count(*) FROM docs WHERE title = 'changed'"))[0][0]).toBe(0);
  });

  it('INSERT … SELECT copies only visible rows and checks each new row', async () => {
    expect((await run(alice, 'INSERT INTO docs (id, tenant, owner, amount) SELECT id + 100, tenant, owner, amount FROM docs')).rowCount).toBe(4);
    expect((await rows(admin, 'SELECT count(*) FROM docs WHERE id > 100'))[0][0]).toBe(4);
    expect(sqlstate(await fails(alice, "INSERT INTO docs (id, tenant) SELECT id + 200, 'b' FROM docs"))).toBe('42501');
    expect((await run(alice, 'DELETE FROM docs WHERE id > 100')).rowCount).toBe(4);
    expect((await rows(admin, 'SELECT count(*) FROM docs'))[0][0]).toBe(7);
  });

  it('ON CONFLICT: another tenant\'s row cannot be updated; own rows can, but not moved', async () => {
    const e = await fails(alice, "INSERT INTO docs (id, tenant, amount) VALUES (5, 'a', 1) ON CONFLICT (id) DO UPDATE SET amount = 999");
    expect(sqlstate(e)).toBe('42501');
    expect(e.message).toContain('(USING expression)');
    expect((await rows(admin, 'SELECT amount FROM docs WHERE id = 5'))).toEqual([[100]]);
    expect((await run(alice, "INSERT INTO docs (id, tenant, amount) VALUES (1, 'a', 7) ON CONFLICT (id) DO UPDATE SET amount = excluded.amount")).rowCount).toBe(1);
    expect((await rows(admin, 'SELECT amount FROM docs WHERE id = 1'))).toEqual([[7]]);
    expect(sqlstate(await fails(alice, "INSERT INTO docs (id, tenant, amount) VALUES (1, 'a', 7) ON CONFLICT (id) DO UPDATE SET tenant = 'b'"))).toBe('42501');
    expect(sqlstate(await fails(alice, "INSERT INTO docs (id, tenant, amount) VALUES (1, 'b', 7) ON CONFLICT (id) DO UPDATE SET amount = 1"))).toBe('42501');
    expect((await run(alice, "INSERT INTO docs (id, tenant, amount) VALUES (5, 'a', 1) ON CONFLICT DO NOTHING")).rowCount).toBe(0);
    expect((await rows(admin, 'SELECT tenant, amount FROM docs WHERE id IN (1, 5) ORDER BY id'))).toEqual([
      ['a', 7],
      ['b', 100],
    ]);
    await run(alice, 'UPDATE docs SET amount = 10 WHERE id = 1');
  });

  it('RETURNING returns only rows the caller may see', async () => {
    const upd = await run(alice, 'UPDATE docs SET amount = amount RETURNING id');
    expect(upd.rows.map((r) => num(r[0])).sort((x, y) => x - y)).toEqual([1, 2, 3, 4]);
    const ins = await run(alice, "INSERT INTO inbox VALUES (1, 'bob', 'hi bob') RETURNING *");
    expect(ins.rowCount).toBe(1);
    expect(ins.rows).toEqual([]);
    const own = await run(alice, "INSERT INTO inbox VALUES (2, 'alice', 'note to self') RETURNING id, msg");
    expect(own.rows).toEqual([[2, 'note to self']]);
    expect(await rows(bob, 'SELECT id, msg FROM inbox')).toEqual([[1, 'hi bob']]);
    // No UPDATE or DELETE policy on inbox: nothing to update or delete.
    expect((await run(bob, "UPDATE inbox SET msg = 'x'")).rowCount).toBe(0);
    expect((await run(bob, 'DELETE FROM inbox')).rowCount).toBe(0);
    const del = await run(bob, 'DELETE FROM docs WHERE id = 7 RETURNING id, title');
    expect(del.rows).toEqual([[7, 'b3']]);
    await run(bob, "INSERT INTO docs (id, tenant, owner, amount, title) VALUES (7, 'b', 'ben', 300, 'b3')");
  });

  it('TRUNCATE of an RLS table needs BYPASSRLS', async () => {
    expect(sqlstate(await fails(alice, 'TRUNCATE docs'))).toBe('42501');
    expect((await rows(admin, 'SELECT count(*) FROM docs'))[0][0]).toBe(7);
  });
});

describe('permissions', () => {
  it('reading a table needs tables:<t> read, wherever the statement names it', async () => {
    expect((await rows(reader, 'SELECT count(*) FROM public_info'))[0][0]).toBe(8);
    for (const q of [
      'SELECT * FROM other',
      'SELECT * FROM public_info p JOIN other o ON o.id = p.id',
      'SELECT id FROM public_info WHERE id IN (SELECT id FROM other)',
      'SELECT (SELECT count(*) FROM other)',
      'WITH x AS (SELECT * FROM other) SELECT * FROM public_info',
      'SELECT * FROM public_info UNION SELECT id, v FROM other',
      'EXPLAIN SELECT * FROM other',
    ]) {
      const e = await fails(reader, q);
      expect(sqlstate(e), q).toBe('42501');
      expect(e.code).toBe('FORBIDDEN');
      expect(e.message).toBe('permission denied for table other (needs tables:other read)');
    }
    expect((await fails(reader, 'SELECT * FROM kv')).message).toBe('permission denied for relation kv (needs kv: read)');
  });

  it('writing needs sql write and tables:<t> write; DDL the table\'s write; policies admin write', async () => {
    expect((await fails(reader, "INSERT INTO public_info VALUES (9, 'nine')")).message).toBe('permission denied: statements that write need sql write');
    expect((await fails(writer, "INSERT INTO public_info VALUES (9, 'nine')")).message).toBe('permission denied for table public_info (needs tables:public_info write)');
    expect(sqlstate(await fails(writer, "UPDATE public_info SET label = 'x'"))).toBe('42501');
    expect(sqlstate(await fails(writer, 'DELETE FROM public_info'))).toBe('42501');
    expect(sqlstate(await fails(writer, 'CREATE TABLE mine (id int PRIMARY KEY)'))).toBe('42501');
    expect(sqlstate(await fails(writer, 'DROP TABLE other'))).toBe('42501');
    expect(sqlstate(await fails(writer, 'CREATE INDEX ON public_info (label)'))).toBe('42501');
    expect(sqlstate(await fails(writer, 'ALTER TABLE public_info ADD COLUMN x int'))).toBe('42501');
    expect(sqlstate(await fails(writer, 'TRUNCATE public_info'))).toBe('42501');
    // INSERT … SELECT reads its source: tables:other read.
    expect((await fails(copier, 'INSERT INTO public_info SELECT id + 50, v FROM other')).message).toBe('permission denied for table other (needs tables:other read)');
    expect((await run(copier, "INSERT INTO public_info VALUES (9, 'nine') RETURNING label")).rows).toEqual([['nine']]);
    expect((await run(copier, 'DELETE FROM public_info WHERE id = 9')).rowCount).toBe(1);
    expect((await fails(alice, 'CREATE POLICY p2 ON docs USING (true)')).message).toBe('permission denied to create policies (needs admin write)');
    expect(sqlstate(await fails(alice, 'ALTER TABLE docs DISABLE ROW LEVEL SECURITY'))).toBe('42501');
    expect(sqlstate(await fails(alice, 'DROP POLICY tenant_isolation ON docs'))).toBe('42501');
    expect((await rows(admin, 'SELECT count(*) FROM public_info'))[0][0]).toBe(8);
  });

  it('the SQL route answers 403 FORBIDDEN with sqlstate 42501', async () => {
    const reply = await handler.handle({
      method: 'POST',
      contentType: 'application/json',
      accept: undefined,
      txn: undefined,
      deadline: { header: undefined, receivedAtMs: Date.now() },
      body: new TextEncoder().encode(JSON.stringify({ query: "INSERT INTO docs (id, tenant) VALUES (50, 'b')" })),
      principal: alice,
    });
    expect(reply.status).toBe(403);
    const body = JSON.parse(typeof reply.body === 'string' ? reply.body : new TextDecoder().decode(reply.body as Uint8Array)) as { error: { code: string; sqlstate: string; message: string } };
    expect(body.error).toMatchObject({ code: 'FORBIDDEN', sqlstate: '42501', message: 'new row violates row-level security policy for table "docs"' });
    const denied = await handler.handle({
      method: 'POST',
      contentType: 'application/json',
      accept: undefined,
      txn: undefined,
      deadline: { header: undefined, receivedAtMs: Date.now() },
      body: new TextEncoder().encode(JSON.stringify({ query: 'SELECT * FROM other' })),
      principal: reader,
    });
    expect(denied.status).toBe(403);
    const ok = await handler.handle({
      method: 'POST',
      contentType: 'application/json',
      accept: undefined,
      txn: undefined,
      deadline: { header: undefined, receivedAtMs: Date.now() },
      body: new TextEncoder().encode(JSON.stringify({ query: 'SELECT count(*) FROM docs' })),
      principal: bob,
    });
    expect(ok.status).toBe(200);
    expect((JSON.parse(ok.body as string) as { data: { rows: unknown[][] } }).data.rows).toEqual([[3]]);
  });

  it('CQL: table permissions per statement; RLS tables refused to callers under RLS', async () => {
    const cq = (p: Principal, query: string): Promise<unknown> => cql.execute({ query, deadlineMs: Date.now() + 30_000, principal: p });
    await expect(cq(reader, 'SELECT * FROM other')).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(cq(reader, "INSERT INTO public_info (id, label) VALUES (9, 'nine')")).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(cq(writer, "INSERT INTO public_info (id, label) VALUES (9, 'nine')")).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(cq(alice, 'SELECT * FROM docs')).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(cq(alice, "UPDATE docs SET amount = 1 WHERE id = 5")).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(await cq(reader, 'SELECT * FROM public_info WHERE id = 1')).toMatchObject({ rows: [[1, 'one']] });
    expect(((await cq(admin, 'SELECT id FROM docs')) as { rows: unknown[] }).rows).toHaveLength(7);
  });
});

describe('the other models through SQL', () => {
  it('kv: only the keys the KV policies let the caller read', async () => {
    const put = (key: string, value: string): Promise<void> => kv.cmdPut(new TextEncoder().encode(key), 'text/plain', 0, new TextEncoder().encode(value), Date.now() + 10_000);
    await put('user:alice:1', 'a1');
    await put('user:bob:1', 'b1');
    await put('shared:1', 's1');
    await store.createPolicy({ kind: 'kv', name: 'own_keys', template: 'user:{sub}:', command: 'all', roles: ['public'] });
    try {
      const keys = async (p: Principal, q: string): Promise<Value[]> => (await rows(p, q)).map((r) => r[0]);
      expect(await keys(alice, 'SELECT key FROM kv ORDER BY key')).toEqual(['shared:1', 'user:alice:1']);
      expect(await keys(bob, "SELECT key FROM kv WHERE key LIKE 'user:%' ORDER BY key")).toEqual(['user:bob:1']);
      expect(await keys(alice, "SELECT value FROM kv WHERE key = 'user:bob:1'")).toEqual([]);
      expect(await keys(alice, "SELECT value FROM kv WHERE key = 'user:alice:1'")).toEqual(['a1']);
      expect(await keys(admin, "SELECT key FROM kv WHERE key LIKE 'user:%' ORDER BY key")).toEqual(['user:alice:1', 'user:bob:1']);
    } finally {
      await store.dropPolicy('kv', 'user:{sub}:', 'own_keys');
    }
  });

  it('collections: the document policies filter SQL scans; docs:<c> read is needed', async () => {
    await docs.insert('orders', [{ _id: 'o1', tenant: 'a', total: 5 }, { _id: 'o2', tenant: 'b', total: 7 }, { _id: 'o3', tenant: 'a', total: 9 }], null, Date.now() + 10_000);
    await store.createPolicy({ kind: 'docs', name: 'orders_tenant', collection: 'orders', command: 'all', roles: ['public'], using: { tenant: '$$CLAIMS.tenant' }, check: null });
    const ids = async (p: Principal, q: string): Promise<Value[]> => (await rows(p, q)).map((r) => r[0]);
    expect(await ids(alice, 'SELECT _id FROM orders ORDER BY _id')).toEqual(['o1', 'o3']);
    expect(await ids(bob, "SELECT sum((doc ->> 'total')::int) FROM orders")).toEqual([7]);
    expect(await ids(admin, 'SELECT count(*) FROM orders')).toEqual([3]);
    expect((await fails(reader, 'SELECT * FROM orders')).message).toBe('permission denied for collection orders (needs docs:orders read)');
  });
});

describe('policy DDL', () => {
  it('validates like PostgreSQL', async () => {
    const state = async (q: string): Promise<unknown> => sqlstate(await fails(admin, q));
    expect(await state('CREATE POLICY p ON nosuch USING (true)')).toBe('42P01');
    expect(await state('CREATE POLICY p ON docs USING (nosuch = 1)')).toBe('42703');
    expect(await state('CREATE POLICY p ON docs USING (amount)')).toBe('42804');
    expect(await state('CREATE POLICY p ON docs USING (count(*) > 1)')).toBe('42803');
    expect(await state('CREATE POLICY p ON docs FOR INSERT USING (true)')).toBe('42601');
    expect(await state('CREATE POLICY p ON docs FOR SELECT WITH CHECK (true)')).toBe('42601');
    expect(await state('CREATE POLICY p ON docs FOR DELETE WITH CHECK (true)')).toBe('42601');
    expect(await state('CREATE POLICY p ON docs USING (id = $1)')).toBe('42P02');
    expect(await state('CREATE POLICY tenant_isolation ON docs USING (true)')).toBe('42710');
    expect(await state('CREATE POLICY p ON docs AS RESTRICTIVE USING (true)')).toBe('0A000');
    expect(await state('DROP POLICY nosuch ON docs')).toBe('42704');
    expect(await state('DROP POLICY p ON nosuch')).toBe('42P01');
    expect(await state('ALTER TABLE nosuch ENABLE ROW LEVEL SECURITY')).toBe('42P01');
    const bad = 'CREATE POLICY p ON docs USING (tenant = nosuch)';
    const e = await fails(admin, bad);
    expect(e.details?.position).toBe(bad.indexOf('nosuch') + 1);
    const dup = await fails(admin, 'CREATE POLICY tenant_isolation ON docs USING (true)');
    expect(dup.message).toBe('policy "tenant_isolation" for table "docs" already exists');
    expect((await run(admin, 'DROP POLICY IF EXISTS nosuch ON docs')).notice).toContain('does not exist, skipping');
    // Auth off: RLS statements are refused.
    expect(sqlstate(await fails(admin, 'CREATE POLICY p ON docs USING (true)', open))).toBe('0A000');
  });

  it('stores the expression text; DROP POLICY removes it; DROP TABLE forgets policies and the RLS flag', async () => {
    await run(admin, 'CREATE TABLE tmp (id int PRIMARY KEY, owner text)');
    await run(admin, 'ALTER TABLE tmp ENABLE ROW LEVEL SECURITY');
    await run(admin, "CREATE POLICY mine ON tmp AS PERMISSIVE FOR UPDATE TO tenant, viewer USING ( owner = auth.uid() /* ')' */ ) WITH CHECK ((owner = 'x(') OR true)");
    expect(store.findPolicy('table', 'tmp', 'mine')).toMatchObject({ command: 'update', roles: ['tenant', 'viewer'], using: "owner = auth.uid() /* ')' */", check: "(owner = 'x(') OR true" });
    await run(admin, "INSERT INTO tmp VALUES (1, 'alice'), (2, 'bob')");
    // Only an UPDATE policy: nothing is visible to SELECT, alice updates her row.
    expect(await rows(alice, 'SELECT * FROM tmp')).toEqual([]);
    expect((await run(alice, "UPDATE tmp SET owner = 'alice'")).rowCount).toBe(1);
    await run(admin, 'CREATE POLICY see ON tmp FOR SELECT USING (true)');
    expect((await rows(alice, 'SELECT count(*) FROM tmp'))[0][0]).toBe(2);
    await run(admin, 'DROP POLICY see ON tmp');
    expect(store.findPolicy('table', 'tmp', 'see')).toBeUndefined();
    await run(admin, 'DROP TABLE tmp');
    expect(store.rlsEnabled('tmp')).toBe(false);
    expect(store.policies().filter((p) => p.kind === 'table' && p.table === 'tmp')).toEqual([]);
  });

  it('auth off: the principal is ignored (no policies, no permission checks)', async () => {
    const r = await run(reader, 'SELECT count(*) FROM docs', [], open);
    expect(r.rows[0][0]).toBe(7);
  });
});
