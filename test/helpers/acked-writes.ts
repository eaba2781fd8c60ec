// A model of what writers were told, for the crash and full-disk tests.
// Writers own disjoint keys and send one request at a time (a single PUT or
// DELETE, or a MessagePack batch of several of their keys), so each key's ops
// are totally ordered; a writer's keys share a hash tag, so they live on one
// shard and its batches are atomic there. Every op is recorded before it is sent and its outcome
// after: acknowledged (200), refused (an error the server promises it did not
// apply: STORAGE_FULL, STORAGE_IO, SHARD_BUSY) or unknown (no answer: the
// process died). After a restart a key must hold the state of its last
// acknowledged op or of a later op that was not refused — never an older
// value, never bytes of no op — and the ops of one unanswered batch must be
// all applied or none (a batch is atomic on its shard).

import { Xorshift32 } from '../unit/support/prng.js';
import { kvUrl } from './kv-client.js';
import { batchGetAll, postBatch, valueOf, type BatchOp } from './storage-fixtures.js';

type Outcome = 'pending' | 'acked' | 'refused' | 'unknown';
type KeyOp = { readonly kind: 'put' | 'delete'; readonly version: number; readonly bytes: number; outcome: Outcome; readonly request: number };

const REFUSED_CODES = new Set(['STORAGE_FULL', 'STORAGE_IO', 'SHARD_BUSY']);

export type LoadOptions = {
  readonly writers: number;
  readonly keysPerWriter: number;
  /** Value sizes are drawn from [min, max] bytes. */
  readonly valueBytes: readonly [number, number];
  /** Largest batch; 1 sends single PUT/DELETE requests only. */
  readonly batchMax: number;
  readonly deleteChance: number;
  readonly seed: number;
};

export type LoadStats = {
  acked: number;
  refused: number;
  unknown: number;
  ackedBytes: number;
  requests: number;
  statuses: Map<string, number>;
  /** When the current run of refused requests began (no request acknowledged since), or null. */
  refusingSinceMs: number | null;
};

export class AckedWrites {
  private readonly keys = new Map<string, KeyOp[]>();
  private requests = 0;
  /** Ops of each request that got no answer (at most one per writer). */
  private readonly unanswered = new Map<number, { key: string; op: KeyOp }[]>();
  readonly stats: LoadStats = { acked: 0, refused: 0, unknown: 0, ackedBytes: 0, requests: 0, statuses: new Map(), refusingSinceMs: null };

  constructor(private readonly prefix: string) {}

  keyOf(writer: number, index: number): string {
    // The hash tag puts all of a writer's keys on one shard, so its batches are atomic.
    return `${this.prefix}{w${writer}}/k${String(index).padStart(5, '0')}`;
  }

  allKeys(): string[] {
    return [...this.keys.keys()];
  }

  /**
   * Runs the writers until shouldStop() says so, the server stops answering, or
   * every writer has sent maxRequestsPerWriter requests. Resolves when all are done.
   */
  async run(base: string, o: LoadOptions, shouldStop: () => boolean, maxRequestsPerWriter = Infinity): Promise<void> {
    const lanes = Array.from({ length: o.writers }, async (_, w) => {
      const rng = new Xorshift32(o.seed * 7919 + w + 1);
      for (let sent = 0; sent < maxRequestsPerWriter && !shouldStop(); sent++) {
        const answered = await this.step(base, o, w, rng);
        if (!answered) return;
      }
    });
    await Promise.all(lanes);
  }

  /** One request; false when the server did not answer (it is gone). */
  private async step(base: string, o: LoadOptions, writer: number, rng: Xorshift32): Promise<boolean> {
    const size = 1 + rng.int(o.batchMax);
    const chosen = new Set<number>();
    while (chosen.size < Math.min(size, o.keysPerWriter)) chosen.add(rng.int(o.keysPerWriter));
    const request = ++this.requests;
    const ops = [...chosen].map((i) => {
      const key = this.keyOf(writer, i);
      const history = this.keys.get(key) ?? [];
      this.keys.set(key, history);
      const kind = rng.chance(o.deleteChance) ? 'delete' : 'put';
      const op: KeyOp = { kind, version: history.length + 1, bytes: kind === 'put' ? rng.range(o.valueBytes[0], o.valueBytes[1]) : 0, outcome: 'pending', request };
      history.push(op);
      return { key, op };
    });
    this.stats.requests++;
    let status: number;
    let code: string | null;
    try {
      ({ status, code } = await this.send(base, ops));
    } catch {
      for (const { op } of ops) op.outcome = 'unknown';
      this.stats.unknown += ops.length;
      this.unanswered.set(request, ops);
      return false;
    }
    const label = `${status}${code === null ? '' : ` ${code}`}`;
    this.stats.statuses.set(label, (this.stats.statuses.get(label) ?? 0) + 1);
    const outcome: Outcome = status === 200 ? 'acked' : code !== null && REFUSED_CODES.has(code) ? 'refused' : 'unknown';
    for (const { op } of ops) {
      op.outcome = outcome;
      if (outcome === 'acked') this.stats.ackedBytes += op.bytes;
    }
    this.stats[outcome] += ops.length;
    if (outcome === 'acked') this.stats.refusingSinceMs = null;
    if (outcome === 'refused') this.stats.refusingSinceMs ??= Date.now();
    if (outcome === 'unknown') {
      this.unanswered.set(request, ops);
      return false;
    }
    return true;
  }

  private async send(base: string, ops: { key: string; op: KeyOp }[]): Promise<{ status: number; code: string | null }> {
    const signal = AbortSignal.timeout(30_000);
    if (ops.length === 1) {
      const [{ key, op }] = ops;
      const response =
        op.kind === 'put'
          ? await fetch(kvUrl(base, key), { method: 'PUT', body: valueOf(key, op.version, op.bytes), headers: { 'content-type': 'application/octet-stream' }, signal })
          : await fetch(kvUrl(base, key), { method: 'DELETE', signal });
      const text = await response.text();
      return { status: response.status, code: response.status === 200 ? null : (/"code":"(\w+)"/.exec(text)?.[1] ?? null) };
    }
    const batch: BatchOp[] = ops.map(({ key, op }) => (op.kind === 'put' ? { op: 'put', key, value: valueOf(key, op.version, op.bytes) } : { op: 'delete', key }));
    const answer = await postBatch(base, batch, signal);
    if (answer.status === 200 && answer.items.some((i) => i.error !== undefined)) return { status: 500, code: 'OP_ERROR' };
    return { status: answer.status, code: answer.errorCode };
  }

  /**
   * Reads every key the writers touched and returns what is wrong (empty when all is right):
   * a key whose state is no allowed op's, or an unanswered batch that applied only in part.
   */
  async verify(base: string): Promise<string[]> {
    const held = await batchGetAll(base, this.allKeys());
    const problems: string[] = [];
    const chosenOp = new Map<string, KeyOp | null | 'ambiguous'>();
    for (const [key, history] of this.keys) {
      const got = held.get(key);
      const match = this.matchState(key, history, got);
      if (match === 'none') {
        const last = lastIndex(history, (op) => op.outcome === 'acked');
        problems.push(`${key}: holds ${got === undefined ? 'nothing' : `${got.length} bytes of no allowed version`}; last acknowledged op ${last < 0 ? 'none' : `#${last + 1} ${history[last].kind}`}, ${history.length} ops sent`);
      }
      chosenOp.set(key, match === 'none' ? null : match);
    }
    for (const [request, ops] of this.unanswered) {
      if (ops.length < 2) continue;
      const applied = ops.map(({ key, op }) => {
        const c = chosenOp.get(key);
        const history = this.keys.get(key) as KeyOp[];
        if (c === undefined || c === 'ambiguous') return 'either';
        const at = c === null ? -1 : history.indexOf(c);
        const mine = history.indexOf(op);
        // A later op of the key decides its state: it says nothing about this batch.
        return at > mine ? 'either' : at === mine ? 'new' : 'old';
      });
      if (applied.includes('new') && applied.includes('old')) problems.push(`unanswered batch #${request} applied in part: ${applied.join(',')}`);
    }
    return problems;
  }

  /** Which allowed op's state `got` is (an op, or null for "absent before any op"), 'ambiguous' or 'none'. */
  private matchState(key: string, history: KeyOp[], got: Buffer | undefined): KeyOp | null | 'ambiguous' | 'none' {
    const acked = lastIndex(history, (op) => op.outcome === 'acked');
    const allowed: (KeyOp | null)[] = [acked < 0 ? null : history[acked]];
    for (let i = acked + 1; i < history.length; i++) if (history[i].outcome !== 'refused') allowed.push(history[i]);
    const matches = allowed.filter((op) =>
      got === undefined ? op === null || op.kind === 'delete' : op !== null && op.kind === 'put' && op.bytes === got.length && valueOf(key, op.version, op.bytes).equals(got),
    );
    if (matches.length === 0) return 'none';
    return matches.length === 1 ? matches[0] : 'ambiguous';
  }

  /** Acknowledged ops of all keys (for reporting). */
  ackedOps(): number {
    return this.stats.acked;
  }
}

function lastIndex<T>(items: readonly T[], test: (item: T) => boolean): number {
  for (let i = items.length - 1; i >= 0; i--) if (test(items[i])) return i;
  return -1;
}
