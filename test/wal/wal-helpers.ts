// Shared fixtures for the WAL tests: temp dirs, raw segment writing, and event waits with timeouts.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodeRecords, replayWal, segmentFileName, WalWriter } from '../../workers/wal/index.js';
import type { ReplayResult, WalError, WalOptions } from '../../workers/wal/index.js';

export const WAIT_MS_MAX = 5000;

export function makeTempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'mantis-wal-'));
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

export function payloadFor(lsn: number): Uint8Array {
  return Buffer.from(`record-${lsn}-${'x'.repeat(lsn % 23)}`);
}

/** Writes a segment with records for the given LSNs (type = lsn % 256); returns record offsets. */
export function writeSegment(dir: string, seq: number, lsns: number[]): { file: string; offsets: number[] } {
  fs.mkdirSync(dir, { recursive: true });
  const offsets: number[] = [];
  let at = 0;
  for (const lsn of lsns) {
    offsets.push(at);
    at += 17 + payloadFor(lsn).length;
  }
  const buf = encodeRecords(lsns.map((lsn) => ({ type: lsn % 256, lsn, payload: payloadFor(lsn) })));
  const file = path.join(dir, segmentFileName(seq));
  fs.writeFileSync(file, buf);
  return { file, offsets };
}

export interface Replayed {
  result: ReplayResult;
  lsns: number[];
  payloads: string[];
  /** The segment number replayWal passed with each record. */
  segments: number[];
  logs: { level: string; msg: string; fields?: Record<string, unknown> }[];
}

export function replayAll(dir: string): Replayed {
  const lsns: number[] = [];
  const payloads: string[] = [];
  const segments: number[] = [];
  const logs: Replayed['logs'] = [];
  const result = replayWal(
    dir,
    (_type, lsn, payload, segment) => {
      lsns.push(lsn);
      payloads.push(Buffer.from(payload).toString());
      segments.push(segment);
    },
    (level, msg, fields) => logs.push({ level, msg, fields }),
  );
  return { result, lsns, payloads, segments, logs };
}

export function openWriter(dir: string, opts: Partial<WalOptions> = {}): { writer: WalWriter; replayed: Replayed } {
  const replayed = replayAll(dir);
  const writer = WalWriter.open(
    { dir, fsync: 'none', fsyncBatchMs: 5, segmentBytesMax: 1 << 20, ...opts },
    replayed.result,
  );
  return { writer, replayed };
}

/** Opens a writer with MANTIS_FAULT_WAL set only for the duration of open(). */
export function openWithFault(dir: string, fault: string, opts: Partial<WalOptions> = {}): WalWriter {
  process.env.MANTIS_FAULT_WAL = fault;
  try {
    return openWriter(dir, opts).writer;
  } finally {
    delete process.env.MANTIS_FAULT_WAL;
  }
}

/** Resolves with whenDurable's result; rejects if it does not arrive within WAIT_MS_MAX. */
export function durable(writer: WalWriter, lsn: number): Promise<WalError | null> {
  return withTimeout(new Promise((resolve) => writer.whenDurable(lsn, resolve)), `whenDurable(${lsn})`);
}

export function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${WAIT_MS_MAX} ms`)), WAIT_MS_MAX);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function appendOne(writer: WalWriter, text: string): number {
  return writer.append([{ type: 1, payload: Buffer.from(text) }]);
}
