// The low hit-rate warning end to end: a server with --cache-hit-rate-warn
// 0.9 over a 1 s window stays quiet while idle, then a stream of GETs of
// absent keys (each a cache miss) makes every shard warn once — a pino warn
// line, mantis_cache_hit_rate_low 1, mantis_cache_hit_rate_warnings_total 1,
// and a warning event to a WebSocket subscriber (whatever its prefix) — and a
// stream of GETs of cached keys (hits) brings the gauge back to 0.

import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { buildSlotMap, shardOfKey } from '../../shared/slot.js';
import { expectOk, mapLimit } from '../helpers/http-client.js';
import { kvUrl, putValue } from '../helpers/kv-client.js';
import { cleanup, startServer } from '../helpers/server-process.js';
import { scrape } from '../helpers/storage-fixtures.js';
import { openWs, wsSubscribe, type StreamMessage } from '../helpers/stream-clients.js';

afterAll(cleanup);

const SHARDS = 2;
const THRESHOLD = 0.9;

/** GETs `keys` round-robin, 16 at a time, until `stop()` says so. */
async function getUntil(base: string, keys: readonly string[], stop: () => Promise<boolean>): Promise<void> {
  let round = 0;
  while (!(await stop())) {
    const batch = Array.from({ length: 400 }, (_, i) => keys[(round * 400 + i) % keys.length]);
    round++;
    await mapLimit(batch, 16, async (key) => {
      await (await fetch(kvUrl(base, key))).arrayBuffer();
    });
  }
}

describe('cache hit-rate warning', () => {
  it('warns once per shard when the hit rate stays low for the window, and re-arms when it recovers', async () => {
    const server = await startServer({ shards: SHARDS, extraArgs: ['--cache-mb', '8', '--cache-hit-rate-warn', String(THRESHOLD), '--cache-hit-rate-window-s', '1'] });
    const ws = await openWs(server.url);
    try {
      // Any prefix: warnings go to every subscriber.
      await wsSubscribe(ws, 'no-such-prefix:');
      const low = async (): Promise<number[]> => {
        const metrics = await scrape(server.url);
        return Array.from({ length: SHARDS }, (_, shard) => metrics.value('mantis_cache_hit_rate_low', { shard: String(shard) }));
      };
      const warnings = async (): Promise<number[]> => {
        const metrics = await scrape(server.url);
        return Array.from({ length: SHARDS }, (_, shard) => metrics.value('mantis_cache_hit_rate_warnings_total', { shard: String(shard) }));
      };

      // Idle (and a few lookups, under the minimum): no warning.
      for (let i = 0; i < 20; i++) await (await fetch(kvUrl(server.url, `absent-${i}`))).arrayBuffer();
      await delay(2_500);
      expect(await low()).toEqual([0, 0]);
      expect(await warnings()).toEqual([0, 0]);
      expect(ws.inbox.unread()).toEqual([]);

      // Misses on both shards until both warn.
      const absent = Array.from({ length: 1000 }, (_, i) => `absent:${i}`);
      const map = buildSlotMap(SHARDS);
      expect(new Set(absent.map((k) => shardOfKey(map, Buffer.from(k)))).size).toBe(SHARDS);
      await getUntil(server.url, absent, async () => (await low()).every((v) => v === 1));
      expect(await warnings()).toEqual([1, 1]);

      const events: StreamMessage[] = [await ws.inbox.next(), await ws.inbox.next()];
      for (const e of events) {
        expect(e).toEqual({ type: 'warning', reason: 'low_hit_rate', shard: expect.any(Number), hit_rate: expect.any(Number), threshold: THRESHOLD, window_s: 1, ts: expect.any(Number) });
        expect(e.hit_rate as number).toBeLessThan(THRESHOLD);
      }
      expect(events.map((e) => e.shard).sort()).toEqual([0, 1]);
      const lines = server
        .output()
        .stdout.split('\n')
        .filter((l) => l.includes('"hit_rate"'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines.map((l) => l.shard).sort()).toEqual([0, 1]);
      for (const l of lines) expect(l).toMatchObject({ level: 40, threshold: THRESHOLD, window_s: 1, msg: expect.stringMatching(/has stayed below 0\.9 for 1 s/) });

      // More misses: still low, but no second warning.
      await getUntil(server.url, absent, (() => {
        const until = Date.now() + 2_500;
        return async () => Date.now() > until;
      })());
      expect(await warnings()).toEqual([1, 1]);
      expect(ws.inbox.unread()).toEqual([]);

      // Hits on both shards: the gauge goes back to 0.
      const cached = Array.from({ length: 20 }, (_, i) => `cached:${i}`);
      expect(new Set(cached.map((k) => shardOfKey(map, Buffer.from(k)))).size).toBe(SHARDS);
      for (const key of cached) await expectOk(await putValue(server.url, key, 'hot', 'text/plain'));
      await getUntil(server.url, cached, async () => (await low()).every((v) => v === 0));
      expect(await warnings()).toEqual([1, 1]);
      expect((await scrape(server.url)).value('mantis_cache_hits_total')).toBeGreaterThan(100);
    } finally {
      ws.close();
      expect(await server.stop()).toBe(0);
    }
  }, 90_000);

  it('does not watch anything when the threshold is 0', async () => {
    const server = await startServer({ shards: 1, extraArgs: ['--cache-mb', '4', '--cache-hit-rate-warn', '0', '--cache-hit-rate-window-s', '1'] });
    try {
      await mapLimit(Array.from({ length: 300 }, (_, i) => `absent:${i}`), 16, async (key) => {
        await (await fetch(kvUrl(server.url, key))).arrayBuffer();
      });
      await delay(1_500);
      const metrics = await scrape(server.url);
      expect(metrics.text).not.toContain('mantis_cache_hit_rate_low');
      expect(server.output().stdout).not.toContain('"hit_rate"');
    } finally {
      await server.stop();
    }
  });
});
