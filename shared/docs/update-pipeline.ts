// Pipeline-style updates ([{$set: ...}, {$unset: ...}]): the stages MongoDB
// allows in an update — $addFields/$set, $unset, $project, $replaceRoot and
// $replaceWith — compiled over compileExpr. Every stage returns a new
// document and never mutates its input. Expressions of one stage all see the
// stage's input document, as in MongoDB.

import { isDecimal, isDoc, typeName } from './bson-types.js';
import type { Doc, DocValue } from './doc-types.js';
import { compileExpr, type CompiledExpr } from './expr.js';
import { unreachable } from '../errors.js';
import { badUpdate, copyDoc, describe, ownField, setOwn } from './update-util.js';

export type DocStage = (doc: Doc) => Doc;

const ALLOWED = ['$addFields', '$set', '$project', '$unset', '$replaceRoot', '$replaceWith'] as const;
type StageName = (typeof ALLOWED)[number];

function isAllowed(name: string): name is StageName {
  return (ALLOWED as readonly string[]).includes(name);
}

/** Checks the stages' shape without compiling expressions (done per $$NOW). */
export function checkPipelineShape(stages: readonly DocValue[]): void {
  for (const stage of stages) {
    if (!isDoc(stage)) throw badUpdate('Each element of an update pipeline must be an object');
    const keys = Object.keys(stage);
    if (keys.length !== 1) {
      throw badUpdate('A pipeline stage specification object must contain exactly one field.');
    }
    if (!isAllowed(keys[0])) {
      throw badUpdate(`${keys[0]} is not allowed to be used within an update`);
    }
  }
}

/** Compiles the stages into one document transform; `now` is $$NOW. */
export function compileUpdatePipeline(stages: readonly Doc[], now: Date): DocStage {
  const compiled = stages.map((s) => compileStage(Object.keys(s)[0] as StageName, s[Object.keys(s)[0]], now));
  return (doc) => compiled.reduce((d, stage) => stage(d), doc);
}

function compileStage(name: StageName, spec: DocValue, now: Date): DocStage {
  switch (name) {
    case '$addFields':
    case '$set':
      return compileAddFields(name, spec, now);
    case '$unset':
      return compileUnsetStage(spec);
    case '$project':
      return compileProject(spec, now);
    case '$replaceRoot':
      if (!isDoc(spec) || !Object.hasOwn(spec, 'newRoot')) {
        throw badUpdate("no newRoot specified for the $replaceRoot stage");
      }
      return compileReplace(spec.newRoot, now);
    case '$replaceWith':
      return compileReplace(spec, now);
    default:
      return unreachable(name);
  }
}

function splitField(path: string, stage: string): string[] {
  const parts = path.split('.');
  if (parts.some((p) => p === '')) throw badUpdate(`Invalid ${stage} :: caused by :: FieldPath '${path}' has an empty field name`);
  if (parts[0].startsWith('$')) {
    throw badUpdate(`Invalid ${stage} :: caused by :: FieldPath field names may not start with '$'. Given: '${path}'`);
  }
  return parts;
}

/** A document-literal value that is a nested field spec (no leading $ operator). */
function isNestedSpec(v: DocValue): v is Doc {
  return isDoc(v) && Object.keys(v).length > 0 && !Object.keys(v)[0].startsWith('$');
}

// ---- $addFields / $set ------------------------------------------------------

interface Setter {
  readonly parts: readonly string[];
  readonly value: CompiledExpr;
}

function compileAddFields(stage: string, spec: DocValue, now: Date): DocStage {
  if (!isDoc(spec)) throw badUpdate(`${stage} specification stage must be an object, got ${typeName(spec)}`);
  const setters: Setter[] = [];
  collectSetters(stage, spec, [], setters, now);
  return (doc) => {
    const values = setters.map((s) => s.value(doc));
    let out: DocValue = doc;
    setters.forEach((s, i) => {
      out = setField(out, s.parts, 0, values[i]);
    });
    return out as Doc;
  };
}

function collectSetters(stage: string, spec: Doc, prefix: string[], out: Setter[], now: Date): void {
  for (const key of Object.keys(spec)) {
    const parts = [...prefix, ...splitField(key, stage)];
    const v = spec[key];
    if (isDoc(v) && Object.keys(v).length === 0) {
      throw badUpdate(
        `Invalid ${stage} :: caused by :: an empty object is not a valid value. Found empty object at path ${parts.join('.')}`,
      );
    }
    if (isNestedSpec(v)) collectSetters(stage, v, parts, out, now);
    else out.push({ parts, value: compileExpr(v, { now }) });
  }
}

/**
 * Sets (or, for a missing value, removes) a field, descending into every
 * element of an array on the way; a scalar on the way becomes a document.
 */
function setField(cur: DocValue | undefined, parts: readonly string[], i: number, value: DocValue | undefined): DocValue {
  if (Array.isArray(cur)) return cur.map((e) => setField(e, parts, i, value));
  const out = isDoc(cur) ? copyDoc(cur) : {};
  const field = parts[i];
  if (i === parts.length - 1) {
    if (value === undefined) delete out[field];
    else setOwn(out, field, value);
    return out;
  }
  setOwn(out, field, setField(ownField(out, field), parts, i + 1, value));
  return out;
}

// ---- $unset and exclusion -----------------------------------------------------

function compileUnsetStage(spec: DocValue): DocStage {
  const list = typeof spec === 'string' ? [spec] : spec;
  if (!Array.isArray(list) || list.length === 0 || list.some((p) => typeof p !== 'string')) {
    throw badUpdate('$unset specification must be a string or an array containing only string values');
  }
  const paths = (list as string[]).map((p) => splitField(p, '$unset'));
  return (doc) => paths.reduce<Doc>((d, parts) => removeField(d, parts, 0) as Doc, doc);
}

/** Removes a field, descending into documents inside arrays; returns `cur` when unchanged. */
function removeField(cur: DocValue, parts: readonly string[], i: number): DocValue {
  if (Array.isArray(cur)) {
    let changed = false;
    const out = cur.map((e) => {
      const r = removeField(e, parts, i);
      changed ||= r !== e;
      return r;
    });
    return changed ? out : cur;
  }
  if (!isDoc(cur)) return cur;
  const child = ownField(cur, parts[i]);
  if (child === undefined) return cur;
  const out = copyDoc(cur);
  if (i === parts.length - 1) {
    delete out[parts[i]];
    return out;
  }
  const next = removeField(child, parts, i + 1);
  if (next === child) return cur;
  setOwn(out, parts[i], next);
  return out;
}

// ---- $project -------------------------------------------------------------------

/** An inclusion tree: true includes the field, an expression computes it, a map descends. */
type IncludeNode = true | CompiledExpr | Map<string, IncludeNode>;

function compileProject(spec: DocValue, now: Date): DocStage {
  if (!isDoc(spec) || Object.keys(spec).length === 0) {
    throw badUpdate('Invalid $project :: caused by :: projection specification must have at least one field');
  }
  const tree = new Map<string, IncludeNode>();
  const excluded: string[][] = [];
  let idIncluded = true;
  let inclusion = false;
  const addAt = (parts: string[], node: IncludeNode | 'exclude'): void => {
    if (parts.length === 1 && parts[0] === '_id') {
      if (node === 'exclude') idIncluded = false;
      else putInclude(tree, parts, node);
      return;
    }
    if (node === 'exclude') excluded.push(parts);
    else {
      inclusion = true;
      putInclude(tree, parts, node);
    }
  };
  walkProjectSpec(spec, [], addAt, now);
  if (inclusion && excluded.length > 0) {
    throw badUpdate(`Invalid $project :: caused by :: Cannot do exclusion on field ${excluded[0].join('.')} in inclusion projection`);
  }
  if (!inclusion) {
    if (!idIncluded) excluded.push(['_id']);
    return (doc) => excluded.reduce<Doc>((d, parts) => removeField(d, parts, 0) as Doc, doc);
  }
  if (idIncluded && !tree.has('_id')) tree.set('_id', true);
  if (!idIncluded) tree.delete('_id');
  return (doc) => includeDoc(doc, tree, doc);
}

function walkProjectSpec(
  spec: Doc,
  prefix: string[],
  add: (parts: string[], node: IncludeNode | 'exclude') => void,
  now: Date,
): void {
  for (const key of Object.keys(spec)) {
    const parts = [...prefix, ...splitField(key, '$project')];
    const v = spec[key];
    const flag = projectionFlag(v);
    if (isNestedSpec(v)) walkProjectSpec(v, parts, add, now);
    else if (flag !== undefined) add(parts, flag ? true : 'exclude');
    else if (isDoc(v) && Object.keys(v).length === 0) {
      throw badUpdate(
        `Invalid $project :: caused by :: An empty sub-projection is not a valid value. Found empty object at path ${parts.join('.')}`,
      );
    } else add(parts, compileExpr(v, { now }));
  }
}

/** 1/true includes, 0/false excludes (any numeric type); anything else is an expression. */
function projectionFlag(v: DocValue): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'bigint') return v !== 0n;
  if (isDecimal(v)) return Number(v.toString()) !== 0;
  return undefined;
}

function putInclude(tree: Map<string, IncludeNode>, parts: readonly string[], node: IncludeNode): void {
  let cur = tree;
  for (let i = 0; i < parts.length - 1; i++) {
    let next = cur.get(parts[i]);
    if (!(next instanceof Map)) {
      if (next !== undefined) throw badUpdate(`Invalid $project :: caused by :: Path collision at ${parts.join('.')}`);
      next = new Map();
      cur.set(parts[i], next);
    }
    cur = next;
  }
  const last = parts[parts.length - 1];
  if (cur.has(last)) throw badUpdate(`Invalid $project :: caused by :: Path collision at ${parts.join('.')}`);
  cur.set(last, node);
}

/** Included fields keep the input's order; computed fields follow in spec order. */
function includeDoc(doc: Doc, tree: Map<string, IncludeNode>, root: Doc): Doc {
  const out: Doc = {};
  for (const key of Object.keys(doc)) {
    const node = tree.get(key);
    if (node === true) setOwn(out, key, doc[key]);
    else if (node instanceof Map) {
      const v = includeValue(doc[key], node, root);
      if (v !== undefined) setOwn(out, key, v);
    }
  }
  addComputed(out, tree, root, doc);
  return out;
}

function includeValue(v: DocValue, tree: Map<string, IncludeNode>, root: Doc): DocValue | undefined {
  if (isDoc(v)) return includeDoc(v, tree, root);
  if (Array.isArray(v)) {
    const out: DocValue[] = [];
    for (const e of v) {
      const r = includeValue(e, tree, root);
      if (r !== undefined) out.push(r);
    }
    return out;
  }
  // A scalar under a sub-projection: dropped, or replaced by the computed fields.
  return hasComputed(tree) ? includeDoc({}, tree, root) : undefined;
}

function hasComputed(tree: Map<string, IncludeNode>): boolean {
  for (const n of tree.values()) if (typeof n === 'function' || (n instanceof Map && hasComputed(n))) return true;
  return false;
}

function addComputed(out: Doc, tree: Map<string, IncludeNode>, root: Doc, doc: Doc): void {
  for (const [key, node] of tree) {
    if (typeof node === 'function') {
      const v = node(root);
      if (v === undefined) delete out[key];
      else setOwn(out, key, v);
    } else if (node instanceof Map && ownField(doc, key) === undefined && hasComputed(node)) {
      setOwn(out, key, includeDoc({}, node, root));
    }
  }
}

// ---- $replaceRoot / $replaceWith ------------------------------------------------

function compileReplace(expr: DocValue, now: Date): DocStage {
  const value = compileExpr(expr, { now });
  return (doc) => {
    const v = value(doc);
    if (!isDoc(v)) {
      throw badUpdate(
        `'newRoot' expression must evaluate to an object, but resulting value was: ${describe(v)}. Type of resulting value: '${v === undefined ? 'missing' : typeName(v)}'. Input document: ${describe(doc)}`,
      );
    }
    return v;
  };
}
