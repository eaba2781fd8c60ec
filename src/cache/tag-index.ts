// Tags on cache keys (PUT ?tags=a,b), for invalidating every key with a tag.
// Main thread, in memory only: tags describe cache entries, and the cache is
// empty after a restart, so there is nothing to make durable.
//
// Tags are 1..256 printable ASCII characters without space or ',' (a list
// travels as one comma-separated query parameter, and a space after a comma
// would otherwise make a different tag silently); at most 32 per key; at
// most maxKeys keys tagged (TAG_LIMIT beyond).

import { MantisError } from '../../shared/errors.js';

export const TAG_LIMITS = Object.freeze({
  /** INVALID_PARAMETER when crossed. */
  tags_per_key_max: 32,
  /** INVALID_PARAMETER when crossed (ASCII only, so bytes = characters). */
  tag_bytes_max: 256,
  /** Default of the maxKeys option: tagging one more key is TAG_LIMIT. */
  tagged_keys_max_default: 1_000_000,
});

export type TagErrorCode = 'INVALID_PARAMETER' | 'TAG_LIMIT';

export class TagError extends MantisError {
  declare readonly code: TagErrorCode;
  constructor(code: TagErrorCode, message: string) {
    super(code, message);
    this.name = 'TagError';
  }
}

/** The first character a tag may not hold, or -1. */
function badCharAt(tag: string): number {
  for (let i = 0; i < tag.length; i++) {
    const c = tag.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c === 0x2c) return i;
  }
  return -1;
}

/** Checks one tag (REQUIRES nothing: any value may come in). */
export function checkTag(tag: unknown, where = 'tag'): string {
  if (typeof tag !== 'string' || tag.length === 0) {
    throw new TagError('INVALID_PARAMETER', `${where} is empty; a tag is 1..${TAG_LIMITS.tag_bytes_max} characters`);
  }
  if (tag.length > TAG_LIMITS.tag_bytes_max) {
    throw new TagError('INVALID_PARAMETER', `${where} is ${tag.length} characters; the limit is ${TAG_LIMITS.tag_bytes_max}`);
  }
  const bad = badCharAt(tag);
  if (bad >= 0) {
    const code = tag.codePointAt(bad) ?? 0;
    throw new TagError(
      'INVALID_PARAMETER',
      `${where} has U+${code.toString(16).toUpperCase().padStart(4, '0')} at ${bad}; tags are printable ASCII without spaces or commas`,
    );
  }
  return tag;
}

/** A list of tags, checked and without repeats (first occurrence kept). */
export function checkTags(tags: readonly unknown[]): string[] {
  const unique = [...new Set(tags.map((tag, i) => checkTag(tag, `tags[${i}]`)))];
  if (unique.length > TAG_LIMITS.tags_per_key_max) {
    throw new TagError('INVALID_PARAMETER', `${unique.length} tags; a key takes at most ${TAG_LIMITS.tags_per_key_max}`);
  }
  return unique;
}

/** `?tags=a,b` (already percent-decoded) → ['a', 'b']; '' → []. Throws TagError INVALID_PARAMETER. */
export function parseTags(raw: string): string[] {
  if (raw === '') return [];
  const parts = raw.split(',');
  // Bound the work before checking each part: more parts than allowed is wrong anyway.
  if (parts.length > TAG_LIMITS.tags_per_key_max * 2) {
    throw new TagError('INVALID_PARAMETER', `${parts.length} tags; a key takes at most ${TAG_LIMITS.tags_per_key_max}`);
  }
  return checkTags(parts);
}

export type TagIndexOptions = { readonly maxKeys?: number };

export class TagIndex {
  private readonly tagsByKey = new Map<string, readonly string[]>();
  private readonly keysByTag = new Map<string, Set<string>>();
  private readonly maxKeys: number;

  constructor(options: TagIndexOptions = {}) {
    const maxKeys = options.maxKeys ?? TAG_LIMITS.tagged_keys_max_default;
    if (!Number.isSafeInteger(maxKeys) || maxKeys < 1) throw new TagError('INVALID_PARAMETER', `maxKeys must be a positive integer, got ${maxKeys}`);
    this.maxKeys = maxKeys;
  }

  /** Keys with at least one tag. */
  get size(): number {
    return this.tagsByKey.size;
  }

  /** Distinct tags in use. */
  get tagCount(): number {
    return this.keysByTag.size;
  }

  /**
   * The key's tags become exactly `tags` (checked, repeats dropped; [] is
   * untag). Throws TagError: INVALID_PARAMETER for a bad tag or too many,
   * TAG_LIMIT when the key is not tagged yet and maxKeys keys already are.
   * Nothing changes when it throws.
   */
  tag(key: string, tags: readonly string[]): void {
    const unique = checkTags(tags);
    if (unique.length === 0) {
      this.untag(key);
      return;
    }
    if (!this.tagsByKey.has(key) && this.tagsByKey.size >= this.maxKeys) {
      throw new TagError('TAG_LIMIT', `at most ${this.maxKeys} keys can carry tags; untag or delete some first`);
    }
    this.untag(key);
    this.tagsByKey.set(key, Object.freeze(unique));
    for (const tag of unique) {
      let keys = this.keysByTag.get(tag);
      if (keys === undefined) this.keysByTag.set(tag, (keys = new Set()));
      keys.add(key);
    }
  }

  /** Drops every tag of the key; false when it had none. */
  untag(key: string): boolean {
    const tags = this.tagsByKey.get(key);
    if (tags === undefined) return false;
    this.tagsByKey.delete(key);
    for (const tag of tags) {
      const keys = this.keysByTag.get(tag);
      keys?.delete(key);
      if (keys?.size === 0) this.keysByTag.delete(tag);
    }
    return true;
  }

  /** The keys carrying `tag`, in the order they were last tagged; [] for an unknown tag. */
  keysOf(tag: string): string[] {
    return [...(this.keysByTag.get(tag) ?? [])];
  }

  /** The key's tags as last given (repeats dropped); [] when it has none. */
  tagsOf(key: string): string[] {
    return [...(this.tagsByKey.get(key) ?? [])];
  }
}
