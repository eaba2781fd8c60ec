// The bank invariant over the transaction HTTP API on a 4-shard server: 20
// accounts spread over every shard start at 100 (total 2000); 8 clients
// transfer random amounts between random pairs at serializable (begin, read
// both balances, write both, commit; a 409 TXN_CONFLICT / TXN_ABORTED is
// retried with a fresh transaction; a transfer that would make a balance
// negative is rolled back). Meanwhile an auditor reads every balance (and lists
// the prefix) in read-only serializable and snapshot transactions and checks
// the total is exactly 2000 every time, and a read_committed reader runs
// unchecked. Afterwards the total is 2000 and each account holds the balance
// written by its last acknowledged commit (highest commit_ts).
//
// The kill -9 variant (--fsync always) kills the server in the middle of the
// transfers, restarts it on the same data dir and checks that the total is
// still 2000 and that every acknowledged commit is there: each account holds
// the balance of its last acknowledged commit or of a commit that was in
// flight (no answer) at the kill. Then transfers run again to show the
// restarted server works.

import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { buildSlotMap, shardOfKey } from '../../shared/slot.js';
import { byteOrder } from '../helpers/http-client.js';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';
import {
  beginTxn,
  commitTxn,
  isRetryable,
  plainGet,
  plainPut,
  readInTxn,
  rollbackQuietly,
  ServerGone,
  TransferLedger,
  txnGet,
  txnList,
  txnPut,
  type Isolation,
  type Write,
} from '../helpers/txn-bank-support.js';
import { Xorshift32 } from '../unit/support/prng.js';

afterAll(cleanup);

const SHARDS = 4;
const ACCOUNTS = 20;
const START_BALANCE = 100;
const TOTAL = ACCOUNTS * START_BALANCE;
const CLIENTS = 8;
const AMOUNT_MAX = 20;
/** Attempts of one transfer before a client gives up on it and picks another. */
const RETRIES_MAX = 50;
const FAILURES_KEPT = 20;

type Bank = { readonly prefix: string; readonly keys: readonly string[] };

/** A run prefix whose 20 account keys cover every shard (re-drawn until they do). */
function openBank(): Bank {
  const map = buildSlotMap(SHARDS);
  for (let attempt = 0; attempt < 1000; attempt++) {
    const prefix = `bank/${randomUUID().slice(0, 8)}/`;
    const keys = Array.from({ length: ACCOUNTS }, (_, i) => `${prefix}acct-${i}`);
    const shards = new Set(keys.map((key) => shardOfKey(map, Buffer.from(key, 'utf8'))));
    if (shards.size === SHARDS) return { prefix, keys };
  }
  throw new Error('no run prefix spreads the accounts over every shard');
}

function accountsPerShard(bank: Bank): number[] {
  const map = buildSlotMap(SHARDS);
  const counts = new Array<number>(SHARDS).fill(0);
  for (const key of bank.keys) counts[shardOfKey(map, Buffer.from(key, 'utf8'))]++;
  return counts;
}

async function fund(url: string, bank: Bank): Promise<Map<string, number>> {
  await Promise.all(bank.keys.map((key) => plainPut(url, key, String(START_BALANCE))));
  return new Map(bank.keys.map((key) => [key, START_BALANCE]));
}

type Stats = {
  commits: number;
  aborts: number;
  insufficient: number;
  gaveUp: number;
  audits: { serializable: number; snapshot: number };
  auditRetries: number;
  rcReads: number;
  rcConflicts: number;
  failures: string[];
};

function newStats(): Stats {
  return { commits: 0, aborts: 0, insufficient: 0, gaveUp: 0, audits: { serializable: 0, snapshot: 0 }, auditRetries: 0, rcReads: 0, rcConflicts: 0, failures: [] };
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

type Run = {
  readonly url: string;
  readonly bank: Bank;
  readonly ledger: TransferLedger;
  readonly stats: Stats;
  /** True once the loops should end. */
  readonly stopped: () => boolean;
  /** True when the server is expected to die (kill -9): connection errors then just end a loop. */
  readonly deathExpected: () => boolean;
};

function record(run: Run, what: string, error: unknown): void {
  if (error instanceof ServerGone && run.deathExpected()) return;
  // Beyond the first few, more traces add nothing: the test fails on the first.
  if (run.stats.failures.length < FAILURES_KEPT) run.stats.failures.push(`${what}: ${describeError(error)}`);
}

function parseBalance(key: string, value: string | null): number {
  if (value === null) throw new Error(`${key} is missing`);
  if (!/^\d+$/.test(value)) throw new Error(`${key} holds ${JSON.stringify(value.slice(0, 100))}, not a balance`);
  return Number(value);
}

type Attempt = 'committed' | 'retry' | 'insufficient';

async function transferOnce(run: Run, from: string, to: string, amount: number): Promise<Attempt> {
  const { url } = run;
  const txn = await beginTxn(url, 'serializable');
  let writes: Write[] = [];
  let commitSent = false;
  try {
    const fromBalance = parseBalance(from, (await txnGet(url, txn.id, from)).value);
    const toBalance = parseBalance(to, (await txnGet(url, txn.id, to)).value);
    if (fromBalance < amount) {
      await rollbackQuietly(url, txn.id);
      return 'insufficient';
    }
    writes = [
      [from, fromBalance - amount],
      [to, toBalance + amount],
    ];
    for (const [key, balance] of writes) await txnPut(url, txn.id, key, String(balance));
    commitSent = true;
    const { commitTs } = await commitTxn(url, txn.id);
    run.ledger.acked(commitTs, writes);
    return 'committed';
  } catch (error) {
    if (isRetryable(error)) {
      // A failed commit has aborted the transaction; after a failed read or write, release it.
      if (!commitSent) await rollbackQuietly(url, txn.id);
      return 'retry';
    }
    // No answer to the commit (or an unexpected one): it may have committed.
    if (commitSent) run.ledger.noAnswer(writes);
    throw error;
  }
}

async function transferClient(run: Run, seed: number): Promise<void> {
  const rng = new Xorshift32(seed);
  const n = run.bank.keys.length;
  while (!run.stopped()) {
    const fromIndex = rng.int(n);
    const toIndex = (fromIndex + 1 + rng.int(n - 1)) % n;
    const amount = rng.range(1, AMOUNT_MAX);
    const [from, to] = [run.bank.keys[fromIndex], run.bank.keys[toIndex]];
    let attempt = 0;
    for (; attempt < RETRIES_MAX && !run.stopped(); attempt++) {
      let outcome: Attempt;
      try {
        outcome = await transferOnce(run, from, to, amount);
      } catch (error) {
        record(run, `transfer ${amount} ${from} → ${to}`, error);
        return;
      }
      if (outcome === 'committed') run.stats.commits++;
      else if (outcome === 'insufficient') run.stats.insufficient++;
      if (outcome !== 'retry') break;
      run.stats.aborts++;
      await delay(rng.int(1 + Math.min(attempt, 10) * 2));
    }
    if (attempt === RETRIES_MAX) run.stats.gaveUp++;
  }
}

/** One read-only audit: list the prefix and read every balance at one snapshot; the total must be exactly 2000. */
async function auditOnce(run: Run, isolation: Isolation): Promise<'ok' | 'retry'> {
  const { url, bank } = run;
  const txn = await beginTxn(url, isolation);
  try {
    const listed = await txnList(url, txn.id, bank.prefix, 100);
    const expectedKeys = [...bank.keys].sort(byteOrder);
    if (JSON.stringify(listed) !== JSON.stringify(expectedKeys)) {
      record(run, `audit ${isolation} ${txn.id} (snapshot_ts ${txn.snapshot_ts})`, new Error(`listed ${JSON.stringify(listed)}, expected the ${expectedKeys.length} accounts`));
    }
    const balances: number[] = [];
    for (const key of bank.keys) balances.push(parseBalance(key, (await txnGet(url, txn.id, key)).value));
    const sum = balances.reduce((a, b) => a + b, 0);
    if (sum !== TOTAL || balances.some((b) => b < 0)) {
      record(run, `audit ${isolation} ${txn.id} (snapshot_ts ${txn.snapshot_ts})`, new Error(`total ${sum}, expected ${TOTAL}; balances ${JSON.stringify(balances)}`));
    }
    await commitTxn(url, txn.id);
    run.stats.audits[isolation === 'snapshot' ? 'snapshot' : 'serializable']++;
    return 'ok';
  } catch (error) {
    if (!isRetryable(error)) throw error;
    await rollbackQuietly(url, txn.id);
    return 'retry';
  }
}

async function auditor(run: Run): Promise<void> {
  for (let i = 0; !run.stopped(); i++) {
    const isolation: Isolation = i % 2 === 0 ? 'serializable' : 'snapshot';
    try {
      if ((await auditOnce(run, isolation)) === 'retry') run.stats.auditRetries++;
    } catch (error) {
      record(run, `audit ${isolation}`, error);
      return;
    }
  }
}

/** read_committed reads of every balance: exercised, not checked (each read sees its own fresh snapshot). */
async function readCommittedReader(run: Run): Promise<void> {
  const { url, bank } = run;
  while (!run.stopped()) {
    let id: string | null = null;
    try {
      id = (await beginTxn(url, 'read_committed')).id;
      for (const key of bank.keys) await txnGet(url, id, key);
      await commitTxn(url, id);
      run.stats.rcReads++;
    } catch (error) {
      if (!isRetryable(error)) {
        record(run, 'read_committed reader', error);
        return;
      }
      run.stats.rcConflicts++;
      if (id !== null) await rollbackQuietly(url, id).catch(() => undefined);
    }
  }
}

function startLoad(run: Run, seed: number): Promise<void> {
  const loops = [...Array.from({ length: CLIENTS }, (_, c) => transferClient(run, seed * 1000 + c + 1)), auditor(run), readCommittedReader(run)];
  return Promise.all(loops).then(() => undefined);
}

function report(label: string, stats: Stats, extra = ''): void {
  console.log(
    `[txn-bank ${label}] commits ${stats.commits}, aborts (retried) ${stats.aborts}, insufficient ${stats.insufficient}, gave up ${stats.gaveUp}, ` +
      `audits serializable ${stats.audits.serializable} + snapshot ${stats.audits.snapshot} (retried ${stats.auditRetries}), ` +
      `read_committed passes ${stats.rcReads} (conflicts ${stats.rcConflicts})${extra}`,
  );
}

/** The server's log lines about in-doubt transactions and recovery, for failure messages. */
function recoveryLog(server: ServerProcess): string {
  const { stdout, stderr } = server.output();
  const lines = `${stdout}\n${stderr}`.split('\n').filter((line) => /doubt|decision|coordinator|txn/i.test(line));
  return lines.slice(-30).join('\n');
}

/** The final state, read by plain GETs and by one snapshot transaction: they agree, total 2000, and each account is allowed by the ledger. */
async function verifyFinal(server: ServerProcess, bank: Bank, ledger: TransferLedger): Promise<Map<string, number>> {
  const inTxn = await readInTxn(server.url, bank.keys, 'snapshot');
  const snapshot = new Map(bank.keys.map((key) => [key, parseBalance(key, inTxn.get(key) ?? null)]));
  const plain = new Map<string, number>();
  for (const key of bank.keys) plain.set(key, parseBalance(key, await plainGet(server.url, key)));
  const sum = [...plain.values()].reduce((a, b) => a + b, 0);
  const problems = ledger.check(plain);
  const context = [
    `total ${sum}; ${problems.length} accounts not as acknowledged:`,
    ...problems,
    ...ledger.describeUnanswered(plain),
    'server log:',
    recoveryLog(server),
  ].join('\n');
  expect(Object.fromEntries(plain), `plain GETs vs the snapshot transaction; ${context}`).toEqual(Object.fromEntries(snapshot));
  expect(sum, context).toBe(TOTAL);
  expect(problems, context).toEqual([]);
  return plain;
}

function newRun(url: string, bank: Bank, baseline: Map<string, number>, stopped: () => boolean, deathExpected: () => boolean = () => false): Run {
  return { url, bank, ledger: new TransferLedger(baseline), stats: newStats(), stopped, deathExpected };
}

describe('bank transfers over transactions (4 shards)', () => {
  it('keeps the total at 2000 under 8 concurrent serializable transfer clients, audited at serializable and snapshot', { timeout: 60_000 }, async () => {
    const server = await startServer({ shards: SHARDS, fsync: 'batch' });
    const bank = openBank();
    expect(accountsPerShard(bank).every((count) => count > 0), `accounts per shard ${accountsPerShard(bank)}`).toBe(true);
    const baseline = await fund(server.url, bank);

    let stop = false;
    const run = newRun(server.url, bank, baseline, () => stop);
    const load = startLoad(run, 1);
    const until = Date.now() + 20_000;
    while (Date.now() < until && run.stats.failures.length === 0) await delay(100);
    stop = true;
    await load;
    report('20 s', run.stats, `; accounts per shard ${accountsPerShard(bank).join('/')}`);

    expect(run.stats.failures).toEqual([]);
    expect(run.stats.commits).toBeGreaterThan(0);
    expect(run.stats.audits.serializable).toBeGreaterThan(0);
    expect(run.stats.audits.snapshot).toBeGreaterThan(0);
    await verifyFinal(server, bank, run.ledger);
    await server.stop();
  });

  it('keeps every acknowledged transfer and the total across a kill -9 in the middle of the transfers (--fsync always)', { timeout: 60_000 }, async () => {
    const server = await startServer({ shards: SHARDS, fsync: 'always' });
    const bank = openBank();
    expect(accountsPerShard(bank).every((count) => count > 0)).toBe(true);
    const baseline = await fund(server.url, bank);

    let stop = false;
    let killed = false;
    const run = newRun(server.url, bank, baseline, () => stop, () => killed);
    const load = startLoad(run, 2);
    const until = Date.now() + 8_000;
    while (Date.now() < until && run.stats.failures.length === 0) await delay(100);
    expect(run.stats.failures).toEqual([]);
    killed = true;
    await server.kill9();
    stop = true;
    await load;
    report('before kill -9', run.stats, `; acknowledged commits ${run.ledger.acknowledged}, unanswered at the kill ${run.ledger.inFlight}`);
    expect(run.stats.failures).toEqual([]);
    expect(run.stats.commits).toBeGreaterThan(0);

    // Recovery's decisions are logged at info: kept for the failure messages.
    const restarted: ServerProcess = await startServer({ shards: SHARDS, fsync: 'always', dataDir: server.dataDir, extraArgs: ['--log-level', 'info'] });
    const recovered = await verifyFinal(restarted, bank, run.ledger);

    // The restarted server keeps working: 2 s more transfers, audited, then the same checks from the recovered state.
    let stopAgain = false;
    const after = newRun(restarted.url, bank, recovered, () => stopAgain);
    const load2 = startLoad(after, 3);
    const until2 = Date.now() + 2_000;
    while (Date.now() < until2 && after.stats.failures.length === 0) await delay(100);
    stopAgain = true;
    await load2;
    report('after restart', after.stats);
    expect(after.stats.failures).toEqual([]);
    expect(after.stats.commits).toBeGreaterThan(0);
    await verifyFinal(restarted, bank, after.ledger);
    await restarted.stop();
  });
});
