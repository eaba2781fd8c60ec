// Change streams on the router: every document change the router learns of
// (the `changes` of shard write answers, the writes of committed
// transactions, and TTL expiry the shards report on their own) becomes an
// event with a resume token, is kept in a bounded ring per collection, and is
// handed to the subscribers of that collection whose filter it passes.
//
// Tokens are `<process epoch>-<sequence>`: one sequence for the whole process,
// raised by one per event, so "after token t" is "sequence > t". A token from
// another process (a restart) or older than what the ring still holds is
// refused (CURSOR_INVALID) instead of silently skipping events. A collection
// is recorded from its first subscription on (nobody can hold a token for it
// before), so writes to collections nobody watches cost nothing here.
//
// Row-level security (doc-rls.ts): a subscription may carry a row predicate,
// tested before its own filter against the document the event is about — its
// fullDocument; for a delete, the pre-image the write reported (transactions,
// single-document deletes) or else the last image of that document this
// collection's ring still holds (its last insert, update or replace since
// recording began); when none is known, only `{_id}`.
//
// Order: events of one document arrive in the order its shard applied them
// (one shard per document, answers in ring order). A transaction's events are
// published when its commit returns; a plain write to the same document
// answered in between could overtake them (see the README).

import { randomBytes } from 'node:crypto';
import { MantisError } from '../../shared/errors.js';
import type { DocChange } from '../../shared/docs/doc-protocol.js';
import type { Doc, DocPredicate } from '../../shared/docs/doc-types.js';
import { stringifyEjson } from '../../shared/docs/ejson.js';
import { valueEqualityKey } from '../../shared/docs/key-codec.js';

/** A change as the router publishes it: a delete may carry the document it removed (never sent to subscribers). */
export type PublishedChange = DocChange & { readonly before?: Doc };

/** One delivered event: its token and its JSON (the same text for every subscriber). */
export type ChangeDelivery = { readonly token: string; readonly json: string };
export type ChangeSubscriber = (event: ChangeDelivery) => void;

export type ChangeHubOptions = {
  /** Events kept per watched collection for resuming. */
  readonly ringEvents: number;
};

type Recorded = {
  readonly seq: number;
  /** The event as a document (what a subscription's filter sees). */
  readonly doc: Doc;
  /** The document the event is about, for row predicates (see the header). */
  readonly image: Doc;
  /** valueEqualityKey of the _id. */
  readonly idKey: string;
  /** Whether `image` is a whole document (not only `{_id}`, not a delete's). */
  readonly live: boolean;
  json: string | null;
};

type Subscription = { readonly rows: DocPredicate | null; readonly match: DocPredicate | null; readonly deliver: ChangeSubscriber };

type Watched = {
  readonly ring: Recorded[];
  /** Index of the oldest event in ring (a circular buffer once full). */
  head: number;
  /** Events with a sequence ≤ this are not in the ring (before recording began, or evicted). */
  lostUpTo: number;
  readonly subscriptions: Set<Subscription>;
  /** The newest ring event of each document (by idKey): a later delete's pre-image. */
  readonly latest: Map<string, Recorded>;
};

export class ChangeHub {
  readonly epoch = randomBytes(5).toString('hex');
  private seq = 0;
  private readonly watched = new Map<string, Watched>();

  constructor(private readonly options: ChangeHubOptions) {
    if (!(options.ringEvents >= 1)) throw new Error('assertion failed: ringEvents >= 1');
  }

  /** Changes as a shard, a commit or a sweeper reported them, in their order. */
  publish(changes: readonly PublishedChange[]): void {
    if (this.watched.size === 0) return;
    const wallTime = new Date();
    for (const change of changes) {
      const watched = this.watched.get(change.coll);
      if (watched === undefined) continue;
      const idKey = valueEqualityKey(change.id);
      let image = change.doc ?? change.before;
      if (image === undefined) {
        const last = watched.latest.get(idKey);
        image = last !== undefined && last.live ? last.image : { _id: change.id };
      }
      const record: Recorded = { seq: ++this.seq, doc: eventDoc(change, wallTime), image, idKey, live: change.doc !== undefined, json: null };
      this.record(watched, record);
      for (const s of watched.subscriptions) this.offer(s, record);
    }
  }

  /**
   * Subscribes to a collection's changes matching `match` (null: all). With `resumeAfter`, the
   * kept events after that token are delivered first, synchronously, before this returns; then
   * every new one. Throws CURSOR_INVALID for a token this process cannot resume from.
   * Returns the unsubscribe function. `rows` (row-level security, doc-rls.ts's rowPredicateFor)
   * is tested first, on the document each event is about.
   */
  subscribe(coll: string, match: DocPredicate | null, resumeAfter: string | null, deliver: ChangeSubscriber, rows: DocPredicate | null = null): () => void {
    const after = resumeAfter === null ? null : this.parseToken(resumeAfter);
    let watched = this.watched.get(coll);
    if (watched === undefined) {
      watched = { ring: [], head: 0, lostUpTo: this.seq, subscriptions: new Set(), latest: new Map() };
      this.watched.set(coll, watched);
    }
    if (after !== null && after < watched.lostUpTo) {
      throw new MantisError('CURSOR_INVALID', `resume token ${resumeAfter}: the events after it are no longer kept (the stream keeps the last ${this.options.ringEvents} events of a collection, from its first subscription); read the collection again and subscribe without a token`);
    }
    const subscription: Subscription = { rows, match, deliver };
    if (after !== null) for (const record of this.inOrder(watched)) if (record.seq > after) this.offer(subscription, record);
    watched.subscriptions.add(subscription);
    const kept = watched;
    return () => {
      kept.subscriptions.delete(subscription);
    };
  }

  /** Whether changes of this collection are recorded (someone subscribed to it since the start). */
  watches(coll: string): boolean {
    return this.watched.has(coll);
  }

  /** The token a subscriber may resume after to get everything from now on. */
  currentToken(): string {
    return this.token(this.seq);
  }

  private token(seq: number): string {
    return `${this.epoch}-${seq.toString(36)}`;
  }

  private parseToken(token: string): number {
    const dash = token.indexOf('-');
    const seq = dash < 0 ? NaN : parseInt(token.slice(dash + 1), 36);
    if (dash < 0 || !/^[0-9a-z]{1,11}$/.test(token.slice(dash + 1)) || !Number.isSafeInteger(seq) || seq > this.seq) {
      throw new MantisError('CURSOR_INVALID', `"${token.slice(0, 64)}" is not a resume token of this stream`);
    }
    if (token.slice(0, dash) !== this.epoch) {
      throw new MantisError('CURSOR_INVALID', 'the resume token is from before a server restart; change events are kept in memory only: read the collection again and subscribe without a token');
    }
    return seq;
  }

  private record(watched: Watched, record: Recorded): void {
    watched.latest.set(record.idKey, record);
    if (watched.ring.length < this.options.ringEvents) {
      watched.ring.push(record);
      return;
    }
    const evicted = watched.ring[watched.head];
    if (watched.latest.get(evicted.idKey) === evicted) watched.latest.delete(evicted.idKey);
    watched.lostUpTo = evicted.seq;
    watched.ring[watched.head] = record;
    watched.head = (watched.head + 1) % watched.ring.length;
  }

  private *inOrder(watched: Watched): Generator<Recorded> {
    const n = watched.ring.length;
    for (let i = 0; i < n; i++) yield watched.ring[(watched.head + i) % n];
  }

  private offer(s: Subscription, record: Recorded): void {
    if (s.rows !== null && !s.rows(record.image)) return;
    if (s.match !== null && !s.match(record.doc)) return;
    const token = this.token(record.seq);
    record.json ??= eventJson(token, record.doc);
    s.deliver({ token, json: record.json });
  }
}

/** The event as MongoDB's change streams shape it (what filters see). */
function eventDoc(change: DocChange, wallTime: Date): Doc {
  const doc: Doc = { operationType: change.op, ns: { coll: change.coll }, documentKey: { _id: change.id } };
  if (change.doc !== undefined) doc.fullDocument = change.doc;
  if (change.op === 'update') doc.updateDescription = { updatedFields: change.updated ?? {}, removedFields: [...(change.removed ?? [])] };
  doc.wallTime = wallTime;
  return doc;
}

function eventJson(token: string, doc: Doc): string {
  const body = stringifyEjson(doc);
  // {"type":"change","_id":token, …the event}
  return `{"type":"change","_id":${JSON.stringify(token)},${body.slice(1)}`;
}
