// WAL payloads of transactions (issue 5; not wired yet). A shard's WAL record
// is `[u32 crc][u32 length][u8 type][u64 lsn][payload]` (workers/wal/wal-record.ts);
// these are the payloads of four new record types. Fields are encoded as in
// txn-wire.ts: txnId = u8 length | UTF-8, ts = u64 (u32 low | u32 high),
// writes = u32 count | ops, byte for byte a WAL_KV_OPS payload.
//
//   WAL_TXN_PREPARE     txnId | writes           2PC phase one: the writes, durable before the vote
//   WAL_TXN_COMMIT      txnId | ts commitTs      2PC decision: apply the prepared writes
//   WAL_TXN_ABORT       txnId                    2PC decision: drop them
//   WAL_TXN_COMMIT_ONE  txnId | ts commitTs | writes   a one-participant commit, in one record
//
// Record types in use: WAL_KV_OPS = 1 (shared/wire.ts) is the only other one
// written (the WAL tests frame arbitrary types, but only in their own
// directories). Txn records take 0x10..0x13, leaving 2..15 for KV records.
//
// Why a one-shard commit is its own record rather than WAL_KV_OPS: it carries
// the commit timestamp (replay rebuilds the version store's recent commits
// from it, which a KV_OPS record cannot give without changing a format older
// logs are written in) and the txn id, so that after a crash replay knows
// whether a one-shard commit whose answer was lost was made, and a retried
// commit of the same id is answered "committed" instead of being validated
// and applied again.

import { ByteReader, ByteWriter, FrameError } from '../byte-io.js';
import { unreachable } from '../errors.js';
import { WAL_KV_OPS } from '../wire.js';
import { expectEnd, readTs, readTxnId, readTxnWrites, writeTs, writeTxnId, writeTxnWrites, type TxnId, type TxnWriteOp } from './txn-wire.js';

export const WAL_TXN_PREPARE = 0x10;
export const WAL_TXN_COMMIT = 0x11;
export const WAL_TXN_ABORT = 0x12;
export const WAL_TXN_COMMIT_ONE = 0x13;

/** Every WAL record type written, KV and txn; the test checks they are distinct. */
export const WAL_RECORD_TYPES = { WAL_KV_OPS, WAL_TXN_PREPARE, WAL_TXN_COMMIT, WAL_TXN_ABORT, WAL_TXN_COMMIT_ONE } as const;

export type TxnWalRecord =
  | { readonly kind: 'prepare'; readonly txnId: TxnId; readonly writes: readonly TxnWriteOp[] }
  | { readonly kind: 'commit'; readonly txnId: TxnId; readonly commitTs: number }
  | { readonly kind: 'abort'; readonly txnId: TxnId }
  | { readonly kind: 'commit-one'; readonly txnId: TxnId; readonly commitTs: number; readonly writes: readonly TxnWriteOp[] };

export function isTxnWalType(type: number): boolean {
  return type >= WAL_TXN_PREPARE && type <= WAL_TXN_COMMIT_ONE;
}

export function txnWalType(kind: TxnWalRecord['kind']): number {
  switch (kind) {
    case 'prepare':
      return WAL_TXN_PREPARE;
    case 'commit':
      return WAL_TXN_COMMIT;
    case 'abort':
      return WAL_TXN_ABORT;
    case 'commit-one':
      return WAL_TXN_COMMIT_ONE;
    default:
      return unreachable(kind);
  }
}

/** The record's type and payload, for WalWriter.append. RangeError on a value that cannot be encoded. */
export function encodeTxnWalRecord(record: TxnWalRecord): { type: number; payload: Uint8Array } {
  let bytes = 64;
  if (record.kind === 'prepare' || record.kind === 'commit-one') {
    for (const op of record.writes) bytes += 16 + op.key.length + (op.kind === 'put' ? op.value.length + op.contentType.length * 3 + 16 : 0);
  }
  const w = new ByteWriter(bytes);
  writeTxnId(w, record.txnId);
  switch (record.kind) {
    case 'prepare':
      writeTxnWrites(w, record.writes);
      break;
    case 'commit':
      writeTs(w, record.commitTs, 1);
      break;
    case 'abort':
      break;
    case 'commit-one':
      writeTs(w, record.commitTs, 1);
      writeTxnWrites(w, record.writes);
      break;
    default:
      unreachable(record);
  }
  return { type: txnWalType(record.kind), payload: w.finish() };
}

/**
 * Decodes the payload of a txn record of `type`. Keys and values view `payload` (no copy).
 * Throws FrameError on a type that is not a txn record's or a payload that does not parse exactly.
 */
export function decodeTxnWalRecord(type: number, payload: Uint8Array): TxnWalRecord {
  if (!isTxnWalType(type)) throw new FrameError(`WAL record type ${type} is not a txn record`);
  const r = new ByteReader(payload);
  const txnId = readTxnId(r);
  let record: TxnWalRecord;
  switch (type) {
    case WAL_TXN_PREPARE:
      record = { kind: 'prepare', txnId, writes: readTxnWrites(r) };
      break;
    case WAL_TXN_COMMIT:
      record = { kind: 'commit', txnId, commitTs: readTs(r, 1) };
      break;
    case WAL_TXN_ABORT:
      record = { kind: 'abort', txnId };
      break;
    default: {
      const commitTs = readTs(r, 1);
      record = { kind: 'commit-one', txnId, commitTs, writes: readTxnWrites(r) };
    }
  }
  expectEnd(r, `a WAL ${record.kind} record`);
  return record;
}
