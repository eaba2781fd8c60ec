// The GET /api/v1/tables/:t/stats body: every shard's figures of a table
// (ShardTableStats) summed — rows, delta rows, segments, bytes on disk and in
// memory, per column its plain and stored bytes, compression ratio, bytes per
// encoding and merged zone map, per encoding across columns (plain and stored bytes,
// compression ratio), zone-map, bloom
// and index hit counts, the last mover run — plus each shard's own line.

import { compareCells } from '../../shared/tables/cells.js';
import { cellToJson } from '../../shared/tables/cell-json.js';
import type { ShardTableStats } from '../../shared/tables/table-protocol.js';
import type { Cell, TableInfo, ZoneMap } from '../../shared/tables/table-types.js';

type ColumnSum = { plainBytes: number; storedBytes: number; encodings: Record<string, number>; encodingsPlain: Record<string, number>; zone: ZoneMap | null };

/** plain / stored, two decimals (null when nothing is stored). */
function ratio(plain: number, stored: number): number | null {
  return plain === 0 ? null : Math.round((plain / Math.max(stored, 1)) * 100) / 100;
}

/** stored / plain as "N % smaller" would read it: 1 − stored/plain (0 when nothing is stored). */
function savedRatio(plain: number, stored: number): number {
  return plain === 0 ? 0 : Math.round((1 - stored / plain) * 10_000) / 10_000;
}

function mergeZone(a: ZoneMap | null, b: ZoneMap | null): ZoneMap | null {
  if (a === null) return b;
  if (b === null) return a;
  const min = pick(a.min, b.min, -1);
  const max = pick(a.max, b.max, 1);
  return { min, max, nullCount: a.nullCount + b.nullCount, rowCount: a.rowCount + b.rowCount, distinct: Math.max(a.distinct, b.distinct) };
}

function pick(a: Cell, b: Cell, sign: number): Cell {
  if (a === null) return b;
  if (b === null) return a;
  return compareCells(a, b) * sign >= 0 ? a : b;
}

export function statsJson(info: TableInfo, parts: readonly ShardTableStats[]): Record<string, unknown> {
  const sum = (f: (s: ShardTableStats) => number): number => parts.reduce((t, s) => t + f(s), 0);
  const columns = new Map<string, ColumnSum>();
  for (const c of info.columns) columns.set(c.name, { plainBytes: 0, storedBytes: 0, encodings: {}, encodingsPlain: {}, zone: null });
  const encodings: Record<string, { columns: number; stored_bytes: number; plain_bytes: number; compression_ratio: number | null; saved: number }> = {};
  const indexHits: Record<string, number> = {};
  let lastMove: ShardTableStats['lastMove'] = null;
  for (const part of parts) {
    for (const c of part.columns) {
      const acc = columns.get(c.name);
      if (acc === undefined) continue;
      acc.plainBytes += c.plainBytes;
      acc.storedBytes += c.storedBytes;
      for (const [enc, bytes] of Object.entries(c.encodings)) acc.encodings[enc] = (acc.encodings[enc] ?? 0) + bytes;
      for (const [enc, bytes] of Object.entries(c.encodingsPlain ?? {})) acc.encodingsPlain[enc] = (acc.encodingsPlain[enc] ?? 0) + bytes;
      acc.zone = mergeZone(acc.zone, c.zone);
    }
    for (const [name, hits] of Object.entries(part.indexHits)) indexHits[name] = (indexHits[name] ?? 0) + hits;
    if (part.lastMove !== null && (lastMove === null || part.lastMove.atMs > lastMove.atMs)) lastMove = part.lastMove;
  }
  for (const acc of columns.values()) {
    for (const [enc, bytes] of Object.entries(acc.encodings)) {
      const e = (encodings[enc] ??= { columns: 0, stored_bytes: 0, plain_bytes: 0, compression_ratio: null, saved: 0 });
      e.columns++;
      e.stored_bytes += bytes;
      e.plain_bytes += acc.encodingsPlain[enc] ?? 0;
    }
  }
  for (const e of Object.values(encodings)) {
    e.compression_ratio = ratio(e.plain_bytes, e.stored_bytes);
    e.saved = savedRatio(e.plain_bytes, e.stored_bytes);
  }
  const plain = [...columns.values()].reduce((t, c) => t + c.plainBytes, 0);
  const stored = [...columns.values()].reduce((t, c) => t + c.storedBytes, 0);
  return {
    table: info.name,
    rows: sum((s) => s.rows),
    delta_rows: sum((s) => s.deltaRows),
    segments: sum((s) => s.segments),
    segment_rows: sum((s) => s.segmentRows),
    deleted_rows: sum((s) => s.deletedRows),
    bytes_on_disk: sum((s) => s.bytesOnDisk),
    bytes_in_memory: sum((s) => s.bytesInMemory),
    plain_bytes: plain,
    stored_bytes: stored,
    compression_ratio: plain === 0 ? null : Math.round((plain / Math.max(stored, 1)) * 100) / 100,
    saved: savedRatio(plain, stored),
    columns: info.columns.map((col) => {
      const c = columns.get(col.name) as ColumnSum;
      return {
        name: col.name,
        type: col.type,
        plain_bytes: c.plainBytes,
        stored_bytes: c.storedBytes,
        compression_ratio: c.plainBytes === 0 ? null : Math.round((c.plainBytes / Math.max(c.storedBytes, 1)) * 100) / 100,
        saved: savedRatio(c.plainBytes, c.storedBytes),
        encodings: c.encodings,
        zone:
          c.zone === null
            ? null
            : { min: c.zone.min === null ? null : cellToJson(col.type, c.zone.min), max: c.zone.max === null ? null : cellToJson(col.type, c.zone.max), null_count: c.zone.nullCount, rows: c.zone.rowCount, distinct: c.zone.distinct },
      };
    }),
    encodings,
    zone_maps: { checks: sum((s) => s.zoneMapChecks), pruned: sum((s) => s.zoneMapPrunes) },
    blooms: { checks: sum((s) => s.bloomChecks), pruned: sum((s) => s.bloomPrunes) },
    indexes: info.indexes.map((i) => ({ name: i.name, type: i.type, state: i.state, hits: indexHits[i.name] ?? 0 })),
    last_move: lastMove === null ? null : { at: new Date(lastMove.atMs).toISOString(), rows: lastMove.rows, ms: lastMove.ms },
    shards: parts.map((s, i) => ({ shard: i, rows: s.rows, delta_rows: s.deltaRows, segments: s.segments, bytes_on_disk: s.bytesOnDisk, bytes_in_memory: s.bytesInMemory })),
  };
}
