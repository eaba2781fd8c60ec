// What the harnesses load: a running server given by --url, or a MantisDB
// started here from dist/ on a fresh temp data dir (removed afterwards), and
// keys put in beforehand through the batch route.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, stopServer, type ServerProcess } from '../../bench/lib/proc.js';
import type { MantisClient } from '../../src/client/index.js';

export const MAIN_SCRIPT = fileURLToPath(new URL('../../src/main.js', import.meta.url));
export const READY_LINE = /^MantisDB listening on (http:\/\/\S+)$/;

export type Target = {
  readonly url: string;
  /** For RSS sampling; null when unknown (a --url target without --pid). */
  readonly pid: number | null;
  readonly startedHere: boolean;
  stop(): Promise<void>;
};

export type OwnServerOptions = { readonly fsync: string; readonly shards: number | null; readonly extraArgs?: readonly string[] };

export function serverArgs(dataDir: string, port: number, o: OwnServerOptions): string[] {
  const args = ['--port', String(port), '--host', '127.0.0.1', '--data-dir', dataDir, '--log-level', 'warn', '--fsync', o.fsync];
  if (o.shards !== null) args.push('--shards', String(o.shards));
  return [...args, ...(o.extraArgs ?? [])];
}

export async function startOwnServer(o: OwnServerOptions): Promise<Target & { server: ServerProcess }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mantis-stress-'));
  let server: ServerProcess;
  try {
    server = await startServer('mantisdb', MAIN_SCRIPT, serverArgs(dataDir, 0, o), READY_LINE, 120_000);
  } catch (error) {
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  return {
    url: server.url,
    pid: server.pid,
    startedHere: true,
    server,
    stop: async () => {
      await stopServer(server);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function keyOf(i: number): string {
  return `stress:${i}`;
}

/** Puts keys 0..count-1 with `value`, 1000 per batch, 4 batches in flight. */
export async function preloadKeys(client: MantisClient, count: number, value: Buffer, onProgress: (done: number) => void): Promise<void> {
  const perBatch = 1000;
  let next = 0;
  let done = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      const from = next;
      next = Math.min(count, from + perBatch);
      const ops = [];
      for (let i = from; i < next; i++) ops.push({ op: 'put' as const, key: keyOf(i), value });
      await client.batch(ops, { timeoutMs: 120_000, retries: 5 });
      done += ops.length;
      onProgress(done);
    }
  };
  await Promise.all(Array.from({ length: 4 }, () => lane()));
}
