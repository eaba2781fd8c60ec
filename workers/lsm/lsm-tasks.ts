// The LSM's CPU- and I/O-heavy work, run in a piscina pool thread so a shard's
// event loop never stalls on it: building a table from a frozen memtable
// (flush) and merging tables into the next level (compaction). Tasks are
// stateless: everything comes in the task, files go to disk fsynced, metadata
// comes back. An fs or corruption failure comes back as a value, never thrown,
// and partial outputs are removed.

import * as fs from 'node:fs';
import { join } from 'node:path';
import { sstFileName } from './manifest.js';
import { unpackRun } from './sorted-run.js';
import { compareInternal, compareKeys, CorruptionError, KIND_DELETE, type LsmEntry, type SstMeta, type SstOptions } from './sst-format.js';
import { SstReader, type SstIterator } from './sst-reader.js';
import { SstWriter } from './sst-writer.js';

export type FlushTask = {
  readonly kind: 'flush';
  readonly dir: string;
  readonly fileNumber: number;
  readonly sst: SstOptions;
  readonly run: ArrayBuffer;
};

export type CompactTask = {
  readonly kind: 'compact';
  readonly dir: string;
  readonly inputs: readonly number[];
  /** File numbers reserved for the outputs, used in order. */
  readonly outputNumbers: readonly number[];
  readonly sst: SstOptions;
  readonly tableTargetBytes: number;
  /** Nothing below the output level overlaps: tombstones and expired puts can go. */
  readonly dropDeletes: boolean;
  /** Versions newer than this are kept for snapshots; of the rest only the newest survives. */
  readonly oldestSnapshotSeq: number;
  readonly nowMs: number;
};

export type LsmTask = FlushTask | CompactTask;

export type TaskFailure = {
  readonly kind: 'failed';
  readonly errno: string | null;
  readonly corrupt: boolean;
  /** The table whose checksum failed, when corrupt. */
  readonly file: string | null;
  readonly message: string;
};
export type FlushResult = { readonly kind: 'flushed'; readonly table: SstMeta } | TaskFailure;
export type CompactResult =
  | {
      readonly kind: 'compacted';
      readonly outputs: SstMeta[];
      readonly bytesRead: number;
      readonly bytesWritten: number;
      readonly entriesIn: number;
      readonly entriesOut: number;
    }
  | TaskFailure;
export type LsmTaskResult = FlushResult | CompactResult;

export function runLsmTask(task: LsmTask): LsmTaskResult {
  switch (task.kind) {
    case 'flush':
      return runFlush(task);
    case 'compact':
      return runCompact(task);
    default: {
      const never: never = task;
      throw new Error(`unknown LSM task ${JSON.stringify(never)}`);
    }
  }
}

function failure(error: unknown): TaskFailure {
  const errno = (error as NodeJS.ErrnoException | null)?.code;
  return {
    kind: 'failed',
    errno: typeof errno === 'string' ? errno : null,
    corrupt: error instanceof CorruptionError,
    file: error instanceof CorruptionError ? error.file : null,
    message: error instanceof Error ? error.message : String(error),
  };
}

function runFlush(task: FlushTask): FlushResult {
  let writer: SstWriter | null = null;
  try {
    writer = SstWriter.create(join(task.dir, sstFileName(task.fileNumber)), task.fileNumber, task.sst);
    for (const entry of unpackRun(task.run)) writer.add(entry);
    return { kind: 'flushed', table: writer.finish() };
  } catch (error) {
    writer?.abort();
    return failure(error);
  }
}

/** K-way merge of table iterators in internal order (a binary heap of cursors). */
class MergingIterator {
  private readonly heap: SstIterator[];

  constructor(iterators: SstIterator[]) {
    for (const it of iterators) it.seekToFirst();
    this.heap = iterators.filter((it) => it.valid());
    for (let i = (this.heap.length >> 1) - 1; i >= 0; i--) this.down(i);
  }

  valid(): boolean {
    return this.heap.length > 0;
  }

  entry(): LsmEntry {
    return this.heap[0].entry();
  }

  next(): void {
    const top = this.heap[0];
    top.next();
    if (!top.valid()) {
      const last = this.heap.pop() as SstIterator;
      if (this.heap.length === 0) return;
      this.heap[0] = last;
    }
    this.down(0);
  }

  private less(a: SstIterator, b: SstIterator): boolean {
    const x = a.entry();
    const y = b.entry();
    return compareInternal(x.key, x.seq, y.key, y.seq) < 0;
  }

  private down(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.less(h[l], h[m])) m = l;
      if (r < h.length && this.less(h[r], h[m])) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m], h[i]];
      i = m;
    }
  }
}

const isGarbage = (e: LsmEntry, nowMs: number): boolean =>
  e.kind === KIND_DELETE || (e.expiresAtMs !== 0 && e.expiresAtMs <= nowMs);

function runCompact(task: CompactTask): CompactResult {
  const readers: SstReader[] = [];
  const outputs: SstMeta[] = [];
  let writer: SstWriter | null = null;
  let next = 0;
  try {
    for (const n of task.inputs) readers.push(SstReader.open(join(task.dir, sstFileName(n)), n, null));
    const merged = new MergingIterator(readers.map((r) => r.iterator()));
    let lastKey: Uint8Array | null = null;
    let keptVisible = false; // the newest version at or below the oldest snapshot is decided
    let entriesIn = 0;
    for (; merged.valid(); merged.next()) {
      const e = merged.entry();
      entriesIn++;
      const newKey = lastKey === null || compareKeys(lastKey, e.key) !== 0;
      if (newKey) {
        // Cut outputs only between user keys, so a key's versions never straddle two tables.
        if (writer !== null && writer.estimatedBytes >= task.tableTargetBytes) {
          outputs.push(writer.finish());
          writer = null;
        }
        lastKey = e.key.slice();
        keptVisible = false;
      }
      if (e.seq <= task.oldestSnapshotSeq) {
        if (keptVisible) continue; // shadowed by a newer version every snapshot sees
        keptVisible = true;
        if (task.dropDeletes && isGarbage(e, task.nowMs)) continue;
      }
      if (writer === null) {
        if (next >= task.outputNumbers.length) throw new Error('compaction ran out of reserved file numbers');
        const n = task.outputNumbers[next++];
        writer = SstWriter.create(join(task.dir, sstFileName(n)), n, task.sst);
      }
      writer.add(e);
    }
    if (writer !== null) outputs.push(writer.finish());
    writer = null;
    const bytesRead = readers.reduce((s, r) => s + r.meta.fileBytes, 0);
    const bytesWritten = outputs.reduce((s, m) => s + m.fileBytes, 0);
    const entriesOut = outputs.reduce((s, m) => s + m.entries, 0);
    return { kind: 'compacted', outputs, bytesRead, bytesWritten, entriesIn, entriesOut };
  } catch (error) {
    writer?.abort();
    for (const m of outputs) fs.rmSync(join(task.dir, sstFileName(m.fileNumber)), { force: true });
    return failure(error);
  } finally {
    for (const r of readers) r.close();
  }
}
