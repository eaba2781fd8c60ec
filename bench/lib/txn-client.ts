// One transfer attempt over MantisDB's transaction API (read two balances,
// write two), in the two client modes the transaction benchmark measures:
//
// - interactive: POST /api/v1/txn, GET a, GET b (Mantis-Txn), PUT a, PUT b,
//   POST /api/v1/txn/<id>/commit: 6 round trips;
// - cas: one POST /api/v1/txn/execute with two gets (balances and versions),
//   then one POST /api/v1/txn/execute with a version condition on each
//   account and two puts (an atomic compare-and-set): 2 round trips.
//
// An attempt ends committed, aborted (409 TXN_CONFLICT / TXN_ABORTED: the
// caller retries) or failed (anything else; `unknownOutcome` when the commit
// itself failed, so the transfer may or may not have been applied).

import type { Client } from 'undici';
import type { Transfer } from './txn-accounts.js';

export type Mode = 'interactive' | 'cas';
export type Isolation = 'read_committed' | 'snapshot' | 'repeatable_read' | 'serializable';
export const ISOLATIONS: readonly Isolation[] = ['read_committed', 'snapshot', 'repeatable_read', 'serializable'];

export type Outcome =
  | { readonly kind: 'commit' }
  | { readonly kind: 'abort'; readonly reason: string }
  | { readonly kind: 'error'; readonly what: string; readonly unknownOutcome: boolean };

type Reply = { readonly status: number; readonly text: string; readonly headers: Record<string, string | string[] | undefined> };

type ErrorBody = { code?: unknown; message?: unknown; reason?: unknown; key?: unknown };

export const kvPath = (key: string): string => `/api/v1/kv/${encodeURIComponent(key)}`;

async function call(client: Client, method: 'GET' | 'PUT' | 'POST', path: string, body?: string, headers: Record<string, string> = {}, contentType = 'application/json'): Promise<Reply> {
  const res = await client.request({ method, path, body, headers: body === undefined ? headers : { ...headers, 'content-type': contentType } });
  const text = await res.body.text();
  return { status: res.statusCode, text, headers: res.headers };
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function errorOf(reply: Reply): ErrorBody {
  const body = parse(reply.text) as { error?: ErrorBody } | null;
  return body?.error ?? {};
}

/** A non-2xx answer: an abort (409 TXN_CONFLICT/TXN_ABORTED) or a failure. */
function classify(reply: Reply, step: string, unknownOutcome = false): Outcome {
  const e = errorOf(reply);
  const code = typeof e.code === 'string' ? e.code : '';
  if (reply.status === 409 && code === 'TXN_CONFLICT') return { kind: 'abort', reason: typeof e.reason === 'string' ? e.reason : 'conflict' };
  if (reply.status === 409 && code === 'TXN_ABORTED') return { kind: 'abort', reason: 'aborted' };
  // A 5xx at commit leaves the outcome unknown; a 4xx there is a definite refusal.
  return { kind: 'error', what: `${step}: HTTP ${reply.status} ${code || reply.text.slice(0, 120)}`, unknownOutcome: unknownOutcome && reply.status >= 500 };
}

function balanceOf(text: string): number | null {
  const n = Number(text);
  return text !== '' && Number.isSafeInteger(n) ? n : null;
}

/** The interactive mode: 6 round trips; a transaction aborted before its commit is rolled back (not timed). */
export async function interactiveTransfer(client: Client, isolation: Isolation, t: Transfer): Promise<Outcome> {
  const begin = await call(client, 'POST', '/api/v1/txn', JSON.stringify({ isolation }));
  if (begin.status !== 200) return classify(begin, 'POST /api/v1/txn');
  const id = (parse(begin.text) as { data?: { id?: unknown } } | null)?.data?.id;
  if (typeof id !== 'string' || id === '') return { kind: 'error', what: `POST /api/v1/txn: no id in ${begin.text.slice(0, 120)}`, unknownOutcome: false };
  const h = { 'mantis-txn': id };
  let outcome: Outcome | null = null;
  let committing = false;
  try {
    const balances: number[] = [];
    for (const key of [t.from, t.to]) {
      const r = await call(client, 'GET', kvPath(key), undefined, h);
      if (r.status !== 200) return (outcome = classify(r, `GET ${key} in txn`));
      const b = balanceOf(r.text);
      if (b === null) return (outcome = { kind: 'error', what: `GET ${key} in txn: not a balance: ${JSON.stringify(r.text.slice(0, 60))}`, unknownOutcome: false });
      balances.push(b);
    }
    const writes: [string, number][] = [[t.from, balances[0] - t.amount], [t.to, balances[1] + t.amount]];
    for (const [key, value] of writes) {
      const r = await call(client, 'PUT', kvPath(key), String(value), h, 'text/plain');
      if (r.status !== 200) return (outcome = classify(r, `PUT ${key} in txn`));
    }
    committing = true;
    const c = await call(client, 'POST', `/api/v1/txn/${encodeURIComponent(id)}/commit`);
    if (c.status === 200) return (outcome = { kind: 'commit' });
    return (outcome = classify(c, 'commit', true));
  } catch (error) {
    outcome = { kind: 'error', what: `interactive: ${error instanceof Error ? error.message : String(error)}`, unknownOutcome: committing };
    return outcome;
  } finally {
    if (outcome !== null && outcome.kind !== 'commit' && !committing) {
      try {
        await call(client, 'POST', `/api/v1/txn/${encodeURIComponent(id)}/rollback`);
      } catch {
        // the connection is gone; the server's idle timeout ends the transaction
      }
    }
  }
}

type ExecuteResult = { op?: unknown; key?: unknown; found?: unknown; value?: unknown; version?: unknown };

/** The one-shot compare-and-set mode: read both balances, then write both on the condition that neither version moved. */
export async function casTransfer(client: Client, isolation: Isolation, t: Transfer): Promise<Outcome> {
  const read = await call(client, 'POST', '/api/v1/txn/execute', JSON.stringify({ isolation, operations: [{ op: 'get', key: t.from }, { op: 'get', key: t.to }] }));
  if (read.status !== 200) return classify(read, 'execute (read)');
  const results = (parse(read.text) as { data?: { results?: ExecuteResult[] } } | null)?.data?.results;
  if (!Array.isArray(results) || results.length !== 2) return { kind: 'error', what: `execute (read): unexpected answer ${read.text.slice(0, 160)}`, unknownOutcome: false };
  const seen: { balance: number; version: string }[] = [];
  for (const [i, r] of results.entries()) {
    const balance = typeof r.value === 'string' ? balanceOf(r.value) : null;
    if (r.found !== true || balance === null || typeof r.version !== 'string') {
      return { kind: 'error', what: `execute (read): op ${i} answered ${JSON.stringify(r).slice(0, 160)}`, unknownOutcome: false };
    }
    seen.push({ balance, version: r.version });
  }
  const body = {
    isolation,
    conditions: [{ key: t.from, version: seen[0].version }, { key: t.to, version: seen[1].version }],
    operations: [{ op: 'put', key: t.from, value: String(seen[0].balance - t.amount) }, { op: 'put', key: t.to, value: String(seen[1].balance + t.amount) }],
  };
  let write: Reply;
  try {
    write = await call(client, 'POST', '/api/v1/txn/execute', JSON.stringify(body));
  } catch (error) {
    return { kind: 'error', what: `execute (write): ${error instanceof Error ? error.message : String(error)}`, unknownOutcome: true };
  }
  if (write.status !== 200) return classify(write, 'execute (write)', true);
  const committed = (parse(write.text) as { data?: { committed?: unknown } } | null)?.data?.committed;
  if (committed !== true) return { kind: 'error', what: `execute (write): 200 without committed:true: ${write.text.slice(0, 160)}`, unknownOutcome: true };
  return { kind: 'commit' };
}

export const attemptFor = (mode: Mode): ((client: Client, isolation: Isolation, t: Transfer) => Promise<Outcome>) => (mode === 'interactive' ? interactiveTransfer : casTransfer);

/** Reads balances with one-shot transactions of at most 1000 gets (the server is quiet when this runs). */
export async function readBalances(client: Client, keys: readonly string[]): Promise<Map<string, number | null>> {
  const out = new Map<string, number | null>();
  for (let from = 0; from < keys.length; from += 1000) {
    const chunk = keys.slice(from, from + 1000);
    const r = await call(client, 'POST', '/api/v1/txn/execute', JSON.stringify({ operations: chunk.map((key) => ({ op: 'get', key })) }));
    if (r.status !== 200) throw new Error(`reading balances: HTTP ${r.status}: ${r.text.slice(0, 300)}`);
    const results = (parse(r.text) as { data?: { results?: ExecuteResult[] } } | null)?.data?.results;
    if (!Array.isArray(results) || results.length !== chunk.length) throw new Error(`reading balances: unexpected answer ${r.text.slice(0, 300)}`);
    results.forEach((res, i) => out.set(chunk[i], res.found === true && typeof res.value === 'string' ? balanceOf(res.value) : null));
  }
  return out;
}

/** Puts every account at `balance` through the plain batch route (1000 ops per request). */
export async function preloadAccounts(client: Client, keys: readonly string[], balance: number): Promise<void> {
  for (let from = 0; from < keys.length; from += 1000) {
    const ops = keys.slice(from, from + 1000).map((key) => ({ op: 'put', key, value: String(balance) }));
    for (let attempt = 1; ; attempt++) {
      const r = await call(client, 'POST', '/api/v1/kv/batch', JSON.stringify({ ops }));
      if (r.status === 503 && attempt < 50 && r.text.includes('"retryable":true')) {
        await new Promise((res) => setTimeout(res, 100));
        continue;
      }
      const data = (parse(r.text) as { data?: { ok?: unknown }[] } | null)?.data;
      if (r.status !== 200 || !Array.isArray(data) || data.length !== ops.length || data.some((d) => d.ok !== true)) {
        throw new Error(`preload: HTTP ${r.status}: ${r.text.slice(0, 300)}`);
      }
      break;
    }
  }
}

export type Probe = { readonly ok: true } | { readonly ok: false; readonly status: number; readonly text: string };

/** POST /api/v1/txn then rollback: does the server have the transaction routes? */
export async function probeTxnRoutes(client: Client): Promise<Probe> {
  const r = await call(client, 'POST', '/api/v1/txn', '{}');
  if (r.status !== 200) return { ok: false, status: r.status, text: r.text.slice(0, 300) };
  const id = (parse(r.text) as { data?: { id?: unknown } } | null)?.data?.id;
  if (typeof id !== 'string') return { ok: false, status: r.status, text: `no id: ${r.text.slice(0, 300)}` };
  const rb = await call(client, 'POST', `/api/v1/txn/${encodeURIComponent(id)}/rollback`);
  if (rb.status !== 200) return { ok: false, status: rb.status, text: `rollback: ${rb.text.slice(0, 300)}` };
  return { ok: true };
}

/** The txn counters, by label, as one flat map ("commits:two_phase" → n, "aborts:write" → n). */
export function txnCounters(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^mantis_txn_(commits|aborts)_total\{[^}]*(?:path|reason)="([^"]+)"[^}]*\}\s+(\S+)/.exec(line);
    if (m) out[`${m[1]}:${m[2]}`] = (out[`${m[1]}:${m[2]}`] ?? 0) + Number(m[3]);
  }
  return out;
}

export async function fetchTxnCounters(client: Client): Promise<Record<string, number> | null> {
  try {
    const r = await call(client, 'GET', '/api/metrics/prometheus');
    return r.status === 200 ? txnCounters(r.text) : null;
  } catch {
    return null;
  }
}
