export { ShardPool, type ShardPoolOptions } from './shard-pool.js';
export { ShardClient, withTimeout, type ShardState } from './shard-client.js';
