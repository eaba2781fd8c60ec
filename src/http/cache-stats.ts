// GET /api/v1/cache/stats: each shard's cache counters and their total, read
// straight from the segments' headers on the main thread (no shard message).

import type { CacheSegmentStats } from '../../shared/cache/index.js';
import type { ShardPool } from '../router/index.js';
import { okReply, type HttpReply } from './reply.js';

/** One shard's (or the total's) figures as the route answers them. */
export type CacheFigures = {
  readonly hits: number;
  readonly misses: number;
  readonly hit_rate: number | null;
  readonly evictions: number;
  readonly expirations: number;
  /** Entries refused because they were too large for the segment. */
  readonly refused: number;
  /** Router reads that gave up on an entry the shard kept rewriting, and went to the ring. */
  readonly fallbacks: number;
  readonly bytes: number;
  readonly entries: number;
  readonly capacity: number;
};

function figures(s: CacheSegmentStats): CacheFigures {
  const lookups = s.hits + s.misses;
  return {
    hits: s.hits,
    misses: s.misses,
    hit_rate: lookups === 0 ? null : s.hits / lookups,
    evictions: s.evictions,
    expirations: s.expirations,
    refused: s.refused,
    fallbacks: s.fallbacks,
    bytes: s.bytes,
    entries: s.entries,
    capacity: s.capacityBytes,
  };
}

const ZERO: CacheSegmentStats = {
  capacityBytes: 0, bytes: 0, entries: 0, hits: 0, misses: 0, fallbacks: 0, evictions: 0, expirations: 0, refused: 0,
};

function sum(a: CacheSegmentStats, b: CacheSegmentStats): CacheSegmentStats {
  return {
    capacityBytes: a.capacityBytes + b.capacityBytes,
    bytes: a.bytes + b.bytes,
    entries: a.entries + b.entries,
    hits: a.hits + b.hits,
    misses: a.misses + b.misses,
    fallbacks: a.fallbacks + b.fallbacks,
    evictions: a.evictions + b.evictions,
    expirations: a.expirations + b.expirations,
    refused: a.refused + b.refused,
  };
}

export function cacheStatsReply(pool: ShardPool): HttpReply {
  const perShard = pool.shards.map((shard) => ({ id: shard.id, stats: shard.cacheStats() }));
  const enabled = perShard.some((s) => s.stats !== null);
  const total = perShard.reduce((acc, s) => (s.stats === null ? acc : sum(acc, s.stats)), ZERO);
  return okReply({
    enabled,
    total: figures(total),
    shards: perShard.map((s) => ({ id: s.id, ...figures(s.stats ?? ZERO) })),
  });
}
