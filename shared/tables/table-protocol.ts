// The columnar tables' messages between the router and a shard. They ride the
// ring as one request kind (`tbl`) and one response kind (`tbl-result`) whose
// body is a TableCommand / TableAnswer packed with msgpackr (int64 cells travel
// as bigint or number, binary as bytes).
//
// Rows travel as Row arrays (one cell per table column, table order) except on
// insert, where each row is already in its stored form (row-codec.ts) so the
// shard stores the bytes it gets.

import { Packr } from 'msgpackr';
import type { DerivedExpr, AggregateSpec, Cell, GroupState, OrderBy, Predicate, Row, TableInfo, ZoneMap } from './table-types.js';

const packr = new Packr({ useRecords: false, int64AsType: 'bigint', mapsAsObjects: true });

export type OnConflict = 'error' | 'replace' | 'ignore';

/** Per-shard counters of a query (stats, explain). */
export type ScanStats = {
  /** 'SCAN' | 'PK' (primary-key lookup) | 'INDEX' */
  readonly plan: string;
  readonly index: string | null;
  readonly segmentsTotal: number;
  /** Segments skipped by zone maps or bloom filters. */
  readonly segmentsPruned: number;
  readonly rowsScanned: number;
  readonly deltaRows: number;
};

export type QueryCommand = {
  readonly op: 'query';
  readonly table: string;
  readonly tableId: number;
  /** Column positions to answer when not aggregating (the shard adds order-by and key columns: see answer). */
  readonly columns: readonly number[];
  readonly where: Predicate | null;
  /** Aggregating when groupBy or aggregates is non-empty: the answer has groups, no rows. */
  readonly groupBy: readonly number[];
  readonly aggregates: readonly AggregateSpec[];
  /** Rows in any order (no limit, no cursor): the shard does not sort them (SQL scans feeding joins). */
  readonly unordered?: boolean;
  /** Derived float64 columns aggregates may name (position columns.length + j); absent: none. */
  readonly derived?: readonly DerivedExpr[];
  /** Row order; the primary key always breaks ties (so paging is deterministic). */
  readonly orderBy: readonly OrderBy[];
  /** The most rows to answer (offset + limit of the page; 0 = all). */
  readonly limit: number;
  /** Cursor: answer only rows whose [order-by cells…, key cells…] come after this tuple. */
  readonly after: Cell[] | null;
  /** Force a plan: '$scan' (no index), an index name, or null (the planner chooses). */
  readonly hint: string | null;
};

export type TableCommand =
  | { readonly op: 'catalog-put'; readonly info: TableInfo }
  /** Removes the catalog entry; the table's keys and segment files are deleted in the background. */
  | { readonly op: 'catalog-drop'; readonly name: string; readonly id: number }
  | { readonly op: 'catalog-get' }
  /**
   * All-or-nothing on this shard. rows: stored forms (encodeRow) of full rows (defaults applied,
   * types checked by the router); rowIndex: each row's index in the client's request (errors name
   * it). ttlMs: row time-to-live (0: the table's default; < 0: none).
   */
  | {
      readonly op: 'insert';
      readonly table: string;
      readonly tableId: number;
      readonly rows: readonly Uint8Array[];
      readonly rowIndex: readonly number[];
      readonly onConflict: OnConflict;
      readonly ttlMs: number;
    }
  /** Deletes rows by primary key (cells in key order); the router's undo of a refused batch, CQL DELETE. */
  | { readonly op: 'delete-keys'; readonly table: string; readonly tableId: number; readonly keys: readonly Cell[][] }
  /**
   * Sets columns (position → cell) on every matching row. Sliced: at most LIMIT rows per answer;
   * `resume` (opaque, from the previous answer) goes on; every matching row is changed exactly once
   * across slices. upsertKey: CQL UPDATE of one row by full primary key, creating it when absent.
   * ttlMs > 0: the rows' TTL from now. cellTtl (CQL): the TTL is the written cells' (Cassandra's),
   * so a row's expiry only moves later, and ttlMs ≤ 0 (no TTL) makes a changed row permanent;
   * without it (HTTP) ttlMs ≤ 0 keeps each row's expiry. A row the update creates: ttlMs < 0 none,
   * 0 the table's default.
   */
  | {
      readonly op: 'update';
      readonly table: string;
      readonly tableId: number;
      readonly where: Predicate | null;
      readonly set: readonly [number, Cell][];
      readonly resume: Uint8Array | null;
      readonly upsertKey: Cell[] | null;
      readonly ttlMs: number;
      readonly cellTtl?: boolean;
    }
  | { readonly op: 'delete'; readonly table: string; readonly tableId: number; readonly where: Predicate | null; readonly resume: Uint8Array | null }
  /** Rows by primary key (the point-lookup fast path). */
  | { readonly op: 'get'; readonly table: string; readonly tableId: number; readonly keys: readonly Cell[][]; readonly columns: readonly number[] }
  | QueryCommand
  | { readonly op: 'stats'; readonly table: string; readonly tableId: number }
  /** Run the mover on this table now (tests, operations): answers when the delta is in segments. */
  | { readonly op: 'move'; readonly table: string; readonly tableId: number }
  /** Unique-index entries owned by this shard (slot of the value tuple): claim or release them. */
  | { readonly op: 'unique-claim'; readonly table: string; readonly tableId: number; readonly index: number; readonly entries: readonly { readonly values: Cell[]; readonly key: Cell[] }[] }
  | { readonly op: 'unique-release'; readonly table: string; readonly tableId: number; readonly index: number; readonly entries: readonly { readonly values: Cell[]; readonly key: Cell[] }[] }
  | TxnTableCommand;

/**
 * A key write inside a transaction: a put (value, expiry) or a delete (value null). The shard plans
 * them; the router buffers them in the transaction and sends them to the shard at commit.
 */
export type TxnKeyWrite = { readonly key: Uint8Array; readonly value: Uint8Array | null; readonly expiresAtMs: number };

/** What a transaction does to a table on one shard (planned there, applied at commit). */
export type TxnTableAction =
  | { readonly kind: 'insert'; readonly rows: readonly Uint8Array[]; readonly rowIndex: readonly number[]; readonly onConflict: OnConflict; readonly ttlMs: number }
  | { readonly kind: 'update'; readonly where: Predicate | null; readonly set: readonly [number, Cell][]; readonly ttlMs: number }
  | { readonly kind: 'delete'; readonly where: Predicate | null }
  | { readonly kind: 'get'; readonly keys: readonly Cell[][]; readonly columns: readonly number[] }
  | { readonly kind: 'query'; readonly query: QueryCommand };

/**
 * A table operation inside a transaction, planned at its snapshot: the shard reads the table as
 * it was at snapshotTs (the version store corrects the current keys), with the transaction's own
 * writes of this table on this shard (`overlay`) on top, and answers the key writes the operation
 * makes (nothing is applied) or the rows read. Reads nothing, writes nothing: not a write command.
 */
export type TxnTableCommand = {
  readonly op: 'txn';
  readonly table: string;
  readonly tableId: number;
  readonly snapshotTs: number;
  readonly overlay: readonly TxnKeyWrite[];
  readonly action: TxnTableAction;
};

/** The answer to a `txn` command. */
export type TxnTableAnswer = {
  readonly ok: true;
  readonly op: 'txn';
  /** The answer the plain command would give (insert counts, affected, get rows, query rows/groups). */
  readonly result: TableAnswer;
  /** The key writes to buffer; `row` indexes `keyCells` (the row each write belongs to, for conflict messages). */
  readonly writes: readonly (TxnKeyWrite & { readonly row: number })[];
  readonly keyCells: readonly Cell[][];
  /**
   * Segment entry keys (shard-local) to validate at commit whatever the isolation: the segments whose
   * rows the writes delete-mark (a compaction that rewrote one since the snapshot aborts the commit),
   * and the table's catalog entry when there are writes (a schema change aborts it).
   */
  readonly validate: readonly Uint8Array[];
};

/** One shard's statistics of a table (the router sums them). */
export type ShardTableStats = {
  readonly rows: number;
  readonly deltaRows: number;
  readonly segments: number;
  readonly segmentRows: number;
  readonly deletedRows: number;
  readonly bytesOnDisk: number;
  readonly bytesInMemory: number;
  /** Per column: plain (uncompressed) bytes, stored bytes, and stored and plain bytes per encoding. */
  readonly columns: readonly {
    readonly name: string;
    readonly plainBytes: number;
    readonly storedBytes: number;
    readonly encodings: Readonly<Record<string, number>>;
    readonly encodingsPlain?: Readonly<Record<string, number>>;
    readonly zone: ZoneMap | null;
  }[];
  readonly zoneMapChecks: number;
  readonly zoneMapPrunes: number;
  readonly bloomChecks: number;
  readonly bloomPrunes: number;
  /** Per index name: lookups served. */
  readonly indexHits: Readonly<Record<string, number>>;
  readonly lastMove: { readonly atMs: number; readonly rows: number; readonly ms: number } | null;
  /**
   * Index builds not finished on this shard, by index name: 'building', or 'failed: <reason>'.
   * An index absent here is built on this shard (the router marks an index ready once no shard
   * lists it; a failed build is dropped and answered 400 BAD_QUERY).
   */
  readonly indexBuilds?: Readonly<Record<string, string>>;
};

export type TableAnswer =
  | { readonly ok: true; readonly op: 'catalog-put' | 'catalog-drop' | 'unique-release' }
  /** more: the shard moved what its turn's budget allowed and delta rows remain: send `move` again. */
  | { readonly ok: true; readonly op: 'move'; readonly more?: boolean }
  | { readonly ok: true; readonly op: 'catalog-get'; readonly tables: TableInfo[]; readonly dropped: number[] }
  | { readonly ok: true; readonly op: 'insert'; readonly inserted: number; readonly replaced: number; readonly ignored: number; readonly insertedKeys: Cell[][] }
  | { readonly ok: true; readonly op: 'delete-keys'; readonly deleted: number }
  | { readonly ok: true; readonly op: 'update' | 'delete'; readonly affected: number; readonly resume: Uint8Array | null }
  | { readonly ok: true; readonly op: 'get'; readonly rows: (Row | null)[] }
  /**
   * rows: when not aggregating; each row holds the cells of `columns` (positions: the asked
   * columns, then any order-by and key columns not among them), sorted by order-by then key, at
   * most `limit`. groups: when aggregating, partial states to merge.
   */
  | { readonly ok: true; readonly op: 'query'; readonly columns: number[]; readonly rows: Row[]; readonly groups: GroupState[]; readonly stats: ScanStats }
  | { readonly ok: true; readonly op: 'stats'; readonly stats: ShardTableStats }
  /** conflicts: for each refused entry, its index in `entries` and the key holding it. */
  | { readonly ok: true; readonly op: 'unique-claim'; readonly conflicts: { readonly entry: number; readonly key: Cell[] }[] }
  | TxnTableAnswer
  /**
   * A refusal. code: an ErrorCode (TABLE_NOT_FOUND, DUPLICATE_KEY, …); details name the column and
   * the client's row index where there is one.
   */
  | { readonly ok: false; readonly code: string; readonly message: string; readonly details?: Readonly<Record<string, string | number>> };

export function encodeTableCommand(command: TableCommand): Uint8Array {
  return packr.pack(command);
}

export function decodeTableCommand(bytes: Uint8Array): TableCommand {
  return packr.unpack(bytes) as TableCommand;
}

export function encodeTableAnswer(answer: TableAnswer): Uint8Array {
  return packr.pack(answer);
}

export function decodeTableAnswer(bytes: Uint8Array): TableAnswer {
  return packr.unpack(bytes) as TableAnswer;
}

/** Is this command a write (held or refused like any write when storage has failed)? */
export function isWriteCommand(command: TableCommand): boolean {
  return command.op !== 'catalog-get' && command.op !== 'get' && command.op !== 'query' && command.op !== 'stats' && command.op !== 'txn';
}

// Cells through msgpack: a float64 column's integral number (5.0) comes back as the number 5,
// which is the same JS value; an int64 bigint comes back as bigint (normalizeInt64 folds it).
export type { Cell };
