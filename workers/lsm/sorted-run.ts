// A sorted run: a frozen memtable's versions packed into one ArrayBuffer, so
// a flush can hand them to a pool thread by transfer instead of by copy.
// Layout per entry: [u16 key length][key][f64 seq][u8 kind][f64 expiresAtMs]
// [u16 content-type length][content type][u32 value length][value], after a
// u32 entry count. Runs on both sides (shard packs, pool unpacks).

import { ByteReader, ByteWriter } from '../../shared/byte-io.js';
import type { EntryKind, LsmEntry } from './sst-format.js';

export type RunEntry = { readonly key: Uint8Array; readonly entry: Omit<LsmEntry, 'key'> };

export function packRun(entries: Iterable<RunEntry>, count: number): ArrayBuffer {
  const w = new ByteWriter(64 * 1024);
  w.u32(count);
  for (const { key, entry } of entries) {
    w.shortBytes(key).f64(entry.seq).u8(entry.kind).f64(entry.expiresAtMs).str(entry.contentType).longBytes(entry.value);
  }
  const out = w.finish();
  return out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength) as ArrayBuffer;
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
