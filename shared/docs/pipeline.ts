// The aggregation pipeline's public face: compilePipeline splits a pipeline
// into the part every shard runs (synchronously, inside its turn) and the part
// the router runs over what the shards return.
//
// The shard part is the longest prefix of per-document stages ($match,
// $project, $addFields/$set, $unset, $replaceRoot/$replaceWith, $unwind),
// then, when the next stage is a $group, that group's partial form (states are
// plain DocValues, see agg-group.ts; the router merges them). Without a
// $group, a following $limit (or $skip+$limit, or $sort+$limit as a top-k)
// is also copied to the shards; the router still applies it. The shard part
// travels as plain data (ShardPlan) and each shard compiles it.
//
// Router:  const p = compilePipeline(stages, opts);  send p.shard to shards;
//          for await (const doc of p.run(shardOutputs)) ...
// Shard:   const run = startShardRun(plan); run.push(docs) ...; run.finish()
//          (or runShardStages(plan, docs) for everything at once, or
//          compileShardHalf(stages, group) once and call it per slice);
//          fieldsNeeded(stages, group) names the top-level fields to decode.

import { badQuery, isPlainDoc } from './agg-expr-core.js';
import { compileDocStage, DOC_STAGES, type DocFn, type StageContext } from './agg-doc-stages.js';
import { compileGroup, GroupTable, type CompiledGroup } from './agg-group.js';
import type { LookupFn } from './agg-lookup.js';
import { normalizeStages, type Stage } from './agg-normalize.js';
import { applyDocFns, compileRouterStages, compileSortSpec, parseCount, type RouterContext } from './agg-router.js';
import type { DocCompare } from './agg-sort.js';
import type { Doc } from './doc-types.js';
import type { ExprVars } from './expr.js';

export type { LookupFn } from './agg-lookup.js';
export { fieldsNeeded } from './agg-deps.js';

export interface PipelineOptions {
  allowDiskUse: boolean;
  /** Per blocking stage ($group, $sort, $facet …), estimated heap bytes. */
  memoryLimitBytes: number;
  /** Where spill files go (a private subdirectory per stage, always removed). */
  tmpDir: string;
  /** Required for $lookup: the router's find over another collection. */
  lookup?: LookupFn;
  /** $$NOW for the whole pipeline, shards included (default: compile time). */
  now?: Date;
  /** false: nothing is pushed down (the router runs every stage). Default true. */
  split?: boolean;
}

/** What the router sends to every shard. Plain data: it crosses the ring. */
export interface ShardPlan {
  /** Normalized stages: per-document ones, then possibly [$sort,] $limit copies. */
  readonly stages: Doc[];
  /** When set, the shard returns this $group's partial states `{_id, v: [...]}`. */
  readonly partialGroup: Doc | null;
  readonly nowMs: number;
}

export interface CompiledPipeline {
  readonly shard: ShardPlan;
  /** Stage names the router runs (after normalization), for explain. */
  readonly routerStages: readonly string[];
  /**
   * Runs the router half over the shards' outputs (documents or batches of
   * them, in any interleaving). Errors are MantisErrors (BAD_QUERY,
   * AGGREGATE_MEMORY_LIMIT); returning early cleans up spill files.
   */
  run(input: AsyncIterable<Doc | readonly Doc[]> | Iterable<Doc | readonly Doc[]>): AsyncGenerator<Doc>;
}

const TOP_K_PUSHDOWN_MAX = 100_000;
const SHARD_GROUP_MEMORY_BYTES_DEFAULT = 64 * 1024 * 1024;

export function compilePipeline(stages: unknown, options: PipelineOptions): CompiledPipeline {
  const all = normalizeStages(stages);
  const now = options.now ?? new Date();
  const { shard, routerFrom, mergeFirst } = options.split === false ? unsplit(now) : split(all, now);
  startShardRun(shard); // compiles: a bad shard stage is refused here, before any shard sees it
  const routerPart = all.slice(routerFrom);
  const ctx = routerContext(options, now, {});
  const stage = compileRouterStages(routerPart, ctx, mergeFirst);
  return {
    shard,
    routerStages: routerPart.map((s) => s.name),
    run: (input) => flatten(stage(batches(input))),
  };
}

function unsplit(now: Date): { shard: ShardPlan; routerFrom: number; mergeFirst: boolean } {
  return { shard: { stages: [], partialGroup: null, nowMs: now.getTime() }, routerFrom: 0, mergeFirst: false };
}

function split(all: Stage[], now: Date): { shard: ShardPlan; routerFrom: number; mergeFirst: boolean } {
  let i = 0;
  while (i < all.length && DOC_STAGES.has(all[i].name)) i++;
  const shardStages: Doc[] = all.slice(0, i).map((s) => ({ [s.name]: s.spec }));
  const next = all[i];
  const after = all[i + 1];
  const plan = (partialGroup: Doc | null): ShardPlan => ({ stages: shardStages, partialGroup, nowMs: now.getTime() });
  if (next?.name === '$group' && isPlainDoc(next.spec)) {
    return { shard: plan(next.spec), routerFrom: i, mergeFirst: true };
  }
  if (next?.name === '$limit') shardStages.push({ $limit: next.spec });
  else if (next?.name === '$skip' && after?.name === '$limit') {
    shardStages.push({ $limit: parseCount(next.spec, '$skip', 0) + parseCount(after.spec, '$limit', 1) });
  } else if (next?.name === '$sort' && after?.name === '$limit' && parseCount(after.spec, '$limit', 1) <= TOP_K_PUSHDOWN_MAX) {
    shardStages.push({ $sort: next.spec }, { $limit: after.spec });
  }
  return { shard: plan(null), routerFrom: i, mergeFirst: false };
}

function routerContext(options: PipelineOptions, now: Date, vars: ExprVars): RouterContext {
  const ctx: RouterContext = {
    now,
    vars,
    memoryLimitBytes: options.memoryLimitBytes,
    allowDiskUse: options.allowDiskUse,
    tmpDir: options.tmpDir,
    lookup: options.lookup,
    compileSub: (stages, subVars) => compileRouterStages(stages, routerContext(options, now, subVars)),
  };
  return ctx;
}

async function* batches(input: AsyncIterable<Doc | readonly Doc[]> | Iterable<Doc | readonly Doc[]>): AsyncGenerator<Doc[]> {
  for await (const item of input) {
    if (Array.isArray(item)) {
      if (item.length > 0) yield item as Doc[];
    } else yield [item as Doc];
  }
}

async function* flatten(input: AsyncIterable<Doc[]>): AsyncGenerator<Doc> {
  for await (const batch of input) yield* batch;
}

// ------------------------------------------------------------ shard side ----

export interface ShardRunOptions {
  /** Partial group states past this many estimated bytes are emitted early (the router merges them). */
  groupMemoryBytes?: number;
}

/** A shard's synchronous run: push documents in scan order, then finish. */
export interface ShardRun {
  /** Outputs ready now (per-document results; early-emitted partial states). */
  push(docs: Iterable<Doc>): Doc[];
  /** The remaining outputs (partial states, the top-k). Call once. */
  finish(): Doc[];
  /** True once a pushed-down $limit is satisfied: the shard may stop scanning. */
  readonly done: boolean;
}

/** A shard plan compiled once; each run gets fresh state. */
interface ShardParts {
  readonly fns: DocFn[];
  readonly sort: DocCompare | null;
  readonly limit: number | null;
  readonly group: CompiledGroup | null;
  readonly ctx: StageContext;
}

function compileShardParts(plan: ShardPlan): ShardParts {
  const ctx: StageContext = { now: new Date(plan.nowMs), vars: {} };
  const fns: DocFn[] = [];
  let sort: DocCompare | null = null;
  let limit: number | null = null;
  for (const raw of plan.stages) {
    const [name] = Object.keys(raw);
    if (DOC_STAGES.has(name)) fns.push(compileDocStage(name, raw[name], ctx));
    else if (name === '$sort') sort = compileSortSpec(raw[name]);
    else if (name === '$limit') limit = parseCount(raw[name], '$limit', 1);
    else throw badQuery(`${name} cannot run on a shard`);
  }
  const group = plan.partialGroup === null ? null : compileGroup(plan.partialGroup, { now: ctx.now });
  return { fns, sort, limit, group, ctx };
}

function runOf(parts: ShardParts, options: ShardRunOptions): ShardRun {
  if (parts.group !== null) return groupRun(parts.fns, new GroupTable(parts.group), parts.ctx, options);
  if (parts.sort !== null && parts.limit !== null) return topKRun(parts.fns, parts.sort, parts.limit);
  return streamRun(parts.fns, parts.limit);
}

export function startShardRun(plan: ShardPlan, options: ShardRunOptions = {}): ShardRun {
  return runOf(compileShardParts(plan), options);
}

/**
 * The shard half as one function over a slice of the collection (compiled
 * once; every call is an independent run: a $limit applies per call, partial
 * group states are per call; the router merges and re-limits).
 * REQUIRES: `stages`/`group` come from a CompiledPipeline's ShardPlan.
 */
export function compileShardHalf(
  stages: Doc[],
  group: Doc | null,
  options: ShardRunOptions & { nowMs?: number } = {},
): (docs: Iterable<Doc>) => Doc[] {
  const parts = compileShardParts({ stages, partialGroup: group, nowMs: options.nowMs ?? Date.now() });
  return (docs) => drain(runOf(parts, options), docs);
}

function drain(run: ShardRun, docs: Iterable<Doc>): Doc[] {
  const out = run.push(docs);
  for (const d of run.finish()) out.push(d);
  return out;
}

/** Everything at once: the shard's whole output for `docs`. */
export function runShardStages(plan: ShardPlan, docs: Iterable<Doc>, options: ShardRunOptions = {}): Doc[] {
  return drain(startShardRun(plan, options), docs);
}

function streamRun(fns: DocFn[], limit: number | null): ShardRun {
  let left = limit ?? Infinity;
  return {
    push(docs) {
      if (left <= 0) return [];
      const out = applyDocFns(fns, Array.isArray(docs) ? docs : [...docs]);
      if (out.length > left) out.length = left;
      left -= out.length;
      return out;
    },
    finish: () => [],
    get done() {
      return left <= 0;
    },
  };
}

function topKRun(fns: DocFn[], cmp: DocCompare, limit: number): ShardRun {
  let buffer: Doc[] = [];
  return {
    push(docs) {
      for (const d of applyDocFns(fns, Array.isArray(docs) ? docs : [...docs])) buffer.push(d);
      if (buffer.length >= 2 * limit + 1000) buffer = buffer.sort(cmp).slice(0, limit);
      return [];
    },
    finish: () => buffer.sort(cmp).slice(0, limit),
    done: false,
  };
}

function groupRun(fns: DocFn[], table: GroupTable, ctx: StageContext, options: ShardRunOptions): ShardRun {
  const maxBytes = options.groupMemoryBytes ?? SHARD_GROUP_MEMORY_BYTES_DEFAULT;
  let bytes = 0;
  return {
    push(docs) {
      let early: Doc[] = [];
      for (const d of applyDocFns(fns, Array.isArray(docs) ? docs : [...docs])) {
        bytes += table.addDoc({ root: d, vars: ctx.vars });
        if (bytes > maxBytes) {
          early = early.concat(table.drainPartials());
          bytes = 0;
        }
      }
      return early;
    },
    finish: () => table.drainPartials(),
    done: false,
  };
}

/**
 * The whole pipeline in one process (tests, tools): `partitions` shard runs
 * over a round-robin split of `docs`, their outputs merged by the router half.
 */
export async function runPipeline(stages: unknown, docs: Iterable<Doc>, options: PipelineOptions & { partitions?: number }): Promise<Doc[]> {
  const p = compilePipeline(stages, options);
  const n = Math.max(1, options.partitions ?? 1);
  const parts: Doc[][] = Array.from({ length: n }, () => []);
  let i = 0;
  for (const d of docs) parts[i++ % n].push(d);
  const outputs = parts.map((part) => runShardStages(p.shard, part));
  const out: Doc[] = [];
  for await (const d of p.run(outputs)) out.push(d);
  return out;
}
