// The document store's messages between the router and a shard. They ride the
// ring as one request kind (`doc`) and one response kind (`doc-result`) whose
// body is a DocCommand / DocAnswer encoded with the document codec
// (doc-codec.ts), so filters, ids and documents keep their BSON types.
//
// Every scan-based command is sliced: a shard works on it for at most
// `budget_ms` (and at most the command's document limit), then answers with a
// `resume` position (the storage key to go on after) or null when done, and
// the router sends the command again with that position. A shard is therefore
// never held for long by one big scan, and the router merges slices exactly as
// it merges shards.

import type { Doc, DocValue } from './doc-types.js';
import type { IndexDef } from './index-entries.js';
import { decodeValue, encodeValue } from './doc-codec.js';

/** A collection's catalog entry, kept identical on every shard (the router pushes it). */
export type CollectionInfo = {
  readonly name: string;
  /** Storage id: keys of the collection start with it; a re-created collection gets a new one. */
  readonly id: number;
  /** Raised on every change; the highest version wins when shards disagree after a crash. */
  readonly version: number;
  readonly createdAtMs: number;
  /** `{ $jsonSchema: … }` or null. */
  readonly validator: Doc | null;
  readonly indexes: readonly IndexDef[];
  readonly nextIndexId: number;
};

/** A change to one document, reported by the shard that applied it (change streams). */
export type DocChange = {
  readonly op: 'insert' | 'update' | 'replace' | 'delete';
  readonly coll: string;
  readonly id: DocValue;
  /** The document after the change (insert, update, replace); absent for delete. */
  readonly doc?: Doc;
  /** For update: fields set (dotted paths → new value) and removed. */
  readonly updated?: Doc;
  readonly removed?: readonly string[];
};

/** Per-shard plan and counters (explain, and the router's stats). */
export type ExecStats = {
  /** 'COLLSCAN' | 'IXSCAN' | 'IDHACK' */
  readonly plan: string;
  readonly index: string | null;
  readonly keysExamined: number;
  readonly docsExamined: number;
  readonly returned: number;
};

export type FindCommand = {
  readonly op: 'find';
  readonly coll: string;
  readonly filter: Doc;
  /** null: storage order (_id order per shard). */
  readonly sort: Doc | null;
  readonly projection: Doc | null;
  /** The most matching documents to answer in total (skip + limit of the query; 0 = no limit). */
  readonly limit: number;
  /** Cursor paging: answer only documents whose [sort key…, _id] is after this tuple (null: from the start). */
  readonly after: DocValue[] | null;
  /** Slice position from the previous answer (null: start). */
  readonly resume: Uint8Array | null;
  readonly budget_ms: number;
  /** Use this index by name, or '$natural' for a collection scan (explain / tests); null: the planner chooses. */
  readonly hint: string | null;
};

export type DocCommand =
  | { readonly op: 'catalog-put'; readonly info: CollectionInfo }
  /** Removes the catalog entry; the collection's keys are deleted in the background. */
  | { readonly op: 'catalog-drop'; readonly name: string; readonly id: number }
  | { readonly op: 'catalog-get' }
  /**
   * All-or-nothing on this shard: a duplicate _id (or a document the validator refuses) refuses
   * every document of the command. Documents carry their _id already.
   */
  | {
      readonly op: 'insert';
      readonly coll: string;
      readonly docs: readonly Doc[];
      /**
       * Instead of `docs` (then empty): each document's stored form (encodeDoc) and its _id. The
       * shard stores the bytes as they are and decodes them only to build index entries.
       */
      readonly encoded?: readonly Uint8Array[];
      readonly ids?: readonly DocValue[];
    }
  | FindCommand
  /**
   * Applies `update` to matching documents, each atomically (a slice is one shard turn). `ids`
   * restricts it to those _ids (update-one after the router chose the document); the filter is
   * always checked again on the current document.
   * `returnDoc`: answer the matched document before or after the change (find_and_modify; ids
   * must then hold one id).
   */
  | {
      readonly op: 'update';
      readonly coll: string;
      readonly filter: Doc;
      readonly update: Doc | Doc[];
      readonly arrayFilters: Doc[] | null;
      readonly multi: boolean;
      readonly ids: DocValue[] | null;
      readonly returnDoc: 'before' | 'after' | null;
      readonly resume: Uint8Array | null;
      readonly budget_ms: number;
    }
  /** Replaces one document by _id if it still matches filter; with upsert, creates it when absent. */
  | { readonly op: 'replace'; readonly coll: string; readonly id: DocValue; readonly filter: Doc; readonly replacement: Doc; readonly upsert: boolean; readonly returnDoc: 'before' | 'after' | null }
  | {
      readonly op: 'delete';
      readonly coll: string;
      readonly filter: Doc;
      readonly multi: boolean;
      readonly ids: DocValue[] | null;
      /** find_and_modify with remove: answer the removed document. */
      readonly returnDoc: boolean;
      readonly resume: Uint8Array | null;
      readonly budget_ms: number;
    }
  /**
   * The shard half of a pipeline: `stages` (the leading $match/$project/$addFields/$set/$unset)
   * over the collection, then the partial `$group` when `group` is not null.
   */
  | {
      readonly op: 'aggregate';
      readonly coll: string;
      readonly stages: Doc[];
      readonly group: Doc | null;
      readonly resume: Uint8Array | null;
      readonly budget_ms: number;
      /** The pipeline's $$NOW (ShardPlan.nowMs), so every shard agrees on it; absent: the shard's clock. */
      readonly now_ms?: number;
    }
  /** Documents and bytes of a collection on this shard, and index build progress. */
  /** counts false: only the index build states (cheap: index builds poll it), counts and bytes 0. */
  | { readonly op: 'coll-stats'; readonly coll: string; readonly counts?: boolean };

export type DocAnswer =
  | { readonly op: 'ok' }
  /** dropped: ids of collections this shard dropped (their keys may still be being deleted): a drop wins over any entry of that id. */
  | { readonly op: 'catalog'; readonly collections: CollectionInfo[]; readonly dropped?: number[] }
  | { readonly op: 'inserted'; readonly count: number; readonly changes: DocChange[] }
  | {
      readonly op: 'found';
      readonly docs: Doc[];
      /** Per document: its sort key values then its _id (for merging shards and cursors). */
      readonly keys: DocValue[][];
      readonly resume: Uint8Array | null;
      readonly stats: ExecStats;
    }
  | {
      readonly op: 'updated';
      readonly matched: number;
      readonly modified: number;
      /** The document asked for by returnDoc, or null; upserted: the _id inserted by a replace upsert. */
      readonly doc: Doc | null;
      readonly upserted: DocValue | null;
      readonly changes: DocChange[];
      readonly resume: Uint8Array | null;
    }
  | { readonly op: 'deleted'; readonly deleted: number; readonly doc: Doc | null; readonly changes: DocChange[]; readonly resume: Uint8Array | null }
  /** docs: the stage output, or partial group states when the command had a group. */
  | { readonly op: 'aggregated'; readonly docs: Doc[]; readonly resume: Uint8Array | null; readonly stats: ExecStats }
  | {
      readonly op: 'coll-stats';
      readonly count: number;
      readonly bytes: number;
      /** Per index: entries on this shard and whether its background build is done here. */
      /** error: why the index's background build cannot finish on this shard (a document it cannot hold). */
      readonly indexes: { readonly name: string; readonly entries: number; readonly built: boolean; readonly error?: string }[];
    };

export function encodeDocCommand(command: DocCommand): Uint8Array {
  return encodeValue(command as unknown as DocValue);
}

export function decodeDocCommand(bytes: Uint8Array): DocCommand {
  return decodeValue(bytes) as unknown as DocCommand;
}

export function encodeDocAnswer(answer: DocAnswer): Uint8Array {
  return encodeValue(answer as unknown as DocValue);
}

export function decodeDocAnswer(bytes: Uint8Array): DocAnswer {
  return decodeValue(bytes) as unknown as DocAnswer;
}
