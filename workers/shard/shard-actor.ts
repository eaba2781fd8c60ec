// The shard actor's hot loop: drain every request the router committed, apply
// them in order, write all of the batch's writes to the WAL in one write
// (group commit), answer reads at once and writes once the WAL says they are
// durable under the fsync policy. Waiting is Atomics.waitAsync, never a spin.
// When the LSM cannot take writes yet (both memtables full, level 0 too deep,
// or a freeze waiting for in-flight writes to become durable) write requests
// are held in order — reads go on — and answered SHARD_BUSY once held longer
// than LIMITS.write_stall_max_ms.
// Write-back writes (a cache policy) are acknowledged as soon as they are
// applied and collected here; they are logged to the WAL as one batch within
// writeBackMs, before any freeze (so a flushed table never holds a write the
// WAL has not seen) and before the shard closes. A crash loses at most the
// write-back writes acknowledged in the last writeBackMs (plus, for a power
// loss, the fsync policy's window).
// Transaction requests (txn-*) go to the TxnParticipant: their WAL records join
// the batch's single write like any write, and commits, prepares and decisions
// are answered once durable; a rollback also undoes the participant's state.

import { basename } from 'node:path';
import { LIMITS } from '../../shared/limits.js';
import { ShardMetric } from '../../shared/metrics-layout.js';
import { FrameError } from '../../shared/byte-io.js';
import { MantisError } from '../../shared/errors.js';
import { RingReader } from '../../shared/ring.js';
import {
  BACKUP_REQUEST_CODE,
  decodeRequest,
  encodeClock,
  encodeResponse,
  encodeWriteOps,
  frameId,
  isWriteRequest,
  WAL_CLOCK,
  WAL_KV_OPS,
  type DeleteOp,
  type DocRequest,
  type TblRequest,
  type PutOp,
  type ShardRequest,
  type ShardResponse,
} from '../../shared/wire.js';
import type { TxnRequest } from '../../shared/txn/txn-wire.js';
import type { TxnParticipant } from '../txn/txn-participant.js';
import { WalError, type WalWriter } from '../wal/index.js';
import { CorruptionError, type LsmStore } from '../lsm/index.js';
import { ResponseSender } from './response-sender.js';
import type { ShardOps, Undo } from './shard-ops.js';
import type { ShardLog } from './shard-log.js';
import type { ShardEvents } from './shard-events.js';
import { cutForBackup, type BackupCutRequest } from './backup-cut.js';

type PendingWrite = { readonly id: number; readonly response: ShardResponse };
/** undo: memtable writes to roll back; txnUndo: the participant's state to restore (in order, undone newest first). */
type PendingBatch = { readonly writes: PendingWrite[]; readonly undo: Undo[]; readonly txnUndo: (() => void)[]; settled: boolean };

const emptyBatch = (): PendingBatch => ({ writes: [], undo: [], txnUndo: [], settled: false });

function isTxnRequest(request: ShardRequest): request is TxnRequest {
  switch (request.kind) {
    case 'txn-commit':
    case 'txn-prepare':
    case 'txn-decide':
    case 'txn-read':
    case 'txn-list':
      return true;
    default:
      return false;
  }
}

export type ActorDeps = {
  readonly reader: RingReader;
  readonly sender: ResponseSender;
  readonly ops: ShardOps;
  /** The shard's transaction participant (txn-* requests). */
  readonly txn: TxnParticipant;
  readonly store: LsmStore;
  readonly wal: WalWriter;
  readonly metrics: Float64Array;
  readonly log: ShardLog;
  readonly crashKey: string | null;
  /** Fault hook (MANTIS_FAULT_SHARD_DELAY_MS): wait this long before each drained batch; 0 = off. */
  readonly delayMs: number;
  /** Invalidation events of each batch, posted at its end; null when nothing listens (tests). */
  readonly events: ShardEvents | null;
  /** write-back: acknowledged writes reach the WAL within this many ms. */
  readonly writeBackMs: number;
  /** The shard's document engine (`doc` requests); null in tests that run without one. */
  readonly docs?: DocEngine | null;
  /** The shard's table engine (`tbl` requests); null in tests that run without one. */
  readonly tables?: TableEngine | null;
  /** The shard's id and directory (backup cuts link its files); absent in tests without backups. */
  readonly shard?: { readonly id: number; readonly dir: string };
  /** With a WAL archive: stamp the log at least this often even when idle (0 = only with writes). */
  readonly clockEveryMs?: number;
};

/** What the actor needs of the table engine (workers/tables/table-shard.ts). */
export interface TableEngine {
  handle(request: TblRequest, nowMs: number, undo: Undo[]): { response: ShardResponse; writes: (PutOp | DeleteOp)[] };
}

/** What the actor needs of the document engine (workers/docs/doc-shard.ts). */
export interface DocEngine {
  handle(request: DocRequest, nowMs: number, undo: Undo[]): { response: ShardResponse; writes: (PutOp | DeleteOp)[] };
}

/**
 * Work the shard does on its own (index backfill, TTL expiry of documents): it runs between
 * request batches, applies its writes with undo entries and returns them, and the actor logs them
 * as one WAL record with the batch. Nothing is answered.
 */
export type InternalTask = (nowMs: number, undo: Undo[]) => (PutOp | DeleteOp)[];

type WalRecord = { type: number; payload: Uint8Array };

type Held = { readonly frame: Uint8Array; readonly sinceMs: number };

export class ShardActor {
  /** Batches written to the WAL and not yet durable, oldest first. */
  private readonly inFlight: PendingBatch[] = [];
  /** Write requests held while writes stall, oldest first. */
  private held: Held[] = [];
  private stallTimer: NodeJS.Timeout | null = null;
  private closed = false;
  /** Write-back writes acknowledged and not yet handed to the WAL, in apply order. */
  private writeBack: WalRecord[] = [];
  private writeBackTimer: NodeJS.Timeout | null = null;
  /** Internal work waiting for the next turn (runInternal). */
  private internal: InternalTask[] = [];
  /** The millisecond of the last WAL_CLOCK record written. */
  private clockMs = 0;

  constructor(private readonly d: ActorDeps) {}

  /** Queues internal work for the next turn (it waits while writes are stalled or storage has failed). */
  runInternal(task: InternalTask): void {
    this.internal.push(task);
    this.wake();
  }

  private internalRunnable(): boolean {
    return this.internal.length > 0 && this.held.length === 0 && this.d.wal.failure === null && this.d.store.failure === null && !this.writesStalled();
  }

  /** Held work may be runnable now (a flush or compaction finished, storage recovered). */
  wake(): void {
    this.d.reader.wake();
  }

  async run(): Promise<void> {
    const every = this.d.clockEveryMs ?? 0;
    if (every > 0) {
      // Checked four times per period, so no gap between stamps passes 1.25 periods.
      const timer = setInterval(() => {
        if (!this.closed && Date.now() - this.clockMs >= every) this.stampClock();
      }, Math.max(1, Math.floor(every / 4)));
      timer.unref();
    }
    const frames: Uint8Array[] = [];
    while (!this.closed) {
      frames.length = 0;
      this.maybeFreeze();
      if (this.held.length > 0 && !this.writesStalled()) {
        // Held writes go first, in arrival order, ahead of anything newer.
        for (const h of this.held.splice(0)) frames.push(h.frame);
      }
      this.d.reader.drain(frames, LIMITS.batch_frames_max);
      if (frames.length > 0 || this.internalRunnable()) {
        if (this.d.delayMs > 0) await new Promise<void>((resolve) => setTimeout(resolve, this.d.delayMs));
        this.processBatch(frames);
        if (!this.d.reader.hasData()) this.d.wal.syncWhenIdle();
        // Let fsync completions and timers run between batches.
        await new Promise<void>((resolve) => setImmediate(resolve));
        continue;
      }
      await this.d.reader.waitForData();
    }
  }

  stop(): void {
    this.flushWriteBack();
    this.closed = true;
    if (this.stallTimer !== null) clearTimeout(this.stallTimer);
    if (this.writeBackTimer !== null) clearTimeout(this.writeBackTimer);
  }

  /** Hands every pending write-back write to the WAL now (the timer, a freeze, a policy change, shutdown). */
  flushWriteBack(): void {
    if (this.writeBackTimer !== null) {
      clearTimeout(this.writeBackTimer);
      this.writeBackTimer = null;
    }
    if (this.writeBack.length === 0) return;
    const records = this.writeBack;
    this.writeBack = [];
    this.d.metrics[ShardMetric.write_back_pending] = 0;
    this.d.metrics[ShardMetric.write_back_flushes]++;
    this.logBatch(emptyBatch(), records);
  }

  private deferWrites(payload: Uint8Array): void {
    this.writeBack.push({ type: WAL_KV_OPS, payload });
    this.d.metrics[ShardMetric.write_back_pending] = this.writeBack.length;
    this.writeBackTimer ??= setTimeout(() => {
      this.writeBackTimer = null;
      this.flushWriteBack();
      this.d.sender.flush();
    }, this.d.writeBackMs);
  }

  /** Writes must wait: the store stalls them, or a due freeze waits for in-flight writes to be durable. */
  private writesStalled(): boolean {
    const store = this.d.store;
    return store.writeStalled() || (store.wantsFreeze() && this.inFlight.length > 0);
  }

  /**
   * Freezes the full memtable once every write in it is durable (so a WAL failure can never need to
   * roll back into a table), starting a new WAL segment whose predecessors the flush will retire.
   */
  private maybeFreeze(): void {
    const store = this.d.store;
    if (!store.wantsFreeze()) return;
    // Write-back writes are in the memtable: they must be in the WAL before it freezes.
    if (this.writeBack.length > 0) this.flushWriteBack();
    if (this.inFlight.length > 0) return;
    const segment = this.d.wal.rollNow();
    if (segment === null) return;
    store.freeze(this.d.wal.stats().lsn, segment);
  }

  private hold(frame: Uint8Array): void {
    this.held.push({ frame, sinceMs: Date.now() });
    this.d.metrics[ShardMetric.write_stalls]++;
    this.stallTimer ??= setTimeout(() => this.expireHeld(), LIMITS.write_stall_max_ms);
  }

  /** Answers SHARD_BUSY to writes held past the bound; re-arms for the rest. */
  private expireHeld(): void {
    this.stallTimer = null;
    const cutoff = Date.now() - LIMITS.write_stall_max_ms;
    while (this.held.length > 0 && this.held[0].sinceMs <= cutoff) {
      const { frame } = this.held.shift() as Held;
      this.answer(frameId(frame), {
        kind: 'error',
        code: 'SHARD_BUSY',
        message: `writes stalled for ${LIMITS.write_stall_max_ms} ms while storage catches up (${this.d.store.stallReason()}); retry shortly`,
      });
    }
    this.d.sender.flush();
    if (this.held.length > 0) this.stallTimer = setTimeout(() => this.expireHeld(), Math.max(1, this.held[0].sinceMs + LIMITS.write_stall_max_ms - Date.now()));
    this.wake();
  }

  private processBatch(frames: Uint8Array[]): void {
    const m = this.d.metrics;
    m[ShardMetric.batches_drained]++;
    m[ShardMetric.frames_drained] += frames.length;
    const nowMs = Date.now();
    let batch = emptyBatch();
    let records: WalRecord[] = [];
    this.d.events?.refresh();
    for (const frame of frames) {
      if (frame.length > 4 && frame[4] === BACKUP_REQUEST_CODE) {
        // A backup's cut falls exactly here: what came before is logged first, what follows after.
        if (records.length > 0) this.logBatch(batch, records);
        batch = emptyBatch();
        records = [];
        this.backupCut(frame);
        continue;
      }
      this.processFrame(frame, nowMs, batch, records);
    }
    if (this.internalRunnable()) this.processInternal(nowMs, batch, records);
    if (records.length > 0) this.logBatch(batch, records);
    this.d.events?.post();
    m[ShardMetric.keys] = this.d.store.approxKeys();
    m[ShardMetric.memtable_bytes] = this.d.store.memtableBytes();
    this.d.sender.flush();
  }

  private processFrame(frame: Uint8Array, nowMs: number, batch: PendingBatch, records: WalRecord[]): void {
    let id = 0;
    const undoFrom = batch.undo.length;
    try {
      id = frameId(frame);
      const { request, deadlineMs } = decodeRequest(frame);
      this.countOp(request.kind, request.kind === 'batch' ? request.ops.length : 1);
      if (deadlineMs !== 0 && Date.now() >= deadlineMs) {
        this.d.metrics[ShardMetric.deadline_exceeded]++;
        this.answer(id, { kind: 'error', code: 'DEADLINE_EXCEEDED', message: 'the request\'s deadline (Mantis-Deadline-Ms) passed before its shard started it; it was not applied' });
        return;
      }
      if (this.d.crashKey !== null && 'key' in request && Buffer.from(request.key).toString() === this.d.crashKey) {
        this.crashForTest();
      }
      const isWrite = isWriteRequest(request);
      const failure = this.d.wal.failure ?? this.d.store.failure;
      if (isWrite && failure !== null) {
        this.answer(id, { kind: 'error', code: failure.code, message: `shard refuses writes: ${failure.message}` });
        return;
      }
      if (isWrite && (this.held.length > 0 || this.writesStalled())) {
        this.hold(frame);
        return;
      }
      if (isTxnRequest(request)) {
        const applied = this.d.txn.handle(request, nowMs, batch.undo);
        if (applied.undo !== null) batch.txnUndo.push(applied.undo);
        for (const record of applied.records) records.push(record);
        if (applied.durable && applied.records.length > 0) batch.writes.push({ id, response: applied.response });
        else this.answer(id, applied.response);
        return;
      }
      const deferredUndo: Undo[] = [];
      const applied =
        request.kind === 'doc' ? this.applyDoc(request, nowMs, batch.undo) : request.kind === 'tbl' ? this.applyTbl(request, nowMs, batch.undo) : this.d.ops.apply(request, nowMs, batch.undo, deferredUndo);
      const payload = applied.writes.length === 0 ? null : encodeWriteOps(applied.writes);
      const deferred = applied.deferred.length === 0 ? null : encodeWriteOps(applied.deferred);
      const bytes = Math.max(payload?.length ?? 0, deferred?.length ?? 0);
      if (bytes > LIMITS.request_write_bytes_max) {
        // One request's writes (logged now, or write-back later) are one WAL record: refuse this request alone.
        this.d.ops.rollback(batch.undo.splice(undoFrom));
        this.d.ops.rollback(deferredUndo);
        this.answer(id, { kind: 'error', code: 'VALUE_TOO_LARGE', message: `the writes of one request total ${bytes} bytes; the limit is ${LIMITS.request_write_bytes_max}` });
        return;
      }
      if (deferred !== null) this.deferWrites(deferred);
      if (payload === null) {
        this.answer(id, applied.response);
        return;
      }
      records.push({ type: WAL_KV_OPS, payload });
      batch.writes.push({ id, response: applied.response });
    } catch (error) {
      if (error instanceof InjectedCrash) throw error;
      // Whatever the request applied before it failed is not logged: undo it.
      if (batch.undo.length > undoFrom) this.d.ops.rollback(batch.undo.splice(undoFrom));
      this.d.metrics[ShardMetric.ops_error]++;
      if (error instanceof MantisError) {
        // Refused before anything of the request was applied (e.g. a cache-only value too large).
        this.answer(id, { kind: 'error', code: error.code, message: error.message });
        return;
      }
      if (error instanceof CorruptionError) {
        this.d.metrics[ShardMetric.corrupt_reads]++;
        this.d.log('error', 'corrupt table block; refusing this read', { id, file: error.file, offset: error.offset });
        const where = `table ${basename(error.file)} at offset ${error.offset}`;
        this.answer(id, { kind: 'error', code: 'DATA_CORRUPT', message: `a block of ${where} failed its checksum; the keys in it cannot be read until it is repaired or overwritten` });
        return;
      }
      const message = error instanceof FrameError ? `corrupt request frame: ${error.message}` : String(error);
      this.d.log('error', 'request failed inside shard', { id, error: message });
      this.answer(id, { kind: 'error', code: 'INTERNAL', message });
    }
  }

  private processInternal(nowMs: number, batch: PendingBatch, records: WalRecord[]): void {
    for (const task of this.internal.splice(0)) {
      const undoFrom = batch.undo.length;
      try {
        const writes = task(nowMs, batch.undo);
        if (writes.length > 0) records.push({ type: WAL_KV_OPS, payload: encodeWriteOps(writes) });
      } catch (error) {
        if (batch.undo.length > undoFrom) this.d.ops.rollback(batch.undo.splice(undoFrom));
        this.d.log('error', 'internal shard work failed', { error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
      }
    }
  }

  /**
   * A backup's cut: write-back writes acknowledged so far go to the WAL, then every file is linked
   * into the staging folder; the answer (the cut's WAL position and the files) waits until the WAL
   * up to the cut is durable, so a backup never holds a write the shard could still refuse.
   */
  private backupCut(frame: Uint8Array): void {
    let id = 0;
    try {
      const decoded = decodeRequest(frame);
      id = decoded.id;
      if (decoded.request.kind !== 'backup') throw new MantisError('INTERNAL', 'not a backup request');
      if (this.d.shard === undefined) throw new MantisError('INTERNAL', 'this shard runs without backups');
      const failure = this.d.wal.failure ?? this.d.store.failure;
      if (failure !== null) throw new MantisError(failure.code, `shard ${this.d.shard.id} cannot take a backup: ${failure.message}`);
      this.flushWriteBack();
      // The log before the cut ends with a clock of now: a restore to any earlier moment knows it reaches it.
      this.stampClock();
      const request = JSON.parse(Buffer.from(decoded.request.body).toString('utf8')) as BackupCutRequest;
      const stats = this.d.wal.stats();
      const result = cutForBackup(this.d.shard.id, this.d.shard.dir, request, stats);
      // An archive on another file system gets the active segment up to the cut too.
      this.d.wal.archivePrefix(stats.segmentBytes);
      const answer = (error: WalError | null): void => {
        this.answer(
          id,
          error === null ? { kind: 'backup-result', body: Buffer.from(JSON.stringify(result)) } : { kind: 'error', code: error.code, message: `the WAL up to the backup's cut is not durable: ${error.message}` },
        );
        this.d.sender.flush();
      };
      this.d.wal.whenDurable(stats.lsn, answer);
    } catch (error) {
      const code = error instanceof MantisError ? error.code : 'STORAGE_IO';
      const message = error instanceof Error ? error.message : String(error);
      this.d.log('error', 'backup cut failed', { error: message });
      this.answer(id, { kind: 'error', code, message: `backup cut failed: ${message}` });
    }
  }

  /** Logs a WAL_CLOCK record of now on its own (nothing else to log; nothing waits on it). */
  private stampClock(): void {
    if (this.d.wal.failure !== null || this.d.store.failure !== null) return;
    this.clockMs = 0; // forces the stamp even within the same millisecond
    this.logBatch(emptyBatch(), []);
    this.d.sender.flush();
  }

  /** One WAL write for the whole batch; acks wait for durability. */
  private logBatch(batch: PendingBatch, records: WalRecord[]): void {
    let lsn: number;
    try {
      // Point-in-time recovery cuts the log by wall-clock time: stamp each new millisecond.
      const now = Date.now();
      if (now !== this.clockMs) {
        this.clockMs = now;
        records.unshift({ type: WAL_CLOCK, payload: encodeClock(now) });
      }
      lsn = this.d.wal.append(records);
    } catch (error) {
      this.undoBatch(batch);
      if (!(error instanceof WalError)) throw error; // a bug, not a disk failure: crash loudly
      this.failWrites(batch, error);
      return;
    }
    this.inFlight.push(batch);
    this.d.wal.whenDurable(lsn, (error) => this.onDurable(batch, error));
  }

  private onDurable(batch: PendingBatch, error: WalError | null): void {
    if (batch.settled) return;
    if (error !== null) {
      // Nothing from this batch on may be acknowledged: undo newest first.
      for (let i = this.inFlight.length - 1; i >= 0; i--) this.undoBatch(this.inFlight[i]);
      this.d.events?.post();
      for (const pending of this.inFlight.splice(0)) this.failWrites(pending, error);
      this.d.sender.flush();
      return;
    }
    const done = this.inFlight.shift();
    if (done !== batch) throw new Error('assertion failed: WAL durability callbacks out of order');
    batch.settled = true;
    for (const write of batch.writes) this.answer(write.id, write.response);
    this.d.sender.flush();
    // A freeze may have been waiting for exactly this.
    if (this.inFlight.length === 0 && this.d.store.wantsFreeze()) this.wake();
  }

  /** Rolls a batch's writes back, then the participant's state, newest first. */
  private undoBatch(batch: PendingBatch): void {
    this.d.ops.rollback(batch.undo);
    for (let i = batch.txnUndo.length - 1; i >= 0; i--) batch.txnUndo[i]();
  }

  private failWrites(batch: PendingBatch, error: WalError): void {
    batch.settled = true;
    this.d.metrics[ShardMetric.storage_failed] = 1;
    this.d.log('error', 'WAL write failed; refusing writes', { code: error.code, error: error.message });
    if (batch.writes.length === 0 && batch.undo.length > 0) {
      // A write-back batch: its writes were acknowledged already. They stay in the memtable (a later
      // flush may still save them) but a crash before that loses them.
      this.d.log('error', 'write-back writes acknowledged earlier did not reach the WAL', { code: error.code });
    }
    for (const write of batch.writes) {
      this.answer(write.id, { kind: 'error', code: error.code, message: `write not durable: ${error.message}` });
    }
  }

  private applyDoc(request: DocRequest, nowMs: number, undo: Undo[]): { response: ShardResponse; writes: (PutOp | DeleteOp)[]; deferred: (PutOp | DeleteOp)[] } {
    if (this.d.docs === undefined || this.d.docs === null) throw new MantisError('INTERNAL', 'this shard runs without a document engine');
    const applied = this.d.docs.handle(request, nowMs, undo);
    return { response: applied.response, writes: applied.writes, deferred: [] };
  }

  private applyTbl(request: TblRequest, nowMs: number, undo: Undo[]): { response: ShardResponse; writes: (PutOp | DeleteOp)[]; deferred: (PutOp | DeleteOp)[] } {
    if (this.d.tables === undefined || this.d.tables === null) throw new MantisError('INTERNAL', 'this shard runs without a table engine');
    const applied = this.d.tables.handle(request, nowMs, undo);
    return { response: applied.response, writes: applied.writes, deferred: [] };
  }

  private answer(id: number, response: ShardResponse): void {
    this.d.sender.send(encodeResponse(id, response));
  }

  private countOp(kind: string, items: number): void {
    const m = this.d.metrics;
    switch (kind) {
      case 'get': m[ShardMetric.ops_get]++; break;
      case 'head': m[ShardMetric.ops_head]++; break;
      case 'put': m[ShardMetric.ops_put]++; break;
      case 'delete': m[ShardMetric.ops_delete]++; break;
      case 'list': m[ShardMetric.ops_list]++; break;
      case 'batch': m[ShardMetric.ops_batch]++; m[ShardMetric.ops_batch_items] += items; break;
    }
  }

  /** Fault hook (MANTIS_FAULT_SHARD_CRASH_KEY): escape every handler, as a bug would. */
  private crashForTest(): never {
    this.d.log('warn', 'fault injected: crashing shard', {});
    throw new InjectedCrash();
  }
}

class InjectedCrash extends Error {
  constructor() {
    super('fault injected: shard crash (MANTIS_FAULT_SHARD_CRASH_KEY)');
  }
}
