// The table benchmark (bench/tables-bench.ts): its generator and expected
// answers, its loaders and query runner, DuckDB and SQLite on a small data
// set, the report's judging and printing, and a whole --quick run against a
// real server that must print every figure with a number.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  compareFilter, compareGroups, compareScan, expectedAnswers, scanOf, keyStream, rowJson, rowsJson, STATUSES, TABLE_COLUMNS, tsMicrosOf, X_THRESHOLD, type GroupRow,
} from '../../bench/lib/tables-data.js';
import { openDuckDB, openSQLite } from '../../bench/lib/tables-embedded.js';
import { rowsBody } from '../../bench/lib/tables-http.js';
import { loadRanges, mergeLoads, queryRuns, scalesFor } from '../../bench/lib/tables-phases.js';
import { checksTable, checkTargets, compressionTable, mainTable, runsLines, type TablesResults } from '../../bench/lib/tables-report.js';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

type Parsed = { k: number; g: number; x: number; amount: number; price: number; status: string; city: string; ts: string; flag: boolean };

describe('row generator', () => {
  it('makes every column of the schema, the same for the same k, as valid JSON', () => {
    for (const k of [0, 1, 99, 100, 123_456, 9_999_999]) {
      const row = JSON.parse(rowJson(k)) as Parsed;
      expect(Object.keys(row)).toEqual(TABLE_COLUMNS.map((c) => c.name));
      expect(row.k).toBe(k);
      expect(row.g).toBe(k % 100);
      expect(row.x >= 0 && row.x < 1_000_000 && Number.isInteger(row.x)).toBe(true);
      expect(row.amount >= 0 && row.amount < 10_000).toBe(true);
      expect(STATUSES).toContain(row.status);
      expect(row.city).toMatch(/^city-\d{4}$/);
      expect(Date.parse(row.ts) * 1000).toBe(tsMicrosOf(k));
      expect(rowJson(k)).toBe(rowJson(k));
    }
    const body = JSON.parse(rowsBody(10, 13)) as { rows: Parsed[]; on_conflict: string };
    expect(body.rows.map((r) => r.k)).toEqual([10, 11, 12]);
    expect(body.on_conflict).toBe('error');
    expect(rowsJson(5, 5)).toBe('');
  });

  it('knows the answers of the queries, as computed from the rows themselves', () => {
    const n = 20_000;
    const rows = JSON.parse(`[${rowsJson(0, n)}]`) as Parsed[];
    const groups = new Map<number, { sum: number; count: number }>();
    let count = 0;
    let sum = 0;
    const matching: number[][] = [];
    for (const r of rows) {
      const g = groups.get(r.g) ?? { sum: 0, count: 0 };
      groups.set(r.g, { sum: g.sum + r.amount, count: g.count + 1 });
      if (r.x > X_THRESHOLD) {
        count++;
        sum += r.amount;
        matching.push([r.x, r.k]);
      }
    }
    const expected = expectedAnswers(n);
    expect(compareGroups(expected.groups, [...groups].map(([g, v]) => ({ g, ...v })))).toEqual([]);
    expect(compareFilter(expected.filter, { count, sum })).toEqual([]);
    expect(compareScan(expected.scan, scanOf(matching, 1, 0))).toEqual([]);
    expect(compareScan(expected.scan, scanOf(matching.slice(1), 1, 0))[0]).toMatch(/rows .* expected/);
    expect(count / n).toBeGreaterThan(0.008); // about 1 % selective
    expect(count / n).toBeLessThan(0.012);
    const active = rows.filter((r) => r.status === 'active').length / n;
    expect(active).toBeGreaterThan(0.45);
    expect(active).toBeLessThan(0.55);
  });

  it('reports groups and filter answers that differ', () => {
    const expected = expectedAnswers(1000).groups;
    const wrong: GroupRow[] = expected.slice(1).map((g, i) => (i === 0 ? { ...g, sum: g.sum + 1 } : g));
    const problems = compareGroups(expected, wrong);
    expect(problems[0]).toMatch(/99 groups, expected 100/);
    expect(problems.join(' ')).toContain('g=0 missing');
    expect(problems.join(' ')).toContain('g=1: sum');
    expect(compareFilter({ count: 1, sum: 2 }, { count: 1, sum: 3 })).toHaveLength(1);
  });

  it('draws lookup keys in range, deterministically per seed', () => {
    const a = keyStream(3, 500);
    const b = keyStream(3, 500);
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const k = a();
      expect(k).toBe(b());
      expect(k >= 0 && k < 500 && Number.isInteger(k)).toBe(true);
      seen.add(k);
    }
    expect(seen.size).toBeGreaterThan(400);
  });

  it('measures the queries at 1M and at the full count when it is larger', () => {
    expect(scalesFor(10_000_000)).toEqual([1_000_000, 10_000_000]);
    expect(scalesFor(1_000_000)).toEqual([1_000_000]);
    expect(scalesFor(5000)).toEqual([5000]);
  });
});

describe('drivers', () => {
  it('loads every key range exactly once across workers, and stops at the first failure', async () => {
    const seen: number[] = [];
    const run = await loadRanges({ from: 100, to: 2600, batch: 1000, workers: 3, send: async (a, b) => {
      await new Promise((r) => setTimeout(r, 1));
      for (let k = a; k < b; k++) seen.push(k);
    } });
    expect(run.rows).toBe(2500);
    expect(run.batches).toBe(3);
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 2500 }, (_, i) => 100 + i));
    const merged = mergeLoads([run, { ...run, rows: 500, elapsedS: run.elapsedS }]);
    expect(merged?.rows).toBe(3000);
    expect(merged?.rowsPerSec).toBeCloseTo(3000 / (2 * run.elapsedS), 6);
    await expect(loadRanges({ from: 0, to: 3000, batch: 1000, workers: 2, send: async (a) => {
      if (a === 1000) throw new Error('HTTP 500');
    } })).rejects.toThrow(/rows 1000\.\.1999: HTTP 500/);
  });

  it('times runs after the warm-ups, keeps both clocks and the first wrong answer', async () => {
    let n = 0;
    const r = await queryRuns(2, 3, async () => ({ answer: ++n, engineMs: n * 10, e2eMs: n * 11 }), (a) => (a === 4 ? ['four'] : []));
    expect(r.e2eMs).toEqual([33, 44, 55]);
    expect(r.engineMs).toEqual([30, 40, 50]);
    expect(r.problems).toEqual(['four']);
    const plain = await queryRuns(0, 2, async () => ({ answer: 0 }), () => []);
    expect(plain.engineMs).toBeNull();
    expect(plain.e2eMs).toHaveLength(2);
  });
});

describe('embedded baselines', () => {
  it('DuckDB and SQLite load the rows and give the expected answers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tables-bench-test-'));
    try {
      const expected = expectedAnswers(12_000);
      for (const engine of [await openDuckDB(join(dir, 'd.duckdb'), 2), await openSQLite(join(dir, 's.sqlite'))]) {
        try {
          await engine.load(0, 5000, 1000);
          await engine.load(5000, 12_000, 1000);
          expect(compareGroups(expected.groups, await engine.group()), engine.name).toEqual([]);
          expect(compareFilter(expected.filter, await engine.filter()), engine.name).toEqual([]);
          expect(compareScan(expected.scan, await engine.scan()), engine.name).toEqual([]);
          expect(await engine.diskBytes()).toBeGreaterThan(100_000);
          expect(engine.version).toMatch(/\d+\.\d+/);
        } finally {
          await engine.close();
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('report', () => {
  const latency = (p50Ms: number, p99Ms: number) => ({ count: 100, meanMs: p50Ms, p50Ms, p90Ms: p99Ms, p99Ms, p999Ms: p99Ms, maxMs: p99Ms });
  const runs = (ms: number, engine: number | null = null) => ({ e2eMs: [ms, ms, ms], engineMs: engine === null ? null : [engine, engine, engine], problems: [] });
  const load = (rowsPerSec: number) => ({ rows: 1_000_000, batches: 100, elapsedS: 1_000_000 / rowsPerSec, rowsPerSec, batchLatency: latency(40, 90) });
  const loop = (opsPerSec: number, errors = 0) => ({ workers: 32, durationS: 10, ops: opsPerSec * 10, opsPerSec, latency: latency(1, 4), errors, errorExamples: [] });
  const results = (over: Partial<TablesResults> = {}): TablesResults => ({
    rows: 10_000_000,
    scales: [
      { rows: 1_000_000, moveMs: 900, group: { mantis: runs(15, 10), duckdb: runs(6), sqlite: runs(270), rowForm: runs(900) }, filter: { mantis: runs(8, 5), duckdb: runs(4), sqlite: runs(50), rowForm: runs(500) },
        scan: { mantis: runs(20, 12), duckdb: runs(9), sqlite: runs(60), rowForm: runs(700) } },
      { rows: 10_000_000, moveMs: 9000, group: { mantis: runs(150, 140), duckdb: runs(50), sqlite: runs(2800), rowForm: runs(9000) }, filter: { mantis: runs(60, 50), duckdb: runs(30), sqlite: runs(500), rowForm: runs(5000) },
        scan: { mantis: runs(900, 100), duckdb: runs(80), sqlite: runs(700), rowForm: runs(7000) } },
    ],
    insert: { batch: 10_000, workers: 4, mantis: load(250_000), duckdb: load(350_000), sqlite: load(650_000), rowForm: load(40_000) },
    disk: {
      rows: 10_000_000,
      columns: [
        { name: 'g', type: 'int64', plainBytes: 80_000_000, storedBytes: 1_000_000, encodings: { rle: 1_000_000 } },
        { name: 'status', type: 'string', plainBytes: 100_000_000, storedBytes: 20_000_000, encodings: { dictionary: 20_000_000 } },
        { name: 'x', type: 'int64', plainBytes: 80_000_000, storedBytes: 25_000_000, encodings: { bitpack: 25_000_000 } },
      ],
      statsBytesOnDisk: 200 * 2 ** 20, tableFilesBytes: 210 * 2 ** 20, deltaRows: 0, segments: 160, duckdbBytes: 150 * 2 ** 20, sqliteBytes: 500 * 2 ** 20,
    },
    lookup: { connections: 32, keys: 1_000_000, table: loop(20_000), kv: loop(30_000) },
    memory: { rssEmptyKiB: 150 * 1024, rssLoadedKiB: 900 * 1024, rssPeakKiB: 1200 * 1024, benchRssKiB: 700 * 1024, dataDirBytes: 3 * 2 ** 30 },
    ...over,
  });

  it('judges every target from the figures', () => {
    const byName = new Map(checkTargets(results()).map((c) => [c.name, c]));
    expect(byName.get('GROUP BY g sum/count, 1M rows, vs DuckDB')).toMatchObject({ met: true, actual: '1.67× (10.00 ms vs 6.00 ms)' });
    expect(byName.get('GROUP BY g sum/count, 1M rows, vs SQLite')).toMatchObject({ met: true, actual: '27.0× faster (10.00 ms vs 270 ms)' });
    expect(byName.get('GROUP BY g sum/count, 10M rows, vs DuckDB')).toMatchObject({ met: false });
    expect(byName.get('GROUP BY g sum/count, 10M rows, vs SQLite')).toMatchObject({ met: true });
    expect(byName.get('filtered count/sum x > k (1 %), 10M rows, vs row form')).toMatchObject({ met: true, actual: '83.3× faster (60.00 ms vs 5000 ms)' });
    expect(byName.get('filtered scan x > k (1 %) returning rows k, x, 10M rows, vs row form')).toMatchObject({ met: false, actual: '7.78× faster (900 ms vs 7000 ms)' });
    expect(byName.get('compression of g vs plain')).toMatchObject({ met: true });
    expect(byName.get('compression of status vs plain')).toMatchObject({ met: false, actual: '80.0 % smaller (19 MiB vs 95 MiB)' });
    expect(byName.get('table on disk vs DuckDB file')).toMatchObject({ met: true, actual: '1.40× (210 MiB vs 150 MiB)' });
    expect(byName.get('batched inserts')).toMatchObject({ met: true, actual: '250.0k rows/s' });
    expect(byName.get('point lookup by pk over HTTP vs KV GET')).toMatchObject({ met: true, actual: '0.67× (20.0k vs 30.0k ops/s)' });
  });

  it('leaves a target unjudged without a figure, invalid on wrong answers or failed requests, and notes a smaller scale', () => {
    const r = results();
    const small = results({
      scales: [{ ...r.scales[0], rows: 20_000, group: { ...r.scales[0].group, mantis: { ...runs(1, 1), problems: ['MantisDB GROUP BY: g=3 missing'] } } }],
      lookup: { ...r.lookup, kv: loop(30_000, 5) },
      insert: { ...r.insert, mantis: null },
      disk: null,
    });
    const byName = new Map(checkTargets(small).map((c) => [c.name, c]));
    expect(byName.get('GROUP BY g sum/count, 20k rows, vs DuckDB')).toMatchObject({ met: null, note: 'INVALID: wrong answer (MantisDB GROUP BY: g=3 missing)' });
    expect(byName.get('filtered scan x > k (1 %) returning rows k, x, 20k rows, vs row form')?.note).toBe('over 20k rows (the target is for 10M)');
    expect(byName.get('batched inserts')).toMatchObject({ met: null, note: 'not measured' });
    expect(byName.get('point lookup by pk over HTTP vs KV GET')).toMatchObject({ met: null, note: 'INVALID: 5 failed requests' });
    expect(byName.get('compression of g vs plain')?.met).toBeNull();
    expect(checksTable(checkTargets(small))).toContain('n/a');
  });

  it('prints each figure beside its baselines with the target', () => {
    const r = results();
    const text = mainTable(r, checkTargets(r));
    const line = (start: string, nth = 0): string => text.split('\n').filter((l) => l.startsWith(`| ${start}`))[nth] ?? '';
    expect(line('GROUP BY g sum/count, 1M rows: engine')).toMatch(/10\.00 ms \| +6\.00 ms \| +270 ms \| +— \| ≤ 2× DuckDB's time: met; ≥ 20× faster: met/);
    expect(line('  end to end over HTTP', 0)).toMatch(/15\.00 ms \| +6\.00 ms \| +270 ms \| +900 ms \| 60\.0× faster than row form/);
    expect(line('GROUP BY g sum/count, 10M rows: engine')).toMatch(/140 ms \| +50\.00 ms \| +2800 ms .*≤ 2× DuckDB's time: NOT MET; ≥ 20× faster: met/);
    expect(line('WHERE x > k (1 %) rows k, x, 10M rows: engine')).toMatch(/100 ms \| +80\.00 ms \| +700 ms \| +— \| 1\.25× DuckDB's time/);
    expect(line('  end to end over HTTP', 3)).toMatch(/900 ms \| +80\.00 ms \| +700 ms \| +7000 ms \| ≥ 10× faster \(both over HTTP\): NOT MET/);
    expect(line('WHERE x > k (1 %) count/sum, 10M rows: engine')).toMatch(/50\.00 ms \| +30\.00 ms \| +500 ms/);
    expect(line('  end to end over HTTP', 5)).toMatch(/60\.00 ms \| +30\.00 ms \| +500 ms \| +5000 ms \| ≥ 10× faster \(both over HTTP\): met/);
    expect(line('batched inserts')).toMatch(/250\.0k \| +350\.0k \| +650\.0k \| +40\.0k \| ≥ 200\.0k rows\/s: met/);
    expect(line('point lookup by pk')).toMatch(/20\.0k \| .* KV GET 30\.0k \| ≥ 0\.6× KV GET: met/);
    expect(line('  lookup p50 / p99')).toMatch(/1\.00 ms \/ 4\.00 ms/);
    expect(line('table on disk')).toMatch(/210 MiB \| +150 MiB \| +500 MiB/);
    expect(line('server RSS')).toMatch(/150 MiB \/ 900 MiB \/ 1\.17 GiB/);
    const comp = compressionTable(r.disk!);
    expect(comp).toMatch(/\| g +\| int64 +\| +76 MiB \| +977 KiB \| +98\.8 % \| rle 977 KiB +\| met/);
    expect(comp).toMatch(/\| status .*NOT MET/);
    expect(comp).toMatch(/\| all columns/);
    expect(runsLines(r).join('\n')).toContain('MantisDB engine 10.00 ms 10.00 ms 10.00 ms');
    expect(runsLines(r).join('\n')).toMatch(/scan +10M: MantisDB engine 100 ms/);
  });
});

const built = existsSync(join(ROOT, 'dist/bench/tables-bench.js')) && existsSync(join(ROOT, 'dist/src/main.js'));

describe('the whole benchmark (--quick)', () => {
  it.skipIf(!built)(`runs against a real server, DuckDB and SQLite, prints every figure and writes its JSON${built ? '' : ' (skipped: dist/ not built)'}`, async () => {
    const child = spawn(process.execPath, [join(ROOT, 'dist/bench/tables-bench.js'), '--quick', '--rows', '5000', '--kv-keys', '2000', '--runs', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    const file = /Results written to (\S+)/.exec(out)?.[1];
    try {
      expect(code, `${out}\n${err}`).toBe(0);
      const num = String.raw`[\d.]+ ?(?:µs|ms|s|k|M|KiB|MiB|GiB)?`;
      const figure = (label: string, columns: number) => new RegExp(String.raw`\| ${label}[^|]*` + String.raw`\| +${num} `.repeat(columns));
      expect(out).toMatch(figure('GROUP BY g sum/count, 5k rows: engine', 3));
      expect(out).toMatch(figure('WHERE x > k \\(1 %\\) count/sum, 5k rows: engine', 3));
      expect(out).toMatch(figure('WHERE x > k \\(1 %\\) rows k, x, 5k rows: engine', 3));
      expect(out).toMatch(new RegExp(String.raw`\|   end to end over HTTP +` + String.raw`\| +${num} `.repeat(4)));
      expect(out).toMatch(figure('batched inserts, rows/s', 4));
      expect(out).toMatch(new RegExp(String.raw`\| point lookup by pk over HTTP, ops/s \(32 connections\) +\| +${num} \|.*KV GET ${num} \|`));
      expect(out).toMatch(new RegExp(String.raw`\|   lookup p50 / p99 +\| +${num} / ${num} \|`));
      expect(out).toMatch(figure('table on disk, 5k rows', 3));
      expect(out).toMatch(/\| server RSS empty \/ loaded \/ peak +\| +[\d.]+ MiB \/ [\d.]+ MiB \/ [\d.]+ [MG]iB/);
      expect(out).toMatch(/\| g +\| int64 +\| +[\d.]+ KiB \|/);
      expect(out).toMatch(/\| status +\| string +\|/);
      expect(file).toBeDefined();
      const json = JSON.parse(readFileSync(file as string, 'utf8')) as { results: TablesResults; problems: string[] };
      expect(json.problems).toEqual([]);
      expect(json.results.lookup.table?.errors).toBe(0);
    } finally {
      if (file !== undefined) rmSync(file, { force: true });
    }
  }, 180_000);
});
