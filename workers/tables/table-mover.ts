// The mover: turns a table's delta rows into an immutable column segment, and
// compaction: rewrites small segments or segments with many delete marks into
// one. Both follow one pattern, safe against kill -9 at any point:
//  1. collect the rows (delta: up to 65,536 in primary-key order, remembering
//     each row's LSM sequence number; compaction: the live rows of the chosen
//     segments, merged in primary-key order);
//  2. build the segment file (pool task 'table-segment', or in this thread for
//     the `move` command and tests): written durably under a new segment id;
//  3. commit as ONE internal write (one WAL record): the segmentKey entry, the
//     deletes of the moved delta keys (or of the old segments' entries and
//     marks). A delta row changed or deleted while the file was built keeps
//     its delta key (or stays gone) and its copy in the segment gets a delete
//     mark, so every row keeps exactly one live copy.
// A crash before the commit leaves an orphan file (deleted at open); after it,
// the rows are in the segment. Old segment files of a compaction are deleted
// once the commit is durable and no transaction's snapshot older than the
// commit is left (TableShard.retireFiles). Runs inside a shard.

import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { InternalTask } from '../shard/shard-actor.js';
import { MantisError } from '../../shared/errors.js';
import { decodeRow, encodeRow, frameRows, rowCellCount } from '../../shared/tables/row-codec.js';
import { buildSegment, encodeSegmentMeta, normalizeMeta, type SegmentMeta } from '../../shared/tables/segment-format.js';
import { rowPrefix, slotOfTableKey } from '../../shared/tables/table-keys.js';
import type { TableAnswer } from '../../shared/tables/table-protocol.js';
import type { Row } from '../../shared/tables/table-types.js';
import type { DeleteOp, PutOp, ShardResponse } from '../../shared/wire.js';
import type { LsmStore } from '../lsm/index.js';
import type { ShardOps, Undo } from '../shard/shard-ops.js';
import { binaryToKey, keyToBinary } from '../store/memtable.js';
import { prefixEnd } from '../store/sorted-keys.js';
import { TABLE_CONTENT_TYPE, type TableState } from './table-catalog.js';
import { compareBytes, segmentPath, tableDir, type SegEntry, type TableData } from './table-data.js';
import type { TableShard } from './table-shard.js';
import { writeFileDurablySync } from './segment-task.js';

type Write = PutOp | DeleteOp;

/** Rows of one segment at most (one move step). */
export const SEGMENT_ROWS_MAX = 65_536;
/** The `move` command moves at most this many segments' worth, or for about this long, in its turn (answering more: true). */
const MOVE_NOW_CHUNKS_MAX = 16;
const MOVE_NOW_BUDGET_MS = 1_000;
/** Delta rows a background move collects per shard turn (the shard serves requests between). */
const COLLECT_SLICE_ROWS = 8_192;
/** Segments below this many rows are merged by compaction. */
const SMALL_SEGMENT_ROWS = 16_384;
/** A segment with this share of rows deleted is rewritten. */
const DELETED_SHARE_MAX = 0.25;
/** A commit refused by transactions is tried again this many times (then the file is dropped). */
const COMMIT_ATTEMPTS_MAX = 50;

/** What the mover needs of the shard around it; absent members run in this thread (tests). */
export type MoverDeps = {
  /** Runs a pool task (the 'table-segment' build). */
  readonly runPool: (task: unknown, transfer: ArrayBuffer[]) => Promise<unknown>;
  /** Queues internal work (ShardActor.runInternal). */
  readonly queueInternal: (task: InternalTask) => void;
  /** Calls back once everything logged so far is durable. */
  readonly afterDurable: (cb: () => void) => void;
  /** Fault hook (MANTIS_FAULT_TABLE_MOVE_CRASH): 'after-file' exits after the file is written, 'after-record' after the commit is queued. */
  readonly fault: string | null;
  /**
   * --wal-archive: keeps a new segment file beside the archived WAL before its commit is logged,
   * so point-in-time recovery finds every file the log it replays names.
   */
  readonly archiveFile?: (path: string) => void;
};

/** Delta rows being gathered, slice by slice. */
type Collecting = { keys: Uint8Array[]; seqs: number[]; rows: Uint8Array[]; expires: number[]; after: string | null };

function newCollecting(): Collecting {
  return { keys: [], seqs: [], rows: [], expires: [], after: null };
}

function collected(acc: Collecting): Collected {
  const expires = acc.expires.some((e) => e !== 0) ? Float64Array.from(acc.expires) : null;
  return { keys: acc.keys, seqs: acc.seqs, rows: acc.rows, expires };
}

/** Delta rows gathered for one move. */
type Collected = {
  readonly keys: Uint8Array[];
  readonly seqs: number[];
  readonly rows: Uint8Array[];
  readonly expires: Float64Array | null;
};

/** The segment task's input (workers/tables/segment-task.ts). */
export type SegmentTask = {
  readonly kind: 'table-segment';
  readonly path: string;
  readonly types: string[];
  readonly keyColumns: number[];
  readonly keyDesc: boolean[];
  readonly bloomColumns: number[];
  readonly rows: Uint8Array;
  readonly count: number;
  readonly expiresAtMs: Float64Array | null;
};

export class TableMover {
  /** A background move or compaction is in flight (one per shard at a time). */
  busy = false;
  private readonly nextSeg = new Map<number, number>();

  constructor(
    private readonly shard: TableShard,
    private readonly store: LsmStore,
    private readonly ops: ShardOps,
    private readonly dataDir: string,
    private readonly log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void,
    private readonly deps: Partial<MoverDeps>,
  ) {}

  /** A new segment id of the table (above every registered segment and every file present). */
  allocate(t: TableData): number {
    let next = this.nextSeg.get(t.tableId);
    if (next === undefined) {
      next = t.segments.length === 0 ? 1 : t.segments[t.segments.length - 1].segId + 1;
      for (const f of listDir(tableDir(this.dataDir, t.tableId))) {
        const m = /^s(\d+)\.seg/.exec(f);
        if (m !== null) next = Math.max(next, Number(m[1]) + 1);
      }
    }
    this.nextSeg.set(t.tableId, next + 1);
    return next;
  }

  /** At open: segment files no registered segment names (a crash before a commit) are deleted. */
  removeOrphans(): void {
    const root = join(this.dataDir, 'tables');
    for (const dir of listDir(root)) {
      const m = /^t(\d+)$/.exec(dir);
      if (m === null) continue;
      const t = this.shard.data.get(Number(m[1]));
      if (t === undefined) continue; // a dropped table's files go with its drop
      const live = new Set(t.segments.map((s) => `s${s.segId}.seg`));
      for (const f of listDir(join(root, dir))) {
        if (live.has(f)) continue;
        rmSync(join(root, dir, f), { force: true });
        this.log('info', 'table: removed an orphan segment file', { table: t.state.info.name, file: f });
      }
    }
  }

  // ---- collecting -------------------------------------------------------------

  /** Up to `max` delta rows in primary-key order, each with its LSM sequence number. */
  collect(t: TableData, nowMs: number, max: number): Collected {
    const acc = newCollecting();
    this.collectSlice(t, acc, nowMs, max);
    return collected(acc);
  }

  /** Adds up to `limit` more delta rows after the last one collected; false when the delta has no more. */
  private collectSlice(t: TableData, acc: Collecting, nowMs: number, limit: number): boolean {
    const prefix = keyToBinary(rowPrefix(t.tableId));
    const width = t.state.types.length;
    let n = 0;
    let more = false;
    this.store.scan(acc.after ?? prefix, acc.after !== null, prefixEnd(prefix), nowMs, (bin) => {
      if (n >= limit) {
        more = true;
        return false;
      }
      acc.after = bin;
      const key = binaryToKey(bin);
      const entry = this.store.get(key, nowMs);
      if (entry === undefined) return true;
      let value = entry.value;
      // A row stored before columns were added: its stored form gets the added columns' defaults.
      if (rowCellCount(value) < width) value = encodeRow(t.state.types, t.decode(value));
      else value = value.slice();
      acc.keys.push(key);
      acc.seqs.push(entry.seq);
      acc.rows.push(value);
      acc.expires.push(entry.expiresAtMs);
      n++;
      return true;
    });
    return more;
  }

  // ---- the `move` command: in this thread, now ----------------------------------

  /** Moves the table's delta into segments in this turn (at most MOVE_NOW_CHUNKS_MAX segments; the rest in the background). */
  moveNow(t: TableData, nowMs: number, undo: Undo[]): { answer: TableAnswer; writes: Write[] } | ShardResponse {
    const all: Write[] = [];
    const started = Date.now();
    let moved = 0;
    let more = false;
    for (let chunk = 0; ; chunk++) {
      if (chunk >= MOVE_NOW_CHUNKS_MAX || (chunk > 0 && Date.now() - started >= MOVE_NOW_BUDGET_MS)) {
        more = true;
        break;
      }
      const c = this.collect(t, nowMs, SEGMENT_ROWS_MAX);
      if (c.keys.length === 0) break;
      const segId = this.allocate(t);
      const path = segmentPath(this.dataDir, t.tableId, segId);
      const meta = this.buildHere(t.state, path, c);
      // Collected, built and committed in this one turn: no row can have changed meanwhile.
      const writes = this.moveWrites(t, segId, meta, c, nowMs, true);
      const refused = this.ops.applyInternalWrites(writes, nowMs, undo);
      if (refused !== null) {
        rmSync(path, { force: true });
        if (all.length > 0) break; // what moved so far stays (its writes are applied)
        return refused;
      }
      this.registered(t, segId, meta, writes);
      for (const w of writes) all.push(w);
      moved += c.keys.length;
      if (c.keys.length < SEGMENT_ROWS_MAX) break;
    }
    if (moved > 0) {
      t.lastMove = { atMs: nowMs, rows: moved, ms: Date.now() - started };
      t.deltaWrites = 0;
    }
    return { answer: { ok: true, op: 'move', more }, writes: all };
  }

  private buildHere(state: TableState, path: string, c: Collected): SegmentMeta {
    const rows: Row[] = c.rows.map((bytes) => decodeFull(state, bytes));
    const built = buildSegment({
      types: state.types,
      rows,
      keyColumns: state.keyCols,
      keyDesc: state.keyDesc,
      bloomColumns: bloomColumnsOf(state),
      expiresAtMs: c.expires ?? undefined,
    });
    writeFileDurablySync(path, built.bytes);
    this.deps.archiveFile?.(path);
    return built.meta;
  }

  /** The commit of a move: the segment entry, and per moved row the delete of its delta key or (changed meanwhile) a delete mark. */
  moveWrites(t: TableData, segId: number, meta: SegmentMeta, c: Collected, nowMs: number, unchanged = false): Write[] {
    const writes: Write[] = [{ kind: 'put', key: t.segmentKeyOf(segId), contentType: TABLE_CONTENT_TYPE, expiresAtMs: 0, value: encodeSegmentMeta(meta) }];
    for (let i = 0; i < c.keys.length; i++) {
      const key = c.keys[i];
      if (unchanged) {
        writes.push({ kind: 'delete', key });
        continue;
      }
      const entry = this.store.get(key, nowMs);
      if (entry !== undefined && entry.seq === c.seqs[i]) writes.push({ kind: 'delete', key });
      else writes.push({ kind: 'put', key: t.markKey({ segId } as SegEntry, i, slotOfTableKey(key)), contentType: TABLE_CONTENT_TYPE, expiresAtMs: 0, value: EMPTY });
    }
    return writes;
  }

  private registered(t: TableData, segId: number, meta: SegmentMeta, writes: Write[]): void {
    const seg = t.entryOf(segId, meta);
    t.addSegment(seg);
    t.marksOf(seg, 0);
    for (const w of writes) if (w.kind === 'put' && w.key[1] === 0x56 && segIdOfMark(w.key) === segId) t.noteMark(segId, markIndex(w.key), true);
  }

  // ---- background: moves and compactions through the pool --------------------------

  /**
   * Starts a background move of this table's delta (one segment's worth): rows collected a slice
   * per shard turn, the file built on the pool, the commit as internal work.
   */
  startMove(t: TableData, nowMs: number): boolean {
    if (this.busy) return false;
    this.busy = true;
    const acc = newCollecting();
    const started = Date.now();
    if (this.deps.queueInternal === undefined) {
      this.collectSlice(t, acc, nowMs, SEGMENT_ROWS_MAX);
      return this.moveCollected(t, collected(acc), started);
    }
    const queue = this.deps.queueInternal;
    const slice: InternalTask = (now) => {
      if (this.shard.data.get(t.tableId) !== t) {
        this.busy = false;
        return [];
      }
      try {
        const more = this.collectSlice(t, acc, now, Math.min(COLLECT_SLICE_ROWS, SEGMENT_ROWS_MAX - acc.keys.length));
        if (more && acc.keys.length < SEGMENT_ROWS_MAX) queue(slice);
        else this.moveCollected(t, collected(acc), started);
      } catch (error) {
        this.busy = false;
        throw error;
      }
      return [];
    };
    queue(slice);
    return true;
  }

  private moveCollected(t: TableData, c: Collected, started: number): boolean {
    if (c.keys.length === 0) {
      this.busy = false;
      t.deltaWrites = 0;
      return false;
    }
    const segId = this.allocate(t);
    const path = segmentPath(this.dataDir, t.tableId, segId);
    this.build(t.state, path, c.rows, c.expires)
      .then((meta) => {
        this.faultPoint('after-file');
        this.commitLater(t.tableId, path, 0, (now, undo) => {
          const current = this.shard.data.get(t.tableId);
          if (current === undefined) return { writes: [], done: () => rmSync(path, { force: true }) };
          const writes = this.moveWrites(current, segId, meta, c, now);
          const refused = this.ops.applyInternalWrites(writes, now, undo);
          if (refused !== null) return null;
          this.registered(current, segId, meta, writes);
          current.lastMove = { atMs: now, rows: c.keys.length, ms: Date.now() - started };
          current.deltaWrites = Math.max(0, current.deltaWrites - c.keys.length);
          return { writes, done: () => undefined };
        });
      })
      .catch((error: unknown) => this.failed(path, error));
    return true;
  }

  /** Starts a compaction of the table's small or much-deleted segments; false when none is due. */
  startCompaction(t: TableData, nowMs: number): boolean {
    if (this.busy) return false;
    if (this.removeDead(t, nowMs)) return true;
    const chosen = chooseCompaction(t, nowMs);
    if (chosen.length === 0) return false;
    // The live rows of the chosen segments, merged in primary-key order.
    const picked: { pk: Uint8Array; row: Row; expires: number; seg: SegEntry; index: number }[] = [];
    for (const seg of chosen) {
      const sel = t.liveSelection(seg, nowMs);
      const n = sel === null ? seg.meta.rows : sel.length;
      for (let k = 0; k < n; k++) {
        const i = sel === null ? k : sel[k];
        const row = t.segmentRow(seg, i);
        picked.push({ pk: t.pkBytes(t.keyCellsOf(row)), row, expires: t.expiryOf(seg, i), seg, index: i });
      }
    }
    picked.sort((a, b) => compareBytes(a.pk, b.pk));
    const segId = this.allocate(t);
    const path = segmentPath(this.dataDir, t.tableId, segId);
    const rows = picked.map((p) => encodeRow(t.state.types, p.row));
    const expires = picked.some((p) => p.expires !== 0) ? Float64Array.from(picked, (p) => p.expires) : null;
    this.busy = true;
    this.build(t.state, path, rows, expires)
      .then((meta) => {
        this.commitLater(t.tableId, path, 0, (now, undo) => {
          const current = this.shard.data.get(t.tableId);
          if (current === undefined || chosen.some((s) => !current.segments.includes(s))) return { writes: [], done: () => rmSync(path, { force: true }) };
          const writes: Write[] = [{ kind: 'put', key: current.segmentKeyOf(segId), contentType: TABLE_CONTENT_TYPE, expiresAtMs: 0, value: encodeSegmentMeta(meta) }];
          for (const seg of chosen) {
            writes.push({ kind: 'delete', key: current.segmentKeyOf(seg.segId) });
            const marks = current.marksOf(seg, now);
            for (const w of this.markKeysOf(current, seg, now)) writes.push({ kind: 'delete', key: w });
            // Rows deleted while the new file was built stay deleted there.
            for (let i = 0; i < picked.length; i++) {
              const p = picked[i];
              if (p.seg === seg && marks.has(p.index)) writes.push({ kind: 'put', key: current.markKey({ segId } as SegEntry, i, current.slotOf(current.keyCellsOf(p.row))), contentType: TABLE_CONTENT_TYPE, expiresAtMs: 0, value: EMPTY });
            }
          }
          const refused = this.ops.applyInternalWrites(writes, now, undo);
          if (refused !== null) return null;
          for (const seg of chosen) current.removeSegment(seg.segId);
          this.registered(current, segId, meta, writes);
          const old = chosen.map((s) => s.path);
          // The old files go once the commit is durable and no snapshot older than it can read them.
          return { writes, done: () => this.afterDurable(() => this.shard.retireFiles(old)) };
        });
      })
      .catch((error: unknown) => this.failed(path, error));
    return true;
  }

  /** Segments whose every row is deleted: their entries and marks go in one record, then their files. */
  private removeDead(t: TableData, nowMs: number): boolean {
    const dead = t.segments.filter((seg) => t.marksOf(seg, nowMs).size >= seg.meta.rows);
    if (dead.length === 0) return false;
    this.busy = true;
    this.commitLater(t.tableId, '', 0, (now, undo) => {
      const current = this.shard.data.get(t.tableId);
      if (current === undefined) return { writes: [], done: () => undefined };
      const gone = dead.filter((seg) => current.segments.includes(seg));
      const writes: Write[] = [];
      for (const seg of gone) {
        writes.push({ kind: 'delete', key: current.segmentKeyOf(seg.segId) });
        for (const key of this.markKeysOf(current, seg, now)) writes.push({ kind: 'delete', key });
      }
      const refused = this.ops.applyInternalWrites(writes, now, undo);
      if (refused !== null) return null;
      for (const seg of gone) current.removeSegment(seg.segId);
      const paths = gone.map((seg) => seg.path);
      return { writes, done: () => this.afterDurable(() => this.shard.retireFiles(paths)) };
    });
    return true;
  }

  private markKeysOf(t: TableData, seg: SegEntry, nowMs: number): Uint8Array[] {
    const keys: Uint8Array[] = [];
    const prefix = keyToBinary(t.markKey(seg, 0, 0).subarray(0, 10));
    this.store.scan(prefix, false, prefixEnd(prefix), nowMs, (key) => {
      keys.push(binaryToKey(key));
      return true;
    });
    return keys;
  }

  /** Builds a segment file: through the pool when there is one, else here. */
  private async build(state: TableState, path: string, rows: Uint8Array[], expires: Float64Array | null): Promise<SegmentMeta> {
    mkdirSync(dirname(path), { recursive: true });
    if (this.deps.runPool === undefined) {
      const rowsOut: Row[] = rows.map((bytes) => decodeFull(state, bytes));
      const built = buildSegment({ types: state.types, rows: rowsOut, keyColumns: state.keyCols, keyDesc: state.keyDesc, bloomColumns: bloomColumnsOf(state), expiresAtMs: expires ?? undefined });
      writeFileDurablySync(path, built.bytes);
      this.deps.archiveFile?.(path);
      return built.meta;
    }
    const framed = frameRows(rows);
    const task: SegmentTask = {
      kind: 'table-segment',
      path,
      types: [...state.types],
      keyColumns: state.keyCols,
      keyDesc: state.keyDesc,
      bloomColumns: bloomColumnsOf(state),
      rows: framed,
      count: rows.length,
      expiresAtMs: expires,
    };
    const transfer = [framed.buffer as ArrayBuffer];
    if (expires !== null) transfer.push(expires.buffer as ArrayBuffer);
    const result = (await this.deps.runPool(task, transfer)) as { meta: SegmentMeta };
    this.deps.archiveFile?.(path);
    return normalizeMeta(result.meta);
  }

  /**
   * Runs a commit as internal work (one WAL record). `apply` returns null when a transaction
   * refused it: tried again later, then given up (the file is removed).
   */
  private commitLater(tableId: number, path: string, attempt: number, apply: (nowMs: number, undo: Undo[]) => { writes: Write[]; done: () => void } | null): void {
    const task: InternalTask = (nowMs, undo) => {
      let result: { writes: Write[]; done: () => void } | null;
      try {
        result = apply(nowMs, undo);
      } catch (error) {
        this.busy = false;
        if (path !== '') rmSync(path, { force: true });
        throw error;
      }
      if (result === null) {
        if (attempt + 1 >= COMMIT_ATTEMPTS_MAX) {
          this.busy = false;
          if (path !== '') rmSync(path, { force: true });
          this.log('warn', 'table: a segment commit kept meeting transactions; dropped', { tableId });
        } else {
          setTimeout(() => this.commitLater(tableId, path, attempt + 1, apply), 20 * (attempt + 1)).unref();
        }
        return [];
      }
      this.busy = false;
      result.done();
      if (result.writes.length > 0) this.faultPoint('after-record');
      return result.writes;
    };
    if (this.deps.queueInternal === undefined) {
      // Tests without an actor: the harness runs queued commits (see runPending).
      this.pending.push(task);
      return;
    }
    this.deps.queueInternal(task);
  }

  /** Commits queued without an actor (tests): the harness runs them as the actor would. */
  readonly pending: InternalTask[] = [];

  private afterDurable(cb: () => void): void {
    if (this.deps.afterDurable === undefined) cb();
    else this.deps.afterDurable(cb);
  }

  private failed(path: string, error: unknown): void {
    this.busy = false;
    rmSync(path, { force: true });
    if (error instanceof MantisError) this.log('warn', 'table: segment build refused', { error: error.message });
    else this.log('error', 'table: segment build failed', { error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  }

  private faultPoint(at: string): void {
    if (this.deps.fault !== at) return;
    this.log('warn', `fault injected: table mover crash ${at}`, {});
    // After 'after-record' the record is in this batch: let it reach the WAL first.
    if (at === 'after-record') setTimeout(() => process.kill(process.pid, 'SIGKILL'), 50);
    else process.kill(process.pid, 'SIGKILL');
  }
}

const EMPTY = new Uint8Array(0);

/** Bloom filters a segment carries: the primary key's first column and every bloom index's column. */
export function bloomColumnsOf(state: TableState): number[] {
  const cols = new Set<number>([state.keyCols[0]]);
  for (const index of state.info.indexes) {
    if (index.type !== 'bloom') continue;
    const at = state.info.columns.findIndex((c) => c.name === index.columns[0]);
    if (at >= 0) cols.add(at);
  }
  return [...cols].sort((a, b) => a - b);
}

/** The segments a compaction of the table would rewrite now (none: nothing due). */
export function chooseCompaction(t: TableData, nowMs: number): SegEntry[] {
  const chosen: SegEntry[] = [];
  let rows = 0;
  for (const seg of t.segments) {
    const marks = t.marksOf(seg, nowMs).size;
    if (marks >= seg.meta.rows) continue; // all gone: rewritten to nothing below
    const live = seg.meta.rows - marks;
    const due = seg.meta.rows < SMALL_SEGMENT_ROWS || marks >= seg.meta.rows * DELETED_SHARE_MAX;
    if (!due || rows + live > SEGMENT_ROWS_MAX) continue;
    chosen.push(seg);
    rows += live;
  }
  if (chosen.length === 1 && t.marksOf(chosen[0], nowMs).size < chosen[0].meta.rows * DELETED_SHARE_MAX) return [];
  return chosen;
}

/** A collected row (re-encoded to the full width by collect()). */
function decodeFull(state: TableState, bytes: Uint8Array): Row {
  return decodeRow(state.types, bytes);
}


function segIdOfMark(key: Uint8Array): number {
  return ((key[6] << 24) >>> 0) + (key[7] << 16) + (key[8] << 8) + key[9];
}

function markIndex(key: Uint8Array): number {
  return ((key[10] << 24) >>> 0) + (key[11] << 16) + (key[12] << 8) + key[13];
}


function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
