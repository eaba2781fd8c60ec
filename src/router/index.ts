export { ShardPool, type ShardPoolOptions } from './shard-pool.js';
export { ShardClient, deadlineExceeded, withTimeout, type ShardState } from './shard-client.js';
