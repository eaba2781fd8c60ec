// The identity API of a real server (dist/src/main.js, --auth on, --log-level
// debug, MANTIS_JWT_SECRET set): login and its cookies, users, API keys
// (shown once, revoked and expired at once), logout, the session cookie with
// its CSRF header, the security and CORS headers, the brute-force slow-down
// and lock, the audit log, the masked configuration — and that no password,
// key, token or signing secret ever reaches the server's stdout/stderr.
//
// Every client IP counts failed logins (src/security/security.ts), so the
// failing logins come from their own loopback addresses (127.0.0.x) and the
// admin's from 127.0.0.1 stays unslowed.

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentFrom, call, cookieFrom, fails, jwtPayload, login, ok, sleep, type Reply } from '../helpers/auth-http.js';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';

const ADMIN_PASSWORD = `Adm1n-${randomBytes(12).toString('hex')}`;
const JWT_SECRET = `jwt-${randomBytes(24).toString('hex')}`;
const ALICE_PASSWORD = `alice-${randomBytes(8).toString('hex')}`;
const BOB_PASSWORD = `bob-${randomBytes(8).toString('hex')}`;
const VICTIM_PASSWORD = `victim-${randomBytes(8).toString('hex')}`;
const APP_ORIGIN = 'http://app.example';

let server: ServerProcess;
let base: string;
let admin: string;
/** Every secret this file creates or sees: none may appear in the server's output or audit log. */
const secrets = new Set<string>([ADMIN_PASSWORD, JWT_SECRET, ALICE_PASSWORD, BOB_PASSWORD, VICTIM_PASSWORD]);

const url = (path: string): string => `${base}${path}`;

beforeAll(async () => {
  server = await startServer({
    shards: 1,
    extraArgs: ['--auth', 'on', '--log-level', 'debug', '--cors-origins', APP_ORIGIN],
    env: { MANTIS_ADMIN_PASSWORD: ADMIN_PASSWORD, MANTIS_JWT_SECRET: JWT_SECRET },
  });
  base = server.url;
  admin = (await login(base, 'admin', ADMIN_PASSWORD)).token;
  secrets.add(admin);
});

afterAll(async () => {
  await cleanup();
});

async function createUser(username: string, password: string, extra: Record<string, unknown> = {}): Promise<Reply> {
  return call(url('/api/v1/auth/users'), { method: 'POST', token: admin, json: { username, password, ...extra } });
}

type KeyData = { id: string; key: string; name: string; roles: string[]; expires_at: string | null; revoked_at: string | null };

async function createKey(token: string, body: Record<string, unknown>): Promise<Reply> {
  return call(url('/api/v1/auth/keys'), { method: 'POST', token, json: body });
}

describe('login', () => {
  it('answers 200 with a token, its expiry, and the session and CSRF cookies', async () => {
    const session = await login(base, 'admin', ADMIN_PASSWORD);
    secrets.add(session.token);
    const payload = jwtPayload(session.token);
    expect(payload).toMatchObject({ sub: 'admin', usr: 'admin', roles: ['admin'], iss: 'mantisdb', aud: 'mantisdb' });
    expect(typeof payload.jti).toBe('string');
    const expiresMs = Date.parse(session.expiresAt);
    expect(expiresMs).toBe((payload.exp as number) * 1000);
    expect(expiresMs - Date.now()).toBeGreaterThan(3500_000);
    expect(expiresMs - Date.now()).toBeLessThanOrEqual(3600_000);

    const sessionCookie = cookieFrom(session.reply.setCookies, 'mantis_session');
    expect(sessionCookie?.value).toBe(session.token);
    expect(sessionCookie?.attributes).toEqual(expect.arrayContaining(['HttpOnly', 'Secure', 'SameSite=Strict', 'Path=/']));
    const csrfCookie = cookieFrom(session.reply.setCookies, 'mantis_csrf');
    expect(csrfCookie?.value).toBe(session.csrf);
    expect(csrfCookie?.value).toBe(payload.csrf);
    // The dashboard's script reads the CSRF cookie to echo it: not HttpOnly, but Secure and SameSite.
    expect(csrfCookie?.attributes).toEqual(expect.arrayContaining(['Secure', 'SameSite=Strict']));
    expect(csrfCookie?.attributes).not.toContain('HttpOnly');
  });

  it('refuses a bad password with 401 UNAUTHORIZED and a Bearer challenge', async () => {
    const from = agentFrom('127.0.0.20');
    const reply = await call(url('/api/v1/auth/login'), { method: 'POST', json: { username: 'admin', password: 'not-the-password' }, dispatcher: from });
    const error = fails(reply, 401, 'UNAUTHORIZED');
    expect(error.message).toBe('invalid user name or password');
    expect(reply.setCookies).toEqual([]);
    expect(reply.headers.get('www-authenticate') ?? '(no WWW-Authenticate header)').toMatch(/^Bearer\b/);
  });

  it('gives an unknown user the same 401 as a bad password', async () => {
    const reply = await call(url('/api/v1/auth/login'), { method: 'POST', json: { username: 'nobody-here', password: 'whatever-pass' }, dispatcher: agentFrom('127.0.0.21') });
    expect(fails(reply, 401, 'UNAUTHORIZED').message).toBe('invalid user name or password');
  });

  it('refuses a request without a credential, or with a bad one, with 401 and WWW-Authenticate: Bearer', async () => {
    const none = await call(url('/api/v1/kv/some-key'));
    fails(none, 401, 'UNAUTHORIZED');
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="mantisdb"');
    const garbage = await call(url('/api/v1/kv/some-key'), { token: 'not.a.jwt' });
    fails(garbage, 401, 'UNAUTHORIZED');
    expect(garbage.headers.get('www-authenticate')).toMatch(/^Bearer realm="mantisdb", error="invalid_token"/);
    const basic = await call(url('/api/v1/kv/some-key'), { headers: { authorization: 'Basic YWRtaW46eA==' } });
    fails(basic, 401, 'UNAUTHORIZED');
    expect(basic.headers.get('www-authenticate')).toMatch(/^Bearer realm="mantisdb", error="invalid_request"/);
  });

  it('refuses malformed login bodies with 400', async () => {
    const from = agentFrom('127.0.0.22');
    const post = (json: unknown): Promise<Reply> => call(url('/api/v1/auth/login'), { method: 'POST', json, dispatcher: from });
    fails(await post({ username: 'admin' }), 400, 'INVALID_PARAMETER');
    fails(await post({ username: 'admin', password: 'x', remember: true }), 400, 'INVALID_PARAMETER');
    fails(await post('{"username":'), 400, 'INVALID_JSON');
  });

  it('GET /api/v1/auth/me describes the caller', async () => {
    const me = ok<Record<string, unknown>>(await call(url('/api/v1/auth/me'), { token: admin }));
    expect(me).toMatchObject({ kind: 'user', id: 'admin', sub: 'admin', roles: ['admin'], admin: true, auth: true });
    expect(typeof me.expires_at).toBe('string');
    expect(me.claims).not.toHaveProperty('csrf');
  });
});

describe('users', () => {
  it('creates a user (201) whose claims are copied into its token', async () => {
    const created = ok<Record<string, unknown>>(await createUser('alice', ALICE_PASSWORD, { roles: ['readonly'], claims: { tenant: 'acme', team: 7 } }), 201);
    expect(created).toMatchObject({ username: 'alice', roles: ['readonly'], claims: { tenant: 'acme', team: 7 }, source: 'local' });
    expect(JSON.stringify(created)).not.toContain('hash');
    const alice = await login(base, 'alice', ALICE_PASSWORD);
    secrets.add(alice.token);
    expect(jwtPayload(alice.token)).toMatchObject({ sub: 'alice', usr: 'alice', roles: ['readonly'], tenant: 'acme', team: 7 });
    const me = ok<{ kind: string; claims: Record<string, unknown>; admin: boolean }>(await call(url('/api/v1/auth/me'), { token: alice.token }));
    expect(me.kind).toBe('user');
    expect(me.admin).toBe(false);
    expect(me.claims.tenant).toBe('acme');
    const list = ok<{ username: string }[]>(await call(url('/api/v1/auth/users'), { token: admin }));
    expect(list.map((u) => u.username).sort()).toEqual(['admin', 'alice']);
    expect(JSON.stringify(list)).not.toMatch(/argon2|hash/);
  });

  it('refuses a duplicate user name with 409 USER_EXISTS', async () => {
    fails(await createUser('alice', 'another-password'), 409, 'USER_EXISTS');
  });

  it('refuses bad bodies with 400 and a code', async () => {
    const cases: [Record<string, unknown> | string, string][] = [
      [{ username: 'carol' }, 'INVALID_PARAMETER'],
      [{ username: 'carol', password: 'short' }, 'INVALID_PARAMETER'],
      [{ username: 'carol', password: 'long-enough-1', extra: true }, 'INVALID_PARAMETER'],
      [{ username: 'carol', password: 'long-enough-1', roles: ['no-such-role'] }, 'INVALID_PARAMETER'],
      [{ username: 'carol', password: 'long-enough-1', roles: 'admin' }, 'INVALID_PARAMETER'],
      [{ username: 'car ol', password: 'long-enough-1' }, 'INVALID_PARAMETER'],
      [{ username: 'carol', password: 'long-enough-1', claims: { sub: 'admin' } }, 'INVALID_PARAMETER'],
      [{ username: 'carol', password: 'long-enough-1', claims: ['x'] }, 'INVALID_PARAMETER'],
      ['{"username": "carol"', 'INVALID_JSON'],
      ['["carol"]', 'INVALID_JSON'],
    ];
    for (const [json, code] of cases) {
      const reply = await call(url('/api/v1/auth/users'), { method: 'POST', token: admin, json });
      fails(reply, 400, code);
    }
    const plain = await call(url('/api/v1/auth/users'), { method: 'POST', token: admin, json: { username: 'carol', password: 'long-enough-1' }, headers: { 'content-type': 'text/plain' } });
    fails(plain, 415, 'UNSUPPORTED_MEDIA_TYPE');
    const users = ok<{ username: string }[]>(await call(url('/api/v1/auth/users'), { token: admin }));
    expect(users.map((u) => u.username)).not.toContain('carol');
  });

  it('lets only admins manage users (403 FORBIDDEN)', async () => {
    const alice = await login(base, 'alice', ALICE_PASSWORD);
    secrets.add(alice.token);
    fails(await call(url('/api/v1/auth/users'), { method: 'POST', token: alice.token, json: { username: 'mallory', password: 'long-enough-1' } }), 403, 'FORBIDDEN');
    fails(await call(url('/api/v1/auth/users'), { token: alice.token }), 403, 'FORBIDDEN');
  });

  it('makes a deleted user\'s token stop working at once (401)', async () => {
    ok(await createUser('bob', BOB_PASSWORD, { roles: ['readwrite'] }), 201);
    const bob = await login(base, 'bob', BOB_PASSWORD);
    secrets.add(bob.token);
    ok(await call(url('/api/v1/kv/bob-was-here'), { method: 'PUT', token: bob.token, json: { v: 1 } }));
    ok(await call(url('/api/v1/auth/users/bob'), { method: 'DELETE', token: admin }));
    const after = await call(url('/api/v1/kv/bob-was-here'), { token: bob.token });
    fails(after, 401, 'UNAUTHORIZED');
    expect(after.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    fails(await call(url('/api/v1/auth/users/bob'), { method: 'DELETE', token: admin }), 404, 'USER_NOT_FOUND');
    const relogin = await call(url('/api/v1/auth/login'), { method: 'POST', json: { username: 'bob', password: BOB_PASSWORD }, dispatcher: agentFrom('127.0.0.23') });
    fails(relogin, 401, 'UNAUTHORIZED');
  });
});

describe('API keys', () => {
  it('shows a created key once; it works; the listing never carries it; revoking it refuses the next request', async () => {
    const created = ok<KeyData>(await createKey(admin, { name: 'ci', roles: ['readwrite'] }), 201);
    secrets.add(created.key);
    expect(created.key).toMatch(/^mk_[A-Za-z0-9]+_[A-Za-z0-9_-]{20,}$/);
    expect(created.key.startsWith(`mk_${created.id}_`)).toBe(true);
    expect(created).toMatchObject({ name: 'ci', roles: ['readwrite'], expires_at: null, revoked_at: null });

    const listed = await call(url('/api/v1/auth/keys'), { token: admin });
    const keys = ok<Record<string, unknown>[]>(listed);
    const entry = keys.find((k) => k.id === created.id);
    expect(entry).toMatchObject({ id: created.id, name: 'ci', created_by: 'user:admin', revoked_at: null });
    expect(entry).not.toHaveProperty('key');
    expect(entry).not.toHaveProperty('hash');
    expect(listed.text).not.toContain(created.key.slice(`mk_${created.id}_`.length));

    ok(await call(url('/api/v1/kv/from-key'), { method: 'PUT', token: created.key, json: { by: 'key' } }));
    const me = ok<Record<string, unknown>>(await call(url('/api/v1/auth/me'), { token: created.key }));
    expect(me).toMatchObject({ kind: 'key', id: created.id, sub: `key:${created.id}`, roles: ['readwrite'], admin: false });
    // readwrite is no admin.
    fails(await call(url('/api/v1/admin/audit'), { token: created.key }), 403, 'FORBIDDEN');

    const revoked = ok<KeyData>(await call(url(`/api/v1/auth/keys/${created.id}`), { method: 'DELETE', token: admin }));
    expect(typeof revoked.revoked_at).toBe('string');
    const after = await call(url('/api/v1/kv/from-key'), { token: created.key });
    fails(after, 401, 'UNAUTHORIZED');
    expect(after.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    // A forged secret for a real id is no key either.
    fails(await call(url('/api/v1/kv/from-key'), { token: `mk_${created.id}_${'A'.repeat(32)}` }), 401, 'UNAUTHORIZED');
    fails(await call(url('/api/v1/auth/keys/no-such-id'), { method: 'DELETE', token: admin }), 404, 'NOT_FOUND');
  });

  it('expires a key created with expires_in_s: 1', async () => {
    // Expiry is in whole seconds from the creation second: start early in a second so the key has most of it.
    while (Date.now() % 1000 > 150) await sleep(10);
    const created = ok<KeyData>(await createKey(admin, { name: 'short-lived', roles: ['readonly'], expires_in_s: 1 }), 201);
    secrets.add(created.key);
    // Rounded up to the next whole second: at least the second asked for, at most one more.
    const remaining = Date.parse(created.expires_at as string) - Date.now();
    expect(remaining).toBeGreaterThan(700);
    expect(remaining).toBeLessThanOrEqual(2000);
    ok(await call(url('/api/v1/auth/me'), { token: created.key }));
    await sleep(2000);
    const after = await call(url('/api/v1/auth/me'), { token: created.key });
    expect(fails(after, 401, 'UNAUTHORIZED').message).toMatch(/expired/);
    expect(after.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
  });

  it('refuses bad key bodies with 400', async () => {
    fails(await createKey(admin, { roles: ['readonly'] }), 400, 'INVALID_PARAMETER');
    fails(await createKey(admin, { name: 'k', roles: ['readonly'], expires_in_s: 0 }), 400, 'INVALID_PARAMETER');
    fails(await createKey(admin, { name: 'k', roles: ['readonly'], expires_in_s: 1.5 }), 400, 'INVALID_PARAMETER');
    fails(await createKey(admin, { name: 'k', roles: ['ghost'] }), 400, 'INVALID_PARAMETER');
    fails(await createKey(admin, { name: 'k', roles: ['readonly'], secret: 'x' }), 400, 'INVALID_PARAMETER');
  });

  it('lets a readonly user make keys only within its own roles (admin role: 403)', async () => {
    const alice = await login(base, 'alice', ALICE_PASSWORD);
    secrets.add(alice.token);
    fails(await createKey(alice.token, { name: 'escalate', roles: ['admin'] }), 403, 'FORBIDDEN');
    fails(await createKey(alice.token, { name: 'escalate', roles: ['readwrite'] }), 403, 'FORBIDDEN');
    fails(await createKey(alice.token, { name: 'claims', roles: ['readonly'], claims: { tenant: 'other' } }), 403, 'FORBIDDEN');
    const own = ok<KeyData>(await createKey(alice.token, { name: 'alice-ro', roles: ['readonly'] }), 201);
    secrets.add(own.key);
    const mine = ok<{ id: string; created_by: string }[]>(await call(url('/api/v1/auth/keys'), { token: alice.token }));
    expect(mine.map((k) => k.id)).toEqual([own.id]);
    expect(mine[0].created_by).toBe('user:alice');
    // A readonly key reads (the stored value comes back as is) but does not write.
    const read = await call(url('/api/v1/kv/from-key'), { token: own.key });
    expect(read.status).toBe(200);
    expect(JSON.parse(read.text)).toEqual({ by: 'key' });
    fails(await call(url('/api/v1/kv/from-key'), { method: 'PUT', token: own.key, json: { no: 1 } }), 403, 'FORBIDDEN');
  });
});

describe('sessions', () => {
  it('logout ends the session: the token is refused afterwards and the cookies are cleared', async () => {
    const alice = await login(base, 'alice', ALICE_PASSWORD);
    secrets.add(alice.token);
    ok(await call(url('/api/v1/auth/me'), { token: alice.token }));
    const out = await call(url('/api/v1/auth/logout'), { method: 'POST', token: alice.token });
    expect(ok<{ logged_out: boolean }>(out).logged_out).toBe(true);
    expect(cookieFrom(out.setCookies, 'mantis_session')).toEqual({ value: '', attributes: expect.arrayContaining(['Max-Age=0']) });
    expect(cookieFrom(out.setCookies, 'mantis_csrf')?.attributes).toContain('Max-Age=0');
    const after = await call(url('/api/v1/auth/me'), { token: alice.token });
    expect(fails(after, 401, 'UNAUTHORIZED').message).toMatch(/session has ended/);
    // Other sessions of the same user go on.
    const again = await login(base, 'alice', ALICE_PASSWORD);
    secrets.add(again.token);
    ok(await call(url('/api/v1/auth/me'), { token: again.token }));
  });

  it('accepts the session cookie; unsafe methods also need X-CSRF-Token (403 CSRF_FAILED without)', async () => {
    const session = await login(base, 'admin', ADMIN_PASSWORD);
    secrets.add(session.token);
    const cookie = `mantis_session=${encodeURIComponent(session.token)}; mantis_csrf=${encodeURIComponent(session.csrf)}`;
    const me = ok<{ id: string }>(await call(url('/api/v1/auth/me'), { headers: { cookie } }));
    expect(me.id).toBe('admin');
    fails(await call(url('/api/v1/kv/cookie-key'), { method: 'PUT', json: { v: 1 }, headers: { cookie } }), 403, 'CSRF_FAILED');
    fails(await call(url('/api/v1/kv/cookie-key'), { method: 'PUT', json: { v: 1 }, headers: { cookie, 'x-csrf-token': 'wrong-value' } }), 403, 'CSRF_FAILED');
    fails(await call(url('/api/v1/kv/cookie-key'), { method: 'DELETE', headers: { cookie } }), 403, 'CSRF_FAILED');
    ok(await call(url('/api/v1/kv/cookie-key'), { method: 'PUT', json: { v: 2 }, headers: { cookie, 'x-csrf-token': session.csrf } }));
    const read = await call(url('/api/v1/kv/cookie-key'), { headers: { cookie } });
    expect(read.status).toBe(200);
    expect(JSON.parse(read.text)).toEqual({ v: 2 });
    // The CSRF value of another session does not fit this one.
    const other = await login(base, 'admin', ADMIN_PASSWORD);
    secrets.add(other.token);
    fails(await call(url('/api/v1/kv/cookie-key'), { method: 'PUT', json: { v: 3 }, headers: { cookie, 'x-csrf-token': other.csrf } }), 403, 'CSRF_FAILED');
    // A bearer token needs no CSRF header (it is not sent by the browser on its own).
    ok(await call(url('/api/v1/kv/cookie-key'), { method: 'PUT', token: session.token, json: { v: 4 } }));
  });
});

describe('response headers', () => {
  const expectSecurityHeaders = (reply: Reply): void => {
    expect(reply.headers.get('x-content-type-options')).toBe('nosniff');
    expect(reply.headers.get('x-frame-options')).toBe('DENY');
    expect(reply.headers.get('referrer-policy')).toBe('no-referrer');
    expect(reply.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    expect(reply.headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
    expect(reply.headers.get('server')).toBeNull();
    // No TLS here: no HSTS.
    expect(reply.headers.get('strict-transport-security')).toBeNull();
  };

  it('carries the security headers on every answer and no Server header', async () => {
    const replies = [
      await call(url('/health/live')),
      await call(url('/api/v1/kv/missing-key')),
      await call(url('/api/v1/kv/from-key'), { token: admin }),
      await call(url('/api/v1/auth/me'), { token: admin }),
      await call(url('/api/v1/no/such/route'), { token: admin }),
      await call(url('/api/v1/auth/users'), { method: 'POST', token: admin, json: '{' }),
      await call(url('/api/v1/kv/x'), { method: 'OPTIONS' }),
    ];
    expect(replies.map((r) => r.status)).toEqual([200, 401, 200, 200, 404, 400, 204]);
    for (const reply of replies) expectSecurityHeaders(reply);
  });

  it('answers CORS only for the configured origin, and preflights with 204', async () => {
    const allowed = await call(url('/health/live'), { headers: { origin: APP_ORIGIN } });
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
    expect(allowed.headers.get('access-control-allow-credentials')).toBe('true');
    expect(allowed.headers.get('vary')).toMatch(/Origin/);
    // Refusals carry CORS too, so the dashboard can read them.
    const refused = await call(url('/api/v1/kv/x'), { headers: { origin: APP_ORIGIN } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
    expect(refused.headers.get('access-control-expose-headers')).toMatch(/WWW-Authenticate/);

    const other = await call(url('/health/live'), { headers: { origin: 'http://evil.example' } });
    expect(other.status).toBe(200);
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    expect(other.headers.get('access-control-allow-credentials')).toBeNull();

    const preflight = await call(url('/api/v1/kv/x'), {
      method: 'OPTIONS',
      headers: { origin: APP_ORIGIN, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'authorization, content-type' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
    expect(preflight.headers.get('access-control-allow-methods')).toMatch(/\bPUT\b/);
    expect(preflight.headers.get('access-control-allow-headers')?.toLowerCase()).toMatch(/authorization.*content-type|content-type.*authorization/);
    expect(preflight.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('x-csrf-token');
    const badPreflight = await call(url('/api/v1/kv/x'), { method: 'OPTIONS', headers: { origin: 'http://evil.example', 'access-control-request-method': 'PUT' } });
    expect(badPreflight.status).toBe(204);
    expect(badPreflight.headers.get('access-control-allow-origin')).toBeNull();
    expect(badPreflight.headers.get('access-control-allow-methods')).toBeNull();
  });
});

describe('brute force', () => {
  const attacker = agentFrom('127.0.0.30');
  const attempt = async (password: string, from = attacker, username = 'victim'): Promise<{ reply: Reply; ms: number }> => {
    const started = performance.now();
    const reply = await call(url('/api/v1/auth/login'), { method: 'POST', json: { username, password }, dispatcher: from });
    return { reply, ms: performance.now() - started };
  };

  it('slows repeated failures for one user down, then locks the account (429 ACCOUNT_LOCKED) even for the right password', async () => {
    ok(await createUser('victim', VICTIM_PASSWORD, { roles: ['readonly'] }), 201);
    const times: number[] = [];
    for (let i = 1; i <= 5; i++) {
      const { reply, ms } = await attempt(`wrong-guess-${i}`);
      fails(reply, 401, 'UNAUTHORIZED');
      times.push(ms);
    }
    // Attempts 1-3 are not delayed; the 4th waits 250 ms and the 5th 500 ms.
    expect(times[4] - times[0], `attempt times ${times.map((t) => t.toFixed(0)).join(', ')} ms`).toBeGreaterThan(350);
    expect(times[3]).toBeGreaterThan(200);
    // Attempts 6-10 at once: each is still checked and counted.
    const parallel = await Promise.all([6, 7, 8, 9, 10].map((i) => attempt(`wrong-guess-${i}`)));
    for (const { reply } of parallel) fails(reply, 401, 'UNAUTHORIZED');
    for (const { ms } of parallel) expect(ms).toBeGreaterThan(800);

    const locked = await attempt(VICTIM_PASSWORD);
    const error = fails(locked.reply, 429, 'ACCOUNT_LOCKED');
    expect(locked.reply.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(error.retry_after_s).toBeGreaterThan(800);
    expect(error.retry_after_s).toBeLessThanOrEqual(900);
    expect(locked.reply.setCookies).toEqual([]);
    // The account is locked from any address…
    fails((await attempt(VICTIM_PASSWORD, agentFrom('127.0.0.31'))).reply, 429, 'ACCOUNT_LOCKED');
    // …and the attacking address is locked for every account.
    fails((await attempt(ADMIN_PASSWORD, attacker, 'admin')).reply, 429, 'ACCOUNT_LOCKED');
    // Another user from another address is not affected.
    ok((await attempt(ADMIN_PASSWORD, agentFrom('127.0.0.32'), 'admin')).reply);
  });

  it('sends a Retry-After that matches the lock (not a generic 1 s)', async () => {
    const locked = await attempt(VICTIM_PASSWORD, agentFrom('127.0.0.33'));
    const error = fails(locked.reply, 429, 'ACCOUNT_LOCKED');
    expect(Number(locked.reply.headers.get('retry-after'))).toBeGreaterThanOrEqual((error.retry_after_s as number) - 1);
  });
});

type AuditEntry = { ts: string; action: string; outcome: string; actor: string; ip?: string; target?: string; details?: Record<string, unknown> };

describe('audit and configuration', () => {
  it('records logins (failed and successful), key and user changes — and no secret', async () => {
    const all = await call(url('/api/v1/admin/audit?limit=10000'), { token: admin });
    const entries = ok<AuditEntry[]>(all);
    const has = (match: Partial<AuditEntry>): boolean => entries.some((e) => Object.entries(match).every(([k, v]) => e[k as keyof AuditEntry] === v));
    expect(has({ action: 'auth.login', outcome: 'success', actor: 'user:admin', ip: '127.0.0.1' })).toBe(true);
    expect(has({ action: 'auth.login', outcome: 'failure', target: 'user:admin', ip: '127.0.0.20' })).toBe(true);
    expect(has({ action: 'auth.login', outcome: 'failure', target: 'user:victim', ip: '127.0.0.30' })).toBe(true);
    expect(entries.some((e) => e.action === 'auth.login' && e.target === 'user:victim' && e.details?.reason === 'locked')).toBe(true);
    expect(has({ action: 'auth.user.create', outcome: 'success', actor: 'user:admin', target: 'user:alice' })).toBe(true);
    expect(has({ action: 'auth.user.delete', outcome: 'success', actor: 'user:admin', target: 'user:bob' })).toBe(true);
    expect(has({ action: 'auth.key.create', outcome: 'success', actor: 'user:alice' })).toBe(true);
    expect(has({ action: 'auth.key.revoke', outcome: 'success', actor: 'user:admin' })).toBe(true);
    expect(has({ action: 'auth.logout', actor: 'user:alice' })).toBe(true);
    // Newest first.
    const times = entries.map((e) => Date.parse(e.ts));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    for (const secret of secrets) expect(all.text.includes(secret), 'a secret is in the audit log').toBe(false);

    const logins = ok<AuditEntry[]>(await call(url('/api/v1/admin/audit?action=auth.login&limit=5'), { token: admin }));
    expect(logins.length).toBe(5);
    expect(logins.every((e) => e.action === 'auth.login')).toBe(true);
    const byAlice = ok<AuditEntry[]>(await call(url('/api/v1/admin/audit?actor=user:alice'), { token: admin }));
    expect(byAlice.length).toBeGreaterThan(0);
    expect(byAlice.every((e) => e.actor === 'user:alice')).toBe(true);
    fails(await call(url('/api/v1/admin/audit?limit=0'), { token: admin }), 400, 'INVALID_PARAMETER');
  });

  it('GET /api/v1/admin/config shows the secrets as "***" and never their values', async () => {
    const reply = await call(url('/api/v1/admin/config'), { token: admin });
    const data = ok<{ config: { security: Record<string, unknown> }; secrets: Record<string, { value: string; source: string } | null> }>(reply);
    expect(data.secrets.MANTIS_JWT_SECRET).toEqual({ value: '***', source: 'env' });
    expect(data.secrets.MANTIS_ADMIN_PASSWORD).toEqual({ value: '***', source: 'env' });
    expect(data.config.security).toMatchObject({ auth: true, corsOrigins: [APP_ORIGIN] });
    expect(reply.text).not.toContain(JWT_SECRET);
    expect(reply.text).not.toContain(ADMIN_PASSWORD);
    const alice = await login(base, 'alice', ALICE_PASSWORD);
    secrets.add(alice.token);
    fails(await call(url('/api/v1/admin/config'), { token: alice.token }), 403, 'FORBIDDEN');
  });

  it('never writes a password, key, token or the JWT secret to stdout/stderr (--log-level debug)', async () => {
    // Credentials in places a careless log line would pick up.
    await call(url('/api/v1/kv/x'), { token: ADMIN_PASSWORD });
    await call(url('/api/v1/kv/x'), { token: `mk_${JWT_SECRET}` });
    await call(url('/api/v1/kv/x'), { headers: { authorization: `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64')}` } });
    await call(url('/api/v1/kv/x'), { headers: { cookie: `mantis_session=${ALICE_PASSWORD}` } });
    await call(url('/api/v1/auth/login'), { method: 'POST', json: `{"username":"admin","password":"${ADMIN_PASSWORD}"`, dispatcher: agentFrom('127.0.0.40') });
    await call(url('/api/v1/auth/users'), { method: 'POST', token: admin, json: { username: 'x y', password: BOB_PASSWORD } });
    // SIGHUP re-reads secrets and logs about it.
    server.proc.kill('SIGHUP');
    await sleep(300);
    ok(await call(url('/api/v1/auth/me'), { token: admin }));
    const { stdout, stderr } = server.output();
    expect(stdout).toContain('"secrets loaded"');
    expect(stdout).toContain('"level":20');
    for (const secret of secrets) {
      expect(stdout.includes(secret), `a secret (${secret.slice(0, 6)}…) is in stdout`).toBe(false);
      expect(stderr.includes(secret), `a secret (${secret.slice(0, 6)}…) is in stderr`).toBe(false);
    }
    // API keys' secret parts alone, too.
    for (const secret of secrets) {
      if (!secret.startsWith('mk_')) continue;
      const part = secret.slice(secret.indexOf('_', 3) + 1);
      expect(stdout.includes(part) || stderr.includes(part)).toBe(false);
    }
  });
});
