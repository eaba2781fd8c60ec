// The circuit breaker around every attempt, built on opossum. It opens when
// the failure rate over a rolling window crosses a threshold (once enough
// attempts were made), fails calls fast with CIRCUIT_OPEN while open, and
// after `resetTimeoutMs` lets one probe through (half-open): a success
// closes it, a failure opens it again.
//
// What counts as a failure is what says the server is unwell: no answer
// (connection failed, or the budget ran out while waiting) and 5xx answers.
// A 4xx, the caller's abort, a server-side 504 (the caller's budget was too
// small) and local refusals (queue full) do not count.

import CircuitBreaker from 'opossum';
import { clientError, MantisClientError } from './client-error.js';
import type { BreakerState, ClientMetrics } from './client-metrics.js';

export type BreakerOptions = {
  /** Open when more than this percentage of attempts in the window failed. */
  readonly errorThresholdPercentage: number;
  /** Attempts in the window before the rate may open the breaker. */
  readonly volumeThreshold: number;
  /** How long the breaker stays open before a half-open probe. */
  readonly resetTimeoutMs: number;
  /** The rolling window the rate is computed over. */
  readonly rollingWindowMs: number;
};

type Attempt = () => Promise<unknown>;

export function countsAsFailure(error: unknown): boolean {
  if (!(error instanceof MantisClientError)) return true;
  switch (error.source) {
    case 'transport':
      return error.code !== 'ABORTED';
    case 'server':
      return error.status >= 500 && error.code !== 'DEADLINE_EXCEEDED';
    case 'client':
      return false;
  }
}

export class RequestBreaker {
  private readonly breaker: CircuitBreaker<[Attempt], unknown>;

  constructor(options: BreakerOptions, name: string, metrics: ClientMetrics) {
    this.breaker = new CircuitBreaker<[Attempt], unknown>((attempt) => attempt(), {
      name,
      timeout: false, // every call has its own budget (CallBudget)
      errorThresholdPercentage: options.errorThresholdPercentage,
      volumeThreshold: options.volumeThreshold,
      resetTimeout: options.resetTimeoutMs,
      rollingCountTimeout: options.rollingWindowMs,
      rollingCountBuckets: 10,
      errorFilter: (error: unknown) => !countsAsFailure(error),
    });
    const report = (state: BreakerState) => (): void => metrics.breaker(state);
    this.breaker.on('open', report('open'));
    this.breaker.on('halfOpen', report('half_open'));
    this.breaker.on('close', report('closed'));
    this.breaker.on('reject', () => metrics.breakerRejected());
  }

  get state(): BreakerState {
    if (this.breaker.opened) return 'open';
    return this.breaker.halfOpen ? 'half_open' : 'closed';
  }

  /** Runs one attempt through the breaker; CIRCUIT_OPEN without running it while open. */
  async run<T>(attempt: () => Promise<T>): Promise<T> {
    try {
      return (await this.breaker.fire(attempt)) as T;
    } catch (error) {
      if (error instanceof Error && (error as { code?: unknown }).code === 'EOPENBREAKER') {
        throw clientError('CIRCUIT_OPEN', 'the circuit breaker is open after too many failures; the call was not sent', 'client', error);
      }
      throw error;
    }
  }

  shutdown(): void {
    this.breaker.shutdown();
  }
}

/** The breaker when it is switched off: runs every attempt. */
export const NO_BREAKER = {
  state: 'closed' as BreakerState,
  run: <T>(attempt: () => Promise<T>): Promise<T> => attempt(),
  shutdown: (): void => undefined,
};

export type Breaker = Pick<RequestBreaker, 'state' | 'run' | 'shutdown'>;
