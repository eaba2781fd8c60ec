// What a shard's WAL replay makes of transaction records (issue 5; not wired
// yet), and which WAL segments a flush must keep for them. Pure: no I/O, no
// clock; the shard feeds it the records replayWal reads, in LSN order, KV and
// txn records interleaved, and applies what it returns.
//
// The rule, record by record (a live shard applies a transaction's writes when
// it logs the commit, so replay applies them at the same point of the log):
//   WAL_KV_OPS        apply its ops, unless lsn ≤ flushedLsn (in the tables).
//   PREPARE T         T is prepared: its writes are held, not applied. Kept
//                     whatever its lsn: prepared writes are never in the tables.
//   COMMIT T ts       T prepared: apply its writes (unless lsn ≤ flushedLsn:
//                     then they were in the memtable a flush wrote), T committed.
//   ABORT T           T prepared: drop its writes, T aborted.
//   COMMIT_ONE T ts   apply its writes (unless lsn ≤ flushedLsn), T committed.
// Committed writes come out in the order of their commit records, which under
// 2PC is not commit-timestamp order across transactions (the version store
// needs strictCommitOrder: false); per key it is, since a prepared
// transaction's intents hold its keys until its decision.
// Left prepared at the end: in doubt. The shard re-locks their keys as intents
// and asks the coordinator; no commit decision there means abort (presumed
// abort), and the answer is logged as a COMMIT or ABORT record then.
//
// Anomalies are diagnostics, never exceptions (a payload that does not parse
// or an unknown record type is, FrameError: nothing sound can be replayed past
// it):
//   tolerated — what a correct shard may write: a repeated COMMIT with the
//     same ts or a repeated ABORT (recovery re-sends decisions), an ABORT of a
//     transaction never prepared (presumed abort needs no prepare), a repeated
//     PREPARE with the same writes, a COMMIT at or below flushedLsn whose
//     PREPARE is gone (its segment was retired after the flush that holds its
//     writes). Nothing is applied again.
//   error — a log a correct shard never writes: a COMMIT above flushedLsn with
//     no PREPARE (its writes are lost), a COMMIT after an ABORT or an ABORT
//     after a COMMIT, a COMMIT with another ts, a second PREPARE with other
//     writes, a PREPARE after the decision, a COMMIT_ONE of an id already
//     seen. The first decision stands; the caller should refuse to serve
//     (DATA_CORRUPT) or at least log loudly.
// The live shard keeps to that by logging a decision only for a transaction it
// holds prepared, and answering a repeated decision from memory.
//
// Segment retirement. After a flush the LSM deletes the WAL segments before the
// roll (their records are in the tables). A PREPARE is not: it must survive
// until its decision is covered by a flush, or a restart would lose the writes
// of a transaction the coordinator then commits. oldestSegmentToKeep says where
// deletion stops.

import { ByteReader, FrameError } from '../../shared/byte-io.js';
import { unreachable } from '../../shared/errors.js';
import { decodeTxnWalRecord, isTxnWalType } from '../../shared/txn/txn-wal.js';
import { expectEnd, readTxnWrites, type TxnId, type TxnWriteOp } from '../../shared/txn/txn-wire.js';
import { WAL_KV_OPS } from '../../shared/wire.js';
import { keyToBinary } from '../store/memtable.js';

/** A record as replayWal reads it, with the number of the segment it is in. */
export type ReplayedRecord = {
  readonly type: number;
  readonly lsn: number;
  readonly segment: number;
  readonly payload: Uint8Array;
};

/** Writes to apply now, in this order. */
export type ReplayStep =
  | { readonly kind: 'kv'; readonly lsn: number; readonly ops: readonly TxnWriteOp[] }
  | { readonly kind: 'txn'; readonly lsn: number; readonly txnId: TxnId; readonly commitTs: number; readonly writes: readonly TxnWriteOp[] };

/** A transaction prepared and not decided in the log. */
export type InDoubtTxn = {
  readonly txnId: TxnId;
  /** LSN and segment of its PREPARE record. */
  readonly lsn: number;
  readonly segment: number;
  readonly writes: readonly TxnWriteOp[];
  /** The written keys as binary strings (the version store's keys), to lock as intents. */
  readonly keys: readonly string[];
};

/** `lsn`: the decision record's. */
export type TxnDecision =
  | { readonly outcome: 'commit'; readonly commitTs: number; readonly lsn: number }
  | { readonly outcome: 'abort'; readonly lsn: number };

export type ReplayDiagnosticKind =
  | 'repeated-commit'
  | 'repeated-abort'
  | 'repeated-prepare'
  | 'abort-without-prepare'
  | 'commit-without-prepare'
  | 'conflicting-commit'
  | 'conflicting-prepare'
  | 'commit-after-abort'
  | 'abort-after-commit'
  | 'prepare-after-decision'
  | 'reused-txn-id';

export type ReplayDiagnostic = {
  readonly severity: 'tolerated' | 'error';
  readonly kind: ReplayDiagnosticKind;
  readonly txnId: TxnId;
  readonly lsn: number;
  readonly message: string;
};

export type TxnReplayEnd = {
  /** In the order of their PREPARE records. */
  readonly inDoubt: readonly InDoubtTxn[];
  /** Every transaction with a decision in the log (COMMIT, ABORT or COMMIT_ONE): to answer a repeated decision or commit. */
  readonly decided: ReadonlyMap<TxnId, TxnDecision>;
  readonly diagnostics: readonly ReplayDiagnostic[];
};

type Prepared = { readonly lsn: number; readonly segment: number; readonly payload: Uint8Array; readonly writes: readonly TxnWriteOp[] };

/**
 * The fold, one record at a time, for replayWal's callback.
 * ENSURES: a step's ops may view the payload passed in (valid during the call,
 * as replayWal's); what is held across records (prepared writes) is copied.
 */
export class TxnReplay {
  private readonly prepared = new Map<TxnId, Prepared>();
  private readonly decided = new Map<TxnId, TxnDecision>();
  private readonly diagnostics: ReplayDiagnostic[] = [];
  private lastLsn = 0;

  /** flushedLsn: the LSN the tables cover (the manifest's); 0 with no tables. */
  constructor(private readonly flushedLsn: number) {
    if (!Number.isSafeInteger(flushedLsn) || flushedLsn < 0) throw new RangeError(`flushedLsn must be a safe integer ≥ 0, got ${flushedLsn}`);
  }

  /**
   * Folds one record; returns the writes to apply now, or null.
   * REQUIRES: LSNs strictly increase (RangeError otherwise). Throws FrameError
   * on an unknown record type or a payload that does not parse.
   */
  record(record: ReplayedRecord): ReplayStep | null {
    const { type, lsn, payload } = record;
    if (!Number.isSafeInteger(lsn) || lsn <= this.lastLsn) throw new RangeError(`WAL lsn ${lsn} not above the previous ${this.lastLsn}`);
    this.lastLsn = lsn;
    const inTables = lsn <= this.flushedLsn;
    if (type === WAL_KV_OPS) {
      const r = new ByteReader(payload);
      const ops = withLsn(lsn, () => {
        const ops = readTxnWrites(r);
        expectEnd(r, 'a WAL_KV_OPS record');
        return ops;
      });
      return inTables ? null : { kind: 'kv', lsn, ops };
    }
    if (!isTxnWalType(type)) throw new FrameError(`unknown WAL record type ${type} at lsn ${lsn}`);
    const txn = withLsn(lsn, () => decodeTxnWalRecord(type, payload));
    const { txnId } = txn;
    const decided = this.decided.get(txnId);
    const prepared = this.prepared.get(txnId);
    switch (txn.kind) {
      case 'prepare': {
        if (decided !== undefined) {
          this.note('error', 'prepare-after-decision', txnId, lsn, `PREPARE after its ${decided.outcome} at lsn ${decided.lsn}; ignored`);
        } else if (prepared !== undefined) {
          if (Buffer.compare(prepared.payload, payload) === 0) this.note('tolerated', 'repeated-prepare', txnId, lsn, `PREPARE repeated (first at lsn ${prepared.lsn})`);
          else this.note('error', 'conflicting-prepare', txnId, lsn, `PREPARE with other writes than at lsn ${prepared.lsn}; the first kept`);
        } else {
          const copy = new Uint8Array(payload); // a copy (Buffer#slice would be a view)
          const held = decodeTxnWalRecord(type, copy);
          this.prepared.set(txnId, { lsn, segment: record.segment, payload: copy, writes: held.kind === 'prepare' ? held.writes : [] });
        }
        return null;
      }
      case 'commit': {
        if (decided !== undefined) {
          if (decided.outcome === 'abort') this.note('error', 'commit-after-abort', txnId, lsn, `COMMIT after ABORT at lsn ${decided.lsn}; stays aborted`);
          else if (decided.commitTs !== txn.commitTs) {
            this.note('error', 'conflicting-commit', txnId, lsn, `COMMIT at ts ${txn.commitTs} after COMMIT at ts ${decided.commitTs} (lsn ${decided.lsn}); the first stands`);
          } else this.note('tolerated', 'repeated-commit', txnId, lsn, `COMMIT repeated (first at lsn ${decided.lsn})`);
          return null;
        }
        this.decided.set(txnId, { outcome: 'commit', commitTs: txn.commitTs, lsn });
        if (prepared === undefined) {
          if (inTables) this.note('tolerated', 'commit-without-prepare', txnId, lsn, 'COMMIT covered by the tables; its PREPARE was in a retired segment');
          else this.note('error', 'commit-without-prepare', txnId, lsn, 'COMMIT above the flushed LSN with no PREPARE: its writes are not in the log');
          return null;
        }
        this.prepared.delete(txnId);
        return inTables ? null : { kind: 'txn', lsn, txnId, commitTs: txn.commitTs, writes: prepared.writes };
      }
      case 'abort': {
        if (decided !== undefined) {
          if (decided.outcome === 'commit') this.note('error', 'abort-after-commit', txnId, lsn, `ABORT after COMMIT at lsn ${decided.lsn}; stays committed`);
          else this.note('tolerated', 'repeated-abort', txnId, lsn, `ABORT repeated (first at lsn ${decided.lsn})`);
          return null;
        }
        this.decided.set(txnId, { outcome: 'abort', lsn });
        if (prepared === undefined) this.note('tolerated', 'abort-without-prepare', txnId, lsn, 'ABORT of a transaction not prepared here (presumed abort)');
        this.prepared.delete(txnId);
        return null;
      }
      case 'commit-one': {
        if (decided !== undefined || prepared !== undefined) {
          this.note('error', 'reused-txn-id', txnId, lsn, `COMMIT_ONE of a transaction already ${decided === undefined ? 'prepared' : decided.outcome === 'commit' ? 'committed' : 'aborted'}; ignored`);
          return null;
        }
        this.decided.set(txnId, { outcome: 'commit', commitTs: txn.commitTs, lsn });
        return inTables ? null : { kind: 'txn', lsn, txnId, commitTs: txn.commitTs, writes: txn.writes };
      }
      default:
        return unreachable(txn);
    }
  }

  /** The state after the last record. The fold may go on afterwards. */
  end(): TxnReplayEnd {
    const inDoubt: InDoubtTxn[] = [];
    for (const [txnId, p] of this.prepared) {
      inDoubt.push({ txnId, lsn: p.lsn, segment: p.segment, writes: p.writes, keys: p.writes.map((op) => keyToBinary(op.key)) });
    }
    return { inDoubt, decided: new Map(this.decided), diagnostics: [...this.diagnostics] };
  }

  private note(severity: ReplayDiagnostic['severity'], kind: ReplayDiagnosticKind, txnId: TxnId, lsn: number, message: string): void {
    this.diagnostics.push({ severity, kind, txnId, lsn, message });
  }
}

/** The whole fold over a replayed log: the steps in order, then the end state. Steps' ops view the records' payloads. */
export function foldTxnReplay(records: Iterable<ReplayedRecord>, flushedLsn: number): TxnReplayEnd & { readonly steps: readonly ReplayStep[] } {
  const replay = new TxnReplay(flushedLsn);
  const steps: ReplayStep[] = [];
  for (const record of records) {
    const step = replay.record(record);
    if (step !== null) steps.push(step);
  }
  return { steps, ...replay.end() };
}

/** A PREPARE the shard logged: its segment, and the LSN of its decision record once logged (null before). */
export type PreparedHold = { readonly segment: number; readonly decisionLsn: number | null };

/**
 * The oldest WAL segment a flush must keep: the flush may delete the segments
 * numbered below it. `rollSegment` is the segment the flush rolled to (all
 * before it are in the tables up to `coveredLsn`, the last LSN before the
 * roll); `prepares` are the PREPARE records the shard still tracks. A PREPARE
 * is kept unless its decision is at or below coveredLsn: a transaction decided
 * after the roll has its writes in the memtable, not in the flushed table, so
 * a crash before the next flush replays its COMMIT, which needs the PREPARE.
 * The shard may forget a decided PREPARE once a flush covers its decision. At
 * start, the holds are replay's inDoubt (decisionLsn null): every decision
 * replayed lies below the first flush's coveredLsn.
 */
export function oldestSegmentToKeep(rollSegment: number, coveredLsn: number, prepares: Iterable<PreparedHold>): number {
  let keep = rollSegment;
  for (const p of prepares) {
    if (p.decisionLsn !== null && p.decisionLsn <= coveredLsn) continue;
    if (p.segment < keep) keep = p.segment;
  }
  return keep;
}

function withLsn<T>(lsn: number, decode: () => T): T {
  try {
    return decode();
  } catch (err) {
    if (err instanceof FrameError) throw new FrameError(`WAL record at lsn ${lsn}: ${err.message}`);
    throw err;
  }
}
