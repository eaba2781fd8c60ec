// The binary messages of transactions between the router and a shard (issue 5).
// Not wired yet: these requests and responses join the ring unions of
// shared/wire.ts when the shard side is wired. Same conventions as wire.ts:
// little-endian, keys as raw bytes with a u16 length (shortBytes), values with
// a u32 length, FrameError on anything malformed — a truncated field, an
// unknown code, an out-of-range number or bytes left over after the message.
//
// Codes. Txn request ops and response kinds are u8 codes from 0x40 up, so they
// never collide with wire.ts's (1..7 and 1..9); the ring frame header stays
// wire.ts's `[u32 id][u8 op][f64 deadline]` / `[u32 id][u8 kind]`, followed by
// the body below. encodeTxnRequest/encodeTxnResponse give `[u8 code][body]`.
//
// Field encodings:
//   txnId   u8 byte length (1..255) | UTF-8. The same representation as the
//           coordinator log's (src/txn/coordinator-log.ts), which the router
//           logs decisions under, so one id names the transaction in the HTTP
//           API, the coordinator log, the ring and the shard WAL with no
//           mapping. The router picks short ids (a counter in base 36 after a
//           per-start prefix is ~10 bytes): as compact as a u64 on the wire,
//           and a JS string is a cheap Map key where a u64 would be a BigInt or
//           a pair of u32 needing a composite key anyway.
//   ts      u64 as u32 low | u32 high; a timestamp is a safe integer (the
//           oracle's), commit timestamps ≥ 1.
//   key     shortBytes (u16 length | bytes).
//   write   u8 op (2 put, 3 delete: wire.ts's codes) | key
//           | put: str content type | f64 expiresAtMs (0 = never) | u32 length | value
//   writes  u32 count | write × count — byte for byte a WAL_KV_OPS payload
//           (wire.ts encodeWriteOps).
//   keys    u32 count | key × count
//
// Requests (body after the op code):
//   0x40 txn-commit   txnId | u8 isolation | ts snapshot | keys reads | keys prefixes | writes
//   0x41 txn-prepare  same as txn-commit
//   0x42 txn-decide   txnId | u8 1 commit | ts commitTs     or   txnId | u8 0 abort
//   0x43 txn-read     ts snapshot | key
//   0x44 txn-list     ts snapshot | key prefix | u8 has after | key after (empty when not) | u32 limit
// Responses (body after the kind code):
//   0x40 txn-value     u64 version (the LSM sequence number of the version read; 0 = missing)
//                      | u8 present | present: str content type | f64 expiresAtMs | u32 length | value
//   0x41 txn-keys      u8 more | keys
//   0x42 txn-locked    key | txnId
//   0x43 txn-conflict  u8 reason (1 write, 2 read, 3 range, 4 locked) | key
//   0x44 txn-prepared  (empty)
//   0x45 txn-committed ts commitTs
//   0x46 txn-aborted   (empty)
// Isolation: u8 1 read_committed, 2 repeatable_read, 3 snapshot, 4 serializable.

import { ByteReader, ByteWriter, FrameError } from '../byte-io.js';
import { unreachable } from '../errors.js';
import type { DeleteOp, PutOp } from '../wire.js';

/** A transaction id: 1..TXN_ID_BYTES_MAX bytes of UTF-8 (the coordinator log's limit too). */
export type TxnId = string;
export const TXN_ID_BYTES_MAX = 255;

export const ISOLATION_LEVELS = ['read_committed', 'repeatable_read', 'snapshot', 'serializable'] as const;
export type Isolation = (typeof ISOLATION_LEVELS)[number];

export function isIsolation(value: unknown): value is Isolation {
  return typeof value === 'string' && (ISOLATION_LEVELS as readonly string[]).includes(value);
}

/** A buffered write: the put and delete ops of shared/wire.ts. */
export type TxnWriteOp = PutOp | DeleteOp;

/** What a committing transaction tells a participant: its snapshot, what it read, what it writes. */
type TxnCommitBody = {
  readonly txnId: TxnId;
  readonly isolation: Isolation;
  readonly snapshotTs: number;
  /** Keys read (item reads): refused if one was committed after the snapshot (serializable). */
  readonly reads: readonly Uint8Array[];
  /** Prefixes listed (predicate reads): refused if a key under one was committed after the snapshot. */
  readonly prefixes: readonly Uint8Array[];
  readonly writes: readonly TxnWriteOp[];
};

/** One participant: validate, take a commit ts, apply, log, answer txn-committed or txn-conflict. */
export type TxnCommitRequest = { readonly kind: 'txn-commit' } & TxnCommitBody;
/** 2PC phase one: validate, lock intents, log PREPARE durably, answer txn-prepared or txn-conflict. */
export type TxnPrepareRequest = { readonly kind: 'txn-prepare' } & TxnCommitBody;
/** 2PC phase two: the coordinator's decision. A repeated decision is answered as the first. */
export type TxnDecideRequest =
  | { readonly kind: 'txn-decide'; readonly txnId: TxnId; readonly commit: true; readonly commitTs: number }
  | { readonly kind: 'txn-decide'; readonly txnId: TxnId; readonly commit: false };
/** A snapshot read: txn-value, or txn-locked (retry later). */
export type TxnReadRequest = { readonly kind: 'txn-read'; readonly key: Uint8Array; readonly snapshotTs: number };
/** A snapshot listing of keys under `prefix` after `after` (exclusive; null = from the start): txn-keys or txn-locked. */
export type TxnListRequest = {
  readonly kind: 'txn-list';
  readonly prefix: Uint8Array;
  readonly after: Uint8Array | null;
  readonly limit: number;
  readonly snapshotTs: number;
};

export type TxnRequest = TxnCommitRequest | TxnPrepareRequest | TxnDecideRequest | TxnReadRequest | TxnListRequest;

export type TxnEntry = { readonly contentType: string; readonly expiresAtMs: number; readonly value: Uint8Array };
export const CONFLICT_REASONS = ['write', 'read', 'range', 'locked'] as const;
export type ConflictReason = (typeof CONFLICT_REASONS)[number];

export type TxnResponse =
  /** entry null: missing at the snapshot. version: the shard's LSM sequence number of the version read (0 when missing). */
  | { readonly kind: 'txn-value'; readonly version: number; readonly entry: TxnEntry | null }
  | { readonly kind: 'txn-keys'; readonly keys: readonly Uint8Array[]; readonly more: boolean }
  /** `key` is held by a prepared transaction whose commit could be visible at the snapshot: retry. */
  | { readonly kind: 'txn-locked'; readonly key: Uint8Array; readonly txnId: TxnId }
  | { readonly kind: 'txn-conflict'; readonly key: Uint8Array; readonly reason: ConflictReason }
  | { readonly kind: 'txn-prepared' }
  | { readonly kind: 'txn-committed'; readonly commitTs: number }
  | { readonly kind: 'txn-aborted' };

const REQUEST_KINDS = ['txn-commit', 'txn-prepare', 'txn-decide', 'txn-read', 'txn-list'] as const;
const RESPONSE_KINDS = ['txn-value', 'txn-keys', 'txn-locked', 'txn-conflict', 'txn-prepared', 'txn-committed', 'txn-aborted'] as const;
/** First code of the txn request ops and of the txn response kinds. */
export const TXN_CODE_BASE = 0x40;

export function txnRequestCode(kind: TxnRequest['kind']): number {
  return TXN_CODE_BASE + REQUEST_KINDS.indexOf(kind);
}
export function txnResponseCode(kind: TxnResponse['kind']): number {
  return TXN_CODE_BASE + RESPONSE_KINDS.indexOf(kind);
}
export function isTxnRequestCode(code: number): boolean {
  return code >= TXN_CODE_BASE && code < TXN_CODE_BASE + REQUEST_KINDS.length;
}
export function isTxnResponseCode(code: number): boolean {
  return code >= TXN_CODE_BASE && code < TXN_CODE_BASE + RESPONSE_KINDS.length;
}

// ---- fields ------------------------------------------------------------------

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const OP_PUT = 2;
const OP_DELETE = 3;
const TWO_32 = 0x1_0000_0000;

/** Why `txnId` cannot be sent, or null. */
export function txnIdProblem(txnId: unknown): string | null {
  if (typeof txnId !== 'string' || txnId.length === 0) return 'txnId must be a non-empty string';
  if (!txnId.isWellFormed()) return 'txnId is not valid Unicode (lone surrogate)';
  const bytes = utf8.encode(txnId).length;
  if (bytes > TXN_ID_BYTES_MAX) return `txnId is ${bytes} bytes of UTF-8, over ${TXN_ID_BYTES_MAX}`;
  return null;
}

export function writeTxnId(w: ByteWriter, txnId: TxnId): void {
  const problem = txnIdProblem(txnId);
  if (problem !== null) throw new RangeError(problem);
  const bytes = utf8.encode(txnId);
  w.u8(bytes.length).bytes(bytes);
}

export function readTxnId(r: ByteReader): TxnId {
  const length = r.u8();
  if (length === 0) throw new FrameError('empty txn id');
  try {
    return strictUtf8.decode(r.bytes(length));
  } catch (err) {
    if (err instanceof FrameError) throw err;
    throw new FrameError('txn id is not valid UTF-8');
  }
}

/** REQUIRES: ts a safe integer ≥ min (RangeError otherwise: a caller bug). */
export function writeTs(w: ByteWriter, ts: number, min = 0): void {
  if (!Number.isSafeInteger(ts) || ts < min) throw new RangeError(`timestamp must be a safe integer ≥ ${min}, got ${ts}`);
  w.u32(ts % TWO_32).u32(Math.floor(ts / TWO_32));
}

export function readTs(r: ByteReader, min = 0): number {
  const low = r.u32();
  const high = r.u32();
  const ts = high * TWO_32 + low;
  if (!Number.isSafeInteger(ts) || ts < min) throw new FrameError(`timestamp ${BigInt(high) * BigInt(TWO_32) + BigInt(low)} out of range (safe integer ≥ ${min})`);
  return ts;
}

function checkExpiry(expiresAtMs: number): void {
  if (!Number.isFinite(expiresAtMs) || expiresAtMs < 0) throw new RangeError(`expiresAtMs must be finite and ≥ 0, got ${expiresAtMs}`);
}

function readExpiry(r: ByteReader): number {
  const expiresAtMs = r.f64();
  if (!Number.isFinite(expiresAtMs) || expiresAtMs < 0) throw new FrameError(`bad expiresAtMs ${expiresAtMs}`);
  return expiresAtMs;
}

/** A count of items each at least `minBytes` long: refuses one the rest of the frame cannot hold. */
function readCount(r: ByteReader, minBytes: number, what: string): number {
  const count = r.u32();
  if (count * minBytes > r.remaining()) throw new FrameError(`frame truncated: ${count} ${what} cannot fit in ${r.remaining()} bytes`);
  return count;
}

export function writeKeys(w: ByteWriter, keys: readonly Uint8Array[]): void {
  w.u32(keys.length);
  for (const key of keys) w.shortBytes(key);
}

export function readKeys(r: ByteReader): Uint8Array[] {
  const count = readCount(r, 2, 'keys');
  const keys: Uint8Array[] = [];
  for (let i = 0; i < count; i++) keys.push(r.shortBytes());
  return keys;
}

/** The writes block: byte for byte shared/wire.ts encodeWriteOps. */
export function writeTxnWrites(w: ByteWriter, writes: readonly TxnWriteOp[]): void {
  w.u32(writes.length);
  for (const op of writes) {
    switch (op.kind) {
      case 'put':
        checkExpiry(op.expiresAtMs);
        w.u8(OP_PUT).shortBytes(op.key).str(op.contentType).f64(op.expiresAtMs).longBytes(op.value);
        break;
      case 'delete':
        w.u8(OP_DELETE).shortBytes(op.key);
        break;
      default:
        unreachable(op);
    }
  }
}

export function readTxnWrites(r: ByteReader): TxnWriteOp[] {
  const count = readCount(r, 3, 'writes');
  const writes: TxnWriteOp[] = [];
  for (let i = 0; i < count; i++) {
    const op = r.u8();
    if (op === OP_DELETE) writes.push({ kind: 'delete', key: r.shortBytes() });
    else if (op === OP_PUT) {
      const key = r.shortBytes();
      const contentType = r.str();
      const expiresAtMs = readExpiry(r);
      writes.push({ kind: 'put', key, contentType, expiresAtMs, value: r.longBytes() });
    } else throw new FrameError(`unknown write op ${op}`);
  }
  return writes;
}

/** Throws FrameError unless the reader consumed the whole frame: a decoder never ignores bytes. */
export function expectEnd(r: ByteReader, what: string): void {
  if (r.remaining() !== 0) throw new FrameError(`${r.remaining()} bytes left over after ${what}`);
}

function writeEntry(w: ByteWriter, entry: TxnEntry): void {
  checkExpiry(entry.expiresAtMs);
  w.str(entry.contentType).f64(entry.expiresAtMs).longBytes(entry.value);
}

// ---- requests ------------------------------------------------------------------

/** Writes a request's body (after the op code). RangeError on a value that cannot be encoded. */
export function writeTxnRequestBody(w: ByteWriter, request: TxnRequest): void {
  switch (request.kind) {
    case 'txn-commit':
    case 'txn-prepare':
      if (!isIsolation(request.isolation)) throw new RangeError(`unknown isolation ${String(request.isolation)}`);
      writeTxnId(w, request.txnId);
      w.u8(ISOLATION_LEVELS.indexOf(request.isolation) + 1);
      writeTs(w, request.snapshotTs);
      writeKeys(w, request.reads);
      writeKeys(w, request.prefixes);
      writeTxnWrites(w, request.writes);
      break;
    case 'txn-decide':
      writeTxnId(w, request.txnId);
      if (request.commit) {
        w.u8(1);
        writeTs(w, request.commitTs, 1);
      } else w.u8(0);
      break;
    case 'txn-read':
      writeTs(w, request.snapshotTs);
      w.shortBytes(request.key);
      break;
    case 'txn-list':
      if (!Number.isInteger(request.limit) || request.limit < 0 || request.limit > 0xffff_ffff) throw new RangeError(`limit must be a u32, got ${request.limit}`);
      writeTs(w, request.snapshotTs);
      w.shortBytes(request.prefix).u8(request.after === null ? 0 : 1).shortBytes(request.after ?? new Uint8Array(0));
      w.u32(request.limit);
      break;
    default:
      unreachable(request);
  }
}

/** Reads the body of the request with op `code` to the end of the frame. */
export function readTxnRequestBody(r: ByteReader, code: number): TxnRequest {
  const kind = isTxnRequestCode(code) ? REQUEST_KINDS[code - TXN_CODE_BASE] : undefined;
  let request: TxnRequest;
  switch (kind) {
    case 'txn-commit':
    case 'txn-prepare': {
      const txnId = readTxnId(r);
      const level = r.u8();
      const isolation = ISOLATION_LEVELS[level - 1];
      if (isolation === undefined) throw new FrameError(`unknown isolation code ${level}`);
      const snapshotTs = readTs(r);
      const reads = readKeys(r);
      const prefixes = readKeys(r);
      request = { kind, txnId, isolation, snapshotTs, reads, prefixes, writes: readTxnWrites(r) };
      break;
    }
    case 'txn-decide': {
      const txnId = readTxnId(r);
      const commit = r.u8();
      if (commit === 1) request = { kind, txnId, commit: true, commitTs: readTs(r, 1) };
      else if (commit === 0) request = { kind, txnId, commit: false };
      else throw new FrameError(`bad decision ${commit}`);
      break;
    }
    case 'txn-read': {
      const snapshotTs = readTs(r);
      request = { kind, snapshotTs, key: r.shortBytes() };
      break;
    }
    case 'txn-list': {
      const snapshotTs = readTs(r);
      const prefix = r.shortBytes();
      const hasAfter = r.u8();
      if (hasAfter > 1) throw new FrameError(`bad after flag ${hasAfter}`);
      const after = r.shortBytes();
      if (hasAfter === 0 && after.length > 0) throw new FrameError('an after key without its flag');
      request = { kind, snapshotTs, prefix, after: hasAfter === 1 ? after : null, limit: r.u32() };
      break;
    }
    case undefined:
      throw new FrameError(`unknown txn request op ${code}`);
    default:
      return unreachable(kind);
  }
  expectEnd(r, request.kind);
  return request;
}

/** `[u8 op][body]`. */
export function encodeTxnRequest(request: TxnRequest): Uint8Array {
  const w = new ByteWriter(64 + writesBytes(request));
  w.u8(txnRequestCode(request.kind));
  writeTxnRequestBody(w, request);
  return w.finish();
}

export function decodeTxnRequest(bytes: Uint8Array): TxnRequest {
  const r = new ByteReader(bytes);
  return readTxnRequestBody(r, r.u8());
}

function writesBytes(request: TxnRequest): number {
  if (request.kind !== 'txn-commit' && request.kind !== 'txn-prepare') return 0;
  let bytes = 0;
  for (const key of request.reads) bytes += 2 + key.length;
  for (const key of request.prefixes) bytes += 2 + key.length;
  for (const op of request.writes) bytes += 3 + op.key.length + (op.kind === 'put' ? 14 + op.contentType.length * 3 + op.value.length : 0);
  return bytes;
}

// ---- responses -----------------------------------------------------------------

export function writeTxnResponseBody(w: ByteWriter, response: TxnResponse): void {
  switch (response.kind) {
    case 'txn-value':
      writeTs(w, response.version);
      if (response.entry === null) w.u8(0);
      else {
        w.u8(1);
        writeEntry(w, response.entry);
      }
      break;
    case 'txn-keys':
      w.u8(response.more ? 1 : 0);
      writeKeys(w, response.keys);
      break;
    case 'txn-locked':
      w.shortBytes(response.key);
      writeTxnId(w, response.txnId);
      break;
    case 'txn-conflict': {
      const reason = CONFLICT_REASONS.indexOf(response.reason);
      if (reason < 0) throw new RangeError(`unknown conflict reason ${String(response.reason)}`);
      w.u8(reason + 1).shortBytes(response.key);
      break;
    }
    case 'txn-committed':
      writeTs(w, response.commitTs, 1);
      break;
    case 'txn-prepared':
    case 'txn-aborted':
      break;
    default:
      unreachable(response);
  }
}

export function readTxnResponseBody(r: ByteReader, code: number): TxnResponse {
  const kind = isTxnResponseCode(code) ? RESPONSE_KINDS[code - TXN_CODE_BASE] : undefined;
  let response: TxnResponse;
  switch (kind) {
    case 'txn-value': {
      const version = readTs(r);
      const present = r.u8();
      if (present === 0) response = { kind, version, entry: null };
      else if (present === 1) {
        const contentType = r.str();
        const expiresAtMs = readExpiry(r);
        response = { kind, version, entry: { contentType, expiresAtMs, value: r.longBytes() } };
      } else throw new FrameError(`bad present flag ${present}`);
      break;
    }
    case 'txn-keys': {
      const more = r.u8();
      if (more > 1) throw new FrameError(`bad more flag ${more}`);
      response = { kind, more: more === 1, keys: readKeys(r) };
      break;
    }
    case 'txn-locked': {
      const key = r.shortBytes();
      response = { kind, key, txnId: readTxnId(r) };
      break;
    }
    case 'txn-conflict': {
      const code = r.u8();
      const reason = CONFLICT_REASONS[code - 1];
      if (reason === undefined) throw new FrameError(`unknown conflict reason ${code}`);
      response = { kind, reason, key: r.shortBytes() };
      break;
    }
    case 'txn-committed':
      response = { kind, commitTs: readTs(r, 1) };
      break;
    case 'txn-prepared':
    case 'txn-aborted':
      response = { kind };
      break;
    case undefined:
      throw new FrameError(`unknown txn response kind ${code}`);
    default:
      return unreachable(kind);
  }
  expectEnd(r, response.kind);
  return response;
}

/** `[u8 kind][body]`. */
export function encodeTxnResponse(response: TxnResponse): Uint8Array {
  const w = new ByteWriter(response.kind === 'txn-value' && response.entry !== null ? 64 + response.entry.value.length : 64);
  w.u8(txnResponseCode(response.kind));
  writeTxnResponseBody(w, response);
  return w.finish();
}

export function decodeTxnResponse(bytes: Uint8Array): TxnResponse {
  const r = new ByteReader(bytes);
  return readTxnResponseBody(r, r.u8());
}
