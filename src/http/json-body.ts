// JSON request bodies of the control routes (cache, transactions): parsing,
// the fields allowed, key-shaped fields. Anything else in a body is a 400.

import { MantisError } from '../../shared/errors.js';
import { keyFromString } from '../kv/index.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The body as a JSON object. The Content-Type must be application/json; with `lenient`, also
 * none or text/plain (what fetch sends for a string body).
 */
export function jsonBody(contentType: string | undefined, body: Uint8Array, lenient = false): Record<string, unknown> {
  const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json' && !(lenient && (type === '' || type === 'text/plain'))) {
    throw new MantisError('UNSUPPORTED_MEDIA_TYPE', 'the body must be application/json');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8.decode(body));
  } catch {
    throw new MantisError('INVALID_JSON', 'the body is not valid JSON (UTF-8)');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new MantisError('INVALID_JSON', 'the body must be a JSON object');
  return parsed as Record<string, unknown>;
}

export function onlyFields(body: Record<string, unknown>, allowed: readonly string[], where = ''): void {
  const extra = Object.keys(body).find((k) => !allowed.includes(k));
  if (extra !== undefined) throw new MantisError('INVALID_PARAMETER', `${where}unknown field "${extra}"; expected ${allowed.map((a) => `"${a}"`).join(', ')}`);
}

/** A key-shaped string field (validated as a KV key); returns the string. */
export function keyField(body: Record<string, unknown>, name: string, where = ''): string {
  const value = body[name];
  if (value === undefined) throw new MantisError('INVALID_PARAMETER', `${where}"${name}" is required`);
  try {
    keyFromString(value);
  } catch (error) {
    if (error instanceof MantisError) throw new MantisError(error.code, `${where}"${name}": ${error.message}`);
    throw error;
  }
  return value as string;
}
