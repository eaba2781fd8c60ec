// The pieces every aggregation-expression operator file shares: the compiled
// node type, the evaluation scope (ROOT, CURRENT and user variables), argument
// parsing and the MongoDB value rules expressions need beyond the query
// language (missing sorts below null, truthiness, array-traversing paths).
//
// Operator files (agg-expr-*.ts) import only this file; expr.ts imports them
// all and owns parsing, so there is no import cycle.

import { isDecimal, isDoc, isObjectId } from './bson-types.js';
import { compareValues, valuesEqual } from './compare.js';
import type { Doc, DocValue } from './doc-types.js';
import { MantisError } from '../errors.js';

/** An expression's value; `undefined` is MongoDB's "missing". */
export type Value = DocValue | undefined;

/** What a compiled node sees: the document and the variables in scope. */
export interface Scope {
  readonly root: Doc;
  /** User variables plus CURRENT when it is rebound; never ROOT/NOW/REMOVE. */
  readonly vars: Readonly<Record<string, Value>>;
}

export type Node = (scope: Scope) => Value;

/** What an operator compiler may use to compile its arguments. */
export interface ExprCompiler {
  compile(expr: DocValue): Node;
  /** $$NOW: one instant for the whole compiled expression (MongoDB: per operation). */
  readonly now: Date;
}

export type OpCompiler = (args: DocValue, c: ExprCompiler, op: string) => Node;
export type OpTable = Readonly<Record<string, OpCompiler>>;

export function badQuery(message: string): MantisError {
  return new MantisError('BAD_QUERY', message);
}

/** A plain document (not an array, Date or bson value). */
export function isPlainDoc(v: Value): v is Doc {
  return isDoc(v);
}

/** MongoDB's operator arguments: an array is the argument list, anything else one argument. */
export function argList(args: DocValue): DocValue[] {
  return Array.isArray(args) ? args : [args];
}

/** Compiles exactly `min..max` positional arguments or refuses naming the operator. */
export function compileArgs(args: DocValue, c: ExprCompiler, op: string, min: number, max = min): Node[] {
  const list = argList(args);
  if (list.length < min || list.length > max) {
    const want = min === max ? `${min}` : `${min} to ${max}`;
    throw badQuery(`Expression ${op} takes ${want} argument(s), ${list.length} were passed in`);
  }
  return list.map((a) => c.compile(a));
}

/** Reads a named-argument object (`{input, as, in}` style) refusing unknown and missing fields. */
export function namedArgs(
  args: DocValue,
  op: string,
  required: readonly string[],
  optional: readonly string[] = [],
): Record<string, DocValue> {
  if (!isPlainDoc(args)) throw badQuery(`${op} expects an object as its argument`);
  for (const key of Object.keys(args)) {
    if (!required.includes(key) && !optional.includes(key)) {
      throw badQuery(`${op} found an unknown argument: ${key}`);
    }
  }
  for (const key of required) {
    if (args[key] === undefined) throw badQuery(`${op} requires '${key}' to be specified`);
  }
  return args;
}

export function isNullish(v: Value): v is null | undefined {
  return v === null || v === undefined;
}

/** Aggregation truthiness: false, null, missing and numeric zero are false. */
export function isTruthy(v: Value): boolean {
  if (v === undefined || v === null || v === false) return false;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'bigint') return v !== 0n;
  if (isDecimal(v)) return Number(v.toString()) !== 0;
  return true;
}

export { isDecimal, isObjectId };

/** Aggregation comparison: as the query order, except missing sorts below null. */
export function compareWithMissing(a: Value, b: Value): number {
  if (a === undefined) return b === undefined ? 0 : -1;
  if (b === undefined) return 1;
  return compareValues(a, b);
}

export function equalsWithMissing(a: Value, b: Value): boolean {
  if (a === undefined || b === undefined) return a === b;
  return valuesEqual(a, b);
}

/** A missing array element becomes null: MongoDB's array literals never hold missing. */
export function orNull(v: Value): DocValue {
  return v === undefined ? null : v;
}

/** doc[k] without reaching Object.prototype ("constructor", "__proto__" are plain field names). */
export function ownField(doc: Doc, k: string): Value {
  const v = doc[k];
  if (v === undefined) return undefined;
  return typeof v === 'function' || (k === '__proto__' && !Object.hasOwn(doc, k)) ? undefined : v;
}

/**
 * MongoDB's expression field path: through objects by name, and through an
 * array by applying the rest of the path to every element (objects give their
 * value when present, nested arrays give nested results, scalars give
 * nothing). Numeric segments are field names here, never positions.
 */
export function evaluatePath(value: Value, path: readonly string[], from = 0): Value {
  let cur = value;
  for (let i = from; i < path.length; i++) {
    if (Array.isArray(cur)) return pathThroughArray(cur, path, i);
    if (!isPlainDoc(cur)) return undefined;
    cur = ownField(cur, path[i]);
  }
  return cur;
}

function pathThroughArray(arr: readonly DocValue[], path: readonly string[], from: number): DocValue[] {
  const out: DocValue[] = [];
  for (const elem of arr) {
    if (Array.isArray(elem)) {
      out.push(pathThroughArray(elem, path, from));
    } else if (isPlainDoc(elem)) {
      const v = evaluatePath(elem, path, from);
      if (v !== undefined) out.push(v);
    }
  }
  return out;
}

/** Runs `fn` with `names` bound, without mutating the outer scope. */
export function bind(scope: Scope, name: string, value: Value): Scope {
  return { root: scope.root, vars: { ...scope.vars, [name]: value } };
}

/** Checks a user variable name as MongoDB does: starts with a lowercase letter or non-ASCII. */
export function checkVarName(name: string, op: string): string {
  if (!/^[a-z\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*$/.test(name)) {
    throw badQuery(`${op}: '${name}' is not a valid variable name`);
  }
  return name;
}

/** A constant node (for literals and folded expressions). */
export function constant(v: Value): Node {
  return () => v;
}

export function typeLabel(v: Value): string {
  if (v === undefined) return 'missing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (v instanceof Date) return 'date';
  if (typeof v === 'object') return (v as { _bsontype?: string })._bsontype ?? 'object';
  return typeof v;
}
