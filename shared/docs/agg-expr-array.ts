// Array, set, object and accumulator-style ($sum $avg $min $max) expression
// operators. A null or missing array operand gives null; any other non-array
// is refused naming the operator.

import { valuesEqual, compareValues } from './compare.js';
import {
  badQuery,
  bind,
  checkVarName,
  compileArgs,
  equalsWithMissing,
  isNullish,
  isPlainDoc,
  isTruthy,
  namedArgs,
  orNull,
  ownField,
  typeLabel,
  type ExprCompiler,
  type Node,
  type OpTable,
  type Value,
} from './agg-expr-core.js';
import { arith, isNum, toJsNumber, wholeNumber, type Num } from './agg-expr-num.js';
import type { Doc, DocValue } from './doc-types.js';

function requireArray(v: Value, op: string): DocValue[] {
  if (!Array.isArray(v)) throw badQuery(`${op} requires an array argument, found: ${typeLabel(v)}`);
  return v;
}

function requireInt(v: Value, op: string, what: string): number {
  const n = wholeNumber(v);
  if (n === null) throw badQuery(`${op}: ${what} must be an integral number, found: ${typeLabel(v)}`);
  return n;
}

/** An operator over one array operand: null/missing gives null. */
function arrayFn(fn: (arr: DocValue[], op: string) => Value, nullResult: Value = null) {
  return (args: DocValue, c: ExprCompiler, op: string): Node => {
    const [a] = compileArgs(args, c, op, 1);
    return (s) => {
      const v = a(s);
      return isNullish(v) ? nullResult : fn(requireArray(v, op), op);
    };
  };
}

function size(args: DocValue, c: ExprCompiler, op: string): Node {
  const [a] = compileArgs(args, c, op, 1);
  return (s) => {
    const v = a(s);
    if (!Array.isArray(v)) throw badQuery(`The argument to $size must be an array. Type of the argument was ${typeLabel(v)}`);
    return v.length;
  };
}

function arrayElemAt(args: DocValue, c: ExprCompiler, op: string): Node {
  const [a, i] = compileArgs(args, c, op, 2);
  return (s) => {
    const arr = a(s);
    const idx = i(s);
    if (isNullish(arr) || isNullish(idx)) return null;
    const list = requireArray(arr, op);
    const n = requireInt(idx, op, 'the index');
    return list[n < 0 ? list.length + n : n];
  };
}

function iterate(kind: 'filter' | 'map') {
  return (args: DocValue, c: ExprCompiler, op: string): Node => {
    const body = kind === 'filter' ? 'cond' : 'in';
    const named = namedArgs(args, op, ['input', body], kind === 'filter' ? ['as', 'limit'] : ['as']);
    const as = named.as === undefined ? 'this' : checkVarName(String(named.as), op);
    const input = c.compile(named.input);
    const fn = c.compile(named[body]);
    const limit = named.limit === undefined ? null : c.compile(named.limit);
    return (s) => {
      const v = input(s);
      if (isNullish(v)) return null;
      const list = requireArray(v, op);
      if (kind === 'map') return list.map((elem) => orNull(fn(bind(s, as, elem))));
      const max = limit === null ? Infinity : filterLimit(limit(s));
      const out: DocValue[] = [];
      for (const elem of list) {
        if (out.length >= max) break;
        if (isTruthy(fn(bind(s, as, elem)))) out.push(elem);
      }
      return out;
    };
  };
}

function filterLimit(v: Value): number {
  if (isNullish(v)) return Infinity;
  const n = wholeNumber(v);
  if (n === null || n < 1) throw badQuery('$filter: limit must be a positive integer');
  return n;
}

function reduce(args: DocValue, c: ExprCompiler, op: string): Node {
  const named = namedArgs(args, op, ['input', 'initialValue', 'in']);
  const input = c.compile(named.input);
  const init = c.compile(named.initialValue);
  const body = c.compile(named.in);
  return (s) => {
    const v = input(s);
    if (isNullish(v)) return null;
    let acc = init(s);
    for (const elem of requireArray(v, op)) acc = body(bind(bind(s, 'value', acc), 'this', elem));
    return acc;
  };
}

function inOp(args: DocValue, c: ExprCompiler, op: string): Node {
  const [x, a] = compileArgs(args, c, op, 2);
  return (s) => {
    const needle = x(s);
    const arr = a(s);
    if (!Array.isArray(arr)) throw badQuery(`$in requires an array as a second argument, found: ${typeLabel(arr)}`);
    return arr.some((e) => equalsWithMissing(e, needle));
  };
}

function indexOfArray(args: DocValue, c: ExprCompiler, op: string): Node {
  const [a, x, start, end] = compileArgs(args, c, op, 2, 4);
  return (s) => {
    const arr = a(s);
    if (isNullish(arr)) return null;
    const list = requireArray(arr, op);
    const needle = x(s);
    const from = start === undefined ? 0 : requireInt(start(s), op, 'the starting index');
    const to = end === undefined ? list.length : Math.min(list.length, requireInt(end(s), op, 'the ending index'));
    for (let i = Math.max(0, from); i < to; i++) if (equalsWithMissing(list[i], needle)) return i;
    return -1;
  };
}

function concatArrays(args: DocValue, c: ExprCompiler, op: string): Node {
  const nodes = compileArgs(args, c, op, 0, Infinity);
  return (s) => {
    const out: DocValue[] = [];
    for (const n of nodes) {
      const v = n(s);
      if (isNullish(v)) return null;
      out.push(...requireArray(v, op));
    }
    return out;
  };
}

function slice(args: DocValue, c: ExprCompiler, op: string): Node {
  const nodes = compileArgs(args, c, op, 2, 3);
  return (s) => {
    const values = nodes.map((n) => n(s));
    if (values.some(isNullish)) return null;
    const list = requireArray(values[0], op);
    if (values.length === 2) {
      const n = requireInt(values[1], op, 'the count');
      return n >= 0 ? list.slice(0, n) : list.slice(Math.max(0, list.length + n));
    }
    const pos = requireInt(values[1], op, 'the position');
    const n = requireInt(values[2], op, 'the count');
    if (n <= 0) throw badQuery(`${op}: third argument must be positive: ${n}`);
    const from = pos < 0 ? Math.max(0, list.length + pos) : pos;
    return list.slice(from, from + n);
  };
}

/** $range's most elements: about what fits a 16 MiB document. */
const RANGE_ELEMENTS_MAX = 1_000_000;

function range(args: DocValue, c: ExprCompiler, op: string): Node {
  const nodes = compileArgs(args, c, op, 2, 3);
  return (s) => {
    const [start, end, step = 1] = nodes.map((n, i) => requireInt(n(s), op, ['the start', 'the end', 'the step'][i]));
    if (step === 0) throw badQuery('$range requires a non-zero step value');
    // An array a document could hold: past it the request is refused, not the process's memory spent.
    const count = Math.max(0, Math.ceil((end - start) / step));
    if (count > RANGE_ELEMENTS_MAX) throw badQuery(`$range would produce ${count} elements; the limit is ${RANGE_ELEMENTS_MAX}`);
    const out: number[] = [];
    for (let i = start; step > 0 ? i < end : i > end; i += step) out.push(i);
    return out;
  };
}

function sortArray(args: DocValue, c: ExprCompiler, op: string): Node {
  const named = namedArgs(args, op, ['input', 'sortBy']);
  const input = c.compile(named.input);
  const by = named.sortBy;
  const cmp = sortArrayComparator(by, op);
  return (s) => {
    const v = input(s);
    if (isNullish(v)) return null;
    return [...requireArray(v, op)].sort(cmp);
  };
}

function sortArrayComparator(by: DocValue, op: string): (a: DocValue, b: DocValue) => number {
  if (by === 1 || by === -1) return (a, b) => by * compareValues(a, b);
  if (!isPlainDoc(by)) throw badQuery(`${op}: sortBy must be 1, -1 or a sort document`);
  const keys = Object.entries(by).map(([path, dir]) => {
    if (dir !== 1 && dir !== -1) throw badQuery(`${op}: sort direction must be 1 or -1`);
    return { path: path.split('.'), dir };
  });
  const field = (d: DocValue, path: string[]): DocValue => {
    let cur: DocValue | undefined = d;
    for (const p of path) cur = isPlainDoc(cur) ? cur[p] : undefined;
    return cur === undefined ? null : cur;
  };
  return (a, b) => {
    for (const k of keys) {
      const r = compareValues(field(a, k.path), field(b, k.path));
      if (r !== 0) return k.dir * r;
    }
    return 0;
  };
}

// ------------------------------------------------------------------ sets ----

function distinct(list: readonly DocValue[]): DocValue[] {
  const out: DocValue[] = [];
  for (const v of list) if (!out.some((o) => valuesEqual(o, v))) out.push(v);
  return out;
}

const contains = (list: readonly DocValue[], v: DocValue): boolean => list.some((o) => valuesEqual(o, v));

function setOp(min: number, max: number, fn: (lists: DocValue[][]) => Value) {
  return (args: DocValue, c: ExprCompiler, op: string): Node => {
    const nodes = compileArgs(args, c, op, min, max);
    return (s) => {
      const values = nodes.map((n) => n(s));
      if (values.some(isNullish) && op !== '$setEquals' && op !== '$setIsSubset') return null;
      return fn(values.map((v) => requireArray(v, op)));
    };
  };
}

const SET_OPS: OpTable = {
  $setUnion: setOp(0, Infinity, (lists) => distinct(lists.flat())),
  $setIntersection: setOp(0, Infinity, (lists) =>
    lists.length === 0 ? [] : distinct(lists[0]).filter((v) => lists.every((l) => contains(l, v))),
  ),
  $setDifference: setOp(2, 2, ([a, b]) => distinct(a).filter((v) => !contains(b, v))),
  $setEquals: setOp(2, Infinity, (lists) =>
    lists.every((l) => l.every((v) => contains(lists[0], v)) && lists[0].every((v) => contains(l, v))),
  ),
  $setIsSubset: setOp(2, 2, ([a, b]) => a.every((v) => contains(b, v))),
  $anyElementTrue: setOp(1, 1, ([a]) => a.some((v) => isTruthy(v))),
  $allElementsTrue: setOp(1, 1, ([a]) => a.every((v) => isTruthy(v))),
};

// ----------------------------------------------------- accumulator style ----

/** $sum/$avg/$min/$max/$mergeObjects as expressions: one array operand, or several operands. */
function accumulatorExpr(fn: (values: Value[]) => Value, min = 1) {
  return (args: DocValue, c: ExprCompiler, op: string): Node => {
    const nodes = compileArgs(args, c, op, min, Infinity);
    if (nodes.length === 1) {
      const [a] = nodes;
      return (s) => {
        const v = a(s);
        return fn(Array.isArray(v) ? v : [v]);
      };
    }
    return (s) => fn(nodes.map((n) => n(s)));
  };
}

export function sumValues(values: Iterable<Value>): Num {
  let acc: Num = 0;
  for (const v of values) if (isNum(v)) acc = arith(acc, v, 'add');
  return acc;
}

function avgValues(values: Value[]): Value {
  const nums = values.filter(isNum);
  if (nums.length === 0) return null;
  return toJsNumber(sumValues(nums)) / nums.length;
}

function extreme(sign: 1 | -1) {
  return (values: Value[]): Value => {
    let best: DocValue | null = null;
    for (const v of values) {
      if (isNullish(v)) continue;
      if (best === null || sign * compareValues(v, best) > 0) best = v;
    }
    return best;
  };
}

// ---------------------------------------------------------------- objects ----

function mergeAll(values: Value[]): Doc {
  const out: Doc = {};
  for (const v of values) {
    if (isNullish(v)) continue;
    if (!isPlainDoc(v)) throw badQuery(`$mergeObjects requires object inputs, but input is of type ${typeLabel(v)}`);
    Object.assign(out, v);
  }
  return out;
}

function objectToArray(args: DocValue, c: ExprCompiler, op: string): Node {
  const [a] = compileArgs(args, c, op, 1);
  return (s) => {
    const v = a(s);
    if (isNullish(v)) return null;
    if (!isPlainDoc(v)) throw badQuery(`$objectToArray requires a document input, found: ${typeLabel(v)}`);
    return Object.entries(v).map(([k, val]) => ({ k, v: val }));
  };
}

function arrayToObject(list: DocValue[], op: string): Doc {
  const out: Doc = {};
  for (const entry of list) {
    let k: Value;
    let v: Value;
    if (Array.isArray(entry) && entry.length === 2) [k, v] = entry;
    else if (isPlainDoc(entry) && Object.keys(entry).length === 2 && 'k' in entry && 'v' in entry) ({ k, v } = entry);
    else throw badQuery(`${op} requires an array of [k, v] pairs or {k, v} documents`);
    if (typeof k !== 'string') throw badQuery(`${op} requires string keys, found: ${typeLabel(k)}`);
    if (k.includes('\0')) throw badQuery(`${op}: a key must not contain a null byte`);
    out[k] = v;
  }
  return out;
}

function getField(args: DocValue, c: ExprCompiler, op: string): Node {
  const named = typeof args === 'string' ? { field: args } : namedArgs(args, op, ['field'], ['input']);
  if (typeof named.field !== 'string') throw badQuery('$getField requires field to be a string constant');
  const field = named.field;
  const input = named.input === undefined ? c.compile('$$CURRENT') : c.compile(named.input);
  return (s) => {
    const v = input(s);
    if (isNullish(v)) return null;
    return isPlainDoc(v) ? ownField(v, field) : undefined;
  };
}

export const ARRAY_OPS: OpTable = {
  $size: size,
  $arrayElemAt: arrayElemAt,
  $first: arrayFn((arr) => arr[0]),
  $last: arrayFn((arr) => arr[arr.length - 1]),
  $filter: iterate('filter'),
  $map: iterate('map'),
  $reduce: reduce,
  $in: inOp,
  $indexOfArray: indexOfArray,
  $concatArrays: concatArrays,
  $slice: slice,
  $isArray: (args, c, op) => {
    const [a] = compileArgs(args, c, op, 1);
    return (s) => Array.isArray(a(s));
  },
  $range: range,
  $reverseArray: arrayFn((arr) => [...arr].reverse()),
  $sortArray: sortArray,
  ...SET_OPS,
  $sum: accumulatorExpr(sumValues),
  $avg: accumulatorExpr(avgValues),
  $min: accumulatorExpr(extreme(-1)),
  $max: accumulatorExpr(extreme(1)),
  $mergeObjects: accumulatorExpr(mergeAll, 0),
  $objectToArray: objectToArray,
  $arrayToObject: arrayFn((arr, op) => arrayToObject(arr, op)),
  $getField: getField,
};
