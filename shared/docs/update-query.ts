// What an update takes from its filter: the document an upsert starts from
// (MongoDB's extractEqualityMatches: the equality conditions of the filter,
// through $and, a one-clause $or and a one-value $in) and the array position
// the positional `$` operator stands for (the first element that satisfied
// the filter's condition on an array).

import { isBsonRegExp, isDoc } from './bson-types.js';
import type { Doc, DocValue, DocPredicate } from './doc-types.js';
import { compileFilter } from './filter.js';
import { parsePath, setPath } from './paths.js';
import { badUpdate, cloneValue, isIndexField, ownField } from './update-util.js';

// ---- upsert seed --------------------------------------------------------------

/**
 * The document an upsert starts from: every equality of the filter set at its
 * path (`_id` first). Two equalities on one path, or on a path and its
 * prefix, are refused as MongoDB does.
 */
export function upsertSeed(filter: Doc): Doc {
  const eqs: Array<[string, DocValue]> = [];
  collectEqualities(filter, eqs);
  for (let i = 0; i < eqs.length; i++) {
    for (let j = 0; j < i; j++) checkEqualityConflict(eqs[i][0], eqs[j][0]);
  }
  eqs.sort((a, b) => rankId(a[0]) - rankId(b[0]));
  const seed: Doc = {};
  for (const [path, value] of eqs) setPath(seed, parsePath(path), cloneValue(value));
  return seed;
}

function rankId(path: string): number {
  return path === '_id' || path.startsWith('_id.') ? 0 : 1;
}

function collectEqualities(filter: Doc, out: Array<[string, DocValue]>): void {
  for (const key of Object.keys(filter)) {
    const value = filter[key];
    if (key === '$and' && Array.isArray(value)) {
      for (const clause of value) if (isDoc(clause)) collectEqualities(clause, out);
    } else if (key === '$or' && Array.isArray(value) && value.length === 1 && isDoc(value[0])) {
      // MongoDB simplifies a one-clause $or into the clause itself.
      collectEqualities(value[0], out);
    } else if (!key.startsWith('$') && usablePath(key)) {
      const eq = equalityOf(value);
      if (eq !== undefined) out.push([key, eq]);
    }
  }
}

function usablePath(path: string): boolean {
  return path.split('.').every((p) => p.length > 0 && !p.startsWith('$'));
}

/** The value a condition pins the field to, or undefined. */
function equalityOf(cond: DocValue): DocValue | undefined {
  if (isBsonRegExp(cond)) return undefined;
  if (!isDoc(cond) || !Object.keys(cond)[0]?.startsWith('$')) return cond;
  if (Object.hasOwn(cond, '$eq')) return cond.$eq;
  const list = ownField(cond, '$in');
  if (Array.isArray(list) && list.length === 1 && !isBsonRegExp(list[0])) return list[0];
  return undefined;
}

function checkEqualityConflict(path: string, earlier: string): void {
  if (path === earlier) {
    throw badUpdate(`cannot infer query fields to set, path '${path}' is matched twice`);
  }
  const [longer, shorter] = path.length > earlier.length ? [path, earlier] : [earlier, path];
  if (longer.startsWith(`${shorter}.`)) {
    throw badUpdate(`cannot infer query fields to set, both paths '${longer}' and '${shorter}' are matched`);
  }
}

// ---- positional $ -------------------------------------------------------------

type PositionFinder = (doc: Doc) => number | undefined;

const finders = new WeakMap<Doc, PositionFinder>();

/**
 * The array index the positional `$` stands for when `doc` matched `filter`:
 * the first element satisfying the first of the filter's conditions (in
 * filter order, through $and) that traverses an array. Undefined when no
 * condition matched inside an array.
 */
export function matchedArrayPosition(filter: Doc, doc: Doc): number | undefined {
  let finder = finders.get(filter);
  if (finder === undefined) {
    finder = compilePositionFinder(filter);
    finders.set(filter, finder);
  }
  return finder(doc);
}

export function compilePositionFinder(filter: Doc): PositionFinder {
  const conditions: PositionFinder[] = [];
  collectConditions(filter, conditions);
  return (doc) => {
    for (const find of conditions) {
      const at = find(doc);
      if (at !== undefined) return at;
    }
    return undefined;
  };
}

function collectConditions(filter: Doc, out: PositionFinder[]): void {
  for (const key of Object.keys(filter)) {
    const value = filter[key];
    if (key === '$and' && Array.isArray(value)) {
      for (const clause of value) if (isDoc(clause)) collectConditions(clause, out);
    } else if (!key.startsWith('$')) {
      out.push(conditionFinder(key.split('.'), value));
    }
  }
}

/**
 * For `{path: cond}`: walks to the first array on the path that the path does
 * not index explicitly and returns the first element the condition holds for.
 */
function conditionFinder(parts: readonly string[], cond: DocValue): PositionFinder {
  const tests = new Map<number, (element: DocValue) => boolean>();
  const testFor = (rest: number): ((element: DocValue) => boolean) => {
    let test = tests.get(rest);
    if (test === undefined) {
      test = elementTest(parts.slice(rest), cond);
      tests.set(rest, test);
    }
    return test;
  };
  return (doc) => {
    let cur: DocValue | undefined = doc;
    for (let i = 0; i < parts.length; i++) {
      if (Array.isArray(cur)) {
        if (isIndexField(parts[i])) {
          cur = cur[Number(parts[i])];
          continue;
        }
        return firstMatch(cur, testFor(i));
      }
      if (!isDoc(cur)) return undefined;
      cur = ownField(cur, parts[i]);
    }
    return Array.isArray(cur) ? firstMatch(cur, testFor(parts.length)) : undefined;
  };
}

function firstMatch(arr: DocValue[], test: (element: DocValue) => boolean): number | undefined {
  for (let i = 0; i < arr.length; i++) if (test(arr[i])) return i;
  return undefined;
}

/** Whether one array element satisfies the condition on the rest of the path. */
function elementTest(rest: readonly string[], cond: DocValue): (element: DocValue) => boolean {
  if (rest.length > 0) {
    const pred: DocPredicate = compileFilter({ [rest.join('.')]: cond });
    return (e) => isDoc(e) && pred(e);
  }
  // $elemMatch and $all test the array as a whole: test a one-element array.
  const wholeArray = isDoc(cond) && (Object.hasOwn(cond, '$elemMatch') || Object.hasOwn(cond, '$all'));
  const pred = compileFilter({ v: cond });
  return wholeArray ? (e) => pred({ v: [e] }) : (e) => pred({ v: e });
}
