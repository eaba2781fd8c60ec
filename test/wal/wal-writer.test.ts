import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { WalError, WalMetricsSink } from '../../workers/wal/index.js';
import { appendOne, durable, makeTempDir, openWriter, removeDir, replayAll, withTimeout } from './wal-helpers.js';

function recordingMetrics(): WalMetricsSink & { writes: number[]; fsyncs: number[] } {
  const writes: number[] = [];
  const fsyncs: number[] = [];
  return { writes, fsyncs, onWrite: (b) => writes.push(b), onFsync: (ms) => fsyncs.push(ms) };
}

describe('wal writer durability', () => {
  let dir: string;
  beforeEach(() => {
    dir = makeTempDir();
  });
  afterEach(() => removeDir(dir));

  it('always: callbacks fire in order and concurrent appends share fsyncs', async () => {
    const metrics = recordingMetrics();
    const { writer } = openWriter(dir, { fsync: 'always', metrics });
    const appends = 100;
    const order: number[] = [];
    const done: Promise<WalError | null>[] = [];
    for (let i = 0; i < appends; i++) {
      const lsn = appendOne(writer, `v${i}`);
      done.push(
        durable(writer, lsn).then((err) => {
          order.push(lsn);
          return err;
        }),
      );
    }
    expect(writer.stats().durableLsn).toBe(0); // nothing acknowledged before an fsync completes
    expect(await Promise.all(done)).toEqual(Array(appends).fill(null));
    expect(order).toEqual(Array.from({ length: appends }, (_, i) => i + 1));
    const { fsyncs, durableLsn, bytesWritten } = writer.stats();
    expect(durableLsn).toBe(appends);
    expect(fsyncs).toBeGreaterThan(0);
    expect(fsyncs).toBeLessThan(appends);
    expect(metrics.fsyncs).toHaveLength(fsyncs);
    expect(metrics.writes.reduce((a, b) => a + b, 0)).toBe(bytesWritten);
    await writer.close();
  });

  // `always` rolls when the fsync in flight completes; `batch` rolls inside append (no fsync is
  // in flight during the synchronous loop) and its timer covers each round's tail.
  it.each(['always', 'batch'] as const)('%s: no waiter is lost across segment rolls', async (fsync) => {
    const { writer } = openWriter(dir, { fsync, fsyncBatchMs: 5, segmentBytesMax: 64 });
    const rounds = 20;
    const perRound = 10;
    for (let round = 0; round < rounds; round++) {
      const done: Promise<WalError | null>[] = [];
      for (let i = 0; i < perRound; i++) done.push(durable(writer, appendOne(writer, `value-${round}-${i}`)));
      expect(await Promise.all(done)).toEqual(Array(perRound).fill(null));
    }
    expect(writer.stats().segment).toBeGreaterThan(rounds);
    await writer.close();
    const { lsns, result } = replayAll(dir);
    expect(result.truncated).toBeNull();
    expect(lsns).toEqual(Array.from({ length: rounds * perRound }, (_, i) => i + 1));
  });

  it('batch: an fsync follows within the window, not synchronously', async () => {
    const { writer } = openWriter(dir, { fsync: 'batch', fsyncBatchMs: 10 });
    const a = appendOne(writer, 'a');
    const b = writer.append([
      { type: 2, payload: Buffer.from('b') },
      { type: 2, payload: Buffer.from('c') },
    ]);
    expect(b).toBe(a + 2);
    const pending = [durable(writer, a), durable(writer, b)];
    expect(writer.stats().fsyncs).toBe(0);
    expect(await Promise.all(pending)).toEqual([null, null]);
    expect(writer.stats()).toMatchObject({ durableLsn: b, fsyncs: 1 });
    // Later writes arm the timer again.
    expect(await durable(writer, appendOne(writer, 'd'))).toBeNull();
    expect(writer.stats().fsyncs).toBe(2);
    await writer.close();
  });

  it('none: acknowledges without fsync; flush still syncs', async () => {
    const { writer } = openWriter(dir, { fsync: 'none' });
    const lsn = appendOne(writer, 'fast');
    expect(await durable(writer, lsn)).toBeNull();
    expect(writer.stats().fsyncs).toBe(0);
    await withTimeout(writer.flush(), 'flush');
    expect(writer.stats()).toMatchObject({ fsyncs: 1, durableLsn: lsn });
    await writer.close();
  });

  it('rejects waiting for an lsn that was never written', () => {
    const { writer } = openWriter(dir);
    expect(() => writer.whenDurable(5, () => undefined)).toThrow(RangeError);
    return writer.close();
  });
});
