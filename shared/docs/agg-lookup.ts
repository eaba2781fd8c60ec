// $lookup and $facet, the router stages that run other pipelines.
//
// $lookup asks the router for foreign documents through `LookupFn(from,
// filter)`: the equality form sends one `{foreignField: {$in: [...]}}` per
// input batch and matches locally by MongoDB equality (a local array matches
// any element; a missing local value matches null or missing); the pipeline
// form fetches the foreign collection once and runs the sub-pipeline per
// input document with its `let` variables.

import { badQuery, evaluatePath, isPlainDoc, type Node } from './agg-expr-core.js';
import { MemoryBudget, estimateBytes } from './agg-memory.js';
import { normalizeStages, type Stage } from './agg-normalize.js';
import type { RouterContext, RouterStage } from './agg-router.js';
import type { Doc, DocValue } from './doc-types.js';
import { compileExprNode, type ExprVars } from './expr.js';
import { valueEqualityKey } from './key-codec.js';
import { lookupForQuery } from './paths.js';

/** Foreign documents of collection `from` matching `filter` (the router runs a find). */
export type LookupFn = (from: string, filter: Doc) => Promise<Doc[]>;

interface LookupSpec {
  readonly from: string;
  readonly as: string[];
  readonly localField: string | null;
  readonly foreignField: string | null;
  readonly lets: ReadonlyArray<readonly [string, Node]>;
  readonly pipeline: Stage[] | null;
}

const NESTED_FORBIDDEN: ReadonlySet<string> = new Set(['$facet']);

function parseLookup(spec: DocValue, ctx: RouterContext): LookupSpec {
  if (!isPlainDoc(spec)) throw badQuery('$lookup requires an object');
  for (const k of Object.keys(spec)) {
    if (!['from', 'as', 'localField', 'foreignField', 'let', 'pipeline'].includes(k)) throw badQuery(`$lookup: unknown argument '${k}'`);
  }
  const { from, as, localField, foreignField } = spec;
  if (typeof from !== 'string' || from === '') throw badQuery("$lookup requires 'from' to be a collection name");
  if (typeof as !== 'string' || as === '' || as.startsWith('$')) throw badQuery("$lookup requires 'as' to be a field name");
  if ((localField === undefined) !== (foreignField === undefined)) {
    throw badQuery("$lookup requires both or neither of 'localField' and 'foreignField'");
  }
  for (const f of [localField, foreignField]) {
    if (f !== undefined && (typeof f !== 'string' || f === '' || f.startsWith('$'))) throw badQuery('$lookup: localField and foreignField must be field paths');
  }
  if (spec.pipeline === undefined && localField === undefined) {
    throw badQuery("$lookup requires either 'pipeline' or both 'localField' and 'foreignField'");
  }
  if (spec.let !== undefined && (!isPlainDoc(spec.let) || spec.pipeline === undefined)) {
    throw badQuery("$lookup: 'let' must be an object and needs 'pipeline'");
  }
  const lets = Object.entries(spec.let ?? {}).map(([name, e]) => [name, compileExprNode(e, { now: ctx.now })] as const);
  return {
    from,
    as: as.split('.'),
    localField: (localField as string | undefined) ?? null,
    foreignField: (foreignField as string | undefined) ?? null,
    lets,
    pipeline: spec.pipeline === undefined ? null : checkNested(normalizeStages(spec.pipeline, '$lookup pipeline')),
  };
}

function checkNested(stages: Stage[]): Stage[] {
  for (const s of stages) if (NESTED_FORBIDDEN.has(s.name)) throw badQuery(`${s.name} is not allowed inside a $lookup pipeline`);
  return stages;
}

/** The local values a document offers for matching: traversal through arrays, leaf arrays spread; none → null. */
function localValues(doc: Doc, path: string): DocValue[] {
  const v = evaluatePath(doc, path.split('.'));
  if (v === undefined) return [null];
  if (!Array.isArray(v)) return [v];
  // through arrays of documents, then the leaf array's elements
  const out = v.flatMap((e) => (Array.isArray(e) ? e : [e]));
  return out.length === 0 ? [null] : out;
}

/** foreign documents indexed by every equality key their foreignField offers. */
function indexForeign(docs: Doc[], foreignField: string): Map<string, number[]> {
  const index = new Map<string, number[]>();
  docs.forEach((d, i) => {
    const keys = new Set(lookupForQuery(d, foreignField).map((v) => valueEqualityKey(v)));
    for (const k of keys) {
      const list = index.get(k);
      if (list === undefined) index.set(k, [i]);
      else list.push(i);
    }
  });
  return index;
}

function matchesFor(values: DocValue[], index: Map<string, number[]>, foreign: Doc[]): Doc[] {
  const hits = new Set<number>();
  for (const v of values) for (const i of index.get(valueEqualityKey(v)) ?? []) hits.add(i);
  return [...hits].sort((a, b) => a - b).map((i) => foreign[i]);
}

function withAs(doc: Doc, as: string[], value: Doc[]): Doc {
  const set = (d: Doc, at: number): Doc => {
    const out: Doc = { ...d };
    if (at === as.length - 1) out[as[at]] = value;
    else out[as[at]] = set(isPlainDoc(d[as[at]]) ? (d[as[at]] as Doc) : {}, at + 1);
    return out;
  };
  return set(doc, 0);
}

async function* fromArray(docs: Doc[]): AsyncGenerator<Doc[]> {
  if (docs.length > 0) yield docs;
}

async function collect(stage: RouterStage, docs: Doc[]): Promise<Doc[]> {
  const out: Doc[] = [];
  for await (const batch of stage(fromArray(docs))) out.push(...batch);
  return out;
}

export function compileLookup(spec: DocValue, ctx: RouterContext): RouterStage {
  const l = parseLookup(spec, ctx);
  if (l.pipeline !== null) {
    // validate the sub-pipeline now, with every let variable bound to null
    ctx.compileSub(l.pipeline, { ...ctx.vars, ...Object.fromEntries(l.lets.map(([n]) => [n, null])) });
  }
  const fetch = ctx.lookup;
  if (fetch === undefined) throw badQuery('$lookup is not available here');
  return async function* (input) {
    let everything: Doc[] | null = null;
    for await (const batch of input) {
      let foreign: Doc[];
      if (l.localField !== null && l.foreignField !== null) {
        const perDoc = batch.map((d) => localValues(d, l.localField as string));
        const all = dedupe(perDoc.flat());
        foreign = await fetch(l.from, { [l.foreignField]: { $in: all } });
        const index = indexForeign(foreign, l.foreignField);
        const matched = perDoc.map((vals) => matchesFor(vals, index, foreign));
        yield await Promise.all(batch.map(async (d, i) => withAs(d, l.as, await runSub(l, ctx, d, matched[i]))));
      } else {
        everything ??= await fetch(l.from, {});
        const all = everything;
        yield await Promise.all(batch.map(async (d) => withAs(d, l.as, await runSub(l, ctx, d, all))));
      }
    }
  };
}

function dedupe(values: DocValue[]): DocValue[] {
  const seen = new Map<string, DocValue>();
  for (const v of values) {
    const k = valueEqualityKey(v);
    if (!seen.has(k)) seen.set(k, v);
  }
  return [...seen.values()];
}

async function runSub(l: LookupSpec, ctx: RouterContext, doc: Doc, foreign: Doc[]): Promise<Doc[]> {
  if (l.pipeline === null) return foreign;
  const scope = { root: doc, vars: ctx.vars };
  const vars: ExprVars = { ...ctx.vars, ...Object.fromEntries(l.lets.map(([n, node]) => [n, node(scope)])) };
  return collect(ctx.compileSub(l.pipeline, vars), foreign);
}

// ----------------------------------------------------------------- $facet ----

export function compileFacet(spec: DocValue, ctx: RouterContext): RouterStage {
  if (!isPlainDoc(spec) || Object.keys(spec).length === 0) throw badQuery('$facet requires a non-empty object');
  const facets = Object.entries(spec).map(([name, p]) => {
    if (name === '' || name.startsWith('$') || name.includes('.')) throw badQuery(`$facet: invalid output field name '${name}'`);
    const stages = normalizeStages(p, `$facet.${name}`);
    for (const s of stages) if (s.name === '$facet') throw badQuery('$facet is not allowed inside a $facet');
    return [name, ctx.compileSub(stages, ctx.vars)] as const;
  });
  return async function* (input) {
    const budget = new MemoryBudget(ctx.memoryLimitBytes, false, '$facet');
    const buffer: Doc[] = [];
    for await (const batch of input) {
      for (const doc of batch) {
        budget.growNoSpill(estimateBytes(doc));
        buffer.push(doc);
      }
    }
    const out: Doc = {};
    for (const [name, stage] of facets) out[name] = await collect(stage, buffer);
    yield [out];
  };
}
