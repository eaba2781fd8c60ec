// PostgreSQL's point-select baseline for the SQL benchmark: `pgbench -S`
// (the built-in select-only script: SELECT abalance FROM pgbench_accounts
// WHERE aid = :aid, aid uniform) against the temp cluster of lib/pgbench.ts,
// at N clients over TCP 127.0.0.1, prepared statements, with per-transaction
// logs for exact percentiles. lib/pgbench.ts runPgbench runs only the TPC-B
// script; its output and log parsers are reused here.

import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { latencyStats, parsePgbenchLog, parsePgbenchOutput, type LatencyStats, type PgbenchSummary, type TempPostgres } from './pgbench.js';
import { pgTool } from './sql-engines.js';

export type SelectOnlyResult = PgbenchSummary & {
  readonly pgVersion: string;
  readonly initSeconds: number;
  readonly latency: LatencyStats;
  readonly output: string;
};

export type SelectOnlyOptions = { readonly clients: number; readonly durationS: number; readonly scale: number; readonly threads?: number };

/** `pgbench -i -s scale`, then `pgbench -S -c clients -T durationS -M prepared`. */
export async function runSelectOnly(cluster: TempPostgres, o: SelectOnlyOptions): Promise<SelectOnlyResult> {
  const tool = cluster.install.tools.pgbench;
  const conn = ['-h', cluster.host, '-p', String(cluster.port), '-U', cluster.user];
  const t0 = performance.now();
  await pgTool(cluster, tool, ['-i', '-q', '-s', String(o.scale), ...conn, cluster.database], 120_000 + o.scale * 30_000);
  const initSeconds = (performance.now() - t0) / 1000;
  const threads = Math.min(o.clients, o.threads ?? availableParallelism());
  const logDir = mkdtempSync(join(cluster.dir, 'pgbench-S-'));
  try {
    const args = ['-S', '-c', String(o.clients), '-j', String(threads), '-T', String(o.durationS), '-M', 'prepared', '--log', `--log-prefix=${join(logDir, 'txn')}`];
    const out = await pgTool(cluster, tool, [...args, ...conn, cluster.database], o.durationS * 1000 + 300_000);
    const summary = parsePgbenchOutput(out);
    const log = parsePgbenchLog(readdirSync(logDir).map((f) => readFileSync(join(logDir, f), 'utf8')));
    return { ...summary, pgVersion: cluster.install.version, initSeconds, latency: latencyStats(log.latenciesUs), output: out };
  } finally {
    rmSync(logDir, { recursive: true, force: true });
  }
}
