// Segment files: naming (`%016d.wal`, `.dropped` once cut off by replay), creation, directory fsync.
// Zero-padded names make lexical order equal numeric order.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errnoCode, toWalError } from './wal-error.js';

export const WAL_SEGMENT_SUFFIX = '.wal';
export const WAL_DROPPED_SUFFIX = '.dropped';
const SEGMENT_NAME = /^(\d{16})\.wal(\.dropped)?$/;

export function segmentFileName(seq: number): string {
  return `${String(seq).padStart(16, '0')}${WAL_SEGMENT_SUFFIX}`;
}

export interface SegmentEntry {
  seq: number;
  name: string;
  dropped: boolean;
}

/** All segment files in `dir` (live and dropped) sorted by sequence; [] if `dir` is missing. */
export function listSegments(dir: string): SegmentEntry[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [];
    throw err;
  }
  const out: SegmentEntry[] = [];
  for (const name of names) {
    const m = SEGMENT_NAME.exec(name);
    if (m) out.push({ seq: Number(m[1]), name, dropped: m[2] !== undefined });
  }
  return out.sort((a, b) => a.seq - b.seq || Number(a.dropped) - Number(b.dropped));
}

/** Makes creates/renames inside `dir` durable (a new file is lost on crash without it). */
export function fsyncDirSync(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export function segmentPath(dir: string, name: string): string {
  return path.join(dir, name);
}

/** Creates the segment exclusively and makes its directory entry durable. */
export function createSegment(dir: string, segment: number): number {
  const name = segmentFileName(segment);
  let fd: number | null = null;
  try {
    ensureDir(dir);
    fd = fs.openSync(segmentPath(dir, name), 'wx');
    fsyncDirSync(dir);
    return fd;
  } catch (err) {
    if (fd !== null) fs.closeSync(fd);
    throw toWalError(err, 'create segment', name);
  }
}

/** mkdir -p, then fsyncs the parent of every directory it created so they survive a crash. */
function ensureDir(dir: string): void {
  const created = fs.mkdirSync(dir, { recursive: true });
  if (created === undefined) return;
  const top = path.resolve(created);
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    fsyncDirSync(path.dirname(d));
    if (d === top) return;
  }
}

/**
 * Removes live segments that hold no bytes (left by starts that wrote
 * nothing), so restarts do not pile up empty files. They carry no records, so
 * nothing replay needs is lost; numbers are never reused since a new segment
 * always takes the highest number seen plus one.
 */
export function removeEmptySegments(dir: string): number {
  let removed = 0;
  for (const entry of listSegments(dir)) {
    if (entry.dropped) continue;
    const file = segmentPath(dir, entry.name);
    if (fs.statSync(file).size === 0) {
      fs.unlinkSync(file);
      removed++;
    }
  }
  return removed;
}
