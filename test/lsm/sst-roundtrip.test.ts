// Property tests: a table written from an arbitrary entry set reads back exactly as a
// plain sorted model says, through full iteration, get(key, maxSeq) and seek.
import fc from 'fast-check';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlockCache } from '../../workers/lsm/block-cache.js';
import { compareKeys, KIND_DELETE, KIND_PUT, newReadStats, type LsmEntry } from '../../workers/lsm/sst-format.js';
import {
  entrySetArb,
  makeTempDir,
  modelGet,
  modelLowerBound,
  openTable,
  optionsArb,
  plain,
  probeKeys,
  readAll,
  removeDir,
  sameEntry,
  writeTable,
} from './sst-helpers.js';

const NEWEST = Number.MAX_SAFE_INTEGER;

function distinctKeys(sorted: readonly LsmEntry[]): Buffer[] {
  const out: Buffer[] = [];
  for (const e of sorted) if (out.length === 0 || compareKeys(out[out.length - 1], e.key) !== 0) out.push(Buffer.from(e.key));
  return out;
}

describe('sst round trip against a sorted model', () => {
  let dir: string;
  let n = 0;
  beforeAll(() => {
    dir = makeTempDir();
  });
  afterAll(() => removeDir(dir));
  const nextFile = (): string => path.join(dir, `${String(++n).padStart(6, '0')}.sst`);

  it('iteration, get at every seq, seek and meta agree with the model', () => {
    const caseArb = optionsArb.chain((options) =>
      fc.record({
        options: fc.constant(options),
        entries: entrySetArb(options.blockBytes),
        cacheBytes: fc.constantFrom(0, 4096, 1 << 20, 1 << 20),
      }),
    );
    fc.assert(
      fc.property(caseArb, ({ options, entries, cacheBytes }) => {
        const file = nextFile();
        const meta = writeTable(file, entries, options, n);
        const cache = cacheBytes === 0 ? null : new BlockCache(cacheBytes);
        const reader = openTable(file, cache, n);
        try {
          expect(reader.meta).toEqual(meta);
          checkMeta(meta, entries);
          checkIteration(reader, entries);
          const keys = distinctKeys(entries);
          const versionsOf = groupByKey(entries);
          for (const key of probeKeys(keys)) {
            const versions = versionsOf.get(key.toString('hex')) ?? [];
            const maxSeqs = versions.length === 0 ? [NEWEST] : [NEWEST, 0, ...versions.flatMap((e) => [e.seq, e.seq - 1])];
            for (const maxSeq of maxSeqs) {
              const got = reader.get(key, maxSeq);
              const want = modelGet(versions, key, maxSeq);
              expect(got === undefined ? undefined : plain(got)).toEqual(want === undefined ? undefined : plain(want));
            }
            checkSeek(reader.iterator(), entries, key);
          }
        } finally {
          reader.close();
        }
      }),
      { numRuns: 100 },
    );
  });

  it('an empty table opens, iterates nothing and finds nothing', () => {
    const file = nextFile();
    const meta = writeTable(file, []);
    expect(meta).toMatchObject({ entries: 0, tombstones: 0, rawBytes: 0, minSeq: 0, maxSeq: 0, minExpiresAtMs: 0 });
    const reader = openTable(file);
    expect(readAll(reader)).toEqual([]);
    expect(reader.get(Buffer.from('a'))).toBeUndefined();
    const it = reader.iterator();
    it.seek(Buffer.from('a'));
    expect(it.valid()).toBe(false);
    reader.close();
  });

  it('counts disk reads, bytes and cache hits in ReadStats', () => {
    const file = nextFile();
    const entries: LsmEntry[] = [];
    for (let i = 0; i < 2000; i++) {
      entries.push({ key: Buffer.from(`k${String(i).padStart(6, '0')}`), seq: i + 1, kind: KIND_PUT, expiresAtMs: 0, contentType: 'text/plain', value: Buffer.alloc(40, i) });
    }
    writeTable(file, entries, { blockBytes: 1024 });
    const reader = openTable(file, new BlockCache(1 << 20));
    const stats = newReadStats();
    const key = Buffer.from('k001000');
    expect(reader.get(key, undefined, stats)?.seq).toBe(1001);
    expect(stats).toMatchObject({ blocksRead: 1, cacheHits: 0 });
    expect(stats.bytesRead).toBeGreaterThan(0);
    expect(reader.get(key, undefined, stats)?.seq).toBe(1001);
    expect(stats).toMatchObject({ blocksRead: 1, cacheHits: 1 });
    let negatives = 0;
    for (let i = 0; i < 200; i++) {
      reader.get(Buffer.from(`k${String(i).padStart(6, '0')}x`), undefined, stats);
      negatives = stats.filterNegatives;
    }
    expect(negatives).toBeGreaterThan(150);
    reader.close();
  });

  it('iterators and gets on one reader interleave without disturbing each other', () => {
    const file = nextFile();
    const entries: LsmEntry[] = [];
    for (let i = 0; i < 500; i++) {
      entries.push({ key: Buffer.from(`k${String(i).padStart(4, '0')}`), seq: i + 1, kind: KIND_PUT, expiresAtMs: 0, contentType: 'a/b', value: Buffer.from(`v${i}`) });
    }
    writeTable(file, entries, { blockBytes: 256 });
    const reader = openTable(file, new BlockCache(1 << 20));
    const a = reader.iterator();
    const b = reader.iterator();
    a.seekToFirst();
    b.seek(Buffer.from('k0250'));
    for (let i = 0; i < 250; i++) {
      const held = reader.get(entries[499 - i].key) as LsmEntry;
      expect(sameEntry(a.entry(), entries[i])).toBe(true);
      expect(sameEntry(b.entry(), entries[250 + i])).toBe(true);
      expect(sameEntry(reader.get(entries[i].key), entries[i])).toBe(true);
      expect(sameEntry(held, entries[499 - i])).toBe(true); // an earlier get's entry survives a later get
      a.next();
      b.next();
    }
    expect(b.valid()).toBe(false);
    reader.close();
  });

  it('values larger than the write buffer (MiBs, compressible or not) make oversized blocks that read back', () => {
    const file = nextFile();
    const random = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < random.length; i++) random[i] = (i * 2654435761) >>> 24;
    const entries: LsmEntry[] = [
      { key: Buffer.from('a'), seq: 1, kind: KIND_PUT, expiresAtMs: 0, contentType: '', value: Buffer.from('small') },
      { key: Buffer.from('b'), seq: 2, kind: KIND_PUT, expiresAtMs: 0, contentType: '', value: Buffer.alloc(5 * 1024 * 1024, 0x61) },
      { key: Buffer.from('c'), seq: 3, kind: KIND_PUT, expiresAtMs: 7, contentType: 'x', value: random },
      { key: Buffer.from('d'), seq: 4, kind: KIND_PUT, expiresAtMs: 0, contentType: '', value: Buffer.from('after') },
    ];
    const meta = writeTable(file, entries);
    expect(meta.fileBytes).toBeLessThan(4 * 1024 * 1024); // the 5 MiB run of 'a' compressed
    const reader = openTable(file, new BlockCache(64 * 1024 * 1024));
    checkIteration(reader, entries);
    for (const e of entries) expect(sameEntry(reader.get(e.key), e)).toBe(true);
    reader.close();
  });

  it('keeps meta: tombstones, seq range, raw bytes and the smallest expiry', () => {
    const file = nextFile();
    const entries: LsmEntry[] = [
      { key: Buffer.from('a'), seq: 9, kind: KIND_PUT, expiresAtMs: 500, contentType: 'x/y', value: Buffer.from('12345') },
      { key: Buffer.from('a'), seq: 3, kind: KIND_DELETE, expiresAtMs: 0, contentType: '', value: new Uint8Array(0) },
      { key: Buffer.from('b'), seq: 7, kind: KIND_PUT, expiresAtMs: 0, contentType: '', value: Buffer.from('xy') },
      { key: Buffer.from('c'), seq: 4, kind: KIND_PUT, expiresAtMs: 300, contentType: '', value: new Uint8Array(0) },
    ];
    const meta = writeTable(file, entries, {}, 42);
    expect(meta).toMatchObject({ fileNumber: 42, entries: 4, tombstones: 1, minSeq: 3, maxSeq: 9, rawBytes: 1 + 5 + 3 + 1 + 1 + 2 + 1, minExpiresAtMs: 300 });
    expect(Buffer.from(meta.smallestKey).toString()).toBe('a');
    expect(Buffer.from(meta.largestKey).toString()).toBe('c');
  });
});

/** Each user key's versions (hex key → entries, newest first). */
function groupByKey(entries: readonly LsmEntry[]): Map<string, LsmEntry[]> {
  const out = new Map<string, LsmEntry[]>();
  for (const e of entries) {
    const k = Buffer.from(e.key).toString('hex');
    out.set(k, [...(out.get(k) ?? []), e]);
  }
  return out;
}

function checkMeta(meta: ReturnType<typeof writeTable>, entries: readonly LsmEntry[]): void {
  const puts = entries.filter((e) => e.kind === KIND_PUT);
  const expiries = puts.map((e) => e.expiresAtMs).filter((x) => x !== 0);
  expect(meta.entries).toBe(entries.length);
  expect(meta.tombstones).toBe(entries.length - puts.length);
  expect(meta.minSeq).toBe(entries.length === 0 ? 0 : Math.min(...entries.map((e) => e.seq)));
  expect(meta.maxSeq).toBe(entries.length === 0 ? 0 : Math.max(...entries.map((e) => e.seq)));
  expect(meta.minExpiresAtMs).toBe(expiries.length === 0 ? 0 : Math.min(...expiries));
  expect(meta.rawBytes).toBe(entries.reduce((sum, e) => sum + e.key.length + e.value.length + e.contentType.length, 0));
  if (entries.length > 0) {
    expect(Buffer.from(meta.smallestKey)).toEqual(Buffer.from(entries[0].key));
    expect(Buffer.from(meta.largestKey)).toEqual(Buffer.from(entries[entries.length - 1].key));
  }
}

/** Full iteration yields exactly the model's entries, in order. */
function checkIteration(reader: ReturnType<typeof openTable>, entries: readonly LsmEntry[]): void {
  const it = reader.iterator();
  let i = 0;
  for (it.seekToFirst(); it.valid(); it.next(), i++) {
    if (!sameEntry(it.entry(), entries[i])) {
      expect({ index: i, got: plain(it.entry()) }).toEqual({ index: i, got: entries[i] && plain(entries[i]) });
    }
  }
  expect(i).toBe(entries.length);
}

/** seek(key) lands on the model's lower bound, and the next few entries follow in order. */
function checkSeek(it: ReturnType<ReturnType<typeof openTable>['iterator']>, entries: readonly LsmEntry[], key: Buffer): void {
  it.seek(key);
  const at = modelLowerBound(entries, key);
  for (let i = at; i < Math.min(at + 3, entries.length); i++) {
    if (!it.valid() || !sameEntry(it.entry(), entries[i])) {
      expect({ key, index: i, got: it.valid() ? plain(it.entry()) : 'end' }).toEqual({ key, index: i, got: plain(entries[i]) });
    }
    it.next();
  }
  if (at + 3 >= entries.length && it.valid()) expect({ key, got: plain(it.entry()) }).toEqual({ key, got: 'end' });
}
