// Retries happen only for retryable errors. Attempts are counted with the
// client's own metrics: a 400 is sent once; a 503 SHARD_UNAVAILABLE
// (retryable; produced by the fault hook MANTIS_FAULT_SHARD_CRASH_KEY, which
// crashes the shard on every attempt) is sent `attempts` times; a refused
// connection is retried too; CIRCUIT_OPEN is not.

import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MantisClient } from '../../src/client/index.js';
import { metricValue } from '../helpers/prom-values.js';
import { freePort, rejection } from '../helpers/client-support.js';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';

const ATTEMPTS = 3;
const CRASH_KEY = 'boom';

let server: ServerProcess;

beforeAll(async () => {
  server = await startServer({ shards: 2, env: { MANTIS_FAULT_SHARD_CRASH_KEY: CRASH_KEY } });
});

afterAll(cleanup);

function newClient(url: string, registry: Registry): MantisClient {
  return new MantisClient({ url, registry, breaker: false, timeoutMs: 20_000, retry: { attempts: ATTEMPTS, baseDelayMs: 20, maxDelayMs: 100 } });
}

async function attemptsOf(registry: Registry, op: string): Promise<number> {
  const ok = await metricValue(registry, 'mantis_client_requests_total', { op, outcome: 'ok' });
  return ok + (await metricValue(registry, 'mantis_client_requests_total', { op, outcome: 'error' }));
}

describe('retries', () => {
  it('sends a request that fails with 400 once', async () => {
    const registry = new Registry();
    const client = newClient(server.url, registry);
    try {
      const error = await rejection(client.put('k', 'v', { ttl: 0 }));
      expect(error).toMatchObject({ code: 'INVALID_TTL', status: 400, retryable: false });
      expect(await attemptsOf(registry, 'put')).toBe(1);
      expect(await metricValue(registry, 'mantis_client_retries_total', { op: 'put' })).toBe(0);
    } finally {
      await client.close();
    }
  });

  it('retries 503 SHARD_UNAVAILABLE (retryable) up to the attempt limit', async () => {
    const registry = new Registry();
    const client = newClient(server.url, registry);
    try {
      const error = await rejection(client.put(CRASH_KEY, 'v'));
      expect(error).toMatchObject({ code: 'SHARD_UNAVAILABLE', status: 503, retryable: true, source: 'server' });
      expect(await attemptsOf(registry, 'put')).toBe(ATTEMPTS);
      expect(await metricValue(registry, 'mantis_client_retries_total', { op: 'put' })).toBe(ATTEMPTS - 1);
      expect(await metricValue(registry, 'mantis_client_errors_total', { op: 'put', code: 'SHARD_UNAVAILABLE' })).toBe(ATTEMPTS);
      // A per-call override: no retries.
      await rejection(client.put(CRASH_KEY, 'v', { retries: 0 }));
      expect(await attemptsOf(registry, 'put')).toBe(ATTEMPTS + 1);
    } finally {
      await client.close();
    }
  });

  it('retries a refused connection (CONNECTION_FAILED, retryable)', async () => {
    const registry = new Registry();
    const client = newClient(`http://127.0.0.1:${await freePort()}`, registry);
    try {
      const error = await rejection(client.get('k'));
      expect(error).toMatchObject({ code: 'CONNECTION_FAILED', status: 0, retryable: true, source: 'transport' });
      expect(await attemptsOf(registry, 'get')).toBe(ATTEMPTS);
    } finally {
      await client.close();
    }
  });

  it('does not retry CIRCUIT_OPEN', async () => {
    const registry = new Registry();
    const client = new MantisClient({
      url: `http://127.0.0.1:${await freePort()}`,
      registry,
      retry: { attempts: 5, baseDelayMs: 1, maxDelayMs: 2 },
      breaker: { volumeThreshold: 2, errorThresholdPercentage: 50, resetTimeoutMs: 60_000 },
    });
    try {
      const error = await rejection(client.get('k'));
      expect(error.code).toBe('CIRCUIT_OPEN');
      // Two failed attempts opened the breaker; the third was refused and not retried.
      expect(await attemptsOf(registry, 'get')).toBe(2);
      expect(await metricValue(registry, 'mantis_client_breaker_rejections_total')).toBe(1);
    } finally {
      await client.close();
    }
  });
});
