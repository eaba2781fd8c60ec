// workers/txn/version-store.ts: the MVCC version store, checked against a
// model that keeps every version forever. Random interleavings of commits
// (puts and deletes, some through prepared transactions holding intents),
// snapshots opened and closed, and budgeted GC at the true oldest live
// snapshot; after every step, reads, listings and validation at every live
// snapshot must match the model, and reads must be repeatable.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KIND_PUT, tombstone, type Entry } from '../../workers/store/memtable.js';
import { RecentKeys } from '../../workers/txn/recent-keys.js';
import { SnapshotTooOldError, VersionStore, type TxnId } from '../../workers/txn/version-store.js';

/** Binary-string keys sharing prefixes, with both ends of the byte range. */
const KEYS = ['a', 'ab', 'abc', 'a\xff', 'b', 'ba', '\x00', '\xff', '\xff\xff'];
const PREFIXES = ['', 'a', 'ab', 'b', '\xff', '\x00', 'c'];

let seq = 0;
function put(tag: string): Entry {
  return { value: Buffer.from(tag), contentType: 'text/plain', expiresAtMs: 0, seq: ++seq, kind: KIND_PUT };
}

type Version = { ts: number; entry: Entry | undefined };
type Write = { k: number; del: boolean; tomb: boolean };
type Pending = { id: TxnId; ts: number; writes: Write[] };

type Op =
  | { t: 'commit'; writes: Write[] }
  | { t: 'prepare'; writes: Write[] }
  | { t: 'finish'; i: number; commit: boolean }
  | { t: 'open' }
  | { t: 'close'; i: number }
  | { t: 'gc'; budget: number }
  | { t: 'gcAll'; budget: number };

const writesArb = fc.uniqueArray(fc.record({ k: fc.nat({ max: KEYS.length - 1 }), del: fc.boolean(), tomb: fc.boolean() }), {
  selector: (w) => w.k,
  minLength: 1,
  maxLength: 4,
});

function opArb(withPrepare: boolean): fc.Arbitrary<Op> {
  return fc.oneof(
    { arbitrary: fc.record({ t: fc.constant('commit' as const), writes: writesArb }), weight: 6 },
    { arbitrary: fc.record({ t: fc.constant('prepare' as const), writes: writesArb }), weight: withPrepare ? 2 : 1 },
    { arbitrary: fc.record({ t: fc.constant('finish' as const), i: fc.nat(), commit: fc.boolean() }), weight: 2 },
    { arbitrary: fc.record({ t: fc.constant('open' as const) }), weight: 3 },
    { arbitrary: fc.record({ t: fc.constant('close' as const), i: fc.nat() }), weight: 2 },
    { arbitrary: fc.record({ t: fc.constant('gc' as const), budget: fc.integer({ min: 1, max: 4 }) }), weight: 3 },
    { arbitrary: fc.record({ t: fc.constant('gcAll' as const), budget: fc.integer({ min: 1, max: 4 }) }), weight: 1 },
  );
}

/**
 * The store beside an LSM stand-in (latest entry per key, tombstones kept as
 * the LSM keeps them) and the model (every version of every key).
 * `lateStamps`: a prepared transaction takes its commit timestamp at prepare
 * (so commits reach the store out of timestamp order, as with 2PC); otherwise
 * at commit.
 */
class World {
  readonly store: VersionStore;
  readonly lsm = new Map<string, Entry>();
  readonly model = new Map<string, Version[]>();
  readonly snapshots: { id: number; ts: number; seen: Map<string, Entry | undefined> }[] = [];
  readonly pending: Pending[] = [];
  clock = 0;
  private nextId = 0;

  constructor(private readonly lateStamps: boolean) {
    this.store = new VersionStore({ strictCommitOrder: !lateStamps });
    // Keys committed before the store existed (ts 0, below every snapshot).
    for (const key of KEYS.slice(0, 4)) {
      const e = put(`init:${key}`);
      this.lsm.set(key, e);
      this.model.set(key, [{ ts: 0, entry: e }]);
    }
  }

  lsmGet = (key: string): Entry | undefined => {
    const e = this.lsm.get(key);
    return e?.kind === KIND_PUT ? e : undefined;
  };

  /** What the LSM would hand over as "previous": usually get(), sometimes the raw tombstone. */
  lsmRaw = (key: string): Entry | undefined => this.lsm.get(key);

  modelAt(key: string, ts: number): Entry | undefined {
    const versions = this.model.get(key) ?? [];
    for (let i = versions.length - 1; i >= 0; i--) if (versions[i].ts <= ts) return versions[i].entry;
    return undefined;
  }

  modelLatestTs(key: string): number {
    const versions = this.model.get(key);
    return versions === undefined ? -1 : versions[versions.length - 1].ts;
  }

  oldest(): number {
    return this.snapshots.length === 0 ? Infinity : Math.min(...this.snapshots.map((s) => s.ts));
  }

  holder(key: string): TxnId | undefined {
    return this.pending.find((p) => p.writes.some((w) => KEYS[w.k] === key))?.id;
  }

  apply(ts: number, writes: Write[], committer?: TxnId): void {
    const entries = writes.map((w) => (w.del ? undefined : put(`${KEYS[w.k]}@${ts}`)));
    const previous = (key: string): Entry | undefined => (writes.find((w) => KEYS[w.k] === key)?.tomb ? this.lsmRaw(key) : this.lsmGet(key));
    this.store.recordCommit(ts, writes.map((w, i) => ({ key: KEYS[w.k], entry: entries[i] })), previous, committer);
    writes.forEach((w, i) => {
      const key = KEYS[w.k];
      const entry = entries[i];
      if (entry === undefined) {
        if (w.tomb) this.lsm.set(key, tombstone(++seq));
        else this.lsm.delete(key);
      } else {
        this.lsm.set(key, entry);
      }
      const versions = this.model.get(key) ?? [];
      versions.push({ ts, entry });
      this.model.set(key, versions);
    });
  }

  /** Tries to lock the keys; checks a refusal names the first key another transaction holds. */
  lock(id: TxnId, writes: Write[]): boolean {
    const keys = writes.map((w) => KEYS[w.k]);
    const expected = keys.find((k) => this.holder(k) !== undefined);
    const got = this.store.lock(id, keys);
    if (expected === undefined) {
      expect(got).toBeNull();
      return true;
    }
    expect(got).toEqual({ key: expected, txnId: this.holder(expected) });
    for (const k of keys) if (this.holder(k) === undefined) expect(this.store.lockedBy(k)).toBeUndefined();
    return false;
  }

  run(op: Op): void {
    switch (op.t) {
      case 'commit': {
        const id = `c${++this.nextId}`;
        if (!this.lock(id, op.writes)) return;
        this.apply(++this.clock, op.writes, id);
        expect(this.store.unlock(id)).toBe(op.writes.length);
        return;
      }
      case 'prepare': {
        const id = `p${++this.nextId}`;
        if (!this.lock(id, op.writes)) return;
        this.pending.push({ id, ts: this.lateStamps ? ++this.clock : 0, writes: op.writes });
        return;
      }
      case 'finish': {
        if (this.pending.length === 0) return;
        const [p] = this.pending.splice(op.i % this.pending.length, 1);
        if (op.commit) this.apply(this.lateStamps ? p.ts : ++this.clock, p.writes, p.id);
        expect(this.store.unlock(p.id)).toBe(p.writes.length);
        return;
      }
      case 'open':
        this.snapshots.push({ id: ++this.nextId, ts: this.clock, seen: new Map() });
        return;
      case 'close':
        if (this.snapshots.length > 0) this.snapshots.splice(op.i % this.snapshots.length, 1);
        return;
      case 'gc': {
        const r = this.store.gc(this.oldest(), op.budget);
        expect(r.visited).toBeLessThanOrEqual(op.budget);
        return;
      }
      case 'gcAll':
        this.gcAll(op.budget);
        return;
    }
  }

  /** GC to completion at the true oldest snapshot; then every version left must be visible to some snapshot >= the horizon. */
  gcAll(budget: number): void {
    const oldest = this.oldest();
    const before = this.store.horizon;
    for (let calls = 0; !this.store.gc(oldest, budget).done; calls++) expect(calls).toBeLessThan(1000);
    const h = this.store.horizon;
    expect(h).toBe(Math.max(before, oldest === Infinity ? this.store.maxCommitTs : oldest));
    for (const key of KEYS) {
      const rec = this.store.inspect(key);
      if (rec === undefined) continue;
      expect(rec.latestTs).toBeGreaterThan(h);
      rec.versions.forEach((v, i) => expect(i + 1 < rec.versions.length ? rec.versions[i + 1].ts : rec.latestTs).toBeGreaterThan(h));
    }
  }

  /** Everything observable at every live snapshot, against the model. */
  check(): void {
    this.store.check();
    for (const snap of this.snapshots) {
      const s = snap.ts;
      for (const key of KEYS) {
        const holder = this.holder(key);
        const r = this.store.read(key, s, this.lsmGet);
        // A held key whose intent's commit could land at or below s must make the reader wait.
        if (holder !== undefined && this.modelLatestTs(key) <= s) {
          expect(r).toEqual({ kind: 'locked', txnId: holder });
        } else {
          expect(r).toEqual({ kind: 'value', entry: this.modelAt(key, s) });
          if (r.kind === 'value') {
            if (snap.seen.has(key)) expect(r.entry).toBe(snap.seen.get(key));
            else snap.seen.set(key, r.entry);
          }
        }
        if (holder !== undefined) expect(this.store.read(key, s, this.lsmGet, holder).kind).toBe('value');
      }
      this.checkListings(s);
      this.checkValidation(s);
    }
    // A snapshot taken now sees the LSM and conflicts with nothing.
    expect(this.store.writeConflict(KEYS, this.clock)).toBeNull();
    expect(this.store.rangeConflict(PREFIXES, this.clock)).toBeNull();
  }

  private checkListings(s: number): void {
    for (const prefix of PREFIXES) {
      const under = KEYS.filter((k) => k.startsWith(prefix)).sort();
      const c = this.store.visibleAt(prefix, s);
      const blocked = under.filter((k) => this.holder(k) !== undefined && this.modelLatestTs(k) <= s);
      if (c.kind === 'locked') {
        expect(c).toEqual({ kind: 'locked', key: blocked[0], txnId: this.holder(blocked[0]) });
        continue;
      }
      expect(blocked).toEqual([]);
      const listing = new Map<string, Entry>();
      for (const k of under) {
        const e = this.lsmGet(k);
        if (e !== undefined) listing.set(k, e);
      }
      for (const k of c.hide) listing.delete(k);
      for (const { key, entry } of c.show) listing.set(key, entry);
      const expected = new Map<string, Entry>();
      for (const k of under) {
        const e = this.modelAt(k, s);
        if (e !== undefined) expected.set(k, e);
      }
      expect(listing).toEqual(expected);
      const touched = [...c.hide, ...c.show.map((x) => x.key)];
      expect(touched.every((k) => this.modelLatestTs(k) > s)).toBe(true);
      expect(c.show.map((x) => x.key)).toEqual(c.show.map((x) => x.key).sort());
    }
  }

  private checkValidation(s: number): void {
    const newer = (k: string): boolean => this.modelLatestTs(k) > s;
    for (const key of KEYS) expect(this.store.writeConflict([key], s)).toBe(newer(key) ? key : null);
    const order = [...KEYS].reverse();
    expect(this.store.writeConflict(order, s)).toBe(order.find(newer) ?? null);
    expect(this.store.readConflict(KEYS, s)).toBe(KEYS.find(newer) ?? null);
    // The empty prefix (every KV key) does not cover internal keys (first byte 0xFF).
    const under = (k: string, p: string): boolean => k.startsWith(p) && (p !== '' || !k.startsWith('\xff'));
    const firstUnder = (p: string): string | undefined => KEYS.filter((k) => under(k, p) && newer(k)).sort()[0];
    for (const p of PREFIXES) expect(this.store.rangeConflict([p], s)).toBe(firstUnder(p) ?? null);
    const expectedRange = PREFIXES.map(firstUnder).find((k) => k !== undefined) ?? null;
    expect(this.store.rangeConflict(PREFIXES, s)).toBe(expectedRange);
  }

  /** Close everything and collect: the store must be empty. */
  drain(): void {
    while (this.pending.length > 0) this.run({ t: 'finish', i: 0, commit: false });
    this.snapshots.length = 0;
    this.gcAll(3);
    expect(this.store.stats()).toMatchObject({ keys: 0, versions: 0, intents: 0, bytes: 0 });
  }
}

function modelRun(lateStamps: boolean, numRuns: number): void {
  fc.assert(
    fc.property(fc.array(opArb(lateStamps), { minLength: 1, maxLength: 60 }), (ops) => {
      const world = new World(lateStamps);
      for (const op of ops) {
        world.run(op);
        world.check();
      }
      world.drain();
    }),
    { numRuns },
  );
}

describe('VersionStore against a keep-everything model', () => {
  it('commits in timestamp order (strict): reads, listings, validation, GC', () => modelRun(false, 300));

  it('prepared transactions committed out of timestamp order (2PC): the same, plus intents', () => modelRun(true, 300));
});

describe('VersionStore details', () => {
  const noPrev = (): Entry | undefined => undefined;

  it('GC keeps exactly the versions a snapshot >= oldest can see', () => {
    const vs = new VersionStore();
    const [e0, e10, e20] = [put('0'), put('10'), put('20')];
    let lsm: Entry | undefined = e0;
    const commit = (ts: number, e: Entry): void => {
      vs.recordCommit(ts, [{ key: 'k', entry: e }], () => lsm);
      lsm = e;
    };
    commit(10, e10);
    commit(20, e20);
    commit(30, put('30'));
    expect(vs.inspect('k')?.versions.map((v) => v.ts)).toEqual([0, 10, 20]);
    vs.gc(10, 10); // snapshots >= 10 see e10 (10..19), e20 (20..29), latest
    expect(vs.inspect('k')?.versions.map((v) => v.ts)).toEqual([10, 20]);
    vs.gc(19, 10);
    expect(vs.inspect('k')?.versions.map((v) => v.ts)).toEqual([10, 20]);
    vs.gc(20, 10); // the newest version <= 20 is kept because 30 is above it
    expect(vs.inspect('k')?.versions).toEqual([{ ts: 20, entry: e20 }]);
    expect(vs.lookup('k', 29)).toEqual({ kind: 'version', entry: e20 });
    expect(() => vs.lookup('k', 19)).toThrow(SnapshotTooOldError);
    vs.gc(29, 10);
    expect(vs.keyCount).toBe(1);
    vs.gc(30, 10); // visible to everyone, conflicts with no one
    expect(vs.stats()).toMatchObject({ keys: 0, versions: 0, bytes: 0, horizon: 30 });
  });

  it('GC with no live snapshot drops everything, and the horizon is the last commit', () => {
    const vs = new VersionStore();
    for (let ts = 1; ts <= 100; ts++) vs.recordCommit(ts, [{ key: `k${ts % 7}` }], noPrev);
    expect(vs.keyCount).toBe(7);
    const r = vs.gc(Infinity, 3);
    expect(r).toMatchObject({ visited: 3, keysDropped: 3, done: false });
    while (!vs.gc(Infinity, 3).done);
    expect(vs.stats()).toMatchObject({ keys: 0, versions: 0, bytes: 0, horizon: 100 });
    expect(() => vs.gc(99, 1)).toThrow(/below the horizon/);
    expect(() => vs.writeConflict(['k1'], 99)).toThrow(SnapshotTooOldError);
  });

  it('a commit trims its own chain at the horizon, so a hot key stays short between GC passes', () => {
    const vs = new VersionStore();
    let lsm: Entry | undefined;
    let most = 0;
    for (let ts = 1; ts <= 1000; ts++) {
      vs.recordCommit(ts, [{ key: 'hot' }], () => lsm);
      lsm = put(String(ts));
      if (ts % 100 === 0) vs.gc(ts - 5, 1); // a snapshot 5 commits old
      most = Math.max(most, vs.versionCount);
    }
    expect(most).toBeLessThanOrEqual(106);
    expect(vs.inspect('hot')?.versions.map((v) => v.ts)).toEqual([995, 996, 997, 998, 999]);
  });

  it('starts at a given horizon (a shard restarted on its own): older snapshots are refused, not validated', () => {
    const vs = new VersionStore({ horizon: 100 });
    expect(() => vs.writeConflict(['a'], 99)).toThrow(SnapshotTooOldError);
    expect(() => vs.readConflict(['a'], 50)).toThrow(SnapshotTooOldError);
    expect(() => vs.rangeConflict(['a'], 99)).toThrow(SnapshotTooOldError);
    expect(() => vs.lookup('a', 1)).toThrow(SnapshotTooOldError);
    expect(vs.writeConflict(['a'], 100)).toBeNull();
    expect(() => vs.recordCommit(100, [{ key: 'a' }], noPrev)).toThrow(/recorded before/);
    vs.recordCommit(101, [{ key: 'a' }], noPrev);
    expect(vs.writeConflict(['a'], 100)).toBe('a');
    expect(() => new VersionStore({ horizon: -1 })).toThrow(RangeError);
  });

  it('commit order and key assertions, all-or-nothing', () => {
    const vs = new VersionStore();
    vs.recordCommit(5, [{ key: 'a' }], noPrev);
    expect(() => vs.recordCommit(5, [{ key: 'b' }], noPrev)).toThrow(/recorded before/);
    expect(() => vs.recordCommit(6, [{ key: 'b' }, { key: 'b' }], noPrev)).toThrow(/twice/);
    expect(() => vs.recordCommit(0, [], noPrev)).toThrow(/positive/);
    expect(() => vs.recordCommit(2 ** 53, [], noPrev)).toThrow(/safe integer/);
    vs.lock('t1', ['c']);
    expect(() => vs.recordCommit(7, [{ key: 'b' }, { key: 'c' }], noPrev, 't2')).toThrow(/held by transaction t1/);
    expect(() =>
      vs.recordCommit(7, [{ key: 'b' }, { key: 'd' }], (k) => {
        if (k === 'd') throw new Error('corrupt block');
        return undefined;
      }),
    ).toThrow(/corrupt/);
    expect(vs.stats()).toMatchObject({ keys: 1, versions: 1, maxCommitTs: 5 });
    vs.recordCommit(7, [{ key: 'c' }], noPrev, 't1');
    expect(vs.commitTsOf('c')).toBe(7);

    const loose = new VersionStore({ strictCommitOrder: false });
    loose.recordCommit(9, [{ key: 'a' }], noPrev);
    loose.recordCommit(8, [{ key: 'b' }], noPrev); // another key: fine out of order
    expect(() => loose.recordCommit(9, [{ key: 'a' }], noPrev)).toThrow(/latest of its key/);
  });

  it('intents: all-or-nothing locks, owner reads through, others are told', () => {
    const vs = new VersionStore();
    expect(vs.lock('t1', ['a', 'b'])).toBeNull();
    expect(vs.lock('t1', ['b', 'c'])).toBeNull();
    expect(vs.lock('t2', ['x', 'c', 'a'])).toEqual({ key: 'c', txnId: 't1' });
    expect(vs.lockedBy('x')).toBeUndefined();
    expect(vs.foreignIntent(['x', 'b'], 't2')).toEqual({ key: 'b', txnId: 't1' });
    expect(vs.foreignIntent(['x', 'b'], 't1')).toBeNull();
    expect(vs.lookup('a', 0)).toEqual({ kind: 'locked', txnId: 't1' });
    expect(vs.lookup('a', 0, 't1')).toEqual({ kind: 'latest' });
    expect(vs.visibleAt('', 0)).toEqual({ kind: 'locked', key: 'a', txnId: 't1' });
    expect(vs.bytes).toBeGreaterThan(0);
    expect(vs.unlock('t1')).toBe(3);
    expect(vs.unlock('t1')).toBe(0);
    expect(vs.lock('t2', ['x', 'c', 'a'])).toBeNull();
    expect(vs.unlock('t2')).toBe(3);
    expect(vs.bytes).toBe(0);
  });

  it('the empty prefix (a listing of every KV key) does not cover internal keys (first byte 0xFF)', () => {
    const vs = new VersionStore();
    vs.recordCommit(10, [{ key: '\xffDdoc', entry: put('d') }], noPrev);
    expect(vs.rangeConflict([''], 5)).toBeNull();
    expect(vs.rangeConflict(['\xff'], 5)).toBe('\xffDdoc');
    vs.recordCommit(11, [{ key: 'kv', entry: put('k') }], noPrev);
    expect(vs.rangeConflict([''], 5)).toBe('kv');
  });

  it('tombstones are stored as absent; bytes count values', () => {
    const vs = new VersionStore();
    vs.recordCommit(1, [{ key: 'a' }], () => tombstone(1));
    expect(vs.inspect('a')?.versions).toEqual([{ ts: 0, entry: undefined }]);
    const small = vs.bytes;
    vs.recordCommit(2, [{ key: 'a' }], () => ({ ...put('x'), value: new Uint8Array(10_000) }));
    expect(vs.bytes - small).toBeGreaterThan(10_000);
    expect(vs.read('a', 0, () => tombstone(3))).toEqual({ kind: 'value', entry: undefined });
    expect(vs.read('a', 2, () => tombstone(3))).toEqual({ kind: 'value', entry: undefined });
  });

  it('GC visits at most its budget, and the front walk drops O(dropped) under strict order', () => {
    const vs = new VersionStore();
    for (let ts = 1; ts <= 5000; ts++) vs.recordCommit(ts, [{ key: `k${ts}` }], noPrev);
    const r = vs.gc(2500, 10_000);
    expect(r).toMatchObject({ keysDropped: 2500, visited: 5000, done: true });
    expect(vs.keyCount).toBe(2500);
    for (let i = 0; i < 10; i++) expect(vs.gc(4000, 64).visited).toBeLessThanOrEqual(64);
  });
});

describe('RecentKeys', () => {
  it('range queries with chunk maxima match a sorted array through splits and merges', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), (seed) => {
        let x = seed;
        const rnd = (n: number): number => {
          x ^= x << 13;
          x ^= x >>> 17;
          x ^= x << 5;
          return (x >>> 0) % n;
        };
        const alphabet = ['\x00', 'a', 'b', '\x7f', '\x80', '\xff'];
        const idx = new RecentKeys<{ key: string; latestTs: number }>();
        const model = new Map<string, { key: string; latestTs: number }>();
        for (let step = 0; step < 1500; step++) {
          let key = '';
          for (let i = rnd(4); i >= 0; i--) key += alphabet[rnd(alphabet.length)];
          const rec = model.get(key);
          const r = rnd(10);
          if (rec === undefined) {
            const n = { key, latestTs: rnd(1000) + 1 };
            model.set(key, n);
            idx.insert(n);
          } else if (r < 4) {
            model.delete(key);
            idx.delete(rec);
          } else {
            rec.latestTs += rnd(50);
            idx.raise(rec);
          }
          if (step % 50 === 0 || step > 1400) {
            idx.check();
            const ts = rnd(1100);
            const start = key.slice(0, rnd(key.length + 1));
            const end = rnd(3) === 0 ? null : start + '\x80';
            const expected = [...model.values()]
              .filter((m) => m.key >= start && (end === null || m.key < end) && m.latestTs > ts)
              .map((m) => m.key)
              .sort();
            expect([...idx.newerThan(start, end, ts)].map((m) => m.key)).toEqual(expected);
          }
        }
        // Empty it in random order: structure stays valid down to nothing.
        for (const rec of [...model.values()].sort(() => rnd(3) - 1)) idx.delete(rec);
        idx.check();
        expect(idx.size).toBe(0);
      }),
      { numRuns: 20 },
    );
  });
});
