// `npm start`: parse flags and MANTIS_* variables, start the server, print
// the ready line, and shut down cleanly on SIGTERM/SIGINT (exit 0).

import { ConfigError, loadConfig, usage } from './config.js';
import { DataDirError } from './data-dir.js';
import { createLogger } from './log.js';
import { MALLOC_ARENA_MAX, mallocArenasUnbounded } from './process-env.js';
import { startServer } from './server.js';
import { parseRestoreArgs, restore, RestoreError } from './ops/restore.js';

/** `mantisdb restore …` (npm run restore): exit 0 when the directory is ready, 1 naming the problem. */
async function restoreCommand(argv: readonly string[]): Promise<void> {
  try {
    const options = parseRestoreArgs(argv);
    const report = await restore({ ...options, log: (line) => process.stdout.write(`${line}\n`) });
    process.stdout.write(`restored backup ${report.backup} (cut ${report.cutAt}, commit_ts ${report.commitTs}, ${report.files} files, ${report.bytes} bytes) into ${options.to}\n`);
    for (const s of report.shards) {
      process.stdout.write(`  shard ${s.shard}: ${s.segments} archived segments, ${s.records} log records kept, last clock ${s.lastClock ?? 'none'}, ${s.completedCommits} two-phase commits completed\n`);
    }
    process.stdout.write(`start it with: npm start -- --data-dir ${options.to}\n`);
  } catch (error) {
    process.stderr.write(`mantisdb restore: ${error instanceof RestoreError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === 'restore') {
    await restoreCommand(argv.slice(1));
    return;
  }
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(usage() + '\n');
    return;
  }
  let config;
  try {
    config = loadConfig(argv, process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`mantisdb: ${error.message}\n\n${usage()}\n`);
    process.exit(2);
  }
  const log = createLogger(config.logLevel);
  if (mallocArenasUnbounded()) {
    log.warn(`MALLOC_ARENA_MAX is not set: glibc's per-thread malloc arenas can add 50–100 MiB of RSS; npm start sets MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX}`);
  }
  let server;
  try {
    server = await startServer(config, log);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`mantisdb: ${error.message}\n`);
      process.exit(2);
    }
    const message = error instanceof DataDirError ? error.message : error instanceof Error ? error.message : String(error);
    process.stderr.write(`mantisdb: ${message}\n`);
    log.fatal({ err: error }, 'server failed to start');
    process.exit(1);
  }
  log.info({ url: server.url, shards: server.shards, fsync: config.fsync, dataDir: config.dataDir }, 'server started');
  process.stdout.write(`MantisDB listening on ${server.url}\n`);

  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: draining requests and flushing WAL');
    server.stop().then(
      () => {
        log.info('shutdown complete');
        process.exit(0);
      },
      (error: unknown) => {
        log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGHUP', () => {
    log.info('SIGHUP: re-reading secrets and the TLS certificate');
    server.reload().then(
      () => log.info('reload complete'),
      (error: unknown) => log.error({ err: error instanceof Error ? error.message : String(error) }, 'reload failed; the previous secrets and certificate stay in use'),
    );
  });
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

void main();
