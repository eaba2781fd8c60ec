// A shard's table engine in this process for tests: a real LsmStore and WAL in
// a temp dir, ShardOps with the transaction participant as its hook, and a
// stand-in for the actor that logs each command's writes as one WAL record,
// runs background steps and the mover's commits as internal work. Segments
// are built in this thread (no pool).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { encodeRow } from '../../shared/tables/row-codec.js';
import { decodeTableAnswer, encodeTableCommand, type OnConflict, type TableAnswer, type TableCommand } from '../../shared/tables/table-protocol.js';
import type { Cell, ColumnDef, ColumnType, Predicate, Row, TableInfo } from '../../shared/tables/table-types.js';
import { createOracle, TimestampOracle } from '../../shared/txn/timestamp-oracle.js';
import { encodeWriteOps, WAL_KV_OPS, type DeleteOp, type PutOp } from '../../shared/wire.js';
import { LsmStore, runLsmTask, tuningFromBudget, type Undo } from '../../workers/lsm/index.js';
import { ShardOps } from '../../workers/shard/shard-ops.js';
import { replayShardWal } from '../../workers/shard/shard-replay.js';
import { TxnParticipant } from '../../workers/txn/txn-participant.js';
import { WalWriter } from '../../workers/wal/index.js';
import { TableShard } from '../../workers/tables/table-shard.js';

/** The ok answer of a command op (some answers serve two ops). */
export type AnswerOf<Op> = TableAnswer extends infer T ? (T extends { ok: true; op: infer O } ? (Op extends O ? T : never) : never) : never;

export const dirs: string[] = [];
export const open: TShard[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

export class TShard {
  readonly store: LsmStore;
  readonly ops: ShardOps;
  readonly wal: WalWriter;
  readonly tables: TableShard;
  readonly expired: string[] = [];
  /** The shard's transaction participant. */
  readonly txn: TxnParticipant;
  private closed = false;

  /** withTxn: the table engine gets the transaction deps (snapshot reads, file retention, the commit hook). */
  constructor(
    readonly dir: string,
    readonly oracle: TimestampOracle,
    withTxn = false,
  ) {
    const walRef: { wal: WalWriter | null } = { wal: null };
    this.store = LsmStore.open({
      dir: join(dir, 'sst'),
      tuning: { ...tuningFromBudget(1 << 24), memtableBytes: 4 << 20 },
      runTask: (task) => Promise.resolve(runLsmTask(task)),
      log: () => undefined,
      onFlushed: (_lsn, segment) => walRef.wal?.removeSegmentsBefore(segment),
    });
    this.ops = new ShardOps(this.store);
    const txn = (this.txn = new TxnParticipant({ store: this.store, ops: this.ops, oracle, currentSegment: () => walRef.wal?.currentSegment ?? 0, metrics: null }));
    this.ops.setTxnHook(txn);
    const replayed = replayShardWal(this.ops, txn, join(dir, 'wal'), this.store.flushedLsn);
    this.wal = WalWriter.open(
      { dir: join(dir, 'wal'), fsync: 'none', fsyncBatchMs: 5, segmentBytesMax: 1 << 30 },
      { ...replayed.result, lastLsn: Math.max(replayed.result.lastLsn, this.store.flushedLsn) },
    );
    walRef.wal = this.wal;
    this.tables = new TableShard({
      store: this.store,
      ops: this.ops,
      dataDir: dir,
      log: () => undefined,
      emitExpired: (name) => this.expired.push(name),
      ...(withTxn ? { txn: { versions: () => txn.versions, currentTs: () => oracle.current(), oldestSnapshot: () => oracle.oldestSnapshot() } } : {}),
    });
    this.tables.open(Date.now());
    if (withTxn) txn.setAppliedHook((writes, nowMs) => this.tables.txnApplied(writes, nowMs), () => this.tables.data.forEach((t) => t.forgetMarks()));
  }

  private log(writes: (PutOp | DeleteOp)[]): void {
    if (writes.length > 0) this.wal.append([{ type: WAL_KV_OPS, payload: encodeWriteOps(writes) }]);
  }

  /** One command as the actor runs it: a throw rolls back what it applied. */
  run(command: TableCommand, nowMs = Date.now()): TableAnswer {
    const undo: Undo[] = [];
    try {
      const applied = this.tables.handle({ kind: 'tbl', write: true, body: encodeTableCommand(command) }, nowMs, undo);
      if (applied.response.kind !== 'tbl-result') throw new Error(`unexpected answer ${applied.response.kind}`);
      this.log(applied.writes);
      return decodeTableAnswer(applied.response.body);
    } catch (error) {
      this.ops.rollback(undo);
      throw error;
    }
  }

  /** As run, expecting ok: the answer of that op. */
  ok<Op extends TableCommand['op']>(command: TableCommand & { op: Op }, nowMs = Date.now()): AnswerOf<Op> {
    const answer = this.run(command, nowMs);
    if (!answer.ok) throw new Error(`${command.op} refused: ${answer.code} ${answer.message}`);
    return answer as AnswerOf<Op>;
  }

  /** Runs background steps until none is left (or `max`). */
  background(max = 1000, nowMs = Date.now()): void {
    for (let i = 0; i < max; i++) {
      const undo: Undo[] = [];
      const step = this.tables.background.step(nowMs, undo);
      this.log(step.writes);
      if (!step.more) return;
    }
  }

  /** Runs the mover's queued commits as the actor would (internal work, one record each). */
  runPending(nowMs = Date.now()): void {
    for (const task of this.tables.mover.pending.splice(0)) {
      const undo: Undo[] = [];
      try {
        this.log(task(nowMs, undo));
      } catch (error) {
        this.ops.rollback(undo);
        throw error;
      }
    }
  }

  /** Waits for the background move or compaction in flight and commits it. */
  async settleMover(): Promise<void> {
    for (let i = 0; i < 1000 && (this.tables.mover.busy || this.tables.mover.pending.length > 0); i++) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      this.runPending();
    }
  }

  /** A background move of the table's delta (one segment), committed. */
  async backgroundMove(name: string): Promise<boolean> {
    const t = this.tables.data.get(this.tables.catalog.get(name)?.info.id ?? -1);
    if (t === undefined) return false;
    const started = this.tables.mover.startMove(t, Date.now());
    await this.settleMover();
    return started;
  }

  async backgroundCompaction(name: string): Promise<boolean> {
    const t = this.tables.data.get(this.tables.catalog.get(name)?.info.id ?? -1);
    if (t === undefined) return false;
    const started = this.tables.mover.startCompaction(t, Date.now());
    await this.settleMover();
    return started;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.wal.close();
    await this.store.close();
  }
}

export function newShard(dir?: string, withTxn = false): TShard {
  const d = dir ?? mkdtempSync(join(tmpdir(), 'mantis-tblshard-'));
  if (dir === undefined) dirs.push(d);
  const oracle = new TimestampOracle(createOracle(100));
  // With transactions, tests take snapshots from the oracle themselves: count one live throughout
  // (the router's TxnManager counts each before taking it), so plain writes are versioned.
  if (withTxn) oracle.snapshotBegun();
  const s = new TShard(d, oracle, withTxn);
  open.push(s);
  return s;
}

/** Closes the shard and opens its directory again (a restart after a clean stop). */
export async function reopen(s: TShard): Promise<TShard> {
  await s.close();
  return newShard(s.dir);
}

export const col = (name: string, type: ColumnType, nullable = true, def: Cell = null): ColumnDef => ({ name, type, nullable, default: def });

export function tableInfo(name: string, columns: ColumnDef[], primaryKey: string[], extra: Partial<TableInfo> = {}): TableInfo {
  return {
    name,
    id: 42,
    version: 1,
    createdAtMs: 0,
    columns,
    primaryKey,
    partitionKeyLength: primaryKey.length,
    keyDesc: primaryKey.map(() => false),
    indexes: [],
    nextIndexId: 1,
    defaultTtlSeconds: 0,
    cql: false,
    ...extra,
  };
}

/** An insert command of full rows (stored forms), in order. */
export function insertCmd(info: TableInfo, rows: Row[], onConflict: OnConflict = 'error', ttlMs = 0): Extract<TableCommand, { op: 'insert' }> {
  const types = info.columns.map((c) => c.type);
  return { op: 'insert', table: info.name, tableId: info.id, rows: rows.map((r) => encodeRow(types, r)), rowIndex: rows.map((_r, i) => i), onConflict, ttlMs };
}

export function queryCmd(info: TableInfo, q: Partial<Extract<TableCommand, { op: 'query' }>> = {}): Extract<TableCommand, { op: 'query' }> {
  return {
    op: 'query',
    table: info.name,
    tableId: info.id,
    columns: info.columns.map((_c, i) => i),
    where: null,
    groupBy: [],
    aggregates: [],
    orderBy: [],
    limit: 0,
    after: null,
    hint: null,
    ...q,
  };
}

/** Every row of the table (all columns, primary-key order). */
export function allRows(s: TShard, info: TableInfo, where: Predicate | null = null): Row[] {
  const answer = s.ok(queryCmd(info, { where }));
  return answer.rows;
}
