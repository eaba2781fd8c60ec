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
 * REQUIRES: a fresh 1-shard server with a small --memory-budget-mb. Stops it (SIGTERM) once one
 * table exists, then damages that table 40% into the file — deep inside the data blocks, since
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

  const tables = (readManifest(server.dataDir, 0)?.levels ?? []).flat();
  expect(tables.length, 'one flush, one table').toBe(1);
  expect(sstFiles(server.dataDir, 0)).toEqual([tableFileName(tables[0].fileNumber)]);
  const table = tables[0];
  flipBytes(join(sstDir(server.dataDir, 0), tableFileName(table.fileNumber)), Math.floor(table.fileBytes * 0.4), 16);
  return { table, keys: Array.from({ length: written }, (_, i) => tableKey(i)), tail };
}
