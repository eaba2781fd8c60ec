// The shard half of an aggregation pipeline: the leading document stages the
// router pushed down ($match first, planned like a find so an index can serve
// it), then the partial $group, over one budgeted slice of the collection.
// Partial group states cross the ring as documents; the router merges every
// slice of every shard. Runs inside a shard.

import { decodeDoc, decodeDocFields } from '../../shared/docs/doc-codec.js';
import type { DocAnswer, DocCommand } from '../../shared/docs/doc-protocol.js';
import type { Doc } from '../../shared/docs/doc-types.js';
import { compileFilter } from '../../shared/docs/filter.js';
import { compileShardHalf, fieldsNeeded } from '../../shared/docs/pipeline.js';
import type { LsmStore } from '../lsm/index.js';
import type { CollState } from './doc-catalog.js';
import { choosePlan, planName, scanPlan, type ScanCounters } from './doc-scan.js';

type AggregateCommand = Extract<DocCommand, { op: 'aggregate' }>;

const MATCH_ALL: Doc = {};

export function runShardAggregate(store: LsmStore, state: CollState, c: AggregateCommand, nowMs: number): DocAnswer {
  const first = c.stages[0];
  const leadingMatch = first !== undefined && Object.keys(first).length === 1 && '$match' in first ? (first.$match as Doc) : null;
  const rest = leadingMatch === null ? c.stages : c.stages.slice(1);
  const filter = leadingMatch ?? MATCH_ALL;
  const predicate = compileFilter(filter);
  const half = compileShardHalf(rest, c.group, { nowMs: c.now_ms ?? nowMs });
  const plan = choosePlan(state, filter, null, null);
  const counters: ScanCounters = { keysExamined: 0, docsExamined: 0 };
  const matched: Doc[] = [];
  // Decode only the fields the stages and group read (null: whole documents pass through).
  const needed = fieldsNeeded(c.stages, c.group);
  const fields = needed === null ? null : new Set(needed);
  const decode = fields === null ? decodeDoc : (bytes: Uint8Array) => decodeDocFields(bytes, fields);
  const outcome = scanPlan(store, state, plan, nowMs, c.budget_ms, c.resume, counters, (_key, bytes) => {
    const doc = decode(bytes);
    if (predicate(doc)) matched.push(doc);
    return true;
  });
  const docs = half(matched);
  return { op: 'aggregated', docs, resume: outcome.resume, stats: { ...planName(plan), ...counters, returned: docs.length } };
}

