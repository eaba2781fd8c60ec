// Vectorized GROUP BY and aggregates (count, sum, min, max, avg) over
// batches: partial states on each shard (PartialAggregator), merged on the
// router (mergeGroups) and finalized into answer cells (finalizeState).
//
// A batch is aggregated in two steps, both plain loops over typed arrays:
// 1. group ids: each group-by column gives every selected row a small local
//    code — a dictionary code (strings), value - min (int64/timestamp whose
//    batch range is small), 0/1 (booleans), or a per-batch Map code otherwise
//    — with 0 for NULL (NULLs form one group). The codes fold into one
//    composite code, looked up in an array (lazily filled per batch) that
//    maps it to the global group id; only a miss builds the key cells.
// 2. per aggregate, one loop adding into per-group accumulators (Float64Array
//    indexed by group id). Without GROUP BY the loops keep the accumulator in a
//    register.
//
// Semantics (SQL): NULL inputs are skipped; count(col) counts non-NULL,
// count(*) rows; sum/min/max of no non-NULL input is NULL, avg too; an int64
// sum is exact: float64 accumulation is used while a bound on |partial sum|
// stays within 2^53, bigint beyond it; avg is float64; min/max follow
// cells.ts's orders (float64: NaN is the largest).

import { assert } from '../errors.js';
import { compareCells, tupleKey } from './cells.js';
import type { AggregateFn, AggregateSpec, AggState, Batch, Cell, ColumnType, DerivedExpr, GroupState, NullBitmap, Vector } from './table-types.js';
import { INT64_MAX, INT64_MIN, normalizeInt64 } from './table-types.js';
import { cellAt } from './vector-rows.js';

const SAFE = 9007199254740991;
/** A group column whose batch range is at most this uses value - min as its local code. */
const SMALL_RANGE = 1 << 16;
/** Composite codes up to this size use an array as the composite → group table. */
const TABLE_MAX = 1 << 22;

let identityBuf = new Uint32Array(0);
function identity(n: number): Uint32Array {
  if (identityBuf.length < n) {
    identityBuf = new Uint32Array(Math.max(n, 65536));
    for (let i = 0; i < identityBuf.length; i++) identityBuf[i] = i;
  }
  return identityBuf.subarray(0, n);
}

/** Per-aggregate accumulators, indexed by group id. */
type Acc = {
  readonly fn: AggregateFn;
  readonly col: number | null;
  readonly type: ColumnType | null;
  /** sum / avg sum / numeric min or max. */
  acc: Float64Array;
  /** Non-null inputs (null while equal to the group's row count: no NULL seen yet). */
  cnt: Float64Array | null;
  /** int64 sums past the float-exact range: the exact part moved out of acc (acc holds the rest). */
  big: (bigint | undefined)[] | null;
  /** Bound on |acc[g]| for every group (int64 sums). */
  absBound: number;
  /** min/max of cells that are not plain numbers (strings, binary, booleans, bigint int64). */
  cells: Cell[] | null;
};

/** Local codes of one group-by column for the selected rows of one batch. */
type ColumnCodes = { codes: Int32Array; card: number; cellOf: (code: number) => Cell };

export class PartialAggregator {
  private readonly groupBy: readonly number[];
  private readonly aggs: Acc[];
  private groups = 0;
  private capacity = 0;
  /** Group keys: multi-column tuples, or (one group-by column) the bare cells, wrapped by result(). */
  private keys: Cell[][] = [];
  private keys1: Cell[] = [];
  /** One numeric group-by column: its numbers' groups. */
  private readonly numIndex = new NumberIndex();
  /** Group key → id: single-column keys by mapKey (numbers as themselves), multi-column by tupleKey. */
  private readonly index = new Map<unknown, number>();
  /** Rows per group (count(*), and the non-null count of aggregates that never saw NULL). */
  private rows: Float64Array = new Float64Array(0);
  // Per-batch scratch, reused (no large allocation per batch).
  private gidBuf = new Int32Array(0);
  private tableBuf = new Int32Array(0);
  /** Set by groupIds when it also computed the fused aggregate for this batch. */
  private fusedDone = false;
  /** idsByKeptRange's table (value - keptLo → group id, -1: none yet), or null before its first batch. */
  private kept: Int32Array | null = null;
  private keptLo = 0;
  /** The kept range proved too wide: per-batch paths only. */
  private keptOff = false;

  constructor(groupBy: readonly number[], aggs: readonly AggregateSpec[], types: readonly ColumnType[]) {
    this.groupBy = groupBy;
    this.aggs = aggs.map((a) => {
      const type = a.col === null ? null : types[a.col];
      if (a.fn === 'sum' || a.fn === 'avg') {
        assert(type === 'int64' || type === 'float64' || type === 'timestamp', `${a.fn} over a ${String(type)} column`);
      }
      return { fn: a.fn, col: a.col, type, acc: new Float64Array(0), cnt: null, big: null, absBound: 0, cells: null };
    });
    this.grow(groupBy.length === 0 ? 1 : 16);
    if (groupBy.length === 0) this.newGroup([], null);
  }

  addBatch(batch: Batch): void {
    const sel = batch.selection ?? identity(batch.length);
    const n = sel.length;
    if (n === 0) return;
    if (this.groupBy.length === 0) {
      this.rows[0] += n;
      for (const a of this.aggs) if (a.col !== null) this.scalarAgg(a, vectorOf(batch, a.col), sel);
      return;
    }
    // groupIds also adds the batch's rows to this.rows, and may do one sum/avg in the same loop.
    const fused = this.fusable(batch);
    this.fusedDone = false;
    const gids = this.groupIds(batch, sel, fused);
    for (const a of this.aggs) {
      if (a.col !== null && !(this.fusedDone && a === fused)) this.groupedAgg(a, vectorOf(batch, a.col), sel, gids);
    }
  }

  /**
   * The aggregate the group-id loop can compute as it goes: the first sum/avg over a Float64Array
   * without NULLs (int64 sums only while few groups exist: their exactness check may need to undo
   * the batch from a snapshot).
   */
  private fusable(batch: Batch): Acc | null {
    for (const a of this.aggs) {
      if ((a.fn !== 'sum' && a.fn !== 'avg') || a.col === null || a.cnt !== null) continue;
      const v = vectorOf(batch, a.col);
      if (v.nulls !== null || !('values' in v) || !(v.values instanceof Float64Array)) continue;
      if (exactInt(a) && this.groups > 4096) continue;
      return a;
    }
    return null;
  }

  /** After a fused int64 sum: keep it if provably exact, else undo it and redo it exactly. */
  private settleFused(a: Acc, x: Float64Array, sel: Uint32Array, gids: Int32Array, abs: number, snapshot: Float64Array | null): void {
    if (snapshot === null) return;
    if (a.absBound + abs <= SAFE) {
      a.absBound += abs;
      return;
    }
    a.acc.set(snapshot);
    a.acc.fill(0, snapshot.length, this.groups);
    this.exactSumSlow(a, x, sel, gids, abs);
  }

  result(): GroupState[] {
    const out: GroupState[] = new Array<GroupState>(this.groups);
    for (let g = 0; g < this.groups; g++) {
      const states: AggState[] = new Array<AggState>(this.aggs.length);
      for (let j = 0; j < this.aggs.length; j++) states[j] = this.stateOf(this.aggs[j], g);
      out[g] = { key: this.groupBy.length === 1 ? [this.keys1[g]] : this.keys[g], states };
    }
    return out;
  }

  // ---- groups ---------------------------------------------------------------

  private grow(min: number): void {
    if (min <= this.capacity) return;
    let cap = Math.max(16, this.capacity * 2);
    while (cap < min) cap *= 2;
    const rows = new Float64Array(cap);
    rows.set(this.rows);
    this.rows = rows;
    for (const a of this.aggs) {
      const acc = new Float64Array(cap);
      acc.set(a.acc);
      if (a.fn === 'min') acc.fill(NaN, this.capacity);
      else if (a.fn === 'max') acc.fill(-Infinity, this.capacity);
      a.acc = acc;
      if (a.cnt !== null) {
        const cnt = new Float64Array(cap);
        cnt.set(a.cnt);
        a.cnt = cnt;
      }
    }
    this.capacity = cap;
  }

  private newGroup(key: Cell[] | null, key1: Cell): number {
    const g = this.groups++;
    if (g >= this.capacity) this.grow(this.groups);
    if (key === null) this.keys1.push(key1);
    else this.keys.push(key);
    for (const a of this.aggs) {
      if (a.cells !== null) a.cells.push(null);
      if (a.big !== null) a.big.push(undefined);
    }
    return g;
  }

  /** The group id of a one-column key (created when new). */
  private lookup1(cell: Cell): number {
    if (typeof cell === 'number') {
      let g = this.numIndex.get(cell);
      if (g < 0) {
        g = this.newGroup(null, cell === 0 ? 0 : cell);
        this.numIndex.set(cell, g);
      }
      return g;
    }
    const k = mapKey(cell);
    let g = this.index.get(k);
    if (g === undefined) {
      g = this.newGroup(null, cell);
      this.index.set(k, g);
    }
    return g;
  }

  private lookupN(key: Cell[]): number {
    const k = tupleKey(key);
    let g = this.index.get(k);
    if (g === undefined) {
      g = this.newGroup(key, null);
      this.index.set(k, g);
    }
    return g;
  }

  private gidScratch(n: number): Int32Array {
    if (this.gidBuf.length < n) this.gidBuf = new Int32Array(Math.max(n, 1024));
    return this.gidBuf.subarray(0, n);
  }

  /** A lookup table of `size` entries, all -1 (scratch). */
  private tableScratch(size: number): Int32Array {
    if (this.tableBuf.length < size) this.tableBuf = new Int32Array(Math.max(size, 1024));
    const t = this.tableBuf.subarray(0, size);
    t.fill(-1);
    return t;
  }

  /** The group id of every selected row (indexed like `sel`); adds the rows to this.rows. */
  private groupIds(batch: Batch, sel: Uint32Array, fused: Acc | null): Int32Array {
    if (this.groupBy.length === 1) {
      const v = vectorOf(batch, this.groupBy[0]);
      if (v.type === 'string' && 'codes' in v) return this.idsByCode(v.codes, v.dict, v.nulls, sel, batch, fused);
      if (v.type === 'boolean') return this.idsByCode(v.values, BOOL_DICT, v.nulls, sel, batch, fused);
      if ((v.type === 'int64' || v.type === 'timestamp') && v.values instanceof Float64Array) {
        return this.idsByIntRange(v.values, v.nulls, sel, batch, fused);
      }
      if (v.type !== 'binary' && v.type !== 'string' && v.values instanceof Float64Array) return this.idsByNumber(v.values, v.nulls, sel);
      const gids = this.gidScratch(sel.length);
      for (let i = 0; i < sel.length; i++) gids[i] = this.lookup1(cellAt(v, sel[i]));
      countRows(this.rows, gids);
      return gids;
    }
    return this.idsMulti(batch, sel);
  }

  /** The fused aggregate's input values and (int64 sum) a snapshot of its accumulators. */
  private fusedInput(batch: Batch, fused: Acc | null): { x: Float64Array; snapshot: Float64Array | null } | null {
    if (fused === null) return null;
    const x = (vectorOf(batch, fused.col as number) as { readonly values: Float64Array }).values;
    const snapshot = exactInt(fused) ? fused.acc.slice(0, this.groups) : null;
    return { x, snapshot };
  }

  /** One dictionary-coded (or boolean) column: a code → group table filled on first sight. */
  private idsByCode(
    codes: Uint8Array | Uint16Array | Uint32Array,
    dict: readonly Cell[],
    nulls: NullBitmap,
    sel: Uint32Array,
    batch: Batch,
    fused: Acc | null,
  ): Int32Array {
    const n = sel.length;
    const gids = this.gidScratch(n);
    const table = this.tableScratch(dict.length + 1);
    const nullAt = dict.length;
    const input = this.fusedInput(batch, fused);
    if (input === null || fused === null) {
      for (let i = 0; i < n; i++) {
        const r = sel[i];
        const c = nulls !== null && ((nulls[r >> 3] >> (r & 7)) & 1) === 1 ? nullAt : codes[r];
        let g = table[c];
        if (g < 0) {
          g = this.lookup1(c === nullAt ? null : dict[c]) | 0;
          table[c] = g;
        }
        gids[i] = g;
      }
      countRows(this.rows, gids);
      return gids;
    }
    const x = input.x;
    // Room for every group this batch can create, so rows/acc stay put during the loop.
    this.grow(this.groups + table.length);
    const rows = this.rows;
    const acc = fused.acc;
    let abs = 0;
    if (nulls === null && batch.selection === null) {
      // Every row, no NULL key: the tightest loop, leaving it only to resolve a new code.
      LOOP_ABS[0] = 0;
      for (let r = 0; (r = fusedByCodeAll(codes, r, n, table, gids, rows, acc, x)) < n; ) {
        table[codes[r]] = this.lookup1(dict[codes[r]]) | 0;
      }
      this.fusedDone = true;
      this.settleFused(fused, x, sel, gids, LOOP_ABS[0], input.snapshot);
      return gids;
    }
    for (let i = 0; i < n; i++) {
      const r = sel[i];
      const c = nulls !== null && ((nulls[r >> 3] >> (r & 7)) & 1) === 1 ? nullAt : codes[r];
      let g = table[c];
      if (g < 0) {
        g = this.lookup1(c === nullAt ? null : dict[c]) | 0;
        table[c] = g;
      }
      gids[i] = g;
      rows[g]++;
      const v = x[r];
      acc[g] += v;
      abs += Math.abs(v);
    }
    this.fusedDone = true;
    this.settleFused(fused, x, sel, gids, abs, input.snapshot);
    return gids;
  }

  /** One int64/timestamp column: value - min indexes a table when the batch's range is small. */
  private idsByIntRange(values: Float64Array, nulls: NullBitmap, sel: Uint32Array, batch: Batch, fused: Acc | null): Int32Array {
    const n = sel.length;
    if (fused !== null && nulls === null && batch.selection === null && !this.keptOff) {
      const gids = this.gidScratch(n);
      const input = this.fusedInput(batch, fused);
      if (input !== null && this.idsByKeptRange(values, n, gids, fused, input.x)) {
        this.fusedDone = true;
        this.settleFused(fused, input.x, sel, gids, LOOP_ABS[0], input.snapshot);
        return gids;
      }
    }
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < n; i++) {
      const x = values[sel[i]];
      if (x < lo) lo = x;
      if (x > hi) hi = x;
    }
    // (NULL rows' values are unspecified: they may widen the range, never narrow it.)
    if (!(lo <= hi && hi - lo < SMALL_RANGE)) return this.idsByNumber(values, nulls, sel);
    const gids = this.gidScratch(n);
    const table = this.tableScratch(hi - lo + 2);
    const nullAt = (hi - lo + 1) | 0;
    const input = this.fusedInput(batch, fused);
    if (input === null || fused === null) {
      for (let i = 0; i < n; i++) {
        const r = sel[i];
        const c = nulls !== null && ((nulls[r >> 3] >> (r & 7)) & 1) === 1 ? nullAt : (values[r] - lo) | 0;
        let g = table[c];
        if (g < 0) {
          g = this.lookup1(c === nullAt ? null : c + lo) | 0;
          table[c] = g;
        }
        gids[i] = g;
      }
      countRows(this.rows, gids);
      return gids;
    }
    const x = input.x;
    // Room for every group this batch can create, so rows/acc stay put during the loop.
    this.grow(this.groups + table.length);
    const rows = this.rows;
    const acc = fused.acc;
    let abs = 0;
    if (nulls === null && batch.selection === null) {
      LOOP_ABS[0] = 0;
      for (let r = 0; (r = fusedByRangeAll(values, lo, r, n, table, gids, rows, acc, x)) < n; ) {
        const c = (values[r] - lo) | 0;
        table[c] = this.lookup1(c + lo) | 0;
      }
      this.fusedDone = true;
      this.settleFused(fused, x, sel, gids, LOOP_ABS[0], input.snapshot);
      return gids;
    }
    for (let i = 0; i < n; i++) {
      const r = sel[i];
      const c = nulls !== null && ((nulls[r >> 3] >> (r & 7)) & 1) === 1 ? nullAt : (values[r] - lo) | 0;
      let g = table[c];
      if (g < 0) {
        g = this.lookup1(c === nullAt ? null : c + lo) | 0;
        table[c] = g;
      }
      gids[i] = g;
      rows[g]++;
      const v = x[r];
      acc[g] += v;
      abs += Math.abs(v);
    }
    this.fusedDone = true;
    this.settleFused(fused, x, sel, gids, abs, input.snapshot);
    return gids;
  }

  /**
   * Every row of a batch, no NULL key, one fused sum: value - keptLo indexes a table of group ids
   * kept across batches, so a batch whose values stay in the known range needs no range pass.
   * The range widens when a value falls outside it (while it stays under SMALL_RANGE); past that
   * the rest of the batch goes row by row and later batches take the per-batch paths. False: the
   * first batch's range is already too wide (nothing done).
   */
  private idsByKeptRange(values: Float64Array, n: number, gids: Int32Array, fused: Acc, x: Float64Array): boolean {
    if (this.kept === null) {
      let lo = Infinity;
      let hi = -Infinity;
      for (let r = 0; r < n; r++) {
        const v = values[r];
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      if (!(lo <= hi && hi - lo < SMALL_RANGE)) {
        this.keptOff = true;
        return false;
      }
      this.keptLo = lo;
      this.kept = new Int32Array(hi - lo + 1).fill(-1);
    }
    LOOP_ABS[0] = 0;
    let r = 0;
    while ((r = fusedByRangeAll(values, this.keptLo, r, n, this.kept, gids, this.rows, fused.acc, x)) < n) {
      const d = values[r] - this.keptLo;
      if (d >= 0 && d < this.kept.length) {
        this.kept[d] = this.lookup1(values[r]) | 0;
        continue;
      }
      if (this.widenKept(values, r, n)) continue;
      // Too wide now: finish this batch row by row; later batches take the per-batch paths.
      this.keptOff = true;
      let abs = 0;
      for (; r < n; r++) {
        const g = this.lookup1(values[r]) | 0;
        gids[r] = g;
        this.rows[g]++;
        const v = x[r];
        fused.acc[g] += v;
        abs += Math.abs(v);
      }
      LOOP_ABS[0] += abs;
    }
    return true;
  }

  /** Widens the kept range to cover rows from..n-1; false when it would pass SMALL_RANGE. */
  private widenKept(values: Float64Array, from: number, n: number): boolean {
    const old = this.kept as Int32Array;
    let lo = this.keptLo;
    let hi = this.keptLo + old.length - 1;
    for (let r = from; r < n; r++) {
      const v = values[r];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (!(hi - lo < SMALL_RANGE)) return false;
    const table = new Int32Array(hi - lo + 1).fill(-1);
    table.set(old, this.keptLo - lo);
    this.kept = table;
    this.keptLo = lo;
    return true;
  }

  /** One numeric column of any range: the number index, row by row. */
  private idsByNumber(values: Float64Array, nulls: NullBitmap, sel: Uint32Array): Int32Array {
    const n = sel.length;
    const gids = this.gidScratch(n);
    const index = this.numIndex;
    for (let i = 0; i < n; i++) {
      const r = sel[i];
      let g: number;
      if (nulls !== null && ((nulls[r >> 3] >> (r & 7)) & 1) === 1) g = this.lookup1(null) | 0;
      else {
        const x = values[r];
        g = index.get(x);
        if (g < 0) g = this.lookup1(x) | 0;
      }
      gids[i] = g;
    }
    countRows(this.rows, gids);
    return gids;
  }

  /** Several group columns: per-column local codes folded into one composite code. */
  private idsMulti(batch: Batch, sel: Uint32Array): Int32Array {
    const n = sel.length;
    const cols = this.groupBy.map((c) => columnCodes(vectorOf(batch, c), sel));
    let size = 1;
    for (const c of cols) size *= c.card;
    const gids = this.gidScratch(n);
    if (size > SAFE) {
      for (let i = 0; i < n; i++) gids[i] = this.lookupN(cols.map((c) => c.cellOf(c.codes[i])));
    } else {
      const composite = size <= 2 ** 31 ? new Int32Array(n) : new Float64Array(n);
      let stride = 1;
      for (let j = cols.length - 1; j >= 0; j--) {
        const codes = cols[j].codes;
        for (let i = 0; i < n; i++) composite[i] += codes[i] * stride;
        stride *= cols[j].card;
      }
      const keyOf = (code: number): Cell[] => {
        const key: Cell[] = new Array<Cell>(cols.length);
        for (let j = cols.length - 1; j >= 0; j--) {
          const card = cols[j].card;
          key[j] = cols[j].cellOf(code % card);
          code = Math.floor(code / card);
        }
        return key;
      };
      if (size <= TABLE_MAX && size <= n * 4 + 1024) {
        const table = this.tableScratch(size);
        for (let i = 0; i < n; i++) {
          const c = composite[i];
          let g = table[c];
          if (g < 0) {
            g = this.lookupN(keyOf(c)) | 0;
            table[c] = g;
          }
          gids[i] = g;
        }
      } else {
        const local = new Map<number, number>();
        for (let i = 0; i < n; i++) {
          const c = composite[i];
          let g = local.get(c);
          if (g === undefined) {
            g = this.lookupN(keyOf(c)) | 0;
            local.set(c, g);
          }
          gids[i] = g;
        }
      }
    }
    countRows(this.rows, gids);
    return gids;
  }

  // ---- aggregates -------------------------------------------------------------

  /** The non-null count array of an aggregate, split off the row counts the first time a NULL shows. */
  private ownCounts(a: Acc, before: Float64Array | null): Float64Array {
    if (a.cnt === null) {
      a.cnt = new Float64Array(this.capacity);
      a.cnt.set(before ?? this.rows);
    }
    return a.cnt;
  }

  private scalarAgg(a: Acc, v: Vector, sel: Uint32Array): void {
    const nulls = v.nulls;
    const s = nulls === null ? sel : dropNulls(sel, nulls);
    if (nulls !== null || a.cnt !== null) {
      // rows[0] already counts this batch: the non-null count so far is rows[0] minus it.
      const cnt = this.ownCounts(a, Float64Array.of(this.rows[0] - sel.length));
      cnt[0] += s.length;
    }
    if (a.fn === 'count' || s.length === 0) return;
    if (v.type === 'int64' || v.type === 'timestamp' || v.type === 'float64') {
      if (v.values instanceof Float64Array) {
        const x = v.values;
        switch (a.fn) {
          case 'sum':
          case 'avg':
            if (v.type === 'float64') a.acc[0] += sumF(x, s);
            else this.exactSum(a, x, s, null);
            return;
          case 'min':
            a.acc[0] = minF(x, s, a.acc[0]);
            return;
          default:
            a.acc[0] = maxF(x, s, a.acc[0]);
            return;
        }
      }
      if (a.fn === 'sum' || a.fn === 'avg') {
        const x = v.values;
        const big = this.bigOf(a);
        let t = big[0] ?? 0n;
        for (let i = 0; i < s.length; i++) t += x[s[i]];
        big[0] = t;
        return;
      }
    }
    this.cellMinMax(a, v, s, null);
  }

  private groupedAgg(a: Acc, v: Vector, sel: Uint32Array, gids: Int32Array): void {
    const nulls = v.nulls;
    let s = sel;
    let g = gids;
    if (nulls !== null) {
      // Keep the non-null rows (and their group ids) only.
      const keep = dropNullsWithGroups(sel, gids, nulls);
      s = keep.sel;
      g = keep.gids;
    }
    if (nulls !== null || a.cnt !== null) {
      const cnt = this.ownCounts(a, a.cnt === null ? rowsBefore(this.rows, gids) : null);
      for (let i = 0; i < g.length; i++) cnt[g[i]]++;
    }
    if (a.fn === 'count' || s.length === 0) return;
    if ((v.type === 'int64' || v.type === 'timestamp' || v.type === 'float64') && v.values instanceof Float64Array) {
      const x = v.values;
      switch (a.fn) {
        case 'sum':
        case 'avg':
          if (v.type === 'float64') sumG(x, s, g, a.acc);
          else this.exactSum(a, x, s, g);
          return;
        case 'min':
          minG(x, s, g, a.acc);
          return;
        default:
          maxG(x, s, g, a.acc);
          return;
      }
    }
    if ((a.fn === 'sum' || a.fn === 'avg') && (v.type === 'int64' || v.type === 'timestamp') && v.values instanceof BigInt64Array) {
      const x = v.values;
      const big = this.bigOf(a);
      for (let i = 0; i < s.length; i++) big[g[i]] = (big[g[i]] ?? 0n) + x[s[i]];
      return;
    }
    this.cellMinMax(a, v, s, g);
  }

  private bigOf(a: Acc): (bigint | undefined)[] {
    if (a.big === null) a.big = new Array<bigint | undefined>(this.groups).fill(undefined);
    return a.big;
  }

  /**
   * int64 sum of safe values, exact. The float64 loop also sums |v|: while absBound (a bound on
   * every group's |acc|) plus that stays within 2^53, every partial sum was an exact integer. When
   * it does not, the batch is undone (scalar: not applied; grouped: acc restored from a snapshot)
   * and redone with the float parts moved to bigint first, in bigint row by row if even one batch
   * can exceed 2^53.
   */
  private exactSum(a: Acc, x: Float64Array, s: Uint32Array, g: Int32Array | null): void {
    if (g === null) {
      const r = sumAbsF(x, s);
      if (a.absBound + r.abs <= SAFE) {
        a.acc[0] += r.sum;
        a.absBound += r.abs;
        return;
      }
      this.exactSumSlow(a, x, s, g, r.abs);
      return;
    }
    // Snapshot only while it is cheap next to the batch; else bound the batch first.
    if (this.groups <= s.length) {
      const snapshot = a.acc.slice(0, this.groups);
      const abs = sumAbsG(x, s, g, a.acc);
      if (a.absBound + abs <= SAFE) {
        a.absBound += abs;
        return;
      }
      a.acc.set(snapshot);
      this.exactSumSlow(a, x, s, g, abs);
      return;
    }
    let abs = 0;
    for (let i = 0; i < s.length; i++) abs += Math.abs(x[s[i]]);
    if (a.absBound + abs <= SAFE) {
      sumG(x, s, g, a.acc);
      a.absBound += abs;
      return;
    }
    this.exactSumSlow(a, x, s, g, abs);
  }

  private exactSumSlow(a: Acc, x: Float64Array, s: Uint32Array, g: Int32Array | null, batchAbs: number): void {
    // Move every group's float part into bigint, so acc restarts at 0.
    const big = this.bigOf(a);
    for (let j = 0; j < this.groups; j++) {
      if (a.acc[j] !== 0) {
        big[j] = (big[j] ?? 0n) + BigInt(a.acc[j]);
        a.acc[j] = 0;
      }
    }
    a.absBound = 0;
    if (batchAbs <= SAFE) {
      a.absBound = batchAbs;
      if (g === null) a.acc[0] += sumF(x, s);
      else sumG(x, s, g, a.acc);
      return;
    }
    if (g === null) {
      let t = big[0] ?? 0n;
      for (let i = 0; i < s.length; i++) t += BigInt(x[s[i]]);
      big[0] = t;
    } else {
      for (let i = 0; i < s.length; i++) big[g[i]] = (big[g[i]] ?? 0n) + BigInt(x[s[i]]);
    }
  }

  private cellMinMax(a: Acc, v: Vector, s: Uint32Array, g: Int32Array | null): void {
    assert(a.fn === 'min' || a.fn === 'max', `${a.fn} over a ${v.type} column`);
    if (a.cells === null) a.cells = new Array<Cell>(this.groups).fill(null);
    const cells = a.cells;
    const sign = a.fn === 'min' ? -1 : 1;
    for (let i = 0; i < s.length; i++) {
      const gid = g === null ? 0 : g[i];
      const c = cellAt(v, s[i]);
      const cur = cells[gid];
      if (cur === null || compareCells(c, cur) * sign > 0) cells[gid] = c;
    }
  }

  /** Group g's sum (exact for int64: a bigint past 2^53, a decimal string past the int64 range). */
  private sumOf(a: Acc, g: number): number | bigint | string {
    const big = a.big === null ? undefined : a.big[g];
    if (big === undefined) return a.acc[g];
    return a.type === 'float64' ? Number(big) + a.acc[g] : wireSum(big + BigInt(a.acc[g]));
  }

  private stateOf(a: Acc, g: number): AggState {
    if (a.fn === 'count') return a.col === null || a.cnt === null ? this.rows[g] : a.cnt[g];
    const n = a.cnt === null ? this.rows[g] : a.cnt[g];
    switch (a.fn) {
      case 'avg':
        return [this.sumOf(a, g), n];
      case 'sum':
        return n === 0 ? null : this.sumOf(a, g);
      default: {
        if (n === 0) return null;
        const x = a.acc[g] === 0 ? 0 : a.acc[g];
        if (a.cells === null) return x;
        // int64 batches came both as numbers (acc) and as bigints or other cells (cells).
        const accSet = a.fn === 'min' ? x === x : x !== -Infinity;
        const c = a.cells[g];
        if (!accSet) return c;
        return c === null ? x : mergeState(a.fn, c, x);
      }
    }
  }
}

const BOOL_DICT: readonly Cell[] = [false, true];

/**
 * Number → group id, open addressing on the float64 bit pattern (no Map entry or GC work per
 * group: high-cardinality GROUP BY on a numeric column). -0 is stored as 0; NaN has its own slot.
 */
class NumberIndex {
  private keys = new Float64Array(1024);
  private ids = new Int32Array(1024).fill(-1);
  private mask = 1023;
  private size = 0;
  private nanId = -1;
  private static readonly f = new Float64Array(1);
  private static readonly u = new Uint32Array(NumberIndex.f.buffer);

  private slot(v: number): number {
    NumberIndex.f[0] = v;
    const h = Math.imul(NumberIndex.u[0] ^ Math.imul(NumberIndex.u[1], 0x9e3779b1), 0x85ebca6b);
    return (h ^ (h >>> 15)) & this.mask;
  }

  get(v: number): number {
    if (v !== v) return this.nanId;
    if (v === 0) v = 0;
    const ids = this.ids;
    const keys = this.keys;
    for (let i = this.slot(v); ; i = (i + 1) & this.mask) {
      const id = ids[i];
      if (id < 0 || keys[i] === v) return id;
    }
  }

  set(v: number, id: number): void {
    if (v !== v) {
      this.nanId = id;
      return;
    }
    if (v === 0) v = 0;
    if ((this.size + 1) * 2 > this.mask + 1) this.rehash();
    let i = this.slot(v);
    while (this.ids[i] >= 0) i = (i + 1) & this.mask;
    this.keys[i] = v;
    this.ids[i] = id;
    this.size++;
  }

  private rehash(): void {
    const keys = this.keys;
    const ids = this.ids;
    const cap = (this.mask + 1) * 2;
    this.keys = new Float64Array(cap);
    this.ids = new Int32Array(cap).fill(-1);
    this.mask = cap - 1;
    for (let i = 0; i < ids.length; i++) {
      if (ids[i] < 0) continue;
      let j = this.slot(keys[i]);
      while (this.ids[j] >= 0) j = (j + 1) & this.mask;
      this.keys[j] = keys[i];
      this.ids[j] = ids[i];
    }
  }
}

/** fusedBy*All's running sum of |v| (a second result without an object per call). */
const LOOP_ABS = new Float64Array(1);

/**
 * The fused group loop over every row of a batch (no selection, no NULL keys) from row `start`:
 * group id by dictionary code, row count, sum. Returns n, or the first row whose code has no group
 * yet (the caller creates it and calls again from that row).
 */
function fusedByCodeAll(
  codes: Uint8Array | Uint16Array | Uint32Array,
  start: number,
  n: number,
  table: Int32Array,
  gids: Int32Array,
  rows: Float64Array,
  acc: Float64Array,
  x: Float64Array,
): number {
  let abs = 0;
  let r = start;
  for (; r < n; r++) {
    const g = table[codes[r]];
    if (g < 0) break;
    gids[r] = g;
    rows[g]++;
    const v = x[r];
    acc[g] += v;
    abs += Math.abs(v);
  }
  LOOP_ABS[0] += abs;
  return r;
}

/** fusedByCodeAll for an int64 key column whose value - lo indexes the table (stops too at a value outside it). */
function fusedByRangeAll(
  values: Float64Array,
  lo: number,
  start: number,
  n: number,
  table: Int32Array,
  gids: Int32Array,
  rows: Float64Array,
  acc: Float64Array,
  x: Float64Array,
): number {
  let abs = 0;
  let r = start;
  const size = table.length;
  for (; r < n; r++) {
    const d = values[r] - lo;
    if (!(d >= 0 && d < size)) break;
    const g = table[d | 0];
    if (g < 0) break;
    gids[r] = g;
    rows[g]++;
    const v = x[r];
    acc[g] += v;
    abs += Math.abs(v);
  }
  LOOP_ABS[0] += abs;
  return r;
}

function vectorOf(batch: Batch, col: number): Vector {
  const v = batch.columns[col];
  assert(v !== undefined, `aggregate: column ${col} not loaded`);
  return v;
}

function rowsBefore(rows: Float64Array, gids: Int32Array): Float64Array {
  // The row counts before this batch (addBatch already added it).
  const before = rows.slice();
  for (let i = 0; i < gids.length; i++) before[gids[i]]--;
  return before;
}

function dropNulls(sel: Uint32Array, nulls: Uint8Array): Uint32Array {
  const out = new Uint32Array(sel.length);
  let m = 0;
  for (let i = 0; i < sel.length; i++) {
    const r = sel[i];
    out[m] = r;
    m += ((nulls[r >> 3] >> (r & 7)) & 1) ^ 1;
  }
  return m === sel.length ? sel : out.subarray(0, m);
}

function dropNullsWithGroups(sel: Uint32Array, gids: Int32Array, nulls: Uint8Array): { sel: Uint32Array; gids: Int32Array } {
  const out = new Uint32Array(sel.length);
  const og = new Int32Array(sel.length);
  let m = 0;
  for (let i = 0; i < sel.length; i++) {
    const r = sel[i];
    out[m] = r;
    og[m] = gids[i];
    m += ((nulls[r >> 3] >> (r & 7)) & 1) ^ 1;
  }
  return m === sel.length ? { sel, gids } : { sel: out.subarray(0, m), gids: og.subarray(0, m) };
}

function isNull(nulls: NullBitmap, r: number): boolean {
  return nulls !== null && ((nulls[r >> 3] >> (r & 7)) & 1) === 1;
}

/** Local codes (0 = NULL) of a group-by column for the selected rows. */
function columnCodes(v: Vector, sel: Uint32Array): ColumnCodes {
  const n = sel.length;
  const codes = new Int32Array(n);
  const nulls = v.nulls;
  if (v.type === 'string' && 'codes' in v) {
    const src = v.codes;
    const dict = v.dict;
    for (let i = 0; i < n; i++) codes[i] = src[sel[i]] + 1;
    if (nulls !== null) for (let i = 0; i < n; i++) if (isNull(nulls, sel[i])) codes[i] = 0;
    return { codes, card: dict.length + 1, cellOf: (c) => (c === 0 ? null : dict[c - 1]) };
  }
  if (v.type === 'boolean') {
    const src = v.values;
    for (let i = 0; i < n; i++) codes[i] = src[sel[i]] !== 0 ? 2 : 1;
    if (nulls !== null) for (let i = 0; i < n; i++) if (isNull(nulls, sel[i])) codes[i] = 0;
    return { codes, card: 3, cellOf: (c) => (c === 0 ? null : c === 2) };
  }
  if ((v.type === 'int64' || v.type === 'timestamp') && v.values instanceof Float64Array) {
    const src = v.values;
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < n; i++) {
      const r = sel[i];
      if (nulls !== null && isNull(nulls, r)) continue;
      const x = src[r];
      if (x < lo) lo = x;
      if (x > hi) hi = x;
    }
    if (lo === Infinity) return { codes, card: 1, cellOf: () => null };
    if (hi - lo < SMALL_RANGE) {
      const base = lo - 1;
      for (let i = 0; i < n; i++) codes[i] = src[sel[i]] - base;
      if (nulls !== null) for (let i = 0; i < n; i++) if (isNull(nulls, sel[i])) codes[i] = 0;
      return { codes, card: hi - lo + 2, cellOf: (c) => (c === 0 ? null : c + base) };
    }
  }
  // Anything else: a per-batch map from value to code.
  const map = new Map<unknown, number>();
  const cells: Cell[] = [null];
  for (let i = 0; i < n; i++) {
    const c = cellAt(v, sel[i]);
    if (c === null) continue;
    const k = mapKey(c);
    let code = map.get(k);
    if (code === undefined) {
      code = cells.length;
      cells.push(c);
      map.set(k, code);
    }
    codes[i] = code;
  }
  return { codes, card: cells.length, cellOf: (c) => cells[c] };
}

/** A Map key equal for cellsEqual cells of one column (numbers as themselves: Map's SameValueZero has -0 == 0, NaN == NaN). */
function mapKey(c: Cell): unknown {
  if (c instanceof Uint8Array) return `b${Buffer.from(c.buffer, c.byteOffset, c.byteLength).toString('latin1')}`;
  if (typeof c === 'string') return `s${c}`;
  if (typeof c === 'bigint') return normalizeInt64(c);
  return c;
}

// ---- loops -------------------------------------------------------------------

/** Sum and sum of absolute values, in one pass. */
function sumAbsF(x: Float64Array, s: Uint32Array): { sum: number; abs: number } {
  let t = 0;
  let a = 0;
  for (let i = 0; i < s.length; i++) {
    const v = x[s[i]];
    t += v;
    a += Math.abs(v);
  }
  return { sum: t, abs: a };
}

function sumAbsG(x: Float64Array, s: Uint32Array, g: Int32Array, acc: Float64Array): number {
  let a = 0;
  for (let i = 0; i < s.length; i++) {
    const v = x[s[i]];
    acc[g[i]] += v;
    a += Math.abs(v);
  }
  return a;
}

function countRows(rows: Float64Array, gids: Int32Array): void {
  for (let i = 0; i < gids.length; i++) rows[gids[i]]++;
}

function sumF(x: Float64Array, s: Uint32Array): number {
  let t = 0;
  for (let i = 0; i < s.length; i++) t += x[s[i]];
  return t;
}

function minF(x: Float64Array, s: Uint32Array, cur: number): number {
  for (let i = 0; i < s.length; i++) {
    const v = x[s[i]];
    if (v < cur || cur !== cur) cur = v;
  }
  return cur;
}

function maxF(x: Float64Array, s: Uint32Array, cur: number): number {
  for (let i = 0; i < s.length; i++) {
    const v = x[s[i]];
    if (v > cur || v !== v) cur = v;
  }
  return cur;
}

function sumG(x: Float64Array, s: Uint32Array, g: Int32Array, acc: Float64Array): void {
  for (let i = 0; i < s.length; i++) acc[g[i]] += x[s[i]];
}

function minG(x: Float64Array, s: Uint32Array, g: Int32Array, acc: Float64Array): void {
  for (let i = 0; i < s.length; i++) {
    const v = x[s[i]];
    const j = g[i];
    const cur = acc[j];
    if (v < cur || cur !== cur) acc[j] = v;
  }
}

function maxG(x: Float64Array, s: Uint32Array, g: Int32Array, acc: Float64Array): void {
  for (let i = 0; i < s.length; i++) {
    const v = x[s[i]];
    const j = g[i];
    if (v > acc[j] || v !== v) acc[j] = v;
  }
}

// ---- merge and finalize ---------------------------------------------------------------

/** The empty state of an aggregate (no input rows). */
export function emptyState(fn: AggregateFn): AggState {
  switch (fn) {
    case 'count':
      return 0;
    case 'avg':
      return [0, 0];
    default:
      return null;
  }
}

/** An exact integer sum as a partial state carries it: past the int64 range (msgpack's), a decimal string. */
function wireSum(v: bigint): number | bigint | string {
  return v < INT64_MIN || v > INT64_MAX ? v.toString() : normalizeInt64(v);
}

/** sum / avg over an integer column: summed exactly (bigint past 2^53). */
const exactInt = (a: Acc): boolean => (a.fn === 'sum' || a.fn === 'avg') && a.type !== 'float64';

function addSums(a: AggState, b: AggState): AggState {
  if (a === null) return b;
  if (b === null) return a;
  if (typeof a === 'number' && typeof b === 'number') {
    const s = a + b;
    if (Number.isSafeInteger(s) || !Number.isInteger(a) || !Number.isInteger(b)) return s;
    return wireSum(BigInt(a) + BigInt(b));
  }
  const x = typeof a === 'string' ? BigInt(a) : (a as number | bigint);
  const y = typeof b === 'string' ? BigInt(b) : (b as number | bigint);
  if ((typeof x === 'number' && !Number.isInteger(x)) || (typeof y === 'number' && !Number.isInteger(y))) return Number(x) + Number(y);
  return wireSum(BigInt(x) + BigInt(y));
}

/** Merges one aggregate's two partial states. */
export function mergeState(fn: AggregateFn, a: AggState, b: AggState): AggState {
  switch (fn) {
    case 'count':
      return (a as number) + (b as number);
    case 'sum':
      return addSums(a, b);
    case 'avg': {
      const x = a as [number | bigint | string, number];
      const y = b as [number | bigint | string, number];
      return [addSums(x[0], y[0]) as number | bigint | string, x[1] + y[1]];
    }
    case 'min':
    case 'max': {
      if (a === null) return b;
      if (b === null) return a;
      const c = compareCells(a as Cell, b as Cell);
      return (fn === 'min' ? c <= 0 : c >= 0) ? a : b;
    }
  }
}

/**
 * Merges the partial groups of several shards (or of split inputs): groups with equal keys
 * (cellsEqual, NULL == NULL) combine (each part's keys are distinct, as PartialAggregator gives them). Without GROUP BY (groupByCount 0) the answer is exactly one
 * group, empty states when no part had one.
 */
export function mergeGroups(parts: readonly (readonly GroupState[])[], groupByCount: number, aggs: readonly AggregateSpec[]): GroupState[] {
  const nonEmpty = parts.filter((p) => p.length > 0);
  if (nonEmpty.length === 1 && groupByCount > 0) return nonEmpty[0].slice();
  const index = new Map<unknown, number>();
  const out: { key: Cell[]; states: AggState[] }[] = [];
  for (const part of nonEmpty) {
    for (const gs of part) {
      const k = groupByCount === 0 ? '' : groupByCount === 1 ? mapKey(gs.key[0]) : tupleKey(gs.key);
      const at = index.get(k);
      if (at === undefined) {
        index.set(k, out.length);
        out.push({ key: gs.key, states: gs.states.map((s) => (Array.isArray(s) ? [s[0], s[1]] : s)) as AggState[] });
      } else {
        const target = out[at];
        for (let i = 0; i < aggs.length; i++) target.states[i] = mergeState(aggs[i].fn, target.states[i], gs.states[i]);
      }
    }
  }
  if (groupByCount === 0 && out.length === 0) out.push({ key: [], states: aggs.map((a) => emptyState(a.fn)) });
  return out;
}

/**
 * A merged state → the answer cell. type: the aggregated column's type (anything for count(*)).
 * count → number; sum → int64/timestamp exact (bigint beyond 2^53), float64 number, NULL with no
 * input; avg → float64 or NULL; min/max → the cell.
 */
export function finalizeState(fn: AggregateFn, state: AggState, type: ColumnType): Cell {
  switch (fn) {
    case 'count':
      return typeof state === 'bigint' ? normalizeInt64(state) : (state as number);
    case 'avg': {
      const [sum, n] = state as [number | bigint | string, number];
      if (n === 0) return null;
      if (typeof sum === 'number') return sum / n;
      // Exact: the integer quotient, then the remainder's fraction (one rounding each).
      const big = BigInt(sum);
      const q = big / BigInt(n);
      return Number(q) + Number(big - q * BigInt(n)) / n;
    }
    case 'sum':
      if (state === null) return null;
      if (type === 'float64') return typeof state === 'bigint' || typeof state === 'string' ? Number(state) : (state as number);
      if (typeof state === 'string') return BigInt(state);
      return typeof state === 'bigint' ? normalizeInt64(state) : (state as number);
    default:
      if (typeof state === 'bigint') return normalizeInt64(state);
      return state as Cell;
  }
}

// ---- derived columns (expressions an aggregate reads, computed per batch) ----

/** The batch with derived column j appended at position columns.length + j (the input is not changed). */
export function withDerived(batch: Batch, derived: readonly DerivedExpr[]): Batch {
  const n = batch.length;
  const extra: Vector[] = derived.map((d) => {
    const { values, nulls } = evalDerived(d, batch, n);
    return { type: 'float64', values, nulls };
  });
  return { length: n, columns: [...batch.columns, ...extra], selection: batch.selection };
}

function evalDerived(e: DerivedExpr, batch: Batch, n: number): { values: Float64Array; nulls: Uint8Array | null } {
  switch (e.op) {
    case 'const':
      return { values: new Float64Array(n).fill(e.value), nulls: null };
    case 'col': {
      const v = vectorOf(batch, e.col);
      if (v.type !== 'int64' && v.type !== 'float64' && v.type !== 'timestamp') throw new Error(`assertion failed: a derived column reads a ${v.type} column`);
      const src = v.values;
      if (src instanceof Float64Array) return { values: src.length === n ? src : src.subarray(0, n), nulls: v.nulls };
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) out[i] = Number((src as BigInt64Array)[i]);
      return { values: out, nulls: v.nulls };
    }
    default: {
      const a = evalDerived(e.a, batch, n);
      const b = evalDerived(e.b, batch, n);
      const out = new Float64Array(n);
      const x = a.values;
      const y = b.values;
      if (e.op === '+') for (let i = 0; i < n; i++) out[i] = x[i] + y[i];
      else if (e.op === '-') for (let i = 0; i < n; i++) out[i] = x[i] - y[i];
      else for (let i = 0; i < n; i++) out[i] = x[i] * y[i];
      let nulls: Uint8Array | null = null;
      if (a.nulls !== null || b.nulls !== null) {
        nulls = new Uint8Array((n + 7) >> 3);
        if (a.nulls !== null) for (let i = 0; i < nulls.length; i++) nulls[i] |= a.nulls[i];
        if (b.nulls !== null) for (let i = 0; i < nulls.length; i++) nulls[i] |= b.nulls[i];
      }
      return { values: out, nulls };
    }
  }
}
