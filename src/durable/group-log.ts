// Group logs: the durable append-only log mechanism shared by the dependency
// log (src/cache/dependency-log.ts, used by dependency-graph.ts) and the 2PC
// coordinator log (src/txn/coordinator-log.ts). Each log brings its magic, its
// record payloads (a RecordCodec), its in-memory state, its errors and its
// policies; this file has the framing, the scan at open, the group writer and
// the rewrite used by compaction. Main thread: after open, every file
// operation is asynchronous.
//
//   file    [header][record]...
//   header  magic (8 bytes, the log's) | u32 first group | u32 crc32 of the 12 bytes before it
//   record  u32 crc32 of the rest of the record | u32 group | u8 flags | the log's bytes
//   flags   bits 0-1: the record's kind (the log's); bit 7: the last record of its group
//
// A group is what one write + fdatasync made durable (group commit). Groups
// are numbered consecutively (mod 2^32) from the header's first group, and
// the scan applies a group only once it has read the group's last record, so
// each group is atomic on replay, as a WAL record is.
//
// Damage. The numbering tells a torn tail from a damaged middle. Groups are
// written one at a time, each only after the previous one's fdatasync, so
// only the final group can be torn by a crash; it was never acknowledged and
// is dropped (the file is truncated before it). When a record does not parse,
// the scan knows which group it belongs to (the one in progress, or the
// next); if any valid record after it belongs to another group, a later write
// was acknowledged after the damaged one was, and the damage is not a torn
// tail: the data directory is damaged and open refuses to guess (the log's
// DATA_CORRUPT error, from RecordCodec.corrupt).
//
// Writes. GroupCommitter runs one group per event-loop turn, one at a time;
// GroupLogFile.append writes it at the end of the file and fdatasyncs it. A
// failed write is cut off the file, so the next group follows whole ones; what
// happens after a failed fdatasync is the log's policy (GroupLogOptions).
//
// Compaction. A log rewrites itself into `<file>.tmp` (openRewrite), then,
// between two groups, installRewrite fdatasyncs it and renames it over the
// log, and the log fsyncs the directory (syncDir): a crash leaves the old log
// or the new one. A `.tmp` left by a crash is removed at open.

import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { ensureDir, fsyncDir, readIfExists, writeAt } from '../../shared/durable-file.js';

export const HEADER_BYTES = 16;
/** crc32, group, flags: the bytes every record starts with. */
export const FRAME_BYTES = 9;
const KIND_MASK = 0x03;
const LAST_IN_GROUP = 0x80;

/** A log's own part of the format: its records after the frame. */
export type RecordCodec<R> = {
  /** The file's first 8 bytes (latin1). */
  readonly magic: string;
  /** What messages call the log ("dependency log"). */
  readonly name: string;
  /** Bytes after the frame that every record has (what `end` reads). */
  readonly headBytes: number;
  /** Whether `kind` (flags bits 0-1) is one of the log's. */
  isKind(kind: number): boolean;
  kindOf(record: R): number;
  /** Bytes of the record after the frame. */
  bytes(record: R): number;
  /** Writes the record after its frame, from `at`; returns where it ends. */
  write(record: R, buf: Buffer, at: number): number;
  /** Where the record whose bytes after the frame start at `at` ends (headBytes are there), or why it is bad. */
  end(buf: Buffer, at: number): number | string;
  /** The record between `at` and `end` (checksum verified), or why it is bad. */
  read(buf: Buffer, at: number, end: number, kind: number): R | string;
  /** Why a record that parsed must not be applied (null: fine); the scan treats it as damage. */
  problem?(record: R): string | null;
  /** The log's DATA_CORRUPT error. */
  corrupt(message: string): Error;
};

type Parsed<R> = { readonly record: R; readonly group: number; readonly last: boolean; readonly end: number };

export type ScanResult = {
  /** Bytes of whole groups: the file is cut here when it is longer. */
  readonly goodBytes: number;
  /** Records in those groups. */
  readonly records: number;
  /** The number the next group written must carry. */
  readonly nextGroup: number;
  /** Why the tail was dropped (null when the file ended cleanly). */
  readonly tornTail: { readonly offset: number; readonly reason: string } | null;
};

/** A log's file format: the frame around its codec's records. */
export class GroupLogFormat<R> {
  private readonly magic: Buffer;

  constructor(readonly codec: RecordCodec<R>) {
    this.magic = Buffer.from(codec.magic, 'latin1');
  }

  header(firstGroup: number): Buffer {
    const header = Buffer.alloc(HEADER_BYTES);
    this.magic.copy(header, 0);
    header.writeUInt32LE(firstGroup >>> 0, 8);
    header.writeUInt32LE(crc32(header.subarray(0, 12)), 12);
    return header;
  }

  /** The encoded size of a record. */
  recordBytes(record: R): number {
    return FRAME_BYTES + this.codec.bytes(record);
  }

  /**
   * The records of one group, in order. `lastInGroup` marks the final record
   * as the group's last (false when more records of the group follow in
   * another buffer, as a compaction may write its snapshot in chunks).
   */
  encode(records: readonly R[], group: number, lastInGroup = true): Buffer {
    let total = 0;
    for (const record of records) total += this.recordBytes(record);
    const buf = Buffer.allocUnsafe(total);
    let off = 0;
    records.forEach((record, i) => {
      const start = off;
      const last = lastInGroup && i === records.length - 1;
      buf.writeUInt32LE(group >>> 0, start + 4);
      buf.writeUInt8(this.codec.kindOf(record) | (last ? LAST_IN_GROUP : 0), start + 8);
      off = this.codec.write(record, buf, start + FRAME_BYTES);
      buf.writeUInt32LE(crc32(buf.subarray(start + 4, off)), start);
    });
    return buf;
  }

  /**
   * Reads a whole log, handing each complete group to `apply` in order.
   * Returns null when there is no usable header and nothing else (a file cut
   * while it was being created: start it again). Throws the codec's
   * DATA_CORRUPT error when the damage is not a torn tail (file header).
   */
  scan(buf: Buffer, path: string, apply: (group: readonly R[]) => void): ScanResult | null {
    const headerOk = buf.length >= HEADER_BYTES && buf.subarray(0, 8).equals(this.magic) && crc32(buf.subarray(0, 12)) === buf.readUInt32LE(12);
    if (!headerOk) {
      if (buf.length <= HEADER_BYTES) return null;
      throw this.codec.corrupt(`${path}: bad header (not a ${this.codec.name}, or damaged); the data directory is damaged`);
    }
    let expected = buf.readUInt32LE(8);
    let groupStart = HEADER_BYTES;
    let records = 0;
    let pending: R[] = [];
    for (let off = HEADER_BYTES; off < buf.length; ) {
      const parsed = this.parse(buf, off);
      const problem =
        typeof parsed === 'string' ? parsed
        : parsed.group !== expected ? `group ${parsed.group} where ${expected} was due`
        : (this.codec.problem?.(parsed.record) ?? null);
      if (problem !== null) {
        // A record that parsed (a wrong group, a problem) is itself evidence: scan from it.
        this.refuseIfAcknowledgedFollows(buf, typeof parsed === 'string' ? off + 1 : off, expected, path, off, problem);
        return { goodBytes: groupStart, records, nextGroup: expected, tornTail: { offset: off, reason: problem } };
      }
      const record = parsed as Parsed<R>;
      pending.push(record.record);
      off = record.end;
      if (record.last) {
        apply(pending);
        records += pending.length;
        pending = [];
        expected = (expected + 1) >>> 0;
        groupStart = off;
      }
    }
    const tornTail = pending.length > 0 ? { offset: groupStart, reason: `group ${expected} has no last record` } : null;
    return { goodBytes: groupStart, records, nextGroup: expected, tornTail };
  }

  /** The record at `off`, or why there is none. */
  private parse(buf: Buffer, off: number): Parsed<R> | string {
    if (buf.length - off < FRAME_BYTES + this.codec.headBytes) return 'truncated record header';
    const flags = buf[off + 8];
    const kind = flags & KIND_MASK;
    if ((flags & ~(KIND_MASK | LAST_IN_GROUP)) !== 0 || !this.codec.isKind(kind)) return 'bad record flags';
    const end = this.codec.end(buf, off + FRAME_BYTES);
    if (typeof end === 'string') return end;
    if (end > buf.length) return 'truncated record';
    if (crc32(buf.subarray(off + 4, end)) !== buf.readUInt32LE(off)) return 'checksum mismatch';
    const record = this.codec.read(buf, off + FRAME_BYTES, end, kind);
    if (typeof record === 'string') return record;
    return { record, group: buf.readUInt32LE(off + 4), last: (flags & LAST_IN_GROUP) !== 0, end };
  }

  /** Throws DATA_CORRUPT when a valid record of a group other than `group` starts at or after `from`. */
  private refuseIfAcknowledgedFollows(buf: Buffer, from: number, group: number, path: string, damagedAt: number, problem: string): void {
    for (let off = from; off + FRAME_BYTES + this.codec.headBytes <= buf.length; ) {
      const parsed = this.parse(buf, off);
      if (typeof parsed === 'string') {
        off++;
        continue;
      }
      if (parsed.group !== group) {
        throw this.codec.corrupt(
          `${path}: the record at byte ${damagedAt} is damaged (${problem}) and acknowledged records follow it ` +
            `(group ${parsed.group} at byte ${off}); the data directory is damaged`,
        );
      }
      off = parsed.end;
    }
  }
}

/** What a log logs through (a pino Logger fits). */
export type GroupLogLogger = { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };

export type GroupLogOptions = {
  /**
   * 'cut': a failed write or fdatasync is truncated off the file and the
   * truncation fdatasynced, so the group is durably not there (the log may
   * go on). 'keep': a failed write is truncated off (not synced: the next
   * group's fdatasync covers the file's size); a failed fdatasync is left
   * alone, since the log refuses every later write anyway.
   */
  readonly afterFailure: 'cut' | 'keep';
};

/** Why append() failed; the log turns it into its own error. */
export class AppendFailure extends Error {
  constructor(
    readonly stage: 'write' | 'fdatasync',
    readonly error: unknown,
    /** True when the file was cut back to the groups before this one. */
    readonly cut: boolean,
    /** Why the cut failed (when it was tried and failed). */
    readonly cutError?: unknown,
  ) {
    super(`${stage} failed`);
    this.name = 'AppendFailure';
  }
}

/** An open group log: where the next group goes, and the file operations on it. */
export class GroupLogFile<R> {
  /** Group writes and fdatasyncs since open (one each per group); compactions are counted by the log. */
  readonly counters = { writes: 0, fsyncs: 0, compactions: 0 };

  private constructor(
    readonly dir: string,
    readonly path: string,
    readonly format: GroupLogFormat<R>,
    private readonly options: GroupLogOptions,
    /** Appends go here; a compaction replaces it (installRewrite). */
    public handle: FileHandle,
    /** Bytes of durable groups: the next group is written here. */
    public bytes: number,
    /** Records in the file. */
    public records: number,
    /** The number the next group must carry. */
    public nextGroup: number,
  ) {}

  get tmpPath(): string {
    return `${this.path}.tmp`;
  }

  /**
   * Opens `dir`/`file` (creating `dir` and the log when missing), removes a
   * compaction's leftover `.tmp`, and scans the log, handing each group to
   * `apply`. A torn tail is cut off and logged; damage anywhere else throws
   * the codec's DATA_CORRUPT error. fs errors are thrown as they are.
   */
  static async open<R>(
    dir: string,
    file: string,
    format: GroupLogFormat<R>,
    apply: (group: readonly R[]) => void,
    log: GroupLogLogger,
    options: GroupLogOptions,
  ): Promise<GroupLogFile<R>> {
    const name = format.codec.name;
    await ensureDir(dir);
    const path = join(dir, file);
    // A compaction cut short by a crash: the log itself was never replaced.
    await rm(`${path}.tmp`, { force: true });
    const buf = await readIfExists(path);
    const scan = buf === null ? null : format.scan(buf, path, apply);
    if (scan === null) {
      if (buf !== null) log.warn({ path, bytes: buf.length }, `${name} has no complete header (cut while it was created); starting it again`);
      const handle = await createLog(dir, path, format);
      return new GroupLogFile(dir, path, format, options, handle, HEADER_BYTES, 0, 1);
    }
    const handle = await open(path, 'r+');
    if (scan.tornTail !== null) {
      try {
        await handle.truncate(scan.goodBytes);
        await handle.datasync();
      } catch (error) {
        await handle.close();
        throw error;
      }
      log.warn(
        { path, offset: scan.tornTail.offset, reason: scan.tornTail.reason, droppedBytes: (buf?.length ?? 0) - scan.goodBytes },
        `${name} had a torn tail (a group never acknowledged); cut it off`,
      );
    }
    return new GroupLogFile(dir, path, format, options, handle, scan.goodBytes, scan.records, scan.nextGroup);
  }

  /**
   * Writes `records` as the next group at the end of the file and fdatasyncs
   * it; then counts them and moves on to the next group number. Throws
   * AppendFailure, the file cut back as GroupLogOptions.afterFailure says.
   */
  async append(records: readonly R[]): Promise<void> {
    const buf = this.format.encode(records, this.nextGroup);
    const durableCut = this.options.afterFailure === 'cut';
    try {
      await writeAt(this.handle, buf, this.bytes);
      this.counters.writes++;
    } catch (error) {
      const cutError = await this.cut(durableCut);
      throw new AppendFailure('write', error, cutError === null, cutError ?? undefined);
    }
    try {
      await this.handle.datasync();
      this.counters.fsyncs++;
    } catch (error) {
      if (!durableCut) throw new AppendFailure('fdatasync', error, false);
      const cutError = await this.cut(true);
      throw new AppendFailure('fdatasync', error, cutError === null, cutError ?? undefined);
    }
    this.bytes += buf.length;
    this.records += records.length;
    this.nextGroup = (this.nextGroup + 1) >>> 0;
  }

  /** Truncates the file back to its durable groups (and fdatasyncs that when `durably`); the error when that failed. */
  private async cut(durably: boolean): Promise<unknown> {
    try {
      await this.handle.truncate(this.bytes);
      if (durably) await this.handle.datasync();
      return null;
    } catch (error) {
      return error ?? new Error('truncate failed');
    }
  }

  /** Compaction, step 1: a new file at `.tmp` to write the new log into (read-write: once installed it is the log). */
  openRewrite(): Promise<FileHandle> {
    return open(this.tmpPath, 'w+');
  }

  /**
   * Compaction, step 2, between two groups: fdatasyncs `tmp`, renames it over
   * the log and appends to it from now on, with `state` as the log's. Throws
   * only before the rename (then abandonRewrite). The rename is durable only
   * once syncDir() succeeds.
   */
  async installRewrite(tmp: FileHandle, state: { bytes: number; records: number; nextGroup: number }): Promise<void> {
    await tmp.datasync();
    await rename(this.tmpPath, this.path);
    // The path names the new file now: append to it whatever happens next.
    const old = this.handle;
    this.handle = tmp;
    this.bytes = state.bytes;
    this.records = state.records;
    this.nextGroup = state.nextGroup;
    await old.close().catch(() => undefined);
  }

  /** Closes and removes a rewrite that was not installed. Never throws. */
  async abandonRewrite(tmp: FileHandle | null): Promise<void> {
    await tmp?.close().catch(() => undefined);
    await rm(this.tmpPath, { force: true }).catch(() => undefined);
  }

  /** Makes the directory's entries (an installed rewrite) durable. */
  syncDir(): Promise<void> {
    return fsyncDir(this.dir);
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

/** A new empty log at `path` in `dir`: header, fdatasync, then the directory entry. */
async function createLog<R>(dir: string, path: string, format: GroupLogFormat<R>): Promise<FileHandle> {
  const handle = await open(path, 'w+');
  try {
    await writeAt(handle, format.header(1), 0);
    await handle.datasync();
    await fsyncDir(dir);
  } catch (error) {
    await handle.close();
    throw error;
  }
  return handle;
}

/**
 * Group commit: the calls of one event-loop turn share one group, and groups
 * (and whatever else a log runs with exclusive()) run one at a time, in order.
 */
export class GroupCommitter {
  private chain: Promise<void> = Promise.resolve();
  private pending = false;

  /** `commitGroup` writes what is queued; it must settle every call it takes and never throw. */
  constructor(private readonly commitGroup: () => Promise<void>) {}

  /** True from schedule() until its group starts. */
  get scheduled(): boolean {
    return this.pending;
  }

  /** One group per event-loop turn: every call of the turn joins it. */
  schedule(): void {
    if (this.pending) return;
    this.pending = true;
    setImmediate(() => void this.runGroup());
  }

  /** A group now, after whatever the chain holds (what close() uses to drain the queue). */
  runGroup(): Promise<void> {
    return this.exclusive(() => {
      this.pending = false;
      return this.commitGroup();
    });
  }

  /** Runs `task` in the chain: after every group and task before it, before every one after. */
  exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.chain.then(task);
    this.chain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Resolves once everything in the chain now has run. */
  settled(): Promise<void> {
    return this.chain;
  }
}
