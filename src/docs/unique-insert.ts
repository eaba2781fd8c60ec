// Inserts into a collection with a unique index, outside a client transaction:
// one-shot transactions (TxnManager.execute) whose conditions say that every
// document key and every global unique entry the documents take does not
// exist yet. All the reads go out at once and the conditions are validated
// again at commit, so two racing inserts of one value cannot both commit
// (see unique-entries.ts). A failed condition is found out afterwards: a
// taken _id or a value a live document holds is 409 DUPLICATE_KEY; a stale
// entry (its owner no longer holds the value) is taken over by trying again
// with the condition "the entry still holds what we read".

import { MantisError } from '../../shared/errors.js';
import { LIMITS } from '../../shared/limits.js';
import { decodeDoc } from '../../shared/docs/doc-codec.js';
import { docKey } from '../../shared/docs/doc-keys.js';
import type { CollectionInfo } from '../../shared/docs/doc-protocol.js';
import type { Doc } from '../../shared/docs/doc-types.js';
import { DOC_CONTENT_TYPE, docWrites } from '../../shared/docs/doc-writes.js';
import type { ShardPool } from '../router/index.js';
import type { Condition, ExecuteOp } from '../txn/txn-manager.js';
import { namedConflict, printableKey, type DocTxnManager } from './doc-txn-manager.js';
import { docName, uniqueName } from './txn-doc-ops.js';
import type { DocChange } from '../../shared/docs/doc-protocol.js';
import { binaryKey, duplicateId, duplicateKey, ownerBytes, ownerOf, stillHolds, uniqueEntriesOf, type UniqueEntry } from './unique-entries.js';

/** Attempts per chunk: stale entries taken over, or conflicts with other writers. */
const ATTEMPTS_MAX = 8;

type Claim = { readonly key: Uint8Array; readonly what: { kind: 'id'; doc: Doc } | { kind: 'unique'; entry: UniqueEntry } };

export class UniqueInserts {
  constructor(
    private readonly pool: ShardPool,
    private readonly txns: DocTxnManager,
    private readonly publish: (changes: DocChange[]) => void,
  ) {}

  /** REQUIRES: docs prepared. Inserts in chunks that fit a transaction (earlier chunks stay when a later one fails). */
  async insert(info: CollectionInfo, docs: readonly Doc[], deadlineMs: number): Promise<void> {
    let chunk: Doc[] = [];
    let writes = 0;
    for (const doc of docs) {
      const cost = 1 + 2 * info.indexes.length;
      if (chunk.length > 0 && writes + cost > LIMITS.txn_writes_max / 2) {
        await this.insertChunk(info, chunk, deadlineMs);
        chunk = [];
        writes = 0;
      }
      chunk.push(doc);
      writes += cost;
    }
    if (chunk.length > 0) await this.insertChunk(info, chunk, deadlineMs);
  }

  private async insertChunk(info: CollectionInfo, docs: readonly Doc[], deadlineMs: number): Promise<void> {
    const claims = new Map<string, Claim>();
    const ops: ExecuteOp[] = [];
    for (const doc of docs) {
      const key = docKey(info.id, doc._id);
      const bin = binaryKey(key);
      if (claims.has(bin)) throw duplicateId(info.name, doc._id);
      claims.set(bin, { key, what: { kind: 'id', doc } });
      for (const [ubin, entry] of uniqueEntriesOf(info, doc)) {
        if (claims.has(ubin)) throw duplicateKey(info.name, entry);
        claims.set(ubin, { key: entry.key, what: { kind: 'unique', entry } });
        ops.push({ kind: 'put', key: entry.key, contentType: DOC_CONTENT_TYPE, expiresAtMs: 0, value: ownerBytes(doc._id) });
      }
      const w = docWrites(info, null, doc);
      for (const put of w.puts) ops.push({ kind: 'put', key: put.key, contentType: DOC_CONTENT_TYPE, expiresAtMs: 0, value: Uint8Array.from(put.value) });
    }
    // Stale entries taken over: the condition becomes "still holds these bytes".
    const staleValues = new Map<string, Uint8Array>();
    for (let attempt = 1; ; attempt++) {
      const conditions: Condition[] = [...claims].map(([bin, c]) => {
        const stale = staleValues.get(bin);
        return stale === undefined ? { key: c.key, kind: 'exists', exists: false } : { key: c.key, kind: 'value', value: stale };
      });
      try {
        await this.txns.execute('snapshot', conditions, ops, deadlineMs);
        this.publish(docs.map((doc): DocChange => ({ op: 'insert', coll: info.name, id: doc._id, doc })));
        return;
      } catch (error) {
        if (!(error instanceof MantisError) || error.code !== 'TXN_CONFLICT') throw error;
        if (attempt >= ATTEMPTS_MAX) throw this.named(info, claims, error);
        if (error.details?.reason === 'condition') await this.diagnose(info, claims, staleValues, error.details.key === undefined ? undefined : String(error.details.key), deadlineMs);
      }
    }
  }

  /** A conflict on one of the claimed keys, by name. */
  private named(info: CollectionInfo, claims: Map<string, Claim>, error: MantisError): MantisError {
    const printable = error.details?.key === undefined ? undefined : String(error.details.key);
    const claim = printable === undefined ? undefined : [...claims.values()].find((c) => printableKey(c.key) === printable);
    if (claim === undefined || printable === undefined) return error;
    return namedConflict(error, printable, claim.what.kind === 'id' ? docName(info, claim.what.doc._id) : uniqueName(info, claim.what.entry));
  }

  /** Which condition failed: a duplicate (thrown) or a stale unique entry (noted, to be taken over). */
  private async diagnose(info: CollectionInfo, claims: Map<string, Claim>, staleValues: Map<string, Uint8Array>, printable: string | undefined, deadlineMs: number): Promise<void> {
    // The refusal names its key; if the name cannot be matched (another form of it), look at all of them.
    const named = [...claims].filter(([, c]) => printableKey(c.key) === printable);
    const failed = named.length > 0 ? named : [...claims];
    const current = await Promise.all(failed.map(([, claim]) => this.plainGet(claim.key, deadlineMs)));
    for (const [i, [bin, claim]] of failed.entries()) {
      const held = current[i];
      const expected = staleValues.get(bin);
      if (held === null || (expected !== undefined && Buffer.compare(held, expected) === 0)) continue; // changed since: try again
      if (claim.what.kind === 'id') throw duplicateId(info.name, claim.what.doc._id);
      const owner = ownerOf(held);
      const ownerDoc = await this.plainGet(docKey(info.id, owner), deadlineMs);
      if (stillHolds(info, claim.what.entry, ownerDoc === null ? null : decodeDoc(ownerDoc))) throw duplicateKey(info.name, claim.what.entry);
      staleValues.set(bin, held);
    }
  }

  /** A stored value read outside any transaction (the latest committed), or null. */
  private async plainGet(key: Uint8Array, deadlineMs: number): Promise<Uint8Array | null> {
    const response = await this.pool.shardFor(key).call({ kind: 'get', key }, deadlineMs);
    if (response.kind === 'value') return response.value;
    if (response.kind === 'missing') return null;
    if (response.kind === 'error') throw new MantisError(response.code, response.message);
    throw new Error(`assertion failed: unexpected shard response ${response.kind} to a get`);
  }
}
