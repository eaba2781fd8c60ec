// The 2PC coordinator's decision log on real files in a temp dir: round trips
// through reopen, group commit (one fdatasync per turn), lazy done records,
// refusals, a torn tail cut off and a damaged middle refused, compaction
// keeping exactly the pending decisions, injected ENOSPC / EIO (undone, so a
// rejected decision never comes back; in doubt when the undo fails too), and
// acknowledged decisions surviving kill -9 of a writer process.
import { appendFileSync, existsSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { COORDINATOR_LOG_FILE, CoordinatorLog, CoordinatorLogError, type CoordinatorLogLogger } from '../../src/txn/coordinator-log.js';
import { tempDirMaker } from '../cache/temp-dirs.js';
import { ensureBuilt, runAndKill, wholeLines } from '../helpers/child-process.js';

const DIST_LOG = 'dist/src/txn/coordinator-log.js';
const LOG_SOURCES = ['src/txn/coordinator-log.ts', 'src/durable/group-log.ts', 'shared/durable-file.ts', 'shared/errors.ts'];

const tempDir = tempDirMaker('mantis-coord-');

function recordingLog(): CoordinatorLogLogger & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, info: () => undefined, warn: (_obj, msg) => warnings.push(msg) };
}

async function rejection(promise: Promise<unknown>): Promise<CoordinatorLogError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CoordinatorLogError);
  return error as CoordinatorLogError;
}

const logPath = (dir: string): string => join(dir, COORDINATOR_LOG_FILE);
const sizeOf = (dir: string): number => statSync(logPath(dir)).size;
const pendingIds = (log: CoordinatorLog): string[] => [...log.pending()].map((p) => p.txnId);

/** FileHandle is not exported: take its prototype from an open handle. */
async function fileHandlePrototype(): Promise<{ write: () => Promise<unknown>; datasync: () => Promise<void>; truncate: () => Promise<void> }> {
  const handle = await open(join(tempDir(), 'probe'), 'w');
  await handle.close();
  return Object.getPrototypeOf(handle) as { write: () => Promise<unknown>; datasync: () => Promise<void>; truncate: () => Promise<void> };
}

const fsError = (code: string): NodeJS.ErrnoException => Object.assign(new Error(`${code}: injected`), { code });

afterEach(() => {
  vi.restoreAllMocks();
});

describe('CoordinatorLog', () => {
  it('logs commit decisions durably, forgets done ones, and reads them back after reopening', async () => {
    const dir = tempDir();
    const log = await CoordinatorLog.open(dir);
    expect(log.decisionOf('t1')).toBeNull();
    await log.logCommit('t1', 100, [0, 3]);
    await log.logCommit('t2', 101, [1, 2, 5]);
    await log.logCommit('tx-ключ', 102, [7]);
    expect(log.decisionOf('t2')).toEqual({ outcome: 'commit', commitTs: 101, participants: [1, 2, 5] });
    expect(log.markDone('t1')).toBe(true);
    expect(log.markDone('t1')).toBe(false);
    expect(log.markDone('never')).toBe(false);
    expect(log.decisionOf('t1')).toBeNull();
    expect(pendingIds(log)).toEqual(['t2', 'tx-ключ']);
    await log.close();

    const again = await CoordinatorLog.open(dir);
    expect([...again.pending()]).toEqual([
      { txnId: 't2', outcome: 'commit', commitTs: 101, participants: [1, 2, 5] },
      { txnId: 'tx-ключ', outcome: 'commit', commitTs: 102, participants: [7] },
    ]);
    expect(again.decisionOf('t1')).toBeNull(); // done before close: forgotten
    expect(again.decisionOf('unknown')).toBeNull(); // presumed abort
    expect(again.stats()).toMatchObject({ records: 4, pending: 2, bytes: sizeOf(dir) });
    await again.close();
  });

  it('refuses bad arguments and a second decision for one transaction with INVALID_PARAMETER, and calls after close with SHUTTING_DOWN', async () => {
    const log = await CoordinatorLog.open(tempDir());
    const bad: [string, number, number[]][] = [
      ['', 1, [0]],
      ['x'.repeat(256), 1, [0]],
      ['\ud800', 1, [0]],
      ['t', 0, [0]],
      ['t', 1.5, [0]],
      ['t', Number.MAX_SAFE_INTEGER + 1, [0]],
      ['t', 1, []],
      ['t', 1, [0, 0]],
      ['t', 1, [-1]],
      ['t', 1, [65536]],
    ];
    for (const args of bad) expect((await rejection(log.logCommit(...args))).code).toBe('INVALID_PARAMETER');
    const first = log.logCommit('t', 5, [0]);
    expect((await rejection(log.logCommit('t', 6, [1]))).message).toContain('already has a commit decision');
    await first;
    expect((await rejection(log.logCommit('t', 6, [1]))).code).toBe('INVALID_PARAMETER');
    expect(log.stats().records).toBe(1);
    await log.close();
    expect((await rejection(log.logCommit('u', 7, [0]))).code).toBe('SHUTTING_DOWN');
  });

  it('group commit: the decisions of one turn share one write and one fdatasync, resolved in call order', async () => {
    const log = await CoordinatorLog.open(tempDir());
    const order: number[] = [];
    const before = log.stats();
    await Promise.all(Array.from({ length: 50 }, (_, i) => log.logCommit(`t${i}`, i + 1, [i % 3]).then(() => order.push(i))));
    expect(order).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(log.stats().fsyncs - before.fsyncs).toBe(1);
    expect(log.stats().writes - before.writes).toBe(1);
    // Turns that come while a group is in flight (its fdatasync held here) join the next group together.
    const proto = await fileHandlePrototype();
    const datasync = proto.datasync;
    let release = (): void => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    vi.spyOn(proto, 'datasync').mockImplementationOnce(async function (this: unknown) {
      await held;
      return datasync.call(this);
    });
    const calls = [log.logCommit('a0', 100, [0])];
    for (let turn = 1; turn <= 3; turn++) {
      await new Promise((resolve) => setImmediate(resolve));
      calls.push(log.logCommit(`a${turn}`, 100 + turn, [0]));
    }
    release();
    await Promise.all(calls);
    expect(log.stats().fsyncs - before.fsyncs).toBe(3);
    expect(pendingIds(log)).toEqual([...Array.from({ length: 50 }, (_, i) => `t${i}`), 'a0', 'a1', 'a2', 'a3']);
    await log.close();
  });

  it('settle() waits for a decision being logged; decisionOf() answers only durable ones', async () => {
    const log = await CoordinatorLog.open(tempDir());
    const commit = log.logCommit('t', 9, [0, 1]);
    expect(log.decisionOf('t')).toBeNull();
    expect(await log.settle('t')).toEqual({ outcome: 'commit', commitTs: 9, participants: [0, 1] });
    await commit;
    expect(await log.settle('other')).toBeNull();
    await log.close();
  });

  it('abortIfUndecided: a presumed-abort answer is final in this process; a decision being logged is waited for', async () => {
    const log = await CoordinatorLog.open(tempDir());
    expect(await log.abortIfUndecided('gone')).toBeNull();
    await expect(log.logCommit('gone', 5, [0])).rejects.toMatchObject({ code: 'TXN_ABORTED' });
    expect(log.decisionOf('gone')).toBeNull();
    // A logCommit queued before the inquiry wins: the inquiry sees the commit.
    const commit = log.logCommit('racing', 6, [0, 1]);
    expect(await log.abortIfUndecided('racing')).toEqual({ outcome: 'commit', commitTs: 6, participants: [0, 1] });
    await commit;
    log.forgetAborted('gone');
    await log.logCommit('gone', 7, [0]);
    expect(log.decisionOf('gone')).toEqual({ outcome: 'commit', commitTs: 7, participants: [0] });
    await log.close();
  });

  it('done records are lazy: they ride along with the next commit group or get one fdatasync after doneFlushMs', async () => {
    const dir = tempDir();
    const log = await CoordinatorLog.open(dir, { doneFlushMs: 50 });
    await Promise.all(Array.from({ length: 10 }, (_, i) => log.logCommit(`t${i}`, i + 1, [0])));
    const fsyncs = log.stats().fsyncs;
    for (let i = 0; i < 5; i++) log.markDone(`t${i}`);
    expect(log.stats().fsyncs).toBe(fsyncs); // nothing written yet
    await log.logCommit('u', 20, [1]); // the five done records share this group
    expect(log.stats()).toMatchObject({ fsyncs: fsyncs + 1, records: 16 });
    for (let i = 5; i < 8; i++) log.markDone(`t${i}`);
    await vi.waitFor(() => expect(log.stats().records).toBe(19), { timeout: 2000 });
    expect(log.stats().fsyncs).toBe(fsyncs + 2);
    // A crash now (no close) keeps them: reopen from what is on disk.
    const again = await CoordinatorLog.open(dir);
    expect(pendingIds(again)).toEqual(['t8', 't9', 'u']);
    await again.close();
    log.markDone('t8');
    await log.close(); // writes queued done records
    const third = await CoordinatorLog.open(dir);
    expect(pendingIds(third)).toEqual(['t9', 'u']);
    await third.close();
  });

  describe('damage', () => {
    /** A log with three groups: a (1 record), b (2 records), c (1 record); returns the byte offset where each group starts. */
    async function threeGroups(dir: string): Promise<{ b: number; c: number; end: number }> {
      const log = await CoordinatorLog.open(dir);
      await log.logCommit('a', 1, [0]);
      const b = sizeOf(dir);
      await Promise.all([log.logCommit('b1', 2, [0, 1]), log.logCommit('b2', 3, [1])]);
      const c = sizeOf(dir);
      await log.logCommit('c', 4, [2]);
      const end = sizeOf(dir);
      await log.close();
      return { b, c, end };
    }

    it('cuts a torn tail (a group never acknowledged) and goes on writing after it', async () => {
      const dir = tempDir();
      const { c, end } = await threeGroups(dir);
      truncateSync(logPath(dir), end - 3);
      const warnings = recordingLog();
      const log = await CoordinatorLog.open(dir, { log: warnings });
      expect(pendingIds(log)).toEqual(['a', 'b1', 'b2']);
      expect(warnings.warnings.join()).toContain('torn tail');
      expect(sizeOf(dir)).toBe(c);
      await log.logCommit('d', 5, [3]);
      await log.close();
      const again = await CoordinatorLog.open(dir);
      expect(pendingIds(again)).toEqual(['a', 'b1', 'b2', 'd']);
      await again.close();
    });

    it('drops a group whose last record never arrived, and garbage after the last group', async () => {
      const dir = tempDir();
      const { b, c } = await threeGroups(dir);
      // Group b without its second (last) record: b1 alone must not count.
      const buf = readFileSync(logPath(dir));
      const b1Bytes = 11 + 1 + 2 + 8 + 2 + 4;
      writeFileSync(logPath(dir), buf.subarray(0, b + b1Bytes));
      const log = await CoordinatorLog.open(dir);
      expect(pendingIds(log)).toEqual(['a']);
      expect(log.decisionOf('b1')).toBeNull();
      await log.close();
      expect(sizeOf(dir)).toBe(b);

      const dir2 = tempDir();
      await threeGroups(dir2);
      appendFileSync(logPath(dir2), Buffer.from('garbage that is not a record'));
      const log2 = await CoordinatorLog.open(dir2);
      expect(pendingIds(log2)).toEqual(['a', 'b1', 'b2', 'c']);
      await log2.close();
      expect(c).toBeGreaterThan(b);
    });

    it('refuses damage in the middle (acknowledged groups after it) with DATA_CORRUPT', async () => {
      const dir = tempDir();
      const { b } = await threeGroups(dir);
      const buf = readFileSync(logPath(dir));
      buf[b + 13] ^= 0x01; // a byte of b1's transaction id
      writeFileSync(logPath(dir), buf);
      const error = await rejection(CoordinatorLog.open(dir));
      expect(error.code).toBe('DATA_CORRUPT');
      expect(error.message).toMatch(/damaged \(checksum mismatch\) and acknowledged records follow it/);
      expect(readFileSync(logPath(dir))).toEqual(buf); // nothing cut
    });

    it('starts again when the header was cut while the log was created; refuses a foreign header', async () => {
      const dir = tempDir();
      writeFileSync(logPath(dir), Buffer.from('MNTS'));
      const log = await CoordinatorLog.open(dir);
      await log.logCommit('a', 1, [0]);
      await log.close();
      const again = await CoordinatorLog.open(dir);
      expect(pendingIds(again)).toEqual(['a']);
      await again.close();

      const dir2 = tempDir();
      writeFileSync(logPath(dir2), Buffer.from('this is not a coordinator log at all'));
      expect((await rejection(CoordinatorLog.open(dir2))).code).toBe('DATA_CORRUPT');
    });
  });

  describe('compaction', () => {
    it('rewrites the log with exactly the pending decisions when done records dominate', async () => {
      const dir = tempDir();
      const log = await CoordinatorLog.open(dir, { compactMinDead: 20, doneFlushMs: 1 });
      const keep = new Set<string>();
      for (let round = 0; round < 10; round++) {
        await Promise.all(Array.from({ length: 10 }, (_, i) => log.logCommit(`r${round}t${i}`, round * 10 + i + 1, [i % 4, 4])));
        for (let i = 0; i < 10; i++) {
          const id = `r${round}t${i}`;
          if (i === 3 || i === 7) keep.add(id);
          else log.markDone(id);
        }
        await log.idle();
      }
      const stats = log.stats();
      expect(stats.compactions).toBeGreaterThanOrEqual(1);
      expect(stats.records).toBeLessThan(100);
      expect(stats.bytes).toBe(sizeOf(dir));
      expect(new Set(pendingIds(log))).toEqual(keep);
      // Writes go on into the compacted file.
      await log.logCommit('after', 1000, [9]);
      await log.close();
      expect(existsSync(`${logPath(dir)}.tmp`)).toBe(false);
      const again = await CoordinatorLog.open(dir);
      expect(pendingIds(again)).toEqual([...keep, 'after']);
      expect(again.decisionOf('r4t7')).toEqual({ outcome: 'commit', commitTs: 48, participants: [3, 4] });
      await again.close();
    });

    it('compacts to an empty log when everything is done, and drops a compaction file left by a crash', async () => {
      const dir = tempDir();
      writeFileSync(`${logPath(dir)}.tmp`, 'half a compaction');
      const log = await CoordinatorLog.open(dir, { compactMinDead: 5, doneFlushMs: 1 });
      expect(existsSync(`${logPath(dir)}.tmp`)).toBe(false);
      await Promise.all(Array.from({ length: 10 }, (_, i) => log.logCommit(`t${i}`, i + 1, [0])));
      for (let i = 0; i < 10; i++) log.markDone(`t${i}`);
      await log.idle();
      expect(log.stats()).toMatchObject({ records: 0, pending: 0, bytes: 16, compactions: 1 });
      expect(sizeOf(dir)).toBe(16);
      await log.logCommit('next', 11, [1]);
      await log.close();
      const again = await CoordinatorLog.open(dir);
      expect(pendingIds(again)).toEqual(['next']);
      await again.close();
    });
  });

  describe('write and fsync failures', () => {
    it('a failed write (ENOSPC) rejects its group as not made, leaves the file as it was, and writes go on', async () => {
      const dir = tempDir();
      const log = await CoordinatorLog.open(dir);
      await log.logCommit('a', 1, [0]);
      const size = sizeOf(dir);
      const proto = await fileHandlePrototype();
      vi.spyOn(proto, 'write').mockRejectedValueOnce(fsError('ENOSPC'));
      const results = await Promise.allSettled([log.logCommit('b', 2, [0]), log.logCommit('c', 3, [1])]);
      for (const r of results) {
        const reason = (r as PromiseRejectedResult).reason as CoordinatorLogError;
        expect(reason).toBeInstanceOf(CoordinatorLogError);
        expect(reason.code).toBe('STORAGE_FULL');
        expect(reason.inDoubt).toBe(false);
        expect(reason.message).toContain('not made');
      }
      expect(log.decisionOf('b')).toBeNull();
      expect(sizeOf(dir)).toBe(size);
      expect(log.stats().failed).toBe(false);
      await log.logCommit('d', 4, [2]);
      await log.close();
      const again = await CoordinatorLog.open(dir);
      expect(pendingIds(again)).toEqual(['a', 'd']);
      await again.close();
    });

    it('a failed fdatasync (EIO) is undone (truncate + fdatasync): the decision is durably not made and writes go on', async () => {
      const dir = tempDir();
      const log = await CoordinatorLog.open(dir);
      await log.logCommit('a', 1, [0]);
      const size = sizeOf(dir);
      const proto = await fileHandlePrototype();
      vi.spyOn(proto, 'datasync').mockRejectedValueOnce(fsError('EIO'));
      const error = await rejection(log.logCommit('b', 2, [0, 1]));
      expect(error.code).toBe('STORAGE_IO');
      expect(error.status).toBe(503);
      expect(error.inDoubt).toBe(false);
      expect(log.decisionOf('b')).toBeNull();
      expect(sizeOf(dir)).toBe(size);
      // The coordinator aborted b; a retry of the transaction under a new id goes through.
      await log.logCommit('b-retry', 3, [0, 1]);
      await log.close();
      const again = await CoordinatorLog.open(dir);
      expect(pendingIds(again)).toEqual(['a', 'b-retry']);
      await again.close();
    });

    it('when the undo fails too, the decision is in doubt: not to be aborted, and every later write is refused', async () => {
      const dir = tempDir();
      const warnings = recordingLog();
      const log = await CoordinatorLog.open(dir, { log: warnings });
      await log.logCommit('a', 1, [0]);
      const proto = await fileHandlePrototype();
      vi.spyOn(proto, 'datasync').mockRejectedValueOnce(fsError('EIO')).mockRejectedValueOnce(fsError('EIO'));
      const error = await rejection(log.logCommit('b', 2, [0]));
      expect(error.code).toBe('STORAGE_IO');
      expect(error.inDoubt).toBe(true);
      expect(error.message).toContain('in doubt');
      expect(() => log.decisionOf('b')).toThrow(/in doubt/);
      expect(log.decisionOf('a')).toEqual({ outcome: 'commit', commitTs: 1, participants: [0] });
      expect(log.stats().failed).toBe(true);
      const later = await rejection(log.logCommit('c', 3, [0]));
      expect(later.code).toBe('STORAGE_IO');
      expect(later.inDoubt).toBe(false);
      expect(later.message).toContain('refused until the server restarts');
      expect(warnings.warnings.join('\n')).toContain('cutting a failed group off failed');
      await log.close();
    });

    it('a failed write that cannot be cut off fails the log (later writes refused) but is not in doubt', async () => {
      const log = await CoordinatorLog.open(tempDir());
      const proto = await fileHandlePrototype();
      vi.spyOn(proto, 'write').mockRejectedValueOnce(fsError('EIO'));
      vi.spyOn(proto, 'truncate').mockRejectedValueOnce(fsError('EIO'));
      const error = await rejection(log.logCommit('a', 1, [0]));
      expect(error.inDoubt).toBe(false);
      expect(log.decisionOf('a')).toBeNull();
      expect(log.stats().failed).toBe(true);
      expect((await rejection(log.logCommit('b', 2, [0]))).message).toContain('refused until the server restarts');
      await log.close();
    });

    it('a failed group of done records is queued again and written later', async () => {
      const dir = tempDir();
      const log = await CoordinatorLog.open(dir, { doneFlushMs: 5 });
      await log.logCommit('a', 1, [0]);
      await log.logCommit('b', 2, [0]);
      const proto = await fileHandlePrototype();
      vi.spyOn(proto, 'write').mockRejectedValueOnce(fsError('ENOSPC'));
      log.markDone('a');
      await log.idle(); // the failed attempt
      await vi.waitFor(() => expect(log.stats().records).toBe(3), { timeout: 2000 });
      const again = await CoordinatorLog.open(dir);
      expect(pendingIds(again)).toEqual(['b']);
      await again.close();
      await log.close();
    });
  });

  describe('kill -9 of a writer process', () => {
    beforeAll(() => ensureBuilt(DIST_LOG, LOG_SOURCES), 120_000);

    /** Runs the writer until it has printed `lines` lines, then SIGKILLs it; returns its output. */
    const runWriter = (dir: string, prefix: string, lines: number): Promise<string> => runAndKill('test/txn/fixtures/coordinator-writer.mjs', [dir, prefix], lines, 'writer');

    it('keeps every acknowledged decision not marked done, across three kills and the compactions between', async () => {
      const dir = tempDir();
      const kept: { prefix: string; i: number }[] = [];
      for (const [prefix, lines] of [
        ['r0-', 1500],
        ['r1-', 2500],
        ['r2-', 800],
      ] as const) {
        const whole = wholeLines(await runWriter(dir, prefix, lines));
        const acked = whole.filter((l) => l.startsWith('commit ')).map((l) => Number(l.slice(7)));
        const done = new Set(whole.filter((l) => l.startsWith('done ')).map((l) => Number(l.slice(5))));
        expect(acked.length).toBeGreaterThan(300);
        const log = await CoordinatorLog.open(dir);
        for (const i of acked) {
          const decision = log.decisionOf(`${prefix}${i}`);
          const expected = { outcome: 'commit', commitTs: i + 1, participants: [i % 4, 4 + (i % 3)] };
          // Done ones may be forgotten or not yet; a decision that is there is exact.
          if (done.has(i)) {
            if (decision !== null) expect(decision).toEqual(expected);
          } else if (decision === null || decision.commitTs !== i + 1) expect.fail(`acknowledged decision ${prefix}${i} is missing or wrong: ${JSON.stringify(decision)}`);
          else expect(decision).toEqual(expected);
          if (i % 10 === 0) kept.push({ prefix, i });
        }
        // Every earlier round's never-done decisions are still there after this round's compactions.
        for (const { prefix: p, i } of kept) expect(log.decisionOf(`${p}${i}`)?.commitTs).toBe(i + 1);
        // Nothing was made up.
        for (const p of log.pending()) expect(p.txnId).toMatch(/^r[0-2]-\d+$/);
        await log.close();
      }
      // The writer compacts often (compactMinDead 300): the file stays far below what 4000+ records would take.
      expect(statSync(logPath(dir)).size).toBeLessThan(4000 * 30);
    });
  });
});
