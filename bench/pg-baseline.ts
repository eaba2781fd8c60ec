// PostgreSQL baseline for the transaction benchmark (issue 5, item 6): pgbench's
// built-in TPC-B-like script against a throwaway PostgreSQL cluster with the
// default configuration (fsync on, synchronous_commit on), run by hand:
//
//   node dist/bench/pg-baseline.js --clients 8 --duration 10
//   node dist/bench/pg-baseline.js --clients 8 --duration 10 --scale 1,8
//
// Flags: --clients N (8), --threads N (min(clients, cores)), --duration S (10),
// --scale N[,N...] (1; each scale is a fresh `pgbench -i` then a run, in one
// cluster), --mode prepared|extended|simple (prepared), --socket (unix socket
// instead of TCP 127.0.0.1), --per-command (-r), --dir PATH (parent of the temp
// cluster, default os.tmpdir()), --set name=value (a non-default server
// setting, repeatable, flagged in the output), --json (results as JSON on stdout).
// Exit codes: 0 ok, 1 error, 2 PostgreSQL not installed or bad flags.

import { findPostgres, formatPgbenchResult, PG_NOT_INSTALLED, runPgbench, startTempPostgres, type PgbenchOptions, type PgbenchResult } from './lib/pgbench.js';

type Options = {
  clients: number;
  threads: number | undefined;
  durationS: number;
  scales: number[];
  mode: NonNullable<PgbenchOptions['queryMode']>;
  socket: boolean;
  perCommand: boolean;
  parentDir: string | undefined;
  settings: Record<string, string>;
  json: boolean;
};

class UsageError extends Error {}

function parseArgs(argv: readonly string[]): Options {
  const o: Options = { clients: 8, threads: undefined, durationS: 10, scales: [1], mode: 'prepared', socket: false, perCommand: false, parentDir: undefined, settings: {}, json: false };
  const int = (flag: string, raw: string | undefined): number => {
    const v = Number(raw);
    if (raw === undefined || !Number.isInteger(v) || v < 1) throw new UsageError(`${flag} needs an integer ≥ 1, got ${String(raw)}`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--clients' || a === '-c') o.clients = int(a, argv[++i]);
    else if (a === '--threads' || a === '-j') o.threads = int(a, argv[++i]);
    else if (a === '--duration' || a === '-T') o.durationS = int(a, argv[++i]);
    else if (a === '--scale' || a === '-s') o.scales = (argv[++i] ?? '').split(',').map((s) => int(a, s));
    else if (a === '--mode' || a === '-M') {
      const m = argv[++i];
      if (m !== 'prepared' && m !== 'extended' && m !== 'simple') throw new UsageError(`--mode is prepared, extended or simple, got ${String(m)}`);
      o.mode = m;
    } else if (a === '--socket') o.socket = true;
    else if (a === '--per-command' || a === '-r') o.perCommand = true;
    else if (a === '--dir') {
      o.parentDir = argv[++i];
      if (!o.parentDir) throw new UsageError('--dir needs a path');
    } else if (a === '--set') {
      const kv = argv[++i] ?? '';
      const eq = kv.indexOf('=');
      if (eq <= 0) throw new UsageError(`--set needs name=value, got ${JSON.stringify(kv)}`);
      o.settings[kv.slice(0, eq)] = kv.slice(eq + 1);
    } else if (a === '--json') o.json = true;
    else if (a === '--help' || a === '-h') throw new UsageError('see the header of bench/pg-baseline.ts for the flags');
    else throw new UsageError(`unknown flag ${a} (see the header of bench/pg-baseline.ts)`);
  }
  return o;
}

const progress = (message: string): void => {
  process.stderr.write(`[pg-baseline ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
};

async function main(): Promise<number> {
  let o: Options;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`pg-baseline: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const install = findPostgres();
  if (install === null) {
    process.stderr.write(`${PG_NOT_INSTALLED}\n`);
    return 2;
  }
  progress(`PostgreSQL ${install.version} in ${install.bin}; starting a temp cluster`);
  const pg = await startTempPostgres({ install, parentDir: o.parentDir, serverSettings: o.settings });
  const results: PgbenchResult[] = [];
  try {
    progress(`listening on 127.0.0.1:${pg.port}, data in ${pg.dataDir} (${pg.filesystem})${pg.osUser ? `, running as ${pg.osUser}` : ''}`);
    for (const scale of o.scales) {
      progress(`pgbench -i -s ${scale}, then ${o.clients} clients for ${o.durationS} s`);
      const r = await runPgbench(pg, { clients: o.clients, threads: o.threads, durationS: o.durationS, scale, queryMode: o.mode, unixSocket: o.socket, reportPerCommand: o.perCommand });
      results.push(r);
      if (!o.json) process.stdout.write(`${formatPgbenchResult(r)}\n`);
    }
  } finally {
    await pg.stop();
  }
  if (o.json) process.stdout.write(`${JSON.stringify(results.map(({ output: _output, ...rest }) => rest), null, 2)}\n`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`pg-baseline: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
