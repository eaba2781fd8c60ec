// Which top-level fields a shard plan reads, so a shard can decode only those
// (doc-codec's decodeDocFields) instead of whole documents. Conservative:
// any doubt ($$ROOT, $$CURRENT, an unknown operator, a plan whose output
// keeps the whole document) answers null, "every field". A superset is always
// safe: fields a stage computes and a later stage reads are simply listed too.

import { isPlainDoc } from './agg-expr-core.js';
import type { Doc, DocValue } from './doc-types.js';

/** Marks "needs the whole document". */
class NeedsAll extends Error {}

const FILTER_LOGICAL: ReadonlySet<string> = new Set(['$and', '$or', '$nor']);

function addPath(path: string, out: Set<string>): void {
  out.add(path.split('.')[0]);
}

function exprDeps(e: DocValue, out: Set<string>): void {
  if (typeof e === 'string') {
    if (e.startsWith('$$')) {
      const name = e.slice(2).split('.')[0];
      if (name === 'ROOT' || name === 'CURRENT') throw new NeedsAll();
    } else if (e.startsWith('$')) addPath(e.slice(1), out);
    return;
  }
  if (Array.isArray(e)) {
    for (const x of e) exprDeps(x, out);
    return;
  }
  if (!isPlainDoc(e)) return;
  if ('$literal' in e) return;
  if ('$let' in e && isPlainDoc(e.$let) && isPlainDoc(e.$let.vars) && 'CURRENT' in e.$let.vars) throw new NeedsAll();
  for (const v of Object.values(e)) exprDeps(v, out);
}

function filterDeps(f: DocValue, out: Set<string>): void {
  if (!isPlainDoc(f)) throw new NeedsAll();
  for (const [k, v] of Object.entries(f)) {
    if (FILTER_LOGICAL.has(k)) {
      if (!Array.isArray(v)) throw new NeedsAll();
      for (const sub of v) filterDeps(sub, out);
    } else if (k === '$expr') exprDeps(v, out);
    else if (k === '$comment') continue;
    else if (k.startsWith('$')) throw new NeedsAll();
    else addPath(k, out);
  }
}

/** An inclusion $project decides its whole output; anything else passes fields through. */
function isInclusionProject(spec: DocValue): boolean {
  if (!isPlainDoc(spec)) return false;
  const others = Object.entries(spec).filter(([k]) => k !== '_id');
  const truthy = (v: DocValue): boolean =>
    typeof v === 'boolean' ? v : typeof v === 'number' || typeof v === 'bigint' ? Number(v) !== 0 : true;
  if (others.length === 0) return truthy(spec._id);
  return others.some(([, v]) => (isPlainDoc(v) && !Object.keys(v)[0]?.startsWith('$') ? true : truthy(v)));
}

function projectDeps(spec: Doc, out: Set<string>): void {
  out.add('_id');
  for (const [k, v] of Object.entries(spec)) {
    addPath(k, out);
    exprDeps(v, out);
  }
}

/** Adds a stage's reads; returns true when the stage's output no longer depends on unread fields. */
function stageDeps(name: string, spec: DocValue, out: Set<string>): boolean {
  switch (name) {
    case '$match':
      filterDeps(spec, out);
      return false;
    case '$project':
      if (!isPlainDoc(spec)) throw new NeedsAll();
      projectDeps(spec, out);
      return isInclusionProject(spec);
    case '$addFields':
      exprDeps(spec, out);
      return false;
    case '$replaceRoot':
      exprDeps(spec, out);
      return true;
    case '$unwind':
      exprDeps(typeof spec === 'string' ? spec : isPlainDoc(spec) ? (spec.path ?? null) : null, out);
      return false;
    case '$sort':
      if (!isPlainDoc(spec)) throw new NeedsAll();
      for (const k of Object.keys(spec)) addPath(k, out);
      return false;
    case '$unset':
    case '$limit':
      return false;
    default:
      throw new NeedsAll();
  }
}

/**
 * The top-level fields a shard must decode to run `stages` then the partial
 * `group`, or null when it needs whole documents.
 */
export function fieldsNeeded(stages: readonly Doc[], group: Doc | null): string[] | null {
  const out = new Set<string>();
  try {
    for (const stage of stages) {
      const [name] = Object.keys(stage);
      if (stageDeps(name, stage[name], out)) return [...out];
    }
    if (group === null) return null;
    exprDeps(group, out);
    return [...out];
  } catch (e) {
    if (e instanceof NeedsAll) return null;
    throw e;
  }
}
