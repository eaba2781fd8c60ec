// One crash cycle's pieces: start the server on the harness's data dir and
// time it, read every key back and check it against the model, and run the
// write load until kill -9 lands at a random moment.

import { startServer, type ServerProcess } from '../../bench/lib/proc.js';
import { MantisClient } from '../../src/client/index.js';
import { CrashModel, encodeValue, type Verdict } from './crash-model.js';
import type { CrashOptions } from './crash-options.js';
import { MAIN_SCRIPT, READY_LINE, serverArgs } from './target-server.js';

export type Started = {
  readonly server: ServerProcess;
  readonly client: MantisClient;
  /** Spawn to the ready line, and to /health/ready answering 200. */
  readonly readyLineMs: number;
  readonly healthReadyMs: number;
};

export type Problem = {
  readonly cycle: number;
  readonly key: string;
  readonly verdict: Exclude<Verdict, 'ok'>;
  readonly lastAckedVersion: number;
  readonly stored: string | null;
};

export type Verification = { readonly keys: number; readonly unackedApplied: number; readonly problems: Problem[] };

export type LoadOutcome = { readonly sent: number; readonly acknowledged: number; readonly killedAfterMs: number };

export async function startAndConnect(dataDir: string, o: CrashOptions): Promise<Started> {
  const started = performance.now();
  const server = await startServer('mantisdb', MAIN_SCRIPT, serverArgs(dataDir, 0, { fsync: 'always', shards: o.shards }), READY_LINE, 120_000);
  const readyLineMs = performance.now() - started;
  const client = new MantisClient({
    url: server.url,
    name: 'crash',
    retry: false,
    breaker: false,
    timeoutMs: 30_000,
    pool: { min: Math.min(o.concurrency, 64), max: o.concurrency },
  });
  await client.connect({ timeoutMs: 120_000 });
  return { server, client, readyLineMs, healthReadyMs: performance.now() - started };
}

/** Reads every key (batches of 1000 gets) and checks each against the model. */
export async function verifyAll(client: MantisClient, model: CrashModel, cycle: number): Promise<Verification> {
  const problems: Problem[] = [];
  let unackedApplied = 0;
  for (let from = 0; from < model.keyCount; from += 1000) {
    const indexes = Array.from({ length: Math.min(1000, model.keyCount - from) }, (_, j) => from + j);
    const results = await client.batch(indexes.map((i) => ({ op: 'get' as const, key: CrashModel.keyName(i) })), { timeoutMs: 60_000, retries: 3 });
    results.forEach((result, j) => {
      const i = indexes[j];
      const stored = result.op === 'get' && 'found' in result && result.found ? result.value.toString('utf8') : null;
      const checked = model.verify(i, stored);
      if (checked.unackedApplied) unackedApplied++;
      if (checked.verdict !== 'ok') {
        problems.push({ cycle, key: CrashModel.keyName(i), verdict: checked.verdict, lastAckedVersion: checked.ackedVersion, stored: stored?.slice(0, 120) ?? null });
      }
    });
  }
  return { keys: model.keyCount, unackedApplied, problems };
}

/** Concurrent PUTs (one in flight per key) until the server is killed at a random moment. */
export async function writeUntilKilled(started: Started, model: CrashModel, o: CrashOptions, random: () => number): Promise<LoadOutcome> {
  const { client, server } = started;
  const sentBefore = model.sent;
  const ackedBefore = model.acknowledged;
  const killAfterMs = Math.round(o.killAfterMinMs + random() * (o.killAfterMaxMs - o.killAfterMinMs));
  let killed = false;
  const exited = new Promise<void>((resolve) => {
    if (server.child.exitCode !== null || server.child.signalCode !== null) resolve();
    else server.child.once('exit', () => resolve());
  });
  const timer = setTimeout(() => {
    killed = true;
    server.child.kill('SIGKILL');
  }, killAfterMs);
  const lane = async (): Promise<void> => {
    while (!killed) {
      const i = model.pickKey(random);
      if (i < 0) return;
      const version = model.begin(i);
      const key = CrashModel.keyName(i);
      const acked = await client.put(key, encodeValue(key, version, o.valueBytes)).then(() => true, () => false);
      model.end(i, version, acked);
    }
  };
  // Lanes stop at the kill (or earlier if every key is busy or retired); the kill still comes.
  await Promise.all(Array.from({ length: o.concurrency }, () => lane()));
  await exited;
  clearTimeout(timer);
  return { sent: model.sent - sentBefore, acknowledged: model.acknowledged - ackedBefore, killedAfterMs: killAfterMs };
}
