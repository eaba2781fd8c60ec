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

/**
 * Packs entries (in internal order) into one buffer. Two passes — sizes, then bytes — so the
 * buffer is allocated once; keys and content types (ASCII) are copied as latin1 without encoding.
 * Runs on the shard thread, so it is kept cheap (~10 ms for an 8 MiB memtable).
 */
export function packRun(entries: () => Iterable<RunEntry>): ArrayBuffer {
  let size = 4;
  let count = 0;
  for (const [key, e] of entries()) {
    size += FIXED_BYTES + key.length + e.contentType.length + e.value.length;
    count++;
  }
  const buffer = new ArrayBuffer(size);
  const out = Buffer.from(buffer);
  let at = out.writeUInt32LE(count, 0);
  for (const [key, e] of entries()) {
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
  }
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
