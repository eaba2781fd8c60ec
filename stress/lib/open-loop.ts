// Open-loop load at a constant arrival rate, as wrk2 does it: request i is
// due at start + i / rate whatever happened to earlier requests, and its
// latency is measured from that intended send time, so a stall of the server
// (or of this process) shows up in every request it delayed, not only the
// one in flight (no coordinated omission).
//
// A 1 ms timer sends every request that has come due; there is no busy spin.
// Requests beyond `backlogMax` outstanding are not sent and count as
// CLIENT_BACKLOG. Requests the server sheds (503 OVERLOADED) are counted
// apart from the other errors, per second and in total.

import { monitorEventLoopDelay } from 'node:perf_hooks';
import { LatencyRecorder, type Percentiles } from './latency-recorder.js';

/** The server's answer past capacity (src/http/overload.ts). */
export const SHED_CODE = 'OVERLOADED';
/** A request this harness did not send because `backlogMax` were outstanding. */
export const BACKLOG_CODE = 'CLIENT_BACKLOG';

export type Op = 'get' | 'put';
/** Sends one request; resolves with null on success or an error code. Never rejects. */
export type Send = (op: Op, keyIndex: number) => Promise<string | null>;

export type Phase = {
  readonly rate: number;
  readonly durationMs: number;
  readonly getShare: number;
  readonly keys: number;
  readonly backlogMax: number;
};

export type SecondStats = Percentiles & {
  /** Seconds since the phase started (end of this interval). */
  readonly t: number;
  readonly sent: number;
  readonly completed: number;
  /** Every error in the interval, shed requests included. */
  readonly errors: number;
  /** Requests the server shed (503 OVERLOADED) in the interval. */
  readonly shed: number;
  /** Requests not sent in the interval because `backlogMax` were outstanding (CLIENT_BACKLOG). */
  readonly notSent: number;
  /** Latency of the requests served (answered without an error) in the interval. */
  readonly servedP50Ms: number;
  readonly servedP99Ms: number;
  readonly outstanding: number;
  readonly rssMiB: number | null;
};

export type PhaseResult = {
  readonly targetRate: number;
  readonly durationMs: number;
  readonly sent: number;
  readonly completed: number;
  /** Completions per second over the phase (errors and shed requests included). */
  readonly achievedRate: number;
  /** Completions without an error per second over the phase. */
  readonly servedRate: number;
  /** Every request, errors and shed requests included. */
  readonly latency: Percentiles;
  /** The requests served (answered without an error) alone. */
  readonly servedLatency: Percentiles;
  /** Errors by code, OVERLOADED (shed) included. */
  readonly errors: Record<string, number>;
  /** Every error, shed requests included. */
  readonly errorCount: number;
  /** Requests the server shed with 503 OVERLOADED. */
  readonly shed: number;
  readonly seconds: SecondStats[];
  /** This process's event-loop delay: a late generator shows here (and in the latencies). */
  readonly loopDelayMs: { readonly p99: number; readonly max: number };
};

export type PhaseHooks = {
  /** Called once per second (e.g. to sample the server's RSS and print progress). */
  readonly onSecond?: (stats: SecondStats) => void;
  readonly sampleRssMiB?: () => number | null;
};

type Counters = {
  sent: number;
  completed: number;
  errors: number;
  shed: number;
  secondSent: number;
  secondCompleted: number;
  secondErrors: number;
  secondShed: number;
  secondNotSent: number;
};

export async function runPhase(phase: Phase, send: Send, hooks: PhaseHooks = {}): Promise<PhaseResult> {
  const recorder = new LatencyRecorder();
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const errors: Record<string, number> = {};
  const c: Counters = { sent: 0, completed: 0, errors: 0, shed: 0, secondSent: 0, secondCompleted: 0, secondErrors: 0, secondShed: 0, secondNotSent: 0 };
  const seconds: SecondStats[] = [];
  const intervalMs = 1000 / phase.rate;
  const total = Math.floor((phase.durationMs / 1000) * phase.rate);
  const start = performance.now();
  let completedInPhase = 0;
  let servedInPhase = 0;
  let overloaded = 0;
  let drained: () => void = () => undefined;
  const allDone = new Promise<void>((resolve) => (drained = resolve));

  const finish = (intended: number, error: string | null): void => {
    const now = performance.now();
    recorder.record(now - intended, error === null);
    c.completed++;
    c.secondCompleted++;
    if (now - start <= phase.durationMs) {
      completedInPhase++;
      if (error === null) servedInPhase++;
    }
    if (error !== null) countError(error);
    if (c.sent === total && c.completed + overloaded === total) drained();
  };
  const countError = (code: string): void => {
    errors[code] = (errors[code] ?? 0) + 1;
    c.errors++;
    c.secondErrors++;
    if (code === SHED_CODE) {
      c.shed++;
      c.secondShed++;
    }
  };

  const tick = (): void => {
    const due = Math.min(total, Math.floor((performance.now() - start) / intervalMs) + 1);
    while (c.sent < due) {
      const intended = start + c.sent * intervalMs;
      c.sent++;
      c.secondSent++;
      if (c.sent - c.completed - overloaded > phase.backlogMax) {
        overloaded++;
        c.secondNotSent++;
        countError(BACKLOG_CODE);
        continue;
      }
      const op: Op = Math.random() < phase.getShare ? 'get' : 'put';
      void send(op, Math.floor(Math.random() * phase.keys)).then((error) => finish(intended, error));
    }
    if (c.sent === total && c.completed + overloaded === total) drained();
  };

  const second = (): void => {
    const { all, served } = recorder.takeInterval();
    const stats: SecondStats = {
      ...all,
      t: Math.round((performance.now() - start) / 100) / 10,
      sent: c.secondSent,
      completed: c.secondCompleted,
      errors: c.secondErrors,
      shed: c.secondShed,
      notSent: c.secondNotSent,
      servedP50Ms: served.p50Ms,
      servedP99Ms: served.p99Ms,
      outstanding: c.sent - c.completed - overloaded,
      rssMiB: hooks.sampleRssMiB?.() ?? null,
    };
    c.secondSent = c.secondCompleted = c.secondErrors = c.secondShed = c.secondNotSent = 0;
    seconds.push(stats);
    hooks.onSecond?.(stats);
  };

  const ticker = setInterval(tick, 1);
  const reporter = setInterval(second, 1000);
  try {
    tick();
    await allDone;
  } finally {
    clearInterval(ticker);
    clearInterval(reporter);
    loop.disable();
  }
  if (c.secondCompleted > 0 || c.secondSent > 0) second();
  const result: PhaseResult = {
    targetRate: phase.rate,
    durationMs: phase.durationMs,
    sent: c.sent,
    completed: c.completed,
    achievedRate: Math.round((completedInPhase / phase.durationMs) * 1000),
    servedRate: Math.round((servedInPhase / phase.durationMs) * 1000),
    latency: recorder.summary(),
    servedLatency: recorder.servedSummary(),
    errors,
    errorCount: c.errors,
    shed: c.shed,
    seconds,
    loopDelayMs: { p99: Math.round(loop.percentile(99) / 1e4) / 100, max: Math.round(loop.max / 1e4) / 100 },
  };
  recorder.destroy();
  return result;
}
