// A shard's WAL replay at start: KV records the tables do not already hold
// (lsn > flushedLsn) are re-applied to the memtable; transaction records go to
// the participant, which applies COMMIT_ONE writes the same way, holds every
// PREPARE whatever its lsn and, at the end, re-locks the transactions left
// prepared (in doubt) and names them.

import { performance } from 'node:perf_hooks';
import type { ReplaySummary } from '../../shared/shard-contract.js';
import { decodeWriteOps, WAL_CLOCK, WAL_END, WAL_KV_OPS } from '../../shared/wire.js';
import type { TxnParticipant } from '../txn/txn-participant.js';
import { replayWal, type ReplayResult, type WalLog } from '../wal/index.js';
import type { ShardOps } from './shard-ops.js';

export type ShardReplay = {
  readonly summary: ReplaySummary;
  readonly result: ReplayResult;
  /** Transactions prepared here and not decided in the log. */
  readonly inDoubt: string[];
};

export function replayShardWal(ops: ShardOps, txn: TxnParticipant, walDir: string, flushedLsn: number, log?: WalLog): ShardReplay {
  const started = performance.now();
  const nowMs = Date.now();
  txn.beginReplay(flushedLsn);
  const result = replayWal(
    walDir,
    (type, lsn, payload, segment) => {
      if (type === WAL_CLOCK || type === WAL_END) return;
      if (type !== WAL_KV_OPS) {
        txn.replayRecord(type, lsn, segment, payload, nowMs);
        return;
      }
      if (lsn <= flushedLsn) return;
      for (const op of decodeWriteOps(payload)) ops.replay(op, nowMs);
    },
    log,
  );
  const inDoubt = txn.endReplay();
  const summary = {
    segments: result.segments,
    records: result.records,
    bytes: result.bytes,
    lastLsn: result.lastLsn,
    droppedBytes: result.truncated?.droppedBytes ?? 0,
    truncatedReason: result.truncated?.reason ?? null,
    durationMs: performance.now() - started,
  };
  if (inDoubt.length > 0) log?.('warn', 'transactions prepared and not decided before the restart are in doubt', { inDoubt });
  return { summary, result, inDoubt };
}
