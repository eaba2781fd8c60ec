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
   * Links the active segment into the archive, so it sees every record as written (same inode).
   * On another file system an empty placeholder goes there instead: it tells a restore that this
   * run exists and its WAL is not archived yet (the segment replaces it when retired).
   */
  private linkActive(): void {
    const name = this.segmentName();
    const dir = this.opts.archiveDir as string;
    const dest = `${dir}/${name}`;
    const path = segmentPath(this.opts.dir, name);
    if (this.conflicts(path, dest)) return;
    const tmp = uniqueTmp(dest);
    try {
      fs.linkSync(path, tmp);
      fs.renameSync(tmp, dest);
    } catch (error) {
      fs.rmSync(tmp, { force: true });
      if ((error as NodeJS.ErrnoException).code !== 'EXDEV') {
        this.opts.log?.('warn', 'wal: could not link the active segment into the archive', { segment: name, error: String(error) });
        return;
      }
      if (fileSize(dest) < 0) fs.writeFileSync(dest, new Uint8Array(0));
    }
    fsyncDirSync(dir);
  }

  /**
   * True (and logged) when the archive holds another segment under this name: one that is not a
   * prefix of `path` (another timeline's, or a data directory restored without one). It is never
   * replaced; the segment stays in the WAL directory.
   */
  private conflicts(path: string, dest: string): boolean {
    const have = fileSize(dest);
    if (have <= 0 || sameFile(path, dest)) return false;
    const size = fileSize(path);
    let same = have <= size;
    if (same) {
      const n = Math.min(have, 4096);
      const a = Buffer.alloc(n);
      const b = Buffer.alloc(n);
      readPrefix(dest, a);
      readPrefix(path, b);
      same = a.equals(b);
    }
    if (!same) this.opts.log?.('error', 'wal: the archive holds a different segment under this name (another timeline?); it is not replaced', { archived: dest, segment: path });
    return !same;
  }

  /**
   * Puts a segment into the archive under its own name, replacing a shorter copy of it (a
   * backup's prefix, a placeholder): a hard link when the archive shares the file system, else a
   * copy that is fsynced and renamed into place (off the event loop unless `sync`: at shutdown the
   * thread ends before a callback would run). With `remove`, the original goes after.
   */
  archive(path: string, name: string, remove: boolean, sync = false): void {
    const dir = this.opts.archiveDir as string;
    const dest = `${dir}/${name}`;
    if (sameFile(path, dest)) {
      // Linked already (when it became active, or at a clean shutdown): nothing to copy.
      if (remove) fs.rmSync(path, { force: true });
      return;
    }
    if (this.conflicts(path, dest)) return;
    const tmp = uniqueTmp(dest);
    try {
      fs.linkSync(path, tmp);
      fs.renameSync(tmp, dest);
      fsyncDirSync(dir);
      if (remove) fs.rmSync(path, { force: true });
      return;
    } catch (error) {
      fs.rmSync(tmp, { force: true });
      if ((error as NodeJS.ErrnoException).code !== 'EXDEV') {
        this.opts.log?.('error', 'wal: could not archive a segment; it stays in the WAL directory', { segment: name, error: String(error) });
        return;
      }
    }
    const finish = (error: Error | null): void => {
      try {
        if (error) throw error;
        installCopy(tmp, dest, dir);
        if (remove) fs.rmSync(path, { force: true });
      } catch (failure) {
        fs.rmSync(tmp, { force: true });
        this.opts.log?.('error', 'wal: could not copy a segment into the archive; it stays in the WAL directory', { segment: name, error: String(failure) });
      }
    };
    if (sync) {
      let failure: Error | null = null;
      try {
        fs.copyFileSync(path, tmp);
      } catch (error) {
        failure = error as Error;
      }
      finish(failure);
    } else fs.copyFile(path, tmp, finish);
  }

  /**
   * A backup's cut on an archive elsewhere (another file system): the active segment's first
   * `bytes` go into the archive unless it holds as much already (its later whole copy, always
   * longer, replaces this one; both are decided on this thread, so neither can shorten the other).
   */
  archivePrefix(bytes: number): void {
    if (this.opts.archiveDir === undefined || bytes <= 0) return;
    const name = this.segmentName();
    const path = segmentPath(this.opts.dir, name);
    const dest = `${this.opts.archiveDir}/${name}`;
    if (sameFile(path, dest) || fileSize(dest) >= bytes || this.conflicts(path, dest)) return;
    const tmp = uniqueTmp(dest);
    const source = fs.openSync(path, 'r');
    let buf: Buffer;
    try {
      buf = Buffer.alloc(bytes);
      let at = 0;
      while (at < bytes) {
        const n = fs.readSync(source, buf, at, bytes - at, at);
        if (n === 0) break;
        at += n;
      }
      buf = buf.subarray(0, at);
    } finally {
      fs.closeSync(source);
    }
    fs.writeFile(tmp, buf, (error) => {
      try {
        if (error) throw error;
        installCopy(tmp, dest, this.opts.archiveDir as string);
      } catch (failure) {
        fs.rmSync(tmp, { force: true });
        this.opts.log?.('error', 'wal: could not archive the active segment at a backup', { segment: name, error: String(failure) });
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
      this.archive(segmentPath(this.opts.dir, this.segmentName()), this.segmentName(), false, true);
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

/** A finished copy into the archive: fsynced, then renamed into place unless a longer copy landed meanwhile. */
function installCopy(tmp: string, dest: string, dir: string): void {
  const fd = fs.openSync(tmp, 'r+');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  if (fileSize(dest) >= fileSize(tmp)) fs.rmSync(tmp, { force: true });
  else fs.renameSync(tmp, dest);
  fsyncDirSync(dir);
}

let tmpCount = 0;

/** A temp name no other archive operation in flight uses. */
function uniqueTmp(dest: string): string {
  return `${dest}.${process.pid}-${++tmpCount}.tmp`;
}

function readPrefix(path: string, into: Buffer): void {
  const fd = fs.openSync(path, 'r');
  try {
    fs.readSync(fd, into, 0, into.length, 0);
  } finally {
    fs.closeSync(fd);
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
