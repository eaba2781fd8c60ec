// The shared-memory timestamp oracle: unique, strictly increasing timestamps
// across worker threads (with and without a durable reservation racing them),
// the GC horizon, restart monotonicity through the durable high-water mark,
// exhaustion (refused, never an unreserved timestamp), a failing reservation
// disk, and kill -9 of a process taking timestamps.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { MantisError } from '../../shared/errors.js';
import { createOracle, ORACLE_BYTES, RESERVATION_FILE, TimestampOracle, TimestampReserver } from '../../shared/txn/timestamp-oracle.js';
import { tempDirMaker } from '../cache/temp-dirs.js';
import { ensureBuilt, ROOT, runAndKill, wholeLines } from '../helpers/child-process.js';

const DIST_ORACLE = 'dist/shared/txn/timestamp-oracle.js';
const SOURCES = ['shared/txn/timestamp-oracle.ts', 'shared/durable-file.ts', 'shared/errors.ts'];

const tempDir = tempDirMaker('mantis-ts-');

/** Builds dist/ when the compiled oracle is missing or older than its sources. */
const ensureOracleBuilt = (): void => ensureBuilt(DIST_ORACLE, SOURCES);

type WorkerResult = { out: Float64Array; refused: number; horizon: number };

/** Starts `threads` workers on the oracle, opens their gate at once, and collects what each took. */
async function takeInWorkers(sab: SharedArrayBuffer, threads: number, count: number, alsoOnMain: () => Promise<number[]>): Promise<{ workers: WorkerResult[]; main: number[] }> {
  const gate = new SharedArrayBuffer(4);
  const workers = Array.from({ length: threads }, () => new Worker(join(ROOT, 'test/txn/fixtures/timestamp-worker.mjs'), { workerData: { sab, gate, count } }));
  const results = workers.map(
    (worker) =>
      new Promise<WorkerResult>((resolve, reject) => {
        worker.on('message', (msg: { ready?: boolean } & WorkerResult) => {
          if (msg.ready !== true) resolve(msg);
        });
        worker.on('error', reject);
      }),
  );
  await Promise.all(workers.map((worker) => new Promise((resolve) => worker.once('message', resolve))));
  Atomics.store(new Int32Array(gate), 0, 1);
  Atomics.notify(new Int32Array(gate), 0);
  const main = await alsoOnMain();
  const done = await Promise.all(results);
  await Promise.all(workers.map((worker) => worker.terminate()));
  return { workers: done, main };
}

/** Takes `count` timestamps on the main thread in chunks, yielding between them; refused ones are retried. */
async function takeOnMain(oracle: TimestampOracle, count: number): Promise<number[]> {
  const out: number[] = [];
  while (out.length < count) {
    for (let i = 0; i < 500 && out.length < count; i++) {
      try {
        out.push(oracle.next());
      } catch (error) {
        if ((error as MantisError).code !== 'STORAGE_IO') throw error;
        break;
      }
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  return out;
}

function expectIncreasing(values: ArrayLike<number>): void {
  for (let i = 1; i < values.length; i++) if (!(values[i] > values[i - 1])) expect.fail(`not increasing at ${i}: ${values[i - 1]} then ${values[i]}`);
}

function minMax(values: Iterable<number>): [number, number] {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return [min, max];
}

/** FileHandle is not exported: take its prototype from an open handle. */
async function fileHandlePrototype(): Promise<{ sync: () => Promise<void> }> {
  const handle = await open(join(tempDir(), 'probe'), 'w');
  await handle.close();
  return Object.getPrototypeOf(handle) as { sync: () => Promise<void> };
}

/** The MantisError `fn` throws. */
function thrown(fn: () => unknown): MantisError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(MantisError);
    return error as MantisError;
  }
  return expect.fail('did not throw');
}

const fsError = (code: string): NodeJS.ErrnoException => Object.assign(new Error(`${code}: injected`), { code });

afterEach(() => {
  vi.restoreAllMocks();
});

describe('TimestampOracle', () => {
  beforeAll(ensureOracleBuilt, 120_000);

  it('hands out start + 1, start + 2, ... and refuses a buffer that is not an oracle', () => {
    const oracle = new TimestampOracle(createOracle(41));
    expect(oracle.current()).toBe(41);
    expect([oracle.next(), oracle.next(), oracle.next()]).toEqual([42, 43, 44]);
    expect(oracle.current()).toBe(44);
    expect(oracle.reserved()).toBe(Number.MAX_SAFE_INTEGER);
    expect(() => new TimestampOracle(new SharedArrayBuffer(ORACLE_BYTES))).toThrow(/not a timestamp oracle/);
    expect(() => new TimestampOracle(new SharedArrayBuffer(64))).toThrow(/not a timestamp oracle/);
    expect(() => createOracle(-1)).toThrow();
  });

  it('publishes the GC horizon: 0 at first, never lowered, null = current()', () => {
    const oracle = new TimestampOracle(createOracle(0));
    expect(oracle.oldestSnapshot()).toBe(0);
    for (let i = 0; i < 10; i++) oracle.next();
    oracle.setOldestSnapshot(4);
    expect(oracle.oldestSnapshot()).toBe(4);
    expect(() => oracle.setOldestSnapshot(3)).toThrow(/cannot go back/);
    oracle.setOldestSnapshot(null);
    expect(oracle.oldestSnapshot()).toBe(10);
    expect(() => oracle.setOldestSnapshot(Infinity)).toThrow();
  });

  it('is unique and strictly increasing across 4 worker threads and the main thread', async () => {
    const sab = createOracle(1000);
    const oracle = new TimestampOracle(sab);
    oracle.setOldestSnapshot(777);
    const count = 100_000;
    const { workers, main } = await takeInWorkers(sab, 4, count, () => takeOnMain(oracle, 20_000));
    const all = new Set<number>(main);
    expectIncreasing(main);
    for (const w of workers) {
      expect(w.out.length).toBe(count);
      expect(w.refused).toBe(0);
      expect(w.horizon).toBe(777);
      expectIncreasing(w.out);
      for (const t of w.out) all.add(t);
    }
    const total = 4 * count + 20_000;
    expect(all.size).toBe(total);
    // No reservation limit: no gaps either, exactly 1001..1000 + total.
    expect(minMax(all)).toEqual([1001, 1000 + total]);
    expect(oracle.current()).toBe(1000 + total);
  });

  it('stays unique and increasing while small durable blocks are reserved under the threads', async () => {
    const dir = tempDir();
    const reserver = await TimestampReserver.open(dir, { block: 2000 });
    const oracle = reserver.oracle;
    const count = 30_000;
    const { workers, main } = await takeInWorkers(reserver.buffer, 3, count, () => takeOnMain(oracle, 10_000));
    await reserver.settled();
    const all = new Set<number>(main);
    expectIncreasing(main);
    for (const w of workers) {
      expectIncreasing(w.out);
      for (const t of w.out) all.add(t);
    }
    expect(all.size).toBe(3 * count + 10_000);
    const [, max] = minMax(all);
    const stats = reserver.stats();
    // Nothing was handed out above what is durable, and the blocks kept coming.
    expect(max).toBeLessThanOrEqual(stats.reserved);
    expect(stats.reservations).toBeGreaterThanOrEqual(Math.floor((3 * count + 10_000) / 2000));
    await reserver.close();
    const again = await TimestampReserver.open(dir, { block: 2000 });
    expect(again.oracle.next()).toBeGreaterThan(max);
    await again.close();
  });
});

describe('TimestampReserver (durable high-water mark)', () => {
  beforeAll(ensureOracleBuilt, 120_000);

  it('starts every run above everything the previous runs handed out', async () => {
    const dir = tempDir();
    let previousMax = 0;
    for (let run = 0; run < 3; run++) {
      const reserver = await TimestampReserver.open(dir, { block: 100 });
      const taken = await takeOnMain(reserver.oracle, 250); // crosses two refills
      expect(taken[0]).toBeGreaterThan(previousMax);
      expectIncreasing(taken);
      previousMax = taken[taken.length - 1];
      await reserver.settled();
      expect(reserver.stats().reserved).toBeGreaterThanOrEqual(previousMax);
      await reserver.close();
    }
    // A fresh start begins right at the persisted mark.
    const persisted = readFileSync(join(dir, RESERVATION_FILE)).readBigUInt64LE(8);
    const reserver = await TimestampReserver.open(dir, { block: 100 });
    expect(reserver.oracle.next()).toBe(Number(persisted) + 1);
    await reserver.close();
  });

  it('starts above a floor, and drops a replacement cut short by a crash', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, `${RESERVATION_FILE}.tmp`), 'half a replacement');
    const reserver = await TimestampReserver.open(dir, { block: 10, floor: 5_000 });
    expect(existsSync(join(dir, `${RESERVATION_FILE}.tmp`))).toBe(false);
    expect(reserver.oracle.next()).toBe(5_001);
    expect(reserver.stats()).toMatchObject({ reserved: 5_010, reservations: 1, failures: 0 });
    await reserver.close();
  });

  it('refuses a damaged mark with DATA_CORRUPT rather than risk repeating timestamps', async () => {
    const dir = tempDir();
    const reserver = await TimestampReserver.open(dir, { block: 10 });
    await reserver.close();
    const path = join(dir, RESERVATION_FILE);
    const buf = readFileSync(path);
    buf[9] ^= 0x40;
    writeFileSync(path, buf);
    const error = await TimestampReserver.open(dir).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MantisError);
    expect((error as MantisError).code).toBe('DATA_CORRUPT');
    expect((error as MantisError).message).toContain('damaged timestamp reservation');
  });

  it('refuses next() with STORAGE_IO when the block is used up before the next one is durable, then recovers', async () => {
    const reserver = await TimestampReserver.open(tempDir(), { block: 10 });
    const oracle = reserver.oracle;
    // Synchronously, so the reservation asked for at 5 cannot land in between.
    const taken = Array.from({ length: 10 }, () => oracle.next());
    expect(taken).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const refused = thrown(() => oracle.next());
    expect(refused.code).toBe('STORAGE_IO');
    expect(refused.status).toBe(503);
    expect(refused.message).toMatch(/durable reservation \(10\).*not durable yet/);
    expect(oracle.current()).toBe(10);
    await reserver.settled();
    const after = oracle.next();
    expect(after).toBeGreaterThan(10);
    expect(after).toBeLessThanOrEqual(reserver.stats().reserved);
    await reserver.close();
  });

  it('a failing reservation disk refuses next() past the mark (STORAGE_FULL) and is retried until it works', async () => {
    const reserver = await TimestampReserver.open(tempDir(), { block: 10, retryMs: 20 });
    const oracle = reserver.oracle;
    const proto = await fileHandlePrototype();
    const sync = vi.spyOn(proto, 'sync').mockRejectedValue(fsError('ENOSPC'));
    for (let i = 0; i < 5; i++) oracle.next(); // asks for the next block
    await vi.waitFor(() => expect(reserver.stats().failures).toBeGreaterThanOrEqual(1));
    for (let i = 0; i < 5; i++) oracle.next(); // what the first block holds is still fine
    const refused = thrown(() => oracle.next());
    expect(refused.code).toBe('STORAGE_FULL');
    expect(refused.message).toContain('disk full');
    expect(reserver.stats().reserved).toBe(10);
    sync.mockRestore();
    await reserver.settled();
    expect(oracle.next()).toBeGreaterThan(10);
    expect(reserver.stats().reserved).toBeGreaterThan(10);
    await reserver.close();
  });

  describe('kill -9 of a process taking timestamps', () => {
    /** Runs the taker until it has printed `lines` bursts, then SIGKILLs it; returns its output. */
    const runTaker = (dir: string, block: number, lines: number): Promise<string> => runAndKill('test/txn/fixtures/timestamp-taker.mjs', [dir, String(block)], lines, 'taker');

    it('after each of three kills, every new timestamp is larger than every one the dead process printed', async () => {
      const dir = tempDir();
      let before = 0;
      for (const lines of [150, 400, 250]) {
        const printed = wholeLines(await runTaker(dir, 1000, lines))
          .filter((l) => l.startsWith('ts '))
          .flatMap((l) => l.slice(3).split(' ').map(Number));
        expect(printed.length).toBeGreaterThan(1000);
        expectIncreasing(printed);
        expect(printed[0]).toBeGreaterThan(before);
        const max = printed[printed.length - 1];
        const reserver = await TimestampReserver.open(dir, { block: 1000 });
        const next = reserver.oracle.next();
        expect(next).toBeGreaterThan(max);
        before = next;
        await reserver.close();
      }
    });
  });
});
