// The document benchmark's pure parts (bench/lib/docs-*.ts): the generator
// (sizes, determinism, the expected groups), the load drivers with in-memory
// senders, the filter phase's agreement check, the report's targets and
// tables; and, when PostgreSQL is installed and dist/ is built, the whole
// benchmark with --quick as `npm run bench:docs` runs it. Behaviour only: no
// figure here is a speed.

import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Query } from 'mingo';
import { describe, expect, it } from 'vitest';
import { BENCH_FILTERS, parsedDocs, runFilterPhase, type FilterEngine } from '../../bench/lib/docs-filter.js';
import { CATEGORIES, compareGroups, DOC_BYTES, docBatch, docJson, emailOf, expectedGroups, indexStream, type GroupRow } from '../../bench/lib/docs-gen.js';
import { explainUsesIndex, indexState, insertBody } from '../../bench/lib/docs-http.js';
import { closedLoop, loadBatches, timedRuns } from '../../bench/lib/docs-load.js';
import { insertSql } from '../../bench/lib/docs-pg.js';
import { checksTable, checkTargets, filterTable, fmtBytes, fmtMs, littleLawLine, mainTable, rssPerMillion, type DocsResults } from '../../bench/lib/docs-report.js';
import { findPostgres } from '../../bench/lib/pgbench.js';
import { compileFilter } from '../../shared/docs/filter.js';
import type { Doc } from '../../shared/docs/doc-types.js';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

type Parsed = { user: { email: string; age: number }; status: string; category: string; amount: number; tags: string[]; items: unknown[] };

describe('document generator', () => {
  it('makes documents of exactly DOC_BYTES bytes of valid JSON, the same for the same (seed, i)', () => {
    for (const i of [0, 1, 999, 123_456, 999_999, 99_999_999]) {
      const text = docJson(7, i);
      expect(Buffer.byteLength(text)).toBe(DOC_BYTES);
      const doc = JSON.parse(text) as Parsed;
      expect(doc.user.email).toBe(emailOf(i));
      expect(doc.tags).toHaveLength(3);
      expect(doc.items).toHaveLength(3);
      expect(docJson(7, i)).toBe(text);
    }
    expect(docJson(7, 5)).not.toBe(docJson(8, 5));
    expect(docBatch(7, 10, 13)).toEqual([docJson(7, 10), docJson(7, 11), docJson(7, 12)]);
  });

  it('gives each document its own email', () => {
    const emails = new Set(docBatch(3, 0, 5000).map((t) => (JSON.parse(t) as Parsed).user.email));
    expect(emails.size).toBe(5000);
  });

  it('knows the groups the aggregation must give, as computed from the documents themselves', () => {
    const n = 4000;
    const acc = new Map<string, { count: number; total: number; ages: number }>();
    for (const text of docBatch(11, 0, n)) {
      const d = JSON.parse(text) as Parsed;
      if (d.status !== 'active') continue;
      const g = acc.get(d.category) ?? { count: 0, total: 0, ages: 0 };
      acc.set(d.category, { count: g.count + 1, total: g.total + d.amount, ages: g.ages + d.user.age });
    }
    const fromDocs: GroupRow[] = [...acc].map(([category, g]) => ({ category, count: g.count, total: g.total, avgAge: g.ages / g.count }));
    const expected = expectedGroups(11, n);
    expect(expected.length).toBeLessThanOrEqual(CATEGORIES);
    expect(expected.reduce((s, g) => s + g.count, 0)).toBeGreaterThan(n * 0.4); // about half are active
    expect(compareGroups(expected, fromDocs)).toEqual([]);
  });

  it('reports groups that differ, are missing or are extra', () => {
    const expected = expectedGroups(1, 2000);
    const wrong = expected.map((g, k) => (k === 0 ? { ...g, count: g.count + 1 } : g)).slice(0, -1);
    const problems = compareGroups(expected, wrong);
    expect(problems[0]).toMatch(/groups, expected/);
    expect(problems.join(' ')).toContain(expected[0].category);
    expect(problems.join(' ')).toContain(`${expected[expected.length - 1].category} missing`);
    // sums may differ in the last bits (summation order), not more
    const jittered = expected.map((g) => ({ ...g, total: g.total * (1 + 1e-12) }));
    expect(compareGroups(expected, jittered)).toEqual([]);
  });

  it('draws lookup indexes in range, deterministically per seed', () => {
    const a = indexStream(5, 1000);
    const b = indexStream(5, 1000);
    for (let k = 0; k < 1000; k++) {
      const v = a();
      expect(v).toBe(b());
      expect(v >= 0 && v < 1000 && Number.isInteger(v)).toBe(true);
    }
  });
});

describe('request bodies', () => {
  it('an insert body is the documents array around the JSON texts', () => {
    const body = insertBody(docBatch(1, 0, 3));
    expect((JSON.parse(body) as { documents: unknown[] }).documents).toEqual(docBatch(1, 0, 3).map((t) => JSON.parse(t) as unknown));
  });

  it('a PostgreSQL multi-row INSERT has one jsonb parameter per document', () => {
    expect(insertSql(3)).toBe('INSERT INTO docs (doc) VALUES ($1::jsonb),($2::jsonb),($3::jsonb)');
    expect(insertSql(1000).match(/::jsonb/g)).toHaveLength(1000);
  });

  it('reads an index state from a collection description', () => {
    const described = { name: 'c', indexes: [{ name: '_id_', state: 'ready' }, { name: 'email', state: 'building', building: true }] };
    expect(indexState(described, 'email')).toBe('building');
    expect(indexState(described, '_id_')).toBe('ready');
    expect(indexState(described, 'nope')).toBeNull();
    expect(indexState({ indexes: 3 }, 'email')).toBeNull();
  });

  it('reads an explain answer as using the index only when no shard scans the collection', () => {
    expect(explainUsesIndex({ shards: [{ plan: { kind: 'ixscan', index: 'email' } }, { plan: { kind: 'ixscan', index: 'email' } }] }, 'email')).toBe(true);
    expect(explainUsesIndex({ shards: [{ plan: { kind: 'ixscan', index: 'email' } }, { plan: { kind: 'collscan' } }] }, 'email')).toBe(false);
    expect(explainUsesIndex({ shards: [{ plan: { kind: 'collscan' } }] }, 'email')).toBe(false);
  });
});

describe('load drivers', () => {
  it('loads every document exactly once across workers', async () => {
    const seen: number[] = [];
    const run = await loadBatches({
      seed: 1, from: 0, to: 2_500, batch: 1000, workers: 3,
      send: async (jsons) => {
        await new Promise((r) => setTimeout(r, 1));
        for (const t of jsons) seen.push(Number(/user(\d+)@/.exec(t)?.[1]));
      },
    });
    expect(run.docs).toBe(2_500);
    expect(run.batches).toBe(3);
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 2_500 }, (_, i) => i));
  });

  it('stops a load at the first failed batch and says which', async () => {
    const attempt = loadBatches({ seed: 1, from: 0, to: 5_000, batch: 1000, workers: 2, send: async (jsons) => {
      if (jsons[0].includes('user000002000@')) throw new Error('HTTP 500');
    } });
    await expect(attempt).rejects.toThrow(/documents 2000\.\.2999: HTTP 500/);
  });

  it('counts closed-loop operations and errors inside the measured window only', async () => {
    let calls = 0;
    const run = await closedLoop({ workers: 4, warmupS: 0, durationS: 1, op: async () => {
      calls++;
      await new Promise((r) => setTimeout(r, 5));
      if (calls % 10 === 0) throw new Error('boom');
    } });
    expect(run.ops).toBeGreaterThan(0);
    expect(run.errors).toBeGreaterThan(0);
    expect(run.errorExamples[0]).toBe('boom');
    expect(run.ops + run.errors).toBeLessThanOrEqual(calls);
    expect(run.latency.p50Ms).toBeGreaterThanOrEqual(4);
  });

  it('times runs after the warm-ups and keeps the last answer', async () => {
    let n = 0;
    const r = await timedRuns(2, 3, async () => ++n);
    expect(r.ms).toHaveLength(3);
    expect(r.last).toBe(5);
  });
});

describe('filter phase', () => {
  it('times both engines on every filter and finds the same matches (compileFilter vs mingo)', () => {
    const ours: FilterEngine = { name: 'compileFilter', compile: (f) => compileFilter(f as Doc) as (d: Record<string, unknown>) => boolean };
    const mingo: FilterEngine = { name: 'mingo', compile: (f) => {
      const q = new Query(f);
      return (d) => q.test(d);
    } };
    const phase = runFilterPhase(parsedDocs(1, 2000), [ours, mingo], BENCH_FILTERS, 1);
    expect(phase.rows).toHaveLength(BENCH_FILTERS.length);
    for (const row of phase.rows) {
      expect(row.agree, `${row.name}: ${row.matches.join(' vs ')}`).toBe(true);
      expect(row.nsPerDoc.every((ns) => ns > 0)).toBe(true);
    }
    // the filters are not trivial: most match some documents and miss others
    expect(phase.rows.filter((r) => r.matches[0] > 0 && r.matches[0] < 2000).length).toBeGreaterThanOrEqual(BENCH_FILTERS.length - 1);
    expect(filterTable(phase)).toContain('nested equality');
  });

  it('flags a filter on which the engines disagree', () => {
    const yes: FilterEngine = { name: 'yes', compile: () => () => true };
    const no: FilterEngine = { name: 'no', compile: () => () => false };
    const phase = runFilterPhase(parsedDocs(1, 50), [yes, no], BENCH_FILTERS.slice(0, 1), 1);
    expect(phase.rows[0].agree).toBe(false);
    expect(filterTable(phase)).toContain('!! 50 vs 0');
  });
});

describe('report', () => {
  const latency = (p50Ms: number, p99Ms: number) => ({ count: 100, meanMs: p50Ms, p50Ms, p90Ms: p99Ms, p99Ms, p999Ms: p99Ms, maxMs: p99Ms });
  const load = (docsPerSec: number) => ({ docs: 1_000_000, batches: 1000, elapsedS: 1_000_000 / docsPerSec, docsPerSec, batchLatency: latency(20, 40), generateS: 3 });
  const loop = (opsPerSec: number, p99Ms: number, errors = 0) => ({ workers: 64, durationS: 10, ops: opsPerSec * 10, opsPerSec, latency: latency(p99Ms / 3, p99Ms), errors, errorExamples: [] });
  const results = (over: Partial<DocsResults> = {}): DocsResults => ({
    docs: 1_000_000,
    insert: { mantis: load(40_000), pg: load(30_000) },
    indexBuildMs: { mantis: 4000, pg: 2000 },
    lookup: { mantis: loop(20_000, 4), pg: loop(25_000, 6) },
    group: { mantis: [900, 1000, 1100], pg: [800, 850, 900] },
    filter: { docs: 100, engines: ['compileFilter', 'mingo'], geomeanSpeedup: 4.2, rows: [{ name: 'f', filter: {}, matches: [1, 1], nsPerDoc: [50, 210], speedup: 4.2, agree: true }] },
    memory: { docs: 1_000_000, rssBeforeKiB: 100 * 1024, rssAfterKiB: 400 * 1024, mantisDiskBytes: 900 * 2 ** 20, pg: { tableBytes: 1300 * 2 ** 20, indexBytes: 60 * 2 ** 20, totalBytes: 1360 * 2 ** 20, rows: 1_000_000 } },
    ...over,
  });

  it('judges every target from the figures, met or not', () => {
    const byName = new Map(checkTargets(results()).map((c) => [c.name, c]));
    expect(byName.get('batched inserts vs PostgreSQL')).toMatchObject({ actual: '1.33×', met: true });
    expect(byName.get('batched inserts, absolute')).toMatchObject({ actual: '40.0k docs/s', met: false });
    expect(byName.get('indexed nested lookup vs PostgreSQL')).toMatchObject({ actual: '0.80×', met: false });
    expect(byName.get('indexed nested lookup p99')).toMatchObject({ met: true });
    expect(byName.get('$match + $group time vs PostgreSQL GROUP BY')).toMatchObject({ actual: '1.18×', met: false });
    expect(byName.get('filter evaluation vs mingo (geometric mean)')).toMatchObject({ actual: '4.20×', met: true });
  });

  it('leaves a target unjudged without its baseline, and invalid when requests failed', () => {
    const checks = checkTargets(results({ insert: { mantis: load(60_000), pg: null }, lookup: { mantis: loop(30_000, 3, 5), pg: loop(1, 1) }, docs: 20_000 }));
    const byName = new Map(checks.map((c) => [c.name, c]));
    expect(byName.get('batched inserts vs PostgreSQL')).toMatchObject({ met: null, note: 'no PostgreSQL figure' });
    expect(byName.get('batched inserts, absolute')?.met).toBe(true);
    expect(byName.get('indexed nested lookup vs PostgreSQL')).toMatchObject({ met: null, note: 'INVALID: 5 failed requests' });
    expect(byName.get('$match + $group time vs PostgreSQL GROUP BY')?.note).toMatch(/over 20\.0k documents \(the target is for 1M\)/);
    expect(checksTable(checks)).toContain('n/a');
  });

  it('prints each figure beside its baseline with the ratio and the target', () => {
    const r = results();
    const text = mainTable(r, checkTargets(r));
    const line = (start: string): string => text.split('\n').find((l) => l.startsWith(`| ${start}`)) ?? '';
    expect(line('batched inserts')).toMatch(/40\.0k \| +30\.0k \| +1\.33× \| ≥ 1\.0×: met; ≥ 50\.0k docs\/s: NOT MET/);
    expect(line('indexed nested lookup')).toMatch(/20\.0k \| +25\.0k \| +0\.80× \| ≥ 1\.0×: NOT MET/);
    expect(line('  lookup p99')).toMatch(/4\.00 ms \| +6\.00 ms/);
    expect(line('$match + $group')).toMatch(/1000 ms \| +850 ms \| +1\.18×/);
    expect(line('filter evaluation')).toMatch(/50 ns \| +210 ns \| 4\.20× faster/);
    expect(line('memory for 1.00M docs')).toMatch(/300 MiB \| +1\.33 GiB \| +0\.22×/);
    expect(line('  per 1M docs ')).toMatch(/300 MiB \| +1\.33 GiB/);
    const small = results({ memory: { ...r.memory, docs: 20_000 } });
    expect(mainTable(small, checkTargets(small))).toContain('per 1M docs (scaled from 20.0k)');
    expect(rssPerMillion(r.memory)).toBe(300 * 2 ** 20);
  });

  it("ties the lookup latency to the throughput at a fixed number of connections (Little's law)", () => {
    const line = littleLawLine(results(), 64);
    expect(line).toContain('MantisDB 3.20 ms, PostgreSQL 2.56 ms');
    expect(line).toContain('more than 12.8k lookups/s');
  });

  it('formats absent figures as dashes', () => {
    expect(fmtMs(null)).toBe('—');
    expect(fmtBytes(undefined)).toBe('—');
    const r = results({ insert: { mantis: null, pg: null }, lookup: { mantis: null, pg: null }, group: { mantis: null, pg: null }, filter: null });
    expect(mainTable(r, checkTargets(r))).toContain('| batched inserts (docs/s)');
  });
});

const pgInstalled = findPostgres() !== null;
const built = existsSync(join(ROOT, 'dist/bench/docs-bench.js')) && existsSync(join(ROOT, 'dist/src/main.js'));

describe('the whole benchmark (--quick)', () => {
  it.skipIf(!pgInstalled || !built)(`runs against a real server and PostgreSQL and writes its JSON${pgInstalled ? '' : ' (skipped: PostgreSQL not installed)'}${built ? '' : ' (skipped: dist/ not built)'}`, async () => {
    const child = spawn(process.execPath, [join(ROOT, 'dist/bench/docs-bench.js'), '--quick', '--docs', '5000', '--duration', '1', '--warmup', '0', '--connections', '16', '--filter-docs', '500', '--group-runs', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    const file = /Results written to (\S+)/.exec(out)?.[1];
    try {
      expect(code, `${out}\n${err}`).toBe(0);
      expect(out).toMatch(/\| batched inserts \(docs\/s\) +\| +[\d.]+k? \| +[\d.]+k? \|/);
      expect(file).toBeDefined();
      const json = JSON.parse(readFileSync(file as string, 'utf8')) as { results: DocsResults; problems: string[] };
      expect(json.problems).toEqual([]);
      expect(json.results.lookup.mantis?.errors).toBe(0);
      expect(json.results.group.pg).toHaveLength(1);
    } finally {
      if (file !== undefined) rmSync(file, { force: true });
    }
  }, 60_000);
});
