// The load harness's flags, with their defaults:
//   --duration 60s --rate 5000 --mix get:90,put:10 --keys 1000000
//   --value-bytes 100 --connections 64 [--url http://host:port [--pid N]]
//   [--shards N] [--fsync batch] [--warmup 2s] [--out dir] [--no-preload]
//   [--find-max [--p99-bound-ms 50] [--start-rate 2000] [--step-duration 10s]]
//   [--overload-rate N [--overload-duration 30s] [--overload-connections 6144]]
// --p99-bound-ms is also the soak's p99 target.

import { durationMs, integer, parseArgs, positiveNumber, UsageError } from './cli-args.js';

export type Mix = { readonly getShare: number; readonly putShare: number };

export type LoadOptions = {
  readonly durationMs: number;
  readonly rate: number;
  readonly mix: Mix;
  readonly keys: number;
  readonly valueBytes: number;
  readonly connections: number;
  /** A running server to target; null starts one from dist/ on a temp dir. */
  readonly url: string | null;
  /** The server's pid for RSS sampling (the harness knows it when it starts the server). */
  readonly pid: number | null;
  readonly shards: number | null;
  readonly fsync: 'always' | 'batch' | 'none';
  readonly warmupMs: number;
  readonly outDir: string;
  readonly preload: boolean;
  readonly findMax: boolean;
  readonly p99BoundMs: number;
  readonly startRate: number;
  readonly stepDurationMs: number;
  /** Requests waiting for a connection beyond this are not sent and count as CLIENT_BACKLOG errors. */
  readonly backlogMax: number;
  /** After the main phase, a phase at this rate (past capacity) to show load shedding; null: none. */
  readonly overloadRate: number | null;
  readonly overloadDurationMs: number;
  /** Connections of the overload phase: more than the server admits in flight, so the excess reaches it. */
  readonly overloadConnections: number;
};

const VALUE_FLAGS = new Set([
  'duration', 'rate', 'mix', 'keys', 'value-bytes', 'connections', 'url', 'pid', 'shards', 'fsync', 'warmup', 'out',
  'p99-bound-ms', 'start-rate', 'step-duration', 'backlog-max', 'overload-rate', 'overload-duration', 'overload-connections',
]);
const BOOLEAN_FLAGS = new Set(['find-max', 'no-preload']);

export function parseMix(raw: string): Mix {
  const shares = new Map<string, number>();
  for (const part of raw.split(',')) {
    const [op, share] = part.split(':');
    if ((op !== 'get' && op !== 'put') || share === undefined || !/^\d+$/.test(share)) {
      throw new UsageError(`--mix must look like get:90,put:10, got "${raw}"`);
    }
    shares.set(op, Number(share));
  }
  const total = (shares.get('get') ?? 0) + (shares.get('put') ?? 0);
  if (total === 0) throw new UsageError('--mix needs a share above 0');
  return { getShare: (shares.get('get') ?? 0) / total, putShare: (shares.get('put') ?? 0) / total };
}

function fsyncOf(raw: string): LoadOptions['fsync'] {
  if (raw === 'always' || raw === 'batch' || raw === 'none') return raw;
  throw new UsageError(`--fsync must be always, batch or none, got "${raw}"`);
}

export function parseLoadOptions(argv: readonly string[]): LoadOptions {
  const a = parseArgs(argv, VALUE_FLAGS, BOOLEAN_FLAGS);
  const get = (flag: string, fallback: string): string => a.get(flag) ?? fallback;
  const url = a.get('url') ?? null;
  if (url !== null && !/^https?:\/\/[^/]+$/.test(url)) throw new UsageError(`--url must be like http://127.0.0.1:8080, got "${url}"`);
  if (url === null && a.has('pid')) throw new UsageError('--pid only goes with --url');
  const overloadRate = a.has('overload-rate') ? positiveNumber('overload-rate', get('overload-rate', '')) : null;
  if (overloadRate === null && (a.has('overload-duration') || a.has('overload-connections'))) {
    throw new UsageError('--overload-duration and --overload-connections only go with --overload-rate');
  }
  if (overloadRate !== null && a.has('find-max')) throw new UsageError('--overload-rate does not go with --find-max');
  return {
    durationMs: durationMs('duration', get('duration', '60s')),
    rate: positiveNumber('rate', get('rate', '5000')),
    mix: parseMix(get('mix', 'get:90,put:10')),
    keys: integer('keys', get('keys', '1000000'), 1, 100_000_000),
    valueBytes: integer('value-bytes', get('value-bytes', '100'), 1, 16 * 1024 * 1024),
    connections: integer('connections', get('connections', '64'), 1, 10_000),
    url,
    pid: a.has('pid') ? integer('pid', get('pid', ''), 1, 2 ** 31) : null,
    shards: a.has('shards') ? integer('shards', get('shards', ''), 1, 256) : null,
    fsync: fsyncOf(get('fsync', 'batch')),
    warmupMs: a.get('warmup') === '0' ? 0 : durationMs('warmup', get('warmup', '2s')),
    outDir: get('out', 'stress/results'),
    preload: !a.has('no-preload'),
    findMax: a.has('find-max'),
    p99BoundMs: positiveNumber('p99-bound-ms', get('p99-bound-ms', '50')),
    startRate: positiveNumber('start-rate', get('start-rate', '2000')),
    stepDurationMs: durationMs('step-duration', get('step-duration', '10s')),
    backlogMax: integer('backlog-max', get('backlog-max', '20000'), 1, 10_000_000),
    overloadRate,
    overloadDurationMs: durationMs('overload-duration', get('overload-duration', '30s')),
    overloadConnections: integer('overload-connections', get('overload-connections', '6144'), 1, 60_000),
  };
}
