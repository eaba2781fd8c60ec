// Who may read and write which documents (issue 14): the permissions a
// request's body needs beyond its route (the collections an aggregation reads
// with $lookup, $unionWith or $graphLookup, or writes with $out or $merge) and
// row-level security, as PostgreSQL's, over the DocPolicy entries of the
// AuthStore (src/security/policy-types.ts).
//
// A collection has row-level security when at least one DocPolicy names it.
// For a principal that does not bypass it, the policies that apply to its
// roles and to the command (select, insert, update, delete; 'all' covers
// each) are permissive, OR-ed together:
//   - USING: which documents the command sees. A policy with `using: null`
//     sees every document. No applicable policy: no document.
//   - WITH CHECK: which documents the command may leave behind (an insert,
//     a replacement, an upsert, the post-image of an update); `check: null`
//     falls back to the policy's USING.
// A string value "$$CLAIMS.x" anywhere in a policy's filter (inside arrays
// too) stands for the caller's claim x ("$$CLAIMS.sub" for its subject). A
// policy whose filter names a claim the caller lacks matches nothing: its
// filter is dropped, never completed with null (`{tenant: null}` would match
// the documents without the field).
//
// Enforcement is a rewrite, so the policies reach the shards and their
// indexes as any filter does: the USING filter is AND-ed into the query's
// filter (`andFilter`, policy conditions first so they are evaluated before
// the caller's), an aggregation gets a leading $match and its foreign reads
// their collection's filter. The write checks run on the router over the
// documents about to be written (doc-service.ts routes such writes through
// the transactional machinery, which computes post-images before anything is
// written).

import { MantisError } from '../../shared/errors.js';
import { isDoc } from '../../shared/docs/bson-types.js';
import type { Doc, DocPredicate, DocValue } from '../../shared/docs/doc-types.js';
import { fromEjson } from '../../shared/docs/ejson.js';
import { compileFilter } from '../../shared/docs/filter.js';
import type { AuthStore } from '../security/auth-store.js';
import { claimText, policyApplies, type DocPolicy } from '../security/policy-types.js';
import { docsResource, SYSTEM, type Action, type Principal } from '../security/principal.js';

/** What createDocHandlers and changeSource are given when authentication is on. */
export type DocSecurity = { readonly store: AuthStore };

/** The commands a policy is written for (its 'all' covers each). */
export type RowCommand = 'select' | 'insert' | 'update' | 'delete';

const CLAIM_PREFIX = '$$CLAIMS.';

/** A filter that matches no document: `_id` in nothing (idsOfFilter reads it as "no shard holds a match"). */
export function matchNothing(): Doc {
  return { _id: { $in: [] } };
}

/** Whether a filter is matchNothing()'s. */
export function isMatchNothing(filter: Doc | null): boolean {
  if (filter === null) return false;
  const keys = Object.keys(filter);
  if (keys.length !== 1 || keys[0] !== '_id') return false;
  const cond = filter._id;
  return isDoc(cond) && Object.keys(cond).length === 1 && Array.isArray(cond.$in) && cond.$in.length === 0;
}

/** The DocPolicy entries naming a collection. */
export function collectionPolicies(store: AuthStore, coll: string): DocPolicy[] {
  const out: DocPolicy[] = [];
  for (const p of store.policies()) if (p.kind === 'docs' && p.collection === coll) out.push(p);
  return out;
}

/** Whether a collection has row-level security (at least one policy names it). */
export function hasRowSecurity(store: AuthStore, coll: string): boolean {
  return store.policies().some((p) => p.kind === 'docs' && p.collection === coll);
}

/**
 * The USING filter the principal's applicable policies give a command on a collection: null when
 * nothing is restricted (no principal, a principal that bypasses RLS, a collection without
 * policies, or an applicable policy that sees everything); else a filter document, which is
 * matchNothing() when no policy applies (or each applicable one names a claim the caller lacks).
 * Throws BAD_QUERY naming the policy when a policy's filter is not a valid filter.
 */
export function rlsFilterFor(store: AuthStore, principal: Principal | undefined, coll: string, command: RowCommand): Doc | null {
  return effectiveFilter(store, principal ?? SYSTEM, coll, command, 'using');
}

/**
 * The WITH CHECK filter for documents an insert or update leaves behind (each applicable policy's
 * check, else its USING): null when unrestricted; matchNothing() when nothing may be written.
 */
export function rlsCheckFilterFor(store: AuthStore, principal: Principal | undefined, coll: string, command: 'insert' | 'update'): Doc | null {
  return effectiveFilter(store, principal ?? SYSTEM, coll, command, 'check');
}

function effectiveFilter(store: AuthStore, principal: Principal, coll: string, command: RowCommand, which: 'using' | 'check'): Doc | null {
  if (principal.bypassRls) return null;
  const policies = collectionPolicies(store, coll);
  if (policies.length === 0) return null;
  const parts: Doc[] = [];
  for (const policy of policies) {
    if (!policyApplies(policy, principal.roles, command)) continue;
    const raw = which === 'check' ? (policy.check ?? policy.using) : policy.using;
    if (raw === null) return null; // this policy sees (or accepts) every document
    const filter = policyFilter(policy, raw, principal);
    if (filter !== null) parts.push(filter);
  }
  if (parts.length === 0) return matchNothing();
  return parts.length === 1 ? parts[0] : { $or: parts };
}

/** A policy's filter with the caller's claims in place; null when it names a claim the caller lacks. */
function policyFilter(policy: DocPolicy, raw: Readonly<Record<string, unknown>>, principal: Principal): Doc | null {
  let parsed: DocValue;
  try {
    parsed = fromEjson(raw);
  } catch (error) {
    throw badPolicy(policy, error);
  }
  if (!isDoc(parsed)) throw badPolicy(policy, new Error('the filter is not an object'));
  const filled = substituteClaims(parsed, principal);
  if (filled === MISSING_CLAIM) return null;
  try {
    compileFilter(filled as Doc);
  } catch (error) {
    throw badPolicy(policy, error);
  }
  return filled as Doc;
}

function badPolicy(policy: DocPolicy, error: unknown): MantisError {
  const message = error instanceof Error ? error.message : String(error);
  return new MantisError('BAD_QUERY', `row-level security policy "${policy.name}" on collection "${policy.collection}" is not a valid filter: ${message}`);
}

/** What substituteClaims answers when the caller lacks a claim the filter names. */
export const MISSING_CLAIM: unique symbol = Symbol('missing claim');

/** Every string "$$CLAIMS.x" replaced by the claim (recursively, arrays included); MISSING_CLAIM when one is absent. */
export function substituteClaims(value: DocValue, principal: Principal): DocValue | typeof MISSING_CLAIM {
  if (typeof value === 'string') {
    if (!value.startsWith(CLAIM_PREFIX)) return value;
    const name = value.slice(CLAIM_PREFIX.length);
    const claim = name === 'sub' ? principal.sub : claimText(principal.claims, name);
    return claim === undefined || claim === '' ? MISSING_CLAIM : claim;
  }
  if (Array.isArray(value)) {
    const out: DocValue[] = [];
    for (const item of value) {
      const v = substituteClaims(item, principal);
      if (v === MISSING_CLAIM) return MISSING_CLAIM;
      out.push(v);
    }
    return out;
  }
  if (isDoc(value)) {
    const out: Doc = {};
    for (const key of Object.keys(value)) {
      const v = substituteClaims(value[key], principal);
      if (v === MISSING_CLAIM) return MISSING_CLAIM;
      out[key] = v;
    }
    return out;
  }
  return value;
}

/**
 * filter AND rows (null or {}: filter as it is). The policy's conditions come first, so they are
 * evaluated before the caller's (an expression that throws on a document the caller cannot see
 * never runs on it); keys both use go under $and. The caller's top-level `_id` stays where
 * idsOfFilter finds it.
 */
export function andFilter(filter: Doc, rows: Doc | null): Doc {
  if (rows === null || Object.keys(rows).length === 0) return filter;
  if (Object.keys(filter).length === 0) return rows;
  if (!Object.keys(rows).some((k) => Object.hasOwn(filter, k))) return { ...rows, ...filter };
  const { $and: userAnd, ...rest } = filter;
  const and: DocValue[] = userAnd === undefined ? [rows] : Array.isArray(userAnd) ? [rows, ...userAnd] : [rows, { $and: userAnd }];
  return { $and: and, ...rest };
}

/** A filter compiled to a predicate; null for no restriction. */
export function rowPredicate(filter: Doc | null): DocPredicate | null {
  if (filter === null) return null;
  if (isMatchNothing(filter)) return () => false;
  return compileFilter(filter);
}

/**
 * The stream predicate: whether a change event's document may reach this principal's subscription
 * to `coll` (select policies). `image` is the document the event is about: its fullDocument, the
 * pre-image of a delete, or `{_id}` when that is all there is (see change-hub.ts). The policies
 * are read again whenever the AuthStore changes (its epoch). A policy that cannot be compiled
 * delivers nothing (fails closed). Without restriction it is always true.
 */
export function rowPredicateFor(store: AuthStore, principal: Principal | undefined, coll: string): (image: Doc) => boolean {
  let epoch = -1;
  let predicate: DocPredicate | null = null;
  return (image) => {
    if (store.epoch !== epoch) {
      epoch = store.epoch;
      try {
        predicate = rowPredicate(rlsFilterFor(store, principal, coll, 'select'));
      } catch {
        predicate = () => false;
      }
    }
    return predicate === null || predicate(image);
  };
}

function forbidden(coll: string, action: Action): MantisError {
  return new MantisError('FORBIDDEN', `missing permission ${docsResource(coll)} ${action}`);
}

export function rowViolation(coll: string): MantisError {
  return new MantisError('FORBIDDEN', `new document violates row-level security policy for collection "${coll}"`);
}

/**
 * One request's access to the document store: its principal's permissions and row-level security.
 * The service (doc-service.ts) takes it as an optional last argument; absent, nothing is checked.
 */
export class DocAccess {
  constructor(
    private readonly store: AuthStore,
    readonly principal: Principal,
  ) {}

  can(coll: string, action: Action): boolean {
    return this.principal.can(docsResource(coll), action);
  }

  /** Throws FORBIDDEN "missing permission docs:<coll> <action>". */
  require(coll: string, action: Action): void {
    if (!this.can(coll, action)) throw forbidden(coll, action);
  }

  /** The collections an aggregation pipeline reads and writes beyond its own must be allowed. */
  requirePipeline(pipeline: readonly unknown[]): void {
    const { reads, writes } = pipelineCollections(pipeline);
    for (const coll of reads) this.require(coll, 'read');
    for (const coll of writes) this.require(coll, 'write');
  }

  /**
   * Changing a collection itself (creating it or its validator, dropping it, adding or dropping an
   * index) reaches every document of it: on a collection with row-level security only a principal
   * that bypasses RLS may (PostgreSQL's ALTER and DROP TABLE need the owner). Throws FORBIDDEN.
   */
  requireSchemaChange(coll: string, what: string): void {
    if (this.principal.bypassRls || !hasRowSecurity(this.store, coll)) return;
    throw new MantisError('FORBIDDEN', `${what}: collection "${coll}" has row-level security; only a role that bypasses it (admin) may change the collection`);
  }

  /**
   * A plan's counters (keys and documents examined) count every document, visible or not: under
   * row-level security they would answer "does another tenant have a document matching this
   * guess?". Only a principal that bypasses RLS may explain such a collection. Throws FORBIDDEN.
   */
  requireExplain(coll: string): void {
    if (this.principal.bypassRls || !hasRowSecurity(this.store, coll)) return;
    throw new MantisError('FORBIDDEN', `explain: collection "${coll}" has row-level security; its plan counters include every document, so only a role that bypasses it (admin) may explain it`);
  }

  /** The USING filter to AND into a command's filter; null when unrestricted. */
  using(coll: string, command: RowCommand): Doc | null {
    return rlsFilterFor(this.store, this.principal, coll, command);
  }

  /** A check of the documents an insert or update leaves behind (throws FORBIDDEN); null when unrestricted. */
  checker(coll: string, command: 'insert' | 'update'): ((doc: Doc) => void) | null {
    const predicate = rowPredicate(rlsCheckFilterFor(this.store, this.principal, coll, command));
    if (predicate === null) return null;
    return (doc) => {
      if (!predicate(doc)) throw rowViolation(coll);
    };
  }
}

/** The access of a request: undefined (nothing checked) without security; the system principal when none is given. */
export function docAccess(security: DocSecurity | undefined, principal: Principal | undefined): DocAccess | undefined {
  return security === undefined ? undefined : new DocAccess(security.store, principal ?? SYSTEM);
}

/** Stages nested this deep are refused (the pipeline compiler refuses far less). */
const PIPELINE_DEPTH_MAX = 32;

/**
 * The other collections a pipeline reads ($lookup, $unionWith, $graphLookup, also inside $facet
 * and sub-pipelines) and writes ($out, $merge), by name. Stages of the wrong shape are skipped:
 * the pipeline compiler refuses them afterwards.
 */
export function pipelineCollections(pipeline: readonly unknown[]): { reads: string[]; writes: string[] } {
  const reads = new Set<string>();
  const writes = new Set<string>();
  const walk = (stages: unknown, depth: number): void => {
    if (!Array.isArray(stages)) return;
    if (depth > PIPELINE_DEPTH_MAX) throw new MantisError('BAD_QUERY', `the pipeline nests sub-pipelines deeper than ${PIPELINE_DEPTH_MAX}`);
    for (const stage of stages as unknown[]) {
      if (!isDoc(stage as DocValue)) continue;
      const s = stage as Doc;
      for (const name of Object.keys(s)) {
        const spec = s[name];
        switch (name) {
          case '$lookup':
          case '$graphLookup':
            if (isDoc(spec)) {
              if (typeof spec.from === 'string') reads.add(spec.from);
              walk(spec.pipeline, depth + 1);
            }
            break;
          case '$unionWith':
            if (typeof spec === 'string') reads.add(spec);
            else if (isDoc(spec)) {
              if (typeof spec.coll === 'string') reads.add(spec.coll);
              walk(spec.pipeline, depth + 1);
            }
            break;
          case '$facet':
            if (isDoc(spec)) for (const sub of Object.values(spec)) walk(sub, depth + 1);
            break;
          case '$out':
            if (typeof spec === 'string') writes.add(spec);
            else if (isDoc(spec) && typeof spec.coll === 'string') writes.add(spec.coll);
            break;
          case '$merge': {
            const into = isDoc(spec) ? spec.into : spec;
            if (typeof into === 'string') writes.add(into);
            else if (isDoc(into) && typeof into.coll === 'string') writes.add(into.coll);
            break;
          }
          default:
            break;
        }
      }
    }
  };
  walk(pipeline, 0);
  return { reads: [...reads], writes: [...writes] };
}
