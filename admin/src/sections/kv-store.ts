// Single-key reads and writes for the Key-value section, and how a value is
// shown (JSON, text, image or a hex dump).
//
// A key travels as one percent-encoded path segment: the server decodes the
// raw path as UTF-8, so '/', ':', '?', '%' and any Unicode arrive intact. The
// exceptions are the keys "." and "..": a browser resolves those segments
// (even spelled %2E) before the request leaves, so they go through the batch
// route instead (which does not report an expiry).

import { api, ApiError, request, requestRaw, seg } from '../api';

export type StoredValue = {
  readonly bytes: Uint8Array;
  readonly contentType: string;
  /** RFC 3339; null: no TTL; undefined: not known (read through the batch route). */
  readonly expiresAt: string | null | undefined;
};

export type KeyHead = { readonly contentType: string; readonly size: number; readonly expiresAt: string | null | undefined };

export type PutAnswer = { readonly key: string; readonly bytes: number; readonly expires_at: string | null; readonly tags?: string[] };

const DOT_KEYS = new Set(['.', '..']);
const keyPath = (key: string): string => `/api/v1/kv/${seg(key)}`;

type BatchGet = { found: boolean; content_type?: string; value?: string; encoding?: 'base64' };

async function batchGet(key: string, signal?: AbortSignal): Promise<StoredValue> {
  const answer = await api.post<BatchGet[]>('/api/v1/kv/batch', { ops: [{ op: 'get', key }] }, { signal });
  const result = answer.data[0];
  if (result === undefined || !result.found) throw new ApiError(404, 'KEY_NOT_FOUND', 'no such key (or it expired)');
  const bytes = result.encoding === 'base64' ? base64ToBytes(result.value ?? '') : new TextEncoder().encode(result.value ?? '');
  return { bytes, contentType: result.content_type ?? 'application/octet-stream', expiresAt: undefined };
}

export async function readKey(key: string, signal?: AbortSignal): Promise<StoredValue> {
  if (DOT_KEYS.has(key)) return batchGet(key, signal);
  const response = await requestRaw('GET', keyPath(key), { headers: { Accept: '*/*' }, signal });
  return {
    bytes: new Uint8Array(await response.arrayBuffer()),
    contentType: response.headers.get('content-type') ?? 'application/octet-stream',
    expiresAt: response.headers.get('mantis-expires-at'),
  };
}

/** Content type, size and expiry without the value (HEAD); null when the key is gone. */
export async function headKey(key: string, signal?: AbortSignal): Promise<KeyHead | null> {
  try {
    if (DOT_KEYS.has(key)) {
      const value = await batchGet(key, signal);
      return { contentType: value.contentType, size: value.bytes.length, expiresAt: undefined };
    }
    const response = await requestRaw('HEAD', keyPath(key), { headers: { Accept: '*/*' }, signal });
    return {
      contentType: response.headers.get('content-type') ?? 'application/octet-stream',
      size: Number(response.headers.get('content-length') ?? 0),
      expiresAt: response.headers.get('mantis-expires-at'),
    };
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.code === 'KEY_NOT_FOUND')) return null;
    throw error;
  }
}

export type WriteOptions = {
  readonly contentType: string;
  /** Seconds; null: no expiry (a PUT without ttl removes an earlier one). */
  readonly ttl: number | string | null;
  /** Cache tags; a PUT replaces the key's tags (none when empty). */
  readonly tags: readonly string[];
};

export async function writeKey(key: string, value: Uint8Array, options: WriteOptions): Promise<PutAnswer> {
  const ttl = options.ttl === null || options.ttl === '' ? undefined : String(options.ttl);
  if (DOT_KEYS.has(key)) {
    const op = { op: 'put', key, value: bytesToBase64(value), encoding: 'base64', content_type: options.contentType, ...(ttl === undefined ? {} : { ttl: Number(ttl) }) };
    await api.post('/api/v1/kv/batch', { ops: [op] });
    return { key, bytes: value.length, expires_at: ttl === undefined ? null : new Date(Date.now() + Number(ttl) * 1000).toISOString() };
  }
  const answer = await request<PutAnswer>('PUT', keyPath(key), {
    // A fresh copy: the body must be a plain ArrayBuffer-backed view.
    body: new Uint8Array(value).buffer,
    contentType: options.contentType === '' ? undefined : options.contentType,
    query: { ttl, tags: options.tags.length === 0 ? undefined : options.tags.join(',') },
  });
  return answer.data;
}

export async function deleteKey(key: string): Promise<boolean> {
  if (DOT_KEYS.has(key)) {
    const answer = await api.post<{ deleted: boolean }[]>('/api/v1/kv/batch', { ops: [{ op: 'delete', key }] });
    return answer.data[0]?.deleted ?? false;
  }
  const answer = await api.delete<{ deleted: boolean }>(keyPath(key));
  return answer.data.deleted;
}

// ---- how a value is shown --------------------------------------------------------------

export type ViewKind = 'json' | 'text' | 'image' | 'hex';

export const baseType = (contentType: string): string => contentType.split(';')[0].trim().toLowerCase();

const isJsonType = (t: string): boolean => t === 'application/json' || t.endsWith('+json');
const TEXTUAL_TYPES = new Set(['application/xml', 'application/javascript', 'application/x-www-form-urlencoded', 'application/yaml', 'application/x-yaml', 'application/sql', 'application/toml', 'image/svg+xml']);
const isTextType = (t: string): boolean => t.startsWith('text/') || t.endsWith('+xml') || TEXTUAL_TYPES.has(t) || isJsonType(t);
/** Image types browsers show in an <img> (SVG too: scripts never run in an image). */
const isImageType = (t: string): boolean => /^image\/(png|jpeg|gif|webp|avif|bmp|svg\+xml|x-icon|vnd\.microsoft\.icon)$/.test(t);

/** The value as UTF-8 text, or null when it is not UTF-8 or holds control characters (binary). */
export function asText(bytes: Uint8Array): string | null {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
  // Control characters other than tab, newline, form feed and carriage return mean binary.
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0c && c !== 0x0d) || c === 0x7f) return null;
  }
  return text;
}

export type Decoded = {
  /** The views that make sense for this value, the best first. */
  readonly views: readonly ViewKind[];
  readonly text: string | null;
  /** The parsed JSON when the value is JSON (undefined otherwise). */
  readonly json: { readonly value: unknown } | undefined;
};

/** JSON is pretty-printed only up to this size (highlighting a bigger value freezes the tab). */
export const JSON_VIEW_MAX_BYTES = 1024 * 1024;

export function decode(contentType: string, bytes: Uint8Array): Decoded {
  const type = baseType(contentType);
  const text = asText(bytes);
  let json: { value: unknown } | undefined;
  const jsonLike = text !== null && (isJsonType(type) || /^\s*[[{]/.test(text));
  if (jsonLike && bytes.length <= JSON_VIEW_MAX_BYTES) {
    try {
      json = { value: JSON.parse(text) };
    } catch {
      json = undefined;
    }
  }
  const views: ViewKind[] = [];
  if (isImageType(type)) views.push('image');
  if (json !== undefined && (isJsonType(type) || !isTextType(type))) views.push('json');
  if (text !== null) views.push('text');
  if (json !== undefined && !views.includes('json')) views.push('json');
  views.push('hex');
  return { views, text, json };
}

export const VIEW_LABELS: Record<ViewKind, string> = { json: 'JSON', text: 'Text', image: 'Image', hex: 'Hex' };

/** The hex dump shows at most this many bytes. */
export const HEX_MAX_BYTES = 4096;
/** The text view shows at most this many characters. */
export const TEXT_MAX_CHARS = 256 * 1024;

/** `offset  hex bytes (16 a line, two groups)  |ASCII|`, as xxd -g1 / hexdump -C print it. */
export function hexDump(bytes: Uint8Array, max = HEX_MAX_BYTES): string {
  const lines: string[] = [];
  const end = Math.min(bytes.length, max);
  for (let offset = 0; offset < end; offset += 16) {
    const row = bytes.subarray(offset, Math.min(offset + 16, end));
    let hex = '';
    let ascii = '';
    for (let i = 0; i < 16; i++) {
      if (i === 8) hex += ' ';
      const b = row[i];
      hex += b === undefined ? '   ' : `${b.toString(16).padStart(2, '0')} `;
      if (b !== undefined) ascii += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.';
    }
    lines.push(`${offset.toString(16).padStart(8, '0')}  ${hex} |${ascii}|`);
  }
  return lines.join('\n');
}

// ---- small helpers ------------------------------------------------------------------------

export function base64ToBytes(text: string): Uint8Array {
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

export function bytesToBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** "3d 4h", "12m 5s", "40s": how long until an expiry. */
export function formatDuration(ms: number): string {
  if (ms <= 0) return '0s';
  const s = Math.ceil(ms / 1000);
  const parts: [number, string][] = [
    [Math.floor(s / 86400), 'd'],
    [Math.floor((s % 86400) / 3600), 'h'],
    [Math.floor((s % 3600) / 60), 'm'],
    [s % 60, 's'],
  ];
  const first = parts.findIndex(([n]) => n > 0);
  return parts
    .slice(first, first + 2)
    .filter(([n]) => n > 0)
    .map(([n, u]) => `${n}${u}`)
    .join(' ');
}

/** Tags typed as "a, b,c" → ["a","b","c"]. */
export const parseTags = (text: string): string[] =>
  text
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');

export type PolicyRule = { readonly prefix: string; readonly policy: string; readonly read_through?: boolean };

/** The rule that applies to a key: the longest matching prefix (as the server resolves it). */
export function policyFor(key: string, rules: readonly PolicyRule[]): PolicyRule | null {
  let best: PolicyRule | null = null;
  for (const rule of rules) if (key.startsWith(rule.prefix) && (best === null || rule.prefix.length > best.prefix.length)) best = rule;
  return best;
}
