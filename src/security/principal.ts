// Who a request runs as, and what it may do. Identity is settled once per
// request on the router (src/security/authenticator.ts) before dispatch; the
// route layer asks `can(resource, action)` and the query layers read the
// principal's claims for row-level security. Shards never see credentials.
//
// Resources (issue 14):
//   kv:<prefix>        keys starting with <prefix> ("kv:" = every key)
//   docs:<collection>  one collection ("docs:*" = every collection)
//   tables:<table>     one table ("tables:*" = every table)
//   sql                the SQL and CQL endpoints (statements also need the tables' permissions)
//   cache              cache stats, policies, dependencies, invalidation
//   admin              users, keys, roles, policies, config, audit, metrics
//   *                  everything

export type Action = 'read' | 'write';
export const ACTIONS: readonly Action[] = ['read', 'write'];

export type Permission = { readonly resource: string; readonly actions: readonly Action[] };

export type Role = { readonly name: string; readonly permissions: readonly Permission[]; readonly builtin?: boolean };

const DATA_RESOURCES = ['kv:', 'docs:*', 'tables:*', 'sql', 'cache'];

export const BUILTIN_ROLES: readonly Role[] = [
  { name: 'admin', permissions: [{ resource: '*', actions: ['read', 'write'] }], builtin: true },
  { name: 'readwrite', permissions: DATA_RESOURCES.map((resource) => ({ resource, actions: ['read', 'write'] as Action[] })), builtin: true },
  { name: 'readonly', permissions: DATA_RESOURCES.map((resource) => ({ resource, actions: ['read'] as Action[] })), builtin: true },
];

export type PrincipalKind = 'system' | 'user' | 'key' | 'token' | 'anonymous';

export type Principal = {
  readonly kind: PrincipalKind;
  /** user name, key id, or the JWT subject. */
  readonly id: string;
  /** The subject RLS reads as auth.uid() and {sub}. */
  readonly sub: string;
  readonly roles: readonly string[];
  /** The claims RLS reads with auth.jwt() and $$CLAIMS (a JWT's payload, or a user's/key's claims). */
  readonly claims: Readonly<Record<string, unknown>>;
  /** Unix seconds after which the credential stops working (undefined: never). */
  readonly expiresAt?: number;
  /** Admins (and the system principal when auth is off) bypass row-level security, like PostgreSQL's BYPASSRLS. */
  readonly bypassRls: boolean;
  can(resource: string, action: Action): boolean;
  /** Rate-limit identity: "key:<id>", "sub:<sub>", "user:<name>" or "ip:<addr>". */
  readonly limitKey: string;
};

/** When auth is off: everything is allowed and no policy applies (today's open dev server). */
export const SYSTEM: Principal = {
  kind: 'system',
  id: 'system',
  sub: 'system',
  roles: ['admin'],
  claims: {},
  bypassRls: true,
  can: () => true,
  limitKey: 'system',
};

export const ANONYMOUS_ID = 'anonymous';

/** Does a permission's resource pattern cover this resource? */
export function resourceMatches(pattern: string, resource: string): boolean {
  if (pattern === '*') return true;
  if (pattern === resource) return true;
  const colon = pattern.indexOf(':');
  if (colon < 0) return false;
  const kind = pattern.slice(0, colon + 1);
  if (!resource.startsWith(kind)) return false;
  const name = pattern.slice(colon + 1);
  if (name === '*') return true;
  // kv:<prefix> covers every key (and every narrower prefix) under it.
  if (kind === 'kv:') return resource.startsWith(pattern);
  return false;
}

export type CompiledPermissions = {
  can(resource: string, action: Action): boolean;
  readonly admin: boolean;
};

/** The union of the roles' permissions (unknown role names give nothing). */
export function compilePermissions(roles: readonly string[], lookup: (name: string) => Role | undefined): CompiledPermissions {
  const read: string[] = [];
  const write: string[] = [];
  for (const name of roles) {
    const role = lookup(name);
    if (role === undefined) continue;
    for (const p of role.permissions) {
      if (p.actions.includes('read')) read.push(p.resource);
      if (p.actions.includes('write')) write.push(p.resource);
    }
  }
  const admin = write.includes('*') || write.includes('admin');
  return {
    admin,
    can: (resource, action) => {
      const list = action === 'read' ? read : write;
      for (const pattern of list) if (resourceMatches(pattern, resource)) return true;
      return false;
    },
  };
}

/** Resource names: "kv:user:1", "docs:orders", "tables:t". */
export const kvResource = (key: string): string => `kv:${key}`;
export const docsResource = (collection: string): string => `docs:${collection}`;
export const tablesResource = (table: string): string => `tables:${table}`;

/** Checks a resource pattern given by an admin (POST /api/v1/auth/roles); returns a problem or null. */
export function resourceProblem(resource: unknown): string | null {
  if (typeof resource !== 'string' || resource === '') return 'resource must be a non-empty string';
  if (resource.length > 512) return 'resource must be at most 512 characters';
  if (resource === '*' || resource === 'sql' || resource === 'cache' || resource === 'admin') return null;
  if (resource.startsWith('kv:')) return null;
  if (/^(docs|tables):(\*|[^*]+)$/.test(resource)) return null;
  return `unknown resource "${resource}": use kv:<prefix>, docs:<collection>, tables:<table>, sql, cache, admin or *`;
}
