// The shard's side of transactions (issue 5): a participant that owns the MVCC
// version store, the intents and the transactions prepared here, and answers
// the txn-* ring requests. Runs on the shard thread, inside the actor's batch:
// handle() applies a request synchronously and returns its answer, the WAL
// records the actor appends with the rest of the batch (one write), whether
// the answer waits for their durability, and how to undo its own state if the
// batch is rolled back (memtable writes go to the batch's undo list as plain
// writes do).
//
// State:
//   versions   VersionStore({strictCommitOrder: false, horizon: oracle.current()}),
//              with the WRITE intents inside it (exclusive: one holder per key).
//   reads      READ intents: key → txn ids (shared), held by prepared transactions.
//   ranges     RANGE intents: prefix → txn ids (shared), likewise.
//   prepared   txn id → its writes, reads, prefixes and the WAL segment of its PREPARE.
//   committed  recently committed ids → commit ts (bounded), so that a repeated
//              txn-commit (an answer lost to a crash) is answered, not re-applied.
// A foreign intent on a key k for writer T: a write or read intent on k, or a
// range intent on a prefix of k, held by a transaction other than T. Plain
// writes (ShardOps, through TxnHook) are refused txn-locked on any intent, and
// recorded in the version store at ts = oracle.next() before they apply —
// unless no snapshot is live (oracle.liveSnapshots() = 0 after taking ts):
// then no later snapshot can need what they replace.
//
// WAL: a one-shard commit and a decided commit log COMMIT_ONE {id, ts, writes}
// (self-contained: replay never needs the PREPARE of a decided transaction), a
// prepare with writes logs PREPARE {id, writes}, an abort of a logged prepare
// ABORT {id}. Replay: replayRecord per record, endReplay re-locks what is left
// prepared (in doubt). Retention: oldestPreparedSegment.

import { MantisError, unreachable } from '../../shared/errors.js';
import { LIMITS } from '../../shared/limits.js';
import { SHARD_METRIC_SLOTS, ShardMetric } from '../../shared/metrics-layout.js';
import type { TimestampOracle } from '../../shared/txn/timestamp-oracle.js';
import { decodeTxnWalRecord, encodeTxnWalRecord, isTxnWalType } from '../../shared/txn/txn-wal.js';
import type {
  ConflictReason,
  TxnCommitRequest,
  TxnDecideRequest,
  TxnListRequest,
  TxnPrepareRequest,
  TxnReadRequest,
  TxnRequest,
  TxnResponse,
  TxnWriteOp,
} from '../../shared/txn/txn-wire.js';
import type { ShardResponse } from '../../shared/wire.js';
import { CorruptionError, type LsmStore, type Undo } from '../lsm/index.js';
import type { ShardOps, TxnHook } from '../shard/shard-ops.js';
import { binaryToKey, isLive, keyToBinary, type Entry } from '../store/memtable.js';
import type { WalAppendRecord, WalLog } from '../wal/index.js';
import { SnapshotTooOldError, VersionStore, type GcResult, type TxnId } from './version-store.js';

/** Committed transaction ids remembered (to answer a repeated txn-commit); the oldest are forgotten first. */
export const TXN_COMMITTED_REMEMBERED = 65_536;
/** Keys the version-store GC visits per sweep tick. */
export const TXN_GC_KEYS_PER_TICK = 20_000;

/** What handling one txn request produced, for the actor's batch. */
export type TxnApplied = {
  readonly response: ShardResponse;
  /** WAL records to append with the batch. */
  readonly records: readonly WalAppendRecord[];
  /** Answer only once the records are durable (false: answer now; the records are logged all the same). */
  readonly durable: boolean;
  /** Restores the participant's own state if the batch is rolled back (memtable undo is separate). */
  readonly undo: (() => void) | null;
};

export type ParticipantDeps = {
  readonly store: LsmStore;
  readonly ops: ShardOps;
  /** next(): commit timestamps; current(): the horizon of a fresh version store; liveSnapshots(): whether plain writes need version records. */
  readonly oracle: Pick<TimestampOracle, 'next' | 'current' | 'liveSnapshots'>;
  /** The WAL segment the next append lands in. */
  readonly currentSegment: () => number;
  readonly metrics: Float64Array | null;
  readonly log?: WalLog;
  /**
   * Bytes the version store may hold (the shard's share of --memory-budget-mb). Past it, each GC
   * tick moves the horizon halfway to the current timestamp: the oldest snapshots get
   * TXN_SNAPSHOT_TOO_OLD (their transactions abort) rather than the shard holding unbounded versions.
   */
  readonly versionBytesMax?: number;
};

type Prepared = {
  readonly writes: readonly TxnWriteOp[];
  /** The written keys as binary strings (the write intents). */
  readonly writeKeys: readonly string[];
  readonly reads: readonly string[];
  readonly prefixes: readonly string[];
  /** WAL segment of its PREPARE record; null when none was logged (no writes). */
  readonly segment: number | null;
};

const NO_RECORDS: readonly WalAppendRecord[] = [];
const CONFLICT_SLOT: Record<ConflictReason, number> = {
  write: ShardMetric.txn_conflicts_write,
  read: ShardMetric.txn_conflicts_read,
  range: ShardMetric.txn_conflicts_range,
  locked: ShardMetric.txn_conflicts_locked,
};

/** Shared intents: key (or prefix) → holders, and each holder's keys. */
class SharedIntents {
  readonly holders = new Map<string, Set<TxnId>>();

  get size(): number {
    return this.holders.size;
  }

  lock(txnId: TxnId, keys: readonly string[]): void {
    for (const key of keys) {
      let set = this.holders.get(key);
      if (set === undefined) this.holders.set(key, (set = new Set()));
      set.add(txnId);
    }
  }

  unlock(txnId: TxnId, keys: readonly string[]): void {
    for (const key of keys) {
      const set = this.holders.get(key);
      if (set === undefined) continue;
      set.delete(txnId);
      if (set.size === 0) this.holders.delete(key);
    }
  }
}

function other(set: ReadonlySet<TxnId> | undefined, self: TxnId | undefined): TxnId | undefined {
  if (set === undefined) return undefined;
  for (const holder of set) if (holder !== self) return holder;
  return undefined;
}

function snapshotTooOld(error: SnapshotTooOldError): ShardResponse {
  return { kind: 'error', code: 'TXN_SNAPSHOT_TOO_OLD', message: error.message };
}

export class TxnParticipant implements TxnHook {
  private versionStore: VersionStore;
  private readonly reads = new SharedIntents();
  private readonly ranges = new SharedIntents();
  private readonly prepared = new Map<TxnId, Prepared>();
  private readonly committed = new Map<TxnId, number>();
  private readonly metrics: Float64Array;
  /** Replay only: the flushed LSN (records at or below it are in the tables). */
  private replayFlushedLsn = 0;
  private capWarnedMs = 0;
  /** Told of every transaction's writes once applied here (the table engine's in-memory state follows them). */
  private applied: ((writes: readonly TxnWriteOp[], nowMs: number) => void) | null = null;
  /** Told when applied writes were undone (state kept from them must be dropped). */
  private rolledBack: (() => void) | null = null;

  constructor(private readonly d: ParticipantDeps) {
    this.versionStore = this.freshVersions();
    this.metrics = d.metrics ?? new Float64Array(SHARD_METRIC_SLOTS);
  }

  /** The version store (replaced whole after a rollback of recorded writes). */
  get versions(): VersionStore {
    return this.versionStore;
  }

  /** Sets what hears of each transaction's writes applied here (commit, decided commit; not replay). */
  setAppliedHook(hook: (writes: readonly TxnWriteOp[], nowMs: number) => void, rolledBack: () => void): void {
    this.applied = hook;
    this.rolledBack = rolledBack;
  }

  /** Ids of the transactions prepared here and not decided, in prepare order. */
  preparedIds(): TxnId[] {
    return [...this.prepared.keys()];
  }

  // ---- plain writes (TxnHook) ---------------------------------------------------

  beforePlainWrites(keysOf: () => readonly string[], nowMs: number): ShardResponse | null {
    let keys: readonly string[] | null = null;
    if (this.intentsHeld() > 0) {
      keys = keysOf();
      for (const key of keys) {
        const holder = this.foreignHolder(key, undefined);
        if (holder !== undefined) return { kind: 'txn-locked', key: binaryToKey(key), txnId: holder };
      }
    }
    const ts = this.d.oracle.next();
    // No snapshot live (read after taking ts): every later snapshot is above ts, so none can need
    // the versions these writes replace, nor check them for conflicts. Skip the records (and the
    // keys, and the reads of the previous values they need).
    if (this.d.oracle.liveSnapshots() === 0) return null;
    keys ??= keysOf();
    this.versionStore.recordCommit(ts, keys.length === 1 ? [{ key: keys[0] }] : keys.map((key) => ({ key })), (key) => this.previous(key, nowMs));
    return null;
  }

  writesRolledBack(): void {
    // The version store cannot undo a commit: start a new one above every snapshot taken so far
    // (older snapshots get TXN_SNAPSHOT_TOO_OLD), keeping the intents of the prepared transactions.
    this.versionStore = this.freshVersions();
    for (const [txnId, p] of this.prepared) this.lockWrites(txnId, p.writeKeys);
    this.rolledBack?.();
  }

  // ---- requests -----------------------------------------------------------------

  /** Applies one txn request; memtable writes push their undo entries onto `undo`. */
  handle(request: TxnRequest, nowMs: number, undo: Undo[]): TxnApplied {
    switch (request.kind) {
      case 'txn-read':
        return this.now(this.read(request, nowMs));
      case 'txn-list':
        return this.now(this.list(request, nowMs));
      case 'txn-commit':
        return this.commit(request, nowMs, undo);
      case 'txn-prepare':
        return this.prepare(request);
      case 'txn-decide':
        return this.decide(request, nowMs, undo);
      default:
        return unreachable(request);
    }
  }

  private now(response: ShardResponse): TxnApplied {
    return { response, records: NO_RECORDS, durable: false, undo: null };
  }

  private read(request: TxnReadRequest, nowMs: number): ShardResponse {
    const { key, snapshotTs } = request;
    if (this.d.ops.isCacheOnly(key)) {
      const hit = this.d.ops.cacheOnlyGet(key, nowMs);
      return { kind: 'txn-value', version: 0, entry: hit === null ? null : { contentType: hit.contentType, expiresAtMs: hit.expiresAtMs, value: hit.value } };
    }
    const bin = keyToBinary(key);
    let lookup;
    try {
      lookup = this.versionStore.lookup(bin, snapshotTs);
    } catch (error) {
      if (error instanceof SnapshotTooOldError) return snapshotTooOld(error);
      throw error;
    }
    let entry: Entry | undefined;
    switch (lookup.kind) {
      case 'locked':
        return { kind: 'txn-locked', key, txnId: lookup.txnId };
      case 'latest':
        entry = this.d.ops.readLatest(key, nowMs);
        break;
      case 'version':
        entry = lookup.entry !== undefined && isLive(lookup.entry, nowMs) ? lookup.entry : undefined;
        break;
      default:
        return unreachable(lookup);
    }
    if (entry === undefined) return { kind: 'txn-value', version: 0, entry: null };
    return { kind: 'txn-value', version: entry.seq, entry: { contentType: entry.contentType, expiresAtMs: entry.expiresAtMs, value: entry.value } };
  }

  /**
   * Keys under prefix at the snapshot, after `after`, at most limit: the LSM's current listing of
   * limit + hidden keys, corrected by the version store (hide what the snapshot did not see, show
   * what it saw as it was). A shown key beyond the last LSM key fetched is added only when the LSM
   * listing was complete (otherwise an LSM key before it could be missing).
   */
  private list(request: TxnListRequest, nowMs: number): ShardResponse {
    const prefix = keyToBinary(request.prefix);
    const after = request.after === null ? null : keyToBinary(request.after);
    let corrections;
    try {
      corrections = this.versionStore.visibleAt(prefix, request.snapshotTs);
    } catch (error) {
      if (error instanceof SnapshotTooOldError) return snapshotTooOld(error);
      throw error;
    }
    if (corrections.kind === 'locked') return { kind: 'txn-locked', key: binaryToKey(corrections.key), txnId: corrections.txnId };
    const { hide, show } = corrections;
    const limit = request.limit;
    const listed = this.d.store.list(prefix, after, 0, limit + hide.length, nowMs);
    const last = listed.keys.length === 0 ? null : listed.keys[listed.keys.length - 1];
    const dropped = new Set(hide);
    for (const s of show) dropped.add(s.key);
    // A KV listing (empty prefix) never shows internal keys (documents, indexes: first byte 0xFF).
    const kvOnly = prefix.length === 0;
    const extra: string[] = [];
    for (const s of show) {
      if (after !== null && s.key <= after) continue;
      if (!isLive(s.entry, nowMs)) continue;
      if (kvOnly && s.key.charCodeAt(0) === 0xff) continue;
      if (listed.more && last !== null && s.key > last) continue;
      extra.push(s.key);
    }
    const keys = listed.keys.filter((k) => !dropped.has(k) && !(kvOnly && k.charCodeAt(0) === 0xff));
    if (extra.length > 0) {
      keys.push(...extra);
      keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    }
    // Internal keys sort after every KV key: a KV listing that reached one has no KV key left.
    const reachedInternal = kvOnly && last !== null && last.charCodeAt(0) === 0xff;
    const more = (listed.more && !reachedInternal) || keys.length > limit;
    return { kind: 'txn-keys', keys: keys.slice(0, limit).map(binaryToKey), more };
  }

  private commit(request: TxnCommitRequest, nowMs: number, undo: Undo[]): TxnApplied {
    const { txnId } = request;
    const done = this.committed.get(txnId);
    if (done !== undefined) return this.now({ kind: 'txn-committed', commitTs: done });
    if (this.prepared.has(txnId)) {
      return this.now({ kind: 'error', code: 'INVALID_PARAMETER', message: `transaction ${txnId} is prepared here: it takes a decision, not a one-shard commit` });
    }
    const keys = this.writeKeysOf(request.writes);
    const refused = this.validate(request, keys);
    if (refused !== null) return this.now(refused);
    const commitTs = this.d.oracle.next();
    if (request.writes.length === 0) return this.now({ kind: 'txn-committed', commitTs });
    const record = encodeTxnWalRecord({ kind: 'commit-one', txnId, commitTs, writes: request.writes });
    checkRecordSize(record.payload.length);
    this.versionStore.recordCommit(commitTs, keys.map((key) => ({ key })), (key) => this.previous(key, nowMs), txnId);
    this.d.ops.applyTxnWrites(request.writes, nowMs, undo);
    this.applied?.(request.writes, nowMs);
    this.remember(txnId, commitTs);
    this.metrics[ShardMetric.txn_commits]++;
    return { response: { kind: 'txn-committed', commitTs }, records: [record], durable: true, undo: () => this.committed.delete(txnId) };
  }

  private prepare(request: TxnPrepareRequest): TxnApplied {
    const { txnId } = request;
    if (this.prepared.has(txnId) || this.committed.has(txnId)) return this.now({ kind: 'txn-prepared' });
    const keys = this.writeKeysOf(request.writes);
    const refused = this.validate(request, keys);
    if (refused !== null) return this.now(refused);
    let record: WalAppendRecord | null = null;
    if (request.writes.length > 0) {
      record = encodeTxnWalRecord({ kind: 'prepare', txnId, writes: request.writes });
      // The decision's COMMIT_ONE carries the same writes and 8 bytes of timestamp more.
      checkRecordSize(record.payload.length + 8);
    }
    const p: Prepared = {
      writes: request.writes,
      writeKeys: keys,
      reads: request.reads.map(keyToBinary),
      prefixes: request.prefixes.map(keyToBinary),
      segment: record === null ? null : this.d.currentSegment(),
    };
    this.hold(txnId, p);
    this.metrics[ShardMetric.txn_prepares]++;
    const undo = (): void => this.release(txnId);
    if (record === null) return { response: { kind: 'txn-prepared' }, records: NO_RECORDS, durable: false, undo };
    return { response: { kind: 'txn-prepared' }, records: [record], durable: true, undo };
  }

  private decide(request: TxnDecideRequest, nowMs: number, undo: Undo[]): TxnApplied {
    const { txnId } = request;
    const p = this.prepared.get(txnId);
    if (!request.commit) {
      if (p === undefined) return this.now({ kind: 'txn-aborted' });
      this.release(txnId);
      this.metrics[ShardMetric.txn_decided_abort]++;
      // No need to wait: if the ABORT is lost, replay finds the PREPARE in doubt and asks again.
      const records = p.segment === null ? NO_RECORDS : [encodeTxnWalRecord({ kind: 'abort', txnId })];
      return { response: { kind: 'txn-aborted' }, records, durable: false, undo: null };
    }
    const { commitTs } = request;
    const response: ShardResponse = { kind: 'txn-committed', commitTs };
    if (p === undefined) return this.now(response); // decided before (a decision re-sent after a restart)
    if (p.writes.length === 0) {
      this.release(txnId);
      this.metrics[ShardMetric.txn_decided_commit]++;
      return this.now(response);
    }
    const record = encodeTxnWalRecord({ kind: 'commit-one', txnId, commitTs, writes: p.writes });
    // Non-strict order: commitTs may be below a timestamp this shard used for other keys; per key it
    // is above (the intents held every written key since the prepare).
    this.versionStore.recordCommit(commitTs, p.writeKeys.map((key) => ({ key })), (key) => this.previous(key, nowMs), txnId);
    this.d.ops.applyTxnWrites(p.writes, nowMs, undo);
    this.applied?.(p.writes, nowMs);
    this.release(txnId);
    this.remember(txnId, commitTs);
    this.metrics[ShardMetric.txn_decided_commit]++;
    // A rolled-back decision must find the transaction prepared again: the coordinator re-sends it.
    const restore = (): void => {
      this.committed.delete(txnId);
      this.hold(txnId, p);
    };
    return { response, records: [record], durable: true, undo: restore };
  }

  // ---- validation -----------------------------------------------------------------

  /**
   * The contract's order: snapshot too old; a cache-only write key (INVALID_PARAMETER, thrown);
   * write keys under foreign intents ('locked'); first committer wins on the write keys unless
   * read_committed ('write'); reads under foreign write intents ('locked') or committed after the
   * snapshot ('read'); prefixes with a foreign write intent under them ('locked') or a commit under
   * them after the snapshot ('range'). Null: valid.
   */
  private validate(request: TxnCommitRequest | TxnPrepareRequest, writeKeys: readonly string[]): ShardResponse | null {
    const { txnId, snapshotTs } = request;
    const versions = this.versionStore;
    if (snapshotTs < versions.horizon) return snapshotTooOld(new SnapshotTooOldError(snapshotTs, versions.horizon));
    for (const op of request.writes) {
      if (this.d.ops.isCacheOnly(op.key)) {
        throw new MantisError('INVALID_PARAMETER', `key ${JSON.stringify(Buffer.from(op.key).toString())} is under a cache-only prefix: transactions do not write cache-only keys`);
      }
    }
    if (this.intentsHeld() > 0) {
      for (const key of writeKeys) if (this.foreignHolder(key, txnId) !== undefined) return this.conflict('locked', key);
    }
    if (request.isolation !== 'read_committed') {
      const key = versions.writeConflict(writeKeys, snapshotTs);
      if (key !== null) return this.conflict('write', key);
    }
    if (request.reads.length > 0) {
      const reads = request.reads.map(keyToBinary);
      if (versions.intentCount > 0) {
        for (const key of reads) {
          const holder = versions.lockedBy(key);
          if (holder !== undefined && holder !== txnId) return this.conflict('locked', key);
        }
      }
      const key = versions.readConflict(reads, snapshotTs);
      if (key !== null) return this.conflict('read', key);
    }
    if (request.prefixes.length > 0) {
      const prefixes = request.prefixes.map(keyToBinary);
      if (versions.intentCount > 0) {
        for (const prefix of prefixes) {
          for (const [key, holder] of versions.intentEntries()) {
            if (holder !== txnId && underPrefix(key, prefix)) return this.conflict('locked', key);
          }
        }
      }
      const key = versions.rangeConflict(prefixes, snapshotTs);
      if (key !== null) return this.conflict('range', key);
    }
    return null;
  }

  private conflict(reason: ConflictReason, key: string): TxnResponse {
    this.metrics[CONFLICT_SLOT[reason]]++;
    return { kind: 'txn-conflict', reason, key: binaryToKey(key) };
  }

  /** The write keys as binary strings; a key written twice is refused (the router sends one write per key). */
  private writeKeysOf(writes: readonly TxnWriteOp[]): string[] {
    const keys = writes.map((op) => keyToBinary(op.key));
    if (keys.length > 1 && new Set(keys).size !== keys.length) throw new MantisError('INVALID_PARAMETER', 'a transaction writes one of its keys twice');
    return keys;
  }

  // ---- intents ----------------------------------------------------------------------

  /** Write intents + read-intent keys + range-intent prefixes: 0 means no check is needed. */
  intentsHeld(): number {
    return this.versionStore.intentCount + this.reads.size + this.ranges.size;
  }

  /** A transaction other than self holding an intent that a write of key would break. */
  private foreignHolder(key: string, self: TxnId | undefined): TxnId | undefined {
    if (this.versionStore.intentCount > 0) {
      const holder = this.versionStore.lockedBy(key);
      if (holder !== undefined && holder !== self) return holder;
    }
    if (this.reads.size > 0) {
      const holder = other(this.reads.holders.get(key), self);
      if (holder !== undefined) return holder;
    }
    if (this.ranges.size > 0) {
      for (const [prefix, set] of this.ranges.holders) {
        if (!underPrefix(key, prefix)) continue;
        const holder = other(set, self);
        if (holder !== undefined) return holder;
      }
    }
    return undefined;
  }

  private hold(txnId: TxnId, p: Prepared): void {
    this.lockWrites(txnId, p.writeKeys);
    this.reads.lock(txnId, p.reads);
    this.ranges.lock(txnId, p.prefixes);
    this.prepared.set(txnId, p);
  }

  private release(txnId: TxnId): void {
    const p = this.prepared.get(txnId);
    if (p === undefined) return;
    this.prepared.delete(txnId);
    this.versionStore.unlock(txnId);
    this.reads.unlock(txnId, p.reads);
    this.ranges.unlock(txnId, p.prefixes);
  }

  private lockWrites(txnId: TxnId, keys: readonly string[]): void {
    const clash = this.versionStore.lock(txnId, keys);
    // Validation refused foreign intents; replay and rollbacks re-lock what was locked before.
    if (clash !== null) throw new Error(`assertion failed: transaction ${txnId} cannot lock a key transaction ${clash.txnId} holds`);
  }

  private remember(txnId: TxnId, commitTs: number): void {
    this.committed.set(txnId, commitTs);
    if (this.committed.size > TXN_COMMITTED_REMEMBERED) {
      const oldest = this.committed.keys().next();
      if (oldest.done !== true) this.committed.delete(oldest.value);
    }
  }

  /**
   * The LSM's current entry of a key about to be written (the version older snapshots see). A
   * corrupt block reads as absent: overwriting a damaged key must go on working (it is how the
   * key is repaired), and a snapshot read of the old value would fail on the corrupt block anyway.
   */
  private previous(key: string, nowMs: number): Entry | undefined {
    try {
      return this.d.store.get(binaryToKey(key), nowMs);
    } catch (error) {
      if (error instanceof CorruptionError) return undefined;
      throw error;
    }
  }

  private freshVersions(): VersionStore {
    return new VersionStore({ strictCommitOrder: false, horizon: this.d.oracle.current() });
  }

  // ---- WAL retention, GC, metrics ------------------------------------------------------

  /** The oldest segment holding the PREPARE of a transaction still undecided here, or null. */
  oldestPreparedSegment(): number | null {
    let oldest: number | null = null;
    for (const p of this.prepared.values()) if (p.segment !== null && (oldest === null || p.segment < oldest)) oldest = p.segment;
    return oldest;
  }

  /** Where a flush that rolled to rollSegment may stop deleting WAL segments: the oldest undecided PREPARE's is kept. */
  keepSegmentsFrom(rollSegment: number): number {
    const oldest = this.oldestPreparedSegment();
    return oldest === null ? rollSegment : Math.min(rollSegment, oldest);
  }

  /** One GC slice: versions no snapshot at or above oldestSnapshot can see (never below the store's horizon). */
  gc(oldestSnapshot: number, budget = TXN_GC_KEYS_PER_TICK): GcResult {
    const store = this.versionStore;
    let horizon = Math.max(oldestSnapshot, store.horizon);
    const max = this.d.versionBytesMax ?? Infinity;
    if (store.bytes > max) {
      // Over the cap: give up the older half of the history kept (in commits, which is what the
      // bytes grow with), and again each tick while still over, so the oldest snapshots are
      // refused first and young ones keep working unless the cap really needs their versions.
      const now = this.d.oracle.current();
      if (now > horizon) {
        horizon += Math.ceil((now - horizon) / 2);
        const nowMs = Date.now();
        if (nowMs - this.capWarnedMs > 10_000) {
          this.capWarnedMs = nowMs;
          this.d.log?.('warn', 'version store over its memory cap: the oldest snapshots are refused (TXN_SNAPSHOT_TOO_OLD)', { bytes: store.bytes, max, horizon });
        }
      }
    }
    return store.gc(horizon, budget);
  }

  /** Writes the gauges into the shared metrics. */
  publish(): void {
    const v = this.versionStore;
    const m = this.metrics;
    m[ShardMetric.txn_version_keys] = v.keyCount;
    m[ShardMetric.txn_versions] = v.versionCount;
    m[ShardMetric.txn_version_bytes] = v.bytes;
    m[ShardMetric.txn_intents] = this.intentsHeld();
  }

  // ---- replay -------------------------------------------------------------------------

  /**
   * Folds one txn WAL record at start (LSN order), before any request. COMMIT_ONE applies its
   * writes when lsn > flushedLsn and decides its id; PREPARE is held whatever its lsn (a prepared
   * transaction's writes are never in the tables); ABORT and COMMIT forget a PREPARE (a COMMIT is
   * an old record type: it never applies). Throws FrameError on a payload that does not parse.
   */
  replayRecord(type: number, lsn: number, segment: number, payload: Uint8Array, nowMs: number): void {
    if (!isTxnWalType(type)) throw new Error(`unknown WAL record type ${type} at lsn ${lsn}`);
    const record = decodeTxnWalRecord(type, payload);
    const held = this.prepared.get(record.txnId);
    switch (record.kind) {
      case 'prepare': {
        if (held !== undefined || this.committed.has(record.txnId)) {
          this.d.log?.('warn', 'txn replay: a PREPARE of a transaction already prepared or committed; the first kept', { txnId: record.txnId, lsn });
          return;
        }
        // Held past this call: copy (the payload views the segment read for replay).
        const copy = decodeTxnWalRecord(type, new Uint8Array(payload));
        const writes = copy.kind === 'prepare' ? copy.writes : [];
        this.prepared.set(record.txnId, { writes, writeKeys: writes.map((op) => keyToBinary(op.key)), reads: [], prefixes: [], segment });
        return;
      }
      case 'commit-one':
        this.prepared.delete(record.txnId);
        this.remember(record.txnId, record.commitTs);
        if (lsn > this.replayFlushedLsn) for (const op of record.writes) this.d.ops.replay(op, nowMs);
        return;
      case 'commit':
        this.prepared.delete(record.txnId);
        this.remember(record.txnId, record.commitTs);
        return;
      case 'abort':
        this.prepared.delete(record.txnId);
        return;
      default:
        unreachable(record);
    }
  }

  /** Starts a replay: records at or below flushedLsn are in the tables. */
  beginReplay(flushedLsn: number): void {
    this.replayFlushedLsn = flushedLsn;
  }

  /** Ends the replay: what is left prepared is in doubt; its write intents are locked again. Returns the ids. */
  endReplay(): TxnId[] {
    for (const [txnId, p] of this.prepared) this.lockWrites(txnId, p.writeKeys);
    return this.preparedIds();
  }
}

function checkRecordSize(bytes: number): void {
  if (bytes > LIMITS.request_write_bytes_max) {
    throw new MantisError('VALUE_TOO_LARGE', `the writes of one transaction on a shard total ${bytes} bytes; the limit is ${LIMITS.request_write_bytes_max}`);
  }
}

/**
 * A listed prefix covers a key. The empty prefix is a listing of every KV key: internal keys
 * (documents, indexes: first byte 0xFF) are not under it, as a KV listing never shows them.
 */
function underPrefix(key: string, prefix: string): boolean {
  return key.startsWith(prefix) && (prefix.length > 0 || key.charCodeAt(0) !== 0xff);
}
