// --find-max: raise the offered rate step by step (x1.5) until a step fails,
// then bisect between the last rate that held and the first that failed. A
// step holds when its p99 is within the bound, at most 0.1% of requests
// failed, and at least 95% of the offered rate completed within the step.

import type { FindMaxResult, FindMaxStep } from './load-report.js';
import { runPhase, type PhaseHooks, type PhaseResult, type Send } from './open-loop.js';

export type FindMaxOptions = {
  readonly startRate: number;
  readonly stepDurationMs: number;
  readonly p99BoundMs: number;
  readonly getShare: number;
  readonly keys: number;
  readonly backlogMax: number;
};

const GROWTH = 1.5;
const STEPS_MAX = 20;
const BISECTIONS = 4;
const ERROR_SHARE_MAX = 0.001;
const ACHIEVED_SHARE_MIN = 0.95;

export function judge(rate: number, r: PhaseResult, p99BoundMs: number): FindMaxStep {
  const errorShare = r.errorCount / Math.max(1, r.sent);
  const problems: string[] = [];
  if (r.latency.p99Ms > p99BoundMs) problems.push(`p99 ${r.latency.p99Ms} ms > ${p99BoundMs} ms`);
  if (errorShare > ERROR_SHARE_MAX) problems.push(`${(errorShare * 100).toFixed(2)}% errors`);
  if (r.achievedRate < rate * ACHIEVED_SHARE_MIN) problems.push(`achieved ${r.achievedRate} ops/s`);
  return { rate, achievedRate: r.achievedRate, p99Ms: r.latency.p99Ms, errorShare, passed: problems.length === 0, why: problems.join('; ') || 'held' };
}

export async function findMax(o: FindMaxOptions, send: Send, hooks: PhaseHooks, log: (step: FindMaxStep) => void): Promise<FindMaxResult> {
  const steps: FindMaxStep[] = [];
  const attempt = async (rate: number): Promise<boolean> => {
    const r = await runPhase({ rate, durationMs: o.stepDurationMs, getShare: o.getShare, keys: o.keys, backlogMax: o.backlogMax }, send, hooks);
    const step = judge(rate, r, o.p99BoundMs);
    steps.push(step);
    log(step);
    return step.passed;
  };
  let good: number | null = null;
  let bad: number | null = null;
  for (let rate = o.startRate; bad === null && steps.length < STEPS_MAX; rate = Math.round(rate * GROWTH)) {
    if (await attempt(rate)) good = rate;
    else bad = rate;
  }
  for (let i = 0; i < BISECTIONS && bad !== null; i++) {
    const low = good ?? 0;
    const mid = Math.round((low + bad) / 2);
    if (mid <= 0 || bad - low <= bad * 0.05) break;
    if (await attempt(mid)) good = mid;
    else bad = mid;
  }
  return { p99BoundMs: o.p99BoundMs, steps, maxRate: good };
}
