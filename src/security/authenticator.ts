// Credential → principal, once per request, before dispatch. A bearer value
// is an API key ("mk_…") or a JWT (the server's own session token or an
// outside issuer's); the dashboard's session cookie carries the same JWT and
// needs the CSRF header on unsafe methods. Resolved principals are cached by
// credential until they expire or the auth store changes, so a request with
// a known credential pays one Map lookup.

import { MantisError } from '../../shared/errors.js';
import type { AuthStore } from './auth-store.js';
import { compilePermissions, type Principal } from './principal.js';
import { TokenError, type Tokens } from './tokens.js';

export const SESSION_COOKIE = 'mantis_session';
export const CSRF_COOKIE = 'mantis_csrf';
export const CSRF_HEADER = 'x-csrf-token';

const CACHE_MAX = 10_000;

export class AuthFailure extends MantisError {
  constructor(
    message: string,
    /** The WWW-Authenticate challenge (RFC 6750). */
    readonly challenge: string,
  ) {
    super('UNAUTHORIZED', message);
  }
}

export function challengeFor(error?: string, description?: string): string {
  if (error === undefined) return 'Bearer realm="mantisdb"';
  return `Bearer realm="mantisdb", error="${error}", error_description="${(description ?? '').replace(/["\\]/g, '')}"`;
}

type Cached = { readonly credential: string; readonly principal: Principal; readonly epoch: number; readonly csrf: string | undefined };

const cacheKey = (credential: string): string => (credential.length <= 32 ? credential : credential.slice(-32));

export type Credential = {
  /** The Authorization header ('' when absent). */
  readonly authorization: string;
  /** The Cookie header ('' when absent). */
  readonly cookie: string;
  readonly method: string;
  /** The X-CSRF-Token header ('' when absent). */
  readonly csrfHeader: string;
  readonly ip: string;
};

export class Authenticator {
  private readonly cache = new Map<string, Cached>();

  constructor(
    private readonly store: AuthStore,
    private readonly tokens: Tokens,
  ) {}

  /** The principal of a request: synchronously when the credential is cached, else a promise. Throws/rejects AuthFailure. */
  resolve(c: Credential): Principal | Promise<Principal> {
    let bearer: string | null = null;
    let fromCookie = false;
    if (c.authorization !== '') {
      const space = c.authorization.indexOf(' ');
      const scheme = space < 0 ? c.authorization : c.authorization.slice(0, space);
      if (scheme.toLowerCase() !== 'bearer' || space < 0) throw new AuthFailure('the Authorization header must be "Bearer <token or API key>"', challengeFor('invalid_request', 'use the Bearer scheme'));
      bearer = c.authorization.slice(space + 1).trim();
    } else if (c.cookie !== '') {
      bearer = cookieValue(c.cookie, SESSION_COOKIE);
      fromCookie = bearer !== null;
    }
    if (bearer === null || bearer === '') throw new AuthFailure('authentication required: send Authorization: Bearer <token or API key>', challengeFor());
    // Keyed by the credential's last 32 characters (a signature or the key's secret; hashing a
    // whole JWT on every request costs more), then compared whole.
    const hit = this.cache.get(cacheKey(bearer));
    if (hit !== undefined && hit.credential === bearer && hit.epoch === this.store.epoch) {
      const exp = hit.principal.expiresAt;
      if (exp !== undefined && exp * 1000 <= Date.now()) {
        this.cache.delete(cacheKey(bearer));
        throw new AuthFailure(hit.principal.kind === 'key' ? 'the API key has expired' : 'the token has expired', challengeFor('invalid_token', 'expired'));
      }
      if (fromCookie) this.checkCsrf(c, hit.csrf);
      return hit.principal;
    }
    if (bearer.startsWith('mk_')) {
      const principal = this.keyPrincipal(bearer, c.ip);
      this.remember(bearer, principal, undefined);
      return principal;
    }
    return this.tokenPrincipal(bearer).then(({ principal, csrf }) => {
      this.remember(bearer, principal, csrf);
      if (fromCookie) this.checkCsrf(c, csrf);
      return principal;
    });
  }

  /** Drops cached principals (a key revoked, a user changed: the store's epoch does it too). */
  clear(): void {
    this.cache.clear();
  }

  private remember(bearer: string, principal: Principal, csrf: string | undefined): void {
    if (this.cache.size >= CACHE_MAX) this.cache.clear();
    this.cache.set(cacheKey(bearer), { credential: bearer, principal, epoch: this.store.epoch, csrf });
  }

  private checkCsrf(c: Credential, csrf: string | undefined): void {
    if (c.method === 'get' || c.method === 'head' || c.method === 'options') return;
    if (csrf === undefined || c.csrfHeader !== csrf) {
      throw new MantisError('CSRF_FAILED', `a request authenticated by the session cookie must send the ${CSRF_COOKIE} cookie's value in the X-CSRF-Token header`);
    }
  }

  private keyPrincipal(presented: string, _ip: string): Principal {
    const record = this.store.matchKey(presented);
    if (record === 'bad') throw new AuthFailure('the API key is not valid', challengeFor('invalid_token', 'unknown API key'));
    if (record.revoked_at !== null) throw new AuthFailure('the API key has been revoked', challengeFor('invalid_token', 'revoked'));
    if (record.expires_at !== null && record.expires_at * 1000 <= Date.now()) throw new AuthFailure('the API key has expired', challengeFor('invalid_token', 'expired'));
    // A key acts for its creator: it stops when the creator is deleted and never exceeds the creator's current roles.
    let roles = record.roles;
    if (record.created_by.startsWith('user:')) {
      const creator = this.store.user(record.created_by.slice('user:'.length));
      if (creator === undefined) throw new AuthFailure('the API key\'s owner no longer exists', challengeFor('invalid_token', 'revoked'));
      if (!creator.roles.includes('admin')) roles = roles.filter((r) => creator.roles.includes(r));
    }
    const perms = compilePermissions(roles, (n) => this.store.role(n));
    return {
      kind: 'key',
      id: record.id,
      sub: `key:${record.id}`,
      roles,
      claims: { ...record.claims, sub: `key:${record.id}`, roles },
      ...(record.expires_at === null ? {} : { expiresAt: record.expires_at }),
      bypassRls: perms.admin,
      can: perms.can,
      limitKey: `key:${record.id}`,
    };
  }

  private async tokenPrincipal(token: string): Promise<{ principal: Principal; csrf: string | undefined }> {
    let verified;
    try {
      verified = await this.tokens.verify(token);
    } catch (error) {
      if (error instanceof TokenError) throw new AuthFailure(error.message, challengeFor('invalid_token', error.reason));
      throw error;
    }
    const { payload, own } = verified;
    if (own && typeof payload.jti === 'string' && this.store.sessionRevoked(payload.jti)) {
      throw new AuthFailure('the session has ended (logged out)', challengeFor('invalid_token', 'revoked'));
    }
    const sub = String(payload.sub);
    let roles = rolesOf(payload[own ? 'roles' : this.tokens.settings.rolesClaim]);
    if (own && typeof payload.usr === 'string') {
      // A local user's token: a deleted user's tokens stop working at once; roles are the user's current ones.
      const user = this.store.user(payload.usr);
      if (user === undefined) throw new AuthFailure('the user of this token no longer exists', challengeFor('invalid_token', 'revoked'));
      roles = [...user.roles];
    }
    const perms = compilePermissions(roles, (n) => this.store.role(n));
    const claims: Record<string, unknown> = { ...payload };
    delete claims.csrf;
    const principal: Principal = {
      kind: own && typeof payload.usr === 'string' ? 'user' : 'token',
      id: typeof payload.usr === 'string' ? payload.usr : sub,
      sub,
      roles,
      claims,
      ...(payload.exp === undefined ? {} : { expiresAt: payload.exp }),
      bypassRls: perms.admin,
      can: perms.can,
      limitKey: `sub:${sub}`,
    };
    return { principal, csrf: typeof payload.csrf === 'string' ? payload.csrf : undefined };
  }
}

function rolesOf(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((r): r is string => typeof r === 'string');
  if (typeof value === 'string') return value.split(/[\s,]+/).filter((r) => r !== '');
  return [];
}

export function cookieValue(header: string, name: string): string | null {
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    try {
      return decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      throw new AuthFailure(`the ${name} cookie is not valid percent-encoding`, challengeFor('invalid_token', 'malformed cookie'));
    }
  }
  return null;
}
