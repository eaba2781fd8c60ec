// Parsing and validating what a client sends to the KV routes: keys from a
// percent-encoded path segment or a JSON string, TTLs, content types and list
// parameters. Each failure is a MantisError with the code the client sees.

import { MantisError } from '../../shared/errors.js';
import { LIMITS } from '../../shared/limits.js';

const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

/** A key from the raw (still percent-encoded) path remainder. */
export function keyFromPath(raw: string): Uint8Array {
  if (raw.length === 0) throw new MantisError('INVALID_KEY', 'key must not be empty');
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    throw new MantisError('INVALID_KEY', 'key is not valid percent-encoded UTF-8');
  }
  return keyFromString(decoded);
}

/** A key given as a string (JSON, MessagePack). */
export function keyFromString(key: unknown): Uint8Array {
  if (typeof key !== 'string') throw new MantisError('INVALID_KEY', 'key must be a string');
  if (key.length === 0) throw new MantisError('INVALID_KEY', 'key must not be empty');
  if (!key.isWellFormed()) throw new MantisError('INVALID_KEY', 'key is not valid Unicode (lone surrogate)');
  const bytes = Buffer.from(key, 'utf8');
  if (bytes.length > LIMITS.key_bytes_max) {
    throw new MantisError('KEY_TOO_LARGE', `key is ${bytes.length} bytes; the limit is ${LIMITS.key_bytes_max}`);
  }
  return bytes;
}

/** A key given as raw bytes (MessagePack binary). */
export function keyFromBytes(key: Uint8Array): Uint8Array {
  if (key.length === 0) throw new MantisError('INVALID_KEY', 'key must not be empty');
  if (key.length > LIMITS.key_bytes_max) {
    throw new MantisError('KEY_TOO_LARGE', `key is ${key.length} bytes; the limit is ${LIMITS.key_bytes_max}`);
  }
  return key;
}

/** Absolute expiry (ms since the epoch) from a TTL in seconds; 0 when absent. */
export function expiryFromTtl(ttl: unknown, nowMs: number): number {
  if (ttl === undefined || ttl === null || ttl === '') return 0;
  const seconds = typeof ttl === 'string' && /^\d+$/.test(ttl) ? Number(ttl) : ttl;
  if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 1 || seconds > LIMITS.ttl_seconds_max) {
    throw new MantisError('INVALID_TTL', `ttl must be a whole number of seconds in 1..${LIMITS.ttl_seconds_max}`);
  }
  return nowMs + seconds * 1000;
}

export function contentTypeOf(header: string | undefined | null): string {
  if (header === undefined || header === null || header === '') return DEFAULT_CONTENT_TYPE;
  if (header.length > LIMITS.content_type_bytes_max || !/^[\x20-\x7e]+$/.test(header)) {
    throw new MantisError('INVALID_CONTENT_TYPE', `content-type must be printable ASCII of at most ${LIMITS.content_type_bytes_max} bytes`);
  }
  return header;
}

export type ListParams = {
  readonly prefix: Uint8Array;
  readonly limit: number;
  readonly offset: number;
  readonly cursor: Uint8Array | null;
};

function intParam(name: string, raw: string | null, fallback: number, min: number, max: number): number {
  if (raw === null || raw === '') return fallback;
  if (!/^-?\d+$/.test(raw)) throw new MantisError('INVALID_PARAMETER', `${name} must be an integer, got "${raw.slice(0, 40)}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new MantisError('INVALID_PARAMETER', `${name} must be in ${min}..${max}, got ${value}`);
  return value;
}

export function parseListParams(query: URLSearchParams): ListParams {
  const prefixRaw = query.get('prefix') ?? '';
  if (!prefixRaw.isWellFormed()) throw new MantisError('INVALID_PARAMETER', 'prefix is not valid Unicode');
  const prefix = Buffer.from(prefixRaw, 'utf8');
  if (prefix.length > LIMITS.key_bytes_max) throw new MantisError('INVALID_PARAMETER', 'prefix is longer than the longest key');
  const limitRaw = query.get('limit');
  // per_page is capped at list_limit_max: a larger limit is served as the cap.
  const limit = Math.min(intParam('limit', limitRaw, LIMITS.list_limit_default, 1, Number.MAX_SAFE_INTEGER), LIMITS.list_limit_max);
  const offset = intParam('offset', query.get('offset'), 0, 0, LIMITS.list_offset_max);
  const cursorRaw = query.get('cursor');
  let cursor: Uint8Array | null = null;
  if (cursorRaw !== null && cursorRaw !== '') {
    if (query.has('offset')) throw new MantisError('INVALID_PARAMETER', 'use either cursor or offset, not both');
    if (!/^[A-Za-z0-9_-]+$/.test(cursorRaw)) throw new MantisError('INVALID_PARAMETER', 'cursor is not a cursor this server issued');
    cursor = Buffer.from(cursorRaw, 'base64url');
    if (cursor.length === 0 || cursor.length > LIMITS.key_bytes_max) {
      throw new MantisError('INVALID_PARAMETER', 'cursor is not a cursor this server issued');
    }
  }
  return { prefix, limit, offset, cursor };
}

export function encodeCursor(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('base64url');
}

/** The Mantis-Deadline-Ms header as received, and when its request arrived. */
export type DeadlineHeader = { readonly header: string | undefined; readonly receivedAtMs: number };

/**
 * The absolute deadline (ms since the epoch) of a request from its
 * Mantis-Deadline-Ms header, the remaining budget in whole ms; 0 = none.
 * A budget of 0 means the request has already run out of time.
 */
export function deadlineFromHeader({ header, receivedAtMs }: DeadlineHeader): number {
  if (header === undefined || header === '') return 0;
  if (!/^\d{1,9}$/.test(header) || Number(header) > LIMITS.deadline_budget_ms_max) {
    throw new MantisError(
      'INVALID_PARAMETER',
      `Mantis-Deadline-Ms must be a whole number of milliseconds in 0..${LIMITS.deadline_budget_ms_max}, got "${header.slice(0, 40)}"`,
    );
  }
  return receivedAtMs + Number(header);
}
