// src/kv/kv-input.ts (client input validation) and mergeSorted from src/kv/kv-service.ts.
import { describe, expect, it } from 'vitest';
import { MantisError, type ErrorCode } from '../../shared/errors.js';
import { LIMITS } from '../../shared/limits.js';
import {
  contentTypeOf,
  encodeCursor,
  expiryFromTtl,
  keyFromBytes,
  keyFromPath,
  keyFromString,
  parseListParams,
} from '../../src/kv/kv-input.js';
import { mergeSorted } from '../../src/kv/kv-service.js';
import { Xorshift32 } from './support/prng.js';

const NOW = 1_700_000_000_000;

function codeOf(fn: () => unknown): ErrorCode | 'no error' | 'not a MantisError' {
  try {
    fn();
  } catch (error) {
    return error instanceof MantisError ? error.code : 'not a MantisError';
  }
  return 'no error';
}

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('utf8');
const params = (query: string): URLSearchParams => new URLSearchParams(query);

describe('keyFromPath', () => {
  it('percent-decodes to UTF-8 bytes', () => {
    expect(text(keyFromPath('user%3A1'))).toBe('user:1');
    expect(text(keyFromPath('a/b/c'))).toBe('a/b/c');
    expect(Array.from(keyFromPath('%C3%A9'))).toEqual([0xc3, 0xa9]);
    expect(Array.from(keyFromPath('%00'))).toEqual([0]);
    expect(text(keyFromPath('%F0%9F%98%80'))).toBe('😀');
    expect(text(keyFromPath('a+b'))).toBe('a+b');
  });

  it('rejects an empty key and malformed percent-encoding with INVALID_KEY', () => {
    expect(codeOf(() => keyFromPath(''))).toBe('INVALID_KEY');
    expect(codeOf(() => keyFromPath('%ZZ'))).toBe('INVALID_KEY');
    expect(codeOf(() => keyFromPath('%FF'))).toBe('INVALID_KEY');
    expect(codeOf(() => keyFromPath('abc%'))).toBe('INVALID_KEY');
    expect(codeOf(() => keyFromPath('%C3'))).toBe('INVALID_KEY');
    expect(codeOf(() => keyFromPath('%ED%A0%80'))).toBe('INVALID_KEY'); // an encoded lone surrogate
  });

  it('limits the key to 1024 bytes after decoding, counting UTF-8 bytes', () => {
    expect(keyFromPath('k'.repeat(1024)).length).toBe(1024);
    expect(codeOf(() => keyFromPath('k'.repeat(1025)))).toBe('KEY_TOO_LARGE');
    // 3 percent-escapes per byte: long raw text, but only 1024 bytes decoded
    expect(keyFromPath('%41'.repeat(1024)).length).toBe(1024);
    // "é" is 2 bytes: 512 of them fit, 513 do not, though the string is only 513 chars
    expect(keyFromPath(encodeURIComponent('é'.repeat(512))).length).toBe(1024);
    expect(codeOf(() => keyFromPath(encodeURIComponent('é'.repeat(513))))).toBe('KEY_TOO_LARGE');
    expect(codeOf(() => keyFromPath('é'.repeat(513)))).toBe('KEY_TOO_LARGE');
    // 4-byte characters: 256 fit exactly
    expect(keyFromPath(encodeURIComponent('😀'.repeat(256))).length).toBe(1024);
    expect(codeOf(() => keyFromPath(encodeURIComponent('😀'.repeat(256) + 'x')))).toBe('KEY_TOO_LARGE');
  });

  it('the error carries the HTTP status', () => {
    try {
      keyFromPath('k'.repeat(2000));
      expect.fail('no error');
    } catch (error) {
      expect(error).toBeInstanceOf(MantisError);
      if (error instanceof MantisError) expect(error.status).toBe(400);
    }
  });
});

describe('keyFromString and keyFromBytes', () => {
  it('validate type, emptiness, Unicode and size', () => {
    expect(text(keyFromString('ok'))).toBe('ok');
    expect(codeOf(() => keyFromString(''))).toBe('INVALID_KEY');
    expect(codeOf(() => keyFromString(42))).toBe('INVALID_KEY');
    expect(codeOf(() => keyFromString(null))).toBe('INVALID_KEY');
    expect(codeOf(() => keyFromString('a\ud800b'))).toBe('INVALID_KEY');
    expect(codeOf(() => keyFromString('é'.repeat(513)))).toBe('KEY_TOO_LARGE');
    expect(keyFromBytes(Uint8Array.of(0xff)).length).toBe(1);
    expect(codeOf(() => keyFromBytes(new Uint8Array(0)))).toBe('INVALID_KEY');
    expect(codeOf(() => keyFromBytes(new Uint8Array(1025)))).toBe('KEY_TOO_LARGE');
  });
});

describe('expiryFromTtl', () => {
  it('is 0 (never) when absent', () => {
    expect(expiryFromTtl(undefined, NOW)).toBe(0);
    expect(expiryFromTtl(null, NOW)).toBe(0);
  });

  it('accepts whole seconds as numbers or digit strings', () => {
    expect(expiryFromTtl(60, NOW)).toBe(NOW + 60_000);
    expect(expiryFromTtl('60', NOW)).toBe(NOW + 60_000);
    expect(expiryFromTtl(1, NOW)).toBe(NOW + 1000);
    expect(expiryFromTtl(LIMITS.ttl_seconds_max, NOW)).toBe(NOW + LIMITS.ttl_seconds_max * 1000);
  });

  it('rejects zero, negatives, fractions, non-numbers and too-long TTLs with INVALID_TTL', () => {
    const bad: unknown[] = [0, -1, 1.5, 'abc', '0', '-1', '1.5', '1e3', ' 60', '60s', '0x10', Number.NaN,
      Number.POSITIVE_INFINITY, LIMITS.ttl_seconds_max + 1, String(LIMITS.ttl_seconds_max + 1), true, {}, [60]];
    for (const ttl of bad) expect(codeOf(() => expiryFromTtl(ttl, NOW)), JSON.stringify(ttl) ?? String(ttl)).toBe('INVALID_TTL');
  });
});

describe('contentTypeOf', () => {
  it('defaults to application/octet-stream and keeps printable ASCII up to 255 bytes', () => {
    expect(contentTypeOf(undefined)).toBe('application/octet-stream');
    expect(contentTypeOf(null)).toBe('application/octet-stream');
    expect(contentTypeOf('')).toBe('application/octet-stream');
    expect(contentTypeOf('application/json; charset=utf-8')).toBe('application/json; charset=utf-8');
    expect(contentTypeOf('a'.repeat(255))).toBe('a'.repeat(255));
  });

  it('rejects too long, control characters and non-ASCII with INVALID_CONTENT_TYPE', () => {
    for (const bad of ['a'.repeat(256), 'text/plain\n', 'text\tplain', 'text/plain\x7f', 'tëxt/plain', 'text/\u{1f600}']) {
      expect(codeOf(() => contentTypeOf(bad)), JSON.stringify(bad)).toBe('INVALID_CONTENT_TYPE');
    }
  });
});

describe('parseListParams', () => {
  it('has defaults', () => {
    const p = parseListParams(params(''));
    expect(p.prefix.length).toBe(0);
    expect(p.limit).toBe(LIMITS.list_limit_default);
    expect(p.offset).toBe(0);
    expect(p.cursor).toBeNull();
  });

  it('parses prefix as UTF-8, limit, offset and a base64url cursor', () => {
    const cursorKey = Uint8Array.of(0x00, 0xff, 0x61, 0xfe);
    const p = parseListParams(params(`prefix=${encodeURIComponent('ключ/')}&limit=7&cursor=${encodeCursor(cursorKey)}`));
    expect(text(p.prefix)).toBe('ключ/');
    expect(p.limit).toBe(7);
    expect(Array.from(p.cursor ?? [])).toEqual(Array.from(cursorKey));
    expect(parseListParams(params('offset=25')).offset).toBe(25);
    expect(parseListParams(params(`offset=${LIMITS.list_offset_max}`)).offset).toBe(LIMITS.list_offset_max);
    expect(parseListParams(params('limit=&offset=')).limit).toBe(LIMITS.list_limit_default);
  });

  it('caps limit at 1000', () => {
    expect(parseListParams(params('limit=1000')).limit).toBe(1000);
    expect(parseListParams(params('limit=1001')).limit).toBe(1000);
    expect(parseListParams(params('limit=999999')).limit).toBe(1000);
    expect(parseListParams(params('limit=1')).limit).toBe(1);
  });

  it('rejects bad numbers with INVALID_PARAMETER', () => {
    const bad = ['limit=0', 'limit=-5', 'limit=abc', 'limit=1.5', 'limit=1e3', 'limit=%2B5', 'limit=99999999999999999999',
      'offset=-1', 'offset=x', `offset=${LIMITS.list_offset_max + 1}`, 'offset=2.0'];
    for (const query of bad) expect(codeOf(() => parseListParams(params(query))), query).toBe('INVALID_PARAMETER');
  });

  it('rejects a cursor together with an offset, and cursors this server could not have issued', () => {
    expect(codeOf(() => parseListParams(params('cursor=YQ&offset=5')))).toBe('INVALID_PARAMETER');
    expect(codeOf(() => parseListParams(params('offset=5&cursor=YQ')))).toBe('INVALID_PARAMETER');
    expect(codeOf(() => parseListParams(params('cursor=a%2Fb')))).toBe('INVALID_PARAMETER'); // "a/b": not base64url
    expect(codeOf(() => parseListParams(params('cursor=YQ==')))).toBe('INVALID_PARAMETER'); // padding is not base64url
    expect(codeOf(() => parseListParams(params('cursor=A')))).toBe('INVALID_PARAMETER'); // decodes to no bytes
    expect(codeOf(() => parseListParams(params(`cursor=${encodeCursor(new Uint8Array(1025))}`)))).toBe('INVALID_PARAMETER');
    expect(parseListParams(params(`cursor=${encodeCursor(new Uint8Array(1024))}`)).cursor?.length).toBe(1024);
  });

  it('rejects a prefix longer than a key could be', () => {
    expect(codeOf(() => parseListParams(params(`prefix=${'p'.repeat(1025)}`)))).toBe('INVALID_PARAMETER');
    expect(codeOf(() => parseListParams(params(`prefix=${encodeURIComponent('é'.repeat(513))}`)))).toBe('INVALID_PARAMETER');
    expect(parseListParams(params(`prefix=${'p'.repeat(1024)}`)).prefix.length).toBe(1024);
  });
});

describe('mergeSorted', () => {
  const b = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'utf8'));
  const strings = (keys: Uint8Array[]): string[] => keys.map(text);

  it('merges by UTF-8 byte order, not UTF-16 order', () => {
    // U+FFFF is EF BF BF; U+10000 is F0 90 80 80. In UTF-16 U+10000 (D800 DC00) sorts first.
    expect('\u{10000}' < '\uffff').toBe(true);
    expect(strings(mergeSorted([[b('\u{10000}')], [b('\uffff')]]))).toEqual(['\uffff', '\u{10000}']);
    expect(strings(mergeSorted([[b('\uffff')], [b('\u{10000}')]]))).toEqual(['\uffff', '\u{10000}']);
    expect(strings(mergeSorted([[b('Z'), b('é')], [b('a')], [b('\u{1f600}'), b('\u{10ffff}')], [b('\ufb01')]]))).toEqual([
      'Z', 'a', 'é', '\ufb01', '\u{1f600}', '\u{10ffff}',
    ]);
  });

  it('handles no lists, empty lists, one list, and prefixes of each other', () => {
    expect(mergeSorted([])).toEqual([]);
    expect(mergeSorted([[], []])).toEqual([]);
    expect(strings(mergeSorted([[b('a'), b('b')]]))).toEqual(['a', 'b']);
    expect(strings(mergeSorted([[b('ab')], [b('a'), b('abc')], []]))).toEqual(['a', 'ab', 'abc']);
  });

  it('equals concatenate-then-sort-by-bytes for random sorted binary lists', () => {
    const rng = new Xorshift32(0x6e7);
    for (let round = 0; round < 200; round++) {
      const lists: Uint8Array[][] = Array.from({ length: rng.range(1, 8) }, () =>
        Array.from({ length: rng.range(0, 30) }, () => rng.bytes(rng.range(0, 4)).map((x) => x & 0x83)).sort((x, y) => Buffer.compare(x, y)),
      );
      const want = lists.flat().sort((x, y) => Buffer.compare(x, y)).map((k) => Array.from(k));
      expect(mergeSorted(lists).map((k) => Array.from(k))).toEqual(want);
    }
  });
});
