// A two-level cursor over one table: the decoded index picks the data block, a
// BlockIterator walks inside it. Blocks come through the reader (cache, then disk).

import { BlockIterator } from './block-reader.js';
import { EntryDecoder } from './entry-codec.js';
import type { SstIndex } from './sst-index.js';
import { SEEK_SEQ, type LsmEntry, type ReadStats } from './sst-format.js';

export interface SstIterator {
  seekToFirst(): void;
  /** Positions at the first entry whose user key ≥ userKey (all its versions follow, newest first). */
  seek(userKey: Uint8Array): void;
  valid(): boolean;
  /** REQUIRES valid(). The entry; its key/value stay valid until the next call (copy to keep). */
  entry(): LsmEntry;
  next(): void;
}

/** What the iterator needs from its reader. */
export interface BlockSource {
  readonly path: string;
  readonly index: SstIndex;
  /** The decoded payload of data block `block`; throws CorruptionError when it is bad. */
  readBlock(block: number, stats: ReadStats | undefined, fillCache: boolean): Uint8Array;
}

export class TableIterator implements SstIterator {
  private block = -1;
  private it: BlockIterator | null = null;
  private current: LsmEntry | null = null;
  private readonly decoder: EntryDecoder;

  constructor(
    private readonly source: BlockSource,
    private readonly stats: ReadStats | undefined,
    private readonly fillCache: boolean,
  ) {
    this.decoder = new EntryDecoder(source.path);
  }

  seekToFirst(): void {
    this.load(0);
    this.it?.seekToFirst();
    this.skipExhausted();
  }

  seek(userKey: Uint8Array): void {
    this.load(this.source.index.find(userKey, SEEK_SEQ));
    this.it?.seek(userKey, SEEK_SEQ);
    this.skipExhausted();
  }

  valid(): boolean {
    return this.it !== null && this.it.valid();
  }

  entry(): LsmEntry {
    const it = this.it;
    if (it === null || !it.valid()) throw new Error(`SstIterator.entry() on an invalid cursor (${this.source.path})`);
    if (this.current === null) {
      this.current = this.decoder.decode(it.keyBytes, it.keyLength, it.value(), this.source.index.offsetOf(this.block));
    }
    return this.current;
  }

  next(): void {
    const it = this.it;
    if (it === null || !it.valid()) throw new Error(`SstIterator.next() on an invalid cursor (${this.source.path})`);
    this.current = null;
    it.next();
    this.skipExhausted();
  }

  private load(block: number): void {
    this.current = null;
    this.block = block;
    this.it = null; // stays invalid if the read below throws
    if (block >= this.source.index.count) return;
    const data = this.source.readBlock(block, this.stats, this.fillCache);
    this.it = new BlockIterator(data, this.source.path, this.source.index.offsetOf(block));
  }

  /** Moves to the first entry of the following blocks while the current block is used up. */
  private skipExhausted(): void {
    while (this.it !== null && !this.it.valid()) {
      this.load(this.block + 1);
      this.it?.seekToFirst();
    }
  }
}
