// A shard thread that dies (fault hook MANTIS_FAULT_SHARD_CRASH_KEY) must not
// take the server down or leave requests hanging: requests to that shard get
// 503 SHARD_UNAVAILABLE (retryable), the shard is restarted from its WAL, and
// everything acknowledged before the crash is still there.

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOk, mapLimit, parseEnvelope, waitUntil } from '../helpers/http-client.js';
import { expectValue, kvUrl, putValue } from '../helpers/kv-client.js';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';

const CRASH_KEY = 'boom';
const SHARDS = 2;
const KEYS = 100;
const BURST = 200;
const REQUEST_TIMEOUT_MS = 15_000;
const RECOVERY_TIMEOUT_MS = 30_000;

type ShardInfo = { id: number; state: string; keys: number; restarts: number };
type Ready = { ready: boolean; shards: ShardInfo[] };
type Outcome = {
  readonly key: string;
  readonly kind: 'get' | 'put';
  readonly status: number;
  readonly body: Buffer;
  readonly code: string | null;
  readonly retryable: boolean | null;
  readonly retryAfter: string | null;
};

afterAll(cleanup);

async function readiness(url: string): Promise<{ status: number; data: Ready }> {
  const response = await fetch(`${url}/health/ready`);
  // Both the 200 and the 503 answer carry the shard list in data.
  const body = JSON.parse(await response.text()) as { data: Ready };
  return { status: response.status, data: body.data };
}

/** Writes keys one at a time and learns each key's shard from the per-shard key counts. */
async function writeAndLocate(url: string, values: Map<string, Buffer>): Promise<Map<string, number>> {
  const shardOf = new Map<string, number>();
  let before = (await readiness(url)).data.shards.map((s) => s.keys);
  for (const [key, value] of values) {
    await expectOk(await putValue(url, key, value));
    const after = (await readiness(url)).data.shards.map((s) => s.keys);
    const grown = after.findIndex((count, shard) => count === before[shard] + 1);
    expect(grown, `no shard's key count grew after PUT ${key}`).toBeGreaterThanOrEqual(0);
    shardOf.set(key, grown);
    before = after;
  }
  return shardOf;
}

async function send(url: string, key: string, kind: 'get' | 'put', value?: Buffer): Promise<Outcome> {
  const init: RequestInit = { method: kind === 'put' ? 'PUT' : 'GET', signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) };
  if (value !== undefined) init.body = value;
  let response: Response;
  try {
    response = await fetch(kvUrl(url, key), init);
  } catch (error) {
    throw new Error(`${kind.toUpperCase()} ${key} got no answer within ${REQUEST_TIMEOUT_MS} ms (${String(error)})`);
  }
  const body = Buffer.from(await response.arrayBuffer());
  const retryAfter = response.headers.get('retry-after');
  if (response.status === 200 && kind === 'get') return { key, kind, status: 200, body, code: null, retryable: null, retryAfter };
  const envelope = parseEnvelope<unknown>(body.toString('utf8'));
  const error = envelope.success ? null : envelope.error;
  return { key, kind, status: response.status, body, code: error?.code ?? null, retryable: error?.retryable ?? null, retryAfter };
}

describe(`a shard crash (${SHARDS} shards, crash on key "${CRASH_KEY}")`, () => {
  let server: ServerProcess;
  const before = new Map<string, Buffer>();
  let shardOf = new Map<string, number>();
  let outcomes: Outcome[] = [];
  const fresh = new Map<string, Buffer>();

  beforeAll(async () => {
    server = await startServer({ shards: SHARDS, env: { MANTIS_FAULT_SHARD_CRASH_KEY: CRASH_KEY } });
    for (let i = 0; i < KEYS; i++) before.set(`pre/${i}`, randomBytes(1 + (i * 37) % 1500));
    shardOf = await writeAndLocate(server.url, before);
    expect(new Set(shardOf.values()).size, 'the keys written first must cover every shard').toBe(SHARDS);

    // The burst: reads of acknowledged keys and writes of new ones, with the crash in the middle.
    const keys = [...before.keys()];
    const requests: (() => Promise<Outcome>)[] = [];
    for (let i = 0; i < BURST; i++) {
      if (i === BURST / 2) requests.push(() => send(server.url, CRASH_KEY, 'put', Buffer.from('kaboom')));
      if (i % 2 === 0) {
        requests.push(() => send(server.url, keys[i % keys.length], 'get'));
      } else {
        const key = `burst/${i}`;
        fresh.set(key, randomBytes(64));
        requests.push(() => send(server.url, key, 'put', fresh.get(key)));
      }
    }
    outcomes = await Promise.all(requests.map((request) => request()));
  });

  it('answers the crashing request 503 SHARD_UNAVAILABLE, retryable', () => {
    const boom = outcomes.find((o) => o.key === CRASH_KEY);
    expect(boom).toMatchObject({ status: 503, code: 'SHARD_UNAVAILABLE', retryable: true, retryAfter: '1' });
  });

  it('answers every other request either normally or 503 SHARD_UNAVAILABLE, retryable (none hangs)', () => {
    for (const outcome of outcomes.filter((o) => o.key !== CRASH_KEY)) {
      if (outcome.status === 200) {
        if (outcome.kind === 'get') expect(outcome.body.equals(before.get(outcome.key) ?? Buffer.alloc(0)), `GET ${outcome.key}`).toBe(true);
        continue;
      }
      expect({ key: outcome.key, status: outcome.status, code: outcome.code, retryable: outcome.retryable, retryAfter: outcome.retryAfter }).toEqual({
        key: outcome.key,
        status: 503,
        code: 'SHARD_UNAVAILABLE',
        retryable: true,
        retryAfter: '1',
      });
    }
  });

  it('becomes ready again, with restarts 1 on the crashed shard only, in the same process', async () => {
    const ready = await waitUntil(
      async () => {
        const state = await readiness(server.url);
        return state.status === 200 ? state.data : undefined;
      },
      { timeoutMs: RECOVERY_TIMEOUT_MS, intervalMs: 50, what: '/health/ready to answer 200' },
    );
    expect(ready.ready).toBe(true);
    const restarts = ready.shards.map((s) => s.restarts).sort();
    expect(restarts).toEqual([0, 1]);
    expect(ready.shards.every((s) => s.state === 'ready')).toBe(true);
    expect({ exitCode: server.proc.exitCode, signal: server.proc.signalCode }).toEqual({ exitCode: null, signal: null });
    await expectOk(await fetch(`${server.url}/health/live`));

    // GETs that failed only did so because they went to the crashed shard.
    const crashed = ready.shards.find((s) => s.restarts === 1)?.id;
    const failedGets = outcomes.filter((o) => o.kind === 'get' && o.status !== 200);
    for (const outcome of failedGets) expect(shardOf.get(outcome.key), `GET ${outcome.key} failed`).toBe(crashed);
  });

  it('still holds every acknowledged key with its exact value', async () => {
    await waitUntil(async () => ((await readiness(server.url)).status === 200 ? true : undefined), {
      timeoutMs: RECOVERY_TIMEOUT_MS,
      intervalMs: 50,
      what: '/health/ready to answer 200',
    });
    await mapLimit([...before], 16, ([key, value]) => expectValue(server.url, key, value, 'application/octet-stream'));
    const ackedPuts = outcomes.filter((o) => o.kind === 'put' && o.key !== CRASH_KEY && o.status === 200);
    await mapLimit(ackedPuts, 16, (o) => expectValue(server.url, o.key, fresh.get(o.key) ?? Buffer.alloc(0), 'application/octet-stream'));
    // Writes answered 503 may or may not have been applied, but never half.
    const unknownPuts = outcomes.filter((o) => o.kind === 'put' && o.key !== CRASH_KEY && o.status !== 200);
    for (const o of unknownPuts) {
      const response = await fetch(kvUrl(server.url, o.key));
      const body = Buffer.from(await response.arrayBuffer());
      if (response.status === 200) expect(body.equals(fresh.get(o.key) ?? Buffer.alloc(0))).toBe(true);
      else expect(response.status).toBe(404);
    }
  });
});
