// Filling MantisDB before the measurements, and checking that each target
// answers the benchmark's requests correctly before load is put on it. With
// --auth on, every request carries a credential (`headers`), obtained with
// authenticate().

import { Agent, request as httpRequest } from 'node:http';

export const KEY_COUNT = 100_000;
export const VALUE_BYTES = 100;

export function keyOf(i: number): string {
  return `k${i}`;
}

/** A 100-byte ASCII value that differs per key (so a wrong answer is visible). */
export function valueOf(i: number): string {
  const tag = `v${i}:`;
  return tag + 'x'.repeat(VALUE_BYTES - tag.length);
}

/** Extra request headers (the Authorization of a server with --auth on); none by default. */
type RequestHeaders = Readonly<Record<string, string>>;

type BatchReply = { success?: unknown; data?: unknown; error?: unknown };

async function postBatch(url: string, ops: readonly object[], headers: RequestHeaders = {}): Promise<unknown[]> {
  const response = await fetch(`${url}/api/v1/kv/batch`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify({ ops }),
  });
  const text = await response.text();
  let reply: BatchReply;
  try {
    reply = JSON.parse(text) as BatchReply;
  } catch {
    throw new Error(`batch: HTTP ${response.status}, body is not JSON: ${text.slice(0, 200)}`);
  }
  if (response.status !== 200 || reply.success !== true || !Array.isArray(reply.data)) {
    throw new Error(`batch: HTTP ${response.status}: ${text.slice(0, 300)}`);
  }
  if (reply.data.length !== ops.length) throw new Error(`batch: sent ${ops.length} ops, got ${reply.data.length} results`);
  return reply.data;
}

export type PreloadOutcome = {
  readonly ms: number;
  /** 'batch' as intended; 'put' when the batch route failed and single PUTs were used instead. */
  readonly via: 'batch' | 'put';
  /** Why the batch route was given up, when it was. */
  readonly batchError: string | null;
};

async function preloadByBatch(url: string, batchSize: number, parallel: number, headers: RequestHeaders): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < KEY_COUNT) {
      const from = next;
      const to = Math.min(KEY_COUNT, from + batchSize);
      next = to;
      const ops = [];
      for (let i = from; i < to; i++) ops.push({ op: 'put', key: keyOf(i), value: valueOf(i) });
      const results = await postBatch(url, ops, headers);
      results.forEach((result, j) => {
        if (typeof result !== 'object' || result === null || (result as { ok?: unknown }).ok !== true) {
          throw new Error(`preload: put of ${keyOf(from + j)} failed: ${JSON.stringify(result)}`);
        }
      });
    }
  };
  await Promise.all(Array.from({ length: parallel }, () => worker()));
}

function putOnce(agent: Agent, url: URL, i: number, headers: RequestHeaders): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const body = valueOf(i);
    const req = httpRequest(
      { agent, host: url.hostname, port: url.port, method: 'PUT', path: `/api/v1/kv/${keyOf(i)}`, headers: { ...headers, 'content-length': Buffer.byteLength(body) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve();
          else reject(new Error(`preload PUT ${keyOf(i)}: HTTP ${status}: ${text.slice(0, 200)}`));
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** One key per PUT (node:http with keep-alive: much quicker than fetch for many small requests). */
async function preloadByPut(url: string, parallel: number, headers: RequestHeaders): Promise<void> {
  const target = new URL(url);
  const agent = new Agent({ keepAlive: true, maxSockets: parallel });
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < KEY_COUNT) await putOnce(agent, target, next++, headers);
  };
  try {
    await Promise.all(Array.from({ length: parallel }, () => worker()));
  } finally {
    agent.destroy();
  }
}

/**
 * Puts KEY_COUNT keys in batches of `batchSize` ops, `parallel` requests in
 * flight. If the batch route fails, the keys are put one by one instead (so
 * the single-key scenarios can still be measured) and the failure is returned.
 * `headers` go on every request (a credential for a server with --auth on).
 */
export async function preload(url: string, batchSize = 1000, parallel = 4, headers: RequestHeaders = {}): Promise<PreloadOutcome> {
  const started = performance.now();
  try {
    await preloadByBatch(url, batchSize, parallel, headers);
    return { ms: performance.now() - started, via: 'batch', batchError: null };
  } catch (error) {
    const batchError = error instanceof Error ? error.message : String(error);
    const restarted = performance.now();
    await preloadByPut(url, 32, headers);
    return { ms: performance.now() - restarted, via: 'put', batchError };
  }
}

async function expectBody(what: string, response: Response, expected: string | null): Promise<void> {
  const text = await response.text();
  if (response.status < 200 || response.status > 299) throw new Error(`${what}: HTTP ${response.status}: ${text.slice(0, 200)}`);
  if (expected !== null && text !== expected) throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(text.slice(0, 200))}`);
}

/** One request of each single-key kind the scenarios send, with the answers checked (`headers` on each). */
export async function smokeCheckMantis(url: string, headers: RequestHeaders = {}): Promise<void> {
  const probes = [0, 1, KEY_COUNT - 1, 4242];
  for (const i of probes) await expectBody(`GET ${keyOf(i)}`, await fetch(`${url}/api/v1/kv/${keyOf(i)}`, { headers }), valueOf(i));
  await expectBody('PUT', await fetch(`${url}/api/v1/kv/${keyOf(7)}`, { method: 'PUT', headers, body: valueOf(7) }), null);
  await expectBody('GET after PUT', await fetch(`${url}/api/v1/kv/${keyOf(7)}`, { headers }), valueOf(7));
}

/** A batch like the benchmark's (100 ops, 10 puts of 100 bytes), answers checked. Returns what went wrong, or null. */
export async function smokeCheckBatch(url: string, headers: RequestHeaders = {}): Promise<string | null> {
  const ops: object[] = [];
  for (let j = 0; j < 100; j++) ops.push(j % 10 === 9 ? { op: 'put', key: keyOf(j), value: valueOf(j) } : { op: 'get', key: keyOf(j) });
  try {
    const results = await postBatch(url, ops, headers);
    for (let j = 0; j < 100; j++) {
      const r = results[j] as { ok?: unknown; found?: unknown; value?: unknown };
      const good = j % 10 === 9 ? r.ok === true : r.found === true && r.value === valueOf(j);
      if (!good) return `batch op ${j} answered ${JSON.stringify(r).slice(0, 200)}`;
    }
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

export async function smokeCheckBare(url: string): Promise<void> {
  await expectBody('bare GET', await fetch(`${url}/api/v1/kv/${keyOf(1)}`), 'x'.repeat(VALUE_BYTES));
  await expectBody('bare PUT', await fetch(`${url}/api/v1/kv/${keyOf(1)}`, { method: 'PUT', body: valueOf(1) }), 'x'.repeat(VALUE_BYTES));
}

// ---- --auth on --------------------------------------------------------------

type Envelope = { success?: unknown; data?: unknown };

async function jsonData(what: string, response: Response): Promise<Record<string, unknown>> {
  const text = await response.text();
  let reply: Envelope;
  try {
    reply = JSON.parse(text) as Envelope;
  } catch {
    throw new Error(`${what}: HTTP ${response.status}, body is not JSON: ${text.slice(0, 200)}`);
  }
  if (response.status < 200 || response.status > 299 || reply.success !== true || typeof reply.data !== 'object' || reply.data === null) {
    throw new Error(`${what}: HTTP ${response.status}: ${text.slice(0, 300)}`);
  }
  return reply.data as Record<string, unknown>;
}

export type Credentials = {
  /** The admin's session token (a JWT), from POST /api/v1/auth/login. */
  readonly jwt: string;
  /** An API key ("mk_…") with the readwrite role, from POST /api/v1/auth/keys. */
  readonly apiKey: string;
  /** When the JWT expires (ISO 8601, as the server said). */
  readonly jwtExpiresAt: string | null;
};

export function bearer(credential: string): RequestHeaders {
  return { Authorization: `Bearer ${credential}` };
}

/** Logs in as `username` and creates an API key `keyName` with `roles`. */
export async function authenticate(url: string, username: string, password: string, keyName: string, roles: readonly string[] = ['readwrite']): Promise<Credentials> {
  const login = await jsonData(
    'login',
    await fetch(`${url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) }),
  );
  if (typeof login.token !== 'string' || login.token === '') throw new Error('login: the reply has no token');
  const jwt = login.token;
  const created = await jsonData(
    'create API key',
    await fetch(`${url}/api/v1/auth/keys`, { method: 'POST', headers: { ...bearer(jwt), 'content-type': 'application/json' }, body: JSON.stringify({ name: keyName, roles }) }),
  );
  if (typeof created.key !== 'string' || !created.key.startsWith('mk_')) throw new Error('create API key: the reply has no "mk_…" key');
  return { jwt, apiKey: created.key, jwtExpiresAt: typeof login.expires_at === 'string' ? login.expires_at : null };
}

/** Checks that the server refuses the benchmark's requests without a credential, or with a wrong one (401). */
export async function smokeCheckAuthRequired(url: string): Promise<void> {
  const refused = async (what: string, init: RequestInit, path = `/api/v1/kv/${keyOf(1)}`): Promise<void> => {
    const response = await fetch(`${url}${path}`, init);
    const text = await response.text();
    if (response.status !== 401) throw new Error(`${what}: expected 401, got HTTP ${response.status}: ${text.slice(0, 200)} (is --auth on?)`);
  };
  await refused('GET without a credential', {});
  await refused('PUT without a credential', { method: 'PUT', body: valueOf(1) });
  await refused('GET with a wrong API key', { headers: bearer('mk_not-a-key') });
  await refused('batch without a credential', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ops: [{ op: 'get', key: keyOf(1) }] }) }, '/api/v1/kv/batch');
}

/** GET /api/v1/admin/rate-limits (needs an admin credential): the limits the server applies. */
export async function rateLimitsOf(url: string, headers: RequestHeaders): Promise<Record<string, unknown>> {
  return jsonData('rate limits', await fetch(`${url}/api/v1/admin/rate-limits`, { headers }));
}
