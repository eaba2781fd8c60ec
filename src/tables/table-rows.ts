// Rows on their way in: checking a client's rows against the schema
// (UNKNOWN_COLUMN, TYPE_MISMATCH, NOT_NULL_VIOLATION, each naming the column
// and the row's index in the request), filling defaults, refusing a primary
// key given twice in one request, and building what the shards get: the
// stored form (row-codec) grouped by the shard of the row's slot.

import { MantisError } from '../../shared/errors.js';
import { checkCell, tupleKey } from '../../shared/tables/cells.js';
import { cellFromJson } from '../../shared/tables/cell-json.js';
import { encodeRowView } from '../../shared/tables/row-codec.js';
import { encodeKeyCells } from '../../shared/tables/key-cells.js';
import { encodePk, INDEX_VALUE_BYTES_MAX, rowSlot } from '../../shared/tables/table-keys.js';
import type { Cell, ColumnType, Row, TableInfo } from '../../shared/tables/table-types.js';
import { narrowedCell } from '../cql/cql-types.js';
import { keyPositions } from './table-schema.js';

/** Per table entry: column name → position, key positions, types (entries are immutable, so cached by identity). */
type Shape = { readonly byName: Map<string, number>; readonly keys: number[]; readonly types: ColumnType[]; readonly all: number[] };
const shapes = new WeakMap<TableInfo, Shape>();

export function shapeOf(info: TableInfo): Shape {
  let shape = shapes.get(info);
  if (shape === undefined) {
    const keys = keyPositions(info);
    const types = info.columns.map((c) => c.type);
    shape = { byName: new Map(info.columns.map((c, i) => [c.name, i])), keys, types, all: info.columns.map((_, i) => i) };
    shapes.set(info, shape);
  }
  return shape;
}

function unknownColumn(info: TableInfo, name: string, row: number): MantisError {
  return new MantisError('UNKNOWN_COLUMN', `row ${row}: table "${info.name}" has no column ${JSON.stringify(name)}`, { column: name, row });
}

function notNull(info: TableInfo, column: string, row: number): MantisError {
  return new MantisError('NOT_NULL_VIOLATION', `row ${row}: column "${column}" of table "${info.name}" is NOT NULL and has no value`, { column, row });
}

/** A full row (defaults filled) from named cells; errors name the column and `rowIndex`. */
export function fullRow(info: TableInfo, named: Readonly<Record<string, Cell>>, rowIndex: number): Row {
  const shape = shapeOf(info);
  const row: Row = new Array<Cell>(info.columns.length);
  for (let i = 0; i < row.length; i++) row[i] = undefined as unknown as Cell;
  for (const name in named) {
    const at = shape.byName.get(name);
    if (at === undefined) throw unknownColumn(info, name, rowIndex);
    const cell = named[name];
    if (cell !== null && !checkCell(shape.types[at], cell)) {
      throw new MantisError('TYPE_MISMATCH', `row ${rowIndex}: column "${name}" is ${shape.types[at]}; the value given is not`, { column: name, row: rowIndex });
    }
    row[at] = cell;
  }
  return fillDefaults(info, row, rowIndex);
}

/** Named JSON values → a full row: cellFromJson per column (its TYPE_MISMATCH gets the row index), then defaults. */
export function rowFromJson(info: TableInfo, json: unknown, rowIndex: number): Row {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new MantisError('TYPE_MISMATCH', `row ${rowIndex} must be a JSON object of column values`, { row: rowIndex });
  }
  const shape = shapeOf(info);
  const row: Row = new Array<Cell>(info.columns.length);
  for (let i = 0; i < row.length; i++) row[i] = undefined as unknown as Cell;
  const fields = json as Record<string, unknown>;
  for (const name in fields) {
    const at = shape.byName.get(name);
    if (at === undefined) throw unknownColumn(info, name, rowIndex);
    row[at] = cellOf(info, at, fields[name], rowIndex);
  }
  return fillDefaults(info, row, rowIndex);
}

/** One JSON value as a cell of column `at`; a refusal names the column and, when given, the row. */
export function cellOf(info: TableInfo, at: number, json: unknown, rowIndex: number | null): Cell {
  try {
    const cell = cellFromJson(info.columns[at], json);
    if (cell === null) return cell;
    // A CQL table's int, uuid, inet… column: CQL's ranges and canonical forms hold here too.
    const narrowed = narrowedCell(json, info.columns[at]);
    return narrowed === null ? cell : narrowed.cell;
  } catch (raw) {
    const error = raw instanceof MantisError && raw.code === 'Invalid' ? new MantisError('TYPE_MISMATCH', `column "${info.columns[at].name}" (${String(info.columns[at].cqlType)}): ${raw.message}`, { column: info.columns[at].name }) : raw;
    if (!(error instanceof MantisError)) throw error;
    const column = info.columns[at].name;
    const details: Record<string, string | number> = rowIndex === null ? { column } : { column, row: rowIndex };
    throw new MantisError(error.code, rowIndex === null ? error.message : `row ${rowIndex}: ${error.message}`, { ...error.details, ...details });
  }
}

function fillDefaults(info: TableInfo, row: Row, rowIndex: number): Row {
  for (let i = 0; i < row.length; i++) {
    const col = info.columns[i];
    if (row[i] === undefined) row[i] = col.default;
    if (row[i] === null && !col.nullable) throw notNull(info, col.name, rowIndex);
  }
  return row;
}

export type PreparedRows = {
  /** Per shard index: the stored rows and their indexes in the request. */
  readonly byShard: Map<number, { rows: Uint8Array[]; rowIndex: number[] }>;
  readonly count: number;
};

/**
 * What identifies a key within one request, with the key encoding's equality (cellsEqual: -0 == 0,
 * one NaN; int64 cells are normalized, so one value has one form): a one-column key's cell itself
 * (a Map compares numbers and strings by value), else tupleKey.
 */
function keyIdentity(keyCells: readonly Cell[]): unknown {
  if (keyCells.length !== 1) return tupleKey(keyCells);
  const c = keyCells[0];
  if (typeof c === 'number') return c === 0 ? 0 : c;
  return c instanceof Uint8Array ? tupleKey(keyCells) : c;
}

/**
 * Encodes full rows and groups them by shard (slot map). A primary key given twice in the request
 * is DUPLICATE_KEY naming the later row (nothing is sent).
 */
export function prepareRows(info: TableInfo, rows: readonly Row[], shardOfSlot: (slot: number) => number): PreparedRows {
  const shape = shapeOf(info);
  const keys = shape.keys;
  const seen = new Map<unknown, number>();
  const byShard: PreparedRows['byShard'] = new Map();
  const arenas = new Map<number, Arena>();
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r];
    const keyCells: Cell[] = new Array<Cell>(keys.length);
    for (let i = 0; i < keys.length; i++) keyCells[i] = row[keys[i]];
    const id = keyIdentity(keyCells);
    const first = seen.get(id);
    if (first !== undefined) {
      throw new MantisError('DUPLICATE_KEY', `row ${r}: primary key ${keyText(keyCells)} is also given by row ${first} of this request`, { row: r, other_row: first, column: info.primaryKey.join(',') });
    }
    seen.set(id, r);
    checkKeySize(info, keyCells, r);
    const shard = shardOfSlot(rowSlot(info, keyCells));
    let part = byShard.get(shard);
    let arena = arenas.get(shard);
    if (part === undefined || arena === undefined) {
      byShard.set(shard, (part = { rows: [], rowIndex: [] }));
      arenas.set(shard, (arena = new Arena()));
    }
    part.rows.push(arena.add(encodeRowView(shape.types, row)));
    part.rowIndex.push(r);
  }
  return { byShard, count: rows.length };
}

/**
 * Stored rows copied into shared blocks and handed out as views: one allocation per 256 KiB
 * instead of one buffer per row (a 10,000-row insert made 10,000 small buffers for the GC).
 */
class Arena {
  private block = new Uint8Array(0);
  private at = 0;

  add(bytes: Uint8Array): Uint8Array {
    if (this.at + bytes.length > this.block.length) {
      this.block = new Uint8Array(Math.max(ARENA_BLOCK_BYTES, bytes.length));
      this.at = 0;
    }
    const start = this.at;
    this.block.set(bytes, start);
    this.at += bytes.length;
    return this.block.subarray(start, this.at);
  }
}

const ARENA_BLOCK_BYTES = 256 * 1024;

/** The most bytes a row's primary key may take in its key encoding (a key lives in every WAL record and index entry of its row). */
export const PRIMARY_KEY_BYTES_MAX = 4096;

/**
 * An upper bound on the key-encoded size of cells, without encoding them: fixed-size cells take
 * at most 9 bytes, strings at most 3 a UTF-16 unit and binary 2 a byte, plus terminators.
 */
function keyBytesBound(cells: readonly Cell[]): number {
  let bound = 0;
  for (const c of cells) bound += typeof c === 'string' ? c.length * 3 + 2 : c instanceof Uint8Array ? c.length * 2 + 2 : 9;
  return bound;
}

/** KEY_TOO_LARGE (naming the key's columns and, when given, the row) for a primary key over PRIMARY_KEY_BYTES_MAX. */
export function checkKeySize(info: TableInfo, keyCells: readonly Cell[], rowIndex: number | null): void {
  if (keyBytesBound(keyCells) <= PRIMARY_KEY_BYTES_MAX) return;
  const bytes = encodePk(info, keyCells).length;
  if (bytes <= PRIMARY_KEY_BYTES_MAX) return;
  const column = info.primaryKey.join(',');
  const at = rowIndex === null ? '' : `row ${rowIndex}: `;
  throw new MantisError('KEY_TOO_LARGE', `${at}the primary key (${column}) takes ${bytes} bytes; the limit is ${PRIMARY_KEY_BYTES_MAX}`, rowIndex === null ? { column } : { column, row: rowIndex });
}

/**
 * KEY_TOO_LARGE (naming the index, its first column and, when given, the row) when a btree index's
 * value tuple in `named` (column → cell; a column not given counts as NULL, so this is a lower
 * bound for a partial row) is over INDEX_VALUE_BYTES_MAX — the shard's own check, made before
 * anything is sent (a CQL BATCH checks every statement before the first runs).
 */
export function checkIndexedSizes(info: TableInfo, named: Readonly<Record<string, Cell>>, rowIndex: number | null): void {
  for (const ix of info.indexes) {
    if (ix.type !== 'btree') continue;
    if (keyBytesBound(ix.columns.map((c) => named[c] ?? null)) <= INDEX_VALUE_BYTES_MAX) continue;
    const shape = shapeOf(info);
    const bytes = encodeKeyCells(
      ix.columns.map((c) => shape.types[shape.byName.get(c) as number]),
      ix.columns.map((c) => named[c] ?? null),
    ).length;
    if (bytes <= INDEX_VALUE_BYTES_MAX) continue;
    const at = rowIndex === null ? '' : `row ${rowIndex}: `;
    const details: Record<string, string | number> = rowIndex === null ? { index: ix.name, column: ix.columns[0] } : { index: ix.name, column: ix.columns[0], row: rowIndex };
    throw new MantisError('KEY_TOO_LARGE', `${at}index "${ix.name}" of table "${info.name}": the indexed value takes ${bytes} bytes, over the ${INDEX_VALUE_BYTES_MAX}-byte limit of index keys`, details);
  }
}

/** Key cells as text for messages. */
export function keyText(cells: readonly Cell[]): string {
  return `(${cells.map((c) => (c instanceof Uint8Array ? `0x${Buffer.from(c).toString('hex')}` : typeof c === 'string' ? JSON.stringify(c) : String(c))).join(', ')})`;
}
