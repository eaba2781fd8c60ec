// Small HTTP helpers for the transaction integration tests (txn-bank,
// txn-fault-points): begin / read / write / list / commit / rollback over the
// HTTP API of /api/v1/txn with the Mantis-Txn header, plain GET/PUT, keys
// placed on chosen shards, waiting for a process to die by itself, and a model
// of acknowledged transfers to check what survives a kill -9.
//
// Every request has a timeout and a network failure (connection refused or
// reset: the server died) surfaces as ServerGone, so a caller can tell "the
// server said no" (TxnHttpError, with the envelope's code) from "no answer".

import type { ChildProcess } from 'node:child_process';
import { buildSlotMap, shardOfKey } from '../../shared/slot.js';
import { parseEnvelope } from './http-client.js';
import { kvUrl } from './kv-client.js';

export type Isolation = 'read_committed' | 'repeatable_read' | 'snapshot' | 'serializable';

const REQUEST_TIMEOUT_MS = 15_000;

/** No HTTP answer: the connection was refused or reset, or the request timed out. */
export class ServerGone extends Error {
  constructor(what: string, cause: unknown) {
    super(`${what}: no answer (${cause instanceof Error ? `${cause.message}${cause.cause instanceof Error ? `: ${cause.cause.message}` : ''}` : String(cause)})`);
    this.name = 'ServerGone';
  }
}

/** The server answered with an error envelope (or an unexpected status). */
export class TxnHttpError extends Error {
  constructor(
    readonly what: string,
    readonly status: number,
    readonly code: string,
    readonly reason: string | undefined,
    readonly key: string | undefined,
    readonly text: string,
  ) {
    super(`${what}: ${status} ${text.slice(0, 400)}`);
    this.name = 'TxnHttpError';
  }
}

/** A conflict the client should answer by retrying with a fresh transaction. */
export function isRetryable(error: unknown): error is TxnHttpError {
  return error instanceof TxnHttpError && error.status === 409 && (error.code === 'TXN_CONFLICT' || error.code === 'TXN_ABORTED');
}

type Reply = { readonly status: number; readonly headers: Headers; readonly text: string };

async function send(what: string, url: string, init: RequestInit): Promise<Reply> {
  try {
    const response = await fetch(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    const text = await response.text();
    return { status: response.status, headers: response.headers, text };
  } catch (error) {
    throw new ServerGone(what, error);
  }
}

function fail(what: string, reply: Reply): never {
  let code = `HTTP_${reply.status}`;
  let reason: string | undefined;
  let key: string | undefined;
  try {
    const envelope = parseEnvelope<unknown>(reply.text);
    if (!envelope.success) {
      code = envelope.error.code;
      const extra = envelope.error as { reason?: unknown; key?: unknown };
      if (typeof extra.reason === 'string') reason = extra.reason;
      if (typeof extra.key === 'string') key = extra.key;
    }
  } catch {
    // Not an envelope: the status alone says what happened.
  }
  throw new TxnHttpError(what, reply.status, code, reason, key, reply.text);
}

function data<T>(what: string, reply: Reply): T {
  if (reply.status !== 200) fail(what, reply);
  const envelope = parseEnvelope<T>(reply.text);
  if (!envelope.success) fail(what, reply);
  return envelope.data;
}

export type TxnInfo = { readonly id: string; readonly isolation: Isolation; readonly timeout_ms: number; readonly snapshot_ts: number };

export async function beginTxn(base: string, isolation: Isolation = 'serializable', timeoutMs?: number): Promise<TxnInfo> {
  const body: Record<string, unknown> = { isolation };
  if (timeoutMs !== undefined) body.timeout_ms = timeoutMs;
  const reply = await send('begin', `${base}/api/v1/txn`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const info = data<TxnInfo>(`begin ${isolation}`, reply);
  if (typeof info.id !== 'string' || info.id.length === 0) throw new Error(`begin: no transaction id in ${reply.text}`);
  return info;
}

export type ReadResult = { readonly found: boolean; readonly value: string | null; readonly version: string | null };

/** GET inside a transaction: found with the value and Mantis-Version, or not found (404 KEY_NOT_FOUND). */
export async function txnGet(base: string, id: string, key: string): Promise<ReadResult> {
  const what = `txn ${id} GET ${key}`;
  const reply = await send(what, kvUrl(base, key), { headers: { 'mantis-txn': id } });
  if (reply.status === 200) return { found: true, value: reply.text, version: reply.headers.get('mantis-version') };
  if (reply.status === 404 && reply.text.includes('"KEY_NOT_FOUND"')) return { found: false, value: null, version: null };
  return fail(what, reply);
}

export async function txnPut(base: string, id: string, key: string, value: string): Promise<void> {
  const what = `txn ${id} PUT ${key}`;
  const reply = await send(what, kvUrl(base, key), { method: 'PUT', headers: { 'mantis-txn': id, 'content-type': 'text/plain' }, body: value });
  const written = data<{ key: string; txn: string }>(what, reply);
  if (written.key !== key || written.txn !== id) throw new Error(`${what}: unexpected answer ${reply.text}`);
}

export async function txnList(base: string, id: string, prefix: string, limit: number): Promise<string[]> {
  const what = `txn ${id} list ${prefix}`;
  const query = new URLSearchParams({ prefix, limit: String(limit) });
  const reply = await send(what, `${base}/api/v1/kv?${query}`, { headers: { 'mantis-txn': id } });
  return data<string[]>(what, reply);
}

export async function commitTxn(base: string, id: string): Promise<{ readonly commitTs: number }> {
  const what = `commit ${id}`;
  const reply = await send(what, `${base}/api/v1/txn/${encodeURIComponent(id)}/commit`, { method: 'POST' });
  const answer = data<{ id: string; committed: boolean; commit_ts: number }>(what, reply);
  if (answer.committed !== true || typeof answer.commit_ts !== 'number') throw new Error(`${what}: unexpected answer ${reply.text}`);
  return { commitTs: answer.commit_ts };
}

export async function rollbackTxn(base: string, id: string): Promise<void> {
  const what = `rollback ${id}`;
  data<unknown>(what, await send(what, `${base}/api/v1/txn/${encodeURIComponent(id)}/rollback`, { method: 'POST' }));
}

/** Rollback after a failed step; only a dead server matters (ServerGone is rethrown). */
export async function rollbackQuietly(base: string, id: string): Promise<void> {
  try {
    await rollbackTxn(base, id);
  } catch (error) {
    if (error instanceof ServerGone) throw error;
  }
}

/** Plain GET (no transaction): the value, or null on 404 KEY_NOT_FOUND. */
export async function plainGet(base: string, key: string): Promise<string | null> {
  const what = `GET ${key}`;
  const reply = await send(what, kvUrl(base, key), {});
  if (reply.status === 200) return reply.text;
  if (reply.status === 404 && reply.text.includes('"KEY_NOT_FOUND"')) return null;
  return fail(what, reply);
}

export async function plainPut(base: string, key: string, value: string): Promise<void> {
  const what = `PUT ${key}`;
  data<unknown>(what, await send(what, kvUrl(base, key), { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: value }));
}

/**
 * Reads keys in one transaction of this isolation, retrying on a conflict with
 * a fresh transaction (e.g. while an in-doubt transaction is being decided)
 * until the deadline. Commits the read-only transaction.
 */
export async function readInTxn(base: string, keys: readonly string[], isolation: Isolation, deadlineMs = 10_000): Promise<Map<string, string | null>> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const txn = await beginTxn(base, isolation);
    try {
      const values = new Map<string, string | null>();
      for (const key of keys) values.set(key, (await txnGet(base, txn.id, key)).value);
      await commitTxn(base, txn.id);
      return values;
    } catch (error) {
      if (!isRetryable(error) || Date.now() > until) throw error;
      await rollbackQuietly(base, txn.id);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

export function shardOf(shards: number, key: string): number {
  return shardOfKey(buildSlotMap(shards), Buffer.from(key, 'utf8'));
}

/** One key per shard 0..count-1 (count ≤ shards), named `${prefix}${n}` for the first fitting n. */
export function keysOnShards(shards: number, prefix: string, count: number): string[] {
  const found = new Map<number, string>();
  for (let n = 0; found.size < count && n < 100_000; n++) {
    const key = `${prefix}${n}`;
    const shard = shardOf(shards, key);
    if (shard < count && !found.has(shard)) found.set(shard, key);
  }
  return Array.from({ length: count }, (_, shard) => {
    const key = found.get(shard);
    if (key === undefined) throw new Error(`no key under ${prefix} found for shard ${shard}`);
    return key;
  });
}

export type ProcessExit = { readonly code: number | null; readonly signal: NodeJS.Signals | null };

/** Resolves when the process has exited (at once if it already has); rejects after timeoutMs. */
export function waitForExit(proc: ChildProcess, timeoutMs: number): Promise<ProcessExit> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve({ code: proc.exitCode, signal: proc.signalCode });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`pid ${proc.pid} still running after ${timeoutMs} ms`)), timeoutMs);
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

export type Write = readonly [key: string, balance: number];

/**
 * What clients were told about transfers: each acknowledged commit with its
 * commit timestamp and the balances it wrote, and each commit sent without an
 * answer (in flight when the server died: it may or may not have committed).
 * A key's value must then be the one written by the acknowledged commit with
 * the highest commit timestamp (commit timestamps order a key's versions; the
 * arrival order of acknowledgements does not), or the baseline when no
 * acknowledged commit wrote it, or a value of an unanswered commit.
 */
export class TransferLedger {
  private readonly last = new Map<string, { ts: number; balance: number }>();
  private readonly unanswered = new Map<string, Set<number>>();
  private readonly unansweredCommits: (readonly Write[])[] = [];
  acknowledged = 0;
  inFlight = 0;

  constructor(private readonly baseline: ReadonlyMap<string, number>) {}

  acked(commitTs: number, writes: readonly Write[]): void {
    this.acknowledged++;
    for (const [key, balance] of writes) {
      const previous = this.last.get(key);
      if (previous !== undefined && previous.ts === commitTs) throw new Error(`two acknowledged commits of ${key} share commit_ts ${commitTs}`);
      if (previous === undefined || previous.ts < commitTs) this.last.set(key, { ts: commitTs, balance });
    }
  }

  noAnswer(writes: readonly Write[]): void {
    this.inFlight++;
    this.unansweredCommits.push(writes);
    for (const [key, balance] of writes) {
      const set = this.unanswered.get(key) ?? new Set<number>();
      set.add(balance);
      this.unanswered.set(key, set);
    }
  }

  allowed(key: string): number[] {
    const last = this.last.get(key);
    const expected = last !== undefined ? last.balance : this.baseline.get(key);
    const values = new Set<number>(this.unanswered.get(key) ?? []);
    if (expected !== undefined) values.add(expected);
    return [...values];
  }

  /** For a failure message: each unanswered commit's writes and whether each key now shows it (a mix means torn). */
  describeUnanswered(actual: ReadonlyMap<string, number | null>): string[] {
    return this.unansweredCommits.map((writes) => {
      const shown = writes.map(([key, balance]) => `${key} ${actual.get(key) === balance ? 'shows' : 'does not show'} its ${balance}`);
      return `unanswered commit: ${shown.join(', ')}`;
    });
  }

  /** Problems (empty when every key holds an allowed value). */
  check(actual: ReadonlyMap<string, number | null>): string[] {
    const problems: string[] = [];
    for (const key of this.baseline.keys()) {
      const value = actual.get(key);
      const allowed = this.allowed(key);
      if (value === null || value === undefined || !allowed.includes(value)) {
        const last = this.last.get(key);
        problems.push(`${key} = ${value}, allowed ${JSON.stringify(allowed)} (last acknowledged: ${last === undefined ? 'none' : `${last.balance} at commit_ts ${last.ts}`})`);
      }
    }
    return problems;
  }
}
