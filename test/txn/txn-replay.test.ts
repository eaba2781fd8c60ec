// workers/txn/txn-replay.ts: the replay fold over logs of KV and txn records
// (commit, abort, in doubt, re-sent decisions, a crash between prepare and
// decision, interleavings, records the tables already cover), its
// diagnostics, and the segment retirement rule — checked against a simulated
// shard that flushes and deletes segments at random points: a restart from
// what is left must rebuild exactly the state the whole log gives.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameError } from '../../shared/byte-io.js';
import { encodeTxnWalRecord, type TxnWalRecord } from '../../shared/txn/txn-wal.js';
import type { TxnWriteOp } from '../../shared/txn/txn-wire.js';
import { encodeWriteOps, WAL_KV_OPS } from '../../shared/wire.js';
import { foldTxnReplay, oldestSegmentToKeep, TxnReplay, type PreparedHold, type ReplayedRecord, type ReplayStep } from '../../workers/txn/txn-replay.js';

/** Keys are binary strings (one char a byte), as the version store's. */
const bytes = (s: string, encoding: BufferEncoding): Uint8Array => new Uint8Array(Buffer.from(s, encoding));
const put = (k: string, v: string): TxnWriteOp => ({ kind: 'put', key: bytes(k, 'latin1'), contentType: 'text/plain', expiresAtMs: 0, value: bytes(v, 'utf8') });
const del = (k: string): TxnWriteOp => ({ kind: 'delete', key: bytes(k, 'latin1') });

/** A shard's WAL as a list of records: lsn from 1, segments from 1, roll() starts the next. */
class Log {
  readonly records: ReplayedRecord[] = [];
  segment = 1;
  get lsn(): number {
    return this.records.length;
  }
  kv(...ops: TxnWriteOp[]): number {
    return this.push(WAL_KV_OPS, encodeWriteOps(ops));
  }
  txn(record: TxnWalRecord): number {
    const { type, payload } = encodeTxnWalRecord(record);
    return this.push(type, payload);
  }
  prepare(txnId: string, ...writes: TxnWriteOp[]): number {
    return this.txn({ kind: 'prepare', txnId, writes });
  }
  commit(txnId: string, commitTs: number): number {
    return this.txn({ kind: 'commit', txnId, commitTs });
  }
  abort(txnId: string): number {
    return this.txn({ kind: 'abort', txnId });
  }
  commitOne(txnId: string, commitTs: number, ...writes: TxnWriteOp[]): number {
    return this.txn({ kind: 'commit-one', txnId, commitTs, writes });
  }
  roll(): number {
    return ++this.segment;
  }
  private push(type: number, payload: Uint8Array): number {
    this.records.push({ type, lsn: this.records.length + 1, segment: this.segment, payload });
    return this.records.length;
  }
}

/** Applies steps to a key → value model ('' never stored; deleted keys removed). */
function apply(steps: readonly ReplayStep[], into = new Map<string, string>()): Map<string, string> {
  for (const step of steps) {
    for (const op of step.kind === 'kv' ? step.ops : step.writes) {
      const k = Buffer.from(op.key).toString('latin1');
      if (op.kind === 'put') into.set(k, Buffer.from(op.value).toString());
      else into.delete(k);
    }
  }
  return into;
}

const summary = (steps: readonly ReplayStep[]) => steps.map((s) => (s.kind === 'kv' ? `kv@${s.lsn}` : `${s.txnId}@${s.lsn}:${s.commitTs}`));

describe('replay of txn records', () => {
  it('applies a committed transaction at its COMMIT, after the KV records before it', () => {
    const log = new Log();
    log.prepare('T', put('a', '1'), del('b'));
    log.kv(put('b', 'kv'), put('a', 'kv'));
    log.commit('T', 10);
    const out = foldTxnReplay(log.records, 0);
    expect(summary(out.steps)).toEqual(['kv@2', 'T@3:10']);
    expect(apply(out.steps)).toEqual(new Map([['a', '1']]));
    expect(out.inDoubt).toEqual([]);
    expect(out.decided.get('T')).toEqual({ outcome: 'commit', commitTs: 10, lsn: 3 });
    expect(out.diagnostics).toEqual([]);
  });

  it('drops an aborted transaction', () => {
    const log = new Log();
    log.prepare('T', put('a', '1'));
    log.abort('T');
    const out = foldTxnReplay(log.records, 0);
    expect(out.steps).toEqual([]);
    expect(out.decided.get('T')).toEqual({ outcome: 'abort', lsn: 2 });
    expect(out.inDoubt).toEqual([]);
    expect(out.diagnostics).toEqual([]);
  });

  it('reports a prepared transaction with no decision as in doubt, with its keys as binary strings', () => {
    const log = new Log();
    log.prepare('A', put('a', '1'));
    log.roll();
    log.prepare('B', put('\xff\x00', '2'), del('c'));
    log.commit('A', 5);
    const out = foldTxnReplay(log.records, 0);
    expect(summary(out.steps)).toEqual(['A@3:5']);
    expect(out.inDoubt.map(({ txnId, lsn, segment, keys }) => ({ txnId, lsn, segment, keys }))).toEqual([{ txnId: 'B', lsn: 2, segment: 2, keys: ['\xff\x00', 'c'] }]);
    expect(out.inDoubt[0].writes).toEqual([put('\xff\x00', '2'), del('c')]);
    expect(out.decided.has('B')).toBe(false);
  });

  it('crash between prepare and decision: recovery logs the coordinator answer and the writes apply once', () => {
    for (const answer of ['commit', 'abort'] as const) {
      const log = new Log();
      log.kv(put('x', '0'));
      log.prepare('T', put('x', 'T'));
      log.kv(put('y', '0'));
      const beforeCrash = foldTxnReplay(log.records, 0);
      expect(beforeCrash.inDoubt.map((t) => t.txnId)).toEqual(['T']);
      expect(apply(beforeCrash.steps)).toEqual(new Map([['x', '0'], ['y', '0']]));
      // After the restart the shard asks the coordinator and logs its answer
      // (presumed abort: no commit decision → abort), in a fresh segment.
      log.roll();
      if (answer === 'commit') log.commit('T', 7);
      else log.abort('T');
      const afterRecovery = foldTxnReplay(log.records, 0);
      expect(afterRecovery.inDoubt).toEqual([]);
      expect(afterRecovery.diagnostics).toEqual([]);
      expect(apply(afterRecovery.steps)).toEqual(new Map([['x', answer === 'commit' ? 'T' : '0'], ['y', '0']]));
    }
  });

  it('tolerates a re-sent decision and applies nothing twice', () => {
    const log = new Log();
    log.prepare('T', put('a', '1'));
    log.commit('T', 10);
    log.kv(put('a', 'later'));
    log.commit('T', 10);
    log.prepare('U', put('b', '1'));
    log.abort('U');
    log.abort('U');
    const out = foldTxnReplay(log.records, 0);
    expect(summary(out.steps)).toEqual(['T@2:10', 'kv@3']);
    expect(apply(out.steps)).toEqual(new Map([['a', 'later']]));
    expect(out.diagnostics.map((d) => [d.severity, d.kind, d.txnId, d.lsn])).toEqual([
      ['tolerated', 'repeated-commit', 'T', 4],
      ['tolerated', 'repeated-abort', 'U', 7],
    ]);
  });

  it('orders the writes of interleaved transactions and KV records by their commit records', () => {
    const log = new Log();
    log.prepare('A', put('k', 'A'), put('a', 'A'));
    log.prepare('B', put('b', 'B'));
    log.kv(put('k', 'kv1'));
    log.commitOne('C', 4, put('k', 'C'), del('a'));
    log.roll();
    log.commit('B', 6); // commit timestamps need not rise across transactions under 2PC
    log.commit('A', 5);
    log.prepare('D', put('d', 'D'));
    log.kv(del('b'));
    log.prepare('E', put('e', 'E'));
    log.abort('D');
    const out = foldTxnReplay(log.records, 0);
    expect(summary(out.steps)).toEqual(['kv@3', 'C@4:4', 'B@5:6', 'A@6:5', 'kv@8']);
    expect(apply(out.steps)).toEqual(
      new Map([
        ['k', 'A'],
        ['a', 'A'],
      ]),
    );
    expect(out.inDoubt.map((t) => [t.txnId, t.segment])).toEqual([['E', 2]]);
    expect([...out.decided.keys()]).toEqual(['C', 'B', 'A', 'D']);
    expect(out.diagnostics).toEqual([]);
  });

  it('applies nothing the tables cover, but still applies a prepare below flushedLsn committed above it', () => {
    const log = new Log();
    log.kv(put('a', 'old'));
    log.prepare('T', put('t', 'T'));
    log.prepare('U', put('u', 'U'));
    log.commit('U', 3);
    log.commitOne('V', 4, put('v', 'V'));
    const flushedLsn = log.lsn; // 5
    log.commit('T', 6);
    log.kv(put('b', 'new'));
    const out = foldTxnReplay(log.records, flushedLsn);
    expect(summary(out.steps)).toEqual(['T@6:6', 'kv@7']);
    expect([...out.decided.keys()]).toEqual(['U', 'V', 'T']);
    expect(out.diagnostics).toEqual([]);
  });

  it('tolerates a decision whose prepare a flush retired, and calls one above flushedLsn an error', () => {
    const log = new Log();
    log.commit('gone', 3); // lsn 1: PREPARE was in a deleted segment, writes in the tables
    log.abort('gone-too');
    log.commit('lost', 9); // lsn 3, above flushedLsn 2
    const out = foldTxnReplay(log.records, 2);
    expect(out.steps).toEqual([]);
    expect(out.diagnostics.map((d) => [d.severity, d.kind, d.txnId])).toEqual([
      ['tolerated', 'commit-without-prepare', 'gone'],
      ['tolerated', 'abort-without-prepare', 'gone-too'],
      ['error', 'commit-without-prepare', 'lost'],
    ]);
    expect(out.decided.get('lost')).toEqual({ outcome: 'commit', commitTs: 9, lsn: 3 });
  });

  it('reports contradictions as errors and keeps the first decision', () => {
    const log = new Log();
    log.prepare('A', put('a', '1'));
    log.abort('A');
    log.commit('A', 3); // commit after abort
    log.prepare('B', put('b', '1'));
    log.commit('B', 5);
    log.abort('B'); // abort after commit
    log.commit('B', 6); // another ts
    log.prepare('B', put('b', '2')); // prepare after decision
    log.prepare('C', put('c', '1'));
    log.prepare('C', put('c', '1')); // same writes: tolerated
    log.prepare('C', put('c', '2')); // other writes
    log.commitOne('C', 12, put('c', '3')); // id in use
    log.commitOne('D', 13, put('d', '1'));
    log.commitOne('D', 13, put('d', '1'));
    log.commit('C', 15);
    const out = foldTxnReplay(log.records, 0);
    expect(out.diagnostics.map((d) => [d.severity, d.kind, d.txnId, d.lsn])).toEqual([
      ['error', 'commit-after-abort', 'A', 3],
      ['error', 'abort-after-commit', 'B', 6],
      ['error', 'conflicting-commit', 'B', 7],
      ['error', 'prepare-after-decision', 'B', 8],
      ['tolerated', 'repeated-prepare', 'C', 10],
      ['error', 'conflicting-prepare', 'C', 11],
      ['error', 'reused-txn-id', 'C', 12],
      ['error', 'reused-txn-id', 'D', 14],
    ]);
    expect(summary(out.steps)).toEqual(['B@5:5', 'D@13:13', 'C@15:15']);
    expect(apply(out.steps)).toEqual(new Map([['b', '1'], ['d', '1'], ['c', '1']]));
    expect(out.decided.get('A')?.outcome).toBe('abort');
    expect(out.decided.get('B')).toEqual({ outcome: 'commit', commitTs: 5, lsn: 5 });
  });

  it('throws on a payload that does not parse, an unknown record type and a non-increasing lsn', () => {
    const log = new Log();
    log.prepare('T', put('a', '1'));
    const good = log.records[0];
    expect(() => foldTxnReplay([{ ...good, payload: good.payload.subarray(0, good.payload.length - 1) }], 0)).toThrow(/lsn 1: frame truncated/);
    expect(() => foldTxnReplay([{ ...good, payload: Buffer.concat([good.payload, Buffer.from([0])]) }], 0)).toThrow(FrameError);
    expect(() => foldTxnReplay([{ type: WAL_KV_OPS, lsn: 1, segment: 1, payload: Buffer.from([1, 0, 0]) }], 0)).toThrow(FrameError);
    expect(() => foldTxnReplay([{ ...good, type: 2 }], 0)).toThrow(/unknown WAL record type 2/);
    expect(() => foldTxnReplay([good, good], 0)).toThrow(RangeError);
    expect(() => new TxnReplay(-1)).toThrow(RangeError);
  });

  it('keeps its own copy of prepared writes (replayWal payloads are only valid during the call)', () => {
    const log = new Log();
    log.prepare('T', put('a', 'value'));
    log.commit('T', 2);
    const replay = new TxnReplay(0);
    const payload = Buffer.from(log.records[0].payload);
    expect(replay.record({ ...log.records[0], payload })).toBeNull();
    payload.fill(0);
    const step = replay.record(log.records[1]);
    expect(step).toMatchObject({ kind: 'txn', txnId: 'T', writes: [put('a', 'value')] });
  });
});

describe('WAL segment retirement', () => {
  it('keeps the oldest segment holding a PREPARE not decided by the flush', () => {
    expect(oldestSegmentToKeep(7, 100, [])).toBe(7);
    expect(oldestSegmentToKeep(7, 100, [{ segment: 3, decisionLsn: null }, { segment: 5, decisionLsn: null }])).toBe(3);
    expect(oldestSegmentToKeep(7, 100, [{ segment: 3, decisionLsn: 100 }, { segment: 5, decisionLsn: null }])).toBe(5);
    // Decided after the roll: its writes are in the new memtable, its PREPARE still needed.
    expect(oldestSegmentToKeep(7, 100, [{ segment: 3, decisionLsn: 101 }])).toBe(3);
    // A prepare in the current segment never lowers the bound.
    expect(oldestSegmentToKeep(7, 100, [{ segment: 7, decisionLsn: null }])).toBe(7);
  });

  it('deleting only what the rule allows leaves a log that restarts to the same state (simulated shard)', () => {
    type Op =
      | { t: 'kv'; k: number; del: boolean }
      | { t: 'prepare'; ks: number[] }
      | { t: 'decide'; i: number; commit: boolean }
      | { t: 'one'; ks: number[] }
      | { t: 'roll' }
      | { t: 'flush' };
    const ks = fc.uniqueArray(fc.nat({ max: 5 }), { minLength: 1, maxLength: 3 });
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ t: fc.constant('kv' as const), k: fc.nat({ max: 5 }), del: fc.boolean() }),
      fc.record({ t: fc.constant('prepare' as const), ks }),
      fc.record({ t: fc.constant('decide' as const), i: fc.nat(), commit: fc.boolean() }),
      fc.record({ t: fc.constant('one' as const), ks }),
      fc.constant({ t: 'roll' as const }),
      fc.constant({ t: 'flush' as const }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), fc.boolean(), (ops, crashRecovery) => {
        const log = new Log();
        let ts = 0;
        let txns = 0;
        const held = new Set<string>(); // keys under intents
        const pending: string[] = []; // prepared, undecided, in prepare order
        const holds = new Map<string, { segment: number; decisionLsn: number | null }>();
        let keepFrom = 1; // segments below are deleted
        let flushedLsn = 0;
        const decide = (txnId: string, commit: boolean) => {
          const lsn = commit ? log.commit(txnId, ++ts) : log.abort(txnId);
          const hold = holds.get(txnId);
          if (hold) hold.decisionLsn = lsn;
          pending.splice(pending.indexOf(txnId), 1);
        };
        const writesFor = (keys: number[], tag: string) => keys.map((k) => put(`k${k}`, tag));
        for (const o of ops) {
          switch (o.t) {
            case 'kv':
              if (!held.has(`k${o.k}`)) log.kv(o.del ? del(`k${o.k}`) : put(`k${o.k}`, `kv${log.lsn + 1}`));
              break;
            case 'prepare': {
              if (o.ks.some((k) => held.has(`k${k}`))) break;
              const txnId = `t${++txns}`;
              log.prepare(txnId, ...writesFor(o.ks, txnId));
              for (const k of o.ks) held.add(`k${k}`);
              holds.set(txnId, { segment: log.segment, decisionLsn: null });
              pending.push(txnId);
              break;
            }
            case 'decide': {
              if (pending.length === 0) break;
              const txnId = pending[o.i % pending.length];
              const record = log.records.find((r) => r.type !== WAL_KV_OPS && foldTxnReplay([r], 0).inDoubt[0]?.txnId === txnId);
              for (const key of foldTxnReplay([record as ReplayedRecord], 0).inDoubt[0].keys) held.delete(key);
              decide(txnId, o.commit);
              break;
            }
            case 'one':
              if (o.ks.some((k) => held.has(`k${k}`))) break;
              log.commitOne(`t${++txns}`, ++ts, ...writesFor(o.ks, `one${txns}`));
              break;
            case 'roll':
              log.roll();
              break;
            case 'flush': {
              // Roll, note what the tables cover, then (the table durable) delete
              // segments; decisions may land in between, after the roll.
              const covered = log.lsn;
              const rollSegment = log.roll();
              if (pending.length > 0 && covered % 2 === 0) decide(pending[0], covered % 4 === 0);
              const keep = oldestSegmentToKeep(rollSegment, covered, holds.values() as Iterable<PreparedHold>);
              expect(keep).toBeGreaterThanOrEqual(keepFrom);
              keepFrom = keep;
              flushedLsn = covered;
              for (const [txnId, h] of holds) if (h.decisionLsn !== null && h.decisionLsn <= covered) holds.delete(txnId);
              break;
            }
          }
        }
        if (crashRecovery) {
          // A restart: in-doubt transactions are resolved (presumed abort) in a fresh segment.
          log.roll();
          for (const txnId of [...pending]) decide(txnId, false);
        }
        const whole = foldTxnReplay(log.records, 0);
        const tables = apply(foldTxnReplay(log.records.filter((r) => r.lsn <= flushedLsn), 0).steps);
        const kept = log.records.filter((r) => r.segment >= keepFrom);
        const restarted = foldTxnReplay(kept, flushedLsn);
        expect(restarted.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
        expect(whole.diagnostics).toEqual([]);
        expect(apply(restarted.steps, tables)).toEqual(apply(whole.steps));
        expect(restarted.inDoubt.map((t) => t.txnId)).toEqual(whole.inDoubt.map((t) => t.txnId));
        expect(whole.inDoubt.map((t) => t.txnId)).toEqual(pending);
      }),
      { numRuns: 300 },
    );
  });

  it('deleting up to the roll regardless of prepares loses a commit (why the rule exists)', () => {
    const log = new Log();
    log.prepare('T', put('a', 'T'));
    const covered = log.lsn;
    const roll = log.roll();
    log.commit('T', 2);
    const naive = foldTxnReplay(
      log.records.filter((r) => r.segment >= roll),
      covered,
    );
    expect(naive.diagnostics.map((d) => [d.severity, d.kind])).toEqual([['error', 'commit-without-prepare']]);
    expect(naive.steps).toEqual([]);
    const kept = foldTxnReplay(
      log.records.filter((r) => r.segment >= oldestSegmentToKeep(roll, covered, [{ segment: 1, decisionLsn: log.lsn }])),
      covered,
    );
    expect(apply(kept.steps)).toEqual(new Map([['a', 'T']]));
  });
});
