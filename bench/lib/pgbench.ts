// PostgreSQL as a benchmark baseline (issue 5, item 6): find an installed
// PostgreSQL, start a throwaway cluster with its DEFAULT configuration (fsync
// on, synchronous_commit on: every commit is flushed to disk, which is the
// point of the comparison), run pgbench's built-in TPC-B-like script against
// it, and parse pgbench's summary and per-transaction logs (exact latency
// percentiles).
//
//   const pg = findPostgres();            // null: "PostgreSQL not installed: apt-get install postgresql"
//   const cluster = await startTempPostgres({ install: pg });
//   try { const r = await runPgbench(cluster, { clients: 8, durationS: 10 }); console.log(formatPgbenchResult(r)); }
//   finally { await cluster.stop(); }
//
// The cluster lives in a temp dir (mantis-pg-XXXXXX) on the disk under
// os.tmpdir() unless `parentDir` says otherwise; only the connection settings
// are given on the command line (listen_addresses=127.0.0.1, a free port, the
// socket dir inside the temp dir). initdb refuses to run as root, so as root
// every server-side command runs as the `postgres` system user (runuser, or
// su), with the temp dir chowned to it; pgbench and psql run as us.
//
// A postmaster started by pg_ctl is detached (its own session), so it would
// outlive us: live clusters are stopped (immediate mode) and removed on
// process exit, SIGINT, SIGTERM and SIGHUP; a detached watchdog shell per
// cluster does the same when we die without running any code (kill -9); and
// every start first reaps temp clusters whose owning process is gone.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, chownSync, constants, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';

// ---------------------------------------------------------------------------
// Finding PostgreSQL

export type PgTools = { readonly initdb: string; readonly pg_ctl: string; readonly pgbench: string; readonly psql: string };

export type PgInstall = {
  /** Directory holding initdb and pg_ctl (Debian: /usr/lib/postgresql/<major>/bin). */
  readonly bin: string;
  /** Server version, e.g. "15.18". */
  readonly version: string;
  readonly major: number;
  /** Absolute paths; pgbench and psql fall back to PATH when `bin` lacks them. */
  readonly tools: PgTools;
};

export const PG_NOT_INSTALLED = 'PostgreSQL not installed: apt-get install postgresql';

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | null {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return null;
}

function candidateBinDirs(env: NodeJS.ProcessEnv): string[] {
  // An explicit choice is the only candidate (MANTIS_PG_BIN=/nonexistent hides PostgreSQL).
  if (env.MANTIS_PG_BIN) return [env.MANTIS_PG_BIN];
  const dirs: string[] = [];
  // Debian/Ubuntu: one directory per major version; newest first.
  for (const root of ['/usr/lib/postgresql', '/usr/local/lib/postgresql']) {
    let majors: string[] = [];
    try {
      majors = readdirSync(root).filter((d) => /^\d+(\.\d+)?$/.test(d));
    } catch {
      continue;
    }
    majors.sort((a, b) => Number(b) - Number(a));
    for (const m of majors) dirs.push(join(root, m, 'bin'));
  }
  // RHEL/PGDG and source installs.
  try {
    const pgsql = readdirSync('/usr').filter((d) => /^pgsql-\d+$/.test(d));
    pgsql.sort((a, b) => Number(b.slice(6)) - Number(a.slice(6)));
    for (const d of pgsql) dirs.push(join('/usr', d, 'bin'));
  } catch {
    // no /usr?
  }
  dirs.push('/usr/local/pgsql/bin');
  // initdb on PATH (often a symlink into the real bin dir).
  const initdb = onPath('initdb', env);
  if (initdb !== null) {
    try {
      dirs.push(dirname(realpathSync(initdb)));
    } catch {
      dirs.push(dirname(initdb));
    }
  }
  return [...new Set(dirs)];
}

/** "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)" → "15.18". */
export function parsePgVersion(text: string): string | null {
  const m = /\(PostgreSQL\)\s+(\d+(?:\.\d+)*(?:beta\d+|rc\d+|devel)?)/.exec(text) ?? /^\S+\s+\((\d+(?:\.\d+)*)/m.exec(text);
  return m ? m[1] : null;
}

/**
 * Locates initdb, pg_ctl, pgbench and psql, or returns null when PostgreSQL
 * (server and pgbench) is not installed. `MANTIS_PG_BIN` names the bin dir to use
 * (and only that one); otherwise the newest /usr/lib/postgresql/<major>/bin,
 * /usr/pgsql-<major>/bin, /usr/local/pgsql/bin, then initdb's dir on PATH.
 */
export function findPostgres(env: NodeJS.ProcessEnv = process.env): PgInstall | null {
  for (const bin of candidateBinDirs(env)) {
    const initdb = join(bin, 'initdb');
    const pgCtl = join(bin, 'pg_ctl');
    if (!isExecutable(initdb) || !isExecutable(pgCtl)) continue;
    // Prefer the bin dir's own client tools (Debian's /usr/bin/pgbench is a
    // wrapper script that picks a version by itself).
    const pgbench = isExecutable(join(bin, 'pgbench')) ? join(bin, 'pgbench') : onPath('pgbench', env);
    const psql = isExecutable(join(bin, 'psql')) ? join(bin, 'psql') : onPath('psql', env);
    if (pgbench === null || psql === null) continue;
    const probe = isExecutable(join(bin, 'postgres')) ? join(bin, 'postgres') : pgCtl;
    const out = spawnSync(probe, ['--version'], { encoding: 'utf8', timeout: 10_000 });
    const version = parsePgVersion(`${out.stdout ?? ''}`);
    if (out.status !== 0 || version === null) continue;
    return { bin, version, major: Number.parseInt(version, 10), tools: { initdb, pg_ctl: pgCtl, pgbench, psql } };
  }
  return null;
}

// ---------------------------------------------------------------------------
// Running commands, as the postgres user when we are root

type RunAs = { readonly user: string; readonly uid: number; readonly gid: number; readonly via: 'runuser' | 'su'; readonly tool: string };

function lookupUser(name: string): { uid: number; gid: number } | null {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[0] === name && f.length >= 4) return { uid: Number(f[2]), gid: Number(f[3]) };
    }
  } catch {
    // fall through to id(1)
  }
  const uid = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', name], { encoding: 'utf8' });
  if (uid.status === 0 && gid.status === 0) return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  return null;
}

function resolveRunAs(user: string): RunAs {
  const ids = lookupUser(user);
  if (ids === null) {
    throw new Error(`initdb refuses to run as root and there is no '${user}' system user to run PostgreSQL as (the Debian package creates it; or run as a non-root user)`);
  }
  const path = { PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin:/usr/bin:/bin` };
  const runuser = onPath('runuser', path);
  if (runuser !== null) return { user, ...ids, via: 'runuser', tool: runuser };
  const su = onPath('su', path);
  if (su !== null) return { user, ...ids, via: 'su', tool: su };
  throw new Error(`running as root, but neither runuser nor su is available to run PostgreSQL as '${user}'`);
}

/** Single-quotes a word for /bin/sh. */
export function shQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

function wrap(runAs: RunAs | null, cmd: string, args: readonly string[]): [string, string[]] {
  if (runAs === null) return [cmd, [...args]];
  if (runAs.via === 'runuser') return [runAs.tool, ['-u', runAs.user, '--', cmd, ...args]];
  return [runAs.tool, ['-s', '/bin/sh', runAs.user, '-c', [cmd, ...args].map(shQuote).join(' ')]];
}

/** process.env without libpq's PG* variables (PGOPTIONS, PGHOST, ... would change what we measure), plus `extra`. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PG')) env[k] = v;
  return { ...env, ...extra };
}

type RunResult = { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string };

function run(cmd: string, args: readonly string[], o: { runAs?: RunAs | null; cwd: string; env?: NodeJS.ProcessEnv; timeoutMs: number; track?: Set<ChildProcess> }): Promise<RunResult> {
  const [file, argv] = wrap(o.runAs ?? null, cmd, args);
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, { cwd: o.cwd, env: o.env ?? cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    o.track?.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => {
      stderr += `\n[killed after ${o.timeoutMs} ms]`;
      child.kill('SIGKILL');
    }, o.timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      o.track?.delete(child);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      o.track?.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function tail(text: string, lines = 15): string {
  return text.trim().split('\n').slice(-lines).join('\n  ');
}

function failure(what: string, r: RunResult, extra = ''): Error {
  const status = r.signal !== null ? `signal ${r.signal}` : `exit code ${r.code}`;
  return new Error(`${what} failed (${status})${extra}\n  ${tail(`${r.stdout}\n${r.stderr}`)}`);
}

// ---------------------------------------------------------------------------
// Temp clusters and their cleanup

export type TempPostgresOptions = {
  /** Defaults to findPostgres(); throws PG_NOT_INSTALLED when there is none. */
  readonly install?: PgInstall | null;
  /** Where the temp dir goes (default os.tmpdir()). Put it on the same disk as the system under test. */
  readonly parentDir?: string;
  /** System user to run the server as when we are root (default "postgres"). */
  readonly osUser?: string;
  /** Extra `-c name=value` server settings. Default none: the point is PostgreSQL's default configuration. */
  readonly serverSettings?: Readonly<Record<string, string>>;
  readonly startTimeoutMs?: number;
};

export type TempPostgres = {
  readonly install: PgInstall;
  /** The temp dir; removed by stop(). */
  readonly dir: string;
  readonly dataDir: string;
  readonly socketDir: string;
  readonly host: '127.0.0.1';
  readonly port: number;
  /** Database superuser (trust auth) and the database pgbench uses. */
  readonly user: string;
  readonly database: string;
  /** OS user the server runs as when we are root, else null. */
  readonly osUser: string | null;
  /** Filesystem type of the data dir (statfs magic name, e.g. "ext4/ext3", "tmpfs"); tmpfs makes fsync free. */
  readonly filesystem: string;
  /** Durability- and size-related settings as the running server reports them (fsync, synchronous_commit, ...). */
  readonly settings: Readonly<Record<string, string>>;
  /** Extra settings given on the command line (empty by default). */
  readonly nonDefaultSettings: Readonly<Record<string, string>>;
  /** Runs SQL with psql, returns its unaligned tuples-only output. */
  psql(sql: string): Promise<string>;
  /** Stops the server (pg_ctl stop -m fast) and removes the dir; idempotent. */
  stop(): Promise<void>;
  readonly stopped: boolean;
};

/** What the settings query reports back; fsync and synchronous_commit must stay "on" for a fair baseline. */
export const REPORTED_SETTINGS = ['fsync', 'synchronous_commit', 'wal_sync_method', 'full_page_writes', 'shared_buffers', 'max_connections', 'wal_level', 'default_transaction_isolation'] as const;

const DIR_PREFIX = 'mantis-pg-';
const OWNER_FILE = 'owner.json';
const DB_USER = 'mantis';
const DATABASE = 'postgres';

type Live = { dir: string; dataDir: string; install: PgInstall; runAs: RunAs | null; children: Set<ChildProcess>; watchdog: ChildProcess | null };
const live = new Set<Live>();
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
let hooked = false;

/** Whether a process exists and is not a zombie (an exited postmaster waits for PID 1 to reap it). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    // /proc/<pid>/stat: "pid (comm) state ..."; comm may hold spaces and parentheses.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return !existsSync('/proc/self/stat'); // gone meanwhile, unless there is no /proc at all (then trust kill 0)
  }
}

function postmasterPid(dataDir: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0], 10);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Synchronous last-resort teardown: immediate shutdown, SIGKILL if that fails, remove the dir. */
function destroySync(c: { dir: string; dataDir: string; install: PgInstall; runAs: RunAs | null; children?: Set<ChildProcess> }): void {
  for (const child of c.children ?? []) child.kill('SIGKILL');
  const pid = postmasterPid(c.dataDir);
  if (pid !== null && pidAlive(pid)) {
    const [file, argv] = wrap(c.runAs, c.install.tools.pg_ctl, ['stop', '-D', c.dataDir, '-m', 'immediate', '-w', '-t', '10']);
    spawnSync(file, argv, { cwd: c.dir, env: cleanEnv(), stdio: 'ignore', timeout: 15_000 });
    if (postmasterPid(c.dataDir) === pid && pidAlive(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone, or not ours
      }
      for (let i = 0; i < 50 && pidAlive(pid); i++) sleepSync(20);
    }
  }
  rmSync(c.dir, { recursive: true, force: true });
}

/**
 * A detached shell that outlives us: it blocks reading a pipe from this
 * process and gets EOF when we die for any reason (kill -9 included), then
 * stops the cluster and removes its dir. stop() dismisses it with "done".
 */
function startWatchdog(c: { dir: string; dataDir: string; install: PgInstall; runAs: RunAs | null }): ChildProcess | null {
  const [file, argv] = wrap(c.runAs, c.install.tools.pg_ctl, ['stop', '-D', c.dataDir, '-m', 'immediate', '-w', '-t', '10']);
  const script = [
    'read line',
    '[ "$line" = done ] && exit 0',
    `pid=$(head -n 1 ${shQuote(join(c.dataDir, 'postmaster.pid'))} 2>/dev/null)`,
    `[ -n "$pid" ] && ${[file, ...argv].map(shQuote).join(' ')} >/dev/null 2>&1`,
    // Still there after pg_ctl stop -w: the postmaster did not stop (checked so a recycled pid is never hit).
    `[ -n "$pid" ] && [ -f ${shQuote(join(c.dataDir, 'postmaster.pid'))} ] && kill -9 "$pid" 2>/dev/null`,
    `rm -rf ${shQuote(c.dir)}`,
  ].join('\n');
  try {
    const child = spawn('/bin/sh', ['-c', script], { cwd: c.dir, env: cleanEnv(), detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
    child.on('error', () => {});
    child.stdin?.on('error', () => {});
    child.unref();
    (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    return child;
  } catch {
    return null; // the exit hooks and the reaper still cover us
  }
}

function dismissWatchdog(c: Live): void {
  const w = c.watchdog;
  c.watchdog = null;
  if (w === null || w.exitCode !== null || w.signalCode !== null) return;
  w.stdin?.end('done\n');
}

function onExit(): void {
  for (const c of live) destroySync(c);
  live.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  onExit();
  unhook();
  // Keep the default behaviour (terminate) unless someone else handles the signal.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function hook(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', onExit);
  for (const s of SIGNALS) process.on(s, onSignal);
}

function unhook(): void {
  if (!hooked) return;
  hooked = false;
  process.off('exit', onExit);
  for (const s of SIGNALS) process.off(s, onSignal);
}

/**
 * Stops and removes temp clusters under `parentDir` whose owning process is
 * gone (a run killed with SIGKILL cannot clean up after itself). Returns the
 * dirs removed. Clusters of live processes are left alone.
 */
export function reapOrphanClusters(parentDir: string = tmpdir(), install: PgInstall | null = null): string[] {
  const reaped: string[] = [];
  let names: string[];
  try {
    names = readdirSync(parentDir).filter((n) => n.startsWith(DIR_PREFIX));
  } catch {
    return reaped;
  }
  for (const name of names) {
    const dir = join(parentDir, name);
    let owner: { pid?: unknown; bin?: unknown; osUser?: unknown };
    try {
      owner = JSON.parse(readFileSync(join(dir, OWNER_FILE), 'utf8')) as typeof owner;
    } catch {
      continue; // not (yet) one of ours
    }
    if (typeof owner.pid !== 'number' || owner.pid === process.pid || pidAlive(owner.pid)) continue;
    const bin = typeof owner.bin === 'string' ? owner.bin : install?.bin;
    if (bin === undefined) continue;
    const inst: PgInstall = install ?? { bin, version: '?', major: 0, tools: { initdb: join(bin, 'initdb'), pg_ctl: join(bin, 'pg_ctl'), pgbench: join(bin, 'pgbench'), psql: join(bin, 'psql') } };
    let runAs: RunAs | null = null;
    try {
      if (typeof owner.osUser === 'string') runAs = resolveRunAs(owner.osUser);
    } catch {
      runAs = null;
    }
    try {
      destroySync({ dir, dataDir: join(dir, 'data'), install: inst, runAs });
      reaped.push(dir);
    } catch {
      // not ours to remove after all
    }
  }
  return reaped;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

const FS_MAGIC: Record<number, string> = {
  0x01021994: 'tmpfs',
  0xef53: 'ext4/ext3',
  0x58465342: 'xfs',
  0x9123683e: 'btrfs',
  0x794c7630: 'overlayfs',
  0x2fc12fc1: 'zfs',
  0x6969: 'nfs',
  0x65735546: 'fuse',
};

function filesystemOf(path: string): string {
  try {
    const type = Number(statfsSync(path).type);
    return FS_MAGIC[type] ?? `0x${type.toString(16)}`;
  } catch {
    return 'unknown';
  }
}

/** Starts a throwaway PostgreSQL cluster with the default configuration. Call stop() when done. */
export async function startTempPostgres(options: TempPostgresOptions = {}): Promise<TempPostgres> {
  const install = options.install === undefined ? findPostgres() : options.install;
  if (install === null) throw new Error(PG_NOT_INSTALLED);
  const parentDir = options.parentDir ?? tmpdir();
  const timeoutMs = options.startTimeoutMs ?? 60_000;
  reapOrphanClusters(parentDir, install);

  const runAs = process.getuid?.() === 0 ? resolveRunAs(options.osUser ?? 'postgres') : null;
  const dir = mkdtempSync(join(parentDir, DIR_PREFIX));
  const dataDir = join(dir, 'data');
  const socketDir = join(dir, 'sock');
  const children = new Set<ChildProcess>();
  const entry: Live = { dir, dataDir, install, runAs, children, watchdog: null };
  live.add(entry);
  hook();
  const abandon = (): void => {
    live.delete(entry);
    destroySync(entry);
    dismissWatchdog(entry);
    if (live.size === 0) unhook();
  };

  try {
    writeFileSync(join(dir, OWNER_FILE), JSON.stringify({ pid: process.pid, bin: install.bin, osUser: runAs?.user ?? null, started: new Date().toISOString() }));
    mkdirSync(socketDir);
    if (runAs !== null) {
      chownSync(dir, runAs.uid, runAs.gid);
      chownSync(socketDir, runAs.uid, runAs.gid);
    }
    entry.watchdog = startWatchdog(entry);
    const pgRun = (cmd: string, args: readonly string[], ms = timeoutMs): Promise<RunResult> => run(cmd, args, { runAs, cwd: dir, timeoutMs: ms, track: children });

    // --no-locale/-E UTF8: deterministic, and no failure on an uninstalled $LANG.
    // --no-sync only skips initdb's final flush of the new files; the server's settings are untouched.
    const init = await pgRun(install.tools.initdb, ['-D', dataDir, '-U', DB_USER, '--auth=trust', '--no-locale', '-E', 'UTF8', '--no-sync']);
    if (init.code !== 0) {
      const hint = runAs !== null ? ` (the '${runAs.user}' user must be able to reach ${dir}; put the cluster elsewhere (parentDir, --dir))` : '';
      throw failure('initdb', init, hint);
    }

    const extra = Object.entries(options.serverSettings ?? {}).map(([k, v]) => `-c ${shQuote(`${k}=${v}`)}`);
    let port = 0;
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      const opts = [`-c listen_addresses=127.0.0.1`, `-p ${port}`, `-k ${shQuote(socketDir)}`, ...extra].join(' ');
      const start = await pgRun(install.tools.pg_ctl, ['start', '-D', dataDir, '-l', join(dir, 'server.log'), '-w', '-t', String(Math.ceil(timeoutMs / 1000)), '-o', opts], timeoutMs + 10_000);
      if (start.code === 0) break;
      let log = '';
      try {
        log = readFileSync(join(dir, 'server.log'), 'utf8');
      } catch {
        // no log
      }
      if (attempt < 3 && /could not bind|address already in use/i.test(log)) continue;
      throw failure('pg_ctl start', start, `\n  server.log:\n  ${tail(log)}`);
    }

    const connEnv = cleanEnv({ PGHOST: '127.0.0.1', PGPORT: String(port), PGUSER: DB_USER, PGDATABASE: DATABASE, PGCONNECT_TIMEOUT: '10' });
    const psql = async (sql: string): Promise<string> => {
      const r = await run(install.tools.psql, ['-X', '-v', 'ON_ERROR_STOP=1', '-At', '-c', sql], { cwd: dir, env: connEnv, timeoutMs: 60_000, track: children });
      if (r.code !== 0) throw failure(`psql -c ${JSON.stringify(sql)}`, r);
      return r.stdout.trim();
    };
    const settingsOut = await psql(`SELECT name || '=' || current_setting(name) FROM pg_settings WHERE name IN (${REPORTED_SETTINGS.map((s) => `'${s}'`).join(', ')}) ORDER BY name`);
    const settings: Record<string, string> = {};
    for (const line of settingsOut.split('\n')) {
      const i = line.indexOf('=');
      if (i > 0) settings[line.slice(0, i)] = line.slice(i + 1);
    }

    let stopped = false;
    const cluster: TempPostgres = {
      install,
      dir,
      dataDir,
      socketDir,
      host: '127.0.0.1',
      port,
      user: DB_USER,
      database: DATABASE,
      osUser: runAs?.user ?? null,
      filesystem: filesystemOf(dir),
      settings,
      nonDefaultSettings: { ...(options.serverSettings ?? {}) },
      psql,
      get stopped() {
        return stopped;
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        for (const child of children) child.kill('SIGKILL');
        try {
          await run(install.tools.pg_ctl, ['stop', '-D', dataDir, '-m', 'fast', '-w', '-t', '60'], { runAs, cwd: dir, timeoutMs: 70_000 });
        } finally {
          abandon(); // SIGKILLs a postmaster that did not stop, removes the dir
        }
      },
    };
    internals.set(cluster, { env: connEnv, children });
    return cluster;
  } catch (e) {
    abandon();
    throw e;
  }
}

const internals = new WeakMap<TempPostgres, { env: NodeJS.ProcessEnv; children: Set<ChildProcess> }>();

// ---------------------------------------------------------------------------
// pgbench output and logs

export type StatementLatency = { readonly latencyMs: number; readonly failures: number | null; readonly retries: number | null; readonly command: string };

/** What pgbench prints at the end of a run (fields missing from older versions are null). */
export type PgbenchSummary = {
  readonly pgbenchVersion: string | null;
  readonly transactionType: string;
  readonly scale: number;
  readonly queryMode: string;
  readonly clients: number;
  readonly threads: number;
  readonly maxTries: number | null;
  readonly durationS: number | null;
  /** Successful transactions ("number of transactions actually processed"). */
  readonly transactions: number;
  /** 0 when the version does not report failures (before 15 a failing client aborted the run). */
  readonly failedTransactions: number;
  readonly retriedTransactions: number | null;
  readonly totalRetries: number | null;
  readonly latencyAvgMs: number;
  readonly latencyStddevMs: number | null;
  readonly initialConnectionMs: number | null;
  /** Throughput excluding connection time ("without initial connection time", or "excluding connections establishing" before 14). */
  readonly tps: number;
  /** Only printed before 14. */
  readonly tpsIncludingConnections: number | null;
  /** With -r / --report-per-command, else empty. */
  readonly statements: readonly StatementLatency[];
};

function num(text: string, re: RegExp): number | null {
  const m = re.exec(text);
  return m ? Number(m[1]) : null;
}

function need(value: number | null, what: string, text: string): number {
  if (value === null || Number.isNaN(value)) throw new Error(`pgbench output has no ${what}:\n  ${tail(text, 25)}`);
  return value;
}

/** Parses pgbench's end-of-run summary (stdout). Throws when tps, transactions or latency are missing. */
export function parsePgbenchOutput(text: string): PgbenchSummary {
  const statements: StatementLatency[] = [];
  const lines = text.split('\n');
  const head = lines.findIndex((l) => /^statement latencies in milliseconds/.test(l));
  if (head >= 0) {
    const cols = /retries/.test(lines[head]) ? 3 : /failures/.test(lines[head]) ? 2 : 1;
    for (const line of lines.slice(head + 1)) {
      const m = /^\s+([\d.]+)\s+(?:(\d+)\s+)?(?:(\d+)\s+)?(\S.*)$/.exec(line);
      if (!m) break;
      statements.push({
        latencyMs: Number(m[1]),
        failures: cols >= 2 && m[2] !== undefined ? Number(m[2]) : null,
        retries: cols >= 3 && m[3] !== undefined ? Number(m[3]) : null,
        command: m[4].trim(),
      });
    }
  }
  const versionMatch = /^pgbench \((\d+(?:\.\d+)*)/m.exec(text);
  return {
    pgbenchVersion: versionMatch ? versionMatch[1] : null,
    transactionType: /^transaction type: (.*)$/m.exec(text)?.[1].trim() ?? '?',
    scale: need(num(text, /^scaling factor: (\d+)/m), 'scaling factor', text),
    queryMode: /^query mode: (\S+)/m.exec(text)?.[1] ?? '?',
    clients: need(num(text, /^number of clients: (\d+)/m), 'number of clients', text),
    threads: need(num(text, /^number of threads: (\d+)/m), 'number of threads', text),
    maxTries: num(text, /^maximum number of tries: (\d+)/m),
    durationS: num(text, /^duration: (\d+) s/m),
    transactions: need(num(text, /^number of transactions actually processed: (\d+)/m), 'transaction count', text),
    failedTransactions: num(text, /^number of failed transactions: (\d+)/m) ?? 0,
    retriedTransactions: num(text, /^number of transactions retried: (\d+)/m),
    totalRetries: num(text, /^total number of retries: (\d+)/m),
    latencyAvgMs: need(num(text, /^latency average = ([\d.]+) ms/m), 'latency average', text),
    latencyStddevMs: num(text, /^latency stddev = ([\d.]+) ms/m),
    initialConnectionMs: num(text, /^initial connection time = ([\d.]+) ms/m),
    tps: need(num(text, /^tps = ([\d.]+) \((?:without initial connection time|excluding connections establishing)\)/m), 'tps', text),
    tpsIncludingConnections: num(text, /^tps = ([\d.]+) \(including connections establishing\)/m),
    statements,
  };
}

/** Per-transaction log lines (--log), counted by outcome; latencies of the successful ones in µs. */
export type PgbenchLog = {
  readonly latenciesUs: Float64Array;
  readonly ok: number;
  /** "failed", or "serialization"/"deadlock" with --failures-detailed. */
  readonly failed: number;
  /** "skipped" (only with --rate and --latency-limit). */
  readonly skipped: number;
  /** Lines that are not transaction lines (should be 0). */
  readonly unparsed: number;
};

/**
 * Parses pgbench --log files: one line per transaction,
 * `client_id transaction_no time script_no time_epoch time_us [schedule_lag] [retries]`,
 * where time is the latency in µs, or failed/serialization/deadlock/skipped.
 */
export function parsePgbenchLog(texts: string | readonly string[]): PgbenchLog {
  let latencies = new Float64Array(1024);
  let ok = 0;
  let failed = 0;
  let skipped = 0;
  let unparsed = 0;
  for (const text of typeof texts === 'string' ? [texts] : texts) {
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const f = line.split(' ');
      if (f.length < 6 || !/^\d+$/.test(f[0]) || !/^\d+$/.test(f[1])) {
        unparsed++;
        continue;
      }
      const time = f[2];
      if (/^\d+$/.test(time)) {
        if (ok === latencies.length) {
          const grown = new Float64Array(latencies.length * 2);
          grown.set(latencies);
          latencies = grown;
        }
        latencies[ok++] = Number(time);
      } else if (time === 'failed' || time === 'serialization' || time === 'deadlock') failed++;
      else if (time === 'skipped') skipped++;
      else unparsed++;
    }
  }
  return { latenciesUs: latencies.slice(0, ok), ok, failed, skipped, unparsed };
}

export type LatencyStats = {
  readonly count: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
};

/** Exact nearest-rank percentiles of latencies in µs, reported in ms. */
export function latencyStats(latenciesUs: Float64Array): LatencyStats {
  const n = latenciesUs.length;
  if (n === 0) return { count: 0, meanMs: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0 };
  const sorted = Float64Array.from(latenciesUs).sort();
  // Rank ceil(p% × n), with a little slack so 99.9% of 1000 is rank 999, not 1000 by rounding.
  const at = (p: number): number => sorted[Math.min(n - 1, Math.max(0, Math.ceil((p * n) / 100 - 1e-9) - 1))] / 1000;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i];
  return { count: n, meanMs: sum / n / 1000, p50Ms: at(50), p90Ms: at(90), p99Ms: at(99), p999Ms: at(99.9), maxMs: sorted[n - 1] / 1000 };
}

// ---------------------------------------------------------------------------
// Running pgbench

export type PgbenchOptions = {
  readonly clients: number;
  /** pgbench -j; default min(clients, available cores). */
  readonly threads?: number;
  readonly durationS: number;
  /** pgbench -i -s; default 1 (pgbench's default: one branch row, so every transaction contends on it). */
  readonly scale?: number;
  /** Default "prepared". */
  readonly queryMode?: 'simple' | 'extended' | 'prepared';
  /** Run `pgbench -i` first (default true; it drops and recreates the tables). */
  readonly initialize?: boolean;
  /** Add -r (per-statement latencies; costs a little client CPU). Default false. */
  readonly reportPerCommand?: boolean;
  /** Connect over the unix socket instead of TCP 127.0.0.1 (default TCP, like our HTTP clients). */
  readonly unixSocket?: boolean;
};

export type PgbenchResult = PgbenchSummary & {
  readonly pgVersion: string;
  readonly connection: 'tcp' | 'unix';
  /** Seconds `pgbench -i` took (null when skipped). */
  readonly initSeconds: number | null;
  /** From the per-transaction logs: exact percentiles of successful transactions. */
  readonly latency: LatencyStats;
  readonly logged: { readonly ok: number; readonly failed: number; readonly skipped: number; readonly unparsed: number };
  readonly settings: Readonly<Record<string, string>>;
  readonly nonDefaultSettings: Readonly<Record<string, string>>;
  readonly filesystem: string;
  /** pgbench's stdout, verbatim. */
  readonly output: string;
};

function positiveInt(name: string, v: number | undefined, fallback?: number): number {
  const value = v ?? fallback;
  if (value === undefined || !Number.isInteger(value) || value < 1) throw new Error(`${name} must be an integer ≥ 1, got ${String(v)}`);
  return value;
}

let runCounter = 0;

/** `pgbench -i -s <scale>`, then the built-in TPC-B-like script for durationS with per-transaction logs. */
export async function runPgbench(pg: TempPostgres, options: PgbenchOptions): Promise<PgbenchResult> {
  if (pg.stopped) throw new Error('runPgbench: the cluster is stopped');
  const inner = internals.get(pg);
  if (inner === undefined) throw new Error('runPgbench: not a cluster from startTempPostgres');
  const clients = positiveInt('clients', options.clients);
  const threads = Math.min(clients, positiveInt('threads', options.threads, Math.min(clients, availableParallelism())));
  const durationS = positiveInt('durationS', options.durationS);
  const scale = positiveInt('scale', options.scale, 1);
  const mode = options.queryMode ?? 'prepared';
  const conn = options.unixSocket ? ['-h', pg.socketDir] : ['-h', pg.host];
  const common = [...conn, '-p', String(pg.port), '-U', pg.user];
  const runOpts = { cwd: pg.dir, env: inner.env, track: inner.children };

  let initSeconds: number | null = null;
  if (options.initialize !== false) {
    const t0 = performance.now();
    const init = await run(pg.install.tools.pgbench, ['-i', '-q', '-s', String(scale), ...common, pg.database], { ...runOpts, timeoutMs: 120_000 + scale * 30_000 });
    if (init.code !== 0) throw failure(`pgbench -i -s ${scale}`, init);
    initSeconds = (performance.now() - t0) / 1000;
  }

  const logDir = join(pg.dir, `pgbench-logs-${++runCounter}`);
  mkdirSync(logDir);
  try {
    const args = ['-c', String(clients), '-j', String(threads), '-T', String(durationS), '-M', mode, '--log', `--log-prefix=${join(logDir, 'txn')}`];
    if (options.reportPerCommand) args.push('-r');
    const r = await run(pg.install.tools.pgbench, [...args, ...common, pg.database], { ...runOpts, timeoutMs: durationS * 1000 + 300_000 });
    if (r.code !== 0) throw failure(`pgbench ${args.slice(0, 8).join(' ')}`, r);
    const summary = parsePgbenchOutput(r.stdout);
    if (summary.scale !== scale && options.initialize !== false) throw new Error(`pgbench reports scale ${summary.scale}, expected ${scale}`);
    const log = parsePgbenchLog(readdirSync(logDir).map((f) => readFileSync(join(logDir, f), 'utf8')));
    return {
      ...summary,
      pgVersion: pg.install.version,
      connection: options.unixSocket ? 'unix' : 'tcp',
      initSeconds,
      latency: latencyStats(log.latenciesUs),
      logged: { ok: log.ok, failed: log.failed, skipped: log.skipped, unparsed: log.unparsed },
      settings: pg.settings,
      nonDefaultSettings: pg.nonDefaultSettings,
      filesystem: pg.filesystem,
      output: r.stdout,
    };
  } finally {
    rmSync(logDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------
// Printing

const fmtMs = (ms: number): string => (ms < 10 ? ms.toFixed(3) : ms.toFixed(1));

/** A few human-readable lines for a result. */
export function formatPgbenchResult(r: PgbenchResult): string {
  const s = r.settings;
  const nonDefault = Object.entries(r.nonDefaultSettings).map(([k, v]) => `${k}=${v}`);
  const lines = [
    `PostgreSQL ${r.pgVersion} pgbench ${r.transactionType}, scale ${r.scale}, ${r.clients} clients / ${r.threads} threads, ${r.durationS ?? '?'} s, ${r.queryMode}, ${r.connection}`,
    `  tps ${r.tps.toFixed(1)} (excluding connection time)   transactions ${r.transactions}   failed ${r.failedTransactions}`,
    `  latency avg ${fmtMs(r.latencyAvgMs)} ms (pgbench)   from the log: mean ${fmtMs(r.latency.meanMs)}  p50 ${fmtMs(r.latency.p50Ms)}  p90 ${fmtMs(r.latency.p90Ms)}  p99 ${fmtMs(r.latency.p99Ms)}  p99.9 ${fmtMs(r.latency.p999Ms)}  max ${fmtMs(r.latency.maxMs)} ms`,
    `  config: fsync=${s.fsync ?? '?'} synchronous_commit=${s.synchronous_commit ?? '?'} wal_sync_method=${s.wal_sync_method ?? '?'} shared_buffers=${s.shared_buffers ?? '?'} isolation=${s.default_transaction_isolation ?? '?'} on ${r.filesystem}` +
      (nonDefault.length > 0 ? `   NON-DEFAULT: ${nonDefault.join(' ')}` : ' (defaults)'),
  ];
  if (r.filesystem === 'tmpfs') lines.push('  warning: the data dir is on tmpfs, so fsync costs nothing; this is not a fair baseline');
  if (r.logged.ok !== r.transactions) lines.push(`  note: the per-transaction log has ${r.logged.ok} successful transactions, the summary ${r.transactions}`);
  return lines.join('\n');
}

