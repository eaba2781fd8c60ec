// npm run stress:crash -- --cycles 50 [--keys 500] [--concurrency 32]
//   [--value-bytes 256] [--kill-after-ms 200..1500] [--shards N] [--seed N]
//
// Repeatedly: start MantisDB (--fsync always) on one temp data dir, read every
// key back and check it, run concurrent PUTs, kill -9 the server at a random
// moment. After the last kill the server is started once more and checked.
// Prints cycles, writes acknowledged, writes lost (must be 0) and restart
// times; writes a JSON result; exits 1 if anything was lost or corrupt.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stopServer } from '../bench/lib/proc.js';
import { rng } from '../bench/lib/storage-data.js';
import { UsageError } from './lib/cli-args.js';
import { startAndConnect, verifyAll, writeUntilKilled, type Problem } from './lib/crash-cycle.js';
import { CrashModel } from './lib/crash-model.js';
import { parseCrashOptions, type CrashOptions } from './lib/crash-options.js';

type CycleRecord = { cycle: number; sent: number; acknowledged: number; killedAfterMs: number; restartMs: number | null; unackedApplied: number };

function spread(values: readonly number[]): { min: number; median: number; max: number } | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return { min: Math.round(sorted[0]), median: Math.round(sorted[Math.floor(sorted.length / 2)]), max: Math.round(sorted[sorted.length - 1]) };
}

async function run(o: CrashOptions, dataDir: string): Promise<{ records: CycleRecord[]; problems: Problem[]; model: CrashModel; readyLine: number[]; healthReady: number[] }> {
  const random = rng(o.seed); // seeded: key choices and kill moments can be replayed
  const model = new CrashModel(o.keys);
  const records: CycleRecord[] = [];
  const problems: Problem[] = [];
  const readyLine: number[] = [];
  const healthReady: number[] = [];
  for (let cycle = 1; cycle <= o.cycles + 1; cycle++) {
    const started = await startAndConnect(dataDir, o);
    if (cycle > 1) {
      readyLine.push(started.readyLineMs);
      healthReady.push(started.healthReadyMs);
    }
    const checked = await verifyAll(started.client, model, cycle);
    problems.push(...checked.problems);
    const previous = records.at(-1);
    if (previous !== undefined) {
      previous.restartMs = Math.round(started.healthReadyMs);
      previous.unackedApplied = checked.unackedApplied;
      const bad = checked.problems.length === 0 ? 'ok' : `${checked.problems.length} PROBLEMS`;
      console.log(`cycle ${previous.cycle}/${o.cycles}: ${previous.sent} writes sent, ${previous.acknowledged} acknowledged, killed after ${previous.killedAfterMs} ms; restart ${previous.restartMs} ms; ${checked.keys} keys checked: ${bad} (${checked.unackedApplied} unacknowledged writes were applied)`);
    }
    if (cycle > o.cycles) {
      await started.client.close();
      await stopServer(started.server);
      break;
    }
    const load = await writeUntilKilled(started, model, o, random);
    await started.client.close();
    records.push({ cycle, ...load, restartMs: null, unackedApplied: 0 });
  }
  return { records, problems, model, readyLine, healthReady };
}

async function main(): Promise<void> {
  const o = parseCrashOptions(process.argv.slice(2));
  const startedAt = new Date().toISOString();
  const dataDir = mkdtempSync(join(tmpdir(), 'mantis-crash-'));
  console.log(`crash harness: ${o.cycles} cycles, ${o.keys} keys, ${o.concurrency} concurrent PUTs, --fsync always, seed ${o.seed}, data ${dataDir}`);
  const { records, problems, model, readyLine, healthReady } = await run(o, dataDir);
  const lost = problems.filter((p) => p.verdict === 'lost').length;
  const corrupt = problems.filter((p) => p.verdict === 'corrupt').length;
  const phantom = problems.filter((p) => p.verdict === 'phantom').length;
  const summary = {
    cycles: records.length,
    writesSent: model.sent,
    writesAcknowledged: model.acknowledged,
    unacknowledgedApplied: records.reduce((s, r) => s + r.unackedApplied, 0),
    writesLost: lost,
    valuesCorruptOrMixed: corrupt,
    valuesNeverWritten: phantom,
    restartToReadyLineMs: spread(readyLine),
    restartToHealthReadyMs: spread(healthReady),
  };
  console.log(`\ncycles ${summary.cycles}, writes acknowledged ${summary.writesAcknowledged} (of ${summary.writesSent} sent), writes lost ${lost}, corrupt or mixed values ${corrupt}, values never written ${phantom}`);
  const r = summary.restartToHealthReadyMs;
  if (r !== null) console.log(`restart to /health/ready: min ${r.min} ms, median ${r.median} ms, max ${r.max} ms (to the ready line: median ${summary.restartToReadyLineMs?.median} ms)`);
  for (const p of problems.slice(0, 20)) console.log(`  ${p.verdict}: ${p.key} in cycle ${p.cycle}, last acknowledged version ${p.lastAckedVersion}, stored ${JSON.stringify(p.stored)}`);
  mkdirSync(o.outDir, { recursive: true });
  const file = resolve(join(o.outDir, `crash-${startedAt.replace(/[:.]/g, '-')}.json`));
  writeFileSync(file, JSON.stringify({ startedAt, command: `npm run stress:crash -- ${process.argv.slice(2).join(' ')}`.trim(), options: o, summary, records, problems }, null, 2));
  console.log(`json: ${file}`);
  if (problems.length === 0) rmSync(dataDir, { recursive: true, force: true });
  else console.log(`data dir kept for inspection: ${dataDir}`);
  process.exitCode = problems.length === 0 ? 0 : 1;
}

main().catch((error: unknown) => {
  console.error(error instanceof UsageError ? `stress:crash: ${error.message}` : error);
  process.exit(error instanceof UsageError ? 2 : 1);
});
