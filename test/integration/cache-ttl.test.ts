// TTL through the cache: a key put with ?ttl=1 is served from the cache
// (every 200 is a hit) up to its expiry and 404 from the instant it expires
// (a cached entry is checked against the clock on every read, so the sweeper's
// timing does not matter), then the sweeper removes the entry from the segment.
// A 4 MiB cache keeps the sweeper's full pass over the index short.

import { afterAll, describe, expect, it } from 'vitest';
import { expectOk, waitUntil } from '../helpers/http-client.js';
import { cacheStats, readCounts } from '../helpers/cache-probe.js';
import { kvUrl, putValue, type PutData } from '../helpers/kv-client.js';
import { cleanup, startServer } from '../helpers/server-process.js';

afterAll(cleanup);

type Observation = { readonly status: number; readonly sentAtMs: number; readonly receivedAtMs: number; readonly expiresHeader: string | null };

describe.each([true, false])('cache TTL (fast path %s)', (fastPath) => {
  it('serves a ttl=1 key from the cache until its expiry and 404 from then on', async () => {
    const server = await startServer({ shards: 2, fastPath, extraArgs: ['--cache-mb', '4'] });
    try {
      const put = await expectOk<PutData>(await putValue(server.url, 'short-lived', 'soon gone', 'text/plain', '?ttl=1'));
      const expiresAtMs = Date.parse(put.data.expires_at ?? '');
      const before = await readCounts(server.url);
      const seen: Observation[] = [];
      // Poll across the boundary (server and test share the clock), and a little past it.
      while (Date.now() < expiresAtMs + 300) {
        const sentAtMs = Date.now();
        const response = await fetch(kvUrl(server.url, 'short-lived'));
        await response.arrayBuffer();
        seen.push({ status: response.status, sentAtMs, receivedAtMs: Date.now(), expiresHeader: response.headers.get('mantis-expires-at') });
      }
      const found = seen.filter((o) => o.status === 200);
      const gone = seen.filter((o) => o.status === 404);
      expect(found.length + gone.length).toBe(seen.length);
      expect(found.length, 'some reads before the expiry').toBeGreaterThan(0);
      expect(gone.length, 'some reads after the expiry').toBeGreaterThan(0);
      // Never a 200 for a read that started at or after the expiry; never a 404 for one answered before it.
      for (const o of found) expect(o.sentAtMs).toBeLessThan(expiresAtMs);
      for (const o of gone) expect(o.receivedAtMs).toBeGreaterThanOrEqual(expiresAtMs);
      // Once gone, gone: the 200s all come before the first 404.
      expect(seen.findIndex((o) => o.status === 404)).toBe(found.length);
      for (const o of found) expect(o.expiresHeader).toBe(put.data.expires_at);
      const after = await readCounts(server.url);
      expect(after.hits - before.hits, 'every 200 was a cache hit').toBe(found.length);
      expect((await fetch(kvUrl(server.url, 'short-lived'), { method: 'HEAD' })).status).toBe(404);
      // The sweeper takes the expired entry out of the segment.
      const swept = await waitUntil(async () => {
        const stats = await cacheStats(server.url);
        return stats.total.expirations >= 1 ? stats : undefined;
      }, { timeoutMs: 5_000, what: 'the cache sweeper to remove the expired entry' });
      expect(swept.total.entries).toBe(0);
    } finally {
      await server.stop();
    }
  });
});
