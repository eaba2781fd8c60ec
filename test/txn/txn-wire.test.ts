// shared/txn/txn-wire.ts and shared/txn/txn-wal.ts: random requests,
// responses and WAL payloads round-trip; every strict prefix of an encoding
// and every encoding with a byte appended throws FrameError; unknown codes and
// out-of-range fields throw FrameError; values that cannot be encoded throw
// RangeError; the codes do not collide with shared/wire.ts's.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteReader, ByteWriter, FrameError } from '../../shared/byte-io.js';
import {
  decodeTxnWalRecord,
  encodeTxnWalRecord,
  isTxnWalType,
  WAL_RECORD_TYPES,
  WAL_TXN_ABORT,
  WAL_TXN_COMMIT,
  WAL_TXN_COMMIT_ONE,
  WAL_TXN_PREPARE,
  type TxnWalRecord,
} from '../../shared/txn/txn-wal.js';
import {
  decodeTxnRequest,
  decodeTxnResponse,
  encodeTxnRequest,
  encodeTxnResponse,
  isTxnRequestCode,
  isTxnResponseCode,
  ISOLATION_LEVELS,
  readTxnWrites,
  TXN_CODE_BASE,
  TXN_ID_BYTES_MAX,
  txnIdProblem,
  writeTxnWrites,
  type TxnRequest,
  type TxnResponse,
  type TxnWriteOp,
} from '../../shared/txn/txn-wire.js';
import { encodeRequest, encodeResponse, encodeWriteOps, WAL_KV_OPS, type ShardRequest, type ShardResponse } from '../../shared/wire.js';
import { TXN_ID_BYTES_MAX as COORDINATOR_TXN_ID_BYTES_MAX } from '../../src/txn/coordinator-log.js';

const key = fc.uint8Array({ maxLength: 6 });
const txnId = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }).filter((s) => txnIdProblem(s) === null);
const ts = fc.maxSafeNat();
const commitTs = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });
const expiry = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 2 ** 48 }));
const contentType = fc.string({ maxLength: 12 });
const write: fc.Arbitrary<TxnWriteOp> = fc.oneof(
  fc.record({ kind: fc.constant('put' as const), key, contentType, expiresAtMs: expiry, value: fc.uint8Array({ maxLength: 12 }) }),
  fc.record({ kind: fc.constant('delete' as const), key }),
);
const writes = fc.array(write, { maxLength: 4 });
const keys = fc.array(key, { maxLength: 4 });
const isolation = fc.constantFrom(...ISOLATION_LEVELS);

const commitBody = { txnId, isolation, snapshotTs: ts, reads: keys, prefixes: keys, writes };
const request: fc.Arbitrary<TxnRequest> = fc.oneof(
  fc.record({ kind: fc.constant('txn-commit' as const), ...commitBody }),
  fc.record({ kind: fc.constant('txn-prepare' as const), ...commitBody }),
  fc.record({ kind: fc.constant('txn-decide' as const), txnId, commit: fc.constant(true as const), commitTs }),
  fc.record({ kind: fc.constant('txn-decide' as const), txnId, commit: fc.constant(false as const) }),
  fc.record({ kind: fc.constant('txn-read' as const), key, snapshotTs: ts }),
  fc.record({ kind: fc.constant('txn-list' as const), prefix: key, after: fc.option(key, { nil: null }), limit: fc.nat({ max: 0xffff_ffff }), snapshotTs: ts }),
);
const entry = fc.record({ contentType, expiresAtMs: expiry, value: fc.uint8Array({ maxLength: 12 }) });
const response: fc.Arbitrary<TxnResponse> = fc.oneof(
  fc.record({ kind: fc.constant('txn-value' as const), version: ts, entry: fc.option(entry, { nil: null }) }),
  fc.record({ kind: fc.constant('txn-keys' as const), keys, more: fc.boolean() }),
  fc.record({ kind: fc.constant('txn-locked' as const), key, txnId }),
  fc.record({ kind: fc.constant('txn-conflict' as const), key, reason: fc.constantFrom('write' as const, 'read' as const, 'range' as const, 'locked' as const) }),
  fc.constant({ kind: 'txn-prepared' as const }),
  fc.record({ kind: fc.constant('txn-committed' as const), commitTs }),
  fc.constant({ kind: 'txn-aborted' as const }),
);
const walRecord: fc.Arbitrary<TxnWalRecord> = fc.oneof(
  fc.record({ kind: fc.constant('prepare' as const), txnId, writes }),
  fc.record({ kind: fc.constant('commit' as const), txnId, commitTs }),
  fc.record({ kind: fc.constant('abort' as const), txnId }),
  fc.record({ kind: fc.constant('commit-one' as const), txnId, commitTs, writes }),
);

/** Every strict prefix and the encoding plus one byte must throw FrameError. */
function expectStrict(bytes: Uint8Array, decode: (b: Uint8Array) => unknown): void {
  for (let n = 0; n < bytes.length; n++) expect(() => decode(bytes.subarray(0, n)), `prefix of ${n}/${bytes.length} bytes`).toThrow(FrameError);
  const longer = new Uint8Array(bytes.length + 1);
  longer.set(bytes);
  expect(() => decode(longer)).toThrow(FrameError);
}

const u64 = (n: bigint): Uint8Array => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(n);
  return b;
};
const cat = (...parts: (number[] | Uint8Array)[]): Uint8Array => Buffer.concat(parts.map((p) => Uint8Array.from(p)));
const id = (s: string): Uint8Array => cat([Buffer.byteLength(s)], Buffer.from(s));

describe('txn requests and responses', () => {
  it('round-trip, and reject every truncation and a trailing byte', () => {
    fc.assert(
      fc.property(request, (req) => {
        const bytes = encodeTxnRequest(req);
        expect(decodeTxnRequest(bytes)).toEqual(req);
        expectStrict(bytes, decodeTxnRequest);
      }),
      { numRuns: 400 },
    );
    fc.assert(
      fc.property(response, (res) => {
        const bytes = encodeTxnResponse(res);
        expect(decodeTxnResponse(bytes)).toEqual(res);
        expectStrict(bytes, decodeTxnResponse);
      }),
      { numRuns: 400 },
    );
  });

  it('lays a decide and a read out as documented', () => {
    expect(Buffer.from(encodeTxnRequest({ kind: 'txn-decide', txnId: 't1', commit: true, commitTs: 2 ** 32 + 5 }))).toEqual(
      Buffer.from(cat([0x42], id('t1'), [1], u64(2n ** 32n + 5n))),
    );
    expect(Buffer.from(encodeTxnRequest({ kind: 'txn-decide', txnId: 't1', commit: false }))).toEqual(Buffer.from(cat([0x42], id('t1'), [0])));
    expect(Buffer.from(encodeTxnRequest({ kind: 'txn-read', key: Buffer.from('k'), snapshotTs: 7 }))).toEqual(Buffer.from(cat([0x43], u64(7n), [1, 0], Buffer.from('k'))));
    expect(Buffer.from(encodeTxnResponse({ kind: 'txn-conflict', key: Buffer.from('k'), reason: 'range' }))).toEqual(Buffer.from(cat([0x43, 3, 1, 0], Buffer.from('k'))));
  });

  it('encodes the writes block byte for byte as a WAL_KV_OPS payload', () => {
    fc.assert(
      fc.property(writes, (ops) => {
        const w = new ByteWriter();
        writeTxnWrites(w, ops);
        expect(Buffer.from(w.finish())).toEqual(Buffer.from(encodeWriteOps(ops)));
        expect(readTxnWrites(new ByteReader(encodeWriteOps(ops)))).toEqual(ops);
      }),
    );
  });

  it('throws FrameError on unknown codes and out-of-range fields', () => {
    const bad = (bytes: Uint8Array, decode: (b: Uint8Array) => unknown, what: RegExp) => expect(() => decode(bytes)).toThrow(what);
    const commitHead = (isolationCode: number) => cat([0x40], id('t'), [isolationCode], u64(1n), [0, 0, 0, 0], [0, 0, 0, 0]);
    for (const code of [0, 1, 7, TXN_CODE_BASE - 1, TXN_CODE_BASE + 5, 0xff]) bad(cat([code]), decodeTxnRequest, /unknown txn request op/);
    for (const code of [0, 1, 9, TXN_CODE_BASE - 1, TXN_CODE_BASE + 7, 0xff]) bad(cat([code]), decodeTxnResponse, /unknown txn response kind/);
    bad(cat(commitHead(0), [0, 0, 0, 0]), decodeTxnRequest, /unknown isolation/);
    bad(cat(commitHead(5), [0, 0, 0, 0]), decodeTxnRequest, /unknown isolation/);
    expect(decodeTxnRequest(cat(commitHead(4), [0, 0, 0, 0]))).toMatchObject({ kind: 'txn-commit', isolation: 'serializable' });
    bad(cat(commitHead(4), [1, 0, 0, 0], [1, 1, 0, 0x61]), decodeTxnRequest, /unknown write op 1/);
    bad(cat(commitHead(4), [1, 0, 0, 0], [4, 1, 0, 0x61]), decodeTxnRequest, /unknown write op 4/);
    bad(cat(commitHead(4), [0xff, 0xff, 0xff, 0x0f], [3, 0, 0]), decodeTxnRequest, /cannot fit/);
    // A put whose expiry is NaN or negative.
    const put = (exp: number) => cat(commitHead(4), [1, 0, 0, 0], [2, 1, 0, 0x61, 0, 0], Buffer.from(new Float64Array([exp]).buffer), [0, 0, 0, 0]);
    expect(decodeTxnRequest(put(5))).toMatchObject({ writes: [{ kind: 'put', expiresAtMs: 5 }] });
    bad(put(NaN), decodeTxnRequest, /bad expiresAtMs/);
    bad(put(-1), decodeTxnRequest, /bad expiresAtMs/);
    bad(cat([0x42], id('t'), [2]), decodeTxnRequest, /bad decision/);
    bad(cat([0x42], id('t'), [1], u64(0n)), decodeTxnRequest, /out of range/);
    bad(cat([0x43], u64(2n ** 53n), [0, 0]), decodeTxnRequest, /out of range/);
    expect(decodeTxnRequest(cat([0x43], u64(2n ** 53n - 1n), [0, 0]))).toMatchObject({ snapshotTs: Number.MAX_SAFE_INTEGER });
    bad(cat([0x44], u64(1n), [0, 0], [2, 0, 0], [0, 0, 0, 0]), decodeTxnRequest, /bad after flag/);
    bad(cat([0x44], u64(1n), [0, 0], [0, 1, 0, 0x61], [0, 0, 0, 0]), decodeTxnRequest, /after key without its flag/);
    bad(cat([0x40], [0]), decodeTxnRequest, /empty txn id/);
    bad(cat([0x42], [2, 0xc3, 0x28], [0]), decodeTxnRequest, /not valid UTF-8/);
    bad(cat([0x40], u64(0n), [2]), decodeTxnResponse, /bad present flag/);
    bad(cat([0x41, 2], [0, 0, 0, 0]), decodeTxnResponse, /bad more flag/);
    bad(cat([0x43, 0, 0, 0]), decodeTxnResponse, /unknown conflict reason 0/);
    bad(cat([0x43, 5, 0, 0]), decodeTxnResponse, /unknown conflict reason 5/);
    bad(cat([0x45], u64(0n)), decodeTxnResponse, /out of range/);
  });

  it('refuses to encode what it could not decode (RangeError)', () => {
    const decide = (txnId: string, ts: number) => encodeTxnRequest({ kind: 'txn-decide', txnId, commit: true, commitTs: ts });
    expect(() => decide('', 1)).toThrow(RangeError);
    expect(() => decide('\ud800', 1)).toThrow(RangeError);
    expect(() => decide('x'.repeat(TXN_ID_BYTES_MAX + 1), 1)).toThrow(RangeError);
    expect(() => decide('é'.repeat(128), 1)).toThrow(RangeError); // 256 bytes
    expect(decodeTxnRequest(decide('x'.repeat(TXN_ID_BYTES_MAX), 1))).toMatchObject({ txnId: 'x'.repeat(TXN_ID_BYTES_MAX) });
    for (const ts of [0, -1, 1.5, 2 ** 53, NaN]) expect(() => decide('t', ts)).toThrow(RangeError);
    expect(() => encodeTxnRequest({ kind: 'txn-read', key: new Uint8Array(0x10000), snapshotTs: 1 })).toThrow(RangeError);
    expect(() => encodeTxnRequest({ kind: 'txn-list', prefix: new Uint8Array(0), after: null, limit: 2 ** 32, snapshotTs: 1 })).toThrow(RangeError);
    expect(() =>
      encodeTxnRequest({ kind: 'txn-commit', txnId: 't', isolation: 'chaos' as 'snapshot', snapshotTs: 1, reads: [], prefixes: [], writes: [] }),
    ).toThrow(RangeError);
    const putAt = (expiresAtMs: number): TxnWriteOp => ({ kind: 'put', key: new Uint8Array(1), contentType: '', expiresAtMs, value: new Uint8Array(0) });
    expect(() => encodeTxnWalRecord({ kind: 'prepare', txnId: 't', writes: [putAt(-1)] })).toThrow(RangeError);
    expect(() => encodeTxnResponse({ kind: 'txn-conflict', key: new Uint8Array(0), reason: 'other' as 'read' })).toThrow(RangeError);
  });

  it('uses the coordinator log txn id limit and codes wire.ts does not', () => {
    expect(TXN_ID_BYTES_MAX).toBe(COORDINATOR_TXN_ID_BYTES_MAX);
    const key = Buffer.from('k');
    const requests: ShardRequest[] = [
      { kind: 'get', key },
      { kind: 'head', key },
      { kind: 'delete', key },
      { kind: 'put', key, contentType: '', expiresAtMs: 0, value: key },
      { kind: 'list', prefix: key, after: null, skip: 0, limit: 1, wantTotal: false },
      { kind: 'batch', ops: [] },
      { kind: 'invalidate', reason: 'explicit', keys: [], prefix: null, fromSlot: 0, slotBudget: 0 },
    ];
    for (const r of requests) expect(isTxnRequestCode(encodeRequest(1, r)[4])).toBe(false);
    const responses: ShardResponse[] = [
      { kind: 'value', contentType: '', expiresAtMs: 0, value: key },
      { kind: 'missing' },
      { kind: 'done' },
      { kind: 'deleted', existed: true },
      { kind: 'meta', contentType: '', expiresAtMs: 0, size: 1 },
      { kind: 'keys', keys: [], total: 0, more: false },
      { kind: 'results', results: [] },
      { kind: 'invalidated', removed: 0, nextSlot: -1 },
      { kind: 'error', code: 'INTERNAL', message: '' },
    ];
    for (const r of responses) expect(isTxnResponseCode(encodeResponse(1, r)[4])).toBe(false);
  });
});

describe('txn WAL payloads', () => {
  it('round-trip, and reject every truncation and a trailing byte', () => {
    fc.assert(
      fc.property(walRecord, (record) => {
        const { type, payload } = encodeTxnWalRecord(record);
        expect(isTxnWalType(type)).toBe(true);
        expect(decodeTxnWalRecord(type, payload)).toEqual(record);
        expectStrict(payload, (p) => decodeTxnWalRecord(type, p));
      }),
      { numRuns: 400 },
    );
  });

  it('lays records out as documented', () => {
    const writes: TxnWriteOp[] = [{ kind: 'delete', key: Buffer.from('a') }];
    const abort = encodeTxnWalRecord({ kind: 'abort', txnId: 'T' });
    expect([abort.type, Buffer.from(abort.payload)]).toEqual([WAL_TXN_ABORT, Buffer.from(id('T'))]);
    const commit = encodeTxnWalRecord({ kind: 'commit', txnId: 'T', commitTs: 9 });
    expect([commit.type, Buffer.from(commit.payload)]).toEqual([WAL_TXN_COMMIT, Buffer.from(cat(id('T'), u64(9n)))]);
    const prepare = encodeTxnWalRecord({ kind: 'prepare', txnId: 'T', writes });
    expect([prepare.type, Buffer.from(prepare.payload)]).toEqual([WAL_TXN_PREPARE, Buffer.from(cat(id('T'), encodeWriteOps(writes)))]);
    const one = encodeTxnWalRecord({ kind: 'commit-one', txnId: 'T', commitTs: 9, writes });
    expect([one.type, Buffer.from(one.payload)]).toEqual([WAL_TXN_COMMIT_ONE, Buffer.from(cat(id('T'), u64(9n), encodeWriteOps(writes)))]);
  });

  it('has record types distinct from each other and from WAL_KV_OPS, and refuses other types', () => {
    const types = Object.values(WAL_RECORD_TYPES);
    expect(new Set(types).size).toBe(types.length);
    for (const t of types) expect(Number.isInteger(t) && t >= 0 && t <= 255).toBe(true);
    expect(isTxnWalType(WAL_KV_OPS)).toBe(false);
    for (const t of [0, WAL_KV_OPS, 2, WAL_TXN_PREPARE - 1, WAL_TXN_COMMIT_ONE + 1, 255]) {
      expect(() => decodeTxnWalRecord(t, id('T'))).toThrow(FrameError);
    }
    expect(() => decodeTxnWalRecord(WAL_TXN_COMMIT, cat(id('T'), u64(0n)))).toThrow(/out of range/);
  });
});
