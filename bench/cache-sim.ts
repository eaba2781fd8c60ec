// Cache hit-rate simulation (main thread, in-process; no server): zipfian
// (s = 0.99) GETs over 1M keys of equal size, with the cache sized at 10 % of
// the data, through the real CacheWriter + CacheReader (router hits recorded
// in the read buffer and drained by the writer exactly as in production; a
// miss is a read-through set), beside a plain LRU and Belady's optimal of the
// same byte capacity on the same trace. Then the speed of CacheReader.get hits.
//
//   npm run build --silent && node dist/bench/cache-sim.js
//
// Environment: CACHE_SIM_KEYS (1000000), CACHE_SIM_OPS (30000000),
// CACHE_SIM_VALUE_BYTES (64), CACHE_SIM_SEED (42), CACHE_SIM_READS (5000000).

import { ENTRY_OVERHEAD_BYTES, CacheReader, cacheHash, createCacheSegment } from '../shared/cache/index.js';
import { CacheWriter } from '../workers/cache/index.js';
import { beladyHits, lruHits, type TraceHits } from './lib/cache-baselines.js';
import { SeededRandom, ZipfSampler, zipfTrace } from './lib/cache-zipf.js';
import { envInt } from './lib/env.js';

const KEYS = envInt('CACHE_SIM_KEYS', 1_000_000, 1);
// 30 GETs per key on average: a shorter trace weighs the cold start (first misses of the hot keys) more.
const OPS = envInt('CACHE_SIM_OPS', 30_000_000, 1);
const VALUE_BYTES = envInt('CACHE_SIM_VALUE_BYTES', 64, 1);
const SEED = envInt('CACHE_SIM_SEED', 42, 1);
const READS = envInt('CACHE_SIM_READS', 5_000_000, 1);
const ZIPF_S = 0.99;
const CONTENT_TYPE = 'application/octet-stream';
const KEY_WIDTH = 11; // "k" + 10 digits
/** The shard drains the read buffer on every set and, besides, on this period (its sweeper tick). */
const DRAIN_EVERY_OPS = 1000;

interface Keys { readonly bytes: Uint8Array; readonly hashes: Uint32Array }

function makeKeys(count: number): Keys {
  const bytes = new Uint8Array(count * KEY_WIDTH);
  const hashes = new Uint32Array(count);
  for (let id = 0; id < count; id++) {
    const text = `k${String(id).padStart(KEY_WIDTH - 1, '0')}`;
    for (let i = 0; i < KEY_WIDTH; i++) bytes[id * KEY_WIDTH + i] = text.charCodeAt(i);
    hashes[id] = cacheHash(bytes.subarray(id * KEY_WIDTH, (id + 1) * KEY_WIDTH));
  }
  return { bytes, hashes };
}

const keyOf = (keys: Keys, id: number): Uint8Array => keys.bytes.subarray(id * KEY_WIDTH, (id + 1) * KEY_WIDTH);

interface OursResult { readonly hits: TraceHits; readonly drops: number; readonly entries: number; readonly seconds: number }

function runOurs(trace: Int32Array, keys: Keys, capacityBytes: number, warmup: number): OursResult & { reader: CacheReader } {
  const segment = createCacheSegment(capacityBytes);
  const writer = new CacheWriter(segment);
  const reader = new CacheReader(segment);
  const value = new Uint8Array(VALUE_BYTES);
  let all = 0;
  let afterWarmup = 0;
  const started = performance.now();
  for (let i = 0; i < trace.length; i++) {
    const id = trace[i];
    const key = keyOf(keys, id);
    if (reader.get(key, keys.hashes[id], 0) !== null) {
      all++;
      if (i >= warmup) afterWarmup++;
    } else {
      writer.set(key, value, CONTENT_TYPE, 0);
    }
    if (i % DRAIN_EVERY_OPS === 0) writer.drainReadBuffer();
  }
  const seconds = (performance.now() - started) / 1000;
  const hits = { all, afterWarmup };
  return { hits, drops: reader.stats().readBufferDrops, entries: writer.stats().entries, seconds, reader };
}

/** Ids of keys the reader holds (the first `count` hits along the trace). */
function cachedIds(reader: CacheReader, trace: Int32Array, keys: Keys, count: number): number[] {
  const ids = new Set<number>();
  for (let i = 0; i < trace.length && ids.size < count; i++) {
    if (reader.get(keyOf(keys, trace[i]), keys.hashes[trace[i]], 0) !== null) ids.add(trace[i]);
  }
  return [...ids];
}

/** Gets per second: CacheReader.get over cached keys, and a Map.get + copy of the same values for scale. */
function readerSpeed(reader: CacheReader, trace: Int32Array, keys: Keys): { reader: number; map: number; hitRate: number } {
  const ids = cachedIds(reader, trace, keys, 100_000);
  const random = new SeededRandom(SEED + 1);
  const order = Int32Array.from({ length: READS }, () => ids[random.nextU32() % ids.length]);
  let hits = 0;
  let started = performance.now();
  for (let i = 0; i < order.length; i++) {
    const id = order[i];
    if (reader.get(keyOf(keys, id), keys.hashes[id], 0) !== null) hits++;
  }
  const readerSeconds = (performance.now() - started) / 1000;
  const map = new Map<string, Uint8Array>(ids.map((id) => [`k${id}`, new Uint8Array(VALUE_BYTES)]));
  const names = ids.map((id) => `k${id}`);
  const byId = new Map<number, string>(ids.map((id, i) => [id, names[i]]));
  const orderNames = Array.from(order, (id) => byId.get(id) ?? '');
  let copied = 0;
  started = performance.now();
  for (let i = 0; i < orderNames.length; i++) copied += map.get(orderNames[i])?.slice().length ?? 0;
  const mapSeconds = (performance.now() - started) / 1000;
  return { reader: order.length / readerSeconds, map: copied / VALUE_BYTES / mapSeconds, hitRate: hits / order.length };
}

const pct = (hits: number, of: number): number => (100 * hits) / of;
const cell = (value: number): string => `${value.toFixed(2)} %`.padEnd(16);

function printTable(rows: [string, TraceHits][], ops: number, warmup: number): void {
  console.log(`${'policy'.padEnd(34)}${'all GETs'.padEnd(16)}after warm-up (last ${ops - warmup} GETs)`);
  for (const [name, hits] of rows) {
    console.log(`${name.padEnd(34)}${cell(pct(hits.all, ops))}${cell(pct(hits.afterWarmup, ops - warmup))}`);
  }
}

function printTargets(ours: TraceHits, lru: TraceHits, ops: number, warmup: number): void {
  for (const [label, mine, theirs, of] of [
    ['all GETs', ours.all, lru.all, ops],
    ['after warm-up', ours.afterWarmup, lru.afterWarmup, ops - warmup],
  ] as const) {
    const rate = pct(mine, of);
    const points = rate - pct(theirs, of);
    console.log(`${label}: > 80 % ${rate > 80 ? 'met' : 'NOT met'} (${rate.toFixed(2)} %); `
      + `>= 5 points over LRU ${points >= 5 ? 'met' : 'NOT met'} (${points >= 0 ? '+' : ''}${points.toFixed(2)})`);
  }
}

function main(): void {
  const entryBytes = KEY_WIDTH + VALUE_BYTES + CONTENT_TYPE.length + ENTRY_OVERHEAD_BYTES;
  const capacityBytes = Math.floor((KEYS * entryBytes) / 10);
  const capacityEntries = Math.floor(capacityBytes / entryBytes);
  const warmup = OPS >>> 1;
  console.log(`cache-sim: ${KEYS} keys, ${OPS} GETs, zipf s=${ZIPF_S}, seed ${SEED}; entry ${entryBytes} logical bytes `
    + `(key ${KEY_WIDTH}, value ${VALUE_BYTES}, content type ${CONTENT_TYPE.length}, overhead ${ENTRY_OVERHEAD_BYTES})`);
  console.log(`capacity ${capacityBytes} bytes = 10 % of the data = ${capacityEntries} entries; warm-up = first half of the trace`);
  const keys = makeKeys(KEYS);
  const trace = zipfTrace(KEYS, ZIPF_S, OPS, SEED);
  const ours = runOurs(trace, keys, capacityBytes, warmup);
  const lru = lruHits(trace, capacityEntries, warmup);
  const belady = beladyHits(trace, KEYS, capacityEntries, warmup);
  const topMass = new ZipfSampler(KEYS, ZIPF_S).massOfTop(capacityEntries);
  console.log('');
  printTable([['W-TinyLFU (CacheWriter/Reader)', ours.hits], ['LRU (Map, same bytes)', lru], ['Belady optimal (same bytes)', belady]], OPS, warmup);
  console.log(`${'(mass of the top 10 % keys)'.padEnd(34)}${(100 * topMass).toFixed(2)} %`);
  console.log('');
  printTargets(ours.hits, lru, OPS, warmup);
  console.log(`W-TinyLFU held ${ours.entries} entries; sim ${(OPS / ours.seconds / 1e6).toFixed(2)} M GETs/s through reader + writer; `
    + `read-buffer drops ${ours.drops}`);
  const speed = readerSpeed(ours.reader, trace, keys);
  console.log(`CacheReader.get hits in-process: ${(speed.reader / 1e6).toFixed(2)} M ops/s (${(1e9 / speed.reader).toFixed(0)} ns/op, `
    + `${VALUE_BYTES}-byte values copied, hit rate ${(100 * speed.hitRate).toFixed(1)} %); `
    + `Map.get + copy of the same values: ${(speed.map / 1e6).toFixed(2)} M ops/s`);
}

main();
