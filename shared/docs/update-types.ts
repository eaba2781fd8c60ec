// The types the update modules share: the update tree (MongoDB's UpdateNode
// tree: one object node per path prefix, array nodes for `$[]`/`$[<id>]`,
// leaves holding one compiled operator), the leaf operator contract, and the
// per-document state an application carries.

import type { DocValue } from './doc-types.js';

/** A leaf's answer meaning "remove this field". */
export const REMOVE: unique symbol = Symbol('remove');
export type Removed = typeof REMOVE;

/** Where a leaf applies: the concrete path and what contains it. */
export interface Site {
  readonly path: readonly string[];
  /** The value lives directly in an array (so $unset writes null). */
  readonly parentIsArray: boolean;
  /** Some container on the path is an array ($rename refuses that). */
  readonly throughArray: boolean;
}

/** Per-document state of one application. */
export interface Run {
  readonly isInsert: boolean;
  readonly now: Date;
  readonly matchedArrayIndex: number | undefined;
  /** The input document's _id, for messages. */
  readonly docId: DocValue | undefined;
  /** $rename sources (dotted) → their value in the input document. */
  readonly renameSources: ReadonlyMap<string, DocValue | undefined>;
  readonly changed: string[];
  readonly removed: string[];
}

/**
 * One compiled operator at one path. `existing` returns `cur` itself for a
 * no-op (callers compare by reference); `create` returns undefined when
 * there is nothing to create.
 *
 * missing: what happens when the path does not exist — 'create' calls
 * create(); 'skip' is a no-op even when the path cannot exist ($unset);
 * 'skip-if-viable' is a no-op unless a scalar or array blocks the path
 * ($pull, $pop: MongoDB refuses those).
 */
export interface LeafOp {
  readonly name: string;
  readonly missing: 'create' | 'skip' | 'skip-if-viable';
  readonly insertOnly: boolean;
  existing(cur: DocValue, site: Site, run: Run): DocValue | Removed;
  create(site: Site, run: Run): DocValue | undefined;
}

export interface LeafNode {
  readonly kind: 'leaf';
  readonly op: LeafOp;
}

export interface ObjectNode {
  readonly kind: 'object';
  readonly children: Map<string, UpdateNode>;
  /** The child for a positional `$` part. */
  positional: UpdateNode | undefined;
  /** `children` in application order (compareFieldNames); set by finishTree. */
  entries: Array<[string, UpdateNode]>;
}

/** Tests one array element against an arrayFilters condition. */
export type ElementMatcher = (element: DocValue) => boolean;

export interface ArrayNode {
  readonly kind: 'array';
  /** '' for `$[]`, else the arrayFilters identifier. */
  readonly children: Map<string, UpdateNode>;
  readonly matchers: ReadonlyMap<string, ElementMatcher>;
  entries: Array<[string, UpdateNode]>;
}

export type UpdateNode = LeafNode | ObjectNode | ArrayNode;

/** What blocks a missing path from being created: a scalar or an array. */
export interface Blocker {
  readonly field: string;
  readonly holderPath: readonly string[];
  readonly holder: DocValue;
}
