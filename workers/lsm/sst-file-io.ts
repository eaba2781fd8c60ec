// Synchronous file I/O for tables: a buffered appender for the writer and an exact
// positioned read for the reader. fs errors propagate as the fs Error.

import * as fs from 'node:fs';
import { CorruptionError } from './sst-format.js';

export const WRITE_BUFFER_BYTES = 1024 * 1024;

/** Appends through a 1 MiB buffer; anything at least that large is written straight through. */
export class BufferedAppender {
  private readonly buf = Buffer.allocUnsafeSlow(WRITE_BUFFER_BYTES);
  private used = 0;
  /** Bytes appended so far (written + buffered). */
  offset = 0;

  constructor(private readonly fd: number) {}

  append(bytes: Uint8Array): void {
    if (bytes.length > WRITE_BUFFER_BYTES - this.used) this.flush();
    if (bytes.length >= WRITE_BUFFER_BYTES) writeAll(this.fd, bytes);
    else {
      this.buf.set(bytes, this.used);
      this.used += bytes.length;
    }
    this.offset += bytes.length;
  }

  flush(): void {
    if (this.used === 0) return;
    const pending = this.used;
    this.used = 0;
    writeAll(this.fd, this.buf.subarray(0, pending));
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += fs.writeSync(fd, bytes, done, bytes.length - done);
}

/**
 * Reads exactly `length` bytes at `position` into a fresh, unpooled buffer (safe to
 * cache). A short read means the file is shorter than its index says: CorruptionError.
 */
export function readExact(fd: number, file: string, position: number, length: number): Uint8Array {
  const out = Buffer.allocUnsafeSlow(length);
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, out, done, length - done, position + done);
    if (n === 0) throw new CorruptionError(`truncated: wanted ${length} bytes, file ends after ${done}`, file, position);
    done += n;
  }
  return out;
}
