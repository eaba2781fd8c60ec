// Shard side: the public surface of a shard's cache segment writer.
export { CacheWriter, type CacheSetResult, type CacheWriterOptions, type CacheWriterStats } from './cache-writer.js';
