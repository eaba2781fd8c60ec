// The timestamp oracle: one BigInt64Array in shared memory that every thread
// holding its SharedArrayBuffer takes snapshot and commit timestamps from
// (Atomics.add), so timestamps are unique and strictly increasing across the
// router and every shard without a message. Timestamps are JS numbers (safe
// integers) stored as BigInt64.
//
// Layout (each group on its own 64-byte line, so the counter every next()
// writes does not share a line with the horizon shards read):
//
//   word 0   COUNTER      the last timestamp taken (next() = Atomics.add + 1)
//   word 8   LIMIT        the durable reservation: no timestamp above it is handed out
//   word 9   REFILL_AT    a next() reaching it asks the reserver for the next block
//   word 10  STATE        why the reservation last failed: 0 none, 1 STORAGE_IO, 2 STORAGE_FULL
//   word 16  REFILL_FLAG  1 = a reservation is wanted (the reserver waits on it)
//   word 24  HORIZON      the oldest live snapshot (MVCC garbage-collection horizon)
//   word 32  MAGIC        marks the buffer as an oracle
//   word 40  LIVE         snapshots live now (transactions begun and not ended)
//
// Restarts. Timestamps must keep increasing across restarts, so they are
// handed out only below a durable high-water mark, reserved in blocks
// (TimestampReserver, main thread): `timestamps.reserved` holds the mark,
// replaced whole (tmp + fsync + rename + directory fsync). At start the
// counter begins at the persisted mark, which is at or above every timestamp
// the previous run handed out, and a first block is reserved before anything
// is handed out. When half of the room below the mark is used, the next()
// that crosses REFILL_AT raises REFILL_FLAG and notifies; the reserver (an
// Atomics.waitAsync on the main thread, no polling) persists mark + block and
// only then raises LIMIT. next() itself never waits and never touches the disk.
//
// Exhaustion. If the counter reaches LIMIT before the next block is durable
// (timestamps taken faster than half a block per fsync, or the reservation
// write failing: disk full, I/O error), next() throws a MantisError
// STORAGE_IO (503; STORAGE_FULL, 507, when the last reservation failed with
// ENOSPC) instead of handing out an unreserved timestamp. The caller answers
// the request with that code; the reserver retries a failed reservation every
// `retryMs`, and next() works again as soon as a block is durable. A refused
// next() consumes a counter value that is never handed out (harmless: unique
// and increasing is all timestamps promise; gaps are allowed). With the
// default block of 1e6 and one fdatasync of a 20-byte file taking
// milliseconds, exhaustion needs ~1e8 timestamps per second or a failing disk.
//
// The horizon. setOldestSnapshot(ts) publishes the oldest snapshot still in
// use: a shard may collect a version only when a newer version of the same
// key committed at or below the horizon. setOldestSnapshot(null) means "no
// snapshot is live" and publishes current() rather than Infinity: every
// snapshot taken after the call is above it, so a shard collecting meanwhile
// keeps what such a snapshot needs, while Infinity would let a shard drop all
// but the newest version in the window between a snapshot's next() and its
// publication. The horizon is only as good as its publisher's count: every
// snapshot used beyond the synchronous code that took it must be counted (the
// router takes and registers its snapshots in one synchronous step; a
// snapshot taken on another thread must be registered before it is used). The
// horizon starts at 0 (collect nothing) and never goes down: lowering it is a
// bug (versions may already be gone), so it throws.

import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { assert, MantisError } from '../errors.js';
import { ensureDir, readIfExists, storageCode, writeFileDurably } from '../durable-file.js';

const WORDS = 48;
/** Bytes of the oracle's SharedArrayBuffer. */
export const ORACLE_BYTES = WORDS * 8;
const COUNTER = 0;
const LIMIT = 8;
const REFILL_AT = 9;
const STATE = 10;
const REFILL_FLAG = 16;
const HORIZON = 24;
const MAGIC_WORD = 32;
const LIVE = 40;
const MAGIC = 0x4d4e_5453_5453_4f31n; // "MNTSTSO1"

const STATE_OK = 0n;
const STATE_IO = 1n;
const STATE_FULL = 2n;

const MAX_TS = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * A new oracle whose first timestamp is `start + 1`, with no reservation
 * limit (for tests and for a server without durable timestamps; a durable one
 * comes from TimestampReserver.open). Hand the buffer to every thread.
 */
export function createOracle(start: number): SharedArrayBuffer {
  assert(Number.isSafeInteger(start) && start >= 0, `start must be a safe non-negative integer, got ${start}`);
  const sab = new SharedArrayBuffer(ORACLE_BYTES);
  const words = new BigInt64Array(sab);
  words[COUNTER] = BigInt(start);
  words[LIMIT] = MAX_TS;
  words[REFILL_AT] = MAX_TS + 1n; // never reached: nobody to refill
  words[HORIZON] = 0n;
  words[MAGIC_WORD] = MAGIC;
  return sab;
}

/** A view of the oracle; cheap to make, one per thread. */
export class TimestampOracle {
  private readonly words: BigInt64Array;

  constructor(sab: SharedArrayBuffer) {
    assert(sab instanceof SharedArrayBuffer && sab.byteLength === ORACLE_BYTES, 'not a timestamp oracle buffer (wrong type or size)');
    this.words = new BigInt64Array(sab);
    assert(Atomics.load(this.words, MAGIC_WORD) === MAGIC, 'not a timestamp oracle buffer (no magic)');
  }

  /**
   * A timestamp larger than every one taken before it by any thread (and by
   * any earlier run, with a TimestampReserver). Never blocks. Throws
   * MantisError STORAGE_IO / STORAGE_FULL when the durable reservation is
   * used up (see the file header).
   */
  next(): number {
    const w = this.words;
    const t = Atomics.add(w, COUNTER, 1n) + 1n;
    if (t >= Atomics.load(w, REFILL_AT) && Atomics.compareExchange(w, REFILL_FLAG, 0n, 1n) === 0n) Atomics.notify(w, REFILL_FLAG);
    if (t > Atomics.load(w, LIMIT)) throw this.exhausted();
    return Number(t);
  }

  /** The newest timestamp that may have been handed out (0 or `start` before any). */
  current(): number {
    const counter = Atomics.load(this.words, COUNTER);
    const limit = Atomics.load(this.words, LIMIT);
    return Number(counter < limit ? counter : limit);
  }

  /** The durable high-water mark: no timestamp above it is handed out (MAX_SAFE_INTEGER without a reserver). */
  reserved(): number {
    return Number(Atomics.load(this.words, LIMIT));
  }

  /**
   * Publishes the oldest live snapshot (router only), or null when none is
   * live, which publishes current() (see the file header for why not
   * Infinity). Throws when that would lower the horizon.
   */
  setOldestSnapshot(ts: number | null): void {
    const value = ts === null ? this.current() : ts;
    assert(Number.isSafeInteger(value) && value >= 0, `a snapshot timestamp must be a safe non-negative integer, got ${value}`);
    const previous = Atomics.load(this.words, HORIZON);
    assert(BigInt(value) >= previous, `the oldest snapshot cannot go back from ${previous} to ${value}`);
    Atomics.store(this.words, HORIZON, BigInt(value));
  }

  /**
   * Counts a snapshot as live, BEFORE its timestamp is taken (router only; snapshotEnded when it
   * is no longer read at). A writer that takes its timestamp W and then sees liveSnapshots() = 0
   * knows every snapshot taken later is above W: no snapshot can need the version W replaces, so
   * it need not be kept (Atomics are sequentially consistent: the counter's increment precedes the
   * snapshot's timestamp, the writer's timestamp precedes its read of the counter).
   */
  snapshotBegun(): void {
    Atomics.add(this.words, LIVE, 1n);
  }

  snapshotEnded(): void {
    assert(Atomics.load(this.words, LIVE) > 0n, 'a snapshot ended that was never counted');
    Atomics.sub(this.words, LIVE, 1n);
  }

  liveSnapshots(): number {
    return Number(Atomics.load(this.words, LIVE));
  }

  /** The GC horizon: versions shadowed by a newer one committed at or below it may be collected. 0 until published. */
  oldestSnapshot(): number {
    return Number(Atomics.load(this.words, HORIZON));
  }

  private exhausted(): MantisError {
    const state = Atomics.load(this.words, STATE);
    const limit = Atomics.load(this.words, LIMIT);
    const why =
      state === STATE_FULL ? 'the last reservation failed: disk full'
      : state === STATE_IO ? 'the last reservation failed: I/O error'
      : 'the next reservation is not durable yet';
    return new MantisError(
      state === STATE_FULL ? 'STORAGE_FULL' : 'STORAGE_IO',
      `no timestamp available: every timestamp up to the durable reservation (${limit}) is taken and ${why}; retry shortly`,
    );
  }
}

// ---- the durable reservation (main thread) -------------------------------------

/** The file in the reserver's directory holding the high-water mark. */
export const RESERVATION_FILE = 'timestamps.reserved';
/** Timestamps reserved per durable write, by default. */
export const TIMESTAMP_BLOCK_DEFAULT = 1_000_000;
const RETRY_MS_DEFAULT = 1000;
const FILE_MAGIC = Buffer.from('MNTSTSR1', 'latin1');
const FILE_BYTES = 20; // magic | u64 mark | u32 crc32 of the 16 bytes before it

/** What the reserver logs through (a pino Logger fits). */
export type ReserverLogger = { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };

export type TimestampReserverOptions = {
  /** Timestamps per reservation (default 1e6); the next block is reserved when half of the room is used. */
  readonly block?: number;
  /** Start above this even when the file says less (or is missing): e.g. the newest commit timestamp the shards recovered. */
  readonly floor?: number;
  /** A failed reservation is retried after this many ms (default 1000). */
  readonly retryMs?: number;
  readonly log?: ReserverLogger;
};

export type TimestampReserverStats = {
  /** The durable high-water mark. */
  readonly reserved: number;
  /** Reservations made durable since open (the first, at open, included). */
  readonly reservations: number;
  /** Reservations that failed since open. */
  readonly failures: number;
};

const SILENT: ReserverLogger = { info: () => undefined, warn: () => undefined };

/**
 * Owns the oracle's durable high-water mark (main thread). open() before any
 * thread takes a timestamp; hand `buffer` to the shards.
 */
export class TimestampReserver {
  readonly oracle: TimestampOracle;
  private readonly words: BigInt64Array;
  private readonly counters = { reservations: 0, failures: 0 };
  private closing = false;
  private running: Promise<void> = Promise.resolve();
  private wakeSleep: (() => void) | null = null;
  private settledWaiters: (() => void)[] = [];

  private constructor(
    readonly buffer: SharedArrayBuffer,
    private readonly path: string,
    private readonly block: number,
    private readonly retryMs: number,
    private readonly log: ReserverLogger,
  ) {
    this.oracle = new TimestampOracle(buffer);
    this.words = new BigInt64Array(buffer);
  }

  /**
   * Reads the mark in `dir` (creating `dir` when missing), starts the counter
   * at max(mark, floor) and makes a first block durable before returning.
   * Throws MantisError DATA_CORRUPT when the file is damaged (starting lower
   * could repeat timestamps), and fs errors as they are.
   */
  static async open(dir: string, options: TimestampReserverOptions = {}): Promise<TimestampReserver> {
    const block = options.block ?? TIMESTAMP_BLOCK_DEFAULT;
    const floor = options.floor ?? 0;
    const retryMs = options.retryMs ?? RETRY_MS_DEFAULT;
    if (!Number.isSafeInteger(block) || block < 2) throw new MantisError('INVALID_PARAMETER', `block must be an integer ≥ 2, got ${block}`);
    if (!Number.isSafeInteger(floor) || floor < 0) throw new MantisError('INVALID_PARAMETER', `floor must be a safe non-negative integer, got ${floor}`);
    if (!(retryMs > 0)) throw new MantisError('INVALID_PARAMETER', `retryMs must be positive, got ${retryMs}`);
    await ensureDir(dir);
    const path = join(dir, RESERVATION_FILE);
    await rm(`${path}.tmp`, { force: true }); // a replacement cut short: the file itself is whole
    const persisted = await readMark(path);
    const start = Math.max(persisted ?? 0, floor);
    const sab = createOracle(start);
    const reserver = new TimestampReserver(sab, path, block, retryMs, options.log ?? SILENT);
    const words = reserver.words;
    words[LIMIT] = BigInt(start); // nothing may be handed out before the first block is durable
    words[REFILL_AT] = BigInt(start);
    try {
      await reserver.reserve();
      reserver.log.info({ path, start, reserved: reserver.oracle.reserved() }, 'timestamp oracle started');
    } catch (error) {
      // Only a disk failure (an errno) falls back; anything else is a bug or a bad directory.
      if (error instanceof MantisError || typeof (error as NodeJS.ErrnoException | null)?.code !== 'string') throw error;
      const code = storageCode(error);
      // A full or failing disk must not stop the server from serving reads: no timestamp is handed
      // out (writes are refused with this code) until the run loop gets a reservation durable.
      words[STATE] = code === 'STORAGE_FULL' ? STATE_FULL : STATE_IO;
      words[REFILL_FLAG] = 1n;
      reserver.counters.failures++;
      reserver.log.warn({ err: error, path, start, retryMs }, 'timestamp reservation failed at start; writes are refused until it succeeds');
    }
    reserver.running = reserver.run();
    return reserver;
  }

  stats(): TimestampReserverStats {
    return { reserved: this.oracle.reserved(), ...this.counters };
  }

  /** Resolves when no reservation is wanted or in flight (for tests and shutdown). */
  async settled(): Promise<void> {
    while (!this.closing && Atomics.load(this.words, REFILL_FLAG) !== 0n) {
      await new Promise<void>((done) => this.settledWaiters.push(done));
    }
  }

  /**
   * Stops reserving. Timestamps below the durable mark stay usable; past it
   * next() throws STORAGE_IO.
   */
  async close(): Promise<void> {
    this.closing = true;
    Atomics.notify(this.words, REFILL_FLAG);
    this.wakeSleep?.();
    await this.running;
    for (const done of this.settledWaiters.splice(0)) done();
  }

  /** Waits for REFILL_FLAG and reserves, until closed. */
  private async run(): Promise<void> {
    const w = this.words;
    while (!this.closing) {
      if (Atomics.load(w, REFILL_FLAG) === 0n) {
        for (const done of this.settledWaiters.splice(0)) done();
        const wait = Atomics.waitAsync(w, REFILL_FLAG, 0n);
        if (wait.async) await wait.value;
        continue;
      }
      if (!this.wanted()) {
        this.lowerFlag();
        continue;
      }
      try {
        await this.reserve();
        this.lowerFlag();
      } catch (error) {
        this.counters.failures++;
        Atomics.store(w, STATE, storageCode(error) === 'STORAGE_FULL' ? STATE_FULL : STATE_IO);
        this.log.warn({ err: error, path: this.path, reserved: this.oracle.reserved(), retryMs: this.retryMs }, 'timestamp reservation failed; retrying');
        await new Promise<void>((done) => {
          const timer = setTimeout(done, this.retryMs);
          this.wakeSleep = () => {
            clearTimeout(timer);
            done();
          };
        });
        this.wakeSleep = null;
      }
    }
  }

  /** True when half of the room below the mark is used. */
  private wanted(): boolean {
    return Atomics.load(this.words, COUNTER) >= Atomics.load(this.words, REFILL_AT);
  }

  /** Clears the request; a next() that crossed the new threshold meanwhile would have found the flag up, so look again. */
  private lowerFlag(): void {
    Atomics.store(this.words, REFILL_FLAG, 0n);
    if (this.wanted()) Atomics.store(this.words, REFILL_FLAG, 1n);
  }

  /** Persists max(counter, mark) + block, then raises the limit to it. */
  private async reserve(): Promise<void> {
    const w = this.words;
    const counter = Atomics.load(w, COUNTER);
    const limit = Atomics.load(w, LIMIT);
    const base = counter > limit ? counter : limit;
    const mark = base + BigInt(this.block);
    if (mark > MAX_TS) throw new MantisError('INTERNAL', `timestamps would pass Number.MAX_SAFE_INTEGER (${base} + ${this.block})`);
    await writeMark(this.path, mark);
    this.counters.reservations++;
    Atomics.store(w, STATE, STATE_OK);
    Atomics.store(w, LIMIT, mark);
    Atomics.store(w, REFILL_AT, mark - BigInt(this.block >> 1));
  }
}

function encodeMark(mark: bigint): Buffer {
  const buf = Buffer.alloc(FILE_BYTES);
  FILE_MAGIC.copy(buf, 0);
  buf.writeBigUInt64LE(mark, 8);
  buf.writeUInt32LE(crc32(buf.subarray(0, 16)), 16);
  return buf;
}

/** The mark in `path`, null when there is no file. Throws DATA_CORRUPT on a damaged file. */
async function readMark(path: string): Promise<number | null> {
  const buf = await readIfExists(path);
  if (buf === null) return null;
  const ok = buf.length === FILE_BYTES && buf.subarray(0, 8).equals(FILE_MAGIC) && crc32(buf.subarray(0, 16)) === buf.readUInt32LE(16);
  const mark = ok ? buf.readBigUInt64LE(8) : -1n;
  if (!ok || mark > MAX_TS) {
    throw new MantisError('DATA_CORRUPT', `${path}: damaged timestamp reservation (${buf.length} bytes); starting lower could repeat timestamps, so the data directory is refused`);
  }
  return Number(mark);
}

/** Replaces the mark whole: write tmp, fsync, rename over, fsync the directory. */
function writeMark(path: string, mark: bigint): Promise<void> {
  return writeFileDurably(path, encodeMark(mark));
}
