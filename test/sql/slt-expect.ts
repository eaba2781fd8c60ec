// Fills in (or refreshes) the expected results of sqllogictest files from a
// real PostgreSQL: each file runs in a fresh database of a throwaway cluster
// (bench/lib/pgbench.ts startTempPostgres: initdb --no-locale, so text
// compares and sorts by code point, as MantisDB's does), and every `query`
// record's result lines are rewritten with what PostgreSQL answered, rendered
// by the record's types, ordered by its sort mode, hashed past the file's
// hash-threshold. Everything else in the file is kept as written.
//
// It refuses to write a file (and exits 1) when PostgreSQL disagrees with a
// `statement ok|error`, a query fails, a column count differs from the type
// letters, a query record has no explicit sort mode, a `nosort` query has no
// ORDER BY, or two queries with the same label give different values: the
// file is then wrong, not the expectation.
//
// Run (no extra dependencies: compile with the repo's tsc, then node):
//
//   npx tsc --outDir dist/slt-tools --rootDir . --module NodeNext --moduleResolution NodeNext \
//     --target ES2023 --lib ES2024 --types node --skipLibCheck --strict test/sql/slt-expect.ts
//   node dist/slt-tools/test/sql/slt-expect.js test/sql/slt/*.test        # rewrite in place
//   node dist/slt-tools/test/sql/slt-expect.js --check test/sql/slt/*.test # only report what would change

import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import pg from 'pg';
import { startTempPostgres, type TempPostgres } from '../../bench/lib/pgbench.js';
import { appliesTo, hashValues, parseSlt, renderValues, resultLines } from './slt.js';
import { connectPgEngine } from './sql-pg-engine.js';

const ENGINE = 'postgresql';

type FileOutcome = { readonly file: string; readonly text: string; readonly changed: number; readonly queries: number; readonly problems: readonly string[] };

/** Runs one file against `database` and answers its text with PostgreSQL's results. */
async function expectFile(cluster: TempPostgres, database: string, path: string): Promise<FileOutcome> {
  const original = readFileSync(path, 'utf8');
  const file = basename(path);
  const script = parseSlt(original, file);
  const { lines } = script;
  const engine = await connectPgEngine({ host: cluster.host, port: cluster.port, user: cluster.user, database });
  const out: string[] = [];
  const problems: string[] = [];
  const labels = new Map<string, { hash: string; line: number }>();
  let hashThreshold = 0;
  let pos = 0;
  let changed = 0;
  let queries = 0;
  try {
    for (const record of script.records) {
      out.push(...lines.slice(pos, record.start));
      pos = record.end;
      const verbatim = lines.slice(record.start, record.end);
      const where = `${file}:${record.line}`;
      if (!appliesTo(record, ENGINE)) {
        out.push(...verbatim);
        continue;
      }
      if (record.kind === 'halt') {
        out.push(...verbatim);
        break;
      }
      if (record.kind === 'hash-threshold') {
        hashThreshold = record.threshold;
        out.push(...verbatim);
        continue;
      }
      const outcome = await engine.exec(record.sql);
      if (record.kind === 'statement') {
        if (outcome.ok === record.expectError) problems.push(`${where}: statement ${record.expectError ? 'error' : 'ok'}, but PostgreSQL ${outcome.ok ? 'succeeded' : `failed: ${outcome.message}`}\n    ${record.sql}`);
        out.push(...verbatim);
        continue;
      }
      queries++;
      if (lines[record.line - 1].trim().split(/\s+/).length < 3) problems.push(`${where}: query without an explicit sort mode`);
      if (!outcome.ok) {
        problems.push(`${where}: query failed on PostgreSQL: ${outcome.message}\n    ${record.sql}`);
        out.push(...verbatim);
        continue;
      }
      const width = outcome.rows.find((row) => row.length !== record.types.length)?.length;
      if (width !== undefined) problems.push(`${where}: query types ${record.types} but PostgreSQL answered ${width} column(s)`);
      if (record.sort === 'nosort' && outcome.rows.length > 1 && !/\border\s+by\b/i.test(record.sql)) problems.push(`${where}: nosort without ORDER BY (use rowsort)`);
      const values = renderValues(outcome.rows, record.types, record.sort);
      if (record.label !== null) {
        const hash = hashValues(values);
        const earlier = labels.get(record.label);
        if (earlier === undefined) labels.set(record.label, { hash, line: record.line });
        else if (earlier.hash !== hash) problems.push(`${where}: label ${record.label} gives other values than line ${earlier.line}`);
      }
      const results = resultLines(values, hashThreshold);
      if (results.length !== record.expected.length || results.some((v, k) => v !== record.expected[k])) changed++;
      out.push(...lines.slice(record.start, record.separator >= 0 ? record.separator : record.sqlEnd), '----', ...results);
    }
    out.push(...lines.slice(pos));
  } finally {
    await engine.close();
  }
  return { file: path, text: out.join('\n'), changed, queries, problems };
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const check = args.includes('--check');
  const files = args.filter((a) => a !== '--check');
  if (files.length === 0) {
    console.error('usage: slt-expect [--check] file.test...');
    return 2;
  }
  const cluster = await startTempPostgres();
  console.log(`PostgreSQL ${cluster.install.version} on port ${cluster.port}`);
  let failed = false;
  try {
    const admin = new pg.Client({ host: cluster.host, port: cluster.port, user: cluster.user, database: cluster.database });
    await admin.connect();
    try {
      for (const [k, path] of files.entries()) {
        const database = `slt_${k}`;
        await admin.query(`CREATE DATABASE ${database} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'`);
        const outcome = await expectFile(cluster, database, path);
        await admin.query(`DROP DATABASE ${database}`);
        if (outcome.problems.length > 0) {
          failed = true;
          console.log(`${path}: NOT written, ${outcome.problems.length} problem(s):\n  ${outcome.problems.join('\n  ')}`);
          continue;
        }
        const verb = check ? 'would change' : 'changed';
        console.log(`${path}: ${outcome.queries} queries, ${outcome.changed} ${verb}`);
        if (check) failed ||= outcome.changed > 0;
        else if (outcome.changed > 0) writeFileSync(path, outcome.text);
      }
    } finally {
      await admin.end();
    }
  } finally {
    await cluster.stop();
  }
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
