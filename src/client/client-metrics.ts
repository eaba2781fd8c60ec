// The client's metrics on a prom-client Registry the application passes in
// (and exposes however it likes). Every series carries `client` (the client's
// name), so several clients can share one registry. Requests, errors and
// latency are counted per attempt, i.e. per request on a connection.

import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { PoolStats } from './adaptive-pool.js';

export type CallOp = 'get' | 'head' | 'put' | 'delete' | 'list' | 'batch' | 'ready';
export type BreakerState = 'closed' | 'half_open' | 'open';

const LATENCY_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BREAKER_VALUE: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };

type Family = {
  readonly requests: Counter<'client' | 'op' | 'outcome'>;
  readonly errors: Counter<'client' | 'op' | 'code'>;
  readonly latency: Histogram<'client' | 'op'>;
  readonly retries: Counter<'client' | 'op'>;
  readonly connections: Gauge<'client' | 'state'>;
  readonly queue: Gauge<'client'>;
  readonly opened: Counter<'client'>;
  readonly closed: Counter<'client' | 'reason'>;
  readonly breaker: Gauge<'client'>;
  readonly rejected: Counter<'client'>;
};

/** One metric of the registry by name, created on first use (so clients can share a registry). */
function shared<M>(registry: Registry, name: string, make: () => M, kind: abstract new (...args: never[]) => M): M {
  const existing = registry.getSingleMetric(name);
  if (existing === undefined) return make();
  if (!(existing instanceof kind)) throw new Error(`metric ${name} is already registered with another type`);
  return existing;
}

function family(registry: Registry): Family {
  const registers = [registry];
  const counter = <L extends string>(name: string, help: string, labelNames: L[]): Counter<L> =>
    shared(registry, name, () => new Counter({ name, help, labelNames, registers }), Counter<L>);
  const gauge = <L extends string>(name: string, help: string, labelNames: L[]): Gauge<L> =>
    shared(registry, name, () => new Gauge({ name, help, labelNames, registers }), Gauge<L>);
  const latencyName = 'mantis_client_request_duration_seconds';
  return {
    requests: counter('mantis_client_requests_total', 'Requests sent (attempts), by op and outcome', ['client', 'op', 'outcome']),
    errors: counter('mantis_client_errors_total', 'Failed attempts by op and error code', ['client', 'op', 'code']),
    latency: shared(
      registry,
      latencyName,
      () => new Histogram({ name: latencyName, help: 'Attempt latency, waiting for a connection included', labelNames: ['client', 'op'], buckets: LATENCY_BUCKETS_S, registers }),
      Histogram<'client' | 'op'>,
    ),
    retries: counter('mantis_client_retries_total', 'Attempts after the first, by op', ['client', 'op']),
    connections: gauge('mantis_client_pool_connections', 'Connections in the pool, busy or idle', ['client', 'state']),
    queue: gauge('mantis_client_pool_queue_depth', 'Calls waiting for a connection', ['client']),
    opened: counter('mantis_client_pool_connections_opened_total', 'Connections opened by the pool', ['client']),
    closed: counter('mantis_client_pool_connections_closed_total', 'Connections closed by the pool, by reason', ['client', 'reason']),
    breaker: gauge('mantis_client_breaker_state', 'Circuit breaker state: 0 closed, 1 half-open, 2 open', ['client']),
    rejected: counter('mantis_client_breaker_rejections_total', 'Calls failed fast because the breaker was open', ['client']),
  };
}

export class ClientMetrics {
  private readonly f: Family | null;

  /** registry null: the client records nothing. */
  constructor(
    registry: Registry | null,
    private readonly client: string,
  ) {
    this.f = registry === null ? null : family(registry);
    this.f?.breaker.set({ client }, 0);
  }

  attempt(op: CallOp, seconds: number, errorCode: string | null): void {
    if (this.f === null) return;
    const client = this.client;
    this.f.requests.inc({ client, op, outcome: errorCode === null ? 'ok' : 'error' });
    this.f.latency.observe({ client, op }, seconds);
    if (errorCode !== null) this.f.errors.inc({ client, op, code: errorCode });
  }

  retry(op: CallOp): void {
    this.f?.retries.inc({ client: this.client, op });
  }

  pool(stats: PoolStats): void {
    if (this.f === null) return;
    this.f.connections.set({ client: this.client, state: 'busy' }, stats.busy);
    this.f.connections.set({ client: this.client, state: 'idle' }, stats.idle);
    this.f.queue.set({ client: this.client }, stats.queued);
  }

  connectionOpened(): void {
    this.f?.opened.inc({ client: this.client });
  }

  connectionClosed(reason: string): void {
    this.f?.closed.inc({ client: this.client, reason });
  }

  breaker(state: BreakerState): void {
    this.f?.breaker.set({ client: this.client }, BREAKER_VALUE[state]);
  }

  breakerRejected(): void {
    this.f?.rejected.inc({ client: this.client });
  }
}
