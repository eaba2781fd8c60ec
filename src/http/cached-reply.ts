// Answers for bytes the server keeps in memory and hands out unchanged (the
// dashboard's files, the OpenAPI document): a strong ETag from their hash,
// If-None-Match compared weakly (lists and "*" too), gzip made once on the
// first request that accepts it, with its own validator.

import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';

const gzipAsync = promisify(gzip);
const COMPRESSIBLE = /^(text\/|application\/json|application\/yaml|image\/svg)/;

export type CachedBytes = {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
  readonly cacheControl: string;
  gzipped?: Promise<Buffer>;
};

export function cachedBytes(body: Buffer, type: string, cacheControl: string): CachedBytes {
  return { body, type, cacheControl, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
}

/** If-None-Match: "*", or a list of validators compared weakly (RFC 9110 §13.1.2). */
export function notModified(header: string | undefined, etag: string): boolean {
  if (header === undefined || header === '') return false;
  if (header.trim() === '*') return true;
  const opaque = (tag: string): string => tag.trim().replace(/^W\//, '');
  return header.split(',').some((tag) => opaque(tag) === opaque(etag));
}

/** 200 with the bytes (gzipped when `acceptEncoding` allows and it pays), or 304. */
export async function answerCached(file: CachedBytes, ifNoneMatch: string | undefined, acceptEncoding: string | undefined): Promise<Response> {
  const zipped = /\bgzip\b/.test(acceptEncoding ?? '') && COMPRESSIBLE.test(file.type) && file.body.length > 1024;
  // The gzip answer is other bytes than the plain one: its own (strong) validator.
  const etag = zipped ? `${file.etag.slice(0, -1)}-gz"` : file.etag;
  const headers = new Headers({ 'Content-Type': file.type, 'Cache-Control': file.cacheControl, ETag: etag, Vary: 'Accept-Encoding' });
  if (notModified(ifNoneMatch, etag)) return new Response(null, { status: 304, headers });
  let body = file.body;
  if (zipped) {
    file.gzipped ??= gzipAsync(file.body, { level: 9 });
    body = await file.gzipped;
    headers.set('Content-Encoding', 'gzip');
  }
  headers.set('Content-Length', String(body.length));
  return new Response(new Uint8Array(body), { status: 200, headers });
}
