// The binary messages that cross a shard ring: tagged data (STYLE habit 2).
// Request frame:  [u32 request id][u8 op][f64 deadline ms since the epoch, 0 = none][payload]
// Response frame: [u32 request id][u8 kind][payload]
// Keys travel as raw UTF-8 bytes; byte order is the order of listings.

import { ByteReader, ByteWriter, FrameError } from './byte-io.js';
import { ErrorCode, isErrorCode, unreachable } from './errors.js';
import {
  isTxnRequestCode,
  isTxnResponseCode,
  readTxnRequestBody,
  readTxnResponseBody,
  txnRequestCode,
  txnResponseCode,
  writeTxnRequestBody,
  writeTxnResponseBody,
  type TxnRequest,
  type TxnResponse,
} from './txn/txn-wire.js';

export type PutOp = {
  readonly kind: 'put';
  readonly key: Uint8Array;
  readonly contentType: string;
  /** Absolute expiry in ms since the epoch; 0 = never. */
  readonly expiresAtMs: number;
  readonly value: Uint8Array;
};
export type GetOp = { readonly kind: 'get'; readonly key: Uint8Array };
export type DeleteOp = { readonly kind: 'delete'; readonly key: Uint8Array };
export type BatchOp = GetOp | PutOp | DeleteOp;

export type ShardRequest =
  | GetOp
  | PutOp
  | DeleteOp
  | { readonly kind: 'head'; readonly key: Uint8Array }
  | {
      readonly kind: 'list';
      readonly prefix: Uint8Array;
      /** Exclusive lower bound (a cursor); null = from the start of the prefix. */
      readonly after: Uint8Array | null;
      readonly skip: number;
      readonly limit: number;
      readonly wantTotal: boolean;
    }
  | { readonly kind: 'batch'; readonly ops: readonly BatchOp[] }
  | InvalidateRequest
  /** Transactions (shared/txn/txn-wire.ts: codes from 0x40, bodies encoded there). */
  | TxnRequest
  | DocRequest
  | TblRequest
  | BackupRequest;

/**
 * An online backup's cut (src/ops/backups.ts): the shard handles it after every frame before it
 * and before every frame after it, linking its files into `body` (JSON {staging}) and answering
 * `backup-result` (JSON: the WAL position of the cut and the files linked) once the WAL up to the
 * cut is durable.
 */
export type BackupRequest = { readonly kind: 'backup'; readonly body: Uint8Array };
export type BackupResponse = { readonly kind: 'backup-result'; readonly body: Uint8Array };
export const BACKUP_REQUEST_CODE = 0x62;
const BACKUP_RESPONSE_CODE = 0x62;

/**
 * A document-store command (shared/docs/doc-protocol.ts): `body` is the encoded DocCommand;
 * `write` says whether it may write (a failed or stalled store holds or refuses it like any write).
 */
export type DocRequest = { readonly kind: 'doc'; readonly write: boolean; readonly body: Uint8Array };
/** The encoded DocAnswer of a `doc` request. */
export type DocResponse = { readonly kind: 'doc-result'; readonly body: Uint8Array };
const DOC_REQUEST_CODE = 0x60;
const DOC_RESPONSE_CODE = 0x60;

/**
 * A columnar-table command (shared/tables/table-protocol.ts): `body` is the encoded TableCommand;
 * `write` as for DocRequest.
 */
export type TblRequest = { readonly kind: 'tbl'; readonly write: boolean; readonly body: Uint8Array };
/** The encoded TableAnswer of a `tbl` request. */
export type TblResponse = { readonly kind: 'tbl-result'; readonly body: Uint8Array };
const TBL_REQUEST_CODE = 0x61;
const TBL_RESPONSE_CODE = 0x61;

/**
 * Drops cached entries (never stored data, except that a cache-only key's data is its cache
 * entry) and emits an invalidation event per key: by `keys` (events for every key given, cached or
 * not: a subscriber may hold any of them) or by `prefix` (events for the entries removed).
 */
export type InvalidateRequest = {
  readonly kind: 'invalidate';
  readonly reason: 'explicit' | 'cascade';
  readonly keys: readonly Uint8Array[];
  /** null: by keys. */
  readonly prefix: Uint8Array | null;
  /**
   * By prefix, the scan is sliced so a shard is never held long: examine index slots from
   * `fromSlot`, at most `slotBudget` of them; the answer says where to go on (-1: done).
   */
  readonly fromSlot: number;
  readonly slotBudget: number;
};

export type ValueResult = {
  readonly kind: 'value';
  readonly contentType: string;
  readonly expiresAtMs: number;
  readonly value: Uint8Array;
};
export type BatchResult =
  | ValueResult
  | { readonly kind: 'missing' }
  | { readonly kind: 'done' }
  | { readonly kind: 'deleted'; readonly existed: boolean };

export type ShardResponse =
  | BatchResult
  | { readonly kind: 'meta'; readonly contentType: string; readonly expiresAtMs: number; readonly size: number }
  | { readonly kind: 'keys'; readonly keys: Uint8Array[]; readonly total: number; readonly more: boolean }
  | { readonly kind: 'results'; readonly results: BatchResult[] }
  /** Cache entries an invalidate request removed; by prefix, the slot to go on from (-1: done). */
  | { readonly kind: 'invalidated'; readonly removed: number; readonly nextSlot: number }
  | { readonly kind: 'error'; readonly code: ErrorCode; readonly message: string }
  | TxnResponse
  | DocResponse
  | TblResponse
  | BackupResponse;

const REQUEST_OPS = ['get', 'put', 'delete', 'head', 'list', 'batch', 'invalidate'] as const;
const RESPONSE_KINDS = ['value', 'missing', 'done', 'deleted', 'meta', 'keys', 'results', 'error', 'invalidated'] as const;
const requestCode = (kind: (typeof REQUEST_OPS)[number]): number => REQUEST_OPS.indexOf(kind) + 1;
const responseCode = (kind: (typeof RESPONSE_KINDS)[number]): number => RESPONSE_KINDS.indexOf(kind) + 1;

export function isWriteRequest(request: ShardRequest): boolean {
  switch (request.kind) {
    case 'put':
    case 'delete':
      return true;
    case 'batch':
      return request.ops.some((op) => op.kind !== 'get');
    case 'txn-commit':
    case 'txn-prepare':
    case 'txn-decide':
      return true;
    case 'doc':
    case 'tbl':
      return request.write;
    case 'get':
    case 'head':
    case 'list':
    case 'invalidate':
    case 'txn-read':
    case 'txn-list':
    case 'backup':
      return false;
    default:
      return unreachable(request);
  }
}

function isTxnRequest(request: ShardRequest): request is TxnRequest {
  return request.kind.startsWith('txn-');
}

function isTxnResponse(response: ShardResponse): response is TxnResponse {
  return response.kind.startsWith('txn-');
}

// ---- requests ---------------------------------------------------------------

function writeBatchOp(w: ByteWriter, op: BatchOp): void {
  w.u8(requestCode(op.kind)).shortBytes(op.key);
  if (op.kind === 'put') w.str(op.contentType).f64(op.expiresAtMs).longBytes(op.value);
}

/**
 * REQUIRES: deadlineMs is 0 (no deadline) or an absolute time in ms since the
 * epoch; the shard answers DEADLINE_EXCEEDED instead of starting the request
 * once Date.now() >= deadlineMs.
 */
export function encodeRequest(id: number, request: ShardRequest, deadlineMs = 0): Uint8Array {
  if (request.kind === 'doc' || request.kind === 'tbl') {
    const w = new ByteWriter(16 + request.body.length);
    w.u32(id).u8(request.kind === 'doc' ? DOC_REQUEST_CODE : TBL_REQUEST_CODE).f64(deadlineMs).u8(request.write ? 1 : 0).bytes(request.body);
    return w.finish();
  }
  if (request.kind === 'backup') {
    const w = new ByteWriter(16 + request.body.length);
    w.u32(id).u8(BACKUP_REQUEST_CODE).f64(deadlineMs).bytes(request.body);
    return w.finish();
  }
  if (isTxnRequest(request)) {
    const w = new ByteWriter(256);
    w.u32(id).u8(txnRequestCode(request.kind)).f64(deadlineMs);
    writeTxnRequestBody(w, request);
    return w.finish();
  }
  const w = new ByteWriter(request.kind === 'put' ? 64 + request.key.length + request.value.length : 128);
  w.u32(id).u8(requestCode(request.kind)).f64(deadlineMs);
  switch (request.kind) {
    case 'get':
    case 'head':
    case 'delete':
      w.shortBytes(request.key);
      break;
    case 'put':
      w.shortBytes(request.key).str(request.contentType).f64(request.expiresAtMs).bytes(request.value);
      break;
    case 'list':
      w.shortBytes(request.prefix).u8(request.after ? 1 : 0).shortBytes(request.after ?? new Uint8Array(0));
      w.u32(request.skip).u32(request.limit).u8(request.wantTotal ? 1 : 0);
      break;
    case 'batch':
      w.u32(request.ops.length);
      for (const op of request.ops) writeBatchOp(w, op);
      break;
    case 'invalidate':
      w.u8(request.reason === 'cascade' ? 1 : 0).u8(request.prefix === null ? 0 : 1).shortBytes(request.prefix ?? new Uint8Array(0));
      w.u32(request.fromSlot).u32(request.slotBudget);
      w.u32(request.keys.length);
      for (const key of request.keys) w.shortBytes(key);
      break;
    default:
      unreachable(request);
  }
  return w.finish();
}

function readBatchOp(r: ByteReader): BatchOp {
  const op = REQUEST_OPS[r.u8() - 1];
  const key = r.shortBytes();
  if (op === 'get' || op === 'delete') return { kind: op, key };
  if (op === 'put') return { kind: 'put', key, contentType: r.str(), expiresAtMs: r.f64(), value: r.longBytes() };
  throw new FrameError(`bad batch op ${String(op)}`);
}

export type DecodedRequest = {
  readonly id: number;
  /** Absolute deadline in ms since the epoch; 0 = none. */
  readonly deadlineMs: number;
  readonly request: ShardRequest;
};

export function decodeRequest(frame: Uint8Array): DecodedRequest {
  const r = new ByteReader(frame);
  const id = r.u32();
  const code = r.u8();
  const deadlineMs = r.f64();
  if (!Number.isFinite(deadlineMs) || deadlineMs < 0) throw new FrameError(`bad deadline in frame ${id}`);
  if (isTxnRequestCode(code)) return { id, deadlineMs, request: readTxnRequestBody(r, code) };
  if (code === DOC_REQUEST_CODE) return { id, deadlineMs, request: { kind: 'doc', write: r.u8() === 1, body: r.rest() } };
  if (code === TBL_REQUEST_CODE) return { id, deadlineMs, request: { kind: 'tbl', write: r.u8() === 1, body: r.rest() } };
  if (code === BACKUP_REQUEST_CODE) return { id, deadlineMs, request: { kind: 'backup', body: r.rest() } };
  return { id, deadlineMs, request: readRequestBody(r, REQUEST_OPS[code - 1], id) };
}

function readRequestBody(r: ByteReader, op: (typeof REQUEST_OPS)[number] | undefined, id: number): ShardRequest {
  switch (op) {
    case 'get':
    case 'head':
    case 'delete':
      return { kind: op, key: r.shortBytes() };
    case 'put':
      return { kind: 'put', key: r.shortBytes(), contentType: r.str(), expiresAtMs: r.f64(), value: r.rest() };
    case 'list': {
      const prefix = r.shortBytes();
      const hasAfter = r.u8() === 1;
      const after = r.shortBytes();
      return { kind: 'list', prefix, after: hasAfter ? after : null, skip: r.u32(), limit: r.u32(), wantTotal: r.u8() === 1 };
    }
    case 'batch': {
      const count = r.u32();
      const ops: BatchOp[] = [];
      for (let i = 0; i < count; i++) ops.push(readBatchOp(r));
      return { kind: 'batch', ops };
    }
    case 'invalidate': {
      const reason = r.u8() === 1 ? 'cascade' : 'explicit';
      const hasPrefix = r.u8() === 1;
      const prefix = r.shortBytes();
      const fromSlot = r.u32();
      const slotBudget = r.u32();
      const count = r.u32();
      const keys: Uint8Array[] = [];
      for (let i = 0; i < count; i++) keys.push(r.shortBytes());
      return { kind: 'invalidate', reason, prefix: hasPrefix ? prefix : null, fromSlot, slotBudget, keys };
    }
    default:
      throw new FrameError(`unknown request op in frame ${id}`);
  }
}

/** The request id of a frame, readable even when the rest is corrupt. */
export function frameId(frame: Uint8Array): number {
  if (frame.length < 4) throw new FrameError('frame shorter than its id');
  return new DataView(frame.buffer, frame.byteOffset, 4).getUint32(0, true);
}

// ---- responses --------------------------------------------------------------

function writeResult(w: ByteWriter, result: BatchResult): void {
  w.u8(responseCode(result.kind));
  switch (result.kind) {
    case 'value':
      w.str(result.contentType).f64(result.expiresAtMs).longBytes(result.value);
      break;
    case 'deleted':
      w.u8(result.existed ? 1 : 0);
      break;
    case 'missing':
    case 'done':
      break;
    default:
      unreachable(result);
  }
}

function readResult(r: ByteReader, kind: string): BatchResult {
  switch (kind) {
    case 'value':
      return { kind: 'value', contentType: r.str(), expiresAtMs: r.f64(), value: r.longBytes() };
    case 'deleted':
      return { kind: 'deleted', existed: r.u8() === 1 };
    case 'missing':
      return { kind: 'missing' };
    case 'done':
      return { kind: 'done' };
    default:
      throw new FrameError(`bad result kind ${kind}`);
  }
}

export function encodeResponse(id: number, response: ShardResponse): Uint8Array {
  if (response.kind === 'doc-result' || response.kind === 'tbl-result') {
    const w = new ByteWriter(8 + response.body.length);
    w.u32(id).u8(response.kind === 'doc-result' ? DOC_RESPONSE_CODE : TBL_RESPONSE_CODE).bytes(response.body);
    return w.finish();
  }
  if (response.kind === 'backup-result') {
    const w = new ByteWriter(8 + response.body.length);
    w.u32(id).u8(BACKUP_RESPONSE_CODE).bytes(response.body);
    return w.finish();
  }
  if (isTxnResponse(response)) {
    const w = new ByteWriter(response.kind === 'txn-value' && response.entry !== null ? 64 + response.entry.value.length : 128);
    w.u32(id).u8(txnResponseCode(response.kind));
    writeTxnResponseBody(w, response);
    return w.finish();
  }
  const w = new ByteWriter(response.kind === 'value' ? 64 + response.value.length : 128);
  w.u32(id);
  switch (response.kind) {
    case 'value':
    case 'missing':
    case 'done':
    case 'deleted':
      writeResult(w, response);
      break;
    case 'meta':
      w.u8(responseCode('meta')).str(response.contentType).f64(response.expiresAtMs).u32(response.size);
      break;
    case 'keys':
      w.u8(responseCode('keys')).u32(response.total).u8(response.more ? 1 : 0).u32(response.keys.length);
      for (const key of response.keys) w.shortBytes(key);
      break;
    case 'results':
      w.u8(responseCode('results')).u32(response.results.length);
      for (const result of response.results) writeResult(w, result);
      break;
    case 'invalidated':
      w.u8(responseCode('invalidated')).u32(response.removed).f64(response.nextSlot);
      break;
    case 'error':
      // Messages are for people: cap them so they always fit the u16 length.
      w.u8(responseCode('error')).str(response.code).str(response.message.slice(0, 4096));
      break;
    default:
      unreachable(response);
  }
  return w.finish();
}

export function decodeResponse(frame: Uint8Array): { id: number; response: ShardResponse } {
  const r = new ByteReader(frame);
  const id = r.u32();
  const code = r.u8();
  if (isTxnResponseCode(code)) return { id, response: readTxnResponseBody(r, code) };
  if (code === DOC_RESPONSE_CODE) return { id, response: { kind: 'doc-result', body: r.rest() } };
  if (code === TBL_RESPONSE_CODE) return { id, response: { kind: 'tbl-result', body: r.rest() } };
  if (code === BACKUP_RESPONSE_CODE) return { id, response: { kind: 'backup-result', body: r.rest() } };
  const kind = RESPONSE_KINDS[code - 1];
  switch (kind) {
    case 'meta':
      return { id, response: { kind, contentType: r.str(), expiresAtMs: r.f64(), size: r.u32() } };
    case 'keys': {
      const total = r.u32();
      const more = r.u8() === 1;
      const count = r.u32();
      const keys: Uint8Array[] = [];
      for (let i = 0; i < count; i++) keys.push(r.shortBytes());
      return { id, response: { kind, keys, total, more } };
    }
    case 'results': {
      const count = r.u32();
      const results: BatchResult[] = [];
      for (let i = 0; i < count; i++) results.push(readResult(r, RESPONSE_KINDS[r.u8() - 1]));
      return { id, response: { kind, results } };
    }
    case 'error': {
      const code = r.str();
      const message = r.str();
      return { id, response: { kind, code: isErrorCode(code) ? code : 'INTERNAL', message } };
    }
    case 'invalidated':
      return { id, response: { kind, removed: r.u32(), nextSlot: r.f64() } };
    case undefined:
      throw new FrameError(`unknown response kind in frame ${id}`);
    default:
      return { id, response: readResult(r, kind) };
  }
}

// ---- WAL payloads -------------------------------------------------------------
// A WAL record of type WAL_KV_OPS holds the writes of one request, encoded as
// batch ops, so that replaying it re-applies the request atomically.

export const WAL_KV_OPS = 1;
/**
 * A WAL record of type WAL_CLOCK holds the wall-clock time (f64, ms since the epoch) at which the
 * records after it were written: the shard logs one before a batch whenever the millisecond
 * changed. Point-in-time recovery cuts a WAL at the first clock past its target; replay skips them.
 */
export const WAL_CLOCK = 0x20;
/** The last record of a clean shutdown (payload as WAL_CLOCK): the log is whole up to here. */
export const WAL_END = 0x21;

export function encodeClock(ms: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setFloat64(0, ms, true);
  return out;
}

export function decodeClock(payload: Uint8Array): number {
  return new DataView(payload.buffer, payload.byteOffset, 8).getFloat64(0, true);
}

export function encodeWriteOps(ops: readonly (PutOp | DeleteOp)[]): Uint8Array {
  let bytes = 4;
  for (const op of ops) bytes += 16 + op.key.length + (op.kind === 'put' ? op.value.length + op.contentType.length + 16 : 0);
  const w = new ByteWriter(bytes);
  w.u32(ops.length);
  for (const op of ops) writeBatchOp(w, op);
  return w.finish();
}

export function decodeWriteOps(payload: Uint8Array): (PutOp | DeleteOp)[] {
  const r = new ByteReader(payload);
  const count = r.u32();
  const ops: (PutOp | DeleteOp)[] = [];
  for (let i = 0; i < count; i++) {
    const op = readBatchOp(r);
    if (op.kind === 'get') throw new FrameError('a get op in a WAL record');
    ops.push(op);
  }
  return ops;
}
