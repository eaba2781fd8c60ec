// Applies an update tree to one document without mutating it: each node
// returns its new value, and a container is copied only when one of its
// children changed (structural sharing). A no-op returns the very same
// reference, so "modified" is a pointer comparison at the root.
//
// Children are applied in the tree's order, so new fields are appended in
// MongoDB 5.0+'s order (numeric names numerically, others lexicographically).

import { isDoc } from './bson-types.js';
import type { Doc, DocValue } from './doc-types.js';
import { assert, unreachable } from '../errors.js';
import {
  REMOVE,
  type ArrayNode,
  type Blocker,
  type LeafNode,
  type ObjectNode,
  type Removed,
  type Run,
  type Site,
  type UpdateNode,
} from './update-types.js';
import { badUpdate, compareFieldNames, copyDoc, describe, isIndexField, ownField, setOwn } from './update-util.js';

/** MongoDB refuses to pad an array by more than this many nulls. */
const ARRAY_PAD_MAX = 1_500_000;

export function applyTree(root: ObjectNode, doc: Doc, run: Run): Doc {
  const site: Site = { path: [], parentIsArray: false, throughArray: false };
  const out = applyObject(root, doc, site, run, undefined);
  assert(isDoc(out), 'the root of an update stays a document');
  return out;
}

function applyNode(
  node: UpdateNode,
  cur: DocValue | undefined,
  site: Site,
  run: Run,
  blocker: Blocker | undefined,
): DocValue | undefined | Removed {
  switch (node.kind) {
    case 'leaf':
      return applyLeaf(node, cur, site, run, blocker);
    case 'object':
      return applyObject(node, cur, site, run, blocker);
    case 'array':
      return applyArray(node, cur, site, run, blocker);
    default:
      return unreachable(node);
  }
}

function applyLeaf(
  node: LeafNode,
  cur: DocValue | undefined,
  site: Site,
  run: Run,
  blocker: Blocker | undefined,
): DocValue | undefined | Removed {
  const op = node.op;
  if (op.insertOnly && !run.isInsert) return cur;
  let next: DocValue | undefined | Removed;
  if (cur !== undefined) {
    next = op.existing(cur, site, run);
  } else if (blocker !== undefined) {
    if (op.missing === 'create') throw cannotCreate(blocker);
    if (op.missing === 'skip-if-viable') throw notViable(blocker, site);
    next = undefined;
  } else {
    next = op.missing === 'create' ? op.create(site, run) : undefined;
  }
  if (next !== cur) (next === REMOVE ? run.removed : run.changed).push(site.path.join('.'));
  return next;
}

function cannotCreate(b: Blocker): Error {
  const holder = b.holderPath.length === 0 ? 'the document' : b.holderPath[b.holderPath.length - 1];
  return badUpdate(`Cannot create field '${b.field}' in element {${holder}: ${describe(b.holder)}}`);
}

function notViable(b: Blocker, site: Site): Error {
  const holder = b.holderPath.length === 0 ? 'the document' : b.holderPath[b.holderPath.length - 1];
  return badUpdate(
    `Cannot use the part (${b.field}) of (${site.path.join('.')}) to traverse the element ({${holder}: ${describe(b.holder)}})`,
  );
}

/** The value under `field` of `cur`, or the blocker that makes it impossible. */
function descend(
  cur: DocValue | undefined,
  field: string,
  site: Site,
  blocker: Blocker | undefined,
): [DocValue | undefined, Blocker | undefined] {
  if (blocker !== undefined || cur === undefined) return [undefined, blocker];
  if (isDoc(cur)) return [ownField(cur, field), undefined];
  if (Array.isArray(cur) && isIndexField(field)) return [cur[Number(field)], undefined];
  return [undefined, { field, holderPath: site.path, holder: cur }];
}

function applyObject(
  node: ObjectNode,
  cur: DocValue | undefined,
  site: Site,
  run: Run,
  blocker: Blocker | undefined,
): DocValue | undefined {
  const inArray = Array.isArray(cur);
  let out: Doc | DocValue[] | undefined;
  for (const [field, child] of entriesOf(node, site, run)) {
    const [childCur, childBlocker] = descend(cur, field, site, blocker);
    const childSite: Site = {
      path: [...site.path, field],
      parentIsArray: inArray,
      throughArray: site.throughArray || inArray,
    };
    const next = applyNode(child, childCur, childSite, run, childBlocker);
    if (next === childCur) continue;
    if (out === undefined) out = copyContainer(cur);
    writeField(out, field, next, site, run);
  }
  return out ?? cur;
}

function copyContainer(cur: DocValue | undefined): Doc | DocValue[] {
  if (cur === undefined) return {};
  if (Array.isArray(cur)) return cur.slice();
  assert(isDoc(cur), 'only documents and arrays get children written');
  return copyDoc(cur);
}

function writeField(
  out: Doc | DocValue[],
  field: string,
  value: DocValue | undefined | Removed,
  site: Site,
  run: Run,
): void {
  assert(value !== undefined, 'a leaf never turns an existing value into missing');
  if (Array.isArray(out)) {
    assert(value !== REMOVE, 'array elements are nulled, not removed');
    writeIndex(out, Number(field), value);
    return;
  }
  if (value === REMOVE) {
    delete out[field];
    return;
  }
  // MongoDB 5.0+ refuses a new or changed top-level $-prefixed field unless it is an insert.
  if (site.path.length === 0 && field.startsWith('$') && !run.isInsert) {
    throw badUpdate(
      `The dollar ($) prefixed field '${field}' in '${field}' is not allowed in the context of an update's replacement document. Consider using an aggregation pipeline with $replaceWith.`,
    );
  }
  setOwn(out, field, value);
}

function writeIndex(out: DocValue[], index: number, value: DocValue): void {
  if (index > out.length && index - out.length > ARRAY_PAD_MAX) {
    throw badUpdate(`can't backfill more than ${ARRAY_PAD_MAX} elements`);
  }
  while (out.length < index) out.push(null);
  out[index] = value;
}

/** The node's children in order, with the positional `$` child placed at the matched index. */
function entriesOf(node: ObjectNode, site: Site, run: Run): Array<[string, UpdateNode]> {
  if (node.positional === undefined) return node.entries;
  if (run.matchedArrayIndex === undefined) {
    throw badUpdate('The positional operator did not find the match needed from the query.');
  }
  const field = String(run.matchedArrayIndex);
  const same = node.children.get(field);
  const child = same === undefined ? node.positional : mergeNodes(same, node.positional, [...site.path, field]);
  const rest = node.entries.filter(([f]) => f !== field);
  return [...rest, [field, child] as [string, UpdateNode]].sort((a, b) => compareFieldNames(a[0], b[0]));
}

function applyArray(
  node: ArrayNode,
  cur: DocValue | undefined,
  site: Site,
  run: Run,
  blocker: Blocker | undefined,
): DocValue | undefined {
  if (cur === undefined || blocker !== undefined) {
    throw badUpdate(`The path '${site.path.join('.')}' must exist in the document in order to apply array updates.`);
  }
  if (!Array.isArray(cur)) {
    throw badUpdate(
      `Cannot apply array updates to non-array element ${site.path[site.path.length - 1]}: ${describe(cur)}`,
    );
  }
  let out: DocValue[] | undefined;
  for (let i = 0; i < cur.length; i++) {
    const path = [...site.path, String(i)];
    const child = matchingChild(node, cur[i], path);
    if (child === undefined) continue;
    const next = applyNode(child, cur[i], { path, parentIsArray: true, throughArray: true }, run, undefined);
    if (next === cur[i]) continue;
    assert(next !== undefined && next !== REMOVE, 'array elements are nulled, not removed');
    out ??= cur.slice();
    out[i] = next;
  }
  return out ?? cur;
}

/** The children whose filter matches the element, merged into one node. */
function matchingChild(node: ArrayNode, element: DocValue, path: string[]): UpdateNode | undefined {
  let merged: UpdateNode | undefined;
  for (const [id, child] of node.entries) {
    if (id !== '') {
      const matcher = node.matchers.get(id);
      assert(matcher !== undefined, `array filter ${id} was checked at parse time`);
      if (!matcher(element)) continue;
    }
    merged = merged === undefined ? child : mergeNodes(merged, child, path);
  }
  return merged;
}

/**
 * Two updates reaching the same element (`a.$[]` with `a.$[x]`, or `a.$` with
 * `a.0`) are merged; two leaves at one path are a conflict (MongoDB's
 * "Update created a conflict at ...").
 */
function mergeNodes(a: UpdateNode, b: UpdateNode, path: readonly string[]): UpdateNode {
  if (a.kind === 'leaf' || b.kind === 'leaf' || a.kind !== b.kind) {
    throw badUpdate(`Update created a conflict at '${path.join('.')}'`);
  }
  const children = new Map(a.children);
  for (const [name, child] of b.children) {
    const mine = children.get(name);
    children.set(name, mine === undefined ? child : mergeNodes(mine, child, [...path, name]));
  }
  const entries = [...children.entries()].sort((x, y) => compareFieldNames(x[0], y[0]));
  if (a.kind === 'array') return { kind: 'array', children, matchers: a.matchers, entries };
  const pb = (b as ObjectNode).positional;
  const pa = a.positional;
  const positional = pa === undefined ? pb : pb === undefined ? pa : mergeNodes(pa, pb, [...path, '$']);
  return { kind: 'object', children, positional, entries };
}
