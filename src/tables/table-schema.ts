// Table definitions on the router: checking what a client asks to create
// (table, columns, primary key, indexes) and building the catalog entry.
// Names are identifiers (letters, digits and _, not starting with a digit,
// at most 128 characters) so CQL and SQL can name them too. Primary-key
// columns are NOT NULL whatever the definition says.

import { MantisError } from '../../shared/errors.js';
import { checkCell } from '../../shared/tables/cells.js';
import { COLUMN_TYPES, type Cell, type ColumnDef, type ColumnType, type TableIndexDef, type TableIndexType, type TableInfo } from '../../shared/tables/table-types.js';

export const TABLE_COLUMNS_MAX = 1024;
export const PRIMARY_KEY_COLUMNS_MAX = 16;
export const TABLE_INDEXES_MAX = 64;
export const INDEX_COLUMNS_MAX = 16;
const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const INDEX_TYPES: readonly TableIndexType[] = ['btree', 'hash', 'bloom'];

export type ColumnInput = { name: string; type: ColumnType; nullable: boolean; default: Cell; cqlType?: string; sqlType?: string };

export type CreateTableInput = {
  name: string;
  columns: ColumnInput[];
  primaryKey: string[];
  partitionKeyLength?: number;
  keyDesc?: boolean[];
  defaultTtlSeconds?: number;
  cql?: boolean;
  ifNotExists?: boolean;
};

export type IndexInput = { name: string; columns: string[]; type: TableIndexType; unique: boolean; ifNotExists?: boolean };

export function checkName(name: unknown, what: string): string {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new MantisError('INVALID_SCHEMA', `${what} must be 1..128 letters, digits or _, not starting with a digit; got ${JSON.stringify(name)}`);
  }
  return name;
}

/** A table name given to a route that reads or changes a table (an invalid one names no table). */
export function tableNameOf(name: string): string {
  if (!NAME.test(name)) throw new MantisError('TABLE_NOT_FOUND', `table ${JSON.stringify(name)} does not exist (not a valid table name)`);
  return name;
}

export function checkColumn(col: ColumnInput, forcedNotNull: boolean): ColumnDef {
  checkName(col.name, 'a column name');
  if (!COLUMN_TYPES.includes(col.type)) {
    throw new MantisError('INVALID_SCHEMA', `column "${col.name}": type must be one of ${COLUMN_TYPES.join(', ')}; got ${JSON.stringify(col.type)}`, { column: col.name });
  }
  const nullable = forcedNotNull ? false : col.nullable;
  if (col.default !== null && !checkCell(col.type, col.default)) {
    throw new MantisError('TYPE_MISMATCH', `column "${col.name}": the default is not a ${col.type}`, { column: col.name });
  }
  return { name: col.name, type: col.type, nullable, default: col.default, ...(col.cqlType === undefined ? {} : { cqlType: col.cqlType }), ...(col.sqlType === undefined ? {} : { sqlType: col.sqlType }) };
}

/** The catalog entry of a new table (version 1 before the catalog raises it), or INVALID_SCHEMA. */
export function buildTableInfo(input: CreateTableInput, id: number, nowMs: number): TableInfo {
  const name = checkName(input.name, 'a table name');
  if (!Array.isArray(input.columns) || input.columns.length === 0 || input.columns.length > TABLE_COLUMNS_MAX) {
    throw new MantisError('INVALID_SCHEMA', `a table has 1..${TABLE_COLUMNS_MAX} columns`);
  }
  if (!Array.isArray(input.primaryKey) || input.primaryKey.length === 0 || input.primaryKey.length > PRIMARY_KEY_COLUMNS_MAX) {
    throw new MantisError('INVALID_SCHEMA', `"primary_key" names 1..${PRIMARY_KEY_COLUMNS_MAX} columns`);
  }
  const keySet = new Set<string>();
  for (const k of input.primaryKey) {
    if (typeof k !== 'string') throw new MantisError('INVALID_SCHEMA', '"primary_key" holds column names');
    if (keySet.has(k)) throw new MantisError('INVALID_SCHEMA', `column "${k}" is named twice in the primary key`, { column: k });
    keySet.add(k);
  }
  const seen = new Set<string>();
  const columns: ColumnDef[] = [];
  for (const col of input.columns) {
    const def = checkColumn(col, keySet.has(col.name));
    if (seen.has(def.name)) throw new MantisError('COLUMN_EXISTS', `column "${def.name}" is defined twice`, { column: def.name });
    seen.add(def.name);
    columns.push(def);
  }
  for (const k of input.primaryKey) {
    if (!seen.has(k)) throw new MantisError('UNKNOWN_COLUMN', `primary key column "${k}" is not a column of the table`, { column: k });
  }
  const partitionKeyLength = input.partitionKeyLength ?? input.primaryKey.length;
  if (!Number.isInteger(partitionKeyLength) || partitionKeyLength < 1 || partitionKeyLength > input.primaryKey.length) {
    throw new MantisError('INVALID_SCHEMA', `the partition key is 1..${input.primaryKey.length} leading primary-key columns`);
  }
  const keyDesc = input.keyDesc ?? input.primaryKey.map(() => false);
  if (keyDesc.length !== input.primaryKey.length) throw new MantisError('INVALID_SCHEMA', 'keyDesc needs one flag per primary-key column');
  if (keyDesc.slice(0, partitionKeyLength).some((d) => d)) throw new MantisError('INVALID_SCHEMA', 'partition-key columns cannot be descending');
  const ttl = input.defaultTtlSeconds ?? 0;
  if (!Number.isInteger(ttl) || ttl < 0 || ttl > 630_720_000) {
    throw new MantisError('INVALID_SCHEMA', '"default_ttl_seconds" must be an integer in 0..630720000 (20 years)');
  }
  return {
    name,
    id,
    version: 1,
    createdAtMs: nowMs,
    columns,
    primaryKey: [...input.primaryKey],
    partitionKeyLength,
    keyDesc: [...keyDesc],
    indexes: [],
    nextIndexId: 1,
    defaultTtlSeconds: ttl,
    cql: input.cql === true,
  };
}

/** A new index's definition checked against the table (state 'building'). */
export function buildIndexDef(info: TableInfo, input: IndexInput): TableIndexDef {
  const name = checkName(input.name, 'an index name');
  if (!INDEX_TYPES.includes(input.type)) throw new MantisError('INVALID_SCHEMA', `index type must be one of ${INDEX_TYPES.join(', ')}; got ${JSON.stringify(input.type)}`);
  if (!Array.isArray(input.columns) || input.columns.length === 0 || input.columns.length > INDEX_COLUMNS_MAX) {
    throw new MantisError('INVALID_SCHEMA', `an index has 1..${INDEX_COLUMNS_MAX} columns`);
  }
  const names = new Set<string>();
  for (const c of input.columns) {
    if (typeof c !== 'string' || !info.columns.some((col) => col.name === c)) {
      throw new MantisError('UNKNOWN_COLUMN', `index column ${JSON.stringify(c)} is not a column of table "${info.name}"`, { column: String(c) });
    }
    if (names.has(c)) throw new MantisError('INVALID_SCHEMA', `column "${c}" is named twice in the index`, { column: c });
    names.add(c);
  }
  if (input.type === 'bloom' && input.columns.length !== 1) throw new MantisError('INVALID_SCHEMA', 'a bloom index has exactly one column');
  if (input.type === 'bloom' && input.unique) throw new MantisError('INVALID_SCHEMA', 'a bloom index cannot be unique');
  if (info.indexes.length >= TABLE_INDEXES_MAX) throw new MantisError('INVALID_SCHEMA', `a table has at most ${TABLE_INDEXES_MAX} indexes`);
  return { name, id: info.nextIndexId, type: input.type, columns: [...input.columns], unique: input.unique, state: 'building' };
}

/** Column position by name, or UNKNOWN_COLUMN. */
export function columnIndex(info: TableInfo, name: string, details: Record<string, string | number> = {}): number {
  const i = info.columns.findIndex((c) => c.name === name);
  if (i < 0) throw new MantisError('UNKNOWN_COLUMN', `table "${info.name}" has no column ${JSON.stringify(name)}`, { column: name, ...details });
  return i;
}

/** Positions of the primary-key columns, in key order. */
export function keyPositions(info: TableInfo): number[] {
  return info.primaryKey.map((k) => info.columns.findIndex((c) => c.name === k));
}
