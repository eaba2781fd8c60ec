// Fixtures for the SSTable tests: temp dirs, a plain sorted model, fast-check
// arbitraries for entry sets, and helpers to write and read whole tables.
import fc from 'fast-check';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BlockCache } from '../../workers/lsm/block-cache.js';
import {
  compareInternal,
  compareKeys,
  KIND_DELETE,
  KIND_PUT,
  type LsmEntry,
  type SstMeta,
  type SstOptions,
} from '../../workers/lsm/sst-format.js';
import { SstReader } from '../../workers/lsm/sst-reader.js';
import { SstWriter } from '../../workers/lsm/sst-writer.js';

export function makeTempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'mantis-sst-'));
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** A plain, comparable copy of an entry (Buffers compare by content in toEqual). */
export type PlainEntry = { key: Buffer; seq: number; kind: number; expiresAtMs: number; contentType: string; value: Buffer };

export function plain(e: LsmEntry): PlainEntry {
  return {
    key: Buffer.from(e.key),
    seq: e.seq,
    kind: e.kind,
    expiresAtMs: e.expiresAtMs,
    contentType: e.contentType,
    value: Buffer.from(e.value),
  };
}

/** Field-by-field equality, cheaper than expect().toEqual in hot loops. */
export function sameEntry(a: LsmEntry | undefined, b: LsmEntry | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return (
    a.seq === b.seq &&
    a.kind === b.kind &&
    a.expiresAtMs === b.expiresAtMs &&
    a.contentType === b.contentType &&
    compareKeys(a.key, b.key) === 0 &&
    compareKeys(a.value, b.value) === 0
  );
}

export function sortInternal(entries: LsmEntry[]): LsmEntry[] {
  return [...entries].sort((a, b) => compareInternal(a.key, a.seq, b.key, b.seq));
}

/** The model's newest version of key with seq ≤ maxSeq. REQUIRES: sorted in internal order. */
export function modelGet(sorted: readonly LsmEntry[], key: Uint8Array, maxSeq: number): LsmEntry | undefined {
  return sorted.find((e) => compareKeys(e.key, key) === 0 && e.seq <= maxSeq);
}

/** Index of the first entry whose user key ≥ key (sorted.length when none). */
export function modelLowerBound(sorted: readonly LsmEntry[], key: Uint8Array): number {
  const i = sorted.findIndex((e) => compareKeys(e.key, key) >= 0);
  return i < 0 ? sorted.length : i;
}

export function writeTable(file: string, sorted: readonly LsmEntry[], options?: Partial<SstOptions>, fileNumber = 1): SstMeta {
  const writer = SstWriter.create(file, fileNumber, options);
  try {
    for (const e of sorted) writer.add(e);
    return writer.finish();
  } catch (err) {
    writer.abort();
    throw err;
  }
}

export function readAll(reader: SstReader): PlainEntry[] {
  const out: PlainEntry[] = [];
  const it = reader.iterator();
  for (it.seekToFirst(); it.valid(); it.next()) out.push(plain(it.entry()));
  return out;
}

export function openTable(file: string, cache: BlockCache | null = null, fileNumber = 1): SstReader {
  return SstReader.open(file, fileNumber, cache);
}

// ---- arbitraries -------------------------------------------------------------

const PREFIXES = ['', 'a', 'user/', 'user/alpha/', 'user/alpha/beta/', 'z'.repeat(1000)];
const CONTENT_TYPES = ['', 'application/octet-stream', 'text/plain', 'application/json; charset=utf-8'];

/** A short suffix over a small alphabet (a-d plus a few 0x00-ish bytes), so keys share prefixes. */
const suffixArb = fc.uint8Array({ maxLength: 6 }).map((b) => b.map((x) => (x % 6 === 0 ? x : 0x61 + (x % 4))));

/** User keys with shared prefixes, near-empty keys and keys up to 1024 bytes, bytes 0..255. */
export const userKeyArb: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(fc.constantFrom(...PREFIXES), suffixArb).map(([p, s]) => Buffer.concat([Buffer.from(p), s])) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1000, maxLength: 1024 }).map((b) => Buffer.from(b)) },
  { weight: 1, arbitrary: fc.constantFrom(Buffer.alloc(0), Buffer.from([0]), Buffer.from([0xff]), Buffer.from([0xff, 0xff])) },
);

type ValueSpec = { len: number; pattern: 'zeros' | 'text' | 'random'; seed: number };

function valueSpecArb(blockBytes: number): fc.Arbitrary<ValueSpec> {
  return fc.record({
    len: fc.oneof({ weight: 10, arbitrary: fc.integer({ min: 0, max: 64 }) }, { weight: 1, arbitrary: fc.integer({ min: 3 * blockBytes, max: 3 * blockBytes + 100 }) }),
    pattern: fc.constantFrom('zeros' as const, 'text' as const, 'random' as const),
    seed: fc.integer({ min: 0, max: 1_000_000 }),
  });
}

function makeValue(spec: ValueSpec): Buffer {
  const out = Buffer.alloc(spec.len);
  let x = spec.seed | 1;
  for (let i = 0; i < spec.len; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = spec.pattern === 'zeros' ? 0 : spec.pattern === 'text' ? 0x61 + ((i + spec.seed) % 7) : x >>> 24;
  }
  return out;
}

const seqArb = fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 1, max: 10_000 }) }, { weight: 1, arbitrary: fc.integer({ min: 2 ** 32 - 2, max: 2 ** 53 - 1 }) });

function versionArb(blockBytes: number) {
  return fc.record({
    seq: seqArb,
    kind: fc.constantFrom(KIND_PUT, KIND_PUT, KIND_DELETE),
    expiresAtMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 2 ** 45 })),
    contentType: fc.constantFrom(...CONTENT_TYPES),
    value: valueSpecArb(blockBytes),
  });
}

/** An entry set in internal order: distinct user keys with 1..4 versions each (distinct seqs). */
export function entrySetArb(blockBytes: number, maxKeys = 60): fc.Arbitrary<LsmEntry[]> {
  const versions = fc.uniqueArray(versionArb(blockBytes), { minLength: 1, maxLength: 4, selector: (v) => v.seq });
  return fc
    .uniqueArray(fc.tuple(userKeyArb, versions), { maxLength: maxKeys, selector: ([k]) => k.toString('hex') })
    .map((keys) =>
      sortInternal(
        keys.flatMap(([key, vs]) =>
          vs.map((v): LsmEntry =>
            v.kind === KIND_DELETE
              ? { key, seq: v.seq, kind: KIND_DELETE, expiresAtMs: 0, contentType: '', value: new Uint8Array(0) }
              : { key, seq: v.seq, kind: KIND_PUT, expiresAtMs: v.expiresAtMs, contentType: v.contentType, value: makeValue(v.value) },
          ),
        ),
      ),
    );
}

export const optionsArb: fc.Arbitrary<SstOptions> = fc.record({
  blockBytes: fc.constantFrom(256, 512, 4096),
  bloomBitsPerKey: fc.constantFrom(4, 10, 16),
  compress: fc.boolean(),
});

/** Keys near the given ones: each key, key + 0x00, key + 0xff, key minus its last byte, and a few fixed ones. */
export function probeKeys(keys: readonly Buffer[]): Buffer[] {
  const out: Buffer[] = [Buffer.alloc(0), Buffer.from([0]), Buffer.from('m'), Buffer.from([0xff, 0xff, 0xff])];
  for (const k of keys) {
    out.push(k, Buffer.concat([k, Buffer.from([0])]), Buffer.concat([k, Buffer.from([0xff])]));
    if (k.length > 0) out.push(k.subarray(0, k.length - 1));
  }
  return out;
}
