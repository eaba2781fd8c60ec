// Pipeline stage parsing: every stage is `{ $name: spec }` with exactly one
// known name. Aliases and the stages MongoDB itself defines as rewrites are
// expanded here, so the rest of the engine (and the shard/router split) sees
// fewer kinds: $set → $addFields, $replaceWith → $replaceRoot,
// $count → $group + $project, $sortByCount → $group + $sort,
// $bucket → $group (on a $switch over the boundaries) + $sort.

import { compareValues } from './compare.js';
import { canonicalOrder } from './bson-types.js';
import { badQuery, isPlainDoc } from './agg-expr-core.js';
import type { Doc, DocValue } from './doc-types.js';

export interface Stage {
  readonly name: string;
  readonly spec: DocValue;
}

const KNOWN: ReadonlySet<string> = new Set([
  '$match',
  '$project',
  '$addFields',
  '$set',
  '$unset',
  '$group',
  '$sort',
  '$limit',
  '$skip',
  '$unwind',
  '$count',
  '$lookup',
  '$facet',
  '$bucket',
  '$sortByCount',
  '$replaceRoot',
  '$replaceWith',
]);

/** Pipeline stages MongoDB has that this engine refuses by name. */
const UNSUPPORTED: ReadonlySet<string> = new Set(['$out', '$merge', '$geoNear', '$graphLookup', '$bucketAuto', '$setWindowFields', '$unionWith', '$densify', '$fill', '$search', '$sample', '$redact', '$collStats', '$indexStats', '$documents', '$changeStream']);

export function normalizeStages(stages: unknown, where = 'pipeline'): Stage[] {
  if (!Array.isArray(stages)) throw badQuery(`${where} must be an array of stages`);
  return stages.flatMap((s, i) => expand(parseStage(s as DocValue, `${where}[${i}]`)));
}

function parseStage(stage: DocValue, where: string): Stage {
  if (!isPlainDoc(stage)) throw badQuery(`${where}: each stage must be an object`);
  const keys = Object.keys(stage);
  if (keys.length !== 1) throw badQuery(`${where}: a pipeline stage specification object must contain exactly one field`);
  const name = keys[0];
  if (UNSUPPORTED.has(name)) throw badQuery(`${where}: the ${name} stage is not supported`);
  if (!KNOWN.has(name)) throw badQuery(`${where}: unrecognized pipeline stage name: '${name}'`);
  return { name, spec: stage[name] };
}

function expand(stage: Stage): Stage[] {
  switch (stage.name) {
    case '$set':
      return [{ name: '$addFields', spec: stage.spec }];
    case '$replaceWith':
      return [{ name: '$replaceRoot', spec: { newRoot: stage.spec } }];
    case '$count':
      return expandCount(stage.spec);
    case '$sortByCount':
      return expandSortByCount(stage.spec);
    case '$bucket':
      return expandBucket(stage.spec);
    default:
      return [stage];
  }
}

function expandCount(spec: DocValue): Stage[] {
  if (typeof spec !== 'string' || spec === '' || spec.startsWith('$') || spec.includes('.') || spec === '_id') {
    throw badQuery("$count requires a non-empty field name that does not start with '$', contain '.' or equal '_id'");
  }
  return [
    { name: '$group', spec: { _id: null, [spec]: { $sum: 1 } } },
    { name: '$project', spec: { _id: 0 } },
  ];
}

function expandSortByCount(spec: DocValue): Stage[] {
  const isExpr = (typeof spec === 'string' && spec.startsWith('$')) || (isPlainDoc(spec) && Object.keys(spec)[0]?.startsWith('$'));
  if (!isExpr) throw badQuery('$sortByCount requires a field path or an operator expression');
  return [
    { name: '$group', spec: { _id: spec, count: { $sum: 1 } } },
    { name: '$sort', spec: { count: -1 } },
  ];
}

function expandBucket(spec: DocValue): Stage[] {
  if (!isPlainDoc(spec)) throw badQuery('$bucket requires an object');
  for (const k of Object.keys(spec)) {
    if (!['groupBy', 'boundaries', 'default', 'output'].includes(k)) throw badQuery(`$bucket: unrecognized option '${k}'`);
  }
  const { groupBy, boundaries, output } = spec;
  if (groupBy === undefined) throw badQuery("$bucket requires 'groupBy' and 'boundaries'");
  const bounds = checkBoundaries(boundaries);
  const fallback = spec.default;
  if (fallback !== undefined) checkDefault(fallback, bounds);
  if (output !== undefined && !isPlainDoc(output)) throw badQuery("$bucket: 'output' must be an object");
  const branches = bounds.slice(0, -1).map((lo, i): Doc => {
    const gte: Doc = { $gte: [groupBy, { $literal: lo }] };
    const lt: Doc = { $lt: [groupBy, { $literal: bounds[i + 1] }] };
    return { case: { $and: [gte, lt] }, then: { $literal: lo } };
  });
  const sw: Doc = { branches };
  if (fallback !== undefined) sw.default = { $literal: fallback };
  // MongoDB's own rewrite: groupBy is repeated in every branch
  return [
    { name: '$group', spec: { _id: { $switch: sw }, ...(output ?? { count: { $sum: 1 } }) } },
    { name: '$sort', spec: { _id: 1 } },
  ];
}

function checkBoundaries(b: DocValue | undefined): DocValue[] {
  if (!Array.isArray(b) || b.length < 2) throw badQuery("$bucket: 'boundaries' must be an array of at least 2 values");
  const cls = canonicalOrder(b[0]);
  for (let i = 1; i < b.length; i++) {
    if (canonicalOrder(b[i]) !== cls) throw badQuery("$bucket: all 'boundaries' must be of the same type");
    if (compareValues(b[i - 1], b[i]) >= 0) throw badQuery("$bucket: 'boundaries' must be sorted in ascending order");
  }
  return b;
}

function checkDefault(d: DocValue, bounds: DocValue[]): void {
  if (canonicalOrder(d) !== canonicalOrder(bounds[0])) return;
  const inside = compareValues(d, bounds[0]) >= 0 && compareValues(d, bounds[bounds.length - 1]) < 0;
  if (inside) throw badQuery("$bucket: the 'default' value must be less than the lowest boundary or greater than or equal to the highest");
}
