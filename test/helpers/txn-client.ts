// HTTP helper for the transaction API in the integration tests: begin
// (POST /api/v1/txn), the KV routes with the Mantis-Txn header (get, put,
// delete, prefix list), commit and rollback. A TxnSession is one client (T1,
// T2, …) of a scripted interleaving; every request it makes, and the answer,
// goes into a shared Trace so a failing test can print exactly what happened.
// An answer outside the contract (a 500, a KV 409 in the middle of a script, an
// envelope that is not one) throws TxnProtocolError carrying the trace.

import { keyPath, parseEnvelope } from './http-client.js';

export const TXN_HEADER = 'Mantis-Txn';

export const ISOLATION_LEVELS = ['read_committed', 'repeatable_read', 'snapshot', 'serializable'] as const;
export type Isolation = (typeof ISOLATION_LEVELS)[number];

/** A failure envelope's error; conflicts add `key` and `reason`. */
export type TxnErrorBody = {
  readonly code: string;
  readonly message: string;
  readonly retryable: boolean;
  readonly key?: string;
  readonly reason?: string;
};

export type BeginData = { readonly id: string; readonly isolation: Isolation; readonly timeout_ms: number; readonly snapshot_ts: number };
export type CommitData = { readonly id: string; readonly committed: true; readonly commit_ts: number };
export type RollbackData = { readonly id: string; readonly rolled_back: true };
export type BeginOptions = { readonly isolation?: Isolation; readonly timeout_ms?: number };

export type CommitOutcome =
  | { readonly committed: true; readonly commitTs: number }
  | { readonly committed: false; readonly error: TxnErrorBody };

export function txnUrl(base: string, path = ''): string {
  return `${base}/api/v1/txn${path}`;
}

/** POST /api/v1/txn; `body` is sent as is when a string, JSON-encoded otherwise, and omitted when undefined. */
export function postBegin(base: string, body?: unknown): Promise<Response> {
  if (body === undefined) return fetch(txnUrl(base), { method: 'POST' });
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return fetch(txnUrl(base), { method: 'POST', body: text, headers: { 'content-type': 'application/json' } });
}

export function postCommit(base: string, id: string): Promise<Response> {
  return fetch(txnUrl(base, `/${encodeURIComponent(id)}/commit`), { method: 'POST' });
}

export function postRollback(base: string, id: string): Promise<Response> {
  return fetch(txnUrl(base, `/${encodeURIComponent(id)}/rollback`), { method: 'POST' });
}

/** A KV route (`/api/v1/kv/<key>`) inside transaction `id`, or outside any when `id` is null. */
export function kvFetch(base: string, id: string | null, method: 'GET' | 'HEAD' | 'PUT' | 'DELETE', key: string, value?: string): Promise<Response> {
  const headers: Record<string, string> = id === null ? {} : { [TXN_HEADER]: id };
  if (value !== undefined) headers['content-type'] = 'text/plain';
  return fetch(`${base}/api/v1/kv/${keyPath(key)}`, { method, headers, body: value });
}

/** GET /api/v1/kv?prefix=…&limit=… inside transaction `id`, or outside any when null. */
export function listFetch(base: string, id: string | null, prefix: string, limit = 1000): Promise<Response> {
  const headers: Record<string, string> = id === null ? {} : { [TXN_HEADER]: id };
  return fetch(`${base}/api/v1/kv?${new URLSearchParams({ prefix, limit: String(limit) })}`, { headers });
}

/** The error of a JSON failure envelope, or null when the body is not one. */
export function failureOf(text: string): TxnErrorBody | null {
  try {
    const envelope = parseEnvelope<unknown>(text);
    return envelope.success ? null : (envelope.error as TxnErrorBody);
  } catch {
    return null;
  }
}

/** Every request of a scripted run and its answer, in order, for failure messages and reports. */
export class Trace {
  private readonly lines: string[] = [];
  private readonly started = Date.now();

  /** `label` shortens keys for display (e.g. drops the run's prefix). */
  constructor(private readonly label: (key: string) => string = (key) => key) {}

  key(key: string): string {
    return this.label(key);
  }

  add(actor: string, request: string, answer: string): void {
    const ms = String(Date.now() - this.started).padStart(4);
    this.lines.push(`${String(this.lines.length + 1).padStart(3)} +${ms}ms ${actor.padEnd(5)} ${request} → ${answer}`);
  }

  note(text: string): void {
    this.lines.push(`          ${text}`);
  }

  text(): string {
    return this.lines.join('\n');
  }
}

export class TxnProtocolError extends Error {
  constructor(message: string, trace: Trace) {
    super(`${message}\ntrace:\n${trace.text()}`);
    this.name = 'TxnProtocolError';
  }
}

function describeError(trace: Trace, status: number, text: string): string {
  const error = failureOf(text);
  if (error === null) return `${status} ${JSON.stringify(text.slice(0, 200))}`;
  const extra = [error.key !== undefined ? `key=${trace.key(error.key)}` : '', error.reason !== undefined ? `reason=${error.reason}` : ''].filter((s) => s !== '');
  return `${status} ${error.code}${extra.length > 0 ? ` ${extra.join(' ')}` : ''} (${error.message})`;
}

/** Parses a success envelope or throws with the trace. */
function successData<T>(trace: Trace, what: string, status: number, text: string): T {
  let envelope;
  try {
    envelope = parseEnvelope<T>(text);
  } catch (error) {
    throw new TxnProtocolError(`${what}: ${(error as Error).message}`, trace);
  }
  if (!envelope.success) throw new TxnProtocolError(`${what}: expected success, got ${status} ${text}`, trace);
  return envelope.data;
}

/** One client of a scripted interleaving: a transaction and its requests. */
export class TxnSession {
  private constructor(
    private readonly base: string,
    readonly name: string,
    readonly id: string,
    readonly snapshotTs: number,
    private readonly trace: Trace,
  ) {}

  /** Begins a transaction; throws unless 200 with data.id. */
  static async begin(base: string, name: string, options: BeginOptions, trace: Trace): Promise<TxnSession> {
    const response = await postBegin(base, options);
    const text = await response.text();
    if (response.status !== 200) {
      trace.add(name, `BEGIN ${JSON.stringify(options)}`, describeError(trace, response.status, text));
      throw new TxnProtocolError(`${name}: begin answered ${response.status}`, trace);
    }
    const data = successData<BeginData>(trace, `${name}: begin`, response.status, text);
    trace.add(name, `BEGIN ${options.isolation ?? 'default'}`, `200 id=${data.id} snapshot_ts=${data.snapshot_ts}`);
    if (typeof data.id !== 'string' || data.id === '') throw new TxnProtocolError(`${name}: begin without data.id`, trace);
    return new TxnSession(base, name, data.id, data.snapshot_ts, trace);
  }

  /** The value at the transaction's view (its own writes first), or null when absent (404 KEY_NOT_FOUND). */
  async get(key: string): Promise<string | null> {
    const response = await kvFetch(this.base, this.id, 'GET', key);
    const text = await response.text();
    const request = `GET ${this.trace.key(key)}`;
    if (response.status === 200) {
      const version = response.headers.get('mantis-version');
      this.trace.add(this.name, request, `200 ${JSON.stringify(text)}${version === null ? '' : ` v=${version}`}`);
      return text;
    }
    this.trace.add(this.name, request, describeError(this.trace, response.status, text));
    if (response.status === 404 && failureOf(text)?.code === 'KEY_NOT_FOUND') return null;
    throw new TxnProtocolError(`${this.name}: ${request} answered ${response.status}`, this.trace);
  }

  async put(key: string, value: string): Promise<void> {
    const response = await kvFetch(this.base, this.id, 'PUT', key, value);
    const text = await response.text();
    const request = `PUT ${this.trace.key(key)} = ${JSON.stringify(value)}`;
    if (response.status !== 200) {
      this.trace.add(this.name, request, describeError(this.trace, response.status, text));
      throw new TxnProtocolError(`${this.name}: ${request} answered ${response.status}`, this.trace);
    }
    const data = successData<{ key: string; txn?: string }>(this.trace, `${this.name}: ${request}`, response.status, text);
    this.trace.add(this.name, request, `200 txn=${data.txn ?? '(none)'}`);
    if (data.txn !== this.id) throw new TxnProtocolError(`${this.name}: ${request} answered txn=${data.txn}, expected ${this.id}`, this.trace);
  }

  /** Buffers a delete; resolves with `deleted` (whether the key existed in the transaction's view). */
  async delete(key: string): Promise<boolean> {
    const response = await kvFetch(this.base, this.id, 'DELETE', key);
    const text = await response.text();
    const request = `DELETE ${this.trace.key(key)}`;
    if (response.status !== 200) {
      this.trace.add(this.name, request, describeError(this.trace, response.status, text));
      throw new TxnProtocolError(`${this.name}: ${request} answered ${response.status}`, this.trace);
    }
    const data = successData<{ key: string; deleted: boolean }>(this.trace, `${this.name}: ${request}`, response.status, text);
    this.trace.add(this.name, request, `200 deleted=${data.deleted}`);
    return data.deleted;
  }

  /** The keys under prefix in the transaction's view (one page of up to `limit`). */
  async list(prefix: string, limit = 1000): Promise<string[]> {
    const response = await listFetch(this.base, this.id, prefix, limit);
    const text = await response.text();
    const request = `LIST ${this.trace.key(prefix) || '(prefix)'}*`;
    if (response.status !== 200) {
      this.trace.add(this.name, request, describeError(this.trace, response.status, text));
      throw new TxnProtocolError(`${this.name}: ${request} answered ${response.status}`, this.trace);
    }
    const keys = successData<string[]>(this.trace, `${this.name}: ${request}`, response.status, text);
    this.trace.add(this.name, request, `200 [${keys.map((k) => this.trace.key(k)).join(', ')}]`);
    if (!Array.isArray(keys)) throw new TxnProtocolError(`${this.name}: ${request}: data is not an array`, this.trace);
    return keys;
  }

  /** Commits: 200 → committed; 409 TXN_CONFLICT → not committed (with the error); anything else throws. */
  async commit(): Promise<CommitOutcome> {
    const response = await postCommit(this.base, this.id);
    const text = await response.text();
    if (response.status === 200) {
      const data = successData<CommitData>(this.trace, `${this.name}: COMMIT`, response.status, text);
      this.trace.add(this.name, 'COMMIT', `200 committed=${data.committed} commit_ts=${data.commit_ts}`);
      if (data.committed !== true) throw new TxnProtocolError(`${this.name}: commit answered 200 without committed:true`, this.trace);
      return { committed: true, commitTs: data.commit_ts };
    }
    this.trace.add(this.name, 'COMMIT', describeError(this.trace, response.status, text));
    const error = failureOf(text);
    if (response.status === 409 && error?.code === 'TXN_CONFLICT') return { committed: false, error };
    throw new TxnProtocolError(`${this.name}: commit answered ${response.status}`, this.trace);
  }

  async rollback(): Promise<void> {
    const response = await postRollback(this.base, this.id);
    const text = await response.text();
    this.trace.add(this.name, 'ROLLBACK', response.status === 200 ? `200 ${text}` : describeError(this.trace, response.status, text));
    if (response.status !== 200) throw new TxnProtocolError(`${this.name}: rollback answered ${response.status}`, this.trace);
  }
}

/** A plain (non-transactional) GET, traced: the value, or null on 404 KEY_NOT_FOUND. */
export async function plainGet(base: string, key: string, trace: Trace, actor = 'plain'): Promise<string | null> {
  const response = await kvFetch(base, null, 'GET', key);
  const text = await response.text();
  const request = `GET ${trace.key(key)}`;
  if (response.status === 200) {
    trace.add(actor, request, `200 ${JSON.stringify(text)}`);
    return text;
  }
  trace.add(actor, request, describeError(trace, response.status, text));
  if (response.status === 404 && failureOf(text)?.code === 'KEY_NOT_FOUND') return null;
  throw new TxnProtocolError(`${actor}: ${request} answered ${response.status}`, trace);
}

/** A plain (non-transactional) PUT, traced; throws unless 200. */
export async function plainPut(base: string, key: string, value: string, trace: Trace, actor = 'plain'): Promise<void> {
  const response = await kvFetch(base, null, 'PUT', key, value);
  const text = await response.text();
  const request = `PUT ${trace.key(key)} = ${JSON.stringify(value)}`;
  trace.add(actor, request, response.status === 200 ? '200' : describeError(trace, response.status, text));
  if (response.status !== 200) throw new TxnProtocolError(`${actor}: ${request} answered ${response.status}`, trace);
}
