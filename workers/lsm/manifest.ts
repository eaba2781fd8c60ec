// The manifest: which tables are live, at which level, and how far the WAL is
// covered by them. It is replaced whole and atomically (write MANIFEST.tmp,
// fsync, rename over MANIFEST, fsync the directory), so a crash leaves either
// the old or the new one, never a mix. File: [8-byte magic][u32 length]
// [u32 crc32 of the JSON][JSON]. Runs inside a shard worker (sync I/O).

import * as fs from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { CorruptionError, type SstMeta } from './sst-format.js';

const MAGIC = Buffer.from('MNTSMAN1', 'latin1');
const HEADER_BYTES = 16;
export const MANIFEST_FILE = 'MANIFEST';

export type ManifestState = {
  /** The next table file number to hand out. */
  readonly nextFileNumber: number;
  /** Every sequence number ≤ this is in a table (the seq counter restarts above it). */
  readonly lastSeq: number;
  /** Every WAL record with lsn ≤ this is in a table: replay skips them, their segments may go. */
  readonly flushedLsn: number;
  /** levels[0] newest first (tables may overlap); levels[1..] sorted by key, disjoint. */
  readonly levels: readonly (readonly SstMeta[])[];
};

export function emptyManifest(levelCount: number): ManifestState {
  return { nextFileNumber: 1, lastSeq: 0, flushedLsn: 0, levels: Array.from({ length: levelCount }, () => []) };
}

type MetaJson = Omit<SstMeta, 'smallestKey' | 'largestKey'> & { smallestKey: string; largestKey: string };

function metaToJson(m: SstMeta): MetaJson {
  return { ...m, smallestKey: Buffer.from(m.smallestKey).toString('base64'), largestKey: Buffer.from(m.largestKey).toString('base64') };
}

function metaFromJson(m: MetaJson): SstMeta {
  return { ...m, smallestKey: new Uint8Array(Buffer.from(m.smallestKey, 'base64')), largestKey: new Uint8Array(Buffer.from(m.largestKey, 'base64')) };
}

export function sstFileName(fileNumber: number): string {
  return `${String(fileNumber).padStart(12, '0')}.sst`;
}

/** The manifest in `dir`, or null when there is none yet. Throws CorruptionError when it is damaged. */
export function readManifest(dir: string, levelCount: number): ManifestState | null {
  const path = join(dir, MANIFEST_FILE);
  let buf: Buffer;
  try {
    buf = fs.readFileSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  if (buf.length < HEADER_BYTES || !buf.subarray(0, 8).equals(MAGIC)) throw new CorruptionError('manifest: bad magic or truncated header', path, 0);
  const length = buf.readUInt32LE(8);
  const body = buf.subarray(HEADER_BYTES);
  if (body.length !== length) throw new CorruptionError(`manifest: body is ${body.length} bytes, header says ${length}`, path, HEADER_BYTES);
  if (crc32(body) !== buf.readUInt32LE(12)) throw new CorruptionError('manifest: checksum mismatch', path, HEADER_BYTES);
  const json = JSON.parse(body.toString('utf8')) as { nextFileNumber: number; lastSeq: number; flushedLsn: number; levels: MetaJson[][] };
  const levels = Array.from({ length: Math.max(levelCount, json.levels.length) }, (_, i) => (json.levels[i] ?? []).map(metaFromJson));
  return { nextFileNumber: json.nextFileNumber, lastSeq: json.lastSeq, flushedLsn: json.flushedLsn, levels };
}

/** Replaces the manifest atomically and durably. Throws the fs error (ENOSPC, EIO) on failure, leaving the old one. */
export function writeManifest(dir: string, state: ManifestState): void {
  const body = Buffer.from(JSON.stringify({ ...state, levels: state.levels.map((l) => l.map(metaToJson)) }), 'utf8');
  const header = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(header, 0);
  header.writeUInt32LE(body.length, 8);
  header.writeUInt32LE(crc32(body), 12);
  const tmp = join(dir, `${MANIFEST_FILE}.tmp`);
  const fd = fs.openSync(tmp, 'w');
  try {
    writeAll(fd, header);
    writeAll(fd, body);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, join(dir, MANIFEST_FILE));
  fsyncDir(dir);
}

function writeAll(fd: number, buf: Uint8Array): void {
  for (let off = 0; off < buf.length; ) off += fs.writeSync(fd, buf, off, buf.length - off);
}

export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
