// ORDER BY … LIMIT k over batches: keeps the k best rows seen so far in a
// binary heap (worst on top), in the order of the order-by cells then the
// primary-key cells (so ties break deterministically and pages do not
// overlap). ASC puts NULLs last, DESC first (PostgreSQL's defaults); key
// columns follow the table's key order (keyDesc). `after` is a cursor: only
// rows strictly after that tuple count. limit 0 keeps every row (then sorts).
//
// Rows are built only for rows that enter the heap. Once the heap is full,
// each batch is first narrowed with a loop over the leading sort column
// against the current worst row (and the cursor), so most rows of a large
// scan are rejected without being looked at cell by cell.

import { assert } from '../errors.js';
import { compareCells, compareOrdered } from './cells.js';
import type { Batch, Cell, OrderBy, Row, Vector } from './table-types.js';
import { cellAt } from './vector-rows.js';

type Entry = { readonly sort: Cell[]; readonly row: Row };

const KEEP_NOT_AFTER = 0;
const KEEP_NOT_BEFORE = 1;

export class TopK {
  private readonly sortCols: number[];
  private readonly desc: boolean[];
  private readonly limit: number;
  private readonly after: Cell[] | null;
  /** limit > 0: a max-heap by order (worst first); limit 0: every entry, unsorted. */
  private readonly heap: Entry[] = [];

  constructor(orderBy: readonly OrderBy[], keyCols: readonly number[], limit: number, after: Cell[] | null, keyDesc: readonly boolean[] = []) {
    this.sortCols = [...orderBy.map((o) => o.col), ...keyCols];
    this.desc = [...orderBy.map((o) => o.desc), ...keyCols.map((_, i) => keyDesc[i] === true)];
    this.limit = limit;
    this.after = after;
    assert(after === null || after.length === this.sortCols.length, 'top-k: the cursor tuple must hold the order-by and key cells');
  }

  /** Offers the selected rows of a batch; `columns` are the positions each kept row holds. */
  addBatch(batch: Batch, columns: readonly number[]): void {
    const sortVecs = this.sortCols.map((c) => vectorOf(batch, c));
    const outVecs = columns.map((c) => vectorOf(batch, c));
    let sel = batch.selection ?? identity(batch.length);
    const first = sortVecs[0];
    if (first !== undefined && first.type !== 'string' && first.type !== 'binary' && first.values instanceof Float64Array) {
      if (this.after !== null) sel = narrow(first.values, first.nulls, sel, this.after[0], this.desc[0], KEEP_NOT_BEFORE);
      if (this.limit > 0 && this.heap.length >= this.limit) sel = narrow(first.values, first.nulls, sel, this.heap[0].sort[0], this.desc[0], KEEP_NOT_AFTER);
    }
    const n = sortVecs.length;
    for (let i = 0; i < sel.length; i++) {
      const r = sel[i];
      if (this.after !== null && this.compareRow(sortVecs, r, this.after) <= 0) continue;
      const full = this.limit > 0 && this.heap.length >= this.limit;
      if (full && this.compareRow(sortVecs, r, this.heap[0].sort) >= 0) continue;
      const sort: Cell[] = new Array<Cell>(n);
      for (let j = 0; j < n; j++) sort[j] = cellAt(sortVecs[j], r);
      const row: Row = new Array<Cell>(outVecs.length);
      for (let j = 0; j < outVecs.length; j++) row[j] = cellAt(outVecs[j], r);
      const entry = { sort, row };
      if (this.limit === 0) this.heap.push(entry);
      else if (full) this.replaceTop(entry);
      else this.push(entry);
    }
  }

  /** The kept rows, best first (sorted: false, limit 0: in arrival order, for callers that sort themselves). */
  rows(sorted = true): Row[] {
    if (!sorted && this.limit === 0) return this.heap.map((e) => e.row);
    const entries = this.heap.slice();
    entries.sort((a, b) => this.compareEntries(a, b));
    return entries.map((e) => e.row);
  }

  // ---- order ---------------------------------------------------------------------

  private compareEntries(a: Entry, b: Entry): number {
    for (let j = 0; j < this.sortCols.length; j++) {
      const c = compareOrdered(a.sort[j], b.sort[j], this.desc[j]);
      if (c !== 0) return c;
    }
    return 0;
  }

  /** Row r of the batch against a tuple of sort cells. */
  private compareRow(vecs: Vector[], r: number, tuple: readonly Cell[]): number {
    for (let j = 0; j < vecs.length; j++) {
      const c = compareOrdered(cellAt(vecs[j], r), tuple[j], this.desc[j]);
      if (c !== 0) return c;
    }
    return 0;
  }

  // ---- heap (worst at index 0) -------------------------------------------------------

  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.compareEntries(h[i], h[p]) <= 0) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  private replaceTop(e: Entry): void {
    const h = this.heap;
    h[0] = e;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.compareEntries(h[l], h[m]) > 0) m = l;
      if (r < h.length && this.compareEntries(h[r], h[m]) > 0) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m], h[i]];
      i = m;
    }
  }
}

function vectorOf(batch: Batch, col: number): Vector {
  const v = batch.columns[col];
  assert(v !== undefined, `top-k: column ${col} not loaded`);
  return v;
}

let identityBuf = new Uint32Array(0);
function identity(n: number): Uint32Array {
  if (identityBuf.length < n) {
    identityBuf = new Uint32Array(Math.max(n, 65536));
    for (let i = 0; i < identityBuf.length; i++) identityBuf[i] = i;
  }
  return identityBuf.subarray(0, n);
}

/**
 * The rows of `sel` whose leading sort value is, in the ORDER BY order, not after `t`
 * (KEEP_NOT_AFTER) or not before it (KEEP_NOT_BEFORE). Ties stay: the full comparison decides them.
 */
function narrow(v: Float64Array, nulls: Uint8Array | null, sel: Uint32Array, t: Cell, desc: boolean, mode: number): Uint32Array {
  const out = new Uint32Array(sel.length);
  const tNull = t === null;
  const tv = typeof t === 'number' ? t : typeof t === 'bigint' ? Number(t) : 0;
  const sign = desc ? -1 : 1;
  let m = 0;
  for (let i = 0; i < sel.length; i++) {
    const r = sel[i];
    let c: number;
    if (nulls !== null && ((nulls[r >> 3] >> (r & 7)) & 1) === 1) c = tNull ? 0 : 1;
    else if (tNull) c = -1;
    else {
      const x = v[r];
      c = x < tv ? -1 : x > tv ? 1 : x === tv ? 0 : compareCells(x, tv);
    }
    c *= sign;
    out[m] = r;
    m += (mode === KEEP_NOT_AFTER ? c <= 0 : c >= 0) ? 1 : 0;
  }
  return out.subarray(0, m);
}
