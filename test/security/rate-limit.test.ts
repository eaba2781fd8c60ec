// Rate limits of a real server (src/security/rate-limit.ts): token buckets per
// identity and route class (--rate-limit-rps 20 --rate-limit-burst 20), the
// 429 RATE_LIMITED answer with Retry-After and the IETF RateLimit /
// RateLimit-Policy fields, one client's burst not touching another's budget,
// the runtime change PUT /api/v1/admin/rate-limits, anonymous logins limited
// per IP in the "auth" class, and --conn-limit-per-ip counting requests in
// flight (held open by a body that is not finished yet).

import { request as httpRequest, type ClientRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentFrom, call, fails, login, ok, sleep, type Reply } from '../helpers/auth-http.js';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';

const ADMIN_PASSWORD = 'Rate-limit-admin-9f2c1e';
const RPS = 20;
const BURST = 20;

afterAll(async () => {
  await cleanup();
});

const count = (replies: readonly Reply[], status: number): number => replies.filter((r) => r.status === status).length;

function expectLimitHeaders(reply: Reply, cls: string): void {
  const error = fails(reply, 429, 'RATE_LIMITED');
  expect(error.retryable).toBe(true);
  expect(error.message).toContain(`${cls} requests`);
  const retryAfter = reply.headers.get('retry-after');
  expect(retryAfter).toMatch(/^[1-9]\d*$/);
  // draft-ietf-httpapi-ratelimit-headers: RateLimit: "<policy>";r=<remaining>;t=<reset s>
  const limit = reply.headers.get('ratelimit');
  expect(limit).toMatch(new RegExp(`^"${cls}";r=0;t=[1-9]\\d*$`));
  expect(Number(/;t=(\d+)$/.exec(limit as string)?.[1])).toBe(Number(retryAfter));
  // RateLimit-Policy: "<policy>";q=<quota>;w=<window s>
  expect(reply.headers.get('ratelimit-policy')).toBe(`"${cls}";q=${BURST};w=${Math.max(1, Math.ceil(BURST / RPS))}`);
}

describe('per identity and route class', () => {
  let server: ServerProcess;
  let base: string;
  let admin: string;
  let keyA: string;
  let keyB: string;

  beforeAll(async () => {
    server = await startServer({
      shards: 1,
      extraArgs: ['--auth', 'on', '--rate-limit-rps', String(RPS), '--rate-limit-burst', String(BURST)],
      env: { MANTIS_ADMIN_PASSWORD: ADMIN_PASSWORD },
    });
    base = server.url;
    admin = (await login(base, 'admin', ADMIN_PASSWORD)).token;
    const make = async (name: string): Promise<string> =>
      ok<{ key: string }>(await call(`${base}/api/v1/auth/keys`, { method: 'POST', token: admin, json: { name, roles: ['readwrite'] } }), 201).key;
    keyA = await make('client-a');
    keyB = await make('client-b');
    ok(await call(`${base}/api/v1/kv/shared`, { method: 'PUT', token: admin, json: { v: 1 } }));
  });

  it('limits a burst of one client (429 with Retry-After, RateLimit, RateLimit-Policy) while a steady client is untouched', async () => {
    // Client B: ~10 requests/s for 2 s, well under its own 20/s.
    const steady = (async (): Promise<Reply[]> => {
      const replies: Reply[] = [];
      for (let i = 0; i < 20; i++) {
        replies.push(await call(`${base}/api/v1/kv/shared`, { token: keyB }));
        await sleep(100);
      }
      return replies;
    })();
    await sleep(300);
    // Client A: 100 reads at once.
    const burst = await Promise.all(Array.from({ length: 100 }, () => call(`${base}/api/v1/kv/shared`, { token: keyA })));
    const limited = burst.filter((r) => r.status === 429);
    expect(count(burst, 200) + limited.length).toBe(100);
    expect(count(burst, 200)).toBeGreaterThanOrEqual(BURST);
    expect(count(burst, 200)).toBeLessThan(50);
    expect(limited.length).toBeGreaterThan(50);
    for (const reply of limited) expectLimitHeaders(reply, 'read');

    const bReplies = await steady;
    expect(bReplies.map((r) => r.status)).toEqual(Array(20).fill(200));

    // Classes are separate buckets: A's writes still have their burst.
    ok(await call(`${base}/api/v1/kv/a-write`, { method: 'PUT', token: keyA, json: 1 }));
    // The bucket refills at 20/s.
    await sleep(1100);
    expect((await call(`${base}/api/v1/kv/shared`, { token: keyA })).status).toBe(200);
  });

  it('limits anonymous logins per IP in the "auth" class', async () => {
    const from = agentFrom('127.0.0.60');
    // Bodies that fail validation: no failed-login counter is touched, only the bucket.
    const attempts = await Promise.all(Array.from({ length: 45 }, () => call(`${base}/api/v1/auth/login`, { method: 'POST', json: {}, dispatcher: from })));
    const limited = attempts.filter((r) => r.status === 429);
    expect(count(attempts, 400) + limited.length).toBe(45);
    expect(count(attempts, 400)).toBeGreaterThanOrEqual(BURST);
    expect(limited.length).toBeGreaterThan(10);
    for (const reply of limited) expectLimitHeaders(reply, 'auth');
    // Another address has its own bucket; so has an authenticated caller.
    await login(base, 'admin', ADMIN_PASSWORD, agentFrom('127.0.0.61'));
    ok(await call(`${base}/api/v1/auth/me`, { token: keyA }));
  });

  it('PUT /api/v1/admin/rate-limits changes the limits at runtime (admins only); rps 0 turns them off', async () => {
    fails(await call(`${base}/api/v1/admin/rate-limits`, { method: 'PUT', token: keyA, json: { rps: 0 } }), 403, 'FORBIDDEN');
    fails(await call(`${base}/api/v1/admin/rate-limits`, { method: 'PUT', token: admin, json: { rps: -1 } }), 400, 'INVALID_PARAMETER');
    fails(await call(`${base}/api/v1/admin/rate-limits`, { method: 'PUT', token: admin, json: { classes: { bogus: { rps: 1 } } } }), 400, 'INVALID_PARAMETER');
    fails(await call(`${base}/api/v1/admin/rate-limits`, { method: 'PUT', token: admin, json: { rate: 1 } }), 400, 'INVALID_PARAMETER');

    const before = ok<{ rps: number; burst: number }>(await call(`${base}/api/v1/admin/rate-limits`, { token: admin }));
    expect(before).toMatchObject({ rps: RPS, burst: BURST });
    const off = ok<{ rps: number }>(await call(`${base}/api/v1/admin/rate-limits`, { method: 'PUT', token: admin, json: { rps: 0 } }));
    expect(off.rps).toBe(0);
    expect(ok<{ rps: number }>(await call(`${base}/api/v1/admin/rate-limits`, { token: admin })).rps).toBe(0);

    const burst = await Promise.all(Array.from({ length: 100 }, () => call(`${base}/api/v1/kv/shared`, { token: keyA })));
    expect(count(burst, 200)).toBe(100);
    const logins = await Promise.all(Array.from({ length: 30 }, () => call(`${base}/api/v1/auth/login`, { method: 'POST', json: {}, dispatcher: agentFrom('127.0.0.62') })));
    expect(count(logins, 400)).toBe(30);

    // A per-class limit on, at runtime: only that class is limited.
    const writes = ok<{ classes: Record<string, unknown> }>(
      await call(`${base}/api/v1/admin/rate-limits`, { method: 'PUT', token: admin, json: { classes: { write: { rps: 5, burst: 5 } } } }),
    );
    expect(writes.classes).toEqual({ write: { rps: 5, burst: 5 } });
    const puts = await Promise.all(Array.from({ length: 20 }, (_, i) => call(`${base}/api/v1/kv/w-${i}`, { method: 'PUT', token: keyA, json: i })));
    expect(count(puts, 200)).toBeGreaterThanOrEqual(5);
    expect(count(puts, 200)).toBeLessThan(10);
    const limited = puts.find((r) => r.status === 429) as Reply;
    fails(limited, 429, 'RATE_LIMITED');
    expect(limited.headers.get('ratelimit-policy')).toBe('"write";q=5;w=1');
    const reads = await Promise.all(Array.from({ length: 50 }, () => call(`${base}/api/v1/kv/shared`, { token: keyA })));
    expect(count(reads, 200)).toBe(50);
  });
});

/** A PUT whose body is declared but not finished: the request stays in flight until finish() or abort(). */
function heldRequest(base: string, key: string, localAddress?: string): { req: ClientRequest; done: Promise<number>; finish(): void } {
  const body = Buffer.from('{"held":true}');
  const req = httpRequest(`${base}/api/v1/kv/${key}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', 'content-length': String(body.length) },
    localAddress,
    agent: false,
  });
  const done = new Promise<number>((resolve, reject) => {
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
  });
  req.write(body.subarray(0, 4));
  return { req, done, finish: () => req.end(body.subarray(4)) };
}

/** Probes until one is refused: until the server has seen the held requests, a probe still gets in (and finishes at once). */
async function refusedProbe(base: string): Promise<Reply> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const probe = await call(`${base}/health/live`);
    if (probe.status === 429 || Date.now() > deadline) return probe;
    await sleep(20);
  }
}

describe('--conn-limit-per-ip', () => {
  it('refuses a third concurrent request from one IP with 429 and lets it in once one finishes', async () => {
    const server = await startServer({ shards: 1, extraArgs: ['--conn-limit-per-ip', '2'] });
    const base = server.url;
    const first = heldRequest(base, 'held-1');
    const second = heldRequest(base, 'held-2');
    const refused = await refusedProbe(base);
    const error = fails(refused, 429, 'RATE_LIMITED');
    expect(error.message).toMatch(/too many concurrent requests and streams from .* \(limit 2\)/);
    expect(refused.headers.get('retry-after')).toBe('1');
    // A write is refused too, before its body is read.
    fails(await call(`${base}/api/v1/kv/third`, { method: 'PUT', json: { third: true } }), 429, 'RATE_LIMITED');
    // Another client address is not affected.
    ok(await call(`${base}/health/live`, { dispatcher: agentFrom('127.0.0.70') }));

    first.finish();
    expect(await first.done).toBe(200);
    ok(await call(`${base}/api/v1/kv/third`, { method: 'PUT', json: { third: true } }));
    // An abandoned request gives its slot back too.
    second.req.destroy();
    await second.done.catch(() => undefined);
    const a = heldRequest(base, 'held-3');
    const b = heldRequest(base, 'held-4');
    fails(await refusedProbe(base), 429, 'RATE_LIMITED');
    a.finish();
    b.finish();
    expect([await a.done, await b.done]).toEqual([200, 200]);
    ok(await call(`${base}/health/live`));
    expect(await server.stop()).toBe(0);
  });
});
