// The client's adaptive pool against the real server: connect() warms the
// minimum; concurrent calls grow the pool to its maximum and queue beyond it;
// when the calls stop, idle connections close down to the minimum; sequential
// calls reuse one hot connection instead of growing. The shard is slowed
// (MANTIS_FAULT_SHARD_DELAY_MS) so that concurrent calls overlap.

import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MantisClient } from '../../src/client/index.js';
import { waitUntil } from '../helpers/http-client.js';
import { metricValue } from '../helpers/prom-values.js';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';

const MIN = 2;
const MAX = 8;
const IDLE_TIMEOUT_MS = 200;
const CALLS = 64;

let server: ServerProcess;

beforeAll(async () => {
  server = await startServer({ shards: 2, env: { MANTIS_FAULT_SHARD_DELAY_MS: '20' } });
});

afterAll(cleanup);

describe('adaptive pool', () => {
  it('warms min connections, grows to max under concurrency with the rest queued, and shrinks back to min when idle', async () => {
    const registry = new Registry();
    const client = new MantisClient({ url: server.url, name: 'pool-test', registry, pool: { min: MIN, max: MAX, idleTimeoutMs: IDLE_TIMEOUT_MS } });
    try {
      await client.connect();
      expect(client.stats().pool).toEqual({ connections: MIN, busy: 0, idle: MIN, queued: 0 });
      expect(await metricValue(registry, 'mantis_client_pool_connections_opened_total', { client: 'pool-test' })).toBe(MIN);

      let maxQueued = 0;
      const calls = Array.from({ length: CALLS }, (_, i) => client.put(`pool/${i}`, `v${i}`));
      const all = Promise.all(calls);
      const grown = await waitUntil(
        async () => {
          const { pool } = client.stats();
          maxQueued = Math.max(maxQueued, pool.queued);
          return pool.connections === MAX && pool.queued > 0 ? pool : undefined;
        },
        { timeoutMs: 10_000, intervalMs: 1, what: `the pool to reach ${MAX} connections with calls queued` },
      );
      expect(grown.busy).toBe(MAX);
      expect(await metricValue(registry, 'mantis_client_pool_queue_depth', { client: 'pool-test' })).toBeGreaterThan(0);
      await all;
      expect(client.stats().pool).toMatchObject({ queued: 0, busy: 0 });
      expect(await metricValue(registry, 'mantis_client_pool_connections_opened_total', { client: 'pool-test' })).toBe(MAX);

      await waitUntil(async () => (client.stats().pool.connections === MIN ? true : undefined), {
        timeoutMs: 10_000,
        what: `the idle pool to shrink to ${MIN}`,
      });
      expect(await metricValue(registry, 'mantis_client_pool_connections_closed_total', { client: 'pool-test', reason: 'idle' })).toBe(MAX - MIN);
      expect(await metricValue(registry, 'mantis_client_pool_connections', { client: 'pool-test', state: 'idle' })).toBe(MIN);
      // The survivors still work.
      expect((await client.get('pool/63'))?.value.toString()).toBe('v63');
    } finally {
      await client.close();
    }
  });

  it('serves sequential calls on the connections it has, without growing', async () => {
    const registry = new Registry();
    const client = new MantisClient({ url: server.url, registry, pool: { min: 1, max: MAX } });
    try {
      await client.connect();
      for (let i = 0; i < 20; i++) await client.put(`seq/${i}`, 'v');
      expect(client.stats().pool.connections).toBe(1);
      expect(await metricValue(registry, 'mantis_client_pool_connections_opened_total', { client: 'default' })).toBe(1);
    } finally {
      await client.close();
    }
  });

  it('refuses calls beyond pool.queueMax with POOL_QUEUE_FULL, without sending them', async () => {
    const client = new MantisClient({ url: server.url, pool: { min: 1, max: 1, queueMax: 2 } });
    try {
      await client.connect();
      const outcomes = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => client.put(`q/${i}`, 'v')));
      const codes = outcomes.map((o) => (o.status === 'fulfilled' ? 'ok' : (o.reason as { code: string }).code));
      expect(codes).toEqual(['ok', 'ok', 'ok', 'POOL_QUEUE_FULL', 'POOL_QUEUE_FULL']);
      expect(await client.get('q/3')).toBeNull();
    } finally {
      await client.close();
    }
  });
});
