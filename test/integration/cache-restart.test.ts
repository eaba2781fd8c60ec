// A shard that crashes and is restarted starts with an empty cache: the
// router keeps the segment, the new shard's CacheWriter clears it before it
// reports ready, and the router reads a shard's segment only while that shard
// is ready. So after the restart a key is read from the shard (the value the
// WAL replay restored) and cached again. The crash comes from the test hook
// MANTIS_FAULT_SHARD_CRASH_KEY.

import { afterAll, describe, expect, it } from 'vitest';
import { expectOk, waitUntil } from '../helpers/http-client.js';
import { cacheStats, readCounts } from '../helpers/cache-probe.js';
import { expectValue, kvUrl, putValue } from '../helpers/kv-client.js';
import { cleanup, startServer } from '../helpers/server-process.js';

afterAll(cleanup);

const CRASH_KEY = 'crash-the-shard';

describe('cache across a shard restart', () => {
  it('clears the restarted shard\'s segment; reads go to the shard, then hit again', async () => {
    const server = await startServer({ shards: 1, fsync: 'always', env: { MANTIS_FAULT_SHARD_CRASH_KEY: CRASH_KEY } });
    try {
      const value = Buffer.from('acknowledged before the crash');
      await expectOk(await putValue(server.url, 'k', value, 'text/plain'));
      await expectValue(server.url, 'k', value, 'text/plain');
      expect((await cacheStats(server.url)).total.entries).toBe(1);
      expect((await fetch(kvUrl(server.url, CRASH_KEY))).status).toBe(503);
      await waitUntil(async () => ((await fetch(`${server.url}/health/ready`)).status === 200 ? true : undefined), {
        timeoutMs: 10_000,
        what: 'the crashed shard to be ready again',
      });
      expect((await cacheStats(server.url)).total.entries, 'the new shard cleared the segment').toBe(0);
      const before = await readCounts(server.url);
      await expectValue(server.url, 'k', value, 'text/plain');
      const loaded = await readCounts(server.url);
      expect(loaded.shardReads - before.shardReads, 'read from the restarted shard').toBe(1);
      await expectValue(server.url, 'k', value, 'text/plain');
      expect((await readCounts(server.url)).hits, 'cached again').toBe(loaded.hits + 1);
    } finally {
      await server.stop('SIGKILL');
    }
  });
});
