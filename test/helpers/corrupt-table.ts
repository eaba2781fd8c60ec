// Makes a data dir whose shard 0 holds exactly one table with a damaged data
// block, for the corruption tests: write until the first flush, add a tail
// that stays in the WAL, stop, and flip bytes inside the data blocks (not the
// index, filter, meta or footer, so the table still opens).

import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { ServerProcess } from './server-process.js';
import { postBatch, readManifest, scrape, sstDir, sstFiles, tableFileName, valueOf, type BatchOp, type ManifestTable } from './storage-fixtures.js';

export const CORRUPT_VALUE_BYTES = 300;
const BATCH_OPS = 100;
const TAIL_KEYS = 50;

export const tableKey = (i: number): string => `c/k${String(i).padStart(6, '0')}`;
export const tailKey = (i: number): string => `c/tail${String(i).padStart(3, '0')}`;
export const expectedValue = (key: string): Buffer => valueOf(key, 1, CORRUPT_VALUE_BYTES);

export type CorruptTable = {
  readonly table: ManifestTable;
  /** Keys written before the flush was seen (the table's, and a few in the memtable), in order. */
  readonly keys: readonly string[];
  readonly tail: readonly string[];
};

/** XORs `count` bytes at `offset` of the file with 0xff. */
export function flipBytes(path: string, offset: number, count: number): void {
  const fd = openSync(path, 'r+');
  try {
    const bytes = Buffer.alloc(count);
    readSync(fd, bytes, 0, count, offset);
    for (let i = 0; i < count; i++) bytes[i] ^= 0xff;
    writeSync(fd, bytes, 0, count, offset);
  } finally {
    closeSync(fd);
  }
}

/**
 * REQUIRES: a fresh 1-shard server with a small --memory-budget-mb. Stops it (SIGTERM) once a
 * table exists, then damages the oldest table 40% into the file — deep inside the data blocks, since
 * the index, filter, meta block and footer are a few KiB at the end.
 */
export async function writeAndCorruptOneTable(server: ServerProcess): Promise<CorruptTable> {
  let written = 0;
  while ((await scrape(server.url)).value('mantis_lsm_flushes_total') === 0) {
    expect(written, 'no flush after 8 MiB').toBeLessThan((8 * 1024 * 1024) / CORRUPT_VALUE_BYTES);
    const ops: BatchOp[] = Array.from({ length: BATCH_OPS }, (_, j) => ({ op: 'put', key: tableKey(written + j), value: expectedValue(tableKey(written + j)) }));
    const answer = await postBatch(server.url, ops);
    expect(answer.status, answer.text).toBe(200);
    written += BATCH_OPS;
  }
  const tail = Array.from({ length: TAIL_KEYS }, (_, i) => tailKey(i));
  expect((await postBatch(server.url, tail.map((key) => ({ op: 'put', key, value: expectedValue(key) })))).status).toBe(200);
  expect(await server.stop()).toBe(0);

  // The flush counter is scraped between batches, so on a slow machine the next memtable can fill
  // and flush before the first flush is seen: one or two level-0 tables, never enough (4) for a
  // compaction to rewrite them. Keys are written in ascending order, so the oldest table holds a
  // prefix of `keys`; that is the one damaged.
  const levels = readManifest(server.dataDir, 0)?.levels ?? [];
  const tables = levels.flat();
  expect(tables.length, 'one or two flushes, all in level 0').toBeGreaterThanOrEqual(1);
  expect(tables.length, 'one or two flushes, all in level 0').toBe(levels[0]?.length ?? 0);
  expect(tables.length).toBeLessThan(4);
  expect(sstFiles(server.dataDir, 0)).toEqual(tables.map((t) => tableFileName(t.fileNumber)).sort());
  const table = tables.reduce((oldest, t) => (t.fileNumber < oldest.fileNumber ? t : oldest));
  flipBytes(join(sstDir(server.dataDir, 0), tableFileName(table.fileNumber)), Math.floor(table.fileBytes * 0.4), 16);
  return { table, keys: Array.from({ length: written }, (_, i) => tableKey(i)), tail };
}
