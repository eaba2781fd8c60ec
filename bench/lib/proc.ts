// Child server processes for the benchmark: start one, wait for its ready
// line, keep its recent output for the report, sample its memory, stop it.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { serverProcessEnv } from '../../src/process-env.js';

export type ServerProcess = {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly url: string;
  /** Lines the server printed (stdout + stderr), newest last, capped. */
  readonly output: string[];
  /** Output lines that look like problems: stderr, or JSON logs at warn level or above. */
  readonly complaints: string[];
  exited: { code: number | null; signal: NodeJS.Signals | null } | null;
};

const OUTPUT_LINES_KEPT = 200;

function remember(list: string[], line: string): void {
  list.push(line);
  if (list.length > OUTPUT_LINES_KEPT) list.shift();
}

function isComplaint(line: string, fromStderr: boolean): boolean {
  if (fromStderr) return line.trim() !== '';
  if (!line.startsWith('{')) return false;
  try {
    const parsed: unknown = JSON.parse(line);
    if (typeof parsed === 'object' && parsed !== null && 'level' in parsed) {
      const level = (parsed as { level: unknown }).level;
      return typeof level === 'number' ? level >= 40 : level === 'warn' || level === 'error' || level === 'fatal';
    }
  } catch {
    // not a JSON log line
  }
  return false;
}

/**
 * Spawns `node script args`, resolves once a stdout line matches `ready`
 * (its first capture group is the URL); rejects if the process exits or
 * `timeoutMs` passes first.
 */
export function startServer(name: string, script: string, args: readonly string[], ready: RegExp, timeoutMs = 20_000): Promise<ServerProcess> {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: serverProcessEnv() });
  return new Promise<ServerProcess>((resolve, reject) => {
    const output: string[] = [];
    const complaints: string[] = [];
    let server: ServerProcess | null = null;
    let settled = false;
    const fail = (message: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      reject(new Error(`${name}: ${message}\n  last output:\n    ${output.slice(-20).join('\n    ')}`));
    };
    const timer = setTimeout(() => fail(`not ready after ${timeoutMs} ms`), timeoutMs);
    const onLines = (fromStderr: boolean) => {
      let partial = '';
      return (chunk: Buffer): void => {
        const lines = (partial + chunk.toString('utf8')).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) {
          remember(output, line);
          if (isComplaint(line, fromStderr)) remember(complaints, line);
          const match = fromStderr ? null : ready.exec(line);
          if (match && !settled && child.pid !== undefined) {
            settled = true;
            clearTimeout(timer);
            server = { name, child, pid: child.pid, url: match[1], output, complaints, exited: null };
            resolve(server);
          }
        }
      };
    };
    child.stdout?.on('data', onLines(false));
    child.stderr?.on('data', onLines(true));
    child.on('error', (error) => fail(`cannot start: ${error.message}`));
    child.on('exit', (code, signal) => {
      if (server) server.exited = { code, signal };
      fail(`exited before it was ready (code ${code}, signal ${signal})`);
    });
  });
}

export type StopOutcome = { readonly code: number | null; readonly signal: NodeJS.Signals | null; readonly killed: boolean; readonly ms: number };

/** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
export async function stopServer(server: ServerProcess, graceMs = 15_000): Promise<StopOutcome> {
  const started = performance.now();
  const done = (killed: boolean): StopOutcome => ({
    code: server.exited?.code ?? null,
    signal: server.exited?.signal ?? null,
    killed,
    ms: Math.round(performance.now() - started),
  });
  if (server.exited) return done(false);
  const exited = new Promise<void>((resolve) => {
    server.child.once('exit', () => resolve());
    if (server.exited) resolve();
  });
  server.child.kill('SIGTERM');
  const inTime = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), graceMs).unref())]);
  if (inTime) return done(false);
  server.child.kill('SIGKILL');
  await exited;
  return done(true);
}

/** One field of /proc/<pid>/status in KiB, or null (process gone, not Linux). */
export function procStatusKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

/** Polls VmRSS while running; `stop()` also reads VmHWM (the kernel's own peak). */
export class RssSampler {
  private peakKiB = 0;
  private lastKiB = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pid: number,
    intervalMs = 200,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  sample(): number {
    const rss = procStatusKiB(this.pid, 'VmRSS');
    if (rss !== null) {
      this.lastKiB = rss;
      this.peakKiB = Math.max(this.peakKiB, rss);
    }
    return this.lastKiB;
  }

  /** Call while the process is still alive. */
  stop(): { peakRssKiB: number; lastRssKiB: number; hwmKiB: number | null } {
    this.sample();
    clearInterval(this.timer);
    return { peakRssKiB: this.peakKiB, lastRssKiB: this.lastKiB, hwmKiB: procStatusKiB(this.pid, 'VmHWM') };
  }
}

export function cpuTimes(): { busy: number; total: number } | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
    const fields = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal ...
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

/** Share (0..1) of all cores' time that was busy over the next `ms`: a check that the machine is idle. */
export async function machineBusyShare(ms = 1000): Promise<number | null> {
  const before = cpuTimes();
  await new Promise((r) => setTimeout(r, ms));
  const after = cpuTimes();
  if (!before || !after || after.total === before.total) return null;
  return (after.busy - before.busy) / (after.total - before.total);
}

/** Above this share of busy CPU the machine is not idle enough to measure on. */
export const BUSY_SHARE_MAX = 0.15;

/**
 * Waits up to `waitS` seconds for the machine to go quiet (busy share ≤ BUSY_SHARE_MAX), telling
 * `progress` while it waits; returns the last busy share measured (null when unknown).
 */
export async function waitForQuietMachine(waitS: number, progress: (message: string) => void, knob: string): Promise<number | null> {
  let busy = await machineBusyShare();
  const deadline = performance.now() + waitS * 1000;
  while (busy !== null && busy > BUSY_SHARE_MAX && performance.now() < deadline) {
    progress(`machine busy (${(busy * 100).toFixed(0)} % CPU): waiting up to ${waitS} s for it to settle (${knob})`);
    busy = await machineBusyShare(2000);
  }
  return busy;
}

/** utime + stime of a process (all its threads), in the same clock ticks as /proc/stat; null if gone. */
export function processCpuTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after "pid (comm)": state is field 3, utime 14, stime 15
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return null;
  }
}

/**
 * How much of the machine's CPU time, over a measurement, went to processes
 * other than ours: the noisy-neighbour check. Start before the load, finish
 * after it, passing the load generator's own ticks when it ran as a child.
 */
export class NeighbourMeter {
  private readonly system = cpuTimes();
  private readonly ours: number;

  constructor(private readonly pids: readonly number[]) {
    this.ours = this.oursNow();
  }

  private oursNow(): number {
    return this.pids.reduce((sum, pid) => sum + (processCpuTicks(pid) ?? 0), 0);
  }

  /** Share (0..1) of all CPU time used by other processes, or null when /proc is unavailable. */
  finish(extraOurTicks: number): { others: number; busy: number } | null {
    const now = cpuTimes();
    if (!this.system || !now || now.total === this.system.total) return null;
    const total = now.total - this.system.total;
    const busy = now.busy - this.system.busy;
    const ours = this.oursNow() - this.ours + extraOurTicks;
    return { others: Math.max(0, busy - ours) / total, busy: busy / total };
  }
}
