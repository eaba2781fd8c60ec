// Shard side: writes an entry into an arena block (the format is documented in
// shared/cache/cache-layout.ts) and encodes content types. Only the owning
// shard writes entries; it does so before any slot points at the block.

import { CONTENT_TYPE_BYTES_MAX, ENTRY_HEADER_BYTES } from '../../shared/cache/cache-layout.js';
import { entryContentTypeLength, entryKeyLength, type SegmentViews } from '../../shared/cache/segment-views.js';

const CONTENT_TYPES_CACHED_MAX = 64;

/** REQUIRES: the block at `entry` is allocated, unreferenced, and large enough. */
export function writeEntry(
  v: SegmentViews, entry: number, key: Uint8Array, type: Uint8Array, value: Uint8Array, expiresAtMs: number,
): void {
  v.f64[entry >>> 3] = expiresAtMs;
  v.i32[(entry >>> 2) + 2] = value.length;
  v.u16[(entry >>> 1) + 6] = key.length;
  v.bytes[entry + 14] = type.length;
  v.bytes[entry + 15] = 0;
  const keyStart = entry + ENTRY_HEADER_BYTES;
  v.bytes.set(key, keyStart);
  v.bytes.set(type, keyStart + key.length);
  v.bytes.set(value, keyStart + key.length + type.length);
}

/** A copy of the key of the entry at `entry`. */
export function copyEntryKey(v: SegmentViews, entry: number): Uint8Array {
  const start = entry + ENTRY_HEADER_BYTES;
  return v.bytes.slice(start, start + entryKeyLength(v, entry));
}

export function entryContentType(v: SegmentViews, entry: number): string {
  const start = entry + ENTRY_HEADER_BYTES + entryKeyLength(v, entry);
  return String.fromCharCode(...v.bytes.subarray(start, start + entryContentTypeLength(v, entry)));
}

/** Content type strings → bytes, remembering the few a shard sees over and over. */
export class ContentTypeEncoder {
  private readonly known = new Map<string, Uint8Array>();

  /** REQUIRES: printable ASCII of at most 255 bytes (the router validates it). */
  encode(contentType: string): Uint8Array {
    const cached = this.known.get(contentType);
    if (cached !== undefined) return cached;
    if (contentType.length > CONTENT_TYPE_BYTES_MAX || !/^[\x20-\x7e]*$/.test(contentType)) {
      throw new RangeError(`content type must be printable ASCII of at most ${CONTENT_TYPE_BYTES_MAX} bytes`);
    }
    const bytes = Uint8Array.from(contentType, (c) => c.charCodeAt(0));
    if (this.known.size >= CONTENT_TYPES_CACHED_MAX) this.known.clear();
    this.known.set(contentType, bytes);
    return bytes;
  }
}
