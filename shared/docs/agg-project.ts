// The reshaping stages: $project (inclusion, exclusion, computed fields),
// $addFields/$set and $unset. A spec becomes a tree of path segments; nested
// objects in a spec are sub-specs (not literals) unless they are operator
// expressions, as in MongoDB. Expressions always see the input document.
//
// Field order follows MongoDB: included fields keep the input's order,
// computed fields come after them in spec order; $addFields overwrites an
// existing field in place and appends new ones.

import { badQuery, isPlainDoc, type Node, type Scope } from './agg-expr-core.js';
import type { Doc, DocValue } from './doc-types.js';
import { compileExprNode, type ExprOptions } from './expr.js';

type SpecNode =
  | { readonly kind: 'include' }
  | { readonly kind: 'exclude' }
  | { readonly kind: 'expr'; readonly node: Node }
  | { readonly kind: 'sub'; readonly children: Map<string, SpecNode> };

type Mode = 'inclusion' | 'exclusion' | 'addFields';

/** Per-document reshaping with the stage's variables in scope. */
export type Reshape = (doc: Doc, scope: Scope) => Doc;

function isOperatorObject(v: DocValue): boolean {
  if (!isPlainDoc(v)) return false;
  const keys = Object.keys(v);
  return keys.length > 0 && keys[0].startsWith('$');
}

function checkSpecField(field: string, stage: string): string[] {
  if (field === '' || field.startsWith('$')) throw badQuery(`${stage}: invalid field name '${field}'`);
  const parts = field.split('.');
  if (parts.some((p) => p === '' || p.startsWith('$'))) throw badQuery(`${stage}: invalid field path '${field}'`);
  return parts;
}

class SpecBuilder {
  readonly root = new Map<string, SpecNode>();

  constructor(
    private readonly stage: string,
    private readonly mode: Mode,
    private readonly options: ExprOptions,
  ) {}

  add(spec: Doc, into: Map<string, SpecNode>, prefix: string): void {
    for (const [field, value] of Object.entries(spec)) {
      const parts = checkSpecField(field, this.stage);
      const path = prefix === '' ? field : `${prefix}.${field}`;
      const parent = this.parentFor(into, parts, path);
      const leaf = parts[parts.length - 1];
      if (isPlainDoc(value) && !isOperatorObject(value) && Object.keys(value).length > 0) {
        const sub = this.subAt(parent, leaf, path);
        this.add(value, sub, path);
      } else {
        if (parent.has(leaf)) throw badQuery(`${this.stage}: path collision at ${path}`);
        parent.set(leaf, this.leafOf(value, path));
      }
    }
  }

  private parentFor(into: Map<string, SpecNode>, parts: string[], path: string): Map<string, SpecNode> {
    let cur = into;
    for (const p of parts.slice(0, -1)) cur = this.subAt(cur, p, path);
    return cur;
  }

  private subAt(map: Map<string, SpecNode>, name: string, path: string): Map<string, SpecNode> {
    const existing = map.get(name);
    if (existing === undefined) {
      const children = new Map<string, SpecNode>();
      map.set(name, { kind: 'sub', children });
      return children;
    }
    if (existing.kind !== 'sub') throw badQuery(`${this.stage}: path collision at ${path}`);
    return existing.children;
  }

  private leafOf(value: DocValue, path: string): SpecNode {
    if (this.mode !== 'addFields' && (typeof value === 'boolean' || typeof value === 'number' || typeof value === 'bigint')) {
      const on = typeof value === 'boolean' ? value : Number(value) !== 0;
      if (this.mode === 'exclusion' && on && path !== '_id') {
        throw badQuery(`${this.stage}: cannot do inclusion on field ${path} in exclusion projection`);
      }
      if (this.mode === 'inclusion' && !on && path !== '_id') {
        throw badQuery(`${this.stage}: cannot do exclusion on field ${path} in inclusion projection`);
      }
      return on ? { kind: 'include' } : { kind: 'exclude' };
    }
    if (this.mode === 'exclusion') {
      throw badQuery(`${this.stage}: cannot use an expression in an exclusion projection (field ${path})`);
    }
    return { kind: 'expr', node: compileExprNode(value, this.options) };
  }
}

/**
 * Decides inclusion vs exclusion the way MongoDB does: any non-_id inclusion
 * or expression makes an inclusion projection; otherwise any non-_id
 * exclusion an exclusion one; `{_id: <flag>}` alone follows the flag.
 */
function projectionMode(spec: Doc): 'inclusion' | 'exclusion' {
  const includes = (v: DocValue): boolean => {
    if (isPlainDoc(v) && !isOperatorObject(v) && Object.keys(v).length > 0) return Object.values(v).some(includes);
    if (typeof v === 'boolean') return v;
    if (typeof v === 'number' || typeof v === 'bigint') return Number(v) !== 0;
    return true;
  };
  const others = Object.entries(spec).filter(([k]) => k !== '_id');
  if (others.some(([, v]) => includes(v))) return 'inclusion';
  if (others.length > 0) return 'exclusion';
  return includes(spec._id) ? 'inclusion' : 'exclusion';
}

export function compileProject(spec: DocValue, options: ExprOptions): Reshape {
  if (!isPlainDoc(spec) || Object.keys(spec).length === 0) {
    throw badQuery('$project requires a non-empty object of output fields');
  }
  const mode = projectionMode(spec);
  const b = new SpecBuilder('$project', mode, options);
  b.add(spec, b.root, '');
  const tree = b.root;
  if (mode === 'exclusion') return (doc) => excludeDoc(doc, tree);
  if (!tree.has('_id')) {
    // _id is kept unless excluded; it goes first like the rest of the input order
    const withId = new Map<string, SpecNode>([['_id', { kind: 'include' }], ...tree]);
    return (doc, scope) => includeDoc(doc, withId, scope);
  }
  if (tree.get('_id')?.kind === 'exclude') tree.delete('_id');
  return (doc, scope) => includeDoc(doc, tree, scope);
}

export function compileUnset(spec: DocValue): Reshape {
  const fields = typeof spec === 'string' ? [spec] : spec;
  if (!Array.isArray(fields) || fields.length === 0 || fields.some((f) => typeof f !== 'string')) {
    throw badQuery('$unset requires a field name or a non-empty array of field names');
  }
  const b = new SpecBuilder('$unset', 'exclusion', {});
  b.add(Object.fromEntries(fields.map((f) => [f as string, 0])), b.root, '');
  const tree = b.root;
  return (doc) => excludeDoc(doc, tree);
}

export function compileAddFields(spec: DocValue, options: ExprOptions, stage = '$addFields'): Reshape {
  if (!isPlainDoc(spec)) throw badQuery(`${stage} requires an object`);
  const b = new SpecBuilder(stage, 'addFields', options);
  b.add(spec, b.root, '');
  const tree = b.root;
  return (doc, scope) => addFieldsDoc(doc, tree, scope);
}

// ------------------------------------------------------------- applying ----

function includeDoc(doc: Doc, tree: Map<string, SpecNode>, scope: Scope): Doc {
  const out: Doc = {};
  for (const key of Object.keys(doc)) {
    const n = tree.get(key);
    if (n === undefined) continue;
    if (n.kind === 'include') out[key] = doc[key];
    else if (n.kind === 'sub') {
      const v = includeValue(doc[key], n.children, scope);
      if (v !== undefined) out[key] = v;
    }
  }
  addComputed(out, tree, scope, doc);
  return out;
}

/** Inclusion below a field: arrays map (dropping scalars), scalars vanish unless fields are computed. */
function includeValue(v: DocValue, tree: Map<string, SpecNode>, scope: Scope): DocValue | undefined {
  if (Array.isArray(v)) {
    const out: DocValue[] = [];
    for (const e of v) {
      if (Array.isArray(e) || isPlainDoc(e)) out.push(includeValue(e, tree, scope) as DocValue);
      else if (hasComputed(tree)) out.push(includeDoc({}, tree, scope));
    }
    return out;
  }
  if (isPlainDoc(v)) return includeDoc(v, tree, scope);
  return hasComputed(tree) ? includeDoc({}, tree, scope) : undefined;
}

function hasComputed(tree: Map<string, SpecNode>): boolean {
  for (const n of tree.values()) {
    if (n.kind === 'expr' || (n.kind === 'sub' && hasComputed(n.children))) return true;
  }
  return false;
}

/** Appends computed fields (and sub-documents holding only computed fields) missing from `out`. */
function addComputed(out: Doc, tree: Map<string, SpecNode>, scope: Scope, input: Doc): void {
  for (const [key, n] of tree) {
    if (n.kind === 'expr') {
      const v = n.node(scope);
      if (v !== undefined) out[key] = v;
    } else if (n.kind === 'sub' && !Object.hasOwn(input, key) && hasComputed(n.children)) {
      out[key] = includeDoc({}, n.children, scope);
    }
  }
}

function excludeDoc(doc: Doc, tree: Map<string, SpecNode>): Doc {
  const out: Doc = {};
  for (const key of Object.keys(doc)) {
    const n = tree.get(key);
    if (n === undefined || n.kind === 'include') out[key] = doc[key];
    else if (n.kind === 'sub') out[key] = excludeValue(doc[key], n.children);
  }
  return out;
}

function excludeValue(v: DocValue, tree: Map<string, SpecNode>): DocValue {
  if (Array.isArray(v)) return v.map((e) => excludeValue(e, tree));
  if (isPlainDoc(v)) return excludeDoc(v, tree);
  return v;
}

function addFieldsDoc(doc: Doc, tree: Map<string, SpecNode>, scope: Scope): Doc {
  const out: Doc = { ...doc };
  for (const [key, n] of tree) {
    if (n.kind === 'expr') {
      const v = n.node(scope);
      if (v === undefined) delete out[key];
      else out[key] = v;
    } else if (n.kind === 'sub') {
      out[key] = addFieldsValue(doc[key], n.children, scope);
    }
  }
  return out;
}

/** $addFields below a field: documents merge, arrays apply per element, anything else is replaced. */
function addFieldsValue(v: DocValue | undefined, tree: Map<string, SpecNode>, scope: Scope): DocValue {
  if (Array.isArray(v)) return v.map((e) => addFieldsValue(e, tree, scope));
  return addFieldsDoc(isPlainDoc(v) ? v : {}, tree, scope);
}
