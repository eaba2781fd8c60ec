// Which shard holds a document: the server's own placement (the document key's
// slot through the slot map), so a test can put documents on chosen shards
// and know a case really crosses shards.

import { docKey } from '../../shared/docs/doc-keys.js';
import { buildSlotMap, shardOfKey } from '../../shared/slot.js';

/** The shard of the document whose _id is `id` (a string or number _id) among `shards`. */
export function shardOfId(id: string | number, shards: number): number {
  // The collection id is part of the key but not of the slot: any id will do.
  return shardOfKey(buildSlotMap(shards), docKey(1, id));
}

/** `count` string _ids `${prefix}${n}` on each shard: result[shard] lists that shard's ids. */
export function idsPerShard(prefix: string, shards: number, count: number): string[][] {
  const map = buildSlotMap(shards);
  const byShard: string[][] = Array.from({ length: shards }, () => []);
  for (let n = 0; byShard.some((ids) => ids.length < count); n++) {
    const id = `${prefix}${n}`;
    const shard = shardOfKey(map, docKey(1, id));
    if (byShard[shard].length < count) byShard[shard].push(id);
  }
  return byShard;
}

/** `count` string _ids alternating over the shards (id i on shard i % shards). */
export function idsAcrossShards(prefix: string, shards: number, count: number): string[] {
  const byShard = idsPerShard(prefix, shards, Math.ceil(count / shards));
  return Array.from({ length: count }, (_, i) => byShard[i % shards][Math.floor(i / shards)]);
}
