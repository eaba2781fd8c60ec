// The two engines the storage benchmark compares, behind one small interface:
// MantisDB's LsmStore + WalWriter driven the way a shard drives them (apply a
// batch, one WAL record per batch, freeze with a WAL roll when the memtable is
// full, hold writes while the store stalls, flushes and compactions in a real
// piscina pool), and LevelDB through classic-level with default options except
// a block cache and write buffer sized from the same memory budget.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { Piscina } from 'piscina';
import { LIMITS } from '../../shared/limits.js';
import { decodeWriteOps, encodeWriteOps, WAL_KV_OPS, type PutOp } from '../../shared/wire.js';
import { LsmStore, type LsmTask, type LsmTaskResult, type LsmTuning } from '../../workers/lsm/index.js';
import { replayWal, WalWriter } from '../../workers/wal/index.js';
import { dirBytes, waitForWritesQuiet } from './storage-io.js';

export type EngineId = 'mantis' | 'leveldb';

/** What an engine can say about its own reads and layout (null where it keeps no such counter). */
export type EngineCounters = {
  readonly blocksRead: number | null;
  readonly blockCacheHits: number | null;
  /** Bytes the engine says it wrote to tables (flushes + compactions). */
  readonly tableBytesWritten: number | null;
  readonly walBytesWritten: number | null;
  readonly writeStalls: number;
  /** Time write batches spent waiting for a stall to clear. */
  readonly writeStallMs: number;
  /** Stalls that began with level 0 at its stall limit (the rest: both memtables full, the flush not done). */
  readonly level0Stalls: number;
  readonly layout: string;
};

export interface StorageEngine {
  readonly id: EngineId;
  readonly label: string;
  readonly dir: string;
  open(): Promise<void>;
  /** REQUIRES keys.length === values.length; resolves once the batch is applied and logged. */
  writeBatch(keys: readonly Buffer[], values: readonly Buffer[]): Promise<void>;
  get(key: Buffer): Uint8Array | undefined;
  /** Number of keys (at most limit) in [gte, lt). */
  scan(gte: Buffer, lt: Buffer, limit: number): Promise<number>;
  /** Resolves once no flush or compaction is running. */
  settle(): Promise<void>;
  close(): Promise<void>;
  counters(): EngineCounters;
  diskBytes(): number;
}

export type PoolHandle = {
  /** Flushes (writers may be waiting for them): one thread, never behind a compaction. */
  readonly urgent: Piscina;
  /** Compactions. */
  readonly background: Piscina;
  readonly backgroundThreads: number;
  destroy(): Promise<void>;
};

/**
 * The same two lanes the server builds (src/pool/task-pool.ts, routed by task kind as in
 * workers/shard-main.ts): flushes on a one-thread urgent pool, compactions on a background
 * pool of one thread per two cores, each thread with the server's young-generation limit.
 */
export function createLsmPool(entry: string, backgroundThreads: number): PoolHandle {
  const create = (maxThreads: number): Piscina =>
    new Piscina({ filename: entry, minThreads: 1, maxThreads, idleTimeout: 30_000, resourceLimits: { maxYoungGenerationSizeMb: LIMITS.worker_young_generation_mb } });
  const urgent = create(1);
  const background = create(backgroundThreads);
  return { urgent, background, backgroundThreads, destroy: async () => void (await Promise.all([urgent.destroy(), background.destroy()])) };
}

const STALL_TIMEOUT_MS = 120_000;

export class MantisEngine implements StorageEngine {
  readonly id = 'mantis';
  readonly label = 'MantisDB LsmStore';
  private store: LsmStore | null = null;
  private wal: WalWriter | null = null;
  private progressWaiters: (() => void)[] = [];
  private stalls = 0;
  private stallMs = 0;
  private level0Stalls = 0;
  private nowMs = Date.now();
  /** Log lines at warn/error (a flush or compaction that failed): reported as problems. */
  readonly complaints: string[] = [];

  constructor(
    readonly dir: string,
    private readonly tuning: LsmTuning,
    private readonly pool: PoolHandle,
  ) {}

  async open(): Promise<void> {
    const walDir = join(this.dir, 'wal');
    mkdirSync(walDir, { recursive: true });
    const store = LsmStore.open({
      dir: join(this.dir, 'sst'),
      tuning: this.tuning,
      runTask: (task: LsmTask, transfer: ArrayBuffer[]) =>
        this.timed(task, (task.kind === 'flush' ? this.pool.urgent : this.pool.background).run(task, { transferList: transfer }) as Promise<LsmTaskResult>),
      log: (level, msg, fields) => {
        if (level !== 'info') this.complaints.push(`${level}: ${msg} ${JSON.stringify(fields ?? {})}`);
      },
      onFlushed: (_lsn, segment) => this.wal?.removeSegmentsBefore(segment),
      onProgress: () => {
        for (const wake of this.progressWaiters.splice(0)) wake();
      },
    });
    // Replay the WAL tail the tables do not hold, as the shard does on start.
    const replayed = replayWal(walDir, (type, lsn, payload) => {
      if (type !== WAL_KV_OPS) throw new Error(`unknown WAL record type ${type}`);
      if (lsn <= store.flushedLsn) return;
      for (const op of decodeWriteOps(payload)) if (op.kind === 'put') store.put(op.key.slice(), op.value.slice(), op.contentType, op.expiresAtMs);
    });
    this.wal = WalWriter.open(
      { dir: walDir, fsync: 'none', fsyncBatchMs: 2, segmentBytesMax: LIMITS.wal_segment_bytes_max },
      { ...replayed, lastLsn: Math.max(replayed.lastLsn, store.flushedLsn) },
    );
    this.store = store;
    await Promise.resolve();
  }

  /** Pool tasks by kind: how many, and ms from posting to the result (queueing behind other tasks included). */
  readonly tasks = { flush: { count: 0, ms: 0, maxMs: 0 }, compact: { count: 0, ms: 0, maxMs: 0 } };

  private timed(task: LsmTask, run: Promise<LsmTaskResult>): Promise<LsmTaskResult> {
    const started = performance.now();
    return run.then((result) => {
      const t = this.tasks[task.kind];
      const ms = performance.now() - started;
      t.count++;
      t.ms += ms;
      t.maxMs = Math.max(t.maxMs, ms);
      return result;
    });
  }

  private get s(): LsmStore {
    if (this.store === null) throw new Error('MantisEngine: not open');
    return this.store;
  }

  private progress(): Promise<void> {
    return new Promise<void>((resolve) => this.progressWaiters.push(resolve));
  }

  /** The shard actor's maybeFreeze: nothing is in flight under fsync 'none', so a due freeze can happen now. */
  private maybeFreeze(): void {
    const wal = this.wal as WalWriter;
    if (!this.s.wantsFreeze()) return;
    const segment = wal.rollNow();
    if (segment === null) return;
    this.s.freeze(wal.stats().lsn, segment);
  }

  async writeBatch(keys: readonly Buffer[], values: readonly Buffer[]): Promise<void> {
    const store = this.s;
    this.maybeFreeze();
    if (store.writeStalled()) {
      this.stalls++;
      if (store.stats().levels[0].tables >= this.tuning.level0StallTables) this.level0Stalls++;
      const since = performance.now();
      while (store.writeStalled()) {
        if (store.failure !== null) throw new Error(`LsmStore refuses writes: ${store.failure.code} ${store.failure.message}`);
        const timedOut = await Promise.race([
          this.progress().then(() => false),
          new Promise<boolean>((r) => setTimeout(() => r(true), 1000).unref()),
        ]);
        if (timedOut && performance.now() - since > STALL_TIMEOUT_MS) {
          throw new Error(`LsmStore stalled writes for ${STALL_TIMEOUT_MS} ms without progress: ${JSON.stringify(store.stats().levels)}`);
        }
        this.maybeFreeze();
      }
      this.stallMs += performance.now() - since;
    }
    const ops: PutOp[] = [];
    for (let i = 0; i < keys.length; i++) {
      store.put(keys[i], values[i], '', 0);
      ops.push({ kind: 'put', key: keys[i], value: values[i], contentType: '', expiresAtMs: 0 });
    }
    (this.wal as WalWriter).append([{ type: WAL_KV_OPS, payload: encodeWriteOps(ops) }]);
    this.maybeFreeze();
    // As the shard does between drained batches: let pool replies and timers run.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  /** Call before a run of gets: TTL checks use this clock reading. */
  tick(): void {
    this.nowMs = Date.now();
  }

  get(key: Buffer): Uint8Array | undefined {
    return this.s.get(key, this.nowMs)?.value;
  }

  scan(gte: Buffer, lt: Buffer, limit: number): Promise<number> {
    // Keys are ASCII and gte..lt is exactly one prefix's range (lt = prefixEnd(gte)).
    void lt;
    return Promise.resolve(this.s.list(gte.toString('latin1'), null, 0, limit, this.nowMs).keys.length);
  }

  async settle(): Promise<void> {
    await this.s.settle();
  }

  async close(): Promise<void> {
    await this.wal?.close();
    await this.store?.close();
    this.wal = null;
    this.store = null;
  }

  counters(): EngineCounters {
    const st = this.s.stats();
    return {
      blocksRead: st.reads.blocksRead,
      blockCacheHits: st.reads.cacheHits,
      tableBytesWritten: st.diskBytesWritten,
      walBytesWritten: this.wal?.stats().bytesWritten ?? 0,
      writeStalls: this.stalls,
      writeStallMs: this.stallMs,
      level0Stalls: this.level0Stalls,
      layout: st.levels.filter((l) => l.tables > 0).map((l) => `L${l.level}:${l.tables}`).join(' '),
    };
  }

  stats(): ReturnType<LsmStore['stats']> {
    return this.s.stats();
  }

  diskBytes(): number {
    return dirBytes(this.dir);
  }
}

export class LevelEngine implements StorageEngine {
  readonly id = 'leveldb';
  readonly label = 'LevelDB (classic-level)';
  private db: ClassicLevel<Buffer, Buffer> | null = null;

  constructor(
    readonly dir: string,
    private readonly cacheBytes: number,
    private readonly writeBufferBytes: number,
  ) {}

  async open(): Promise<void> {
    this.db = new ClassicLevel<Buffer, Buffer>(this.dir, {
      keyEncoding: 'buffer',
      valueEncoding: 'buffer',
      cacheSize: this.cacheBytes,
      writeBufferSize: this.writeBufferBytes,
    });
    await this.db.open();
  }

  private get d(): ClassicLevel<Buffer, Buffer> {
    if (this.db === null) throw new Error('LevelEngine: not open');
    return this.db;
  }

  async writeBatch(keys: readonly Buffer[], values: readonly Buffer[]): Promise<void> {
    const ops = keys.map((key, i) => ({ type: 'put' as const, key, value: values[i] }));
    await this.d.batch(ops);
  }

  get(key: Buffer): Uint8Array | undefined {
    return this.d.getSync(key);
  }

  async scan(gte: Buffer, lt: Buffer, limit: number): Promise<number> {
    const keys = await this.d.keys({ gte, lt, limit }).all();
    return keys.length;
  }

  /** LevelDB has no "compaction idle" signal: wait until the process stops writing (only one engine works at a time). */
  async settle(): Promise<void> {
    await waitForWritesQuiet('self');
  }

  async close(): Promise<void> {
    await this.db?.close();
    this.db = null;
  }

  property(name: string): string {
    return this.d.getProperty(name);
  }

  counters(): EngineCounters {
    const levels: string[] = [];
    for (let l = 0; l < 7; l++) {
      const n = Number(this.d.getProperty(`leveldb.num-files-at-level${l}`));
      if (n > 0) levels.push(`L${l}:${n}`);
    }
    return { blocksRead: null, blockCacheHits: null, tableBytesWritten: compactionWriteBytes(this.d.getProperty('leveldb.stats')), walBytesWritten: null, writeStalls: 0, writeStallMs: 0, level0Stalls: 0, layout: levels.join(' ') };
  }

  diskBytes(): number {
    return dirBytes(this.dir);
  }
}

/** Sum of the "Write(MB)" column of leveldb.stats (flushes + compactions), in bytes. */
function compactionWriteBytes(stats: string): number | null {
  let mb = 0;
  let rows = 0;
  for (const line of stats.split('\n')) {
    const m = /^\s*\d+\s+\d+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+([\d.]+)\s*$/.exec(line);
    if (m) {
      mb += Number(m[1]);
      rows++;
    }
  }
  return rows === 0 ? null : Math.round(mb * 1024 * 1024);
}
