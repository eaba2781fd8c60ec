// A table block that rots on disk is reported, never served: the server
// flushes a memtable to one table and stops; the test flips bytes in the
// middle of one data block (not the footer, index or filter, so the table
// still opens) and restarts. GETs of the keys in that block answer 500
// DATA_CORRUPT — every time, never a wrong value — while every other key reads
// exactly, mantis_corrupt_reads_total counts the refusals and the log has an
// error line. One flush (two if a second races in) leaves level-0 tables too few for a compaction, so none can
// rewrite the damaged table before the reads.

import { afterAll, describe, expect, it } from 'vitest';
import { expectOk, mapLimit } from '../helpers/http-client.js';
import { kvUrl } from '../helpers/kv-client.js';
import { cleanup, startServer } from '../helpers/server-process.js';
import { expectedValue, writeAndCorruptOneTable } from '../helpers/corrupt-table.js';
import { postBatch, scrape, tableFileName } from '../helpers/storage-fixtures.js';

afterAll(cleanup);

const ARGS = ['--memory-budget-mb', '4'];

type Read = { readonly key: string; readonly status: number; readonly code: string | null; readonly exact: boolean };

async function readAll(url: string, keys: readonly string[]): Promise<Read[]> {
  return mapLimit(keys, 16, async (key) => {
    const response = await fetch(kvUrl(url, key));
    const body = Buffer.from(await response.arrayBuffer());
    const code = response.status === 200 ? null : (/"code":"(\w+)"/.exec(body.toString('utf8'))?.[1] ?? null);
    return { key, status: response.status, code, exact: response.status === 200 && body.equals(expectedValue(key)) };
  });
}

describe('a corrupt table block', () => {
  it('answers 500 DATA_CORRUPT for the keys in that block only, counts and logs it, and serves every other key exactly', { timeout: 60_000 }, async () => {
    const server = await startServer({ shards: 1, fsync: 'batch', extraArgs: ARGS });
    const { table, keys, tail } = await writeAndCorruptOneTable(server);

    const restarted = await startServer({ shards: 1, fsync: 'batch', dataDir: server.dataDir, extraArgs: ARGS });
    const reads = await readAll(restarted.url, [...keys, ...tail]);
    const wrong = reads.filter((r) => !r.exact && !(r.status === 500 && r.code === 'DATA_CORRUPT'));
    expect(wrong.slice(0, 10), 'reads that are neither the exact value nor DATA_CORRUPT').toEqual([]);
    const corrupt = reads.filter((r) => !r.exact).map((r) => r.key);
    console.log(`[corruption] table ${table.fileNumber} of ${table.fileBytes} bytes with ${table.entries} entries (${keys.length} keys written before the flush was seen); ${corrupt.length} keys refused: ${corrupt[0]} … ${corrupt[corrupt.length - 1]}`);
    expect(table.entries).toBeLessThanOrEqual(keys.length);
    expect(corrupt.length, 'some keys live in the damaged block').toBeGreaterThan(0);
    // One block: a contiguous run of the table's keys, a small part of them.
    const first = keys.indexOf(corrupt[0]);
    expect(first).toBeGreaterThanOrEqual(0);
    expect(corrupt).toEqual(keys.slice(first, first + corrupt.length));
    expect(corrupt.length).toBeLessThan(table.entries / 10);

    // Still refused when asked again (nothing bad was cached), by HEAD too; the refusals are counted and logged.
    const again = await readAll(restarted.url, corrupt.slice(0, 3));
    expect(again.map((r) => [r.status, r.code])).toEqual(again.map(() => [500, 'DATA_CORRUPT']));
    expect((await fetch(kvUrl(restarted.url, corrupt[0]), { method: 'HEAD' })).status).toBe(500);
    const metrics = await scrape(restarted.url);
    expect(metrics.value('mantis_corrupt_reads_total')).toBeGreaterThanOrEqual(corrupt.length + again.length);
    const errorLines = restarted.output().stdout.split('\n').filter((l) => l.includes('"level":50') && l.includes('corrupt'));
    expect(errorLines.length, 'an error line in the server log').toBeGreaterThan(0);
    expect(errorLines[0]).toContain(tableFileName(table.fileNumber));

    // A batch get of a damaged key never carries a value for it (today the whole one-shard batch
    // fails with it); a listing across the block is refused rather than missing keys.
    const good = keys[0] === corrupt[0] ? keys[keys.length - 1] : keys[0];
    const batch = await postBatch(restarted.url, [{ op: 'get', key: good }, { op: 'get', key: corrupt[0] }]);
    expect(batch.items[1]?.value).toBeUndefined();
    expect(batch.status === 200 ? batch.items[1]?.error?.code : batch.errorCode).toBe('DATA_CORRUPT');
    const listing = await fetch(`${restarted.url}/api/v1/kv?prefix=c%2Fk&limit=1000&offset=0`);
    const listed = await listing.text();
    if (listing.status === 200) expect((JSON.parse(listed) as { data: string[] }).data).toEqual(keys.slice(0, 1000));
    else expect({ status: listing.status, code: /"code":"(\w+)"/.exec(listed)?.[1] }).toEqual({ status: 500, code: 'DATA_CORRUPT' });

    // Writes go on; overwriting a damaged key shadows the bad block.
    const fresh = Buffer.from('rewritten');
    await expectOk(await fetch(kvUrl(restarted.url, corrupt[0]), { method: 'PUT', body: fresh }));
    expect(Buffer.from(await (await fetch(kvUrl(restarted.url, corrupt[0]))).arrayBuffer())).toEqual(fresh);
    expect(await restarted.stop()).toBe(0);
  });
});
