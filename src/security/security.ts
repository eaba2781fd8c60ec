// The router's security front: one object the listener asks, per request,
// "who is this and may they?" (gate), plus the response headers every answer
// carries, the login (argon2id, brute-force slow-down and lock), the bootstrap
// admin, and the KV row-level check. Identity is settled here before dispatch;
// the handlers get the principal and the query layers apply its policies.

import { hash, verify, Algorithm } from '@node-rs/argon2';
import { MantisError } from '../../shared/errors.js';
import type { Logger } from '../log.js';
import type { HttpReply } from '../http/reply.js';
import { errorReply } from '../http/reply.js';
import type { RouteLabel } from '../http/routes.js';
import { needOf, type Need } from './access.js';
import type { AuditLog } from './audit.js';
import type { AuthStore, UserRecord } from './auth-store.js';
import { AuthFailure, Authenticator, type Credential } from './authenticator.js';
import { kvRuleFor } from './policy-types.js';
import { SYSTEM, type Action, type Principal } from './principal.js';
import { RateLimiter, routeClassOf, tooManyConnections, type LimitSettings } from './rate-limit.js';
import type { Tokens } from './tokens.js';

export type SecurityOptions = {
  readonly auth: boolean;
  readonly tls: boolean;
  readonly corsOrigins: readonly string[];
  readonly limits: LimitSettings;
  readonly store: AuthStore;
  readonly tokens: Tokens;
  readonly audit: AuditLog;
  readonly log: Logger;
};

export type GateRequest = {
  readonly route: RouteLabel;
  readonly method: string;
  readonly rawPath: string;
  readonly rawQuery: string;
  readonly authorization: string;
  readonly cookie: string;
  readonly csrfHeader: string;
  /** Called only when the client IP is needed (anonymous callers, per-IP limits). */
  readonly ip: () => string;
};

export const ARGON2 = { algorithm: Algorithm.Argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/** After this many failed logins (per user name and per IP) each further attempt waits; at LOCK_AFTER it is locked. */
const SLOW_AFTER = 3;
const LOCK_AFTER = 10;
const FAILURE_WINDOW_MS = 15 * 60_000;
const LOCK_MS = 15 * 60_000;
const MAX_DELAY_MS = 4_000;

type Failures = { count: number; first: number; lockedUntil: number };

const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

export class Security {
  readonly authOn: boolean;
  readonly limiter: RateLimiter;
  readonly authenticator: Authenticator;
  readonly store: AuthStore;
  readonly tokens: Tokens;
  readonly audit: AuditLog;
  /** Written on every answer. */
  readonly headers: readonly (readonly [string, string])[];
  private readonly cors: ReadonlySet<string>;
  private readonly failures = new Map<string, Failures>();
  private dummyHash: Promise<string>;
  private readonly kvRules = new WeakMap<Principal, { epoch: number; rules: Map<string, ((key: string) => boolean) | null> }>();
  private kvPoliciesEpoch = -1;
  private kvPoliciesPresent = false;
  private readonly log: Logger;

  constructor(options: SecurityOptions) {
    this.authOn = options.auth;
    this.store = options.store;
    this.tokens = options.tokens;
    this.audit = options.audit;
    this.log = options.log;
    this.limiter = new RateLimiter(options.limits);
    this.authenticator = new Authenticator(options.store, options.tokens);
    this.cors = new Set(options.corsOrigins);
    const headers: [string, string][] = [
      ['X-Content-Type-Options', 'nosniff'],
      ['X-Frame-Options', 'DENY'],
      ['Referrer-Policy', 'no-referrer'],
      ['Content-Security-Policy', CSP],
      ['Cross-Origin-Opener-Policy', 'same-origin'],
    ];
    if (options.tls) headers.push(['Strict-Transport-Security', 'max-age=31536000; includeSubDomains']);
    this.headers = headers;
    // Unknown user names are verified against this, so they take as long as known ones.
    this.dummyHash = hash('mantisdb-no-such-user', ARGON2);
  }

  /** Does the gate do anything per request (auth, or a limit)? */
  get active(): boolean {
    return this.authOn || this.limiter.enabled || this.limiter.settings.connectionsPerIp > 0;
  }

  /**
   * The principal the request runs as, or the reply that refuses it (401, 403, 429). Synchronous
   * when the credential is cached; otherwise a promise.
   */
  gate(r: GateRequest): Principal | HttpReply | Promise<Principal | HttpReply> {
    if (!this.authOn) return this.limited(`ip:${r.ip()}`, r) ?? SYSTEM;
    const need = needOf(r.route, r.method, r.rawPath, r.rawQuery);
    const credential: Credential = { authorization: r.authorization, cookie: r.cookie, method: r.method, csrfHeader: r.csrfHeader, ip: '' };
    if (need.kind === 'public' && r.authorization === '' && r.cookie === '') {
      const anonymous = anonymousPrincipal(r.ip());
      return this.limited(anonymous.limitKey, r) ?? anonymous;
    }
    let resolved: Principal | Promise<Principal>;
    try {
      resolved = this.authenticator.resolve(credential);
    } catch (error) {
      return this.refusal(error, need, r);
    }
    if (resolved instanceof Promise) {
      return resolved.then(
        (principal) => this.authorize(principal, need, r),
        (error: unknown) => this.refusal(error, need, r),
      );
    }
    return this.authorize(resolved, need, r);
  }

  private refusal(error: unknown, need: Need, r: GateRequest): Principal | HttpReply {
    if (need.kind === 'public' && error instanceof AuthFailure) {
      // A bad credential on a public route (login with a stale cookie): serve it anonymously.
      const anonymous = anonymousPrincipal(r.ip());
      return this.limited(anonymous.limitKey, r) ?? anonymous;
    }
    if (error instanceof AuthFailure) {
      // Guessing keys or tokens costs the client IP's tokens like any request.
      const anonymous = anonymousPrincipal(r.ip());
      const limited = this.limited(anonymous.limitKey, r);
      if (limited !== null) return limited;
      const reply = errorReply(error);
      return { ...reply, headers: [['WWW-Authenticate', error.challenge]] };
    }
    if (error instanceof MantisError) return errorReply(error);
    this.log.error({ err: error }, 'authentication failed unexpectedly');
    return errorReply(new MantisError('INTERNAL', 'internal error; see the server log'));
  }

  private authorize(principal: Principal, need: Need, r: GateRequest): Principal | HttpReply {
    const limited = this.limited(principal.limitKey, r);
    if (limited !== null) return limited;
    if (need.kind === 'perm' && !principal.can(need.resource, need.action)) return forbidden(need.resource, need.action);
    if (r.route === '/api/v1/kv/:key' && need.kind === 'perm' && !principal.bypassRls && this.hasKvPolicies()) {
      // One key in the path: its row-level rule is checked here, before any shard is asked.
      const key = need.resource.slice('kv:'.length);
      const command = r.method === 'put' ? 'update' : r.method === 'delete' ? 'delete' : 'select';
      const rule = this.kvRule(principal, command);
      if (rule !== null && !rule(key)) {
        return r.method === 'put'
          ? errorReply(new MantisError('FORBIDDEN', `row-level security: key "${key}" is outside the keys this caller may write`))
          : errorReply(new MantisError('KEY_NOT_FOUND', 'no such key (or it expired)'));
      }
    }
    return principal;
  }

  private hasKvPolicies(): boolean {
    if (this.kvPoliciesEpoch !== this.store.epoch) {
      this.kvPoliciesEpoch = this.store.epoch;
      this.kvPoliciesPresent = this.store.policies().some((p) => p.kind === 'kv');
    }
    return this.kvPoliciesPresent;
  }

  private limited(identity: string, r: GateRequest): HttpReply | null {
    if (!this.limiter.enabled) return null;
    return this.limiter.take(identity, routeClassOf(r.route, r.method, r.rawPath));
  }

  /** Per-IP concurrency (requests in flight plus streams); null when admitted (call leave() when done). */
  admit(ip: string): HttpReply | null {
    return this.limiter.enter(ip) ? null : tooManyConnections(ip, this.limiter.settings.connectionsPerIp);
  }

  leave(ip: string): void {
    this.limiter.leave(ip);
  }

  get corsEnabled(): boolean {
    return this.cors.size > 0;
  }

  /** CORS headers for an allowed Origin ('' when the request has none or it is not allowed). */
  corsHeaders(origin: string, preflight: boolean): (readonly [string, string])[] {
    if (origin === '' || !(this.cors.has(origin) || this.cors.has('*'))) return [];
    const out: [string, string][] = [
      ['Access-Control-Allow-Origin', origin],
      ['Vary', 'Origin'],
      ['Access-Control-Allow-Credentials', 'true'],
      ['Access-Control-Expose-Headers', 'Mantis-Txn, Retry-After, RateLimit, RateLimit-Policy, WWW-Authenticate'],
    ];
    if (preflight) {
      out.push(['Access-Control-Allow-Methods', 'GET, HEAD, PUT, POST, PATCH, DELETE, OPTIONS']);
      out.push(['Access-Control-Allow-Headers', 'Authorization, Content-Type, Mantis-Txn, Mantis-Deadline-Ms, X-CSRF-Token, Accept']);
      out.push(['Access-Control-Max-Age', '600']);
    }
    return out;
  }

  // --- login ---------------------------------------------------------------

  /** Checks a user name and password (constant time, slowed and locked after repeated failures). */
  async login(username: string, password: string, ip: string): Promise<UserRecord> {
    const now = Date.now();
    const keys = [`user:${username}`, `ip:${ip}`];
    for (const key of keys) {
      const f = this.failures.get(key);
      if (f !== undefined && f.lockedUntil > now) {
        const waitS = Math.ceil((f.lockedUntil - now) / 1000);
        this.audit.record({ action: 'auth.login', outcome: 'failure', actor: 'anonymous', ip, target: `user:${username}`, details: { reason: 'locked' } });
        const reply = new MantisError('ACCOUNT_LOCKED', `too many failed logins; try again in ${waitS} s`, { retry_after_s: waitS });
        throw reply;
      }
    }
    const delay = Math.max(...keys.map((key) => this.delayFor(key, now)));
    // Counted as a failure before the password is checked, so parallel guesses cannot slip past the lock.
    for (const key of keys) this.fail(key, now);
    if (delay > 0) await new Promise((done) => setTimeout(done, delay));
    const user = this.store.user(username);
    const stored = user !== undefined && user.hash !== '' ? user.hash : await this.dummyHash;
    let ok = false;
    try {
      ok = await verify(stored, password);
    } catch {
      ok = false;
    }
    if (!ok || user === undefined || user.hash === '') {
      this.audit.record({ action: 'auth.login', outcome: 'failure', actor: 'anonymous', ip, target: `user:${username}`, details: { reason: 'bad credentials' } });
      throw new AuthFailure('invalid user name or password', 'Bearer realm="mantisdb"');
    }
    this.failures.delete(`user:${username}`);
    const byIp = this.failures.get(`ip:${ip}`);
    if (byIp !== undefined && byIp.count > 0) byIp.count--; // this attempt was counted in advance
    this.audit.record({ action: 'auth.login', outcome: 'success', actor: `user:${username}`, ip });
    return user;
  }

  private delayFor(key: string, now: number): number {
    const f = this.failures.get(key);
    if (f === undefined || now - f.first > FAILURE_WINDOW_MS || f.count < SLOW_AFTER) return 0;
    return Math.min(MAX_DELAY_MS, 250 * 2 ** (f.count - SLOW_AFTER));
  }

  private fail(key: string, now: number): void {
    let f = this.failures.get(key);
    if (f === undefined || now - f.first > FAILURE_WINDOW_MS) {
      f = { count: 0, first: now, lockedUntil: 0 };
      this.failures.set(key, f);
    }
    f.count++;
    if (f.count >= LOCK_AFTER) f.lockedUntil = now + LOCK_MS;
    if (this.failures.size > 100_000) this.failures.clear();
  }

  // --- KV row-level security ------------------------------------------------

  /**
   * The KV rule for a principal and command: null when no policy limits it, else a predicate on
   * keys (keys under a policy's scope must be under one of the rendered templates).
   */
  kvRule(principal: Principal, command: 'select' | 'insert' | 'update' | 'delete'): ((key: string) => boolean) | null {
    if (principal.bypassRls) return null;
    // Principals are cached per credential, so their rules are built once per store change, not per request.
    let cached = this.kvRules.get(principal);
    if (cached === undefined || cached.epoch !== this.store.epoch) {
      cached = { epoch: this.store.epoch, rules: new Map() };
      this.kvRules.set(principal, cached);
    }
    let rule = cached.rules.get(command);
    if (rule === undefined) {
      rule = kvRuleFor(this.store.policies(), principal, command);
      cached.rules.set(command, rule);
    }
    return rule;
  }


  /** May the principal read/write this key (permissions and KV policies)? */
  kvAllowed(principal: Principal, key: string, action: Action, command: 'select' | 'insert' | 'update' | 'delete'): 'ok' | 'forbidden' | 'hidden' {
    if (!principal.can(`kv:${key}`, action)) return 'forbidden';
    const rule = this.kvRule(principal, command);
    if (rule === null || rule(key)) return 'ok';
    return 'hidden';
  }

  // --- transaction ownership -------------------------------------------------

  private readonly txnOwners = new Map<string, { owner: string; at: number }>();

  /** Records who began a transaction (POST /api/v1/txn, SQL BEGIN). */
  claimTxn(id: string, principal: Principal): void {
    if (!this.authOn) return;
    if (this.txnOwners.size >= 100_000) {
      // Transactions live at most --txn-max-age-ms (a minute by default): drop claims older than a day first.
      const cutoff = Date.now() - 86_400_000;
      for (const [key, claim] of this.txnOwners) if (claim.at < cutoff) this.txnOwners.delete(key);
      if (this.txnOwners.size >= 100_000) this.txnOwners.clear();
    }
    this.txnOwners.set(id, { owner: principal.limitKey, at: Date.now() });
  }

  releaseTxn(id: string): void {
    this.txnOwners.delete(id);
  }

  /** null when the principal may use the transaction, else the 403 (it belongs to another identity). */
  txnRefusal(id: string, principal: Principal): HttpReply | null {
    const claim = this.txnOwners.get(id);
    if (claim === undefined || claim.owner === principal.limitKey) return null;
    return errorReply(new MantisError('FORBIDDEN', `transaction "${id}" belongs to another identity`));
  }

  // --- bootstrap ------------------------------------------------------------

  /** Creates the bootstrap admin from MANTIS_ADMIN_PASSWORD on first start (no user "admin" yet). */
  async bootstrap(adminPassword: string | undefined): Promise<void> {
    if (adminPassword === undefined || adminPassword === '' || this.store.user('admin') !== undefined) return;
    await this.store.putUser({
      username: 'admin',
      hash: await hash(adminPassword, ARGON2),
      roles: ['admin'],
      claims: {},
      created_at: new Date().toISOString(),
      source: 'local',
    });
    this.audit.record({ action: 'auth.user.create', outcome: 'success', actor: 'system', target: 'user:admin', details: { bootstrap: true } });
    this.log.info('bootstrap admin user "admin" created');
  }

  close(): void {
    this.limiter.close();
  }
}

export function anonymousPrincipal(ip: string): Principal {
  return { kind: 'anonymous', id: 'anonymous', sub: 'anonymous', roles: [], claims: {}, bypassRls: false, can: () => false, limitKey: `ip:${ip}` };
}

export function forbidden(resource: string, action: Action): HttpReply {
  return errorReply(new MantisError('FORBIDDEN', `permission denied: needs ${action} on ${resource}`, { permission: `${resource}:${action}` }));
}
