// The segment file: up to 65,536 rows of one table, column by column, in
// primary-key byte order. Built once (by the pool's segment task, or the
// mover in place), never modified; deletes are marks outside the file.
//
//   file    = header  chunk*  footer
//   header  = "MTSG" u32le(version 1)
//   chunk   = a column chunk (encodings.ts), the expiry chunk, a column bloom or the key bloom,
//             each starting at an 8-aligned offset (zero padding between)
//   footer  = meta (msgpack)  u32le(meta length)  u32le(crc32 of meta)  "MTSG"
//
// Every chunk's crc32 (node:zlib, as the WAL and the LSM use) is in the meta,
// checked the first time the chunk is read: a mismatch is MantisError
// DATA_CORRUPT. The meta is also what the shard stores in the segment's LSM
// entry (segmentKey), so a reader can open the bytes with it and skip the footer.

import { crc32 } from 'node:zlib';
import { Packr } from 'msgpackr';
import { assert, MantisError } from '../errors.js';
import { decodeColumn, encodeColumn } from './encodings.js';
import { bloomMayContainBytes, bloomMayContainCell, buildBytesBloom, buildColumnBloom } from './bloom-filter.js';
import { encodeKeyCells } from './key-cells.js';
import { normalizeInt64, type Cell, type ColumnType, type Row, type Vector, type ZoneMap } from './table-types.js';

const MAGIC = 0x4753544d; // "MTSG" little-endian
const VERSION = 1;
const HEADER_BYTES = 8;
const FOOTER_TAIL_BYTES = 12;
/** Most rows a segment holds. */
export const SEGMENT_MAX_ROWS = 65536;

export type ChunkRef = { readonly offset: number; readonly length: number; readonly crc: number };

export type SegmentColumnMeta = ChunkRef & {
  readonly type: ColumnType;
  /** Encoding name (encodeColumn's: 'delta', 'dictionary+lz4', …). */
  readonly encoding: string;
  /** The values' plain size (see EncodedColumn.plainBytes). */
  readonly plainBytes: number;
  readonly zone: ZoneMap;
};

export type SegmentMeta = {
  readonly version: number;
  readonly rows: number;
  readonly columns: readonly SegmentColumnMeta[];
  /** Bloom filters of columns (bloomColumns), over their non-null values. */
  readonly blooms: readonly (ChunkRef & { readonly col: number })[];
  /** Bloom filter over the rows' primary-key bytes (always present). */
  readonly keyBloom: ChunkRef;
  /** Per-row expiry (ms since the epoch, 0 = none); null when no row expires. */
  readonly expiry: ChunkRef | null;
  /** Primary-key bytes (encodeKeyCells with the key's desc flags) of the first and last row. */
  readonly minKey: Uint8Array;
  readonly maxKey: Uint8Array;
  /** File size. */
  readonly bytes: number;
};

export type BuildSegmentInput = {
  readonly types: readonly ColumnType[];
  /** The rows (each one cell per type, NULL as null), in primary-key byte order, no duplicate keys. */
  readonly rows: readonly Row[];
  /** Column positions of the primary key, in key order. */
  readonly keyColumns: readonly number[];
  readonly keyDesc: readonly boolean[];
  /** Columns to build bloom filters for (bloom indexes). */
  readonly bloomColumns: readonly number[];
  /** Per-row expiry in ms (0 = none), or absent / null. */
  readonly expiresAtMs?: Float64Array | null;
};

const packr = new Packr({ useRecords: false, int64AsType: 'bigint', mapsAsObjects: true });

/** The meta as bytes (the footer's, and fit for the segment's LSM entry). */
export function encodeSegmentMeta(meta: SegmentMeta): Uint8Array {
  return packr.pack(meta);
}

/** The meta of encodeSegmentMeta's bytes, with int64 zone cells normalized and keys as Uint8Array. */
export function decodeSegmentMeta(bytes: Uint8Array): SegmentMeta {
  return normalizeMeta(packr.unpack(bytes) as SegmentMeta);
}

/** Fixes what a msgpack round trip changes: int64 cells come back as bigint, bytes as Buffer. */
export function normalizeMeta(meta: SegmentMeta): SegmentMeta {
  const fixCell = (c: Cell): Cell => (typeof c === 'bigint' ? normalizeInt64(c) : c instanceof Uint8Array ? new Uint8Array(c) : c);
  return {
    ...meta,
    minKey: new Uint8Array(meta.minKey),
    maxKey: new Uint8Array(meta.maxKey),
    columns: meta.columns.map((c) => ({ ...c, zone: { ...c.zone, min: fixCell(c.zone.min), max: fixCell(c.zone.max) } })),
  };
}

// ── building ──

class FileWriter {
  private parts: Uint8Array[] = [];
  at = 0;

  /** Appends a chunk at the next 8-aligned offset; returns its reference. */
  chunk(bytes: Uint8Array): ChunkRef {
    this.align();
    const ref = { offset: this.at, length: bytes.length, crc: crc32(bytes) };
    this.push(bytes);
    return ref;
  }

  push(bytes: Uint8Array): void {
    this.parts.push(bytes);
    this.at += bytes.length;
  }

  align(): void {
    const pad = (8 - (this.at & 7)) & 7;
    if (pad > 0) this.push(new Uint8Array(pad));
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.at);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

/** Builds a segment file's bytes and meta. Throws when rows are not in strictly ascending key order. */
export function buildSegment(input: BuildSegmentInput): { bytes: Uint8Array; meta: SegmentMeta } {
  const { types, rows } = input;
  const n = rows.length;
  assert(n > 0 && n <= SEGMENT_MAX_ROWS, `a segment holds 1..${SEGMENT_MAX_ROWS} rows, not ${n}`);
  const keys = rowKeys(input);
  const columns = types.map((t, c) => columnFromRows(t, rows, c));
  return buildSegmentFromColumns({ types, columns, rows: n, keys, bloomColumns: input.bloomColumns, expiresAtMs: input.expiresAtMs ?? null });
}

/** The primary-key bytes of each row, checked strictly ascending. */
function rowKeys(input: BuildSegmentInput): Uint8Array[] {
  const keyTypes = input.keyColumns.map((c) => input.types[c]);
  const cells: Cell[] = new Array<Cell>(keyTypes.length);
  const keys: Uint8Array[] = new Array<Uint8Array>(input.rows.length);
  for (let i = 0; i < input.rows.length; i++) {
    const row = input.rows[i];
    for (let k = 0; k < cells.length; k++) cells[k] = row[input.keyColumns[k]];
    keys[i] = encodeKeyCells(keyTypes, cells, input.keyDesc);
    if (i > 0 && Buffer.compare(keys[i - 1], keys[i]) >= 0) {
      throw new Error(`assertion failed: segment rows out of primary-key order at row ${i}`);
    }
  }
  return keys;
}

/**
 * Builds from column vectors (compaction: decoded segment columns). keys: each row's pk bytes,
 * ascending (buildSegment computes them from rows).
 */
export function buildSegmentFromColumns(input: {
  readonly types: readonly ColumnType[];
  readonly columns: readonly Vector[];
  readonly rows: number;
  readonly keys: readonly Uint8Array[];
  readonly bloomColumns: readonly number[];
  readonly expiresAtMs: Float64Array | null;
}): { bytes: Uint8Array; meta: SegmentMeta } {
  const n = input.rows;
  assert(input.keys.length === n && n > 0, 'one key per row');
  const w = new FileWriter();
  const header = new Uint8Array(HEADER_BYTES);
  const hv = new DataView(header.buffer);
  hv.setUint32(0, MAGIC, true);
  hv.setUint32(4, VERSION, true);
  w.push(header);
  const columns: SegmentColumnMeta[] = input.types.map((type, c) => {
    const enc = encodeColumn(type, input.columns[c], n);
    const ref = w.chunk(enc.bytes);
    return { ...ref, type, encoding: enc.encoding, plainBytes: enc.plainBytes, zone: enc.zone };
  });
  let expiry: ChunkRef | null = null;
  const exp = input.expiresAtMs;
  if (exp !== null && exp.length >= n && exp.subarray(0, n).some((v) => v !== 0)) {
    expiry = w.chunk(encodeColumn('float64', { type: 'float64', values: exp.subarray(0, n), nulls: null }, n).bytes);
  }
  const blooms = [...new Set(input.bloomColumns)]
    .filter((c) => c >= 0 && c < input.types.length)
    .map((col) => ({ ...w.chunk(buildColumnBloom(input.columns[col], n)), col }));
  const keyBloom = w.chunk(buildBytesBloom(input.keys));
  w.align();
  const metaNoSize = {
    version: VERSION,
    rows: n,
    columns,
    blooms,
    keyBloom,
    expiry,
    minKey: input.keys[0].slice(),
    maxKey: input.keys[n - 1].slice(),
  };
  // The size goes into the meta, which is inside the file: a fixed point (the length of the
  // msgpack of `bytes` changes at most a few times).
  let size = w.at;
  let metaBytes = encodeSegmentMeta({ ...metaNoSize, bytes: size });
  for (let i = 0; i < 4; i++) {
    const next = w.at + metaBytes.length + FOOTER_TAIL_BYTES;
    if (next === size) break;
    size = next;
    metaBytes = encodeSegmentMeta({ ...metaNoSize, bytes: size });
  }
  assert(w.at + metaBytes.length + FOOTER_TAIL_BYTES === size, 'segment size fixed point');
  w.push(metaBytes);
  const tail = new Uint8Array(FOOTER_TAIL_BYTES);
  const tv = new DataView(tail.buffer);
  tv.setUint32(0, metaBytes.length, true);
  tv.setUint32(4, crc32(metaBytes), true);
  tv.setUint32(8, MAGIC, true);
  w.push(tail);
  const bytes = w.finish();
  return { bytes, meta: { ...metaNoSize, bytes: size } };
}

/** Column `c` of rows as a vector (int64: Float64Array when every value is a safe integer). */
export function columnFromRows(type: ColumnType, rows: readonly Row[], c: number): Vector {
  const n = rows.length;
  let nulls: Uint8Array | null = null;
  const markNull = (i: number): void => {
    nulls ??= new Uint8Array((n + 7) >> 3);
    nulls[i >> 3] |= 1 << (i & 7);
  };
  switch (type) {
    case 'int64':
    case 'timestamp': {
      const values = new Float64Array(n);
      let big: BigInt64Array | null = null;
      for (let i = 0; i < n; i++) {
        const v = rows[i][c] ?? null;
        if (v === null) markNull(i);
        else if (typeof v === 'bigint') {
          big ??= BigInt64Array.from(values, (x) => BigInt(x));
          big[i] = v;
        } else {
          values[i] = v as number;
          if (big !== null) big[i] = BigInt(v as number);
        }
      }
      return { type, values: big ?? values, nulls };
    }
    case 'float64': {
      const values = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const v = rows[i][c] ?? null;
        if (v === null) markNull(i);
        else values[i] = v as number;
      }
      return { type, values, nulls };
    }
    case 'boolean': {
      const values = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        const v = rows[i][c] ?? null;
        if (v === null) markNull(i);
        else values[i] = v === true ? 1 : 0;
      }
      return { type, values, nulls };
    }
    case 'string': {
      const values = new Array<string>(n);
      for (let i = 0; i < n; i++) {
        const v = rows[i][c] ?? null;
        if (v === null) {
          markNull(i);
          values[i] = '';
        } else values[i] = v as string;
      }
      return { type, values, nulls };
    }
    case 'binary': {
      const empty = new Uint8Array(0);
      const values = new Array<Uint8Array>(n);
      for (let i = 0; i < n; i++) {
        const v = rows[i][c] ?? null;
        if (v === null) {
          markNull(i);
          values[i] = empty;
        } else values[i] = v as Uint8Array;
      }
      return { type, values, nulls };
    }
  }
}

// ── reading ──

function corrupt(message: string): MantisError {
  return new MantisError('DATA_CORRUPT', `segment: ${message}`);
}

/** The meta in a segment file's footer (checks magic, header and the meta's crc). */
export function readSegmentFooter(bytes: Uint8Array): SegmentMeta {
  if (bytes.length < HEADER_BYTES + FOOTER_TAIL_BYTES) throw corrupt(`file of ${bytes.length} bytes is too short`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC || view.getUint32(bytes.length - 4, true) !== MAGIC) throw corrupt('bad magic');
  const version = view.getUint32(4, true);
  if (version !== VERSION) throw corrupt(`unknown version ${version}`);
  const metaLength = view.getUint32(bytes.length - 12, true);
  const metaAt = bytes.length - FOOTER_TAIL_BYTES - metaLength;
  if (metaAt < HEADER_BYTES) throw corrupt('bad meta length');
  const metaBytes = bytes.subarray(metaAt, bytes.length - FOOTER_TAIL_BYTES);
  if (crc32(metaBytes) !== view.getUint32(bytes.length - 8, true)) throw corrupt('meta checksum mismatch');
  let meta: SegmentMeta;
  try {
    meta = decodeSegmentMeta(metaBytes);
  } catch (error) {
    throw corrupt(`meta does not decode: ${(error as Error).message}`);
  }
  if (meta.bytes !== bytes.length) throw corrupt(`meta says ${meta.bytes} bytes, file has ${bytes.length}`);
  return meta;
}

/**
 * Reads a segment's bytes: columns decoded on first use and kept; every chunk's checksum is
 * checked the first time it is read. Decoded vectors may share memory with `bytes` (read-only).
 */
export class SegmentReader {
  readonly meta: SegmentMeta;
  readonly rows: number;
  private readonly columns: (Vector | undefined)[];
  private expiryValues: Float64Array | null | undefined;
  private readonly checked = new Set<number>();

  constructor(
    private readonly bytes: Uint8Array,
    meta?: SegmentMeta,
  ) {
    this.meta = meta === undefined ? readSegmentFooter(bytes) : normalizeMeta(meta);
    if (this.meta.bytes !== bytes.length) throw corrupt(`meta says ${this.meta.bytes} bytes, file has ${bytes.length}`);
    this.rows = this.meta.rows;
    this.columns = new Array<Vector | undefined>(this.meta.columns.length);
  }

  /** The bytes of a chunk, checksum-checked once. */
  private chunk(ref: ChunkRef): Uint8Array {
    if (ref.offset < 0 || ref.offset + ref.length > this.bytes.length) throw corrupt(`chunk at ${ref.offset}+${ref.length} is outside the file`);
    const bytes = this.bytes.subarray(ref.offset, ref.offset + ref.length);
    if (!this.checked.has(ref.offset)) {
      if (crc32(bytes) !== ref.crc) throw corrupt(`checksum mismatch in the chunk at ${ref.offset}`);
      this.checked.add(ref.offset);
    }
    return bytes;
  }

  /** Number of columns the segment was built with (columns added later are not in it). */
  get columnCount(): number {
    return this.meta.columns.length;
  }

  /** Column `i` decoded (cached). */
  column(i: number): Vector {
    const cached = this.columns[i];
    if (cached !== undefined) return cached;
    const col = this.meta.columns[i];
    if (col === undefined) throw new RangeError(`segment has ${this.meta.columns.length} columns, not ${i + 1}`);
    const v = decodeColumn(col.type, this.chunk(col), this.rows);
    this.columns[i] = v;
    return v;
  }

  /** Drops decoded columns (the cache's memory bound). */
  release(i?: number): void {
    if (i === undefined) this.columns.fill(undefined);
    else this.columns[i] = undefined;
  }

  zone(i: number): ZoneMap {
    return this.meta.columns[i].zone;
  }

  /** Per-row expiry in ms (0 = none), or null when no row expires. */
  expiry(): Float64Array | null {
    if (this.expiryValues !== undefined) return this.expiryValues;
    const ref = this.meta.expiry;
    if (ref === null || ref === undefined) this.expiryValues = null;
    else {
      const v = decodeColumn('float64', this.chunk(ref), this.rows);
      assert(v.type === 'float64', 'expiry decodes as float64');
      this.expiryValues = v.values;
    }
    return this.expiryValues;
  }

  /** Does column `col` have a bloom filter here? */
  hasBloom(col: number): boolean {
    return this.meta.blooms.some((b) => b.col === col);
  }

  /** False only when no row's `col` equals `cell` (true when the column has no bloom, or for NULL). */
  mayContain(col: number, cell: Cell): boolean {
    const ref = this.meta.blooms.find((b) => b.col === col);
    if (ref === undefined) return true;
    return bloomMayContainCell(this.chunk(ref), this.meta.columns[col].type, cell);
  }

  /** False only when no row has primary-key bytes `pk`. */
  mayContainKey(pk: Uint8Array): boolean {
    return bloomMayContainBytes(this.chunk(this.meta.keyBloom), pk);
  }

  /** Checks every chunk's checksum now (open-time verification). */
  verify(): void {
    for (const c of this.meta.columns) this.chunk(c);
    for (const b of this.meta.blooms) this.chunk(b);
    this.chunk(this.meta.keyBloom);
    if (this.meta.expiry !== null && this.meta.expiry !== undefined) this.chunk(this.meta.expiry);
  }
}
