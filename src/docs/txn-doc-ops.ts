// Documents read and written inside a transaction (the Mantis-Txn header, and
// the router's own short transactions for collections with a unique index —
// see unique-entries.ts). Reads go through the TxnManager at the
// transaction's snapshot (its own buffered writes included) and are filtered
// on the router; writes are the same storage writes the shard would make
// (docWrites: the document and its local index entries) plus the global
// unique entries, buffered in the transaction until it commits.
//
// A write operation is planned first (every read and check: duplicate _id,
// unique values, validation) and buffered only when the whole plan holds, so
// an operation that fails leaves the transaction as it was.

import { MantisError } from '../../shared/errors.js';
import { valuesEqual } from '../../shared/docs/compare.js';
import { decodeDoc } from '../../shared/docs/doc-codec.js';
import { docKey, docPrefix } from '../../shared/docs/doc-keys.js';
import type { CollectionInfo } from '../../shared/docs/doc-protocol.js';
import type { PublishedChange } from './change-hub.js';
import type { Doc, DocValue } from '../../shared/docs/doc-types.js';
import { DOC_CONTENT_TYPE, docWrites } from '../../shared/docs/doc-writes.js';
import type { DocTxnManager, KeyName } from './doc-txn-manager.js';
import { stringifyEjson } from '../../shared/docs/ejson.js';
import { binaryKey, duplicateId, duplicateKey, ownerBytes, ownerOf, stillHolds, uniqueEntriesOf, type UniqueEntry } from './unique-entries.js';

/** Most documents a scan inside a transaction reads (a find without an _id condition reads the collection). */
export const TXN_SCAN_DOCS_MAX = 10_000;

/** The storage writes and change events of one planned operation. */
export class WritePlan {
  readonly puts: { key: Uint8Array; value: Uint8Array }[] = [];
  readonly deletes: Uint8Array[] = [];
  readonly changes: PublishedChange[] = [];
  /** Unique entries this operation takes (by binary key → owner _id) and gives up. */
  readonly claimed = new Map<string, DocValue>();
  readonly released = new Set<string>();
  /** Documents this operation writes, by binary doc key (null: deleted), so later steps see them. */
  readonly written = new Map<string, Doc | null>();
}

export class TxnDocOps {
  constructor(private readonly txns: DocTxnManager) {}

  /**
   * One document at the transaction's snapshot (or as this plan left it), or null. forWrite (the
   * default): a read a write may be planned from, validated at commit at read_committed too.
   */
  async readDoc(txn: string, info: CollectionInfo, id: DocValue, deadlineMs: number, plan: WritePlan | null = null, forWrite = true): Promise<Doc | null> {
    const key = docKey(info.id, id);
    const planned = plan?.written.get(binaryKey(key));
    if (planned !== undefined) return planned;
    this.txns.nameKey(txn, key, docName(info, id));
    const read = await this.txns.get(txn, key, deadlineMs, forWrite);
    return read === null ? null : decodeDoc(read.entry.value);
  }

  /** Documents with these _ids that exist, in the given order. */
  async readDocs(txn: string, info: CollectionInfo, ids: readonly DocValue[], deadlineMs: number): Promise<Doc[]> {
    const docs = await Promise.all(ids.map((id) => this.readDoc(txn, info, id, deadlineMs)));
    return docs.filter((d): d is Doc => d !== null);
  }

  /** Every document of the collection in the transaction's view, in _id order. */
  async allDocs(txn: string, info: CollectionInfo, deadlineMs: number): Promise<Doc[]> {
    const { keys, more } = await this.txns.list(txn, docPrefix(info.id), TXN_SCAN_DOCS_MAX, deadlineMs);
    if (more) {
      throw new MantisError('INVALID_PARAMETER', `inside a transaction a query without an _id condition reads the whole collection, at most ${TXN_SCAN_DOCS_MAX} documents; "${info.name}" has more`);
    }
    const reads = await Promise.all(keys.map((key) => this.txns.get(txn, key, deadlineMs)));
    const docs: Doc[] = [];
    for (const read of reads) if (read !== null) docs.push(decodeDoc(read.entry.value));
    return docs;
  }

  /** Plans an insert: refused (DUPLICATE_KEY) when the _id or a unique value is taken. */
  async planInsert(txn: string, info: CollectionInfo, doc: Doc, plan: WritePlan, deadlineMs: number): Promise<void> {
    const bin = binaryKey(docKey(info.id, doc._id));
    const existing = plan.written.has(bin) ? plan.written.get(bin) : await this.readDoc(txn, info, doc._id, deadlineMs);
    if (existing !== null && existing !== undefined) throw duplicateId(info.name, doc._id);
    await this.planChange(txn, info, null, doc, plan, deadlineMs);
    plan.changes.push({ op: 'insert', coll: info.name, id: doc._id, doc });
  }

  /** Plans oldDoc → newDoc (either null: insert, delete) with its unique entries; no change event. */
  async planChange(txn: string, info: CollectionInfo, oldDoc: Doc | null, newDoc: Doc | null, plan: WritePlan, deadlineMs: number): Promise<void> {
    const id = (newDoc ?? oldDoc)?._id as DocValue;
    const before = uniqueEntriesOf(info, oldDoc);
    const after = uniqueEntriesOf(info, newDoc);
    for (const [bin, entry] of after) {
      if (!before.has(bin)) await this.claim(txn, info, id, bin, entry, plan, deadlineMs);
    }
    for (const [bin, entry] of before) {
      if (!after.has(bin)) await this.release(txn, info, id, bin, entry, plan, deadlineMs);
    }
    const writes = docWrites(info, oldDoc, newDoc);
    const name = docName(info, id);
    for (const put of writes.puts) {
      plan.puts.push({ key: put.key, value: Uint8Array.from(put.value) });
      this.txns.nameKey(txn, put.key, name);
    }
    for (const key of writes.deletes) {
      plan.deletes.push(key);
      this.txns.nameKey(txn, key, name);
    }
    plan.written.set(binaryKey(docKey(info.id, id)), newDoc);
  }

  /** Buffers a plan in the transaction. */
  async apply(txn: string, plan: WritePlan, deadlineMs: number): Promise<void> {
    const putKeys = new Set(plan.puts.map((p) => binaryKey(p.key)));
    for (const key of plan.deletes) if (!putKeys.has(binaryKey(key))) await this.txns.delete(txn, key, deadlineMs);
    for (const put of plan.puts) await this.txns.put(txn, put.key, DOC_CONTENT_TYPE, 0, put.value);
    this.txns.recordChanges(txn, plan.changes);
  }

  private async claim(txn: string, info: CollectionInfo, id: DocValue, bin: string, entry: UniqueEntry, plan: WritePlan, deadlineMs: number): Promise<void> {
    const claimedBy = plan.claimed.get(bin);
    if (claimedBy !== undefined && !valuesEqual(claimedBy, id)) throw duplicateKey(info.name, entry);
    let seen: Uint8Array | null = null;
    if (claimedBy === undefined && !plan.released.has(bin)) {
      this.txns.nameKey(txn, entry.key, uniqueName(info, entry));
      const read = await this.txns.get(txn, entry.key, deadlineMs, true);
      if (read !== null) {
        seen = read.entry.value;
        const owner = ownerOf(read.entry.value);
        // Stale when its owner (as this transaction sees it) no longer holds the value.
        if (!valuesEqual(owner, id) && stillHolds(info, entry, await this.readDoc(txn, info, owner, deadlineMs, plan))) throw duplicateKey(info.name, entry);
      }
    }
    this.txns.nameKey(txn, entry.key, { ...uniqueName(info, entry), owner: ownerBytes(id), seen });
    plan.claimed.set(bin, id);
    plan.released.delete(bin);
    plan.puts.push({ key: entry.key, value: ownerBytes(id) });
  }


  private async release(txn: string, info: CollectionInfo, id: DocValue, bin: string, entry: UniqueEntry, plan: WritePlan, deadlineMs: number): Promise<void> {
    // Giving a value up cannot lose a race for it: a conflict on this key is a plain conflict
    // (retried), never DUPLICATE_KEY.
    this.txns.nameKey(txn, entry.key, { ...uniqueName(info, entry), duplicate: null });
    const claimedBy = plan.claimed.get(bin);
    if (claimedBy !== undefined) {
      if (!valuesEqual(claimedBy, id)) return; // another document of this operation took it over
      plan.claimed.delete(bin);
      const at = plan.puts.findIndex((p) => binaryKey(p.key) === bin);
      if (at >= 0) plan.puts.splice(at, 1);
    } else {
      const read = await this.txns.get(txn, entry.key, deadlineMs, true);
      if (read === null || !valuesEqual(ownerOf(read.entry.value), id)) return; // not ours: leave it
    }
    plan.released.add(bin);
    plan.deletes.push(entry.key);
  }
}

/** How conflicts name a document's keys (the document and its local index entries). */
export function docName(info: CollectionInfo, id: DocValue): KeyName {
  return { text: `document ${stringifyEjson(id)} of collection "${info.name}"`, duplicate: null };
}

/** How conflicts name a global unique entry: another writer of the value won (DUPLICATE_KEY). */
export function uniqueName(info: CollectionInfo, entry: UniqueEntry): KeyName {
  const values = entry.index.keys.map(([path], i) => `${path}: ${stringifyEjson(entry.values[i] ?? null)}`).join(', ');
  return { text: `the value { ${values} } of unique index "${entry.index.name}" of collection "${info.name}"`, duplicate: duplicateKey(info.name, entry) };
}
