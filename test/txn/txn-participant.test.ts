// workers/txn/txn-participant.ts driven directly (no server, no rings): a real
// LsmStore and WAL in a temp dir, ShardOps with a cache segment, the
// participant as the TxnHook of plain writes, and a tiny stand-in for the
// actor that appends each request's WAL records. Covers one-shard commits,
// prepare → decide, conflicts per reason and isolation, intents against plain
// writes and snapshot reads, snapshot listings, rollback, WAL replay of txn
// records (in doubt, applied once), segment retention across a flush, and GC.

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createCacheSegment } from '../../shared/cache/cache-layout.js';
import { PolicyTable } from '../../shared/cache/policy.js';
import { MantisError } from '../../shared/errors.js';
import { createOracle, TimestampOracle } from '../../shared/txn/timestamp-oracle.js';
import { WAL_TXN_ABORT, WAL_TXN_COMMIT_ONE, WAL_TXN_PREPARE } from '../../shared/txn/txn-wal.js';
import type { Isolation, TxnRequest, TxnWriteOp } from '../../shared/txn/txn-wire.js';
import { encodeWriteOps, WAL_KV_OPS, type ShardRequest, type ShardResponse } from '../../shared/wire.js';
import { LsmStore, runLsmTask, tuningFromBudget, type Undo } from '../../workers/lsm/index.js';
import { ShardCache } from '../../workers/shard/shard-cache.js';
import { ShardOps } from '../../workers/shard/shard-ops.js';
import { replayShardWal } from '../../workers/shard/shard-replay.js';
import { TxnParticipant } from '../../workers/txn/txn-participant.js';
import { segmentFileName, WalWriter } from '../../workers/wal/index.js';

const enc = (s: string): Uint8Array => Buffer.from(s);
const dec = (b: Uint8Array): string => Buffer.from(b).toString();
const put = (key: string, value: string): TxnWriteOp => ({ kind: 'put', key: enc(key), value: enc(value), contentType: 'text/plain', expiresAtMs: 0 });
const del = (key: string): TxnWriteOp => ({ kind: 'delete', key: enc(key) });

const dirs: string[] = [];
const open: Shard[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

type Body = { isolation?: Isolation; snapshotTs: number; reads?: string[]; prefixes?: string[]; writes?: TxnWriteOp[] };

/** One shard's state in this process: store, WAL, ops, participant; exec() plays the actor's part. */
class Shard {
  readonly store: LsmStore;
  readonly ops: ShardOps;
  readonly txn: TxnParticipant;
  readonly wal: WalWriter;
  readonly inDoubt: string[];
  readonly records: number[] = [];
  lastUndo: Undo[] = [];
  lastRollback: (() => void) | null = null;

  constructor(
    readonly dir: string,
    readonly oracle: TimestampOracle,
    memtableBytes = 1 << 20,
  ) {
    const walRef: { wal: WalWriter | null; txn: TxnParticipant | null } = { wal: null, txn: null };
    this.store = LsmStore.open({
      dir: join(dir, 'sst'),
      tuning: { ...tuningFromBudget(1 << 22), memtableBytes },
      runTask: (task) => Promise.resolve(runLsmTask(task)),
      log: () => undefined,
      onFlushed: (_lsn, segment) => walRef.wal?.removeSegmentsBefore(walRef.txn?.keepSegmentsFrom(segment) ?? segment),
    });
    this.ops = new ShardOps(this.store, new ShardCache(createCacheSegment(1 << 20)));
    this.ops.setPolicies(new PolicyTable([{ prefix: 'co/', policy: 'cache-only' }]));
    this.txn = new TxnParticipant({ store: this.store, ops: this.ops, oracle, currentSegment: () => walRef.wal?.currentSegment ?? 0, metrics: null });
    this.ops.setTxnHook(this.txn);
    walRef.txn = this.txn;
    const replayed = replayShardWal(this.ops, this.txn, join(dir, 'wal'), this.store.flushedLsn);
    this.inDoubt = replayed.inDoubt;
    this.wal = WalWriter.open(
      { dir: join(dir, 'wal'), fsync: 'none', fsyncBatchMs: 5, segmentBytesMax: 1 << 30 },
      { ...replayed.result, lastLsn: Math.max(replayed.result.lastLsn, this.store.flushedLsn) },
    );
    walRef.wal = this.wal;
  }

  /** Applies one request as the actor does and logs its records (one append per request here). */
  exec(request: ShardRequest): ShardResponse {
    const now = Date.now();
    const undo: Undo[] = [];
    this.lastUndo = undo;
    this.lastRollback = null;
    if (request.kind.startsWith('txn-')) {
      const applied = this.txn.handle(request as TxnRequest, now, undo);
      this.lastRollback = applied.undo;
      if (applied.records.length > 0) {
        this.wal.append(applied.records);
        for (const r of applied.records) this.records.push(r.type);
      }
      return applied.response;
    }
    const applied = this.ops.apply(request, now, undo);
    if (applied.writes.length > 0) {
      this.wal.append([{ type: WAL_KV_OPS, payload: encodeWriteOps(applied.writes) }]);
      this.records.push(WAL_KV_OPS);
    }
    return applied.response;
  }

  put(key: string, value: string): ShardResponse {
    return this.exec({ kind: 'put', key: enc(key), value: enc(value), contentType: 'text/plain', expiresAtMs: 0 });
  }

  get(key: string): string | null {
    const r = this.exec({ kind: 'get', key: enc(key) });
    return r.kind === 'value' ? dec(r.value) : null;
  }

  read(key: string, snapshotTs: number): ShardResponse {
    return this.exec({ kind: 'txn-read', key: enc(key), snapshotTs });
  }

  readValue(key: string, snapshotTs: number): string | null {
    const r = this.read(key, snapshotTs);
    if (r.kind !== 'txn-value') throw new Error(`expected txn-value, got ${JSON.stringify(r)}`);
    return r.entry === null ? null : dec(r.entry.value);
  }

  list(prefix: string, snapshotTs: number, limit = 100, after: string | null = null): ShardResponse {
    return this.exec({ kind: 'txn-list', prefix: enc(prefix), after: after === null ? null : enc(after), limit, snapshotTs });
  }

  listKeys(prefix: string, snapshotTs: number, limit = 100, after: string | null = null): { keys: string[]; more: boolean } {
    const r = this.list(prefix, snapshotTs, limit, after);
    if (r.kind !== 'txn-keys') throw new Error(`expected txn-keys, got ${JSON.stringify(r)}`);
    return { keys: r.keys.map(dec), more: r.more };
  }

  commit(txnId: string, b: Body): ShardResponse {
    return this.exec({ kind: 'txn-commit', txnId, ...body(b) });
  }

  prepare(txnId: string, b: Body): ShardResponse {
    return this.exec({ kind: 'txn-prepare', txnId, ...body(b) });
  }

  decide(txnId: string, commitTs: number | null): ShardResponse {
    return this.exec(commitTs === null ? { kind: 'txn-decide', txnId, commit: false } : { kind: 'txn-decide', txnId, commit: true, commitTs });
  }

  async close(): Promise<void> {
    await this.wal.close();
    await this.store.close();
  }
}

function body(b: Body) {
  return {
    isolation: b.isolation ?? 'serializable',
    snapshotTs: b.snapshotTs,
    reads: (b.reads ?? []).map(enc),
    prefixes: (b.prefixes ?? []).map(enc),
    writes: b.writes ?? [],
  };
}

function newShard(dir?: string, oracle?: TimestampOracle): Shard {
  if (dir === undefined) {
    dir = mkdtempSync(join(tmpdir(), 'mantis-txn-part-'));
    dirs.push(dir);
  }
  const shard = new Shard(dir, oracle ?? liveOracle());
  open.push(shard);
  return shard;
}

/**
 * These tests take snapshots from the oracle themselves (the router's TxnManager counts each one
 * live before taking it): one snapshot counts as live throughout, so plain writes are versioned.
 */
function liveOracle(): TimestampOracle {
  const oracle = new TimestampOracle(createOracle(100));
  oracle.snapshotBegun();
  return oracle;
}

async function reopen(shard: Shard): Promise<Shard> {
  open.splice(open.indexOf(shard), 1);
  await shard.close();
  return newShard(shard.dir, shard.oracle);
}

function committedTs(r: ShardResponse): number {
  if (r.kind !== 'txn-committed') throw new Error(`expected txn-committed, got ${JSON.stringify(r)}`);
  return r.commitTs;
}

/** The code of the MantisError fn throws (the actor answers it as an error). */
function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof MantisError) return error.code;
    throw error;
  }
  throw new Error('expected a MantisError');
}

const conflict = (reason: string, key: string) => ({ kind: 'txn-conflict', reason, key: enc(key) });

describe('plain writes and live snapshots', () => {
  it('keeps no versions of plain writes while no snapshot is live, and versions them while one is', () => {
    const oracle = new TimestampOracle(createOracle(100));
    const s = newShard(undefined, oracle);
    s.put('a', 'a0');
    s.put('a', 'a1');
    expect(s.txn.versions.keyCount).toBe(0);
    oracle.snapshotBegun();
    const snap = oracle.next();
    s.put('a', 'a2');
    s.put('b', 'b0');
    expect(s.txn.versions.keyCount).toBe(2);
    expect([s.readValue('a', snap), s.readValue('b', snap)]).toEqual(['a1', null]);
    // A later snapshot's first committer check sees the versioned write.
    expect(s.commit('T', { snapshotTs: snap, writes: [put('a', 'mine')] })).toEqual(conflict('write', 'a'));
    oracle.snapshotEnded();
    expect(oracle.liveSnapshots()).toBe(0);
    expect(() => oracle.snapshotEnded()).toThrow(/never counted/);
  });
});

describe('one-shard commit', () => {
  it('validates, applies at a commit ts taken in the shard, logs one COMMIT_ONE and versions the writes', () => {
    const s = newShard();
    s.put('a', 'a0');
    s.put('b', 'b0');
    const snap = s.oracle.next();
    const c = committedTs(s.commit('T1', { snapshotTs: snap, writes: [put('a', 'a1'), del('b'), put('c', 'c1')] }));
    expect(c).toBeGreaterThan(snap);
    expect(s.records.at(-1)).toBe(WAL_TXN_COMMIT_ONE);
    expect([s.get('a'), s.get('b'), s.get('c')]).toEqual(['a1', null, 'c1']);
    // Snapshots before and at the commit.
    expect([s.readValue('a', c - 1), s.readValue('b', c - 1), s.readValue('c', c - 1)]).toEqual(['a0', 'b0', null]);
    expect([s.readValue('a', c), s.readValue('b', c), s.readValue('c', c)]).toEqual(['a1', null, 'c1']);
    // The version is the LSM sequence number of the version read; it changes with every write.
    const v1 = s.read('a', c);
    const v0 = s.read('a', c - 1);
    expect(v1.kind === 'txn-value' && v0.kind === 'txn-value' && v1.version > v0.version && v0.version > 0).toBe(true);
    // A repeated commit of the same id is answered from memory, not applied again.
    expect(s.commit('T1', { snapshotTs: snap, writes: [put('a', 'again')] })).toEqual({ kind: 'txn-committed', commitTs: c });
    expect(s.get('a')).toBe('a1');
  });

  it('commits without writes without logging, and refuses cache-only writes and snapshots below the horizon', () => {
    const s = newShard();
    const n = s.records.length;
    expect(committedTs(s.commit('R', { snapshotTs: s.oracle.current() }))).toBeGreaterThan(0);
    expect(s.records.length).toBe(n);
    expect(codeOf(() => s.commit('CO', { snapshotTs: s.oracle.current(), writes: [put('co/x', 'v')] }))).toBe('INVALID_PARAMETER');
    expect(s.read('a', 50)).toMatchObject({ kind: 'error', code: 'TXN_SNAPSHOT_TOO_OLD' });
    expect(s.commit('OLD', { snapshotTs: 50, writes: [put('a', 'v')] })).toMatchObject({ kind: 'error', code: 'TXN_SNAPSHOT_TOO_OLD' });
    expect(s.get('a')).toBe(null);
  });
});

describe('conflicts', () => {
  it('write: first committer wins, except under read_committed', () => {
    const s = newShard();
    const snap = s.oracle.next();
    s.put('k', 'plain');
    expect(s.commit('T', { isolation: 'snapshot', snapshotTs: snap, writes: [put('k', 'txn')] })).toEqual(conflict('write', 'k'));
    expect(s.get('k')).toBe('plain');
    expect(committedTs(s.commit('RC', { isolation: 'read_committed', snapshotTs: snap, writes: [put('k', 'rc')] }))).toBeGreaterThan(snap);
    expect(s.get('k')).toBe('rc');
  });

  it('read: a key read was committed after the snapshot', () => {
    const s = newShard();
    const snap = s.oracle.next();
    s.put('r', 'changed');
    expect(s.commit('T', { snapshotTs: snap, reads: ['r'], writes: [put('w', '1')] })).toEqual(conflict('read', 'r'));
    expect(s.get('w')).toBe(null);
    expect(committedTs(s.commit('T2', { snapshotTs: s.oracle.current(), reads: ['r'], writes: [put('w', '1')] }))).toBeGreaterThan(snap);
  });

  it('range: a key inserted or deleted under a listed prefix after the snapshot', () => {
    const s = newShard();
    s.put('p/1', 'x');
    const snap = s.oracle.next();
    s.put('p/2', 'new');
    expect(s.commit('T', { snapshotTs: snap, prefixes: ['p/'], writes: [put('w', '1')] })).toEqual(conflict('range', 'p/2'));
    const snap2 = s.oracle.next();
    expect(s.exec({ kind: 'delete', key: enc('p/1') })).toEqual({ kind: 'deleted', existed: true });
    expect(s.commit('T2', { snapshotTs: snap2, prefixes: ['p/'], writes: [put('w', '1')] })).toEqual(conflict('range', 'p/1'));
    expect(committedTs(s.commit('T3', { snapshotTs: snap2, prefixes: ['q/'], writes: [put('w', '1')] }))).toBeGreaterThan(0);
  });

  it('locked: write, read and range intents of a prepared transaction against writers, readers and plain writes', () => {
    const s = newShard();
    s.put('held', 'h0');
    s.put('read', 'r0');
    const snap = s.oracle.next();
    expect(s.prepare('P', { snapshotTs: snap, reads: ['read'], prefixes: ['range/'], writes: [put('held', 'h1')] })).toEqual({ kind: 'txn-prepared' });
    const now = s.oracle.current();
    // Another transaction writing a key under any of P's intents.
    expect(s.commit('A', { snapshotTs: now, writes: [put('held', 'x')] })).toEqual(conflict('locked', 'held'));
    expect(s.commit('B', { snapshotTs: now, writes: [put('read', 'x')] })).toEqual(conflict('locked', 'read'));
    expect(s.commit('C', { snapshotTs: now, writes: [put('range/z', 'x')] })).toEqual(conflict('locked', 'range/z'));
    // Reading or listing what P writes.
    expect(s.commit('D', { snapshotTs: now, reads: ['held'], writes: [put('other', 'x')] })).toEqual(conflict('locked', 'held'));
    expect(s.commit('E', { snapshotTs: now, prefixes: ['he'], writes: [put('other', 'x')] })).toEqual(conflict('locked', 'held'));
    // Reading what P reads is fine (shared).
    expect(committedTs(s.commit('F', { snapshotTs: now, reads: ['read'], writes: [put('other', 'f')] }))).toBeGreaterThan(0);
    // Plain writes: refused whole, nothing applied (a batch included).
    expect(s.put('held', 'plain')).toEqual({ kind: 'txn-locked', key: enc('held'), txnId: 'P' });
    expect(s.put('read', 'plain')).toEqual({ kind: 'txn-locked', key: enc('read'), txnId: 'P' });
    expect(s.put('range/new', 'plain')).toEqual({ kind: 'txn-locked', key: enc('range/new'), txnId: 'P' });
    expect(s.exec({ kind: 'batch', ops: [put('free', 'x'), { kind: 'delete', key: enc('read') }] })).toEqual({ kind: 'txn-locked', key: enc('read'), txnId: 'P' });
    expect([s.get('held'), s.get('read'), s.get('range/new'), s.get('free')]).toEqual(['h0', 'r0', null, null]);
    // A cache-only key is no transaction's: plain writes to it go on.
    expect(s.put('co/k', 'v')).toEqual({ kind: 'done' });
    // After the abort every intent is gone.
    expect(s.decide('P', null)).toEqual({ kind: 'txn-aborted' });
    expect(s.put('held', 'plain')).toEqual({ kind: 'done' });
    expect(s.put('read', 'plain')).toEqual({ kind: 'done' });
    expect(s.put('range/new', 'plain')).toEqual({ kind: 'done' });
    expect(s.txn.intentsHeld()).toBe(0);
  });
});

describe('two-phase commit', () => {
  it('prepare → commit(C): PREPARE then COMMIT_ONE logged, reads at the prepared key wait, then see C', () => {
    const s = newShard();
    s.put('k', 'old');
    const snap = s.oracle.next();
    expect(s.prepare('T', { snapshotTs: snap, writes: [put('k', 'new'), del('gone')] })).toEqual({ kind: 'txn-prepared' });
    expect(s.records.at(-1)).toBe(WAL_TXN_PREPARE);
    // A repeated prepare is answered again, logging nothing.
    const n = s.records.length;
    expect(s.prepare('T', { snapshotTs: snap, writes: [put('k', 'new')] })).toEqual({ kind: 'txn-prepared' });
    expect(s.records.length).toBe(n);
    // Nothing applied yet; a snapshot that could see the commit must wait; older snapshots read.
    expect(s.get('k')).toBe('old');
    const later = s.oracle.next();
    expect(s.read('k', later)).toEqual({ kind: 'txn-locked', key: enc('k'), txnId: 'T' });
    expect(s.list('', later)).toEqual({ kind: 'txn-locked', key: enc('gone'), txnId: 'T' }); // the first key held
    const c = s.oracle.next();
    expect(s.decide('T', c)).toEqual({ kind: 'txn-committed', commitTs: c });
    expect(s.records.at(-1)).toBe(WAL_TXN_COMMIT_ONE);
    expect(s.get('k')).toBe('new');
    expect(s.readValue('k', later)).toBe('old'); // later < c
    expect(s.readValue('k', c)).toBe('new');
    expect(s.put('k', 'plain')).toEqual({ kind: 'done' });
    // A repeated decision (after a restart, say) applies nothing.
    expect(s.decide('T', c)).toEqual({ kind: 'txn-committed', commitTs: c });
    expect(s.get('k')).toBe('plain');
  });

  it('prepare → abort releases everything; ABORT logged only after a logged PREPARE', () => {
    const s = newShard();
    const snap = s.oracle.next();
    s.prepare('W', { snapshotTs: snap, writes: [put('k', 'v')] });
    expect(s.decide('W', null)).toEqual({ kind: 'txn-aborted' });
    expect(s.records.at(-1)).toBe(WAL_TXN_ABORT);
    expect(s.get('k')).toBe(null);
    const n = s.records.length;
    expect(s.prepare('R', { snapshotTs: snap, reads: ['k'] })).toEqual({ kind: 'txn-prepared' });
    expect(s.put('k', 'x')).toMatchObject({ kind: 'txn-locked' });
    expect(s.decide('R', null)).toEqual({ kind: 'txn-aborted' });
    expect(s.records.length).toBe(n);
    expect(s.decide('unknown', null)).toEqual({ kind: 'txn-aborted' });
    expect(s.put('k', 'x')).toEqual({ kind: 'done' });
  });

  it('a rolled-back decision (WAL failure) leaves the transaction prepared and old snapshots refused', () => {
    const s = newShard();
    s.put('k', 'old');
    const snap = s.oracle.next();
    s.prepare('T', { snapshotTs: snap, writes: [put('k', 'new')] });
    const c = s.oracle.next();
    s.decide('T', c);
    const [undo, rollback] = [s.lastUndo, s.lastRollback];
    expect(s.get('k')).toBe('new');
    // What the actor does when the batch's WAL write fails: memtable undo, then the participant's.
    s.ops.rollback(undo);
    rollback?.();
    expect(s.get('k')).toBe('old');
    expect(s.txn.preparedIds()).toEqual(['T']);
    expect(s.put('k', 'plain')).toMatchObject({ kind: 'txn-locked', txnId: 'T' });
    expect(s.read('k', snap)).toMatchObject({ kind: 'error', code: 'TXN_SNAPSHOT_TOO_OLD' });
    // The coordinator re-sends the decision: it applies now.
    expect(s.decide('T', c)).toEqual({ kind: 'txn-committed', commitTs: c });
    expect(s.get('k')).toBe('new');
  });
});

describe('snapshot listing', () => {
  it('lists the keys of the snapshot: later inserts hidden, later deletes and overwrites shown, pages by after/limit', () => {
    const s = newShard();
    for (const k of ['a/1', 'a/2', 'a/3', 'a/5']) s.put(k, 'v');
    const snap = s.oracle.next();
    s.put('a/0', 'new');
    s.put('a/4', 'new');
    s.exec({ kind: 'delete', key: enc('a/2') });
    s.exec({ kind: 'delete', key: enc('a/5') });
    s.put('a/3', 'overwritten');
    expect(s.listKeys('a/', snap)).toEqual({ keys: ['a/1', 'a/2', 'a/3', 'a/5'], more: false });
    expect(s.listKeys('a/', s.oracle.current())).toEqual({ keys: ['a/0', 'a/1', 'a/3', 'a/4'], more: false });
    expect(s.listKeys('a/', snap, 2)).toEqual({ keys: ['a/1', 'a/2'], more: true });
    expect(s.listKeys('a/', snap, 2, 'a/2')).toEqual({ keys: ['a/3', 'a/5'], more: false });
    expect(s.listKeys('a/', snap, 1, 'a/3')).toEqual({ keys: ['a/5'], more: false });
    expect(s.listKeys('b/', snap)).toEqual({ keys: [], more: false });
  });
});

describe('replay', () => {
  it('a PREPARE without a decision is in doubt after a restart, re-locked, and its commit applies then', async () => {
    let s = newShard();
    s.put('k', 'old');
    s.prepare('T', { snapshotTs: s.oracle.next(), reads: ['r'], writes: [put('k', 'new'), put('k2', 'new2')] });
    s = await reopen(s);
    expect(s.inDoubt).toEqual(['T']);
    expect(s.get('k')).toBe('old');
    expect(s.put('k2', 'plain')).toMatchObject({ kind: 'txn-locked', txnId: 'T' });
    const c = s.oracle.next();
    expect(s.decide('T', c)).toEqual({ kind: 'txn-committed', commitTs: c });
    expect([s.get('k'), s.get('k2')]).toEqual(['new', 'new2']);
    s = await reopen(s);
    expect(s.inDoubt).toEqual([]);
    expect([s.get('k'), s.get('k2')]).toEqual(['new', 'new2']);
  });

  it('PREPARE + COMMIT_ONE replays the writes once, in log order; an aborted PREPARE is not in doubt', async () => {
    let s = newShard();
    s.prepare('T', { snapshotTs: s.oracle.next(), writes: [put('k', 'txn')] });
    s.decide('T', s.oracle.next());
    s.put('k', 'after');
    s.commit('ONE', { snapshotTs: s.oracle.current(), writes: [put('one', '1')] });
    s.prepare('A', { snapshotTs: s.oracle.next(), writes: [put('aborted', 'x')] });
    s.decide('A', null);
    s = await reopen(s);
    expect(s.inDoubt).toEqual([]);
    expect([s.get('k'), s.get('one'), s.get('aborted')]).toEqual(['after', '1', null]);
    expect(s.put('aborted', 'free')).toEqual({ kind: 'done' });
    // The one-shard commit is remembered: a retried commit is answered, not applied again.
    expect(s.commit('ONE', { snapshotTs: s.oracle.current(), writes: [put('one', '2')] })).toMatchObject({ kind: 'txn-committed' });
    expect(s.get('one')).toBe('1');
    // A restarted shard refuses snapshots from before its start.
    expect(s.read('k', 101)).toMatchObject({ kind: 'error', code: 'TXN_SNAPSHOT_TOO_OLD' });
  });

  it('a flush keeps the segment of an undecided PREPARE (and drops it once decided and flushed again)', async () => {
    let s = newShard(undefined, undefined);
    s.prepare('T', { snapshotTs: s.oracle.next(), writes: [put('k', 'prepared')] });
    const prepareSegment = s.wal.currentSegment;
    const flush = async (): Promise<void> => {
      for (let i = 0; i < 50; i++) s.put(`fill/${i}`, 'x'.repeat(100));
      const segment = s.wal.rollNow();
      if (segment === null) throw new Error('no roll');
      s.store.freeze(s.wal.stats().lsn, segment);
      await s.store.settle();
    };
    await flush();
    expect(s.store.flushedLsn).toBeGreaterThan(0);
    expect(existsSync(join(s.dir, 'wal', segmentFileName(prepareSegment)))).toBe(true);
    s = await reopen(s);
    expect(s.inDoubt).toEqual(['T']);
    const c = s.oracle.next();
    s.decide('T', c);
    await flush();
    expect(existsSync(join(s.dir, 'wal', segmentFileName(prepareSegment)))).toBe(false);
    s = await reopen(s);
    expect(s.inDoubt).toEqual([]);
    expect(s.get('k')).toBe('prepared');
  });
});

describe('GC', () => {
  it('bounds the version store: versions a pinned snapshot needs are kept, then collected once it is gone', () => {
    const s = newShard();
    const pinned = s.oracle.next();
    for (let round = 0; round < 5; round++) for (let i = 0; i < 2000; i++) s.put(`k${i}`, `v${round}`);
    s.txn.gc(pinned, 1_000_000);
    expect(s.txn.versions.keyCount).toBe(2000);
    // Versions between the pinned snapshot and the latest stay (a snapshot in between may exist).
    expect(s.txn.versions.versionCount).toBe(10_000);
    expect(s.readValue('k7', pinned)).toBe(null);
    const bytes = s.txn.versions.bytes;
    expect(bytes).toBeGreaterThan(0);
    // The snapshot ends: everything goes within a few budgeted ticks.
    for (let tick = 0; tick < 5; tick++) s.txn.gc(s.oracle.current(), 500);
    expect(s.txn.versions.keyCount).toBe(0);
    expect(s.txn.versions.bytes).toBe(0);
    s.txn.publish();
  });
});
