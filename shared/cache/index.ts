// Loaded by router and shards: the cache segment layout, the key hash and the
// router's lock-free reader.
export {
  CACHE_CAPACITY_BYTES_MAX, CACHE_CAPACITY_BYTES_MIN, ENTRY_OVERHEAD_BYTES, cacheCapacityForSegmentBytes,
  cacheSegmentBytes, computeCacheLayout, createCacheSegment, readCacheStats,
  type CacheLayout, type CacheSegmentStats,
} from './cache-layout.js';
export { cacheHash } from './cache-hash.js';
export { CacheReader, READER_RETRIES_MAX, type CacheHit, type CacheReaderStats } from './cache-reader.js';
