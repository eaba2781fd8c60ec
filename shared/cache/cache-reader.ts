// Router side: answers cache hits straight out of a shard's segment, with no
// thread hop. Runs on the main (router) thread; owns nothing in the segment
// but the router counters (hits, misses, fallbacks) and the producer end of
// the read buffer. One CacheReader per segment, on one thread.
//
// Seqlock per index slot: load the slot's seq (odd: the shard is rewriting it,
// retry), read its hash and entry offset, compare the key, copy the value,
// fence, re-load the seq. A changed seq means the slot or the memory it
// pointed at may have changed under the copy: retry, and after RETRIES_MAX
// give up and report null so the caller falls back to the shard's ring. The
// shard bumps a slot's seq before the entry it referenced can be freed and its
// memory reused, so an unchanged seq proves the copy came from a live entry.
// A miss is always safe; only a validated copy is ever returned.

import { ENTRY_HEADER_BYTES, H, SLOT_ENTRY, SLOT_HASH, SLOT_WORDS, addCounter, homeSlot } from './cache-layout.js';
import { ContentTypeCache } from './content-type-cache.js';
import {
  entryContentTypeLength, entryExpiresAtMs, entryKeyLength, entryValueLength, segmentViews, type SegmentViews,
} from './segment-views.js';

export interface CacheHit {
  /** A private copy; the caller may keep it. */
  readonly value: Uint8Array;
  readonly contentType: string;
  /** 0 = never expires. */
  readonly expiresAtMs: number;
}

export interface CacheReaderStats {
  readonly lookups: number;
  readonly hits: number;
  readonly retries: number;
  readonly fallbacks: number;
  readonly readBufferDrops: number;
}

/** How often one get re-runs its lookup after a seq moved before falling back. */
export const READER_RETRIES_MAX = 4;

const RETRY = Symbol('retry');
const MISMATCH = Symbol('mismatch');
const EXPIRED = Symbol('expired');
type Probe = CacheHit | null | typeof RETRY;
type EntryRead = CacheHit | typeof RETRY | typeof MISMATCH | typeof EXPIRED;

export class CacheReader {
  private readonly views: SegmentViews;
  private readonly slotCount: number;
  private readonly arenaStart: number;
  private readonly arenaEnd: number;
  private readonly readMask: number;
  /** A private word: an atomic read-modify-write on it orders the copy before the seq re-check. */
  private readonly fence = new Int32Array(new SharedArrayBuffer(64));
  private readonly contentTypes = new ContentTypeCache();
  /** Where borrowed reads copy values to: reused, so a hit answered at once allocates no buffer. */
  private scratch = new Uint8Array(4096);
  private borrowing = false;
  private lookups = 0;
  private hits = 0;
  private retries = 0;
  private fallbacks = 0;
  private readBufferDrops = 0;

  constructor(sab: SharedArrayBuffer) {
    this.views = segmentViews(sab);
    const { layout } = this.views;
    this.slotCount = layout.slotCount;
    this.arenaStart = layout.arenaOffset;
    this.arenaEnd = layout.arenaOffset + layout.arenaBytes;
    this.readMask = layout.readBufferSlots - 1;
  }

  /**
   * The live, unexpired entry for `key`, or null (absent, expired, or the
   * shard was busy with it: fall back to the ring). Never blocks.
   * `borrow`: the value is a view of a buffer this reader reuses, valid only until its next get()
   * (for a caller that writes it out at once, such as the listener's hit path).
   * REQUIRES: hash === cacheHash(key).
   */
  get(key: Uint8Array, hash: number, nowMs: number, borrow = false): CacheHit | null {
    this.lookups++;
    this.borrowing = borrow;
    for (let attempt = 0; attempt <= READER_RETRIES_MAX; attempt++) {
      const probe = this.probe(key, hash, nowMs);
      if (probe === RETRY) {
        this.retries++;
        continue;
      }
      addCounter(this.views.header, probe === null ? H.misses : H.hits, 1);
      if (probe !== null) this.hits++;
      return probe;
    }
    this.fallbacks++;
    addCounter(this.views.header, H.fallbacks, 1);
    addCounter(this.views.header, H.misses, 1);
    return null;
  }

  stats(): CacheReaderStats {
    const { lookups, hits, retries, fallbacks, readBufferDrops } = this;
    return { lookups, hits, retries, fallbacks, readBufferDrops };
  }

  private probe(key: Uint8Array, hash: number, nowMs: number): Probe {
    const { slots, header } = this.views;
    const wanted = hash | 0;
    const probes = Math.min(Atomics.load(header, H.probeMax) + 1, this.slotCount);
    let slot = homeSlot(hash, this.slotCount);
    for (let p = 0; p < probes; p++) {
      const base = slot * SLOT_WORDS;
      const seq = Atomics.load(slots, base);
      if ((seq & 1) !== 0) return RETRY;
      const entry = slots[base + SLOT_ENTRY];
      if (entry === 0) return null;
      if (slots[base + SLOT_HASH] === wanted) {
        const read = this.readEntry(entry, key, nowMs);
        Atomics.add(this.fence, 0, 1);
        if (Atomics.load(slots, base) !== seq) return RETRY;
        if (read !== MISMATCH) return this.settle(read, slot);
      }
      slot = slot + 1 === this.slotCount ? 0 : slot + 1;
    }
    // A concurrent backward shift can move the key past a probe: a miss, never a wrong value.
    return null;
  }

  private settle(read: EntryRead, slot: number): Probe {
    if (read === RETRY) return RETRY;
    if (read === EXPIRED || read === MISMATCH) return null;
    this.recordAccess(slot);
    return read;
  }

  /** Bounds-checks everything first: a torn read may see any bytes at all. */
  private readEntry(entry: number, key: Uint8Array, nowMs: number): EntryRead {
    const v = this.views;
    if (entry < this.arenaStart || entry + ENTRY_HEADER_BYTES > this.arenaEnd || (entry & 63) !== 0) return RETRY;
    const keyLength = entryKeyLength(v, entry);
    if (keyLength !== key.length) return MISMATCH;
    const keyStart = entry + ENTRY_HEADER_BYTES;
    const typeLength = entryContentTypeLength(v, entry);
    const valueStart = keyStart + keyLength + typeLength;
    const valueEnd = valueStart + entryValueLength(v, entry);
    if (valueEnd > this.arenaEnd) return RETRY;
    const bytes = v.bytes;
    for (let i = 0; i < keyLength; i++) if (bytes[keyStart + i] !== key[i]) return MISMATCH;
    const expiresAtMs = entryExpiresAtMs(v, entry);
    if (expiresAtMs !== 0 && !(expiresAtMs > nowMs)) return EXPIRED;
    const contentType = this.contentTypes.decode(bytes, keyStart + keyLength, typeLength);
    if (!this.borrowing) return { value: bytes.slice(valueStart, valueEnd), contentType, expiresAtMs };
    const length = valueEnd - valueStart;
    if (length > this.scratch.length) this.scratch = new Uint8Array(Math.max(length, this.scratch.length * 2));
    const scratch = this.scratch;
    if (length <= 256) for (let i = 0; i < length; i++) scratch[i] = bytes[valueStart + i];
    else scratch.set(bytes.subarray(valueStart, valueEnd));
    return { value: scratch.subarray(0, length), contentType, expiresAtMs };
  }

  /** Lossy: when the shard has not drained the buffer, the access is dropped. */
  private recordAccess(slot: number): void {
    const { header, readBuffer } = this.views;
    const head = Atomics.load(header, H.readHead);
    if (((head - Atomics.load(header, H.readTail)) >>> 0) > this.readMask) {
      this.readBufferDrops++;
      return;
    }
    readBuffer[head & this.readMask] = slot;
    Atomics.store(header, H.readHead, (head + 1) | 0);
  }
}
