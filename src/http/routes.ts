// Route templates shared by both listeners: which route a request is for
// (the metrics label), and where a KV key starts in the raw path.

export const KV_ITEM_PREFIX = '/api/v1/kv/';
export const KV_LIST_PATH = '/api/v1/kv';
export const KV_BATCH_PATH = '/api/v1/kv/batch';
export const TXN_PREFIX = '/api/v1/txn/';
export const DOCS_PATH = '/api/v1/docs';
/**
 * Request bodies of the document routes: a document may be 16 MiB and an insert carries up to
 * 1000 documents, so the bound is on the request, not the document (each document is checked
 * against 16 MiB when parsed): 64 MiB.
 */
export const DOCS_BODY_BYTES_MAX = 64 * 1024 * 1024;
export const TABLES_PATH = '/api/v1/tables';
export const CQL_PATH = '/api/v1/cql';
export const SQL_PATH = '/api/v1/sql';
/** The dashboard (a browser app served from dist/admin). */
export const ADMIN_PATH = '/admin';
/** The OpenAPI description: /api/docs/openapi.json and .yaml. */
export const API_DOCS_PREFIX = '/api/docs/';
/** Request bodies of the table and CQL routes: an insert carries up to 10,000 rows (strings up to 16 MiB each). */
export const TABLES_BODY_BYTES_MAX = 64 * 1024 * 1024;

export type RouteLabel =
  | '/api/v1/kv/:key'
  | '/api/v1/kv'
  | '/api/v1/kv/batch'
  | '/health/live'
  | '/health/ready'
  | '/api/metrics/prometheus'
  | '/api/v1/cache/stats'
  | '/api/v1/cache/policies'
  | '/api/v1/cache/invalidate'
  | '/api/v1/cache/dependencies'
  | '/api/v1/txn'
  | '/api/v1/txn/execute'
  | '/api/v1/txn/:id/commit'
  | '/api/v1/txn/:id/rollback'
  | '/api/v1/docs'
  | '/api/v1/docs/:c'
  | '/api/v1/docs/:c/:action'
  | '/api/v1/docs/:c/:id'
  | '/api/v1/docs/:c/indexes/:name'
  | '/api/v1/tables'
  | '/api/v1/tables/:t'
  | '/api/v1/tables/:t/:action'
  | '/api/v1/tables/:t/rows/:pk'
  | '/api/v1/tables/:t/indexes/:name'
  | '/api/v1/cql'
  | '/api/v1/sql'
  /** The auth and admin routes (Hono's), labelled by prefix so metrics and rate limits can tell them apart. */
  | '/api/v1/auth/*'
  | '/api/v1/admin/*'
  /** The dashboard's static files ("/" redirects there) and the OpenAPI description: public. */
  | '/admin/*'
  | '/api/docs/*'
  | 'unmatched';

/** method is lower-case, as uWebSockets.js reports it. */
export function routeOf(method: string, path: string): RouteLabel {
  if (path.startsWith(KV_ITEM_PREFIX)) return method === 'post' && path === KV_BATCH_PATH ? '/api/v1/kv/batch' : '/api/v1/kv/:key';
  if (path === DOCS_PATH || path.startsWith(`${DOCS_PATH}/`)) return docsRouteOf(method, path);
  if (path === TABLES_PATH || path.startsWith(`${TABLES_PATH}/`)) return tablesRouteOf(path);
  switch (path) {
    case CQL_PATH:
    case SQL_PATH:
    case KV_LIST_PATH:
    case '/health/live':
    case '/health/ready':
    case '/api/metrics/prometheus':
    case '/api/v1/cache/stats':
    case '/api/v1/cache/policies':
    case '/api/v1/cache/invalidate':
    case '/api/v1/cache/dependencies':
    case '/api/v1/txn':
    case '/api/v1/txn/execute':
      return path;
    default:
      if (path.startsWith('/api/v1/auth/')) return '/api/v1/auth/*';
      if (path.startsWith('/api/v1/admin/')) return '/api/v1/admin/*';
      if (path === '/' || path === ADMIN_PATH || path.startsWith(`${ADMIN_PATH}/`)) return '/admin/*';
      if (path.startsWith(API_DOCS_PREFIX)) return '/api/docs/*';
      if (path.startsWith(TXN_PREFIX)) {
        // Exactly one non-empty segment for the id, as Hono's /api/v1/txn/:id/commit matches.
        const slash = path.indexOf('/', TXN_PREFIX.length);
        if (slash > TXN_PREFIX.length) {
          const action = path.slice(slash);
          if (action === '/commit') return '/api/v1/txn/:id/commit';
          if (action === '/rollback') return '/api/v1/txn/:id/rollback';
        }
      }
      return 'unmatched';
  }
}

/** The document routes by their shape: action routes are POST, by-id routes never. */
function docsRouteOf(method: string, path: string): RouteLabel {
  const segments = path.length <= DOCS_PATH.length + 1 ? 0 : path.slice(DOCS_PATH.length + 1).split('/').length;
  switch (segments) {
    case 0:
      return '/api/v1/docs';
    case 1:
      return '/api/v1/docs/:c';
    case 2:
      return method === 'post' ? '/api/v1/docs/:c/:action' : '/api/v1/docs/:c/:id';
    case 3:
      return '/api/v1/docs/:c/indexes/:name';
    default:
      return 'unmatched';
  }
}

/** The table routes by their shape (the third segment says rows/:pk or indexes/:name). */
function tablesRouteOf(path: string): RouteLabel {
  const segments = path.length <= TABLES_PATH.length + 1 ? [] : path.slice(TABLES_PATH.length + 1).split('/');
  switch (segments.length) {
    case 0:
      return '/api/v1/tables';
    case 1:
      return '/api/v1/tables/:t';
    case 2:
      return '/api/v1/tables/:t/:action';
    case 3:
    {
      // Decoded as the handlers decode it: "%72ows" is "rows" to them, so it must be to the gate too.
      let second: string;
      try {
        second = decodeURIComponent(segments[1]);
      } catch {
        return 'unmatched';
      }
      return second === 'rows' ? '/api/v1/tables/:t/rows/:pk' : second === 'indexes' ? '/api/v1/tables/:t/indexes/:name' : 'unmatched';
    }
    default:
      return 'unmatched';
  }
}

/** Bytes a request body may have before it is refused with 413. */
export function bodyLimitOf(route: RouteLabel, maxValueBytes: number, jsonOverheadBytes: number): number {
  if (route === '/api/v1/kv/:key') return maxValueBytes;
  if (route.startsWith(DOCS_PATH)) return DOCS_BODY_BYTES_MAX;
  if (route.startsWith(TABLES_PATH) || route === CQL_PATH || route === SQL_PATH) return TABLES_BODY_BYTES_MAX;
  return maxValueBytes + jsonOverheadBytes;
}
