// The document value model every part of the document store shares (router,
// shards, pool). Documents are plain JS objects whose leaves are these values;
// BSON's own types come from the `bson` package so EJSON and the stored form
// keep them. `undefined` never appears inside a document: it means "missing".
//
// Numbers: a JS number is a BSON double, or an int32 when it is an integer in
// int32 range ($type "int"); Int64 is a JS bigint ($type "long"); Decimal128 is
// bson's Decimal128 ($type "decimal"). Dates are JS Date. Regular expressions
// stored in documents are bson's BSONRegExp.

import type { Binary, BSONRegExp, Decimal128, ObjectId } from 'bson';

export type DocValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Date
  | ObjectId
  | Decimal128
  | Binary
  | BSONRegExp
  | DocValue[]
  | Doc;

export type Doc = { [field: string]: DocValue };

/** A compiled filter: true when the document matches. */
export type DocPredicate = (doc: Doc) => boolean;
