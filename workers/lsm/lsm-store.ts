// One shard's LSM tree: the active memtable, the one being flushed, and the
// tables by level. Reads go memtable → flushing memtable → level 0 newest
// first → levels 1.. (bloom filters skip most tables). Flushes and compactions
// run as pool tasks; their results are installed here, on the shard thread,
// by rewriting the manifest first and swapping readers second, so a crash at
// any point leaves a manifest that names only complete, fsynced tables.
// A flush or compaction that hits ENOSPC/EIO marks the store failed: writes
// are refused (the shard answers STORAGE_FULL / STORAGE_IO), reads go on, and
// retry() resumes once the shard's probe sees the disk usable again.

import * as fs from 'node:fs';
import { basename, join } from 'node:path';
import { isLive, keyToBinary, Memtable, tombstone, type Entry } from '../store/memtable.js';
import { prefixEnd } from '../store/sorted-keys.js';
import { BlockCache } from './block-cache.js';
import { crashIfFaultPoint } from './lsm-fault.js';
import { applyChange, type LevelChange } from './level-change.js';
import type { LsmTuning } from './lsm-options.js';
import type { CompactResult, FlushResult, LsmTask, LsmTaskResult } from './lsm-tasks.js';
import { emptyManifest, MANIFEST_FILE, readManifest, sstFileName, writeManifest, type ManifestState } from './manifest.js';
import { mergeEntries, mergeKeys, openCursors } from './key-cursors.js';
import { packRun } from './sorted-run.js';
import { CorruptionError, KIND_PUT, newReadStats, type ReadStats } from './sst-format.js';
import { SstReader } from './sst-reader.js';
import { VersionSet, type Compaction } from './version-set.js';
import { LsmCounters, type StorageFailure } from './lsm-stats.js';

export type { StorageFailure } from './lsm-stats.js';

export type Undo = { readonly key: string; readonly previous: Entry | undefined };

export type LsmLog = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

export type LsmStoreOptions = {
  /** Directory of the tables and the manifest (created if missing). */
  readonly dir: string;
  readonly tuning: LsmTuning;
  /** Runs a task in the pool (or inline in tests); `transfer` lists buffers it may take. */
  readonly runTask: (task: LsmTask, transfer: ArrayBuffer[]) => Promise<LsmTaskResult>;
  readonly log: LsmLog;
  /** A flush made WAL records ≤ walLsn (the segments before walSegment) redundant. */
  readonly onFlushed?: (walLsn: number, walSegment: number) => void;
  /** Something the shard may be waiting for changed: a stall cleared, a failure set or cleared. */
  readonly onProgress?: () => void;
};

type Frozen = { readonly table: Memtable; readonly walLsn: number; readonly walSegment: number; readonly lastSeq: number };

const ORPHAN = /^\d{12}\.sst$/;

export class LsmStore {
  private active = new Memtable();
  private frozen: Frozen | null = null;
  private readonly versions: VersionSet;
  private readonly cache: BlockCache;
  private manifest: ManifestState;
  private seq: number;
  private nextFile: number;
  private flushing = false;
  private compacting = false;
  private closed = false;
  private background: Promise<unknown> = Promise.resolve();
  private tableEntries = 0;
  /** Tables whose blocks failed a checksum during compaction: never picked again. */
  private readonly quarantined = new Set<number>();
  failure: StorageFailure | null = null;
  readonly counters = new LsmCounters();
  readonly reads: ReadStats = newReadStats();

  private constructor(private readonly o: LsmStoreOptions, manifest: ManifestState, versions: VersionSet) {
    this.manifest = manifest;
    this.versions = versions;
    this.cache = new BlockCache(o.tuning.blockCacheBytes);
    this.seq = manifest.lastSeq;
    this.nextFile = manifest.nextFileNumber;
  }

  /** Opens the tables the manifest names and removes files no manifest names (a crash's leftovers). */
  static open(o: LsmStoreOptions): LsmStore {
    fs.mkdirSync(o.dir, { recursive: true });
    const manifest = readManifest(o.dir, o.tuning.levelCount) ?? emptyManifest(o.tuning.levelCount);
    const live = new Set(manifest.levels.flat().map((m) => m.fileNumber));
    for (const name of fs.readdirSync(o.dir)) {
      if (name === `${MANIFEST_FILE}.tmp` || (ORPHAN.test(name) && !live.has(Number(name.slice(0, 12))))) {
        fs.rmSync(join(o.dir, name), { force: true });
        o.log('info', 'lsm: removed a file no manifest names', { file: name });
      }
    }
    const store = new LsmStore(o, manifest, new VersionSet(manifest.levels.length));
    manifest.levels.forEach((level, i) => {
      store.versions.levels[i] = level.map((m) => SstReader.open(join(o.dir, sstFileName(m.fileNumber)), m.fileNumber, store.cache));
    });
    store.tableEntries = manifest.levels.flat().reduce((n, m) => n + m.entries, 0);
    setImmediate(() => store.maybeCompact()); // a crash or shutdown may have left a level over its size
    return store;
  }

  /** WAL records with lsn ≤ this are already in tables: replay skips them. */
  get flushedLsn(): number {
    return this.manifest.flushedLsn;
  }

  // ---- reads ----------------------------------------------------------------

  /** The live value of key, or undefined (absent, deleted or expired). May read disk; throws CorruptionError. */
  get(key: Uint8Array, nowMs: number): Entry | undefined {
    const bin = keyToBinary(key);
    const e = this.active.raw(bin) ?? this.frozen?.table.raw(bin) ?? this.versions.get(key, this.reads);
    return e !== undefined && isLive(e, nowMs) ? e : undefined;
  }

  /** Live keys with the prefix after the cursor, skipping `skip`, at most `limit`. */
  list(prefix: string, after: string | null, skip: number, limit: number, nowMs: number): { keys: string[]; more: boolean } {
    if (this.memoryOnly()) return this.active.list(prefix, after, skip, limit, nowMs);
    const end = prefixEnd(prefix);
    const start = after !== null && after > prefix ? after : prefix;
    const exclusive = after !== null && after >= prefix;
    const keys: string[] = [];
    let skipped = 0;
    let more = false;
    mergeKeys(this.cursors(start, exclusive, end), (key, kind, expiresAtMs) => {
      if (!isLiveVersion(kind, expiresAtMs, nowMs)) return true;
      if (skipped < skip) return ++skipped > 0;
      if (keys.length === limit) {
        more = true;
        return false;
      }
      keys.push(key);
      return true;
    });
    return { keys, more };
  }

  /** Live keys with the prefix (walks the whole range when tables exist). */
  count(prefix: string, nowMs: number): number {
    if (this.memoryOnly()) return this.active.count(prefix, nowMs);
    let live = 0;
    mergeKeys(this.cursors(prefix, false, prefixEnd(prefix)), (_key, kind, expiresAtMs) => {
      if (isLiveVersion(kind, expiresAtMs, nowMs)) live++;
      return true;
    });
    return live;
  }

  /**
   * Live entries from `start` (excluded when `exclusive`) up to `end` (excluded; null = no end), in
   * key order, until visit returns false. `value` is valid only during the call (copy to keep it).
   * Synchronous: nothing changes under the scan. May read disk; throws CorruptionError.
   */
  scan(start: string, exclusive: boolean, end: string | null, nowMs: number, visit: (key: string, value: Uint8Array) => boolean): void {
    mergeEntries(this.cursors(start, exclusive, end), (key, kind, expiresAtMs, value) => {
      if (!isLiveVersion(kind, expiresAtMs, nowMs)) return true;
      return visit(key, value);
    });
  }

  private cursors(start: string, exclusive: boolean, end: string | null) {
    const memtables = this.frozen === null ? [this.active] : [this.active, this.frozen.table];
    return openCursors(memtables, this.versions, start, exclusive, end, this.reads);
  }

  /** No table and no flush in progress: the active memtable is the whole truth. */
  private memoryOnly(): boolean {
    return this.frozen === null && this.versions.tableCount === 0;
  }

  // ---- writes (the caller logs them to the WAL) ------------------------------

  put(key: Uint8Array, value: Uint8Array, contentType: string, expiresAtMs: number): Undo {
    const bin = keyToBinary(key);
    this.counters.userBytes += key.length + value.length + contentType.length;
    const previous = this.active.set(bin, { value, contentType, expiresAtMs, seq: ++this.seq, kind: KIND_PUT });
    return { key: bin, previous };
  }

  /** Removes key: a tombstone when older data may exist below the active memtable. */
  delete(key: Uint8Array): Undo {
    const bin = keyToBinary(key);
    this.counters.userBytes += key.length;
    const previous = this.active.set(bin, this.memoryOnly() ? undefined : tombstone(++this.seq));
    return { key: bin, previous };
  }

  /** Undoes writes newest first. REQUIRES: no freeze since they were made (the shard freezes only with nothing in flight). */
  rollback(undo: readonly Undo[]): void {
    for (let i = undo.length - 1; i >= 0; i--) this.active.set(undo[i].key, undo[i].previous);
  }

  /** Expires due keys of the active memtable (at most `max`); onExpired gets each key (binary string). */
  sweepExpired(nowMs: number, max: number, onExpired?: (key: string) => void): number {
    return this.active.sweepExpired(nowMs, max, !this.memoryOnly(), onExpired);
  }

  // ---- flush and compaction ---------------------------------------------------

  /** The active memtable is full and may be frozen now (nothing is being flushed, storage is healthy). */
  wantsFreeze(): boolean {
    return this.active.bytes >= this.o.tuning.memtableBytes && this.frozen === null && this.failure === null && !this.closed;
  }

  /**
   * Writes stall: both memtables are full, or level 0 has too many tables.
   * The shard holds write requests (reads go on) until this clears.
   */
  writeStalled(): boolean {
    const memtablesFull = this.frozen !== null && this.active.bytes >= this.o.tuning.memtableBytes;
    return memtablesFull || (this.versions.levels[0].length >= this.o.tuning.level0StallTables && !this.level0Blocked());
  }

  /**
   * A quarantined table sits in level 0, so no level-0 compaction can run (moving newer tables past
   * an older one would let it shadow them). Stalling would then stop writes for good: instead the
   * shard runs degraded — level 0 keeps growing, reads check more tables — until an operator repairs it.
   */
  private level0Blocked(): boolean {
    return this.quarantined.size > 0 && this.versions.levels[0].some((r) => this.quarantined.has(r.meta.fileNumber));
  }

  /**
   * Freezes the active memtable and flushes it in the pool.
   * REQUIRES: wantsFreeze(); every write in the active memtable is in the WAL at lsn ≤ walLsn and
   * durable (nothing in flight), and the WAL continues in segment walSegment.
   */
  freeze(walLsn: number, walSegment: number): void {
    this.frozen = { table: this.active, walLsn, walSegment, lastSeq: this.seq };
    this.active = new Memtable();
    this.startFlush();
  }

  private startFlush(): void {
    const frozen = this.frozen;
    if (frozen === null || this.flushing || this.closed) return;
    this.flushing = true;
    const fileNumber = this.nextFile++;
    const table = frozen.table;
    const started = performance.now();
    // The memtable charges more per entry than its packed form takes, so its bytes bound the buffer.
    const task = packRun(table.range('', false, null), 4 + table.bytes).then((run) =>
      this.o.runTask({ kind: 'flush', dir: this.o.dir, fileNumber, sst: this.o.tuning.sst, run }, [run]),
    );
    this.track(task.then((result) => this.onFlushed(frozen, result as FlushResult, performance.now() - started)));
  }

  private onFlushed(frozen: Frozen, result: FlushResult, durationMs: number): void {
    this.flushing = false;
    // Installed even while closing: the table is done, and installing it shortens the next replay.
    if (result.kind === 'failed') return this.fail('flush', result, frozen.table.bytes);
    crashIfFaultPoint('after-sst-write', this.o.log);
    const reader = this.openOrFail('flush', result.table.fileNumber);
    if (reader === null) return;
    const change: LevelChange = { remove: new Set(), level0: [reader], level: 0, sorted: [] };
    const ok = this.commit(change, { lastSeq: frozen.lastSeq, flushedLsn: frozen.walLsn });
    if (!ok) return;
    this.frozen = null;
    this.counters.flushes++;
    this.counters.flushBytes += result.table.fileBytes;
    this.counters.diskBytesWritten += result.table.fileBytes;
    this.o.log('info', 'lsm: flushed memtable', { file: result.table.fileNumber, bytes: result.table.fileBytes, entries: result.table.entries, ms: Math.round(durationMs) });
    this.o.onFlushed?.(frozen.walLsn, frozen.walSegment);
    this.maybeCompact();
    this.o.onProgress?.();
  }

  /** Starts the most urgent compaction unless one runs (one at a time per shard). */
  maybeCompact(): void {
    if (this.compacting || this.closed || this.failure !== null) return;
    const c = this.versions.pick(this.o.tuning, this.quarantined);
    if (c === null) return;
    if (c.level > 0 && c.inputs.length === 1 && c.overlaps.length === 0 && !(c.bottom && hasGarbage(c))) {
      this.trivialMove(c);
      return;
    }
    this.compacting = true;
    const inputs = [...c.inputs, ...c.overlaps];
    const bytes = inputs.reduce((s, m) => s + m.fileBytes, 0);
    const reserve = Math.ceil(bytes / this.o.tuning.tableTargetBytes) + inputs.length + 2;
    const outputNumbers = Array.from({ length: reserve }, () => this.nextFile++);
    const started = performance.now();
    const task = this.o.runTask(
      {
        kind: 'compact',
        dir: this.o.dir,
        inputs: inputs.map((m) => m.fileNumber),
        outputNumbers,
        sst: this.o.tuning.sst,
        tableTargetBytes: this.o.tuning.tableTargetBytes,
        dropDeletes: c.bottom,
        oldestSnapshotSeq: Number.MAX_SAFE_INTEGER,
        nowMs: Date.now(),
      },
      [],
    );
    this.track(task.then((result) => this.onCompacted(c, result as CompactResult, performance.now() - started)));
  }

  private trivialMove(c: Compaction): void {
    const reader = this.versions.levels[c.level].find((r) => r.meta.fileNumber === c.inputs[0].fileNumber) as SstReader;
    const change: LevelChange = { remove: new Set([reader.meta.fileNumber]), level0: [], level: c.level + 1, sorted: [reader] };
    if (!this.commit(change, {}, false)) return;
    this.counters.trivialMoves++;
    setImmediate(() => this.maybeCompact());
  }

  private onCompacted(c: Compaction, result: CompactResult, durationMs: number): void {
    this.compacting = false;
    if (result.kind === 'failed') {
      const inputs = [...c.inputs, ...c.overlaps];
      if (result.corrupt) return this.quarantine(inputs.map((m) => m.fileNumber), result.file, result.message);
      return this.fail('compaction', result, inputs.reduce((n, m) => n + m.fileBytes, 0));
    }
    crashIfFaultPoint('after-compaction-write', this.o.log);
    const readers: SstReader[] = [];
    for (const m of result.outputs) {
      const r = this.openOrFail('compaction', m.fileNumber);
      if (r === null) {
        for (const opened of readers) this.discard(opened);
        return;
      }
      readers.push(r);
    }
    const inputs = new Set([...c.inputs, ...c.overlaps].map((m) => m.fileNumber));
    const change: LevelChange = { remove: inputs, level0: [], level: c.level + 1, sorted: readers };
    if (!this.commit(change, {})) return;
    this.counters.compactions++;
    this.counters.compactionBytesRead += result.bytesRead;
    this.counters.diskBytesWritten += result.bytesWritten;
    this.o.log('info', 'lsm: compacted', {
      level: c.level,
      inputs: inputs.size,
      outputs: result.outputs.length,
      bytesRead: result.bytesRead,
      bytesWritten: result.bytesWritten,
      dropped: result.entriesIn - result.entriesOut,
      ms: Math.round(durationMs),
    });
    setImmediate(() => this.maybeCompact());
    this.o.onProgress?.();
  }

  /**
   * Makes a level change durable (manifest first), then applies it to the readers.
   * Removed tables are closed and deleted. Returns false (store failed) if the manifest could not be written.
   */
  private commit(change: LevelChange, fields: { lastSeq?: number; flushedLsn?: number }, deleteRemoved = true): boolean {
    const next: ManifestState = {
      ...this.manifest,
      ...fields,
      nextFileNumber: this.nextFile,
      levels: applyChange(this.versions.metas(), change),
    };
    try {
      writeManifest(this.o.dir, next);
    } catch (error) {
      for (const r of [...change.level0, ...change.sorted]) if (!change.remove.has(r.meta.fileNumber)) this.discard(r);
      this.fail('manifest', { errno: (error as NodeJS.ErrnoException).code ?? null, corrupt: false, message: String(error) }, 0);
      return false;
    }
    crashIfFaultPoint('after-manifest', this.o.log);
    this.manifest = next;
    const removed = this.versions.remove(change.remove);
    this.versions.levels[0].unshift(...change.level0);
    if (change.sorted.length > 0) this.versions.insertSorted(change.level, change.sorted);
    if (deleteRemoved) for (const r of removed) this.discard(r);
    this.tableEntries = this.versions.all().reduce((n, r) => n + r.meta.entries, 0);
    return true;
  }

  private openOrFail(what: string, fileNumber: number): SstReader | null {
    const path = join(this.o.dir, sstFileName(fileNumber));
    try {
      return SstReader.open(path, fileNumber, this.cache);
    } catch (error) {
      fs.rmSync(path, { force: true });
      this.fail(what, { errno: (error as NodeJS.ErrnoException).code ?? null, corrupt: error instanceof CorruptionError, message: String(error) }, 0);
      return null;
    }
  }

  /** Closes a table no version names any more and deletes its file. */
  private discard(r: SstReader): void {
    r.close();
    this.cache.evictFile(r.meta.fileNumber);
    fs.rmSync(r.path, { force: true });
  }

  private fail(what: string, f: { errno: string | null; corrupt: boolean; message: string }, freeBytesNeeded: number): void {
    const full = f.errno === 'ENOSPC' || f.errno === 'EDQUOT';
    this.failure = { code: full ? 'STORAGE_FULL' : 'STORAGE_IO', message: `${what} failed: ${f.message}`, freeBytesNeeded };
    if (f.corrupt) this.counters.corruptions++;
    this.o.log('error', `lsm: ${what} failed; refusing writes until storage recovers`, { errno: f.errno, error: f.message, freeBytesNeeded });
    this.o.onProgress?.();
  }

  /**
   * A compaction input failed its checksum. That is not a disk the probe can heal: writes go on,
   * the damaged table keeps serving its good blocks, and compactions that would read it are no
   * longer picked (level 0 may then fill up and stall writes, with a message naming the table).
   */
  private quarantine(inputs: number[], file: string | null, message: string): void {
    this.counters.corruptions++;
    const bad = file === null ? NaN : Number(basename(file).slice(0, 12));
    for (const n of Number.isNaN(bad) ? inputs : [bad]) this.quarantined.add(n);
    this.o.log('error', 'lsm: corrupt table found by compaction; compactions that read it are stopped, the shard runs degraded until it is repaired', {
      tables: [...this.quarantined],
      error: message,
    });
    this.o.onProgress?.();
  }

  /** Why writes stall, for the SHARD_BUSY message. */
  stallReason(): string {
    const l0 = this.versions.levels[0].length;
    const why = this.frozen !== null && this.active.bytes >= this.o.tuning.memtableBytes ? 'both memtables are full' : `level 0 has ${l0} tables`;
    const bad = this.quarantined.size > 0 ? `; compaction is blocked by corrupt table(s) ${[...this.quarantined].map(sstFileName).join(', ')}` : '';
    return why + bad;
  }

  /** The disk looks usable again (the shard's probe): clear the failure and redo the pending flush. */
  retry(): void {
    if (this.failure === null) return;
    this.o.log('info', 'lsm: storage usable again, resuming flushes and compactions', { failure: this.failure.message });
    this.failure = null;
    this.startFlush();
    this.maybeCompact();
    this.o.onProgress?.();
  }

  private track(p: Promise<unknown>): void {
    this.background = Promise.all([this.background, p.catch((error: unknown) => this.o.log('error', 'lsm: background task crashed', { error: String(error) }))]);
  }

  // ---- accounting ------------------------------------------------------------

  /** Versions held (memtables + tables, tombstones and overwritten versions included): the keys gauge. */
  approxKeys(): number {
    return this.active.size + (this.frozen?.table.size ?? 0) + this.tableEntries;
  }

  memtableBytes(): number {
    return this.active.bytes + (this.frozen?.table.bytes ?? 0);
  }

  stats() {
    const levels = this.versions.levels.map((l, i) => ({
      level: i,
      tables: l.length,
      bytes: this.versions.levelBytes(i),
      entries: l.reduce((n, r) => n + r.meta.entries, 0),
      tombstones: l.reduce((n, r) => n + r.meta.tombstones, 0),
    }));
    const indexBytes = this.versions.all().reduce((s, r) => s + r.memoryBytes, 0);
    const memtableBytes = this.memtableBytes();
    return {
      keys: this.approxKeys(),
      memtableBytes,
      blockCacheBytes: this.cache.bytes,
      blockCacheHits: this.cache.hits,
      blockCacheMisses: this.cache.misses,
      indexBytes,
      memoryBytes: memtableBytes + this.cache.bytes + indexBytes,
      tableBytes: levels.reduce((s, l) => s + l.bytes, 0),
      tableRawBytes: this.versions.all().reduce((s, r) => s + r.meta.rawBytes, 0),
      levels,
      stalled: this.writeStalled(),
      quarantinedTables: [...this.quarantined],
      ...this.counters,
      reads: { ...this.reads },
    };
  }

  /** Resolves once no flush or compaction is running or due (tests and benchmarks). */
  async settle(): Promise<void> {
    for (;;) {
      await this.background;
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (!this.flushing && !this.compacting) return;
    }
  }

  /** Waits for background work, then closes every table. */
  async close(): Promise<void> {
    this.closed = true;
    await this.background;
    for (const r of this.versions.all()) r.close();
  }
}

const isLiveVersion = (kind: number, expiresAtMs: number, nowMs: number): boolean =>
  kind === KIND_PUT && (expiresAtMs === 0 || expiresAtMs > nowMs);

/** A bottom-level table with tombstones or expired entries is worth rewriting rather than moving. */
function hasGarbage(c: Compaction): boolean {
  const m = c.inputs[0];
  return m.tombstones > 0 || (m.minExpiresAtMs !== 0 && m.minExpiresAtMs <= Date.now());
}
