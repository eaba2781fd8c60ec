// The array update operators as compiled leaves: $push (with $each $slice
// $sort $position), $addToSet (with $each), $pull (equality, or a query
// condition compiled by compileFilter), $pullAll and $pop. Semantics and
// messages follow MongoDB's push_node/addtoset_node/pull_node/pop_node.

import { isBsonRegExp, isDoc, isNumeric, typeName } from './bson-types.js';
import { compareValues, valuesEqual } from './compare.js';
import type { DocValue } from './doc-types.js';
import { compileFilter } from './filter.js';
import { getPath, parsePath, type FieldPath } from './paths.js';
import type { LeafOp, Run, Site } from './update-types.js';
import { badUpdate, cloneValue, describe, describeId, identical, ownField } from './update-util.js';

function nothing(): undefined {
  return undefined;
}

function lastPart(site: Site): string {
  return site.path[site.path.length - 1];
}

// ---- $push ----------------------------------------------------------------

interface PushSpec {
  values: DocValue[];
  slice: number | undefined;
  sort: ((a: DocValue, b: DocValue) => number) | undefined;
  position: number | undefined;
}

const PUSH_CLAUSES = new Set(['$each', '$slice', '$sort', '$position']);

export function compilePush(arg: DocValue): LeafOp {
  const spec = parsePush(arg);
  return {
    name: '$push',
    missing: 'create',
    insertOnly: false,
    existing(cur, site, run) {
      if (!Array.isArray(cur)) {
        throw badUpdate(
          `The field '${site.path.join('.')}' must be an array but is of type ${typeName(cur)} in document {${describeId(run.docId)}}`,
        );
      }
      const out = performPush(cur, spec);
      return identical(out, cur) ? cur : out;
    },
    create: () => performPush([], spec),
  };
}

function parsePush(arg: DocValue): PushSpec {
  // MongoDB: an object with an $each field is the modifier form; anything else is one value.
  if (!isDoc(arg) || !Object.hasOwn(arg, '$each')) {
    return { values: [arg], slice: undefined, sort: undefined, position: undefined };
  }
  for (const k of Object.keys(arg)) {
    if (!PUSH_CLAUSES.has(k)) throw badUpdate(`Unrecognized clause in $push: ${k}`);
  }
  const each = arg.$each;
  if (!Array.isArray(each)) {
    throw badUpdate(`The argument to $each in $push must be an array but it was of type: ${typeName(each)}`);
  }
  return {
    values: each,
    slice: optionalInteger(ownField(arg, '$slice'), (t) => `The value for $slice must be an integer value but was given type: ${t}`),
    sort: parsePushSort(ownField(arg, '$sort')),
    position: optionalInteger(
      ownField(arg, '$position'),
      (t) => `The value for $position must be an integer value, not of type: ${t}`,
    ),
  };
}

/** MongoDB's parseIntegerElementToLong: an integral number of any numeric type. */
function optionalInteger(v: DocValue | undefined, message: (type: string) => string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'bigint') return Number(v);
  if (isNumeric(v)) {
    const n = Number(typeof v === 'number' ? v : v.toString());
    if (Number.isInteger(n)) return n;
  }
  throw badUpdate(message(typeName(v)));
}

function parsePushSort(v: DocValue | undefined): PushSpec['sort'] {
  if (v === undefined) return undefined;
  if (isNumeric(v)) {
    const dir = Number(typeof v === 'number' || typeof v === 'bigint' ? v : v.toString());
    if (dir !== 1 && dir !== -1) throw badUpdate('The $sort element value must be either 1 or -1');
    return (a, b) => dir * compareValues(a, b);
  }
  if (!isDoc(v)) {
    throw badUpdate('The $sort is invalid: use 1/-1 to sort the whole element, or {field:1/-1} to sort embedded fields');
  }
  const keys = Object.keys(v);
  if (keys.length === 0) throw badUpdate('The $sort pattern is empty when it should be a set of fields.');
  const pattern = keys.map((k): [FieldPath, number] => [checkSortField(k), sortDirection(v[k])]);
  return (a, b) => comparePattern(pattern, a, b);
}

function sortDirection(v: DocValue): number {
  const n = isNumeric(v) ? Number(typeof v === 'number' || typeof v === 'bigint' ? v : v.toString()) : 0;
  if (n !== 1 && n !== -1) throw badUpdate('The $sort element value must be either 1 or -1');
  return n;
}

function checkSortField(k: string): FieldPath {
  if (k.length === 0) throw badUpdate('The $sort field cannot be empty');
  if (k.split('.').some((p) => p.length === 0)) {
    throw badUpdate(`The $sort field is a dotted field but has an empty part: ${k}`);
  }
  return parsePath(k);
}

function comparePattern(pattern: ReadonlyArray<[FieldPath, number]>, a: DocValue, b: DocValue): number {
  for (const [path, dir] of pattern) {
    // MongoDB's getFieldDotted: no array traversal; a non-document element has
    // every sort field missing, which sorts as null.
    const x = isDoc(a) ? getPath(a, path) : undefined;
    const y = isDoc(b) ? getPath(b, path) : undefined;
    const c = compareValues(x, y);
    if (c !== 0) return dir * c;
  }
  return 0;
}

function performPush(cur: DocValue[], spec: PushSpec): DocValue[] {
  const values = spec.values.map(cloneValue);
  const at = insertIndex(cur.length, spec.position);
  let out = [...cur.slice(0, at), ...values, ...cur.slice(at)];
  if (spec.sort !== undefined) out.sort(spec.sort);
  if (spec.slice !== undefined && out.length > Math.abs(spec.slice)) {
    out = spec.slice >= 0 ? out.slice(0, spec.slice) : out.slice(out.length + spec.slice);
  }
  return out;
}

/** $position: past the end appends, negative counts from the end, too negative is the front. */
function insertIndex(length: number, position: number | undefined): number {
  if (position === undefined || position > length) return length;
  if (position >= 0) return position;
  return -position < length ? length + position : 0;
}

// ---- $addToSet --------------------------------------------------------------

export function compileAddToSet(arg: DocValue): LeafOp {
  const values = dedupe(parseAddToSet(arg));
  return {
    name: '$addToSet',
    missing: 'create',
    insertOnly: false,
    existing(cur, site) {
      if (!Array.isArray(cur)) {
        throw badUpdate(
          `Cannot apply $addToSet to non-array field. Field named '${lastPart(site)}' has non-array type ${typeName(cur)}`,
        );
      }
      const add = values.filter((v) => !cur.some((e) => valuesEqual(e, v)));
      return add.length === 0 ? cur : [...cur, ...add.map(cloneValue)];
    },
    create: () => values.map(cloneValue),
  };
}

function parseAddToSet(arg: DocValue): DocValue[] {
  // MongoDB: the $each form is an object whose first field is $each.
  if (!isDoc(arg)) return [arg];
  const keys = Object.keys(arg);
  if (keys[0] !== '$each') return [arg];
  const each = arg.$each;
  if (!Array.isArray(each)) {
    throw badUpdate(`The argument to $each in $addToSet must be an array but it was of type ${typeName(each)}`);
  }
  if (keys.length > 1) throw badUpdate(`Found unexpected fields after $each in $addToSet: ${describe(arg)}`);
  return each;
}

function dedupe(values: DocValue[]): DocValue[] {
  const out: DocValue[] = [];
  for (const v of values) if (!out.some((o) => valuesEqual(o, v))) out.push(v);
  return out;
}

// ---- $pull / $pullAll -------------------------------------------------------

// MongoDB's parsePathAcceptingKeyword: operators that apply to a value at a path.
const PATH_OPERATORS = new Set([
  '$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin', '$exists', '$type', '$regex', '$options',
  '$elemMatch', '$size', '$all', '$mod', '$not', '$bitsAllSet', '$bitsAllClear', '$bitsAnySet',
  '$bitsAnyClear', '$geoWithin', '$geoIntersects', '$near', '$nearSphere', '$within', '$jsonSchema',
]);

type ElementTest = (e: DocValue) => boolean;

/**
 * How $pull tests an element: a document whose first field is not a path
 * operator is a query on document elements; a document of operators or a
 * regex is applied to the element's value; anything else is equality.
 */
export function pullMatcher(arg: DocValue): ElementTest {
  if (isDoc(arg)) {
    const first = Object.keys(arg)[0];
    if (first === undefined || !PATH_OPERATORS.has(first)) {
      const query = compileFilter(arg);
      return (e) => isDoc(e) && query(e);
    }
  }
  if (isDoc(arg) || isBsonRegExp(arg)) {
    const wrapped = compileFilter({ v: arg });
    return (e) => wrapped({ v: e });
  }
  return (e) => valuesEqual(e, arg);
}

export function compilePull(arg: DocValue): LeafOp {
  return cullingLeaf('$pull', pullMatcher(arg));
}

export function compilePullAll(arg: DocValue): LeafOp {
  if (!Array.isArray(arg)) throw badUpdate(`$pullAll requires an array argument but was given a ${typeName(arg)}`);
  return cullingLeaf('$pullAll', (e) => arg.some((v) => valuesEqual(e, v)));
}

function cullingLeaf(name: string, test: ElementTest): LeafOp {
  return {
    name,
    missing: 'skip-if-viable',
    insertOnly: false,
    existing(cur) {
      if (!Array.isArray(cur)) throw badUpdate('Cannot apply $pull to a non-array value');
      const kept = cur.filter((e) => !test(e));
      return kept.length === cur.length ? cur : kept;
    },
    create: nothing,
  };
}

// ---- $pop -------------------------------------------------------------------

export function compilePop(field: string, arg: DocValue): LeafOp {
  const n = optionalInteger(arg, () => `Expected a number in: ${field}: ${describe(arg)}`);
  if (n !== 1 && n !== -1) throw badUpdate(`$pop expects 1 or -1, found: ${describe(arg)}`);
  return {
    name: '$pop',
    missing: 'skip-if-viable',
    insertOnly: false,
    existing(cur, site, _run: Run) {
      if (!Array.isArray(cur)) {
        throw badUpdate(`Path '${site.path.join('.')}' contains an element of non-array type '${typeName(cur)}'`);
      }
      if (cur.length === 0) return cur;
      return n === 1 ? cur.slice(0, -1) : cur.slice(1);
    },
    create: nothing,
  };
}
