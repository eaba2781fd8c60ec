// compileFilter against mingo 7.2.7 (`new Query(filter).test(doc)`) on
// generated documents and filters: two independent implementations of the
// MongoDB query language must agree.
//
// Where mingo and MongoDB disagree we follow MongoDB. The disagreements found
// (each checked against MongoDB's matcher source, matcher/path.cpp and
// path_test.cpp, and its jstests) are listed here, asserted one by one in
// "known disagreements" below, and kept out of the generated domains:
//
//  1. Paths through arrays. MongoDB does not traverse arrays nested in arrays
//     for a field name ({"a.b": 1} vs {a: [[{b: 1}]]}: no match), yields no
//     candidate for array elements that are scalars ({"a.b": null} vs
//     {a: [1]} or {a: []}: no match) but a missing candidate for document
//     elements that lack the field ({"a.b": null} vs {a: [{}]}: match,
//     jstests/core/null2.js). A numeric part picks one element and does not
//     expand it ({"a.1": 2} vs {a: [5, [2, 4]]}: no match, path_test.cpp
//     ArrayIndex2), and on a document element it is first tried as a field
//     name ({"a.0": null} vs {a: [{}]}: match, path_test ArrayIndexNested1).
//     Values reached through an array of documents are separate candidates:
//     {"a.c": ["xy"]} does not match {a: [{c: "xy"}]}. mingo flattens nested
//     arrays, compares the collected list, and treats these cases
//     differently, so generated documents that are traversed by a dotted
//     path hold arrays of documents only (compared with scalar operands),
//     and numeric parts are left to the conformance suite.
//  2. The whole leaf array is a candidate: {a: {$in: [[1]]}}, {a: {$gt: [0]}}
//     and {a: {$nin: [[1]]}} against {a: [1]} see the array [1] itself
//     (MongoDB matches/excludes; mingo does not), and {a: {$all: [[]]}} is
//     {a: []}. Generated $in/$nin/range/$all operands are scalars.
//  3. Null against missing: {$gte: null} and {$lte: null} match a missing
//     field (null_query_semantics.js), and {$all: [null]} is {$eq: null};
//     mingo says no. Generated range and $all operands are not null.
//  4. $all on a non-array: {a: {$all: ["y"]}} is {a: "y"} in MongoDB (its
//     docs: $all is an $and of equalities); mingo requires an array.
//     Generated $all paths hold arrays.
//  5. $mod truncates a non-integer value toward zero and only applies to
//     numbers (MongoDB 5.0+); mingo takes 1.5 % 3 and treats true as 1.
//     Documents under a $mod filter hold integers and no booleans.
//  6. Embedded documents compare field by field in order: {a: {x: 1, y: 2}}
//     does not equal {a: {y: 2, x: 1}} (BSON comparison); mingo ignores
//     order. Generated operand documents have one field.
//  7. $size on a path that reaches no array never matches; mingo's $size: 0
//     matched a path through array elements lacking it.
//  8. $elemMatch's object form applies only to elements that are documents,
//     or arrays read as documents {"0": …} (ElemMatchObjectMatchExpression);
//     mingo skips arrays and also tests scalars ({a: {$elemMatch: {b: {$lte:
//     2}}}} vs {a: [1.5]}: MongoDB no, mingo yes). Generated object-form
//     $elemMatch runs on arrays of documents.
//  9. $type on an array field also matches when an element has the type
//     (MongoDB's $type docs); mingo looks at the array only. Generated $type
//     filters run on documents without arrays.
// 10. $type "int"/"double": our value model (doc-types.ts) types an integral
//     JS number in int32 range as int, as a BSON decoder would; mingo calls
//     every JS number a double. Generated $type operands use "number".
// 11. Leaf arrays inside arrays of documents: {"a.b": "y"} matches
//     {a: [{b: ["", "y"]}]} (path_test.cpp NestedArrayImplicitTraversal);
//     mingo does not for every operator. Generated array elements hold scalars.
// 12. $elemMatch's value form tests each element as it is: {a: {$elemMatch:
//     {$regex: "y$"}}} does not match {a: [["xy"]]}; mingo descends into the
//     nested array. Generated value-form $elemMatch runs on arrays of scalars.

import fc from 'fast-check';
import { Query } from 'mingo';
import { describe, expect, it } from 'vitest';
import type { Doc, DocValue } from '../../shared/docs/doc-types.js';
import { compileFilter } from '../../shared/docs/filter.js';

function mingoMatches(filter: Doc, doc: Doc): boolean {
  return new Query(filter as Record<string, unknown>, {}).test(doc);
}

/**
 * Runs `filters` × `docs` through both engines; returns the disagreements.
 * Also checks the domain is not degenerate: both answers must be common.
 */
function disagreements(cases: ReadonlyArray<[Doc, Doc[]]>): string[] {
  const out: string[] = [];
  let matched = 0;
  let total = 0;
  for (const [filter, docs] of cases) {
    const ours = compileFilter(filter);
    const theirs = new Query(filter as Record<string, unknown>, {});
    for (const d of docs) {
      const a = ours(d);
      const b = theirs.test(d);
      total++;
      if (a) matched++;
      if (a !== b) out.push(`${JSON.stringify(filter)} on ${JSON.stringify(d)}: ours ${a}, mingo ${b}`);
    }
  }
  expect(matched / total).toBeGreaterThan(0.1);
  expect(matched / total).toBeLessThan(0.9);
  return out;
}

const dict = <T,>(keys: fc.Arbitrary<string>, v: fc.Arbitrary<T>, maxKeys: number): fc.Arbitrary<Record<string, T>> =>
  fc.dictionary(keys, v, { maxKeys, noNullPrototype: true });

const KEYS = fc.constantFrom('a', 'b', 'c');
const scalar: fc.Arbitrary<DocValue> = fc.oneof(
  fc.constant(null),
  fc.integer({ min: -2, max: 3 }),
  fc.constantFrom(1.5, -0.5, 2.25),
  fc.constantFrom('x', 'y', '', 'xy'),
  fc.boolean(),
);
const nonNullScalar = scalar.filter((v) => v !== null);
const intOrString: fc.Arbitrary<DocValue> = fc.oneof(fc.integer({ min: -4, max: 6 }), fc.constantFrom('x', 'y'));

const opt = <T,>(shape: { [k: string]: fc.Arbitrary<T> }): fc.Arbitrary<Record<string, T>> =>
  fc.record(shape, { requiredKeys: [], noNullPrototype: true }) as fc.Arbitrary<Record<string, T>>;

/**
 * Objects nested along the generated paths (a, a.b, a.b.c, a.c, b, b.a, c)
 * with arrays only where no path continues (list item 1).
 */
function objectPathsDoc(leaf: fc.Arbitrary<DocValue>, arrays = true): fc.Arbitrary<Doc> {
  const end = arrays ? fc.oneof(leaf, leaf, fc.array(leaf, { maxLength: 3 }), dict(KEYS, leaf, 2)) : fc.oneof(leaf, leaf, dict(KEYS, leaf, 2));
  const ab = fc.oneof(leaf, opt({ c: end, a: end }));
  return opt({
    a: fc.oneof(leaf, opt({ b: ab, c: end })),
    b: fc.oneof(leaf, opt({ a: end, c: end })),
    c: end,
  });
}

/**
 * Top-level arrays of documents that all hold the queried fields (so no
 * element yields a missing candidate: list item 1): {a: [{a: 1, b: [2], c: 'x'}]}.
 */
const element: fc.Arbitrary<DocValue> = fc.record({ a: nonNullScalar, b: nonNullScalar, c: nonNullScalar }, { noNullPrototype: true });
const arrayOfDocsDoc: fc.Arbitrary<Doc> = opt({
  a: fc.oneof(scalar, fc.array(element, { minLength: 1, maxLength: 3 })),
  b: fc.oneof(scalar, fc.array(element, { minLength: 1, maxLength: 3 }), element),
  c: fc.oneof(fc.array(element, { minLength: 1, maxLength: 3 }), element),
});

const typeAlias = fc.constantFrom('string', 'object', 'array', 'bool', 'null', 'number');
const typeOp = fc.oneof(typeAlias, fc.array(typeAlias, { minLength: 1, maxLength: 2 })).map((t) => ({ $type: t }));
const oneFieldDoc: fc.Arbitrary<DocValue> = dict(KEYS, nonNullScalar, 1).filter((d) => Object.keys(d).length === 1);
const eqOperand: fc.Arbitrary<DocValue> = fc.oneof(scalar, scalar, fc.array(nonNullScalar, { maxLength: 2 }), oneFieldDoc);
const rangeOp = fc.constantFrom('$gt', '$gte', '$lt', '$lte');

/** Operator documents for one path (no $mod, and $type only when asked: see their domains). */
function operatorDoc(depth: number, withType = false, literal = eqOperand): fc.Arbitrary<Doc> {
  const ops: Array<fc.Arbitrary<Doc>> = [
    literal.map((v) => ({ $eq: v })),
    literal.map((v) => ({ $ne: v })),
    fc.tuple(rangeOp, nonNullScalar).map(([o, v]) => ({ [o]: v })),
    fc.tuple(rangeOp, rangeOp, nonNullScalar, nonNullScalar).map(([o1, o2, v1, v2]) => ({ [o1]: v1, [o2]: v2 })),
    fc.array(scalar, { maxLength: 3 }).map((v) => ({ $in: v })),
    fc.array(scalar, { maxLength: 3 }).map((v) => ({ $nin: v })),
    fc.boolean().map((v) => ({ $exists: v })),
    fc.constantFrom('^x', 'y$', '.', '^$', 'X').map((r) => ({ $regex: r })),
    fc.constantFrom('^x', 'Y').map((r) => ({ $regex: r, $options: 'i' })),
  ];
  if (withType) ops.push(typeOp);
  if (depth > 0) ops.push(operatorDoc(depth - 1, withType, literal).map((o) => ({ $not: o })));
  return fc.oneof(...ops);
}

const PATHS_FLAT = fc.constantFrom('a', 'b', 'c', 'a.b', 'a.c', 'b.a', 'a.b.c');

function fieldFilter(paths: fc.Arbitrary<string>, ops: fc.Arbitrary<Doc>, literal = eqOperand): fc.Arbitrary<Doc> {
  return fc.tuple(paths, fc.oneof(literal, ops, ops)).map(([p, c]) => ({ [p]: c }));
}

function logical(field: fc.Arbitrary<Doc>, depth: number): fc.Arbitrary<Doc> {
  if (depth === 0) return field;
  const sub = fc.array(logical(field, depth - 1), { minLength: 1, maxLength: 3 });
  return fc.oneof(
    field,
    field,
    fc.tuple(field, field).map(([x, y]) => ({ ...x, ...y })),
    sub.map((s) => ({ $and: s })),
    sub.map((s) => ({ $or: s })),
    sub.map((s) => ({ $nor: s })),
  );
}

function sampleCases(filters: fc.Arbitrary<Doc>, docs: fc.Arbitrary<Doc>, numRuns: number, seed: number): Array<[Doc, Doc[]]> {
  return fc.sample(fc.tuple(filters, fc.array(docs, { minLength: 8, maxLength: 8 })), { numRuns, seed });
}

describe('compileFilter agrees with mingo', () => {
  it('on nested objects with arrays of scalars (all operators, $and/$or/$nor, $not)', () => {
    const cases = sampleCases(logical(fieldFilter(PATHS_FLAT, operatorDoc(1)), 2), objectPathsDoc(scalar), 800, 11);
    expect(disagreements(cases)).toEqual([]);
  });

  it('on arrays of documents through dotted paths', () => {
    const paths = fc.constantFrom('a.b', 'a.c', 'b.a', 'c.b', 'a', 'b');
    const scalarOps = operatorDoc(1, false, scalar);
    const cases = sampleCases(logical(fieldFilter(paths, scalarOps, scalar), 1), arrayOfDocsDoc, 600, 12);
    expect(disagreements(cases)).toEqual([]);
  });

  it('$elemMatch value form, $size and $all on arrays of scalars', () => {
    const valueForm = operatorDoc(0, false, scalar).map((o) => ({ $elemMatch: o }));
    const size = fc.integer({ min: 0, max: 3 }).map((n) => ({ $size: n }));
    const all = fc.array(nonNullScalar, { minLength: 1, maxLength: 3 }).map((v) => ({ $all: v }));
    const ops = fc.oneof(valueForm, size, all);
    const filters = logical(fc.tuple(fc.constantFrom('a', 'b'), ops).map(([p, o]) => ({ [p]: o })), 1);
    const arrayField = fc.array(scalar, { maxLength: 4 });
    const docs = fc.record({ a: arrayField, b: arrayField }, { noNullPrototype: true });
    expect(disagreements(sampleCases(filters, docs, 800, 13))).toEqual([]);
  });

  it('$elemMatch object form and $all of $elemMatch on arrays of documents', () => {
    const objectForm = logical(fieldFilter(fc.constantFrom('a', 'b', 'c'), operatorDoc(0)), 1).map((f) => ({ $elemMatch: f }));
    const allElemMatch = fc.array(objectForm, { minLength: 1, maxLength: 2 }).map((v) => ({ $all: v }));
    const ops = fc.oneof(objectForm, objectForm, allElemMatch, fc.integer({ min: 0, max: 3 }).map((n) => ({ $size: n })));
    const filters = logical(fc.tuple(fc.constantFrom('a', 'b'), ops).map(([p, o]) => ({ [p]: o })), 1);
    const arrayField = fc.array(dict(KEYS, fc.oneof(scalar, fc.array(scalar, { maxLength: 2 })), 3), { maxLength: 4 });
    const docs = fc.record({ a: arrayField, b: arrayField }, { noNullPrototype: true });
    expect(disagreements(sampleCases(filters, docs, 600, 15))).toEqual([]);
  });

  it('$type on documents without arrays', () => {
    const filters = logical(fieldFilter(PATHS_FLAT, operatorDoc(1, true)), 1);
    expect(disagreements(sampleCases(filters, objectPathsDoc(scalar, false), 400, 16))).toEqual([]);
  });

  it('$mod on integer documents', () => {
    const mod = fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: -2, max: 3 })).map(([d, r]) => ({ $mod: [d, r] }));
    const filters = logical(fieldFilter(fc.constantFrom('a', 'b', 'a.b'), fc.oneof(mod, mod.map((m) => ({ $not: m })))), 1);
    expect(disagreements(sampleCases(filters, objectPathsDoc(intOrString), 400, 14))).toEqual([]);
  });
});

describe('known disagreements with mingo (we follow MongoDB)', () => {
  // [filter, document, MongoDB's answer (ours), list item above]
  const cases: Array<[Doc, Doc, boolean, number]> = [
    [{ 'a.b': null }, { a: [{}] }, true, 1],
    [{ 'a.1': 2 }, { a: [5, [2, 4]] }, false, 1],
    [{ 'a.b': 'y' }, { a: { b: [['y']] } }, false, 1],
    [{ 'a.b': [] }, { a: [] }, false, 1],
    [{ 'a.0.b': null }, { a: [{ b: 1 }] }, true, 1],
    [{ a: { $in: [[1]] } }, { a: [1] }, true, 2],
    [{ a: { $gt: [0] } }, { a: [1] }, true, 2],
    [{ a: { $gte: null } }, {}, true, 3],
    [{ a: { $all: [null] } }, {}, true, 3],
    [{ a: { $all: ['y'] } }, { a: 'y' }, true, 4],
    [{ a: { $mod: [3, 1] } }, { a: 1.5 }, true, 5],
    [{ a: { $mod: [3, 1] } }, { a: true }, false, 5],
    [{ a: { x: 1, y: 2 } }, { a: { y: 2, x: 1 } }, false, 6],
    [{ 'a.b.c': { $size: 0 } }, { a: [{ b: 1 }] }, false, 7],
    [{ a: { $elemMatch: { 'x.1': null } } }, { a: [[]] }, true, 8],
    [{ a: { $elemMatch: { b: { $lte: 2 } } } }, { a: [1.5] }, false, 8],
    [{ a: { $type: 'string' } }, { a: ['x', 1] }, true, 9],
    [{ a: { $type: 'double' } }, { a: 2 }, false, 10],
    [{ 'b.a': { $lte: true } }, { b: [{ a: [-1, true, 'y'] }, { a: 0 }] }, true, 11],
    [{ 'a.b': { $in: ['y', 2] } }, { a: [{ b: ['', 'y'] }, { b: 2.25 }] }, true, 11],
    [{ 'a.c': ['xy'] }, { a: [{ c: 'xy' }] }, false, 1],
    [{ b: { $all: [[]] } }, { b: [] }, true, 2],
    [{ a: { $elemMatch: { $regex: 'y$' } } }, { a: [['xy']] }, false, 12],
  ];
  it.each(cases)('%j on %j', (filter, doc, mongo) => {
    expect(compileFilter(filter)(doc)).toBe(mongo);
    expect(mingoMatches(filter, doc)).toBe(!mongo);
  });
});
