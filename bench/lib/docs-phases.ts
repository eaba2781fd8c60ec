// The document benchmark's measured phases, each for either system: the
// batched load, building the lookup index, the closed-loop indexed lookups
// and the $match + $group runs. MantisDB is driven over HTTP (lib/docs-http),
// PostgreSQL through `pg` (lib/docs-pg), from this process alike: the same
// generator, the same worker counts, the same checks on every answer.

import { Client } from 'undici';
import pg from 'pg';
import { compareGroups, emailOf, indexStream, type GroupRow } from './docs-gen.js';
import { explainUsesIndex, httpCollection, httpCreateIndex, httpExplain, httpFindByEmail, httpGroup, httpInsert, indexState } from './docs-http.js';
import { closedLoop, loadBatches, timedRuns, type LoadRun, type LoopRun } from './docs-load.js';
import { pgAnalyze, pgConnect, pgCreateEmailIndex, pgGroup, pgInsertBatch, pgLookup } from './docs-pg.js';
import { PhaseCpuMeter, type PhaseCpu } from './docs-proc.js';
import type { TempPostgres } from './pgbench.js';

/** The system a phase runs against. */
export type Target =
  | { readonly kind: 'mantis'; readonly url: string; readonly pid: number; readonly collection: string }
  | { readonly kind: 'pg'; readonly cluster: TempPostgres };

export const INDEX_NAME = 'email';

export type Measured<T> = { readonly result: T; readonly cpu: PhaseCpu };

const meterFor = (t: Target): PhaseCpuMeter => new PhaseCpuMeter(t.kind === 'mantis' ? { pid: t.pid } : 'postgres');

/** N connections to the target, closed after `work` whatever happens. */
async function withConnections<T>(t: Target, n: number, work: (send: Sender) => Promise<T>): Promise<T> {
  if (t.kind === 'mantis') {
    const clients = Array.from({ length: n }, () => new Client(t.url, { keepAliveTimeout: 60_000, headersTimeout: 600_000, bodyTimeout: 600_000 }));
    try {
      return await work(mantisSender(t.collection, clients));
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  }
  const clients: pg.Client[] = [];
  try {
    for (let k = 0; k < n; k++) clients.push(await pgConnect(t.cluster));
    return await work(pgSender(clients));
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
}

/** The operations of the phases, on connection w. */
type Sender = {
  insert(jsons: string[], w: number): Promise<void>;
  lookup(email: string, w: number): Promise<number>;
  group(): Promise<GroupRow[]>;
};

function mantisSender(collection: string, clients: Client[]): Sender {
  return {
    insert: (jsons, w) => httpInsert(clients[w], collection, jsons),
    lookup: (email, w) => httpFindByEmail(clients[w], collection, email),
    group: () => httpGroup(clients[0], collection),
  };
}

function pgSender(clients: pg.Client[]): Sender {
  return {
    insert: (jsons, w) => pgInsertBatch(clients[w], jsons),
    lookup: (email, w) => pgLookup(clients[w], email),
    group: () => pgGroup(clients[0]),
  };
}

export type InsertSettings = { readonly seed: number; readonly docs: number; readonly batch: number; readonly workers: number; readonly onProgress?: (loaded: number) => void };

/** Documents [0, docs) in batches, `workers` in flight. */
export async function insertPhase(t: Target, s: InsertSettings): Promise<Measured<LoadRun>> {
  return withConnections(t, s.workers, async (send) => {
    const meter = meterFor(t);
    const result = await loadBatches({ seed: s.seed, from: 0, to: s.docs, batch: s.batch, workers: s.workers, send: send.insert, onProgress: s.onProgress });
    return { result, cpu: meter.finish() };
  });
}

/**
 * Builds the lookup index and returns how long until it serves: PostgreSQL's
 * CREATE INDEX returns when it is built; MantisDB builds in the background,
 * so the clock runs until the collection lists the index as ready (polled
 * with a backoff from 20 ms to 1 s, as the router polls its shards), and
 * explain then must show it in use on every shard. Explain is not the poll
 * because it runs the query, a collection scan while the index builds; it
 * made little difference, though (200k documents: 8.4 s waiting on the state,
 * 7.2 s polling explain every 20 ms): the time is the build's own.
 */
export async function indexPhase(t: Target, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  if (t.kind === 'pg') {
    const client = await pgConnect(t.cluster);
    try {
      await pgCreateEmailIndex(client);
      const ms = performance.now() - t0;
      await pgAnalyze(client);
      return ms;
    } finally {
      await client.end();
    }
  }
  const client = new Client(t.url);
  try {
    await httpCreateIndex(client, t.collection, INDEX_NAME, { 'user.email': 1 });
    let state: string | null = null;
    for (let waitMs = 20; state !== 'ready'; waitMs = Math.min(1000, waitMs * 2)) {
      if (performance.now() - t0 > timeoutMs) throw new Error(`index ${INDEX_NAME} still "${state}" after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, waitMs));
      state = indexState(await httpCollection(client, t.collection), INDEX_NAME);
    }
    const ms = performance.now() - t0;
    const explain = await httpExplain(client, t.collection, { 'user.email': emailOf(0) });
    if (!explainUsesIndex(explain, INDEX_NAME)) throw new Error(`index ${INDEX_NAME} is ready but explain shows no use of it: ${JSON.stringify(explain).slice(0, 400)}`);
    return ms;
  } finally {
    await client.close();
  }
}

export type LookupSettings = { readonly seed: number; readonly docs: number; readonly connections: number; readonly warmupS: number; readonly durationS: number };

/** Closed-loop lookups of random loaded emails; an answer without exactly one document is an error. */
export async function lookupPhase(t: Target, s: LookupSettings): Promise<Measured<LoopRun>> {
  return withConnections(t, s.connections, async (send) => {
    const streams = Array.from({ length: s.connections }, (_, w) => indexStream(s.seed * 7919 + w + 1, s.docs));
    const op = async (w: number): Promise<void> => {
      const email = emailOf(streams[w]());
      const found = await send.lookup(email, w);
      if (found !== 1) throw new Error(`lookup of ${email} found ${found} documents, expected 1`);
    };
    const meter = meterFor(t);
    const result = await closedLoop({ workers: s.connections, warmupS: s.warmupS, durationS: s.durationS, op });
    return { result, cpu: meter.finish() };
  });
}

export type GroupRun = { readonly ms: number[]; readonly problems: string[] };

/** One unmeasured run, then `runs` measured ones; the last answer is checked against the generator's groups. */
export async function groupPhase(t: Target, runs: number, expected: readonly GroupRow[]): Promise<Measured<GroupRun>> {
  return withConnections(t, 1, async (send) => {
    const meter = meterFor(t);
    const { ms, last } = await timedRuns(1, runs, () => send.group());
    return { result: { ms, problems: compareGroups(expected, last) }, cpu: meter.finish() };
  });
}
