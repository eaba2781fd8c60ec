// Identity and administration routes (issue 14). Bodies are JSON with only the
// fields named; answers are the usual envelope.
//
//   POST   /api/v1/auth/login        {"username","password"} → {token, expires_at, user} + session and CSRF cookies
//   POST   /api/v1/auth/logout       ends the session (its token stops working) and clears the cookies
//   GET    /api/v1/auth/me           who the credential is: kind, id, sub, roles, claims
//   GET    /api/v1/auth/users        (admin) every user, without hashes
//   POST   /api/v1/auth/users        (admin) {"username","password","roles":[…],"claims":{…}} → 201
//   PATCH  /api/v1/auth/users/:name  (admin) {"password"?, "roles"?, "claims"?}
//   DELETE /api/v1/auth/users/:name  (admin) its tokens stop working at once
//   GET    /api/v1/auth/keys         the caller's API keys (admins: everyone's), never the secret
//   POST   /api/v1/auth/keys         {"name","roles":[…],"expires_in_s":3600,"claims"?} → 201 {key: "mk_…" (shown once), id, …}
//   DELETE /api/v1/auth/keys/:id     revokes it at once
//   GET    /api/v1/auth/roles        built-in and custom roles with their permissions
//   POST   /api/v1/auth/roles        (admin) {"name","permissions":[{"resource","actions":["read","write"]}]} → 201 (replaces a custom role)
//   DELETE /api/v1/auth/roles/:name  (admin)
//   GET    /api/v1/auth/policies     (admin) every row-level security policy (tables, collections, KV)
//   POST   /api/v1/auth/policies     (admin) {"kind":"docs","name","collection","command","roles","using","check"}
//                                    or {"kind":"kv","name","prefix":"user:{sub}:","command","roles"} → 201
//                                    (table policies are made with CREATE POLICY in SQL)
//   DELETE /api/v1/auth/policies/:kind/:object/:name   (admin; :object is the collection, the KV prefix template or the table)
//   GET    /api/v1/admin/audit       (admin) ?limit=100&action=auth.&actor=… newest first
//   GET    /api/v1/admin/config      (admin) the configuration in force, secrets as "***"
//   GET|PUT /api/v1/admin/rate-limits (admin) {rps, burst, classes:{read|write|query|auth|admin:{rps,burst}}, connections_per_ip}
//   GET    /api/v1/admin/routes      (admin) every route the server registers

import { hash } from '@node-rs/argon2';
import type { Context, Hono } from 'hono';
import { MantisError } from '../../shared/errors.js';
import type { Security } from '../security/security.js';
import { ARGON2 } from '../security/security.js';
import { AuthFailure, CSRF_COOKIE, SESSION_COOKIE } from '../security/authenticator.js';
import { ACTIONS, resourceProblem, SYSTEM, type Action, type Permission, type Principal } from '../security/principal.js';
import { POLICY_COMMANDS, templateProblem, type Policy, type PolicyCommand } from '../security/policy-types.js';
import type { UserRecord } from '../security/auth-store.js';
import { parseLimitSettings } from '../security/rate-limit.js';
import { clearedStateCookieHeader, OAuthError, OAUTH_STATE_COOKIE, readCookie, stateCookieHeader, type OAuthLogin } from '../security/oidc.js';
import { toResponse, type Bindings } from './hono-app.js';
import { jsonBody, onlyFields } from './json-body.js';
import { errorReply, okReply, type HttpReply } from './reply.js';
import {
  arr,
  bool,
  closed,
  dateTime,
  empty,
  enumOf,
  freeObject,
  headerParam,
  int,
  JSON_ERRORS,
  jsonBody as jsonBodySpec,
  nullable,
  obj,
  ok,
  oneOf,
  pathParam,
  queryParam,
  ref,
  pathParamOf,
  route,
  str as text,
  type RouteSpec,
} from './api-spec.js';

type Ctx = Context<{ Bindings: Bindings }>;

export type AuthRouteDeps = {
  readonly security: Security;
  /** The configuration in force with secrets masked, for GET /api/v1/admin/config. */
  readonly configDump: () => Record<string, unknown>;
  /** Every route the server answers ("GET /api/v1/kv/:key"), for GET /api/v1/admin/routes. */
  readonly routes: () => string[];
  /** OAuth2/OIDC login providers (--oauth-providers), when configured. */
  readonly oauth?: OAuthLogin;
  /** Cookies carry Secure beyond the session cookie (the OAuth state cookie) when served over https. */
  readonly secureCookies: boolean;
};

// ---- route specs (the OpenAPI description is built from these; see api-spec.ts) --------------

const SET_COOKIE = { 'Set-Cookie': { description: 'mantis_session (HttpOnly) and mantis_csrf, Secure; SameSite=Strict.', schema: text() } };
const ADMIN_USER = { username: 'admin', roles: ['admin'], claims: {}, created_at: '2026-12-07T10:00:00.000Z', source: 'local' };
const SESSION_EXAMPLE = {
  token: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJl',
  token_type: 'Bearer',
  expires_at: '2026-12-07T11:00:00.000Z',
  expires_in: 3600,
  csrf_token: 'm7Yc0d1o1QnJb2xv',
  user: ADMIN_USER,
};
const ALICE = { username: 'alice', roles: ['readwrite'], claims: { tenant: 'a' }, created_at: '2026-12-07T10:05:00.000Z', source: 'local' };
const KEY_EXAMPLE = {
  id: 'Q3xkT2Vn',
  name: 'ci',
  roles: ['readonly'],
  claims: {},
  created_at: '2026-12-07T10:10:00.000Z',
  created_by: 'user:admin',
  expires_at: '2026-12-07T11:10:00.000Z',
  revoked_at: null,
};
const ROLE_EXAMPLE = { name: 'user-reader', permissions: [{ resource: 'kv:user:', actions: ['read'] }], builtin: false };
const KV_POLICY = { kind: 'kv', name: 'own', template: 'tenant:{tenant}:', command: 'all', roles: ['readwrite'] };
const ROLES_FIELD = arr(text(), 'role names (GET /api/v1/auth/roles)');
const CLAIMS_FIELD = freeObject('extra JWT claims (at most 4096 bytes of JSON; not iss, aud, sub, exp, nbf, iat, jti, roles, csrf or usr)');
const PASSWORD_FIELD = text('8 to 1024 characters', { minLength: 8, maxLength: 1024 });
const NAME_PATTERN = '^[A-Za-z0-9_.-]{1,64}$';
const NAME_FIELD = text('1-64 letters, digits or _ . -', { pattern: NAME_PATTERN });

const LOGIN: RouteSpec = {
  method: 'POST',
  path: '/api/v1/auth/login',
  tag: 'Auth',
  summary: 'Log in',
  description:
    'A session JWT, its expiry and the session and CSRF cookies. With auth off: 400 INVALID_PARAMETER. A wrong password is 401; after 10 failures for a user or an IP within 15 minutes, 429 ACCOUNT_LOCKED with Retry-After.',
  body: jsonBodySpec(closed({ username: text(undefined, { minLength: 1 }), password: text(undefined, { minLength: 1 }) }, ['username', 'password']), { username: 'admin', password: 'a-long-admin-passphrase' }),
  responses: [ok('Logged in.', ref('Session'), SESSION_EXAMPLE, { headers: SET_COOKIE })],
  errors: [...JSON_ERRORS, 'UNAUTHORIZED', 'ACCOUNT_LOCKED'],
  permission: 'public',
};

const LOGOUT: RouteSpec = {
  method: 'POST',
  path: '/api/v1/auth/logout',
  tag: 'Auth',
  summary: 'Log out',
  description: 'Ends the session\'s token (it stops working at once) and clears the cookies.',
  responses: [ok('Logged out.', closed({ logged_out: { const: true } }, ['logged_out']), { logged_out: true }, { headers: SET_COOKIE })],
  errors: [],
  permission: 'authenticated',
};

const ME: RouteSpec = {
  method: 'GET',
  path: '/api/v1/auth/me',
  tag: 'Auth',
  summary: 'Who the credential is',
  description: 'kind is user (a session), key (an API key), token (an outside JWT), or system (auth off); auth says whether authentication is on.',
  responses: [
    ok(
      'The caller.',
      closed(
        {
          kind: enumOf(['user', 'key', 'token', 'system', 'anonymous']),
          id: text(),
          sub: text(),
          roles: arr(text()),
          claims: freeObject(),
          admin: bool('holds admin write'),
          expires_at: nullable(dateTime()),
          auth: bool('authentication is on'),
        },
        ['kind', 'id', 'sub', 'roles', 'claims', 'admin', 'expires_at', 'auth'],
      ),
      { kind: 'user', id: 'admin', sub: 'admin', roles: ['admin'], claims: { usr: 'admin' }, admin: true, expires_at: '2026-12-07T11:00:00.000Z', auth: true },
    ),
  ],
  errors: [],
  permission: 'authenticated',
};

const PROVIDER = pathParam('provider', 'An OAuth provider configured with --oauth-providers.', 'corp');
const REDIRECT = { Location: { description: 'Where to go next.', schema: text() }, 'Set-Cookie': { description: 'The OAuth state cookie (start) or the session cookies (callback).', schema: text() } };

const OAUTH_START: RouteSpec = {
  method: 'GET',
  path: '/api/v1/auth/oauth/{provider}/start',
  tag: 'Auth',
  summary: 'Start an OAuth2 / OIDC login',
  description: 'Redirects (302) to the provider (authorization code with PKCE). 404 NOT_FOUND for an unknown provider.',
  params: [PROVIDER, queryParam('return_to', 'A path on this server to come back to after the login (default /admin/).', text(), '/admin/')],
  responses: [empty(302, 'To the provider.', REDIRECT)],
  errors: ['NOT_FOUND', 'OAUTH_FAILED'],
  permission: 'public',
};

const OAUTH_CALLBACK: RouteSpec = {
  method: 'GET',
  path: '/api/v1/auth/oauth/{provider}/callback',
  tag: 'Auth',
  summary: 'Finish an OAuth2 / OIDC login',
  description:
    'Where the provider sends the browser back. Creates the user <provider>:<subject> on first login, sets the session cookies and redirects to return_to; with Accept: application/json it answers the session as login does. A failed exchange is 400 OAUTH_FAILED (error.reason).',
  params: [
    PROVIDER,
    queryParam('code', 'The authorization code.', text(), 'SplxlOBeZQQYbYS6WxSbIA'),
    queryParam('state', 'The state start sent.', text(), 'af0ifjsldkj'),
    headerParam('Cookie', 'The OAuth state cookie start set.', text()),
  ],
  responses: [
    empty(302, 'Logged in: to return_to.', REDIRECT),
    ok('Logged in (Accept: application/json).', { allOf: [ref('Session'), obj({ return_to: text() }, ['return_to'])] }, { ...SESSION_EXAMPLE, return_to: '/admin/' }, { headers: SET_COOKIE }),
  ],
  errors: ['NOT_FOUND', 'OAUTH_FAILED'],
  permission: 'public',
};

const LIST_USERS: RouteSpec = {
  method: 'GET',
  path: '/api/v1/auth/users',
  tag: 'Auth',
  summary: 'Every user',
  description: 'Without password hashes.',
  responses: [ok('The users.', arr(ref('User')), [ADMIN_USER], { meta: closed({ count: int() }, ['count']), metaExample: { count: 1 } })],
  errors: [],
  permission: 'admin:read',
};

const CREATE_USER: RouteSpec = {
  method: 'POST',
  path: '/api/v1/auth/users',
  tag: 'Auth',
  summary: 'Create a user',
  description: 'roles default to readonly.',
  body: jsonBodySpec(
    closed({ username: text('1-64 letters, digits or _ . @ : -', { pattern: '^[A-Za-z0-9_.@:-]{1,64}$' }), password: PASSWORD_FIELD, roles: ROLES_FIELD, claims: CLAIMS_FIELD }, ['username', 'password']),
    { username: 'alice', password: 'alice-passphrase', roles: ['readwrite'], claims: { tenant: 'a' } },
  ),
  responses: [ok('Created.', ref('User'), ALICE, { status: 201 })],
  errors: [...JSON_ERRORS, 'USER_EXISTS', 'STORAGE_IO'],
  permission: 'admin:write',
};

const USER_NAME = pathParam('name', 'A username.', 'alice');

const PATCH_USER: RouteSpec = {
  method: 'PATCH',
  path: '/api/v1/auth/users/{name}',
  tag: 'Auth',
  summary: 'Change a user\'s password, roles or claims',
  params: [USER_NAME],
  body: jsonBodySpec(closed({ password: PASSWORD_FIELD, roles: ROLES_FIELD, claims: CLAIMS_FIELD }), { roles: ['readonly'] }),
  responses: [ok('Changed.', ref('User'), { ...ALICE, roles: ['readonly'] })],
  errors: [...JSON_ERRORS, 'USER_NOT_FOUND', 'STORAGE_IO'],
  permission: 'admin:write',
};

const DELETE_USER: RouteSpec = {
  method: 'DELETE',
  path: '/api/v1/auth/users/{name}',
  tag: 'Auth',
  summary: 'Delete a user',
  description: 'Its tokens and keys stop working at once.',
  params: [USER_NAME],
  responses: [ok('Deleted.', closed({ username: text(), deleted: { const: true } }, ['username', 'deleted']), { username: 'alice', deleted: true })],
  errors: ['USER_NOT_FOUND', 'STORAGE_IO'],
  permission: 'admin:write',
};

const LIST_KEYS: RouteSpec = {
  method: 'GET',
  path: '/api/v1/auth/keys',
  tag: 'Auth',
  summary: 'API keys',
  description: 'The caller\'s own keys (a caller with admin read: everyone\'s), never the secret.',
  responses: [ok('The keys.', arr(ref('ApiKey')), [KEY_EXAMPLE], { meta: closed({ count: int() }, ['count']), metaExample: { count: 1 } })],
  errors: [],
  permission: 'authenticated',
};

const CREATE_KEY: RouteSpec = {
  method: 'POST',
  path: '/api/v1/auth/keys',
  tag: 'Auth',
  summary: 'Create an API key',
  description:
    'The secret (`key`, mk_…) is shown once. Made by a signed-in user (a session), never by a key or an outside token (403); a key acts for its creator and carries only roles the creator has (admins: any, and claims).',
  body: jsonBodySpec(
    closed(
      {
        name: text(undefined, { minLength: 1, maxLength: 128 }),
        roles: ROLES_FIELD,
        expires_in_s: nullable(int('lifetime in seconds; absent or null: no expiry', { minimum: 1, maximum: 315_360_000 })),
        claims: CLAIMS_FIELD,
      },
      ['name', 'roles'],
    ),
    { name: 'ci', roles: ['readonly'], expires_in_s: 3600 },
  ),
  responses: [ok('Created.', { allOf: [ref('ApiKey'), obj({ key: text('the secret, shown once') }, ['key'])] }, { ...KEY_EXAMPLE, key: 'mk_Q3xkT2Vn_9c1b7f0e4d2a6b8c' }, { status: 201 })],
  errors: [...JSON_ERRORS, 'FORBIDDEN', 'STORAGE_IO'],
  permission: 'authenticated',
};

const DELETE_KEY: RouteSpec = {
  method: 'DELETE',
  path: '/api/v1/auth/keys/{id}',
  tag: 'Auth',
  summary: 'Revoke an API key',
  description: 'It stops working at once. Another user\'s key is 404 NOT_FOUND unless the caller has admin write.',
  params: [pathParam('id', 'The key\'s id.', 'Q3xkT2Vn')],
  responses: [ok('Revoked.', ref('ApiKey'), { ...KEY_EXAMPLE, revoked_at: '2026-12-07T10:30:00.000Z' })],
  errors: ['NOT_FOUND', 'STORAGE_IO'],
  permission: 'authenticated',
};

const LIST_ROLES: RouteSpec = {
  method: 'GET',
  path: '/api/v1/auth/roles',
  tag: 'Auth',
  summary: 'Built-in and custom roles',
  responses: [ok('The roles.', arr(ref('Role')), [{ name: 'readonly', permissions: [{ resource: '*', actions: ['read'] }], builtin: true }, ROLE_EXAMPLE])],
  errors: [],
  permission: 'admin:read',
};

const PUT_ROLE: RouteSpec = {
  method: 'POST',
  path: '/api/v1/auth/roles',
  tag: 'Auth',
  summary: 'Create or replace a custom role',
  body: jsonBodySpec(closed({ name: NAME_FIELD, permissions: arr(ref('Permission'), undefined, { minItems: 1, maxItems: 256 }) }, ['name', 'permissions']), {
    name: 'user-reader',
    permissions: [{ resource: 'kv:user:', actions: ['read'] }],
  }),
  responses: [ok('Saved.', ref('Role'), ROLE_EXAMPLE, { status: 201 })],
  errors: [...JSON_ERRORS, 'STORAGE_IO'],
  permission: 'admin:write',
};

const DELETE_ROLE: RouteSpec = {
  method: 'DELETE',
  path: '/api/v1/auth/roles/{name}',
  tag: 'Auth',
  summary: 'Delete a custom role',
  params: [pathParam('name', 'A custom role.', 'user-reader')],
  responses: [ok('Deleted.', closed({ name: text(), deleted: { const: true } }, ['name', 'deleted']), { name: 'user-reader', deleted: true })],
  errors: ['ROLE_NOT_FOUND', 'STORAGE_IO'],
  permission: 'admin:write',
};

const LIST_POLICIES: RouteSpec = {
  method: 'GET',
  path: '/api/v1/auth/policies',
  tag: 'Auth',
  summary: 'Every row-level security policy',
  description: 'Collection, KV and table policies; meta.rls_tables names the tables with row-level security enabled.',
  responses: [
    ok('The policies.', arr(ref('Policy')), [KV_POLICY], {
      meta: closed({ count: int(), rls_tables: arr(text()) }, ['count', 'rls_tables']),
      metaExample: { count: 1, rls_tables: [] },
    }),
  ],
  errors: [],
  permission: 'admin:read',
};

const COMMAND_FIELD = enumOf(['all', 'select', 'insert', 'update', 'delete'], 'default all');
const POLICY_ROLES = arr(text(), 'default ["public"] (every role)', { minItems: 1 });

const CREATE_POLICY: RouteSpec = {
  method: 'POST',
  path: '/api/v1/auth/policies',
  tag: 'Auth',
  summary: 'Create a collection or KV policy',
  description:
    'A collection policy filters documents with `using` (which documents a command sees) and `check` (which documents a write may leave); a KV policy limits keys to a prefix template with {claim} placeholders. Table policies are made in SQL (CREATE POLICY).',
  body: jsonBodySpec(
    oneOf(
      closed(
        { kind: { const: 'docs' }, name: NAME_FIELD, collection: text(), command: COMMAND_FIELD, roles: POLICY_ROLES, using: nullable(freeObject()), check: nullable(freeObject()) },
        ['kind', 'name', 'collection'],
      ),
      closed({ kind: { const: 'kv' }, name: NAME_FIELD, prefix: text('a prefix template: "tenant:{tenant}:"'), command: COMMAND_FIELD, roles: POLICY_ROLES }, ['kind', 'name', 'prefix']),
    ),
    { kind: 'kv', name: 'own', prefix: 'tenant:{tenant}:', roles: ['readwrite'] },
  ),
  responses: [ok('Created.', ref('Policy'), KV_POLICY, { status: 201 })],
  errors: [...JSON_ERRORS, 'STORAGE_IO'],
  permission: 'admin:write',
};

const DROP_POLICY: RouteSpec = {
  method: 'DELETE',
  path: '/api/v1/auth/policies/{kind}/{object}/{name}',
  tag: 'Auth',
  summary: 'Drop a policy',
  params: [
    pathParam('kind', 'docs, kv or table.', 'kv', enumOf(['docs', 'kv', 'table'])),
    pathParam('object', 'The collection, the KV prefix template or the table (percent-encoded).', 'tenant:{tenant}:'),
    pathParam('name', 'The policy\'s name.', 'own'),
  ],
  responses: [
    ok('Dropped.', closed({ kind: enumOf(['docs', 'kv', 'table']), object: text(), name: text(), dropped: { const: true } }, ['kind', 'object', 'name', 'dropped']), {
      kind: 'kv',
      object: 'tenant:{tenant}:',
      name: 'own',
      dropped: true,
    }),
  ],
  errors: ['INVALID_PARAMETER', 'POLICY_NOT_FOUND', 'STORAGE_IO'],
  permission: 'admin:write',
};

const AUDIT: RouteSpec = {
  method: 'GET',
  path: '/api/v1/admin/audit',
  tag: 'Admin',
  summary: 'The audit log, newest first',
  params: [
    queryParam('limit', 'Entries, 1..10000 (default 100).', int(undefined, { minimum: 1, maximum: 10_000 }), 100),
    queryParam('action', 'Only actions starting with this ("auth." …).', text(), 'auth.login'),
    queryParam('actor', 'Only this actor ("user:alice", "key:…").', text()),
  ],
  responses: [
    ok('The entries.', arr(ref('AuditEntry')), [{ ts: '2026-12-07T10:00:01.000Z', action: 'auth.login', outcome: 'success', actor: 'user:admin', ip: '127.0.0.1' }], {
      meta: closed({ count: int() }, ['count']),
      metaExample: { count: 1 },
    }),
  ],
  errors: ['INVALID_PARAMETER'],
  permission: 'admin:read',
};

const CONFIG: RouteSpec = {
  method: 'GET',
  path: '/api/v1/admin/config',
  tag: 'Admin',
  summary: 'The configuration in force',
  description: 'Every setting with its value; secrets as "***" with their source.',
  responses: [ok('The configuration.', freeObject(), { port: 8080, shards: 2, fsync: 'batch', auth: 'on' })],
  errors: [],
  permission: 'admin:read',
};

const LIMITS_EXAMPLE = { rps: 2000, burst: 4000, classes: { write: { rps: 500, burst: 1000 } }, connections_per_ip: 1024 };

const GET_LIMITS: RouteSpec = {
  method: 'GET',
  path: '/api/v1/admin/rate-limits',
  tag: 'Admin',
  summary: 'The rate limits in force',
  responses: [ok('The limits.', ref('RateLimits'), LIMITS_EXAMPLE)],
  errors: [],
  permission: 'admin:read',
};

const LIMIT_VALUE = int(undefined, { minimum: 0, maximum: 10_000_000 });

const PUT_LIMITS: RouteSpec = {
  method: 'PUT',
  path: '/api/v1/admin/rate-limits',
  tag: 'Admin',
  summary: 'Change the rate limits at run time',
  description: 'The fields given replace theirs; each class given replaces that class (burst defaults to its rps), and a class set to null falls back to rps and burst.',
  body: jsonBodySpec(
    closed({
      rps: LIMIT_VALUE,
      burst: LIMIT_VALUE,
      classes: closed(Object.fromEntries(['read', 'write', 'query', 'auth', 'admin'].map((c) => [c, nullable(obj({ rps: LIMIT_VALUE, burst: LIMIT_VALUE }))]))),
      connections_per_ip: LIMIT_VALUE,
    }),
    { classes: { write: { rps: 500, burst: 1000 } } },
  ),
  responses: [ok('The limits now in force.', ref('RateLimits'), LIMITS_EXAMPLE)],
  errors: [...JSON_ERRORS],
  permission: 'admin:write',
};

const ROUTES: RouteSpec = {
  method: 'GET',
  path: '/api/v1/admin/routes',
  tag: 'Admin',
  summary: 'Every route the server registers',
  description: '"METHOD /pattern" as the route table has it (":name" parameters, "*" the rest of the path, ALL for a dispatcher), then the native stream routes. The OpenAPI description (/api/docs/openapi.json) documents each.',
  responses: [ok('The routes.', arr(text()), ['GET /health/live', 'GET /api/v1/kv/*', 'ALL /api/v1/docs/*', 'GET /ws'])],
  errors: [],
  permission: 'admin:read',
};

const USERNAME = /^[A-Za-z0-9_.@:-]{1,64}$/;
const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const CLAIMS_BYTES_MAX = 4096;
const KEY_TTL_MAX_S = 10 * 365 * 86_400;

const principalOf = (c: Ctx): Principal => c.env.principal ?? SYSTEM;
export const actorOf = (p: Principal): string => (p.kind === 'user' ? `user:${p.id}` : p.kind === 'key' ? `key:${p.id}` : p.kind === 'token' ? `sub:${p.sub}` : p.kind);

async function body(c: Ctx): Promise<Record<string, unknown>> {
  return jsonBody(c.req.header('content-type'), new Uint8Array(await c.req.arrayBuffer()));
}

function str(b: Record<string, unknown>, name: string, pattern?: RegExp, what?: string): string {
  const v = b[name];
  if (typeof v !== 'string' || v === '') throw new MantisError('INVALID_PARAMETER', `"${name}" must be a non-empty string`);
  if (pattern !== undefined && !pattern.test(v)) throw new MantisError('INVALID_PARAMETER', `"${name}" ${what ?? `must match ${pattern.source}`}`);
  return v;
}

function password(b: Record<string, unknown>, name = 'password'): string {
  const v = str(b, name);
  if (v.length < 8 || v.length > 1024) throw new MantisError('INVALID_PARAMETER', `"${name}" must be 8 to 1024 characters`);
  return v;
}

function claimsOf(b: Record<string, unknown>): Record<string, unknown> {
  const v = b.claims;
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new MantisError('INVALID_PARAMETER', '"claims" must be a JSON object');
  if (JSON.stringify(v).length > CLAIMS_BYTES_MAX) throw new MantisError('INVALID_PARAMETER', `"claims" must be at most ${CLAIMS_BYTES_MAX} bytes of JSON`);
  for (const reserved of ['iss', 'aud', 'sub', 'exp', 'nbf', 'iat', 'jti', 'roles', 'csrf', 'usr']) {
    if (Object.hasOwn(v, reserved)) throw new MantisError('INVALID_PARAMETER', `"claims" must not set the reserved claim "${reserved}"`);
  }
  return v as Record<string, unknown>;
}

function rolesOf(security: Security, b: Record<string, unknown>, name = 'roles'): string[] {
  const v = b[name];
  if (!Array.isArray(v) || v.some((r) => typeof r !== 'string')) throw new MantisError('INVALID_PARAMETER', `"${name}" must be an array of role names`);
  for (const r of v as string[]) if (security.store.role(r) === undefined) throw new MantisError('INVALID_PARAMETER', `unknown role "${r}"; see GET /api/v1/auth/roles`);
  return [...new Set(v as string[])];
}

function userJson(u: UserRecord): Record<string, unknown> {
  return { username: u.username, roles: u.roles, claims: u.claims, created_at: u.created_at, source: u.source };
}

function cookie(name: string, value: string, maxAgeS: number, httpOnly: boolean): string {
  return `${name}=${encodeURIComponent(value)}; Path=/; Max-Age=${maxAgeS}; Secure; SameSite=Strict${httpOnly ? '; HttpOnly' : ''}`;
}

function withCookies(reply: HttpReply, cookies: string[]): Response {
  const response = toResponse(reply);
  for (const c of cookies) response.headers.append('Set-Cookie', c);
  return response;
}

function adminOnly(p: Principal): void {
  if (!p.can('admin', 'write')) throw new MantisError('FORBIDDEN', 'permission denied: needs write on admin', { permission: 'admin:write' });
}

/** A session for a user (or OAuth identity): the token, its expiry and the cookies that carry it. */
export async function issueSession(security: Security, user: UserRecord): Promise<{ reply: Record<string, unknown>; cookies: string[] }> {
  const session = await security.tokens.issue(user.username, user.roles, { ...user.claims, usr: user.username });
  const maxAge = Math.max(0, session.expiresAt - Math.floor(Date.now() / 1000));
  return {
    reply: { token: session.token, token_type: 'Bearer', expires_at: new Date(session.expiresAt * 1000).toISOString(), expires_in: maxAge, csrf_token: session.csrf, user: userJson(user) },
    cookies: [cookie(SESSION_COOKIE, session.token, maxAge, true), cookie(CSRF_COOKIE, session.csrf, maxAge, false)],
  };
}

export function registerAuthRoutes(app: Hono<{ Bindings: Bindings }>, deps: AuthRouteDeps): void {
  const { security } = deps;
  const { store, audit } = security;
  const run = async (c: Ctx, work: () => Promise<HttpReply | Response>): Promise<Response> => {
    try {
      const out = await work();
      return out instanceof Response ? out : toResponse(out);
    } catch (error) {
      // A refused login carries its challenge; a locked account says when to come back.
      if (error instanceof AuthFailure) return toResponse({ ...errorReply(error), headers: [['WWW-Authenticate', error.challenge]] });
      if (error instanceof MantisError && typeof error.details?.retry_after_s === 'number') {
        return toResponse({ ...errorReply(error), headers: [['Retry-After', String(error.details.retry_after_s)]] });
      }
      throw error;
    }
  };
  const ipOf = (c: Ctx): string => c.env.ip ?? 'unknown';

  route(app, LOGIN, (c) =>
    run(c, async () => {
      const b = await body(c);
      onlyFields(b, ['username', 'password']);
      const username = str(b, 'username');
      const pw = str(b, 'password');
      if (!security.authOn) throw new MantisError('INVALID_PARAMETER', 'authentication is off (--auth off): there is nothing to log in to');
      const user = await security.login(username, pw, ipOf(c));
      const session = await issueSession(security, user);
      return withCookies(okReply(session.reply), session.cookies);
    }),
  );

  route(app, LOGOUT, (c) =>
    run(c, async () => {
      const p = principalOf(c);
      const jti = p.claims.jti;
      const exp = p.expiresAt;
      if (typeof jti === 'string' && exp !== undefined && (p.kind === 'user' || p.kind === 'token')) await store.revokeSession(jti, exp);
      security.authenticator.clear();
      audit.record({ action: 'auth.logout', outcome: 'success', actor: actorOf(p), ip: ipOf(c) });
      return withCookies(okReply({ logged_out: true }), [cookie(SESSION_COOKIE, '', 0, true), cookie(CSRF_COOKIE, '', 0, false)]);
    }),
  );

  route(app, ME, (c) =>
    run(c, async () => {
      const p = principalOf(c);
      const claims = { ...p.claims };
      return okReply({ kind: p.kind, id: p.id, sub: p.sub, roles: p.roles, claims, admin: p.can('admin', 'write'), expires_at: p.expiresAt === undefined ? null : new Date(p.expiresAt * 1000).toISOString(), auth: security.authOn });
    }),
  );

  // --- OAuth2 / OIDC login (authorization code with PKCE) ---
  const oauthOf = (c: Ctx): { login: OAuthLogin; provider: string } => {
    const provider = c.req.param('provider') ?? '';
    const login = deps.oauth;
    if (login === undefined || !login.has(provider)) throw new MantisError('NOT_FOUND', `no OAuth provider "${provider}"${login === undefined ? ' (none is configured: --oauth-providers)' : `; configured: ${login.names().join(', ')}`}`);
    return { login, provider };
  };
  const oauthFailure = (error: unknown): never => {
    if (error instanceof OAuthError) {
      security.audit.record({ action: 'auth.oauth', outcome: 'failure', actor: 'anonymous', details: { reason: error.code } });
      throw new MantisError(error.code === 'OAUTH_UNKNOWN_PROVIDER' ? 'NOT_FOUND' : 'OAUTH_FAILED', error.message, { reason: error.code });
    }
    throw error;
  };
  route(app, OAUTH_START, (c) =>
    run(c, async () => {
      const { login, provider } = oauthOf(c);
      const returnTo = new URLSearchParams(c.env.rawQuery).get('return_to') ?? undefined;
      const started = await login.start(provider, returnTo).catch(oauthFailure);
      const response = new Response(null, { status: 302, headers: { Location: started.location, 'Cache-Control': 'no-store' } });
      response.headers.append('Set-Cookie', stateCookieHeader(started.stateCookie));
      return response;
    }),
  );
  route(app, OAUTH_CALLBACK, (c) =>
    run(c, async () => {
      const { login, provider } = oauthOf(c);
      const cookieHeader = c.req.header('cookie');
      const done = await login.callback(provider, new URLSearchParams(c.env.rawQuery), readCookie(cookieHeader, OAUTH_STATE_COOKIE)).catch(oauthFailure);
      const { identity } = done;
      // Accounts are keyed by (provider, subject); an admin may change the roles afterwards.
      const username = `${provider}:${identity.subject}`;
      let user = store.user(username);
      if (user === undefined) {
        user = {
          username,
          hash: '',
          roles: identity.roles.filter((r) => store.role(r) !== undefined),
          claims: { provider, ...(identity.email === undefined ? {} : { email: identity.email }), ...(identity.name === undefined ? {} : { name: identity.name }), login: identity.username },
          created_at: new Date().toISOString(),
          source: 'oauth',
        };
        await store.putUser(user);
        audit.record({ action: 'auth.user.create', outcome: 'success', actor: `oauth:${provider}`, ip: ipOf(c), target: `user:${username}`, details: { roles: user.roles } });
      }
      audit.record({ action: 'auth.login', outcome: 'success', actor: `user:${username}`, ip: ipOf(c), details: { provider } });
      const session = await issueSession(security, user);
      const cookies = [...session.cookies, clearedStateCookieHeader(deps.secureCookies)];
      if ((c.req.header('accept') ?? '').includes('application/json')) return withCookies(okReply({ ...session.reply, return_to: done.returnTo }), cookies);
      const response = new Response(null, { status: 302, headers: { Location: done.returnTo, 'Cache-Control': 'no-store' } });
      for (const cookieText of cookies) response.headers.append('Set-Cookie', cookieText);
      return response;
    }),
  );

  // --- users ---
  route(app, LIST_USERS, (c) => run(c, async () => okReply(store.users().map(userJson), { count: store.users().length })));
  route(app, CREATE_USER, (c) =>
    run(c, async () => {
      const p = principalOf(c);
      adminOnly(p);
      const b = await body(c);
      onlyFields(b, ['username', 'password', 'roles', 'claims']);
      const username = str(b, 'username', USERNAME, 'must be 1-64 letters, digits or _ . @ : -');
      const pw = password(b);
      const roles = b.roles === undefined ? ['readonly'] : rolesOf(security, b);
      const claims = claimsOf(b);
      if (store.user(username) !== undefined) throw new MantisError('USER_EXISTS', `user "${username}" already exists`);
      const user: UserRecord = { username, hash: await hash(pw, ARGON2), roles, claims, created_at: new Date().toISOString(), source: 'local' };
      await store.putUser(user);
      audit.record({ action: 'auth.user.create', outcome: 'success', actor: actorOf(p), ip: ipOf(c), target: `user:${username}`, details: { roles } });
      return okReply(userJson(user), {}, 201);
    }),
  );
  route(app, PATCH_USER, (c) =>
    run(c, async () => {
      const p = principalOf(c);
      adminOnly(p);
      const name = pathParamOf(c, 'name');
      const user = store.user(name);
      if (user === undefined) throw new MantisError('USER_NOT_FOUND', `no user "${name}"`);
      const b = await body(c);
      onlyFields(b, ['password', 'roles', 'claims']);
      const next: UserRecord = {
        ...user,
        ...(b.password === undefined ? {} : { hash: await hash(password(b), ARGON2) }),
        ...(b.roles === undefined ? {} : { roles: rolesOf(security, b) }),
        ...(b.claims === undefined ? {} : { claims: claimsOf(b) }),
      };
      await store.putUser(next);
      audit.record({ action: 'auth.user.update', outcome: 'success', actor: actorOf(p), ip: ipOf(c), target: `user:${name}`, details: { fields: Object.keys(b) } });
      return okReply(userJson(next));
    }),
  );
  route(app, DELETE_USER, (c) =>
    run(c, async () => {
      const p = principalOf(c);
      adminOnly(p);
      const name = pathParamOf(c, 'name');
      if (!(await store.deleteUser(name))) throw new MantisError('USER_NOT_FOUND', `no user "${name}"`);
      audit.record({ action: 'auth.user.delete', outcome: 'success', actor: actorOf(p), ip: ipOf(c), target: `user:${name}` });
      return okReply({ username: name, deleted: true });
    }),
  );

  // --- API keys ---
  const keyJson = (k: ReturnType<typeof store.keys>[number]): Record<string, unknown> => ({
    id: k.id,
    name: k.name,
    roles: k.roles,
    claims: k.claims,
    created_at: k.created_at,
    created_by: k.created_by,
    expires_at: k.expires_at === null ? null : new Date(k.expires_at * 1000).toISOString(),
    revoked_at: k.revoked_at,
  });
  route(app, LIST_KEYS, (c) =>
    run(c, async () => {
      const p = principalOf(c);
      const mine = p.can('admin', 'read') ? store.keys() : store.keys().filter((k) => k.created_by === actorOf(p));
      return okReply(mine.map(keyJson), { count: mine.length });
    }),
  );
  route(app, CREATE_KEY, (c) =>
    run(c, async () => {
      const p = principalOf(c);
      const b = await body(c);
      onlyFields(b, ['name', 'roles', 'expires_in_s', 'claims']);
      const name = str(b, 'name');
      if (name.length > 128) throw new MantisError('INVALID_PARAMETER', '"name" must be at most 128 characters');
      const roles = rolesOf(security, b);
      const claims = claimsOf(b);
      // A key acts for the user who made it (it ends with the user and never exceeds the user's
      // roles), so only a user session (or the system, auth off) may make one.
      if (p.kind !== 'user' && p.kind !== 'system') throw new MantisError('FORBIDDEN', 'API keys are made by a signed-in user (POST /api/v1/auth/login); a key or an outside token cannot make keys');
      const admin = p.can('admin', 'write');
      if (!admin) {
        const beyond = roles.find((r) => !p.roles.includes(r));
        if (beyond !== undefined) throw new MantisError('FORBIDDEN', `a key can only carry roles its creator has; you do not have "${beyond}"`, { permission: 'admin:write' });
        if (Object.keys(claims).length > 0) throw new MantisError('FORBIDDEN', 'only admins may set claims on a key', { permission: 'admin:write' });
      }
      let expiresAt: number | null = null;
      if (b.expires_in_s !== undefined && b.expires_in_s !== null) {
        const ttl = b.expires_in_s;
        if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 1 || ttl > KEY_TTL_MAX_S) throw new MantisError('INVALID_PARAMETER', `"expires_in_s" must be an integer in 1..${KEY_TTL_MAX_S}`);
        expiresAt = Math.ceil(Date.now() / 1000) + ttl;
      }
      const { record, key } = await store.createKey({ name, roles, claims, expiresAt, createdBy: actorOf(p) });
      audit.record({ action: 'auth.key.create', outcome: 'success', actor: actorOf(p), ip: ipOf(c), target: `key:${record.id}`, details: { name, roles } });
      return okReply({ ...keyJson(record), key }, {}, 201);
    }),
  );
  route(app, DELETE_KEY, (c) =>
    run(c, async () => {
      const p = principalOf(c);
      const id = pathParamOf(c, 'id');
      const record = store.key(id);
      if (record === undefined || (!p.can('admin', 'write') && record.created_by !== actorOf(p))) throw new MantisError('NOT_FOUND', `no API key "${id}"`);
      const revoked = await store.revokeKey(id);
      security.authenticator.clear();
      audit.record({ action: 'auth.key.revoke', outcome: 'success', actor: actorOf(p), ip: ipOf(c), target: `key:${id}` });
      return okReply(keyJson(revoked ?? record));
    }),
  );

  // --- roles ---
  route(app, LIST_ROLES, (c) => run(c, async () => okReply(store.roles().map((r) => ({ name: r.name, permissions: r.permissions, builtin: r.builtin === true })))));
  route(app, PUT_ROLE, (c) =>
    run(c, async () => {
      const p = principalOf(c);
      const b = await body(c);
      onlyFields(b, ['name', 'permissions']);
      const name = str(b, 'name', NAME, 'must be 1-64 letters, digits or _ . -');
      const permissions = permissionsOf(b.permissions);
      await store.putRole(name, permissions);
      audit.record({ action: 'auth.role.put', outcome: 'success', actor: actorOf(p), ip: ipOf(c), target: `role:${name}`, details: { permissions } });
      return okReply({ name, permissions, builtin: false }, {}, 201);
    }),
  );
  route(app, DELETE_ROLE, (c) =>
    run(c, async () => {
      const p = principalOf(c);
      const name = pathParamOf(c, 'name');
      if (!(await store.deleteRole(name))) throw new MantisError('ROLE_NOT_FOUND', `no custom role "${name}"`);
      audit.record({ action: 'auth.role.delete', outcome: 'success', actor: actorOf(p), ip: ipOf(c), target: `role:${name}` });
      return okReply({ name, deleted: true });
    }),
  );

  // --- policies ---
  route(app, LIST_POLICIES, (c) =>
    run(c, async () => okReply(store.policies(), { count: store.policies().length, rls_tables: rlsTables(security) })),
  );
  route(app, CREATE_POLICY, (c) =>
    run(c, async () => {
      const p = principalOf(c);
      const policy = policyOf(await body(c));
      await store.createPolicy(policy).catch((error: unknown) => {
        if (error instanceof MantisError && error.details?.sqlstate === '42710') throw new MantisError('INVALID_PARAMETER', error.message);
        throw error;
      });
      security.authenticator.clear();
      audit.record({ action: 'auth.policy.create', outcome: 'success', actor: actorOf(p), ip: ipOf(c), target: `policy:${policy.kind}:${policy.name}`, details: { policy } });
      return okReply(policy, {}, 201);
    }),
  );
  route(app, DROP_POLICY, (c) =>
    run(c, async () => {
      const p = principalOf(c);
      const kind = pathParamOf(c, 'kind');
      if (kind !== 'docs' && kind !== 'kv' && kind !== 'table') throw new MantisError('INVALID_PARAMETER', 'kind must be docs, kv or table');
      const object = pathParamOf(c, 'object');
      const name = pathParamOf(c, 'name');
      if (!(await store.dropPolicy(kind, object, name))) throw new MantisError('POLICY_NOT_FOUND', `no ${kind} policy "${name}" on "${object}"`);
      audit.record({ action: 'auth.policy.drop', outcome: 'success', actor: actorOf(p), ip: ipOf(c), target: `policy:${kind}:${name}`, details: { object } });
      return okReply({ kind, object, name, dropped: true });
    }),
  );

  // --- admin ---
  route(app, AUDIT, (c) =>
    run(c, async () => {
      const q = new URLSearchParams(c.env.rawQuery);
      const limitText = q.get('limit') ?? '100';
      if (!/^\d{1,5}$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > 10_000) throw new MantisError('INVALID_PARAMETER', 'limit must be an integer in 1..10000');
      const entries = await audit.read({ limit: Number(limitText), ...(q.get('action') === null ? {} : { action: q.get('action') as string }), ...(q.get('actor') === null ? {} : { actor: q.get('actor') as string }) });
      return okReply(entries, { count: entries.length });
    }),
  );
  route(app, CONFIG, (c) => run(c, async () => okReply(deps.configDump())));
  route(app, GET_LIMITS, (c) => run(c, async () => okReply(limitsJson(security))));
  route(app, PUT_LIMITS, (c) =>
    run(c, async () => {
      const p = principalOf(c);
      const next = parseLimitSettings(await body(c), security.limiter.settings);
      security.limiter.update(next);
      audit.record({ action: 'admin.rate_limits.update', outcome: 'success', actor: actorOf(p), ip: ipOf(c), details: limitsJson(security) });
      return okReply(limitsJson(security));
    }),
  );
  route(app, ROUTES, (c) => run(c, async () => okReply(deps.routes())));
}

function rlsTables(security: Security): string[] {
  const tables = new Set<string>();
  for (const p of security.store.policies()) if (p.kind === 'table' && security.store.rlsEnabled(p.table)) tables.add(p.table);
  return [...tables];
}

function limitsJson(security: Security): Record<string, unknown> {
  const s = security.limiter.settings;
  return { rps: s.rps, burst: s.burst, classes: s.classes, connections_per_ip: s.connectionsPerIp };
}

function permissionsOf(value: unknown): Permission[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > 256) throw new MantisError('INVALID_PARAMETER', '"permissions" must be an array of 1..256 {"resource","actions"}');
  return value.map((item, i) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new MantisError('INVALID_PARAMETER', `permissions[${i}] must be an object {"resource","actions"}`);
    const o = item as Record<string, unknown>;
    onlyFields(o, ['resource', 'actions'], `permissions[${i}]: `);
    const problem = resourceProblem(o.resource);
    if (problem !== null) throw new MantisError('INVALID_PARAMETER', `permissions[${i}]: ${problem}`);
    const actions = o.actions;
    if (!Array.isArray(actions) || actions.length === 0 || actions.some((a) => !ACTIONS.includes(a as Action))) {
      throw new MantisError('INVALID_PARAMETER', `permissions[${i}].actions must be a non-empty array of "read" and "write"`);
    }
    return { resource: o.resource as string, actions: [...new Set(actions as Action[])] };
  });
}

function policyOf(b: Record<string, unknown>): Policy {
  const kind = b.kind;
  const name = str(b, 'name', NAME, 'must be 1-64 letters, digits or _ . -');
  const command = (b.command ?? 'all') as PolicyCommand;
  if (!POLICY_COMMANDS.includes(command)) throw new MantisError('INVALID_PARAMETER', `"command" must be one of ${POLICY_COMMANDS.join(', ')}`);
  const roles = b.roles === undefined ? ['public'] : b.roles;
  if (!Array.isArray(roles) || roles.length === 0 || roles.some((r) => typeof r !== 'string' || r === '')) throw new MantisError('INVALID_PARAMETER', '"roles" must be a non-empty array of role names ("public" = every role)');
  if (kind === 'docs') {
    onlyFields(b, ['kind', 'name', 'collection', 'command', 'roles', 'using', 'check']);
    const collection = str(b, 'collection');
    const filter = (field: 'using' | 'check'): Record<string, unknown> | null => {
      const v = b[field];
      if (v === undefined || v === null) return null;
      if (typeof v !== 'object' || Array.isArray(v)) throw new MantisError('INVALID_PARAMETER', `"${field}" must be a filter document`);
      if (JSON.stringify(v).length > 16_384) throw new MantisError('INVALID_PARAMETER', `"${field}" must be at most 16 KiB`);
      return v as Record<string, unknown>;
    };
    const using = filter('using');
    const check = filter('check');
    if (command === 'insert' && using !== null) throw new MantisError('INVALID_PARAMETER', 'an insert policy takes only "check"');
    if ((command === 'select' || command === 'delete') && check !== null) throw new MantisError('INVALID_PARAMETER', `a ${command} policy takes only "using"`);
    return { kind: 'docs', name, collection, command, roles: roles as string[], using, check };
  }
  if (kind === 'kv') {
    onlyFields(b, ['kind', 'name', 'prefix', 'command', 'roles']);
    const problem = templateProblem(b.prefix);
    if (problem !== null) throw new MantisError('INVALID_PARAMETER', problem);
    return { kind: 'kv', name, template: b.prefix as string, command, roles: roles as string[] };
  }
  if (kind === 'table') throw new MantisError('INVALID_PARAMETER', 'table policies are made in SQL: CREATE POLICY name ON table USING (…) WITH CHECK (…)');
  throw new MantisError('INVALID_PARAMETER', '"kind" must be "docs" or "kv"');
}
