// Bound expressions (the binder's output) and their compilation to closures.
//
// A row on the router is a flat Value[] whose layout the binder fixed (a scan's
// table columns, a join's left then right columns, an aggregate's [aggregates…,
// representative input row…], a window's input row then its window values).
// `col` reads the current row; `outer` reads a row of an enclosing query
// (correlated subqueries), `depth` levels up.

import type { EvalContext, FunctionImpl } from './sql-functions.js';
import type { OperatorImpl } from './sql-operators.js';
import { castValue, compareValues, valueToText } from './sql-cast.js';
import type { SqlType, Value } from './sql-types.js';
import { sqlError } from './sql-errors.js';
import type { PlanNode } from './plan.js';

export type Expr =
  | { readonly k: 'col'; readonly idx: number; readonly type: SqlType; readonly name: string; readonly location?: number }
  | { readonly k: 'outer'; readonly depth: number; readonly idx: number; readonly type: SqlType; readonly name: string }
  | { readonly k: 'const'; readonly value: Value; readonly type: SqlType; readonly location?: number }
  | { readonly k: 'param'; readonly n: number; readonly type: SqlType }
  | { readonly k: 'op'; readonly op: string; readonly impl: OperatorImpl; readonly args: readonly Expr[]; readonly type: SqlType }
  | { readonly k: 'func'; readonly name: string; readonly impl: FunctionImpl; readonly args: readonly Expr[]; readonly type: SqlType }
  | { readonly k: 'cast'; readonly arg: Expr; readonly type: SqlType; readonly location?: number }
  | { readonly k: 'and' | 'or'; readonly args: readonly Expr[]; readonly type: 'bool' }
  | { readonly k: 'not'; readonly arg: Expr; readonly type: 'bool' }
  | { readonly k: 'isnull'; readonly arg: Expr; readonly neg: boolean; readonly type: 'bool' }
  | { readonly k: 'booltest'; readonly arg: Expr; readonly test: 'true' | 'false' | 'unknown'; readonly neg: boolean; readonly type: 'bool' }
  | { readonly k: 'distinct'; readonly a: Expr; readonly b: Expr; readonly eq: OperatorImpl; readonly neg: boolean; readonly type: 'bool' }
  | { readonly k: 'case'; readonly whens: readonly { readonly cond: Expr; readonly then: Expr }[]; readonly else: Expr; readonly type: SqlType }
  | { readonly k: 'coalesce'; readonly args: readonly Expr[]; readonly type: SqlType }
  | { readonly k: 'minmax'; readonly greatest: boolean; readonly args: readonly Expr[]; readonly type: SqlType }
  | { readonly k: 'nullif'; readonly a: Expr; readonly b: Expr; readonly eq: OperatorImpl; readonly type: SqlType }
  | { readonly k: 'in'; readonly arg: Expr; readonly list: readonly Expr[]; readonly eqs: readonly OperatorImpl[]; readonly neg: boolean; readonly type: 'bool' }
  | {
      readonly k: 'subq';
      readonly kind: 'scalar' | 'exists' | 'any' | 'all';
      readonly plan: PlanNode;
      readonly test: Expr | null;
      readonly cmp: OperatorImpl | null;
      /** Row comparisons ((a, b) IN (SELECT x, y …)): one test and operator per column. */
      readonly rowTests?: readonly Expr[];
      readonly rowCmps?: readonly OperatorImpl[];
      readonly correlated: boolean;
      readonly type: SqlType;
    };

/** What evaluation needs besides the row: enclosing rows, parameters, the statement's clock, caches. */
export type Env = {
  readonly outer: readonly (readonly Value[])[];
  readonly params: readonly Value[];
  readonly ctx: EvalContext;
  /** Uncorrelated subquery results, computed once per statement. */
  readonly subCache: Map<PlanNode, Value[][]>;
  /** Called between rows of long loops: throws when the statement was cancelled or ran out of time. */
  readonly check: () => void;
  /** Counts router memory held by materialized rows: throws 53200 past the statement's budget. */
  readonly charge: (bytes: number) => void;
};

export type Compiled = (row: readonly Value[], env: Env) => Value;

/** Does the expression read enclosing rows (directly, or through a correlated subquery)? */
export function isCorrelated(e: Expr): boolean {
  let found = false;
  walk(e, (x) => {
    if (x.k === 'outer' || (x.k === 'subq' && x.correlated)) found = true;
  });
  return found;
}

/** Visits every node of an expression (not into subquery plans). */
export function walk(e: Expr, visit: (e: Expr) => void): void {
  visit(e);
  for (const c of children(e)) walk(c, visit);
}

export function children(e: Expr): Expr[] {
  switch (e.k) {
    case 'op':
    case 'func':
    case 'and':
    case 'or':
    case 'coalesce':
    case 'minmax':
      return [...e.args];
    case 'cast':
    case 'not':
    case 'isnull':
    case 'booltest':
      return [e.arg];
    case 'distinct':
    case 'nullif':
      return [e.a, e.b];
    case 'case':
      return [...e.whens.flatMap((w) => [w.cond, w.then]), e.else];
    case 'in':
      return [e.arg, ...e.list];
    case 'subq':
      return [...(e.test === null ? [] : [e.test]), ...(e.rowTests ?? [])];
    default:
      return [];
  }
}

/** Columns of the current row the expression reads. */
export function columnsRead(e: Expr, into: Set<number> = new Set()): Set<number> {
  walk(e, (x) => {
    if (x.k === 'col') into.add(x.idx);
  });
  return into;
}

/** Runs a subquery plan for the current row (cached when uncorrelated). */
export type SubqueryRunner = (plan: PlanNode, row: readonly Value[], env: Env, correlated: boolean) => Value[][];
let runSubquery: SubqueryRunner = () => {
  throw new Error('assertion failed: no subquery runner installed');
};
export function installSubqueryRunner(r: SubqueryRunner): void {
  runSubquery = r;
}

const truthy = (v: Value): boolean => v === true;

/** Compiles an expression to a closure over (row, env). */
export function compile(e: Expr): Compiled {
  switch (e.k) {
    case 'col': {
      const i = e.idx;
      return (row) => row[i];
    }
    case 'outer': {
      const { depth, idx } = e;
      return (_row, env) => env.outer[env.outer.length - depth][idx];
    }
    case 'const': {
      const v = e.value;
      return () => v;
    }
    case 'param': {
      const n = e.n - 1;
      return (_row, env) => env.params[n];
    }
    case 'op': {
      const impl = e.impl;
      if (e.args.length === 1) {
        const a = compile(e.args[0]);
        return (row, env) => {
          const x = a(row, env);
          return x === null ? null : impl.call(null, x);
        };
      }
      const a = compile(e.args[0]);
      const b = compile(e.args[1]);
      return (row, env) => {
        const x = a(row, env);
        if (x === null) return null;
        const y = b(row, env);
        return y === null ? null : impl.call(x, y);
      };
    }
    case 'func': {
      const impl = e.impl;
      const args = e.args.map(compile);
      return (row, env) => {
        const vals = args.map((f) => f(row, env));
        if (impl.strict && vals.some((v) => v === null)) return null;
        return impl.call(vals, env.ctx);
      };
    }
    case 'cast': {
      const a = compile(e.arg);
      const from = e.arg.type;
      const to = e.type;
      const loc = e.location;
      if (from === to) return a;
      return (row, env) => castValue(a(row, env), from, to, loc);
    }
    case 'and':
    case 'or': {
      // Three-valued: AND stops at FALSE, OR at TRUE; otherwise NULL if any input was NULL.
      const args = e.args.map(compile);
      const stop = e.k !== 'and';
      return (row, env) => {
        let sawNull = false;
        for (const f of args) {
          const v = f(row, env);
          if (v === stop) return stop;
          if (v === null) sawNull = true;
        }
        return sawNull ? null : !stop;
      };
    }
    case 'not': {
      const a = compile(e.arg);
      return (row, env) => {
        const v = a(row, env);
        return v === null ? null : !v;
      };
    }
    case 'isnull': {
      const a = compile(e.arg);
      const neg = e.neg;
      return (row, env) => (a(row, env) === null) !== neg;
    }
    case 'booltest': {
      const a = compile(e.arg);
      const { test, neg } = e;
      return (row, env) => {
        const v = a(row, env);
        const r = test === 'unknown' ? v === null : test === 'true' ? v === true : v === false;
        return r !== neg;
      };
    }
    case 'distinct': {
      const a = compile(e.a);
      const b = compile(e.b);
      const { eq, neg } = e;
      return (row, env) => {
        const x = a(row, env);
        const y = b(row, env);
        let distinct: boolean;
        if (x === null || y === null) distinct = (x === null) !== (y === null);
        else distinct = eq.call(x, y) !== true;
        return distinct !== neg;
      };
    }
    case 'case': {
      const whens = e.whens.map((w) => [compile(w.cond), compile(w.then)] as const);
      const other = compile(e.else);
      return (row, env) => {
        for (const [c, t] of whens) if (truthy(c(row, env))) return t(row, env);
        return other(row, env);
      };
    }
    case 'coalesce': {
      const args = e.args.map(compile);
      return (row, env) => {
        for (const f of args) {
          const v = f(row, env);
          if (v !== null) return v;
        }
        return null;
      };
    }
    case 'minmax': {
      const args = e.args.map(compile);
      const { greatest, type } = e;
      return (row, env) => {
        let best: Value = null;
        for (const f of args) {
          const v = f(row, env);
          if (v === null) continue;
          if (best === null) best = v;
          else {
            const c = compareValues(v, best, type);
            if (greatest ? c > 0 : c < 0) best = v;
          }
        }
        return best;
      };
    }
    case 'nullif': {
      const a = compile(e.a);
      const b = compile(e.b);
      const eq = e.eq;
      return (row, env) => {
        const x = a(row, env);
        if (x === null) return null;
        const y = b(row, env);
        if (y === null) return x;
        return eq.call(x, y) === true ? null : x;
      };
    }
    case 'in': {
      const arg = compile(e.arg);
      const list = e.list.map(compile);
      const { eqs, neg } = e;
      return (row, env) => {
        const x = arg(row, env);
        if (x === null) return null;
        let sawNull = false;
        for (let i = 0; i < list.length; i++) {
          const y = list[i](row, env);
          if (y === null) {
            sawNull = true;
            continue;
          }
          const r = eqs[i].call(x, y);
          if (r === true) return !neg;
          if (r === null) sawNull = true;
        }
        return sawNull ? null : neg;
      };
    }
    case 'subq':
      return compileSubquery(e);
  }
}

function compileSubquery(e: Extract<Expr, { k: 'subq' }>): Compiled {
  const { plan, correlated, kind, cmp } = e;
  const test = e.test === null ? null : compile(e.test);
  switch (kind) {
    case 'exists':
      return (row, env) => runSubquery(plan, row, env, correlated).length > 0;
    case 'scalar':
      return (row, env) => {
        const rows = runSubquery(plan, row, env, correlated);
        if (rows.length > 1) throw sqlError('21000', 'more than one row returned by a subquery used as an expression');
        return rows.length === 0 ? null : rows[0][0];
      };
    case 'any':
    case 'all': {
      const all = kind === 'all';
      if (e.rowTests !== undefined) {
        const tests = e.rowTests.map(compile);
        const cmps = e.rowCmps as readonly OperatorImpl[];
        // Row comparison: TRUE when every column compares TRUE, FALSE when one is FALSE, else NULL.
        const rowCmp = (xs: Value[], r: Value[]): Value => {
          let sawNull = false;
          for (let i = 0; i < xs.length; i++) {
            const v = xs[i] === null || r[i] === null ? null : cmps[i].call(xs[i], r[i]);
            if (v === false) return false;
            if (v === null) sawNull = true;
          }
          return sawNull ? null : true;
        };
        return (row, env) => {
          const rows = runSubquery(plan, row, env, correlated);
          if (rows.length === 0) return all;
          const xs = tests.map((t) => t(row, env));
          let sawNull = false;
          for (const r of rows) {
            const v = rowCmp(xs, r);
            if (v === null) sawNull = true;
            else if (all ? v === false : v === true) return !all;
          }
          return sawNull ? null : all;
        };
      }
      const t = test as Compiled;
      const c = cmp as OperatorImpl;
      return (row, env) => {
        const rows = runSubquery(plan, row, env, correlated);
        if (rows.length === 0) return all;
        const x = t(row, env);
        let sawNull = false;
        for (const r of rows) {
          const y = r[0];
          const v = x === null || y === null ? null : c.call(x, y);
          if (v === null) sawNull = true;
          else if (all ? v === false : v === true) return !all;
        }
        return sawNull ? null : all;
      };
    }
  }
}

/** Compiles a predicate: true only for TRUE (NULL and FALSE reject). */
export function compilePredicate(e: Expr): (row: readonly Value[], env: Env) => boolean {
  const f = compile(e);
  return (row, env) => f(row, env) === true;
}

/** Splits a conjunction into its conjuncts. */
export function conjuncts(e: Expr | null): Expr[] {
  if (e === null) return [];
  if (e.k === 'and') return e.args.flatMap(conjuncts);
  return [e];
}

export function andOf(parts: readonly Expr[]): Expr | null {
  if (parts.length === 0) return null;
  if (parts.length === 1) return parts[0];
  return { k: 'and', args: parts, type: 'bool' };
}

/** Shifts every `col` index by `delta` (a layout moved right inside a wider row). */
export function shiftCols(e: Expr, delta: number): Expr {
  return mapExpr(e, (x) => (x.k === 'col' ? { ...x, idx: x.idx + delta } : x));
}

/** Rebuilds an expression bottom-up with `f` applied to every node (children first). */
export function mapExpr(e: Expr, f: (e: Expr) => Expr): Expr {
  let out: Expr;
  switch (e.k) {
    case 'op':
    case 'func':
    case 'and':
    case 'or':
    case 'coalesce':
    case 'minmax':
      out = { ...e, args: e.args.map((a) => mapExpr(a, f)) } as Expr;
      break;
    case 'cast':
    case 'not':
    case 'isnull':
    case 'booltest':
      out = { ...e, arg: mapExpr(e.arg, f) } as Expr;
      break;
    case 'distinct':
    case 'nullif':
      out = { ...e, a: mapExpr(e.a, f), b: mapExpr(e.b, f) } as Expr;
      break;
    case 'case':
      out = { ...e, whens: e.whens.map((w) => ({ cond: mapExpr(w.cond, f), then: mapExpr(w.then, f) })), else: mapExpr(e.else, f) };
      break;
    case 'in':
      out = { ...e, arg: mapExpr(e.arg, f), list: e.list.map((a) => mapExpr(a, f)) };
      break;
    case 'subq':
      out = { ...e, test: e.test === null ? null : mapExpr(e.test, f), ...(e.rowTests === undefined ? {} : { rowTests: e.rowTests.map((t) => mapExpr(t, f)) }) };
      break;
    default:
      out = e;
  }
  return f(out);
}

// ---- text for EXPLAIN ----

export function exprText(e: Expr, names?: (idx: number) => string): string {
  const t = (x: Expr): string => exprText(x, names);
  switch (e.k) {
    case 'col':
      return names?.(e.idx) ?? e.name;
    case 'outer':
      return e.name;
    case 'const': {
      if (e.value === null) return 'NULL';
      if (typeof e.value === 'string') return `'${e.value.replace(/'/g, "''")}'`;
      if (e.type === 'date' || e.type === 'timestamp' || e.type === 'timestamptz' || e.type === 'interval' || e.type === 'jsonb' || e.type === 'bytea') {
        return `'${valueToText(e.value, e.type).replace(/'/g, "''")}'::${e.type}`;
      }
      return String(e.value);
    }
    case 'param':
      return `$${e.n}`;
    case 'op':
      return e.args.length === 1 ? `(${e.op} ${t(e.args[0])})` : `(${t(e.args[0])} ${e.op} ${t(e.args[1])})`;
    case 'func':
      return `${e.name}(${e.args.map(t).join(', ')})`;
    case 'cast':
      return `(${t(e.arg)})::${e.type}`;
    case 'and':
    case 'or':
      return `(${e.args.map(t).join(e.k === 'and' ? ' AND ' : ' OR ')})`;
    case 'not':
      return `(NOT ${t(e.arg)})`;
    case 'isnull':
      return `(${t(e.arg)} IS ${e.neg ? 'NOT ' : ''}NULL)`;
    case 'booltest':
      return `(${t(e.arg)} IS ${e.neg ? 'NOT ' : ''}${e.test.toUpperCase()})`;
    case 'distinct':
      return `(${t(e.a)} IS ${e.neg ? 'NOT ' : ''}DISTINCT FROM ${t(e.b)})`;
    case 'case':
      return `CASE ${e.whens.map((w) => `WHEN ${t(w.cond)} THEN ${t(w.then)}`).join(' ')} ELSE ${t(e.else)} END`;
    case 'coalesce':
      return `COALESCE(${e.args.map(t).join(', ')})`;
    case 'minmax':
      return `${e.greatest ? 'GREATEST' : 'LEAST'}(${e.args.map(t).join(', ')})`;
    case 'nullif':
      return `NULLIF(${t(e.a)}, ${t(e.b)})`;
    case 'in':
      return `(${t(e.arg)} ${e.neg ? 'NOT IN' : 'IN'} (${e.list.map(t).join(', ')}))`;
    case 'subq':
      if (e.kind === 'exists') return '(EXISTS (SubPlan))';
      if (e.kind === 'scalar') return '(SubPlan)';
      return `(${e.test === null ? `ROW(${(e.rowTests ?? []).map(t).join(', ')})` : t(e.test)} ${e.kind.toUpperCase()} (SubPlan))`;
  }
}
