// Typed-array views over one cache segment, shared by the router's reader and
// the shard's writer, and the field accessors of an arena entry (the format is
// documented in cache-layout.ts). Entry offsets are absolute byte offsets in
// the segment, 64-aligned.

import { HEADER_BYTES, SLOT_WORDS, readCacheLayout, type CacheLayout } from './cache-layout.js';

export interface SegmentViews {
  readonly layout: CacheLayout;
  readonly header: Int32Array;
  /** slotCount × SLOT_WORDS words: [seq][hash][entry offset][node]. */
  readonly slots: Int32Array;
  readonly readBuffer: Int32Array;
  readonly bytes: Uint8Array;
  readonly u16: Uint16Array;
  readonly i32: Int32Array;
  readonly f64: Float64Array;
}

export function segmentViews(sab: SharedArrayBuffer): SegmentViews {
  const layout = readCacheLayout(sab);
  return {
    layout,
    header: new Int32Array(sab, 0, HEADER_BYTES / 4),
    slots: new Int32Array(sab, layout.slotsOffset, layout.slotCount * SLOT_WORDS),
    readBuffer: new Int32Array(sab, layout.readBufferOffset, layout.readBufferSlots),
    bytes: new Uint8Array(sab),
    u16: new Uint16Array(sab),
    i32: new Int32Array(sab),
    f64: new Float64Array(sab),
  };
}

export const entryExpiresAtMs = (v: SegmentViews, entry: number): number => v.f64[entry >>> 3];
export const entryValueLength = (v: SegmentViews, entry: number): number => v.i32[(entry >>> 2) + 2] >>> 0;
export const entryKeyLength = (v: SegmentViews, entry: number): number => v.u16[(entry >>> 1) + 6];
export const entryContentTypeLength = (v: SegmentViews, entry: number): number => v.bytes[entry + 14];
