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

  app.get('/api/v1/cache/policies', () => reply(async () => okReply({ policies: control.policies.rules, source: control.policies.source })));
  app.put('/api/v1/cache/policies', async (c) =>
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

  app.post('/api/v1/cache/invalidate', async (c) =>
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

  app.post('/api/v1/cache/dependencies', async (c) =>
    reply(async () => {
      const edge = edgeOf(jsonBody(c.req.header('content-type'), await bodyOf(c.req.raw)));
      keyAccess(c)?.access.check(edge.parent, true);
      keyAccess(c)?.access.check(edge.child, true);
      const created = await control.addDependency(edge.parent, edge.child);
      return okReply({ ...edge, created }, {}, created ? 201 : 200);
    }),
  );
  app.delete('/api/v1/cache/dependencies', async (c) =>
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
  app.get('/api/v1/cache/dependencies', (c) =>
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
