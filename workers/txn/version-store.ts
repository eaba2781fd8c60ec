// The shard-side MVCC version store (issue 5). The LSM keeps only the latest
// value of each key; this store keeps, in memory, for every key committed
// recently, its latest commit timestamp and the older versions a live snapshot
// may still need. Not wired into the shard yet.
//
// Timestamps: commit timestamps are positive safe integers from the oracle. A
// snapshot S sees, per key, the newest version with ts <= S.
//
// A key's versions: version-chain.ts. When a key enters the store its
// previous value (read from the LSM) is recorded with ts 0: it predates every
// snapshot that can still read here (see the contract below). Entries are
// stored as given (a reader applies TTL expiry with isLive); a tombstone
// (KIND_DELETE) is stored as undefined, "absent".
//
// The caller's contract (what makes dropping versions safe):
//   - every committed write on the shard goes through recordCommit, before
//     the LSM is updated, in the same synchronous turn;
//   - gc's oldestSnapshot is <= every snapshot that is live or may still
//     arrive here, including one whose timestamp was taken but not yet
//     registered. With none live, pass the oracle's current timestamp (any
//     snapshot taken later is above it); Infinity is accepted and means "the
//     largest commit timestamp recorded here", which is safe only if no
//     snapshot taken before the latest commit can still show up;
//   - a key's commits arrive in increasing timestamp order (a prepared
//     transaction holds its keys' intents until its commit is recorded).
//
// GC horizon h (monotonic): the largest bound known to lie at or below every
// such snapshot; max over gc calls of (oldestSnapshot, or the largest
// recorded commit timestamp when oldestSnapshot is Infinity). A version is
// dropped when next(i) <= h (no snapshot >= h sees it); a key is dropped when
// latestTs <= h (everyone sees the LSM's value, and it conflicts with no
// snapshot). A read or validation at S < h throws SnapshotTooOldError.

import { KIND_DELETE, type Entry } from '../store/memtable.js';
import { prefixEnd } from '../store/sorted-keys.js';
import { WriteIntents, type IntentConflict, type TxnId } from './intents.js';
import { RecentKeys } from './recent-keys.js';
import { VersionChain } from './version-chain.js';

export type { IntentConflict, TxnId };

/** A key and its new value (undefined = deleted). The value itself is not kept: the LSM holds it. */
export type TxnWrite = { readonly key: string; readonly entry?: Entry | undefined };

/** What a snapshot read should return, decided without touching the LSM. */
export type SnapshotLookup =
  | { readonly kind: 'latest' }
  | { readonly kind: 'version'; readonly entry: Entry | undefined }
  | { readonly kind: 'locked'; readonly txnId: TxnId };

export type SnapshotRead =
  | { readonly kind: 'value'; readonly entry: Entry | undefined }
  | { readonly kind: 'locked'; readonly txnId: TxnId };

/**
 * How a listing of the LSM's current keys under a prefix differs from the
 * listing at a snapshot: drop `hide` and the keys of `show`, then add `show`
 * (key order; entries as of the snapshot — check isLive for TTL).
 */
export type ListingCorrections =
  | { readonly kind: 'corrections'; readonly hide: string[]; readonly show: { key: string; entry: Entry }[] }
  | { readonly kind: 'locked'; readonly key: string; readonly txnId: TxnId };

export type GcResult = {
  readonly visited: number;
  readonly keysDropped: number;
  readonly versionsDropped: number;
  /** Nothing more to collect at this horizon (until a commit or a higher oldestSnapshot). */
  readonly done: boolean;
};

export type VersionStoreStats = {
  readonly keys: number;
  readonly versions: number;
  readonly intents: number;
  readonly bytes: number;
  readonly horizon: number;
  readonly maxCommitTs: number;
};

export type VersionStoreOptions = {
  /**
   * Assert that every commitTs exceeds every commitTs recorded before (the
   * default). With two-phase commit, a prepared transaction's commit can
   * arrive after a later-stamped commit of other keys: pass false there; the
   * per-key order is asserted either way.
   */
  readonly strictCommitOrder?: boolean;
  /**
   * The GC horizon to start at. A shard thread restarted on its own (the router's transactions
   * outlive it) must start at the oracle's current timestamp: it no longer knows which keys were
   * committed after an older snapshot, so such a snapshot must get SnapshotTooOldError rather than
   * pass validation. 0 (the default) only for a whole-process start, when no snapshot exists.
   */
  readonly horizon?: number;
};

/** A snapshot older than the GC horizon: versions it could need are gone. */
export class SnapshotTooOldError extends Error {
  readonly code = 'TXN_SNAPSHOT_TOO_OLD';
  constructor(readonly snapshotTs: number, readonly horizon: number) {
    super(`snapshot ${snapshotTs} is older than the version GC horizon ${horizon}`);
  }
}

const LATEST: SnapshotLookup = { kind: 'latest' };
const MISSING = Symbol('missing');

const present = (entry: Entry | undefined): Entry | undefined => (entry === undefined || entry.kind === KIND_DELETE ? undefined : entry);

function assertTs(ts: number, what: string): void {
  if (!Number.isSafeInteger(ts) || ts <= 0) throw new Error(`assertion failed: ${what} ${ts} is not a positive safe integer`);
}

/** Binary-string form of the first internal key byte (0xFF): every internal key sorts at or after it. */
const INTERNAL_KEYS_START = '\xff';

export class VersionStore {
  /** Map order = order of each key's latest recordCommit (ascending latestTs under strict order). */
  private readonly records = new Map<string, VersionChain>();
  private readonly order = new RecentKeys<VersionChain>();
  private readonly intents = new WriteIntents();
  private readonly strict: boolean;
  private versions = 0;
  private recordBytes = 0;
  private maxTs = 0;
  private h = 0;
  /** The GC sweep's live iterator over records, and the horizon its pass started at. */
  private sweep: IterableIterator<VersionChain> | undefined;
  private sweepHorizon = 0;

  constructor(options: VersionStoreOptions = {}) {
    this.strict = options.strictCommitOrder ?? true;
    const horizon = options.horizon ?? 0;
    if (!Number.isSafeInteger(horizon) || horizon < 0) throw new RangeError(`horizon must be a safe integer >= 0, got ${horizon}`);
    this.h = horizon;
    this.maxTs = horizon;
  }

  // ---- commits ----------------------------------------------------------------

  /**
   * Records a commit at commitTs BEFORE the caller applies it to the LSM:
   * previous(key) must return the LSM's current latest entry of key. Keys are
   * distinct; a key held by another transaction's intent is refused
   * (committer = the committing transaction, whose own intents are fine; the
   * caller unlocks it afterwards). Throws (assertions, or an error from
   * previous) before changing anything.
   */
  recordCommit(commitTs: number, writes: readonly TxnWrite[], previous: (key: string) => Entry | undefined, committer?: TxnId): void {
    assertTs(commitTs, 'commitTs');
    if (this.strict && commitTs <= this.maxTs) throw new Error(`assertion failed: commitTs ${commitTs} <= ${this.maxTs}, recorded before`);
    const seen = writes.length > 1 ? new Set<string>() : undefined;
    for (const { key } of writes) {
      const rec = this.records.get(key);
      if (rec !== undefined && rec.latestTs >= commitTs) throw new Error(`assertion failed: commitTs ${commitTs} <= ${rec.latestTs}, the latest of its key`);
      const holder = this.intents.holder(key);
      if (holder !== undefined && holder !== committer) throw new Error(`assertion failed: commit writes a key held by transaction ${holder}`);
      if (seen !== undefined) {
        if (seen.has(key)) throw new Error('assertion failed: a key written twice in one commit');
        seen.add(key);
      }
    }
    // Read every previous value first: a failing read (a corrupt block) leaves the store unchanged.
    const previousEntries = writes.map(({ key }) => present(previous(key)));
    for (let w = 0; w < writes.length; w++) {
      const key = writes[w].key;
      let rec = this.records.get(key);
      if (rec === undefined) {
        rec = new VersionChain(key, 0);
        rec.supersede(commitTs, previousEntries[w], 0);
        this.recordBytes += rec.bytes;
        this.order.insert(rec);
      } else {
        this.recordBytes += rec.supersede(commitTs, previousEntries[w], rec.latestTs);
        this.order.raise(rec);
        this.records.delete(key); // re-inserted below: Map order follows the latest commit
      }
      this.records.set(key, rec);
      this.versions++;
      this.trim(rec);
    }
    if (commitTs > this.maxTs) this.maxTs = commitTs;
  }

  // ---- snapshot reads ---------------------------------------------------------

  /**
   * What a read of key at snapshotTs returns: the LSM's latest, an older
   * version (undefined = the key did not exist then), or 'locked' when another
   * transaction's intent holds the key and its commit could be visible at
   * snapshotTs (wait or retry). O(1), plus O(log versions) for an old version.
   */
  lookup(key: string, snapshotTs: number, reader?: TxnId): SnapshotLookup {
    this.checkSnapshot(snapshotTs);
    const rec = this.records.get(key);
    if (rec === undefined || rec.latestTs <= snapshotTs) {
      const holder = this.intents.holder(key);
      return holder !== undefined && holder !== reader ? { kind: 'locked', txnId: holder } : LATEST;
    }
    // The intent's commit, if any, will be stamped above rec.latestTs > snapshotTs: invisible here.
    return { kind: 'version', entry: this.versionAt(rec, snapshotTs) };
  }

  /** lookup, reading the LSM (latest(key)) when the latest version is the one visible. */
  read(key: string, snapshotTs: number, latest: (key: string) => Entry | undefined, reader?: TxnId): SnapshotRead {
    const r = this.lookup(key, snapshotTs, reader);
    switch (r.kind) {
      case 'latest':
        return { kind: 'value', entry: present(latest(key)) };
      case 'version':
        return { kind: 'value', entry: r.entry };
      case 'locked':
        return r;
    }
  }

  /**
   * Corrections turning the LSM's current listing under prefix into the
   * listing at snapshotTs, or 'locked' naming a key under prefix held by
   * another transaction whose commit could be visible. Cost: O(intents) +
   * the recent-keys range query (recent-keys.ts) + O(log versions) per key
   * committed after snapshotTs under prefix.
   */
  visibleAt(prefix: string, snapshotTs: number, reader?: TxnId): ListingCorrections {
    this.checkSnapshot(snapshotTs);
    let locked: { key: string; txnId: TxnId } | undefined;
    for (const [key, txnId] of this.intents.entries()) {
      if (txnId === reader || !key.startsWith(prefix) || (locked !== undefined && locked.key <= key)) continue;
      const rec = this.records.get(key);
      if (rec === undefined || rec.latestTs <= snapshotTs) locked = { key, txnId };
    }
    if (locked !== undefined) return { kind: 'locked', ...locked };
    const hide: string[] = [];
    const show: { key: string; entry: Entry }[] = [];
    for (const rec of this.order.newerThan(prefix, prefixEnd(prefix), snapshotTs)) {
      const entry = this.versionAt(rec, snapshotTs);
      if (entry === undefined) hide.push(rec.key);
      else show.push({ key: rec.key, entry });
    }
    return { kind: 'corrections', hide, show };
  }

  // ---- validation (optimistic commit) -----------------------------------------

  /** The first of keys committed after snapshotTs (first committer wins), or null. O(keys). */
  writeConflict(keys: Iterable<string>, snapshotTs: number): string | null {
    this.checkSnapshot(snapshotTs);
    for (const key of keys) {
      const rec = this.records.get(key);
      if (rec !== undefined && rec.latestTs > snapshotTs) return key;
    }
    return null;
  }

  /** The first of the keys read that was committed after snapshotTs, or null. O(keys). */
  readConflict(keys: Iterable<string>, snapshotTs: number): string | null {
    return this.writeConflict(keys, snapshotTs);
  }

  /**
   * For each prefix in order, the smallest key under it committed after
   * snapshotTs (a put, an insert or a delete), or null: predicate (range read)
   * validation. Cost per prefix: the recent-keys range query (recent-keys.ts).
   */
  rangeConflict(prefixes: Iterable<string>, snapshotTs: number): string | null {
    this.checkSnapshot(snapshotTs);
    for (const prefix of prefixes) {
      // The empty prefix lists KV keys only: it ends where internal keys (first byte 0xFF) begin.
      const end = prefix.length === 0 ? INTERNAL_KEYS_START : prefixEnd(prefix);
      for (const rec of this.order.newerThan(prefix, end, snapshotTs)) return rec.key;
    }
    return null;
  }

  // ---- write intents ----------------------------------------------------------

  /** Locks all keys for txnId or none: the first key held by another transaction. */
  lock(txnId: TxnId, keys: Iterable<string>): IntentConflict | null {
    return this.intents.lock(txnId, keys);
  }

  /** Releases txnId's intents (after its commit is recorded, or on abort); returns how many. */
  unlock(txnId: TxnId): number {
    return this.intents.unlock(txnId);
  }

  lockedBy(key: string): TxnId | undefined {
    return this.intents.holder(key);
  }

  /** Every (key, holder) write intent, in locking order. O(intents). */
  intentEntries(): IterableIterator<[string, TxnId]> {
    return this.intents.entries();
  }

  /** The first of keys held by a transaction other than txnId (e.g. keys a committing transaction read). */
  foreignIntent(keys: Iterable<string>, txnId?: TxnId): IntentConflict | null {
    return this.intents.firstForeign(keys, txnId);
  }

  // ---- GC ---------------------------------------------------------------------

  /**
   * Drops what no snapshot >= oldestSnapshot (Infinity: none live) can see,
   * visiting at most budget keys (plus one O(1) peek). First it drops keys from the front of the
   * commit order while their latest commit is <= the horizon (under strict
   * order that front is exactly the droppable set: O(dropped)); the rest of
   * the budget continues a round-robin sweep that trims chains and catches
   * keys committed out of order.
   */
  gc(oldestSnapshot: number, budget: number): GcResult {
    if (!(oldestSnapshot >= 0)) throw new Error(`assertion failed: oldestSnapshot ${oldestSnapshot} is not a timestamp`);
    if (oldestSnapshot < this.h) throw new Error(`assertion failed: oldestSnapshot ${oldestSnapshot} below the horizon ${this.h} set before`);
    const bound = oldestSnapshot === Infinity ? this.maxTs : oldestSnapshot;
    if (bound > this.h) this.h = bound;
    const versionsBefore = this.versions;
    let visited = 0;
    let keysDropped = 0;
    let frontDone = false;
    for (const rec of this.records.values()) {
      if (rec.latestTs > this.h) {
        frontDone = true; // a peek, not counted: the sweep below trims this key in its turn
        break;
      }
      if (visited >= budget) break;
      visited++;
      this.drop(rec);
      keysDropped++;
    }
    if (this.records.size === 0) frontDone = true;
    let sweptAll = false;
    while (visited < budget) {
      if (this.sweep === undefined) {
        this.sweep = this.records.values();
        this.sweepHorizon = this.h;
      }
      const next = this.sweep.next();
      if (next.done === true) {
        sweptAll = this.sweepHorizon === this.h;
        this.sweep = undefined;
        break;
      }
      visited++;
      const rec = next.value;
      if (rec.latestTs <= this.h) {
        this.drop(rec);
        keysDropped++;
      } else {
        this.trim(rec);
      }
    }
    return { visited, keysDropped, versionsDropped: versionsBefore - this.versions, done: frontDone && sweptAll };
  }

  // ---- accounting -------------------------------------------------------------

  /** Approximate bytes held (records, versions, intents). */
  get bytes(): number {
    return this.recordBytes + this.intents.bytes;
  }

  /** Write intents held (keys). */
  get intentCount(): number {
    return this.intents.size;
  }

  get keyCount(): number {
    return this.records.size;
  }

  get versionCount(): number {
    return this.versions;
  }

  /** Every snapshot still allowed to read here is >= this. */
  get horizon(): number {
    return this.h;
  }

  get maxCommitTs(): number {
    return this.maxTs;
  }

  stats(): VersionStoreStats {
    return { keys: this.records.size, versions: this.versions, intents: this.intents.size, bytes: this.bytes, horizon: this.h, maxCommitTs: this.maxTs };
  }

  /** The latest commit timestamp of key, when the store still tracks it (undefined: <= horizon, or never written). */
  commitTsOf(key: string): number | undefined {
    return this.records.get(key)?.latestTs;
  }

  /** A key's record, for tests and diagnostics. */
  inspect(key: string): { latestTs: number; versions: { ts: number; entry: Entry | undefined }[] } | undefined {
    const rec = this.records.get(key);
    return rec === undefined ? undefined : { latestTs: rec.latestTs, versions: rec.versions() };
  }

  /** Internal invariants, for tests. */
  check(): void {
    this.order.check();
    if (this.order.size !== this.records.size) throw new Error('VersionStore: index and map disagree');
    let versions = 0;
    let bytes = 0;
    for (const rec of this.records.values()) {
      rec.check();
      versions += rec.length;
      bytes += rec.bytes;
    }
    if (versions !== this.versions || bytes !== this.recordBytes) throw new Error('VersionStore: totals drifted');
  }

  // ---- internals --------------------------------------------------------------

  private checkSnapshot(snapshotTs: number): void {
    if (!(snapshotTs >= 0)) throw new Error(`assertion failed: snapshot ${snapshotTs} is not a timestamp`);
    if (snapshotTs < this.h) throw new SnapshotTooOldError(snapshotTs, this.h);
  }

  /** The newest older version with ts <= snapshotTs. REQUIRES rec.latestTs > snapshotTs >= horizon. */
  private versionAt(rec: VersionChain, snapshotTs: number): Entry | undefined {
    const entry = rec.at(snapshotTs, MISSING);
    if (entry === MISSING) throw new Error(`assertion failed: no version of a key at snapshot ${snapshotTs} (horizon ${this.h})`);
    return entry;
  }

  private trim(rec: VersionChain): void {
    const [versions, bytes] = rec.trim(this.h);
    this.versions -= versions;
    this.recordBytes -= bytes;
  }

  private drop(rec: VersionChain): void {
    this.records.delete(rec.key);
    this.order.delete(rec);
    this.versions -= rec.length;
    this.recordBytes -= rec.bytes;
  }
}
