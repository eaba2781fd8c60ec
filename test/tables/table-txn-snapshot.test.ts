// The table engine's snapshot reads and transaction plans (workers/tables/
// table-snapshot.ts) on one shard in this process, against a plain model:
// random inserts, replaces, updates and deletes, moves into segments and
// compactions run while snapshots are taken; every snapshot read later (full
// rows, point lookups, aggregates) answers exactly the model's state at that
// snapshot. Transactions plan updates and deletes at an old snapshot (their own
// earlier writes as the overlay, which later plans and reads see) and commit
// through the participant: the commit either applies exactly the planned
// change or is refused as a conflict (when a write, a move or a compaction
// touched what it changed), and the table is then checked whole against the
// model — no duplicate, no lost delete, no resurrected row.

import { describe, expect, it } from 'vitest';
import { decodeTableAnswer, encodeTableCommand, type TableAnswer, type TxnKeyWrite, type TxnTableAction, type TxnTableAnswer } from '../../shared/tables/table-protocol.js';
import type { Row } from '../../shared/tables/table-types.js';
import type { TxnWriteOp } from '../../shared/txn/txn-wire.js';
import type { Undo } from '../../workers/lsm/index.js';
import { col, insertCmd, newShard, queryCmd, tableInfo, type TShard } from '../helpers/table-shard-harness.js';

type Model = Map<number, number>;

const info = tableInfo('acct', [col('id', 'int64', false), col('v', 'int64')], ['id']);

function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x1_0000_0000;
  };
}

function plan(s: TShard, snapshotTs: number, overlay: readonly TxnKeyWrite[], action: TxnTableAction): TxnTableAnswer {
  const undo: Undo[] = [];
  const applied = s.tables.handle({ kind: 'tbl', write: false, body: encodeTableCommand({ op: 'txn', table: info.name, tableId: info.id, snapshotTs, overlay, action }) }, Date.now(), undo);
  expect(undo).toEqual([]);
  if (applied.response.kind !== 'tbl-result') throw new Error(`txn plan answered ${applied.response.kind}`);
  const answer: TableAnswer = decodeTableAnswer(applied.response.body);
  if (!answer.ok || answer.op !== 'txn') throw new Error(`txn plan refused: ${JSON.stringify(answer)}`);
  return answer;
}

function rowsAt(s: TShard, snapshotTs: number, overlay: readonly TxnKeyWrite[] = []): Model {
  const answer = plan(s, snapshotTs, overlay, { kind: 'query', query: queryCmd(info, { columns: [0, 1], orderBy: [], limit: 0 }) });
  if (!answer.result.ok || answer.result.op !== 'query') throw new Error('not a query answer');
  const out: Model = new Map();
  for (const row of answer.result.rows) {
    expect(out.has(row[0] as number), `row ${String(row[0])} served twice`).toBe(false);
    out.set(row[0] as number, row[1] as number);
  }
  return out;
}

function sorted(m: Model): [number, number][] {
  return [...m].sort((a, b) => a[0] - b[0]);
}

function current(s: TShard): Model {
  const answer = s.ok(queryCmd(info, { columns: [0, 1], limit: 0 }));
  const out: Model = new Map();
  for (const row of answer.rows) {
    expect(out.has(row[0] as number), `row ${String(row[0])} served twice`).toBe(false);
    out.set(row[0] as number, row[1] as number);
  }
  return out;
}

let txnIds = 0;

/** Commits planned writes through the participant (one-shard commit): committed or refused. */
function commit(s: TShard, snapshotTs: number, writes: readonly TxnKeyWrite[], validate: readonly Uint8Array[]): boolean {
  const ops: TxnWriteOp[] = writes.map((w) =>
    w.value === null ? { kind: 'delete', key: w.key } : { kind: 'put', key: w.key, contentType: 'application/x-mantis-table', expiresAtMs: w.expiresAtMs, value: w.value },
  );
  const undo: Undo[] = [];
  const applied = s.txn.handle({ kind: 'txn-commit', txnId: `t${++txnIds}`, isolation: 'snapshot', snapshotTs, reads: validate, prefixes: [], writes: ops }, Date.now(), undo);
  if (applied.response.kind === 'txn-committed') return true;
  expect(applied.response.kind).toBe('txn-conflict');
  return false;
}

/** Later writes of one key replace earlier ones (as the router's buffer does). */
function merge(into: TxnKeyWrite[], more: readonly TxnKeyWrite[]): TxnKeyWrite[] {
  const byKey = new Map<string, TxnKeyWrite>();
  for (const w of [...into, ...more]) byKey.set(Buffer.from(w.key).toString('latin1'), { key: w.key, value: w.value, expiresAtMs: w.expiresAtMs });
  return [...byKey.values()];
}

describe('table snapshot reads and transaction plans against a model', () => {
  it.each([1, 2, 3, 4])('seed %i', async (seed) => {
    const random = rng(seed * 7919);
    const s = newShard(undefined, true);
    s.ok({ op: 'catalog-put', info });
    const model: Model = new Map();
    const snapshots: { ts: number; state: Model }[] = [];
    let nextId = 0;
    const pick = (): number[] => {
      const ids = [...model.keys()];
      const out = new Set<number>();
      const n = 1 + Math.floor(random() * 6);
      for (let i = 0; i < n && ids.length > 0; i++) out.add(ids[Math.floor(random() * ids.length)]);
      return [...out];
    };
    let commits = 0;
    let compactions = 0;
    let inflights = 0;
    let refusals = 0;
    for (let step = 0; step < 220; step++) {
      const r = random();
      if (r < 0.25) {
        const rows: Row[] = [];
        const n = 1 + Math.floor(random() * 40);
        for (let i = 0; i < n; i++) rows.push([nextId++, Math.floor(random() * 100)]);
        // sometimes replace existing rows too
        const replace = random() < 0.3 ? pick() : [];
        for (const id of replace) rows.push([id, 1000 + Math.floor(random() * 100)]);
        s.ok(insertCmd(info, rows, replace.length > 0 ? 'replace' : 'error'));
        for (const [id, v] of rows) model.set(id as number, v as number);
      } else if (r < 0.35) {
        const ids = pick();
        const v = Math.floor(random() * 100);
        s.ok({ op: 'update', table: info.name, tableId: info.id, where: { col: 0, op: 'in', value: ids }, set: [[1, v]], resume: null, upsertKey: null, ttlMs: 0 });
        for (const id of ids) model.set(id, v);
      } else if (r < 0.45) {
        const ids = pick();
        s.ok({ op: 'delete', table: info.name, tableId: info.id, where: { col: 0, op: 'in', value: ids }, resume: null });
        for (const id of ids) model.delete(id);
      } else if (r < 0.55) {
        s.ok({ op: 'move', table: info.name, tableId: info.id });
      } else if (r < 0.62) {
        if (await s.backgroundCompaction(info.name)) compactions++;
      } else if (r < 0.72) {
        snapshots.push({ ts: s.oracle.next(), state: new Map(model) });
      } else if (r < 0.86 && snapshots.length > 0) {
        // a snapshot read: every row, a point lookup, an aggregate
        const snap = snapshots[Math.floor(random() * snapshots.length)];
        expect(sorted(rowsAt(s, snap.ts))).toEqual(sorted(snap.state));
        const probe = Math.floor(random() * Math.max(1, nextId));
        const got = plan(s, snap.ts, [], { kind: 'get', keys: [[probe]], columns: [] });
        if (!got.result.ok || got.result.op !== 'get') throw new Error('not a get answer');
        expect(got.result.rows[0]).toEqual(snap.state.has(probe) ? [probe, snap.state.get(probe)] : null);
        const agg = plan(s, snap.ts, [], { kind: 'query', query: queryCmd(info, { aggregates: [{ fn: 'count', col: null, as: 'n' }] }) });
        if (!agg.result.ok || agg.result.op !== 'query') throw new Error('not a query answer');
        expect(Number(agg.result.groups[0]?.states[0] ?? 0)).toBe(snap.state.size);
      } else {
        // A transaction: an update and a delete (the second planned over the first's writes), at an
        // old snapshot, or at a fresh one with a move, a compaction or other rows' inserts between
        // its plans and its commit.
        const fresh = snapshots.length === 0 || random() < 0.6;
        const snap = fresh ? { ts: s.oracle.next(), state: new Map(model) } : snapshots[Math.floor(random() * snapshots.length)];
        const ids = [...snap.state.keys()];
        if (ids.length < 2) continue;
        const upd = [ids[Math.floor(random() * ids.length)], ids[Math.floor(random() * ids.length)]];
        const del = [ids[Math.floor(random() * ids.length)]];
        const v = 5000 + step;
        const a = plan(s, snap.ts, [], { kind: 'update', where: { col: 0, op: 'in', value: upd }, set: [[1, v]], ttlMs: 0 });
        let writes = merge([], a.writes);
        const b = plan(s, snap.ts, writes, { kind: 'delete', where: { col: 0, op: 'in', value: del } });
        writes = merge(writes, b.writes);
        const expected = new Map(snap.state);
        for (const id of upd) expected.set(id, v);
        for (const id of del) expected.delete(id);
        // its own view: the snapshot with its writes
        expect(sorted(rowsAt(s, snap.ts, writes))).toEqual(sorted(expected));
        if (fresh) {
          const between = random();
          if (between < 0.35) s.ok({ op: 'move', table: info.name, tableId: info.id });
          else if (between < 0.7) {
            if (await s.backgroundCompaction(info.name)) compactions++;
          } else if (between < 0.85) {
            const rows: Row[] = [[nextId++, 1], [nextId++, 2]];
            s.ok(insertCmd(info, rows));
            for (const [id, value] of rows) model.set(id as number, value as number);
          }
        }
        // Sometimes a compaction or a background move is in flight across the commit (started
        // before, committed after): it must carry the commit's delete marks and changed rows.
        const inflight = random();
        const t = s.tables.data.get(info.id);
        if (t === undefined) throw new Error('no table data');
        const started = inflight < 0.2 ? s.tables.mover.startCompaction(t, Date.now()) : inflight < 0.4 ? s.tables.mover.startMove(t, Date.now()) : false;
        const before = current(s);
        if (commit(s, snap.ts, writes, [...a.validate, ...b.validate])) {
          commits++;
          for (const id of upd) if (!del.includes(id)) model.set(id, v);
          for (const id of del) model.delete(id);
        } else {
          refusals++;
          expect(sorted(current(s))).toEqual(sorted(before));
        }
        if (started) inflights++;
        await s.settleMover();
        expect(sorted(current(s))).toEqual(sorted(model));
      }
      if (step % 20 === 19) expect(sorted(current(s))).toEqual(sorted(model));
    }
    expect(sorted(current(s))).toEqual(sorted(model));
    s.ok({ op: 'move', table: info.name, tableId: info.id });
    await s.backgroundCompaction(info.name);
    expect(sorted(current(s))).toEqual(sorted(model));
    for (const snap of snapshots) expect(sorted(rowsAt(s, snap.ts))).toEqual(sorted(snap.state));
    expect(commits).toBeGreaterThan(0);
    expect(refusals).toBeGreaterThan(0);
    expect(compactions + inflights).toBeGreaterThan(0);
  });
});
