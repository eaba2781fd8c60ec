// Differential tests: generated documents and pipelines through our engine
// (unsplit, and split over 1–4 shard partitions merged by the router half)
// against mingo 7.2.7's Aggregator, an independent implementation.
//
// Where mingo and MongoDB's documentation disagree we follow MongoDB, and
// the generators stay clear of those cases (checked by the conformance suite):
// - {$eq: ["$missing", null]} is false in MongoDB aggregation (missing sorts
//   below null); mingo says true. Generated expressions never compare a
//   possibly-missing field with null.
// - $push/$addToSet skip a missing value in MongoDB; mingo adds null. The
//   generated accumulators push only fields every document has (_id).
// - $toLower/$toUpper are ASCII-only in MongoDB; generated strings are ASCII.
// - $count over no documents returns no document in MongoDB (it is a $group
//   with _id null); mingo returns {n: 0}. mingo's answer is mapped to [].
// - Order of documents a $group/$unwind-free pipeline returns without a $sort
//   is unspecified: results are compared as multisets unless the pipeline
//   ends in a $sort with a unique tie-breaker (then in order).

import fc from 'fast-check';
import { Aggregator } from 'mingo';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compareValues } from '../../shared/docs/compare.js';
import type { Doc, DocValue } from '../../shared/docs/doc-types.js';
import { compilePipeline, fieldsNeeded, runPipeline, runShardStages, type PipelineOptions } from '../../shared/docs/pipeline.js';

const TMP = mkdtempSync(join(tmpdir(), 'mantis-agg-diff-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

const OPTIONS: PipelineOptions = { allowDiskUse: false, memoryLimitBytes: 64 * 1024 * 1024, tmpDir: TMP };

// ------------------------------------------------------------ documents ----

const small = fc.integer({ min: -3, max: 6 });
const word = fc.constantFrom('x', 'y', 'zz', 'Ab');

const docArb = fc.record(
  {
    a: fc.oneof(small, fc.constant(null)),
    b: word,
    c: fc.array(small, { maxLength: 3 }),
    d: fc.record({ e: small }, { requiredKeys: [] }),
    f: fc.double({ min: -100, max: 100, noNaN: true, noDefaultInfinity: true }),
  },
  { requiredKeys: ['b', 'c', 'f'] },
);

const docsArb = fc.array(docArb, { maxLength: 25 }).map((ds) => ds.map((d, i): Doc => ({ _id: i, ...(d as Doc) })));

// ------------------------------------------------------------ pipelines ----

const asDoc = (x: unknown): Doc => x as Doc;

const matchStage: fc.Arbitrary<Doc> = fc.oneof(
  small.map((n) => ({ $match: { a: { $gte: n } } })),
  word.map((w) => ({ $match: { b: w } })),
  small.map((n) => ({ $match: { 'd.e': { $lt: n } } })),
  small.map((n) => ({ $match: { c: n } })),
  small.map((n) => ({ $match: { $or: [{ a: n }, { c: { $size: 2 } }] } })),
  small.map((n) => ({ $match: { $expr: { $gt: ['$f', n] } } })),
).map(asDoc);

const exprArb: fc.Arbitrary<DocValue> = fc.oneof(
  small.map((n) => ({ $add: ['$f', n] })),
  small.map((n) => ({ $multiply: [{ $ifNull: ['$a', 0] }, n] })),
  fc.constant({ $concat: ['$b', '-', { $toUpper: '$b' }] }),
  fc.constant({ $size: { $ifNull: ['$c', []] } }),
  small.map((n) => ({ $cond: [{ $gt: ['$f', n] }, 'hi', 'lo'] })),
  fc.constant({ $strLenCP: '$b' }),
  fc.constant({ $abs: '$f' }),
  small.map((n) => ({ $filter: { input: '$c', cond: { $gte: ['$$this', n] } } })),
  fc.constant({ $map: { input: '$c', as: 'v', in: { $multiply: ['$$v', 2] } } }),
).map((x) => x as DocValue);

const reshapeStage: fc.Arbitrary<Doc> = fc.oneof(
  fc.constant({ $project: { a: 1, b: 1, f: 1 } }),
  fc.constant({ $project: { c: 0, d: 0 } }),
  exprArb.map((e) => ({ $project: { b: 1, f: 1, x: e } })),
  exprArb.map((e) => ({ $addFields: { x: e } })),
  exprArb.map((e) => ({ $set: { 'd.x': e } })),
  fc.constant({ $unset: 'd' }),
).map(asDoc);

const unwindStage: fc.Arbitrary<Doc> = fc.constantFrom<Doc>(
  { $unwind: '$c' },
  { $unwind: { path: '$c', preserveNullAndEmptyArrays: true } },
);

const groupStage = fc.constantFrom<Doc>(
  { $group: { _id: '$b', n: { $sum: 1 }, s: { $sum: '$f' }, mx: { $max: '$f' }, mn: { $min: '$a' }, av: { $avg: '$f' }, ids: { $push: '$_id' } } },
  { $group: { _id: '$a', n: { $sum: 1 }, bs: { $addToSet: '$b' } } },
  { $group: { _id: { b: '$b', e: '$d.e' }, tot: { $sum: '$a' }, c: { $count: {} } } },
  { $group: { _id: null, n: { $sum: 1 }, mx: { $max: '$b' } } },
);

const sortLimit = fc.tuple(fc.constantFrom<Doc>({ f: 1 }, { b: -1, f: 1 }, { a: 1 }, { 'd.e': -1 }), fc.option(fc.integer({ min: 1, max: 8 })), fc.option(fc.integer({ min: 0, max: 5 })));

const pipelineArb = fc
  .tuple(
    fc.array(fc.oneof(matchStage, reshapeStage), { maxLength: 3 }),
    fc.option(unwindStage),
    fc.option(groupStage),
    fc.option(sortLimit),
    fc.option(fc.constantFrom<Doc>({ $count: 'n' }, { $sortByCount: '$b' })),
  )
  .map(([prefix, unwind, group, sort, tail]) => {
    const stages: Doc[] = [...prefix];
    if (unwind !== null) stages.push(unwind);
    if (group !== null) stages.push(group);
    let ordered = false;
    if (sort !== null && tail === null) {
      const [spec, limit, skip] = sort;
      stages.push({ $sort: { ...spec, _id: 1 } }); // _id last: a unique tie-breaker unless unwound
      ordered = unwind === null || group !== null;
      if (ordered && skip !== null) stages.push({ $skip: skip });
      if (ordered && limit !== null) stages.push({ $limit: limit });
    }
    if (tail !== null) stages.push(tail);
    return { stages, ordered };
  });

// ------------------------------------------------------------ comparing ----

/**
 * Sorts the order-free parts: $push/$addToSet arrays of a group depend on
 * input order, and field order is not compared (mingo puts computed fields
 * elsewhere), so keys are sorted before documents are.
 */
function normalize(docs: Doc[], ordered: boolean): Doc[] {
  const fixed = docs.map((d) => {
    const out: Doc = { ...d };
    for (const k of ['ids', 'bs']) if (Array.isArray(out[k])) out[k] = [...(out[k] as DocValue[])].sort(compareValues);
    return sortKeys(out) as Doc;
  });
  return ordered ? fixed : fixed.sort(compareValues);
}

function sortKeys(v: DocValue): DocValue {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === 'object' && !(v instanceof Date)) {
    const d = v as Doc;
    return Object.fromEntries(Object.keys(d).sort().map((k) => [k, sortKeys(d[k])]));
  }
  return v;
}

function mingo(stages: Doc[], docs: Doc[]): Doc[] {
  const out = new Aggregator(stages, {}).run(structuredClone(docs)) as Doc[];
  const last = stages[stages.length - 1];
  if (last !== undefined && '$count' in last && out.length === 1 && out[0].n === 0) return [];
  return out;
}

/** Floating sums may differ in the last bits between summation orders. */
function roundFloats(v: DocValue): DocValue {
  if (typeof v === 'number' && !Number.isInteger(v)) return Math.round(v * 1e6) / 1e6;
  if (Array.isArray(v)) return v.map(roundFloats);
  if (v !== null && typeof v === 'object' && !(v instanceof Date)) {
    return Object.fromEntries(Object.entries(v as Doc).map(([k, x]) => [k, roundFloats(x)]));
  }
  return v;
}

describe('pipelines vs mingo', () => {
  it('generated documents and pipelines give mingo’s results, split or not', async () => {
    await fc.assert(
      fc.asyncProperty(docsArb, pipelineArb, fc.integer({ min: 1, max: 4 }), async (docs, { stages, ordered }, partitions) => {
        const expected = roundFloats(normalize(mingo(stages, docs), ordered));
        const whole = await runPipeline(stages, docs, { ...OPTIONS, split: false });
        const split = await runPipeline(stages, docs, { ...OPTIONS, partitions });
        expect(roundFloats(normalize(whole, ordered))).toEqual(expected);
        expect(roundFloats(normalize(split, ordered))).toEqual(expected);
      }),
      { numRuns: 1500 },
    );
  });
});

describe('fields a shard decodes', () => {
  it('the shard half over only fieldsNeeded(...) gives the same output as over whole documents', () => {
    let narrowed = 0;
    fc.assert(
      fc.property(docsArb, pipelineArb, (docs, { stages }) => {
        const { shard } = compilePipeline(stages, OPTIONS);
        const fields = fieldsNeeded(shard.stages, shard.partialGroup);
        if (fields === null) return;
        narrowed++;
        const keep = new Set(fields);
        const slim = docs.map((d) => Object.fromEntries(Object.entries(d).filter(([k]) => keep.has(k))));
        expect(runShardStages(shard, slim)).toEqual(runShardStages(shard, docs));
      }),
      { numRuns: 1000 },
    );
    expect(narrowed).toBeGreaterThan(100);
  });

  it('reads whole documents when a stage needs them', () => {
    expect(fieldsNeeded([{ $match: { a: 1 } }], { _id: '$b.c', n: { $sum: '$d' } })?.sort()).toEqual(['a', 'b', 'd']);
    expect(fieldsNeeded([{ $project: { x: '$y.z' } }], null)?.sort()).toEqual(['_id', 'x', 'y']);
    expect(fieldsNeeded([{ $match: { a: 1 } }], null)).toBeNull();
    expect(fieldsNeeded([], { _id: null, all: { $push: '$$ROOT' } })).toBeNull();
    expect(fieldsNeeded([{ $match: { $where: 'x' } }], { _id: null })).toBeNull();
  });
});
