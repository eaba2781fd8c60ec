// Reading the cache's effect on a running server in the integration tests:
// GET /api/v1/cache/stats (hits, misses, refused … summed over shards) and the
// shard-side GET/HEAD counts from mantis_shard_ops_total, so a test can tell a
// hit served by the router (no hop) from a read that went over the ring.

import type { CacheFigures } from '../../src/http/cache-stats.js';
import { expectOk } from './http-client.js';
import { scrape } from './storage-fixtures.js';

export type { CacheFigures };

export type CacheStats = {
  readonly enabled: boolean;
  readonly total: CacheFigures;
  readonly shards: readonly (CacheFigures & { readonly id: number })[];
};

export async function cacheStats(base: string): Promise<CacheStats> {
  return (await expectOk<CacheStats>(await fetch(`${base}/api/v1/cache/stats`))).data;
}

/** Cache hits so far and the GETs + HEADs the shards applied (every shard). */
export async function readCounts(base: string): Promise<{ hits: number; shardReads: number }> {
  const [stats, metrics] = await Promise.all([cacheStats(base), scrape(base)]);
  const shardReads = metrics.value('mantis_shard_ops_total', { op: 'get' }) + metrics.value('mantis_shard_ops_total', { op: 'head' });
  return { hits: stats.total.hits, shardReads };
}
