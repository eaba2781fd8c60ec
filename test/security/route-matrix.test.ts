// Every route × every kind of credential, on a real server with --auth on
// (issue 14), once with the uWS fast path and once through Hono only.
//
// ROUTES below is the specification: each route the server registers, with
// the permission it needs (public / any credential / resource + action) and
// one concrete request. Each row is sent with no credential, a malformed
// bearer, a JWT with a bad signature, an expired JWT, a JWT for another
// audience and a revoked API key (all 401 UNAUTHORIZED with a Bearer
// WWW-Authenticate challenge), with an API key whose role grants only an
// unrelated permission (403 FORBIDDEN naming the permission), and with an API
// key whose role grants exactly what the row says (anything but 401/403: the
// example may well answer 400 or 404). The JWTs carry roles ["admin"] and are
// signed with the server's own secret (except the bad-signature one), so only
// the check under test stands between them and the route.
//
// GET /api/v1/admin/routes lists what the server registers (Hono's route
// table and the native stream routes): a route missing from ROUTES fails the
// suite, and so does a row naming a route the server no longer has.
//
// Besides the matrix: the WebSocket and SSE streams with ?access_token=, the
// routes that take any credential and check what their body names (a batch,
// a transaction, SQL/CQL statements), and HEAD (run last in each block).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_PASSWORD,
  call,
  createKey,
  createRole,
  loginAdmin,
  ok,
  openSseStream,
  openWsStream,
  revokeKey,
  signJwt,
  startAuthServer,
  wsHandshake,
  type PermissionSpec,
} from '../helpers/auth-support.js';
import { cleanup, type ServerProcess } from '../helpers/server-process.js';

type Action = 'read' | 'write';
type Need = 'public' | 'authenticated' | { readonly resource: string; readonly action: Action };

type Row = {
  /** "METHOD /template" as the routes listing spells it (":name" parameters; "*" never). */
  readonly route: string;
  readonly need: Need;
  /** The concrete request: path and query. */
  readonly path: string;
  readonly body?: unknown;
  readonly contentType?: string;
  /** A stream opened over SSE (closed once the status is read) or a WebSocket upgrade. */
  readonly kind?: 'sse' | 'ws';
  /** What the allowed caller also needs for the example's body (the route checks it past the gate). */
  readonly grant?: readonly PermissionSpec[];
  /** A probe of a path the server does not register (it is still gated). */
  readonly unregistered?: true;
  /** Only a signed-in user may do it (not a key or an outside token): the allowed and insufficient callers use the admin's session. */
  readonly sessionOnly?: true;
};

const perm = (resource: string, action: Action): Need => ({ resource, action });
const ADMIN_R = perm('admin', 'read');
const ADMIN_W = perm('admin', 'write');
const CACHE_R = perm('cache', 'read');
const CACHE_W = perm('cache', 'write');
const KEY = 'mx:k';
const KV_R = perm(`kv:${KEY}`, 'read');
const KV_W = perm(`kv:${KEY}`, 'write');
const DOC_R = perm('docs:mx_c', 'read');
const DOC_W = perm('docs:mx_c', 'write');
const TAB_R = perm('tables:mx_t', 'read');
const TAB_W = perm('tables:mx_t', 'write');
const SQL = perm('sql', 'read');
/** The prefix the "unrelated" role may read and write: no row's permission is under it. */
const UNRELATED_PREFIX = 'zz:';

const ROUTES: readonly Row[] = [
  // --- health and metrics ---
  { route: 'GET /health/live', need: 'public', path: '/health/live' },
  { route: 'GET /health/ready', need: 'public', path: '/health/ready' },
  { route: 'GET /api/metrics/prometheus', need: ADMIN_R, path: '/api/metrics/prometheus' },
  // --- operations (issue 15): metric streams and history, alerts, backups, storage ---
  { route: 'GET /api/v1/metrics/history', need: ADMIN_R, path: '/api/v1/metrics/history?minutes=1' },
  { route: 'GET /api/v1/metrics/stream', need: ADMIN_R, path: '/api/v1/metrics/stream?interval_ms=1000', kind: 'sse' },
  { route: 'GET /api/v1/alerts', need: ADMIN_R, path: '/api/v1/alerts' },
  { route: 'GET /api/v1/alerts/rules', need: ADMIN_R, path: '/api/v1/alerts/rules' },
  { route: 'PUT /api/v1/alerts/rules', need: ADMIN_W, path: '/api/v1/alerts/rules', body: { rules: 'not a list' } },
  { route: 'POST /api/v1/backups', need: ADMIN_W, path: '/api/v1/backups', body: { incremental: false } },
  { route: 'GET /api/v1/backups', need: ADMIN_R, path: '/api/v1/backups' },
  { route: 'GET /api/v1/backups/:id', need: ADMIN_R, path: '/api/v1/backups/20261207T000000000Z-000000' },
  { route: 'POST /api/v1/backups/:id/verify', need: ADMIN_W, path: '/api/v1/backups/20261207T000000000Z-000000/verify', body: {} },
  { route: 'DELETE /api/v1/backups/:id', need: ADMIN_W, path: '/api/v1/backups/20261207T000000000Z-000000' },
  { route: 'GET /api/storage/list', need: ADMIN_R, path: '/api/storage/list' },
  { route: 'GET /api/storage/download', need: ADMIN_W, path: '/api/storage/download?path=data/mantis.json' },

  // --- identity ---
  { route: 'POST /api/v1/auth/login', need: 'public', path: '/api/v1/auth/login', body: { username: 'admin', password: ADMIN_PASSWORD } },
  { route: 'GET /api/v1/auth/oauth/:provider/start', need: 'public', path: '/api/v1/auth/oauth/mock/start' },
  { route: 'GET /api/v1/auth/oauth/:provider/callback', need: 'public', path: '/api/v1/auth/oauth/mock/callback?code=x&state=y' },
  { route: 'POST /api/v1/auth/logout', need: 'authenticated', path: '/api/v1/auth/logout' },
  { route: 'GET /api/v1/auth/me', need: 'authenticated', path: '/api/v1/auth/me' },
  { route: 'GET /api/v1/auth/keys', need: 'authenticated', path: '/api/v1/auth/keys' },
  { route: 'POST /api/v1/auth/keys', need: 'authenticated', path: '/api/v1/auth/keys', body: { name: 'mx-own', roles: [], expires_in_s: 60 }, sessionOnly: true },
  { route: 'DELETE /api/v1/auth/keys/:id', need: 'authenticated', path: '/api/v1/auth/keys/no-such-key' },
  { route: 'GET /api/v1/auth/users', need: ADMIN_R, path: '/api/v1/auth/users' },
  { route: 'POST /api/v1/auth/users', need: ADMIN_W, path: '/api/v1/auth/users', body: { username: 'mx-user', password: 'mx-password-1234', roles: ['readonly'] } },
  { route: 'PATCH /api/v1/auth/users/:name', need: ADMIN_W, path: '/api/v1/auth/users/no-such-user', body: { roles: ['readonly'] } },
  { route: 'DELETE /api/v1/auth/users/:name', need: ADMIN_W, path: '/api/v1/auth/users/no-such-user' },
  { route: 'GET /api/v1/auth/roles', need: ADMIN_R, path: '/api/v1/auth/roles' },
  { route: 'POST /api/v1/auth/roles', need: ADMIN_W, path: '/api/v1/auth/roles', body: { name: 'mx-scratch', permissions: [{ resource: 'kv:mx-scratch:', actions: ['read'] }] } },
  { route: 'DELETE /api/v1/auth/roles/:name', need: ADMIN_W, path: '/api/v1/auth/roles/no-such-role' },
  { route: 'GET /api/v1/auth/policies', need: ADMIN_R, path: '/api/v1/auth/policies' },
  // A KV policy on a scope no other row uses: from here on every KV request also runs the row-level check.
  { route: 'POST /api/v1/auth/policies', need: ADMIN_W, path: '/api/v1/auth/policies', body: { kind: 'kv', name: 'mx', prefix: 'mx-rls:{sub}:', roles: ['readwrite'] } },
  { route: 'DELETE /api/v1/auth/policies/:kind/:object/:name', need: ADMIN_W, path: '/api/v1/auth/policies/kv/no-such-object/no-such-policy' },

  // --- administration ---
  { route: 'GET /api/v1/admin/audit', need: ADMIN_R, path: '/api/v1/admin/audit?limit=5' },
  { route: 'GET /api/v1/admin/config', need: ADMIN_R, path: '/api/v1/admin/config' },
  { route: 'GET /api/v1/admin/rate-limits', need: ADMIN_R, path: '/api/v1/admin/rate-limits' },
  { route: 'PUT /api/v1/admin/rate-limits', need: ADMIN_W, path: '/api/v1/admin/rate-limits', body: {} },
  { route: 'GET /api/v1/admin/routes', need: ADMIN_R, path: '/api/v1/admin/routes' },

  // --- cache ---
  { route: 'GET /api/v1/cache/stats', need: CACHE_R, path: '/api/v1/cache/stats' },
  { route: 'GET /api/v1/cache/policies', need: CACHE_R, path: '/api/v1/cache/policies' },
  { route: 'PUT /api/v1/cache/policies', need: CACHE_W, path: '/api/v1/cache/policies', body: { policies: [] } },
  // The cache routes name keys: besides cache, the keys' own permissions (checked past the gate).
  { route: 'POST /api/v1/cache/invalidate', need: CACHE_W, path: '/api/v1/cache/invalidate', body: { key: 'mx:p' }, grant: [{ resource: 'kv:mx:', actions: ['read', 'write'] }] },
  { route: 'POST /api/v1/cache/dependencies', need: CACHE_W, path: '/api/v1/cache/dependencies', body: { parent: 'mx:p', child: 'mx:c' }, grant: [{ resource: 'kv:mx:', actions: ['read', 'write'] }] },
  { route: 'DELETE /api/v1/cache/dependencies', need: CACHE_W, path: '/api/v1/cache/dependencies', body: { parent: 'mx:p', child: 'mx:none' }, grant: [{ resource: 'kv:mx:', actions: ['read', 'write'] }] },
  { route: 'GET /api/v1/cache/dependencies', need: CACHE_R, path: '/api/v1/cache/dependencies?parent=mx:p', grant: [{ resource: 'kv:mx:', actions: ['read'] }] },
  { route: 'GET /api/v1/cache/invalidations/stream', need: CACHE_R, path: '/api/v1/cache/invalidations/stream?prefix=mx:', kind: 'sse' },
  // The upgrade needs a credential; subscribing needs cache read (checked per message: see below).
  { route: 'GET /ws', need: 'authenticated', path: '/ws', kind: 'ws' },

  // --- key-value ---
  { route: 'GET /api/v1/kv/:key', need: KV_R, path: `/api/v1/kv/${KEY}` },
  { route: 'HEAD /api/v1/kv/:key', need: KV_R, path: `/api/v1/kv/${KEY}` },
  { route: 'PUT /api/v1/kv/:key', need: KV_W, path: `/api/v1/kv/${KEY}`, body: 'value', contentType: 'text/plain' },
  { route: 'DELETE /api/v1/kv/:key', need: perm('kv:mx:gone', 'write'), path: '/api/v1/kv/mx:gone' },
  // Any other method on a key is a write (405 past the gate).
  { route: 'PATCH /api/v1/kv/:key', need: KV_W, path: `/api/v1/kv/${KEY}`, body: 'value', contentType: 'text/plain' },
  { route: 'GET /api/v1/kv', need: perm('kv:mx:', 'read'), path: '/api/v1/kv?prefix=mx:' },
  { route: 'POST /api/v1/kv/batch', need: 'authenticated', path: '/api/v1/kv/batch', body: { ops: [{ op: 'put', key: `${UNRELATED_PREFIX}1`, value: 'v' }, { op: 'get', key: `${UNRELATED_PREFIX}1` }] } },

  // --- transactions ---
  { route: 'POST /api/v1/txn', need: 'authenticated', path: '/api/v1/txn', body: { timeout_ms: 1000 } },
  { route: 'POST /api/v1/txn/execute', need: 'authenticated', path: '/api/v1/txn/execute', body: { conditions: [{ key: `${UNRELATED_PREFIX}2`, exists: false }], operations: [{ op: 'get', key: `${UNRELATED_PREFIX}1` }] } },
  { route: 'POST /api/v1/txn/:id/commit', need: 'authenticated', path: '/api/v1/txn/no-such-txn/commit' },
  { route: 'POST /api/v1/txn/:id/rollback', need: 'authenticated', path: '/api/v1/txn/no-such-txn/rollback' },

  // --- documents ---
  { route: 'GET /api/v1/docs', need: 'authenticated', path: '/api/v1/docs' },
  { route: 'PUT /api/v1/docs/:c', need: DOC_W, path: '/api/v1/docs/mx_c', body: {} },
  { route: 'GET /api/v1/docs/:c', need: DOC_R, path: '/api/v1/docs/mx_c' },
  { route: 'DELETE /api/v1/docs/:c', need: perm('docs:mx_gone', 'write'), path: '/api/v1/docs/mx_gone' },
  { route: 'POST /api/v1/docs/:c/insert', need: DOC_W, path: '/api/v1/docs/mx_c/insert', body: { documents: [{ n: 1 }] } },
  { route: 'POST /api/v1/docs/:c/find', need: DOC_R, path: '/api/v1/docs/mx_c/find', body: { filter: {} } },
  { route: 'POST /api/v1/docs/:c/update', need: DOC_W, path: '/api/v1/docs/mx_c/update', body: { filter: { n: 1 }, update: { $set: { m: 2 } } } },
  { route: 'POST /api/v1/docs/:c/find_and_modify', need: DOC_W, path: '/api/v1/docs/mx_c/find_and_modify', body: { filter: { n: 1 }, update: { $set: { m: 3 } } } },
  { route: 'POST /api/v1/docs/:c/delete', need: DOC_W, path: '/api/v1/docs/mx_c/delete', body: { filter: { n: -1 } } },
  { route: 'POST /api/v1/docs/:c/aggregate', need: DOC_R, path: '/api/v1/docs/mx_c/aggregate', body: { pipeline: [{ $match: {} }] } },
  { route: 'POST /api/v1/docs/:c/explain', need: DOC_R, path: '/api/v1/docs/mx_c/explain', body: { filter: {} } },
  { route: 'POST /api/v1/docs/:c/indexes', need: DOC_W, path: '/api/v1/docs/mx_c/indexes', body: { name: 'by_n', keys: { n: 1 } } },
  { route: 'DELETE /api/v1/docs/:c/indexes/:name', need: DOC_W, path: '/api/v1/docs/mx_c/indexes/no_such_index' },
  { route: 'GET /api/v1/docs/:c/:id', need: DOC_R, path: '/api/v1/docs/mx_c/doc-1' },
  { route: 'PUT /api/v1/docs/:c/:id', need: DOC_W, path: '/api/v1/docs/mx_c/doc-2?upsert=true', body: { n: 2 } },
  { route: 'PATCH /api/v1/docs/:c/:id', need: DOC_W, path: '/api/v1/docs/mx_c/doc-2', body: { $set: { n: 3 } } },
  { route: 'DELETE /api/v1/docs/:c/:id', need: DOC_W, path: '/api/v1/docs/mx_c/doc-3' },
  { route: 'GET /api/v1/docs/:c/changes', need: DOC_R, path: '/api/v1/docs/mx_c/changes', kind: 'sse' },

  // --- tables ---
  { route: 'GET /api/v1/tables', need: 'authenticated', path: '/api/v1/tables' },
  { route: 'POST /api/v1/tables', need: perm('tables:*', 'write'), path: '/api/v1/tables', body: { name: 'mx_new', columns: [{ name: 'id', type: 'int64' }], primary_key: ['id'], if_not_exists: true } },
  { route: 'GET /api/v1/tables/:t', need: TAB_R, path: '/api/v1/tables/mx_t' },
  { route: 'DELETE /api/v1/tables/:t', need: perm('tables:mx_gone', 'write'), path: '/api/v1/tables/mx_gone' },
  { route: 'POST /api/v1/tables/:t/columns', need: TAB_W, path: '/api/v1/tables/mx_t/columns', body: { name: 'extra', type: 'string', nullable: true } },
  { route: 'POST /api/v1/tables/:t/rows', need: TAB_W, path: '/api/v1/tables/mx_t/rows', body: { rows: [{ id: 7, v: 'x' }], on_conflict: 'replace' } },
  { route: 'GET /api/v1/tables/:t/rows/:pk', need: TAB_R, path: '/api/v1/tables/mx_t/rows/7' },
  { route: 'POST /api/v1/tables/:t/update', need: TAB_W, path: '/api/v1/tables/mx_t/update', body: { where: { col: 'id', op: '=', value: 7 }, set: { v: 'y' } } },
  { route: 'POST /api/v1/tables/:t/delete', need: TAB_W, path: '/api/v1/tables/mx_t/delete', body: { where: { col: 'id', op: '=', value: -1 } } },
  { route: 'POST /api/v1/tables/:t/query', need: TAB_R, path: '/api/v1/tables/mx_t/query', body: { columns: ['id'] } },
  { route: 'POST /api/v1/tables/:t/indexes', need: TAB_W, path: '/api/v1/tables/mx_t/indexes', body: { name: 'by_v', columns: ['v'], type: 'hash' } },
  { route: 'DELETE /api/v1/tables/:t/indexes/:name', need: TAB_W, path: '/api/v1/tables/mx_t/indexes/no_such_index' },
  { route: 'GET /api/v1/tables/:t/stats', need: TAB_R, path: '/api/v1/tables/mx_t/stats' },
  { route: 'POST /api/v1/tables/:t/move', need: TAB_W, path: '/api/v1/tables/mx_t/move' },

  // --- query languages (statements also need the tables' permissions, checked past the gate) ---
  { route: 'POST /api/v1/sql', need: SQL, path: '/api/v1/sql', body: { query: 'SELECT 1 AS one' } },
  { route: 'POST /api/v1/cql', need: SQL, path: '/api/v1/cql', body: { query: 'SELECT id FROM mx_t' }, grant: [{ resource: 'tables:mx_t', actions: ['read'] }] },

  // --- the dashboard's files and the OpenAPI description (issue 16): public ---
  { route: 'GET /', need: 'public', path: '/' },
  { route: 'GET /admin', need: 'public', path: '/admin' },
  { route: 'GET /admin/:path', need: 'public', path: '/admin/' },
  { route: 'GET /api/docs/openapi.json', need: 'public', path: '/api/docs/openapi.json' },
  { route: 'GET /api/docs/openapi.yaml', need: 'public', path: '/api/docs/openapi.yaml' },

  // --- not routes: an unknown path still needs a credential (probing tells an anonymous caller nothing) ---
  { route: 'GET /api/v1/no-such-route', need: 'authenticated', path: '/api/v1/no-such-route', unregistered: true },
  { route: 'POST /api/v1/kv', need: perm('kv:', 'read'), path: '/api/v1/kv', body: {}, unregistered: true },
];

// --- the routes listing against the table ----------------------------------

const SEGMENT_PARAM = /^:[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Does a registered "METHOD /pattern" (Hono's: ":name" parameters, "*" for the rest of the path,
 * ALL for any method; GET also answers HEAD) cover a row's "METHOD /template"?
 */
function covers(entry: string, row: string): boolean {
  const [entryMethod, entryPath] = entry.split(' ');
  const [rowMethod, rowPath] = row.split(' ');
  const methodOk = entryMethod === 'ALL' || entryMethod === rowMethod || (entryMethod === 'GET' && rowMethod === 'HEAD');
  if (!methodOk) return false;
  const e = entryPath.split('/');
  const r = rowPath.split('/');
  for (let i = 0; i < e.length; i++) {
    if (e[i] === '*') return r.length > i; // the rest of the path, at least one segment
    if (i >= r.length) return false;
    if (SEGMENT_PARAM.test(e[i])) {
      if (!SEGMENT_PARAM.test(r[i])) return false;
      continue;
    }
    if (e[i] !== r[i]) return false;
  }
  return e.length === r.length;
}

// --- credentials -------------------------------------------------------------

type Variant = 'none' | 'malformed' | 'bad signature' | 'expired' | 'wrong audience' | 'revoked key' | 'insufficient' | 'allowed';
const REFUSED: readonly Variant[] = ['none', 'malformed', 'bad signature', 'expired', 'wrong audience', 'revoked key'];
const VARIANTS: readonly Variant[] = [...REFUSED, 'insufficient', 'allowed'];

type Fixture = {
  readonly server: ServerProcess;
  readonly admin: string;
  /** Authorization header values by variant (allowed is per row). */
  readonly headers: Map<Variant, string | undefined>;
  /** A JWT made like the refused ones (roles ["admin"], signed here) but valid: the control. */
  readonly validJwt: string;
  /** Keys of roles granting exactly a set of permissions, by that set's description. */
  readonly allowedKeys: Map<string, string>;
};

function grantOf(row: Row): PermissionSpec[] {
  const extra = row.grant ?? [];
  if (row.need === 'public') return [];
  if (row.need === 'authenticated') return [{ resource: `kv:${UNRELATED_PREFIX}`, actions: ['read', 'write'] }, ...extra];
  return [{ resource: row.need.resource, actions: [row.need.action] }, ...extra];
}

const grantName = (grant: readonly PermissionSpec[]): string => grant.map((g) => `${g.resource}=${g.actions.join('+')}`).join(',');

async function prepare(fastPath: boolean): Promise<Fixture> {
  const server = await startAuthServer({ fastPath, shards: 2 });
  const base = server.url;
  const admin = await loginAdmin(base);
  // The unrelated role: a permission no row needs.
  await createRole(base, admin, 'unrelated', [{ resource: `kv:${UNRELATED_PREFIX}`, actions: ['read', 'write'] }]);
  const insufficient = await createKey(base, admin, 'unrelated', ['unrelated']);
  const revoked = await createKey(base, admin, 'revoked', ['admin']);
  await revokeKey(base, admin, revoked.id);
  const headers = new Map<Variant, string | undefined>([
    ['none', undefined],
    ['malformed', 'Bearer not-a-jwt'],
    ['bad signature', `Bearer ${await signJwt({ secret: 'another-secret-another-secret-another', claims: { roles: ['admin'] } })}`],
    ['expired', `Bearer ${await signJwt({ expiresInS: -3600, claims: { roles: ['admin'] } })}`],
    ['wrong audience', `Bearer ${await signJwt({ audience: 'someone-else', claims: { roles: ['admin'] } })}`],
    ['revoked key', `Bearer ${revoked.key}`],
    ['insufficient', `Bearer ${insufficient.key}`],
  ]);
  // One role and key per distinct grant.
  const allowedKeys = new Map<string, string>();
  let n = 0;
  for (const row of ROUTES) {
    const grant = grantOf(row);
    const name = grantName(grant);
    if (grant.length === 0 || allowedKeys.has(name)) continue;
    const role = `mx-need-${n++}`;
    await createRole(base, admin, role, grant);
    allowedKeys.set(name, (await createKey(base, admin, role, [role])).key);
  }
  // What the examples read.
  await ok(call(base, 'PUT', `/api/v1/kv/${KEY}`, { token: admin, body: 'v', contentType: 'text/plain' }));
  await ok(call(base, 'PUT', '/api/v1/docs/mx_c', { token: admin, body: {} }));
  await ok(call(base, 'POST', '/api/v1/docs/mx_c/insert', { token: admin, body: { documents: [{ _id: 'doc-1', n: 1 }] } }));
  await ok(call(base, 'POST', '/api/v1/tables', { token: admin, body: { name: 'mx_t', columns: [{ name: 'id', type: 'int64' }, { name: 'v', type: 'string', nullable: true }], primary_key: ['id'] } }));
  return { server, admin, headers, allowedKeys, validJwt: await signJwt({ claims: { roles: ['admin'] } }) };
}

type Observed = { readonly status: number; readonly challenge: string | null; readonly code: string | undefined; readonly error: Record<string, unknown> | undefined; readonly text: string };

async function send(f: Fixture, row: Row, authorization: string | undefined): Promise<Observed> {
  const base = f.server.url;
  const method = row.route.split(' ')[0];
  const headers: Record<string, string> = authorization === undefined ? {} : { authorization };
  if (row.kind === 'ws') {
    const h = await wsHandshake(base, row.path, headers);
    const challenge = h.headers['www-authenticate'];
    const parsed = safeJson(h.body);
    return { status: h.status, challenge: typeof challenge === 'string' ? challenge : null, code: parsed?.error?.code as string | undefined, error: parsed?.error, text: h.body };
  }
  if (row.kind === 'sse') {
    const s = await openSseStream(base, row.path, headers);
    s.close();
    const parsed = safeJson(s.text);
    return { status: s.status, challenge: s.headers.get('www-authenticate'), code: parsed?.error?.code as string | undefined, error: parsed?.error, text: s.text };
  }
  const a = await call(base, method, row.path, { ...(authorization === undefined ? {} : { authorization }), body: row.body, ...(row.contentType === undefined ? {} : { contentType: row.contentType }) });
  return { status: a.status, challenge: a.headers.get('www-authenticate'), code: a.json?.error?.code, error: a.json?.error, text: a.text };
}

function safeJson(text: string): { error?: Record<string, unknown> } | undefined {
  try {
    return JSON.parse(text) as { error?: Record<string, unknown> };
  } catch {
    return undefined;
  }
}

/** What is wrong with an answer, or null. */
function problemWith(row: Row, variant: Variant, o: Observed): string | null {
  const head = row.route.startsWith('HEAD ');
  const admitted = o.status !== 401 && o.status !== 403;
  if (row.need === 'public') return admitted ? null : `public route answered ${o.status}: ${o.text.slice(0, 200)}`;
  if (REFUSED.includes(variant)) {
    if (o.status !== 401) return `expected 401, got ${o.status}: ${o.text.slice(0, 200)}`;
    if (o.challenge === null || !/^Bearer\b/.test(o.challenge)) return `401 without a Bearer WWW-Authenticate challenge (${String(o.challenge)})`;
    // RFC 6750: a credential that was sent and refused is an invalid_token (a missing one names no error).
    if (variant !== 'none' && !o.challenge.includes('error="invalid_token"')) return `401 challenge without error="invalid_token": ${o.challenge}`;
    if (!head && o.code !== 'UNAUTHORIZED') return `401 with code ${String(o.code)}`;
    return null;
  }
  if (variant === 'insufficient' && row.need !== 'authenticated') {
    const { resource, action } = row.need;
    if (o.status !== 403) return `expected 403, got ${o.status}: ${o.text.slice(0, 200)}`;
    if (head) return null;
    if (o.code !== 'FORBIDDEN') return `403 with code ${String(o.code)}`;
    const message = String(o.error?.message ?? '');
    if (!message.includes(`${action} on ${resource}`)) return `403 does not name "${action} on ${resource}": ${message}`;
    if (o.error?.permission !== `${resource}:${action}`) return `403 names permission ${String(o.error?.permission)}, not ${resource}:${action}`;
    return null;
  }
  // allowed (and any credential on routes that need only one)
  return admitted ? null : `allowed caller refused with ${o.status}: ${o.text.slice(0, 200)}`;
}

async function runMatrix(f: Fixture, rows: readonly Row[]): Promise<string[]> {
  const problems: string[] = [];
  for (const row of rows) {
    for (const variant of VARIANTS) {
      let authorization: string | undefined;
      if (row.need === 'public' && variant === 'allowed') authorization = undefined;
      else if (row.sessionOnly === true && (variant === 'allowed' || variant === 'insufficient')) authorization = `Bearer ${f.admin}`;
      else if (variant === 'allowed') authorization = `Bearer ${f.allowedKeys.get(grantName(grantOf(row))) as string}`;
      else authorization = f.headers.get(variant);
      let observed: Observed;
      try {
        observed = await send(f, row, authorization);
      } catch (error) {
        const { stderr } = f.server.output();
        throw new Error(`${row.route} [${variant}]: ${(error as Error).message}\nserver stderr:\n${stderr.slice(-3000)}`, { cause: error });
      }
      const problem = problemWith(row, variant, observed);
      if (problem !== null) problems.push(`${row.route} [${variant}]: ${problem}`);
    }
  }
  return problems;
}

const isHead = (row: Row): boolean => row.route.startsWith('HEAD ');

describe('the routes listing is matched against the table', () => {
  it('normalizes Hono patterns: parameters, wildcards, ALL, HEAD under GET', () => {
    expect(covers('GET /api/v1/kv/*', 'GET /api/v1/kv/:key')).toBe(true);
    expect(covers('GET /api/v1/kv/*', 'HEAD /api/v1/kv/:key')).toBe(true);
    expect(covers('GET /api/v1/kv/*', 'GET /api/v1/kv')).toBe(false);
    expect(covers('ALL /api/v1/kv/*', 'PATCH /api/v1/kv/:key')).toBe(true);
    expect(covers('ALL /api/v1/docs/*', 'POST /api/v1/docs/:c/find')).toBe(true);
    expect(covers('ALL /api/v1/docs', 'GET /api/v1/docs')).toBe(true);
    expect(covers('ALL /api/v1/docs', 'GET /api/v1/docs/:c')).toBe(false);
    expect(covers('POST /api/v1/txn/:id/commit', 'POST /api/v1/txn/:id/commit')).toBe(true);
    expect(covers('POST /api/v1/txn/:id/commit', 'POST /api/v1/txn/:id/rollback')).toBe(false);
    expect(covers('POST /api/v1/txn/:id/commit', 'GET /api/v1/txn/:id/commit')).toBe(false);
    expect(covers('POST /api/v1/txn/:id/commit', 'POST /api/v1/txn/execute/commit')).toBe(false);
    expect(covers('DELETE /api/v1/auth/policies/:kind/:object/:name', 'DELETE /api/v1/auth/policies/:kind/:object/:name')).toBe(true);
    // A route the table lacks is found missing.
    const rows = ROUTES.map((r) => r.route);
    for (const added of ['GET /api/v1/admin/backup', 'POST /api/v1/kv/:key/touch', 'DELETE /api/v1/txn/:id', 'ALL /api/v1/graph/*']) {
      expect(rows.some((row) => covers(added, row)), added).toBe(false);
    }
  });
});

afterAll(cleanup);

describe.each([
  { fastPath: true, label: 'fast path on' },
  { fastPath: false, label: 'fast path off (Hono)' },
])('route matrix, $label', ({ fastPath }) => {
  let f: Fixture;

  beforeAll(async () => {
    f = await prepare(fastPath);
  });

  afterAll(async () => {
    await f?.server.stop();
  });

  it('every registered route has a row in the table, and every row a registered route', async () => {
    const listed = await ok<string[]>(call(f.server.url, 'GET', '/api/v1/admin/routes', { token: f.admin }), 200);
    expect(listed.length).toBeGreaterThan(10);
    const rows = ROUTES.map((r) => r.route);
    const missing = listed.filter((entry) => !rows.some((row) => covers(entry, row)));
    expect(missing, 'routes the server registers but the table lacks').toEqual([]);
    const stale = ROUTES.filter((r) => r.unregistered !== true && !listed.some((entry) => covers(entry, r.route))).map((r) => r.route);
    expect(stale, 'rows naming routes the server does not register').toEqual([]);
  });

  it('each route × credential answers as the table says', async () => {
    const problems = await runMatrix(f, ROUTES.filter((r) => !isHead(r)));
    expect(problems).toEqual([]);
  });

  it('the refused JWTs differ from an accepted one only in what is wrong with them', async () => {
    const me = await call(f.server.url, 'GET', '/api/v1/auth/me', { token: f.validJwt });
    expect(me.status, me.text).toBe(200);
    expect(me.json?.data).toMatchObject({ kind: 'token', sub: 'jwt-user', roles: ['admin'], admin: true });
    expect((await call(f.server.url, 'GET', '/api/v1/admin/routes', { token: f.validJwt })).status).toBe(200);
  });

  it('public routes answer without any credential', async () => {
    for (const path of ['/health/live', '/health/ready']) {
      const a = await call(f.server.url, 'GET', path);
      expect(a.status, `${path}: ${a.text}`).toBe(200);
    }
    const login = await call(f.server.url, 'POST', '/api/v1/auth/login', { body: { username: 'admin', password: ADMIN_PASSWORD } });
    expect(login.status).toBe(200);
    expect(typeof (login.json?.data as { token?: unknown }).token).toBe('string');
  });

  it('the WebSocket /ws: 401 without a credential, open with ?access_token=; subscribing needs cache read', async () => {
    const base = f.server.url;
    const refused = await wsHandshake(base, '/ws');
    expect(refused.status).toBe(401);
    expect(refused.headers['www-authenticate']).toMatch(/^Bearer\b/);
    expect(safeJson(refused.body)?.error?.code).toBe('UNAUTHORIZED');
    const badToken = await wsHandshake(base, `/ws?access_token=${encodeURIComponent(f.headers.get('expired')?.slice('Bearer '.length) ?? '')}`);
    expect(badToken.status).toBe(401);
    expect(badToken.headers['www-authenticate']).toMatch(/^Bearer\b.*invalid_token/);

    const ws = await openWsStream(base, f.admin);
    try {
      expect(await ws.request({ subscribe: 'invalidations', prefix: 'mx:' })).toEqual({ type: 'subscribed', stream: 'invalidations', prefix: 'mx:' });
    } finally {
      ws.close();
    }
    // A credential without cache read opens the socket but may not subscribe.
    const narrow = await openWsStream(base, f.headers.get('insufficient')?.slice('Bearer '.length));
    try {
      expect(await narrow.request({ subscribe: 'invalidations', prefix: 'zz:' })).toMatchObject({ type: 'error', code: 'FORBIDDEN', message: expect.stringContaining('read on cache') });
    } finally {
      narrow.close();
    }
  });

  it('the SSE stream: 401 without a credential, 200 with ?access_token=, 403 without cache read', async () => {
    const base = f.server.url;
    const path = '/api/v1/cache/invalidations/stream?prefix=mx:';
    const refused = await openSseStream(base, path);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
    expect(safeJson(refused.text)?.error?.code).toBe('UNAUTHORIZED');
    const stream = await openSseStream(base, `${path}&access_token=${encodeURIComponent(f.admin)}`);
    try {
      expect(stream.status).toBe(200);
      expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
      expect((await stream.inbox.next()).event).toBe('subscribed');
    } finally {
      stream.close();
    }
    const narrow = await openSseStream(base, `${path}&access_token=${encodeURIComponent(f.headers.get('insufficient')?.slice('Bearer '.length) ?? '')}`);
    narrow.close();
    expect(narrow.status).toBe(403);
    expect(safeJson(narrow.text)?.error).toMatchObject({ code: 'FORBIDDEN', permission: 'cache:read' });
  });

  it('routes that take a credential check what their body names', async () => {
    const base = f.server.url;
    const authorization = f.headers.get('insufficient') as string;
    const batch = await call(base, 'POST', '/api/v1/kv/batch', { authorization, body: { ops: [{ op: 'get', key: `${UNRELATED_PREFIX}1` }, { op: 'put', key: KEY, value: 'x' }] } });
    expect(batch.status, batch.text).toBe(403);
    expect(batch.json?.error).toMatchObject({ code: 'FORBIDDEN', permission: `kv:${KEY}:write` });
    const execute = await call(base, 'POST', '/api/v1/txn/execute', { authorization, body: { conditions: [{ key: KEY, exists: true }], operations: [{ op: 'get', key: `${UNRELATED_PREFIX}1` }] } });
    expect(execute.status, execute.text).toBe(403);
    expect(execute.json?.error).toMatchObject({ code: 'FORBIDDEN', permission: `kv:${KEY}:read` });
    // The query endpoints need sql at the gate, and each statement the permissions of its tables.
    const sqlOnly = `Bearer ${f.allowedKeys.get(grantName([{ resource: 'sql', actions: ['read'] }])) as string}`;
    const sql = await call(base, 'POST', '/api/v1/sql', { authorization: sqlOnly, body: { query: 'SELECT id FROM mx_t' } });
    const cql = await call(base, 'POST', '/api/v1/cql', { authorization: sqlOnly, body: { query: 'SELECT id FROM mx_t' } });
    expect({ sql: sql.status, cql: cql.status }, `SQL: ${sql.text}\nCQL: ${cql.text}`).toEqual({ sql: 403, cql: 403 });
  });

  // Last: HEAD refusals have no body, and uWS aborts the whole process when a handler answers a HEAD
  // (endWithoutBody) before attaching an abort handler; should that happen, the rest has run.
  it('HEAD requests are refused like GET (no body), and the server stays up', async () => {
    const problems = await runMatrix(f, ROUTES.filter(isHead));
    // Every GET route answers HEAD: without a credential each is a 401 with its challenge.
    for (const row of ROUTES) {
      if (!row.route.startsWith('GET ') || row.kind !== undefined || row.need === 'public') continue;
      const observed = await send(f, { ...row, route: row.route.replace(/^GET /, 'HEAD ') }, undefined).catch((error: unknown) => {
        throw new Error(`HEAD ${row.path}: ${(error as Error).message}\nserver stderr:\n${f.server.output().stderr.slice(-2000)}`);
      });
      const problem = problemWith({ ...row, route: `HEAD ${row.path}` }, 'none', observed);
      if (problem !== null) problems.push(`HEAD ${row.path} [none]: ${problem}`);
    }
    expect(problems).toEqual([]);
    expect((await call(f.server.url, 'GET', '/health/live')).status).toBe(200);
  });
});
