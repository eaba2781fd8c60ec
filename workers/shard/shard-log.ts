// Shard threads log through pino to the same stream as the router, tagged
// with their shard id.

import pino from 'pino';

export type ShardLog = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

export function createShardLog(shardId: number, level: string): ShardLog {
  const logger = pino({ level, base: { shard: shardId } });
  return (lvl, msg, fields) => logger[lvl](fields ?? {}, msg);
}
