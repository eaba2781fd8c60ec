// Differential tests of compileUpdate against mingo 7.2.7's updater, an
// independent implementation: fast-check generates documents and updates
// (operators, positional `$` with the filter that matched, `$[<id>]` with
// arrayFilters, pipeline updates) and both must produce the same document.
//
// Where mingo and MongoDB's documentation disagree we follow MongoDB, and the
// comparison skips the case (each skip is counted, and most cases must still
// be compared):
// - MongoDB refuses, mingo silently ignores: $inc/$mul on a non-number,
//   $push/$addToSet/$pop/$pull on a non-array, $set through a scalar or a
//   non-numeric field of an array ("Cannot create field"), $rename through
//   arrays. We throw BAD_QUERY there, so an update we refuse is not compared.
// - Field order: MongoDB 5.0+ appends new fields in lexicographic order,
//   mingo in the update's order; documents are compared with sorted keys.
// - $push with $sort: MongoDB orders values of different types by the BSON
//   order (null before numbers, ...), documents by each field's type before
//   its name, and sorts non-document elements as if a sort field were null
//   (first); mingo puts null and non-documents last and compares documents by
//   field name first. Compared only when the sorted array holds scalars of
//   one type.
// - $push with $sort/$slice/$position on a missing field: MongoDB applies the
//   modifiers to the new array; mingo ignores them. Not compared.
// - $pull with a document condition that is not an operator document: MongoDB
//   never matches non-document elements; mingo also removes scalars. Not
//   compared.
// - $addToSet: MongoDB removes duplicates from $each before adding (also when
//   it creates the array) and leaves duplicates already in the array alone;
//   mingo keeps $each's duplicates on a new array and collapses existing
//   ones. Not compared when either duplicate case arises.
// - $pull/$pullAll on an array with array elements: MongoDB compares whole
//   elements ([null] is not null); mingo also removes arrays containing the
//   value. Not compared.
// - Padding an array by updating past its end: MongoDB pads with null for
//   every operator; mingo leaves holes except for $set. Holes compare as null.
// - -1 * 0: MongoDB multiplies ints as integers (0); mingo gets -0 in doubles.
//   -0 compares as 0.
// - $max/$min across types: mingo compares with its own cross-type order;
//   MongoDB uses the BSON order (compareValues). Compared on same-type values
//   in their own test.
// - Positional `$` with an $elemMatch condition: MongoDB's `$` is the element
//   $elemMatch matched; mingo takes the first element. Not generated.
// - Pipelines: mingo's $gt treats a missing field as not less than a number
//   (MongoDB: missing sorts first), and mingo throws an internal error ("bug:
//   failed to retrieve modified fields") when a pipeline changes nothing; the
//   generated pipelines avoid the first, and the second is skipped.
// - Int overflow to long and $currentDate (mingo's clock) are kept out of the
//   generators (the conformance suite covers them).

import fc from 'fast-check';
import { update as mingoUpdate, updateOne as mingoUpdateOne } from 'mingo';
import { describe, expect, test } from 'vitest';
import { canonicalOrder, isDoc } from '../../shared/docs/bson-types.js';
import type { Doc, DocValue } from '../../shared/docs/doc-types.js';
import { valuesEqual } from '../../shared/docs/compare.js';
import { compileFilter } from '../../shared/docs/filter.js';
import { getPath } from '../../shared/docs/paths.js';
import { compileUpdate, matchedArrayPosition, type UpdateResult } from '../../shared/docs/update.js';
import { MantisError } from '../../shared/errors.js';

const NOW = new Date('2024-01-01T00:00:00Z');
const FIELDS = ['a', 'b', 'c'] as const;

// ---- generators ---------------------------------------------------------------

const scalar = fc.oneof(
  fc.integer({ min: -5, max: 5 }),
  fc.constantFrom(1.5, -2.25, 0.5),
  fc.constantFrom('', 'x', 'y', 'z'),
  fc.boolean(),
  fc.constant(null),
);

const value: fc.Arbitrary<DocValue> = fc.letrec<{ v: DocValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(tie('v'), { maxLength: 4 }),
    fc.dictionary(fc.constantFrom(...FIELDS), tie('v'), { maxKeys: 3 }),
  ),
})).v;

const doc: fc.Arbitrary<Doc> = fc
  .dictionary(fc.constantFrom(...FIELDS), value, { maxKeys: 3 })
  .map((d) => ({ _id: 1, ...d }));

const part = fc.oneof(fc.constantFrom(...FIELDS), fc.constantFrom('0', '1'));
const path = fc
  .tuple(fc.constantFrom(...FIELDS), fc.array(part, { maxLength: 2 }))
  .map(([first, rest]) => [first, ...rest].join('.'));

const smallNumber = fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constantFrom(0.5, 2.5));
const scalarArray = fc.array(scalar, { maxLength: 3 });

const pushArg = fc.oneof(
  value,
  fc.record(
    {
      $each: fc.array(scalar, { maxLength: 3 }),
      $slice: fc.integer({ min: -3, max: 3 }),
      $sort: fc.constantFrom(1, -1),
      $position: fc.integer({ min: -3, max: 3 }),
    },
    { requiredKeys: ['$each'] },
  ),
);

const opArgs: Record<string, fc.Arbitrary<DocValue>> = {
  $set: value,
  $unset: fc.constant(''),
  $inc: smallNumber,
  $mul: smallNumber,
  $push: pushArg,
  $addToSet: fc.oneof(scalar, fc.record({ $each: scalarArray })),
  $pull: fc.oneof(scalar, fc.record({ $gte: fc.integer({ min: -5, max: 5 }) }), fc.record({ $in: scalarArray })),
  $pullAll: scalarArray,
  $pop: fc.constantFrom(1, -1),
  $rename: path,
};

/** Two paths conflict when one is a prefix of (or equal to) the other. */
function overlaps(x: string, y: string): boolean {
  return x === y || x.startsWith(`${y}.`) || y.startsWith(`${x}.`);
}

// Mostly non-conflicting paths (conflicts are refused by both sides and have
// their own conformance tests), so that most cases get compared.
const operatorUpdate: fc.Arbitrary<Doc> = fc
  .array(
    fc.constantFrom(...Object.keys(opArgs)).chain((op) => fc.tuple(fc.constant(op), path, opArgs[op])),
    { minLength: 1, maxLength: 3 },
  )
  .map((entries) => {
    const u: Doc = {};
    const taken: string[] = [];
    for (const [op, p, arg] of entries) {
      const paths = op === '$rename' ? [p, arg as string] : [p];
      if (paths.some((x) => taken.some((t) => overlaps(x, t)))) continue;
      taken.push(...paths);
      u[op] = { ...(u[op] as Doc | undefined), [p]: arg };
    }
    return u;
  });

// ---- comparison -----------------------------------------------------------------

/** Keys sorted, array holes as null, -0 as 0: documented differences. */
function normalize(v: unknown): unknown {
  if (Object.is(v, -0)) return 0;
  if (Array.isArray(v)) return Array.from(v, (e) => (e === undefined ? null : normalize(e)));
  if (isDoc(v as DocValue)) {
    const o = v as Doc;
    return Object.fromEntries(Object.keys(o).sort().map((k) => [k, normalize(o[k])]));
  }
  return v;
}

function ours(input: Doc, update: Doc | Doc[], arrayFilters?: Doc[], matchedArrayIndex?: number): UpdateResult | 'refused' {
  try {
    const compiled = compileUpdate(update, arrayFilters === undefined ? {} : { arrayFilters });
    return compiled.apply(input, { isInsert: false, now: NOW, matchedArrayIndex });
  } catch (e) {
    if (e instanceof MantisError && e.code === 'BAD_QUERY') return 'refused';
    throw e;
  }
}

function theirs(input: Doc, update: Doc, arrayFilters?: Doc[], condition?: Doc): Doc | 'refused' {
  const copy = structuredClone(input);
  try {
    mingoUpdate(copy, update, arrayFilters, condition);
  } catch {
    return 'refused';
  }
  return copy;
}

interface Tally {
  compared: number;
  skipped: number;
}

/** Operator/argument shapes where mingo departs from MongoDB (see the header). */
function knownDifference(input: Doc, update: Doc): boolean {
  return pushDiffers(input, update.$push) || addToSetDiffers(input, update.$addToSet) || pullDiffers(input, update);
}

function pushDiffers(input: Doc, spec: DocValue | undefined): boolean {
  if (!isDoc(spec)) return false;
  return Object.entries(spec).some(([path, arg]) => {
    if (!isDoc(arg)) return false;
    const have = getPath(input, path);
    if (have === undefined) return Object.keys(arg).length > 1;
    const all = [...(Array.isArray(have) ? have : []), ...(Array.isArray(arg.$each) ? arg.$each : [])];
    return arg.$sort !== undefined && mixedTypes(all);
  });
}

function addToSetDiffers(input: Doc, spec: DocValue | undefined): boolean {
  if (!isDoc(spec)) return false;
  return Object.entries(spec).some(([path, arg]) => {
    const have = getPath(input, path);
    const each = isDoc(arg) && Array.isArray(arg.$each) ? arg.$each : [];
    return hasDuplicates(have) || (have === undefined && hasDuplicates(each));
  });
}

function pullDiffers(input: Doc, update: Doc): boolean {
  const pull = update.$pull;
  if (isDoc(pull) && Object.values(pull).some((a) => isDoc(a) && !Object.keys(a)[0]?.startsWith('$'))) return true;
  return ['$pull', '$pullAll'].some((op) => {
    const spec = update[op];
    return isDoc(spec) && Object.keys(spec).some((path) => hasArrayElement(getPath(input, path)));
  });
}

function hasDuplicates(v: DocValue | undefined): boolean {
  return Array.isArray(v) && v.some((e, i) => v.findIndex((o) => valuesEqual(o, e)) !== i);
}

function hasArrayElement(v: DocValue | undefined): boolean {
  return Array.isArray(v) && v.some(Array.isArray);
}

/** More than one type, or documents/arrays (mingo orders those by its own rules). */
function mixedTypes(v: DocValue[]): boolean {
  return v.some((e) => isDoc(e) || Array.isArray(e)) || new Set(v.map(canonicalOrder)).size > 1;
}

interface Case {
  arrayFilters?: Doc[];
  matchedArrayIndex?: number;
  /** The filter mingo re-evaluates for the positional `$`. */
  condition?: Doc;
}

/** Runs both sides; an update we refuse or a known difference is tallied as skipped. */
function compareWithMingo(input: Doc, update: Doc, tally: Tally, c: Case = {}, differs = false): void {
  const snapshot = structuredClone(input);
  const mine = ours(input, update, c.arrayFilters, c.matchedArrayIndex);
  expect(input).toEqual(snapshot); // never mutated
  if (mine === 'refused' || differs) {
    tally.skipped++;
    return;
  }
  if (!mine.modified) expect(mine.doc).toBe(input);
  const other = theirs(input, update, c.arrayFilters, c.condition);
  if (other === 'refused') {
    tally.skipped++;
    return;
  }
  tally.compared++;
  expect(normalize(mine.doc), JSON.stringify({ input, update, ...c })).toEqual(normalize(other));
}

// ---- tests ------------------------------------------------------------------------

describe('operator updates vs mingo', () => {
  test('random documents and operator updates', () => {
    const tally: Tally = { compared: 0, skipped: 0 };
    fc.assert(
      fc.property(doc, operatorUpdate, (input, update) =>
        compareWithMingo(input, update, tally, {}, knownDifference(input, update)),
      ),
      { numRuns: 2000 },
    );
    expect(tally.compared).toBeGreaterThan(800);
  });

  test('$min/$max against values of the same type', () => {
    const tally: Tally = { compared: 0, skipped: 0 };
    const sameType = fc.oneof(
      fc.tuple(fc.integer({ min: -5, max: 5 }), fc.integer({ min: -5, max: 5 })),
      fc.tuple(fc.constantFrom('', 'a', 'b', 'ab'), fc.constantFrom('', 'a', 'b', 'ab')),
    );
    fc.assert(
      fc.property(sameType, fc.constantFrom('$min', '$max'), fc.boolean(), ([have, arg], op, missing) => {
        const input: Doc = missing ? { _id: 1 } : { _id: 1, a: have };
        const mine = ours(input, { [op]: { a: arg } });
        const other = theirs(input, { [op]: { a: arg } });
        expect(mine).not.toBe('refused');
        tally.compared++;
        expect((mine as UpdateResult).doc).toEqual(other);
      }),
      { numRuns: 300 },
    );
    expect(tally.compared).toBe(300);
  });
});

describe('positional $ vs mingo', () => {
  const element = fc.oneof(fc.integer({ min: 0, max: 3 }), fc.record({ f: fc.integer({ min: 0, max: 3 }), g: scalar }));
  const arrayDoc = fc.array(element, { minLength: 1, maxLength: 5 }).map((arr): Doc => ({ _id: 1, arr, other: 1 }));
  const condition = fc.oneof(
    fc.integer({ min: 0, max: 3 }).map((n): Doc => ({ arr: n })),
    fc.integer({ min: 0, max: 3 }).map((n): Doc => ({ 'arr.f': n })),
    fc.integer({ min: 0, max: 3 }).map((n): Doc => ({ 'arr.f': { $gte: n }, other: 1 })),
  ); // no $elemMatch: see the header (the conformance suite covers it)
  const positionalUpdate = fc.oneof(
    scalar.map((v): Doc => ({ $set: { 'arr.$': v } })),
    scalar.map((v): Doc => ({ $set: { 'arr.$.g': v } })),
    fc.constant<Doc>({ $unset: { 'arr.$.g': '' } }),
  );

  test('the element the filter matched is updated', () => {
    const tally: Tally = { compared: 0, skipped: 0 };
    fc.assert(
      fc.property(arrayDoc, condition, positionalUpdate, (input, filter, update) => {
        if (!compileFilter(filter)(input)) return;
        const at = matchedArrayPosition(filter, input);
        expect(at).toBeDefined();
        // Refusals include 'arr.$.g' on a number element (MongoDB refuses, mingo ignores).
        compareWithMingo(input, update, tally, { matchedArrayIndex: at, condition: filter });
      }),
      { numRuns: 600 },
    );
    expect(tally.compared).toBeGreaterThan(100);
  });
});

describe('$[<id>] with arrayFilters vs mingo', () => {
  const element = fc.oneof(fc.integer({ min: 0, max: 4 }), fc.record({ f: fc.integer({ min: 0, max: 4 }) }));
  const input = fc.array(element, { maxLength: 5 }).map((arr): Doc => ({ _id: 1, arr }));
  const filter = fc.oneof(
    fc.integer({ min: 0, max: 4 }).map((n): [string, Doc] => ['', { e: { $gte: n } }]),
    fc.integer({ min: 0, max: 4 }).map((n): [string, Doc] => ['.f', { 'e.f': { $lt: n } }]),
  );
  const op = fc.oneof(
    fc.constant<[string, DocValue]>(['$inc', 1]),
    scalar.map((v): [string, DocValue] => ['$set', v]),
    fc.constant<[string, DocValue]>(['$mul', 2]),
  );

  test('the elements the filter matches are updated', () => {
    const tally: Tally = { compared: 0, skipped: 0 };
    fc.assert(
      fc.property(input, filter, op, fc.boolean(), (d, [suffix, f], [name, arg], all) => {
        const path = all ? `arr.$[]${suffix}` : `arr.$[e]${suffix}`;
        const update = { [name]: { [path]: arg } };
        // Refusals include $inc on a non-number or on a field of a number element.
        compareWithMingo(d, update, tally, all ? {} : { arrayFilters: [f] });
      }),
      { numRuns: 600 },
    );
    expect(tally.compared).toBeGreaterThan(200);
  });
});

describe('pipeline updates vs mingo', () => {
  const numberDoc = fc
    .record({ a: fc.integer({ min: -5, max: 5 }), b: fc.integer({ min: -5, max: 5 }), s: fc.constantFrom('x', 'y') }, { requiredKeys: [] })
    .map((d): Doc => ({ _id: 1, ...d, n: { p: 1, q: 'z' } }));
  const stage = fc.oneof(
    fc.constant<Doc>({ $set: { sum: { $add: ['$a', 1] } } }),
    fc.constant<Doc>({ $set: { 'n.r': '$s', t: { $literal: 5 } } }),
    fc.constant<Doc>({ $addFields: { a: { $multiply: ['$b', 2] } } }),
    fc.constant<Doc>({ $unset: ['s', 'n.q'] }),
    fc.constant<Doc>({ $unset: 'a' }),
    fc.constant<Doc>({ $project: { a: 1, n: 1 } }),
    fc.constant<Doc>({ $project: { s: 0 } }),
    fc.constant<Doc>({ $replaceWith: { $mergeObjects: [{ a: 0, z: 1 }, '$$ROOT'] } }),
    fc.constant<Doc>({ $set: { c: { $cond: [{ $gt: [{ $ifNull: ['$a', 0] }, { $ifNull: ['$b', 0] }] }, '$s', 'no'] } } }),
  );

  test('random pipelines of the stages an update allows', () => {
    const tally: Tally = { compared: 0, skipped: 0 };
    fc.assert(
      fc.property(numberDoc, fc.array(stage, { minLength: 1, maxLength: 3 }), (input, pipeline) => {
        const mine = ours(input, pipeline);
        expect(mine).not.toBe('refused');
        const docs = [structuredClone(input)];
        try {
          mingoUpdateOne(docs, {}, pipeline as never);
        } catch {
          tally.skipped++; // mingo's "failed to retrieve modified fields": see the header
          return;
        }
        tally.compared++;
        expect(normalize((mine as UpdateResult).doc), JSON.stringify({ input, pipeline })).toEqual(normalize(docs[0]));
      }),
      { numRuns: 400 },
    );
    expect(tally.compared).toBeGreaterThan(300);
  });
});
