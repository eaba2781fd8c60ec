// TagIndex and the ?tags= parser: replace semantics, both directions of the
// index staying in step, every bound with the error it raises, and a random
// run against a plain model.
import { describe, expect, it } from 'vitest';
import { parseTags, TAG_LIMITS, TagError, TagIndex } from '../../src/cache/tag-index.js';
import { Xorshift32 } from '../unit/support/prng.js';

function thrown(fn: () => unknown): TagError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(TagError);
    return error as TagError;
  }
  throw new Error('expected a TagError');
}

describe('parseTags', () => {
  it('splits a comma-separated list, drops repeats, and reads an empty value as no tags', () => {
    expect(parseTags('a,b')).toEqual(['a', 'b']);
    expect(parseTags('user:42,team/7,a,user:42')).toEqual(['user:42', 'team/7', 'a']);
    expect(parseTags('')).toEqual([]);
    expect(parseTags('~!@#$%^&*()_+-={}[]|\\:;"\'<>.?/`')).toHaveLength(1);
  });

  it('refuses empty tags, spaces, commas, control and non-ASCII characters, with the position', () => {
    for (const raw of ['a,,b', ',a', 'a,', 'a b', 'a\tb', 'é', 'a\u007f', '\u0000']) {
      const error = thrown(() => parseTags(raw));
      expect(error.code).toBe('INVALID_PARAMETER');
    }
    expect(thrown(() => parseTags('ok,a b')).message).toBe('tags[1] has U+0020 at 1; tags are printable ASCII without spaces or commas');
    expect(thrown(() => parseTags('a,,b')).message).toContain('tags[1] is empty');
  });

  it('bounds the length of a tag and the number of tags', () => {
    const longest = 'x'.repeat(TAG_LIMITS.tag_bytes_max);
    expect(parseTags(longest)).toEqual([longest]);
    expect(thrown(() => parseTags(longest + 'x')).message).toContain(`the limit is ${TAG_LIMITS.tag_bytes_max}`);
    const most = Array.from({ length: TAG_LIMITS.tags_per_key_max }, (_, i) => `t${i}`);
    expect(parseTags(most.join(','))).toEqual(most);
    expect(thrown(() => parseTags([...most, 'one-more'].join(','))).code).toBe('INVALID_PARAMETER');
    expect(thrown(() => parseTags(','.repeat(100_000))).code).toBe('INVALID_PARAMETER');
    // Repeats do not count against the bound.
    expect(parseTags([...most, ...most].join(','))).toEqual(most);
  });
});

describe('TagIndex', () => {
  it('replaces the tags of a key and keeps both directions in step', () => {
    const index = new TagIndex();
    index.tag('k1', ['a', 'b']);
    index.tag('k2', ['b', 'c', 'b']);
    expect(index.keysOf('b')).toEqual(['k1', 'k2']);
    expect(index.tagsOf('k2')).toEqual(['b', 'c']);
    index.tag('k1', ['c']);
    expect(index.keysOf('a')).toEqual([]);
    expect(index.keysOf('b')).toEqual(['k2']);
    expect(index.keysOf('c')).toEqual(['k2', 'k1']);
    expect(index.tagsOf('k1')).toEqual(['c']);
    expect([index.size, index.tagCount]).toEqual([2, 2]);
    index.tag('k2', []);
    expect(index.tagsOf('k2')).toEqual([]);
    expect(index.untag('k1')).toBe(true);
    expect(index.untag('k1')).toBe(false);
    expect([index.size, index.tagCount]).toEqual([0, 0]);
    expect(index.keysOf('c')).toEqual([]);
  });

  it('checks tags given as a list too, and changes nothing when it refuses', () => {
    const index = new TagIndex();
    index.tag('k', ['a']);
    expect(thrown(() => index.tag('k', ['b', 'bad tag'])).code).toBe('INVALID_PARAMETER');
    expect(thrown(() => index.tag('k', ['b', 7 as unknown as string])).code).toBe('INVALID_PARAMETER');
    expect(thrown(() => index.tag('k', Array.from({ length: 33 }, (_, i) => `t${i}`))).code).toBe('INVALID_PARAMETER');
    expect(index.tagsOf('k')).toEqual(['a']);
    expect(index.keysOf('b')).toEqual([]);
  });

  it('refuses a new key beyond maxKeys with TAG_LIMIT, but still retags and untags the tagged ones', () => {
    const index = new TagIndex({ maxKeys: 2 });
    index.tag('k1', ['a']);
    index.tag('k2', ['a']);
    const error = thrown(() => index.tag('k3', ['a']));
    expect(error.code).toBe('TAG_LIMIT');
    expect(error.status).toBe(507);
    expect(index.keysOf('a')).toEqual(['k1', 'k2']);
    index.tag('k2', ['b']);
    index.untag('k1');
    index.tag('k3', ['a']);
    expect(index.keysOf('a')).toEqual(['k3']);
    expect(thrown(() => new TagIndex({ maxKeys: 0 })).code).toBe('INVALID_PARAMETER');
  });

  it('matches a plain model over a random run', () => {
    const rng = new Xorshift32(0x7a9_1dec);
    const index = new TagIndex({ maxKeys: 40 });
    const model = new Map<string, string[]>();
    const tagsPool = Array.from({ length: 12 }, (_, i) => `t${i}`);
    for (let step = 0; step < 5000; step++) {
      const key = `k${rng.int(50)}`;
      if (rng.int(4) === 0) {
        index.untag(key);
        model.delete(key);
        continue;
      }
      const tags = Array.from({ length: rng.int(5) }, () => tagsPool[rng.int(tagsPool.length)]);
      const unique = [...new Set(tags)];
      if (unique.length > 0 && !model.has(key) && model.size >= 40) {
        expect(thrown(() => index.tag(key, tags)).code).toBe('TAG_LIMIT');
        continue;
      }
      index.tag(key, tags);
      model.delete(key);
      if (unique.length > 0) model.set(key, unique);
    }
    expect(index.size).toBe(model.size);
    for (const tag of tagsPool) {
      const expected = [...model].filter(([, tags]) => tags.includes(tag)).map(([key]) => key);
      expect(index.keysOf(tag)).toEqual(expected);
    }
    for (const [key, tags] of model) expect(index.tagsOf(key)).toEqual(tags);
  });
});
