import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WalError } from '../../workers/wal/index.js';
import { appendOne, durable, makeTempDir, openWithFault, removeDir } from './wal-helpers.js';

function expectWalError(fn: () => unknown, code: WalError['code']): WalError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(WalError);
    expect(err).toMatchObject({ code });
    return err as WalError;
  }
  throw new Error('expected a WalError');
}

describe('wal fault injection', () => {
  let dir: string;
  beforeEach(() => {
    dir = makeTempDir();
  });
  afterEach(() => removeDir(dir));

  it('eio-on-write: append throws STORAGE_IO, then every later append throws the same error', async () => {
    const writer = openWithFault(dir, 'eio-on-write', { fsync: 'always' });
    const first = expectWalError(() => appendOne(writer, 'a'), 'STORAGE_IO');
    expect(first.sysCode).toBe('EIO');
    expect(writer.failure).toBe(first);
    expect(expectWalError(() => appendOne(writer, 'b'), 'STORAGE_IO')).toBe(first);
    expect(writer.stats().lsn).toBe(0);
    await expect(writer.flush()).rejects.toBe(first);
    await expect(writer.close()).rejects.toBe(first); // the fd is closed all the same
  });

  it('eio-on-write after good writes: pending waiters get the error', async () => {
    const writer = openWithFault(dir, 'eio-on-write@2', { fsync: 'batch', fsyncBatchMs: 60_000 });
    const pending = [durable(writer, appendOne(writer, 'a')), durable(writer, appendOne(writer, 'b'))];
    const err = expectWalError(() => appendOne(writer, 'c'), 'STORAGE_IO');
    expect(await Promise.all(pending)).toEqual([err, err]);
    expect(await durable(writer, 1)).toBe(err);
    await expect(writer.flush()).rejects.toBe(err);
    await expect(writer.close()).rejects.toBe(err);
  });

  it('enospc-on-write: append throws STORAGE_FULL', async () => {
    const writer = openWithFault(dir, 'enospc-on-write', { fsync: 'always' });
    expect(expectWalError(() => appendOne(writer, 'a'), 'STORAGE_FULL').sysCode).toBe('ENOSPC');
    expectWalError(() => appendOne(writer, 'b'), 'STORAGE_FULL');
    await expect(writer.close()).rejects.toBeInstanceOf(WalError);
  });

  it('eio-on-fsync: waiters get STORAGE_IO and later appends throw', async () => {
    const writer = openWithFault(dir, 'eio-on-fsync', { fsync: 'always' });
    const pending = [1, 2, 3].map((i) => durable(writer, appendOne(writer, `v${i}`)));
    const errors = await Promise.all(pending);
    expect(errors[0]).toBeInstanceOf(WalError);
    expect(errors[0]).toMatchObject({ code: 'STORAGE_IO', sysCode: 'EIO' });
    expect(errors).toEqual([errors[0], errors[0], errors[0]]);
    expect(writer.stats().durableLsn).toBe(0);
    expectWalError(() => appendOne(writer, 'after'), 'STORAGE_IO');
    await expect(writer.close()).rejects.toBe(errors[0]);
  });

  it('rejects an unknown fault name instead of silently running without it', () => {
    expect(() => openWithFault(dir, 'eio-on-wrtie')).toThrow(/MANTIS_FAULT_WAL/);
    expect(process.env.MANTIS_FAULT_WAL).toBeUndefined();
  });

  it('a segment roll that fails after an fsync succeeded keeps that fsync\'s writes acknowledged', async () => {
    // Fsync #1 (async) makes LSN 1 durable; the roll it triggers needs fsync #2, which fails.
    // Record 1 (18 bytes) stays under the 30-byte segment; record 2, appended while
    // fsync #1 runs, crosses it, so the roll waits for that fsync and then fails.
    const writer = openWithFault(dir, 'eio-on-fsync@1', { fsync: 'always', segmentBytesMax: 30 });
    const first = durable(writer, appendOne(writer, 'a'));
    const second = durable(writer, appendOne(writer, 'b'));
    expect(await first).toBeNull();
    const err = await second;
    expect(err).toBeInstanceOf(WalError);
    expect(writer.stats().durableLsn).toBeGreaterThanOrEqual(1);
    await expect(writer.close()).rejects.toBeInstanceOf(WalError);
  });
});
