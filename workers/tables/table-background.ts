// What a shard's table engine does on its own, in small steps between request
// batches (each step runs as the actor's internal work and its writes are one
// WAL record, so each step is atomic and durable):
// - drops: the keys of a dropped table (delta rows, delete marks, segment
//   entries, index and unique entries, build states) are deleted in chunks,
//   then its segment files, then the drop marker is marked done (kept, so a
//   drop keeps winning); a dropped index's entries likewise;
// - index backfills (table-index.ts IndexBuilds) over the rows already there;
// - TTL: segment rows whose expiry passed get a delete mark (and their index
//   entries go), with an invalidation event `tbl/<table>/<pk as JSON array>`;
//   delta rows expire as LSM entries (shard-main reports them the same way);
// - the mover and compaction are started from tick() (they run on the pool and
//   commit through internal work, table-mover.ts).
// Runs inside a shard.

import { rmSync } from 'node:fs';
import { cellToJson } from '../../shared/tables/cell-json.js';
import { decodeKeyCells } from '../../shared/tables/key-cells.js';
import { pkFromRowKey, tableKeyTag, tableIdOfKey } from '../../shared/tables/table-keys.js';
import type { TableInfo } from '../../shared/tables/table-types.js';
import type { DeleteOp, PutOp } from '../../shared/wire.js';
import type { LsmStore } from '../lsm/index.js';
import type { ShardOps, Undo } from '../shard/shard-ops.js';
import { binaryToKey, keyToBinary } from '../store/memtable.js';
import { TABLE_CONTENT_TYPE, tableDropMarker, tablePrefix } from './table-catalog.js';
import { tableDir, type SegEntry, type TableData } from './table-data.js';
import { IndexBuilds, indexBuildPrefix, indexDropPrefixes, indexesRemoved, indexEntryWrites } from './table-index.js';
import { SEGMENT_ROWS_MAX } from './table-mover.js';
import type { TableShard } from './table-shard.js';

type Write = PutOp | DeleteOp;

const DROP_KEYS_MAX = 5000;
const TTL_ROWS_MAX = 1000;
/** A table's delta idle this long (with rows in it) is moved anyway. */
const IDLE_MOVE_MS = 5_000;
/** Compaction is considered at most this often per shard. */
const COMPACT_EVERY_MS = 2_000;
const DROP_DONE = new Uint8Array([1]);

type Drop = { readonly marker: Uint8Array; readonly tableId: number; readonly prefixes: Uint8Array[]; readonly files: boolean };

export type StepResult = { readonly writes: Write[]; readonly more: boolean };

export class TableBackground {
  private drops: Drop[] = [];
  private readonly droppedDone = new Set<number>();
  readonly builds: IndexBuilds;
  /** Per segment path: no row of it expires before this time (ms). */
  private readonly nextExpiry = new Map<string, number>();
  private lastCompactMs = 0;

  constructor(
    private readonly shard: TableShard,
    private readonly store: LsmStore,
    private readonly ops: ShardOps,
    private readonly dataDir: string,
    private readonly log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void,
    private readonly emitExpired: ((name: string, nowMs: number) => void) | null,
  ) {
    this.builds = new IndexBuilds(store, log);
  }

  open(nowMs: number): void {
    for (const drop of this.shard.catalog.pendingDrops(this.store, nowMs)) {
      if (drop.done) this.droppedDone.add(drop.tableId);
      else if (drop.indexId === null) this.dropped(drop.tableId);
      else this.drops.push({ marker: tableDropMarker(drop.tableId, drop.indexId), tableId: drop.tableId, prefixes: indexDropPrefixes(drop.tableId, drop.indexId), files: false });
    }
    this.shard.mover.removeOrphans();
    this.builds.catalogChanged(this.shard.catalog.all().map((s) => s.info), nowMs);
  }

  catalogChanged(_info: TableInfo, nowMs: number): void {
    this.builds.catalogChanged(this.shard.catalog.all().map((s) => s.info), nowMs);
  }

  dropMarker(tableId: number): Write {
    return { kind: 'put', key: tableDropMarker(tableId), contentType: TABLE_CONTENT_TYPE, expiresAtMs: 0, value: new Uint8Array(0) };
  }

  /** Markers for the indexes `prev` has and `next` has not; their entries go in the background. */
  indexesRemoved(prev: TableInfo, next: TableInfo): Write[] {
    const writes: Write[] = [];
    for (const indexId of indexesRemoved(prev, next)) {
      const marker = tableDropMarker(next.id, indexId);
      writes.push({ kind: 'put', key: marker, contentType: TABLE_CONTENT_TYPE, expiresAtMs: 0, value: new Uint8Array(0) });
      this.drops.push({ marker, tableId: next.id, prefixes: indexDropPrefixes(next.id, indexId), files: false });
    }
    return writes;
  }

  /** A table was dropped: its keys and files go in the background. */
  dropped(tableId: number): void {
    if (this.droppedDone.has(tableId)) return;
    const marker = tableDropMarker(tableId);
    if (this.drops.some((d) => d.marker.length === 6 && d.tableId === tableId)) return;
    const prefixes = ['R', 'V', 'S', 'K', 'Q'].map((tag) => tablePrefix(tag, tableId));
    prefixes.push(indexBuildPrefix(tableId));
    this.drops.push({ marker, tableId, prefixes, files: true });
    this.builds.tableDropped(tableId);
  }

  droppedTables(): number[] {
    const ids = new Set(this.droppedDone);
    for (const d of this.drops) if (d.marker.length === 6) ids.add(d.tableId);
    return [...ids];
  }

  /** Drops or backfills pending (a step goes on at once while so). */
  busy(): boolean {
    return this.drops.length > 0 || this.builds.busy();
  }

  /** One bounded step: a drop, else a backfill; then TTL expiry of segment rows. Applied here; the caller logs the writes. */
  step(nowMs: number, undo: Undo[]): StepResult {
    const writes: Write[] = [];
    const marks: { t: TableData; seg: SegEntry; index: number }[] = [];
    const events: string[] = [];
    if (this.drops.length > 0) this.dropStep(nowMs, writes);
    else if (this.builds.busy()) this.buildStep(nowMs, writes);
    this.ttlStep(nowMs, writes, marks, events);
    if (writes.length > 0) {
      const refused = this.ops.applyInternalWrites(writes, nowMs, undo);
      if (refused !== null) {
        // A transaction holds one of these keys: try again next tick; nothing was applied.
        this.builds.catalogChanged(this.shard.catalog.all().map((s) => s.info), nowMs);
        return { writes: [], more: false };
      }
    }
    for (const m of marks) m.t.noteMark(m.seg.segId, m.index, true);
    if (this.emitExpired !== null) for (const name of events) this.emitExpired(name, nowMs);
    return { writes, more: this.busy() };
  }

  private buildStep(nowMs: number, writes: Write[]): void {
    const tableId = this.builds.nextTable();
    const t = tableId === null ? undefined : this.shard.data.get(tableId);
    if (t === undefined) {
      if (tableId !== null) this.builds.tableDropped(tableId);
      return;
    }
    this.builds.step(t, nowMs, writes);
  }

  private dropStep(nowMs: number, writes: Write[]): void {
    const drop = this.drops[0];
    let budget = DROP_KEYS_MAX;
    while (drop.prefixes.length > 0 && budget > 0) {
      const prefix = keyToBinary(drop.prefixes[0]);
      const keys = this.store.list(prefix, null, 0, budget, nowMs).keys;
      for (const k of keys) writes.push({ kind: 'delete', key: binaryToKey(k) });
      budget -= keys.length;
      if (budget > 0) drop.prefixes.shift();
    }
    if (drop.prefixes.length > 0) return;
    if (drop.files) {
      // The segment entries are deleted in this very record: once it is logged no segment names
      // these files (a crash before leaves them to the drop, which starts again at open).
      rmSync(tableDir(this.dataDir, drop.tableId), { recursive: true, force: true });
      writes.push({ kind: 'put', key: drop.marker, contentType: TABLE_CONTENT_TYPE, expiresAtMs: 0, value: DROP_DONE });
      this.droppedDone.add(drop.tableId);
    } else {
      writes.push({ kind: 'delete', key: drop.marker });
    }
    this.drops.shift();
  }

  /** Segment rows past their expiry: delete marks (and index entries), with events. */
  private ttlStep(nowMs: number, writes: Write[], marks: { t: TableData; seg: SegEntry; index: number }[], events: string[]): void {
    let budget = TTL_ROWS_MAX;
    for (const t of this.shard.data.values()) {
      for (const seg of t.segments) {
        if (budget <= 0) return;
        if (seg.meta.expiry === null) continue;
        if ((this.nextExpiry.get(seg.path) ?? 0) > nowMs) continue;
        budget -= this.expireSegment(t, seg, nowMs, budget, writes, marks, events);
      }
    }
  }

  private expireSegment(t: TableData, seg: SegEntry, nowMs: number, max: number, writes: Write[], marks: { t: TableData; seg: SegEntry; index: number }[], events: string[]): number {
    const expiry = this.shard.cache.reader(seg).expiry();
    if (expiry === null) return 0;
    const already = t.marksOf(seg, nowMs);
    const indexed = t.state.info.indexes.some((i) => i.type !== 'bloom');
    let n = 0;
    let next = Infinity;
    for (let i = 0; i < expiry.length; i++) {
      const e = expiry[i];
      if (e === 0 || already.has(i)) continue;
      if (e > nowMs) {
        if (e < next) next = e;
        continue;
      }
      if (n >= max) {
        next = 0;
        break;
      }
      const row = t.segmentRow(seg, i);
      const keyCells = t.keyCellsOf(row);
      const slot = t.slotOf(keyCells);
      writes.push({ kind: 'put', key: t.markKey(seg, i, slot), contentType: TABLE_CONTENT_TYPE, expiresAtMs: 0, value: new Uint8Array(0) });
      if (indexed) indexEntryWrites(t.state.info, row, null, t.pkBytes(keyCells), slot, 0, e, writes);
      marks.push({ t, seg, index: i });
      events.push(eventName(t.state.info, keyCells.map((c, k) => cellToJson(t.state.keyTypes[k], c))));
      n++;
    }
    this.nextExpiry.set(seg.path, next);
    return n;
  }

  /** The invalidation name of an expired delta row key (binary string), or null for other keys. */
  expiredKeyName(key: string): string | null {
    const bytes = binaryToKey(key);
    if (tableKeyTag(bytes) !== 'R') return null;
    const t = this.shard.data.get(tableIdOfKey(bytes));
    if (t === undefined) return null;
    const cells = decodeKeyCells(t.state.keyTypes, pkFromRowKey(bytes), t.state.keyDesc);
    return eventName(t.state.info, cells.map((c, k) => cellToJson(t.state.keyTypes[k], c)));
  }

  /**
   * Starts the mover or a compaction when one is due (called on every sweeper tick): a delta of a
   * segment's worth of rows, or idle for a while with rows in it; segments small or much deleted.
   */
  tick(nowMs: number): void {
    this.shard.deleteRetired();
    const mover = this.shard.mover;
    if (mover.busy) return;
    for (const t of this.shard.data.values()) {
      if (this.shard.leased(t.tableId, nowMs)) continue;
      const full = t.deltaWrites >= SEGMENT_ROWS_MAX;
      const idle = t.deltaWrites > 0 && nowMs - t.lastWriteMs >= IDLE_MOVE_MS;
      if ((full || idle) && mover.startMove(t, nowMs)) return;
    }
    if (nowMs - this.lastCompactMs < COMPACT_EVERY_MS) return;
    this.lastCompactMs = nowMs;
    for (const t of this.shard.data.values()) {
      if (this.shard.leased(t.tableId, nowMs)) continue;
      if (mover.startCompaction(t, nowMs)) return;
    }
  }
}

function eventName(info: TableInfo, keyJson: unknown[]): string {
  return `tbl/${info.name}/${JSON.stringify(keyJson)}`;
}
