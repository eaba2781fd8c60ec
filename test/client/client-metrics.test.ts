// The client's metrics on the application's registry: every series is
// registered up front, counts follow the calls, and two clients can share a
// registry under different names.

import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MantisClient } from '../../src/client/index.js';
import { metricValue } from '../helpers/prom-values.js';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';

let server: ServerProcess;

beforeAll(async () => {
  server = await startServer({ shards: 1 });
});

afterAll(cleanup);

const NAMES = [
  'mantis_client_requests_total',
  'mantis_client_errors_total',
  'mantis_client_request_duration_seconds',
  'mantis_client_retries_total',
  'mantis_client_pool_connections',
  'mantis_client_pool_queue_depth',
  'mantis_client_pool_connections_opened_total',
  'mantis_client_pool_connections_closed_total',
  'mantis_client_breaker_state',
  'mantis_client_breaker_rejections_total',
];

describe('client metrics', () => {
  it('registers every metric and counts requests, errors and latency per client', async () => {
    const registry = new Registry();
    const a = new MantisClient({ url: server.url, name: 'a', registry });
    const b = new MantisClient({ url: server.url, name: 'b', registry });
    try {
      for (const name of NAMES) expect(registry.getSingleMetric(name), name).toBeDefined();
      for (let i = 0; i < 5; i++) await a.put(`m/${i}`, 'v');
      await a.get('m/0');
      await a.get('x'.repeat(2000)).catch(() => undefined);
      await b.get('m/1');
      expect(await metricValue(registry, 'mantis_client_requests_total', { client: 'a', op: 'put', outcome: 'ok' })).toBe(5);
      expect(await metricValue(registry, 'mantis_client_requests_total', { client: 'a', op: 'get', outcome: 'ok' })).toBe(1);
      expect(await metricValue(registry, 'mantis_client_errors_total', { client: 'a', op: 'get', code: 'KEY_TOO_LARGE' })).toBe(1);
      expect(await metricValue(registry, 'mantis_client_request_duration_seconds_count', { client: 'a', op: 'put' })).toBe(5);
      expect(await metricValue(registry, 'mantis_client_request_duration_seconds_sum', { client: 'a', op: 'put' })).toBeGreaterThan(0);
      expect(await metricValue(registry, 'mantis_client_requests_total', { client: 'b', op: 'get', outcome: 'ok' })).toBe(1);
      expect(await metricValue(registry, 'mantis_client_pool_connections', { client: 'b', state: 'idle' })).toBe(1);
      const text = await registry.metrics();
      expect(text).toContain('mantis_client_request_duration_seconds_bucket{le="0.005",client="a",op="put"}');
    } finally {
      await a.close();
      await b.close();
    }
  });
});
