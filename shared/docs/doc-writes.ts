// The storage writes of one document change: the document's own key and the
// difference in its local secondary-index entries. The shard applies them for
// plain commands and the router buffers them in a transaction; both get the
// same keys, so a document and its index entries are always written together
// (one WAL record on the owning shard) and never drift apart after a crash.
// Global unique-index entries live on other shards and are the router's
// business (src/docs), not this function's.

import type { Doc } from './doc-types.js';
import type { CollectionInfo } from './doc-protocol.js';
import { encodeDoc } from './doc-codec.js';
import { docKey } from './doc-keys.js';
import { indexWrites } from './index-entries.js';

/** Content type of stored documents (KV-style entries under internal keys). */
export const DOC_CONTENT_TYPE = 'application/x-mantis-doc';
/** Index entries carry everything in their key; their value is empty. */
export const INDEX_ENTRY_VALUE = new Uint8Array(0);

export type StorageWrite = { readonly key: Uint8Array; readonly value: Uint8Array };

export type DocWrites = { readonly puts: StorageWrite[]; readonly deletes: Uint8Array[] };

/**
 * REQUIRES: oldDoc and newDoc (when both given) have the same _id; at least one is given.
 * ENSURES: applying deletes then puts turns the stored state of oldDoc into that of newDoc.
 */
export function docWrites(info: CollectionInfo, oldDoc: Doc | null, newDoc: Doc | null, encoded?: Uint8Array): DocWrites {
  const puts: StorageWrite[] = [];
  const deletes: Uint8Array[] = [];
  const id = (newDoc ?? oldDoc)?._id;
  if (id === undefined) throw new Error('assertion failed: docWrites needs a document with an _id');
  const key = docKey(info.id, id);
  if (newDoc === null) deletes.push(key);
  else puts.push({ key, value: encoded ?? encodeDoc(newDoc) });
  for (const def of info.indexes) {
    const change = indexWrites(def, info.id, oldDoc, newDoc);
    for (const k of change.deletes) deletes.push(k);
    for (const k of change.puts) puts.push({ key: k, value: INDEX_ENTRY_VALUE });
  }
  return { puts, deletes };
}
