// The router's half of a table query: the shards answer sorted rows (by the
// order-by cells, then the primary key in its byte order) or partial
// aggregation groups; here the rows of every shard are merged as sorted runs
// and the page is cut (offset, limit), and groups are merged, finalized,
// ordered and cut.
//
// Order: NULLS LAST ascending, NULLS FIRST descending (as PostgreSQL); the
// primary key breaks ties in its own order (a column declared DESC in the key
// sorts descending), so pages are deterministic and a cursor — the last row's
// [order-by cells…, key cells…] — says exactly where the next page starts.

import { createHash } from 'node:crypto';
import { Packr } from 'msgpackr';
import { MantisError } from '../../shared/errors.js';
import { checkCell, compareNullsLast } from '../../shared/tables/cells.js';
import { finalizeState, mergeGroups } from '../../shared/tables/vector-agg.js';
import type { AggregateSpec, Cell, ColumnType, GroupState, OrderBy, Row, TableInfo } from '../../shared/tables/table-types.js';

const packr = new Packr({ useRecords: false, int64AsType: 'bigint', mapsAsObjects: true });

/** Compares rows by the cells at `at` (positions in the row), each ascending or descending. */
export type RowCompare = (a: Row, b: Row) => number;

export function rowComparator(at: readonly number[], desc: readonly boolean[]): RowCompare {
  const n = at.length;
  return (a, b) => {
    for (let i = 0; i < n; i++) {
      const c = compareNullsLast(a[at[i]], b[at[i]]);
      if (c !== 0) return desc[i] ? -c : c;
    }
    return 0;
  };
}

/** Merges sorted runs into one sorted list, stopping after `max` rows (0: all). */
export function mergeRuns(runs: readonly Row[][], compare: RowCompare, max: number): Row[] {
  const live = runs.filter((r) => r.length > 0);
  if (live.length === 0) return [];
  if (live.length === 1) return max === 0 ? live[0] : live[0].slice(0, max);
  const at = live.map(() => 0);
  const out: Row[] = [];
  const total = live.reduce((s, r) => s + r.length, 0);
  const want = max === 0 ? total : Math.min(max, total);
  while (out.length < want) {
    let best = -1;
    for (let i = 0; i < live.length; i++) {
      if (at[i] < live[i].length && (best < 0 || compare(live[i][at[i]], live[best][at[best]]) < 0)) best = i;
    }
    out.push(live[best][at[best]++]);
  }
  return out;
}

/** Groups of every shard merged and finalized: one output row per group, [group cells…, aggregate results…]. */
export function finalGroups(info: TableInfo, parts: GroupState[][], groupBy: readonly number[], aggregates: readonly AggregateSpec[], derived = 0): Row[] {
  const merged = mergeGroups(parts, groupBy.length, aggregates as AggregateSpec[]);
  const width = info.columns.length;
  // Derived columns (position width + j) are float64.
  const types: ColumnType[] = aggregates.map((a) => (a.col === null ? 'int64' : a.col >= width && a.col < width + derived ? 'float64' : info.columns[a.col].type));
  return merged.map((g) => {
    const row: Row = g.key.slice();
    for (let i = 0; i < aggregates.length; i++) row.push(finalizeState(aggregates[i].fn, g.states[i], types[i]));
    return row;
  });
}

/** The result type of an aggregate (what its cells are, over JSON). */
export function aggregateType(info: TableInfo, a: AggregateSpec): ColumnType {
  if (a.fn === 'count') return 'int64';
  if (a.fn === 'avg') return 'float64';
  return info.columns[a.col as number].type;
}

/** Checks a cursor tuple against the query's order-by and key types (CURSOR_INVALID otherwise). */
export function checkAfter(info: TableInfo, orderBy: readonly OrderBy[], keys: readonly number[], after: readonly Cell[]): void {
  const types = [...orderBy.map((o) => info.columns[o.col].type), ...keys.map((k) => info.columns[k].type)];
  if (after.length !== types.length) throw new MantisError('CURSOR_INVALID', '"cursor" does not fit this query (another order or table)');
  for (let i = 0; i < types.length; i++) {
    const cell = after[i];
    if (cell !== null && !checkCell(types[i], cell)) throw new MantisError('CURSOR_INVALID', '"cursor" does not fit this query (another order or table)');
  }
}

// ---- cursor tokens -------------------------------------------------------------------

const CURSOR_VERSION = 1;
const TOKEN_CHARS_MAX = 64 * 1024 * 1024;

/** A digest of what a cursor may be used with (table id and the query's shape as the client gave it). */
export function queryFingerprint(tableId: number, shape: unknown): string {
  return createHash('sha256').update(packr.pack([tableId, shape])).digest('base64url').slice(0, 16);
}

export function encodeCursor(fingerprint: string, after: readonly Cell[]): string {
  return Buffer.from(packr.pack([CURSOR_VERSION, fingerprint, after])).toString('base64url');
}

/** The tuple a cursor holds; CURSOR_INVALID unless it is a token of this query. */
export function decodeCursor(token: unknown, fingerprint: string): Cell[] {
  if (typeof token !== 'string' || token.length === 0 || token.length > TOKEN_CHARS_MAX || !/^[A-Za-z0-9_-]+$/.test(token)) {
    throw new MantisError('CURSOR_INVALID', '"cursor" must be a next_cursor token from a previous page');
  }
  let decoded: unknown;
  try {
    decoded = packr.unpack(Buffer.from(token, 'base64url'));
  } catch {
    throw new MantisError('CURSOR_INVALID', '"cursor" is not a cursor token (damaged or made up)');
  }
  if (!Array.isArray(decoded) || decoded.length !== 3 || decoded[0] !== CURSOR_VERSION || typeof decoded[1] !== 'string' || !Array.isArray(decoded[2])) {
    throw new MantisError('CURSOR_INVALID', '"cursor" is not a cursor token (damaged or made up)');
  }
  if (decoded[1] !== fingerprint) throw new MantisError('CURSOR_INVALID', '"cursor" belongs to another query (columns, where and order_by must stay the same between pages)');
  return (decoded[2] as unknown[]).map((c) => (c instanceof Uint8Array ? new Uint8Array(c) : (c as Cell)));
}
