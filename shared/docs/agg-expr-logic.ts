// Comparison, boolean, conditional and variable-binding expression operators.
// Comparisons use the query language's total order except that missing sorts
// below null, so {$eq: ["$absent", null]} is false, as in MongoDB.

import {
  badQuery,
  bind,
  checkVarName,
  compareWithMissing,
  compileArgs,
  constant,
  isNullish,
  isPlainDoc,
  isTruthy,
  namedArgs,
  type ExprCompiler,
  type Node,
  type OpTable,
  type Scope,
  type Value,
} from './agg-expr-core.js';
import type { DocValue } from './doc-types.js';

function comparison(test: (order: number) => boolean) {
  return (args: DocValue, c: ExprCompiler, op: string): Node => {
    const [a, b] = compileArgs(args, c, op, 2);
    return (s) => test(compareWithMissing(a(s), b(s)));
  };
}

function cmp(args: DocValue, c: ExprCompiler, op: string): Node {
  const [a, b] = compileArgs(args, c, op, 2);
  return (s) => Math.sign(compareWithMissing(a(s), b(s)));
}

function and(args: DocValue, c: ExprCompiler, op: string): Node {
  const nodes = compileArgs(args, c, op, 0, Infinity);
  return (s) => nodes.every((n) => isTruthy(n(s)));
}

function or(args: DocValue, c: ExprCompiler, op: string): Node {
  const nodes = compileArgs(args, c, op, 0, Infinity);
  return (s) => nodes.some((n) => isTruthy(n(s)));
}

function not(args: DocValue, c: ExprCompiler, op: string): Node {
  const [a] = compileArgs(args, c, op, 1);
  return (s) => !isTruthy(a(s));
}

function cond(args: DocValue, c: ExprCompiler, op: string): Node {
  let parts: DocValue[];
  if (isPlainDoc(args)) {
    const named = namedArgs(args, op, ['if', 'then', 'else']);
    parts = [named.if, named.then, named.else];
  } else {
    parts = Array.isArray(args) ? args : [args];
  }
  const [test, then, otherwise] = compileArgs(parts, c, op, 3);
  return (s) => (isTruthy(test(s)) ? then(s) : otherwise(s));
}

function ifNull(args: DocValue, c: ExprCompiler, op: string): Node {
  const nodes = compileArgs(args, c, op, 2, Infinity);
  const last = nodes.length - 1;
  return (s) => {
    for (let i = 0; i < last; i++) {
      const v = nodes[i](s);
      if (!isNullish(v)) return v;
    }
    return nodes[last](s);
  };
}

function switchOp(args: DocValue, c: ExprCompiler, op: string): Node {
  const named = namedArgs(args, op, ['branches'], ['default']);
  if (!Array.isArray(named.branches)) throw badQuery('$switch expected an array for \'branches\'');
  const branches = named.branches.map((b) => {
    const branch = namedArgs(b, '$switch branch', ['case', 'then']);
    return { test: c.compile(branch.case), then: c.compile(branch.then) };
  });
  const fallback = named.default === undefined ? null : c.compile(named.default);
  return (s) => {
    for (const b of branches) if (isTruthy(b.test(s))) return b.then(s);
    if (fallback === null) throw badQuery('$switch could not find a matching branch for an input, and no default was specified.');
    return fallback(s);
  };
}

function letOp(args: DocValue, c: ExprCompiler, op: string): Node {
  const named = namedArgs(args, op, ['vars', 'in']);
  if (!isPlainDoc(named.vars)) throw badQuery("invalid parameter: expected an object ('vars')");
  const defs = Object.entries(named.vars).map(
    ([name, expr]) => [name === 'CURRENT' ? name : checkVarName(name, op), c.compile(expr)] as const,
  );
  const body = c.compile(named.in);
  return (s) => {
    let inner: Scope = s;
    // every definition sees the outer scope, not its siblings
    const values: Value[] = defs.map(([, node]) => node(s));
    defs.forEach(([name], i) => {
      inner = bind(inner, name, values[i]);
    });
    return body(inner);
  };
}

export const LOGIC_OPS: OpTable = {
  $eq: comparison((o) => o === 0),
  $ne: comparison((o) => o !== 0),
  $gt: comparison((o) => o > 0),
  $gte: comparison((o) => o >= 0),
  $lt: comparison((o) => o < 0),
  $lte: comparison((o) => o <= 0),
  $cmp: cmp,
  $and: and,
  $or: or,
  $not: not,
  $cond: cond,
  $ifNull: ifNull,
  $switch: switchOp,
  $let: letOp,
  $literal: (args) => constant(args),
};
