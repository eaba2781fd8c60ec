// The environment a MantisDB server process should start with. glibc gives
// every thread that allocates its own malloc arena (up to 8 per core), and
// with a shard worker, pool threads and libuv's threads each holding freed
// but unreturned pages, RSS with a 4 MiB budget reached ~390 MiB while
// reading back a 100 MiB data set; with MALLOC_ARENA_MAX=2 the same run peaks
// at ~315 MiB. glibc reads the variable when the process starts, so it has to
// be in the environment the process is spawned with: `npm start`, the systemd
// unit, the test helper and the benchmark/stress launchers all set it.

export const MALLOC_ARENA_MAX = '2';

/** `base` with MALLOC_ARENA_MAX defaulted (a value the caller set wins). */
export function serverProcessEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { MALLOC_ARENA_MAX, ...base };
}

/** True when glibc's arena count was left at its default (per-thread arenas). */
export function mallocArenasUnbounded(env: NodeJS.ProcessEnv = process.env): boolean {
  return process.platform === 'linux' && (env.MALLOC_ARENA_MAX === undefined || env.MALLOC_ARENA_MAX === '');
}
