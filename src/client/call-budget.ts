// The time budget of one client call, across all of its attempts: a deadline
// on the monotonic clock, and one AbortSignal that fires when the deadline
// passes or when the caller's own signal fires, whichever is first. What is
// left of the budget is what each attempt sends as Mantis-Deadline-Ms.
// The local timer may wait `graceMs` past the deadline for the server's own
// verdict: a 504 DEADLINE_EXCEEDED says for sure the request was not
// applied, where a local timeout cannot say.

import { clientError, type MantisClientError } from './client-error.js';

export class CallBudget {
  readonly signal: AbortSignal;
  private readonly controller = new AbortController();
  private readonly deadline: number;
  private readonly timer: NodeJS.Timeout;
  private expired = false;

  /** REQUIRES: timeoutMs is a finite number > 0; graceMs >= 0. */
  constructor(
    readonly timeoutMs: number,
    graceMs: number,
    private readonly callerSignal: AbortSignal | undefined,
  ) {
    this.deadline = performance.now() + timeoutMs;
    this.signal = this.controller.signal;
    this.timer = setTimeout(() => {
      this.expired = true;
      this.controller.abort(this.failure());
    }, timeoutMs + graceMs);
    if (callerSignal?.aborted) this.controller.abort(this.failure());
    else callerSignal?.addEventListener('abort', this.onCallerAbort, { once: true });
  }

  /** Whole milliseconds left, never negative. */
  remainingMs(): number {
    return Math.max(0, Math.floor(this.deadline - performance.now()));
  }

  /** The error that ends the call now: ABORTED when the caller aborted, DEADLINE_EXCEEDED otherwise. */
  failure(source: 'client' | 'transport' = 'client', cause?: unknown): MantisClientError {
    if (this.callerSignal?.aborted === true && !this.expired) {
      return clientError('ABORTED', 'the call was aborted by its AbortSignal', 'client', cause);
    }
    return clientError('DEADLINE_EXCEEDED', `the call ran out of its ${this.timeoutMs} ms budget`, source, cause);
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.callerSignal?.removeEventListener('abort', this.onCallerAbort);
  }

  private readonly onCallerAbort = (): void => {
    this.controller.abort(this.failure());
  };
}

/** Waits ms, or rejects with the budget's failure as soon as it runs out. */
export function sleepWithin(ms: number, budget: CallBudget): Promise<void> {
  if (budget.signal.aborted) return Promise.reject(budget.failure());
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(budget.failure());
    };
    const timer = setTimeout(() => {
      budget.signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    budget.signal.addEventListener('abort', onAbort, { once: true });
  });
}
