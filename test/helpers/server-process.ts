// Runs a real MantisDB server (dist/src/main.js) as a child process for the
// integration tests: a fresh temp data dir, --port 0, the URL parsed from the
// ready line, stdout/stderr kept for diagnostics. Every process and temp dir
// this module creates is registered, and cleanup() (call it from afterAll)
// kills what is still running and removes the dirs, so nothing outlives a
// test file.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serverProcessEnv } from '../../src/process-env.js';

export type FsyncPolicy = 'always' | 'batch' | 'none';

export type ServerOptions = {
  readonly shards?: number;
  readonly fsync?: FsyncPolicy;
  /** --http-fast-path on (true) or off (false); the server default when absent. */
  readonly fastPath?: boolean;
  /** An existing data dir (e.g. to restart on it); a fresh temp dir when absent. */
  readonly dataDir?: string;
  readonly extraArgs?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
};

export type Exit = { readonly code: number | null; readonly signal: NodeJS.Signals | null };

export type ServerProcess = {
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  readonly proc: ChildProcess;
  /** Everything the process wrote so far. */
  output(): { stdout: string; stderr: string };
  /** Sends the signal (SIGTERM by default) and resolves with the exit code (null if killed by a signal). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** SIGKILL, resolved once the process is gone. */
  kill9(): Promise<void>;
};

export type FailedStart = Exit & { readonly stdout: string; readonly stderr: string };

const READY_TIMEOUT_MS = 30_000;
/** SIGTERM drains for up to 10 s (LIMITS.shutdown_drain_timeout_ms) before flushing. */
const EXIT_TIMEOUT_MS = 20_000;
const READY_LINE = /^MantisDB listening on (https?:\/\/\S+)$/m;

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const MAIN = join(ROOT, 'dist', 'src', 'main.js');

const live = new Set<ChildProcess>();
const tempDirs = new Set<string>();

/** A fresh empty directory under os.tmpdir(), removed by cleanup(). */
export function makeDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mantis-it-'));
  tempDirs.add(dir);
  return dir;
}

type Spawned = {
  readonly proc: ChildProcess;
  readonly dataDir: string;
  readonly exited: Promise<Exit>;
  readonly out: { stdout: string; stderr: string };
};

function argsFor(options: ServerOptions, dataDir: string): string[] {
  const args = [MAIN, '--port', '0', '--host', '127.0.0.1', '--log-level', 'warn', '--data-dir', dataDir];
  if (options.shards !== undefined) args.push('--shards', String(options.shards));
  if (options.fsync !== undefined) args.push('--fsync', options.fsync);
  if (options.fastPath !== undefined) args.push('--http-fast-path', options.fastPath ? 'on' : 'off');
  args.push(...(options.extraArgs ?? []));
  return args;
}

function spawnServer(options: ServerOptions): Spawned {
  const dataDir = options.dataDir ?? makeDataDir();
  const env: NodeJS.ProcessEnv = serverProcessEnv({ ...process.env, ...options.env });
  // MANTIS_* from the developer's shell must not change what a test starts.
  for (const name of Object.keys(env)) {
    if (name.startsWith('MANTIS_') && options.env?.[name] === undefined) delete env[name];
  }
  const proc = spawn(process.execPath, argsFor(options, dataDir), { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);
  const out = { stdout: '', stderr: '' };
  proc.stdout?.setEncoding('utf8').on('data', (chunk: string) => (out.stdout += chunk));
  proc.stderr?.setEncoding('utf8').on('data', (chunk: string) => (out.stderr += chunk));
  const exited = new Promise<Exit>((done) => {
    proc.once('exit', (code, signal) => {
      live.delete(proc);
      done({ code, signal });
    });
  });
  // An 'error' (e.g. spawn failure) is followed by 'exit' or surfaces below as a timeout.
  proc.once('error', (error) => (out.stderr += `\n[spawn error] ${error.message}`));
  return { proc, dataDir, exited, out };
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(what())), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function waitForReadyLine(spawned: Spawned): Promise<string> {
  return new Promise((resolveUrl, reject) => {
    const check = (): void => {
      const match = READY_LINE.exec(spawned.out.stdout);
      if (match === null) return;
      spawned.proc.stdout?.off('data', check);
      resolveUrl(match[1]);
    };
    spawned.proc.stdout?.on('data', check);
    check();
    void spawned.exited.then((exit) => reject(new Error(`server exited before it was ready (${describeExit(exit)})\nstderr:\n${spawned.out.stderr}`)));
  });
}

function describeExit(exit: Exit): string {
  return exit.signal !== null ? `signal ${exit.signal}` : `code ${exit.code}`;
}

/** Starts a server and resolves once it prints its ready line. */
export async function startServer(options: ServerOptions = {}): Promise<ServerProcess> {
  const spawned = spawnServer(options);
  let url: string;
  try {
    url = await withTimeout(waitForReadyLine(spawned), READY_TIMEOUT_MS, () => `server not ready after ${READY_TIMEOUT_MS} ms\nstderr:\n${spawned.out.stderr}\nstdout:\n${spawned.out.stdout}`);
  } catch (error) {
    spawned.proc.kill('SIGKILL');
    throw error;
  }
  const { proc, exited } = spawned;
  const awaitExit = (): Promise<Exit> => withTimeout(exited, EXIT_TIMEOUT_MS, () => `server pid ${proc.pid} did not exit within ${EXIT_TIMEOUT_MS} ms`);
  return {
    url,
    port: Number(new URL(url).port),
    dataDir: spawned.dataDir,
    proc,
    output: () => ({ ...spawned.out }),
    stop: async (signal = 'SIGTERM') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return (await awaitExit()).code;
    },
    kill9: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await awaitExit();
    },
  };
}

/** Starts a server that is expected to refuse to start; resolves with how it exited. */
export async function startExpectingFailure(options: ServerOptions = {}): Promise<FailedStart> {
  const spawned = spawnServer(options);
  const ready = waitForReadyLine(spawned).then(
    (url) => url,
    () => null,
  );
  const first = await withTimeout(Promise.race([spawned.exited, ready]), READY_TIMEOUT_MS, () => `server neither started nor exited\nstderr:\n${spawned.out.stderr}`);
  if (typeof first === 'string') {
    spawned.proc.kill('SIGKILL');
    throw new Error(`server started (${first}) but was expected to refuse`);
  }
  const exit = await spawned.exited;
  return { ...exit, ...spawned.out };
}

/** Kills every server this module started that is still running, then removes the temp dirs. */
export async function cleanup(): Promise<void> {
  const running = [...live].map(
    (proc) =>
      new Promise<void>((done) => {
        proc.once('exit', () => done());
        if (proc.exitCode !== null || proc.signalCode !== null) done();
        else proc.kill('SIGKILL');
      }),
  );
  await Promise.all(running);
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

// Last resort if the test process ends without afterAll (a crash): no orphans.
process.once('exit', () => {
  for (const proc of live) proc.kill('SIGKILL');
});
