// mantisdb/client: the public surface of the TypeScript client.

export { MantisClient, keyPath } from './mantis-client.js';
export { MantisClientError, ClientErrorCode, type ErrorSource, type MantisErrorCode } from './client-error.js';
export { DEFAULTS, type MantisClientOptions } from './client-options.js';
export type { PoolOptions, PoolStats } from './adaptive-pool.js';
export type { BreakerOptions } from './request-breaker.js';
export type { RetryOptions } from './retry-policy.js';
export type { BreakerState } from './client-metrics.js';
export type * from './kv-types.js';
