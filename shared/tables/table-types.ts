// The columnar tables' shared vocabulary: column types, the values rows hold
// inside the engine, the table catalog entry, predicates, aggregates and the
// column vectors the vectorized executor works on. The router, the shards and
// the pool all load this file; it has no code of its own beyond small helpers.

/** Our column types. timestamp: microseconds since the Unix epoch, UTC. */
export type ColumnType = 'int64' | 'float64' | 'string' | 'boolean' | 'timestamp' | 'binary';
export const COLUMN_TYPES: readonly ColumnType[] = ['int64', 'float64', 'string', 'boolean', 'timestamp', 'binary'];

/**
 * One value of a row inside the engine (never JSON):
 * - int64, timestamp: a `number` when it is a safe integer (|v| <= 2^53 - 1), else a `bigint`
 *   (always normalized so: `normalizeInt64`);
 * - float64: number (NaN and ±Infinity allowed inside, refused over JSON);
 * - string: string; boolean: boolean; binary: Uint8Array;
 * - null: SQL NULL.
 */
export type Cell = null | number | bigint | string | boolean | Uint8Array;

/** A row as the engine stores it: one cell per column, in the table's column order (TableInfo.columns). */
export type Row = Cell[];

export type ColumnDef = {
  readonly name: string;
  readonly type: ColumnType;
  readonly nullable: boolean;
  /** The default for rows that omit the column (null: none, the column is NULL or must be given). */
  readonly default: Cell;
  /**
   * The type the column was declared with in CQL (uuid, timeuuid, text, int, bigint, double,
   * boolean, timestamp, blob, varchar), kept so CQL validates and shows it; absent for HTTP tables.
   */
  readonly cqlType?: string;
  /**
   * The type the column was declared with in SQL (int2, int4, int8, numeric, float4, float8, text,
   * bool, timestamptz, timestamp, date, bytea, uuid, jsonb), kept so SQL types it as declared and
   * checks the ranges of narrow types; absent for HTTP and CQL tables.
   */
  readonly sqlType?: string;
};

export type TableIndexType = 'btree' | 'hash' | 'bloom';

export type TableIndexDef = {
  readonly name: string;
  /** Storage id within the table (u16, never reused while the table lives). */
  readonly id: number;
  readonly type: TableIndexType;
  /** Column names, in index order. bloom: exactly one column. */
  readonly columns: readonly string[];
  /** Unique across the whole table (all shards). btree and hash only. */
  readonly unique: boolean;
  /** 'building' while existing rows are indexed; the planner uses only 'ready' indexes. */
  readonly state: 'building' | 'ready';
};

/** A table's catalog entry, identical on every shard (the router pushes it, as for collections). */
export type TableInfo = {
  readonly name: string;
  /** Storage id: every key of the table starts with it; a re-created table gets a new one. */
  readonly id: number;
  /** Raised on every change; the highest version wins when shards disagree after a crash. */
  readonly version: number;
  readonly createdAtMs: number;
  /** Columns in storage order. Added columns go at the end; columns are never removed or reordered. */
  readonly columns: readonly ColumnDef[];
  /** Primary-key column names, in key order (the key's byte order is this tuple's order). */
  readonly primaryKey: readonly string[];
  /**
   * How many leading primary-key columns choose the shard (the CQL partition key); the rest are
   * clustering columns, ordered within a partition. HTTP tables: primaryKey.length.
   */
  readonly partitionKeyLength: number;
  /** Per primary-key column: descending order (CQL WITH CLUSTERING ORDER BY … DESC). */
  readonly keyDesc: readonly boolean[];
  readonly indexes: readonly TableIndexDef[];
  readonly nextIndexId: number;
  /** The table's default row TTL in seconds (CQL default_time_to_live); 0: none. */
  readonly defaultTtlSeconds: number;
  /** Created through CQL (names shown as CQL shows them; CQL-only rules apply). */
  readonly cql: boolean;
};

/** Comparison operators of the JSON predicate tree (`where`). */
export type CompareOp = '=' | '!=' | '<' | '<=' | '>' | '>=';

/**
 * The JSON predicate tree after the router checked it against the schema: column names resolved
 * to positions and values to typed cells of the column's type (never null: `= null` is refused,
 * use is_null).
 */
export type Predicate =
  | { readonly and: readonly Predicate[] }
  | { readonly or: readonly Predicate[] }
  | { readonly not: Predicate }
  | { readonly col: number; readonly op: CompareOp; readonly value: Cell }
  | { readonly col: number; readonly op: 'in' | 'not_in'; readonly value: readonly Cell[] }
  | { readonly col: number; readonly op: 'is_null' | 'is_not_null' }
  /** Prefix match on a string column (CQL/SQL LIKE 'abc%' pushes down to this). */
  | { readonly col: number; readonly op: 'starts_with'; readonly value: string };

/**
 * A derived float64 column a query computes per row before it aggregates (SQL's sum(a * (1 - b))):
 * arithmetic over int64/float64 columns and number constants; NULL in, NULL out. Aggregates
 * name derived column j as position `columns.length + j`.
 */
export type DerivedExpr =
  | { readonly op: 'col'; readonly col: number }
  | { readonly op: 'const'; readonly value: number }
  | { readonly op: '+' | '-' | '*'; readonly a: DerivedExpr; readonly b: DerivedExpr };

/** The columns a derived expression reads. */
export function derivedColumns(e: DerivedExpr, into: number[] = []): number[] {
  if (e.op === 'col') into.push(e.col);
  else if (e.op !== 'const') {
    derivedColumns(e.a, into);
    derivedColumns(e.b, into);
  }
  return into;
}

export type AggregateFn = 'count' | 'sum' | 'min' | 'max' | 'avg';
export const AGGREGATE_FNS: readonly AggregateFn[] = ['count', 'sum', 'min', 'max', 'avg'];

/** One aggregate of a query. col: a column position, or null for count(*). */
export type AggregateSpec = { readonly fn: AggregateFn; readonly col: number | null; readonly as: string };

/**
 * The mergeable state of one aggregate of one group:
 * count → number; sum → number | bigint | null (int64 sums exact: bigint once past 2^53; null if no
 * non-null input); min/max → Cell; avg → [sum: number, count: number].
 */
/**
 * A partial aggregate: count a number; sum of int64 a number, a bigint, or (past the int64 range,
 * which the ring's msgpack cannot carry as an integer) a decimal string; avg [sum, count] with such
 * a sum; min/max a cell.
 */
export type AggState = number | bigint | null | Cell | [number | bigint | string, number];

/** One group of a partial (per shard) or final aggregation: key cells (group_by order) and states (aggregates order). */
export type GroupState = { readonly key: Cell[]; readonly states: AggState[] };

export type OrderBy = { readonly col: number; readonly desc: boolean };

// ---- column vectors (the vectorized executor's unit of work) ----

/**
 * A null bitmap: bit i (byte i >> 3, bit i & 7, least significant first) is set when row i is
 * NULL. Absent (null) when no row of the vector is NULL.
 */
export type NullBitmap = Uint8Array | null;

/**
 * One column's values for `length` rows. int64/timestamp come as a Float64Array when every value
 * is a safe integer (the common case: arithmetic on numbers), else a BigInt64Array. Strings come
 * either plain or as dictionary codes into `dict` (filters and GROUP BY then work on codes).
 * Values of NULL rows are unspecified (0, '', false…).
 */
export type Vector =
  | { readonly type: 'int64' | 'timestamp'; readonly values: Float64Array | BigInt64Array; readonly nulls: NullBitmap }
  | { readonly type: 'float64'; readonly values: Float64Array; readonly nulls: NullBitmap }
  | { readonly type: 'boolean'; readonly values: Uint8Array; readonly nulls: NullBitmap }
  | { readonly type: 'string'; readonly values: readonly string[]; readonly nulls: NullBitmap }
  | { readonly type: 'string'; readonly codes: Uint8Array | Uint16Array | Uint32Array; readonly dict: readonly string[]; readonly nulls: NullBitmap }
  | { readonly type: 'binary'; readonly values: readonly Uint8Array[]; readonly nulls: NullBitmap };

/**
 * A batch of rows as columns. columns[i] is column position i of the table, or undefined when the
 * query does not need it (never loaded). selection: the positions (ascending) of the rows still
 * in play after filters; null = all `length` rows.
 */
export type Batch = {
  readonly length: number;
  readonly columns: (Vector | undefined)[];
  selection: Uint32Array | null;
};

/** Zone map of one column chunk (or segment): what pruning reads. min/max null when every value is NULL. */
export type ZoneMap = {
  readonly min: Cell;
  readonly max: Cell;
  readonly nullCount: number;
  readonly rowCount: number;
  /** Estimated distinct non-null values (HyperLogLog-ish or exact for small chunks). */
  readonly distinct: number;
};

/** Is `v` a safe integer number or a bigint outside the safe range (the int64 cell forms)? */
export function normalizeInt64(v: bigint): number | bigint {
  return v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v;
}

export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;
