// The body of POST /api/v1/kv/batch in JSON or MessagePack, parsed into
// shard batch ops (all validated before anything is sent), and the results
// encoded back in the same format.

import { Packr } from 'msgpackr';
import { MantisError } from '../../shared/errors.js';
import { LIMITS } from '../../shared/limits.js';
import type { BatchOp, BatchResult } from '../../shared/wire.js';
import { contentTypeOf, expiryFromTtl, keyFromBytes, keyFromString } from '../kv/index.js';

export type BatchFormat = 'json' | 'msgpack';

const packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });
const utf8 = new TextDecoder('utf-8', { fatal: true });
const TEXT_TYPE = 'text/plain; charset=utf-8';
const JSON_VALUE_TYPE = 'application/json';

export function batchFormatOf(contentType: string | undefined): BatchFormat {
  const type = (contentType ?? 'application/json').split(';')[0].trim().toLowerCase();
  // curl -d sends form-urlencoded by default; its body is still our JSON.
  if (type === 'application/json' || type === '' || type === 'text/plain' || type === 'application/x-www-form-urlencoded') return 'json';
  if (type === 'application/msgpack' || type === 'application/x-msgpack') return 'msgpack';
  throw new MantisError('UNSUPPORTED_MEDIA_TYPE', 'batch body must be application/json or application/msgpack');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function decodeBody(body: Uint8Array, format: BatchFormat): unknown {
  try {
    return format === 'json' ? JSON.parse(utf8.decode(body)) : packr.unpack(body);
  } catch {
    throw new MantisError('INVALID_JSON', format === 'json' ? 'batch body is not valid JSON' : 'batch body is not valid MessagePack');
  }
}

export function parseBatch(body: Uint8Array, format: BatchFormat, nowMs: number, maxValueBytes: number): BatchOp[] {
  const parsed = decodeBody(body, format);
  if (!isRecord(parsed) || !Array.isArray(parsed.ops)) {
    throw new MantisError('INVALID_BATCH', 'batch body must be an object with an "ops" array');
  }
  if (parsed.ops.length > LIMITS.batch_ops_max) {
    throw new MantisError('BATCH_TOO_LARGE', `a batch holds at most ${LIMITS.batch_ops_max} ops; got ${parsed.ops.length}`);
  }
  return parsed.ops.map((op, i) => parseOp(op, i, nowMs, maxValueBytes));
}

function parseOp(raw: unknown, i: number, nowMs: number, maxValueBytes: number): BatchOp {
  if (!isRecord(raw)) throw new MantisError('INVALID_BATCH', `ops[${i}] must be an object`);
  const key = withIndex(i, () => (raw.key instanceof Uint8Array ? keyFromBytes(raw.key) : keyFromString(raw.key)));
  switch (raw.op) {
    case 'get':
      return { kind: 'get', key };
    case 'delete':
      return { kind: 'delete', key };
    case 'put': {
      const { value, contentType } = withIndex(i, () => parseValue(raw));
      if (value.length > maxValueBytes) {
        throw new MantisError('VALUE_TOO_LARGE', `ops[${i}]: value is ${value.length} bytes; the limit is ${maxValueBytes}`);
      }
      const expiresAtMs = withIndex(i, () => expiryFromTtl(raw.ttl, nowMs));
      return { kind: 'put', key, value, contentType, expiresAtMs };
    }
    default:
      throw new MantisError('INVALID_BATCH', `ops[${i}].op must be "put", "get" or "delete"`);
  }
}

function parseValue(raw: Record<string, unknown>): { value: Uint8Array; contentType: string } {
  const given = raw.content_type === undefined ? null : contentTypeOf(typeof raw.content_type === 'string' ? raw.content_type : '\0');
  const v = raw.value;
  if (v instanceof Uint8Array) return { value: v, contentType: given ?? 'application/octet-stream' };
  if (typeof v === 'string') {
    if (raw.encoding === 'base64') return { value: Buffer.from(v, 'base64'), contentType: given ?? 'application/octet-stream' };
    if (raw.encoding !== undefined) throw new MantisError('INVALID_BATCH', 'encoding must be "base64" when given');
    if (!v.isWellFormed()) throw new MantisError('INVALID_BATCH', 'value is not valid Unicode');
    return { value: Buffer.from(v, 'utf8'), contentType: given ?? TEXT_TYPE };
  }
  if (v === undefined) throw new MantisError('INVALID_BATCH', 'a put needs a value');
  let text: string;
  try {
    text = JSON.stringify(v);
  } catch {
    throw new MantisError('INVALID_BATCH', 'value cannot be stored as JSON (too deeply nested or not representable)');
  }
  return { value: Buffer.from(text, 'utf8'), contentType: given ?? JSON_VALUE_TYPE };
}

function withIndex<T>(i: number, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof MantisError) throw new MantisError(error.code, `ops[${i}]: ${error.message}`);
    throw error;
  }
}

type ResultBody = Record<string, unknown>;

function resultBody(op: BatchOp, result: BatchResult | MantisError, format: BatchFormat): ResultBody {
  const key = keyField(op.key, format);
  if (result instanceof MantisError) {
    return { op: op.kind, key, error: { code: result.code, message: result.message, retryable: result.retryable } };
  }
  switch (result.kind) {
    case 'value':
      return { op: op.kind, key, found: true, content_type: result.contentType, ...valueField(result.value, format) };
    case 'missing':
      return { op: op.kind, key, found: false };
    case 'done':
      return { op: op.kind, key, ok: true };
    case 'deleted':
      return { op: op.kind, key, deleted: result.existed };
  }
}

/** Keys come back as strings; in MessagePack a key that is not UTF-8 stays bytes. */
function keyField(key: Uint8Array, format: BatchFormat): string | Uint8Array {
  if (format === 'json') return Buffer.from(key).toString('utf8');
  try {
    return utf8.decode(key);
  } catch {
    return key;
  }
}

/** JSON carries valid UTF-8 as a string, anything else as base64; MessagePack carries bytes. */
function valueField(value: Uint8Array, format: BatchFormat): ResultBody {
  if (format === 'msgpack') return { value };
  try {
    return { value: utf8.decode(value) };
  } catch {
    return { value: Buffer.from(value).toString('base64'), encoding: 'base64' };
  }
}

export function encodeBatchResults(ops: readonly BatchOp[], results: readonly (BatchResult | MantisError)[], format: BatchFormat): ResultBody[] {
  return ops.map((op, i) => resultBody(op, results[i], format));
}

export function packMsgpack(value: unknown): Uint8Array {
  return packr.pack(value);
}
