// A shard's document engine in this process for tests: a real LsmStore and
// WAL in a temp dir, ShardOps with the transaction participant as its hook,
// and a stand-in for the actor that logs each command's writes as one WAL
// record and runs background steps as internal work.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { decodeDocAnswer, encodeDocCommand, type CollectionInfo, type DocAnswer, type DocChange, type DocCommand } from '../../shared/docs/doc-protocol.js';
import type { Doc } from '../../shared/docs/doc-types.js';
import type { IndexDef } from '../../shared/docs/index-entries.js';
import { createOracle, TimestampOracle } from '../../shared/txn/timestamp-oracle.js';
import { encodeWriteOps, WAL_KV_OPS, type DeleteOp, type PutOp } from '../../shared/wire.js';
import { DocShard } from '../../workers/docs/doc-shard.js';
import { LsmStore, runLsmTask, tuningFromBudget, type Undo } from '../../workers/lsm/index.js';
import { ShardOps } from '../../workers/shard/shard-ops.js';
import { replayShardWal } from '../../workers/shard/shard-replay.js';
import { TxnParticipant } from '../../workers/txn/txn-participant.js';
import { WalWriter } from '../../workers/wal/index.js';

export const dirs: string[] = [];
export const open: Shard[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

export class Shard {
  readonly store: LsmStore;
  readonly ops: ShardOps;
  readonly wal: WalWriter;
  readonly docs: DocShard;
  readonly posted: DocChange[] = [];

  constructor(readonly dir: string, oracle: TimestampOracle) {
    const walRef: { wal: WalWriter | null } = { wal: null };
    this.store = LsmStore.open({
      dir: join(dir, 'sst'),
      tuning: { ...tuningFromBudget(1 << 22), memtableBytes: 1 << 20 },
      runTask: (task) => Promise.resolve(runLsmTask(task)),
      log: () => undefined,
      onFlushed: (_lsn, segment) => walRef.wal?.removeSegmentsBefore(segment),
    });
    this.ops = new ShardOps(this.store);
    const txn = new TxnParticipant({ store: this.store, ops: this.ops, oracle, currentSegment: () => walRef.wal?.currentSegment ?? 0, metrics: null });
    this.ops.setTxnHook(txn);
    const replayed = replayShardWal(this.ops, txn, join(dir, 'wal'), this.store.flushedLsn);
    this.wal = WalWriter.open({ dir: join(dir, 'wal'), fsync: 'none', fsyncBatchMs: 5, segmentBytesMax: 1 << 30 }, { ...replayed.result, lastLsn: Math.max(replayed.result.lastLsn, this.store.flushedLsn) });
    walRef.wal = this.wal;
    this.docs = new DocShard({ store: this.store, ops: this.ops, postChanges: (c) => this.posted.push(...c), log: () => undefined });
    this.docs.open(Date.now());
  }

  private log(writes: (PutOp | DeleteOp)[]): void {
    if (writes.length > 0) this.wal.append([{ type: WAL_KV_OPS, payload: encodeWriteOps(writes) }]);
  }

  /** One command as the actor runs it: a throw rolls back what it applied. */
  run(command: DocCommand): DocAnswer {
    const undo: Undo[] = [];
    try {
      const applied = this.docs.handle({ kind: 'doc', write: true, body: encodeDocCommand(command) }, Date.now(), undo);
      if (applied.response.kind !== 'doc-result') throw new Error(`unexpected answer ${applied.response.kind}`);
      this.log(applied.writes);
      return decodeDocAnswer(applied.response.body);
    } catch (error) {
      this.ops.rollback(undo);
      throw error;
    }
  }

  /** Runs background steps until none is left (or `max`). */
  background(max = 1000): void {
    for (let i = 0; i < max; i++) {
      const undo: Undo[] = [];
      const step = this.docs.background.step(Date.now(), undo);
      this.log(step.writes);
      if (!step.more) return;
    }
  }

  async close(): Promise<void> {
    await this.wal.close();
    await this.store.close();
  }
}

export function newShard(dir?: string): Shard {
  const d = dir ?? mkdtempSync(join(tmpdir(), 'mantis-docshard-'));
  if (dir === undefined) dirs.push(d);
  const s = new Shard(d, new TimestampOracle(createOracle(100)));
  open.push(s);
  return s;
}

export const index = (id: number, name: string, keys: IndexDef['keys'], extra: Partial<IndexDef> = {}): IndexDef => ({
  id,
  name,
  keys,
  unique: false,
  sparse: false,
  partialFilter: null,
  ttlSeconds: null,
  state: 'ready',
  ...extra,
});

export function info(name: string, indexes: IndexDef[] = [], version = 1): CollectionInfo {
  return { name, id: 7, version, createdAtMs: 0, validator: null, indexes, nextIndexId: indexes.length + 1 };
}

export function find(s: Shard, filter: Doc, extra: Partial<Extract<DocCommand, { op: 'find' }>> = {}): Extract<DocAnswer, { op: 'found' }> {
  const answer = s.run({ op: 'find', coll: 'c', filter, sort: null, projection: null, limit: 0, after: null, resume: null, budget_ms: 0, hint: null, ...extra });
  if (answer.op !== 'found') throw new Error(answer.op);
  return answer;
}

