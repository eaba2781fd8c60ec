// Helpers for the cache tests (test thread only): a segment with its writer and
// reader, and text ↔ bytes.
import { CacheReader, cacheHash, createCacheSegment, type CacheHit } from '../../shared/cache/index.js';
import { CacheWriter, type CacheWriterOptions } from '../../workers/cache/index.js';

export const encoder = new TextEncoder();
export const decoder = new TextDecoder();
export const bytes = (text: string): Uint8Array => encoder.encode(text);
export const text = (value: Uint8Array): string => decoder.decode(value);

export interface Segment {
  readonly sab: SharedArrayBuffer;
  readonly writer: CacheWriter;
  readonly reader: CacheReader;
  /** A router-side read of `key` at `nowMs`. */
  read(key: string, nowMs?: number): CacheHit | null;
}

export function makeSegment(capacityBytes: number, options: CacheWriterOptions = {}): Segment {
  const sab = createCacheSegment(capacityBytes);
  const writer = new CacheWriter(sab, options);
  const reader = new CacheReader(sab);
  const read = (key: string, nowMs = 0): CacheHit | null => {
    const k = bytes(key);
    return reader.get(k, cacheHash(k), nowMs);
  };
  return { sab, writer, reader, read };
}
