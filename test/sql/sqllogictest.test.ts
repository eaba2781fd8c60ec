// sqllogictest against MantisDB's SQL endpoint (POST /api/v1/sql): SQLite's
// select1.test, select2.test and select3.test (5,413 records; folder
// $SLT_DIR, default ../shared/sqllogictest next to the repo) and our own
// test/sql/slt/*.test (joins, subqueries, windows, CTEs, set operations,
// NULLs, aggregates, DML, types; expected results computed by PostgreSQL 15
// with test/sql/slt-expect.ts). Every file gets a fresh server (each wants an
// empty database) and must pass 100 %; a failure lists the first 20 failing
// records (line, SQL, expected vs got).
//
// SLT_REPORT_DIR=dir writes every failed record as JSON (dir/<engine>-<file>.json).
// SLT_PG=1 also runs every file against a throwaway PostgreSQL cluster
// (test/sql/sql-pg-engine.ts): the runner's self-check, PostgreSQL 15 must
// pass all of them unchanged.

import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPostgres, startTempPostgres, type TempPostgres } from '../../bench/lib/pgbench.js';
import { cleanup, startServer } from '../helpers/server-process.js';
import { formatFailures, parseSlt, runSlt, type RunSummary } from './slt.js';
import { createSqlHttpEngine } from './sql-http-engine.js';
import { connectPgEngine } from './sql-pg-engine.js';

afterAll(cleanup);

const repoRoot = path.resolve(fileURLToPath(new URL('../..', import.meta.url)));
const SLT_DIR = path.resolve(repoRoot, process.env.SLT_DIR ?? '../shared/sqllogictest');
const SELECT_FILES = ['select1.test', 'select2.test', 'select3.test'];
const missing = SELECT_FILES.filter((f) => !existsSync(path.join(SLT_DIR, f)));
const OWN_DIR = path.join(repoRoot, 'test', 'sql', 'slt');
const OWN_FILES = existsSync(OWN_DIR) ? readdirSync(OWN_DIR).filter((f) => f.endsWith('.test')).sort() : [];
const RUN_PG = process.env.SLT_PG === '1';

/** A whole file per test: select3 is 3,351 records over HTTP. */
const FILE_TIMEOUT_MS = 600_000;

function load(file: string): ReturnType<typeof parseSlt> {
  return parseSlt(readFileSync(file, 'utf8'), path.basename(file));
}

function tail(text: string, lines = 30): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** Runs one file on a fresh MantisDB server; the failure message carries the first failures (and the server's stderr if it died). */
async function runOnMantis(file: string): Promise<{ summary: RunSummary; report: string }> {
  const server = await startServer({ shards: 2, fsync: 'none' });
  const engine = createSqlHttpEngine(server.url);
  try {
    const summary = await runSlt(load(file), { exec: engine.exec });
    saveFailures(summary, 'mantis');
    let report = formatFailures(summary, 20);
    if (server.proc.exitCode !== null || server.proc.signalCode !== null) {
      report += `\nthe server exited during the run (code ${server.proc.exitCode}, signal ${server.proc.signalCode}); stderr:\n${tail(server.output().stderr)}`;
    }
    return { summary, report };
  } finally {
    await engine.close();
    await server.kill9();
  }
}

/** SLT_REPORT_DIR=dir: every failed record of every file as JSON (dir/<engine>-<file>.json), for triage. */
function saveFailures(summary: RunSummary, engine: string): void {
  const dir = process.env.SLT_REPORT_DIR;
  if (dir === undefined || dir === '') return;
  mkdirSync(dir, { recursive: true });
  const failed = summary.results.filter((r) => r.status === 'fail');
  writeFileSync(path.join(dir, `${engine}-${summary.file}.json`), JSON.stringify({ file: summary.file, total: summary.total, passed: summary.passed, failed }, null, 1));
}

function assertAllPass(summary: RunSummary, report: string): void {
  console.log(report.split('\n')[0]);
  expect(summary.total, `${summary.file}: no records ran`).toBeGreaterThan(0);
  expect(summary.failed, report).toBe(0);
}

if (missing.length === 0) {
  describe('sqllogictest select1–3 on MantisDB (POST /api/v1/sql)', () => {
    for (const name of SELECT_FILES) {
      it(`${name}: every record passes`, { timeout: FILE_TIMEOUT_MS }, async () => {
        const { summary, report } = await runOnMantis(path.join(SLT_DIR, name));
        assertAllPass(summary, report);
      });
    }
  });
} else {
  it.skip(`sqllogictest select1–3 skipped: ${missing.join(', ')} not found in ${SLT_DIR} (set SLT_DIR to the folder holding them)`, () => undefined);
}

describe('sqllogictest test/sql/slt/*.test on MantisDB (POST /api/v1/sql)', () => {
  it('the folder holds our files', () => {
    expect(OWN_FILES.length).toBeGreaterThan(0);
  });
  for (const name of OWN_FILES) {
    it(`${name}: every record passes`, { timeout: FILE_TIMEOUT_MS }, async () => {
      const { summary, report } = await runOnMantis(path.join(OWN_DIR, name));
      assertAllPass(summary, report);
    });
  }
});

const pgTitle = RUN_PG
  ? 'sqllogictest on PostgreSQL (runner self-check, SLT_PG=1)'
  : 'sqllogictest on PostgreSQL (runner self-check): skipped, set SLT_PG=1 to run it against a throwaway PostgreSQL cluster';

describe.skipIf(!RUN_PG)(pgTitle, () => {
  let cluster: TempPostgres | null = null;
  let admin: pg.Client | null = null;
  let databases = 0;

  beforeAll(async () => {
    if (findPostgres() === null) throw new Error('SLT_PG=1 but PostgreSQL is not installed (apt-get install postgresql)');
    cluster = await startTempPostgres();
    admin = new pg.Client({ host: cluster.host, port: cluster.port, user: cluster.user, database: cluster.database });
    await admin.connect();
  });

  afterAll(async () => {
    await admin?.end();
    await cluster?.stop();
  });

  async function runOnPostgres(file: string): Promise<{ summary: RunSummary; report: string }> {
    if (cluster === null || admin === null) throw new Error('no PostgreSQL cluster');
    const database = `slt_${databases++}`;
    await admin.query(`CREATE DATABASE ${database} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'`);
    const engine = await connectPgEngine({ host: cluster.host, port: cluster.port, user: cluster.user, database });
    try {
      const summary = await runSlt(load(file), { exec: engine.exec });
      saveFailures(summary, 'postgresql');
      return { summary, report: formatFailures(summary, 20) };
    } finally {
      await engine.close();
      await admin.query(`DROP DATABASE ${database}`);
    }
  }

  const files = [...(missing.length === 0 ? SELECT_FILES.map((f) => path.join(SLT_DIR, f)) : []), ...OWN_FILES.map((f) => path.join(OWN_DIR, f))];
  for (const file of files) {
    it(`${path.basename(file)}: every record passes on PostgreSQL`, { timeout: FILE_TIMEOUT_MS }, async () => {
      const { summary, report } = await runOnPostgres(file);
      assertAllPass(summary, report);
    });
  }
});
