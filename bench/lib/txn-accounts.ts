// The transaction benchmark's accounts: a set of bank accounts in hash-tagged
// pairs ("lo:{g17}a", "lo:{g17}b" share the slot of "g17", hence a shard),
// spread evenly over the shards, and the two kinds of transfer drawn from it:
// single-shard (the two accounts of one pair) and cross-shard (two accounts on
// different shards). Which shard owns a key comes from the server's own slot
// map (shared/slot.ts), built for the shard count the server is started with.

import { buildSlotMap, shardOfKey } from '../../shared/slot.js';

export type Contention = 'low' | 'high';
export type TransferKind = 'single' | 'cross';

export type Group = { readonly tag: string; readonly shard: number; readonly accounts: readonly [string, string] };

export type AccountSet = {
  readonly contention: Contention;
  readonly prefix: string;
  readonly groups: readonly Group[];
  /** Every account, in group order. */
  readonly accounts: readonly string[];
  /** shard → its accounts. */
  readonly byShard: readonly (readonly string[])[];
  readonly shardOf: ReadonlyMap<string, number>;
  readonly initialBalance: number;
};

export type Transfer = { readonly from: string; readonly to: string; readonly amount: number };

const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');

/**
 * `accountCount / 2` pairs named `<prefix>{<tagLetter><i>}a|b`, chosen so each
 * shard owns as nearly the same number of pairs as the counts allow (the
 * first pairs found on each shard, in i order, up to its quota).
 */
export function buildAccountSet(contention: Contention, accountCount: number, shards: number, initialBalance: number): AccountSet {
  if (!Number.isInteger(accountCount) || accountCount < 4 || accountCount % 2 !== 0) throw new Error(`${contention} contention: the account count must be an even integer ≥ 4, got ${accountCount}`);
  const groupCount = accountCount / 2;
  if (shards < 2) throw new Error('cross-shard transfers need at least 2 shards (--shards)');
  if (groupCount < shards) throw new Error(`${contention} contention: ${accountCount} accounts are too few to put a pair on each of ${shards} shards`);
  const map = buildSlotMap(shards);
  const prefix = contention === 'low' ? 'lo:' : 'hi:';
  const letter = contention === 'low' ? 'g' : 'h';
  const quota = Array.from({ length: shards }, (_, s) => Math.floor(groupCount / shards) + (s < groupCount % shards ? 1 : 0));
  const taken = new Array<number>(shards).fill(0);
  const groups: Group[] = [];
  for (let i = 0; groups.length < groupCount; i++) {
    if (i > groupCount * 1000) throw new Error('cannot spread the account pairs over the shards');
    const tag = `${letter}${i}`;
    const a = `${prefix}{${tag}}a`;
    const b = `${prefix}{${tag}}b`;
    const shard = shardOfKey(map, utf8(a));
    if (shardOfKey(map, utf8(b)) !== shard) throw new Error(`hash tags: ${a} and ${b} map to different shards`);
    if (taken[shard] >= quota[shard]) continue;
    taken[shard]++;
    groups.push({ tag, shard, accounts: [a, b] });
  }
  const byShard: string[][] = Array.from({ length: shards }, () => []);
  const shardOf = new Map<string, number>();
  const accounts: string[] = [];
  for (const g of groups) {
    for (const key of g.accounts) {
      byShard[g.shard].push(key);
      shardOf.set(key, g.shard);
      accounts.push(key);
    }
  }
  return { contention, prefix, groups, accounts, byShard, shardOf, initialBalance };
}

/** Draws transfers of 1..100 units: single-shard within one random pair, cross-shard between two shards. */
export function transferPicker(set: AccountSet, kind: TransferKind, next: () => number): () => Transfer {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)];
  const amount = (): number => 1 + Math.floor(next() * 100);
  if (kind === 'single') {
    return () => {
      const g = pick(set.groups);
      const flip = next() < 0.5;
      return { from: g.accounts[flip ? 1 : 0], to: g.accounts[flip ? 0 : 1], amount: amount() };
    };
  }
  const shards = set.byShard.length;
  return () => {
    const from = pick(set.accounts);
    const fromShard = set.shardOf.get(from) as number;
    // another shard, uniformly, then an account on it uniformly
    const other = (fromShard + 1 + Math.floor(next() * (shards - 1))) % shards;
    return { from, to: pick(set.byShard[other]), amount: amount() };
  };
}
