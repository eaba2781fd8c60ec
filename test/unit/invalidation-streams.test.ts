// What the invalidation streams accept from a client: the SSE prefix query
// parameter and WebSocket control messages.

import { describe, expect, it } from 'vitest';
import { MantisError } from '../../shared/errors.js';
import { parseControl, prefixFromQuery } from '../../src/http/invalidation-streams.js';

const text = (s: string): ArrayBuffer => new TextEncoder().encode(s).buffer as ArrayBuffer;

function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof MantisError) return error.code;
    throw error;
  }
  return 'OK';
}

describe('prefixFromQuery', () => {
  it('decodes the first prefix parameter strictly', () => {
    expect(prefixFromQuery('')).toBe('');
    expect(prefixFromQuery('other=1')).toBe('');
    expect(prefixFromQuery('prefix=user%3A')).toBe('user:');
    expect(prefixFromQuery('prefix=user:')).toBe('user:');
    expect(prefixFromQuery('a=b&prefix=a+b%2Bc&prefix=x')).toBe('a b+c');
    expect(prefixFromQuery('prefix')).toBe('');
    expect(prefixFromQuery('prefix=%C3%A9')).toBe('é');
    expect(prefixFromQuery(`prefix=${'%C3%A9'.repeat(512)}`)).toBe('é'.repeat(512));
  });

  it('refuses bad percent-encoding, bytes that are not UTF-8 and prefixes over 1024 bytes', () => {
    for (const q of ['prefix=%', 'prefix=%G0', 'prefix=%C3', 'prefix=%FF', 'prefix=%ED%A0%80', `prefix=${'a'.repeat(1025)}`, `prefix=${'%C3%A9'.repeat(513)}`]) {
      expect(codeOf(() => prefixFromQuery(q)), q.slice(0, 30)).toBe('INVALID_PARAMETER');
    }
  });
});

describe('parseControl', () => {
  it('reads subscribe and unsubscribe', () => {
    expect(parseControl(text('{"subscribe":"invalidations","prefix":"user:"}'), false)).toEqual({ action: 'subscribe', prefix: 'user:' });
    expect(parseControl(text('{"subscribe":"invalidations"}'), false)).toEqual({ action: 'subscribe', prefix: '' });
    expect(parseControl(text('{"prefix":"p","unsubscribe":"invalidations"}'), false)).toEqual({ action: 'unsubscribe', prefix: 'p' });
  });

  it('says what is wrong with anything else', () => {
    const cases: [ArrayBuffer, boolean, string][] = [
      [text('{"subscribe":"invalidations"}'), true, 'INVALID_PARAMETER'],
      [text('nope'), false, 'INVALID_JSON'],
      [new Uint8Array([0x22, 0xff, 0x22]).buffer, false, 'INVALID_JSON'],
      [text('null'), false, 'INVALID_PARAMETER'],
      [text('[]'), false, 'INVALID_PARAMETER'],
      [text('{"subscribe":"keys"}'), false, 'INVALID_PARAMETER'],
      [text('{"subscribe":1}'), false, 'INVALID_PARAMETER'],
      [text('{"subscribe":"invalidations","unsubscribe":"invalidations"}'), false, 'INVALID_PARAMETER'],
      [text('{"subscribe":"invalidations","prefix":["a"]}'), false, 'INVALID_PARAMETER'],
      [text('{"subscribe":"invalidations","x":1}'), false, 'INVALID_PARAMETER'],
      [text('{"toString":"invalidations"}'), false, 'INVALID_PARAMETER'],
      [text(`{"subscribe":"invalidations","prefix":"${'a'.repeat(1025)}"}`), false, 'INVALID_PARAMETER'],
      [text(`{"subscribe":"invalidations","prefix":"${'a'.repeat(1000)}","p":"${'b'.repeat(3100)}"}`), false, 'INVALID_PARAMETER'],
    ];
    for (const [message, binary, code] of cases) expect(codeOf(() => parseControl(message, binary))).toBe(code);
  });
});
