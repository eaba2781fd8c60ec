// Load shedding end to end: a real server whose in-flight cap is lowered to 8
// (MANTIS_OVERLOAD_INFLIGHT_MAX) and whose shard is made slow
// (MANTIS_FAULT_SHARD_DELAY_MS), so 40 concurrent PUTs hold more requests in
// flight than it admits. The excess is answered at once with 503 OVERLOADED
// (retryable, Retry-After: 1) in the error envelope and counted in
// mantis_http_shed_total, while health and Prometheus are still answered; once
// the load is gone a request is served again. With the defaults, the same
// concurrency sheds nothing.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kvUrl } from '../helpers/kv-client.js';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';

const CAP = 8;
const SHARD_DELAY_MS = 400;
const CONCURRENT = 40;
const VALUE = Buffer.alloc(64 * 1024, 'v');

afterAll(cleanup);

type Answer = { readonly status: number; readonly retryAfter: string | null; readonly body: string; readonly ms: number };

async function put(url: string, key: string): Promise<Answer> {
  const started = performance.now();
  const response = await fetch(kvUrl(url, key), { method: 'PUT', headers: { 'Content-Type': 'application/octet-stream' }, body: VALUE });
  const body = await response.text();
  return { status: response.status, retryAfter: response.headers.get('retry-after'), body, ms: performance.now() - started };
}

async function shedTotal(url: string): Promise<number> {
  const text = await (await fetch(`${url}/api/metrics/prometheus`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    const match = /^mantis_http_shed_total(?:\{[^}]*\})? (\S+)$/.exec(line);
    if (match !== null) total += Number(match[1]);
  }
  if (!text.includes('# TYPE mantis_http_shed_total counter')) throw new Error('mantis_http_shed_total is not exported');
  return total;
}

describe('load shedding past the in-flight cap', () => {
  let server: ServerProcess;

  beforeAll(async () => {
    server = await startServer({ shards: 1, env: { MANTIS_OVERLOAD_INFLIGHT_MAX: String(CAP), MANTIS_FAULT_SHARD_DELAY_MS: String(SHARD_DELAY_MS) } });
  });

  it('answers the excess 503 OVERLOADED at once, keeps health and Prometheus answered, and serves again afterwards', async () => {
    const before = await shedTotal(server.url);
    const load = Array.from({ length: CONCURRENT }, (_, i) => put(server.url, `shed-${i}`));
    // While the admitted PUTs wait on the slow shard: health and metrics are never shed.
    await new Promise((done) => setTimeout(done, SHARD_DELAY_MS / 4));
    for (const path of ['/health/live', '/health/ready', '/api/metrics/prometheus']) {
      const response = await fetch(`${server.url}${path}`);
      await response.text();
      expect(response.status, path).toBe(200);
    }
    const answers = await Promise.all(load);
    const served = answers.filter((a) => a.status === 200);
    const shed = answers.filter((a) => a.status === 503);
    expect(served.length + shed.length, JSON.stringify(answers.map((a) => a.status))).toBe(CONCURRENT);
    expect(served.length).toBeGreaterThanOrEqual(1);
    expect(served.length).toBeLessThanOrEqual(CAP);
    expect(shed.length).toBeGreaterThanOrEqual(CONCURRENT - CAP);
    for (const a of shed) {
      expect(JSON.parse(a.body)).toEqual({ success: false, error: { code: 'OVERLOADED', message: expect.any(String), retryable: true } });
      expect(a.retryAfter).toBe('1');
      // Shed before any work: not after the shard's delay.
      expect(a.ms).toBeLessThan(SHARD_DELAY_MS);
    }
    expect(await shedTotal(server.url)).toBe(before + shed.length);
    // The load is gone: a request is served again, and a shed PUT was never written.
    expect((await put(server.url, 'after')).status).toBe(200);
    const shedIndex = answers.findIndex((a) => a.status === 503);
    expect((await fetch(kvUrl(server.url, `shed-${shedIndex}`))).status).toBe(404);
  });
});

describe('load shedding with the default thresholds', () => {
  let server: ServerProcess;

  beforeAll(async () => {
    server = await startServer({ shards: 1 });
  });

  it('sheds nothing at the same concurrency', async () => {
    const answers = await Promise.all(Array.from({ length: CONCURRENT }, (_, i) => put(server.url, `calm-${i}`)));
    expect(answers.map((a) => a.status)).toEqual(Array.from({ length: CONCURRENT }, () => 200));
    expect(await shedTotal(server.url)).toBe(0);
  });
});
