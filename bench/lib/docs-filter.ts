// Filter evaluation speed, in process: the engine's compiled filter
// (shared/docs/filter.ts compileFilter) against mingo's Query.test on the
// same parsed documents, one filter at a time. Each round times one pass of
// each engine over every document (alternating which goes first); the best
// round per engine counts (the least disturbed by GC and by other processes).
// Both engines must find the same number of matches, or the row says so.

import { docJson } from './docs-gen.js';

export type Matcher = (doc: Record<string, unknown>) => boolean;
export type FilterEngine = { readonly name: string; readonly compile: (filter: Record<string, unknown>) => Matcher };

export type BenchFilter = { readonly name: string; readonly filter: Record<string, unknown> };

/** Filters over the generator's documents: nested paths, ranges, $in, $or, arrays, $elemMatch, $regex, $not. */
export const BENCH_FILTERS: readonly BenchFilter[] = [
  { name: 'nested equality', filter: { 'user.email': 'user000001234@example.com' } },
  { name: 'equality + range', filter: { status: 'active', amount: { $gte: 100, $lt: 500 } } },
  { name: '$in + $gt nested', filter: { 'user.address.country': { $in: ['DE', 'FR', 'NL'] }, 'user.age': { $gt: 30 } } },
  { name: '$or', filter: { $or: [{ status: 'closed' }, { qty: { $lte: 2 } }] } },
  { name: 'array element equality', filter: { tags: 't7' } },
  { name: '$elemMatch', filter: { items: { $elemMatch: { price: { $gt: 50 }, qty: { $gte: 3 } } } } },
  { name: 'array path range', filter: { 'items.price': { $lt: 1 } } },
  { name: '$regex prefix', filter: { 'user.name': { $regex: '^Name 1' } } },
  { name: '$and $ne $not', filter: { $and: [{ status: { $ne: 'suspended' } }, { 'user.age': { $not: { $lt: 25 } } }] } },
  { name: '$exists + $nin', filter: { score: { $exists: true }, category: { $nin: ['cat-01', 'cat-02', 'cat-03'] } } },
];

export type FilterRow = {
  readonly name: string;
  readonly filter: Record<string, unknown>;
  /** Matches found by each engine, in engine order. */
  readonly matches: readonly number[];
  /** Best pass per engine, ns per document, in engine order. */
  readonly nsPerDoc: readonly number[];
  /** nsPerDoc[1] / nsPerDoc[0]: how many times faster the first engine is. */
  readonly speedup: number;
  readonly agree: boolean;
};

export type FilterPhase = { readonly docs: number; readonly engines: readonly string[]; readonly rows: readonly FilterRow[]; readonly geomeanSpeedup: number };

/** Documents [0, n) parsed from their JSON, as both engines see them. */
export function parsedDocs(seed: number, n: number): Record<string, unknown>[] {
  const docs: Record<string, unknown>[] = [];
  for (let i = 0; i < n; i++) docs.push(JSON.parse(docJson(seed, i)) as Record<string, unknown>);
  return docs;
}

function pass(match: Matcher, docs: readonly Record<string, unknown>[]): { ms: number; matches: number } {
  const t0 = performance.now();
  let matches = 0;
  for (let i = 0; i < docs.length; i++) if (match(docs[i])) matches++;
  return { ms: performance.now() - t0, matches };
}

/** Times `engines[0]` against `engines[1]` on every filter: `rounds` alternating passes each. */
export function runFilterPhase(docs: readonly Record<string, unknown>[], engines: readonly [FilterEngine, FilterEngine], filters: readonly BenchFilter[], rounds: number): FilterPhase {
  const rows: FilterRow[] = [];
  for (const f of filters) {
    const matchers = engines.map((e) => e.compile(f.filter));
    const best = [Infinity, Infinity];
    const matches = [0, 0];
    for (let r = 0; r < rounds; r++) {
      for (const k of r % 2 === 0 ? [0, 1] : [1, 0]) {
        const p = pass(matchers[k], docs);
        best[k] = Math.min(best[k], p.ms);
        matches[k] = p.matches;
      }
    }
    const nsPerDoc = best.map((ms) => (ms * 1e6) / docs.length);
    rows.push({ name: f.name, filter: f.filter, matches, nsPerDoc, speedup: nsPerDoc[1] / nsPerDoc[0], agree: matches[0] === matches[1] });
  }
  const geomeanSpeedup = Math.exp(rows.reduce((s, r) => s + Math.log(r.speedup), 0) / rows.length);
  return { docs: docs.length, engines: engines.map((e) => e.name), rows, geomeanSpeedup };
}
