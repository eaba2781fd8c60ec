// Vectorized WHERE: a Predicate over a Batch → a selection vector (Uint32Array
// of row positions, ascending) of the rows where it is TRUE.
//
// SQL three-valued logic: a comparison with a NULL operand is UNKNOWN; NOT
// UNKNOWN is UNKNOWN; AND is FALSE if any side is FALSE, OR is TRUE if any
// side is TRUE; only TRUE selects. Evaluation is on selections: evalSel(p,
// sel, want) answers the rows of `sel` where p is `want` (TRUE, or FALSE for
// the inside of a NOT), so NOT needs no per-row state: NOT p is FALSE exactly
// where p is TRUE. AND narrows the selection child by child; OR (and AND
// under NOT) collects each child's hits on the rows no earlier child decided.
//
// Leaves never look at a row twice and allocate no per-row objects:
// - numeric vectors (Float64Array: int64, timestamp, float64) run one tight
//   loop per operator over the selection (NULL rows removed first when the
//   vector has a null bitmap);
// - dictionary-coded strings evaluate the leaf once per dictionary entry into
//   a 0/1 table, then select by code; booleans the same with a 2-entry table;
// - plain strings, binary and BigInt64Array vectors go row by row through the
//   compiled leaf (compareCells' orders).
// Orders are cells.ts's: float64 NaN equals itself and is above every number.

import { assert } from '../errors.js';
import { compareCells } from './cells.js';
import type { Batch, Cell, NullBitmap, Predicate, Row, Vector } from './table-types.js';
import { normalizeInt64 } from './table-types.js';
import { cellAt } from './vector-rows.js';

// ---- compiled leaves --------------------------------------------------------

const OP_EQ = 0;
const OP_NE = 1;
const OP_LT = 2;
const OP_LE = 3;
const OP_GT = 4;
const OP_GE = 5;
const OP_CODES: Record<string, number> = { '=': OP_EQ, '!=': OP_NE, '<': OP_LT, '<=': OP_LE, '>': OP_GT, '>=': OP_GE };
/** The operator that holds exactly where `op` does not (on non-null values, in a total order). */
const OP_INVERSE = [OP_NE, OP_EQ, OP_GE, OP_GT, OP_LE, OP_LT];

const K_CMP = 0;
const K_IN = 1;
const K_NOT_IN = 2;
const K_IS_NULL = 3;
const K_NOT_NULL = 4;
const K_PREFIX = 5;

// Truth values of a leaf on one row.
const FALSE = 0;
const TRUE = 1;
const UNKNOWN = 2;

type Leaf = {
  readonly col: number;
  readonly kind: number;
  readonly op: number;
  readonly value: Cell;
  /** The comparison value for Float64Array vectors (a bigint int64 beyond 2^53 still orders right as a number). */
  readonly num: number;
  /** in / not_in: the list's non-null values by setKey. */
  readonly set: Set<unknown> | null;
  /** in / not_in: numbers of the list for Float64Array vectors. */
  readonly numSet: Set<number> | null;
  readonly listHasNull: boolean;
};

const compiled = new WeakMap<object, Leaf>();

function setKey(c: Cell): unknown {
  switch (typeof c) {
    case 'bigint':
      return normalizeInt64(c);
    case 'object':
      return c === null ? null : Buffer.from(c.buffer, c.byteOffset, c.byteLength).toString('latin1');
    default:
      return c;
  }
}

type LeafPredicate = Exclude<Predicate, { and: unknown } | { or: unknown } | { not: unknown }>;

function leafOf(p: LeafPredicate): Leaf {
  let leaf = compiled.get(p);
  if (leaf !== undefined) return leaf;
  let kind = K_CMP;
  let op = 0;
  let num = 0;
  let set: Set<unknown> | null = null;
  let numSet: Set<number> | null = null;
  let listHasNull = false;
  let value: Cell = null;
  switch (p.op) {
    case 'in':
    case 'not_in':
      kind = p.op === 'in' ? K_IN : K_NOT_IN;
      set = new Set();
      numSet = new Set();
      for (const c of p.value) {
        if (c === null) listHasNull = true;
        else {
          const key = setKey(c);
          set.add(key);
          if (typeof key === 'number') numSet.add(key);
        }
      }
      break;
    case 'is_null':
      kind = K_IS_NULL;
      break;
    case 'is_not_null':
      kind = K_NOT_NULL;
      break;
    case 'starts_with':
      kind = K_PREFIX;
      value = p.value;
      break;
    default:
      op = OP_CODES[p.op];
      assert(op !== undefined, `unknown predicate op ${String(p.op)}`);
      value = p.value;
      assert(value !== null, 'comparison with NULL in a predicate');
      num = typeof value === 'bigint' ? Number(value) : typeof value === 'number' ? value : 0;
  }
  leaf = { col: p.col, kind, op, value, num, set, numSet, listHasNull };
  compiled.set(p, leaf);
  return leaf;
}

function opHolds(op: number, c: number): boolean {
  switch (op) {
    case OP_EQ:
      return c === 0;
    case OP_NE:
      return c !== 0;
    case OP_LT:
      return c < 0;
    case OP_LE:
      return c <= 0;
    case OP_GT:
      return c > 0;
    default:
      return c >= 0;
  }
}

/** The truth of a leaf on one non-null cell (is_null kinds excluded). */
function testCell(leaf: Leaf, cell: Cell): number {
  switch (leaf.kind) {
    case K_CMP:
      return opHolds(leaf.op, compareCells(cell, leaf.value)) ? TRUE : FALSE;
    case K_IN:
      return (leaf.set as Set<unknown>).has(setKey(cell)) ? TRUE : leaf.listHasNull ? UNKNOWN : FALSE;
    case K_NOT_IN:
      return (leaf.set as Set<unknown>).has(setKey(cell)) ? FALSE : leaf.listHasNull ? UNKNOWN : TRUE;
    default:
      return (cell as string).startsWith(leaf.value as string) ? TRUE : FALSE;
  }
}

function leafTruth(leaf: Leaf, cell: Cell): number {
  if (leaf.kind === K_IS_NULL) return cell === null ? TRUE : FALSE;
  if (leaf.kind === K_NOT_NULL) return cell === null ? FALSE : TRUE;
  return cell === null ? UNKNOWN : testCell(leaf, cell);
}

// ---- single rows --------------------------------------------------------------

/** The predicate's truth on one row: TRUE 1, FALSE 0, UNKNOWN 2. */
export function truthOfRow(p: Predicate, row: Row): number {
  if ('and' in p) {
    let out = TRUE;
    for (const c of p.and) {
      const t = truthOfRow(c, row);
      if (t === FALSE) return FALSE;
      if (t === UNKNOWN) out = UNKNOWN;
    }
    return out;
  }
  if ('or' in p) {
    let out = FALSE;
    for (const c of p.or) {
      const t = truthOfRow(c, row);
      if (t === TRUE) return TRUE;
      if (t === UNKNOWN) out = UNKNOWN;
    }
    return out;
  }
  if ('not' in p) {
    const t = truthOfRow(p.not, row);
    return t === UNKNOWN ? UNKNOWN : t === TRUE ? FALSE : TRUE;
  }
  const leaf = leafOf(p);
  return leafTruth(leaf, row[leaf.col] ?? null);
}

/** Does the row satisfy the predicate (TRUE; FALSE and UNKNOWN do not)? Same semantics as filterBatch. */
export function evalRow(p: Predicate, row: Row): boolean {
  return truthOfRow(p, row) === TRUE;
}

// ---- batches ------------------------------------------------------------------

let identityBuf = new Uint32Array(0);
let scratchBuf = new Uint32Array(0);

/**
 * The loops' output buffer, shared: each loop fills it, then returns an exact-size copy (slice), so
 * a batch costs allocations the size of its results, not of its input.
 */
function scratch(n: number): Uint32Array {
  if (scratchBuf.length < n) scratchBuf = new Uint32Array(Math.max(n, 65536));
  return scratchBuf;
}

/** 0, 1, …, n-1 (a shared read-only buffer). */
function identity(n: number): Uint32Array {
  if (identityBuf.length < n) {
    identityBuf = new Uint32Array(Math.max(n, 65536));
    for (let i = 0; i < identityBuf.length; i++) identityBuf[i] = i;
  }
  return identityBuf.subarray(0, n);
}

/**
 * The rows of the batch (within batch.selection, if any) where `p` is TRUE. Answers null when that
 * is every row of a batch without a selection, else a new selection (possibly empty).
 */
export function filterBatch(batch: Batch, p: Predicate): Uint32Array | null {
  const input = batch.selection ?? identity(batch.length);
  const out = evalSel(batch, p, input, TRUE);
  if (batch.selection === null && out.length === batch.length) return null;
  return out;
}

/** The rows of `sel` where p has truth `want` (TRUE or FALSE). The result may be `sel` itself. */
function evalSel(batch: Batch, p: Predicate, sel: Uint32Array, want: number): Uint32Array {
  if ('and' in p) return want === TRUE ? chain(batch, p.and, sel, want) : union(batch, p.and, sel, want);
  if ('or' in p) return want === TRUE ? union(batch, p.or, sel, want) : chain(batch, p.or, sel, want);
  if ('not' in p) return evalSel(batch, p.not, sel, want === TRUE ? FALSE : TRUE);
  return evalLeaf(batch, leafOf(p), sel, want);
}

/** Every child has truth `want`: narrow child by child. */
function chain(batch: Batch, children: readonly Predicate[], sel: Uint32Array, want: number): Uint32Array {
  let s = sel;
  for (const c of children) {
    if (s.length === 0) break;
    s = evalSel(batch, c, s, want);
  }
  return s;
}

/** Some child has truth `want`: each child sees only the rows no earlier child claimed. */
function union(batch: Batch, children: readonly Predicate[], sel: Uint32Array, want: number): Uint32Array {
  let remaining = sel;
  let parts: Uint32Array[] | null = null;
  let first: Uint32Array | null = null;
  for (const c of children) {
    if (remaining.length === 0) break;
    const hit = evalSel(batch, c, remaining, want);
    if (hit.length === 0) continue;
    if (hit.length === remaining.length) {
      remaining = new Uint32Array(0);
    } else {
      remaining = difference(remaining, hit);
    }
    if (first === null) first = hit;
    else (parts ??= [first]).push(hit);
  }
  if (first === null) return new Uint32Array(0);
  if (parts === null) return first;
  // Disjoint sorted parts → one sorted selection, in `sel` order.
  const mark = new Uint8Array(batch.length);
  let total = 0;
  for (const part of parts) {
    total += part.length;
    for (let i = 0; i < part.length; i++) mark[part[i]] = 1;
  }
  const out = new Uint32Array(total);
  let m = 0;
  for (let i = 0; i < sel.length; i++) {
    const r = sel[i];
    out[m] = r;
    m += mark[r];
  }
  return out;
}

/** a \ b, both ascending, b ⊆ a. */
function difference(a: Uint32Array, b: Uint32Array): Uint32Array {
  const out = new Uint32Array(a.length - b.length);
  let j = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const r = a[i];
    if (j < b.length && b[j] === r) j++;
    else out[m++] = r;
  }
  return out;
}

function dropNulls(sel: Uint32Array, nulls: Uint8Array): Uint32Array {
  const out = scratch(sel.length);
  let m = 0;
  for (let i = 0; i < sel.length; i++) {
    const r = sel[i];
    out[m] = r;
    m += ((nulls[r >> 3] >> (r & 7)) & 1) ^ 1;
  }
  return m === sel.length ? sel : out.slice(0, m);
}

function keepNulls(sel: Uint32Array, nulls: NullBitmap): Uint32Array {
  if (nulls === null) return new Uint32Array(0);
  const out = scratch(sel.length);
  let m = 0;
  for (let i = 0; i < sel.length; i++) {
    const r = sel[i];
    out[m] = r;
    m += (nulls[r >> 3] >> (r & 7)) & 1;
  }
  return out.slice(0, m);
}

function evalLeaf(batch: Batch, leaf: Leaf, sel: Uint32Array, want: number): Uint32Array {
  const v = batch.columns[leaf.col];
  assert(v !== undefined, `filter: column ${leaf.col} not loaded`);
  if (leaf.kind === K_IS_NULL || leaf.kind === K_NOT_NULL) {
    const selectNull = (leaf.kind === K_IS_NULL) === (want === TRUE);
    if (selectNull) return keepNulls(sel, v.nulls);
    return v.nulls === null ? sel : dropNulls(sel, v.nulls);
  }
  // Every other leaf is UNKNOWN on NULL rows: neither TRUE nor FALSE.
  const s = v.nulls === null ? sel : dropNulls(sel, v.nulls);
  if (s.length === 0) return s;
  if (v.type === 'string' && 'codes' in v) return byTable(s, v.codes, tableOf(leaf, v.dict, want));
  if (v.type === 'boolean') {
    const table = new Uint8Array(256);
    const f = testCell(leaf, false) === want ? 1 : 0;
    const t = testCell(leaf, true) === want ? 1 : 0;
    table.fill(t);
    table[0] = f;
    return byTable(s, v.values, table);
  }
  if (v.values instanceof Float64Array && leaf.kind !== K_PREFIX) return numericLeaf(v.values, v.type === 'float64', leaf, s, want);
  return byRow(v, leaf, s, want);
}

function tableOf(leaf: Leaf, dict: readonly string[], want: number): Uint8Array {
  const table = new Uint8Array(dict.length);
  for (let i = 0; i < dict.length; i++) table[i] = testCell(leaf, dict[i]) === want ? 1 : 0;
  return table;
}

function byTable(sel: Uint32Array, codes: Uint8Array | Uint16Array | Uint32Array, table: Uint8Array): Uint32Array {
  const out = scratch(sel.length);
  let m = 0;
  for (let i = 0; i < sel.length; i++) {
    const r = sel[i];
    out[m] = r;
    m += table[codes[r]];
  }
  return out.slice(0, m);
}

function byRow(v: Vector, leaf: Leaf, sel: Uint32Array, want: number): Uint32Array {
  const out = scratch(sel.length);
  let m = 0;
  for (let i = 0; i < sel.length; i++) {
    const r = sel[i];
    if (testCell(leaf, cellAt(v, r)) === want) out[m++] = r;
  }
  return out.slice(0, m);
}

// ---- numeric loops ---------------------------------------------------------------

function numericLeaf(values: Float64Array, isFloat: boolean, leaf: Leaf, sel: Uint32Array, want: number): Uint32Array {
  if (leaf.kind === K_IN || leaf.kind === K_NOT_IN) {
    // IN is TRUE on a hit, else FALSE (UNKNOWN when the list holds NULL); NOT IN the reverse.
    const hitTruth = leaf.kind === K_IN ? TRUE : FALSE;
    const missTruth = leaf.listHasNull ? UNKNOWN : leaf.kind === K_IN ? FALSE : TRUE;
    const set = leaf.numSet as Set<number>;
    if (hitTruth === want) return inSet(values, sel, set, 1);
    if (missTruth === want) return inSet(values, sel, set, 0);
    return new Uint32Array(0);
  }
  const op = want === TRUE ? leaf.op : OP_INVERSE[leaf.op];
  const k = leaf.num;
  if (isFloat && k !== k) {
    // Against NaN (the greatest value, equal to itself).
    switch (op) {
      case OP_EQ:
      case OP_GE:
        return nanSel(values, sel, 1);
      case OP_NE:
      case OP_LT:
        return nanSel(values, sel, 0);
      case OP_LE:
        return sel;
      default:
        return new Uint32Array(0);
    }
  }
  const out = scratch(sel.length);
  let m: number;
  switch (op) {
    case OP_EQ:
      m = selEq(values, sel, k, out);
      break;
    case OP_NE:
      m = selNe(values, sel, k, out);
      break;
    case OP_LT:
      m = selLt(values, sel, k, out);
      break;
    case OP_LE:
      m = selLe(values, sel, k, out);
      break;
    case OP_GT:
      m = isFloat ? selGtNaN(values, sel, k, out) : selGt(values, sel, k, out);
      break;
    default:
      m = isFloat ? selGeNaN(values, sel, k, out) : selGe(values, sel, k, out);
  }
  return out.slice(0, m);
}

function selEq(v: Float64Array, sel: Uint32Array, k: number, out: Uint32Array): number {
  let m = 0;
  for (let i = 0; i < sel.length; i++) {
    const r = sel[i];
    out[m] = r;
    m += v[r] === k ? 1 : 0;
  }
  return m;
}

function selNe(v: Float64Array, sel: Uint32Array, k: number, out: Uint32Array): number {
  let m = 0;
  for (let i = 0; i < sel.length; i++) {
    const r = sel[i];
    out[m] = r;
    m += v[r] !== k ? 1 : 0;
  }
  return m;
}

function selLt(v: Float64Array, sel: Uint32Array, k: number, out: Uint32Array): number {
  let m = 0;
  for (let i = 0; i < sel.length; i++) {
    const r = sel[i];
    out[m] = r;
    m += v[r] < k ? 1 : 0;
  }
  return m;
}

function selLe(v: Float64Array, sel: Uint32Array, k: number, out: Uint32Array): number {
  let m = 0;
  for (let i = 0; i < sel.length; i++) {
    const r = sel[i];
    out[m] = r;
    m += v[r] <= k ? 1 : 0;
  }
  return m;
}

function selGt(v: Float64Array, sel: Uint32Array, k: number, out: Uint32Array): number {
  let m = 0;
  for (let i = 0; i < sel.length; i++) {
    const r = sel[i];
    out[m] = r;
    m += v[r] > k ? 1 : 0;
  }
  return m;
}

function selGe(v: Float64Array, sel: Uint32Array, k: number, out: Uint32Array): number {
  let m = 0;
  for (let i = 0; i < sel.length; i++) {
    const r = sel[i];
    out[m] = r;
    m += v[r] >= k ? 1 : 0;
  }
  return m;
}

/** float64 `> k`: NaN is above every number. */
function selGtNaN(v: Float64Array, sel: Uint32Array, k: number, out: Uint32Array): number {
  let m = 0;
  for (let i = 0; i < sel.length; i++) {
    const r = sel[i];
    const x = v[r];
    out[m] = r;
    m += x > k || x !== x ? 1 : 0;
  }
  return m;
}

function selGeNaN(v: Float64Array, sel: Uint32Array, k: number, out: Uint32Array): number {
  let m = 0;
  for (let i = 0; i < sel.length; i++) {
    const r = sel[i];
    const x = v[r];
    out[m] = r;
    m += x >= k || x !== x ? 1 : 0;
  }
  return m;
}

/** Rows whose value is NaN (isNaN 1) or is not (0). */
function nanSel(v: Float64Array, sel: Uint32Array, isNaN: number): Uint32Array {
  const out = scratch(sel.length);
  let m = 0;
  for (let i = 0; i < sel.length; i++) {
    const r = sel[i];
    const x = v[r];
    out[m] = r;
    m += (x !== x ? 1 : 0) === isNaN ? 1 : 0;
  }
  return out.slice(0, m);
}

/** Rows whose value is in the set (hit 1) or not (hit 0). */
function inSet(v: Float64Array, sel: Uint32Array, set: Set<number>, hit: number): Uint32Array {
  const out = scratch(sel.length);
  let m = 0;
  for (let i = 0; i < sel.length; i++) {
    const r = sel[i];
    out[m] = r;
    m += (set.has(v[r]) ? 1 : 0) === hit ? 1 : 0;
  }
  return out.slice(0, m);
}
