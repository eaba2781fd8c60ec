// The process dies at the worst moments of the LSM tree's life and no
// acknowledged write is lost: kill -9 at a random point of a sustained write
// load (--fsync always), and the crash points MANTIS_FAULT=crash:… that
// SIGKILL the whole process right after a flush wrote its table, after a
// compaction wrote its outputs (both before the manifest names them), and
// after a manifest write (before old tables and WAL segments are deleted).
// After each crash the server restarts without the fault, every acknowledged
// write reads back as that write or a later one of its writer (never older,
// never a partly applied batch), the tables no manifest names are removed, and
// the server goes on writing, flushing and compacting.

import { afterAll, describe, expect, it } from 'vitest';
import { Xorshift32 } from '../unit/support/prng.js';
import { AckedWrites, type LoadOptions } from '../helpers/acked-writes.js';
import { waitUntil } from '../helpers/http-client.js';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';
import { orphanTables, readManifest, scrape, walFiles } from '../helpers/storage-fixtures.js';

afterAll(cleanup);

const MiB = 1024 * 1024;
const ARGS = ['--memory-budget-mb', '4'];
const LOAD: Omit<LoadOptions, 'seed'> = { writers: 8, keysPerWriter: 150, valueBytes: [1024, 6144], batchMax: 8, deleteChance: 0.1 };
/** A fault point must be reached within this many requests per writer (several flushes' worth). */
const REQUESTS_PER_WRITER_MAX = 4000;
/** About 15 MiB: flushes and at least one compaction after the restart. */
const REQUESTS_AFTER_RESTART = 120;

async function waitForExit(server: ServerProcess): Promise<NodeJS.Signals | number> {
  return waitUntil(async () => server.proc.signalCode ?? server.proc.exitCode ?? undefined, { timeoutMs: 30_000, what: `server pid ${server.proc.pid} to exit` });
}

/** What the crash left on disk, for the checks after the restart. */
function crashState(dataDir: string): { orphans: string[]; wal: string[]; tables: number } {
  const manifest = readManifest(dataDir, 0);
  return { orphans: orphanTables(dataDir, 0), wal: walFiles(dataDir, 0), tables: (manifest?.levels ?? []).flat().length };
}

/**
 * Restarts on the crashed data dir without any fault and checks: every acknowledged write; the
 * crash's orphan tables removed at open; the server keeps writing, flushing and compacting; the
 * WAL segments of before the crash retired once their data is in tables; no orphan remains.
 */
async function restartAndCheck(dataDir: string, model: AckedWrites, crash: { orphans: string[]; wal: string[] }, seed: number): Promise<void> {
  const server = await startServer({ shards: 1, fsync: 'always', dataDir, extraArgs: [...ARGS, '--log-level', 'info'] });
  expect(await model.verify(server.url)).toEqual([]);
  const log = server.output().stdout;
  const removals = log.split('\n').filter((line) => line.includes('removed a file no manifest names'));
  for (const name of crash.orphans) expect(removals.join('\n'), `the restart logs removing the orphan ${name}`).toContain(`"${name}"`);

  const before = { ...model.stats };
  await model.run(server.url, { ...LOAD, seed: seed + 1 }, () => false, REQUESTS_AFTER_RESTART);
  expect(model.stats.requests - before.requests, 'requests after the restart').toBe(LOAD.writers * REQUESTS_AFTER_RESTART);
  expect({ refused: model.stats.refused - before.refused, unknown: model.stats.unknown - before.unknown }).toEqual({ refused: 0, unknown: 0 });
  expect([...model.stats.statuses.keys()].filter((s) => !s.startsWith('200')), 'statuses after the restart').toEqual([]);
  expect(await model.verify(server.url)).toEqual([]);
  const metrics = await scrape(server.url);
  expect(metrics.value('mantis_lsm_flushes_total'), 'flushes after the restart').toBeGreaterThanOrEqual(1);
  expect(metrics.value('mantis_lsm_compactions_total'), 'compactions after the restart').toBeGreaterThanOrEqual(1);
  expect(metrics.value('mantis_shard_storage_failed')).toBe(0);

  // Once background work is done, the table files on disk are exactly the manifest's, and the
  // segments that were live at the crash are gone (their records are in tables now).
  await waitUntil(async () => (orphanTables(dataDir, 0).length === 0 ? true : undefined), { timeoutMs: 20_000, what: 'no table file outside the manifest' });
  await waitUntil(async () => (walFiles(dataDir, 0).some((n) => crash.wal.includes(n)) ? undefined : true), { timeoutMs: 20_000, what: `the WAL segments of before the crash (${crash.wal.join(', ')}) to be retired` });
  expect(await server.stop()).toBe(0);

  // And once more from a clean shutdown.
  const again = await startServer({ shards: 1, fsync: 'always', dataDir, extraArgs: ARGS });
  expect(await model.verify(again.url)).toEqual([]);
  expect(await again.stop()).toBe(0);
}

describe('kill -9 during a sustained write load (--fsync always, --memory-budget-mb 4)', () => {
  it('keeps every acknowledged write, killed at random moments after tables exist, three times over', { timeout: 120_000 }, async () => {
    const seed = 3001;
    const rng = new Xorshift32(seed);
    const model = new AckedWrites('crash-load/');
    let dataDir: string | undefined;
    let crash = { orphans: [] as string[], wal: [] as string[], tables: 0 };
    for (let round = 0; round < 3; round++) {
      const server = await startServer({ shards: 1, fsync: 'always', dataDir, extraArgs: ARGS });
      dataDir = server.dataDir;
      if (round > 0) expect(await model.verify(server.url), `after kill ${round}`).toEqual([]);
      const killAt = model.stats.ackedBytes + rng.range(3 * MiB, 10 * MiB);
      let killed: Promise<void> | null = null;
      const inFlightBefore = model.stats.unknown;
      await model.run(
        server.url,
        { ...LOAD, seed: seed + round },
        () => {
          if (killed === null && model.stats.ackedBytes >= killAt) killed = server.kill9();
          return false;
        },
        REQUESTS_PER_WRITER_MAX,
      );
      expect(killed, 'the load ended before the kill').not.toBeNull();
      await killed;
      crash = crashState(dataDir);
      console.log(`[crash kill -9 #${round + 1}] killed after ${(model.stats.ackedBytes / MiB).toFixed(1)} MiB acknowledged in all (${model.stats.acked} ops acked, ${model.stats.unknown - inFlightBefore} in flight); ${crash.tables} tables, ${crash.orphans.length} orphans, WAL ${crash.wal.join(',')}`);
      expect(crash.tables, 'tables existed at the kill').toBeGreaterThan(0);
      expect(model.stats.unknown - inFlightBefore, 'writes were in flight at the kill').toBeGreaterThan(0);
    }
    await restartAndCheck(dataDir as string, model, crash, seed);
  });
});

describe.each([
  { point: 'after-sst-write', orphans: true },
  { point: 'after-compaction-write', orphans: true },
  { point: 'after-manifest', orphans: false },
])('MANTIS_FAULT=crash:$point', ({ point, orphans }) => {
  it('dies mid-load, and after a restart without the fault keeps every acknowledged write and removes the leftovers', { timeout: 120_000 }, async () => {
    const seed = 4001 + point.length;
    const server = await startServer({ shards: 1, fsync: 'always', extraArgs: ARGS, env: { MANTIS_FAULT: `crash:${point}` } });
    const model = new AckedWrites(`crash-${point}/`);
    await model.run(server.url, { ...LOAD, seed }, () => false, REQUESTS_PER_WRITER_MAX);
    expect(await waitForExit(server)).toBe('SIGKILL');
    // (Its "fault injected" log line may not make it out: the process dies right after logging it.)
    const crash = crashState(server.dataDir);
    console.log(`[crash ${point}] died after ${(model.stats.ackedBytes / MiB).toFixed(1)} MiB acknowledged (${model.stats.acked} ops acked, ${model.stats.unknown} in flight); ${crash.tables} tables in the manifest, orphans ${crash.orphans.join(',') || 'none'}, WAL ${crash.wal.join(',')}`);
    if (orphans) expect(crash.orphans.length, 'the crash left a table no manifest names').toBeGreaterThan(0);
    else expect(crash.tables, 'the manifest was written before the crash').toBeGreaterThan(0);
    if (point === 'after-compaction-write') expect(crash.tables, 'the compaction inputs are still in the manifest').toBeGreaterThanOrEqual(4);
    await restartAndCheck(server.dataDir, model, crash, seed);
  });
});
