// SSTable micro-benchmark: one table of 100k entries written, point-read and scanned
// in-process (no server, no WAL), to see what the table format itself costs.
//
//   npm run build --silent && node dist/bench/sst-micro.js
//
// Environment: SST_BENCH_ENTRIES (100000), SST_BENCH_VALUE_BYTES (100),
// SST_BENCH_GETS (200000), SST_BENCH_REPEATS (3; the median is printed).
// Figures are machine-dependent; compare runs on the same box only.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlockCache } from '../workers/lsm/block-cache.js';
import { KIND_PUT, newReadStats, type LsmEntry, type SstOptions } from '../workers/lsm/sst-format.js';
import { SstReader } from '../workers/lsm/sst-reader.js';
import { SstWriter } from '../workers/lsm/sst-writer.js';
import { envInt } from './lib/env.js';

const ENTRIES = envInt('SST_BENCH_ENTRIES', 100_000, 1);
const VALUE_BYTES = envInt('SST_BENCH_VALUE_BYTES', 100, 1);
const GETS = envInt('SST_BENCH_GETS', 200_000, 1);
const REPEATS = envInt('SST_BENCH_REPEATS', 3, 1);
const MIB = 1024 * 1024;

function keyOf(i: number): Buffer {
  return Buffer.from(`user:${String(i).padStart(10, '0')}`);
}

/** Values half random, half repeated text: lz4 finds something but not everything. */
function makeEntries(): LsmEntry[] {
  let x = 12345;
  const out: LsmEntry[] = [];
  for (let i = 0; i < ENTRIES; i++) {
    const value = Buffer.alloc(VALUE_BYTES);
    for (let j = 0; j < VALUE_BYTES; j++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      value[j] = j < VALUE_BYTES / 2 ? x >>> 24 : 0x61 + (j % 13);
    }
    out.push({ key: keyOf(i), seq: i + 1, kind: KIND_PUT, expiresAtMs: 0, contentType: 'application/octet-stream', value });
  }
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function timeMs(fn: () => void): number {
  const t = performance.now();
  fn();
  return performance.now() - t;
}

/** A fixed pseudo-random sequence of key indexes, the same for every run. */
function randomIndexes(count: number): Uint32Array {
  const out = new Uint32Array(count);
  let x = 987654321;
  for (let i = 0; i < count; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = x % ENTRIES;
  }
  return out;
}

type Row = [string, string];

function benchWrite(dir: string, entries: LsmEntry[], options: Partial<SstOptions>, label: string, rows: Row[]): string {
  let file = '';
  let rawBytes = 0;
  let fileBytes = 0;
  const times: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    file = join(dir, `${label}-${r}.sst`);
    times.push(
      timeMs(() => {
        const writer = SstWriter.create(file, r + 1, options);
        for (const e of entries) writer.add(e);
        const meta = writer.finish();
        rawBytes = meta.rawBytes;
        fileBytes = meta.fileBytes;
      }),
    );
  }
  const ms = median(times);
  rows.push([`write (${label}, incl. fsync)`, `${(rawBytes / MIB / (ms / 1000)).toFixed(1)} MB/s of user data, ${(ENTRIES / (ms / 1000) / 1000).toFixed(0)}k entries/s; file ${(fileBytes / MIB).toFixed(1)} MiB = ${((fileBytes / rawBytes) * 100).toFixed(0)} % of raw`]);
  return file;
}

function benchGets(file: string, rows: Row[]): void {
  const idx = randomIndexes(GETS);
  const keys = Array.from(idx, keyOf);
  const run = (cache: BlockCache | null, label: string): void => {
    const reader = SstReader.open(file, 1, cache);
    const stats = newReadStats();
    if (cache !== null) for (const k of keys) reader.get(k); // warm
    const ms = median(
      Array.from({ length: REPEATS }, () =>
        timeMs(() => {
          for (const k of keys) if (reader.get(k, undefined, stats) === undefined) throw new Error('missing key');
        }),
      ),
    );
    const perGet = stats.blocksRead / (GETS * REPEATS);
    rows.push([`point get, ${label}`, `${(GETS / (ms / 1000) / 1000).toFixed(0)}k ops/s, ${perGet.toFixed(2)} disk blocks/get`]);
    reader.close();
  };
  run(new BlockCache(256 * MIB), 'warm block cache');
  run(null, 'no block cache (page cache only)');
  const reader = SstReader.open(file, 1, null);
  const absent = keys.map((k) => Buffer.concat([k, Buffer.from('x')]));
  const stats = newReadStats();
  const ms = timeMs(() => {
    for (const k of absent) reader.get(k, undefined, stats);
  });
  rows.push(['point get, absent keys', `${(GETS / (ms / 1000) / 1000).toFixed(0)}k ops/s, ${((1 - stats.filterNegatives / GETS) * 100).toFixed(2)} % past the bloom filter`]);
  reader.close();
}

function benchScan(file: string, rows: Row[]): void {
  const reader = SstReader.open(file, 1, null);
  let bytes = 0;
  const ms = median(
    Array.from({ length: REPEATS }, () =>
      timeMs(() => {
        bytes = 0;
        const it = reader.iterator(undefined, { fillCache: false });
        for (it.seekToFirst(); it.valid(); it.next()) {
          const e = it.entry();
          bytes += e.key.length + e.value.length + e.contentType.length;
        }
      }),
    ),
  );
  rows.push(['full iteration (no cache fill)', `${(bytes / MIB / (ms / 1000)).toFixed(1)} MB/s of user data, ${(ENTRIES / (ms / 1000) / 1e6).toFixed(2)}M entries/s`]);
  rows.push(['table memory (index + filter)', `${(reader.memoryBytes / 1024).toFixed(0)} KiB for ${reader.index.count} blocks`]);
  reader.close();
}

function main(): void {
  const dir = mkdtempSync(join(tmpdir(), 'mantis-sst-bench-'));
  try {
    const entries = makeEntries();
    const rows: Row[] = [];
    benchWrite(dir, entries, { compress: false }, 'no compression', rows);
    const file = benchWrite(dir, entries, {}, 'lz4, 8 KiB blocks', rows);
    benchGets(file, rows);
    benchScan(file, rows);
    console.log(`SST micro-benchmark: ${ENTRIES} entries, ${VALUE_BYTES}-byte values, ${GETS} gets, median of ${REPEATS} (node ${process.version})`);
    const width = Math.max(...rows.map(([k]) => k.length));
    for (const [k, v] of rows) console.log(`  ${k.padEnd(width)}  ${v}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
