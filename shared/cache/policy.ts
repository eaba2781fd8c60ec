// Cache policies by key prefix, resolved the same way on the router and in
// the shards. A rule names one policy; the longest matching prefix wins; keys
// no rule matches use the default (write-through, with read-through on).
//
//   write-through  a write updates storage and the cache before its ack
//   write-back     a write updates the cache (and the memtable) and is acked
//                  at once; the WAL gets it within --write-back-ms, so a crash
//                  can lose the writes acknowledged in that window
//   write-around   a write goes to storage only; any cached copy is dropped
//   read-through   write-through writes, and a miss loads the value from
//                  storage into the cache (also on by default; a rule can turn
//                  it off with "read_through": false)
//   cache-only     the cache alone: never logged or stored, lost on restart
//                  or eviction, like Redis without persistence; a miss is a 404
//
// "read_through" (optional, boolean) says whether a GET that misses the cache
// loads what storage returned; it defaults to true for every policy but
// cache-only, which has no storage to load from.

export const CACHE_POLICY_NAMES = ['write-through', 'write-back', 'write-around', 'read-through', 'cache-only'] as const;
export type CachePolicyName = (typeof CACHE_POLICY_NAMES)[number];

export type PolicyRule = {
  readonly prefix: string;
  readonly policy: CachePolicyName;
  readonly read_through?: boolean;
};

export type WriteMode = 'through' | 'back' | 'around' | 'cache-only';

export type ResolvedPolicy = {
  readonly write: WriteMode;
  readonly readThrough: boolean;
};

export const DEFAULT_POLICY: ResolvedPolicy = Object.freeze({ write: 'through', readThrough: true });

/** At most this many rules (each a prefix compare per write when matching). */
export const POLICY_RULES_MAX = 256;

export function resolveRule(rule: PolicyRule): ResolvedPolicy {
  const write: WriteMode =
    rule.policy === 'write-back' ? 'back' : rule.policy === 'write-around' ? 'around' : rule.policy === 'cache-only' ? 'cache-only' : 'through';
  return { write, readThrough: write === 'cache-only' ? false : (rule.read_through ?? true) };
}

export class PolicyError extends Error {}

/**
 * Checks an untrusted list of rules (JSON from a file or a request body).
 * Throws PolicyError naming the first bad rule. `validPrefix` checks a prefix
 * the way keys are checked (returns a message, or null when fine).
 */
export function parsePolicyRules(input: unknown, validPrefix: (prefix: string) => string | null): PolicyRule[] {
  if (!Array.isArray(input)) throw new PolicyError('"policies" must be an array of {prefix, policy, read_through?}');
  if (input.length > POLICY_RULES_MAX) throw new PolicyError(`at most ${POLICY_RULES_MAX} policy rules, got ${input.length}`);
  const seen = new Set<string>();
  return input.map((raw, i) => {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new PolicyError(`policies[${i}] must be an object`);
    const { prefix, policy, read_through: readThrough, ...rest } = raw as Record<string, unknown>;
    const extra = Object.keys(rest);
    if (extra.length > 0) throw new PolicyError(`policies[${i}] has an unknown field "${extra[0]}"`);
    if (typeof prefix !== 'string') throw new PolicyError(`policies[${i}].prefix must be a string`);
    const bad = prefix === '' ? null : validPrefix(prefix);
    if (bad !== null) throw new PolicyError(`policies[${i}].prefix: ${bad}`);
    if (seen.has(prefix)) throw new PolicyError(`policies[${i}].prefix "${prefix}" appears twice`);
    seen.add(prefix);
    if (typeof policy !== 'string' || !(CACHE_POLICY_NAMES as readonly string[]).includes(policy)) {
      throw new PolicyError(`policies[${i}].policy ${JSON.stringify(policy)} is not one of ${CACHE_POLICY_NAMES.join(', ')}`);
    }
    if (readThrough !== undefined && typeof readThrough !== 'boolean') throw new PolicyError(`policies[${i}].read_through must be a boolean`);
    if (policy === 'cache-only' && readThrough === true) throw new PolicyError(`policies[${i}]: a cache-only prefix has no storage to read through to`);
    return readThrough === undefined ? { prefix, policy: policy as CachePolicyName } : { prefix, policy: policy as CachePolicyName, read_through: readThrough };
  });
}

const latin1 = (key: Uint8Array): string => Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');

/**
 * The rules as a lookup: longest matching prefix wins. Prefixes are compared
 * as UTF-8 bytes (held as latin1 strings, one char per byte).
 */
export class PolicyTable {
  private readonly rules: readonly { readonly prefix: string; readonly resolved: ResolvedPolicy }[];

  constructor(readonly source: readonly PolicyRule[] = []) {
    this.rules = source
      .map((rule) => ({ prefix: Buffer.from(rule.prefix, 'utf8').toString('latin1'), resolved: resolveRule(rule) }))
      .sort((a, b) => b.prefix.length - a.prefix.length);
  }

  /** The policy of a key given as its UTF-8 bytes. */
  resolve(key: Uint8Array): ResolvedPolicy {
    if (this.rules.length === 0) return DEFAULT_POLICY;
    const k = latin1(key);
    for (const rule of this.rules) if (k.startsWith(rule.prefix)) return rule.resolved;
    return DEFAULT_POLICY;
  }
}
