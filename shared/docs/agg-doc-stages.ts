// The per-document stages: each input document gives zero or more output
// documents, independently of the others, so these run on shards as well as
// on the router: $match, $project, $addFields/$set, $unset,
// $replaceRoot/$replaceWith, $unwind. Compiled into `DocFn`s that push
// results into an output array (no generator per document).

import { badQuery, isPlainDoc, ownField, type Scope } from './agg-expr-core.js';
import { compileAddFields, compileProject, compileUnset, type Reshape } from './agg-project.js';
import type { Doc, DocValue } from './doc-types.js';
import { compileExprNode, type ExprVars } from './expr.js';
import { compileFilter } from './filter.js';

export type DocFn = (doc: Doc, out: Doc[]) => void;

export interface StageContext {
  readonly now: Date;
  /** Variables in scope ($lookup's let); empty for a top-level pipeline. */
  readonly vars: ExprVars;
}

export const DOC_STAGES: ReadonlySet<string> = new Set([
  '$match',
  '$project',
  '$addFields',
  '$set',
  '$unset',
  '$replaceRoot',
  '$replaceWith',
  '$unwind',
]);

export function compileDocStage(name: string, spec: DocValue, ctx: StageContext): DocFn {
  switch (name) {
    case '$match':
      return matchStage(spec, ctx);
    case '$project':
      return reshapeStage(compileProject(spec, { now: ctx.now }), ctx);
    case '$addFields':
    case '$set':
      return reshapeStage(compileAddFields(spec, { now: ctx.now }, name), ctx);
    case '$unset':
      return reshapeStage(compileUnset(spec), ctx);
    case '$replaceRoot':
      if (!isPlainDoc(spec) || Object.keys(spec).length !== 1 || spec.newRoot === undefined) {
        throw badQuery("$replaceRoot requires exactly one field, 'newRoot'");
      }
      return replaceRootStage(spec.newRoot, name, ctx);
    case '$replaceWith':
      return replaceRootStage(spec, name, ctx);
    case '$unwind':
      return unwindStage(spec);
    default:
      throw new Error(`assertion failed: ${name} is not a per-document stage`);
  }
}

function scopeOf(doc: Doc, vars: ExprVars): Scope {
  return { root: doc, vars };
}

function matchStage(spec: DocValue, ctx: StageContext): DocFn {
  if (!isPlainDoc(spec)) throw badQuery('$match requires an object');
  const pred = compileFilter(spec, { vars: ctx.vars, now: ctx.now });
  return (doc, out) => {
    if (pred(doc)) out.push(doc);
  };
}

function reshapeStage(fn: Reshape, ctx: StageContext): DocFn {
  const vars = ctx.vars;
  return (doc, out) => {
    out.push(fn(doc, scopeOf(doc, vars)));
  };
}

function replaceRootStage(expr: DocValue, name: string, ctx: StageContext): DocFn {
  const node = compileExprNode(expr, { now: ctx.now });
  const vars = ctx.vars;
  return (doc, out) => {
    const v = node(scopeOf(doc, vars));
    if (!isPlainDoc(v)) {
      const type = v === undefined ? 'missing' : v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
      throw badQuery(`${name}: 'newRoot' expression must evaluate to an object, but the resulting value was of type ${type}`);
    }
    out.push(v);
  };
}

// ---------------------------------------------------------------- $unwind ----

interface UnwindSpec {
  readonly path: string[];
  readonly indexField: string[] | null;
  readonly preserve: boolean;
}

function parseUnwind(spec: DocValue): UnwindSpec {
  const named: Doc = typeof spec === 'string' ? { path: spec } : isPlainDoc(spec) ? spec : {};
  for (const k of Object.keys(named)) {
    if (k !== 'path' && k !== 'includeArrayIndex' && k !== 'preserveNullAndEmptyArrays') {
      throw badQuery(`$unwind: unrecognized option '${k}'`);
    }
  }
  const { path, includeArrayIndex, preserveNullAndEmptyArrays } = named;
  if (typeof path !== 'string' || !path.startsWith('$') || path.length < 2) {
    throw badQuery("$unwind: path must be a string starting with '$'");
  }
  if (includeArrayIndex !== undefined && (typeof includeArrayIndex !== 'string' || includeArrayIndex === '' || includeArrayIndex.startsWith('$'))) {
    throw badQuery("$unwind: includeArrayIndex must be a non-empty string not starting with '$'");
  }
  if (preserveNullAndEmptyArrays !== undefined && typeof preserveNullAndEmptyArrays !== 'boolean') {
    throw badQuery('$unwind: preserveNullAndEmptyArrays must be a boolean');
  }
  const parts = path.slice(1).split('.');
  if (parts.some((p) => p === '' || p.startsWith('$'))) throw badQuery(`$unwind: invalid path '${path}'`);
  return {
    path: parts,
    indexField: includeArrayIndex === undefined ? null : (includeArrayIndex as string).split('.'),
    preserve: preserveNullAndEmptyArrays === true,
  };
}

/** The value at a path through documents only (an array on the way means missing, as in $unwind). */
function docPathValue(doc: Doc, path: readonly string[]): DocValue | undefined {
  let cur: DocValue | undefined = doc;
  for (const p of path) {
    if (!isPlainDoc(cur)) return undefined;
    cur = ownField(cur, p);
  }
  return cur;
}

/** A copy of `doc` with `path` set (creating documents); `value` undefined removes the leaf. */
function withPath(doc: Doc, path: readonly string[], value: DocValue | undefined, at = 0): Doc {
  const out: Doc = { ...doc };
  const key = path[at];
  if (at === path.length - 1) {
    if (value === undefined) delete out[key];
    else out[key] = value;
    return out;
  }
  const child = ownField(doc, key);
  out[key] = withPath(isPlainDoc(child) ? child : {}, path, value, at + 1);
  return out;
}

function unwindStage(spec: DocValue): DocFn {
  const { path, indexField, preserve } = parseUnwind(spec);
  const withIndex = (d: Doc, i: number | null): Doc => (indexField === null ? d : withPath(d, indexField, i));
  return (doc, out) => {
    const v = docPathValue(doc, path);
    if (Array.isArray(v)) {
      if (v.length === 0) {
        if (preserve) out.push(withIndex(withPath(doc, path, undefined), null));
        return;
      }
      v.forEach((elem, i) => out.push(withIndex(withPath(doc, path, elem), i)));
      return;
    }
    if (v === undefined || v === null) {
      if (preserve) out.push(withIndex(doc, null));
      return;
    }
    out.push(withIndex(doc, null)); // a non-array value unwinds as a one-element array
  };
}
