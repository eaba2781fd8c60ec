// The router half of a pipeline: stages compiled into async transformers
// over batches of documents (Doc[]), so a document costs no generator hop of
// its own. Blocking stages draw on a MemoryBudget and spill under
// allowDiskUse ($sort: sorted runs; $group: hash partitions of partial
// states). $lookup and $facet live in agg-lookup.ts and reach back here
// through `compileSub`.

import { badQuery, isPlainDoc } from './agg-expr-core.js';
import { compileDocStage, DOC_STAGES, type DocFn, type StageContext } from './agg-doc-stages.js';
import { compileGroup, GroupTable, type CompiledGroup } from './agg-group.js';
import { compileFacet, compileLookup, type LookupFn } from './agg-lookup.js';
import { MemoryBudget } from './agg-memory.js';
import type { Stage } from './agg-normalize.js';
import { sortStream, type DocCompare, type SortSettings } from './agg-sort.js';
import { readSpill, SpillDir, type SpillWriter } from './agg-spill.js';
import type { Doc, DocValue } from './doc-types.js';
import type { ExprVars } from './expr.js';
import { parseSort } from './sort.js';

export type Batches = AsyncIterable<Doc[]>;
export type RouterStage = (input: Batches) => AsyncGenerator<Doc[]>;

export interface RouterContext extends StageContext, SortSettings {
  readonly lookup: LookupFn | undefined;
  /** Compiles a nested pipeline ($facet, $lookup's pipeline) with extra variables. */
  readonly compileSub: (stages: Stage[], vars: ExprVars) => RouterStage;
}

/** A $sort followed by a $limit at most this large keeps only the top documents. */
const TOP_K_LIMIT_MAX = 100_000;
const GROUP_SPILL_PARTITIONS = 16;
const OUT_BATCH = 1000;

/** Compiles stages (already normalized) into one transformer. `mergeFirst`: stage 0 is a $group over partial states. */
export function compileRouterStages(stages: readonly Stage[], ctx: RouterContext, mergeFirst = false): RouterStage {
  const parts: RouterStage[] = [];
  for (let i = 0; i < stages.length; i++) {
    const { name, spec } = stages[i];
    if (DOC_STAGES.has(name)) {
      const fns: DocFn[] = [];
      while (i < stages.length && DOC_STAGES.has(stages[i].name)) {
        fns.push(compileDocStage(stages[i].name, stages[i].spec, ctx));
        i++;
      }
      i--;
      parts.push(docStages(fns));
      continue;
    }
    const next = stages[i + 1];
    const limit = name === '$sort' && next?.name === '$limit' ? parseCount(next.spec, '$limit', 1) : null;
    parts.push(compileBlocking(name, spec, ctx, mergeFirst && i === 0, limit !== null && limit <= TOP_K_LIMIT_MAX ? limit : null));
  }
  return (input) => parts.reduce<AsyncIterable<Doc[]>>((acc, stage) => stage(acc), input) as AsyncGenerator<Doc[]>;
}

function compileBlocking(name: string, spec: DocValue, ctx: RouterContext, merge: boolean, topK: number | null): RouterStage {
  switch (name) {
    case '$group':
      return groupStage(compileGroup(spec, { now: ctx.now }), merge ? 'partial' : 'raw', ctx);
    case '$sort': {
      const cmp = compileSortSpec(spec);
      return (input) => sortStream(input, cmp, topK, ctx);
    }
    case '$limit':
      return limitStage(parseCount(spec, '$limit', 1));
    case '$skip':
      return skipStage(parseCount(spec, '$skip', 0));
    case '$lookup':
      return compileLookup(spec, ctx);
    case '$facet':
      return compileFacet(spec, ctx);
    default:
      throw new Error(`assertion failed: no router stage for ${name}`);
  }
}

/**
 * The $sort comparator (sort.ts's MongoDB rules); each document's sort key is
 * computed once per sort, not once per comparison.
 */
export function compileSortSpec(spec: DocValue): DocCompare {
  if (!isPlainDoc(spec) || Object.keys(spec).length === 0) throw badQuery('$sort requires a non-empty object');
  const sort = parseSort(spec);
  const keys = new WeakMap<Doc, DocValue[]>();
  const keyOf = (d: Doc): DocValue[] => {
    let k = keys.get(d);
    if (k === undefined) {
      k = sort.keyOf(d);
      keys.set(d, k);
    }
    return k;
  };
  return (a, b) => sort.compareKeys(keyOf(a), keyOf(b));
}

/** A $limit/$skip operand: a whole number ≥ min. */
export function parseCount(spec: DocValue, stage: string, min: number): number {
  const n = typeof spec === 'bigint' ? Number(spec) : spec;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min) {
    throw badQuery(`${stage} requires ${min === 0 ? 'a non-negative' : 'a positive'} integer`);
  }
  return n;
}

/** Runs a batch through consecutive per-document stages. */
export function applyDocFns(fns: readonly DocFn[], batch: Doc[]): Doc[] {
  let cur = batch;
  for (const fn of fns) {
    const next: Doc[] = [];
    for (const doc of cur) fn(doc, next);
    cur = next;
  }
  return cur;
}

function docStages(fns: DocFn[]): RouterStage {
  return async function* (input) {
    for await (const batch of input) {
      const out = applyDocFns(fns, batch);
      if (out.length > 0) yield out;
    }
  };
}

function limitStage(n: number): RouterStage {
  return async function* (input) {
    let left = n;
    for await (const batch of input) {
      if (batch.length >= left) {
        yield batch.slice(0, left);
        return;
      }
      left -= batch.length;
      yield batch;
    }
  };
}

function skipStage(n: number): RouterStage {
  return async function* (input) {
    let left = n;
    for await (const batch of input) {
      if (left >= batch.length) {
        left -= batch.length;
        continue;
      }
      yield left === 0 ? batch : batch.slice(left);
      left = 0;
    }
  };
}

// ----------------------------------------------------------------- $group ----

function groupStage(group: CompiledGroup, mode: 'raw' | 'partial', ctx: RouterContext): RouterStage {
  return async function* (input) {
    const table = new GroupTable(group);
    const budget = new MemoryBudget(ctx.memoryLimitBytes, ctx.allowDiskUse, '$group');
    let spill: { dir: SpillDir; files: SpillWriter[] } | null = null;
    try {
      for await (const batch of input) {
        for (const doc of batch) {
          const bytes = mode === 'raw' ? table.addDoc({ root: doc, vars: ctx.vars }) : table.addPartial(doc);
          if (budget.grow(bytes)) continue;
          spill ??= await openPartitions(ctx.tmpDir);
          await spillPartials(table, spill.files);
          budget.reset();
        }
      }
      if (spill === null) {
        yield* chunks(table.drainFinals());
        return;
      }
      await spillPartials(table, spill.files);
      const paths = await Promise.all(spill.files.map((f) => f.finish()));
      for (const path of paths) {
        // each partition holds every state of its keys: merge it alone
        const part = new GroupTable(group);
        for await (const doc of readSpill(path)) part.addPartial(doc);
        yield* chunks(part.drainFinals());
      }
    } finally {
      await spill?.dir.close();
    }
  };
}

async function openPartitions(tmpDir: string): Promise<{ dir: SpillDir; files: SpillWriter[] }> {
  const dir = await SpillDir.create(tmpDir);
  const files: SpillWriter[] = [];
  for (let i = 0; i < GROUP_SPILL_PARTITIONS; i++) files.push(await dir.newFile());
  return { dir, files };
}

async function spillPartials(table: GroupTable, files: SpillWriter[]): Promise<void> {
  for (const doc of table.drainPartials()) await files[GroupTable.partitionOf(doc, files.length)].append(doc);
}

function* chunks(docs: Doc[]): Generator<Doc[]> {
  for (let i = 0; i < docs.length; i += OUT_BATCH) yield docs.slice(i, i + OUT_BATCH);
}
