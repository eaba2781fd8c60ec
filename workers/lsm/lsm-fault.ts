// Crash points for the crash tests: MANTIS_FAULT=crash:<point> kills the whole
// process with SIGKILL when the LSM reaches <point> (after-sst-write,
// after-compaction-write, after-manifest), as a power cut would — no cleanup,
// no flush. Never set in production.

const FAULT = process.env.MANTIS_FAULT ?? '';

export type CrashPoint = 'after-sst-write' | 'after-compaction-write' | 'after-manifest';

export function crashIfFaultPoint(point: CrashPoint, log: (level: 'warn', msg: string, fields?: Record<string, unknown>) => void): void {
  if (FAULT !== `crash:${point}`) return;
  log('warn', 'fault injected: killing the process', { point });
  process.kill(process.pid, 'SIGKILL');
  // SIGKILL is asynchronous to this thread: block until it lands, doing nothing more.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
}
