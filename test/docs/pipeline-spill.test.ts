// Spilling: with a small memory limit and allowDiskUse, $sort (external
// merge sort) and $group (hash partitions) give exactly the in-memory
// results; without allowDiskUse they answer AGGREGATE_MEMORY_LIMIT. Spill
// files are removed after success, after an error and after an early return.

import { mkdtempSync, readdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { readSpill, SpillDir } from '../../shared/docs/agg-spill.js';
import { compareValues } from '../../shared/docs/compare.js';
import type { Doc } from '../../shared/docs/doc-types.js';
import { compilePipeline, runPipeline, type PipelineOptions } from '../../shared/docs/pipeline.js';
import { MantisError } from '../../shared/errors.js';
import { Decimal128, ObjectId } from 'bson';

const TMP = mkdtempSync(join(tmpdir(), 'mantis-agg-spill-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));
beforeEach(() => expect(readdirSync(TMP)).toEqual([]));

const ROOMY: PipelineOptions = { allowDiskUse: false, memoryLimitBytes: 512 * 1024 * 1024, tmpDir: TMP };
const TIGHT: PipelineOptions = { allowDiskUse: true, memoryLimitBytes: 200_000, tmpDir: TMP };

function makeDocs(n: number): Doc[] {
  const docs: Doc[] = [];
  let x = 12345;
  const rnd = (m: number): number => {
    // mulberry32
    x = (x + 0x6d2b79f5) | 0;
    let t = Math.imul(x ^ (x >>> 15), 1 | x);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) % m;
  };
  for (let i = 0; i < n; i++) {
    docs.push({
      _id: i,
      k: rnd(700),
      s: `name-${rnd(50)}`,
      v: rnd(3) === 0 ? null : rnd(1000) / 7,
      big: BigInt(rnd(100000)) * 1000000007n,
      when: new Date(1_600_000_000_000 + rnd(1e9)),
      oid: new ObjectId(i.toString(16).padStart(24, '0')),
      dec: Decimal128.fromString(`${rnd(100)}.5`),
      tags: Array.from({ length: rnd(4) }, () => `t${rnd(9)}`),
      pad: 'p'.repeat(rnd(200)),
    });
  }
  return docs;
}

const DOCS = makeDocs(6000);

const byValue = (docs: Doc[]): Doc[] => [...docs].sort(compareValues);

describe('spilled $sort', () => {
  it('equals the in-memory sort, including ties (stable) and mixed types', async () => {
    for (const spec of [{ k: 1 }, { s: -1, v: 1 }, { tags: 1 }, { when: -1 }]) {
      const stages = [{ $sort: spec }, { $project: { pad: 0 } }];
      const inMemory = await runPipeline(stages, DOCS, { ...ROOMY, split: false });
      const spilled = await runPipeline(stages, DOCS, { ...TIGHT, split: false });
      expect(spilled).toEqual(inMemory);
    }
  });

  it('without allowDiskUse it is AGGREGATE_MEMORY_LIMIT', async () => {
    await expect(runPipeline([{ $sort: { k: 1 } }], DOCS, { ...TIGHT, allowDiskUse: false })).rejects.toMatchObject({
      code: 'AGGREGATE_MEMORY_LIMIT',
    });
  });
});

describe('spilled $group', () => {
  const group = {
    $group: {
      _id: '$k',
      n: { $sum: 1 },
      total: { $sum: '$big' },
      avg: { $avg: '$v' },
      lo: { $min: '$when' },
      hi: { $max: '$s' },
      first: { $first: '$_id' },
      last: { $last: '$_id' },
      ids: { $push: '$_id' },
      tags: { $addToSet: '$s' },
      decs: { $sum: '$dec' },
    },
  };

  it('equals the in-memory group, raw on the router and merged from shards', async () => {
    const inMemory = byValue(await runPipeline([group], DOCS, { ...ROOMY, split: false }));
    expect(inMemory).toHaveLength(700);
    // partial sums merged in another order round differently in the last bits
    const rounded = (d: Doc): Doc => ({ ...d, avg: typeof d.avg === 'number' ? Math.round(d.avg * 1e9) / 1e9 : d.avg });
    const raw = byValue(await runPipeline([group], DOCS, { ...TIGHT, split: false }));
    expect(raw.map(rounded)).toEqual(inMemory.map(rounded));
    // merged: shard order differs, so compare the order-free fields
    const merged = byValue(await runPipeline([group], DOCS, { ...TIGHT, partitions: 3 }));
    const orderFree = (d: Doc): Doc => ({
      ...rounded(d),
      first: null,
      last: null,
      ids: [...(d.ids as number[])].sort((a, b) => a - b),
      tags: [...(d.tags as string[])].sort(),
    });
    expect(merged.map(orderFree)).toEqual(inMemory.map(orderFree));
  });

  it('without allowDiskUse it is AGGREGATE_MEMORY_LIMIT', async () => {
    const err = await runPipeline([group], DOCS, { ...TIGHT, allowDiskUse: false, split: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MantisError);
    expect((err as MantisError).code).toBe('AGGREGATE_MEMORY_LIMIT');
  });

  it('$sortByCount and $bucket spill through their $group', async () => {
    for (const stages of [[{ $sortByCount: '$k' }], [{ $bucket: { groupBy: '$k', boundaries: [0, 100, 300, 700] } }]]) {
      const a = byValue(await runPipeline(stages, DOCS, { ...ROOMY, split: false }));
      const b = byValue(await runPipeline(stages, DOCS, { ...TIGHT, split: false }));
      expect(b).toEqual(a);
    }
  });
});

describe('spill files are always removed', () => {
  it('after an early return from the router half', async () => {
    const p = compilePipeline([{ $sort: { k: 1 } }], { ...TIGHT, split: false });
    const it = p.run(DOCS);
    const first = await it.next();
    expect(first.done).toBe(false);
    expect(readdirSync(TMP)).toHaveLength(1); // the runs are being merged
    await it.return(undefined);
    expect(readdirSync(TMP)).toEqual([]);
  });

  it('after an error in a later stage', async () => {
    const stages = [{ $sort: { k: 1 } }, { $project: { x: { $divide: [1, { $subtract: ['$k', '$k'] }] } } }];
    await expect(runPipeline(stages, DOCS, { ...TIGHT, split: false })).rejects.toMatchObject({ code: 'BAD_QUERY' });
    expect(readdirSync(TMP)).toEqual([]);
  });

  it('after an error while grouping', async () => {
    const stages = [{ $group: { _id: '$k', m: { $mergeObjects: { $cond: [{ $gt: ['$_id', 5000] }, 'oops', {}] } } } }];
    await expect(runPipeline(stages, DOCS, { ...TIGHT, split: false })).rejects.toMatchObject({ code: 'BAD_QUERY' });
    expect(readdirSync(TMP)).toEqual([]);
  });
});

describe('spill file frames', () => {
  it('round-trip every type and refuse a corrupted frame', async () => {
    const dir = await SpillDir.create(TMP);
    try {
      const w = await dir.newFile();
      for (const d of DOCS.slice(0, 50)) await w.append(d);
      const path = await w.finish();
      const back: Doc[] = [];
      for await (const d of readSpill(path)) back.push(d);
      expect(back).toEqual(DOCS.slice(0, 50));
      const bytes = readFileSync(path);
      bytes[20] ^= 0xff;
      writeFileSync(path, bytes);
      await expect(async () => {
        for await (const _ of readSpill(path)) void _;
      }).rejects.toThrow(/checksum/);
      bytes[20] ^= 0xff;
      writeFileSync(path, bytes.subarray(0, bytes.length - 3));
      await expect(async () => {
        for await (const _ of readSpill(path)) void _;
      }).rejects.toThrow(/ends inside a frame/);
    } finally {
      await dir.close();
    }
  });
});
