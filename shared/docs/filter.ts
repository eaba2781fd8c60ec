// Query filters compiled once into closures over the stored document form,
// with MongoDB's semantics: every path condition is evaluated over the
// candidate values paths.ts yields (implicit array traversal), positive
// operators hold when SOME candidate passes, and the negations ($ne, $nin,
// $not, $exists: false, $nor) are the negation of the whole positive
// condition. Compiling validates: a bad filter throws BAD_QUERY naming the
// operator and path, so a compiled predicate never throws.
//
// The same operator set also compiles to single-value tests, for the value
// form of $elemMatch ({a: {$elemMatch: {$gt: 1, $lt: 5}}}), whose
// conditions apply to each array element as is, without traversal.

import { isBsonRegExp, isDoc } from './bson-types.js';
import { isTruthy } from './agg-expr-core.js';
import type { Doc, DocPredicate, DocValue } from './doc-types.js';
import { compileExpr, type ExprVars } from './expr.js';
import {
  badQuery,
  compareTest,
  eqTest,
  inTest,
  modTest,
  regexTest,
  sizeTest,
  typeTest,
  type CompareOp,
  type ValueTest,
} from './filter-values.js';
import { checkPath, parsePath, someCandidate, type FieldPath } from './paths.js';

export interface FilterOptions {
  /** Variables visible to $expr ($$name). */
  vars?: ExprVars;
  /** $$NOW for $expr (default: compile time). */
  now?: Date;
}

/** Filters nested deeper than this ($and/$or/$nor/$not/$elemMatch) are refused. */
export const FILTER_DEPTH_MAX = 100;

/** Compiles a filter; throws BAD_QUERY for anything MongoDB would refuse. */
export function compileFilter(filter: Doc, options: FilterOptions = {}): DocPredicate {
  if (!isDoc(filter)) throw badQuery('filter must be a document');
  return new FilterCompiler(options).document(filter, 0, false);
}

/** A condition on one path, before it is bound to the path or to a value. */
type Cond =
  | {
      readonly kind: 'some';
      readonly test: ValueTest;
      readonly leafArrays: boolean;
      /** Set for equality with a string or boolean: only an identical value is equal. */
      readonly identity?: string | boolean;
    }
  | { readonly kind: 'not'; readonly conds: readonly Cond[] }
  | { readonly kind: 'never' };

const some = (test: ValueTest, leafArrays = true): Cond => ({ kind: 'some', test, leafArrays });
const equals = (c: DocValue): Cond =>
  typeof c === 'string' || typeof c === 'boolean'
    ? { kind: 'some', test: eqTest(c), leafArrays: true, identity: c }
    : some(eqTest(c));
const not = (conds: readonly Cond[]): Cond => ({ kind: 'not', conds });
const NEVER: Cond = { kind: 'never' };
const present: ValueTest = (v) => v !== undefined;

const COMPARE_OPS: ReadonlySet<string> = new Set(['$gt', '$gte', '$lt', '$lte']);
const LOGICAL_OPS: ReadonlySet<string> = new Set(['$and', '$or', '$nor']);
/** Top-level-only keywords: a $elemMatch document starting with one is the object form. */
const TOP_LEVEL_KEYWORDS: ReadonlySet<string> = new Set([
  '$and',
  '$or',
  '$nor',
  '$expr',
  '$where',
  '$text',
  '$comment',
  '$jsonSchema',
  '$alwaysTrue',
  '$alwaysFalse',
]);
const UNSUPPORTED_TOP: ReadonlySet<string> = new Set(['$where', '$text', '$jsonSchema', '$sampleRate']);

class FilterCompiler {
  constructor(private readonly options: FilterOptions) {}

  /** A filter document: the AND of its entries. */
  document(filter: Doc, depth: number, inElemMatch: boolean): DocPredicate {
    if (depth > FILTER_DEPTH_MAX) throw badQuery(`filter exceeds the nesting depth limit of ${FILTER_DEPTH_MAX}`);
    const preds: DocPredicate[] = [];
    for (const key of Object.keys(filter)) {
      const value = filter[key];
      if (key.charCodeAt(0) === 0x24 /* $ */) {
        const p = this.topOperator(key, value, depth, inElemMatch);
        if (p !== undefined) preds.push(p);
      } else {
        checkPath(key, 'filter');
        const fp = parsePath(key);
        for (const c of this.fieldConds(value, `'${key}'`, depth)) preds.push(bindPath(fp, c));
      }
    }
    return allOf(preds);
  }

  private topOperator(op: string, value: DocValue, depth: number, inElemMatch: boolean): DocPredicate | undefined {
    if (LOGICAL_OPS.has(op)) {
      if (!Array.isArray(value) || value.length === 0) throw badQuery(`${op} must be a nonempty array`);
      const parts = value.map((f) => {
        if (!isDoc(f)) throw badQuery(`${op} argument's entries must be objects`);
        return this.document(f, depth + 1, inElemMatch);
      });
      if (op === '$and') return allOf(parts);
      const any = anyOf(parts);
      return op === '$or' ? any : (doc) => !any(doc);
    }
    switch (op) {
      case '$expr':
        if (inElemMatch) throw badQuery('$expr can only be applied to the top-level document');
        return this.expr(value);
      case '$comment':
        return undefined;
      case '$alwaysTrue':
      case '$alwaysFalse':
        if (value !== 1) throw badQuery(`${op} must be an integer value of 1`);
        return op === '$alwaysTrue' ? () => true : () => false;
      default:
        if (UNSUPPORTED_TOP.has(op)) throw badQuery(`${op} is not supported`);
        throw badQuery(`unknown top level operator: ${op}`);
    }
  }

  private expr(value: DocValue): DocPredicate {
    const fn = compileExpr(value, this.options.now === undefined ? {} : { now: this.options.now });
    const vars = this.options.vars;
    return (doc) => isTruthy(fn(doc, vars));
  }

  /** The conditions of `{path: spec}`. */
  private fieldConds(spec: DocValue, where: string, depth: number): Cond[] {
    if (isBsonRegExp(spec)) return [some(regexTest(spec.pattern, spec.options, where))];
    if (isOperatorDoc(spec)) return this.operators(spec, where, depth);
    return [equals(spec)];
  }

  /** An operator document ({$gt: 1, $lt: 5}): one condition per operator. */
  private operators(spec: Doc, where: string, depth: number): Cond[] {
    const conds: Cond[] = [];
    for (const op of Object.keys(spec)) {
      for (const c of this.operator(op, spec[op], spec, `${where} ${op}`, depth)) conds.push(c);
    }
    return conds;
  }

  private operator(op: string, arg: DocValue, spec: Doc, where: string, depth: number): readonly Cond[] {
    if (op === '$all') return this.all(arg, where, depth);
    if (op === '$options') {
      if (!Object.hasOwn(spec, '$regex')) throw badQuery(`${where} needs a $regex`);
      return [];
    }
    return [this.singleOperator(op, arg, spec, where, depth)];
  }

  private singleOperator(op: string, arg: DocValue, spec: Doc, where: string, depth: number): Cond {
    if (COMPARE_OPS.has(op)) return some(compareTest(op as CompareOp, arg));
    switch (op) {
      case '$eq':
        return equals(arg);
      case '$ne':
        return not([equals(arg)]);
      case '$in':
        return some(inTest(requireArray(arg, where), where));
      case '$nin':
        return not([some(inTest(requireArray(arg, where), where))]);
      case '$exists':
        return isTruthy(arg) ? some(present) : not([some(present)]);
      case '$type':
        return some(typeTest(arg, where));
      case '$regex':
        return some(regexFromOperator(arg, spec.$options, where));
      case '$mod':
        return some(modTest(arg, where));
      case '$size':
        return some(sizeTest(arg, where), false);
      case '$elemMatch':
        return some(this.elemMatch(arg, where, depth + 1), false);
      case '$not':
        return not(this.notOperand(arg, where, depth + 1));
      default:
        throw badQuery(`unknown operator ${op}`);
    }
  }

  private notOperand(arg: DocValue, where: string, depth: number): Cond[] {
    if (isBsonRegExp(arg)) return [some(regexTest(arg.pattern, arg.options, where))];
    if (!isDoc(arg)) throw badQuery(`${where} needs a regex or a document`);
    if (Object.keys(arg).length === 0) throw badQuery(`${where} cannot be empty`);
    if (depth > FILTER_DEPTH_MAX) throw badQuery(`filter exceeds the nesting depth limit of ${FILTER_DEPTH_MAX}`);
    for (const k of Object.keys(arg)) if (!k.startsWith('$')) throw badQuery(`unknown operator ${k} in ${where}`);
    return this.operators(arg, where, depth);
  }

  // $all: every value equal to (or, for a regex, matching) some candidate;
  // or every {$elemMatch} holding. An empty $all matches nothing.
  private all(arg: DocValue, where: string, depth: number): Cond[] {
    const values = requireArray(arg, where);
    if (values.length === 0) return [NEVER];
    const elemMatchForm = isDoc(values[0]) && firstKey(values[0]) === '$elemMatch';
    return values.map((v): Cond => {
      const isElemMatch = isDoc(v) && firstKey(v) === '$elemMatch';
      if (isElemMatch !== elemMatchForm) throw badQuery(`${where}: $all/$elemMatch has to be consistent`);
      if (isElemMatch) return some(this.elemMatch((v as Doc).$elemMatch, `${where} $elemMatch`, depth + 1), false);
      if (isOperatorDoc(v)) throw badQuery(`${where}: no $ expressions in $all`);
      if (isBsonRegExp(v)) return some(regexTest(v.pattern, v.options, where));
      return equals(v);
    });
  }

  /** The test a candidate array must pass for {$elemMatch: arg}. */
  private elemMatch(arg: DocValue, where: string, depth: number): ValueTest {
    if (depth > FILTER_DEPTH_MAX) throw badQuery(`filter exceeds the nesting depth limit of ${FILTER_DEPTH_MAX}`);
    if (isBsonRegExp(arg)) return someElement(regexTest(arg.pattern, arg.options, where));
    if (!isDoc(arg)) throw badQuery(`${where} needs an Object`);
    const first = firstKey(arg);
    if (first !== undefined && first.startsWith('$') && !TOP_LEVEL_KEYWORDS.has(first)) {
      return someElement(allTests(this.operators(arg, where, depth).map(bindValue)));
    }
    const inner = this.document(arg, depth, true);
    return (v) => {
      if (!Array.isArray(v)) return false;
      for (let i = 0; i < v.length; i++) {
        const e = v[i];
        if (isDoc(e) ? inner(e) : Array.isArray(e) && inner(arrayAsDoc(e))) return true;
      }
      return false;
    };
  }
}

// ---- binding conditions ------------------------------------------------------

/** A condition on a path of the document. */
function bindPath(fp: FieldPath, c: Cond): DocPredicate {
  switch (c.kind) {
    case 'some':
      return c.identity !== undefined ? identityAt(fp, c.identity, c.test) : someAt(fp, c.leafArrays, c.test);
    case 'not': {
      const inner = allOf(c.conds.map((x) => bindPath(fp, x)));
      return (doc) => !inner(doc);
    }
    case 'never':
      return () => false;
    default:
      return unreachableCond(c);
  }
}

/** The same condition on one value, without traversal ($elemMatch value form). */
function bindValue(c: Cond): ValueTest {
  switch (c.kind) {
    case 'some':
      return c.test;
    case 'not': {
      const inner = allTests(c.conds.map(bindValue));
      return (v) => !inner(v);
    }
    case 'never':
      return () => false;
    default:
      return unreachableCond(c);
  }
}

function unreachableCond(c: never): never {
  throw new Error(`unreachable: ${JSON.stringify(c)}`);
}

/**
 * True when some candidate at `fp` passes. One- and two-part paths over
 * plain objects (the common case) skip the general walk.
 */
function someAt(fp: FieldPath, leafArrays: boolean, test: ValueTest): DocPredicate {
  const parts = fp.parts;
  if (fp.inherited.some((x) => x) || parts.length > 2) {
    return (doc) => someCandidate(doc, fp, leafArrays, test);
  }
  const k0 = parts[0];
  const leaf = leafArrays ? leafTraverse(test) : test;
  if (parts.length === 1) return (doc) => leaf(doc[k0]);
  const k1 = parts[1];
  return (doc) => {
    const a = doc[k0];
    if (typeof a !== 'object' || a === null) return test(undefined);
    if (Array.isArray(a)) return someCandidate(doc, fp, leafArrays, test);
    if (!isDoc(a)) return test(undefined);
    return leaf(a[k1]);
  };
}

/**
 * Equality with a string or boolean on a one- or two-part path: no other
 * value equals it, and an array holds it when `includes` says so.
 */
function identityAt(fp: FieldPath, c: string | boolean, test: ValueTest): DocPredicate {
  const parts = fp.parts;
  if (fp.inherited.some((x) => x) || parts.length > 2) return (doc) => someCandidate(doc, fp, true, test);
  const k0 = parts[0];
  if (parts.length === 1) {
    return (doc) => {
      const v = doc[k0];
      return v === c || (Array.isArray(v) && v.includes(c));
    };
  }
  const k1 = parts[1];
  return (doc) => {
    const a = doc[k0];
    if (typeof a !== 'object' || a === null) return false;
    if (Array.isArray(a)) return someCandidate(doc, fp, true, test);
    if (!isDoc(a)) return false;
    const v = a[k1];
    return v === c || (Array.isArray(v) && v.includes(c));
  };
}

/** A leaf value: each element of an array, then the array itself. */
function leafTraverse(test: ValueTest): ValueTest {
  return (v) => {
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) if (test(v[i])) return true;
    }
    return test(v);
  };
}

// ---- combinators ----------------------------------------------------------------

function allOf(preds: readonly DocPredicate[]): DocPredicate {
  switch (preds.length) {
    case 0:
      return () => true;
    case 1:
      return preds[0];
    case 2: {
      const [a, b] = preds;
      return (doc) => a(doc) && b(doc);
    }
    case 3: {
      const [a, b, c] = preds;
      return (doc) => a(doc) && b(doc) && c(doc);
    }
    default:
      return (doc) => {
        for (let i = 0; i < preds.length; i++) if (!preds[i](doc)) return false;
        return true;
      };
  }
}

function anyOf(preds: readonly DocPredicate[]): DocPredicate {
  if (preds.length === 1) return preds[0];
  if (preds.length === 2) {
    const [a, b] = preds;
    return (doc) => a(doc) || b(doc);
  }
  return (doc) => {
    for (let i = 0; i < preds.length; i++) if (preds[i](doc)) return true;
    return false;
  };
}

function allTests(tests: readonly ValueTest[]): ValueTest {
  if (tests.length === 1) return tests[0];
  return (v) => {
    for (let i = 0; i < tests.length; i++) if (!tests[i](v)) return false;
    return true;
  };
}

function someElement(test: ValueTest): ValueTest {
  return (v) => {
    if (!Array.isArray(v)) return false;
    for (let i = 0; i < v.length; i++) if (test(v[i])) return true;
    return false;
  };
}

// ---- helpers ----------------------------------------------------------------------

function firstKey(d: Doc): string | undefined {
  for (const k in d) return k;
  return undefined;
}

/** A document whose first key is an operator: {$gt: 1}. Others are literals. */
function isOperatorDoc(v: DocValue): v is Doc {
  if (!isDoc(v)) return false;
  const k = firstKey(v);
  return k !== undefined && k.charCodeAt(0) === 0x24;
}

function requireArray(arg: DocValue, where: string): DocValue[] {
  if (!Array.isArray(arg)) throw badQuery(`${where} needs an array`);
  return arg;
}

function regexFromOperator(arg: DocValue, options: DocValue | undefined, where: string): ValueTest {
  if (options !== undefined && typeof options !== 'string') throw badQuery(`${where}: $options has to be a string`);
  if (isBsonRegExp(arg)) {
    if (options !== undefined && arg.options !== '') {
      throw badQuery(`${where}: options set in both $regex and $options`);
    }
    return regexTest(arg.pattern, options ?? arg.options, where);
  }
  if (typeof arg !== 'string') throw badQuery(`${where} has to be a string`);
  return regexTest(arg, options ?? '', where);
}

// MongoDB's $elemMatch object form also applies to an element that is an
// array, read as a document with keys "0", "1", ….
function arrayAsDoc(a: DocValue[]): Doc {
  const d: Doc = {};
  for (let i = 0; i < a.length; i++) d[String(i)] = a[i];
  return d;
}
