// The router's side of transactions (issue 5): begin, snapshot reads, writes
// buffered in router memory, commit in one message or by two-phase commit,
// rollback, idle and age limits, and the recovery of in-doubt transactions.
//
// A transaction holds its snapshot timestamp S (from the shared-memory
// oracle), the keys it must have validated at commit (reads at
// repeatable_read and serializable, plus the keys of execute conditions), the
// prefixes it listed (serializable) and its writes. Reads go to the owning
// shard as txn-read at S (read_committed: at a fresh timestamp per read); a
// read of a key a committing transaction holds answers txn-locked and is sent
// again with backoff. Nothing reaches a shard before commit, so an aborted
// transaction leaves nothing behind.
//
// Commit. Participants are the shards holding a write or a key to validate
// (every shard when a prefix must be validated). One participant: txn-commit,
// one message (validate, timestamp, apply, log). Several: txn-prepare to each
// (validate, take intents, log PREPARE durably), then the decision: the
// commit timestamp is taken from the oracle and logged durably in the
// coordinator log (presumed abort: an abort is never logged), then txn-decide
// to each. The client's answer waits for every participant's commit, so its
// own later reads (cached or not) see the writes. A participant that cannot
// take the decision (restarting, storage failing) gets it again every second,
// and a restarted shard reports its undecided PREPAREs when ready
// (resolveInDoubt): the log's decision, or a final presumed abort.
//
// Active transactions are kept in a Map in begin order, so the first one holds
// the oldest snapshot; it is published in the oracle's oldest-snapshot slot
// (setOldestSnapshot) whenever the oldest ends and every 100 ms, which is what
// the shards' version GC keeps versions for.

import { randomBytes } from 'node:crypto';
import { MantisError } from '../../shared/errors.js';
import { LIMITS } from '../../shared/limits.js';
import { TimestampOracle } from '../../shared/txn/timestamp-oracle.js';
import type { Isolation, TxnEntry, TxnWriteOp } from '../../shared/txn/txn-wire.js';
import type { ShardRequest, ShardResponse } from '../../shared/wire.js';
import type { Logger } from '../log.js';
import { sleep } from '../kv/kv-service.js';
import { withTimeout, type ShardClient, type ShardPool } from '../router/index.js';
import { CoordinatorLogError, type CoordinatorLog } from './coordinator-log.js';
import type { TxnMetrics } from './txn-metrics.js';

export type FaultPoint = 'after-prepare' | 'after-decision' | 'after-first-commit';
const FAULT_POINTS: readonly FaultPoint[] = ['after-prepare', 'after-decision', 'after-first-commit'];

export type TxnManagerOptions = {
  readonly pool: ShardPool;
  readonly oracle: SharedArrayBuffer;
  readonly log: CoordinatorLog;
  readonly logger: Logger;
  readonly metrics: TxnMetrics;
  /** --txn-max-age-ms: a transaction older than this is aborted (TXN_SNAPSHOT_TOO_OLD). */
  readonly maxAgeMs: number;
  /** MANTIS_FAULT_TXN (tests only): `<point>[@n]`, the process SIGKILLs itself there in the nth two-phase commit. */
  readonly fault?: string;
};

export type TxnInfo = { readonly id: string; readonly isolation: Isolation; readonly timeoutMs: number; readonly snapshotTs: number };
export type ReadResult = { readonly entry: TxnEntry; readonly version: string | null } | null;
export type CommitResult = { readonly id: string; readonly commitTs: number; readonly path: CommitPath };
export type CommitPath = 'read_only' | 'one_shard' | 'two_phase';
export type Condition =
  | { readonly key: Uint8Array; readonly kind: 'value'; readonly value: Uint8Array }
  | { readonly key: Uint8Array; readonly kind: 'version'; readonly version: string }
  | { readonly key: Uint8Array; readonly kind: 'exists'; readonly exists: boolean };
export type ExecuteOp =
  | { readonly kind: 'get'; readonly key: Uint8Array }
  | { readonly kind: 'put'; readonly key: Uint8Array; readonly contentType: string; readonly expiresAtMs: number; readonly value: Uint8Array }
  | { readonly kind: 'delete'; readonly key: Uint8Array };
export type ExecuteResult =
  | { readonly kind: 'get'; readonly key: Uint8Array; readonly read: ReadResult }
  | { readonly kind: 'put'; readonly key: Uint8Array }
  | { readonly kind: 'delete'; readonly key: Uint8Array; readonly existed: boolean };

type Ended =
  | { readonly state: 'committed'; readonly result: CommitResult }
  | { readonly state: 'aborted'; readonly why: string }
  | { readonly state: 'expired' }
  | { readonly state: 'too_old' }
  | { readonly state: 'unknown'; readonly why: string };

type Txn = {
  readonly id: string;
  readonly isolation: Isolation;
  readonly snapshotTs: number;
  readonly timeoutMs: number;
  readonly beganMs: number;
  /** Buffered writes by binary key (latin1 of the key bytes: byte order = string order). */
  readonly writes: Map<string, TxnWriteOp>;
  writeBytes: number;
  /** Keys to validate at commit, by shard id, by binary key. */
  readonly reads: Map<number, Map<string, Uint8Array>>;
  /** Prefixes to validate at commit (serializable listings). */
  readonly prefixes: Map<string, Uint8Array>;
  /**
   * read_committed: the earliest timestamp a key to validate was read at (Infinity: none). Its
   * commit validates those keys from there — an execute condition or a read a write was planned
   * from is checked at every level; the other levels use their snapshot.
   */
  validateFloor: number;
  committing: boolean;
  /** The operations of one transaction run one at a time, in arrival order. */
  busy: Promise<unknown>;
  timer: NodeJS.Timeout | null;
};

/**
 * One operation of a transaction run by another model (the tables): exclusive with the
 * transaction's other operations, at its snapshot, reading and adding to its buffered writes.
 */
export interface TxnOperation {
  readonly id: string;
  readonly isolation: Isolation;
  /** The timestamp reads see (read_committed: a fresh one per operation). */
  readonly snapshotTs: number;
  /** The buffered writes whose key starts with `prefix` (key order not guaranteed). */
  buffered(prefix: Uint8Array): TxnWriteOp[];
  /** Buffers writes, all or none (the transaction's limits on keys and bytes apply). */
  bufferAll(ops: readonly TxnWriteOp[]): void;
  /** A key at the snapshot, or as the transaction's buffered writes left it; validate: checked at commit whatever the isolation. */
  read(key: Uint8Array, deadlineMs: number, validate: boolean): Promise<ReadResult>;
  /** A key this shard must find unchanged since the snapshot at commit, whatever the isolation. */
  validate(shard: ShardClient, key: Uint8Array): void;
  /** A prefix every shard must find unchanged since the snapshot at commit (serializable reads). */
  validatePrefix(prefix: Uint8Array): void;
  /** Sends a read request; a txn-locked answer is asked again with backoff, a too-old snapshot ends the transaction. */
  call(shard: ShardClient, request: () => ShardRequest, deadlineMs: number): Promise<ShardResponse>;
}

type Participant = { readonly shard: ShardClient; readonly writes: TxnWriteOp[]; readonly reads: Uint8Array[] };

/** A commit decision some participant has not acknowledged yet. */
type Unfinished = { readonly commitTs: number; readonly waiting: Set<number> };

const binary = (key: Uint8Array): string => Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
const printable = (key: Uint8Array): string => Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('utf8');
const validatesReads = (isolation: Isolation): boolean => isolation === 'repeatable_read' || isolation === 'serializable';
const PUBLISH_INTERVAL_MS = 100;
const REDELIVER_INTERVAL_MS = 1000;
/** How long a one-shard commit whose shard died waits for it to come back before answering TXN_OUTCOME_UNKNOWN. */
const ONE_SHARD_SETTLE_MS = 10_000;

export class TxnManager {
  private readonly oracle: TimestampOracle;
  private readonly active = new Map<string, Txn>();
  private readonly ended = new Map<string, Ended>();
  private readonly unfinished = new Map<string, Unfinished>();
  /** Abort decisions some participant has not taken yet, by shard id. */
  private readonly unfinishedAborts = new Map<string, Set<number>>();
  private readonly abortsInFlight = new Set<string>();
  private readonly publishTimer: NodeJS.Timeout;
  private readonly redeliverTimer: NodeJS.Timeout;
  private readonly idPrefix: string;
  private nextId = 0;
  private twoPhaseCommits = 0;
  private readonly fault: { point: FaultPoint; nth: number } | null;
  private closed = false;

  constructor(private readonly o: TxnManagerOptions) {
    this.oracle = new TimestampOracle(o.oracle);
    // Ids never repeat across restarts: 48 random bits per start (not a timestamp: on a full disk
    // none may be handed out, and the server must still start and serve reads).
    this.idPrefix = `t${randomBytes(6).toString('base64url')}-`;
    this.fault = parseFault(o.fault);
    this.publishTimer = setInterval(() => this.publishOldest(), PUBLISH_INTERVAL_MS);
    this.publishTimer.unref();
    this.redeliverTimer = setInterval(() => this.redeliver(), REDELIVER_INTERVAL_MS);
    this.redeliverTimer.unref();
  }

  get activeCount(): number {
    return this.active.size;
  }

  // ---- lifecycle ------------------------------------------------------------

  /** A fresh timestamp (never repeats, even across restarts): SQL's hidden row ids draw from it. */
  nextTimestamp(): number {
    return this.oracle.next();
  }

  begin(isolation: Isolation, timeoutMs: number): TxnInfo {
    if (this.closed) throw new MantisError('SHUTTING_DOWN', 'server is shutting down');
    if (this.active.size >= LIMITS.txn_active_max) {
      throw new MantisError('TXN_LIMIT', `${this.active.size} transactions are open (the limit is ${LIMITS.txn_active_max}); retry shortly`);
    }
    // Counted before its timestamp is taken: shards skip version records while no snapshot is live.
    this.oracle.snapshotBegun();
    let snapshotTs: number;
    try {
      snapshotTs = this.oracle.next();
    } catch (error) {
      this.oracle.snapshotEnded();
      throw error;
    }
    const txn: Txn = {
      id: this.idPrefix + (this.nextId++).toString(36),
      isolation,
      snapshotTs,
      timeoutMs,
      beganMs: Date.now(),
      writes: new Map(),
      writeBytes: 0,
      reads: new Map(),
      prefixes: new Map(),
      validateFloor: Infinity,
      committing: false,
      busy: Promise.resolve(),
      timer: null,
    };
    txn.timer = setTimeout(() => this.expire(txn), timeoutMs);
    txn.timer.unref();
    this.active.set(txn.id, txn);
    this.o.metrics.begun.inc();
    return { id: txn.id, isolation, timeoutMs, snapshotTs };
  }

  async rollback(id: string): Promise<void> {
    const txn = this.active.get(id);
    if (txn === undefined) {
      const ended = this.ended.get(id);
      if (ended === undefined) throw notFound(id);
      if (ended.state === 'committed' || ended.state === 'unknown') throw this.endedError(id);
      return; // aborted, expired, too old: rolled back already
    }
    await this.exclusive(txn, async () => {
      if (this.active.get(id) === txn) this.end(txn, { state: 'aborted', why: 'rolled back' }, 'rollback');
      else {
        // A commit that ran first decided it: committed, or an outcome nobody knows yet.
        const state = this.ended.get(id)?.state;
        if (state === 'committed' || state === 'unknown') throw this.endedError(id);
      }
    });
  }

  async commit(id: string): Promise<CommitResult> {
    const txn = this.active.get(id);
    if (txn === undefined) return this.endedCommit(id);
    return this.exclusive(txn, () => (this.active.get(id) === txn ? this.commitNow(txn) : this.endedCommit(id)));
  }

  /** Stops timers and refuses new transactions; open ones simply end with the process (nothing of them is on a shard). */
  close(): void {
    this.closed = true;
    clearInterval(this.publishTimer);
    clearInterval(this.redeliverTimer);
    for (const txn of this.active.values()) if (txn.timer !== null) clearTimeout(txn.timer);
  }

  // ---- reads and writes -----------------------------------------------------

  /** Runs `work` as one operation of transaction `id` (see TxnOperation). */
  operate<T>(id: string, work: (op: TxnOperation) => Promise<T>): Promise<T> {
    const txn = this.live(id);
    return this.exclusive(txn, async () => {
      this.touch(txn);
      const snapshotTs = this.snapshotOf(txn);
      const op: TxnOperation = {
        id,
        isolation: txn.isolation,
        snapshotTs,
        buffered: (prefix) => {
          const bin = binary(prefix);
          const out: TxnWriteOp[] = [];
          for (const [key, write] of txn.writes) if (key.startsWith(bin)) out.push(write);
          return out;
        },
        bufferAll: (writes) => {
          let added = 0;
          let bytes = 0;
          const seen = new Set<string>();
          for (const w of writes) {
            const bin = binary(w.key);
            const previous = txn.writes.get(bin);
            if (previous === undefined && !seen.has(bin)) added++;
            seen.add(bin);
            bytes += opBytes(w) - (previous === undefined ? 0 : opBytes(previous));
          }
          if (txn.writes.size + added > LIMITS.txn_writes_max) {
            throw new MantisError('INVALID_PARAMETER', `transaction ${txn.id} would write ${txn.writes.size + added} keys; the limit is ${LIMITS.txn_writes_max} (a table row is one key, plus one per index and one per delete mark)`);
          }
          if (txn.writeBytes + bytes > LIMITS.request_write_bytes_max) {
            throw new MantisError('VALUE_TOO_LARGE', `transaction ${txn.id}'s writes would total ${txn.writeBytes + bytes} bytes; the limit is ${LIMITS.request_write_bytes_max}`);
          }
          for (const w of writes) this.buffer(txn, w);
        },
        read: async (key, deadlineMs, validate) => {
          const buffered = txn.writes.get(binary(key));
          if (buffered !== undefined) return bufferedRead(buffered);
          return this.readAt(txn, key, deadlineMs, validate);
        },
        validate: (shard, key) => {
          let keys = txn.reads.get(shard.id);
          if (keys === undefined) txn.reads.set(shard.id, (keys = new Map()));
          keys.set(binary(key), key);
          if (txn.isolation === 'read_committed') txn.validateFloor = Math.min(txn.validateFloor, snapshotTs);
        },
        validatePrefix: (prefix) => {
          txn.prefixes.set(binary(prefix), prefix);
        },
        call: (shard, request, deadlineMs) => this.callLocked(txn, shard, request, deadlineMs),
      };
      return work(op);
    });
  }

  /**
   * A key at the snapshot, or as the transaction's buffered writes left it. forWrite: a read a
   * write is planned from (a document's existence or content, a unique value's holder), validated
   * at commit at read_committed too — the other levels catch a change of it by first-committer-wins
   * on the key the write writes, read_committed checks nothing else.
   */
  get(id: string, key: Uint8Array, deadlineMs: number, forWrite = false): Promise<ReadResult> {
    const txn = this.live(id);
    return this.exclusive(txn, async () => {
      this.touch(txn);
      const buffered = txn.writes.get(binary(key));
      if (buffered !== undefined) return bufferedRead(buffered);
      return this.readAt(txn, key, deadlineMs, forWrite && txn.isolation === 'read_committed');
    });
  }

  async put(id: string, key: Uint8Array, contentType: string, expiresAtMs: number, value: Uint8Array): Promise<void> {
    const txn = this.live(id);
    await this.exclusive(txn, async () => {
      this.touch(txn);
      this.buffer(txn, { kind: 'put', key, contentType, expiresAtMs, value });
    });
  }

  /** Buffers a delete; answers whether the key existed in the transaction's view (a read). */
  delete(id: string, key: Uint8Array, deadlineMs: number): Promise<boolean> {
    const txn = this.live(id);
    return this.exclusive(txn, async () => {
      this.touch(txn);
      const existed = await this.existsInView(txn, key, deadlineMs);
      this.buffer(txn, { kind: 'delete', key });
      return existed;
    });
  }

  /** Keys under prefix at the snapshot, merged with the transaction's writes: the first `limit`, and whether more exist. */
  list(id: string, prefix: Uint8Array, limit: number, deadlineMs: number): Promise<{ keys: Uint8Array[]; more: boolean }> {
    const txn = this.live(id);
    return this.exclusive(txn, async () => {
      this.touch(txn);
      const binPrefix = binary(prefix);
      let deletes = 0;
      // The empty prefix lists KV keys only: internal keys (documents, indexes: first byte 0xFF) are not under it.
      const under = (bin: string): boolean => bin.startsWith(binPrefix) && (binPrefix.length > 0 || bin.charCodeAt(0) !== 0xff);
      for (const [bin, op] of txn.writes) if (op.kind === 'delete' && under(bin)) deletes++;
      const snapshotTs = this.snapshotOf(txn);
      const parts = await Promise.all(
        this.o.pool.shards.map((shard) =>
          this.callLocked(txn, shard, () => ({ kind: 'txn-list', prefix, after: null, limit: limit + deletes, snapshotTs }), deadlineMs),
        ),
      );
      const keys = new Map<string, Uint8Array>();
      let more = false;
      for (const part of parts) {
        if (part.kind !== 'txn-keys') unexpected(part);
        more ||= part.more;
        for (const key of part.keys) keys.set(binary(key), key);
      }
      const nowMs = Date.now();
      for (const [bin, op] of txn.writes) {
        if (!under(bin)) continue;
        if (op.kind === 'put' && (op.expiresAtMs === 0 || op.expiresAtMs > nowMs)) keys.set(bin, op.key);
        else keys.delete(bin);
      }
      if (txn.isolation === 'serializable') txn.prefixes.set(binPrefix, prefix);
      const sorted = [...keys.keys()].sort();
      if (sorted.length > limit) more = true;
      return { keys: sorted.slice(0, limit).map((bin) => keys.get(bin) as Uint8Array), more };
    });
  }

  /**
   * One-shot: conditions checked at the snapshot (and validated at commit, whatever the isolation:
   * an atomic compare-and-set), operations applied in order, committed. A failed condition is
   * TXN_CONFLICT with reason "condition".
   */
  async execute(isolation: Isolation, conditions: readonly Condition[], ops: readonly ExecuteOp[], deadlineMs: number): Promise<{ commit: CommitResult; results: ExecuteResult[] }> {
    const info = this.begin(isolation, LIMITS.txn_timeout_ms_default);
    const txn = this.active.get(info.id) as Txn;
    try {
      return await this.exclusive(txn, async () => {
        // Every read at the snapshot goes out at once: the conditions' keys, and each get or delete
        // of a key no earlier operation of this request writes (those read the request's own write).
        const written = new Set<string>();
        const snapshotReads = ops.map((op) => {
          const bin = binary(op.key);
          const read = op.kind !== 'put' && !written.has(bin) ? this.readAt(txn, op.key, deadlineMs, false) : null;
          if (op.kind !== 'get') written.add(bin);
          return read;
        });
        const [observed, prefetched] = await Promise.all([
          Promise.all(conditions.map((c) => this.readAt(txn, c.key, deadlineMs, true))),
          Promise.all(snapshotReads),
        ]);
        conditions.forEach((c, i) => {
          const problem = conditionProblem(c, observed[i]);
          if (problem !== null) {
            const key = printable(c.key);
            throw new MantisError('TXN_CONFLICT', `condition on key "${key}" failed: ${problem}`, { key, reason: 'condition' });
          }
        });
        // In order: a get or delete sees the snapshot, or this request's earlier writes.
        const results: ExecuteResult[] = [];
        ops.forEach((op, i) => {
          const read = (): ReadResult => {
            const buffered = txn.writes.get(binary(op.key));
            return buffered !== undefined ? bufferedRead(buffered) : (prefetched[i] ?? null);
          };
          switch (op.kind) {
            case 'get':
              results.push({ kind: 'get', key: op.key, read: read() });
              break;
            case 'put':
              this.buffer(txn, op);
              results.push({ kind: 'put', key: op.key });
              break;
            case 'delete':
              results.push({ kind: 'delete', key: op.key, existed: read() !== null });
              this.buffer(txn, op);
              break;
          }
        });
        return { commit: await this.commitNow(txn), results };
      });
    } finally {
      if (this.active.get(txn.id) === txn) this.end(txn, { state: 'aborted', why: 'its execute request failed' }, 'execute_failed');
    }
  }

  // ---- recovery ---------------------------------------------------------------

  /**
   * A shard generation came up holding prepared, undecided transactions: decide each from the
   * coordinator log — its commit decision, or a presumed abort made final there.
   */
  async resolveInDoubt(shardId: number, inDoubt: readonly string[]): Promise<void> {
    for (const txnId of inDoubt) {
      let decision;
      try {
        decision = await this.o.log.abortIfUndecided(txnId);
      } catch (error) {
        // The log cannot say (a failed write left it in doubt): leave the keys held; a restart decides.
        this.o.logger.error({ err: error, txnId, shard: shardId }, 'in-doubt transaction cannot be decided until restart');
        continue;
      }
      this.o.logger.info({ txnId, shard: shardId, outcome: decision === null ? 'abort' : 'commit' }, 'deciding an in-doubt transaction');
      if (decision === null) {
        await this.sendAbort(txnId, shardId);
        continue;
      }
      // Every participant, not only this one: the decision is forgotten (markDone) only once all took it.
      this.track(txnId, decision.commitTs, decision.participants);
      await this.deliver(txnId);
    }
  }

  /** At start, once every shard is ready: commit decisions logged but not finished are sent again. */
  async recover(): Promise<number> {
    const pending = [...this.o.log.pending()];
    for (const decision of pending) this.track(decision.txnId, decision.commitTs, decision.participants);
    await Promise.all(pending.map((d) => this.deliver(d.txnId)));
    return pending.length;
  }

  // ---- internals ----------------------------------------------------------------

  private async commitNow(txn: Txn): Promise<CommitResult> {
    txn.committing = true;
    if (txn.timer !== null) clearTimeout(txn.timer);
    const started = performance.now();
    try {
      const result = await this.decide(txn);
      this.end(txn, { state: 'committed', result }, null);
      this.o.metrics.commits.inc({ path: result.path });
      this.o.metrics.commitSeconds.observe({ path: result.path }, (performance.now() - started) / 1000);
      return result;
    } catch (error) {
      if (this.active.get(txn.id) === txn && error instanceof MantisError && error.code === 'TXN_OUTCOME_UNKNOWN') {
        this.end(txn, { state: 'unknown', why: error.message }, 'outcome_unknown');
      } else if (this.active.get(txn.id) === txn) {
        const reason = error instanceof MantisError && error.details?.reason !== undefined ? String(error.details.reason) : error instanceof MantisError ? error.code.toLowerCase() : 'internal';
        this.end(txn, { state: 'aborted', why: error instanceof Error ? error.message : String(error) }, reason);
      }
      throw error;
    }
  }

  private async decide(txn: Txn): Promise<CommitResult> {
    if (txn.writes.size === 0) {
      // Read-only: it read exactly the state at its snapshot (every writer is equivalent to running
      // at its commit timestamp), so there is nothing to validate at any isolation level.
      // Its commit timestamp is the point it read at: its snapshot (read_committed: now).
      return { id: txn.id, commitTs: this.snapshotOf(txn), path: 'read_only' };
    }
    const parts = new Map<number, Participant>();
    const part = (shard: ShardClient): Participant => {
      let p = parts.get(shard.id);
      if (p === undefined) parts.set(shard.id, (p = { shard, writes: [], reads: [] }));
      return p;
    };
    for (const op of txn.writes.values()) part(this.o.pool.shardFor(op.key)).writes.push(op);
    for (const [shardId, keys] of txn.reads) part(this.o.pool.shards[shardId]).reads.push(...keys.values());
    const prefixes = [...txn.prefixes.values()];
    if (prefixes.length > 0) for (const shard of this.o.pool.shards) part(shard);
    // read_committed validates only its keys to validate (execute conditions, reads writes were
    // planned from), from the earliest point one was read at; with none, nothing.
    const snapshotTs = txn.isolation === 'read_committed' ? Math.min(this.oracle.current(), txn.validateFloor) : txn.snapshotTs;
    const body = (p: Participant) => ({ txnId: txn.id, isolation: txn.isolation, snapshotTs, reads: p.reads, prefixes, writes: p.writes });
    const participants = [...parts.values()];
    if (participants.length === 1) {
      const p = participants[0];
      const request: ShardRequest = { kind: 'txn-commit', ...body(p) };
      const response = await p.shard.call(request).catch((error: unknown) => this.settleOneShard(txn, p.shard, request, error));
      if (response.kind === 'txn-committed') return { id: txn.id, commitTs: response.commitTs, path: 'one_shard' };
      throw refusal(response);
    }
    return this.twoPhase(txn, participants, body);
  }

  /**
   * A one-shard commit whose shard became unavailable may have been logged before the thread died
   * (its COMMIT_ONE replays). Once the shard is back, the same commit is sent again: the shard
   * remembers the ids its WAL committed and answers txn-committed; otherwise it validates afresh
   * (a restarted shard refuses the old snapshot: TXN_SNAPSHOT_TOO_OLD, so not committed). Only when
   * the shard does not come back is the outcome unknown.
   */
  private async settleOneShard(txn: Txn, shard: ShardClient, request: ShardRequest, error: unknown): Promise<ShardResponse> {
    if (!(error instanceof MantisError) || error.code !== 'SHARD_UNAVAILABLE') throw error;
    const unknown = (why: string): MantisError =>
      new MantisError('TXN_OUTCOME_UNKNOWN', `shard ${shard.id} became unavailable while transaction ${txn.id} was committing (${why}); the transaction may or may not have committed`);
    let response: ShardResponse;
    try {
      await withTimeout(shard.whenReady(), ONE_SHARD_SETTLE_MS, `shard ${shard.id} restart`);
      response = await shard.call(request);
    } catch (again) {
      throw unknown(again instanceof Error ? again.message : String(again));
    }
    // Definite answers only: committed (now or by the replayed record), or refused by validation.
    if (response.kind === 'txn-committed' || response.kind === 'txn-conflict') return response;
    if (response.kind === 'error' && response.code === 'TXN_SNAPSHOT_TOO_OLD') {
      throw new MantisError('TXN_ABORTED', `shard ${shard.id} restarted while transaction ${txn.id} was committing; it was not committed`);
    }
    throw unknown(response.kind === 'error' ? `${response.code}: ${response.message}` : response.kind);
  }

  private async twoPhase(txn: Txn, participants: Participant[], body: (p: Participant) => object): Promise<CommitResult> {
    const nth = ++this.twoPhaseCommits;
    const generations = participants.map((p) => p.shard.generation);
    const votes = await Promise.allSettled(participants.map((p) => p.shard.call({ kind: 'txn-prepare', ...body(p) } as ShardRequest)));
    let failure: MantisError | null = null;
    for (const vote of votes) {
      if (vote.status === 'rejected') failure ??= asMantis(vote.reason);
      else if (vote.value.kind !== 'txn-prepared') failure ??= refusal(vote.value);
    }
    if (failure !== null) {
      this.abortAll(txn.id, participants);
      throw failure;
    }
    this.faultAt('after-prepare', nth);
    // A participant restarted since it voted lost the read intents that protected this snapshot.
    const restarted = participants.find((p, i) => p.shard.generation !== generations[i]);
    if (restarted !== undefined) {
      this.abortAll(txn.id, participants);
      throw new MantisError('TXN_ABORTED', `shard ${restarted.shard.id} restarted while transaction ${txn.id} was committing; it was aborted`);
    }
    const ids = participants.map((p) => p.shard.id);
    let commitTs: number;
    try {
      commitTs = this.oracle.next();
      await this.o.log.logCommit(txn.id, commitTs, ids);
    } catch (error) {
      if (error instanceof CoordinatorLogError && error.inDoubt) {
        // The decision may be on disk: the participants stay prepared and a restart decides.
        throw new MantisError('TXN_OUTCOME_UNKNOWN', `the commit decision of transaction ${txn.id} may or may not be durable (${error.message}); its outcome is decided when the server restarts`);
      }
      this.abortAll(txn.id, participants);
      throw asMantis(error);
    }
    this.faultAt('after-decision', nth);
    this.track(txn.id, commitTs, ids);
    const acks = participants.map((p) => p.shard.call({ kind: 'txn-decide', txnId: txn.id, commit: true, commitTs }));
    if (this.fault?.point === 'after-first-commit' && this.fault.nth === nth) {
      await Promise.race(acks.map((a) => a.catch(() => undefined)));
      this.faultAt('after-first-commit', nth);
    }
    const outcomes = await Promise.allSettled(acks);
    outcomes.forEach((outcome, i) => {
      if (outcome.status === 'fulfilled' && outcome.value.kind === 'txn-committed') this.acknowledge(txn.id, ids[i]);
      else this.o.logger.warn({ txnId: txn.id, shard: ids[i], outcome: outcome.status === 'fulfilled' ? outcome.value.kind : String(outcome.reason) }, 'a participant did not take a commit decision yet; it is sent again');
    });
    // Decided and durable: the commit stands even if a participant takes it later.
    return { id: txn.id, commitTs, path: 'two_phase' };
  }

  /**
   * Tells every participant to abort. One that does not take it (restarting: it reports the
   * PREPARE when ready; storage failing or stalled: it keeps the keys held) gets it again every
   * second until it answers txn-aborted.
   */
  private abortAll(txnId: string, participants: readonly Participant[]): void {
    for (const p of participants) void this.sendAbort(txnId, p.shard.id);
  }

  private async sendAbort(txnId: string, shardId: number): Promise<void> {
    const shard = this.o.pool.shards[shardId];
    const flight = `${shardId} ${txnId}`;
    if (this.abortsInFlight.has(flight)) return; // the one sent earlier is still on its way
    let done = false;
    if (shard.state === 'ready') {
      this.abortsInFlight.add(flight);
      try {
        done = (await shard.call({ kind: 'txn-decide', txnId, commit: false })).kind === 'txn-aborted';
      } catch {
        // again at the next tick
      } finally {
        this.abortsInFlight.delete(flight);
      }
    }
    const waiting = this.unfinishedAborts.get(txnId);
    if (done) {
      waiting?.delete(shardId);
      if (waiting?.size === 0) this.unfinishedAborts.delete(txnId);
    } else if (waiting === undefined) this.unfinishedAborts.set(txnId, new Set([shardId]));
    else waiting.add(shardId);
  }

  private track(txnId: string, commitTs: number, shardIds: readonly number[]): void {
    const known = this.unfinished.get(txnId);
    if (known !== undefined) for (const id of shardIds) known.waiting.add(id);
    else this.unfinished.set(txnId, { commitTs, waiting: new Set(shardIds) });
  }

  private acknowledge(txnId: string, shardId: number): void {
    const u = this.unfinished.get(txnId);
    if (u === undefined) return;
    u.waiting.delete(shardId);
    if (u.waiting.size === 0) {
      this.unfinished.delete(txnId);
      this.o.log.markDone(txnId);
    }
  }

  /** Sends a decided commit to the participants that have not acknowledged it. */
  private async deliver(txnId: string): Promise<void> {
    const u = this.unfinished.get(txnId);
    if (u === undefined) return;
    await Promise.all(
      [...u.waiting].map(async (shardId) => {
        const shard = this.o.pool.shards[shardId];
        if (shard === undefined || shard.state !== 'ready') return;
        try {
          const response = await shard.call({ kind: 'txn-decide', txnId, commit: true, commitTs: u.commitTs });
          if (response.kind === 'txn-committed') this.acknowledge(txnId, shardId);
        } catch {
          // again at the next tick
        }
      }),
    );
  }

  private redeliver(): void {
    for (const txnId of this.unfinished.keys()) void this.deliver(txnId);
    for (const [txnId, shards] of this.unfinishedAborts) for (const shardId of shards) void this.sendAbort(txnId, shardId);
  }

  private async readAt(txn: Txn, key: Uint8Array, deadlineMs: number, validate: boolean): Promise<ReadResult> {
    const shard = this.o.pool.shardFor(key);
    let readTs = 0;
    const response = await this.callLocked(txn, shard, () => ({ kind: 'txn-read', key, snapshotTs: (readTs = this.snapshotOf(txn)) }), deadlineMs);
    if (response.kind !== 'txn-value') unexpected(response);
    if (validate || validatesReads(txn.isolation)) {
      let keys = txn.reads.get(shard.id);
      if (keys === undefined) txn.reads.set(shard.id, (keys = new Map()));
      keys.set(binary(key), key);
      if (txn.isolation === 'read_committed') txn.validateFloor = Math.min(txn.validateFloor, readTs);
    }
    const entry = response.entry;
    if (entry === null || (entry.expiresAtMs !== 0 && entry.expiresAtMs <= Date.now())) return null;
    return { entry, version: `${shard.epoch}.${response.version}` };
  }

  private async existsInView(txn: Txn, key: Uint8Array, deadlineMs: number): Promise<boolean> {
    const buffered = txn.writes.get(binary(key));
    if (buffered !== undefined) return bufferedRead(buffered) !== null;
    return (await this.readAt(txn, key, deadlineMs, false)) !== null;
  }

  /** A read or listing; a key held by a committing transaction is asked again with backoff. */
  private async callLocked(txn: Txn, shard: ShardClient, request: () => ShardRequest, deadlineMs: number): Promise<ShardResponse> {
    const started = Date.now();
    let waitMs = 1;
    for (;;) {
      const response = await shard.call(request(), deadlineMs);
      if (response.kind === 'error' && response.code === 'TXN_SNAPSHOT_TOO_OLD') {
        if (this.active.get(txn.id) === txn) this.end(txn, { state: 'too_old' }, 'snapshot_too_old');
        throw new MantisError('TXN_SNAPSHOT_TOO_OLD', `transaction ${txn.id}: ${response.message}`);
      }
      if (response.kind !== 'txn-locked') return response;
      const now = Date.now();
      if (now - started + waitMs > LIMITS.txn_locked_wait_ms_max || (deadlineMs !== 0 && now + waitMs >= deadlineMs)) {
        const key = printable(response.key);
        throw new MantisError('TXN_CONFLICT', `key "${key}" is held by committing transaction ${response.txnId}; the read waited ${now - started} ms`, { key, reason: 'locked' });
      }
      await sleep(waitMs);
      waitMs = Math.min(waitMs * 2, LIMITS.txn_locked_backoff_ms_max);
    }
  }

  private buffer(txn: Txn, op: TxnWriteOp): void {
    const bin = binary(op.key);
    const previous = txn.writes.get(bin);
    if (previous === undefined && txn.writes.size >= LIMITS.txn_writes_max) {
      throw new MantisError('INVALID_PARAMETER', `transaction ${txn.id} already writes ${txn.writes.size} keys; the limit is ${LIMITS.txn_writes_max}`);
    }
    const bytes = opBytes(op) - (previous === undefined ? 0 : opBytes(previous));
    if (txn.writeBytes + bytes > LIMITS.request_write_bytes_max) {
      throw new MantisError('VALUE_TOO_LARGE', `transaction ${txn.id}'s writes would total ${txn.writeBytes + bytes} bytes; the limit is ${LIMITS.request_write_bytes_max}`);
    }
    txn.writeBytes += bytes;
    txn.writes.set(bin, op);
  }

  private snapshotOf(txn: Txn): number {
    return txn.isolation === 'read_committed' ? this.oracle.current() : txn.snapshotTs;
  }

  /** The open transaction, or the error its id deserves. */
  private live(id: string): Txn {
    const txn = this.active.get(id);
    if (txn !== undefined) {
      if (txn.committing) throw new MantisError('TXN_ABORTED', `transaction ${id} is committing; it takes no more operations`);
      if (Date.now() - txn.beganMs > this.o.maxAgeMs) {
        this.end(txn, { state: 'too_old' }, 'snapshot_too_old');
        throw tooOld(id, this.o.maxAgeMs);
      }
      return txn;
    }
    throw this.endedError(id);
  }

  private endedError(id: string): MantisError {
    const ended = this.ended.get(id);
    if (ended === undefined) return notFound(id);
    switch (ended.state) {
      case 'committed':
        return new MantisError('TXN_EXPIRED', `transaction ${id} already committed (it cannot be rolled back or used again)`);
      case 'aborted':
        return new MantisError('TXN_ABORTED', `transaction ${id} was aborted (${ended.why})`);
      case 'expired':
        return new MantisError('TXN_EXPIRED', `transaction ${id} was idle past its timeout and was aborted`);
      case 'too_old':
        return tooOld(id, this.o.maxAgeMs);
      case 'unknown':
        return new MantisError('TXN_OUTCOME_UNKNOWN', ended.why);
    }
  }

  private endedCommit(id: string): Promise<CommitResult> {
    const ended = this.ended.get(id);
    if (ended?.state === 'committed') return Promise.resolve(ended.result);
    if (ended?.state === 'expired') return Promise.reject(new MantisError('TXN_EXPIRED', `transaction ${id} was idle past its timeout and was aborted; nothing was committed`));
    return Promise.reject(this.endedError(id));
  }

  private touch(txn: Txn): void {
    if (Date.now() - txn.beganMs > this.o.maxAgeMs) {
      this.end(txn, { state: 'too_old' }, 'snapshot_too_old');
      throw tooOld(txn.id, this.o.maxAgeMs);
    }
    txn.timer?.refresh();
  }

  private expire(txn: Txn): void {
    if (this.active.get(txn.id) !== txn || txn.committing) return;
    this.end(txn, { state: 'expired' }, 'expired');
  }

  private end(txn: Txn, ended: Ended, abortReason: string | null): void {
    if (txn.timer !== null) clearTimeout(txn.timer);
    const wasOldest = this.active.keys().next().value === txn.id;
    if (this.active.delete(txn.id)) this.oracle.snapshotEnded();
    this.remember(txn.id, ended);
    if (abortReason !== null) this.o.metrics.aborts.inc({ reason: abortReason });
    if (wasOldest) this.publishOldest();
  }

  /**
   * The oldest live snapshot (or, with none, the current timestamp) for the shards' version GC.
   * Transactions past --txn-max-age-ms are aborted here first (oldest first: the Map is in begin
   * order), so an open transaction that is never touched again cannot pin old versions either.
   */
  private publishOldest(): void {
    const limit = Date.now() - this.o.maxAgeMs;
    for (const txn of this.active.values()) {
      if (txn.beganMs >= limit) break;
      if (txn.committing) continue; // finishing: it ends on its own
      if (txn.timer !== null) clearTimeout(txn.timer);
      if (this.active.delete(txn.id)) this.oracle.snapshotEnded();
      this.remember(txn.id, { state: 'too_old' });
      this.o.metrics.aborts.inc({ reason: 'snapshot_too_old' });
    }
    const oldest = this.active.values().next().value;
    this.oracle.setOldestSnapshot(oldest === undefined ? null : oldest.snapshotTs);
    this.o.metrics.active.set(this.active.size);
  }

  private remember(id: string, ended: Ended): void {
    this.ended.set(id, ended);
    if (this.ended.size > LIMITS.txn_ended_remembered) this.ended.delete(this.ended.keys().next().value as string);
  }

  private exclusive<T>(txn: Txn, work: () => Promise<T>): Promise<T> {
    const result = txn.busy.then(work);
    txn.busy = result.catch(() => undefined);
    return result;
  }

  private faultAt(point: FaultPoint, nth: number): void {
    if (this.fault === null || this.fault.point !== point || this.fault.nth !== nth) return;
    this.o.logger.warn({ point, nth }, 'fault injected (MANTIS_FAULT_TXN): killing the server process');
    process.kill(process.pid, 'SIGKILL');
  }
}

function parseFault(raw: string | undefined): { point: FaultPoint; nth: number } | null {
  if (raw === undefined || raw === '') return null;
  const [point, count] = raw.split('@');
  const nth = count === undefined ? 1 : Number(count);
  if (!FAULT_POINTS.includes(point as FaultPoint) || !Number.isSafeInteger(nth) || nth < 1) {
    throw new Error(`MANTIS_FAULT_TXN must be one of ${FAULT_POINTS.join(', ')} with an optional @n, got "${raw}"`);
  }
  return { point: point as FaultPoint, nth };
}

function bufferedRead(op: TxnWriteOp): ReadResult {
  if (op.kind === 'delete' || (op.expiresAtMs !== 0 && op.expiresAtMs <= Date.now())) return null;
  return { entry: { contentType: op.contentType, expiresAtMs: op.expiresAtMs, value: op.value }, version: null };
}

function opBytes(op: TxnWriteOp): number {
  return 16 + op.key.length + (op.kind === 'put' ? op.value.length + op.contentType.length + 16 : 0);
}

function conditionProblem(c: Condition, read: ReadResult): string | null {
  switch (c.kind) {
    case 'exists':
      return (read !== null) === c.exists ? null : c.exists ? 'the key does not exist' : 'the key exists';
    case 'value':
      if (read === null) return 'the key does not exist';
      return Buffer.compare(read.entry.value, c.value) === 0 ? null : 'the value differs';
    case 'version':
      if (read === null) return 'the key does not exist';
      return read.version === c.version ? null : `its version is ${read.version}, not ${c.version}`;
  }
}

function refusal(response: ShardResponse): MantisError {
  switch (response.kind) {
    case 'txn-conflict': {
      const key = printable(response.key);
      const why =
        response.reason === 'write' ? 'was written by another transaction after this one\'s snapshot (first committer wins)'
        : response.reason === 'read' ? 'was read by this transaction and written by another after its snapshot'
        : response.reason === 'range' ? 'is under a prefix this transaction listed and was written by another after its snapshot'
        : 'is held by another committing transaction';
      return new MantisError('TXN_CONFLICT', `key "${key}" ${why}; the transaction was aborted`, { key, reason: response.reason });
    }
    case 'error':
      return new MantisError(response.code, response.message);
    default:
      return new MantisError('INTERNAL', `unexpected shard answer ${response.kind} to a commit`);
  }
}

function unexpected(response: ShardResponse): never {
  if (response.kind === 'error') throw new MantisError(response.code, response.message);
  throw new Error(`assertion failed: unexpected shard response ${response.kind}`);
}

function asMantis(error: unknown): MantisError {
  if (error instanceof MantisError) return error;
  return new MantisError('INTERNAL', error instanceof Error ? error.message : String(error));
}

function notFound(id: string): MantisError {
  return new MantisError('TXN_NOT_FOUND', `no transaction ${id} (unknown, or ended too long ago to remember)`);
}

function tooOld(id: string, maxAgeMs: number): MantisError {
  return new MantisError('TXN_SNAPSHOT_TOO_OLD', `transaction ${id} is older than --txn-max-age-ms (${maxAgeMs} ms) and was aborted; start a new one`);
}
