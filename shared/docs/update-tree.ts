// Parses an operator-style update ({$set: {...}, $inc: {...}}) into the
// update tree, as MongoDB's UpdateObjectNode::parseAndMerge does: every path
// becomes a branch of object nodes (array nodes under `$[]`/`$[<id>]`) ending
// in a leaf, and two paths where one is a prefix of (or equal to) the other
// are refused ("Updating the path 'a.b' would create a conflict at 'a'").
// Also parses arrayFilters and checks every identifier is used.

import { isDoc } from './bson-types.js';
import type { Doc, DocValue } from './doc-types.js';
import { compileFilter } from './filter.js';
import {
  compileArith,
  compileBit,
  compileCurrentDate,
  compileMinMax,
  compileRenameSource,
  compileRenameTarget,
  compileSet,
  compileUnset,
} from './update-field-ops.js';
import { compileAddToSet, compilePop, compilePull, compilePullAll, compilePush } from './update-array-ops.js';
import type { ArrayNode, ElementMatcher, LeafOp, ObjectNode, UpdateNode } from './update-types.js';
import { badUpdate, compareFieldNames, describe } from './update-util.js';

export interface ParsedUpdate {
  readonly root: ObjectNode;
  /** $rename source paths (dotted), resolved against each input document. */
  readonly renameSources: readonly string[];
}

type LeafCompiler = (field: string, arg: DocValue) => LeafOp;

const LEAF_COMPILERS: Readonly<Record<string, LeafCompiler>> = {
  $set: (_f, a) => compileSet(a, false),
  $setOnInsert: (_f, a) => compileSet(a, true),
  $unset: () => compileUnset(),
  $inc: (f, a) => compileArith('$inc', f, a),
  $mul: (f, a) => compileArith('$mul', f, a),
  $min: (_f, a) => compileMinMax('$min', a),
  $max: (_f, a) => compileMinMax('$max', a),
  $currentDate: (f, a) => compileCurrentDate(f, a),
  $bit: (f, a) => compileBit(f, a),
  $push: (_f, a) => compilePush(a),
  $addToSet: (_f, a) => compileAddToSet(a),
  $pull: (_f, a) => compilePull(a),
  $pullAll: (_f, a) => compilePullAll(a),
  $pop: (f, a) => compilePop(f, a),
};

export function isUpdateOperator(name: string): boolean {
  return name === '$rename' || Object.hasOwn(LEAF_COMPILERS, name);
}

export function parseOperatorUpdate(update: Doc, arrayFilters: readonly Doc[]): ParsedUpdate {
  const matchers = parseArrayFilters(arrayFilters);
  const used = new Set<string>();
  const root = newObjectNode();
  const renameSources: string[] = [];
  for (const op of Object.keys(update)) {
    const fields = update[op];
    if (!isUpdateOperator(op)) {
      throw badUpdate(
        `Unknown modifier: ${op}. Expected a valid update modifier or pipeline-style update specified as an array`,
      );
    }
    if (!isDoc(fields)) {
      throw badUpdate(
        `Modifiers operate on fields but we found type ${describeType(fields)} instead. For example: {$mod: {<field>: ...}} not {${op}: ${describe(fields)}}`,
      );
    }
    for (const field of Object.keys(fields)) {
      const arg = fields[field];
      const ctx: AddCtx = { root, matchers, used };
      if (op === '$rename') {
        addRename(ctx, field, arg);
        renameSources.push(field);
      } else {
        addLeaf(ctx, field, LEAF_COMPILERS[op](field, arg));
      }
    }
  }
  for (const id of matchers.keys()) {
    if (!used.has(id)) {
      throw badUpdate(`The array filter for identifier '${id}' was not used in the update ${describe(update)}`);
    }
  }
  finishTree(root);
  return { root, renameSources };
}

function describeType(v: DocValue): string {
  return Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v;
}

interface AddCtx {
  readonly root: ObjectNode;
  readonly matchers: ReadonlyMap<string, ElementMatcher>;
  readonly used: Set<string>;
}

function addRename(ctx: AddCtx, source: string, dest: DocValue): void {
  addLeaf(ctx, source, compileRenameSource(source));
  if (typeof dest !== 'string') {
    throw badUpdate(`The 'to' field for $rename must be a string: ${source}: ${describe(dest)}`);
  }
  checkRenamePaths(source, dest);
  addLeaf(ctx, dest, compileRenameTarget(source, dest));
}

function checkRenamePaths(source: string, dest: string): void {
  const expr = `${source}: ${JSON.stringify(dest)}`;
  if (source === dest) throw badUpdate(`The source and target field for $rename must differ: ${expr}`);
  if (dest.startsWith(`${source}.`) || source.startsWith(`${dest}.`)) {
    throw badUpdate(`The source and target field for $rename must not be on the same path: ${expr}`);
  }
  if (source.split('.').some(isDynamicPart)) {
    throw badUpdate(`The source field for $rename may not be dynamic: ${source}`);
  }
  if (dest.split('.').some(isDynamicPart)) {
    throw badUpdate(`The destination field for $rename may not be dynamic: ${dest}`);
  }
}

function isDynamicPart(part: string): boolean {
  return part === '$' || isArrayFilterPart(part);
}

export function isArrayFilterPart(part: string): boolean {
  return part.length >= 3 && part.startsWith('$[') && part.endsWith(']');
}

function newObjectNode(): ObjectNode {
  return { kind: 'object', children: new Map(), positional: undefined, entries: [] };
}

function newArrayNode(matchers: ReadonlyMap<string, ElementMatcher>): ArrayNode {
  return { kind: 'array', children: new Map(), matchers, entries: [] };
}

/** Splits and checks an update path (MongoDB's fieldchecker rules). */
export function parseUpdatePath(path: string): string[] {
  if (path.length === 0) throw badUpdate('An empty update path is not valid.');
  const parts = path.split('.');
  if (parts.some((p) => p.length === 0)) {
    throw badUpdate(`The update path '${path}' contains an empty field name, which is not allowed.`);
  }
  const positional = parts.filter((p) => p === '$').length;
  if (positional > 1) throw badUpdate(`Too many positional (i.e. '$') elements found in path '${path}'`);
  if (parts[0] === '$') {
    throw badUpdate(`Cannot have positional (i.e. '$') element in the first position in path '${path}'`);
  }
  if (isArrayFilterPart(parts[0])) {
    throw badUpdate(
      `Cannot have array filter identifier (i.e. '$[<id>]') element in the first position in path '${path}'`,
    );
  }
  return parts;
}

/** The child name of a part: the identifier of `$[<id>]` ('' for `$[]`), else the part. */
function childName(ctx: AddCtx, part: string, path: string): string {
  if (!isArrayFilterPart(part)) return part;
  const id = part.slice(2, -1);
  if (id !== '' && !ctx.matchers.has(id)) {
    throw badUpdate(`No array filter found for identifier '${id}' in path '${path}'`);
  }
  if (id !== '') ctx.used.add(id);
  return id;
}

function getChild(node: ObjectNode | ArrayNode, name: string): UpdateNode | undefined {
  if (node.kind === 'object' && name === '$') return node.positional;
  return node.children.get(name);
}

function setChild(node: ObjectNode | ArrayNode, name: string, child: UpdateNode): void {
  if (node.kind === 'object' && name === '$') node.positional = child;
  else node.children.set(name, child);
}

function conflict(path: string, at: string): Error {
  return badUpdate(`Updating the path '${path}' would create a conflict at '${at}'`);
}

function addLeaf(ctx: AddCtx, path: string, op: LeafOp): void {
  const parts = parseUpdatePath(path);
  let current: ObjectNode | ArrayNode = ctx.root;
  for (let i = 0; i < parts.length - 1; i++) {
    const name = childName(ctx, parts[i], path);
    const wantArray = isArrayFilterPart(parts[i + 1]);
    let child = getChild(current, name);
    if (child === undefined) {
      child = wantArray ? newArrayNode(ctx.matchers) : newObjectNode();
      setChild(current, name, child);
    } else if (child.kind !== (wantArray ? 'array' : 'object')) {
      throw conflict(path, parts.slice(0, i + 1).join('.'));
    }
    current = child as ObjectNode | ArrayNode;
  }
  const name = childName(ctx, parts[parts.length - 1], path);
  if (getChild(current, name) !== undefined) throw conflict(path, path);
  setChild(current, name, { kind: 'leaf', op });
}

/** Orders every node's children for application (MongoDB 5.0+ field order). */
export function finishTree(node: UpdateNode): void {
  if (node.kind === 'leaf') return;
  node.entries = [...node.children.entries()].sort((a, b) => compareFieldNames(a[0], b[0]));
  for (const [, child] of node.entries) finishTree(child);
  if (node.kind === 'object' && node.positional !== undefined) finishTree(node.positional);
}

// ---- arrayFilters -----------------------------------------------------------

const IDENTIFIER = /^[a-z][a-zA-Z0-9]*$/;

function parseArrayFilters(filters: readonly Doc[]): Map<string, ElementMatcher> {
  const out = new Map<string, ElementMatcher>();
  for (const filter of filters) {
    if (!isDoc(filter)) throw badUpdate('arrayFilters entries must be objects');
    const id = filterIdentifier(filter);
    if (out.has(id)) throw badUpdate(`Found multiple array filters with the same top-level field name ${id}`);
    const test = compileFilter(filter);
    // The identifier names the element itself: {x: {$gt: 1}} tests {x: element}.
    out.set(id, (element) => test({ [id]: element }));
  }
  return out;
}

function filterIdentifier(filter: Doc): string {
  const ids = new Set<string>();
  collectIdentifiers(filter, ids);
  if (ids.size === 0) {
    throw badUpdate('Cannot use an expression without a top-level field name in arrayFilters');
  }
  const [id, other] = [...ids];
  if (other !== undefined) {
    throw badUpdate(`Error parsing array filter :: caused by :: Expected a single top-level field name, found '${id}' and '${other}'`);
  }
  if (!IDENTIFIER.test(id)) {
    throw badUpdate(
      `Error parsing array filter :: caused by :: The top-level field name must be an alphanumeric string beginning with a lowercase letter, found '${id}'`,
    );
  }
  return id;
}

function collectIdentifiers(filter: Doc, ids: Set<string>): void {
  for (const key of Object.keys(filter)) {
    if (key === '$and' || key === '$or' || key === '$nor') {
      const clauses = filter[key];
      if (Array.isArray(clauses)) for (const c of clauses) if (isDoc(c)) collectIdentifiers(c, ids);
    } else if (key.startsWith('$')) {
      throw badUpdate(`Error parsing array filter :: caused by :: ${key} is not allowed in arrayFilters`);
    } else {
      ids.add(key.split('.')[0]);
    }
  }
}
