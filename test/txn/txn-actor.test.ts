// The shard actor with its transaction participant, through real rings (no
// server): txn requests share a drained batch's single WAL write with plain
// writes, a prepare is acknowledged once durable while reads answer at once,
// a malformed txn frame is answered with an error and the shard goes on, and a
// WAL failure under a decision leaves the transaction prepared (the
// coordinator re-sends it) and the writes undone.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SHARD_METRIC_SLOTS, ShardMetric } from '../../shared/metrics-layout.js';
import { createRing, RingReader, RingWriter } from '../../shared/ring.js';
import { createOracle, TimestampOracle } from '../../shared/txn/timestamp-oracle.js';
import { decodeResponse, encodeRequest, type ShardRequest, type ShardResponse } from '../../shared/wire.js';
import { LsmStore, runLsmTask, tuningFromBudget } from '../../workers/lsm/index.js';
import { ResponseSender } from '../../workers/shard/response-sender.js';
import { ShardActor } from '../../workers/shard/shard-actor.js';
import { ShardOps } from '../../workers/shard/shard-ops.js';
import { TxnParticipant } from '../../workers/txn/txn-participant.js';
import { replayWal, WalWriter } from '../../workers/wal/index.js';

const enc = (s: string): Uint8Array => Buffer.from(s);
const dec = (b: Uint8Array): string => Buffer.from(b).toString();
/** A key as a decoded response holds it. */
const u8 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s));

type Rig = {
  call(requests: ShardRequest[]): Promise<ShardResponse[]>;
  callRaw(frames: Uint8Array[]): Promise<ShardResponse[]>;
  txn: TxnParticipant;
  /** Indexes (in the last call) of the responses in the order they arrived. */
  arrival: number[];
  oracle: TimestampOracle;
  metrics: Float64Array;
  stop(): Promise<void>;
};

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

function rig(walFault?: string): Rig {
  const dir = mkdtempSync(join(tmpdir(), 'mantis-txn-actor-'));
  const store = LsmStore.open({ dir: join(dir, 'sst'), tuning: tuningFromBudget(1 << 22), runTask: (task) => Promise.resolve(runLsmTask(task)), log: () => undefined });
  const ops = new ShardOps(store);
  const oracle = new TimestampOracle(createOracle(10));
  const metrics = new Float64Array(SHARD_METRIC_SLOTS);
  let wal: WalWriter | null = null;
  const txn = new TxnParticipant({ store, ops, oracle, currentSegment: () => wal?.currentSegment ?? 0, metrics });
  ops.setTxnHook(txn);
  const walDir = join(dir, 'wal');
  const replayed = replayWal(walDir, () => undefined);
  if (walFault !== undefined) process.env.MANTIS_FAULT_WAL = walFault;
  try {
    wal = WalWriter.open(
      { dir: walDir, fsync: 'always', fsyncBatchMs: 5, segmentBytesMax: 1 << 30, metrics: { onWrite: () => metrics[ShardMetric.wal_writes]++, onFsync: () => undefined } },
      replayed,
    );
  } finally {
    delete process.env.MANTIS_FAULT_WAL;
  }
  const requests = createRing(1 << 16);
  const responses = createRing(1 << 16);
  const actor = new ShardActor({
    reader: new RingReader(requests),
    sender: new ResponseSender(new RingWriter(responses)),
    ops,
    txn,
    store,
    wal,
    metrics,
    log: () => undefined,
    crashKey: null,
    delayMs: 0,
    events: null,
    writeBackMs: 10,
  });
  const running = actor.run();
  const writer = new RingWriter(requests);
  const reader = new RingReader(responses);
  let nextId = 1;
  const arrival: number[] = [];
  const callRaw = async (frames: Uint8Array[]): Promise<ShardResponse[]> => {
    const ids = frames.map((f) => new DataView(f.buffer, f.byteOffset).getUint32(0, true));
    for (const f of frames) expect(writer.write(f)).toBe(f.length);
    writer.commit(); // one commit: the actor drains them as one batch
    const got = new Map<number, ShardResponse>();
    arrival.length = 0;
    while (got.size < frames.length) {
      const out: Uint8Array[] = [];
      reader.drain(out, 100);
      for (const frame of out) {
        const { id, response } = decodeResponse(frame);
        got.set(id, response);
        arrival.push(ids.indexOf(id));
      }
      if (out.length === 0) await reader.waitForData();
    }
    return ids.map((id) => got.get(id) as ShardResponse);
  };
  const stop = async (): Promise<void> => {
    actor.stop();
    actor.wake();
    await running;
    await wal?.close().catch(() => undefined);
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  };
  cleanups.push(stop);
  return {
    call: (rs) => callRaw(rs.map((r) => encodeRequest(nextId++, r))),
    callRaw,
    txn,
    arrival,
    oracle,
    metrics,
    stop: async () => {
      cleanups.splice(cleanups.indexOf(stop), 1);
      await stop();
    },
  };
}

const put = (key: string, value: string) => ({ kind: 'put' as const, key: enc(key), value: enc(value), contentType: 'text/plain', expiresAtMs: 0 });

describe('shard actor with the transaction participant', () => {
  it('logs a batch of plain writes and txn records in one WAL write; reads answer at once, the prepare once durable', async () => {
    const r = rig();
    const snap = r.oracle.next();
    const writesBefore = r.metrics[ShardMetric.wal_writes];
    const [plain, prepared, read, plainOnHeld] = await r.call([
      put('p', '1'),
      { kind: 'txn-prepare', txnId: 'T', isolation: 'serializable', snapshotTs: snap, reads: [], prefixes: [], writes: [put('k', 'v')] },
      { kind: 'txn-read', key: enc('k'), snapshotTs: r.oracle.next() },
      put('k', 'plain'),
    ]);
    expect(plain).toEqual({ kind: 'done' });
    expect(prepared).toEqual({ kind: 'txn-prepared' });
    expect(read).toEqual({ kind: 'txn-locked', key: u8('k'), txnId: 'T' });
    expect(plainOnHeld).toEqual({ kind: 'txn-locked', key: u8('k'), txnId: 'T' });
    // The read and the refused put are answered at once, the writes after the fsync.
    expect(r.arrival.indexOf(2)).toBeLessThan(r.arrival.indexOf(1));
    expect(r.arrival.indexOf(3)).toBeLessThan(r.arrival.indexOf(0));
    expect(r.metrics[ShardMetric.wal_writes] - writesBefore).toBe(1);
    expect(r.metrics[ShardMetric.txn_prepares]).toBe(1);
    const c = r.oracle.next();
    expect(await r.call([{ kind: 'txn-decide', txnId: 'T', commit: true, commitTs: c }])).toEqual([{ kind: 'txn-committed', commitTs: c }]);
    const [value] = await r.call([{ kind: 'get', key: enc('k') }]);
    expect(value.kind === 'value' && dec(value.value)).toBe('v');
    expect(r.metrics[ShardMetric.txn_decided_commit]).toBe(1);
  });

  it('answers a malformed txn frame with an error and keeps serving', async () => {
    const r = rig();
    const good = encodeRequest(1, { kind: 'txn-read', key: enc('k'), snapshotTs: r.oracle.next() });
    const truncated = good.subarray(0, good.length - 1); // the key is one byte short
    const [bad] = await r.callRaw([truncated]);
    expect(bad).toMatchObject({ kind: 'error', code: 'INTERNAL' });
    expect((bad as { message: string }).message).toMatch(/corrupt request frame/);
    expect(await r.call([{ kind: 'txn-read', key: enc('k'), snapshotTs: r.oracle.current() }])).toEqual([{ kind: 'txn-value', version: 0, entry: null }]);
  });

  it('a WAL write failure under a decision refuses it, undoes its writes and leaves the transaction prepared', async () => {
    // Writes 1 (the plain put) and 2 (the PREPARE) succeed, the third (the decision) fails.
    const r = rig('eio-on-write@2');
    expect(await r.call([put('k', 'old')])).toEqual([{ kind: 'done' }]);
    const snap = r.oracle.next();
    expect(await r.call([{ kind: 'txn-prepare', txnId: 'T', isolation: 'serializable', snapshotTs: snap, reads: [], prefixes: [], writes: [put('k', 'new')] }])).toEqual([{ kind: 'txn-prepared' }]);
    const [decided] = await r.call([{ kind: 'txn-decide', txnId: 'T', commit: true, commitTs: r.oracle.next() }]);
    expect(decided).toMatchObject({ kind: 'error', code: 'STORAGE_IO' });
    expect(r.txn.preparedIds()).toEqual(['T']);
    const [value] = await r.call([{ kind: 'get', key: enc('k') }]);
    expect(value.kind === 'value' && dec(value.value)).toBe('old');
    // The version store was replaced: snapshots from before the failure are refused.
    expect(await r.call([{ kind: 'txn-read', key: enc('k'), snapshotTs: snap }])).toMatchObject([{ kind: 'error', code: 'TXN_SNAPSHOT_TOO_OLD' }]);
  });
});
