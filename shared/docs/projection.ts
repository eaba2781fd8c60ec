// Find projections (MongoDB 4.4+ semantics), compiled once into a function
// that builds the projected document without touching its input:
// - inclusion ({a: 1, "b.c": 1}): the named fields in document order, _id
//   unless {_id: 0}; a path through an array applies to every element
//   (documents keep the sub-fields, scalars are dropped, nested arrays recurse);
//   a document lacking the sub-field stays as {};
// - exclusion ({a: 0, "b.c": 0}): everything else; the two modes do not mix
//   except for _id;
// - {a: {b: 1}} is the same as {"a.b": 1};
// - computed fields: a string or an operator document that is an aggregation
//   expression ({full: {$concat: ["$first", " ", "$last"]}}) count as inclusions;
// - {arr: {$slice: n | [skip, limit]}} slices an array and does not set the
//   mode; {arr: {$elemMatch: cond}} keeps the first matching element and
//   counts as an inclusion (top-level fields only, as in MongoDB).
// Positional projection ("a.$") needs the query's match position and $meta
// needs text search: both are refused with BAD_QUERY.

import { isBsonRegExp, isDecimal, isDoc } from './bson-types.js';
import type { Doc, DocValue } from './doc-types.js';
import { compileExpr, type CompiledExpr } from './expr.js';
import { compileFilter } from './filter.js';
import { badQuery } from './filter-values.js';
import { checkPath } from './paths.js';

type Leaf =
  | { readonly kind: 'include' }
  | { readonly kind: 'exclude' }
  | { readonly kind: 'slice'; readonly skip: number | undefined; readonly limit: number }
  | { readonly kind: 'elemMatch'; readonly match: (e: DocValue) => boolean }
  | { readonly kind: 'computed'; readonly expr: CompiledExpr };

interface Branch {
  readonly kind: 'branch';
  readonly children: Map<string, Node>;
}

type Node = Leaf | Branch;

interface ParsedProjection {
  readonly root: Branch;
  readonly inclusion: boolean;
  readonly hasComputed: boolean;
}

/** Compiles a projection; throws BAD_QUERY for what MongoDB refuses. */
export function compileProjection(spec: Doc): (doc: Doc) => Doc {
  if (!isDoc(spec)) throw badQuery('projection must be a document');
  if (Object.keys(spec).length === 0) return (doc) => doc;
  const p = parseProjection(spec);
  if (p.inclusion) return (doc) => includeDoc(p.root, doc, doc);
  return (doc) => excludeDoc(p.root, doc);
}

/**
 * The top-level fields a projection reads, or null when it needs the whole
 * document (exclusion mode, or computed fields that may read anything).
 */
export function projectionFields(spec: Doc): string[] | null {
  if (!isDoc(spec) || Object.keys(spec).length === 0) return null;
  const p = parseProjection(spec);
  if (!p.inclusion || p.hasComputed) return null;
  return [...p.root.children].filter(([, node]) => node.kind !== 'exclude').map(([name]) => name);
}

// ---- parsing -----------------------------------------------------------------

function parseProjection(spec: Doc): ParsedProjection {
  const root: Branch = { kind: 'branch', children: new Map() };
  const modes = { include: [] as string[], exclude: [] as string[], computed: false };
  addSpec(root, spec, '', modes);
  const excludesOtherThanId = modes.exclude.filter((p) => p !== '_id');
  if (modes.include.length > 0 && excludesOtherThanId.length > 0) {
    throw badQuery(`Cannot do exclusion on field ${excludesOtherThanId[0]} in inclusion projection`);
  }
  const inclusion = modes.include.length > 0;
  if (inclusion && !root.children.has('_id')) root.children.set('_id', { kind: 'include' });
  return { root, inclusion, hasComputed: modes.computed };
}

type Modes = { include: string[]; exclude: string[]; computed: boolean };

function addSpec(root: Branch, spec: Doc, prefix: string, modes: Modes): void {
  for (const key of Object.keys(spec)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    const value = spec[key];
    if (key.startsWith('$') || path.endsWith('.$')) {
      throw badQuery(`projection: positional ($) and $-prefixed fields are not supported: '${path}'`);
    }
    checkPath(path, 'projection');
    if (isDoc(value) && !isOperatorDoc(value)) {
      if (Object.keys(value).length === 0) throw badQuery(`projection: an empty nested object is not allowed at '${path}'`);
      addSpec(root, value, path, modes);
      continue;
    }
    const leaf = parseLeaf(path, value, modes, prefix === '' && !key.includes('.'));
    insert(root, path, leaf);
  }
}

function parseLeaf(path: string, value: DocValue, modes: Modes, topLevel: boolean): Leaf {
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint' || isDecimal(value)) {
    const on = typeof value === 'boolean' ? value : Number(value.toString()) !== 0;
    (on ? modes.include : modes.exclude).push(path);
    return { kind: on ? 'include' : 'exclude' };
  }
  if (isDoc(value)) {
    const op = Object.keys(value)[0];
    if (op === '$slice') return parseSlice(path, value);
    if (op === '$elemMatch') {
      if (!topLevel) throw badQuery(`Cannot use $elemMatch projection on a nested field: '${path}'`);
      modes.include.push(path);
      return parseElemMatch(value.$elemMatch);
    }
    if (op === '$meta') throw badQuery(`projection: $meta is not supported at '${path}'`);
  }
  modes.include.push(path);
  modes.computed = true;
  return { kind: 'computed', expr: compileExpr(value) };
}

function parseSlice(path: string, value: Doc): Leaf {
  if (Object.keys(value).length !== 1) throw badQuery(`projection: $slice must be alone at '${path}'`);
  const arg = value.$slice;
  if (Array.isArray(arg)) {
    if (arg.length !== 2) throw badQuery(`$slice array argument must be of the form [skip, limit] at '${path}'`);
    const skip = integerOf(arg[0], path);
    const limit = integerOf(arg[1], path);
    if (limit <= 0) throw badQuery(`$slice limit must be positive at '${path}'`);
    return { kind: 'slice', skip, limit };
  }
  return { kind: 'slice', skip: undefined, limit: integerOf(arg, path) };
}

function integerOf(v: DocValue, path: string): number {
  const n = typeof v === 'number' ? v : typeof v === 'bigint' || isDecimal(v) ? Number(v.toString()) : NaN;
  if (!Number.isFinite(n)) throw badQuery(`$slice only supports numbers and [skip, limit] arrays at '${path}'`);
  return Math.trunc(n);
}

function parseElemMatch(cond: DocValue): Leaf {
  if (!isDoc(cond) && !isBsonRegExp(cond)) throw badQuery('$elemMatch needs an Object');
  // The query's $elemMatch on a one-element array: exactly its element test.
  const pred = compileFilter({ e: { $elemMatch: cond } });
  return { kind: 'elemMatch', match: (e) => pred({ e: [e] }) };
}

function isOperatorDoc(v: Doc): boolean {
  for (const k in v) return k.startsWith('$');
  return false;
}

function insert(root: Branch, path: string, leaf: Leaf): void {
  const parts = path.split('.');
  let cur = root;
  for (let i = 0; i < parts.length - 1; i++) {
    const next = cur.children.get(parts[i]);
    if (next === undefined) {
      const b: Branch = { kind: 'branch', children: new Map() };
      cur.children.set(parts[i], b);
      cur = b;
    } else if (next.kind === 'branch') {
      cur = next;
    } else {
      throw badQuery(`Path collision at ${path}`);
    }
  }
  const last = parts[parts.length - 1];
  if (cur.children.has(last)) throw badQuery(`Path collision at ${path}`);
  cur.children.set(last, leaf);
}

// ---- applying -----------------------------------------------------------------

function includeDoc(node: Branch, src: Doc, root: Doc): Doc {
  const out: Doc = {};
  for (const key in src) {
    const child = node.children.get(key);
    if (child === undefined || child.kind === 'computed' || !Object.hasOwn(src, key)) continue;
    const v = includeValue(child, src[key], root);
    if (v !== undefined) out[key] = v;
  }
  addComputed(node, out, root);
  return out;
}

function includeValue(node: Node, v: DocValue, root: Doc): DocValue | undefined {
  switch (node.kind) {
    case 'include':
      return v;
    case 'slice':
      return sliceValue(node, v);
    case 'elemMatch':
      return firstMatch(node.match, v);
    case 'branch':
      if (isDoc(v)) return includeDoc(node, v, root);
      if (Array.isArray(v)) return includeArray(node, v, root);
      return undefined;
    case 'exclude':
    case 'computed':
      return undefined;
    default:
      return unreachableNode(node);
  }
}

function includeArray(node: Branch, a: DocValue[], root: Doc): DocValue[] {
  const out: DocValue[] = [];
  for (const e of a) {
    if (isDoc(e)) out.push(includeDoc(node, e, root));
    else if (Array.isArray(e)) out.push(includeArray(node, e, root));
  }
  return out;
}

// Computed fields go after the copied ones, in spec order; a branch with
// computed fields below it builds its sub-document even when it is missing.
function addComputed(node: Branch, out: Doc, root: Doc): void {
  for (const [key, child] of node.children) {
    if (child.kind === 'computed') {
      const v = child.expr(root);
      if (v !== undefined) out[key] = v;
    } else if (child.kind === 'branch' && !Object.hasOwn(out, key) && hasComputed(child)) {
      const sub: Doc = {};
      addComputed(child, sub, root);
      out[key] = sub;
    }
  }
}

function hasComputed(node: Branch): boolean {
  for (const child of node.children.values()) {
    if (child.kind === 'computed' || (child.kind === 'branch' && hasComputed(child))) return true;
  }
  return false;
}

function excludeDoc(node: Branch, src: Doc): Doc {
  const out: Doc = {};
  for (const key in src) {
    if (!Object.hasOwn(src, key)) continue;
    const child = node.children.get(key);
    const v = src[key];
    if (child === undefined) out[key] = v;
    else if (child.kind !== 'exclude') out[key] = excludeValue(child, v);
  }
  return out;
}

function excludeValue(node: Node, v: DocValue): DocValue {
  switch (node.kind) {
    case 'slice':
      return sliceValue(node, v);
    case 'branch':
      if (isDoc(v)) return excludeDoc(node, v);
      if (Array.isArray(v)) return v.map((e) => excludeValue(node, e));
      return v;
    case 'include':
    case 'exclude':
    case 'elemMatch':
    case 'computed':
      return v;
    default:
      return unreachableNode(node);
  }
}

function sliceValue(s: { skip: number | undefined; limit: number }, v: DocValue): DocValue {
  if (!Array.isArray(v)) return v;
  if (s.skip === undefined) return s.limit >= 0 ? v.slice(0, s.limit) : v.slice(Math.max(v.length + s.limit, 0));
  const start = s.skip >= 0 ? Math.min(s.skip, v.length) : Math.max(v.length + s.skip, 0);
  return v.slice(start, start + s.limit);
}

function firstMatch(match: (e: DocValue) => boolean, v: DocValue): DocValue | undefined {
  if (!Array.isArray(v)) return undefined;
  for (const e of v) if (match(e)) return [e];
  return undefined;
}

function unreachableNode(n: never): never {
  throw new Error(`unreachable: ${JSON.stringify(n)}`);
}
