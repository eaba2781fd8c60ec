// Secondary indexes of the columnar tables on one shard: the entries kept for
// every row, the planner that picks an index for a query, the index scan, and
// the backfill of an index created over rows already there.
//
// Entries (shared/tables/table-keys.ts): FF 'K' u32(table) u16(index) value pk slot(pk),
// empty value, the row's TTL as the LSM entry's (an entry expires with its row).
// - btree: value = encodeKeyCells of the indexed cells (NULL included: it sorts
//   after every value, as NULLS LAST), so a prefix scan walks the index in value
//   order, then primary-key byte order. Serves =, IN, is_null, ranges and
//   starts_with on a leading run of columns, and ORDER BY of the next column(s).
// - hash: value = 8 bytes of a 64-bit hash of those bytes. Serves = / IN /
//   is_null on every column (collisions only widen the candidates).
// - bloom: no entries; segments carry a bloom filter of the column (built by
//   the segment builder for bloomColumns) that pruning reads.
// Every row of the table has exactly one entry in each btree and hash index
// (rows are never multi-valued), kept beside the row (same slot, same shard,
// same WAL record). A row moving between the delta and a segment keeps its
// entries (they name the primary key, not the place). Bounds are a superset:
// the caller always re-applies the filter to the rows it fetches.
//
// A new index is maintained by every write from the moment its catalog entry
// arrives; the backfill adds the rows already there in bounded steps, its
// position in a build-state key written with the entries:
//   FF 'N' u32(table) u16(index) → 01 + position (building), 00 (built), 02 + message (failed)
// Runs inside a shard.

import { MantisError } from '../../shared/errors.js';
import { encodeKeyCells, skipKeyCells } from '../../shared/tables/key-cells.js';
import { INDEX_HEADER_BYTES, INDEX_VALUE_BYTES_MAX, SLOT_BYTES, indexEntryKey, indexPrefix, prefixEnd, uniquePrefix } from '../../shared/tables/table-keys.js';
import type { Cell, ColumnType, OrderBy, Predicate, Row, TableIndexDef, TableInfo } from '../../shared/tables/table-types.js';
import { evalRow } from '../../shared/tables/vector-filter.js';
import type { DeleteOp, PutOp } from '../../shared/wire.js';
import { fmix32 } from '../lsm/bloom.js';
import type { LsmStore } from '../lsm/index.js';
import { binaryToKey, keyToBinary } from '../store/memtable.js';
import { packValue, TABLE_CONTENT_TYPE, unpackValue } from './table-catalog.js';

type Write = PutOp | DeleteOp;

/** Longest value part of a btree entry (an index key must stay a small LSM key). */
export { INDEX_VALUE_BYTES_MAX };
/** A hash index entry's value: 64 bits. */
export const HASH_BYTES = 8;
/** Most key ranges one plan may have (IN × IN); past it, later columns are left unbounded. */
export const PLAN_RANGES_MAX = 1000;

const NO_VALUE = new Uint8Array(0);
const NULL_TAG = 0x02;
const VALUE_TAG = 0x01;

// ── compiled indexes ────────────────────────────────────────────────────────

/** An index with its column positions and types resolved. */
export type CompiledIndex = {
  readonly def: TableIndexDef;
  readonly cols: readonly number[];
  readonly types: readonly ColumnType[];
};

const compiledCache = new WeakMap<TableInfo, CompiledIndex[]>();

/** The btree and hash indexes of a table (any state: a building index is maintained too). */
export function entryIndexes(info: TableInfo): CompiledIndex[] {
  let out = compiledCache.get(info);
  if (out === undefined) {
    out = [];
    for (const def of info.indexes) {
      if (def.type === 'bloom') continue;
      out.push(compileIndex(info, def));
    }
    compiledCache.set(info, out);
  }
  return out;
}

function compileIndex(info: TableInfo, def: TableIndexDef): CompiledIndex {
  const cols = def.columns.map((name) => {
    const at = info.columns.findIndex((c) => c.name === name);
    if (at < 0) throw new Error(`assertion failed: index ${def.name} names column ${name}, which table ${info.name} does not have`);
    return at;
  });
  return { def, cols, types: cols.map((c) => info.columns[c].type) };
}

/** Column positions with a bloom index (segments built from now on carry a bloom filter of each). */
export function bloomColumns(info: TableInfo): number[] {
  const out: number[] = [];
  for (const def of info.indexes) {
    if (def.type !== 'bloom') continue;
    const at = info.columns.findIndex((c) => c.name === def.columns[0]);
    if (at >= 0 && !out.includes(at)) out.push(at);
  }
  return out.sort((a, b) => a - b);
}

/** Does the table have an index whose entries writes must keep (btree or hash)? */
export function hasEntryIndexes(info: TableInfo): boolean {
  return entryIndexes(info).length > 0;
}

// ── entry values ────────────────────────────────────────────────────────────

const scratchCells: Cell[] = [];

/** The value part of a row's entry in `ix`: key bytes of its cells, or their hash. */
export function entryValue(ix: CompiledIndex, row: Row): Uint8Array {
  scratchCells.length = ix.cols.length;
  for (let i = 0; i < ix.cols.length; i++) scratchCells[i] = row[ix.cols[i]] ?? null;
  const bytes = encodeKeyCells(ix.types, scratchCells);
  return ix.def.type === 'hash' ? hash64(bytes) : bytes;
}

/** The hash index value of the key bytes of a value tuple. */
export function hash64(bytes: Uint8Array): Uint8Array {
  let h1 = 0x811c9dc5;
  let h2 = 0x9747b28c;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    h1 = Math.imul(h1 ^ b, 0x01000193);
    h2 = Math.imul(h2 ^ b, 0x5bd1e995);
    h2 ^= h2 >>> 15;
  }
  // Final mixes (murmur3 fmix32) so close inputs spread over the whole range.
  h1 = fmix32(h1 ^ bytes.length);
  h2 = fmix32(h2 ^ h1);
  const out = new Uint8Array(HASH_BYTES);
  out[0] = h1 >>> 24;
  out[1] = (h1 >>> 16) & 0xff;
  out[2] = (h1 >>> 8) & 0xff;
  out[3] = h1 & 0xff;
  out[4] = h2 >>> 24;
  out[5] = (h2 >>> 16) & 0xff;
  out[6] = (h2 >>> 8) & 0xff;
  out[7] = h2 & 0xff;
  return out;
}


function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function tooLarge(info: TableInfo, ix: CompiledIndex, bytes: number): MantisError {
  return new MantisError(
    'KEY_TOO_LARGE',
    `index "${ix.def.name}" of table "${info.name}": the indexed value takes ${bytes} bytes, over the ${INDEX_VALUE_BYTES_MAX}-byte limit of index keys`,
    { index: ix.def.name, column: ix.def.columns[0] },
  );
}

/**
 * The index entry writes of one row change: the row with primary key `pkBytes` (encodePk) and
 * slot goes from oldRow to newRow (null: absent), with the new row's LSM expiry `expiresAtMs`
 * (0: none) and the old one's. Only the difference is written: an update that leaves the
 * indexed columns and the expiry alone writes nothing. Appends to `out` and returns it.
 * REQUIRES: oldRow and newRow have the same primary key (a key change is a delete and an insert:
 * two calls). Throws KEY_TOO_LARGE when a btree value is over INDEX_VALUE_BYTES_MAX.
 */
export function indexEntryWrites(
  info: TableInfo,
  oldRow: Row | null,
  newRow: Row | null,
  pkBytes: Uint8Array,
  slot: number,
  expiresAtMs = 0,
  oldExpiresAtMs = expiresAtMs,
  out: Write[] = [],
): Write[] {
  const indexes = entryIndexes(info);
  for (let i = 0; i < indexes.length; i++) {
    const ix = indexes[i];
    const oldValue = oldRow === null ? null : entryValue(ix, oldRow);
    const newValue = newRow === null ? null : entryValue(ix, newRow);
    if (oldValue !== null && newValue !== null && sameBytes(oldValue, newValue)) {
      if (expiresAtMs !== oldExpiresAtMs) out.push(entryPut(info.id, ix, newValue, pkBytes, slot, expiresAtMs));
      continue;
    }
    if (newValue !== null && newValue.length > INDEX_VALUE_BYTES_MAX) throw tooLarge(info, ix, newValue.length);
    if (oldValue !== null) out.push({ kind: 'delete', key: indexEntryKey(info.id, ix.def.id, oldValue, pkBytes, slot) });
    if (newValue !== null) out.push(entryPut(info.id, ix, newValue, pkBytes, slot, expiresAtMs));
  }
  return out;
}

function entryPut(tableId: number, ix: CompiledIndex, value: Uint8Array, pkBytes: Uint8Array, slot: number, expiresAtMs: number): PutOp {
  return { kind: 'put', key: indexEntryKey(tableId, ix.def.id, value, pkBytes, slot), contentType: TABLE_CONTENT_TYPE, expiresAtMs, value: NO_VALUE };
}

/** Where the value part of an entry key of `ix` ends (the primary key starts there). */
export function entryValueEnd(ix: CompiledIndex, key: Uint8Array): number {
  return ix.def.type === 'hash' ? INDEX_HEADER_BYTES + HASH_BYTES : skipKeyCells(ix.types, key, INDEX_HEADER_BYTES);
}

/** The pk bytes of an entry key of `ix` (a view into `key`). */
export function pkOfEntryKey(ix: CompiledIndex, key: Uint8Array): Uint8Array {
  return key.subarray(entryValueEnd(ix, key), key.length - SLOT_BYTES);
}

// ── the planner ─────────────────────────────────────────────────────────────

/** A key range of index entries: [start, end) as LSM binary keys. */
export type EntryRange = readonly [start: string, end: string];

export type IndexPlan = {
  readonly index: TableIndexDef;
  readonly compiled: CompiledIndex;
  /** Sorted, disjoint entry-key ranges; the rows they name are a superset of the matches. */
  readonly ranges: readonly EntryRange[];
  /** Leading index columns pinned to one value each (=, IN of one, is_null). */
  readonly pointColumns: number;
  /** The index also bounds the column after the pinned ones (a range or starts_with). */
  readonly rangeColumn: boolean;
  /**
   * The entries come in the query's ORDER BY order (visited backwards when `reverse`) as far as
   * the order-by cells go; rows tied on them may come in any order (scanIndex marks each new
   * run of ties, so a caller stopping at a limit stops only between runs).
   */
  readonly coversSort: boolean;
  readonly reverse: boolean;
  /** Index columns whose bytes mark a new run of ties (pinned + order-by columns); 0 when !coversSort. */
  readonly groupColumns: number;
  /** For explain / stats: 'INDEX <name>'. */
  readonly describe: string;
};

type ColBounds = {
  /** Candidate values of the column, as component bytes (an =, IN or is_null); null: none given. */
  points: Uint8Array[] | null;
  /** [lo, hi) in component bytes from ranges and starts_with; null: no range condition. */
  lo: Uint8Array | null;
  hi: Uint8Array | null;
};

/**
 * The index plan for a query, or null for a scan. hint '$scan' forces a scan; the name of an index
 * forces that index (scanned whole when the predicate gives it no bounds: every row has an entry);
 * null lets the planner choose among the ready btree and hash indexes. orderBy and limit let an
 * index that yields rows in order serve a top-k. Throws BAD_QUERY for a hint naming no usable
 * index.
 */
export function chooseIndex(info: TableInfo, where: Predicate | null, hint: string | null, orderBy: readonly OrderBy[] = [], limit = 0): IndexPlan | null {
  if (hint === '$scan') return null;
  const conds = collectBounds(info, where);
  if (hint !== null) {
    const def = info.indexes.find((i) => i.name === hint);
    if (def === undefined) throw new MantisError('BAD_QUERY', `hint: table "${info.name}" has no index named "${hint}"`, { index: hint });
    if (def.state !== 'ready') throw new MantisError('BAD_QUERY', `hint: index "${hint}" is still being built`, { index: hint });
    if (def.type === 'bloom') return null;
    const ix = entryIndexes(info).find((c) => c.def.id === def.id) as CompiledIndex;
    return planFor(info, ix, conds, orderBy, limit, true)?.plan ?? null;
  }
  let best: { plan: IndexPlan; score: number } | null = null;
  for (const ix of entryIndexes(info)) {
    if (ix.def.state !== 'ready') continue;
    const c = planFor(info, ix, conds, orderBy, limit, false);
    if (c !== null && (best === null || c.score > best.score)) best = c;
  }
  return best?.plan ?? null;
}

/** What the AND-ed leaves of `where` say per column (OR / NOT subtrees give no bounds). */
function collectBounds(info: TableInfo, where: Predicate | null): Map<number, ColBounds> {
  const out = new Map<number, ColBounds>();
  const visit = (p: Predicate): void => {
    if ('and' in p) {
      for (const part of p.and) visit(part);
      return;
    }
    if ('or' in p || 'not' in p) return;
    const type = info.columns[p.col]?.type;
    if (type === undefined) return;
    let b = out.get(p.col);
    if (b === undefined) {
      b = { points: null, lo: null, hi: null };
      out.set(p.col, b);
    }
    switch (p.op) {
      case '=':
        // x = a AND x = b: the first is a superset of the answer (nothing or the same).
        if (b.points === null || b.points.length !== 1) b.points = [componentBytes(type, p.value)];
        return;
      case 'in':
        if (b.points === null) b.points = dedupeBytes(p.value.map((v) => componentBytes(type, v)));
        return;
      case 'is_null':
        if (b.points === null) b.points = [Uint8Array.of(NULL_TAG)];
        return;
      case '>':
        return raiseLo(b, prefixEndOrAll(componentBytes(type, p.value)));
      case '>=':
        return raiseLo(b, componentBytes(type, p.value));
      case '<':
        return lowerHi(b, componentBytes(type, p.value));
      case '<=':
        return lowerHi(b, prefixEndOrAll(componentBytes(type, p.value)));
      case 'starts_with': {
        if (type !== 'string') return;
        // A string's bytes are 01 escaped-UTF-8 00: every string with this prefix starts with the
        // prefix's bytes without their terminator. A trailing lone high surrogate may pair with
        // the string's next unit (other bytes): bound by the prefix without it.
        const last = p.value.charCodeAt(p.value.length - 1);
        const prefix = last >= 0xd800 && last <= 0xdbff ? p.value.slice(0, -1) : p.value;
        const full = componentBytes(type, prefix);
        const head = full.subarray(0, full.length - 1);
        raiseLo(b, head);
        lowerHi(b, prefixEndOrAll(head));
        return;
      }
      default:
        return; // != not_in is_not_null: no bounds
    }
  };
  if (where !== null) visit(where);
  return out;
}

function componentBytes(type: ColumnType, cell: Cell): Uint8Array {
  return encodeKeyCells([type], [cell]);
}

/** The end of every key starting with `bytes` (never null: component bytes never are all 0xFF). */
function prefixEndOrAll(bytes: Uint8Array): Uint8Array {
  return prefixEnd(bytes) ?? Uint8Array.of(0xff);
}

function raiseLo(b: ColBounds, lo: Uint8Array): void {
  if (b.lo === null || compareBytes(lo, b.lo) > 0) b.lo = lo;
}

function lowerHi(b: ColBounds, hi: Uint8Array): void {
  if (b.hi === null || compareBytes(hi, b.hi) < 0) b.hi = hi;
}

function dedupeBytes(list: Uint8Array[]): Uint8Array[] {
  const sorted = list.slice().sort(compareBytes);
  const out: Uint8Array[] = [];
  for (const v of sorted) if (out.length === 0 || !sameBytes(out[out.length - 1], v)) out.push(v);
  return out;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function planFor(
  info: TableInfo,
  ix: CompiledIndex,
  conds: Map<number, ColBounds>,
  orderBy: readonly OrderBy[],
  limit: number,
  forced: boolean,
): { plan: IndexPlan; score: number } | null {
  const head = indexPrefix(info.id, ix.def.id);
  const name = `INDEX ${ix.def.name}`;
  if (ix.def.type === 'hash') {
    // Every column needs candidate values (an IN () leaves none: no entry can match).
    let tuples: Uint8Array[] | null = [new Uint8Array(0)];
    for (const col of ix.cols) {
      const points = conds.get(col)?.points ?? null;
      if (points === null || tuples.length * points.length > PLAN_RANGES_MAX) {
        tuples = null;
        break;
      }
      const current: Uint8Array[] = tuples;
      tuples = current.flatMap((t) => points.map((p) => concat(t, p)));
    }
    if (tuples === null) {
      if (!forced) return null;
      return { plan: basePlan(ix, [prefixRange(head)], 0, false, name), score: 0 };
    }
    const ranges = normalize(tuples.map((t) => prefixRange(concat(head, hash64(t)))));
    const score = ix.cols.length * 4 + (ix.def.unique ? 1 : 0);
    return { plan: basePlan(ix, ranges, ix.cols.length, false, name), score };
  }
  // btree: points on a leading run of columns, then maybe one range.
  let prefixes: Uint8Array[] = [head];
  let pointColumns = 0;
  let singlePoints = 0;
  let range: { lo: Uint8Array; hi: Uint8Array } | null = null;
  for (let i = 0; i < ix.cols.length; i++) {
    const b = conds.get(ix.cols[i]);
    if (b === undefined) break;
    if (b.points !== null && prefixes.length * b.points.length <= PLAN_RANGES_MAX) {
      const points = b.points;
      prefixes = prefixes.flatMap((p) => points.map((v) => concat(p, v)));
      if (singlePoints === pointColumns && points.length === 1) singlePoints++;
      pointColumns++;
      continue;
    }
    if (b.points === null && (b.lo !== null || b.hi !== null)) {
      // Comparisons and starts_with never match NULL: from the first value (01) to before NULL (02).
      range = { lo: b.lo ?? Uint8Array.of(VALUE_TAG), hi: b.hi ?? Uint8Array.of(NULL_TAG) };
    }
    break;
  }
  const sort = sortCover(ix, singlePoints, pointColumns, orderBy);
  if (!forced && pointColumns === 0 && range === null && !(sort.covers && limit > 0)) return null;
  const ranges =
    range === null
      ? normalize(prefixes.map(prefixRange))
      : normalize(prefixes.map((p): EntryRange => [keyToBinary(concat(p, (range as { lo: Uint8Array }).lo)), keyToBinary(concat(p, (range as { hi: Uint8Array }).hi))]));
  const score = pointColumns * 4 + (range !== null ? 2 : 0) + (sort.covers ? 1 : 0) + (ix.def.unique && pointColumns === ix.cols.length ? 1 : 0);
  const plan: IndexPlan = {
    ...basePlan(ix, ranges, pointColumns, range !== null, name),
    coversSort: sort.covers,
    reverse: sort.covers && sort.reverse,
    groupColumns: sort.covers ? singlePoints + sort.columns : 0,
  };
  return { plan, score };
}

function basePlan(ix: CompiledIndex, ranges: EntryRange[], pointColumns: number, rangeColumn: boolean, describe: string): IndexPlan {
  return { index: ix.def, compiled: ix, ranges, pointColumns, rangeColumn, coversSort: false, reverse: false, groupColumns: 0, describe };
}

/**
 * Does walking the index give the ORDER BY order? The order-by columns must be the index columns
 * right after those pinned to single values, all in one direction (backwards for DESC: NULLS
 * FIRST then, as the entries hold NULL last). With no ORDER BY nothing needs covering.
 */
function sortCover(ix: CompiledIndex, singlePoints: number, pointColumns: number, orderBy: readonly OrderBy[]): { covers: boolean; reverse: boolean; columns: number } {
  const no = { covers: false, reverse: false, columns: 0 };
  if (orderBy.length === 0) return no;
  // Several values on a pinned column interleave the runs: not in order.
  if (pointColumns > singlePoints) return no;
  const desc = orderBy[0].desc;
  let j = 0;
  for (; j < orderBy.length; j++) {
    const i = singlePoints + j;
    if (i >= ix.cols.length || ix.cols[i] !== orderBy[j].col || orderBy[j].desc !== desc) break;
  }
  // Order-by columns not in the index (past its columns) are ties the caller orders itself.
  if (j === 0) return no;
  return { covers: true, reverse: desc, columns: j };
}

function prefixRange(prefix: Uint8Array): EntryRange {
  return [keyToBinary(prefix), keyToBinary(prefixEndOrAll(prefix))];
}

/** Sorted by start, empty ones dropped, overlapping ones merged. */
function normalize(ranges: EntryRange[]): EntryRange[] {
  const sorted = ranges.filter(([s, e]) => s < e).sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  const out: [string, string][] = [];
  for (const [s, e] of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && s <= last[1]) {
      if (e > last[1]) last[1] = e;
    } else out.push([s, e]);
  }
  return out;
}

// ── index scans ─────────────────────────────────────────────────────────────

/**
 * visit(pkBytes, slot, newGroup): one entry's row; newGroup is true when its order-by cells
 * differ from the previous entry's (always true when the plan does not cover the sort). Answer
 * false to stop.
 */
export type IndexVisitor = (pkBytes: Uint8Array, slot: number, newGroup: boolean) => boolean;

/** Walks the plan's entries in index order (backwards when plan.reverse); returns how many it met. */
export function scanIndex(store: LsmStore, plan: IndexPlan, nowMs: number, visit: IndexVisitor): number {
  const ix = plan.compiled;
  const groupTypes = ix.types.slice(0, plan.groupColumns);
  let previous: Uint8Array | null = null;
  let examined = 0;
  const one = (bin: string): boolean => {
    examined++;
    const key = binaryToKey(bin);
    const valueEnd = entryValueEnd(ix, key);
    let newGroup = true;
    if (plan.groupColumns > 0) {
      const group = key.subarray(INDEX_HEADER_BYTES, skipKeyCells(groupTypes, key, INDEX_HEADER_BYTES));
      newGroup = previous === null || !sameBytes(previous, group);
      previous = group;
    }
    const slot = (key[key.length - 2] << 8) | key[key.length - 1];
    return visit(key.subarray(valueEnd, key.length - SLOT_BYTES), slot, newGroup);
  };
  if (!plan.reverse) {
    for (const [start, end] of plan.ranges) {
      let go = true;
      store.scan(start, false, end, nowMs, (bin) => (go = one(bin)));
      if (!go) break;
    }
    return examined;
  }
  const keys: string[] = [];
  for (const [start, end] of plan.ranges) {
    store.scan(start, false, end, nowMs, (bin) => {
      keys.push(bin);
      return true;
    });
  }
  for (let i = keys.length - 1; i >= 0; i--) if (!one(keys[i])) break;
  return examined;
}

/**
 * The pk bytes the plan's entries name, in index order. limit > 0: stops once it has `limit` and
 * the next entry starts a new run of order-by ties (exact only when every entry matches; callers
 * that re-filter use scanIndex and count matches instead).
 */
export function lookupKeys(store: LsmStore, plan: IndexPlan, nowMs: number, limit = 0): { pk: Uint8Array; slot: number }[] {
  const out: { pk: Uint8Array; slot: number }[] = [];
  scanIndex(store, plan, nowMs, (pk, slot, newGroup) => {
    if (limit > 0 && out.length >= limit && newGroup) return false;
    out.push({ pk, slot });
    return true;
  });
  return out;
}

/**
 * As lookupKeys, but null once the plan names more than `cap` rows: past a few percent of a
 * table, fetching rows one by one costs more than the vectorized scan (and all of it runs in one
 * shard turn), so a planner's choice (not a hint) should fall back to the scan. A cap of about
 * max(2,000, table rows / 16) suits.
 */
export function lookupKeysCapped(store: LsmStore, plan: IndexPlan, nowMs: number, cap: number): { pk: Uint8Array; slot: number }[] | null {
  const out: { pk: Uint8Array; slot: number }[] = [];
  let over = false;
  scanIndex(store, plan, nowMs, (pk, slot) => {
    if (out.length >= cap) {
      over = true;
      return false;
    }
    out.push({ pk, slot });
    return true;
  });
  return over ? null : out;
}

/**
 * The rows an index plan names that match `where`, in index order, each fetched by `fetch` (the
 * engine's point lookup: null when the row is gone). With limit > 0 and a plan that covers the
 * ORDER BY it stops once `limit` rows matched and the next entry starts a new run of ties, so the
 * top-k (ties broken by the caller) is among the rows. cap > 0: null once more than `cap`
 * entries would be fetched (fall back to the scan). examined: entries met.
 */
export function indexRows(
  store: LsmStore,
  plan: IndexPlan,
  where: Predicate | null,
  nowMs: number,
  fetch: (pkBytes: Uint8Array, slot: number) => Row | null,
  limit = 0,
  cap = 0,
): { rows: Row[]; examined: number } | null {
  const rows: Row[] = [];
  const early = limit > 0 && plan.coversSort;
  let examined = 0;
  let over = false;
  scanIndex(store, plan, nowMs, (pk, slot, newGroup) => {
    if (early && newGroup && rows.length >= limit) return false;
    if (cap > 0 && examined >= cap) {
      over = true;
      return false;
    }
    examined++;
    const row = fetch(pk, slot);
    if (row !== null && (where === null || evalRow(where, row))) rows.push(row);
    return true;
  });
  return over ? null : { rows, examined };
}

// ── build state, backfill, drops ────────────────────────────────────────────

const BUILD_TAG = 0x4e; // 'N'
const BUILDING = 1;
const BUILT = 0;
const FAILED = 2;

/** The build-state key of an index on this shard. */
export function indexBuildKey(tableId: number, indexId: number): Uint8Array {
  const key = new Uint8Array(8);
  key[0] = 0xff;
  key[1] = BUILD_TAG;
  new DataView(key.buffer).setUint32(2, tableId);
  new DataView(key.buffer).setUint16(6, indexId);
  return key;
}

/** Every build-state key of a table starts with this (a table drop deletes them). */
export function indexBuildPrefix(tableId: number): Uint8Array {
  return indexBuildKey(tableId, 0).subarray(0, 6);
}

/** The key prefixes a dropped index leaves to delete: its entries and its unique entries on this shard. */
export function indexDropPrefixes(tableId: number, indexId: number): Uint8Array[] {
  return [indexPrefix(tableId, indexId), uniquePrefix(tableId, indexId)];
}

/** Index ids `prev` has that `next` has not (the same table): dropped indexes. */
export function indexesRemoved(prev: TableInfo | null, next: TableInfo): number[] {
  if (prev === null || prev.id !== next.id) return [];
  const now = new Set(next.indexes.map((i) => i.id));
  return prev.indexes.filter((i) => !now.has(i.id)).map((i) => i.id);
}

/**
 * Writes that start the backfill of the btree and hash indexes new in `next` (bloom indexes need
 * none: segments built from now on carry their filters) and forget the build state of dropped
 * ones. Log them with the catalog entry; then call IndexBuilds.catalogChanged.
 */
export function indexCatalogWrites(prev: TableInfo | null, next: TableInfo): Write[] {
  const writes: Write[] = [];
  const before = new Set(prev !== null && prev.id === next.id ? prev.indexes.map((i) => i.id) : []);
  for (const def of next.indexes) {
    if (before.has(def.id) || def.type === 'bloom') continue;
    writes.push(stateWrite(next.id, def.id, Uint8Array.of(BUILDING)));
  }
  for (const id of indexesRemoved(prev, next)) writes.push({ kind: 'delete', key: indexBuildKey(next.id, id) });
  return writes;
}

function stateWrite(tableId: number, indexId: number, value: Uint8Array): PutOp {
  return { kind: 'put', key: indexBuildKey(tableId, indexId), contentType: TABLE_CONTENT_TYPE, expiresAtMs: 0, value };
}

/** An index's build on this shard: built (or never needed one), building, or failed with a reason. */
export type BuildState = { readonly state: 'built' } | { readonly state: 'building' } | { readonly state: 'failed'; readonly error: string };

export function buildStateOf(store: LsmStore, tableId: number, indexId: number, nowMs: number): BuildState {
  const entry = store.get(indexBuildKey(tableId, indexId), nowMs);
  if (entry === undefined || entry.value.length === 0 || entry.value[0] === BUILT) return { state: 'built' };
  if (entry.value[0] === FAILED) return { state: 'failed', error: new TextDecoder().decode(entry.value.subarray(1)) };
  return { state: 'building' };
}

/**
 * The builds not finished on this shard by index name, as ShardTableStats.indexBuilds wants them:
 * 'building' or 'failed: <reason>' (a built index, or one that needs no build, is absent).
 */
export function indexBuildsOf(store: LsmStore, info: TableInfo, nowMs: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const def of info.indexes) {
    if (def.type === 'bloom') continue;
    const s = buildStateOf(store, info.id, def.id, nowMs);
    if (s.state === 'building') out[def.name] = 'building';
    else if (s.state === 'failed') out[def.name] = `failed: ${s.error}`;
  }
  return out;
}

/**
 * Where a backfill is. Rows are visited segment by segment in segment-id order (a segment's rows
 * by row number), then the delta in key order. Segment ids only grow, so rows the mover or a
 * compaction moves during the build land in a segment after `segDone` and are visited too; a row
 * met twice is harmless (its entry is keyed by value and primary key).
 */
type BuildPosition = {
  /** Segments with an id up to this one are done (-1: none). */
  segDone: number;
  /** The segment in progress and the next row of it, or null. */
  seg: number | null;
  row: number;
  /** The last delta key visited (binary string), or null. */
  delta: string | null;
};

/** What the backfill needs of the shard's table data (workers/tables/table-data.ts TableData). */
export interface BackfillRows {
  readonly info: TableInfo;
  /** Live segment ids, ascending. */
  segmentIds(): number[];
  /** Rows of segment `segId` from row `from` (live ones only), until visit answers false. False if the segment is gone. */
  segmentRows(segId: number, from: number, nowMs: number, visit: (row: Row, rowIdx: number, pk: Uint8Array, slot: number, expiresAtMs: number) => boolean): boolean;
  /** Live delta rows after key `after` (binary, exclusive; null: from the first) in key order, until visit answers false. */
  deltaRows(after: string | null, nowMs: number, visit: (key: string, row: Row, pk: Uint8Array, slot: number, expiresAtMs: number) => boolean): void;
}

/** Rows one backfill step indexes at most, and its time budget. */
export const BACKFILL_ROWS_MAX = 4000;
export const BACKFILL_BUDGET_MS = 15;

type Build = { readonly tableId: number; readonly indexId: number; position: BuildPosition };

const START: BuildPosition = { segDone: -1, seg: null, row: 0, delta: null };

/**
 * The backfills of new indexes on this shard. The engine calls catalogChanged after every
 * catalog change it applied (and at open), step from its background work, and tableDropped
 * when a table goes.
 */
export class IndexBuilds {
  private builds: Build[] = [];

  constructor(
    private readonly store: LsmStore,
    private readonly log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void = () => undefined,
    private readonly rowsPerStep = BACKFILL_ROWS_MAX,
  ) {}

  /** Re-reads which indexes of these tables still need their backfill here (their build-state keys). */
  catalogChanged(tables: readonly TableInfo[], nowMs: number): void {
    const builds: Build[] = [];
    for (const info of tables) {
      for (const def of info.indexes) {
        if (def.type === 'bloom') continue;
        const entry = this.store.get(indexBuildKey(info.id, def.id), nowMs);
        if (entry === undefined || entry.value.length === 0 || entry.value[0] !== BUILDING) continue;
        // The stored position is the truth: a step's position is written with its entries.
        const position = entry.value.length > 1 ? unpackValue<BuildPosition>(entry.value.slice(1)) : { ...START };
        builds.push({ tableId: info.id, indexId: def.id, position });
      }
    }
    this.builds = builds;
  }

  tableDropped(tableId: number): void {
    this.builds = this.builds.filter((b) => b.tableId !== tableId);
  }

  busy(): boolean {
    return this.builds.length > 0;
  }

  /** Tables with a backfill to do (the engine hands step the rows of the first). */
  nextTable(): number | null {
    return this.builds.length === 0 ? null : this.builds[0].tableId;
  }

  /**
   * One bounded backfill step of the first pending build, over `rows` (the data of its table):
   * appends the entries and the new build state to `writes` (log them as one record). A row that
   * cannot be indexed (a value over the key limit) fails the build: nothing but the failed state
   * is written. Returns whether builds remain.
   */
  step(rows: BackfillRows, nowMs: number, writes: Write[]): boolean {
    const build = this.builds[0];
    if (build === undefined) return false;
    const info = rows.info;
    const def = info.indexes.find((i) => i.id === build.indexId);
    if (info.id !== build.tableId || def === undefined) {
      this.builds.shift();
      return this.builds.length > 0;
    }
    const ix = entryIndexes(info).find((c) => c.def.id === def.id) as CompiledIndex;
    const deadline = Date.now() + BACKFILL_BUDGET_MS;
    const from = writes.length;
    const pos = build.position;
    let n = 0;
    let failure: string | null = null;
    const add = (row: Row, pk: Uint8Array, slot: number, expiresAtMs: number): boolean => {
      const value = entryValue(ix, row);
      if (value.length > INDEX_VALUE_BYTES_MAX) {
        failure = tooLarge(info, ix, value.length).message;
        return false;
      }
      writes.push(entryPut(info.id, ix, value, pk.slice(), slot, expiresAtMs));
      return ++n < this.rowsPerStep && (n % 64 !== 0 || Date.now() < deadline);
    };
    let finished = false;
    // Segment ids only grow while segments exist; if none is left at or past segDone, ids may
    // start over (every segment compacted away, then a restart): begin again, which is harmless.
    const present = rows.segmentIds();
    if (pos.segDone >= 0 && !present.some((id) => id >= pos.segDone)) Object.assign(pos, START);
    for (;;) {
      if (pos.seg === null) {
        const next = rows.segmentIds().find((id) => id > pos.segDone);
        if (next !== undefined) {
          pos.seg = next;
          pos.row = 0;
        }
      }
      if (pos.seg !== null) {
        const segId: number = pos.seg;
        let cut = false;
        const segPresent = rows.segmentRows(segId, pos.row, nowMs, (row, rowIdx, pk, slot, expiresAtMs) => {
          pos.row = rowIdx + 1;
          if (!add(row, pk, slot, expiresAtMs)) cut = true;
          return !cut;
        });
        if (failure !== null) break;
        if (cut && segPresent) break;
        pos.segDone = segId;
        pos.seg = null;
        pos.row = 0;
        continue;
      }
      let cut = false;
      rows.deltaRows(pos.delta, nowMs, (key, row, pk, slot, expiresAtMs) => {
        pos.delta = key;
        if (!add(row, pk, slot, expiresAtMs)) cut = true;
        return !cut;
      });
      if (failure !== null || cut) break;
      // The delta is done; the mover may have made a segment of rows not visited yet meanwhile.
      if (rows.segmentIds().some((id) => id > pos.segDone)) continue;
      finished = true;
      break;
    }
    if (failure !== null) {
      writes.length = from;
      const message = new TextEncoder().encode(failure);
      const value = new Uint8Array(1 + message.length);
      value[0] = FAILED;
      value.set(message, 1);
      writes.push(stateWrite(info.id, def.id, value));
      this.builds.shift();
      this.log('warn', 'table index build failed on this shard', { table: info.name, index: def.name, error: failure });
      return this.builds.length > 0;
    }
    if (finished) {
      writes.push(stateWrite(info.id, def.id, Uint8Array.of(BUILT)));
      this.builds.shift();
      this.log('info', 'table index built on this shard', { table: info.name, index: def.name });
      return this.builds.length > 0;
    }
    const packed = packValue(pos);
    const value = new Uint8Array(1 + packed.length);
    value[0] = BUILDING;
    value.set(packed, 1);
    writes.push(stateWrite(info.id, def.id, value));
    return true;
  }

  /** A step's writes were refused (a transaction holds a key) or rolled back: go on from the stored positions. */
  forgetPositions(tables: readonly TableInfo[], nowMs: number): void {
    this.catalogChanged(tables, nowMs);
  }
}

/** Deletes up to `max` keys of a dropped index (its entries, then its unique entries); true when none is left. */
export function dropIndexStep(store: LsmStore, tableId: number, indexId: number, nowMs: number, max: number, writes: Write[]): boolean {
  let budget = max;
  for (const prefix of indexDropPrefixes(tableId, indexId)) {
    const bin = keyToBinary(prefix);
    const keys = store.list(bin, null, 0, budget, nowMs).keys;
    for (const k of keys) writes.push({ kind: 'delete', key: binaryToKey(k) });
    budget -= keys.length;
    if (budget <= 0) return false;
  }
  return true;
}
