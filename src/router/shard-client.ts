// The router's handle on one shard actor: its worker thread, its two rings,
// the requests in flight and the queue that waits for ring space. Requests
// made during one event-loop turn are written together and the shard is
// notified once (setImmediate runs after the turn's I/O callbacks). A shard
// that dies is restarted with fresh rings; everything in flight to it fails
// with SHARD_UNAVAILABLE (retryable) at once, never a hang.

import { randomInt } from 'node:crypto';
import { Worker, MessageChannel } from 'node:worker_threads';
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import type { PolicyRule } from '../../shared/cache/policy.js';
import { CacheReader, readCacheStats, type CacheHit, type CacheSegmentStats } from '../../shared/cache/index.js';
import { MantisError } from '../../shared/errors.js';
import { LIMITS } from '../../shared/limits.js';
import { ShardMetric } from '../../shared/metrics-layout.js';
import { createRing, RingReader, RingWriter } from '../../shared/ring.js';
import type { ReplaySummary, ShardAdmin, ShardInit, ShardLifecycle } from '../../shared/shard-contract.js';
import { decodeResponse, encodeRequest, frameId, type ShardRequest, type ShardResponse } from '../../shared/wire.js';
import type { Logger } from '../log.js';
import { decodeValue } from '../../shared/docs/doc-codec.js';
import type { DocChange } from '../../shared/docs/doc-protocol.js';
import type { TaskPool } from '../pool/task-pool.js';

const SHARD_ENTRY = new URL('../../workers/shard-main.js', import.meta.url);
const RESTART_BACKOFF_MS = [50, 200, 1000, 5000];

export type ShardState = 'starting' | 'ready' | 'restarting' | 'stopping' | 'stopped';

type Pending = { resolve(response: ShardResponse): void; reject(error: MantisError): void };

type Generation = {
  readonly number: number;
  readonly worker: Worker;
  readonly writer: RingWriter;
  readonly reader: RingReader;
  readonly admin: Comlink.Remote<ShardAdmin>;
  readonly pending: Map<number, Pending>;
  readonly queue: Uint8Array[];
  /** Set once the worker is gone: ends the response loop and any wait for ring space. */
  closed: boolean;
  offset: number;
  queuedBytes: number;
  flushScheduled: boolean;
  waitingForSpace: boolean;
  /** The cache policies this generation has: what it started with, then each push it confirmed. */
  policies: readonly PolicyRule[];
  /** Resolves when the worker is gone (an admin call to it never settles then). */
  readonly exited: Promise<void>;
  markExited(): void;
};

/** An admin call to a live shard answers in ms; past this it is treated as failed. */
const ADMIN_CALL_TIMEOUT_MS = 10_000;

export type ShardClientOptions = Omit<ShardInit, 'generation' | 'requestRing' | 'responseRing' | 'metrics'> & {
  readonly log: Logger;
  /** The shard thread died unexpectedly (it is being restarted). */
  readonly onCrash?: (shard: number) => void;
  /** A generation is ready; inDoubt: transactions its WAL holds prepared and undecided (re-locked until decided). */
  readonly onReady?: (shard: number, generation: number, inDoubt: readonly string[]) => void;
  /** Document changes a shard made on its own (TTL expiry), for change streams. */
  readonly onDocChanges?: (shard: number, changes: DocChange[]) => void;
  /** Where the shard's flushes and compactions run. */
  readonly pool: TaskPool;
  readonly ringBytes: number;
};

export class ShardClient {
  readonly metrics: Float64Array;
  state: ShardState = 'starting';
  lastReplay: ReplaySummary | null = null;
  restarts = 0;
  /**
   * 47 random bits drawn when this generation was spawned: a key's version is reported as
   * `${epoch}.${seq}`, so a sequence number a restarted shard hands out again does not match a
   * version read from an earlier generation (two generations drawing the same epoch: 2^-47).
   */
  epoch = 0;
  private gen: Generation | null = null;
  private generationNumber = 0;

  /** The current generation's number: it changes when the shard thread is restarted. */
  get generation(): number {
    return this.generationNumber;
  }
  private nextId = 1;
  private readyWaiters: { resolve(): void; reject(error: Error): void }[] = [];
  private recentCrashes = 0;
  /** Reads hits out of the shard's cache segment on this (the main) thread; null when the cache is off. */
  private readonly cacheReader: CacheReader | null;

  constructor(
    private readonly options: ShardClientOptions,
    private readonly metricsBuffer: SharedArrayBuffer,
  ) {
    this.metrics = new Float64Array(metricsBuffer);
    this.cacheReader = options.cache === null ? null : new CacheReader(options.cache);
    this.cachePolicies = options.cachePolicies;
  }

  /** The policies this shard has (and starts with after a restart). */
  private cachePolicies: readonly PolicyRule[];

  /**
   * A shard that is ready gets the rules now; one that is starting or restarting gets them when it
   * reports ready (its init may hold older ones); a new generation starts with them.
   */
  async setCachePolicies(rules: readonly PolicyRule[]): Promise<void> {
    this.cachePolicies = rules;
    const gen = this.gen;
    if (gen !== null && this.state === 'ready') await this.pushPolicies(gen);
  }

  private async pushPolicies(gen: Generation): Promise<void> {
    const rules = this.cachePolicies;
    if (gen.policies === rules) return;
    const outcome = await Promise.race([
      withTimeout(gen.admin.setCachePolicies(rules), ADMIN_CALL_TIMEOUT_MS, `shard ${this.id} setCachePolicies`).then(() => 'done' as const),
      gen.exited.then(() => 'exited' as const),
    ]);
    // A generation that died meanwhile is replaced by one that starts with this.cachePolicies.
    if (outcome === 'done') gen.policies = rules;
  }

  get id(): number {
    return this.options.shardId;
  }

  /** Starts the worker; resolves once it has replayed its WAL. */
  start(): Promise<void> {
    this.spawn();
    return this.whenReady();
  }

  whenReady(): Promise<void> {
    if (this.state === 'ready') return Promise.resolve();
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  /**
   * Sends one request; settles with the shard's response or a MantisError.
   * deadlineMs: absolute (ms since the epoch), 0 = none. A request already
   * past it is refused here; the shard refuses it if it is late when it starts.
   */
  call(request: ShardRequest, deadlineMs = 0): Promise<ShardResponse> {
    if (deadlineMs !== 0 && Date.now() >= deadlineMs) return Promise.reject(deadlineExceeded('before it was sent to a shard'));
    const gen = this.gen;
    if (this.state !== 'ready' || gen === null) {
      return Promise.reject(new MantisError('SHARD_UNAVAILABLE', `shard ${this.id} is ${this.state}; retry shortly`));
    }
    if (gen.queue.length >= LIMITS.shard_queue_requests_max || gen.queuedBytes >= LIMITS.shard_queue_bytes_max) {
      return Promise.reject(new MantisError('SHARD_BUSY', `shard ${this.id} has too many requests queued; retry shortly`));
    }
    const id = this.takeId(gen);
    const frame = encodeRequest(id, request, deadlineMs);
    return new Promise<ShardResponse>((resolve, reject) => {
      gen.pending.set(id, { resolve, reject });
      gen.queue.push(frame);
      gen.queuedBytes += frame.length;
      if (!gen.flushScheduled) {
        gen.flushScheduled = true;
        setImmediate(() => this.flush(gen));
      }
    });
  }

  /**
   * The shard's cached entry for `key`, read from its segment with no thread
   * hop, or null: not cached, expired, moving under the read, or the cache is
   * off — the caller then asks the shard over the ring. Only a ready shard's
   * segment is read: while a shard restarts its segment may hold writes of the
   * dead generation, which its successor's CacheWriter clears before ready.
   * REQUIRES: hash === cacheHash(key); main thread only.
   */
  /** borrow: see CacheReader.get (the value is valid until the next cached read on this thread). */
  cachedGet(key: Uint8Array, hash: number, nowMs: number, borrow = false): CacheHit | null {
    if (this.cacheReader === null || this.state !== 'ready') return null;
    return this.cacheReader.get(key, hash, nowMs, borrow);
  }

  /** The segment's counters (no message to the shard); null when the cache is off. */
  cacheStats(): CacheSegmentStats | null {
    return this.options.cache === null ? null : readCacheStats(this.options.cache);
  }

  /** The next request id not still pending (ids are u32 and wrap). */
  private takeId(gen: Generation): number {
    let id = this.nextId;
    while (gen.pending.has(id)) id = id === 0xffffffff ? 1 : id + 1;
    this.nextId = id === 0xffffffff ? 1 : id + 1;
    return id;
  }

  /** Requests queued or in the request ring, and bytes waiting in both rings. */
  depth(): { inFlight: number; queued: number; requestRingBytes: number; responseRingBytes: number } {
    const gen = this.gen;
    if (gen === null) return { inFlight: 0, queued: 0, requestRingBytes: 0, responseRingBytes: 0 };
    return {
      inFlight: gen.pending.size,
      queued: gen.queue.length,
      requestRingBytes: gen.writer.usedBytes(),
      responseRingBytes: gen.reader.usedBytes(),
    };
  }

  admin(): Comlink.Remote<ShardAdmin> {
    if (this.gen === null) throw new MantisError('SHARD_UNAVAILABLE', `shard ${this.id} is not running`);
    return this.gen.admin;
  }

  /** Flushes and closes the shard's WAL, then ends its thread. */
  async stop(timeoutMs: number): Promise<void> {
    const gen = this.gen;
    this.state = 'stopping';
    if (gen === null) return;
    try {
      await withTimeout(gen.admin.close(), timeoutMs, `shard ${this.id} close`);
    } catch (error) {
      this.options.log.error({ shard: this.id, err: error }, 'shard did not close cleanly');
    }
    this.state = 'stopped';
    this.settleReady(gen);
    this.failAll(gen, 'SHUTTING_DOWN', 'server is shutting down');
    this.close(gen);
    await gen.worker.terminate();
  }

  private flush(gen: Generation): void {
    gen.flushScheduled = false;
    if (gen.closed) return;
    let written = 0;
    while (gen.queue.length > written) {
      const frame = gen.queue[written];
      gen.offset = gen.writer.write(frame, gen.offset);
      if (gen.offset < frame.length) break;
      gen.queuedBytes -= frame.length;
      gen.offset = 0;
      written++;
    }
    if (written > 0) gen.queue.splice(0, written);
    gen.writer.commit();
    if (gen.queue.length > 0 && !gen.waitingForSpace) {
      gen.waitingForSpace = true;
      void gen.writer.waitForSpace().then(() => {
        gen.waitingForSpace = false;
        this.flush(gen);
      });
    }
  }

  private async readResponses(gen: Generation): Promise<void> {
    const frames: Uint8Array[] = [];
    while (!gen.closed) {
      frames.length = 0;
      gen.reader.drain(frames, LIMITS.batch_frames_max);
      for (const frame of frames) this.settle(gen, frame);
      if (frames.length === 0) await gen.reader.waitForData();
    }
  }

  /** Answers already in the response ring are delivered, not failed. */
  private settleReady(gen: Generation): void {
    const frames: Uint8Array[] = [];
    gen.reader.drain(frames, Number.MAX_SAFE_INTEGER);
    for (const frame of frames) this.settle(gen, frame);
  }

  private close(gen: Generation): void {
    gen.closed = true;
    gen.reader.interrupt();
    gen.writer.interrupt();
  }

  private settle(gen: Generation, frame: Uint8Array): void {
    let decoded: { id: number; response: ShardResponse };
    try {
      decoded = decodeResponse(frame);
    } catch (error) {
      this.options.log.error({ shard: this.id, err: error }, 'corrupt response frame from shard');
      this.rejectUndecodable(gen, frame);
      return;
    }
    const pending = gen.pending.get(decoded.id);
    if (pending === undefined) return;
    gen.pending.delete(decoded.id);
    pending.resolve(decoded.response);
  }

  private rejectUndecodable(gen: Generation, frame: Uint8Array): void {
    let id: number;
    try {
      id = frameId(frame);
    } catch {
      return;
    }
    const pending = gen.pending.get(id);
    gen.pending.delete(id);
    pending?.reject(new MantisError('INTERNAL', `shard ${this.id} sent a corrupt response`));
  }

  private spawn(): void {
    const number = ++this.generationNumber;
    this.epoch = randomInt(1, 2 ** 47);
    const requestRing = createRing(this.options.ringBytes);
    const responseRing = createRing(this.options.ringBytes);
    const channel = new MessageChannel();
    const poolChannel = new MessageChannel();
    this.options.pool.serve(poolChannel.port1);
    const init: ShardInit & { adminPort: unknown; poolPort: unknown } = {
      shardId: this.options.shardId,
      generation: number,
      requestRing,
      responseRing,
      metrics: this.metricsBuffer,
      dir: this.options.dir,
      fsync: this.options.fsync,
      fsyncBatchMs: this.options.fsyncBatchMs,
      walSegmentBytes: this.options.walSegmentBytes,
      logLevel: this.options.logLevel,
      storage: this.options.storage,
      cache: this.options.cache,
      cacheEvents: this.options.cacheEvents,
      cachePolicies: this.cachePolicies,
      writeBackMs: this.options.writeBackMs,
      oracle: this.options.oracle,
      walArchive: this.options.walArchive,
      adminPort: channel.port2,
      poolPort: poolChannel.port2,
    };
    const worker = new Worker(SHARD_ENTRY, {
      workerData: init,
      transferList: [channel.port2, poolChannel.port2],
      name: `shard-${this.id}`,
      // A small young generation: short-lived request garbage is scavenged sooner, so RSS stays near the live data.
      resourceLimits: { maxYoungGenerationSizeMb: LIMITS.worker_young_generation_mb, maxOldGenerationSizeMb: LIMITS.shard_old_generation_mb },
    });
    let markExited = (): void => undefined;
    const exited = new Promise<void>((resolve) => (markExited = resolve));
    const gen: Generation = {
      number,
      worker,
      policies: this.cachePolicies,
      exited,
      markExited,
      writer: new RingWriter(requestRing),
      reader: new RingReader(responseRing),
      admin: Comlink.wrap<ShardAdmin>(nodeEndpoint(channel.port1)),
      pending: new Map(),
      queue: [],
      closed: false,
      offset: 0,
      queuedBytes: 0,
      flushScheduled: false,
      waitingForSpace: false,
    };
    this.gen = gen;
    worker.on('message', (message: ShardLifecycle) => this.onLifecycle(gen, message));
    worker.on('error', (error) => this.options.log.error({ shard: this.id, err: error }, 'shard thread threw'));
    worker.on('exit', (code) => this.onExit(gen, code));
    void this.readResponses(gen);
  }

  private onLifecycle(gen: Generation, message: ShardLifecycle): void {
    if (gen !== this.gen) return;
    if (message.kind === 'ready') {
      this.state = 'ready';
      this.lastReplay = message.replay;
      this.recentCrashes = 0;
      for (const waiter of this.readyWaiters.splice(0)) waiter.resolve();
      this.options.onReady?.(this.id, gen.number, message.inDoubt);
      // Rules changed while it started: it has the ones from its init.
      if (gen.policies !== this.cachePolicies) {
        this.pushPolicies(gen).catch((error: unknown) => this.options.log.error({ shard: this.id, err: error }, 'could not give a restarted shard the cache policies'));
      }
    } else if (message.kind === 'doc-changes') {
      this.options.onDocChanges?.(this.id, decodeValue(message.changes) as unknown as DocChange[]);
    } else {
      this.options.log.error({ shard: this.id, error: message.message }, 'shard failed to start');
    }
  }

  private onExit(gen: Generation, code: number): void {
    gen.markExited();
    if (gen !== this.gen || this.state === 'stopping' || this.state === 'stopped') return;
    const wasReady = this.state === 'ready';
    this.state = 'restarting';
    this.restarts++;
    this.metrics[ShardMetric.restarts]++;
    this.options.onCrash?.(this.id);
    this.options.log.error({ shard: this.id, code, inFlight: gen.pending.size }, 'shard thread died; restarting it');
    this.settleReady(gen);
    this.failAll(gen, 'SHARD_UNAVAILABLE', `shard ${this.id} crashed; the request may or may not have been applied`);
    this.close(gen);
    gen.admin[Comlink.releaseProxy]();
    if (!wasReady && this.readyWaiters.length > 0 && this.recentCrashes >= RESTART_BACKOFF_MS.length) {
      this.state = 'stopped';
      for (const waiter of this.readyWaiters.splice(0)) waiter.reject(new Error(`shard ${this.id} keeps failing to start`));
      return;
    }
    const delay = RESTART_BACKOFF_MS[Math.min(this.recentCrashes, RESTART_BACKOFF_MS.length - 1)];
    this.recentCrashes++;
    setTimeout(() => {
      if (this.state === 'restarting') this.spawn();
    }, delay);
  }

  private failAll(gen: Generation, code: 'SHARD_UNAVAILABLE' | 'SHUTTING_DOWN', message: string): void {
    const error = new MantisError(code, message);
    for (const pending of gen.pending.values()) pending.reject(error);
    gen.pending.clear();
    gen.queue.length = 0;
    gen.queuedBytes = 0;
  }
}

export function deadlineExceeded(where: string): MantisError {
  return new MantisError('DEADLINE_EXCEEDED', `the request's deadline (Mantis-Deadline-Ms) passed ${where}; it was not applied`);
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new MantisError('SHARD_UNAVAILABLE', `${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
