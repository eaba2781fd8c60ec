// The find cursor (`meta.next_cursor`): an opaque base64url token holding the
// merge key of the last document served ([sort values…, _id]) and the
// fingerprint of the query it belongs to (collection id, filter, sort,
// projection). The next page is the same query "after" that key, so a cursor
// survives inserts and deletes between pages without repeating or skipping
// documents that stay. Skip applies to the first page only; limit may change
// between pages. A token used with another query is CURSOR_INVALID.

import { createHash } from 'node:crypto';
import { MantisError } from '../../shared/errors.js';
import { decodeValue, encodeValue } from '../../shared/docs/doc-codec.js';
import type { Doc, DocValue } from '../../shared/docs/doc-types.js';
import { stringifyEjson } from '../../shared/docs/ejson.js';

const CURSOR_VERSION = 1;
const TOKEN_CHARS_MAX = 32 * 1024 * 1024; // a sort key may be as large as a 16 MiB document

export type QueryShape = { readonly collId: number; readonly filter: Doc; readonly sort: Doc | null; readonly projection: Doc | null };

/** A short digest of the query's shape (what a cursor may be used with). */
export function queryFingerprint(q: QueryShape): string {
  const text = `${q.collId}\n${stringifyEjson(q.filter)}\n${q.sort === null ? '' : stringifyEjson(q.sort)}\n${q.projection === null ? '' : stringifyEjson(q.projection)}`;
  return createHash('sha256').update(text).digest('base64url').slice(0, 16);
}

export function encodeCursor(fingerprint: string, key: readonly DocValue[]): string {
  return Buffer.from(encodeValue([CURSOR_VERSION, fingerprint, [...key]])).toString('base64url');
}

/** The merge key a cursor holds; CURSOR_INVALID unless it is a token of this query. */
export function decodeCursor(token: unknown, fingerprint: string): DocValue[] {
  if (typeof token !== 'string' || token.length === 0 || token.length > TOKEN_CHARS_MAX || !/^[A-Za-z0-9_-]+$/.test(token)) {
    throw invalid('"cursor" must be a next_cursor token from a previous page');
  }
  let decoded: DocValue | undefined;
  try {
    decoded = decodeValue(Buffer.from(token, 'base64url'));
  } catch {
    throw invalid('"cursor" is not a cursor token (damaged or made up)');
  }
  if (!Array.isArray(decoded) || decoded.length !== 3 || decoded[0] !== CURSOR_VERSION || typeof decoded[1] !== 'string' || !Array.isArray(decoded[2]) || decoded[2].length < 1) {
    throw invalid('"cursor" is not a cursor token (damaged or made up)');
  }
  if (decoded[1] !== fingerprint) throw invalid('"cursor" belongs to another query (filter, sort and projection must stay the same between pages)');
  return decoded[2];
}

function invalid(message: string): MantisError {
  return new MantisError('CURSOR_INVALID', message);
}
