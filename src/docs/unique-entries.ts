// Global unique-index entries. A unique index is unique across the whole
// collection, not per shard: besides its local entries (next to the
// document, in the document's shard) every value a document holds in a
// unique index has one global entry, `uniqueKey(coll, index, values)`, placed
// by the value's own slot, whose stored value is the owning document's _id.
// Every write to a collection with a unique index runs as a transaction on
// the router (src/docs/txn-doc-ops.ts): it reads the entries of the values it
// is about to hold at its snapshot and writes them with the document, so two
// racing inserts of one value meet on the entry's shard and one of them
// fails to commit (first committer wins, or the two-phase commit's intents)
// and is answered 409 DUPLICATE_KEY after a re-read.
//
// An entry whose owner no longer holds the value (the shard's TTL sweeper
// deleted the document, or an index build raced an update) is stale: a
// writer that meets one checks the owner at its snapshot and takes the entry
// over when the owner does not hold the value any more.

import { MantisError } from '../../shared/errors.js';
import { decodeValue, encodeValue } from '../../shared/docs/doc-codec.js';
import type { CollectionInfo } from '../../shared/docs/doc-protocol.js';
import type { Doc, DocValue } from '../../shared/docs/doc-types.js';
import { stringifyEjson } from '../../shared/docs/ejson.js';
import { uniqueKey } from '../../shared/docs/doc-keys.js';
import { indexEntryValues, type IndexDef } from '../../shared/docs/index-entries.js';

export type UniqueEntry = { readonly key: Uint8Array; readonly index: IndexDef; readonly values: DocValue[] };

export function hasUniqueIndex(info: CollectionInfo): boolean {
  return info.indexes.some((i) => i.unique);
}

export const binaryKey = (key: Uint8Array): string => Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');

/** The global entries `doc` holds (by binary key); none for null. */
export function uniqueEntriesOf(info: CollectionInfo, doc: Doc | null): Map<string, UniqueEntry> {
  const entries = new Map<string, UniqueEntry>();
  if (doc === null) return entries;
  for (const index of info.indexes) {
    if (!index.unique) continue;
    for (const values of indexEntryValues(index, doc)) {
      const key = uniqueKey(info.id, index.id, values);
      entries.set(binaryKey(key), { key, index, values });
    }
  }
  return entries;
}

/** Whether `doc` (null: gone) still holds `entry`: if not, an entry naming it as owner is stale. */
export function stillHolds(info: CollectionInfo, entry: UniqueEntry, doc: Doc | null): boolean {
  return doc !== null && uniqueEntriesOf(info, doc).has(binaryKey(entry.key));
}

/** The stored value of an entry: its owner's _id (a copy: the codec's buffers are shared). */
export function ownerBytes(id: DocValue): Uint8Array {
  return Uint8Array.from(encodeValue(id));
}

export function ownerOf(bytes: Uint8Array): DocValue {
  const id = decodeValue(bytes);
  if (id === undefined) throw new Error('assertion failed: a unique entry without an owner');
  return id;
}

export function duplicateKey(coll: string, entry: UniqueEntry): MantisError {
  const shown = entry.index.keys.map(([path], i) => `${path}: ${stringifyEjson(entry.values[i] ?? null)}`).join(', ');
  return new MantisError('DUPLICATE_KEY', `E11000 duplicate key error collection: ${coll} index: ${entry.index.name} dup key: { ${shown} }`, { index: entry.index.name });
}

export function duplicateId(coll: string, id: DocValue): MantisError {
  return new MantisError('DUPLICATE_KEY', `E11000 duplicate key error collection: ${coll} index: _id_ dup key: { _id: ${stringifyEjson(id)} }`, { index: '_id_' });
}
