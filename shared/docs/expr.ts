// Aggregation expressions compiled to closures: field paths ("$a.b"),
// variables ("$$ROOT", "$$CURRENT", "$$REMOVE", "$$NOW", user variables from
// $let/$map/$filter/$reduce or the caller), literals, object and array
// literals, and the operator table assembled from the agg-expr-*.ts files.
// Filters ($expr), updates (pipeline form) and aggregation stages all use
// compileExpr; the result never aliases a value it did not read from the
// input, and a compiled expression never mutates its input.

import { ARITH_OPS } from './agg-expr-arith.js';
import { ARRAY_OPS } from './agg-expr-array.js';
import {
  badQuery,
  checkVarName,
  constant,
  evaluatePath,
  isPlainDoc,
  orNull,
  ownField,
  type ExprCompiler,
  type Node,
  type OpTable,
  type Scope,
  type Value,
} from './agg-expr-core.js';
import { DATE_OPS } from './agg-expr-date.js';
import { LOGIC_OPS } from './agg-expr-logic.js';
import { STRING_OPS } from './agg-expr-string.js';
import { TYPE_OPS } from './agg-expr-type.js';
import type { Doc, DocValue } from './doc-types.js';

export type ExprVars = Readonly<Record<string, DocValue | undefined>>;

/** Evaluates against a document; `undefined` means the result is missing. */
export type CompiledExpr = (root: Doc, vars?: ExprVars) => DocValue | undefined;

export interface ExprOptions {
  /** The value of $$NOW (default: the time of compilation). */
  now?: Date;
}

export type { Node as ExprNode, Scope as ExprScope } from './agg-expr-core.js';

const OPERATORS: OpTable = {
  ...ARITH_OPS,
  ...LOGIC_OPS,
  ...STRING_OPS,
  ...ARRAY_OPS,
  ...TYPE_OPS,
  ...DATE_OPS,
};

const NO_VARS: ExprVars = Object.freeze({});

export function compileExpr(expr: DocValue, options: ExprOptions = {}): CompiledExpr {
  const node = compileExprNode(expr, options);
  return (root, vars) => node({ root, vars: vars ?? NO_VARS });
}

/** The raw node, for stages that evaluate many expressions against one scope. */
export function compileExprNode(expr: DocValue, options: ExprOptions = {}): Node {
  return new Compiler(options.now ?? new Date()).compile(expr);
}

/** True when `name` is an aggregation expression operator this engine knows. */
export function isExprOperator(name: string): boolean {
  return Object.hasOwn(OPERATORS, name);
}

// Nodes known to be constant, so literal objects/arrays of constants fold once.
const constants = new WeakSet<Node>();

function constNode(v: Value): Node {
  const n = constant(v);
  constants.add(n);
  return n;
}

class Compiler implements ExprCompiler {
  constructor(readonly now: Date) {}

  compile(expr: DocValue): Node {
    if (typeof expr === 'string') return expr.startsWith('$') ? this.compileReference(expr) : constNode(expr);
    if (Array.isArray(expr)) return this.compileArray(expr);
    if (isPlainDoc(expr)) return this.compileObject(expr);
    return constNode(expr);
  }

  private compileReference(ref: string): Node {
    if (ref.startsWith('$$')) return this.compileVariable(ref.slice(2));
    return fieldPathNode(parseFieldPath(ref.slice(1), ref));
  }

  private compileVariable(spec: string): Node {
    const dot = spec.indexOf('.');
    const name = dot < 0 ? spec : spec.slice(0, dot);
    const path = dot < 0 ? [] : parseFieldPath(spec.slice(dot + 1), `$$${spec}`);
    const base = this.variableNode(name);
    if (path.length === 0) return base;
    return (s) => evaluatePath(base(s), path);
  }

  private variableNode(name: string): Node {
    switch (name) {
      case 'ROOT':
        return (s) => s.root;
      case 'CURRENT':
        return currentOf;
      case 'REMOVE':
        return constNode(undefined);
      case 'NOW': {
        const now = this.now;
        return () => now;
      }
      default: {
        checkVarName(name, 'variable');
        return (s) => {
          if (!Object.hasOwn(s.vars, name)) throw badQuery(`Use of undefined variable: ${name}`);
          return s.vars[name];
        };
      }
    }
  }

  private compileArray(list: readonly DocValue[]): Node {
    const nodes = list.map((e) => this.compile(e));
    const node: Node = (s) => nodes.map((n) => orNull(n(s)));
    return nodes.every((n) => constants.has(n)) ? constNode(node(EMPTY_SCOPE)) : node;
  }

  private compileObject(obj: Doc): Node {
    const keys = Object.keys(obj);
    if (keys.length > 0 && keys[0].startsWith('$')) {
      if (keys.length !== 1) {
        throw badQuery(`an expression specification must contain exactly one field, the name of the expression: ${keys.join(', ')}`);
      }
      return this.compileOperator(keys[0], obj[keys[0]]);
    }
    const fields = keys.map((k) => [checkFieldName(k), this.compile(obj[k])] as const);
    const node: Node = (s) => {
      const out: Doc = {};
      for (const [k, n] of fields) {
        const v = n(s);
        if (v !== undefined) out[k] = v;
      }
      return out;
    };
    return fields.every(([, n]) => constants.has(n)) ? constNode(node(EMPTY_SCOPE)) : node;
  }

  private compileOperator(name: string, args: DocValue): Node {
    const op = Object.hasOwn(OPERATORS, name) ? OPERATORS[name] : undefined;
    if (op === undefined) throw badQuery(`Unrecognized expression operator '${name}'`);
    return op(args, this, name);
  }
}

const EMPTY_SCOPE: Scope = { root: {}, vars: NO_VARS };

function currentOf(s: Scope): Value {
  return 'CURRENT' in s.vars ? s.vars.CURRENT : s.root;
}

/** Splits "a.b.c" refusing empty segments and "$"-prefixed names, as MongoDB's FieldPath does. */
export function parseFieldPath(path: string, shown: string): string[] {
  if (path === '') throw badQuery(`'${shown}' is not a valid field path: it is empty`);
  const parts = path.split('.');
  for (const p of parts) {
    if (p === '') throw badQuery(`'${shown}' is not a valid field path: a field name is empty`);
    if (p.startsWith('$')) throw badQuery(`'${shown}' is not a valid field path: a field name may not start with '$'`);
  }
  return parts;
}

function checkFieldName(name: string): string {
  if (name.startsWith('$')) throw badQuery(`field names in an expression object may not start with '$': ${name}`);
  if (name.includes('.')) throw badQuery(`field names in an expression object may not contain '.': ${name}`);
  return name;
}

/** "$a" and "$a.b" read from CURRENT; the one-segment case is the hot one. */
function fieldPathNode(path: string[]): Node {
  if (path.length === 1) {
    const [field] = path;
    return (s) => {
      const cur = 'CURRENT' in s.vars ? s.vars.CURRENT : s.root;
      return isPlainDoc(cur) ? ownField(cur, field) : evaluatePath(cur, path);
    };
  }
  return (s) => evaluatePath(currentOf(s), path);
}
