// workers/lsm/lsm-store.ts against a plain Map: random puts, overwrites,
// deletes and TTLs with tiny memtables, so every run flushes, compacts (in
// line, through the same task code the pool runs) and reads across memtables
// and several levels. Gets, listings with cursors and offsets, and counts must
// equal the model at every checkpoint; compaction keeps the newest version of
// every key and drops deletes and expired entries at the bottom level.

import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { LsmStore, runLsmTask, tuningFromBudget, type LsmTuning } from '../../workers/lsm/index.js';
import { binaryToKey } from '../../workers/store/memtable.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tinyTuning(): LsmTuning {
  const base = tuningFromBudget(1 << 20);
  return {
    ...base,
    memtableBytes: 4096,
    blockCacheBytes: 16 * 1024,
    sst: { ...base.sst, blockBytes: 512 },
    level0CompactTables: 2,
    level0StallTables: 1000,
    level1Bytes: 8 * 1024,
    levelMultiplier: 3,
    tableTargetBytes: 4096,
    levelCount: 5,
  };
}

function openStore(dir: string, tuning = tinyTuning()): LsmStore {
  return LsmStore.open({
    dir,
    tuning,
    runTask: (task) => Promise.resolve(runLsmTask(task)),
    log: () => undefined,
  });
}

type ModelEntry = { value: string; expiresAtMs: number };
const live = (e: ModelEntry | undefined, now: number): e is ModelEntry => e !== undefined && (e.expiresAtMs === 0 || e.expiresAtMs > now);

function modelList(model: Map<string, ModelEntry>, prefix: string, after: string | null, skip: number, limit: number, now: number) {
  const keys = [...model.keys()]
    .filter((k) => live(model.get(k), now) && k.startsWith(prefix) && (after === null || k > after))
    .sort()
    .slice(skip);
  return { keys: keys.slice(0, limit), more: keys.length > limit };
}

const KEY_CHARS = ['a', 'b', 'c', '\x00', '\xff'];
const keyArb = fc.array(fc.constantFrom(...KEY_CHARS), { minLength: 1, maxLength: 4 }).map((a) => a.join(''));
type Op =
  | { kind: 'put'; key: string; value: string; ttl: number }
  | { kind: 'delete'; key: string }
  | { kind: 'tick'; ms: number }
  | { kind: 'settle' };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 12, arbitrary: fc.record({ kind: fc.constant('put' as const), key: keyArb, value: fc.string({ maxLength: 300, size: 'max' }), ttl: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 50 })) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('delete' as const), key: keyArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 30 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'settle' as const }) },
);

async function check(store: LsmStore, model: Map<string, ModelEntry>, now: number): Promise<void> {
  for (const k of new Set([...model.keys(), 'zz', '\x00', 'a'])) {
    const got = store.get(binaryToKey(k), now);
    const want = model.get(k);
    expect(got === undefined ? undefined : Buffer.from(got.value).toString('utf8'), `get ${JSON.stringify(k)}`).toBe(live(want, now) ? want.value : undefined);
  }
  for (const prefix of ['', 'a', 'b\xff', '\x00']) {
    expect(store.count(prefix, now), `count ${JSON.stringify(prefix)}`).toBe(modelList(model, prefix, null, 0, 1e9, now).keys.length);
    for (const [after, skip, limit] of [[null, 0, 1000], [null, 2, 3], ['a', 0, 5], ['b', 1, 2], ['\xff', 0, 10]] as const) {
      expect(store.list(prefix, after, skip, limit, now), `list ${JSON.stringify([prefix, after, skip, limit])}`).toEqual(modelList(model, prefix, after, skip, limit, now));
    }
  }
  // Cursor paging visits every live key once, in order.
  const paged: string[] = [];
  let cursor: string | null = null;
  for (;;) {
    const page = store.list('', cursor, 0, 7, now);
    paged.push(...page.keys);
    if (!page.more) break;
    cursor = page.keys[page.keys.length - 1];
  }
  expect(paged).toEqual(modelList(model, '', null, 0, 1e9, now).keys);
}

async function runOps(ops: Op[]): Promise<{ store: LsmStore; model: Map<string, ModelEntry>; now: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'mantis-lsm-'));
  dirs.push(dir);
  const store = openStore(dir);
  const model = new Map<string, ModelEntry>();
  // A virtual clock ahead of the real one: compaction drops what is expired by real time, which is then expired here too.
  let now = Date.now() + 1000;
  let lsn = 0;
  for (const [i, op] of ops.entries()) {
    switch (op.kind) {
      case 'put': {
        const expiresAtMs = op.ttl === 0 ? 0 : now + op.ttl;
        store.put(binaryToKey(op.key), new Uint8Array(Buffer.from(op.value, 'utf8')), 'text/plain', expiresAtMs);
        model.set(op.key, { value: op.value, expiresAtMs });
        break;
      }
      case 'delete':
        store.delete(binaryToKey(op.key));
        model.delete(op.key);
        break;
      case 'tick':
        now += op.ms;
        break;
      case 'settle':
        await store.settle();
        break;
    }
    if (store.wantsFreeze()) store.freeze(++lsn, lsn);
    if (store.writeStalled()) await store.settle(); // as the shard holds writes during a stall
    if (i % 16 === 0) store.sweepExpired(now, 5);
    if (i % 50 === 49) await check(store, model, now);
  }
  await store.settle();
  await check(store, model, now);
  return { store, model, now };
}

describe('LsmStore against a Map', () => {
  it('agrees on get, list, cursors and count through flushes and compactions', { timeout: 180_000 }, async () => {
    let flushes = 0;
    let compactions = 0;
    let deepest = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 50, maxLength: 600, size: 'max' }), async (ops) => {
        const { store } = await runOps(ops);
        const s = store.stats();
        flushes += s.flushes;
        compactions += s.compactions + s.trivialMoves;
        deepest = Math.max(deepest, ...s.levels.filter((l) => l.tables > 0).map((l) => l.level));
        await store.close();
      }),
      { numRuns: 25, seed: 0x1b5 },
    );
    // The runs really went through tables and levels, not just the memtable.
    expect(flushes).toBeGreaterThan(100);
    expect(compactions).toBeGreaterThan(20);
    expect(deepest).toBeGreaterThanOrEqual(2);
  });

  it('reopens from its manifest with the flushed data, and removes tables no manifest names', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mantis-lsm-'));
    dirs.push(dir);
    const store = openStore(dir);
    const value = (i: number): Uint8Array => new Uint8Array(Buffer.from(`value-${i}-`.repeat(10)));
    for (let i = 0; i < 2000; i++) {
      store.put(binaryToKey(`k${String(i).padStart(5, '0')}`), value(i), 'application/octet-stream', 0);
      if (store.wantsFreeze()) store.freeze(i, i);
      if (i % 100 === 0) await store.settle();
    }
    await store.settle();
    const flushed = store.stats();
    expect(flushed.flushes).toBeGreaterThan(5);
    expect(flushed.compactions).toBeGreaterThan(0);
    const flushedLsn = store.flushedLsn;
    await store.close();

    // A crash between writing a table and the manifest leaves an orphan: opening removes it.
    const orphan = join(dir, '000999999999.sst');
    rmSync(orphan, { force: true });
    (await import('node:fs')).writeFileSync(orphan, 'partial table');
    const again = openStore(dir);
    expect(readdirSync(dir)).not.toContain('000999999999.sst');
    expect(again.flushedLsn).toBe(flushedLsn);
    const now = Date.now();
    let found = 0;
    for (let i = 0; i < 2000; i++) {
      const e = again.get(binaryToKey(`k${String(i).padStart(5, '0')}`), now);
      if (e !== undefined) {
        expect(Buffer.from(e.value).equals(Buffer.from(value(i)))).toBe(true);
        found++;
      }
    }
    // Everything up to the last flush is in tables; the rest lived only in the memtable (the WAL holds it in a shard).
    expect(found).toBeGreaterThan(1500);
    expect(again.list('k', null, 0, 1000, now).keys.length).toBe(Math.min(found, 1000));
    await again.close();
  });

  it('keeps only the newest version and drops deletes and expired entries at the bottom level', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mantis-lsm-'));
    dirs.push(dir);
    const tuning = { ...tinyTuning(), levelCount: 2, level0CompactTables: 2 };
    const store = openStore(dir, tuning);
    const now = Date.now();
    let lsn = 0;
    const write = async (fn: () => void): Promise<void> => {
      fn();
      if (store.wantsFreeze()) store.freeze(++lsn, lsn);
      await store.settle();
    };
    for (let round = 0; round < 9; round++) {
      if (round <= 5) {
        for (let i = 0; i < 60; i++) {
          const key = binaryToKey(`key${i}`);
          const value = new Uint8Array(Buffer.from(`r${round}`.padEnd(80, '.')));
          await write(() => {
            if (round === 5 && i % 3 === 0) store.delete(key);
            else if (round === 5 && i % 3 === 1) store.put(key, value, 't', now - 1);
            else store.put(key, value, 't', 0);
          });
        }
      }
      // Unique padding keys: each round flushes several memtables, so older rounds sink to the bottom.
      for (let p = 0; p < 60; p++) await write(() => store.put(binaryToKey(`pad${round}-${p}`), new Uint8Array(100), 't', 0));
    }
    await store.settle();
    const s = store.stats();
    expect(s.compactions).toBeGreaterThan(0);
    for (let i = 0; i < 60; i++) {
      const e = store.get(binaryToKey(`key${i}`), now);
      if (i % 3 === 2) expect(Buffer.from((e as { value: Uint8Array }).value).toString().startsWith('r5')).toBe(true);
      else expect(e).toBeUndefined();
    }
    // Every older version, tombstone and expired put is gone: what is held is exactly the live keys.
    expect(s.levels[1].tables).toBeGreaterThan(0);
    expect(s.levels.reduce((n, l) => n + l.tombstones, 0)).toBe(0);
    expect(store.approxKeys()).toBe(20 + 9 * 60);
    expect(store.count('', now)).toBe(20 + 9 * 60);
    await store.close();
  });
});
