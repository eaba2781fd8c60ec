// Hermitage (https://github.com/ept/hermitage, PostgreSQL's scripts) on the
// transaction HTTP API, against a real 2-shard server: each anomaly is a
// script of 2 or 3 clients (T1, T2, T3) stepping in a fixed interleaving over
// a "table" of keys under a fresh prefix (row 1 → "10", row 2 → "20"), run at
// each of the four isolation levels. Rows 1 and 3 live on one shard, rows 2
// and 4 on the other (Redis hash tags), so every script touching two rows
// commits by two-phase commit.
//
// Writes are buffered in the router and validated at commit (optimistic):
// where PostgreSQL BLOCKS a statement, ours succeeds and the conflict shows
// later as 409 TXN_CONFLICT on a commit. So each script decides "prevented" or
// "allowed" from what the clients observed and which commits succeeded; the
// rule is written above each script. Besides the verdict, a script checks what
// holds at every level (the first committer commits, the stored state matches
// the commit answers, a read returns a value the script wrote); a violation is
// a protocol error that fails the cell with the full request/answer trace.
//
// Asserted: serializable prevents all ten; each weaker level prevents at least
// what its definition promises (Adya; Hermitage); and the exact table this
// design produces (read_committed validates nothing, snapshot adds
// first-committer-wins on writes, repeatable_read adds item reads,
// serializable adds predicate reads). A second table runs PostgreSQL's variant
// scripts and G0 with racing commits. Everything runs with the HTTP fast path
// on and off; a second describe block checks the HTTP conventions of the
// transaction routes. HERMITAGE_TRACE=1 prints every script's requests and
// answers.

import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSlotMap, shardOfKey } from '../../shared/slot.js';
import { byteOrder, expectError, expectOk } from '../helpers/http-client.js';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';
import {
  ISOLATION_LEVELS,
  TxnProtocolError,
  TxnSession,
  Trace,
  failureOf,
  kvFetch,
  listFetch,
  plainGet,
  plainPut,
  postBegin,
  postCommit,
  postRollback,
  type BeginData,
  type CommitData,
  type CommitOutcome,
  type Isolation,
  type RollbackData,
} from '../helpers/txn-client.js';

afterAll(cleanup);

const SHARDS = 2;
const slots = buildSlotMap(SHARDS);
const shardOf = (key: string): number => shardOfKey(slots, Buffer.from(key, 'utf8'));

/** The first hash tag `h<i>` whose keys live on `shard`. */
function tagOn(shard: number): string {
  for (let i = 0; ; i++) if (shardOf(`{h${i}}`) === shard) return `h${i}`;
}
const TAGS = [tagOn(0), tagOn(1)] as const;
const RUN = randomUUID().slice(0, 8);

/** Every suite runs with the uWebSockets.js fast path on (the default) and off (every route through Hono). */
const CONFIGS = [
  { fastPath: true, name: 'fast path on' },
  { fastPath: false, name: 'fast path off' },
] as const;

// ---------------------------------------------------------------------------
// The scripts
// ---------------------------------------------------------------------------

const ANOMALIES = ['G0', 'G1a', 'G1b', 'G1c', 'OTV', 'PMP', 'P4', 'G-single', 'G2-item', 'G2'] as const;
type Anomaly = (typeof ANOMALIES)[number];
/** PostgreSQL's further scripts for some anomalies (Hermitage's postgres.md), and G0 with racing commits, in a second table. */
const VARIANTS = ['G0 racing commits', 'PMP write predicate', 'G-single predicate', 'G-single write predicate', 'G2 two edges'] as const;
type Variant = (typeof VARIANTS)[number];
type Script = Anomaly | Variant;
type Verdict = 'prevented' | 'allowed';
type Finding = { readonly verdict: Verdict; readonly why: string };

/** One run of one script: its own table (key prefix), its trace, its clients. */
class Run {
  readonly prefix: string;
  readonly trace: Trace;

  constructor(
    readonly base: string,
    readonly level: Isolation,
    script: Script,
  ) {
    this.prefix = `hermitage/${RUN}/${script.replaceAll(' ', '-')}/${level}/`;
    this.trace = new Trace((key) => (key.startsWith(this.prefix) ? key.slice(this.prefix.length).replace(/^\{[^}]*\}/, '') : key));
  }

  /** Row `id` of the table: odd rows on shard 0, even rows on shard 1. */
  row(id: number): string {
    return `${this.prefix}{${TAGS[(id + 1) % 2]}}${id}`;
  }

  /** The row id of a key of this table. */
  idOf(key: string): string {
    return this.trace.key(key);
  }

  /** `create table test …; insert (1, 10), (2, 20)`: plain PUTs under the fresh prefix. */
  async setup(): Promise<void> {
    await plainPut(this.base, this.row(1), '10', this.trace, 'setup');
    await plainPut(this.base, this.row(2), '20', this.trace, 'setup');
  }

  begin(name: string): Promise<TxnSession> {
    return TxnSession.begin(this.base, name, { isolation: this.level }, this.trace);
  }

  /** A plain read after (or between) the transactions. */
  read(id: number): Promise<string | null> {
    return plainGet(this.base, this.row(id), this.trace);
  }

  /** `select * from test where pred(value)` in t: the prefix listing, then each row's value. */
  async select(t: TxnSession, pred: (value: number) => boolean = () => true): Promise<Record<string, string>> {
    const rows: Record<string, string> = {};
    for (const key of await t.list(this.prefix)) {
      const value = await t.get(key);
      if (value === null) this.fail(`${t.name}: listed ${this.idOf(key)} but reading it answered 404`);
      if (pred(Number(value))) rows[this.idOf(key)] = value;
    }
    return rows;
  }

  /** Throws a protocol error (not a verdict) with the trace. */
  fail(message: string): never {
    throw new TxnProtocolError(message, this.trace);
  }

  /** What holds at every level: a protocol error otherwise. */
  check(condition: boolean, message: string): void {
    if (!condition) this.fail(message);
  }

  /** The first committer of a script conflicts with nothing committed: it must commit at every level. */
  mustCommit(t: TxnSession, outcome: CommitOutcome): void {
    this.check(outcome.committed, `${t.name} commits first and conflicts with nothing committed, yet its commit failed`);
  }

  async expectStored(expected: Record<number, string | null>, why: string): Promise<void> {
    for (const [id, value] of Object.entries(expected)) {
      const actual = await this.read(Number(id));
      this.check(actual === value, `row ${id} reads ${JSON.stringify(actual)}, expected ${JSON.stringify(value)} (${why})`);
    }
  }
}

const prevented = (why: string): Finding => ({ verdict: 'prevented', why });
const allowed = (why: string): Finding => ({ verdict: 'allowed', why });
const same = (a: Record<string, string>, b: Record<string, string>): boolean => JSON.stringify(a) === JSON.stringify(b);

/**
 * G0 (write cycles). T1 and T2 each write rows 1 and 2, interleaved (PostgreSQL
 * blocks T2's first write until T1 commits; ours is buffered).
 * Prevented iff right after T1's commit the rows are exactly T1's (11, 21), and
 * at the end they are exactly the writes of the last transaction that
 * committed: (12, 22) if T2 committed, else (11, 21). Any mix of the two
 * transactions' writes is a write cycle: allowed.
 */
async function g0(r: Run): Promise<Finding> {
  await r.setup();
  const t1 = await r.begin('T1');
  const t2 = await r.begin('T2');
  await t1.put(r.row(1), '11');
  await t2.put(r.row(1), '12'); // PostgreSQL: BLOCKS
  await t1.put(r.row(2), '21');
  r.mustCommit(t1, await t1.commit());
  const afterT1 = [await r.read(1), await r.read(2)];
  await t2.put(r.row(2), '22');
  const c2 = await t2.commit();
  const final = [await r.read(1), await r.read(2)];
  const expected = c2.committed ? ['12', '22'] : ['11', '21'];
  const seen = `after T1's commit (${afterT1.join(', ')}), at the end (${final.join(', ')}), T2 ${c2.committed ? 'committed' : 'failed'}`;
  if (afterT1[0] === '11' && afterT1[1] === '21' && final[0] === expected[0] && final[1] === expected[1]) return prevented(seen);
  return allowed(`${seen}: the rows mix the two transactions' writes`);
}

/**
 * G1a (aborted reads). T1 writes row 1 = 101 then rolls back; T2 selects
 * everything before and after the rollback.
 * Allowed iff T2 ever reads 101; prevented otherwise (both selects must then
 * show exactly 1 → 10, 2 → 20, else protocol error).
 */
async function g1a(r: Run): Promise<Finding> {
  await r.setup();
  const t1 = await r.begin('T1');
  const t2 = await r.begin('T2');
  await t1.put(r.row(1), '101');
  const before = await r.select(t2);
  await t1.rollback();
  const after = await r.select(t2);
  await t2.commit();
  if (before['1'] === '101' || after['1'] === '101') return allowed('T2 read the aborted write 1 → 101');
  const initial = { '1': '10', '2': '20' };
  r.check(same(before, initial) && same(after, initial), `T2's selects ${JSON.stringify(before)} / ${JSON.stringify(after)} are not the initial rows`);
  await r.expectStored({ 1: '10', 2: '20' }, "T1 rolled back: none of its writes is stored");
  return prevented('T2 read 1 → 10 before and after the rollback');
}

/**
 * G1b (intermediate reads). T1 writes row 1 = 101, then 11, and commits; T2
 * selects everything before and after T1's commit.
 * Allowed iff T2 ever reads the intermediate 101; prevented otherwise (T2
 * then reads 10, or 11 after the commit).
 */
async function g1b(r: Run): Promise<Finding> {
  await r.setup();
  const t1 = await r.begin('T1');
  const t2 = await r.begin('T2');
  await t1.put(r.row(1), '101');
  const before = await r.select(t2);
  await t1.put(r.row(1), '11');
  r.mustCommit(t1, await t1.commit());
  const after = await r.select(t2);
  await t2.commit();
  if (before['1'] === '101' || after['1'] === '101') return allowed('T2 read the intermediate write 1 → 101');
  r.check(before['1'] === '10' && (after['1'] === '10' || after['1'] === '11'), `T2 read 1 → ${before['1']} then ${after['1']}`);
  await r.expectStored({ 1: '11', 2: '20' }, 'T1 committed 1 → 11');
  return prevented(`T2 read 1 → ${before['1']}, then ${after['1']}`);
}

/**
 * G1c (circular information flow). T1 writes row 1 = 11, T2 writes row 2 = 22;
 * T1 reads row 2, T2 reads row 1, both before either commits; T1 commits, then T2.
 * Allowed iff T1 reads 22 or T2 reads 11 (each would have seen the other's
 * uncommitted write: a cycle of wr dependencies); prevented otherwise.
 */
async function g1c(r: Run): Promise<Finding> {
  await r.setup();
  const t1 = await r.begin('T1');
  const t2 = await r.begin('T2');
  await t1.put(r.row(1), '11');
  await t2.put(r.row(2), '22');
  const t1Saw = await t1.get(r.row(2));
  const t2Saw = await t2.get(r.row(1));
  r.mustCommit(t1, await t1.commit());
  const c2 = await t2.commit();
  await r.expectStored({ 1: '11', 2: c2.committed ? '22' : '20' }, `T1 committed, T2 ${c2.committed ? 'committed' : 'failed'}`);
  const seen = `T1 read 2 → ${t1Saw}, T2 read 1 → ${t2Saw}`;
  if (t1Saw === '22' || t2Saw === '11') return allowed(seen);
  r.check(t1Saw === '20' && t2Saw === '10', `${seen}: neither the initial nor the other's value`);
  return prevented(seen);
}

/**
 * OTV (observed transaction vanishes). T1 writes rows 1 = 11, 2 = 19 and
 * commits; T2 overwrites them (1 = 12 before T1's commit, 2 = 18 after) and
 * commits; T3 reads 1, 2, 2, 1 at the points of PostgreSQL's script.
 * Each value has a generation: 10/20 initial (0), 11/19 T1's (1), 12/18 T2's
 * (2); both T1 and T2 write both rows, so once T3 has seen generation g, every
 * later read must be of generation ≥ g. Allowed iff a read goes back (a
 * transaction T3 had observed vanishes), or T3 reads a T2 value before T2's
 * commit answered or although T2 failed; prevented otherwise.
 */
async function otv(r: Run): Promise<Finding> {
  const generation: Record<string, number> = { '10': 0, '20': 0, '11': 1, '19': 1, '12': 2, '18': 2 };
  await r.setup();
  const t1 = await r.begin('T1');
  const t2 = await r.begin('T2');
  const t3 = await r.begin('T3');
  await t1.put(r.row(1), '11');
  await t1.put(r.row(2), '19');
  await t2.put(r.row(1), '12'); // PostgreSQL: BLOCKS
  r.mustCommit(t1, await t1.commit());
  const reads: { id: number; value: string | null; t2Committed: boolean }[] = [];
  reads.push({ id: 1, value: await t3.get(r.row(1)), t2Committed: false });
  await t2.put(r.row(2), '18');
  reads.push({ id: 2, value: await t3.get(r.row(2)), t2Committed: false });
  const c2 = await t2.commit();
  reads.push({ id: 2, value: await t3.get(r.row(2)), t2Committed: c2.committed });
  reads.push({ id: 1, value: await t3.get(r.row(1)), t2Committed: c2.committed });
  await t3.commit();
  await r.expectStored(c2.committed ? { 1: '12', 2: '18' } : { 1: '11', 2: '19' }, `T1 committed, T2 ${c2.committed ? 'committed' : 'failed'}`);
  const seen = `T3 read ${reads.map((x) => `${x.id} → ${x.value}`).join(', ')}`;
  let highest = 0;
  for (const read of reads) {
    const g = read.value === null ? undefined : generation[read.value];
    if (g === undefined) r.fail(`${seen}: ${read.value} is no value of row ${read.id}`);
    if (g === 2 && !read.t2Committed) return allowed(`${seen}: a write of T2 before it committed (or although it failed)`);
    if (g < highest) return allowed(`${seen}: a transaction T3 had observed vanished`);
    highest = g;
  }
  return prevented(seen);
}

/**
 * PMP (predicate-many-preceders). T1 selects `value = 30` (nothing); T2
 * inserts row 3 = 30 and commits; T1 selects `value % 3 = 0`.
 * Allowed iff T1's second predicate read returns T2's row 3 (the predicate read
 * saw a state the first one did not); prevented otherwise.
 */
async function pmp(r: Run): Promise<Finding> {
  await r.setup();
  const t1 = await r.begin('T1');
  const t2 = await r.begin('T2');
  const first = await r.select(t1, (v) => v === 30);
  r.check(same(first, {}), `T1's first select returned ${JSON.stringify(first)}`);
  await t2.put(r.row(3), '30');
  r.mustCommit(t2, await t2.commit());
  const second = await r.select(t1, (v) => v % 3 === 0);
  await t1.commit();
  await r.expectStored({ 3: '30' }, 'T2 committed 3 → 30');
  if (second['3'] !== undefined) return allowed(`T1's second select returned ${JSON.stringify(second)}`);
  r.check(same(second, {}), `T1's second select returned ${JSON.stringify(second)}`);
  return prevented("T1's second select returned nothing");
}

/**
 * P4 (lost update). T1 and T2 both read row 1 (10) and write it back
 * incremented; T1 commits, then T2.
 * Prevented iff T2's commit fails with TXN_CONFLICT (row 1 then 11), or row 1
 * ends at 12 (both increments); allowed iff both commit and row 1 is 11 (T1's
 * increment lost).
 */
async function p4(r: Run): Promise<Finding> {
  await r.setup();
  const t1 = await r.begin('T1');
  const t2 = await r.begin('T2');
  const v1 = await t1.get(r.row(1));
  const v2 = await t2.get(r.row(1));
  r.check(v1 === '10' && v2 === '10', `T1 and T2 read 1 → ${v1}, ${v2}`);
  await t1.put(r.row(1), String(Number(v1) + 1));
  await t2.put(r.row(1), String(Number(v2) + 1)); // PostgreSQL: BLOCKS
  r.mustCommit(t1, await t1.commit());
  const c2 = await t2.commit();
  const final = await r.read(1);
  if (final === '12') return prevented('row 1 reflects both increments (12)');
  if (!c2.committed) {
    r.check(final === '11', `T2 failed, yet row 1 is ${final}`);
    return prevented(`T2's commit failed with ${c2.error.code} (${c2.error.reason ?? 'no reason'})`);
  }
  r.check(final === '11', `both committed, row 1 is ${final}`);
  return allowed("both committed; row 1 is 11: T1's increment is lost");
}

/**
 * G-single (read skew). T1 reads row 1; T2 reads rows 1 and 2, writes
 * 1 = 12, 2 = 18 and commits; T1 reads row 2.
 * Allowed iff T1 reads 1 → 10 and 2 → 18 (half of T2's transaction: no serial
 * order explains it); prevented iff T1 reads 2 → 20. Decided on what T1
 * observed, whether or not its commit then succeeds (as Hermitage does: the
 * client has already seen the skew).
 */
async function gSingle(r: Run): Promise<Finding> {
  await r.setup();
  const t1 = await r.begin('T1');
  const t2 = await r.begin('T2');
  const first = await t1.get(r.row(1));
  r.check(first === '10', `T1 read 1 → ${first}`);
  await t2.get(r.row(1));
  await t2.get(r.row(2));
  await t2.put(r.row(1), '12');
  await t2.put(r.row(2), '18');
  r.mustCommit(t2, await t2.commit());
  const second = await t1.get(r.row(2));
  await t1.commit();
  await r.expectStored({ 1: '12', 2: '18' }, 'T2 committed');
  if (second === '18') return allowed('T1 read 1 → 10 then 2 → 18');
  r.check(second === '20', `T1 read 2 → ${second}`);
  return prevented('T1 read 1 → 10 then 2 → 20');
}

/**
 * G2-item (write skew). T1 and T2 both read rows 1 and 2; T1 writes
 * 1 = 11, T2 writes 2 = 21; T1 commits, then T2.
 * Prevented iff T2's commit fails with TXN_CONFLICT; allowed iff both commit
 * (each wrote what the other read: an anti-dependency cycle).
 */
async function g2Item(r: Run): Promise<Finding> {
  await r.setup();
  const t1 = await r.begin('T1');
  const t2 = await r.begin('T2');
  const seen = [await t1.get(r.row(1)), await t1.get(r.row(2)), await t2.get(r.row(1)), await t2.get(r.row(2))];
  r.check(seen.join() === '10,20,10,20', `T1 and T2 read ${seen.join(', ')}`);
  await t1.put(r.row(1), '11');
  await t2.put(r.row(2), '21');
  r.mustCommit(t1, await t1.commit());
  const c2 = await t2.commit();
  await r.expectStored({ 1: '11', 2: c2.committed ? '21' : '20' }, `T1 committed, T2 ${c2.committed ? 'committed' : 'failed'}`);
  if (c2.committed) return allowed('both committed');
  return prevented(`T2's commit failed with ${c2.error.code} (${c2.error.reason ?? 'no reason'})`);
}

/**
 * G2 (anti-dependency cycles over a predicate). T1 and T2 both select
 * `value % 3 = 0` (nothing); T1 inserts row 3 = 30, T2 inserts row 4 = 42;
 * T1 commits, then T2.
 * Prevented iff T2's commit fails with TXN_CONFLICT; allowed iff both commit
 * (each inserted a row matching the other's predicate read).
 */
async function g2(r: Run): Promise<Finding> {
  await r.setup();
  const t1 = await r.begin('T1');
  const t2 = await r.begin('T2');
  const s1 = await r.select(t1, (v) => v % 3 === 0);
  const s2 = await r.select(t2, (v) => v % 3 === 0);
  r.check(same(s1, {}) && same(s2, {}), `the selects returned ${JSON.stringify(s1)}, ${JSON.stringify(s2)}`);
  await t1.put(r.row(3), '30');
  await t2.put(r.row(4), '42');
  r.mustCommit(t1, await t1.commit());
  const c2 = await t2.commit();
  await r.expectStored({ 3: '30', 4: c2.committed ? '42' : null }, `T1 committed, T2 ${c2.committed ? 'committed' : 'failed'}`);
  if (c2.committed) return allowed('both committed');
  return prevented(`T2's commit failed with ${c2.error.code} (${c2.error.reason ?? 'no reason'})`);
}

/**
 * G0 with racing commits (not one of PostgreSQL's scripts: with writes
 * buffered until commit, the interleaving that matters is that of the two
 * two-phase commits themselves). T1 writes rows a = 11, b = 21 and T2 writes
 * a = 12, b = 22 (a and b on different shards); both commit at once. Five
 * rounds, each on fresh rows.
 * Prevented iff after every round the rows hold exactly the writes of the
 * committed transaction with the higher commit_ts ((10, 20) if both failed:
 * at read_committed both may lose, each to the other's intent on one shard);
 * allowed iff a round ends with a mix of T1's and T2's writes.
 */
async function g0Racing(r: Run): Promise<Finding> {
  const ROUNDS = 5;
  const outcomes: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const [a, b] = [2 * round + 1, 2 * round + 2];
    await plainPut(r.base, r.row(a), '10', r.trace, 'setup');
    await plainPut(r.base, r.row(b), '20', r.trace, 'setup');
    const t1 = await r.begin('T1');
    const t2 = await r.begin('T2');
    await t1.put(r.row(a), '11');
    await t2.put(r.row(a), '12');
    await t1.put(r.row(b), '21');
    await t2.put(r.row(b), '22');
    const [c1, c2] = await Promise.all([t1.commit(), t2.commit()]);
    const final = [await r.read(a), await r.read(b)].join(', ');
    outcomes.push(`(${final}) T1 ${c1.committed ? 'committed' : 'failed'}, T2 ${c2.committed ? 'committed' : 'failed'}`);
    if (final === '11, 22' || final === '12, 21') return allowed(`round ${round + 1}: the rows mix T1's and T2's writes: ${outcomes.at(-1)}`);
    const last = c1.committed && (!c2.committed || c1.commitTs > c2.commitTs) ? '11, 21' : c2.committed ? '12, 22' : '10, 20';
    r.check(final === last, `round ${round + 1}: the rows are (${final}), expected (${last}) from the commit answers`);
  }
  return prevented(outcomes.join('; '));
}

/**
 * PMP with a write predicate (PostgreSQL's documentation example). T1 runs
 * `update test set value = value + 10` (selects every row, writes each back
 * +10); T2 runs `delete from test where value = 20` (selects every row,
 * deletes those reading 20: row 2) — PostgreSQL blocks it; T1 commits, then T2.
 * Prevented iff T2's commit fails with TXN_CONFLICT; allowed iff T2 commits:
 * it deleted by a predicate evaluated on a state T1 had since replaced (row 2
 * is 30 by then, row 1 is 20), overwriting T1's write to row 2 without having
 * seen it — no serial order has that.
 */
async function pmpWrite(r: Run): Promise<Finding> {
  await r.setup();
  const t1 = await r.begin('T1');
  const t2 = await r.begin('T2');
  for (const [id, value] of Object.entries(await r.select(t1))) await t1.put(r.row(Number(id)), String(Number(value) + 10));
  const matching = await r.select(t2, (v) => v === 20);
  r.check(same(matching, { '2': '20' }), `T2's select of value = 20 returned ${JSON.stringify(matching)}`);
  await t2.delete(r.row(2)); // PostgreSQL: BLOCKS
  r.mustCommit(t1, await t1.commit());
  const c2 = await t2.commit();
  await r.expectStored({ 1: '20', 2: c2.committed ? null : '30' }, `T1 committed, T2 ${c2.committed ? 'committed' : 'failed'}`);
  if (c2.committed) return allowed("T2 committed its delete of row 2, chosen by value = 20 before T1's commit made it 30");
  return prevented(`T2's commit failed with ${c2.error.code} (${c2.error.reason ?? 'no reason'})`);
}

/**
 * G-single over predicates. T1 selects `value % 5 = 0` (rows 1, 2); T2 runs
 * `update test set value = 12 where value = 10` and commits; T1 selects
 * `value % 3 = 0`.
 * Allowed iff T1's second select returns row 1 = 12 (T1 saw row 1 both before
 * and after T2); prevented iff it returns nothing.
 */
async function gSinglePredicate(r: Run): Promise<Finding> {
  await r.setup();
  const t1 = await r.begin('T1');
  const t2 = await r.begin('T2');
  const first = await r.select(t1, (v) => v % 5 === 0);
  r.check(same(first, { '1': '10', '2': '20' }), `T1's first select returned ${JSON.stringify(first)}`);
  for (const id of Object.keys(await r.select(t2, (v) => v === 10))) await t2.put(r.row(Number(id)), '12');
  r.mustCommit(t2, await t2.commit());
  const second = await r.select(t1, (v) => v % 3 === 0);
  await t1.commit();
  await r.expectStored({ 1: '12', 2: '20' }, 'T2 committed 1 → 12');
  if (second['1'] === '12') return allowed(`T1 read row 1 as 10, then its second select returned ${JSON.stringify(second)}`);
  r.check(same(second, {}), `T1's second select returned ${JSON.stringify(second)}`);
  return prevented("T1's second select returned nothing");
}

/**
 * G-single with a write predicate. T1 reads row 1 (10); T2 selects every row,
 * writes 1 = 12, 2 = 18 and commits; T1 runs `delete from test where value =
 * 20` (selects every row, deletes those reading 20) and commits.
 * Prevented iff T1 saw only the state before T2 and its commit fails with
 * TXN_CONFLICT (PostgreSQL: "could not serialize access"); allowed iff T1's
 * reads mix the states before and after T2 (row 1 → 10, then a value of T2),
 * or T1 commits (its delete rests on reads T2 had made stale).
 */
async function gSingleWrite(r: Run): Promise<Finding> {
  await r.setup();
  const t1 = await r.begin('T1');
  const t2 = await r.begin('T2');
  const first = await t1.get(r.row(1));
  r.check(first === '10', `T1 read 1 → ${first}`);
  await r.select(t2);
  await t2.put(r.row(1), '12');
  await t2.put(r.row(2), '18');
  r.mustCommit(t2, await t2.commit());
  const all = await r.select(t1);
  for (const [id, value] of Object.entries(all)) if (value === '20') await t1.delete(r.row(Number(id)));
  const c1 = await t1.commit();
  await r.expectStored({ 1: '12', 2: c1.committed && all['2'] === '20' ? null : '18' }, `T2 committed, T1 ${c1.committed ? 'committed' : 'failed'}`);
  const seen = `T1 read 1 → 10, then ${JSON.stringify(all)}; T1 ${c1.committed ? 'committed' : `failed (${c1.error.code} ${c1.error.reason ?? ''})`}`;
  if (all['1'] !== '10' || all['2'] !== '20') return allowed(`${seen}: a state after T2 next to one before it`);
  if (c1.committed) return allowed(`${seen}: T1 deleted row 2 from a stale read, over T2's write`);
  return prevented(seen);
}

/**
 * G2 with two anti-dependency edges (Fekete et al.'s read-only anomaly). T1
 * selects every row; then T2 begins, adds 5 to row 2 and commits; then T3
 * begins, selects every row (1 → 10, 2 → 25) and commits; then T1 writes
 * row 1 = 0 and commits.
 * Prevented iff T1's commit fails with TXN_CONFLICT; allowed iff it commits
 * (T1 →rw T2 →wr T3 →rw T1: T3 saw T2 but not T1, while T1 ran before T2).
 */
async function g2TwoEdges(r: Run): Promise<Finding> {
  await r.setup();
  const t1 = await r.begin('T1');
  const initial = await r.select(t1);
  r.check(same(initial, { '1': '10', '2': '20' }), `T1's select returned ${JSON.stringify(initial)}`);
  const t2 = await r.begin('T2');
  const v2 = await t2.get(r.row(2));
  await t2.put(r.row(2), String(Number(v2) + 5));
  r.mustCommit(t2, await t2.commit());
  const t3 = await r.begin('T3');
  const t3Saw = await r.select(t3);
  r.check(same(t3Saw, { '1': '10', '2': '25' }), `T3 began after T2's commit, yet selected ${JSON.stringify(t3Saw)}`);
  await t3.commit();
  await t1.put(r.row(1), '0');
  const c1 = await t1.commit();
  await r.expectStored({ 1: c1.committed ? '0' : '10', 2: '25' }, `T2 committed, T1 ${c1.committed ? 'committed' : 'failed'}`);
  if (c1.committed) return allowed('T1 committed');
  return prevented(`T1's commit failed with ${c1.error.code} (${c1.error.reason ?? 'no reason'})`);
}

const SCRIPTS: Record<Script, (run: Run) => Promise<Finding>> = {
  G0: g0,
  G1a: g1a,
  G1b: g1b,
  G1c: g1c,
  OTV: otv,
  PMP: pmp,
  P4: p4,
  'G-single': gSingle,
  'G2-item': g2Item,
  G2: g2,
  'G0 racing commits': g0Racing,
  'PMP write predicate': pmpWrite,
  'G-single predicate': gSinglePredicate,
  'G-single write predicate': gSingleWrite,
  'G2 two edges': g2TwoEdges,
};

const P: Verdict = 'prevented';
const A: Verdict = 'allowed';

/** The table this design produces (contract, "Isolation"). */
const EXPECTED: Record<Anomaly, Record<Isolation, Verdict>> = {
  //          read_committed     repeatable_read     snapshot     serializable
  G0: { read_committed: P, repeatable_read: P, snapshot: P, serializable: P },
  G1a: { read_committed: P, repeatable_read: P, snapshot: P, serializable: P },
  G1b: { read_committed: P, repeatable_read: P, snapshot: P, serializable: P },
  G1c: { read_committed: P, repeatable_read: P, snapshot: P, serializable: P },
  OTV: { read_committed: P, repeatable_read: P, snapshot: P, serializable: P },
  PMP: { read_committed: A, repeatable_read: P, snapshot: P, serializable: P },
  P4: { read_committed: A, repeatable_read: P, snapshot: P, serializable: P },
  'G-single': { read_committed: A, repeatable_read: P, snapshot: P, serializable: P },
  'G2-item': { read_committed: A, repeatable_read: P, snapshot: A, serializable: P },
  G2: { read_committed: A, repeatable_read: A, snapshot: A, serializable: P },
};

/**
 * The variants' table in this design: as their anomaly's row, except that
 * Fekete's G2 is caught by item reads (T1 read row 2, which T2 then wrote), so
 * repeatable_read prevents it, and snapshot (no read validation) allows it.
 */
const EXPECTED_VARIANTS: Record<Variant, Record<Isolation, Verdict>> = {
  'G0 racing commits': { read_committed: P, repeatable_read: P, snapshot: P, serializable: P },
  'PMP write predicate': { read_committed: A, repeatable_read: P, snapshot: P, serializable: P },
  'G-single predicate': { read_committed: A, repeatable_read: P, snapshot: P, serializable: P },
  'G-single write predicate': { read_committed: A, repeatable_read: P, snapshot: P, serializable: P },
  'G2 two edges': { read_committed: A, repeatable_read: P, snapshot: A, serializable: P },
};

const EXPECTED_ALL: Record<Script, Record<Isolation, Verdict>> = { ...EXPECTED, ...EXPECTED_VARIANTS };

/**
 * What each level's definition promises at least (Adya's PL levels as
 * Hermitage reads them): read committed (PL-2) G0, G1a, G1b, G1c; repeatable
 * read (PL-2.99) adds OTV, P4, G-single, G2-item but allows phantoms (PMP,
 * G2); snapshot isolation adds OTV, PMP, P4, G-single but allows write skew
 * (G2-item, G2); serializable (PL-3) prevents all.
 */
const PROMISED: Record<Isolation, readonly Anomaly[]> = {
  read_committed: ['G0', 'G1a', 'G1b', 'G1c'],
  repeatable_read: ['G0', 'G1a', 'G1b', 'G1c', 'OTV', 'P4', 'G-single', 'G2-item'],
  snapshot: ['G0', 'G1a', 'G1b', 'G1c', 'OTV', 'PMP', 'P4', 'G-single'],
  serializable: ANOMALIES,
};

type Cell = Verdict | 'error';

function formatTable(title: string, rows: readonly Script[], cells: Map<string, Cell>): string {
  const first = Math.max(...rows.map((a) => a.length), title.length) + 2;
  const width = Math.max(...ISOLATION_LEVELS.map((l) => l.length), 'prevented*'.length) + 2;
  const lines = [title.padEnd(first) + ISOLATION_LEVELS.map((l) => l.padEnd(width)).join('')];
  for (const script of rows) {
    const row = ISOLATION_LEVELS.map((level) => {
      const cell = cells.get(`${script}|${level}`) ?? 'not run';
      return `${cell}${cell !== EXPECTED_ALL[script][level] ? '*' : ''}`.padEnd(width);
    });
    lines.push(script.padEnd(first) + row.join(''));
  }
  return lines.join('\n');
}

function verdictsOf<S extends Script>(rows: readonly S[], cells: Map<string, Cell>): Record<S, Record<Isolation, Cell | 'not run'>> {
  return Object.fromEntries(rows.map((a) => [a, Object.fromEntries(ISOLATION_LEVELS.map((l) => [l, cells.get(`${a}|${l}`) ?? 'not run']))])) as Record<
    S,
    Record<Isolation, Cell | 'not run'>
  >;
}

/** mantis_txn_commits_total by path, from the Prometheus text. */
async function commitsByPath(base: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${base}/api/metrics/prometheus`)).text();
  const counts: Record<string, number> = {};
  for (const match of text.matchAll(/^mantis_txn_commits_total\{path="([^"]+)"\} (\S+)$/gm)) counts[match[1]] = Number(match[2]);
  return counts;
}

function hermitageSuite(url: () => string, config: string): void {
  const cells = new Map<string, Cell>();

  it('places odd and even rows on different shards', () => {
    const r = new Run('http://unused', 'serializable', 'G0');
    expect(shardOf(r.row(1))).toBe(0);
    expect(shardOf(r.row(3))).toBe(0);
    expect(shardOf(r.row(2))).toBe(1);
    expect(shardOf(r.row(4))).toBe(1);
    expect(r.row(1).startsWith(r.prefix) && r.row(2).startsWith(r.prefix)).toBe(true);
  });

  for (const script of [...ANOMALIES, ...VARIANTS]) {
    for (const level of ISOLATION_LEVELS) {
      it(`${script} at ${level}: ${EXPECTED_ALL[script][level]}`, async () => {
        const run = new Run(url(), level, script);
        let finding: Finding;
        try {
          finding = await SCRIPTS[script](run);
        } catch (error) {
          cells.set(`${script}|${level}`, 'error');
          throw error;
        }
        cells.set(`${script}|${level}`, finding.verdict);
        run.trace.note(`verdict: ${finding.verdict} — ${finding.why}`);
        if (process.env.HERMITAGE_TRACE === '1') console.log(`${script} at ${level} (${config})\n${run.trace.text()}`);
        expect(finding.verdict, `${script} at ${level}: ${finding.why}\ntrace:\n${run.trace.text()}`).toBe(EXPECTED_ALL[script][level]);
      });
    }
  }

  it('prints the table; serializable prevents all, each level what it promises, and the exact expected table', async () => {
    const commits = await commitsByPath(url());
    console.log(
      [
        `Hermitage on MantisDB (${SHARDS} shards, ${config})`,
        formatTable('anomaly', ANOMALIES, cells),
        '',
        formatTable("PostgreSQL's variants", VARIANTS, cells),
        '(* differs from the expected table)',
        `commits by path: ${JSON.stringify(commits)}`,
      ].join('\n'),
    );
    const verdicts = verdictsOf(ANOMALIES, cells);
    for (const level of ISOLATION_LEVELS) {
      const missed = PROMISED[level].filter((a) => verdicts[a][level] !== 'prevented');
      expect(missed, `${level} must prevent ${PROMISED[level].join(', ')}`).toEqual([]);
    }
    expect(verdicts).toEqual(EXPECTED);
    const variants = verdictsOf(VARIANTS, cells);
    expect(VARIANTS.filter((v) => variants[v].serializable !== 'prevented'), 'serializable must prevent every variant').toEqual([]);
    expect(variants).toEqual(EXPECTED_VARIANTS);
    // Rows 1 and 2 on different shards: the two-row scripts committed by two-phase commit.
    expect(commits.two_phase ?? 0).toBeGreaterThan(0);
  });
}

// ---------------------------------------------------------------------------
// HTTP conventions of the transaction routes
// ---------------------------------------------------------------------------

type ConflictError = { code: string; message: string; retryable: boolean; key: string; reason: string };

async function begin(base: string, body: Record<string, unknown> = {}): Promise<BeginData> {
  return (await expectOk<BeginData>(await postBegin(base, body))).data;
}

async function expectText(response: Response, status: number, body: string): Promise<void> {
  const text = await response.text();
  expect({ status: response.status, text }).toEqual({ status, text: body });
}

function conventionSuite(url: () => string): void {
  const ns = `txn-http/${RUN}/`;
  const onShard = (shard: number, name: string): string => `${ns}{${TAGS[shard]}}${name}`;

  it('begin answers 200 with data.id, the isolation (serializable by default), timeout_ms and snapshot_ts', async () => {
    const envelope = await expectOk<BeginData>(await postBegin(url()));
    expect(envelope.data).toEqual({ id: expect.any(String), isolation: 'serializable', timeout_ms: 5000, snapshot_ts: expect.any(Number) });
    expect(envelope.data.id.length).toBeGreaterThan(0);
    const ids = new Set([envelope.data.id]);
    for (const isolation of ISOLATION_LEVELS) {
      const data = await begin(url(), { isolation, timeout_ms: 1000 });
      expect(data).toMatchObject({ isolation, timeout_ms: 1000 });
      ids.add(data.id);
      await expectOk<RollbackData>(await postRollback(url(), data.id));
    }
    expect(ids.size).toBe(ISOLATION_LEVELS.length + 1);
    await expectOk<RollbackData>(await postRollback(url(), envelope.data.id));
  });

  it('refuses a bad isolation, a bad timeout or an unknown field with 400 INVALID_PARAMETER, bad JSON with 400 INVALID_JSON', async () => {
    await expectError(await postBegin(url(), { isolation: 'chaos' }), 400, 'INVALID_PARAMETER');
    await expectError(await postBegin(url(), { isolation: 'SERIALIZABLE' }), 400, 'INVALID_PARAMETER');
    await expectError(await postBegin(url(), { timeout_ms: 0 }), 400, 'INVALID_PARAMETER');
    await expectError(await postBegin(url(), { timeout_ms: 600_001 }), 400, 'INVALID_PARAMETER');
    await expectError(await postBegin(url(), { isolation: 'snapshot', colour: 'blue' }), 400, 'INVALID_PARAMETER');
    await expectError(await postBegin(url(), '{"isolation":'), 400, 'INVALID_JSON');
  });

  it('answers 404 TXN_NOT_FOUND for an unknown id: commit, rollback and a KV route', async () => {
    const id = `no-such-txn-${RUN}`;
    await expectError(await postCommit(url(), id), 404, 'TXN_NOT_FOUND');
    await expectError(await postRollback(url(), id), 404, 'TXN_NOT_FOUND');
    await expectError(await kvFetch(url(), id, 'GET', `${ns}unknown`), 404, 'TXN_NOT_FOUND');
  });

  it('expires a transaction idle past timeout_ms: commit answers 410 TXN_EXPIRED and nothing is written', async () => {
    const key = onShard(0, 'expiring');
    const { id } = await begin(url(), { timeout_ms: 200 });
    await expectOk(await kvFetch(url(), id, 'PUT', key, 'never'));
    await delay(600); // the subject of the test: idle past its timeout
    await expectError(await postCommit(url(), id), 410, 'TXN_EXPIRED');
    await expectError(await kvFetch(url(), null, 'GET', key), 404, 'KEY_NOT_FOUND');
  });

  it('answers a conflicting commit with 409 TXN_CONFLICT naming the key; the loser is aborted and wrote nothing', async () => {
    const a = onShard(0, 'conflict-a');
    const b = onShard(1, 'conflict-b');
    await expectOk(await kvFetch(url(), null, 'PUT', b, 'b0'));
    const winner = await begin(url(), { isolation: 'snapshot' });
    const loser = await begin(url(), { isolation: 'snapshot' });
    await expectOk(await kvFetch(url(), loser.id, 'PUT', a, 'a-loser'));
    await expectOk(await kvFetch(url(), loser.id, 'PUT', b, 'b-loser'));
    await expectOk(await kvFetch(url(), winner.id, 'PUT', b, 'b-winner'));
    const committed = await expectOk<CommitData>(await postCommit(url(), winner.id));
    expect(committed.data).toEqual({ id: winner.id, committed: true, commit_ts: expect.any(Number) });
    // A repeated commit of a committed id answers the same 200.
    expect((await expectOk<CommitData>(await postCommit(url(), winner.id))).data).toEqual(committed.data);

    // The loser spans both shards (two-phase commit); its write of b conflicts.
    const response = await postCommit(url(), loser.id);
    const text = await response.text();
    expect(response.status, text).toBe(409);
    const error = failureOf(text) as ConflictError | null;
    expect(error, text).toEqual({ code: 'TXN_CONFLICT', message: expect.any(String), retryable: expect.any(Boolean), key: b, reason: 'write' });
    expect(error?.message).toContain(b);

    await expectText(await kvFetch(url(), null, 'GET', b), 200, 'b-winner');
    await expectError(await kvFetch(url(), null, 'GET', a), 404, 'KEY_NOT_FOUND');
    // The failed commit aborted the loser.
    await expectError(await kvFetch(url(), loser.id, 'GET', a), 409, 'TXN_ABORTED');
  });

  it('reads its own writes: GET answers the buffered value, a buffered delete reads as absent, the listing merges both', async () => {
    const p = `${ns}ryw/`;
    const [kept, changed, removed, added] = [`${p}{${TAGS[0]}}kept`, `${p}{${TAGS[1]}}changed`, `${p}{${TAGS[0]}}removed`, `${p}{${TAGS[1]}}added`];
    for (const key of [kept, changed, removed]) await expectOk(await kvFetch(url(), null, 'PUT', key, 'old'));
    const { id } = await begin(url());

    const stored = await kvFetch(url(), id, 'GET', kept);
    expect(stored.headers.get('mantis-version')).toMatch(/^\d+\.\d+$/);
    await expectText(stored, 200, 'old');

    expect((await expectOk<{ key: string; txn: string }>(await kvFetch(url(), id, 'PUT', changed, 'new'))).data).toMatchObject({ key: changed, txn: id });
    await expectText(await kvFetch(url(), id, 'GET', changed), 200, 'new');
    expect((await expectOk<{ key: string; deleted: boolean }>(await kvFetch(url(), id, 'DELETE', removed))).data).toMatchObject({ key: removed, deleted: true });
    await expectError(await kvFetch(url(), id, 'GET', removed), 404, 'KEY_NOT_FOUND');
    await expectOk(await kvFetch(url(), id, 'PUT', added, 'fresh'));
    await expectText(await kvFetch(url(), id, 'GET', added), 200, 'fresh');

    const listed = await expectOk<string[]>(await listFetch(url(), id, p));
    expect(listed.data).toEqual([kept, changed, added].sort(byteOrder));
    await expectOk(await postCommit(url(), id));
  });

  it("keeps a transaction's writes invisible to plain reads until it commits", async () => {
    const p = `${ns}invisible/`;
    const [existing, fresh] = [`${p}{${TAGS[0]}}existing`, `${p}{${TAGS[1]}}fresh`];
    await expectOk(await kvFetch(url(), null, 'PUT', existing, 'before'));
    const { id } = await begin(url(), { isolation: 'read_committed' });
    await expectOk(await kvFetch(url(), id, 'PUT', existing, 'after'));
    await expectOk(await kvFetch(url(), id, 'PUT', fresh, 'new'));

    await expectText(await kvFetch(url(), null, 'GET', existing), 200, 'before');
    await expectError(await kvFetch(url(), null, 'GET', fresh), 404, 'KEY_NOT_FOUND');
    expect((await expectOk<string[]>(await listFetch(url(), null, p))).data).toEqual([existing]);

    await expectOk<CommitData>(await postCommit(url(), id));
    await expectText(await kvFetch(url(), null, 'GET', existing), 200, 'after');
    await expectText(await kvFetch(url(), null, 'GET', fresh), 200, 'new');
    expect((await expectOk<string[]>(await listFetch(url(), null, p))).data).toEqual([existing, fresh].sort(byteOrder));
  });
}

describe.each(CONFIGS)('transactions on $name (2 shards)', ({ fastPath, name }) => {
  let server: ServerProcess | undefined;
  const url = (): string => {
    if (server === undefined) throw new Error('the server did not start (see beforeAll)');
    return server.url;
  };

  beforeAll(async () => {
    server = await startServer({ shards: SHARDS, fsync: 'none', fastPath });
  });

  afterAll(async () => {
    await server?.stop();
  });

  describe('Hermitage anomalies', () => hermitageSuite(url, name));
  describe('HTTP conventions', () => conventionSuite(url));
});
