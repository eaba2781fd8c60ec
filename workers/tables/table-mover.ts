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
// once the commit is durable. Runs inside a shard.

import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { InternalTask } from '../shard/shard-actor.js';
import { MantisError } from '../../shared/errors.js';
import { decodeRow, encodeRow } from '../../shared/tables/row-codec.js';
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

type Write = PutOp | DeleteOp;

/** Rows of one segment at most (one move step). */
export const SEGMENT_ROWS_MAX = 65_536;
/** The `move` command moves at most this many chunks in its turn (the rest goes in the background). */
const MOVE_NOW_CHUNKS_MAX = 16;
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
};

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
    const prefix = keyToBinary(rowPrefix(t.tableId));
    const keys: Uint8Array[] = [];
    const seqs: number[] = [];
    const rows: Uint8Array[] = [];
    let expires: Float64Array | null = null;
    const width = t.state.types.length;
    this.store.scan(prefix, false, prefixEnd(prefix), nowMs, (bin) => {
      const key = binaryToKey(bin);
      const entry = this.store.get(key, nowMs);
      if (entry === undefined) return true;
      let value = entry.value;
      // A row stored before columns were added: its stored form gets the added columns' defaults.
      if (storedCellCount(value) < width) value = encodeRow(t.state.types, t.decode(value));
      else value = value.slice();
      if (entry.expiresAtMs !== 0) {
        expires ??= new Float64Array(max);
        expires[keys.length] = entry.expiresAtMs;
      }
      keys.push(key);
      seqs.push(entry.seq);
      rows.push(value);
      return keys.length < max;
    });
    const e = expires as Float64Array | null;
    return { keys, seqs, rows, expires: e === null ? null : e.slice(0, keys.length) };
  }

  // ---- the `move` command: in this thread, now ----------------------------------

  /** Moves the table's delta into segments in this turn (at most MOVE_NOW_CHUNKS_MAX segments; the rest in the background). */
  moveNow(t: TableData, nowMs: number, undo: Undo[]): { answer: TableAnswer; writes: Write[] } | ShardResponse {
    const all: Write[] = [];
    const started = Date.now();
    let moved = 0;
    for (let chunk = 0; chunk < MOVE_NOW_CHUNKS_MAX; chunk++) {
      const c = this.collect(t, nowMs, SEGMENT_ROWS_MAX);
      if (c.keys.length === 0) break;
      const segId = this.allocate(t);
      const path = segmentPath(this.dataDir, t.tableId, segId);
      const meta = this.buildHere(t.state, path, c);
      const writes = this.moveWrites(t, segId, meta, c, nowMs);
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
    return { answer: { ok: true, op: 'move' }, writes: all };
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
    return built.meta;
  }

  /** The commit of a move: the segment entry, and per moved row the delete of its delta key or (changed meanwhile) a delete mark. */
  moveWrites(t: TableData, segId: number, meta: SegmentMeta, c: Collected, nowMs: number): Write[] {
    const writes: Write[] = [{ kind: 'put', key: t.segmentKeyOf(segId), contentType: TABLE_CONTENT_TYPE, expiresAtMs: 0, value: encodeSegmentMeta(meta) }];
    for (let i = 0; i < c.keys.length; i++) {
      const key = c.keys[i];
      const entry = this.store.get(key, nowMs);
      if (entry !== undefined && entry.seq === c.seqs[i]) writes.push({ kind: 'delete', key });
      else writes.push({ kind: 'put', key: t.markKey({ segId } as SegEntry, i, slotOfTableKey(key)), contentType: TABLE_CONTENT_TYPE, expiresAtMs: 0, value: EMPTY });
    }
    return writes;
  }

  private registered(t: TableData, segId: number, meta: SegmentMeta, writes: Write[]): void {
    const seg = t.entryOf(segId, meta);
    t.addSegment(seg);
    const marks = t.marksOf(seg, 0);
    for (const w of writes) if (w.kind === 'put' && w.key[1] === 0x56) marks.add(markIndex(w.key));
  }

  // ---- background: moves and compactions through the pool --------------------------

  /** Starts a background move of this table's delta (one segment's worth). */
  startMove(t: TableData, nowMs: number): boolean {
    if (this.busy) return false;
    const c = this.collect(t, nowMs, SEGMENT_ROWS_MAX);
    if (c.keys.length === 0) {
      t.deltaWrites = 0;
      return false;
    }
    const segId = this.allocate(t);
    const path = segmentPath(this.dataDir, t.tableId, segId);
    const started = Date.now();
    this.busy = true;
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
          return { writes, done: () => this.afterDurable(() => old.forEach((p) => rmSync(p, { force: true }))) };
        });
      })
      .catch((error: unknown) => this.failed(path, error));
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
        rmSync(path, { force: true });
        throw error;
      }
      if (result === null) {
        if (attempt + 1 >= COMMIT_ATTEMPTS_MAX) {
          this.busy = false;
          rmSync(path, { force: true });
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

function frameRows(rows: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const r of rows) total += 4 + r.length;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const r of rows) {
    view.setUint32(at, r.length, true);
    out.set(r, at + 4);
    at += 4 + r.length;
  }
  return out;
}

function markIndex(key: Uint8Array): number {
  return ((key[10] << 24) >>> 0) + (key[11] << 16) + (key[12] << 8) + key[13];
}

function storedCellCount(value: Uint8Array): number {
  let v = 0;
  let mul = 1;
  for (let i = 0; i < value.length; i++) {
    const b = value[i];
    v += (b & 0x7f) * mul;
    if (b < 0x80) return v;
    mul *= 128;
  }
  return v;
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Writes a file so that a crash leaves either nothing at `path` or all of it (temp, fsync, rename, fsync dir). */
export function writeFileDurablySync(path: string, bytes: Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    let at = 0;
    while (at < bytes.length) at += writeSync(fd, bytes, at, bytes.length - at);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dfd = openSync(dirname(path), 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

export function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}
