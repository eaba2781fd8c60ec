// The regex guard refuses patterns that nest unbounded quantifiers (they can
// backtrack for exponential time on a shard) and lets ordinary patterns pass;
// through compileFilter, a refused pattern is 400 BAD_QUERY.

import { describe, expect, it } from 'vitest';
import { MantisError } from '../../shared/errors.js';
import { compileFilter } from '../../shared/docs/filter.js';
import { nestsUnboundedQuantifiers } from '../../shared/docs/regex-guard.js';

describe('regex guard', () => {
  it('refuses nested unbounded quantifiers', () => {
    for (const p of ['(a+)+', '^(a+)+$', '(a*)*', '(a|b+)*', '((ab)+)+', '(\\d+)+$', '(.*a){20}', '(?:x+y?)+', '(a+){2,}', '([a-z]+\\s?)*$', '^(a+){2,12}$', '^(a+){15}$', '^(a|aa)+$', '(a|a)*b', '^(\\w|\\d)+$', '(?<n>x|xy)+']) {
      expect(nestsUnboundedQuantifiers(p), p).toBe(true);
    }
  });

  it('passes ordinary patterns', () => {
    for (const p of ['a+b+', '(ab)+', '(a|b)*', '^[a-z]+@[a-z]+\\.com$', '(\\d{1,3}\\.){3}\\d{1,3}', '(a+)?', '^(https?://)?[\\w.-]+(:\\d+)?$', '[(+*)]+', '\\(a+\\)+', 'x{2,5}', '', '(foo|bar|baz)+', '\\b(cat|dog)s?\\b', '^\\+?\\d{1,3}[- ]?\\d{3,14}$', '(\\w+)\\s\\1']) {
      expect(nestsUnboundedQuantifiers(p), p).toBe(false);
    }
  });

  it('answers BAD_QUERY from a filter, at compile time', () => {
    expect(() => compileFilter({ s: { $regex: '^(a+)+$' } })).toThrow(MantisError);
    expect(() => compileFilter({ s: { $regex: '^(a+)+$' } })).toThrow(/exponential/);
    expect(compileFilter({ s: { $regex: '^a+$' } })({ s: 'aaa' })).toBe(true);
  });
});
