// Table secondary indexes on a real LsmStore (workers/tables/table-index.ts):
// entries kept by indexEntryWrites through inserts, updates, deletes and TTLs;
// index-vs-scan equivalence (random rows with NULLs, NaN, -0, astral strings,
// bigints; random predicate trees): the rows an index plan names, filtered,
// are exactly the rows a scan finds, for the planner's choice and for every
// index forced by hint; index order serves ORDER BY; the backfill of a new
// index over segments and delta while the mover moves rows and writes go on;
// drops. A plain row model and a 3-valued reference evaluator are the truth.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MantisError } from '../../shared/errors.js';
import { cellsEqual, compareOrdered } from '../../shared/tables/cells.js';
import { encodePk, indexPrefix, rowSlot } from '../../shared/tables/table-keys.js';
import type { OrderBy, Predicate, Row, TableInfo } from '../../shared/tables/table-types.js';
import type { DeleteOp, PutOp } from '../../shared/wire.js';
import { LsmStore, runLsmTask, tuningFromBudget } from '../../workers/lsm/index.js';
import { keyToBinary } from '../../workers/store/memtable.js';
import { prefixEnd } from '../../workers/store/sorted-keys.js';
import {
  buildStateOf,
  chooseIndex,
  dropIndexStep,
  indexCatalogWrites,
  IndexBuilds,
  indexEntryWrites,
  lookupKeys,
  lookupKeysCapped,
  indexRows,
  scanIndex,
  type BackfillRows,
  type IndexPlan,
} from '../../workers/tables/table-index.js';
import { A, B, evalP, F, G, ID, idx, randomPredicate, randomRow, rng, S, T, tableInfo } from './table-index-gen.js';

const dirs: string[] = [];
const stores: LsmStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function newStore(): LsmStore {
  const dir = mkdtempSync(join(tmpdir(), 'mantis-tblindex-'));
  dirs.push(dir);
  const store = LsmStore.open({
    dir: join(dir, 'sst'),
    tuning: { ...tuningFromBudget(1 << 24), memtableBytes: 64 << 20 },
    runTask: (task) => Promise.resolve(runLsmTask(task)),
    log: () => undefined,
    onFlushed: () => undefined,
  });
  stores.push(store);
  return store;
}

function apply(store: LsmStore, writes: (PutOp | DeleteOp)[]): void {
  for (const w of writes) {
    if (w.kind === 'put') store.put(w.key, w.value, w.contentType, w.expiresAtMs);
    else store.delete(w.key);
  }
}

// ── a table: rows in a model, index entries in the store ────────────────────

type Stored = { row: Row; expiresAtMs: number };

class Table {
  readonly rows = new Map<number, Stored>();
  constructor(
    readonly store: LsmStore,
    public info: TableInfo,
  ) {}

  pk(id: number): Uint8Array {
    return encodePk(this.info, [id]);
  }

  slot(id: number): number {
    return rowSlot(this.info, [id]);
  }

  put(row: Row, expiresAtMs = 0): void {
    const id = row[ID] as number;
    const old = this.rows.get(id) ?? null;
    apply(this.store, indexEntryWrites(this.info, old?.row ?? null, row, this.pk(id), this.slot(id), expiresAtMs, old?.expiresAtMs ?? 0));
    this.rows.set(id, { row, expiresAtMs });
  }

  remove(id: number): void {
    const old = this.rows.get(id);
    if (old === undefined) return;
    apply(this.store, indexEntryWrites(this.info, old.row, null, this.pk(id), this.slot(id), 0, old.expiresAtMs));
    this.rows.delete(id);
  }

  live(nowMs: number): Row[] {
    return [...this.rows.values()].filter((s) => s.expiresAtMs === 0 || s.expiresAtMs > nowMs).map((s) => s.row);
  }

  byPk(pk: Uint8Array, nowMs: number): Row | null {
    const id = Number(new DataView(pk.buffer, pk.byteOffset + 1, 8).getBigUint64(0) ^ 0x8000000000000000n);
    const s = this.rows.get(id);
    if (s === undefined || (s.expiresAtMs !== 0 && s.expiresAtMs <= nowMs)) return null;
    return s.row;
  }
}

const ids = (rows: Row[]): number[] => rows.map((r) => r[ID] as number).sort((x, y) => x - y);

function scanAnswer(t: Table, where: Predicate | null, nowMs: number): number[] {
  return ids(t.live(nowMs).filter((row) => where === null || evalP(where, row) === true));
}

function indexAnswer(t: Table, plan: IndexPlan, where: Predicate | null, nowMs: number): { ids: number[]; rows: Row[] } {
  const rows: Row[] = [];
  const seen = new Set<number>();
  for (const { pk, slot } of lookupKeys(t.store, plan, nowMs)) {
    const row = t.byPk(pk, nowMs);
    // (plain checks: expect() per entry would dominate the run time)
    if (row === null) throw new Error('an index entry outlived its row');
    const id = row[ID] as number;
    if (slot !== t.slot(id)) throw new Error(`entry of row ${id} carries slot ${slot}`);
    if (seen.has(id)) throw new Error(`row ${id} has two entries in one index`);
    seen.add(id);
    if (where === null || evalP(where, row as Row) === true) rows.push(row as Row);
  }
  return { ids: ids(rows), rows };
}

function checkEquivalence(t: Table, where: Predicate | null, nowMs: number, label: string): number {
  const expected = scanAnswer(t, where, nowMs);
  expect(chooseIndex(t.info, where, '$scan')).toBeNull();
  let planned = 0;
  const chosen = chooseIndex(t.info, where, null);
  if (chosen !== null) {
    planned++;
    expect(indexAnswer(t, chosen, where, nowMs).ids, `${label} via ${chosen.index.name}`).toEqual(expected);
  }
  for (const def of t.info.indexes) {
    const forced = chooseIndex(t.info, where, def.name);
    if (def.type === 'bloom') {
      expect(forced).toBeNull();
      continue;
    }
    expect(forced).not.toBeNull();
    expect(indexAnswer(t, forced as IndexPlan, where, nowMs).ids, `${label} forced ${def.name}`).toEqual(expected);
  }
  return planned;
}

function fill(t: Table, r: () => number, n: number): void {
  for (let i = 0; i < n; i++) t.put(randomRow(r, i));
}

// ── tests ───────────────────────────────────────────────────────────────────

describe('table index planner', () => {
  const info = tableInfo();

  it('picks btree for =, IN, ranges and starts_with, hash for equality on all its columns, nothing for the rest', () => {
    expect(chooseIndex(info, { col: A, op: '=', value: 3 }, null)?.index.name).toBe('a_bt');
    expect(chooseIndex(info, { col: A, op: '>', value: 3 }, null)?.index.name).toBe('a_bt');
    expect(chooseIndex(info, { col: S, op: 'starts_with', value: 'ab' }, null)?.index.name).toBe('s_a_bt');
    const both = chooseIndex(info, { and: [{ col: S, op: '=', value: 'a' }, { col: A, op: '<', value: 0 }] }, null);
    expect(both?.index.name).toBe('s_a_bt');
    expect(both?.pointColumns).toBe(1);
    expect(both?.rangeColumn).toBe(true);
    expect(chooseIndex(info, { col: G, op: 'in', value: ['red', 'x'] }, null)?.index.name).toBe('g_hash');
    expect(chooseIndex(info, { col: G, op: '>', value: 'red' }, null)).toBeNull();
    // a_b_hash needs b too; a_bt serves a alone.
    expect(chooseIndex(info, { and: [{ col: A, op: '=', value: 1 }, { col: B, op: '=', value: true }] }, null)?.index.name).toBe('a_b_hash');
    expect(chooseIndex(info, { col: A, op: '!=', value: 1 }, null)).toBeNull();
    expect(chooseIndex(info, { or: [{ col: A, op: '=', value: 1 }, { col: A, op: '=', value: 2 }] }, null)).toBeNull();
    expect(chooseIndex(info, null, null)).toBeNull();
  });

  it('uses only ready indexes unless hinted; refuses hints naming no index or one being built', () => {
    const building = tableInfo([idx(1, 'a_bt', 'btree', ['a'], { state: 'building' })]);
    expect(chooseIndex(building, { col: A, op: '=', value: 3 }, null)).toBeNull();
    expect(() => chooseIndex(building, null, 'a_bt')).toThrow(MantisError);
    expect(() => chooseIndex(info, null, 'nope')).toThrow(/no index named/);
    expect(chooseIndex(info, { col: A, op: '=', value: 3 }, '$scan')).toBeNull();
    expect(chooseIndex(info, null, 'g_bloom')).toBeNull();
  });

  it('serves ORDER BY on the column after the pinned ones (with a limit, even with no bounds)', () => {
    const ob = (c: number, desc = false): OrderBy[] => [{ col: c, desc }];
    expect(chooseIndex(info, null, null, ob(A), 10)?.coversSort).toBe(true);
    expect(chooseIndex(info, null, null, ob(A), 0)).toBeNull();
    const desc = chooseIndex(info, { col: A, op: '>', value: 0 }, null, ob(A, true), 5);
    expect(desc?.coversSort).toBe(true);
    expect(desc?.reverse).toBe(true);
    const pinned = chooseIndex(info, { col: S, op: '=', value: 'a' }, null, ob(A), 5);
    expect(pinned?.index.name).toBe('s_a_bt');
    expect(pinned?.coversSort).toBe(true);
    expect(chooseIndex(info, { col: S, op: 'in', value: ['a', 'b'] }, 's_a_bt', ob(A), 5)?.coversSort).toBe(false);
    expect(chooseIndex(info, { col: G, op: '=', value: 'x' }, null, ob(G), 5)?.coversSort).toBe(false);
  });

  it('starts_with a lone high surrogate still finds the astral characters it begins', () => {
    const store = newStore();
    const t = new Table(store, tableInfo());
    const r = rng(2);
    for (let i = 0; i < 20; i++) {
      const row = randomRow(r, i);
      row[S] = i % 2 === 0 ? '😀x' : 'plain';
      t.put(row);
    }
    const where: Predicate = { col: S, op: 'starts_with', value: '\uD83D' };
    expect(evalP(where, t.live(Date.now())[0])).toBe(true);
    const plan = chooseIndex(t.info, where, 's_a_bt') as IndexPlan;
    expect(indexAnswer(t, plan, where, Date.now()).ids).toEqual(scanAnswer(t, where, Date.now()));
  });

  it('an IN () leaves no entries to visit', () => {
    const store = newStore();
    const t = new Table(store, info);
    fill(t, rng(1), 50);
    const plan = chooseIndex(info, { col: A, op: 'in', value: [] }, null) as IndexPlan;
    expect(plan.ranges).toEqual([]);
    const hashPlan = chooseIndex(info, { col: G, op: 'in', value: [] }, 'g_hash') as IndexPlan;
    expect(lookupKeys(store, hashPlan, Date.now())).toEqual([]);
  });
});

describe('index vs scan equivalence', () => {
  it('random rows and predicates: the same rows with every index and with $scan', () => {
    const store = newStore();
    const t = new Table(store, tableInfo());
    const r = rng(12345);
    fill(t, r, 300);
    const now = Date.now();
    let planned = 0;
    for (let i = 0; i < 400; i++) planned += checkEquivalence(t, randomPredicate(r), now, `predicate ${i}`);
    expect(planned).toBeGreaterThan(50);
  }, 120_000);

  it('stays equal through updates, deletes, re-inserts and row TTLs', () => {
    const store = newStore();
    const t = new Table(store, tableInfo());
    const r = rng(777);
    fill(t, r, 150);
    const now = Date.now();
    for (let round = 0; round < 5; round++) {
      for (let k = 0; k < 100; k++) {
        const id = Math.floor(r() * 200);
        const x = r();
        if (x < 0.2) t.remove(id);
        else if (x < 0.35) {
          // An update that leaves the indexed columns alone but changes the TTL.
          const old = t.rows.get(id);
          if (old !== undefined) t.put(old.row.slice(), r() < 0.5 ? 0 : now + 1000 + Math.floor(r() * 5000));
        } else t.put(randomRow(r, id), r() < 0.2 ? now + Math.floor(r() * 10_000) : 0);
      }
      // Later "nows" expire rows with their entries.
      const at = now + round * 2000;
      for (let i = 0; i < 40; i++) checkEquivalence(t, randomPredicate(r), at, `round ${round} predicate ${i}`);
    }
  }, 120_000);

  it('entries match the rows exactly (no stale entry is left behind by updates and deletes)', () => {
    const store = newStore();
    const t = new Table(store, tableInfo());
    const r = rng(99);
    fill(t, r, 150);
    for (let k = 0; k < 400; k++) {
      const id = Math.floor(r() * 180);
      if (r() < 0.3) t.remove(id);
      else t.put(randomRow(r, id));
    }
    const now = Date.now();
    for (const def of t.info.indexes) {
      if (def.type === 'bloom') continue;
      const prefix = keyToBinary(indexPrefix(t.info.id, def.id));
      expect(store.count(prefix, now), def.name).toBe(t.rows.size);
    }
  });

  it('walks a btree in ORDER BY order (NULLS LAST ascending, FIRST descending) and marks runs of ties', () => {
    const store = newStore();
    const t = new Table(store, tableInfo());
    const r = rng(4242);
    fill(t, r, 300);
    const now = Date.now();
    for (const [c, name] of [
      [A, 'a_bt'],
      [F, 'f_bt'],
      [T, 't_bt'],
    ] as const) {
      for (const desc of [false, true]) {
        const plan = chooseIndex(t.info, null, name, [{ col: c, desc }], 10) as IndexPlan;
        expect(plan.coversSort).toBe(true);
        const seen: { row: Row; newGroup: boolean }[] = [];
        scanIndex(store, plan, now, (pk, _slot, newGroup) => {
          seen.push({ row: t.byPk(pk, now) as Row, newGroup });
          return true;
        });
        expect(seen.length).toBe(t.rows.size);
        for (let i = 1; i < seen.length; i++) {
          const cmp = compareOrdered(seen[i - 1].row[c], seen[i].row[c], desc);
          expect(cmp).toBeLessThanOrEqual(0);
          expect(seen[i].newGroup).toBe(cmp !== 0);
        }
        // A limit cut stops between runs of ties: the top-10 is within what lookupKeys gives.
        const cut = lookupKeys(store, plan, now, 10).map((e) => t.byPk(e.pk, now) as Row);
        const sorted = t.live(now).sort((x, y) => compareOrdered(x[c], y[c], desc));
        const tenth = sorted[9][c];
        expect(cut.length).toBeGreaterThanOrEqual(10);
        expect(cut.filter((row) => compareOrdered(row[c], tenth, desc) < 0).length).toBe(sorted.filter((row) => compareOrdered(row[c], tenth, desc) < 0).length);
        expect(cellsEqual(cut[cut.length - 1][c], tenth)).toBe(true);
      }
    }
  });

  it('a capped lookup gives up past its cap (the caller scans instead)', () => {
    const store = newStore();
    const t = new Table(store, tableInfo());
    fill(t, rng(21), 200);
    const plan = chooseIndex(t.info, { col: A, op: '>=', value: -5 }, null) as IndexPlan;
    const all = lookupKeys(store, plan, Date.now());
    expect(all.length).toBeGreaterThan(100);
    expect(lookupKeysCapped(store, plan, Date.now(), 100)).toBeNull();
    expect(lookupKeysCapped(store, plan, Date.now(), all.length)).toEqual(all);
  });

  it('indexRows: filtered rows in index order, stopping after the limit at a run boundary, or null past the cap', () => {
    const store = newStore();
    const t = new Table(store, tableInfo());
    const r = rng(64);
    fill(t, r, 300);
    const now = Date.now();
    const fetch = (pk: Uint8Array): Row | null => t.byPk(pk, now);
    for (let i = 0; i < 60; i++) {
      const where = randomPredicate(r);
      const plan = chooseIndex(t.info, where, 'a_bt', [{ col: A, desc: i % 2 === 1 }], 7) as IndexPlan;
      const all = indexRows(store, plan, where, now, fetch) as { rows: Row[]; examined: number };
      expect(ids(all.rows)).toEqual(scanAnswer(t, where, now));
      const top = (indexRows(store, plan, where, now, fetch, 7) as { rows: Row[] }).rows;
      const want = all.rows.slice(0, 7);
      expect(top.slice(0, want.length).map((row) => row[A])).toEqual(want.map((row) => row[A]));
      if (all.rows.length > 7) {
        const last = top[top.length - 1][A];
        expect(top.length).toBeGreaterThanOrEqual(7);
        expect(all.rows.slice(top.length).every((row) => !cellsEqual(row[A], last))).toBe(true);
      } else expect(top.length).toBe(all.rows.length);
    }
    const wide = chooseIndex(t.info, null, 'a_bt') as IndexPlan;
    expect(indexRows(store, wide, null, now, fetch, 0, 50)).toBeNull();
  });

  it('refuses a row whose btree value is over the key limit', () => {
    const store = newStore();
    const t = new Table(store, tableInfo([idx(1, 's_bt', 'btree', ['s'])]));
    const row = randomRow(rng(1), 1);
    row[S] = 'x'.repeat(5000);
    expect(() => t.put(row)).toThrow(/limit of index keys/);
    // A hash index holds any value in 8 bytes.
    const h = new Table(store, tableInfo([idx(2, 's_hash', 'hash', ['s'])]));
    h.put(row);
    expect(indexAnswer(h, chooseIndex(h.info, { col: S, op: '=', value: row[S] }, null) as IndexPlan, null, Date.now()).ids).toEqual([1]);
  });
});

// ── backfill ────────────────────────────────────────────────────────────────

/** A table's rows split into immutable "segments" and a delta, as the mover leaves them. */
class SplitRows implements BackfillRows {
  segments = new Map<number, number[]>();
  delta = new Set<number>();
  nextSeg = 1;
  constructor(public t: Table) {}

  get info(): TableInfo {
    return this.t.info;
  }

  segmentIds(): number[] {
    return [...this.segments.keys()].sort((a, b) => a - b);
  }

  segmentRows(segId: number, from: number, nowMs: number, visit: (row: Row, rowIdx: number, pk: Uint8Array, slot: number, expiresAtMs: number) => boolean): boolean {
    const ids = this.segments.get(segId);
    if (ids === undefined) return false;
    for (let i = from; i < ids.length; i++) {
      const s = this.t.rows.get(ids[i]);
      if (s === undefined || this.delta.has(ids[i])) continue; // deleted (a delete mark), or replaced into the delta
      if (s.expiresAtMs !== 0 && s.expiresAtMs <= nowMs) continue;
      if (!visit(s.row, i, this.t.pk(ids[i]), this.t.slot(ids[i]), s.expiresAtMs)) break;
    }
    return true;
  }

  deltaRows(after: string | null, nowMs: number, visit: (key: string, row: Row, pk: Uint8Array, slot: number, expiresAtMs: number) => boolean): void {
    const keyed = [...this.delta].map((id) => ({ id, key: keyToBinary(this.t.pk(id)) })).sort((x, y) => (x.key < y.key ? -1 : 1));
    for (const { id, key } of keyed) {
      if (after !== null && key <= after) continue;
      const s = this.t.rows.get(id) as Stored;
      if (s.expiresAtMs !== 0 && s.expiresAtMs <= nowMs) continue;
      if (!visit(key, s.row, this.t.pk(id), this.t.slot(id), s.expiresAtMs)) return;
    }
  }

  /** The mover: up to n delta rows into a new segment. */
  move(n: number): void {
    const moved = [...this.delta].slice(0, n).sort((a, b) => a - b);
    for (const id of moved) this.delta.delete(id);
    if (moved.length > 0) this.segments.set(this.nextSeg++, moved);
  }

  /** Compaction: every segment into one new one (none when no row is left in them). */
  compact(): void {
    const all = [...this.segments.values()].flat().filter((id) => this.t.rows.has(id) && !this.delta.has(id));
    this.segments.clear();
    if (all.length > 0) this.segments.set(this.nextSeg++, [...new Set(all)].sort((a, b) => a - b));
  }

  put(row: Row): void {
    this.t.put(row);
    this.delta.add(row[ID] as number);
  }

  remove(id: number): void {
    this.t.remove(id);
    this.delta.delete(id);
  }
}

describe('index backfill', () => {
  it('indexes rows in segments and the delta in bounded steps while writes, moves and compactions go on', () => {
    const store = newStore();
    const base = tableInfo([idx(1, 'a_bt', 'btree', ['a'])]);
    const t = new Table(store, base);
    const rows = new SplitRows(t);
    const r = rng(2024);
    for (let i = 0; i < 3000; i++) rows.put(randomRow(r, i));
    rows.move(1000);
    rows.move(1000);
    // The new index arrives: writes maintain it from now on; the backfill does the rest.
    const next = tableInfo([...base.indexes, idx(2, 'g_hash', 'hash', ['g'], { state: 'building' }), idx(3, 's_bt', 'btree', ['s'], { state: 'building' })], { version: 2 });
    apply(store, indexCatalogWrites(base, next));
    t.info = next;
    const now = Date.now();
    expect(buildStateOf(store, next.id, 2, now).state).toBe('building');
    const builds = new IndexBuilds(store, () => undefined, 500);
    builds.catalogChanged([next], now);
    let steps = 0;
    for (; builds.busy() && steps < 1000; steps++) {
      const writes: (PutOp | DeleteOp)[] = [];
      builds.step(rows, now, writes);
      apply(store, writes);
      for (let k = 0; k < 40; k++) {
        const id = Math.floor(r() * 3300);
        if (r() < 0.3) rows.remove(id);
        else rows.put(randomRow(r, id));
      }
      if (steps % 3 === 1) rows.move(300);
      if (steps === 4) rows.compact();
      // A restart: positions come back from the build-state keys.
      if (steps === 6) builds.catalogChanged([next], now);
    }
    expect(steps).toBeGreaterThan(4);
    expect(builds.busy()).toBe(false);
    expect(buildStateOf(store, next.id, 2, now).state).toBe('built');
    expect(buildStateOf(store, next.id, 3, now).state).toBe('built');
    const ready = tableInfo(next.indexes.map((i) => ({ ...i, state: 'ready' as const })), { version: 3 });
    t.info = ready;
    for (const id of [2, 3]) expect(store.count(keyToBinary(indexPrefix(next.id, id)), now)).toBe(t.rows.size);
    for (let i = 0; i < 30; i++) checkEquivalence(t, randomPredicate(r), now, `after backfill ${i}`);
  }, 120_000);

  it('starts over when segment ids start over (every segment compacted away, then a restart)', () => {
    const store = newStore();
    const base = tableInfo([]);
    const t = new Table(store, base);
    const rows = new SplitRows(t);
    const r = rng(11);
    for (let i = 0; i < 600; i++) rows.put(randomRow(r, i));
    for (let k = 0; k < 4; k++) rows.move(100);
    const next = tableInfo([idx(1, 'g_hash', 'hash', ['g'], { state: 'building' })], { version: 2 });
    apply(store, indexCatalogWrites(base, next));
    t.info = next;
    const now = Date.now();
    const builds = new IndexBuilds(store, () => undefined, 150);
    builds.catalogChanged([next], now);
    for (let k = 0; k < 3; k++) {
      const writes: (PutOp | DeleteOp)[] = [];
      builds.step(rows, now, writes);
      apply(store, writes);
    }
    // Every segment row deleted, compacted to nothing; the restarted mover numbers from 1 again.
    for (const id of [...rows.segments.values()].flat()) rows.remove(id);
    rows.compact();
    expect(rows.segments.size).toBe(0);
    rows.nextSeg = 1;
    rows.move(150);
    builds.catalogChanged([next], now);
    for (let k = 0; builds.busy() && k < 100; k++) {
      const writes: (PutOp | DeleteOp)[] = [];
      builds.step(rows, now, writes);
      apply(store, writes);
    }
    expect(buildStateOf(store, next.id, 1, now).state).toBe('built');
    expect(store.count(keyToBinary(indexPrefix(next.id, 1)), now)).toBe(t.rows.size);
  });

  it('fails the build on a value it cannot index, writing nothing but the failed state', () => {
    const store = newStore();
    const base = tableInfo([]);
    const t = new Table(store, base);
    const rows = new SplitRows(t);
    const r = rng(5);
    for (let i = 0; i < 50; i++) rows.put(randomRow(r, i));
    const big = randomRow(r, 50);
    big[S] = 'y'.repeat(5000);
    rows.put(big);
    const next = tableInfo([idx(1, 's_bt', 'btree', ['s'], { state: 'building' })], { version: 2 });
    apply(store, indexCatalogWrites(base, next));
    t.info = next;
    const builds = new IndexBuilds(store);
    const now = Date.now();
    builds.catalogChanged([next], now);
    const writes: (PutOp | DeleteOp)[] = [];
    builds.step(rows, now, writes);
    apply(store, writes);
    expect(writes.length).toBe(1);
    const state = buildStateOf(store, next.id, 1, now);
    expect(state.state).toBe('failed');
    expect(state.state === 'failed' && state.error).toMatch(/limit of index keys/);
    expect(builds.busy()).toBe(false);
  });

  it('a dropped index leaves no entries after its drop steps', () => {
    const store = newStore();
    const t = new Table(store, tableInfo());
    fill(t, rng(3), 700);
    const now = Date.now();
    let steps = 0;
    for (;;) {
      const writes: (PutOp | DeleteOp)[] = [];
      const done = dropIndexStep(store, t.info.id, 1, now, 250, writes);
      apply(store, writes);
      steps++;
      if (done) break;
    }
    expect(steps).toBe(3);
    const prefix = keyToBinary(indexPrefix(t.info.id, 1));
    expect(store.count(prefix, now)).toBe(0);
    expect(store.count(keyToBinary(indexPrefix(t.info.id, 2)), now)).toBe(700);
    expect(prefixEnd(prefix)).not.toBeNull();
  });
});
