// Server answers turned into the client's types. Every parser gets the whole
// answer (status, headers, body) and either returns the typed result or
// throws the MantisClientError the answer carries.

import { isRecord, MantisClientError, serverError } from './client-error.js';
import type { BatchOpInput, BatchOpResult, KvEntry, KvMeta, ListPage, PutResult, ReadyInfo } from './kv-types.js';

export type Answer = {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
};

function header(answer: Answer, name: string): string | null {
  const value = answer.headers[name];
  if (value === undefined) return null;
  return Array.isArray(value) ? (value[0] ?? null) : value;
}

function badResponse(what: string, answer: Answer): MantisClientError {
  const excerpt = answer.body.subarray(0, 200).toString('utf8');
  return new MantisClientError({ code: 'BAD_RESPONSE', message: `${what} (status ${answer.status}): ${excerpt}`, status: answer.status, retryable: false, source: 'server' });
}

function json(answer: Answer): unknown {
  if (answer.body.length === 0) return null;
  try {
    return JSON.parse(answer.body.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** The error an answer that is not a success carries. */
export function failureOf(answer: Answer): MantisClientError {
  const body = json(answer);
  if (body === undefined) return badResponse('the answer is not JSON', answer);
  return serverError(answer.status, body, header(answer, 'retry-after') !== null);
}

/** `data` of a success envelope. */
function dataOf(answer: Answer): unknown {
  if (answer.status !== 200) throw failureOf(answer);
  const body = json(answer);
  if (!isRecord(body) || body.success !== true) throw badResponse('expected a success envelope', answer);
  return body.data;
}

const isKeyNotFound = (answer: Answer): boolean => answer.status === 404 && (answer.body.length === 0 || failureOf(answer).code === 'KEY_NOT_FOUND');

function expiry(answer: Answer): Date | null {
  const at = header(answer, 'mantis-expires-at');
  return at === null ? null : new Date(at);
}

export function parseGet(answer: Answer): KvEntry | null {
  if (isKeyNotFound(answer)) return null;
  if (answer.status !== 200) throw failureOf(answer);
  return { value: answer.body, contentType: header(answer, 'content-type') ?? 'application/octet-stream', expiresAt: expiry(answer) };
}

export function parseHead(answer: Answer): KvMeta | null {
  if (isKeyNotFound(answer)) return null;
  if (answer.status !== 200) throw failureOf(answer);
  const size = Number(header(answer, 'content-length') ?? NaN);
  if (!Number.isSafeInteger(size)) throw badResponse('HEAD answer without a Content-Length', answer);
  return { contentType: header(answer, 'content-type') ?? 'application/octet-stream', size, expiresAt: expiry(answer) };
}

export function parsePut(answer: Answer): PutResult {
  const data = dataOf(answer);
  if (!isRecord(data) || typeof data.key !== 'string' || typeof data.bytes !== 'number') throw badResponse('unexpected PUT answer', answer);
  return { key: data.key, bytes: data.bytes, expiresAt: typeof data.expires_at === 'string' ? new Date(data.expires_at) : null };
}

export function parseDelete(answer: Answer): boolean {
  const data = dataOf(answer);
  if (!isRecord(data) || typeof data.deleted !== 'boolean') throw badResponse('unexpected DELETE answer', answer);
  return data.deleted;
}

export function parseListPage(answer: Answer): ListPage {
  const data = dataOf(answer);
  const body = json(answer);
  const meta = isRecord(body) && isRecord(body.meta) ? body.meta : null;
  if (!Array.isArray(data) || !data.every((k) => typeof k === 'string') || meta === null) throw badResponse('unexpected list answer', answer);
  const nextCursor = typeof meta.next_cursor === 'string' ? meta.next_cursor : null;
  return { keys: data as string[], total: typeof meta.total === 'number' ? meta.total : data.length, nextCursor };
}

export function parseReady(answer: Answer): ReadyInfo {
  const data = dataOf(answer);
  if (!isRecord(data) || data.ready !== true || !Array.isArray(data.shards)) throw badResponse('unexpected /health/ready answer', answer);
  return data as ReadyInfo;
}

/** The JSON body of a batch request. Bytes travel as base64. */
export function encodeBatch(ops: readonly BatchOpInput[]): string {
  const wire = ops.map((op) => {
    if (op.op !== 'put') return { op: op.op, key: op.key };
    const value = typeof op.value === 'string' ? { value: op.value } : { value: Buffer.from(op.value).toString('base64'), encoding: 'base64' };
    return { op: 'put', key: op.key, ...value, ...(op.ttl === undefined ? {} : { ttl: op.ttl }), ...(op.contentType === undefined ? {} : { content_type: op.contentType }) };
  });
  return JSON.stringify({ ops: wire });
}

function batchResult(raw: unknown, op: BatchOpInput, status: number): BatchOpResult {
  if (!isRecord(raw)) throw new Error('not an object');
  if (isRecord(raw.error)) return { op: op.op, key: op.key, error: serverError(status, { error: raw.error }, false) };
  switch (op.op) {
    case 'get': {
      if (raw.found !== true) return { op: 'get', key: op.key, found: false };
      if (typeof raw.value !== 'string' || typeof raw.content_type !== 'string') throw new Error('get result without a value');
      const value = Buffer.from(raw.value, raw.encoding === 'base64' ? 'base64' : 'utf8');
      return { op: 'get', key: op.key, found: true, value, contentType: raw.content_type };
    }
    case 'put':
      return { op: 'put', key: op.key, ok: true };
    case 'delete':
      return { op: 'delete', key: op.key, deleted: raw.deleted === true };
  }
}

/** Results in op order. A partial failure throws its shard's error with every op's result attached. */
export function parseBatch(answer: Answer, ops: readonly BatchOpInput[]): BatchOpResult[] {
  const body = json(answer);
  const data = isRecord(body) ? body.data : undefined;
  if (!Array.isArray(data) || data.length !== ops.length) {
    if (answer.status !== 200) throw failureOf(answer);
    throw badResponse('unexpected batch answer', answer);
  }
  let results: BatchOpResult[];
  try {
    results = data.map((raw, i) => batchResult(raw, ops[i], answer.status));
  } catch (error) {
    throw badResponse(`unexpected batch result (${String(error)})`, answer);
  }
  if (answer.status === 200) return results;
  const failure = failureOf(answer);
  throw new MantisClientError({ code: failure.code, message: failure.message, status: failure.status, retryable: failure.retryable, source: 'server', batchResults: results });
}
