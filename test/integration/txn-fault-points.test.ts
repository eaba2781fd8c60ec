// Two-phase commit across a process death at each point of the router's fault
// hook MANTIS_FAULT_TXN (the server SIGKILLs itself): a serializable
// transaction writes new values to two keys on different shards of a 2-shard
// server (--fsync always) and commits; the process dies during the commit; a
// restart on the same data dir without the hook must resolve it all or
// nothing:
//   after-prepare       every participant voted, no decision logged → presumed
//                       abort: both keys keep their old values;
//   after-decision      commit decision durable, no participant told → both new;
//   after-first-commit  one participant committed, the other not → both new.
// Read by plain GETs and by a snapshot transaction; then a plain PUT of each
// key succeeds promptly (no intent left behind) and a second cross-shard
// transaction commits normally. A single-shard transaction (hash-tagged keys)
// never fires the hook: only two-phase commits count.

import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';
import {
  beginTxn,
  commitTxn,
  keysOnShards,
  plainGet,
  plainPut,
  readInTxn,
  ServerGone,
  shardOf,
  txnGet,
  txnPut,
  waitForExit,
} from '../helpers/txn-bank-support.js';

afterAll(cleanup);

const SHARDS = 2;
const POINTS = ['after-prepare', 'after-decision', 'after-first-commit'] as const;
type Point = (typeof POINTS)[number];
/** A plain PUT of a key no intent holds answers at once; the router waits up to 5 s on a held one before 409. */
const PROMPT_PUT_MS = 2_000;
const EXIT_WAIT_MS = 15_000;

/** Logs at info: recovery's decisions of in-doubt transactions are kept for the failure messages. */
function start(dataDir?: string, hook?: Point): Promise<ServerProcess> {
  return startServer({ shards: SHARDS, fsync: 'always', dataDir, env: hook === undefined ? undefined : { MANTIS_FAULT_TXN: hook }, extraArgs: ['--log-level', 'info'] });
}

/** The server's stderr and its log lines about transactions, for failure messages. */
function tail(server: ServerProcess): string {
  const { stdout, stderr } = server.output();
  const txnLines = stdout.split('\n').filter((line) => /doubt|decision|decid|coordinator|txn|fault/i.test(line));
  const text = `${txnLines.slice(-30).join('\n')}\n${stderr}`;
  return text.length > 6000 ? `…${text.slice(-6000)}` : text;
}

/**
 * Serializable: reads both keys (expecting `before`), writes `after`, commits.
 * Resolves with the commit_ts, or with the error the commit request failed with.
 */
async function transfer(url: string, keys: readonly string[], before: readonly string[], after: readonly string[]): Promise<{ commitTs: number } | { error: unknown }> {
  const txn = await beginTxn(url, 'serializable');
  for (let i = 0; i < keys.length; i++) expect((await txnGet(url, txn.id, keys[i])).value, `txn read of ${keys[i]}`).toBe(before[i]);
  for (let i = 0; i < keys.length; i++) await txnPut(url, txn.id, keys[i], after[i]);
  return commitTxn(url, txn.id).then(
    (committed) => committed,
    (error: unknown) => ({ error }),
  );
}

async function plainValues(url: string, keys: readonly string[]): Promise<(string | null)[]> {
  return Promise.all(keys.map((key) => plainGet(url, key)));
}

/** Commits a cross-shard transaction on a server armed with the hook and waits for the process to kill itself. */
async function commitAndDie(server: ServerProcess, keys: readonly string[], before: readonly string[], after: readonly string[]): Promise<void> {
  const outcome = await transfer(server.url, keys, before, after);
  expect('error' in outcome ? outcome.error : outcome, `the commit must get no answer\n${tail(server)}`).toBeInstanceOf(ServerGone);
  const exit = await waitForExit(server.proc, EXIT_WAIT_MS);
  expect(exit, `the server must SIGKILL itself\n${tail(server)}`).toEqual({ code: null, signal: 'SIGKILL' });
}

describe('two-phase commit interrupted at each fault point (2 shards, --fsync always)', () => {
  it.each(POINTS)('%s: after a restart the transaction is all or nothing and its keys are free', { timeout: 60_000 }, async (point) => {
    const server = await start(undefined, point);
    const keys = keysOnShards(SHARDS, `fault/${point}/${randomUUID().slice(0, 8)}/k`, 2);
    expect(shardOf(SHARDS, keys[0])).not.toBe(shardOf(SHARDS, keys[1]));
    const oldValues = ['old-0', 'old-1'];
    const newValues = ['new-0', 'new-1'];
    for (let i = 0; i < keys.length; i++) await plainPut(server.url, keys[i], oldValues[i]);

    await commitAndDie(server, keys, oldValues, newValues);

    const restarted = await start(server.dataDir);
    const expected = point === 'after-prepare' ? oldValues : newValues;
    const snapshot = await readInTxn(restarted.url, keys, 'snapshot');
    expect(
      keys.map((key) => snapshot.get(key)),
      `snapshot read after the restart (${point}: ${point === 'after-prepare' ? 'presumed abort' : 'the decision was commit'})\n${tail(restarted)}`,
    ).toEqual(expected);
    expect(await plainValues(restarted.url, keys), `plain GETs after the restart\n${tail(restarted)}`).toEqual(expected);
    const serializable = await readInTxn(restarted.url, keys, 'serializable');
    expect(keys.map((key) => serializable.get(key))).toEqual(expected);

    // No intent left: a plain PUT of each key is answered at once.
    const plainValuesAfter = ['plain-0', 'plain-1'];
    for (let i = 0; i < keys.length; i++) {
      const began = Date.now();
      await plainPut(restarted.url, keys[i], plainValuesAfter[i]);
      expect(Date.now() - began, `plain PUT of ${keys[i]} after the restart`).toBeLessThan(PROMPT_PUT_MS);
    }
    expect(await plainValues(restarted.url, keys)).toEqual(plainValuesAfter);

    // A second cross-shard transaction commits normally.
    const second = ['second-0', 'second-1'];
    const outcome = await transfer(restarted.url, keys, plainValuesAfter, second);
    if ('error' in outcome) throw outcome.error;
    expect(outcome.commitTs).toBeGreaterThan(0);
    expect(await plainValues(restarted.url, keys)).toEqual(second);
    const after = await readInTxn(restarted.url, keys, 'snapshot');
    expect(keys.map((key) => after.get(key))).toEqual(second);
    await restarted.stop();
  });

  it.each(POINTS)('%s: a single-shard transaction does not fire the hook; the first cross-shard commit does', { timeout: 60_000 }, async (point) => {
    const server = await start(undefined, point);
    const tagged = ['{t}a', '{t}b'];
    expect(shardOf(SHARDS, tagged[0])).toBe(shardOf(SHARDS, tagged[1]));
    await plainPut(server.url, tagged[0], 'a0');
    await plainPut(server.url, tagged[1], 'b0');
    for (let round = 1; round <= 2; round++) {
      const outcome = await transfer(server.url, tagged, [`a${round - 1}`, `b${round - 1}`], [`a${round}`, `b${round}`]);
      if ('error' in outcome) throw new Error(`single-shard commit ${round} failed (${point} set)\n${tail(server)}`, { cause: outcome.error });
      expect(server.proc.exitCode === null && server.proc.signalCode === null, 'the server is still running').toBe(true);
      expect(await plainValues(server.url, tagged)).toEqual([`a${round}`, `b${round}`]);
    }

    // The hook was armed all along: the first two-phase commit fires it.
    const keys = keysOnShards(SHARDS, `fault/single/${randomUUID().slice(0, 8)}/k`, 2);
    await plainPut(server.url, keys[0], 'x0');
    await plainPut(server.url, keys[1], 'y0');
    await commitAndDie(server, keys, ['x0', 'y0'], ['x1', 'y1']);

    const restarted = await start(server.dataDir);
    expect(await plainValues(restarted.url, tagged)).toEqual(['a2', 'b2']);
    const expected = point === 'after-prepare' ? ['x0', 'y0'] : ['x1', 'y1'];
    const snapshot = await readInTxn(restarted.url, keys, 'snapshot');
    expect(keys.map((key) => snapshot.get(key)), `snapshot read after the restart\n${tail(restarted)}`).toEqual(expected);
    await restarted.stop();
  });
});
