// Regressions for the bugs the security review reproduced against a real
// server: each case here failed before its fix.

import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, createKey, createRole, createUser, login, loginAdmin, ok, openSseStream, startAuthServer } from '../helpers/auth-support.js';
import { cleanup, type ServerProcess } from '../helpers/server-process.js';

let server: ServerProcess;
let base: string;
let admin: string;

beforeAll(async () => {
  server = await startAuthServer({ shards: 2, extraArgs: ['--rate-limit-rps', '1000', '--rate-limit-burst', '1000'] });
  base = server.url;
  admin = await loginAdmin(base);
  await createRole(base, admin, 'kvonly', [{ resource: 'kv:app:', actions: ['read', 'write'] }]);
  await createUser(base, admin, 'erin', 'erin-password-1', ['kvonly']);
  await createUser(base, admin, 'dave', 'dave-password-1', ['readwrite']);
  await createUser(base, admin, 'alice', 'alice-password-1', ['readwrite'], { tenant: 'a' });
  await ok(call(base, 'POST', '/api/v1/sql', { token: admin, body: { query: 'CREATE TABLE secret (id int PRIMARY KEY, tenant text, ssn text)' } }));
  await ok(call(base, 'POST', '/api/v1/sql', { token: admin, body: { query: "INSERT INTO secret VALUES (1, 'b', '123-45-6789')" } }));
  await ok(call(base, 'POST', '/api/v1/sql', { token: admin, body: { query: 'CREATE INDEX by_ssn ON secret (ssn)' } }));
  await ok(call(base, 'POST', '/api/v1/sql', { token: admin, body: { query: 'ALTER TABLE secret ENABLE ROW LEVEL SECURITY' } }));
  await ok(call(base, 'POST', '/api/v1/sql', { token: admin, body: { query: "CREATE POLICY t ON secret USING (tenant = auth.jwt() ->> 'tenant')" } }));
});

afterAll(async () => {
  await server?.stop();
  await cleanup();
});

describe('the security review', () => {
  it('a percent-encoded "rows" or "indexes" segment needs the table permission like the plain one', async () => {
    const erin = await login(base, 'erin', 'erin-password-1');
    for (const path of ['/api/v1/tables/secret/rows/1', '/api/v1/tables/secret/%72ows/1', '/api/v1/tables/secret/r%6Fws/1']) {
      const a = await call(base, 'GET', path, { token: erin });
      expect(a.status, `${path}: ${a.text}`).toBe(403);
      expect(a.text).not.toContain('123-45-6789');
    }
    const drop = await call(base, 'DELETE', '/api/v1/tables/secret/%69ndexes/by_ssn', { token: erin });
    expect(drop.status, drop.text).toBe(403);
  });

  it('a key cannot make keys (a key acts for the user who made it)', async () => {
    const dave = await login(base, 'dave', 'dave-password-1');
    const k1 = await createKey(base, dave, 'k1', ['readwrite'], { expires_in_s: 60 });
    const chained = await call(base, 'POST', '/api/v1/auth/keys', { token: k1.key, body: { name: 'k2', roles: ['readwrite'] } });
    expect(chained.status, chained.text).toBe(403);
    // Deleting the user ends the key it made.
    await ok(call(base, 'DELETE', '/api/v1/auth/users/dave', { token: admin }));
    expect((await call(base, 'GET', '/api/v1/auth/me', { token: k1.key })).status).toBe(401);
  });

  it('SQL schema changes and EXPLAIN ANALYZE of a table under row-level security need a role that bypasses it', async () => {
    const alice = await login(base, 'alice', 'alice-password-1');
    for (const query of ['DROP TABLE secret', 'ALTER TABLE secret ADD COLUMN x int', 'CREATE INDEX x ON secret (tenant)', 'DROP INDEX by_ssn', "EXPLAIN ANALYZE SELECT * FROM secret WHERE ssn = '123-45-6789'"]) {
      const a = await call(base, 'POST', '/api/v1/sql', { token: alice, body: { query } });
      expect(a.status, `${query}: ${a.text}`).toBe(403);
      expect(a.json?.error?.sqlstate, query).toBe('42501');
    }
    const still = await call(base, 'POST', '/api/v1/sql', { token: admin, body: { query: 'SELECT count(*) FROM secret' } });
    expect((still.json?.data as { rows: number[][] }).rows[0][0]).toBe(1);
  });

  it('a malformed session cookie is a 401 on a gated route, and a public route still answers', async () => {
    const gated = await call(base, 'GET', '/api/v1/kv/app:x', { headers: { cookie: 'mantis_session=%E0%A4%A' } });
    expect(gated.status, gated.text).toBe(401);
    const health = await call(base, 'GET', '/health/live', { headers: { cookie: 'mantis_session=%E0%A4%A' } });
    expect(health.status).toBe(200);
  });

  it('requests with a bad credential spend the client IP\'s rate-limit tokens', async () => {
    // Buckets start full under new limits: 3 tokens for this IP (and for the admin, who needs one to restore them).
    await ok(call(base, 'PUT', '/api/v1/admin/rate-limits', { token: admin, body: { rps: 1, burst: 3 } }));
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await call(base, 'GET', '/api/v1/kv/app:x', { authorization: 'Bearer mk_abc_def' })).status);
    await ok(call(base, 'PUT', '/api/v1/admin/rate-limits', { token: admin, body: { rps: 1000, burst: 1000 } }));
    expect(statuses).toContain(401);
    expect(statuses).toContain(429);
  });

  it('policy changes made in SQL and cache policy changes are in the audit log, with who made them', async () => {
    await ok(call(base, 'PUT', '/api/v1/cache/policies', { token: admin, body: { policies: [{ prefix: 'app:', policy: 'write-around' }] } }));
    const entries = await ok<{ action: string; actor: string; target?: string }[]>(call(base, 'GET', '/api/v1/admin/audit?limit=1000', { token: admin }), 200);
    const actions = entries.map((e) => `${e.action} ${e.actor} ${e.target ?? ''}`);
    expect(actions).toContain('auth.rls.enable user:admin table:secret');
    expect(actions).toContain('auth.policy.create user:admin policy:table:t');
    expect(actions.some((a) => a.startsWith('config.cache_policies.update user:admin'))).toBe(true);
  });

  it('a login for an unknown user takes as long as one with a wrong password (both check an argon2id hash)', async () => {
    // Each attempt from its own address and user name, so no attempt is slowed by earlier failures.
    const timed = async (username: string, n: number): Promise<number> => {
      const agent = new Agent({ localAddress: `127.0.0.${100 + n}` });
      try {
        const started = performance.now();
        const response = await undiciFetch(`${base}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password: 'not-the-password' }), dispatcher: agent });
        await response.text();
        expect(response.status).toBe(401);
        return performance.now() - started;
      } finally {
        await agent.close();
      }
    };
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    await createUser(base, admin, 'timing-a', 'timing-password-1', ['readonly']);
    await createUser(base, admin, 'timing-b', 'timing-password-2', ['readonly']);
    await createUser(base, admin, 'timing-c', 'timing-password-3', ['readonly']);
    const known = [await timed('timing-a', 1), await timed('timing-b', 2), await timed('timing-c', 3)];
    const unknown = [await timed('nobody-1', 4), await timed('nobody-2', 5), await timed('nobody-3', 6)];
    // Without the dummy hash an unknown name answers in well under a millisecond against ~10-50 ms.
    expect(median(unknown)).toBeGreaterThan(median(known) * 0.4);
  });

  it('an open stream ends when its user is deleted', async () => {
    await createUser(base, admin, 'frank', 'frank-password-1', ['readonly']);
    const frank = await login(base, 'frank', 'frank-password-1');
    const stream = await openSseStream(base, `/api/v1/cache/invalidations/stream?prefix=app%3A&access_token=${encodeURIComponent(frank)}`);
    expect(stream.status).toBe(200);
    try {
      await stream.inbox.next(5000, 'the subscribed event');
      await ok(call(base, 'DELETE', '/api/v1/auth/users/frank', { token: admin }));
      const deadline = Date.now() + 5000;
      while (stream.inbox.done === null && Date.now() < deadline) await new Promise((done) => setTimeout(done, 50));
      expect(stream.inbox.done, 'the stream is still open after its user was deleted').not.toBeNull();
    } finally {
      stream.close();
    }
  });
});

describe('--conn-limit-per-ip counts open streams', () => {
  let limited: ServerProcess;
  beforeAll(async () => {
    limited = await startAuthServer({ shards: 1, extraArgs: ['--conn-limit-per-ip', '2'] });
  });
  afterAll(async () => {
    await limited?.stop();
  });

  it('two open streams fill the quota of their IP; closing one frees a place', async () => {
    const token = await loginAdmin(limited.url);
    const path = `/api/v1/cache/invalidations/stream?prefix=app%3A&access_token=${encodeURIComponent(token)}`;
    const first = await openSseStream(limited.url, path);
    const second = await openSseStream(limited.url, path);
    try {
      expect([first.status, second.status]).toEqual([200, 200]);
      const third = await call(limited.url, 'GET', '/api/v1/auth/me', { token });
      expect(third.status, third.text).toBe(429);
      expect(third.json?.error?.code).toBe('RATE_LIMITED');
      first.close();
      const deadline = Date.now() + 5000;
      let status = 429;
      while (status === 429 && Date.now() < deadline) {
        status = (await call(limited.url, 'GET', '/api/v1/auth/me', { token })).status;
        if (status === 429) await new Promise((done) => setTimeout(done, 50));
      }
      expect(status).toBe(200);
    } finally {
      first.close();
      second.close();
    }
  });
});
