// The PostgreSQL baseline runner (bench/lib/pgbench.ts) for the transaction
// benchmark: its parsers on real pgbench 15 output and per-transaction logs
// saved under fixtures/ (*.txnlog: --log files; *.log is gitignored), and, when PostgreSQL is installed, a real 3-second
// TPC-B run against a throwaway cluster that must be gone afterwards, even
// when the process that started it is killed with SIGKILL.
// Behaviour only: no figure here is a speed.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  findPostgres,
  formatPgbenchResult,
  latencyStats,
  parsePgbenchLog,
  parsePgbenchOutput,
  parsePgVersion,
  pidAlive,
  reapOrphanClusters,
  runPgbench,
  shQuote,
  startTempPostgres,
  type TempPostgres,
} from '../../bench/lib/pgbench.js';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const fixture = (name: string): string => readFileSync(join(ROOT, 'test/bench/fixtures', name), 'utf8');

describe('pgbench summary parser', () => {
  it('reads a PostgreSQL 15 TPC-B run with per-statement latencies (-r)', () => {
    const s = parsePgbenchOutput(fixture('pgbench-15-tpcb-r.out'));
    expect(s).toMatchObject({
      pgbenchVersion: '15.18',
      transactionType: '<builtin: TPC-B (sort of)>',
      scale: 1,
      queryMode: 'prepared',
      clients: 2,
      threads: 2,
      maxTries: 1,
      durationS: 3,
      transactions: 10588,
      failedTransactions: 0,
      retriedTransactions: null,
      latencyAvgMs: 0.566,
      latencyStddevMs: null,
      initialConnectionMs: 5.326,
      tps: 3531.577062,
      tpsIncludingConnections: null,
    });
    expect(s.statements).toHaveLength(11);
    expect(s.statements[4]).toEqual({ latencyMs: 0.048, failures: 0, retries: null, command: 'BEGIN;' });
    expect(s.statements[10]).toEqual({ latencyMs: 0.171, failures: 0, retries: null, command: 'END;' });
    expect(s.statements[5].command).toBe('UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;');
  });

  it('reads failed and retried transactions (serializable isolation, PGOPTIONS)', () => {
    const failed = parsePgbenchOutput(fixture('pgbench-15-serializable-failed.out'));
    expect(failed).toMatchObject({ clients: 4, transactions: 4001, failedTransactions: 10833, latencyAvgMs: 0.541, tps: 1995.666496, statements: [] });
    const retried = parsePgbenchOutput(fixture('pgbench-15-serializable-retries.out'));
    expect(retried).toMatchObject({ maxTries: 3, transactions: 3969, failedTransactions: 3283, retriedTransactions: 4126, totalRetries: 7800, latencyAvgMs: 1.102, tps: 1986.639611 });
  });

  it('reads the wording of PostgreSQL 13 and older (tps with and without connection time)', () => {
    // Written after the sample in the pgbench documentation of those versions (not captured here).
    const old = [
      'transaction type: <builtin: TPC-B (sort of)>',
      'scaling factor: 10',
      'query mode: simple',
      'number of clients: 10',
      'number of threads: 1',
      'number of transactions per client: 1000',
      'number of transactions actually processed: 10000/10000',
      'latency average = 11.013 ms',
      'latency stddev = 7.351 ms',
      'tps = 896.967014 (including connections establishing)',
      'tps = 897.116255 (excluding connections establishing)',
      'statement latencies in milliseconds:',
      '         0.002  \\set aid random(1, 100000 * :scale)',
      '         0.831  BEGIN;',
    ].join('\n');
    const s = parsePgbenchOutput(old);
    expect(s).toMatchObject({ pgbenchVersion: null, scale: 10, transactions: 10000, failedTransactions: 0, maxTries: null, durationS: null, latencyStddevMs: 7.351, tps: 897.116255, tpsIncludingConnections: 896.967014 });
    expect(s.statements).toEqual([
      { latencyMs: 0.002, failures: null, retries: null, command: '\\set aid random(1, 100000 * :scale)' },
      { latencyMs: 0.831, failures: null, retries: null, command: 'BEGIN;' },
    ]);
  });

  it('refuses output without a tps line, quoting it', () => {
    expect(() => parsePgbenchOutput(fixture('pgbench-15-init.out'))).toThrow(/no scaling factor[\s\S]*done in/);
    const cut = fixture('pgbench-15-tpcb-r.out').replace(/^tps = .*$/m, '');
    expect(() => parsePgbenchOutput(cut)).toThrow(/pgbench output has no tps/);
  });
});

describe('pgbench per-transaction log parser', () => {
  it('reads latencies in µs and matches an independent computation of the percentiles', () => {
    const text = fixture('pgbench-15-tpcb.txnlog');
    const log = parsePgbenchLog(text);
    expect(log).toMatchObject({ ok: 120, failed: 0, skipped: 0, unparsed: 0 });
    expect(Array.from(log.latenciesUs.slice(0, 3))).toEqual([3470, 991, 759]);
    const us = text.trim().split('\n').map((l) => Number(l.split(' ')[2])).sort((a, b) => a - b);
    const stats = latencyStats(log.latenciesUs);
    expect(stats.count).toBe(120);
    expect(stats.p50Ms).toBe(us[59] / 1000); // nearest rank: ceil(0.5 × 120) = 60th
    expect(stats.p99Ms).toBe(us[118] / 1000); // ceil(0.99 × 120) = 119th
    expect(stats.maxMs).toBe(us[119] / 1000);
    expect(stats.meanMs).toBeCloseTo(us.reduce((a, b) => a + b, 0) / 120 / 1000, 9);
  });

  it('counts failed transactions, with and without --failures-detailed and retries', () => {
    expect(parsePgbenchLog(fixture('pgbench-15-failed.txnlog'))).toMatchObject({ ok: 15, failed: 66, skipped: 0, unparsed: 0 });
    const retries = parsePgbenchLog(fixture('pgbench-15-retries.txnlog'));
    expect(retries).toMatchObject({ ok: 49, failed: 11, unparsed: 0 });
    expect(retries.latenciesUs.length).toBe(49);
  });

  it('merges several thread files, counts skipped and junk lines', () => {
    const log = parsePgbenchLog(['0 1 100 0 1795701349 1\n0 2 skipped 0 1795701349 2\n', '1 1 300 0 1795701349 3\nnot a line\n1 2 what 0 1 1\n']);
    expect(log).toMatchObject({ ok: 2, failed: 0, skipped: 1, unparsed: 2 });
    expect(Array.from(log.latenciesUs)).toEqual([100, 300]);
  });

  it('takes nearest-rank percentiles', () => {
    const us = Float64Array.from({ length: 1000 }, (_, i) => (1000 - i) * 1000); // 1..1000 ms, unsorted
    expect(latencyStats(us)).toEqual({ count: 1000, meanMs: 500.5, p50Ms: 500, p90Ms: 900, p99Ms: 990, p999Ms: 999, maxMs: 1000 });
    expect(latencyStats(new Float64Array(0)).count).toBe(0);
  });
});

describe('helpers', () => {
  it('parses PostgreSQL version strings', () => {
    expect(parsePgVersion('postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n')).toBe('15.18');
    expect(parsePgVersion('pg_ctl (PostgreSQL) 12.4\n')).toBe('12.4');
    expect(parsePgVersion('pgbench (PostgreSQL) 17devel\n')).toBe('17devel');
    expect(parsePgVersion('nonsense')).toBeNull();
  });

  it('quotes words for /bin/sh', () => {
    expect(shQuote('/tmp/mantis-pg-x/sock')).toBe('/tmp/mantis-pg-x/sock');
    const tricky = "it's a $dir `x` \\ y";
    expect(spawnSync('/bin/sh', ['-c', `printf %s ${shQuote(tricky)}`], { encoding: 'utf8' }).stdout).toBe(tricky);
  });

  it('reaps temp cluster dirs whose owner process is gone, and only those', () => {
    const parent = mkdtempSync(join(tmpdir(), 'mantis-pg-reap-test-'));
    try {
      const deadPid = 2 ** 22 + 1; // above the largest pid_max Linux allows: never a live process
      const mk = (name: string, owner: object | null): string => {
        const dir = join(parent, name);
        mkdirSync(join(dir, 'data'), { recursive: true });
        if (owner !== null) writeFileSync(join(dir, 'owner.json'), JSON.stringify(owner));
        return dir;
      };
      const orphan = mk('mantis-pg-orphan', { pid: deadPid, bin: '/nonexistent/bin', osUser: null });
      const mine = mk('mantis-pg-mine', { pid: process.pid, bin: '/nonexistent/bin', osUser: null });
      const unowned = mk('mantis-pg-starting', null);
      const other = mk('something-else', { pid: deadPid });
      expect(reapOrphanClusters(parent)).toEqual([orphan]);
      expect([existsSync(orphan), existsSync(mine), existsSync(unowned), existsSync(other)]).toEqual([false, true, true, true]);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });
});

const install = findPostgres();
const SKIP = install === null ? ' — skipped: PostgreSQL not installed (apt-get install postgresql)' : '';

describe('against a real PostgreSQL', () => {
  const clusters: TempPostgres[] = [];
  afterAll(async () => {
    for (const pg of clusters) await pg.stop();
  });

  it.skipIf(install === null)(`runs pgbench TPC-B with 2 clients for 3 s on a default-config temp cluster, then removes it${SKIP}`, async () => {
    const pg = await startTempPostgres({ install });
    clusters.push(pg);
    expect(pg.settings).toMatchObject({ fsync: 'on', synchronous_commit: 'on' });
    expect(pg.nonDefaultSettings).toEqual({});
    expect(pg.port).toBeGreaterThan(0);
    expect(await pg.psql('SELECT 40 + 2')).toBe('42');
    const postmaster = Number(readFileSync(join(pg.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    expect(pidAlive(postmaster)).toBe(true);

    const r = await runPgbench(pg, { clients: 2, durationS: 3 });
    expect(r).toMatchObject({ clients: 2, threads: 2, scale: 1, durationS: 3, queryMode: 'prepared', failedTransactions: 0, connection: 'tcp' });
    expect(r.transactionType).toContain('TPC-B');
    expect(r.tps).toBeGreaterThan(0);
    expect(r.transactions).toBeGreaterThan(0);
    // The per-transaction logs hold exactly the transactions the summary counts.
    expect(r.logged).toEqual({ ok: r.transactions, failed: 0, skipped: 0, unparsed: 0 });
    expect(r.latency.count).toBe(r.transactions);
    expect(r.latency.p50Ms).toBeGreaterThan(0);
    expect(r.latency.p50Ms).toBeLessThanOrEqual(r.latency.p99Ms);
    expect(r.latency.p99Ms).toBeLessThanOrEqual(r.latency.maxMs);
    expect(formatPgbenchResult(r)).toMatch(/tps [\d.]+ .*\n.*p99 [\d.]+/);

    await pg.stop();
    expect(pg.stopped).toBe(true);
    expect(existsSync(pg.dir)).toBe(false);
    expect(pidAlive(postmaster)).toBe(false);
    await expect(runPgbench(pg, { clients: 1, durationS: 1 })).rejects.toThrow(/stopped/);
  });

  const distLib = join(ROOT, 'dist/bench/lib/pgbench.js');
  it.skipIf(install === null)(`stops and removes the cluster when the process that started it is killed with SIGKILL (uses dist/, built by npm test)${SKIP}`, async () => {
    expect(existsSync(distLib), `${distLib} is missing: run npm run build`).toBe(true);
    const script = `import(${JSON.stringify(distLib)}).then(async (m) => { const pg = await m.startTempPostgres(); console.log(JSON.stringify({ dir: pg.dir, dataDir: pg.dataDir })); setInterval(() => {}, 1000); });`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const started = await new Promise<{ dir: string; dataDir: string }>((done, fail) => {
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (s: string) => {
        out += s;
        if (out.includes('\n')) done(JSON.parse(out.split('\n')[0]) as { dir: string; dataDir: string });
      });
      child.on('exit', (code) => fail(new Error(`the child exited (${code}) before starting a cluster: ${out}`)));
    });
    const postmaster = Number(readFileSync(join(started.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    expect(pidAlive(postmaster)).toBe(true);
    child.kill('SIGKILL');
    const deadline = Date.now() + 20_000;
    while ((existsSync(started.dir) || pidAlive(postmaster)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(pidAlive(postmaster), `postmaster ${postmaster} still running`).toBe(false);
    expect(existsSync(started.dir), `${started.dir} still there`).toBe(false);
  });
});
