// A damaged block must cost the keys of that block, not the shard's writes:
// after one table rots, more writes fill level 0 well past the write-stall
// point (12 tables). The compaction that meets the bad block quarantines the
// table; since it sits in level 0 no level-0 compaction can run around it, so
// the shard runs degraded (level 0 keeps growing) instead of stalling every
// write. If writes were refused for a storage failure, /health/ready and the
// metric must say so.

import { setTimeout } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanup, startServer } from '../helpers/server-process.js';
import { writeAndCorruptOneTable } from '../helpers/corrupt-table.js';
import { postBatch, readiness, scrape, valueOf, type BatchOp } from '../helpers/storage-fixtures.js';

afterAll(cleanup);

const ARGS = ['--memory-budget-mb', '4'];
/** 50 × 1000-byte puts a batch: 300 batches are ~15 MiB, ~15 flushes: past the 12-table level-0 stall if nothing compacts. */
const BATCHES = 300;

describe('a corrupt table block met by a compaction', () => {
  it('leaves the other keys of the shard writable', { timeout: 60_000 }, async () => {
    const server = await startServer({ shards: 1, fsync: 'batch', extraArgs: ARGS });
    await writeAndCorruptOneTable(server);
    const restarted = await startServer({ shards: 1, fsync: 'batch', dataDir: server.dataDir, extraArgs: ARGS });

    const answers = new Map<string, number>();
    // Meanwhile, sample what /health/ready and the metric say about the shard's storage.
    const health = new Set<string>();
    let writing = true;
    const sampler = (async () => {
      while (writing) {
        const ready = (await readiness(restarted.url)).shards[0].storage_failed;
        const metric = (await scrape(restarted.url)).value('mantis_shard_storage_failed');
        health.add(`storage_failed ${ready}, metric ${metric}`);
        await setTimeout(50);
      }
    })();
    for (let b = 0; b < BATCHES; b++) {
      const ops: BatchOp[] = Array.from({ length: 50 }, (_, j) => ({ op: 'put', key: `d/k${b}-${j}`, value: valueOf(`d/k${b}-${j}`, 1, 1000) }));
      const answer = await postBatch(restarted.url, ops);
      const label = `${answer.status}${answer.errorCode === null ? '' : ` ${answer.errorCode}`}`;
      answers.set(label, (answers.get(label) ?? 0) + 1);
      // A stalled write takes 5 s to be refused: a few refusals tell the story.
      if (answer.status !== 200 && answers.get(label) === 3) break;
    }
    writing = false;
    await sampler;
    const metrics = await scrape(restarted.url);
    console.log(
      `[corruption + compaction] answers ${JSON.stringify(Object.fromEntries(answers))}; compactions ${metrics.value('mantis_lsm_compactions_total')}, ` +
        `corruptions seen by compaction ${metrics.value('mantis_lsm_corruptions_total')}, level 0 tables ${metrics.value('mantis_lsm_level0_tables')}; health seen ${JSON.stringify([...health])}`,
    );
    expect(metrics.value('mantis_lsm_corruptions_total'), 'a compaction met the damaged block').toBeGreaterThan(0);
    expect.soft(Object.fromEntries(answers)).toEqual({ '200': BATCHES });
    expect(metrics.value('mantis_lsm_level0_tables'), 'level 0 grew past the stall point without stalling').toBeGreaterThanOrEqual(12);
    // A refusal for a storage failure must show in health (before 474eb4c it never did: the 1 s tick
    // published right after the probe had cleared the failure).
    const storageRefusals = [...answers.keys()].filter((l) => /STORAGE_(IO|FULL)/.test(l));
    if (storageRefusals.length > 0) expect.soft([...health], 'health while writes were refused').toContain('storage_failed true, metric 1');
    await restarted.stop('SIGKILL');
  });
});
