// How a shard finds the documents a command is about: by _id, through a
// secondary index, or by scanning the collection in _id order. Every path
// hands the visitor the stored bytes of each candidate document once; the
// caller decodes, filters (always: index bounds are a superset) and decides
// when to stop. A collection scan can stop at a time budget and be resumed
// from the last key it visited (`resume`); id lookups and index scans run to
// the end in one turn (an index scan may meet one document several times
// through a multikey index, and only one turn can remember which it met).
// Runs inside a shard.

import { absoluteRange, docKey, docPrefix, idFromIndexKey } from '../../shared/docs/doc-keys.js';
import type { DocValue } from '../../shared/docs/doc-types.js';
import type { IndexDef } from '../../shared/docs/index-entries.js';
import { planQuery, type QueryPlan } from '../../shared/docs/query-plan.js';
import type { Doc } from '../../shared/docs/doc-types.js';
import { MantisError } from '../../shared/errors.js';
import type { LsmStore } from '../lsm/index.js';
import { binaryToKey, keyToBinary } from '../store/memtable.js';
import { prefixEnd } from '../store/sorted-keys.js';
import type { CollState } from './doc-catalog.js';

export type ScanCounters = { keysExamined: number; docsExamined: number };

/** visit(docKey as binary string, stored bytes): false stops the scan. */
export type DocVisitor = (key: string, bytes: Uint8Array) => boolean;

export type ScanOutcome = {
  /** Where a collection scan stopped (the last key visited) when cut by the budget; null: done. */
  readonly resume: Uint8Array | null;
};

const CHECK_EVERY = 64;

export function choosePlan(coll: CollState, filter: Doc, sort: Doc | null, hint: string | null): QueryPlan {
  if (hint === '$natural') return { kind: 'collscan' };
  if (hint !== null) {
    const index = coll.info.indexes.find((i) => i.name === hint);
    if (index === undefined) throw new MantisError('BAD_QUERY', `hint: the collection has no index named "${hint}"`);
    if (index.state !== 'ready') throw new MantisError('BAD_QUERY', `hint: index "${hint}" is still being built`);
    return planQuery(filter, sort, [index]);
  }
  return planQuery(filter, sort, coll.ready);
}

export function planName(plan: QueryPlan): { plan: string; index: string | null } {
  switch (plan.kind) {
    case 'collscan':
      return { plan: 'COLLSCAN', index: null };
    case 'idlookup':
      return { plan: 'IDHACK', index: '_id_' };
    case 'ixscan':
      return { plan: 'IXSCAN', index: plan.index.name };
    default:
      return { plan: 'COLLSCAN', index: null };
  }
}

/**
 * Runs the plan. `resume` continues a collection scan after that key; `startAfterId` starts a
 * collection scan after that _id (cursor paging in _id order).
 */
export function scanPlan(
  store: LsmStore,
  coll: CollState,
  plan: QueryPlan,
  nowMs: number,
  budgetMs: number,
  resume: Uint8Array | null,
  counters: ScanCounters,
  visit: DocVisitor,
  startAfterId?: DocValue,
): ScanOutcome {
  const collId = coll.info.id;
  switch (plan.kind) {
    case 'idlookup': {
      for (const id of plan.ids) {
        const key = docKey(collId, id);
        counters.keysExamined++;
        const entry = store.get(key, nowMs);
        if (entry === undefined) continue;
        counters.docsExamined++;
        if (!visit(keyToBinary(key), entry.value)) break;
      }
      return { resume: null };
    }
    case 'ixscan':
      return scanIndex(store, collId, plan.index, plan.ranges, nowMs, counters, visit);
    case 'collscan':
      return scanCollection(store, collId, nowMs, budgetMs, resume ?? (startAfterId === undefined ? null : docKey(collId, startAfterId)), counters, visit);
    default:
      return scanCollection(store, collId, nowMs, budgetMs, resume, counters, visit);
  }
}

function scanCollection(store: LsmStore, collId: number, nowMs: number, budgetMs: number, after: Uint8Array | null, counters: ScanCounters, visit: DocVisitor): ScanOutcome {
  const prefix = keyToBinary(docPrefix(collId));
  const deadline = budgetMs > 0 ? Date.now() + budgetMs : Infinity;
  let last: string | null = null;
  let cut = false;
  let n = 0;
  const start = after === null ? prefix : keyToBinary(after);
  store.scan(start, after !== null, prefixEnd(prefix), nowMs, (key, value) => {
    counters.docsExamined++;
    last = key;
    if (!visit(key, value)) return false;
    if (++n % CHECK_EVERY === 0 && Date.now() >= deadline) {
      cut = true;
      return false;
    }
    return true;
  });
  return { resume: cut && last !== null ? binaryToKey(last) : null };
}

function scanIndex(
  store: LsmStore,
  collId: number,
  index: IndexDef,
  ranges: readonly (readonly [Uint8Array, Uint8Array])[],
  nowMs: number,
  counters: ScanCounters,
  visit: DocVisitor,
): ScanOutcome {
  const seen = new Set<string>();
  let stopped = false;
  for (const range of ranges) {
    if (stopped) break;
    const [start, end] = absoluteRange(collId, index.id, range);
    store.scan(keyToBinary(start), false, keyToBinary(end), nowMs, (indexKey) => {
      counters.keysExamined++;
      const id = idFromIndexKey(binaryToKey(indexKey), index);
      const key = docKey(collId, id);
      const bin = keyToBinary(key);
      if (seen.has(bin)) return true;
      seen.add(bin);
      const entry = store.get(key, nowMs);
      if (entry === undefined) return true; // an entry without its document cannot happen; skip rather than fail a read
      counters.docsExamined++;
      if (!visit(bin, entry.value)) {
        stopped = true;
        return false;
      }
      return true;
    });
  }
  return { resume: null };
}
