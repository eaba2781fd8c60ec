// A write the server refused (507 STORAGE_FULL) must stay refused after a
// crash: the WAL runs out of space in the middle of a group-committed batch,
// the shard rolls the batch back in memory and answers 507 — and the process
// is then killed while the disk is still full (so the probe never got to cut
// the segment back). After the restart no refused write may be visible.
// Before 474eb4c it failed: the complete records written before the ENOSPC
// stayed in the segment until recover() cut them, and replay applied them.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AckedWrites } from '../helpers/acked-writes.js';
import { cleanup, startServer } from '../helpers/server-process.js';
import { readiness } from '../helpers/storage-fixtures.js';
import { fillLeaving, mountTmpfs } from '../helpers/tmpfs.js';

const tmpfs = mountTmpfs(32);

afterAll(async () => {
  await cleanup();
  tmpfs.unmount();
});

const ARGS = ['--memory-budget-mb', '4'];

describe.skipIf(tmpfs.refused !== null)(`writes refused on a full disk${tmpfs.refused === null ? '' : ` — skipped: ${tmpfs.refused}`}`, () => {
  it('stay refused after kill -9 and a restart', { timeout: 60_000 }, async () => {
    const dataDir = join(tmpfs.dir, 'data');
    mkdirSync(dataDir);
    const server = await startServer({ shards: 1, fsync: 'always', dataDir, extraArgs: ARGS });
    fillLeaving(tmpfs.dir, join(tmpfs.dir, 'filler'), 900 * 1024);
    // Bursts of 200 PUTs sent at once: the shard drains each burst as one group-committed append,
    // so the append that meets ENOSPC holds many records, the first ones complete.
    const model = new AckedWrites('refused/');
    for (let round = 0; model.stats.refused === 0; round++) {
      expect(round, 'the disk never filled').toBeLessThan(50);
      await model.run(server.url, { writers: 200, keysPerWriter: 50, valueBytes: [1000, 3000], batchMax: 1, deleteChance: 0, seed: round + 1 }, () => false, 1);
    }
    expect(await model.verify(server.url), 'before the crash').toEqual([]);

    await server.kill9();
    const restarted = await startServer({ shards: 1, fsync: 'always', dataDir, extraArgs: ARGS });
    const replay = (await readiness(restarted.url)).shards[0].replay;
    console.log(`[refused writes] ${model.stats.acked} acknowledged, ${model.stats.refused} refused; replay after kill -9: ${JSON.stringify(replay)}`);
    expect(await model.verify(restarted.url), 'after kill -9 and a restart on the full disk').toEqual([]);
    await restarted.stop('SIGKILL');
  });
});
