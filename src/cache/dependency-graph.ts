// Durable dependency edges between cache keys, parent → child: invalidating a
// parent invalidates its descendants, transitively (CacheControl walks them
// with descendants()). Main thread: after open, every file operation is
// asynchronous, and compaction and descendantsAsync() work in chunks.
//
// Writes. add/remove queue their edge; the calls of one event-loop turn share
// one write and one fdatasync (group commit), one group in flight at a time,
// records in call order (dependency-log.ts has the records,
// src/durable/group-log.ts the log and the writer). The graph in
// memory changes only after its group is durable, so what a reader sees has
// been acknowledged. A failed write rejects its whole group, is cut from the
// file, and writes go on; a failed fdatasync rejects its group and every
// later write until the process restarts: the kernel may have dropped the
// pages, so nothing after it could be trusted (PostgreSQL's fsync lesson). A
// group rejected that way may still be on disk and come back at restart.
//
// Compaction. When dead records (removals, the edges they removed,
// duplicates) outnumber the live edges and exceed COMPACT_DEAD_RECORDS_MIN,
// the live edges are written to dependencies.log.tmp in chunks while writes
// go on to the old log; then, between two groups, the records the old log got
// meanwhile are copied over, and the new file is fsynced and renamed in
// place, and the directory fsynced.

import { type FileHandle } from 'node:fs/promises';
import { LIMITS } from '../../shared/limits.js';
import { readAt, storageCode, writeAt } from '../../shared/durable-file.js';
import { AppendFailure, GroupCommitter, GroupLogFile, HEADER_BYTES, type GroupLogLogger } from '../durable/group-log.js';
import { DEPENDENCY_LOG, DependencyError, LOG_FILE, type EdgeOp, type LogRecord } from './dependency-log.js';
import { EdgeSet } from './edge-set.js';

export { DependencyError, type DependencyErrorCode } from './dependency-log.js';

/** Default of options.maxEdges; add() beyond it is DEPENDENCY_LIMIT. */
export const DEPENDENCY_EDGES_MAX_DEFAULT = 1_000_000;
/** descendants() returns at most this many keys by default (BFS order: nearest first). */
export const DESCENDANTS_MAX = 1_000_000;
/** descendantsAsync() yields to the event loop after this many keys (a few ms of walking). */
export const DESCENDANTS_CHUNK_KEYS = 10_000;
/** A group commit writes at most this much; what is left goes in the next group at once. */
const GROUP_RECORDS_MAX = 4096;
const GROUP_BYTES_MAX = 1024 * 1024;
/** Compaction needs more dead records than this (and than live edges). */
const COMPACT_DEAD_RECORDS_MIN = 1000;
/** Compaction writes its snapshot this many records per write, yielding between writes. */
const COMPACT_CHUNK_RECORDS = 4096;

/** What the graph logs through (a pino Logger fits). */
export type GraphLogger = GroupLogLogger;

export type DependencyGraphOptions = {
  /** add() of a new edge beyond this many is refused with DEPENDENCY_LIMIT. */
  readonly maxEdges?: number;
  readonly log?: GraphLogger;
};

export type DependencyGraphStats = {
  readonly edges: number;
  /** Records in the log, live or dead. */
  readonly records: number;
  readonly deadRecords: number;
  readonly logBytes: number;
  /** Group writes and fdatasyncs since open (one each per group commit). */
  readonly writes: number;
  readonly fsyncs: number;
  readonly compactions: number;
  /** True once an fdatasync failed: writes are refused until restart. */
  readonly failed: boolean;
};

type Pending = {
  readonly op: EdgeOp;
  readonly parent: string;
  readonly child: string;
  readonly id: string;
  resolve(changed: boolean): void;
  reject(error: Error): void;
};

type Decided = { readonly pending: Pending; readonly changes: boolean };

class CompactionAborted extends Error {}

const SILENT: GraphLogger = { info: () => undefined, warn: () => undefined };

export class DependencyGraph {
  private queue: Pending[] = [];
  /** Queued or in-flight calls per edge: while any, a call on that edge waits its turn. */
  private readonly queuedPerEdge = new Map<string, number>();
  /** Group commits and the compaction's swap run one at a time, in its chain. */
  private readonly committer = new GroupCommitter(() => this.commitGroup());
  private failure: DependencyError | null = null;
  private closing = false;
  private closed: Promise<void> | null = null;
  private compaction: Promise<void> | null = null;
  private compactAboveDead = COMPACT_DEAD_RECORDS_MIN;

  private constructor(
    private readonly file: GroupLogFile<LogRecord>,
    private readonly edges: EdgeSet,
    private readonly maxEdges: number,
    private readonly log: GraphLogger,
  ) {}

  /**
   * Opens (creating `dir` and the log when missing) and replays the log. A
   * torn tail is cut off and logged; damage anywhere else throws
   * DependencyError DATA_CORRUPT. fs errors are thrown as they are.
   */
  static async open(dir: string, options: DependencyGraphOptions = {}): Promise<DependencyGraph> {
    const maxEdges = options.maxEdges ?? DEPENDENCY_EDGES_MAX_DEFAULT;
    if (!Number.isSafeInteger(maxEdges) || maxEdges < 1) throw new DependencyError('INVALID_PARAMETER', `maxEdges must be a positive integer, got ${maxEdges}`);
    const log = options.log ?? SILENT;
    const edges = new EdgeSet();
    // A failed fdatasync fails the graph (fail()), so its group is left as it is.
    const file = await GroupLogFile.open(dir, LOG_FILE, DEPENDENCY_LOG, (group) => applyGroup(edges, group), log, { afterFailure: 'keep' });
    if (edges.size > maxEdges) {
      log.warn({ path: file.path, edges: edges.size, maxEdges }, 'dependency log holds more edges than maxEdges; new edges are refused until some are removed');
    }
    return new DependencyGraph(file, edges, maxEdges, log);
  }

  get edgeCount(): number {
    return this.edges.size;
  }

  has(parent: string, child: string): boolean {
    return this.edges.has(parent, child);
  }

  /** Cheaper than children(key).length > 0: no copy. */
  hasChildren(key: string): boolean {
    return this.edges.childrenOf(key) !== undefined;
  }

  children(parent: string): string[] {
    return [...(this.edges.childrenOf(parent) ?? [])];
  }

  parents(child: string): string[] {
    return [...(this.edges.parentsOf(child) ?? [])];
  }

  /**
   * Resolves once the edge is durable: true when it is new, false when it was
   * already there (then nothing is written). Rejects with DependencyError:
   * INVALID_PARAMETER (a self edge, a key that is not a valid one),
   * DEPENDENCY_LIMIT (maxEdges reached), STORAGE_IO / STORAGE_FULL (the write
   * or fdatasync failed), SHUTTING_DOWN (after close()).
   */
  add(parent: string, child: string): Promise<boolean> {
    return this.submit('add', parent, child);
  }

  /** Resolves once the removal is durable: true when the edge was there, false when it was not. Rejects as add(). */
  remove(parent: string, child: string): Promise<boolean> {
    return this.submit('remove', parent, child);
  }

  /**
   * Every key reachable from a root, excluding the roots, each once, in BFS
   * order (nearest first). Cycles end the walk, not loop it. Costs one step
   * per edge walked, all in this call: about 0.6 s for a million keys on the
   * 2-core box, so a caller that may walk that far on the main thread wants
   * descendantsAsync. Stops after `max` keys (logged), which the default
   * maxEdges never reaches: every descendant is the child of some edge.
   */
  descendants(roots: readonly string[], max = DESCENDANTS_MAX): string[] {
    const walk = this.walk(roots, max, Infinity);
    for (;;) {
      const step = walk.next();
      if (step.done === true) return step.value;
    }
  }

  /**
   * descendants(), yielding to the event loop after every
   * DESCENDANTS_CHUNK_KEYS keys. Edges added or removed meanwhile may or may
   * not be followed; every edge present throughout is.
   */
  async descendantsAsync(roots: readonly string[], max = DESCENDANTS_MAX): Promise<string[]> {
    const walk = this.walk(roots, max, DESCENDANTS_CHUNK_KEYS);
    for (;;) {
      const step = walk.next();
      if (step.done === true) return step.value;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /** The BFS of descendants(); pauses (yields) after every `chunk` keys found. */
  private *walk(roots: readonly string[], max: number, chunk: number): Generator<void, string[]> {
    if (!Number.isSafeInteger(max) || max < 0) throw new DependencyError('INVALID_PARAMETER', `max must be a whole number, got ${max}`);
    const seen = new Set<string>(roots);
    const order = [...seen];
    const rootCount = order.length;
    for (let i = 0; i < order.length; i++) {
      const children = this.edges.childrenOf(order[i]);
      if (children === undefined) continue;
      for (const child of children) {
        if (seen.has(child)) continue;
        if (order.length - rootCount === max) {
          this.log.warn({ roots: roots.length, max }, 'dependency walk stopped at its bound; the rest of the descendants were not visited');
          return order.slice(rootCount);
        }
        seen.add(child);
        order.push(child);
        if ((order.length - rootCount) % chunk === 0) yield;
      }
    }
    return order.slice(rootCount);
  }

  stats(): DependencyGraphStats {
    return {
      edges: this.edges.size,
      records: this.file.records,
      deadRecords: this.file.records - this.edges.size,
      logBytes: this.file.bytes,
      ...this.file.counters,
      failed: this.failure !== null,
    };
  }

  /** Resolves once no call is queued, no group is in flight and no compaction runs. */
  async idle(): Promise<void> {
    while (this.committer.scheduled || this.queue.length > 0 || this.compaction !== null) {
      if (this.compaction !== null) await this.compaction;
      // A commit scheduled for this turn joins the chain first.
      else await new Promise<void>((resolve) => setImmediate(resolve));
      await this.committer.settled();
    }
  }

  /** Waits for queued writes (and stops a compaction), then closes the log. Later writes: SHUTTING_DOWN. */
  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  // ---- the write queue -----------------------------------------------------------

  private submit(op: EdgeOp, parent: string, child: string): Promise<boolean> {
    const refused = keyProblem('parent', parent) ?? keyProblem('child', child) ?? (parent === child ? 'a key cannot depend on itself' : null);
    if (refused !== null) return Promise.reject(new DependencyError('INVALID_PARAMETER', refused));
    if (this.closing) return Promise.reject(new DependencyError('SHUTTING_DOWN', 'the dependency graph is closed'));
    if (this.failure !== null) return Promise.reject(this.failure);
    const id = `${parent.length}:${parent}${child}`;
    if (!this.queuedPerEdge.has(id)) {
      // Nothing pending on this edge: the durable state answers a no-op at once.
      const present = this.edges.has(parent, child);
      if (op === 'add' ? present : !present) return Promise.resolve(false);
    }
    this.queuedPerEdge.set(id, (this.queuedPerEdge.get(id) ?? 0) + 1);
    return new Promise<boolean>((resolve, reject) => {
      this.queue.push({ op, parent, child, id, resolve, reject });
      this.committer.schedule();
    });
  }

  /** Takes calls in order up to the group bounds and decides each against what the earlier ones will have done. */
  private formGroup(): { ops: Decided[]; records: LogRecord[] } {
    const ops: Decided[] = [];
    const records: LogRecord[] = [];
    const effect = new Map<string, boolean>();
    let edges = this.edges.size;
    let bytes = 0;
    let taken = 0;
    for (; taken < this.queue.length && records.length < GROUP_RECORDS_MAX && bytes < GROUP_BYTES_MAX; taken++) {
      const pending = this.queue[taken];
      const present = effect.get(pending.id) ?? this.edges.has(pending.parent, pending.child);
      const changes = pending.op === 'add' ? !present : present;
      if (changes && pending.op === 'add' && edges >= this.maxEdges) {
        this.settle(pending);
        pending.reject(new DependencyError('DEPENDENCY_LIMIT', `at most ${this.maxEdges} dependency edges; remove some first`));
        continue;
      }
      if (changes) {
        const record = { op: pending.op, parent: pending.parent, child: pending.child };
        records.push(record);
        bytes += DEPENDENCY_LOG.recordBytes(record);
        effect.set(pending.id, pending.op === 'add');
        edges += pending.op === 'add' ? 1 : -1;
      }
      ops.push({ pending, changes });
    }
    this.queue = this.queue.slice(taken);
    return { ops, records };
  }

  /** Runs in the chain. Never throws: each call of the group is settled. */
  private async commitGroup(): Promise<void> {
    const failure = this.failure;
    if (failure !== null) {
      for (const pending of this.queue.splice(0)) {
        this.settle(pending);
        pending.reject(failure);
      }
      return;
    }
    const { ops, records } = this.formGroup();
    let error: Error | null = null;
    if (records.length > 0) {
      try {
        await this.append(records);
        applyGroup(this.edges, records);
      } catch (caught) {
        error = caught instanceof DependencyError ? caught : storageError(caught, `append to ${this.file.path}`);
      }
    }
    for (const { pending, changes } of ops) {
      this.settle(pending);
      if (error !== null) pending.reject(error);
      else pending.resolve(changes);
    }
    if (this.queue.length > 0) this.committer.schedule();
    this.maybeCompact();
  }

  private settle(pending: Pending): void {
    const left = (this.queuedPerEdge.get(pending.id) ?? 1) - 1;
    if (left === 0) this.queuedPerEdge.delete(pending.id);
    else this.queuedPerEdge.set(pending.id, left);
  }

  /** Writes one group at the end of the log and fdatasyncs it (a failed write is cut off the file, so the next group follows whole ones). */
  private async append(records: readonly LogRecord[]): Promise<void> {
    try {
      await this.file.append(records);
    } catch (caught) {
      if (!(caught instanceof AppendFailure)) throw caught;
      if (caught.stage === 'fdatasync') throw this.fail(caught.error, 'fdatasync');
      if (!caught.cut) this.fail(caught.cutError, 'truncate after a failed write');
      throw storageError(caught.error, `write to ${this.file.path}`);
    }
  }

  /** From now on every write is refused with this error. */
  private fail(error: unknown, what: string): DependencyError {
    const message = error instanceof Error ? error.message : String(error);
    this.failure ??= new DependencyError(
      storageCode(error),
      `${what} of ${this.file.path} failed (${message}); dependency writes are refused until the server restarts`,
      error,
    );
    this.log.warn({ err: error, path: this.file.path }, this.failure.message);
    return this.failure;
  }

  private async shutdown(): Promise<void> {
    this.closing = true;
    await this.compaction;
    while (this.queue.length > 0) await this.committer.runGroup();
    await this.committer.settled();
    await this.file.close();
  }

  // ---- compaction ----------------------------------------------------------------

  private maybeCompact(): void {
    if (this.compaction !== null || this.closing || this.failure !== null) return;
    const dead = this.file.records - this.edges.size;
    if (dead <= this.edges.size || dead <= this.compactAboveDead) return;
    this.compaction = this.compact().finally(() => {
      this.compaction = null;
    });
  }

  private async compact(): Promise<void> {
    const file = this.file;
    const start = { bytes: file.bytes, records: file.records, group: file.nextGroup };
    let tmp: FileHandle | null = null;
    let installed = false;
    try {
      // Read-write: once renamed it is the log, and the next compaction reads its tail.
      tmp = await file.openRewrite();
      const snapshot = await this.writeSnapshot(tmp, start.group);
      // The bulk is synced before the swap, so the swap waits only for the tail.
      await tmp.datasync();
      const target = tmp;
      await this.committer.exclusive(async () => {
        if (this.closing || this.failure !== null) throw new CompactionAborted();
        const tail = Buffer.alloc(file.bytes - start.bytes);
        await readAt(file.handle, tail, start.bytes);
        await writeAt(target, tail, snapshot.bytes);
        // fdatasync, rename over the log, append to the new file from now on.
        await file.installRewrite(target, {
          bytes: snapshot.bytes + tail.length,
          records: snapshot.records + (file.records - start.records),
          nextGroup: file.nextGroup,
        });
        installed = true;
        await file.syncDir().catch((error: unknown) => {
          throw this.fail(error, 'fsync of the directory after compaction');
        });
      });
      file.counters.compactions++;
      this.log.info({ path: file.path, edges: this.edges.size, records: file.records, bytes: file.bytes }, 'dependency log compacted');
    } catch (error) {
      if (!installed) await file.abandonRewrite(tmp);
      if (error instanceof CompactionAborted) return;
      // Not again until the dead records have doubled.
      this.compactAboveDead = Math.max(COMPACT_DEAD_RECORDS_MIN, 2 * (file.records - this.edges.size));
      this.log.warn({ err: error, path: file.path }, 'dependency log compaction failed; the old log stays in use');
    }
  }

  /**
   * Writes every live edge to `tmp` as one group numbered just before
   * `firstTailGroup` (the group the copied tail starts with), then the header.
   * Edges change meanwhile; the tail copied at the swap replays every such
   * change after the snapshot, so the result is exact (edge-set.ts entries()).
   */
  private async writeSnapshot(tmp: FileHandle, firstTailGroup: number): Promise<{ bytes: number; records: number }> {
    const group = (firstTailGroup - 1) >>> 0;
    const edges = this.edges.entries();
    let next = edges.next();
    let bytes = HEADER_BYTES;
    let records = 0;
    while (next.done !== true) {
      if (this.closing) throw new CompactionAborted();
      const chunk: LogRecord[] = [];
      for (; next.done !== true && chunk.length < COMPACT_CHUNK_RECORDS; next = edges.next()) {
        chunk.push({ op: 'add', parent: next.value[0], child: next.value[1] });
      }
      const buf = DEPENDENCY_LOG.encode(chunk, group, next.done === true);
      await writeAt(tmp, buf, bytes);
      bytes += buf.length;
      records += chunk.length;
    }
    await writeAt(tmp, DEPENDENCY_LOG.header(records > 0 ? group : firstTailGroup), 0);
    return { bytes, records };
  }
}

function applyGroup(edges: EdgeSet, group: readonly LogRecord[]): void {
  for (const record of group) {
    if (record.op === 'add') edges.add(record.parent, record.child);
    else edges.remove(record.parent, record.child);
  }
}

/** Callers validate keys; this guards the log format (u16 lengths, UTF-8 that reads back the same). */
function keyProblem(name: string, key: unknown): string | null {
  if (typeof key !== 'string' || key.length === 0) return `${name} must be a non-empty string`;
  if (!key.isWellFormed()) return `${name} is not valid Unicode (lone surrogate)`;
  const bytes = Buffer.byteLength(key, 'utf8');
  return bytes > LIMITS.key_bytes_max ? `${name} is ${bytes} bytes; the limit is ${LIMITS.key_bytes_max}` : null;
}

function storageError(error: unknown, what: string): DependencyError {
  return new DependencyError(storageCode(error), `${what} failed: ${error instanceof Error ? error.message : String(error)}`, error);
}
