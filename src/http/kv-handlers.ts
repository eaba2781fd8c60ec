// The KV routes as plain async functions from parsed request parts to an
// HttpReply. Both listeners call these: the uWebSockets.js fast path and the
// Hono app, so one integration suite proves both. Each takes the request's
// Mantis-Deadline-Ms header as received, with its arrival time.

import { MantisError } from '../../shared/errors.js';
import type { Logger } from '../log.js';
import {
  contentTypeOf,
  deadlineFromHeader,
  encodeCursor,
  expiryFromTtl,
  keyFromPath,
  parseListParams,
  type DeadlineHeader,
  type KvService,
} from '../kv/index.js';
import { batchFormatOf, encodeBatchResults, packMsgpack, parseBatch } from './batch-codec.js';
import { errorReply, guarded, okReply, replyForError, type HttpReply } from './reply.js';

import type { KvAccess } from '../security/kv-access.js';
export type KvHandlers = ReturnType<typeof createKvHandlers>;

/** What the cache's tag index needs to hear from the KV routes (PUT ?tags=a,b and DELETE). */
export type KeyHooks = {
  /** Validates ?tags= for key (throws a MantisError, e.g. when no more keys can be tagged); called before the write is sent. */
  parseTags(raw: string, key: string): string[];
  /** After an acknowledged PUT: the key's tags are now exactly `tags` (none when ?tags= was absent). */
  onPut(key: string, tags: readonly string[]): void;
  /** After an acknowledged DELETE. */
  onDelete(key: string): void;
};

const NO_TAGS: readonly string[] = Object.freeze([]);

export function createKvHandlers(kv: KvService, maxValueBytes: number, log: Logger, hooks: KeyHooks | null = null) {
  const report = (error: unknown): void => log.error({ err: error }, 'unexpected error in a KV route');
  const guard = guarded(report);

  return {
    /** cacheTried: the caller already looked in the cache (cachedGet) and missed. */
    get: (rawKey: string, head: boolean, deadline: DeadlineHeader, cacheTried = false): Promise<HttpReply> =>
      guard(async () => {
        const deadlineMs = deadlineFromHeader(deadline);
        const key = keyFromPath(rawKey);
        if (head) {
          const meta = await kv.cmdHead(key, deadlineMs, cacheTried);
          if (meta === null) return { ...keyNotFound(), body: '' };
          return headReply(meta.contentType, meta.size, meta.expiresAtMs);
        }
        const entry = await kv.cmdGet(key, deadlineMs, cacheTried);
        if (entry === null) return keyNotFound();
        return valueReply(entry.contentType, entry.value, entry.expiresAtMs);
      }),

    /**
     * GET or HEAD answered synchronously from the owning shard's cache (the
     * fast path's hit path: no hop, no promise); null when not cached — then
     * call get(). Errors (bad key, deadline passed) are replies, as in get().
     */
    cachedGet: (rawKey: string, head: boolean, deadline: DeadlineHeader): HttpReply | null => {
      try {
        // Borrowed: the reply is written out before any other cached read on this thread.
        const hit = kv.cachedGet(keyFromPath(rawKey), deadlineFromHeader(deadline), true);
        if (hit === null) return null;
        return head ? headReply(hit.contentType, hit.value.length, hit.expiresAtMs) : valueReply(hit.contentType, hit.value, hit.expiresAtMs);
      } catch (error) {
        return replyForError(error, report);
      }
    },

    put: (rawKey: string, rawQuery: string, contentTypeHeader: string | undefined, body: Uint8Array, deadline: DeadlineHeader): Promise<HttpReply> =>
      guard(async () => {
        const deadlineMs = deadlineFromHeader(deadline);
        const key = keyFromPath(rawKey);
        const query = new URLSearchParams(rawQuery);
        const expiresAtMs = expiryFromTtl(query.get('ttl'), Date.now());
        const contentType = contentTypeOf(contentTypeHeader);
        if (body.length > maxValueBytes) throw valueTooLarge(body.length, maxValueBytes);
        const name = Buffer.from(key).toString('utf8');
        const rawTags = query.get('tags');
        const tags = rawTags === null || hooks === null ? NO_TAGS : hooks.parseTags(rawTags, name);
        await kv.cmdPut(key, contentType, expiresAtMs, body, deadlineMs);
        hooks?.onPut(name, tags);
        return okReply(tags.length === 0
          ? { key: name, bytes: body.length, expires_at: isoOrNull(expiresAtMs) }
          : { key: name, bytes: body.length, expires_at: isoOrNull(expiresAtMs), tags });
      }),

    delete: (rawKey: string, deadline: DeadlineHeader): Promise<HttpReply> =>
      guard(async () => {
        const deadlineMs = deadlineFromHeader(deadline);
        const key = keyFromPath(rawKey);
        const existed = await kv.cmdDelete(key, deadlineMs);
        const name = Buffer.from(key).toString('utf8');
        hooks?.onDelete(name);
        return okReply({ key: name, deleted: existed });
      }),

    /** access: the caller's KV rules; keys outside its row-level policies are left out (and total is null). */
    list: (rawQuery: string, deadline: DeadlineHeader, access?: KvAccess): Promise<HttpReply> =>
      guard(async () => {
        const deadlineMs = deadlineFromHeader(deadline);
        const params = parseListParams(new URLSearchParams(rawQuery));
        let result = await kv.cmdList(params, deadlineMs);
        const visible = access?.visible ?? null;
        const keys = visible === null ? result.keys : result.keys.filter(visible);
        // Under a KV policy, pages whose keys are all hidden are skipped here (up to 16 pages), so a
        // listing does not end early; the cursor names the last key the caller saw, never a hidden one.
        for (let page = 1; visible !== null && keys.length < params.limit && result.more && page < 16; page++) {
          const after = result.keys[result.keys.length - 1];
          if (after === undefined) break;
          result = await kv.cmdList({ ...params, offset: 0, cursor: after, limit: params.limit - keys.length }, deadlineMs);
          keys.push(...result.keys.filter(visible));
        }
        const last = keys[keys.length - 1];
        return okReply(
          keys.map((k) => Buffer.from(k).toString('utf8')),
          {
            count: keys.length,
            total: visible === null ? result.total : null,
            page: params.cursor === null ? Math.floor(params.offset / params.limit) + 1 : null,
            per_page: params.limit,
            next_cursor: result.more && last !== undefined ? encodeCursor(last) : null,
          },
        );
      }),

    /** access: every op's key is checked before any is sent (one refused key refuses the batch). */
    batch: (contentTypeHeader: string | undefined, body: Uint8Array, deadline: DeadlineHeader, access?: KvAccess): Promise<HttpReply> =>
      guard(async () => {
        const deadlineMs = deadlineFromHeader(deadline);
        const format = batchFormatOf(contentTypeHeader);
        const ops = parseBatch(body, format, Date.now(), maxValueBytes);
        if (access !== undefined) for (const op of ops) access.check(op.key, op.kind !== 'get');
        const outcome = await kv.cmdBatch(ops, deadlineMs);
        const data = encodeBatchResults(ops, outcome.results, format);
        const meta = { count: ops.length };
        if (format === 'msgpack') {
          const envelope = outcome.error === null
            ? { success: true, data, meta }
            : { success: false, data, meta, error: errorBody(outcome.error, true) };
          return { status: outcome.error?.status ?? 200, contentType: 'application/msgpack', body: packMsgpack(envelope) };
        }
        if (outcome.error === null) return okReply(data, meta);
        const failed = errorReply(outcome.error);
        return { ...failed, body: JSON.stringify({ success: false, data, meta, error: errorBody(outcome.error, true) }) };
      }),
  };
}

function errorBody(error: MantisError, partial: boolean): Record<string, unknown> {
  const note = partial ? '; ops on other shards were applied (atomic per shard only)' : '';
  return { code: error.code, message: error.message + note, retryable: error.retryable };
}

export function valueTooLarge(bytes: number, max: number): MantisError {
  return new MantisError('VALUE_TOO_LARGE', `value is ${bytes} bytes; the limit is ${max} (--max-value-bytes)`);
}

function keyNotFound(): HttpReply {
  return errorReply(new MantisError('KEY_NOT_FOUND', 'no such key (or it expired)'));
}

function valueReply(contentType: string, value: Uint8Array, expiresAtMs: number): HttpReply {
  return { status: 200, contentType, body: value, headers: expiryHeaders(expiresAtMs) };
}

function headReply(contentType: string, size: number, expiresAtMs: number): HttpReply {
  return { status: 200, contentType, body: '', headLength: size, headers: expiryHeaders(expiresAtMs) };
}

const NO_HEADERS: readonly (readonly [string, string])[] = Object.freeze([]);

function expiryHeaders(expiresAtMs: number): readonly (readonly [string, string])[] {
  return expiresAtMs === 0 ? NO_HEADERS : [['Mantis-Expires-At', new Date(expiresAtMs).toISOString()]];
}

function isoOrNull(ms: number): string | null {
  return ms === 0 ? null : new Date(ms).toISOString();
}
