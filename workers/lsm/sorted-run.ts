// A sorted run: a frozen memtable's versions packed into one ArrayBuffer, so
// a flush can hand them to a pool thread by transfer instead of by copy.
// Layout per entry: [u16 key length][key][f64 seq][u8 kind][f64 expiresAtMs]
// [u16 content-type length][content type][u32 value length][value], after a
// u32 entry count. Runs on both sides (shard packs, pool unpacks).

import { ByteReader } from '../../shared/byte-io.js';
import type { EntryKind, LsmEntry } from './sst-format.js';

/** One version of a key as the memtable holds it: the key as a binary (latin1) string. */
export type RunEntry = readonly [key: string, entry: Omit<LsmEntry, 'key'>];

const FIXED_BYTES = 2 + 8 + 1 + 8 + 2 + 4;
/** Entries packed between two yields to the event loop. */
const SLICE_ENTRIES = 2048;

/**
 * Packs entries (in internal order) into one buffer of `capacityBytes` (≥ 4 + the sum over
 * entries of FIXED_BYTES + key + content type + value; bytes past the last entry are ignored by unpackRun). Keys and content types
 * (ASCII) are copied as latin1. It runs on the shard thread, so it yields to the event loop
 * every few thousand entries: packing a large memtable never holds requests for long.
 */
export async function packRun(entries: Iterable<RunEntry>, capacityBytes: number): Promise<ArrayBuffer> {
  const buffer = new ArrayBuffer(capacityBytes);
  const out = Buffer.from(buffer);
  let at = 4;
  let count = 0;
  for (const [key, e] of entries) {
    if (at + FIXED_BYTES + key.length + e.contentType.length + e.value.length > capacityBytes) {
      throw new Error(`assertion failed: packRun capacity ${capacityBytes} is too small at entry ${count}`);
    }
    at = out.writeUInt16LE(key.length, at);
    at += out.write(key, at, 'latin1');
    at = out.writeDoubleLE(e.seq, at);
    at = out.writeUInt8(e.kind, at);
    at = out.writeDoubleLE(e.expiresAtMs, at);
    at = out.writeUInt16LE(e.contentType.length, at);
    at += out.write(e.contentType, at, 'latin1');
    at = out.writeUInt32LE(e.value.length, at);
    out.set(e.value, at);
    at += e.value.length;
    if (++count % SLICE_ENTRIES === 0) await new Promise<void>((resolve) => setImmediate(resolve));
  }
  out.writeUInt32LE(count, 0);
  return buffer;
}

export function* unpackRun(buf: ArrayBuffer): Generator<LsmEntry> {
  const r = new ByteReader(new Uint8Array(buf));
  const count = r.u32();
  for (let i = 0; i < count; i++) {
    const key = r.shortBytes();
    const seq = r.f64();
    const kind = r.u8() as EntryKind;
    const expiresAtMs = r.f64();
    const contentType = r.str();
    const value = r.longBytes();
    yield { key, seq, kind, expiresAtMs, contentType, value };
  }
}
