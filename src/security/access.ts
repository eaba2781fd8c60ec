// What each route needs, decided from the request line alone (before the body
// is read), so a refused request costs nothing. Routes whose resources are in
// the body (a KV batch, a transaction's ops, SQL/CQL statements, aggregation
// stages) need a credential here and check each resource where the body is
// read. ROUTE_ACCESS lists every route the server registers with what it
// needs; test/security/route-matrix.test.ts fails when a route is missing.

import { keyFromPath } from '../kv/kv-input.js';
import type { RouteLabel } from '../http/routes.js';
import type { Action } from './principal.js';

export type Need =
  | { readonly kind: 'public' }
  /** Any valid credential; the handler checks what the body names. */
  | { readonly kind: 'authenticated' }
  | { readonly kind: 'perm'; readonly resource: string; readonly action: Action };

const PUBLIC: Need = { kind: 'public' };
const AUTHENTICATED: Need = { kind: 'authenticated' };
const perm = (resource: string, action: Action): Need => ({ kind: 'perm', resource, action });

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Path segment i (0-based) after a prefix, percent-decoded; null when it is not valid UTF-8. */
function segment(rawPath: string, prefix: string, i: number): string | null {
  const parts = rawPath.slice(prefix.length + 1).split('/');
  try {
    return decodeURIComponent(parts[i] ?? '');
  } catch {
    return null;
  }
}

function kvKeyOf(rawPath: string): string | null {
  const raw = rawPath.slice('/api/v1/kv/'.length);
  // Nothing percent-encoded: the key is the path as it is (the handler validates it).
  if (!raw.includes('%')) return raw;
  try {
    return utf8.decode(keyFromPath(rawPath.slice('/api/v1/kv/'.length)));
  } catch {
    return null;
  }
}

function kvListPrefix(rawQuery: string): string {
  try {
    return new URLSearchParams(rawQuery).get('prefix') ?? '';
  } catch {
    return '';
  }
}

const READ_DOC_ACTIONS = new Set(['find', 'aggregate', 'explain']);
const READ_TABLE_ACTIONS = new Set(['query', 'stats']);

/**
 * method is lower-case (uWS). Returns what the request needs. For paths the listener does not
 * label (auth, admin, streams) the caller passes 'unmatched' and this looks at the path.
 */
export function needOf(route: RouteLabel, method: string, rawPath: string, rawQuery: string): Need {
  const read = method === 'get' || method === 'head';
  const rw: Action = read ? 'read' : 'write';
  switch (route) {
    // The dashboard's files and the API description hold no data: the app signs in by itself.
    case '/health/live':
    case '/health/ready':
    case '/admin/*':
    case '/api/docs/*':
      return PUBLIC;
    case '/api/metrics/prometheus':
      return perm('admin', 'read');
    case '/api/v1/kv/:key': {
      const key = kvKeyOf(rawPath);
      // An undecodable key is refused by the handler (400) before any read or write.
      return key === null ? AUTHENTICATED : perm(`kv:${key}`, rw);
    }
    case '/api/v1/kv':
      return perm(`kv:${kvListPrefix(rawQuery)}`, 'read');
    case '/api/v1/kv/batch':
    case '/api/v1/txn':
    case '/api/v1/txn/execute':
    case '/api/v1/txn/:id/commit':
    case '/api/v1/txn/:id/rollback':
      return AUTHENTICATED;
    case '/api/v1/cache/stats':
    case '/api/v1/cache/policies':
    case '/api/v1/cache/invalidate':
    case '/api/v1/cache/dependencies':
      return perm('cache', method === 'get' ? 'read' : 'write');
    case '/api/v1/docs':
      return AUTHENTICATED; // the listing shows only readable collections
    case '/api/v1/docs/:c':
      return docNeed(rawPath, rw);
    case '/api/v1/docs/:c/:action': {
      const action = segment(rawPath, '/api/v1/docs', 1);
      return docNeed(rawPath, action !== null && READ_DOC_ACTIONS.has(action) ? 'read' : 'write');
    }
    case '/api/v1/docs/:c/:id':
    case '/api/v1/docs/:c/indexes/:name':
      return docNeed(rawPath, rw);
    case '/api/v1/tables':
      return method === 'post' ? perm('tables:*', 'write') : AUTHENTICATED;
    case '/api/v1/tables/:t':
    case '/api/v1/tables/:t/rows/:pk':
    case '/api/v1/tables/:t/indexes/:name':
      return tableNeed(rawPath, rw);
    case '/api/v1/tables/:t/:action': {
      const action = segment(rawPath, '/api/v1/tables', 1);
      return tableNeed(rawPath, read || (action !== null && READ_TABLE_ACTIONS.has(action)) ? 'read' : 'write');
    }
    case '/api/v1/cql':
    case '/api/v1/sql':
      // Reading or writing is decided per statement by the executor, with the tables' permissions.
      return perm('sql', 'read');
    case '/api/v1/auth/*':
    case '/api/v1/admin/*':
    case 'unmatched':
      return unlabelledNeed(method, rawPath);
  }
}

function docNeed(rawPath: string, action: Action): Need {
  const coll = segment(rawPath, '/api/v1/docs', 0);
  return coll === null ? AUTHENTICATED : perm(`docs:${coll}`, action);
}

function tableNeed(rawPath: string, action: Action): Need {
  const table = segment(rawPath, '/api/v1/tables', 0);
  return table === null ? AUTHENTICATED : perm(`tables:${table}`, action);
}

function unlabelledNeed(method: string, rawPath: string): Need {
  if (rawPath === '/api/v1/auth/login' || rawPath.startsWith('/api/v1/auth/oauth/')) return PUBLIC;
  if (rawPath === '/api/v1/auth/logout' || rawPath === '/api/v1/auth/me') return AUTHENTICATED;
  // Any caller may manage its own API keys (within its own roles); admins manage everyone's.
  if (rawPath === '/api/v1/auth/keys' || rawPath.startsWith('/api/v1/auth/keys/')) return AUTHENTICATED;
  if (rawPath.startsWith('/api/v1/auth/') || rawPath.startsWith('/api/v1/admin/')) return perm('admin', method === 'get' ? 'read' : 'write');
  // Operations: metric streams and history, alerts, backups and the storage browser are the admin's.
  // A download hands out files (the JWT secret, password hashes, whole backups): admin write, not read.
  if (rawPath === '/api/storage/download') return perm('admin', 'write');
  if (/^\/api\/v1\/(metrics|alerts|backups)(\/|$)/.test(rawPath) || rawPath.startsWith('/api/storage/')) return perm('admin', method === 'get' ? 'read' : 'write');
  // Unlabelled paths under a model's prefix still name its object: they need its write permission,
  // so a path the labeller does not recognise can never be weaker than one it does.
  if (rawPath.startsWith('/api/v1/tables/')) return tableNeed(rawPath, 'write');
  // The change stream (SSE, served outside the route table): read.
  if (method === 'get' && /^\/api\/v1\/docs\/[^/]+\/changes$/.test(rawPath)) return docNeed(rawPath, 'read');
  if (rawPath.startsWith('/api/v1/docs/')) return docNeed(rawPath, 'write');
  if (rawPath.startsWith('/api/v1/kv/')) return perm('kv:', 'write');
  // Unknown paths: a credential is still needed, so probing the route table tells an anonymous caller nothing.
  return AUTHENTICATED;
}
