// The shard's WAL appender: group-committed writes, async fdatasync under the fsync policy,
// durability callbacks, and segment rolls. Runs on the shard worker's event loop only.
// After a failed write or fsync the writer refuses everything until recover() succeeds: it cuts
// the segment back to what was acknowledged and continues in a fresh segment.
import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { WalError, toWalError } from './wal-error.js';
import { WalFault } from './wal-fault.js';
import { encodeRecords } from './wal-record.js';
import { createSegment, fsyncDirSync, listSegments, removeEmptySegments, segmentFileName, segmentPath } from './wal-segment.js';
import type { ReplayResult, WalOptions } from './wal-types.js';

export { WalError } from './wal-error.js';

export interface WalAppendRecord {
  type: number;
  payload: Uint8Array;
}

export interface WalWriterStats {
  lsn: number;
  durableLsn: number;
  segment: number;
  segmentBytes: number;
  bytesWritten: number;
  fsyncs: number;
}

type DurableCallback = (err: WalError | null) => void;

export class WalWriter {
  private fd: number | null;
  private segmentBytes = 0;
  /** Bytes of the current segment that hold acknowledged records (fsynced, or written under `none`). */
  private ackedBytes = 0;
  private lsn: number;
  private durableLsn: number;
  private bytesWritten = 0;
  private fsyncs = 0;
  /** Sorted by lsn; callbacks are always invoked from a fresh stack (never inside append). */
  private waiters: { lsn: number; cb: DurableCallback }[] = [];
  private fsyncInFlight = false;
  private syncWanted = false;
  private rollPending = false;
  private batchTimer: NodeJS.Timeout | null = null;
  private failed: WalError | null = null;
  private closePromise: Promise<void> | null = null;
  private idleWaiters: (() => void)[] = [];

  private constructor(
    private readonly opts: WalOptions,
    private readonly fault: WalFault | null,
    private segment: number,
    fd: number,
    lastLsn: number,
  ) {
    this.fd = fd;
    this.lsn = lastLsn;
    this.durableLsn = lastLsn;
  }

  /**
   * Starts a fresh segment after the replayed ones (an old, maybe truncated one is never reused).
   * REQUIRES: `after` is replayWal's result for opts.dir. Throws WalError if the segment cannot be made.
   */
  static open(opts: WalOptions, after: ReplayResult): WalWriter {
    checkOptions(opts);
    const fault = WalFault.fromEnv(process.env.MANTIS_FAULT_WAL);
    const segment = after.lastSegment + 1;
    removeEmptySegments(opts.dir);
    if (opts.archiveDir !== undefined) fs.mkdirSync(opts.archiveDir, { recursive: true });
    const fd = createSegment(opts.dir, segment); // also fsyncs the directory, making the removals durable
    opts.log?.('info', 'wal: writing', { dir: opts.dir, segment, lsn: after.lastLsn, fsync: opts.fsync });
    const writer = new WalWriter(opts, fault, segment, fd, after.lastLsn);
    // The segments of the previous run are closed now: the archive gets whatever of them it lacks
    // (the one active at a crash was never archived; a backup may have archived only a prefix).
    if (opts.archiveDir !== undefined) {
      for (const s of listSegments(opts.dir)) {
        if (s.dropped || s.seq >= segment) continue;
        const have = fileSize(`${opts.archiveDir}/${s.name}`);
        if (have < fileSize(segmentPath(opts.dir, s.name))) writer.archive(segmentPath(opts.dir, s.name), s.name, false);
      }
      // On the same file system the new segment is linked in at once: the archive then sees every
      // record as it is written (same inode), so a restore reaches the latest write of a running server.
      writer.linkActive();
    }
    return writer;
  }

  get failure(): WalError | null {
    return this.failed;
  }

  /** The segment the next append lands in (an append rolls only after its write). */
  get currentSegment(): number {
    return this.segment;
  }

  /**
   * Writes all records with one write (group commit) and returns the last record's LSN.
   * The records are not durable yet: ask whenDurable before acknowledging them.
   * Throws WalError (and stays failed) if storage refuses; throws Error after close().
   */
  append(records: readonly WalAppendRecord[]): number {
    if (this.failed) throw this.failed;
    if (this.closePromise || this.fd === null) throw new Error('WAL writer is closed');
    if (records.length === 0) return this.lsn;
    const first = this.lsn + 1;
    const buf = encodeRecords(records.map((r, i) => ({ type: r.type, lsn: first + i, payload: r.payload })));
    try {
      const err = this.fault?.onWrite();
      if (err) throw err;
      for (let off = 0; off < buf.length; ) off += fs.writeSync(this.fd, buf, off, buf.length - off);
    } catch (err) {
      throw this.fail(toWalError(err, 'write', this.segmentName()));
    }
    this.lsn = first + records.length - 1;
    this.segmentBytes += buf.length;
    if (this.opts.fsync === 'none') this.ackedBytes = this.segmentBytes;
    this.bytesWritten += buf.length;
    this.opts.metrics?.onWrite(buf.length);
    if (this.segmentBytes >= this.opts.segmentBytesMax) this.rollWhenIdle();
    if (this.failed) throw this.failed;
    if (this.opts.fsync === 'always') this.maybeStartFsync();
    if (this.opts.fsync === 'batch') this.armBatchTimer();
    return this.lsn;
  }

  /** Calls cb once (never synchronously) when everything up to `lsn` is durable under the policy. */
  whenDurable(lsn: number, cb: DurableCallback): void {
    if (this.failed) return later(cb, this.failed);
    if (!Number.isSafeInteger(lsn) || lsn > this.lsn) {
      throw new RangeError(`whenDurable(${lsn}): not an LSN written by this writer (last ${this.lsn})`);
    }
    if (lsn <= this.durableLsn || this.opts.fsync === 'none') return later(cb, null);
    this.addWaiter(lsn, cb);
    if (this.opts.fsync === 'always') this.maybeStartFsync();
    if (this.opts.fsync === 'batch') this.armBatchTimer();
  }

  /**
   * The shard has no more requests waiting. Under `batch`, waiting out the
   * window now would only add latency (nothing more is coming to share the
   * fsync), so sync at once — or right after the fsync in flight.
   */
  syncWhenIdle(): void {
    if (this.opts.fsync !== 'batch' || this.failed || this.lsn <= this.durableLsn) return;
    this.syncWanted = true;
    this.maybeStartFsync();
  }

  /** Makes everything written so far durable whatever the policy. Rejects with the WalError if failed. */
  flush(): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    if (this.lsn <= this.durableLsn) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.addWaiter(this.lsn, (err) => (err ? reject(err) : resolve()));
      this.syncWanted = true;
      this.maybeStartFsync();
    });
  }

  /** Flushes, waits out any fsync in flight, closes the fd. Rejects (fd still closed) if the log failed. */
  close(): Promise<void> {
    this.closePromise ??= this.closeOnce();
    return this.closePromise;
  }

  /**
   * Starts a new segment now, so that every record so far sits in segments before the returned one
   * (an LSM flush then deletes them once its table is durable). Returns null when that cannot happen
   * right now (an fsync in flight, or the log failed); ask again later.
   */
  rollNow(): number | null {
    if (this.fsyncInFlight || this.failed || this.fd === null || this.closePromise) return null;
    if (this.segmentBytes > 0) this.roll();
    return this.failed ? null : this.segment;
  }

  /** Deletes (or, with an archive, archives) the segment files (live or dropped) numbered below `segment`. */
  removeSegmentsBefore(segment: number): number {
    let removed = 0;
    for (const s of listSegments(this.opts.dir)) {
      if (s.seq >= segment || s.seq === this.segment) continue;
      const path = segmentPath(this.opts.dir, s.name);
      if (this.opts.archiveDir !== undefined && !s.dropped) this.archive(path, s.name, true);
      else fs.rmSync(path, { force: true });
      removed++;
    }
    return removed;
  }

  /**
   * Puts a segment into the archive under its own name (replacing a shorter copy made by a backup
   * or a shutdown): a hard link when the archive shares the file system, else a copy (off the
   * event loop) that is fsynced and renamed into place. With `remove`, the original goes after.
   */
  /** Links the active segment into the archive (same file system only; elsewhere it goes at retirement). */
  private linkActive(): void {
    const name = this.segmentName();
    const dir = this.opts.archiveDir as string;
    try {
      fs.rmSync(`${dir}/${name}`, { force: true });
      fs.linkSync(segmentPath(this.opts.dir, name), `${dir}/${name}`);
      fsyncDirSync(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EXDEV') this.opts.log?.('warn', 'wal: could not link the active segment into the archive', { segment: name, error: String(error) });
    }
  }

  archive(path: string, name: string, remove: boolean): void {
    const dir = this.opts.archiveDir as string;
    const dest = `${dir}/${name}`;
    const tmp = `${dest}.tmp`;
    if (sameFile(path, dest)) {
      // Linked already (at a clean shutdown or the next start): nothing to copy.
      if (remove) fs.rmSync(path, { force: true });
      return;
    }
    try {
      fs.rmSync(tmp, { force: true });
      fs.linkSync(path, tmp);
      fs.renameSync(tmp, dest);
      fsyncDirSync(dir);
      if (remove) fs.rmSync(path, { force: true });
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EXDEV') {
        this.opts.log?.('error', 'wal: could not archive a segment; it stays in the WAL directory', { segment: name, error: String(error) });
        return;
      }
    }
    fs.copyFile(path, tmp, (error) => {
      try {
        if (error) throw error;
        const fd = fs.openSync(tmp, 'r+');
        try {
          fs.fsyncSync(fd);
        } finally {
          fs.closeSync(fd);
        }
        fs.renameSync(tmp, dest);
        fsyncDirSync(dir);
        if (remove) fs.rmSync(path, { force: true });
      } catch (failure) {
        this.opts.log?.('error', 'wal: could not copy a segment into the archive; it stays in the WAL directory', { segment: name, error: String(failure) });
      }
    });
  }

  /**
   * After a failure: cuts the failed segment back to its acknowledged records (so replay never
   * stops early on a torn write), continues in a fresh segment, and accepts writes again. The
   * unacknowledged records were already refused to their clients and rolled back by the shard.
   * Throws WalError (and stays failed) if the disk still refuses.
   */
  recover(): void {
    const failed = this.failed;
    if (failed === null || this.closePromise) return;
    if (this.fsyncInFlight) throw failed;
    const name = this.segmentName();
    try {
      if (this.fd !== null) {
        fs.ftruncateSync(this.fd, this.ackedBytes);
        fs.fdatasyncSync(this.fd);
        fs.closeSync(this.fd);
        this.fd = null;
      }
      this.fd = createSegment(this.opts.dir, this.segment + 1);
    } catch (err) {
      throw toWalError(err, 'recover', name);
    }
    this.segment++;
    this.segmentBytes = 0;
    this.ackedBytes = 0;
    if (this.opts.archiveDir !== undefined) this.linkActive();
    // Under `none` every written record was acknowledged; otherwise only the fsynced ones were.
    const kept = this.opts.fsync === 'none' ? this.lsn : this.durableLsn;
    this.lsn = kept;
    this.durableLsn = kept;
    this.failed = null;
    this.opts.log?.('info', 'wal: storage usable again, accepting writes', { segment: this.segment, lsn: this.lsn, after: failed.message });
  }

  stats(): WalWriterStats {
    const { lsn, durableLsn, segment, segmentBytes, bytesWritten, fsyncs } = this;
    return { lsn, durableLsn, segment, segmentBytes, bytesWritten, fsyncs };
  }

  private async closeOnce(): Promise<void> {
    let failure: WalError | null = null;
    try {
      await this.flush();
    } catch (err) {
      failure = toWalError(err, 'flush', this.segmentName());
    }
    if (this.fsyncInFlight) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    this.clearBatchTimer();
    if (this.fd !== null) {
      const fd = this.fd;
      this.fd = null;
      try {
        fs.closeSync(fd);
      } catch (err) {
        failure ??= toWalError(err, 'close', this.segmentName());
      }
    }
    // The archive reaches the last moment before a clean shutdown (the segment itself stays: the
    // next start opens a new one after it and retires this one like any other).
    if (failure === null && this.opts.archiveDir !== undefined && this.segmentBytes > 0) {
      this.archive(segmentPath(this.opts.dir, this.segmentName()), this.segmentName(), false);
    }
    if (failure) throw failure;
  }

  private maybeStartFsync(): void {
    if (this.fsyncInFlight || this.failed || this.fd === null || this.lsn <= this.durableLsn) return;
    const upTo = this.lsn;
    const upToBytes = this.segmentBytes;
    const segment = this.segment;
    const started = performance.now();
    this.fsyncInFlight = true;
    this.syncWanted = false;
    this.clearBatchTimer();
    fs.fdatasync(this.fd, (err) => this.onFsyncDone(err ?? this.fault?.onFsync() ?? null, upTo, started, segment, upToBytes));
  }

  private onFsyncDone(err: Error | null, upTo: number, started: number, segment: number, upToBytes: number): void {
    this.fsyncInFlight = false;
    this.countFsync(started);
    if (err) this.fail(toWalError(err, 'fdatasync', this.segmentName()));
    if (!this.failed) {
      this.durableLsn = Math.max(this.durableLsn, upTo);
      if (segment === this.segment) this.ackedBytes = Math.max(this.ackedBytes, upToBytes);
      // Acknowledge what this fsync made durable before a roll that might fail.
      this.resolveWaiters();
      if (this.rollPending) this.roll();
    }
    if (!this.failed && this.lsn > this.durableLsn) {
      // Data written while that fsync ran: under `always` sync it now (group commit).
      if (this.opts.fsync === 'always' || this.syncWanted) this.maybeStartFsync();
      else if (this.opts.fsync === 'batch') this.armBatchTimer();
    }
    const idle = this.idleWaiters.splice(0);
    if (!this.fsyncInFlight) for (const resolve of idle) resolve();
    else this.idleWaiters.push(...idle);
    this.resolveWaiters();
  }

  /** REQUIRES nothing in flight: an fd with a pending fdatasync must not be closed. */
  private rollWhenIdle(): void {
    if (this.fsyncInFlight) {
      this.rollPending = true;
      return;
    }
    this.roll();
    queueMicrotask(() => this.resolveWaiters());
  }

  private roll(): void {
    this.rollPending = false;
    const fd = this.fd;
    if (fd === null || this.failed) return;
    const name = this.segmentName();
    try {
      if (this.opts.fsync !== 'none') {
        const started = performance.now();
        fs.fdatasyncSync(fd); // rare, so a blocking sync keeps the roll simple
        const err = this.fault?.onFsync();
        if (err) throw err;
        this.countFsync(started);
      }
      this.durableLsn = this.lsn;
      this.clearBatchTimer();
      this.fd = null;
      fs.closeSync(fd);
      this.fd = createSegment(this.opts.dir, this.segment + 1);
      this.segment++;
      this.segmentBytes = 0;
      this.ackedBytes = 0;
      if (this.opts.archiveDir !== undefined) this.linkActive();
    } catch (err) {
      this.fail(toWalError(err, 'segment roll', name));
    }
  }

  private armBatchTimer(): void {
    if (this.batchTimer || this.failed || this.lsn <= this.durableLsn) return;
    this.batchTimer = setTimeout(() => {
      this.batchTimer = null;
      this.syncWanted = true;
      this.maybeStartFsync();
    }, this.opts.fsyncBatchMs);
  }

  private clearBatchTimer(): void {
    if (this.batchTimer) clearTimeout(this.batchTimer);
    this.batchTimer = null;
  }

  private addWaiter(lsn: number, cb: DurableCallback): void {
    let i = this.waiters.length;
    while (i > 0 && this.waiters[i - 1].lsn > lsn) i--;
    this.waiters.splice(i, 0, { lsn, cb });
  }

  private resolveWaiters(): void {
    let n = 0;
    while (n < this.waiters.length && this.waiters[n].lsn <= this.durableLsn) n++;
    for (const w of this.waiters.splice(0, n)) w.cb(null);
  }

  /** Records the first failure; every waiter hears it, on a fresh stack. Returns the failure to throw. */
  private fail(err: WalError): WalError {
    if (this.failed) return this.failed;
    this.failed = err;
    this.rollPending = false;
    this.clearBatchTimer();
    this.opts.log?.('error', 'wal: storage failed, refusing further writes', {
      code: err.code,
      sysCode: err.sysCode,
      error: err.message,
      lsn: this.lsn,
      durableLsn: this.durableLsn,
    });
    this.cutBackToAcked();
    // Waiters already covered by a completed fsync are durable: they succeed.
    const waiters = this.waiters.splice(0);
    queueMicrotask(() => {
      for (const w of waiters) w.cb(w.lsn <= this.durableLsn ? null : err);
    });
    return err;
  }

  /**
   * Removes the records about to be refused from the segment at once, so that a crash before
   * recover() cannot replay a write its client was told had failed.
   */
  private cutBackToAcked(): void {
    if (this.fd === null) return;
    try {
      fs.ftruncateSync(this.fd, this.ackedBytes);
      fs.fdatasyncSync(this.fd);
      this.segmentBytes = this.ackedBytes;
    } catch (err) {
      this.opts.log?.('error', 'wal: could not cut refused records off the failed segment; a crash before recovery may replay them', {
        segment: this.segmentName(),
        ackedBytes: this.ackedBytes,
        error: String(err),
      });
    }
  }

  private countFsync(started: number): void {
    this.fsyncs++;
    this.opts.metrics?.onFsync(performance.now() - started);
  }

  private segmentName(): string {
    return segmentFileName(this.segment);
  }
}

function sameFile(a: string, b: string): boolean {
  try {
    const x = fs.statSync(a);
    const y = fs.statSync(b);
    return x.ino === y.ino && x.dev === y.dev;
  } catch {
    return false;
  }
}

function fileSize(path: string): number {
  try {
    return fs.statSync(path).size;
  } catch {
    return -1;
  }
}

function later(cb: DurableCallback, err: WalError | null): void {
  queueMicrotask(() => cb(err));
}

function checkOptions(opts: WalOptions): void {
  if (!Number.isSafeInteger(opts.segmentBytesMax) || opts.segmentBytesMax <= 0) {
    throw new RangeError(`WAL segmentBytesMax must be a positive integer, got ${opts.segmentBytesMax}`);
  }
  if (!Number.isFinite(opts.fsyncBatchMs) || opts.fsyncBatchMs < 0) {
    throw new RangeError(`WAL fsyncBatchMs must be a non-negative number, got ${opts.fsyncBatchMs}`);
  }
  if (!['always', 'batch', 'none'].includes(opts.fsync)) {
    throw new RangeError(`WAL fsync policy must be always, batch or none, got ${String(opts.fsync)}`);
  }
}
