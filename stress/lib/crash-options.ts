// The crash harness's flags: --cycles 50 --keys 500 --concurrency 32
// --value-bytes 256 --kill-after-ms 200..1500 --shards N --out DIR.
// The server always runs with --fsync always: a write is acknowledged only
// after an fdatasync, so no acknowledged write may be missing after kill -9.

import { integer, parseArgs, UsageError } from './cli-args.js';

export type CrashOptions = {
  readonly cycles: number;
  readonly keys: number;
  readonly concurrency: number;
  readonly valueBytes: number;
  readonly killAfterMinMs: number;
  readonly killAfterMaxMs: number;
  readonly shards: number | null;
  readonly outDir: string;
  readonly seed: number;
};

const FLAGS = new Set(['cycles', 'keys', 'concurrency', 'value-bytes', 'kill-after-ms', 'shards', 'out', 'seed']);

export function parseCrashOptions(argv: readonly string[]): CrashOptions {
  const a = parseArgs(argv, FLAGS, new Set());
  const window = a.get('kill-after-ms') ?? '200..1500';
  const match = /^(\d+)\.\.(\d+)$/.exec(window);
  if (match === null || Number(match[1]) > Number(match[2])) throw new UsageError(`--kill-after-ms must look like 200..1500, got "${window}"`);
  return {
    cycles: integer('cycles', a.get('cycles') ?? '50', 1, 100_000),
    keys: integer('keys', a.get('keys') ?? '500', 1, 1_000_000),
    concurrency: integer('concurrency', a.get('concurrency') ?? '32', 1, 4096),
    valueBytes: integer('value-bytes', a.get('value-bytes') ?? '256', 16, 1024 * 1024),
    killAfterMinMs: Number(match[1]),
    killAfterMaxMs: Number(match[2]),
    shards: a.has('shards') ? integer('shards', a.get('shards') ?? '', 1, 256) : null,
    outDir: a.get('out') ?? 'stress/results',
    seed: integer('seed', a.get('seed') ?? String(Date.now() % 2 ** 31), 0, 2 ** 31),
  };
}
