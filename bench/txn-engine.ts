// The transaction engine without HTTP, for diagnosis: the server runs in this
// process (--fsync always, shards = cores) and N concurrent loops drive its
// TxnManager directly with the same transfers as bench:txn's interactive mode
// (begin, read two balances, write two, commit; a conflict is retried). What
// is left is the router's transaction logic, the shard hops, the WAL and the
// coordinator log: the difference to bench:txn's figures is what HTTP costs.
// Not a comparison with PostgreSQL (pgbench goes over TCP).
//
//   node dist/bench/txn-engine.js [--clients 8] [--duration 10] [--fsync always|batch|none]

import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { MantisError } from '../shared/errors.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { startServer, type Server } from '../src/server.js';

type Kind = 'single' | 'cross';

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

const encoder = new TextEncoder();
const ACCOUNTS = 10_000;
const INITIAL = 1_000_000;

/** Account pairs: single = hash-tagged pairs (same shard); cross = two accounts on different shards. */
function pairs(server: Server, kind: Kind): [Uint8Array, Uint8Array][] {
  const out: [Uint8Array, Uint8Array][] = [];
  if (kind === 'single') {
    for (let g = 0; g < ACCOUNTS / 2; g++) out.push([encoder.encode(`eng:{g${g}}a`), encoder.encode(`eng:{g${g}}b`)]);
    return out;
  }
  const byShard = new Map<number, Uint8Array[]>();
  for (let i = 0; i < ACCOUNTS; i++) {
    const key = encoder.encode(`eng:x${i}`);
    const shard = server.shardOf(key);
    byShard.set(shard, [...(byShard.get(shard) ?? []), key]);
  }
  const [a, b] = [...byShard.values()];
  for (let i = 0; i < Math.min(a.length, b.length); i++) out.push([a[i], b[i]]);
  return out;
}

async function transfer(server: Server, from: Uint8Array, to: Uint8Array, amount: number): Promise<boolean> {
  const { id } = server.txns.begin('serializable', 5000);
  try {
    const [a, b] = await Promise.all([server.txns.get(id, from, 0), server.txns.get(id, to, 0)]);
    const va = a === null ? INITIAL : Number(Buffer.from(a.entry.value).toString());
    const vb = b === null ? INITIAL : Number(Buffer.from(b.entry.value).toString());
    await server.txns.put(id, from, 'text/plain', 0, encoder.encode(String(va - amount)));
    await server.txns.put(id, to, 'text/plain', 0, encoder.encode(String(vb + amount)));
    await server.txns.commit(id);
    return true;
  } catch (error) {
    if (error instanceof MantisError && (error.code === 'TXN_CONFLICT' || error.code === 'TXN_ABORTED')) {
      await server.txns.rollback(id).catch(() => undefined);
      return false;
    }
    throw error;
  }
}

async function scenario(server: Server, kind: Kind, clients: number, durationS: number): Promise<string> {
  const list = pairs(server, kind);
  const latencies: number[] = [];
  let aborts = 0;
  const end = performance.now() + durationS * 1000;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < end) {
        const [from, to] = list[Math.floor(Math.random() * list.length)];
        const started = performance.now();
        if (await transfer(server, from, to, 1 + Math.floor(Math.random() * 100))) latencies.push(performance.now() - started);
        else aborts++;
      }
    }),
  );
  latencies.sort((x, y) => x - y);
  const q = (p: number): string => `${(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0).toFixed(2)} ms`;
  const tps = Math.round(latencies.length / durationS);
  return `| ${kind === 'single' ? 'single-shard' : 'cross-shard'} | ${tps} | ${q(0.5)} | ${q(0.99)} | ${((100 * aborts) / Math.max(1, aborts + latencies.length)).toFixed(1)} % |`;
}

async function main(): Promise<void> {
  const clients = Number(flag('clients', '8'));
  const durationS = Number(flag('duration', '10'));
  const fsync = flag('fsync', 'always');
  const dataDir = mkdtempSync(join(tmpdir(), 'mantis-txn-engine-'));
  const config = loadConfig(['--port', '0', '--data-dir', dataDir, '--fsync', fsync, '--log-level', 'warn'], {});
  const server = await startServer(config, createLogger('warn'));
  try {
    console.log(`Transaction engine without HTTP: ${clients} concurrent loops in the server's process, serializable, --fsync ${fsync}, ${server.shards} shards, ${availableParallelism()} cores, ${ACCOUNTS} accounts, ${durationS} s per scenario; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    console.log('| transfers | tps | p50 | p99 | aborts |');
    console.log('|---|---:|---:|---:|---:|');
    for (const kind of ['single', 'cross'] as const) console.log(await scenario(server, kind, clients, durationS));
  } finally {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
