// The circuit breaker against a real server that goes away and comes back:
// with the server killed, calls fail with CONNECTION_FAILED until the failure
// rate opens the breaker; then calls fail fast with CIRCUIT_OPEN without being
// sent; once a server listens on the same port again (same data dir), a
// half-open probe succeeds, the breaker closes and acknowledged data is there.
// The first server listens on an explicit port: uWebSockets.js sets
// SO_REUSEADDR only then, and without it the killed server's TIME_WAIT
// connections would keep the port from being bound again for a minute.

import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MantisClient, MantisClientError } from '../../src/client/index.js';
import { waitUntil } from '../helpers/http-client.js';
import { metricValue } from '../helpers/prom-values.js';
import { freePort } from '../helpers/client-support.js';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';

const VOLUME = 5;
const RESET_TIMEOUT_MS = 300;

let server: ServerProcess;

beforeAll(async () => {
  server = await startServer({ shards: 1, extraArgs: ['--port', String(await freePort())] });
});

afterAll(cleanup);

async function codeOf(call: Promise<unknown>): Promise<string> {
  const error = await call.then(() => null, (e: unknown) => e);
  if (error === null) return 'ok';
  if (!(error instanceof MantisClientError)) throw error;
  return error.code;
}

describe('circuit breaker', () => {
  it('does not count client errors (4xx) as failures', async () => {
    const client = new MantisClient({ url: server.url, retry: false, breaker: { volumeThreshold: 2, errorThresholdPercentage: 10 } });
    try {
      for (let i = 0; i < 20; i++) expect(await codeOf(client.put('k', 'v', { ttl: -1 }))).toBe('INVALID_TTL');
      expect(client.stats().breaker).toBe('closed');
    } finally {
      await client.close();
    }
  });

  it('opens when the server is gone, fails fast while open, and closes when a server returns on the same port', async () => {
    const registry = new Registry();
    const client = new MantisClient({
      url: server.url,
      registry,
      retry: false,
      breaker: { volumeThreshold: VOLUME, errorThresholdPercentage: 50, resetTimeoutMs: RESET_TIMEOUT_MS },
    });
    try {
      await client.connect();
      await client.put('kept', 'acknowledged before the kill');
      await server.kill9();

      const codes: string[] = [];
      while (codes.at(-1) !== 'CIRCUIT_OPEN') {
        codes.push(await codeOf(client.get('kept')));
        if (codes.length > 100) throw new Error(`the breaker never opened: ${codes.join(',')}`);
      }
      expect(new Set(codes.slice(0, -1))).toEqual(new Set(['CONNECTION_FAILED']));
      // The window holds the one successful put and the failures: the breaker
      // may open only once it holds VOLUME attempts.
      expect(1 + codes.length - 1).toBeGreaterThanOrEqual(VOLUME);
      expect(client.stats().breaker).toBe('open');
      expect(await metricValue(registry, 'mantis_client_breaker_state', { client: 'default' })).toBe(2);

      // While open, a call is refused locally: no attempt is made or counted.
      const attemptsBefore = await metricValue(registry, 'mantis_client_requests_total', { client: 'default', op: 'get', outcome: 'error' });
      const fast = await client.get('kept').then(() => null, (e: unknown) => e);
      expect(fast).toBeInstanceOf(MantisClientError);
      expect(fast).toMatchObject({ code: 'CIRCUIT_OPEN', source: 'client', status: 0 });
      expect(await metricValue(registry, 'mantis_client_requests_total', { client: 'default', op: 'get', outcome: 'error' })).toBe(attemptsBefore);
      expect(await metricValue(registry, 'mantis_client_breaker_rejections_total', { client: 'default' })).toBeGreaterThanOrEqual(2);

      server = await startServer({ shards: 1, dataDir: server.dataDir, extraArgs: ['--port', String(server.port)] });
      const value = await waitUntil(
        async () => {
          const entry = await client.get('kept').catch(() => undefined);
          return entry?.value.toString();
        },
        { timeoutMs: 15_000, intervalMs: 50, what: 'a call to succeed through the half-open breaker' },
      );
      expect(value).toBe('acknowledged before the kill');
      expect(client.stats().breaker).toBe('closed');
      expect(await metricValue(registry, 'mantis_client_breaker_state', { client: 'default' })).toBe(0);
      await client.put('after', 'reopened');
    } finally {
      await client.close();
    }
  });

});
