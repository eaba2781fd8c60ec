// The SQL layer's types and values (router side).
//
// Types are PostgreSQL's names. Values on the router:
// - bool: boolean
// - int2/int4/int8: a `number` when a safe integer, else a `bigint` (the table cells' int64 form,
//   `normalizeInt64`); arithmetic checks each type's range (22003, PostgreSQL never wraps)
// - numeric: a JS number (a double; the gap: PostgreSQL's numeric is exact decimal)
// - float4/float8: number (NaN, ±Infinity allowed)
// - text/varchar/bpchar/uuid: string
// - bytea: Uint8Array
// - timestamptz/timestamp: microseconds since the Unix epoch, UTC, as a number
// - date: microseconds since the Unix epoch at midnight UTC, as a number
// - interval: an Interval
// - jsonb: a Jsonb (the parsed JSON value)
// - null: SQL NULL, whatever the type
// - unknown: an untyped string literal or parameter before context gives it a type (a string).

export type SqlType =
  | 'bool'
  | 'int2'
  | 'int4'
  | 'int8'
  | 'numeric'
  | 'float4'
  | 'float8'
  | 'text'
  | 'bytea'
  | 'timestamptz'
  | 'timestamp'
  | 'date'
  | 'interval'
  | 'jsonb'
  | 'uuid'
  | 'unknown';

export class Interval {
  constructor(
    readonly months: number,
    readonly days: number,
    /** Microseconds. */
    readonly us: number,
  ) {}
}

export class Jsonb {
  constructor(readonly value: unknown) {}
}

export type Value = null | boolean | number | bigint | string | Uint8Array | Interval | Jsonb;

export const INT_TYPES: ReadonlySet<SqlType> = new Set(['int2', 'int4', 'int8']);
export const NUMERIC_TYPES: ReadonlySet<SqlType> = new Set(['int2', 'int4', 'int8', 'numeric', 'float4', 'float8']);
export const TEXT_TYPES: ReadonlySet<SqlType> = new Set(['text', 'uuid']);
export const TIME_TYPES: ReadonlySet<SqlType> = new Set(['timestamptz', 'timestamp', 'date']);

/** PostgreSQL's numeric tower order for implicit promotion of arithmetic operands. */
export const NUMERIC_RANK: Readonly<Record<string, number>> = { int2: 0, int4: 1, int8: 2, numeric: 3, float4: 4, float8: 5 };

export const INT_RANGE: Readonly<Record<string, readonly [bigint, bigint]>> = {
  int2: [-32768n, 32767n],
  int4: [-2147483648n, 2147483647n],
  int8: [-(2n ** 63n), 2n ** 63n - 1n],
};

/** PostgreSQL's names for its types in messages ("integer", "bigint", "text"…). */
export const TYPE_DISPLAY: Readonly<Record<SqlType, string>> = {
  bool: 'boolean',
  int2: 'smallint',
  int4: 'integer',
  int8: 'bigint',
  numeric: 'numeric',
  float4: 'real',
  float8: 'double precision',
  text: 'text',
  bytea: 'bytea',
  timestamptz: 'timestamp with time zone',
  timestamp: 'timestamp without time zone',
  date: 'date',
  interval: 'interval',
  jsonb: 'jsonb',
  uuid: 'uuid',
  unknown: 'unknown',
};

/** A type name as written in SQL (after libpg-query: `pg_catalog.int4`, `varchar`, `double precision`…) → our type. */
export function typeFromName(name: string): SqlType | null {
  switch (name.toLowerCase()) {
    case 'bool':
    case 'boolean':
      return 'bool';
    case 'int2':
    case 'smallint':
      return 'int2';
    case 'int4':
    case 'int':
    case 'integer':
      return 'int4';
    case 'int8':
    case 'bigint':
      return 'int8';
    case 'numeric':
    case 'decimal':
      return 'numeric';
    case 'float4':
    case 'real':
      return 'float4';
    case 'float8':
    case 'double precision':
    case 'float':
      return 'float8';
    case 'text':
    case 'varchar':
    case 'character varying':
    case 'bpchar':
    case 'char':
    case 'character':
    case 'name':
      return 'text';
    case 'bytea':
      return 'bytea';
    case 'timestamptz':
    case 'timestamp with time zone':
      return 'timestamptz';
    case 'timestamp':
    case 'timestamp without time zone':
      return 'timestamp';
    case 'date':
      return 'date';
    case 'interval':
      return 'interval';
    case 'json':
    case 'jsonb':
      return 'jsonb';
    case 'uuid':
      return 'uuid';
    default:
      return null;
  }
}
