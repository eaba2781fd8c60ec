// Pipeline-style updates ([{$set: ...}, {$unset: ...}]): the stages MongoDB
// allows in an update — $addFields/$set, $unset, $project, $replaceRoot and
// $replaceWith — run by the aggregation's per-document stages
// (agg-doc-stages.ts), so an update pipeline and an aggregation agree.
// Stages never mutate their input document.

import { isDoc } from './bson-types.js';
import type { Doc, DocValue } from './doc-types.js';
import { compileDocStage, type DocFn } from './agg-doc-stages.js';
import { assert } from '../errors.js';
import { badUpdate } from './update-util.js';

export type DocStage = (doc: Doc) => Doc;

const ALLOWED: ReadonlySet<string> = new Set(['$addFields', '$set', '$project', '$unset', '$replaceRoot', '$replaceWith']);
const NO_VARS = Object.freeze({});

/** Checks the stages' shape without compiling expressions (done per $$NOW). */
export function checkPipelineShape(stages: readonly DocValue[]): void {
  for (const stage of stages) {
    if (!isDoc(stage)) throw badUpdate('Each element of an update pipeline must be an object');
    const keys = Object.keys(stage);
    if (keys.length !== 1) {
      throw badUpdate('A pipeline stage specification object must contain exactly one field.');
    }
    if (!ALLOWED.has(keys[0])) {
      throw badUpdate(`${keys[0]} is not allowed to be used within an update`);
    }
  }
}

/** Compiles the stages into one document transform; `now` is $$NOW. */
export function compileUpdatePipeline(stages: readonly Doc[], now: Date): DocStage {
  const fns: DocFn[] = stages.map((s) => {
    const name = Object.keys(s)[0];
    return compileDocStage(name, s[name], { now, vars: NO_VARS });
  });
  return (doc) => {
    let cur = doc;
    for (const fn of fns) {
      const out: Doc[] = [];
      fn(cur, out);
      assert(out.length === 1, 'an update stage gives exactly one document');
      cur = out[0];
    }
    return cur;
  };
}
