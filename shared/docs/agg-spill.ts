// Spill files for aggregation stages past their memory limit (allowDiskUse):
// sorted runs of $sort and hash partitions of $group. One private directory
// per stage under tmpDir, removed by close() whatever happened. All I/O is
// asynchronous: the router's thread never blocks on the disk.
//
// Frame: [u32 LE body length][u32 LE crc32 of body][body = encodeDoc(doc)].
// A short or corrupt frame is reported as an error, never decoded.

import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { decodeDoc, encodeDoc } from './doc-codec.js';
import type { Doc } from './doc-types.js';

const FRAME_HEADER_BYTES = 8;
const WRITE_CHUNK_BYTES = 1 << 20;
const READ_CHUNK_BYTES = 1 << 20;

export class SpillDir {
  private count = 0;
  private closed = false;
  private readonly open = new Set<SpillWriter>();

  private constructor(readonly path: string) {}

  static async create(tmpDir: string): Promise<SpillDir> {
    return new SpillDir(await mkdtemp(join(tmpDir, 'mantis-agg-')));
  }

  async newFile(): Promise<SpillWriter> {
    const path = join(this.path, `run-${this.count++}`);
    const w = new SpillWriter(path, await open(path, 'w'), () => this.open.delete(w));
    this.open.add(w);
    return w;
  }

  /** Closes writers left open (an error mid-stage) and removes the directory. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.open].map((w) => w.finish()));
    await rm(this.path, { recursive: true, force: true });
  }
}

/** Appends framed documents, batching writes into 1 MiB chunks. */
export class SpillWriter {
  private chunks: Buffer[] = [];
  private pending = 0;
  private written = 0;
  private finished = false;

  constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    private readonly onFinish: () => void,
  ) {}

  get docs(): number {
    return this.written;
  }

  async append(doc: Doc): Promise<void> {
    const body = encodeDoc(doc);
    const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
    header.writeUInt32LE(body.length, 0);
    header.writeUInt32LE(crc32(body), 4);
    // the codec hands out views of a shared chunk: copy before keeping it
    this.chunks.push(header, Buffer.from(body));
    this.pending += FRAME_HEADER_BYTES + body.length;
    this.written++;
    if (this.pending >= WRITE_CHUNK_BYTES) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.pending === 0) return;
    const data = Buffer.concat(this.chunks, this.pending);
    this.chunks = [];
    this.pending = 0;
    await this.fh.write(data);
  }

  /** Flushes and closes; the file can then be read back with readSpill. */
  async finish(): Promise<string> {
    if (this.finished) return this.path;
    this.finished = true;
    this.onFinish();
    try {
      await this.flush();
    } finally {
      await this.fh.close();
    }
    return this.path;
  }
}

/** Reads the documents of a finished spill file in order. */
export async function* readSpill(path: string): AsyncGenerator<Doc> {
  const fh = await open(path, 'r');
  try {
    let buf = Buffer.alloc(0);
    let eof = false;
    while (true) {
      while (!eof && !hasFrame(buf)) {
        const chunk = Buffer.allocUnsafe(Math.max(READ_CHUNK_BYTES, frameBytes(buf)));
        const { bytesRead } = await fh.read(chunk, 0, chunk.length, null);
        if (bytesRead === 0) eof = true;
        else buf = buf.length === 0 ? chunk.subarray(0, bytesRead) : Buffer.concat([buf, chunk.subarray(0, bytesRead)]);
      }
      if (buf.length === 0) return;
      if (!hasFrame(buf)) throw new Error(`spill file ${path} ends inside a frame`);
      const len = buf.readUInt32LE(0);
      const body = buf.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + len);
      if (crc32(body) !== buf.readUInt32LE(4)) throw new Error(`spill file ${path}: checksum mismatch`);
      yield decodeDoc(body);
      buf = buf.subarray(FRAME_HEADER_BYTES + len);
    }
  } finally {
    await fh.close();
  }
}

function frameBytes(buf: Buffer): number {
  return buf.length < FRAME_HEADER_BYTES ? FRAME_HEADER_BYTES : FRAME_HEADER_BYTES + buf.readUInt32LE(0);
}

function hasFrame(buf: Buffer): boolean {
  return buf.length >= FRAME_HEADER_BYTES && buf.length >= frameBytes(buf);
}
