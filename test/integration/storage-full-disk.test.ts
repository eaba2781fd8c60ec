// A real full disk: the test mounts a 32 MiB tmpfs (as root), puts a filler
// file and the server's data dir in it, and writes until the disk is full.
// Writes are then refused (507 STORAGE_FULL; 503 STORAGE_IO is allowed too),
// reads go on, nothing acknowledged is lost, /health/ready and
// mantis_shard_storage_failed say the shard failed; once the filler is
// deleted the shard's probe resumes writes by itself, and everything
// acknowledged before and after survives a restart. With a 12 MiB filler a
// compaction runs out of room first; with less than a memtable left, the
// WAL's write() does. A server started on a disk with no room at all comes
// up (the LOCK pid file and the timestamp reservation are retried or skipped),
// serves reads and takes writes once space returns. Skipped, with the reason, only where mounting is
// refused (not root, no CAP_SYS_ADMIN).

import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AckedWrites, type LoadOptions } from '../helpers/acked-writes.js';
import { waitUntil } from '../helpers/http-client.js';
import { kvUrl } from '../helpers/kv-client.js';
import { cleanup, startServer, type FsyncPolicy } from '../helpers/server-process.js';
import { readiness, scrape } from '../helpers/storage-fixtures.js';
import { fillLeaving, mountTmpfs } from '../helpers/tmpfs.js';

const MiB = 1024 * 1024;
const TMPFS_MB = 32;
const FILLER_BYTES = 12 * MiB;
const ARGS = ['--memory-budget-mb', '4'];
/** 8000 keys of 5 KiB on average: the live data alone (~40 MiB) is more than the tmpfs holds. */
const LOAD: Omit<LoadOptions, 'seed'> = { writers: 4, keysPerWriter: 2000, valueBytes: [2048, 8192], batchMax: 4, deleteChance: 0.05 };
/**
 * The test stops filling once every write has been refused for this long: longer than two probe
 * intervals, so the failure is the disk's state, not a compaction that ran out of room for a
 * moment and gave it back when its partial outputs were removed (which the probe rightly resumes from).
 */
const REFUSING_FOR_MS = 2_500;
/** Bounds the run if the disk never fills (refused requests are answered at once, so allow many). */
const REQUESTS_PER_WRITER_MAX = 20_000;
const REQUESTS_AFTER_RECOVERY = 50;
/** Less than one memtable (1 MiB): the WAL runs out before any table is written. */
const WAL_FIRST_FREE_BYTES = 900 * 1024;

const tmpfs = mountTmpfs(TMPFS_MB);

// Servers first (a busy mount cannot be unmounted), then the mount, even when a test failed.
afterAll(async () => {
  await cleanup();
  tmpfs.unmount();
});

describe.skipIf(tmpfs.refused !== null)(`a full disk (tmpfs of ${TMPFS_MB} MiB)${tmpfs.refused === null ? '' : ` — skipped: ${tmpfs.refused}`}`, () => {
  it.each<{ fsync: FsyncPolicy; walFirst: boolean }>([
    { fsync: 'batch', walFirst: false },
    { fsync: 'always', walFirst: false },
    { fsync: 'always', walFirst: true },
  ])(
    'refuses writes when full, serves reads, loses nothing, and resumes once space returns (--fsync $fsync, WAL fills first: $walFirst)',
    { timeout: 90_000 },
    async ({ fsync, walFirst }) => {
      const name = `${fsync}${walFirst ? '-wal' : ''}`;
      const dataDir = join(tmpfs.dir, `data-${name}`);
      const filler = join(tmpfs.dir, `filler-${name}`);
      mkdirSync(dataDir);
      // A 12 MiB filler leaves room for flushes and compactions (one of which runs out first);
      // leaving less than a memtable makes the WAL's write() run out first.
      if (!walFirst) writeFileSync(filler, Buffer.alloc(FILLER_BYTES, 1));
      const server = await startServer({ shards: 1, fsync, dataDir, extraArgs: ARGS });
      if (walFirst) fillLeaving(tmpfs.dir, filler, WAL_FIRST_FREE_BYTES);
      const model = new AckedWrites(`full-${name}/`);

      const full = (): boolean => model.stats.refusingSinceMs !== null && Date.now() - model.stats.refusingSinceMs >= REFUSING_FOR_MS;
      await model.run(server.url, { ...LOAD, seed: name.length }, full, REQUESTS_PER_WRITER_MAX);
      const statuses = Object.fromEntries(model.stats.statuses);
      const health = await readiness(server.url);
      console.log(
        `[full disk, --fsync ${fsync}${walFirst ? ', WAL first' : ''}] ${(model.stats.ackedBytes / MiB).toFixed(1)} MiB acknowledged (${model.stats.acked} ops) before the disk filled; ` +
          `answers ${JSON.stringify(statuses)}; disk ${JSON.stringify(health.shards[0].disk)}`,
      );
      expect(full(), `the disk never stayed full: ${JSON.stringify(statuses)}`).toBe(true);
      expect(model.stats.unknown, 'every write got an answer').toBe(0);
      if (walFirst) expect(server.output().stdout).toContain('WAL write failed');
      expect(Object.keys(statuses).filter((s) => !['200', '507 STORAGE_FULL', '503 STORAGE_IO', '503 SHARD_BUSY'].includes(s))).toEqual([]);

      // Writes stay refused; reads go on and show exactly what was acknowledged.
      const refusal = await fetch(kvUrl(server.url, 'full/one-more'), { method: 'PUT', body: Buffer.alloc(4096, 2) });
      expect([507, 503]).toContain(refusal.status);
      expect(await refusal.text()).toMatch(/"code":"(STORAGE_FULL|STORAGE_IO)"/);
      expect(await model.verify(server.url)).toEqual([]);
      await waitUntil(async () => ((await readiness(server.url)).shards[0].storage_failed ? true : undefined), { timeoutMs: 5_000, what: '/health/ready to show storage_failed' });
      await waitUntil(async () => ((await scrape(server.url)).value('mantis_shard_storage_failed', { shard: '0' }) === 1 ? true : undefined), {
        timeoutMs: 5_000,
        what: 'mantis_shard_storage_failed to be 1',
      });

      // Space returns: the probe (every second, ≥ 4 MiB free) resumes writes without a restart.
      rmSync(filler);
      const resumed = await waitUntil(
        async () => {
          const response = await fetch(kvUrl(server.url, 'full/after-space-returned'), { method: 'PUT', body: 'back' });
          await response.arrayBuffer();
          return response.status === 200 ? true : undefined;
        },
        { timeoutMs: 20_000, intervalMs: 100, what: 'writes to be accepted again after the filler was deleted' },
      );
      expect(resumed).toBe(true);
      const before = { ...model.stats };
      await model.run(server.url, { ...LOAD, seed: 100 + name.length }, () => false, REQUESTS_AFTER_RECOVERY);
      expect({ refused: model.stats.refused - before.refused, unknown: model.stats.unknown - before.unknown }).toEqual({ refused: 0, unknown: 0 });
      expect(await model.verify(server.url)).toEqual([]);
      expect((await readiness(server.url)).shards[0].storage_failed).toBe(false);
      await waitUntil(async () => ((await scrape(server.url)).value('mantis_shard_storage_failed', { shard: '0' }) === 0 ? true : undefined), {
        timeoutMs: 5_000,
        what: 'mantis_shard_storage_failed to be 0 again',
      });

      // Everything acknowledged, before and after the disk filled, survives a restart.
      expect(await server.stop()).toBe(0);
      const restarted = await startServer({ shards: 1, fsync, dataDir, extraArgs: ARGS });
      expect(await model.verify(restarted.url)).toEqual([]);
      expect(await (await fetch(kvUrl(restarted.url, 'full/after-space-returned'))).text()).toBe('back');
      expect(await restarted.stop()).toBe(0);
      rmSync(dataDir, { recursive: true, force: true });
    },
  );

  it('a server started on a full disk comes up, serves reads, refuses writes, and takes writes once space returns', { timeout: 60_000 }, async () => {
    const dataDir = join(tmpfs.dir, 'data-start-full');
    const filler = join(tmpfs.dir, 'filler-start-full');
    mkdirSync(dataDir);
    const first = await startServer({ shards: 1, fsync: 'always', dataDir, extraArgs: ARGS });
    const put = await fetch(kvUrl(first.url, 'start-full/kept'), { method: 'PUT', body: 'kept' });
    expect(put.status).toBe(200);
    expect(await first.stop()).toBe(0);
    fillLeaving(tmpfs.dir, filler, 0);
    // The timestamp reservation cannot be written: the server must still start (reads need no timestamp).
    const server = await startServer({ shards: 1, fsync: 'always', dataDir, extraArgs: ARGS });
    expect(server.output().stdout).toContain('timestamp reservation failed at start');
    expect(await (await fetch(kvUrl(server.url, 'start-full/kept'))).text()).toBe('kept');
    const refused = await fetch(kvUrl(server.url, 'start-full/new'), { method: 'PUT', body: 'x' });
    expect([507, 503]).toContain(refused.status);
    expect(await refused.text()).toMatch(/"code":"(STORAGE_FULL|STORAGE_IO)"/);
    rmSync(filler);
    await waitUntil(
      async () => {
        const response = await fetch(kvUrl(server.url, 'start-full/new'), { method: 'PUT', body: 'x' });
        await response.arrayBuffer();
        return response.status === 200 ? true : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 100, what: 'writes to be accepted once space returned' },
    );
    expect(await server.stop()).toBe(0);
    rmSync(dataDir, { recursive: true, force: true });
  });
});
