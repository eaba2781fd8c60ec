// The JSON `where` tree of the tables API → a Predicate checked against the
// table's schema (column names resolved to positions, values to cells of the
// column's type). Shape:
//   {"and": [p, …]}  {"or": [p, …]}  {"not": p}
//   {"col": "age", "op": ">", "value": 30}
//   ops: = != < <= > >= (value: one cell), in / not_in (value: an array of at
//   most 10,000 non-null cells), is_null / is_not_null (no value),
//   starts_with (string columns; value: a string prefix).
// Values go through cell-json (an int64 beyond 2^53 as a decimal string, a
// timestamp as RFC 3339 …). `= null` is refused: NULL compares unknown, use is_null.
// Errors: BAD_QUERY (shape, nesting deeper than 32, list too long),
// UNKNOWN_COLUMN (details.column), TYPE_MISMATCH (details.column).

import { MantisError } from '../errors.js';
import { cellFromJson } from './cell-json.js';
import type { Cell, ColumnDef, CompareOp, Predicate, TableInfo } from './table-types.js';

export const WHERE_MAX_DEPTH = 32;
export const WHERE_MAX_IN_LIST = 10_000;

const COMPARE_OPS: ReadonlySet<string> = new Set(['=', '!=', '<', '<=', '>', '>=']);
const ALL_OPS = '= != < <= > >= in not_in is_null is_not_null starts_with';

function bad(message: string): MantisError {
  return new MantisError('BAD_QUERY', `where: ${message}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/** Parses and checks a `where` tree; null/undefined (no filter) gives null. */
export function parseWhere(json: unknown, info: TableInfo): Predicate | null {
  if (json === null || json === undefined) return null;
  const positions = new Map<string, number>();
  info.columns.forEach((c, i) => positions.set(c.name, i));
  return parseNode(json, info.columns, positions, 1);
}

function parseNode(json: unknown, columns: readonly ColumnDef[], positions: Map<string, number>, depth: number): Predicate {
  if (depth > WHERE_MAX_DEPTH) throw bad(`nested deeper than ${WHERE_MAX_DEPTH} levels`);
  if (!isObject(json)) throw bad('each condition must be an object');
  const keys = Object.keys(json);
  if ('and' in json || 'or' in json) {
    const key = 'and' in json ? 'and' : 'or';
    if (keys.length !== 1) throw bad(`"${key}" must be the only field of its object`);
    const list = json[key];
    if (!Array.isArray(list)) throw bad(`"${key}" takes an array of conditions`);
    const children = list.map((c) => parseNode(c, columns, positions, depth + 1));
    return key === 'and' ? { and: children } : { or: children };
  }
  if ('not' in json) {
    if (keys.length !== 1) throw bad('"not" must be the only field of its object');
    return { not: parseNode(json.not, columns, positions, depth + 1) };
  }
  return parseLeaf(json, keys, columns, positions);
}

function parseLeaf(json: Record<string, unknown>, keys: string[], columns: readonly ColumnDef[], positions: Map<string, number>): Predicate {
  for (const k of keys) {
    if (k !== 'col' && k !== 'op' && k !== 'value') throw bad(`unknown field "${k}" (a condition has "col", "op" and "value", or is "and"/"or"/"not")`);
  }
  const name = json.col;
  if (typeof name !== 'string') throw bad('"col" must be a column name');
  const col = positions.get(name);
  if (col === undefined) throw new MantisError('UNKNOWN_COLUMN', `where: unknown column "${name}"`, { column: name });
  const def = columns[col];
  const op = json.op;
  if (typeof op !== 'string') throw bad(`"op" must be one of ${ALL_OPS}`);
  const value = json.value;
  if (COMPARE_OPS.has(op)) {
    if (value === undefined) throw bad(`"${op}" needs a "value"`);
    if (value === null) throw bad(`"${op}" against null is never true: use "is_null" / "is_not_null"`);
    return { col, op: op as CompareOp, value: cellFromJson(def, value) };
  }
  switch (op) {
    case 'in':
    case 'not_in': {
      if (!Array.isArray(value)) throw bad(`"${op}" takes an array "value"`);
      if (value.length > WHERE_MAX_IN_LIST) throw bad(`"${op}" list longer than ${WHERE_MAX_IN_LIST} values`);
      // An empty list compares with nothing: "in" is FALSE on every row and "not_in" TRUE, NULLs
      // included (as PostgreSQL's x = ANY('{}')); written as a leaf pair that is never UNKNOWN.
      if (value.length === 0) {
        const pair: Predicate[] = [{ col, op: 'is_null' }, { col, op: 'is_not_null' }];
        return op === 'in' ? { and: pair } : { or: pair };
      }
      const cells: Cell[] = new Array<Cell>(value.length);
      for (let i = 0; i < value.length; i++) {
        if (value[i] === null) throw bad(`"${op}" list values cannot be null`);
        cells[i] = cellFromJson(def, value[i]);
      }
      return { col, op, value: cells };
    }
    case 'is_null':
    case 'is_not_null':
      if (value !== undefined) throw bad(`"${op}" takes no "value"`);
      return { col, op };
    case 'starts_with':
      if (def.type !== 'string') {
        throw new MantisError('TYPE_MISMATCH', `where: "starts_with" needs a string column, "${name}" is ${def.type}`, { column: name });
      }
      if (typeof value !== 'string') throw bad('"starts_with" takes a string "value"');
      return { col, op, value };
    default:
      throw bad(`unknown op ${JSON.stringify(op)} (one of ${ALL_OPS})`);
  }
}

/** The column positions a predicate reads, ascending, each once. */
export function predicateColumns(p: Predicate | null): number[] {
  const out = new Set<number>();
  if (p !== null) collect(p, out);
  return [...out].sort((a, b) => a - b);
}

function collect(p: Predicate, out: Set<number>): void {
  if ('and' in p) for (const c of p.and) collect(c, out);
  else if ('or' in p) for (const c of p.or) collect(c, out);
  else if ('not' in p) collect(p.not, out);
  else out.add(p.col);
}
