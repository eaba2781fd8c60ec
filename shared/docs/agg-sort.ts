// The router's $sort: in memory while the stage's budget lasts; past it, with
// allowDiskUse, sorted runs go to spill files and are merged at the end (an
// external merge sort); without, AGGREGATE_MEMORY_LIMIT. A $sort followed by
// $limit keeps only the best `limit` documents (top-k), as MongoDB does.
// Ties keep input order (runs are consecutive slices of the input and the
// merge prefers the earlier run), so spilling never changes the output.

import type { Doc } from './doc-types.js';
import { estimateBytes, MemoryBudget } from './agg-memory.js';
import { readSpill, SpillDir } from './agg-spill.js';

export type DocCompare = (a: Doc, b: Doc) => number;

export interface SortSettings {
  readonly memoryLimitBytes: number;
  readonly allowDiskUse: boolean;
  readonly tmpDir: string;
}

const OUT_BATCH = 1000;

export async function* sortStream(
  input: AsyncIterable<Doc[]>,
  cmp: DocCompare,
  limit: number | null,
  settings: SortSettings,
): AsyncGenerator<Doc[]> {
  if (limit !== null) {
    yield* chunked(await topK(input, cmp, limit, settings));
    return;
  }
  const budget = new MemoryBudget(settings.memoryLimitBytes, settings.allowDiskUse, '$sort');
  let buffer: Doc[] = [];
  let spill: SpillDir | null = null;
  const runs: string[] = [];
  try {
    for await (const batch of input) {
      for (const doc of batch) {
        buffer.push(doc);
        if (budget.grow(estimateBytes(doc))) continue;
        spill ??= await SpillDir.create(settings.tmpDir);
        runs.push(await writeRun(spill, buffer.sort(cmp)));
        buffer = [];
        budget.reset();
      }
    }
    buffer.sort(cmp);
    if (runs.length === 0) {
      yield* chunked(buffer);
      return;
    }
    yield* mergeRuns(runs, buffer, cmp);
  } finally {
    await spill?.close();
  }
}

async function writeRun(dir: SpillDir, sorted: Doc[]): Promise<string> {
  const w = await dir.newFile();
  try {
    for (const d of sorted) await w.append(d);
  } finally {
    await w.finish();
  }
  return w.path;
}

/** Keeps the best `limit` documents: sorts and truncates whenever the buffer doubles. */
async function topK(input: AsyncIterable<Doc[]>, cmp: DocCompare, limit: number, settings: SortSettings): Promise<Doc[]> {
  const budget = new MemoryBudget(settings.memoryLimitBytes, false, '$sort with $limit');
  const keep = Math.max(limit, 1);
  let buffer: Doc[] = [];
  let bytes = 0;
  for await (const batch of input) {
    for (const doc of batch) {
      buffer.push(doc);
      bytes += estimateBytes(doc);
      if (buffer.length < 2 * keep + 1000) continue;
      buffer = buffer.sort(cmp).slice(0, keep);
      bytes = buffer.reduce((n, d) => n + estimateBytes(d), 0);
      budget.reset();
      budget.growNoSpill(bytes);
    }
  }
  budget.reset();
  budget.growNoSpill(bytes);
  return buffer.sort(cmp).slice(0, limit);
}

function* chunked(docs: Doc[]): Generator<Doc[]> {
  for (let i = 0; i < docs.length; i += OUT_BATCH) yield docs.slice(i, i + OUT_BATCH);
}

interface Head {
  doc: Doc;
  run: number;
  next: () => Promise<IteratorResult<Doc>>;
}

/** k-way merge of the spilled runs and the last in-memory run, with a binary heap. */
async function* mergeRuns(runs: string[], tail: Doc[], cmp: DocCompare): AsyncGenerator<Doc[]> {
  const iters: AsyncIterator<Doc>[] = runs.map((p) => readSpill(p)[Symbol.asyncIterator]());
  iters.push(arrayIter(tail));
  const before = (a: Head, b: Head): boolean => {
    const c = cmp(a.doc, b.doc);
    return c < 0 || (c === 0 && a.run < b.run);
  };
  const heap: Head[] = [];
  try {
    for (let run = 0; run < iters.length; run++) {
      const it = iters[run];
      const first = await it.next();
      if (!first.done) heapPush(heap, { doc: first.value, run, next: () => it.next() }, before);
    }
    let out: Doc[] = [];
    while (heap.length > 0) {
      const top = heap[0];
      out.push(top.doc);
      const nxt = await top.next();
      if (nxt.done) heapPop(heap, before);
      else {
        top.doc = nxt.value;
        siftDown(heap, 0, before);
      }
      if (out.length >= OUT_BATCH) {
        yield out;
        out = [];
      }
    }
    if (out.length > 0) yield out;
  } finally {
    await Promise.all(iters.map((it) => it.return?.()));
  }
}

function arrayIter(docs: Doc[]): AsyncIterator<Doc> {
  let i = 0;
  return {
    next: async () => (i < docs.length ? { done: false, value: docs[i++] } : { done: true, value: undefined }),
  };
}

type Before = (a: Head, b: Head) => boolean;

function heapPush(heap: Head[], h: Head, before: Before): void {
  heap.push(h);
  let i = heap.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (!before(heap[i], heap[parent])) break;
    [heap[i], heap[parent]] = [heap[parent], heap[i]];
    i = parent;
  }
}

function heapPop(heap: Head[], before: Before): void {
  const lastHead = heap.pop();
  if (heap.length === 0 || lastHead === undefined) return;
  heap[0] = lastHead;
  siftDown(heap, 0, before);
}

function siftDown(heap: Head[], start: number, before: Before): void {
  let i = start;
  while (true) {
    const l = 2 * i + 1;
    const r = l + 1;
    let best = i;
    if (l < heap.length && before(heap[l], heap[best])) best = l;
    if (r < heap.length && before(heap[r], heap[best])) best = r;
    if (best === i) return;
    [heap[i], heap[best]] = [heap[best], heap[i]];
    i = best;
  }
}
