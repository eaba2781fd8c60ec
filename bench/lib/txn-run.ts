// One scenario of the transaction benchmark: N closed-loop clients, each with
// its own keep-alive connection, doing transfers for a warm-up then a measured
// window; an aborted attempt is retried (after a short jittered backoff) until
// it commits. Afterwards the money is counted: the sum of the balances, and
// every account against its initial balance plus the transfers the clients
// saw commit (a lost update shows as a wrong account even when the sum holds).

import { Client } from 'undici';
import { latencyStats, type LatencyStats } from './pgbench.js';
import { cpuTimes, processCpuTicks } from './proc.js';
import { rng } from './storage-data.js';
import { transferPicker, type AccountSet, type Transfer, type TransferKind } from './txn-accounts.js';
import { attemptFor, fetchTxnCounters, readBalances, type Isolation, type Mode } from './txn-client.js';

export type RunSettings = {
  readonly url: string;
  readonly serverPid: number;
  readonly clients: number;
  readonly durationS: number;
  readonly warmupS: number;
  readonly isolation: Isolation;
  /** Cap of the jittered backoff after consecutive aborts (0: retry at once). */
  readonly backoffMaxMs: number;
  readonly seed: number;
};

export type Invariant = {
  readonly accounts: number;
  readonly sum: number | null;
  readonly expectedSum: number;
  readonly sumOk: boolean;
  /** Accounts whose balance is not initial + the committed transfers (missing accounts included). */
  readonly wrongAccounts: number;
  readonly examples: readonly string[];
  /** Transfers whose commit failed with an unknown outcome (they may explain wrong accounts). */
  readonly unknownOutcomes: number;
};

export type CpuShares = { readonly server: number | null; readonly client: number | null; readonly others: number | null; readonly busy: number | null };

export type ScenarioResult = {
  readonly id: string;
  readonly contention: AccountSet['contention'];
  readonly kind: TransferKind;
  readonly mode: Mode;
  readonly isolation: Isolation;
  readonly clients: number;
  readonly durationS: number;
  readonly commits: number;
  readonly aborts: number;
  readonly attempts: number;
  readonly tps: number;
  readonly abortRate: number;
  readonly abortReasons: Readonly<Record<string, number>>;
  /** Failed attempts (not 409 aborts), over the whole run including the warm-up. */
  readonly errors: number;
  readonly errorExamples: readonly string[];
  /** The committed attempt, from its first request to the commit answer. */
  readonly latency: LatencyStats;
  /** From the first attempt's first request to the commit answer (retries and backoff included). */
  readonly latencyWithRetries: LatencyStats;
  readonly maxAttemptsPerTransfer: number;
  /** Transfers committed during the whole run (warm-up and the tail after the window included). */
  readonly committedTotal: number;
  readonly cpu: CpuShares;
  /** Server txn counters over the measured window (mantis_txn_commits_total by path, aborts by reason); null when unavailable. */
  readonly serverCounters: Readonly<Record<string, number>> | null;
  readonly stoppedEarly: string | null;
  readonly invariant: Invariant;
};

class Samples {
  private data = new Float64Array(4096);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const grown = new Float64Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = v;
  }
  values(): Float64Array {
    return this.data.slice(0, this.length);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function cpuSnapshot(serverPid: number): { sys: { busy: number; total: number } | null; server: number | null; client: number | null } {
  return { sys: cpuTimes(), server: processCpuTicks(serverPid), client: processCpuTicks(process.pid) };
}

function cpuShares(a: ReturnType<typeof cpuSnapshot>, b: ReturnType<typeof cpuSnapshot>): CpuShares {
  if (!a.sys || !b.sys || b.sys.total === a.sys.total) return { server: null, client: null, others: null, busy: null };
  const total = b.sys.total - a.sys.total;
  const server = a.server !== null && b.server !== null ? (b.server - a.server) / total : null;
  const client = a.client !== null && b.client !== null ? (b.client - a.client) / total : null;
  const busy = (b.sys.busy - a.sys.busy) / total;
  return { server, client, busy, others: server !== null && client !== null ? Math.max(0, busy - server - client) : null };
}

function diffCounters(a: Record<string, number> | null, b: Record<string, number> | null): Record<string, number> | null {
  if (a === null || b === null) return null;
  const out: Record<string, number> = {};
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const d = (b[k] ?? 0) - (a[k] ?? 0);
    if (d !== 0) out[k] = d;
  }
  return out;
}

/** Balance changes of committed transfers, per account (persisted across scenarios on one account set). */
export type Ledger = Map<string, number>;

export function applyToLedger(ledger: Ledger, t: Transfer): void {
  ledger.set(t.from, (ledger.get(t.from) ?? 0) - t.amount);
  ledger.set(t.to, (ledger.get(t.to) ?? 0) + t.amount);
}

/**
 * Reads every account of the set and checks the sum and each balance against
 * the ledger, then rebases the ledger on what was read, so a wrong balance
 * is reported by the scenario that made it and not again by the next ones.
 */
export async function checkMoney(control: Client, set: AccountSet, ledger: Ledger, unknownOutcomes: number): Promise<Invariant> {
  const balances = await readBalances(control, set.accounts);
  // Transfers keep the sum, so this is the sum at the previous check (or the preload).
  let expectedSum = set.initialBalance * set.accounts.length;
  for (const d of ledger.values()) expectedSum += d;
  let sum = 0;
  let missing = false;
  let wrong = 0;
  const examples: string[] = [];
  for (const key of set.accounts) {
    const b = balances.get(key) ?? null;
    const expected = set.initialBalance + (ledger.get(key) ?? 0);
    if (b === null) missing = true;
    else sum += b;
    if (b !== expected) {
      wrong++;
      if (examples.length < 5) examples.push(`${key}: ${b === null ? 'missing' : b} (expected ${expected})`);
    }
  }
  for (const key of set.accounts) {
    const b = balances.get(key) ?? null;
    if (b !== null) ledger.set(key, b - set.initialBalance);
  }
  return { accounts: set.accounts.length, sum: missing ? null : sum, expectedSum, sumOk: !missing && sum === expectedSum, wrongAccounts: wrong, examples, unknownOutcomes };
}

export async function runScenario(s: RunSettings, set: AccountSet, ledger: Ledger, kind: TransferKind, mode: Mode, progress: (m: string) => void): Promise<ScenarioResult> {
  const id = `${set.contention}-${kind}-${mode}`;
  const attempt = attemptFor(mode);
  const clients = Array.from({ length: s.clients }, () => new Client(s.url, { pipelining: 1, keepAliveTimeout: 60_000 }));
  const control = new Client(s.url, { pipelining: 1 });
  const lat = new Samples();
  const latAll = new Samples();
  const abortReasons: Record<string, number> = {};
  const errorExamples: string[] = [];
  let commits = 0;
  let aborts = 0;
  let errors = 0;
  let unknown = 0;
  let committedTotal = 0;
  let maxAttempts = 0;
  let stoppedEarly: string | null = null;

  const started = performance.now();
  const windowStart = started + s.warmupS * 1000;
  const windowEnd = windowStart + s.durationS * 1000;

  const worker = async (i: number): Promise<void> => {
    const client = clients[i];
    const next = rng(s.seed * 7919 + i * 104_729 + kind.length * 31 + mode.length);
    const pick = transferPicker(set, kind, next);
    let consecutiveErrors = 0;
    while (performance.now() < windowEnd && stoppedEarly === null) {
      const t = pick();
      const first = performance.now();
      for (let n = 1; ; n++) {
        const t0 = performance.now();
        const o = await attempt(client, s.isolation, t);
        const t1 = performance.now();
        const inWindow = t1 >= windowStart && t1 <= windowEnd;
        if (o.kind === 'commit') {
          applyToLedger(ledger, t);
          committedTotal++;
          consecutiveErrors = 0;
          if (inWindow) {
            commits++;
            lat.push((t1 - t0) * 1000);
            latAll.push((t1 - first) * 1000);
            if (n > maxAttempts) maxAttempts = n;
          }
          break;
        }
        if (o.kind === 'abort') {
          if (inWindow) {
            aborts++;
            abortReasons[o.reason] = (abortReasons[o.reason] ?? 0) + 1;
          }
          if (t1 > windowEnd || stoppedEarly !== null) break; // time is up: an aborted transfer changed nothing
          if (s.backoffMaxMs > 0) await sleep(next() * Math.min(s.backoffMaxMs, 0.5 * 2 ** (n - 1)));
          continue;
        }
        errors++;
        if (o.unknownOutcome) unknown++;
        if (errorExamples.length < 10) errorExamples.push(o.what);
        if (++consecutiveErrors >= 20 && stoppedEarly === null) stoppedEarly = `client ${i}: 20 failures in a row, last: ${o.what}`;
        break;
      }
    }
  };

  const countersBefore = { value: null as Record<string, number> | null };
  const countersAfter = { value: null as Record<string, number> | null };
  let cpu: CpuShares = { server: null, client: null, others: null, busy: null };
  const meter = (async () => {
    await sleep(Math.max(0, windowStart - performance.now()));
    countersBefore.value = await fetchTxnCounters(control);
    const a = cpuSnapshot(s.serverPid);
    await sleep(Math.max(0, windowEnd - performance.now()));
    const b = cpuSnapshot(s.serverPid);
    cpu = cpuShares(a, b);
    countersAfter.value = await fetchTxnCounters(control);
  })();
  try {
    await Promise.all([...clients.map((_, i) => worker(i)), meter]);
    const invariant = await checkMoney(control, set, ledger, unknown);
    const attempts = commits + aborts;
    const result: ScenarioResult = {
      id,
      contention: set.contention,
      kind,
      mode,
      isolation: s.isolation,
      clients: s.clients,
      durationS: s.durationS,
      commits,
      aborts,
      attempts,
      tps: commits / s.durationS,
      abortRate: attempts === 0 ? 0 : aborts / attempts,
      abortReasons,
      errors,
      errorExamples,
      latency: latencyStats(lat.values()),
      latencyWithRetries: latencyStats(latAll.values()),
      maxAttemptsPerTransfer: maxAttempts,
      committedTotal,
      cpu,
      serverCounters: diffCounters(countersBefore.value, countersAfter.value),
      stoppedEarly,
      invariant,
    };
    progress(`${id}: ${result.tps.toFixed(0)} tps, p99 ${result.latency.p99Ms.toFixed(2)} ms, abort rate ${(100 * result.abortRate).toFixed(1)} %, errors ${errors}, money ${invariant.sumOk && invariant.wrongAccounts === 0 ? 'ok' : 'WRONG'}`);
    return result;
  } finally {
    await Promise.all([...clients, control].map((c) => c.close().catch(() => undefined)));
  }
}
