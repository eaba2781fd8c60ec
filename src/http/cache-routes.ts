// The cache's control routes (the read side, GET /api/v1/cache/stats, is in
// cache-stats.ts; the streams are in invalidation-streams.ts):
//   GET  /api/v1/cache/policies              the rules in force and where they came from
//   PUT  /api/v1/cache/policies              {"policies":[{prefix, policy, read_through?}]} replaces them
//   POST /api/v1/cache/invalidate            exactly one of {"key"}, {"prefix"}, {"tag"}
//   POST /api/v1/cache/dependencies          {"parent","child"}: 201 created, 200 if it existed
//   DELETE /api/v1/cache/dependencies        {"parent","child"} (body or query): 200, 404 if absent
//   GET  /api/v1/cache/dependencies?parent=  the children of a key (or ?child=: its parents)
// Every body is JSON with only the fields named; anything else is a 400.

import type { Context, Hono } from 'hono';
import type { KvAccess } from '../security/kv-access.js';
import { MantisError } from '../../shared/errors.js';
import { PolicyError, parsePolicyRules } from '../../shared/cache/policy.js';
import type { CacheControl, InvalidateTarget } from '../cache/cache-control.js';
import { keyFromString } from '../kv/index.js';
import { jsonBody, keyField, onlyFields } from './json-body.js';
import { okReply, type HttpReply } from './reply.js';
import { toResponse, type Bindings } from './hono-app.js';
import { arr, closed, int, JSON_ERRORS, jsonBody as jsonBodySpec, ok, oneOf, queryParam, ref, route, str, type RouteSpec } from './api-spec.js';

// ---- route specs (the OpenAPI description is built from these; see api-spec.ts) --------------

const POLICIES_DATA = closed({ policies: arr(ref('CachePolicyRule')), source: { enum: ['data-dir', 'config-file', 'default'] } }, ['policies', 'source']);
const KEY_ERRORS = ['INVALID_KEY', 'KEY_TOO_LARGE'] as const;
const KEY_NOTE = 'The keys named also need the caller\'s kv permissions (read for GET, write otherwise) and row-level KV policies.';

const GET_POLICIES: RouteSpec = {
  method: 'GET',
  path: '/api/v1/cache/policies',
  tag: 'Cache',
  summary: 'The cache policies in force',
  description: 'The rules and where they came from (data-dir, config-file or default).',
  responses: [ok('The policies.', POLICIES_DATA, { policies: [{ prefix: 'session:', policy: 'cache-only' }], source: 'data-dir' })],
  errors: [],
  permission: 'cache:read',
};

const PUT_POLICIES: RouteSpec = {
  method: 'PUT',
  path: '/api/v1/cache/policies',
  tag: 'Cache',
  summary: 'Replace the cache policies',
  description: 'Replaces every rule (at most 256, each prefix once). Saved in <data-dir>/cache/policies.json before the shards get them.',
  body: jsonBodySpec(
    closed({ policies: arr(ref('CachePolicyRule'), undefined, { maxItems: 256 }) }, ['policies']),
    { policies: [{ prefix: 'session:', policy: 'cache-only' }, { prefix: 'counter:', policy: 'write-back' }] },
  ),
  responses: [
    ok('The policies now in force.', POLICIES_DATA, {
      policies: [{ prefix: 'session:', policy: 'cache-only' }, { prefix: 'counter:', policy: 'write-back' }],
      source: 'data-dir',
    }),
  ],
  errors: [...JSON_ERRORS, 'CACHE_DISABLED', 'SHARD_UNAVAILABLE', 'SHARD_BUSY', 'STORAGE_IO', 'STORAGE_FULL'],
  permission: 'cache:write',
};

const INVALIDATE: RouteSpec = {
  method: 'POST',
  path: '/api/v1/cache/invalidate',
  tag: 'Cache',
  summary: 'Drop cached copies and tell subscribers',
  description:
    'Exactly one of key, prefix ("" is every key) or tag. `invalidated` counts entries removed, `keys` the keys named, `dependents` the keys invalidated by the dependency cascade. Under row-level KV policies only a key may be given (a prefix or tag is 403).',
  body: jsonBodySpec(oneOf(closed({ key: str() }, ['key']), closed({ prefix: str() }, ['prefix']), closed({ tag: str(undefined, { minLength: 1 }) }, ['tag'])), { key: 'user:1' }),
  responses: [
    ok(
      'Invalidated.',
      closed({ key: str(), prefix: str(), tag: str(), invalidated: int(), keys: int(), dependents: int() }, ['invalidated', 'keys', 'dependents']),
      { key: 'user:1', invalidated: 1, keys: 1, dependents: 2 },
    ),
  ],
  errors: [...JSON_ERRORS, ...KEY_ERRORS, 'SHARD_UNAVAILABLE', 'SHARD_BUSY'],
  permission: 'cache:write',
  permissionNote: KEY_NOTE,
};

const EDGE_BODY = closed({ parent: str('the key whose change invalidates child'), child: str() }, ['parent', 'child']);
const EDGE_EXAMPLE = { parent: 'user:1', child: 'page:home' };

const ADD_DEPENDENCY: RouteSpec = {
  method: 'POST',
  path: '/api/v1/cache/dependencies',
  tag: 'Cache',
  summary: 'Make a key depend on another',
  description: 'A change of parent invalidates child. 201 with created: true, or 200 with created: false when the edge exists.',
  body: jsonBodySpec(EDGE_BODY, EDGE_EXAMPLE),
  responses: [
    ok('Created.', closed({ parent: str(), child: str(), created: { const: true } }, ['parent', 'child', 'created']), { ...EDGE_EXAMPLE, created: true }, { status: 201 }),
    ok('The edge existed.', closed({ parent: str(), child: str(), created: { const: false } }, ['parent', 'child', 'created']), { ...EDGE_EXAMPLE, created: false }),
  ],
  errors: [...JSON_ERRORS, ...KEY_ERRORS, 'DEPENDENCY_LIMIT', 'STORAGE_IO', 'STORAGE_FULL'],
  permission: 'cache:write',
  permissionNote: KEY_NOTE,
};

const REMOVE_DEPENDENCY: RouteSpec = {
  method: 'DELETE',
  path: '/api/v1/cache/dependencies',
  tag: 'Cache',
  summary: 'Remove a dependency',
  description: 'The edge as a JSON body, or as ?parent=…&child=… (without a body). 404 DEPENDENCY_NOT_FOUND when it does not exist.',
  params: [queryParam('parent', 'Without a body: the parent key.', str(), 'user:1'), queryParam('child', 'Without a body: the child key.', str(), 'page:home')],
  body: jsonBodySpec(EDGE_BODY, EDGE_EXAMPLE, { required: false, description: 'Or the query parameters.' }),
  responses: [ok('Removed.', closed({ parent: str(), child: str(), removed: { const: true } }, ['parent', 'child', 'removed']), { ...EDGE_EXAMPLE, removed: true })],
  errors: [...JSON_ERRORS, ...KEY_ERRORS, 'DEPENDENCY_NOT_FOUND', 'STORAGE_IO', 'STORAGE_FULL'],
  permission: 'cache:write',
  permissionNote: KEY_NOTE,
};

const LIST_DEPENDENCIES: RouteSpec = {
  method: 'GET',
  path: '/api/v1/cache/dependencies',
  tag: 'Cache',
  summary: 'A key\'s children or parents',
  description: 'Exactly one of ?parent= (its children) or ?child= (its parents). Only keys the caller may read are named.',
  params: [queryParam('parent', 'List this key\'s children.', str(), 'user:1'), queryParam('child', 'List this key\'s parents.', str())],
  responses: [
    ok(
      'The edges.',
      oneOf(closed({ parent: str(), children: arr(str()) }, ['parent', 'children']), closed({ child: str(), parents: arr(str()) }, ['child', 'parents'])),
      { parent: 'user:1', children: ['page:home'] },
    ),
  ],
  errors: ['INVALID_PARAMETER', ...KEY_ERRORS],
  permission: 'cache:read',
  permissionNote: KEY_NOTE,
};

/** A prefix is validated as a key would be, except that it may be empty (every key). */
export function prefixProblem(prefix: string): string | null {
  if (prefix === '') return null;
  try {
    keyFromString(prefix);
    return null;
  } catch (error) {
    return error instanceof MantisError ? error.message : String(error);
  }
}

function invalidateTarget(body: Record<string, unknown>): InvalidateTarget {
  onlyFields(body, ['key', 'prefix', 'tag']);
  const given = ['key', 'prefix', 'tag'].filter((k) => body[k] !== undefined);
  if (given.length !== 1) throw new MantisError('INVALID_PARAMETER', 'give exactly one of "key", "prefix" or "tag"');
  if (given[0] === 'key') return { key: keyField(body, 'key') };
  if (given[0] === 'prefix') {
    const prefix = body.prefix;
    if (typeof prefix !== 'string') throw new MantisError('INVALID_PARAMETER', '"prefix" must be a string');
    const problem = prefixProblem(prefix);
    if (problem !== null) throw new MantisError('INVALID_PARAMETER', `"prefix": ${problem}`);
    return { prefix };
  }
  const tag = body.tag;
  if (typeof tag !== 'string' || tag === '') throw new MantisError('INVALID_PARAMETER', '"tag" must be a non-empty string');
  return { tag };
}

/** The edge from a JSON body or, for DELETE, from ?parent=&child=. */
function edgeOf(body: Record<string, unknown>): { parent: string; child: string } {
  onlyFields(body, ['parent', 'child']);
  const parent = keyField(body, 'parent');
  const child = keyField(body, 'child');
  if (parent === child) throw new MantisError('INVALID_PARAMETER', 'a key cannot depend on itself');
  return { parent, child };
}

/**
 * The caller's KV rules for the keys these routes name (undefined: everything is allowed). A
 * dependency or invalidation names keys, so it needs the keys' permissions and row-level rules
 * besides the cache permission the gate checked.
 */
export type CacheKeyAccess = (c: Context<{ Bindings: Bindings }>) => { access: KvAccess; restricted: boolean } | undefined;

/** Records a configuration change (the cache policies) in the audit log, with who made it. */
export type CacheAudit = (c: Context<{ Bindings: Bindings }>, action: string, details: Readonly<Record<string, unknown>>) => void;

export function registerCacheRoutes(app: Hono<{ Bindings: Bindings }>, control: CacheControl, keyAccess: CacheKeyAccess = () => undefined, audit: CacheAudit = () => undefined): void {
  const reply = async (work: () => Promise<HttpReply>): Promise<Response> => toResponse(await work());
  const bodyOf = async (request: Request): Promise<Uint8Array> => new Uint8Array(await request.arrayBuffer());

  route(app, GET_POLICIES, () => reply(async () => okReply({ policies: control.policies.rules, source: control.policies.source })));
  route(app, PUT_POLICIES, async (c) =>
    reply(async () => {
      const body = jsonBody(c.req.header('content-type'), await bodyOf(c.req.raw));
      onlyFields(body, ['policies']);
      let rules;
      try {
        rules = parsePolicyRules(body.policies, prefixProblem);
      } catch (error) {
        if (error instanceof PolicyError) throw new MantisError('INVALID_PARAMETER', error.message);
        throw error;
      }
      await control.setPolicies(rules);
      audit(c, 'config.cache_policies.update', { policies: rules });
      return okReply({ policies: rules, source: control.policies.source });
    }),
  );

  route(app, INVALIDATE, async (c) =>
    reply(async () => {
      const target = invalidateTarget(jsonBody(c.req.header('content-type'), await bodyOf(c.req.raw)));
      const guard = keyAccess(c);
      if (guard !== undefined) {
        if ('key' in target) guard.access.check(target.key, true);
        else if ('prefix' in target) {
          guard.access.check(target.prefix, true);
          // A prefix or a tag may reach keys of other tenants: only callers no KV policy restricts.
          if (guard.restricted) throw new MantisError('FORBIDDEN', 'row-level security: invalidate by key; a prefix may reach keys this caller may not see');
        } else if (guard.restricted) throw new MantisError('FORBIDDEN', 'row-level security: invalidate by key; a tag may reach keys this caller may not see');
      }
      const result = await control.invalidate(target);
      return okReply({ ...target, invalidated: result.removed, keys: result.keys, dependents: result.dependents });
    }),
  );

  route(app, ADD_DEPENDENCY, async (c) =>
    reply(async () => {
      const edge = edgeOf(jsonBody(c.req.header('content-type'), await bodyOf(c.req.raw)));
      keyAccess(c)?.access.check(edge.parent, true);
      keyAccess(c)?.access.check(edge.child, true);
      const created = await control.addDependency(edge.parent, edge.child);
      return okReply({ ...edge, created }, {}, created ? 201 : 200);
    }),
  );
  route(app, REMOVE_DEPENDENCY, async (c) =>
    reply(async () => {
      const query = new URLSearchParams(c.env.rawQuery);
      const raw = await bodyOf(c.req.raw);
      const body = raw.length > 0
        ? jsonBody(c.req.header('content-type'), raw)
        : Object.fromEntries([...query.entries()].filter(([k]) => k === 'parent' || k === 'child'));
      if (raw.length === 0) onlyFields(Object.fromEntries(query.entries()), ['parent', 'child']);
      const edge = edgeOf(body);
      keyAccess(c)?.access.check(edge.parent, true);
      keyAccess(c)?.access.check(edge.child, true);
      if (!(await control.removeDependency(edge.parent, edge.child))) {
        throw new MantisError('DEPENDENCY_NOT_FOUND', `no dependency of "${edge.child}" on "${edge.parent}"`);
      }
      return okReply({ ...edge, removed: true });
    }),
  );
  route(app, LIST_DEPENDENCIES, (c) =>
    reply(async () => {
      const query = Object.fromEntries(new URLSearchParams(c.env.rawQuery).entries());
      onlyFields(query, ['parent', 'child']);
      if ((query.parent === undefined) === (query.child === undefined)) throw new MantisError('INVALID_PARAMETER', 'give exactly one of ?parent= or ?child=');
      const guard = keyAccess(c);
      // Only keys the caller may read are named, on both ends of an edge.
      const readable = (key: string): boolean => {
        try {
          guard?.access.check(key, false);
          return true;
        } catch {
          return false;
        }
      };
      if (query.parent !== undefined) {
        const parent = keyField(query, 'parent');
        guard?.access.check(parent, false);
        return okReply({ parent, children: control.children(parent).filter(readable) });
      }
      const child = keyField(query, 'child');
      guard?.access.check(child, false);
      return okReply({ child, parents: control.parents(child).filter(readable) });
    }),
  );
}
